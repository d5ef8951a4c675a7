//! Scheduling: the order to compute instructions in, chosen to keep few
//! values live at once.
//!
//! A value live across much code is spilled by the register allocator (or,
//! between chunks, goes through memory). The base order is a depth-first
//! post-order from the outputs, in output order, so each value is computed
//! just before its first use. On top of that, completion is eager: after
//! each step, an instruction whose operands are all computed, or are small
//! expressions of the inputs (computed on demand), is computed at once,
//! those needing only tiny extra work first. So a gradient component is
//! finished and stored while its pieces are still in registers, instead of
//! after the whole value sum has kept them all live. Eagerly computed
//! values waiting for a use are capped ([`EAGER_LIMIT`]), so a value with
//! many consumers cannot make them all live at once; past the cap, an item
//! that is the last use of an operand is still completed, since it ends a
//! live range as it starts one. (For `x1*...*x100` each partial, prefix
//! times suffix, ends its prefix product, so partials are stored as the
//! suffix chain descends; without the exception every suffix product stayed
//! live beside the prefix products, about 200 values, and the register
//! allocator put the product chains themselves through the stack.) The
//! walks use explicit stacks: graphs may be far deeper than a thread stack.

use super::lower::{Operand, Program};

/// Eagerly computed values that may wait for their next use at one time.
/// Beyond this, ready instructions wait for the depth-first walk instead.
const EAGER_LIMIT: usize = 32;

/// The order to compute instructions and store outputs in. Items `0..n` are
/// instructions, `n + k` is the store of output `k`. Dead instructions (left
/// over from lowering, such as a denominator's `1/b` node) are absent.
pub(super) fn schedule(p: &Program) -> Vec<u32> {
    Scheduler::new(p).run()
}

struct Scheduler<'p> {
    p: &'p Program,
    n: usize,
    /// A small expression of the inputs alone (at most [`SMALL`]
    /// instructions as a tree): cheap to compute whenever a user wants it.
    small: Vec<bool>,
    /// Uses not yet computed.
    remaining: Vec<u32>,
    user_start: Vec<u32>,
    users: Vec<u32>,
    done: Vec<bool>,
    /// Computed eagerly and counted in `eager_live` until its last use.
    eager: Vec<bool>,
    eager_live: usize,
    /// Items whose operands are all computed or small, most recent last:
    /// those whose missing operands are tiny (`finish`) and those that must
    /// start bigger computations first (`open`).
    finish: Vec<u32>,
    open: Vec<u32>,
    size: Vec<u32>,
    stack: Vec<(u32, u8)>,
    order: Vec<u32>,
}

/// The size up to which an expression of the inputs counts as small.
const SMALL: u32 = 8;

/// The size up to which an expression of the inputs is computed on demand
/// as readily as a finished value: it hardly lengthens any live range.
const TINY: u32 = 2;

impl<'p> Scheduler<'p> {
    fn new(p: &'p Program) -> Scheduler<'p> {
        let n = p.instrs.len();
        let total = n + p.outputs.len();
        let mut live = vec![false; n];
        for o in &p.outputs {
            if let Operand::Instr(j) = *o {
                live[j as usize] = true;
            }
        }
        for i in (0..n).rev() {
            if live[i] {
                for a in p.instrs[i].operands() {
                    if let Operand::Instr(j) = *a {
                        live[j as usize] = true;
                    }
                }
            }
        }
        let mut s = Scheduler {
            p,
            n,
            small: vec![false; n],
            remaining: vec![0; n],
            user_start: vec![0; n + 1],
            users: Vec::new(),
            done: vec![false; total],
            eager: vec![false; n],
            eager_live: 0,
            finish: Vec::new(),
            open: Vec::new(),
            size: Vec::new(),
            stack: Vec::new(),
            order: Vec::with_capacity(total),
        };
        let mut size = vec![0u32; n];
        for i in 0..n {
            let (deps, k) = s.deps(i as u32);
            let deps = &deps[..k];
            if deps.iter().all(|&j| s.small[j as usize]) {
                size[i] = 1 + deps.iter().map(|&j| size[j as usize]).sum::<u32>();
                s.small[i] = size[i] <= SMALL;
            } else {
                size[i] = u32::MAX;
            }
        }
        s.size = size;
        // Users, as compressed rows: count, prefix-sum, fill.
        let is_live = |v: usize| v >= n || live[v];
        for v in (0..total).filter(|&v| is_live(v)) {
            let (deps, k) = s.deps(v as u32);
            for &j in &deps[..k] {
                s.user_start[j as usize + 1] += 1;
                s.remaining[j as usize] += 1;
            }
        }
        for i in 0..n {
            s.user_start[i + 1] += s.user_start[i];
        }
        s.users = vec![0; s.user_start[n] as usize];
        let mut fill = s.user_start.clone();
        for v in (0..total).filter(|&v| is_live(v)) {
            let (deps, k) = s.deps(v as u32);
            for &j in &deps[..k] {
                s.users[fill[j as usize] as usize] = v as u32;
                fill[j as usize] += 1;
            }
        }
        s
    }

    /// The distinct instructions item `v` reads, in operand order.
    fn deps(&self, v: u32) -> ([u32; 2], usize) {
        let ops: &[Operand] = match self.p.instrs.get(v as usize) {
            Some(instr) => instr.operands(),
            None => std::slice::from_ref(&self.p.outputs[v as usize - self.n]),
        };
        let mut out = [0; 2];
        let mut k = 0;
        for a in ops {
            if let Operand::Instr(j) = *a
                && !out[..k].contains(&j)
            {
                out[k] = j;
                k += 1;
            }
        }
        (out, k)
    }

    fn run(mut self) -> Vec<u32> {
        for k in 0..self.p.outputs.len() {
            self.visit((self.n + k) as u32, true);
        }
        self.order
    }

    /// Computes `root` after whatever it needs, depth first. The main walk
    /// (`main`) completes ready items after each step; the walks that
    /// completion starts (`!main`) compute eagerly.
    fn visit(&mut self, root: u32, main: bool) {
        if self.done[root as usize] {
            return;
        }
        let base = self.stack.len();
        self.stack.push((root, 0));
        while self.stack.len() > base {
            let top = self.stack.len() - 1;
            let (v, next) = self.stack[top];
            if self.done[v as usize] {
                self.stack.pop();
                continue;
            }
            let (deps, k) = self.deps(v);
            if usize::from(next) < k {
                self.stack[top].1 += 1;
                let j = deps[usize::from(next)];
                if !self.done[j as usize] {
                    self.stack.push((j, 0));
                }
                continue;
            }
            self.stack.pop();
            self.emit(v, !main);
            if main {
                self.complete_ready();
            }
        }
    }

    fn emit(&mut self, v: u32, eager: bool) {
        self.order.push(v);
        self.done[v as usize] = true;
        let (deps, k) = self.deps(v);
        for &j in &deps[..k] {
            let j = j as usize;
            self.remaining[j] -= 1;
            if self.remaining[j] == 0 && self.eager[j] {
                self.eager_live -= 1;
            }
        }
        let v = v as usize;
        if v >= self.n {
            return;
        }
        if eager && self.remaining[v] > 0 {
            self.eager[v] = true;
            self.eager_live += 1;
        }
        for u in self.user_start[v]..self.user_start[v + 1] {
            let u = self.users[u as usize];
            if self.done[u as usize] {
                continue;
            }
            let (deps, k) = self.deps(u);
            let missing = deps[..k].iter().filter(|&&j| !self.done[j as usize]);
            let mut largest = 0;
            for &j in missing {
                if !self.small[j as usize] {
                    largest = u32::MAX;
                    break;
                }
                largest = largest.max(self.size[j as usize]);
            }
            if largest <= TINY {
                self.finish.push(u);
            } else if largest <= SMALL {
                self.open.push(u);
            }
        }
    }

    /// Computes, most recent first, the items whose operands are ready,
    /// while few eager values wait for their uses. Past that limit, an item
    /// is still computed if it is the last use of one of its operands: it
    /// ends a live range as it starts one, so it adds no pressure (the
    /// partials of a long product end the prefix products' ranges).
    fn complete_ready(&mut self) {
        while let Some(u) = self.finish.pop().or_else(|| self.open.pop()) {
            let is_store = u as usize >= self.n;
            if self.done[u as usize]
                || (!is_store && self.eager_live >= EAGER_LIMIT && !self.ends_a_range(u))
            {
                continue;
            }
            self.visit(u, false);
        }
    }

    /// Item `u` is the last use of one of its computed operands.
    fn ends_a_range(&self, u: u32) -> bool {
        let (deps, k) = self.deps(u);
        deps[..k]
            .iter()
            .any(|&j| self.done[j as usize] && self.remaining[j as usize] == 1)
    }
}

#[cfg(test)]
mod tests {
    use crate::builtins::Func;
    use crate::eval::Interpreter;
    use crate::graph::Graph;
    use crate::jit::Compiled;
    use crate::jit::testing::exclusive;

    #[test]
    fn deep_graphs_compile_without_recursion() {
        let _guard = exclusive();
        let mut g = Graph::new();
        let x = g.var(0);
        let mut v = x;
        for i in 0..20_000 {
            v = if i % 2 == 0 {
                g.call1(Func::Sin, v)
            } else {
                g.add(v, x)
            };
        }
        let c = Compiled::compile(&g, &[v], 1).unwrap();
        let mut out = [0.0];
        c.call(&[0.5], &mut out);
        assert_eq!(out[0], Interpreter::new(&g, &[v]).eval(&[0.5])[0]);
    }
}
