//! The interpreter: the reference evaluator every other evaluator is tested
//! against. Kept simple on purpose: one forward loop over the graph.
//!
//! Evaluation rules, which the compiled code follows to the bit:
//! - a sum adds its terms pairwise, as a balanced tree
//!   (`graph::sum_pairwise`: faster than a chain, and its rounding error
//!   grows with `log₂ n` rather than `n`);
//! - a product multiplies its numerator factors left to right, its
//!   denominator factors (`b^e` with a constant `e < 0`) as `b^-e` left to
//!   right, and divides once at the end (`x/y` is a true division);
//! - `b^e` is [`builtins::pow`]: exponents -3 to 4 by binary powering,
//!   `^0.5` as `sqrt`, otherwise `powf`;
//! - functions are Rust's `f64` methods, `min`/`max` propagate NaN;
//! - in a loop over a `prod`'s own indices, the product of its other
//!   factors (a factor's partial) is the products before and after the
//!   factor, by the exclusive scan of `eval/scan.rs`.

use rustc_hash::FxHashMap;

mod diagnose;
mod scan;

pub use diagnose::IndexNames;
use scan::scans;
pub(crate) use scan::{Scan, scanned};

use crate::ast::ReduceOp;
use crate::bind::{Frame, MAX_LEVELS, SCALAR};
use crate::builtins;
use crate::diff::Scatter;
use crate::graph::{
    Graph, Node, NodeId, Range, Reduce, Source, SumStep, denominator_exponent, reachable,
    sum_pairwise,
};

/// Evaluates chosen outputs of a graph at points.
pub struct Interpreter<'g> {
    graph: &'g Graph,
    frame: &'g Frame,
    /// Nodes the outputs depend on outside every loop, children first.
    order: Vec<NodeId>,
    /// For each reduction, the nodes its loop computes per index tuple.
    bodies: FxHashMap<NodeId, Vec<NodeId>>,
    /// For the body of each `prod` whose product of the other factors
    /// the outputs need, the nodes that compute it per index tuple (a
    /// scan's first pass, `eval/scan.rs`).
    factors: FxHashMap<NodeId, Vec<NodeId>>,
    outputs: Vec<NodeId>,
}

/// The loop indices by level while a body is evaluated.
pub(crate) type Levels = [i64; MAX_LEVELS];

impl<'g> Interpreter<'g> {
    /// An interpreter for a formula without parameters, arrays or data.
    pub fn new(graph: &'g Graph, outputs: &[NodeId]) -> Interpreter<'g> {
        Interpreter::with_frame(graph, outputs, &SCALAR)
    }

    /// An interpreter reading parameters, arrays and data from `frame`.
    pub fn with_frame(graph: &'g Graph, outputs: &[NodeId], frame: &'g Frame) -> Interpreter<'g> {
        let all = reachable(graph, outputs);
        let mut bodies = FxHashMap::default();
        let mut factors = FxHashMap::default();
        for &id in &all {
            if let Node::Reduce(r, [body]) = graph.node(id) {
                let bound = graph.meta(id).levels | r.own_levels();
                bodies.insert(id, reduction_body(graph, r, *body, bound));
            }
            if let Some((r, body)) = graph.product_of_others(id) {
                let bound = graph.meta(*body).levels | r.own_levels();
                factors.insert(*body, evaluated_body(graph, *body, r.own_levels(), bound));
            }
        }
        Interpreter {
            graph,
            frame,
            order: all
                .into_iter()
                .filter(|&id| graph.meta(id).levels == 0)
                .collect(),
            bodies,
            factors,
            outputs: outputs.to_vec(),
        }
    }

    /// The scans of the nodes of `list` that a loop over `r` evaluates by
    /// the exclusive scan (`eval/scan.rs`), their factors computed (its
    /// first pass, which leaves `levels` and the values of the nodes it
    /// computes as it found them: a loop around it over the same levels
    /// may hold them).
    fn start_scans(
        &self,
        list: &[NodeId],
        r: &Reduce,
        values: &mut [f64],
        x: &[f64],
        levels: &mut Levels,
    ) -> Vec<Scan> {
        let scanned = scanned(self.graph, list, r);
        if scanned.is_empty() {
            return Vec::new();
        }
        let saved = *levels;
        let scans = scanned
            .into_iter()
            .map(|(id, body)| {
                let nodes = self.factors.get(&body).map_or(&[][..], |b| b);
                let held: Vec<f64> = nodes.iter().map(|n| values[n.index()]).collect();
                let mut factors = Vec::new();
                each_tuple(&r.ranges, r.level, self.frame, levels, |levels| {
                    for &n in nodes {
                        values[n.index()] = self.node(n, values, x, levels);
                    }
                    factors.push(values[body.index()]);
                });
                for (n, v) in nodes.iter().zip(held) {
                    values[n.index()] = v;
                }
                Scan::new(id, &factors)
            })
            .collect();
        *levels = saved;
        scans
    }

    /// The value of `id`, a node of a loop's body at the current tuple:
    /// the next step of its scan if it has one.
    fn in_loop(
        &self,
        id: NodeId,
        scans: &mut [Scan],
        values: &mut [f64],
        x: &[f64],
        levels: &mut Levels,
    ) -> f64 {
        match scans.iter_mut().find(|s| s.id == id) {
            Some(scan) => scan.step(),
            None => self.node(id, values, x, levels),
        }
    }

    /// Every output's value at `x` (indexed by variable number).
    pub fn eval(&self, x: &[f64]) -> Vec<f64> {
        let values = self.values(x);
        self.outputs.iter().map(|o| values[o.index()]).collect()
    }

    /// The value of every node the outputs need outside loops (other slots
    /// hold NaN, or a loop body's value at its last index).
    pub(crate) fn values(&self, x: &[f64]) -> Vec<f64> {
        let mut values = vec![f64::NAN; self.graph.len()];
        let mut levels = [0; MAX_LEVELS];
        for &id in &self.order {
            values[id.index()] = self.node(id, &mut values, x, &mut levels);
        }
        values
    }

    pub(crate) fn node(
        &self,
        id: NodeId,
        values: &mut [f64],
        x: &[f64],
        levels: &mut Levels,
    ) -> f64 {
        let Node::Reduce(r, [body]) = self.graph.node(id) else {
            return eval_node(self.graph, id, values, x, self.frame, levels);
        };
        let list = self.bodies.get(&id).map_or(&[][..], |b| b);
        let mut acc = match r.op {
            ReduceOp::Sum => 0.0,
            ReduceOp::Prod => 1.0,
        };
        // The loop moves the indices of its own levels and overwrites its
        // body's values; a reduction evaluated inside a loop over the same
        // levels (a gradient's scatter over i and j, whose value needs
        // prod(j in 1..i, ...) and the factor at this j) must leave both
        // where that loop had them. A reduction outside loops has no such
        // loop around it.
        let nested = self.graph.meta(id).levels != 0;
        let saved_levels = *levels;
        let saved_values: Vec<f64> = if nested {
            list.iter().map(|n| values[n.index()]).collect()
        } else {
            Vec::new()
        };
        let mut scans = self.start_scans(list, r, values, x, levels);
        each_tuple(&r.ranges, r.level, self.frame, levels, |levels| {
            for &n in list {
                values[n.index()] = self.in_loop(n, &mut scans, values, x, levels);
            }
            let v = values[body.index()];
            match r.op {
                ReduceOp::Sum => acc += v,
                ReduceOp::Prod => acc *= v,
            }
        });
        *levels = saved_levels;
        for (n, v) in list.iter().zip(saved_values) {
            values[n.index()] = v;
        }
        acc
    }
}

/// Scatters that share their loops, run as one loop nest: per index
/// tuple, every member's value is computed, then added to its target in
/// member order.
#[derive(Clone, Debug)]
pub struct ScatterGroup {
    /// Indices into the gradient's scatters, in order.
    pub members: Vec<usize>,
    /// The nodes computed per index tuple, in increasing order.
    pub list: Vec<NodeId>,
    /// The same nodes by the loop inside which they are computed: entry
    /// `d` once per index tuple of the loops `0..=d`, which bind every
    /// level it uses (in a scatter over `i` and `j in 1..i`, the
    /// `prod(j in 1..i, ...)` it needs is computed once per `i`, not once
    /// per `(i, j)`).
    pub stages: Vec<Vec<NodeId>>,
    /// The reduction of the value whose loop this group shares, if any:
    /// compiled code runs both in one loop.
    pub fused: Option<NodeId>,
}

/// The gradient's scatters as groups, in the order they add into the
/// gradient (which the interpreter and the compiled code share, so that
/// their sums round alike). A group whose one loop is that of a reduction
/// the formula computes outside loops, and whose values do not need that
/// reduction's result, is fused with it; fused groups come first, in the
/// order of their reductions, then the others in order of first member.
pub fn scatter_groups(graph: &Graph, top: &[NodeId], scatters: &[Scatter]) -> Vec<ScatterGroup> {
    let mut groups: Vec<ScatterGroup> = Vec::new();
    for (k, s) in scatters.iter().enumerate() {
        match groups
            .iter_mut()
            .find(|g| scatters[g.members[0]].loops == s.loops)
        {
            Some(g) => g.members.push(k),
            None => groups.push(ScatterGroup {
                members: vec![k],
                list: Vec::new(),
                stages: Vec::new(),
                fused: None,
            }),
        }
    }
    for g in &mut groups {
        let loops = &scatters[g.members[0]].loops;
        let own = loops.iter().fold(0, |a, r| a | r.own_levels());
        // A product of the other factors that the loop of its stage
        // scans needs none of its operands.
        let scanned = |n: NodeId| {
            stage_of(loops, graph.meta(n).levels).is_some_and(|d| scans(graph, n, &loops[d]))
        };
        let mut list: Vec<NodeId> = g
            .members
            .iter()
            .flat_map(|&m| body_nodes(graph, scatters[m].value, own, own, true, &scanned))
            .collect();
        list.sort_unstable();
        list.dedup();
        g.stages = vec![Vec::new(); loops.len()];
        for &n in &list {
            // Every node of the list uses only the loops' levels.
            if let Some(stage) = stage_of(loops, graph.meta(n).levels) {
                g.stages[stage].push(n);
            }
        }
        g.list = list;
        let [only] = loops.as_slice() else { continue };
        let values: Vec<NodeId> = g.members.iter().map(|&m| scatters[m].value).collect();
        // Values that need no loop of the value can be computed while one
        // runs (so fusing never reorders two loops' additions).
        let needs = reachable(graph, &values);
        let independent = !needs
            .iter()
            .any(|&n| graph.meta(n).levels == 0 && matches!(graph.node(n), Node::Reduce(..)));
        g.fused = top.iter().copied().find(|&id| {
            independent
                && matches!(graph.node(id), Node::Reduce(r, _)
                    if r.level == only.level && r.ranges == only.ranges)
        });
    }
    // One group per reduction.
    for i in 0..groups.len() {
        if let Some(r) = groups[i].fused
            && groups[..i].iter().any(|g| g.fused == Some(r))
        {
            groups[i].fused = None;
        }
    }
    let position = |g: &ScatterGroup| match g.fused {
        Some(r) => (0, top.binary_search(&r).unwrap_or(usize::MAX)),
        None => (1, 0),
    };
    groups.sort_by_key(position);
    groups
}

/// The first of `loops` (outermost first) inside which a node that uses
/// `levels` can be computed: the one after which every level it uses is
/// bound.
fn stage_of(loops: &[Reduce], levels: u64) -> Option<usize> {
    let mut bound = 0;
    loops.iter().position(|r| {
        bound |= r.own_levels();
        levels & !bound == 0
    })
}

/// Value and gradient of a formula with loops: the scalar partials are
/// nodes, the partials of array elements `Scatter` loops that add into
/// the gradient, in the order of [`scatter_groups`].
pub struct GradientInterpreter<'g> {
    interpreter: Interpreter<'g>,
    n_scalars: usize,
    scatters: &'g [Scatter],
    groups: Vec<ScatterGroup>,
}

impl<'g> GradientInterpreter<'g> {
    pub fn new(
        graph: &'g Graph,
        value: NodeId,
        scalars: &[NodeId],
        scatters: &'g [Scatter],
        frame: &'g Frame,
    ) -> GradientInterpreter<'g> {
        let mut outputs = vec![value];
        outputs.extend_from_slice(scalars);
        outputs.extend(scatters.iter().map(|s| s.value));
        let interpreter = Interpreter::with_frame(graph, &outputs, frame);
        let groups = scatter_groups(graph, &interpreter.order, scatters);
        GradientInterpreter {
            interpreter,
            n_scalars: scalars.len(),
            scatters,
            groups,
        }
    }

    /// The value at `x`, with the gradient written to `grad`.
    pub fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let it = &self.interpreter;
        let mut values = it.values(x);
        let outputs = &it.outputs;
        for (g, o) in grad.iter_mut().zip(&outputs[1..=self.n_scalars]) {
            *g = values[o.index()];
        }
        grad[self.n_scalars..].fill(0.0);
        let mut levels = [0; MAX_LEVELS];
        for group in &self.groups {
            self.group(group, 0, &mut values, x, &mut levels, grad, &mut []);
        }
        values[outputs[0].index()]
    }

    /// The loops of `group` from `depth` on; `scans` are those of the
    /// loop around (`depth - 1`), whose stage this call computes first.
    #[allow(clippy::too_many_arguments)]
    fn group(
        &self,
        group: &ScatterGroup,
        depth: usize,
        values: &mut [f64],
        x: &[f64],
        levels: &mut Levels,
        grad: &mut [f64],
        scans: &mut [Scan],
    ) {
        let it = &self.interpreter;
        let loops = &self.scatters[group.members[0]].loops;
        if let Some(stage) = depth.checked_sub(1).and_then(|d| group.stages.get(d)) {
            for &n in stage {
                values[n.index()] = it.in_loop(n, scans, values, x, levels);
            }
        }
        let Some(r) = loops.get(depth) else {
            for &m in &group.members {
                let s = &self.scatters[m];
                let at = s.target.index.iter().map(|a| it.frame.index(a, levels));
                let Source::Var(a) = s.target.source else {
                    continue;
                };
                if let Some(i) = it.frame.arrays.get(a as usize).and_then(|p| p.position(at))
                    && let Some(g) = grad.get_mut(i)
                {
                    *g += values[s.value.index()];
                }
            }
            return;
        };
        let stage = group.stages.get(depth).map_or(&[][..], |s| s);
        let mut inner = it.start_scans(stage, r, values, x, levels);
        each_tuple(&r.ranges, r.level, it.frame, levels, |levels| {
            self.group(group, depth + 1, values, x, levels, grad, &mut inner);
        });
    }
}

/// The nodes a loop over the levels `own` computes per index tuple: those
/// reachable from `body` that use one of `own` and no level outside
/// `bound`, in increasing order. A node that uses none of `own` is
/// loop-invariant and computed before the loop; one that uses a deeper
/// level belongs to an inner loop; one reached only through a reduction
/// that binds a level it uses belongs to that reduction's loop (in a
/// gradient's scatter over i and j, the body of a `prod(j in 1..i, ...)`
/// that the scatter's value needs).
pub(crate) fn loop_body(graph: &Graph, body: NodeId, own: u64, bound: u64) -> Vec<NodeId> {
    body_nodes(graph, body, own, bound, false, &|_| false)
}

/// [`loop_body`] as evaluation needs it: a product raises the base of a
/// denominator factor `b^e` itself (it divides by `b^-e`), so that factor
/// is left out unless something else reads it. Computing it anyway was
/// the pairs' hidden cost: the gradient body `2*d/q^2` holds the node
/// `q^-2`, whose exponent `builtins::pow` gives to `powf`, and compiled
/// code makes every call it emits, read or not. That one unread call
/// per pair (and the registers it clobbered) made the pairs'
/// value+gradient 4.4× the hand-written loop; without it, 1.2×.
/// Differentiation sweeps every node ([`loop_body`]): the product's
/// derivative goes through the factor.
pub(crate) fn evaluated_body(graph: &Graph, body: NodeId, own: u64, bound: u64) -> Vec<NodeId> {
    body_nodes(graph, body, own, bound, true, &|_| false)
}

/// [`evaluated_body`] for the loop of the reduction `r`: a product of
/// the other factors that the loop computes by its scan (`eval/scan.rs`)
/// is in the list without its operands (the whole product, the factor's
/// inverse, the count of zeros), which it does not read.
pub(crate) fn reduction_body(graph: &Graph, r: &Reduce, body: NodeId, bound: u64) -> Vec<NodeId> {
    let scanned = |n: NodeId| scans(graph, n, r);
    body_nodes(graph, body, r.own_levels(), bound, true, &scanned)
}

/// The nodes of a loop body. A node for which `scanned` holds, a product
/// of the other factors that the loop computes by its scan, reads only
/// the factor, and that at the loop's own indices in the scan's first
/// pass: what the factor uses from outer loops is in the list, the rest
/// is not, nor are the node's operands (unless something else reads
/// them).
fn body_nodes(
    graph: &Graph,
    body: NodeId,
    own: u64,
    bound: u64,
    evaluated: bool,
    scanned: &dyn Fn(NodeId) -> bool,
) -> Vec<NodeId> {
    // Each node with the levels bound by reductions on the way to it, and
    // the innermost of those reductions.
    let mut seen = rustc_hash::FxHashSet::default();
    let mut stack: Vec<(NodeId, u64, Option<NodeId>)> = vec![(body, 0u64, None)];
    let mut list = Vec::new();
    while let Some((id, rebound, inner)) = stack.pop() {
        let levels = graph.meta(id).levels;
        if levels & own == 0 || !seen.insert((id, rebound, inner)) {
            continue;
        }
        if levels & !bound == 0 && levels & rebound == 0 {
            list.push(id);
        }
        // A scanned node reads its factor, and at the loop's own indices
        // only in its scan's first pass: as a reduction over them does.
        // Whether it is scanned is the loop's that computes it: this one,
        // or the reduction inside it that binds its indices.
        let scanned_where_computed = if levels & rebound == 0 {
            scanned(id)
        } else {
            inner.is_some_and(|r| match graph.node(r) {
                Node::Reduce(r, _) => levels & r.own_levels() != 0 && scans(graph, id, r),
                _ => false,
            })
        };
        if scanned_where_computed && let Some((r, factor)) = graph.product_of_others(id) {
            stack.push((*factor, rebound | (r.own_levels() & bound), inner));
            continue;
        }
        let (rebound, inner) = match graph.node(id) {
            Node::Reduce(r, _) => (rebound | (r.own_levels() & bound), Some(id)),
            _ => (rebound, inner),
        };
        let node = graph.node(id);
        let read = |c: NodeId| match node {
            Node::Product(_) if evaluated => denominator_exponent(graph, c).map_or(c, |(b, _)| b),
            _ => c,
        };
        stack.extend(node.children().iter().map(|&c| (read(c), rebound, inner)));
    }
    list.sort_unstable();
    list.dedup();
    list
}

/// Calls `f` for every index tuple of `ranges` (levels from `level` on), in
/// lexicographic order with the last index fastest, with `levels` set.
pub(crate) fn each_tuple(
    ranges: &[Range],
    level: u32,
    frame: &Frame,
    levels: &mut Levels,
    mut f: impl FnMut(&mut Levels),
) {
    let (d, l0) = (ranges.len(), level as usize);
    if d == 0 || l0 + d > MAX_LEVELS {
        return;
    }
    let mut his = [0i64; MAX_LEVELS];
    levels[l0] = frame.index(&ranges[0].lo, levels);
    his[0] = frame.index(&ranges[0].hi, levels);
    let mut k = 0;
    loop {
        if levels[l0 + k] > his[k] {
            if k == 0 {
                return;
            }
            k -= 1;
            levels[l0 + k] += 1;
            continue;
        }
        if k + 1 == d {
            f(levels);
            levels[l0 + k] += 1;
            continue;
        }
        k += 1;
        levels[l0 + k] = frame.index(&ranges[k].lo, levels);
        his[k] = frame.index(&ranges[k].hi, levels);
    }
}

pub(crate) fn eval_node(
    graph: &Graph,
    id: NodeId,
    values: &[f64],
    x: &[f64],
    frame: &Frame,
    levels: &Levels,
) -> f64 {
    let v = |n: NodeId| values[n.index()];
    match graph.node(id) {
        Node::Const(c) => *c,
        Node::Var(i) => x.get(*i as usize).copied().unwrap_or(f64::NAN),
        Node::Param(p) => frame.params.get(*p as usize).copied().unwrap_or(f64::NAN),
        Node::Index(l) => levels.get(*l as usize).copied().unwrap_or(0) as f64,
        Node::Read(r) => frame.read(r, levels, x),
        // Loops are run by the interpreter, which owns the bodies.
        Node::Reduce(..) => f64::NAN,
        Node::Sum(terms) if terms.is_empty() => 0.0,
        Node::Sum(terms) => {
            let added = sum_pairwise(terms, &mut |s| {
                Ok::<f64, std::convert::Infallible>(match s {
                    SumStep::Term(t) => v(t),
                    SumStep::Add(a, b) => a + b,
                })
            });
            added.unwrap_or_else(|never| match never {})
        }
        Node::Product(factors) => {
            let mut num: Option<f64> = None;
            let mut den: Option<f64> = None;
            for &f in factors.iter() {
                match denominator_exponent(graph, f) {
                    Some((b, e)) => {
                        let p = builtins::pow(v(b), e);
                        den = Some(den.map_or(p, |d| d * p));
                    }
                    None => num = Some(num.map_or(v(f), |n| n * v(f))),
                }
            }
            match (num, den) {
                (Some(n), Some(d)) => n / d,
                (Some(n), None) => n,
                (None, Some(d)) => 1.0 / d,
                (None, None) => 1.0,
            }
        }
        Node::Pow([b, e]) => builtins::pow(v(*b), v(*e)),
        Node::Call1(f, [a]) => f.apply1(v(*a)),
        Node::Call2(f, [a, b]) => f.apply2(v(*a), v(*b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loop computes the base of a denominator factor, not the factor
    /// (`q^-2` in `2*i/q^2` would call `powf` once per index), unless the
    /// factor is read as a value too; differentiation still sweeps it.
    #[test]
    fn a_loop_does_not_compute_a_factor_its_product_divides_by() {
        let mut g = Graph::new();
        let i = g.intern(Node::Index(0));
        let one = g.constant(1.0);
        let two = g.constant(2.0);
        let square = g.mul(i, i);
        let q = g.sum(&[one, square]);
        let power = g.powc(q, -2.0);
        let twice = g.mul(two, i);
        let quotient = g.product(&[twice, power]);
        assert!(matches!(g.node(quotient), Node::Product(f) if f.contains(&power)));
        assert!(loop_body(&g, quotient, 1, 1).contains(&power));
        let evaluated = evaluated_body(&g, quotient, 1, 1);
        assert!(evaluated.contains(&q) && !evaluated.contains(&power));
        let also_read = g.sum(&[quotient, power]);
        assert!(evaluated_body(&g, also_read, 1, 1).contains(&power));
    }
}
