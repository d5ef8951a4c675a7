//! A model's outputs over a range of data rows, as one native loop.
//!
//! A fit evaluates the model and its partials at every row of the data
//! in each pass. Calling straight-line code once per row copied the row
//! into an input buffer and went through a function pointer per row, and
//! recomputed every part of the model that does not depend on the row
//! (`-b` in `a*exp(-b*t)`): a pass on a million rows took twice a
//! hand-written one. Here one call runs the rows `lo..hi`: what depends
//! only on the parameters is computed once before the loop, the columns
//! are read in place, and output `k` of row `i` is stored at
//! `out[k*stride + (i - lo)]`, so a caller can fill a block in the cache
//! or whole columns.
//!
//! In a loop that calls a function (`exp`), what the rows read from
//! before the loop waits in stack slots and parameters and columns are
//! read again where they are used, as in a reduction's loop
//! (`invariant.rs`): the exponential decay's loop went from 39 to 30
//! instructions a row (callgrind), with the same operations on the values.
//!
//! The nodes are emitted by the loop emitter (`loops.rs`), which performs
//! the interpreter's operations in its order, so the values agree to the
//! bit with the interpreter's (and with the straight-line code's). The
//! data are run-time inputs: new data, or more rows, need no new code.

use cranelift_codegen::ir::{AbiParam, InstBuilder, types};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Module};
use std::collections::HashMap;
use std::ops::Range;

use super::super::codegen_error;
use super::super::region::{self, NativeCode};
use super::{Emitter, FEW_COLUMNS, RowVars, flags, invariant};
use crate::bind::MAX_LEVELS;
use crate::error::Result;
use crate::graph::{Graph, Node, NodeId, reachable};

/// Native code for some outputs of a graph whose variables are parameters
/// `0..n_params` and then data columns, over a range of rows.
pub struct RowCode {
    code: NativeCode,
    n_params: usize,
    n_columns: usize,
    n_outputs: usize,
}

type Entry = unsafe extern "C" fn(*const f64, *mut f64, *const *const f64, i64, i64, i64);

impl RowCode {
    /// Compiles `outputs` of `graph`, whose variables `0..n_params` are
    /// parameters and `n_params..n_params + n_columns` data columns. The
    /// graph must be a plain formula (no sums, no arrays, no `param`).
    pub fn compile(
        graph: &Graph,
        outputs: &[NodeId],
        n_params: usize,
        n_columns: usize,
    ) -> Result<RowCode> {
        let nodes = reachable(graph, outputs);
        for &id in &nodes {
            match graph.node(id) {
                Node::Var(i) if *i as usize >= n_params + n_columns => {
                    return Err(codegen_error(
                        "a row loop reads a variable it was not given",
                    ));
                }
                Node::Param(_) | Node::Index(_) | Node::Read(_) | Node::Reduce(..) => {
                    return Err(codegen_error(
                        "a row loop compiles plain formulas, without sums or arrays",
                    ));
                }
                _ => {}
            }
        }
        let code = region::build(
            |module| generate(module, graph, outputs, &nodes, n_params, n_columns),
            1 << 20,
            region::MAX_REGION,
        )?;
        Ok(RowCode {
            code,
            n_params,
            n_columns,
            n_outputs: outputs.len(),
        })
    }

    /// For each row `i` in `rows`, writes output `k` at the parameters
    /// `params` and the row's values of `columns` to `out[k*stride + i -
    /// rows.start]`.
    ///
    /// Panics if the lengths do not fit (a programming error: the code
    /// trusts them).
    pub fn call(
        &self,
        params: &[f64],
        columns: &[&[f64]],
        rows: Range<usize>,
        out: &mut [f64],
        stride: usize,
    ) {
        assert_eq!(params.len(), self.n_params, "RowCode::call: parameters");
        assert_eq!(columns.len(), self.n_columns, "RowCode::call: columns");
        assert!(
            columns.iter().all(|c| c.len() >= rows.end),
            "RowCode::call: a column is shorter than the rows"
        );
        let count = rows.end.saturating_sub(rows.start);
        if count == 0 {
            return;
        }
        assert!(
            stride >= count && out.len() >= (self.n_outputs - 1) * stride + count,
            "RowCode::call: out is too short"
        );
        // The columns' addresses, on the stack for a few columns: a fit
        // calls this once per block of rows, which should not allocate.
        let mut few = [std::ptr::null::<f64>(); FEW_COLUMNS];
        let many: Vec<*const f64>;
        let data = if columns.len() <= FEW_COLUMNS {
            for (slot, column) in few.iter_mut().zip(columns) {
                *slot = column.as_ptr();
            }
            few.as_ptr()
        } else {
            many = columns.iter().map(|c| c.as_ptr()).collect();
            many.as_ptr()
        };
        // SAFETY: the code was generated by `generate` with the `Entry`
        // signature. It reads `params[0..n_params]`, `columns[k][rows]`
        // (every column holds `rows.end` values, checked above) and writes
        // `out[k*stride + j]` for `k < n_outputs`, `j < count`, inside `out`
        // (checked above); `data` lives until the call returns.
        unsafe {
            let entry = std::mem::transmute::<*const u8, Entry>(self.code.entry());
            entry(
                params.as_ptr(),
                out.as_mut_ptr(),
                data,
                rows.start as i64,
                rows.end as i64,
                stride as i64,
            );
        }
    }
}

fn generate(
    module: &mut JITModule,
    graph: &Graph,
    outputs: &[NodeId],
    nodes: &[NodeId],
    n_params: usize,
    n_columns: usize,
) -> Result<FuncId> {
    let ptr = module.target_config().pointer_type();
    let mut sig = module.make_signature();
    for _ in 0..3 {
        sig.params.push(AbiParam::new(ptr));
    }
    for _ in 0..3 {
        sig.params.push(AbiParam::new(types::I64));
    }
    let id = module
        .declare_anonymous_function(&sig)
        .map_err(codegen_error)?;
    let mut ctx = module.make_context();
    ctx.func.signature = sig;
    let mut fctx = FunctionBuilderContext::new();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let p = b.block_params(entry).to_vec();
        let (x, out, data, lo, hi, stride) = (p[0], p[1], p[2], p[3], p[4], p[5]);
        let columns = (0..n_columns)
            .map(|k| b.ins().load(ptr, flags(), data, (8 * k) as i32))
            .collect();
        let row = b.declare_var(types::I64);
        let levels: Vec<Variable> = (0..MAX_LEVELS).map(|_| b.declare_var(types::I64)).collect();
        let mut e = Emitter {
            graph,
            module,
            b,
            x,
            // The row loop writes its outputs itself (`RowVars`): the
            // value and gradient places are never read here.
            value: out,
            grad: out,
            floats: x,
            data,
            // Row loops have no direction to read.
            direction: x,
            ptr,
            levels,
            values: HashMap::new(),
            imports: HashMap::new(),
            ints: Vec::new(),
            arrays: Vec::new(),
            bodies: HashMap::new(),
            scatters: Vec::new(),
            fused: HashMap::new(),
            siblings: HashMap::new(),
            rows: Some(RowVars {
                first: n_params,
                columns,
                row,
            }),
            mirrors: HashMap::new(),
            columns: HashMap::new(),
            negations: HashMap::new(),
            reload: false,
            spilled: HashMap::new(),
            prefixes: HashMap::new(),
            factors: HashMap::new(),
            scans: HashMap::new(),
            scans_made: 0,
        };
        // What depends on no column is computed once, before the loop.
        let mut per_row = vec![false; graph.len()];
        for &id in nodes {
            per_row[id.index()] = match graph.node(id) {
                Node::Var(i) => *i as usize >= n_params,
                n => n.children().iter().any(|c| per_row[c.index()]),
            };
        }
        for &id in nodes.iter().filter(|id| !per_row[id.index()]) {
            e.node(id)?;
        }
        // Output k's column starts at out + 8*k*stride; row i at 8*(i - lo)
        // after it.
        let bases: Vec<_> = (0..outputs.len())
            .map(|k| {
                let at = e.b.ins().imul_imm_s(stride, k as i64);
                e.element(out, at)
            })
            .collect();
        // As in a reduction's loop (`invariant.rs`): where the body calls a
        // function (`exp`), what it reads from before the loop waits in
        // stack slots and reads are emitted again at their uses, instead of
        // the register allocator's store and reload around every call.
        let list: Vec<NodeId> = nodes
            .iter()
            .copied()
            .filter(|id| per_row[id.index()])
            .collect();
        let saved = e.enter_loop(&list)?;
        // An output computed before the loop (`1` for ∂m/∂c) is stored
        // every row: it waits in a slot too.
        let mut held = Vec::new();
        for &o in outputs {
            if e.reload
                && !per_row[o.index()]
                && !e.spilled.contains_key(&o)
                && !invariant::reloadable(graph.node(o))
            {
                let slot = e.spill(e.values[&o]);
                e.spilled.insert(o, slot);
                held.push(o);
            }
        }
        e.b.def_var(row, lo);
        e.counted_loop(row, hi, |e| {
            for &id in &list {
                if !(e.reload && invariant::reloadable(graph.node(id))) {
                    e.node(id)?;
                }
            }
            let i = e.b.use_var(row);
            let k = e.b.ins().isub(i, lo);
            for (&o, &base) in outputs.iter().zip(&bases) {
                let v = e.operand(o)?;
                let addr = e.element(base, k);
                e.b.ins().store(flags(), v, addr, 0);
            }
            for id in &list {
                e.values.remove(id);
            }
            Ok(())
        })?;
        for o in held {
            e.spilled.remove(&o);
        }
        e.leave_loop(saved);
        e.b.ins().return_(&[]);
        e.b.seal_all_blocks();
        let config = e.module.target_config();
        e.b.finalize(config);
    }
    let result = module.define_function(id, &mut ctx);
    module.clear_context(&mut ctx);
    result.map_err(codegen_error)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formula::{Formula, Options};
    use crate::jit::Compiled;
    use crate::jit::testing::exclusive;

    /// The loop's outputs equal the straight-line code's, row by row, to
    /// the bit, over a block that starts inside the data.
    #[test]
    fn rows_agree_with_the_straight_line_code_to_the_bit() {
        let _guard = exclusive();
        let text = "a*exp(-b*t) + c/(1 + u^2) + sqrt(t)*a^3 - b/t^2";
        let options = Options {
            vars: Some(["a", "b", "c", "t", "u"].map(String::from).to_vec()),
            ..Options::default()
        };
        let f = Formula::parse_with(text, &options).unwrap();
        let mut outputs = vec![f.value()];
        outputs.extend_from_slice(&f.gradient()[..3]);
        let rows = RowCode::compile(f.graph(), &outputs, 3, 2).unwrap();
        let straight = Compiled::compile(f.graph(), &outputs, 5).unwrap();
        let t: Vec<f64> = (0..50).map(|i| 0.1 + 0.37 * i as f64).collect();
        let u: Vec<f64> = (0..50).map(|i| (i as f64).sin()).collect();
        let params = [1.7, 0.3, -2.5];
        let (lo, hi, stride) = (7, 41, 40);
        let mut out = vec![f64::NAN; 4 * stride];
        rows.call(&params, &[&t, &u], lo..hi, &mut out, stride);
        let mut one = [0.0; 4];
        for i in lo..hi {
            straight.call(&[params[0], params[1], params[2], t[i], u[i]], &mut one);
            for (k, want) in one.iter().enumerate() {
                let got = out[k * stride + i - lo];
                assert_eq!(got.to_bits(), want.to_bits(), "row {i}, output {k}");
            }
        }
        assert!(out[hi - lo..stride].iter().all(|v| v.is_nan()));
    }

    /// Run-time parameters, and variables past the columns, are refused,
    /// not read from memory that was not given.
    #[test]
    fn what_a_row_loop_cannot_read_is_refused() {
        let _guard = exclusive();
        let mut g = Graph::new();
        let a = g.var(0);
        let n = g.intern(Node::Param(0));
        let with_param = g.mul(a, n);
        assert!(RowCode::compile(&g, &[with_param], 1, 0).is_err());
        let t = g.var(1);
        let past = g.mul(a, t);
        assert!(RowCode::compile(&g, &[past], 1, 0).is_err());
        assert!(RowCode::compile(&g, &[past], 1, 1).is_ok());
    }
}
