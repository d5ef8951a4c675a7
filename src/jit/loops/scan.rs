//! The exclusive scan of `eval/scan.rs` in compiled loops: the product of
//! the other factors of a `prod`, in a loop over its own indices, as the
//! product of the factors before the tuple times that of those after it,
//! in the interpreter's order of operations (so the same bits).
//!
//! The factors and the products after them need one number each per
//! index tuple, and the count of tuples is known only at run time: they
//! live in a buffer of the thread's, [`slope_scratch`], one per scan of
//! the function (batch threads each have theirs), grown when a call needs
//! more and kept for the next call, so that an evaluation does not
//! allocate once the buffer is large enough.

use std::cell::RefCell;

use cranelift_codegen::ir::FuncRef;
use cranelift_module::Linkage;

use super::*;
use crate::eval::scanned;

/// A scan while its loop runs: where its pairs `[b_t, S_t]` are, the
/// product of the factors before the current tuple and that tuple's
/// number.
#[derive(Copy, Clone)]
pub(super) struct LoopScan {
    pairs: Value,
    before: Variable,
    next: Variable,
}

thread_local! {
    /// The scans' buffers, by scan number within a function.
    static SCRATCH: RefCell<Vec<Vec<f64>>> = const { RefCell::new(Vec::new()) };
}

/// The buffer of scan `slot` on this thread, at least `len` numbers long.
/// It stays valid until the next request for the same slot on this
/// thread: a function asks for a slot again only when the scan that used
/// it is over (the next tuple of a loop around it, or the next call).
pub(crate) extern "C" fn slope_scratch(slot: i64, len: i64) -> *mut f64 {
    let (slot, len) = (slot.max(0) as usize, len.max(0) as usize);
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() <= slot {
            s.resize_with(slot + 1, Vec::new);
        }
        let buffer = &mut s[slot];
        if buffer.len() < len {
            buffer.resize(len, 0.0);
        }
        buffer.as_mut_ptr()
    })
}

/// The symbol of [`slope_scratch`].
pub(crate) const SCRATCH_SYMBOL: &str = "slope_scratch";

impl Emitter<'_, '_> {
    fn scratch_function(&mut self) -> Result<FuncRef> {
        let mut sig = self.module.make_signature();
        sig.params.push(AbiParam::new(types::I64));
        sig.params.push(AbiParam::new(types::I64));
        sig.returns.push(AbiParam::new(self.ptr));
        let id = self
            .module
            .declare_function(SCRATCH_SYMBOL, Linkage::Import, &sig)
            .map_err(codegen_error)?;
        Ok(self.module.declare_func_in_func(id, self.b.func))
    }

    /// Before the loop over `r` whose body computes `list`: for each node
    /// the loop evaluates by the scan, the factors at each tuple stored in
    /// tuple order, then the products after each, backward (steps 1 and 2
    /// of `eval/scan.rs`). Returns the scans started, which
    /// [`Emitter::scan_step`] reads and the caller ends after the loop.
    pub(super) fn start_scans(&mut self, list: &[NodeId], r: &Reduce) -> Result<Vec<NodeId>> {
        let scanned = scanned(self.graph, list, r);
        let mut started = Vec::with_capacity(scanned.len());
        for (id, body) in scanned {
            // How many tuples.
            let count = self.b.declare_var(types::I64);
            let zero = self.b.ins().iconst(types::I64, 0);
            self.b.def_var(count, zero);
            self.ranges(&r.ranges, r.level, &mut |e| {
                let c = e.b.use_var(count);
                let c = e.b.ins().iadd_imm_s(c, 1);
                e.b.def_var(count, c);
                Ok(())
            })?;
            let n = self.b.use_var(count);
            let len = self.b.ins().ishl_imm_s(n, 1);
            let slot = self.b.ins().iconst(types::I64, self.scans_made as i64);
            self.scans_made += 1;
            let scratch = self.scratch_function()?;
            let call = self.b.ins().call(scratch, &[slot, len]);
            let pairs = self.b.inst_results(call)[0];
            // Step 1: the factors, in tuple order.
            let nodes = self.factors.get(&body).cloned().unwrap_or_default();
            // A loop around this one over the same levels may hold values
            // of these nodes: put back after the pass.
            let held: Vec<(NodeId, Value)> = (nodes.iter())
                .filter_map(|&n| Some((n, self.values.remove(&n)?)))
                .collect();
            let t = self.b.declare_var(types::I64);
            self.b.def_var(t, zero);
            let saved = self.enter_loop(&nodes)?;
            self.ranges(&r.ranges, r.level, &mut |e| {
                for &n in &nodes {
                    if !(e.reload && invariant::reloadable(e.graph.node(n))) {
                        e.node(n)?;
                    }
                }
                let b = e.operand(body)?;
                let at = e.b.use_var(t);
                let addr = e.pair(pairs, at);
                e.b.ins().store(flags(), b, addr, 0);
                let next = e.b.ins().iadd_imm_s(at, 1);
                e.b.def_var(t, next);
                for n in &nodes {
                    e.values.remove(n);
                }
                Ok(())
            })?;
            self.leave_loop(saved);
            self.values.extend(held);
            // Step 2: backward, S_t = a, then a = a*b_t.
            let after = self.b.declare_var(types::F64);
            let one = self.b.ins().f64const(1.0);
            self.b.def_var(after, one);
            let k = self.b.declare_var(types::I64);
            self.b.def_var(k, zero);
            self.counted_loop(k, n, |e| {
                let k = e.b.use_var(k);
                let last = e.b.ins().iadd_imm_s(n, -1);
                let at = e.b.ins().isub(last, k);
                let addr = e.pair(pairs, at);
                let b = e.b.ins().load(types::F64, flags(), addr, 0);
                let a = e.b.use_var(after);
                e.b.ins().store(flags(), a, addr, 8);
                let a = e.b.ins().fmul(a, b);
                e.b.def_var(after, a);
                Ok(())
            })?;
            // Step 3 starts from P = 1 at the first tuple.
            let before = self.b.declare_var(types::F64);
            self.b.def_var(before, one);
            let next = self.b.declare_var(types::I64);
            self.b.def_var(next, zero);
            self.scans.insert(
                id,
                LoopScan {
                    pairs,
                    before,
                    next,
                },
            );
            started.push(id);
        }
        Ok(started)
    }

    /// The scans `started` by [`Emitter::start_scans`], over with their loop.
    pub(super) fn end_scans(&mut self, started: Vec<NodeId>) {
        for id in started {
            self.scans.remove(&id);
        }
    }

    /// Step 3 at the current tuple: `O_t = P*S_t`, then `P = P*b_t`.
    pub(super) fn scan_step(&mut self, scan: LoopScan) -> Value {
        let at = self.b.use_var(scan.next);
        let addr = self.pair(scan.pairs, at);
        let b = self.b.ins().load(types::F64, flags(), addr, 0);
        let after = self.b.ins().load(types::F64, flags(), addr, 8);
        let p = self.b.use_var(scan.before);
        let others = self.b.ins().fmul(p, after);
        let p = self.b.ins().fmul(p, b);
        self.b.def_var(scan.before, p);
        let next = self.b.ins().iadd_imm_s(at, 1);
        self.b.def_var(scan.next, next);
        others
    }

    /// The address of pair `t` (an i64) of the buffer at `pairs`.
    fn pair(&mut self, pairs: Value, t: Value) -> Value {
        let bytes = self.b.ins().ishl_imm_s(t, 4);
        let bytes = if self.ptr == types::I64 {
            bytes
        } else {
            self.b.ins().ireduce(self.ptr, bytes)
        };
        self.b.ins().iadd(pairs, bytes)
    }
}
