//! What a loop body uses from outside its loop, placed so that a call in
//! the body costs what it costs in a hand-written loop.
//!
//! Every XMM register is caller-saved, so a floating-point value live
//! across a call in a loop (`exp(-b*t[i])` in a fit's sum) lives in
//! memory. Left to Cranelift's register allocator, each such value
//! defined before the loop was loaded after the call and stored back on
//! every iteration's back edge (the allocator does not know that its
//! stack slot still holds it): the exponential decay's row loop stored 9
//! values and loaded 13 per row, against 4 and 8 in the hand-written loop,
//! and it paid 1.2× the hand loop's time. So, in the body of a loop that
//! calls a function:
//!
//! - what is computed before the loop and used in it is stored once, in
//!   its own stack slot, before the loop, and loaded where it is used (a
//!   load Cranelift folds into the instruction that uses it when that is
//!   its only use);
//! - reads of `x`, of data columns, of parameters, and loop indices are
//!   emitted again at each use instead of being kept across the call:
//!   their memory does not change while the code runs.
//!
//! And in every loop, a product whose first factors do not depend on the
//! loop's indices (`-b*t[i]`, `2*a*t[i]*r*e`) has the product of those
//! factors computed once before the loop: the interpreter multiplies left
//! to right, so the loop's multiplications start from that same number and
//! the result has the same bits.

use cranelift_codegen::ir::{StackSlotData, StackSlotKind};

use super::nodes::{inlined, pow_calls};
use super::*;
use crate::graph::denominator_exponent;

/// A value computed before a loop, as the loop's body reads it.
#[derive(Copy, Clone)]
pub(super) enum Held {
    Reg(Value),
    Slot(StackSlot),
}

/// The emitter's state around one loop, put back by
/// [`Emitter::leave_loop`].
pub(super) struct Saved {
    reload: bool,
    spilled: Vec<NodeId>,
    prefixes: Vec<NodeId>,
}

/// Whether `node` is a read whose memory the code never writes, cheap to
/// emit again where it is used.
pub(super) fn reloadable(node: &Node) -> bool {
    matches!(
        node,
        Node::Var(_) | Node::Param(_) | Node::Index(_) | Node::Read(_)
    )
}

impl Emitter<'_, '_> {
    /// Whether emitting `id` calls a function (directly, or in the loop of
    /// a nested reduction).
    pub(super) fn calls(&self, id: NodeId) -> bool {
        let g = self.graph;
        match g.node(id) {
            Node::Call1(f, _) | Node::Call2(f, _) => !inlined(*f),
            Node::Pow([_, e]) => g.as_const(*e).is_none_or(pow_calls),
            Node::Product(factors) => factors
                .iter()
                .any(|&f| denominator_exponent(g, f).is_some_and(|(_, e)| pow_calls(e))),
            Node::Reduce(..) => self
                .bodies
                .get(&id)
                .is_some_and(|body| body.iter().any(|&n| self.calls(n))),
            _ => false,
        }
    }

    /// The value of `id`'s operand `n` (emitted already): read again, from
    /// its stack slot, or the value recorded.
    pub(super) fn operand(&mut self, n: NodeId) -> Result<Value> {
        if let Some(&slot) = self.spilled.get(&n) {
            return Ok(self.b.ins().stack_load(self.ptr, types::F64, slot, 0));
        }
        let read = reloadable(self.graph.node(n));
        match self.values.get(&n) {
            Some(&v) if !(read && self.reload) => Ok(v),
            _ if read => self.leaf(n),
            _ => Err(codegen_error("an operand was not emitted before its use")),
        }
    }

    pub(super) fn held(&mut self, h: Held) -> Value {
        match h {
            Held::Reg(v) => v,
            Held::Slot(slot) => self.b.ins().stack_load(self.ptr, types::F64, slot, 0),
        }
    }

    /// Before the loop whose body is `list`: the products' loop-invariant
    /// first factors multiplied, and, if the body calls a function, what it
    /// uses from outside stored in stack slots and reads reloaded.
    pub(super) fn enter_loop(&mut self, list: &[NodeId]) -> Result<Saved> {
        let g = self.graph;
        let inside: std::collections::HashSet<NodeId> = list.iter().copied().collect();
        let available = |e: &Self, n: NodeId| {
            !inside.contains(&n)
                && (e.values.contains_key(&n)
                    || e.spilled.contains_key(&n)
                    || reloadable(g.node(n)))
        };
        let calls = list.iter().any(|&n| self.calls(n));
        let mut saved = Saved {
            reload: self.reload,
            spilled: Vec::new(),
            prefixes: Vec::new(),
        };
        for &n in list {
            let Node::Product(factors) = g.node(n) else {
                continue;
            };
            // The scan computes it (`scan.rs`).
            if self.scans.contains_key(&n) {
                continue;
            }
            let k = factors
                .iter()
                .take_while(|&&f| available(self, f) && denominator_exponent(g, f).is_none())
                .count();
            if k < 2 {
                continue;
            }
            let mut p = self.operand(factors[0])?;
            for &f in &factors[1..k] {
                let v = self.operand(f)?;
                p = self.b.ins().fmul(p, v);
            }
            let held = if calls {
                Held::Slot(self.spill(p))
            } else {
                Held::Reg(p)
            };
            self.prefixes.insert(n, (k, held));
            saved.prefixes.push(n);
        }
        if calls {
            for &n in list {
                let operands: Vec<NodeId> = match g.node(n) {
                    Node::Product(factors) => factors
                        .iter()
                        .map(|&f| denominator_exponent(g, f).map_or(f, |(b, _)| b))
                        .collect(),
                    node => node.children().to_vec(),
                };
                for c in operands {
                    if inside.contains(&c)
                        || self.spilled.contains_key(&c)
                        || reloadable(g.node(c))
                        || !self.values.contains_key(&c)
                    {
                        continue;
                    }
                    let v = self.values[&c];
                    let slot = self.spill(v);
                    self.spilled.insert(c, slot);
                    saved.spilled.push(c);
                }
            }
        }
        self.reload = calls;
        Ok(saved)
    }

    /// After the loop: the state before [`Emitter::enter_loop`].
    pub(super) fn leave_loop(&mut self, saved: Saved) {
        self.reload = saved.reload;
        for n in saved.spilled {
            self.spilled.remove(&n);
        }
        for n in saved.prefixes {
            self.prefixes.remove(&n);
        }
    }

    /// `v` stored in a new stack slot of its own.
    pub(super) fn spill(&mut self, v: Value) -> StackSlot {
        let slot =
            self.b
                .create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 8, 3));
        self.b.ins().stack_store(self.ptr, v, slot, 0);
        slot
    }
}
