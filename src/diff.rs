//! Symbolic reverse mode: one backward sweep over the graph builds every
//! partial derivative as nodes of the same graph.
//!
//! The sweep visits nodes from the output down (children precede parents, so
//! descending ids is a reverse topological order). When a node is visited all
//! of its parents have been, so its adjoint, the sum of what its parents
//! contributed, is complete; it then contributes `adjoint * ∂node/∂child` to
//! each child. The whole gradient costs O(size of the graph), the
//! cheap-gradient principle, and shares subexpressions with the value.
//!
//! Products of many factors use prefix and suffix products, so that
//! `x1*x2*...*x100` has a gradient of linear size, not quadratic.
//! An indexed `prod` gives each factor the product of the others, whose
//! own derivative (for the Hessian) has a rule of its own:
//! `diff/product.rs`.
//!
//! Conventions at kinks: `abs'(0) = 0`, `sign' = floor' = ceil' = 0`, and
//! `min`/`max` split the derivative evenly on a tie.

use crate::builtins::Func;
use crate::canon::SMALL_PRODUCT;
use crate::error::{Error, Limit, Result};
use rustc_hash::FxHashMap;

use crate::ast::ReduceOp;
use crate::graph::{Graph, Node, NodeId, Origin, Read, Reduce, Source};

mod hess_vec;
mod product;

pub use hess_vec::hess_vec;

/// The partial derivatives of `output` with respect to each of `vars`
/// (variable nodes), in order, with no limit (for tests).
#[cfg(test)]
pub fn gradient(graph: &mut Graph, output: NodeId, vars: &[NodeId]) -> Vec<NodeId> {
    // Without a limit the sweep cannot fail.
    gradient_within(graph, output, vars, usize::MAX).unwrap_or_default()
}

/// [`gradient`], stopped with a [`ErrorKind::Limit`] error as soon as the
/// graph holds more than `max_nodes` nodes (the nodes made so far stay: see
/// [`Graph::truncate`]). Arrays of variables have no partials here: see
/// [`gradient_indexed`].
pub fn gradient_within(
    graph: &mut Graph,
    output: NodeId,
    vars: &[NodeId],
    max_nodes: usize,
) -> Result<Vec<NodeId>> {
    gradient_indexed(graph, output, vars, max_nodes).map(|g| g.scalars)
}

/// The gradient of a formula that may hold arrays of variables and loops.
#[derive(Clone, Debug, Default)]
pub struct Gradient {
    /// The partial derivative with respect to each scalar variable.
    pub scalars: Vec<NodeId>,
    /// The partials with respect to array elements, as loops that add to
    /// them: the partial of `x[k]` is the sum of every scatter's value over
    /// the index tuples where its target is `x[k]`.
    pub scatters: Vec<Scatter>,
}

/// `for each index tuple of loops: g[target] += value`: one read of an
/// array element, differentiated once as a body.
#[derive(Clone, Debug)]
pub struct Scatter {
    /// The element that receives `value`, in the loops' indices.
    pub target: Read,
    /// The enclosing loops, outermost first, each with the `op` of the
    /// reduction it came from (the scatter adds over all of them).
    pub loops: Vec<Reduce>,
    pub value: NodeId,
}

/// Adjoints in one region of the sweep: the whole graph outside loops, or
/// one loop's body.
struct Region {
    /// The enclosing loops (empty outside loops).
    loops: Vec<Reduce>,
    /// The levels bound in this region.
    bound: u64,
}

/// The reverse sweep over `output`, loops included: a reduction's body is
/// differentiated once, symbolically, as a body. Its reads of array
/// elements become [`Scatter`]s; what it contributes to nodes outside the
/// loop (scalar variables, loop-invariant subexpressions) becomes a sum
/// over the loop's range, added to their adjoints.
pub fn gradient_indexed(
    graph: &mut Graph,
    output: NodeId,
    vars: &[NodeId],
    max_nodes: usize,
) -> Result<Gradient> {
    let zero = graph.constant(0.0);
    let one = graph.constant(1.0);
    let mut contributions: Vec<Vec<NodeId>> = vec![Vec::new(); output.index() + 1];
    let mut adjoints: Vec<Option<NodeId>> = vec![None; output.index() + 1];
    let mut scatters = Vec::new();
    contributions[output.index()].push(one);
    let top = Region {
        loops: Vec::new(),
        bound: 0,
    };
    for i in (0..=output.index()).rev() {
        if contributions[i].is_empty() {
            continue;
        }
        let id = NodeId(i as u32);
        let parts = std::mem::take(&mut contributions[i]);
        let adjoint = sum_parts(graph, id, &parts);
        adjoints[i] = Some(adjoint);
        if adjoint == zero {
            continue;
        }
        for (child, c) in propagate(graph, id, adjoint, &top, &mut scatters, max_nodes)? {
            contributions[child.index()].push(c);
        }
        if graph.len() > max_nodes {
            graph.set_origin(None);
            return Err(too_many_nodes(max_nodes));
        }
    }
    graph.set_origin(None);
    let scalars = vars
        .iter()
        .map(|v| adjoints.get(v.index()).copied().flatten().unwrap_or(zero))
        .collect();
    Ok(Gradient { scalars, scatters })
}

/// The adjoint of `id` from its parents' contributions, made with `id`'s
/// origin (so that a NaN in a derivative names the operation).
fn sum_parts(graph: &mut Graph, id: NodeId, parts: &[NodeId]) -> NodeId {
    graph.set_origin(graph.origin(id).map(|o| Origin {
        in_derivative: true,
        ..o
    }));
    graph.sum(parts)
}

/// What node `id`, whose adjoint is `adjoint`, contributes to its
/// children in `region`. A read of an array element becomes a scatter
/// over the region's loops; a reduction's body is swept as a region of its
/// own, and only what leaves it is returned.
fn propagate(
    graph: &mut Graph,
    id: NodeId,
    adjoint: NodeId,
    region: &Region,
    scatters: &mut Vec<Scatter>,
    max_nodes: usize,
) -> Result<Vec<(NodeId, NodeId)>> {
    let one = graph.constant(1.0);
    match graph.node(id).clone() {
        Node::Read(r) if matches!(r.source, Source::Var(_)) => {
            scatters.push(Scatter {
                target: *r,
                loops: region.loops.clone(),
                value: adjoint,
            });
            Ok(Vec::new())
        }
        Node::Reduce(r, [body]) => {
            let seed = match r.op {
                ReduceOp::Sum => adjoint,
                ReduceOp::Prod => {
                    let others = product::product_of_others(graph, &r, body);
                    graph.mul(adjoint, others)
                }
            };
            sweep_body(graph, &r, body, seed, region, scatters, max_nodes)
        }
        _ => {
            if let Some(out) = product::others_partials(graph, id, adjoint, &region.loops) {
                return Ok(out);
            }
            if let Some(out) = negative_power(graph, id, adjoint) {
                return Ok(out);
            }
            if let Some(out) = hypot_quotient(graph, id, adjoint) {
                return Ok(out);
            }
            let mut out = local_derivatives(graph, id);
            out.retain(|(child, _)| varies(graph, *child));
            for (_, local) in &mut out {
                if *local != one {
                    *local = graph.mul(adjoint, *local);
                } else {
                    *local = adjoint;
                }
            }
            Ok(out)
        }
    }
}

/// What a negative power `id = b^c` contributes to its base:
/// `c*((adjoint*b^c)/b)`, not `adjoint*c*b^(c-1)`. The two are equal, but
/// `b^(c-1)` overflows or underflows before the product does: the partial
/// of `x/y` in `y` is `-(x/y)/y`, which at `x = y = 1e160` is `-1e-160`,
/// where `-x/y^2` is `-x*0` (`y^2` is infinite).
fn negative_power(graph: &mut Graph, id: NodeId, adjoint: NodeId) -> Option<Vec<(NodeId, NodeId)>> {
    let Node::Pow([b, e]) = *graph.node(id) else {
        return None;
    };
    let c = graph.as_const(e).filter(|&c| c < 0.0)?;
    if !varies(graph, b) {
        return Some(Vec::new());
    }
    let scaled = graph.mul(adjoint, id);
    // A power of `cosh(a)` passes `c*(adjoint*b^c)*tanh(a)` straight to
    // `a`: `cosh'/cosh` is `tanh`, which stays finite where the general
    // `((adjoint*b^c)/b)*sinh(a)` is `0*inf`, NaN, as soon as cosh(a)
    // overflows (|a| > 710). So the Hessian of `tanh` (whose derivative is
    // `cosh^-2`) is `-2*tanh(a)/cosh(a)^2`, 0 at a = 1000.
    if let Node::Call1(Func::Cosh, [a]) = *graph.node(b) {
        let t = graph.call1(Func::Tanh, a);
        let d = graph.chain_product(scaled, t);
        return Some(vec![(a, graph.scale(c, d))]);
    }
    let inverse = graph.powc(b, -1.0);
    let quotient = graph.chain_product(scaled, inverse);
    Some(vec![(b, graph.scale(c, quotient))])
}

/// What `id = c*a/hypot(a, b)` (or `hypot(b, a)`; `c` a constant, if
/// any) passes straight to `a` and `b`: `c*adjoint*(b/h)^2/h` and
/// `-c*adjoint*((a/h)*(b/h))/h`, `h` the hypot. Through the product rule
/// `a` would get `1/h` and, through `h`, `-a^2/h^3`, whose sum cancels
/// where |a| ≫ |b|: the second derivative of `hypot(x, y)` in `x`, `y^2/h^3`,
/// was 0 at (1, 1e-8) for 1e-16. The quotients are at most 1, so neither
/// form overflows before it divides.
fn hypot_quotient(graph: &mut Graph, id: NodeId, adjoint: NodeId) -> Option<Vec<(NodeId, NodeId)>> {
    let (c, rest) = graph.coefficient(id);
    let &[f, g] = &rest[..] else {
        return None;
    };
    let hypot_of = |inverse: NodeId| match *graph.node(inverse) {
        Node::Pow([h, e]) if graph.as_const(e) == Some(-1.0) => match *graph.node(h) {
            Node::Call2(Func::Hypot, [p, q]) => Some((inverse, h, p, q)),
            _ => None,
        },
        _ => None,
    };
    let (a, (inverse, h, p, q)) = match (hypot_of(f), hypot_of(g)) {
        (_, Some(found)) => (f, found),
        (Some(found), _) => (g, found),
        _ => return None,
    };
    let b = if a == p {
        q
    } else if a == q {
        p
    } else {
        return None;
    };
    let mut out = Vec::with_capacity(2);
    let ub = graph.div(b, h);
    if varies(graph, a) {
        let square = graph.powc(ub, 2.0);
        let scaled = graph.mul(adjoint, square);
        let d = graph.chain_product(scaled, inverse);
        out.push((a, graph.scale(c, d)));
    }
    if varies(graph, b) {
        let ua = graph.div(a, h);
        let both = graph.chain_product(ua, ub);
        let over_h = graph.chain_product(both, inverse);
        let d = graph.mul(adjoint, over_h);
        out.push((b, graph.scale(-c, d)));
    }
    Some(out)
}

/// Sweeps the body of the reduction `r` from `seed`, the adjoint of one
/// body value. Returns the contributions to nodes outside the loop, each
/// summed over the loop's range.
fn sweep_body(
    graph: &mut Graph,
    r: &Reduce,
    body: NodeId,
    seed: NodeId,
    outer: &Region,
    scatters: &mut Vec<Scatter>,
    max_nodes: usize,
) -> Result<Vec<(NodeId, NodeId)>> {
    let own = r.own_levels();
    let region = Region {
        loops: outer.loops.iter().cloned().chain([r.clone()]).collect(),
        bound: outer.bound | own,
    };
    let list = crate::eval::loop_body(graph, body, own, region.bound);
    let mut local: FxHashMap<NodeId, Vec<NodeId>> = FxHashMap::default();
    // Contributions leaving the loop, per node, in order of first arrival.
    let mut leaving: Vec<(NodeId, Vec<NodeId>)> = Vec::new();
    let leave = |child: NodeId, c: NodeId, leaving: &mut Vec<(NodeId, Vec<NodeId>)>| match leaving
        .iter_mut()
        .find(|(n, _)| *n == child)
    {
        Some((_, cs)) => cs.push(c),
        None => leaving.push((child, vec![c])),
    };
    if list.binary_search(&body).is_ok() {
        local.entry(body).or_default().push(seed);
    } else {
        leave(body, seed, &mut leaving);
    }
    let zero = graph.constant(0.0);
    for &id in list.iter().rev() {
        let Some(parts) = local.remove(&id) else {
            continue;
        };
        let adjoint = sum_parts(graph, id, &parts);
        if adjoint == zero {
            continue;
        }
        for (child, c) in propagate(graph, id, adjoint, &region, scatters, max_nodes)? {
            if list.binary_search(&child).is_ok() {
                local.entry(child).or_default().push(c);
            } else {
                leave(child, c, &mut leaving);
            }
        }
        if graph.len() > max_nodes {
            return Err(too_many_nodes(max_nodes));
        }
    }
    let over_range = Reduce {
        op: ReduceOp::Sum,
        ..r.clone()
    };
    Ok(leaving
        .into_iter()
        .map(|(child, cs)| {
            let terms = graph.sum(&cs);
            (child, graph.reduce(over_range.clone(), terms))
        })
        .collect())
}

/// Whether a node depends on a variable (parameters, loop indices and data
/// are constants of the derivative).
fn varies(graph: &Graph, id: NodeId) -> bool {
    graph.meta(id).first_var < crate::graph::INPUTS
}

/// The error for a graph that outgrew [`Limits::max_nodes`](crate::Limits).
pub fn too_many_nodes(max_nodes: usize) -> Error {
    Error::over_limit(
        Limit::Nodes,
        max_nodes,
        format!(
            "the formula and its derivatives need more than {max_nodes} graph nodes, the limit"
        ),
    )
}

/// Second derivatives: row `i` is the gradient of `gradient[i]`, made
/// symmetric from its upper triangle, within `max_nodes`, which counts the graph's nodes and the
/// matrix's n² entries (a Hessian of 100,000 variables is refused before a
/// sweep runs, not after 10^10 entries are allocated).
pub fn hessian_within(
    graph: &mut Graph,
    gradient_nodes: &[NodeId],
    vars: &[NodeId],
    max_nodes: usize,
) -> Result<Vec<Vec<NodeId>>> {
    let entries = vars.len().saturating_mul(vars.len());
    if graph.len().saturating_add(entries) > max_nodes {
        return Err(Error::over_limit(
            Limit::Nodes,
            max_nodes,
            format!(
                "the Hessian of {} variables has {entries} entries, which with the graph's {} nodes \
                 is over the limit of {max_nodes} nodes",
                vars.len(),
                graph.len()
            ),
        ));
    }
    let budget = max_nodes - entries;
    let mut rows: Vec<Vec<NodeId>> = Vec::with_capacity(vars.len());
    for (i, &g) in gradient_nodes.iter().enumerate() {
        let mut row =
            gradient_within(graph, g, vars, budget).map_err(|_| too_many_nodes(max_nodes))?;
        for (j, entry) in row.iter_mut().enumerate().take(i) {
            *entry = rows[j][i];
        }
        rows.push(row);
    }
    Ok(rows)
}

/// `(child, ∂node/∂child)` for each child of `id` the node depends on.
fn local_derivatives(g: &mut Graph, id: NodeId) -> Vec<(NodeId, NodeId)> {
    match g.node(id).clone() {
        Node::Const(_)
        | Node::Var(_)
        | Node::Param(_)
        | Node::Index(_)
        | Node::Read(_)
        | Node::Reduce(..) => Vec::new(),
        Node::Sum(terms) => {
            let one = g.constant(1.0);
            terms.iter().map(|&t| (t, one)).collect()
        }
        Node::Product(factors) => product_partials(g, &factors),
        Node::Pow([b, e]) => {
            let mut out = Vec::with_capacity(2);
            match g.as_const(e) {
                Some(c) => {
                    let p = g.powc(b, c - 1.0);
                    out.push((b, g.scale(c, p)));
                }
                None => {
                    if varies(g, b) {
                        let one = g.constant(1.0);
                        let e1 = g.sub(e, one);
                        let p = g.pow(b, e1);
                        out.push((b, g.mul(e, p)));
                    }
                    // b^e*ln(b), which is 0 at b = 0 (for e > 0) where the
                    // product would be 0*(-inf): `xlogy` says so. A
                    // constant base keeps ln(b) as a coefficient.
                    if varies(g, e) {
                        let d = if varies(g, b) {
                            g.call2(Func::Xlogy, id, b)
                        } else {
                            let ln = g.call1(Func::Ln, b);
                            g.mul(id, ln)
                        };
                        out.push((e, d));
                    }
                }
            }
            out
        }
        Node::Call1(f, [a]) => match unary_derivative(g, f, a, id) {
            Some(d) => vec![(a, d)],
            None => Vec::new(),
        },
        Node::Call2(f, [a, b]) => {
            let (da, db) = binary_derivatives(g, f, a, b, id);
            vec![(a, da), (b, db)]
        }
    }
}

/// Partials of a product with respect to each non-constant factor: the
/// product of the others. Many factors: prefix and suffix products, kept
/// unflattened so that each partial has constant size.
fn product_partials(g: &mut Graph, factors: &[NodeId]) -> Vec<(NodeId, NodeId)> {
    // The coefficient comes first, or constants too large to fold come last.
    let (constants, rest): (Vec<NodeId>, Vec<NodeId>) =
        factors.iter().partition(|&&f| g.as_const(f).is_some());
    let coefficient = match constants.as_slice() {
        [] => None,
        [c] => Some(*c),
        _ => Some(g.product(&constants)),
    };
    let k = rest.len();
    if k <= SMALL_PRODUCT {
        return (0..k)
            .map(|j| {
                let others: Vec<NodeId> = coefficient
                    .into_iter()
                    .chain(
                        rest.iter()
                            .enumerate()
                            .filter(|&(i, _)| i != j)
                            .map(|(_, &f)| f),
                    )
                    .collect();
                (rest[j], g.product(&others))
            })
            .collect();
    }
    // prefix[j] = coefficient * rest[0] * ... * rest[j-1], multiplied left to
    // right as the value itself is (`eval.rs`), so the compiled code shares
    // its instructions with the value's; suffix[j] = rest[j] * ... * rest[k-1].
    let mut prefix: Vec<Option<NodeId>> = vec![None; k + 1];
    prefix[0] = coefficient;
    for j in 1..=k {
        prefix[j] = Some(match prefix[j - 1] {
            Some(p) => g.chain_product(p, rest[j - 1]),
            None => rest[j - 1],
        });
    }
    let mut suffix: Vec<Option<NodeId>> = vec![None; k + 1];
    for j in (0..k).rev() {
        suffix[j] = Some(match suffix[j + 1] {
            Some(s) => g.chain_product(rest[j], s),
            None => rest[j],
        });
    }
    (0..k)
        .map(|j| {
            let parts: Vec<NodeId> = [prefix[j], suffix[j + 1]].into_iter().flatten().collect();
            (rest[j], g.product(&parts))
        })
        .collect()
}

/// `f'(a)`, given the node `y = f(a)`; `None` where the derivative is zero.
fn unary_derivative(g: &mut Graph, f: Func, a: NodeId, y: NodeId) -> Option<NodeId> {
    let one = g.constant(1.0);
    Some(match f {
        Func::Sin => g.call1(Func::Cos, a),
        Func::Cos => {
            let s = g.call1(Func::Sin, a);
            g.neg(s)
        }
        // 1 + tan^2 reuses the node of tan itself.
        Func::Tan => {
            let t2 = g.powc(y, 2.0);
            g.add(one, t2)
        }
        // (1 - a)(1 + a), not 1 - a^2, which loses digits near |a| = 1.
        Func::Asin | Func::Acos => {
            let l = g.sub(one, a);
            let r = g.add(one, a);
            let l = g.powc(l, -0.5);
            let r = g.powc(r, -0.5);
            let d = g.mul(l, r);
            if f == Func::Asin { d } else { g.neg(d) }
        }
        // hypot(1, a)^-2: 1 + a^2 overflows for |a| > 1e154, where the
        // derivative is still a normal number.
        Func::Atan => {
            let h = g.call2(Func::Hypot, one, a);
            g.powc(h, -2.0)
        }
        Func::Sinh => g.call1(Func::Cosh, a),
        Func::Cosh => g.call1(Func::Sinh, a),
        // cosh(a)^-2, not 1 - tanh(a)^2, which cancels: 77% wrong at a = 19
        // and 0 from 20 on, where the derivative is a double up to |a| ≈ 370.
        // A negative power squares 1/cosh(a) (`builtins::powi`), forming no
        // cosh^2 to overflow; past cosh's own overflow at |a| ≈ 710 the
        // derivative is 0, which it also is as a double.
        Func::Tanh => {
            let c = g.call1(Func::Cosh, a);
            g.powc(c, -2.0)
        }
        Func::Asinh => {
            let h = g.call2(Func::Hypot, one, a);
            g.powc(h, -1.0)
        }
        // (a - 1)^-0.5 (a + 1)^-0.5: no a^2 to overflow, and exact a - 1
        // near a = 1.
        Func::Acosh => {
            let l = g.sub(a, one);
            let r = g.add(a, one);
            let l = g.powc(l, -0.5);
            let r = g.powc(r, -0.5);
            g.mul(l, r)
        }
        Func::Atanh => {
            let l = g.sub(one, a);
            let r = g.add(one, a);
            let d = g.mul(l, r);
            g.powc(d, -1.0)
        }
        Func::Exp => y,
        Func::Ln => g.powc(a, -1.0),
        Func::Log2 | Func::Log10 => {
            let base: f64 = if f == Func::Log2 { 2.0 } else { 10.0 };
            let inv = g.powc(a, -1.0);
            g.scale(1.0 / base.ln(), inv)
        }
        Func::Cbrt => {
            let y2 = g.powc(y, -2.0);
            g.scale(1.0 / 3.0, y2)
        }
        Func::Abs => g.call1(Func::Sign, a),
        Func::Sign | Func::Floor | Func::Ceil => return None,
        Func::Min | Func::Max | Func::Atan2 | Func::Hypot | Func::Xlogy => return None,
    })
}

/// `(∂f/∂a, ∂f/∂b)` for a two-argument function, given `y = f(a, b)`.
fn binary_derivatives(g: &mut Graph, f: Func, a: NodeId, b: NodeId, y: NodeId) -> (NodeId, NodeId) {
    match f {
        // d min(a, b)/da = (1 + sign(b - a))/2: 1 where a is smaller, 1/2 on a tie.
        Func::Min | Func::Max => {
            let (a_wins, b_wins) = if f == Func::Min {
                (g.sub(b, a), g.sub(a, b))
            } else {
                (g.sub(a, b), g.sub(b, a))
            };
            let half = |g: &mut Graph, d: NodeId| {
                let s = g.call1(Func::Sign, d);
                let one = g.constant(1.0);
                let t = g.add(one, s);
                g.scale(0.5, t)
            };
            (half(g, a_wins), half(g, b_wins))
        }
        // atan2(a, b) is the angle of the point (b, a): the partials are
        // (b/r)/r and -(a/r)/r with r = hypot(a, b), kept as chains so that
        // they divide twice. `a^2 + b^2` would overflow or underflow where
        // the partials are doubles (inf at a = b = 1e-200, where they are
        // ±5e199); `hypot` scales by the larger of |a|, |b| and never does.
        // atan2(c*u, u) is constant on each side of u = 0 (π/4 or -3π/4
        // for c = 1): its partials cancel as they print, and the chains
        // below would not (0/0 at u = 0, where the printed 0 is 0).
        Func::Atan2 if proportional(g, a, b) => {
            let zero = g.constant(0.0);
            (zero, zero)
        }
        Func::Atan2 => {
            let r = g.call2(Func::Hypot, a, b);
            let inverse = g.powc(r, -1.0);
            let over_r = |g: &mut Graph, n: NodeId| {
                let q = g.div(n, r);
                g.chain_product(q, inverse)
            };
            let na = g.neg(a);
            (over_r(g, b), over_r(g, na))
        }
        Func::Hypot => (g.div(a, y), g.div(b, y)),
        Func::Xlogy => (g.call1(Func::Ln, b), g.div(a, b)),
        _ => {
            let zero = g.constant(0.0);
            (zero, zero)
        }
    }
}

/// Whether `a` is a constant times `b` in canonical form (`2*x` and `x`,
/// `-x*y` and `x*y`, a node and itself): their other factors are the same.
fn proportional(g: &Graph, a: NodeId, b: NodeId) -> bool {
    g.coefficient(a).1 == g.coefficient(b).1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::Interpreter;

    /// The partial of `f(x, y)` built by `make` with respect to `x` or `y`,
    /// evaluated at `at`.
    fn partial(
        make: impl Fn(&mut Graph, NodeId, NodeId) -> NodeId,
        wrt: usize,
        at: [f64; 2],
    ) -> f64 {
        let mut g = Graph::new();
        let (x, y) = (g.var(0), g.var(1));
        let f = make(&mut g, x, y);
        let d = gradient(&mut g, f, &[x, y]);
        Interpreter::new(&g, &[d[wrt]]).eval(&at)[0]
    }

    #[test]
    fn inverse_function_derivatives_do_not_overflow_on_the_way() {
        let call = |f: Func| move |g: &mut Graph, x, _| g.call1(f, x);
        assert_eq!(partial(call(Func::Atan), 0, [1e160, 0.0]), 1e-320);
        assert_eq!(partial(call(Func::Asinh), 0, [1e200, 0.0]), 1e-200);
        assert_eq!(partial(call(Func::Asinh), 0, [-1e200, 0.0]), 1e-200);
        let d = partial(call(Func::Acosh), 0, [1e200, 0.0]);
        assert!((d / 1e-200 - 1.0).abs() < 1e-15, "{d:e}");
        assert!(partial(call(Func::Acosh), 0, [-2.0, 0.0]).is_nan());
        // Near 1, (1 - x)(1 + x) keeps the digits 1 - x^2 loses.
        let x = 1.0 - 2f64.powi(-40);
        let want = 1.0 / ((1.0 - x) * (1.0 + x));
        assert_eq!(partial(call(Func::Atanh), 0, [x, 0.0]), want);
    }

    #[test]
    fn negative_powers_of_cosh_differentiate_through_tanh() {
        // d/dx cosh(x)^c = c*cosh(x)^c*tanh(x): finite past cosh's overflow
        // at 710, where cosh(x)^(c-1)*sinh(x) is 0*inf.
        let sech = |g: &mut Graph, x, _| {
            let c = g.call1(Func::Cosh, x);
            g.powc(c, -1.0)
        };
        assert_eq!(partial(sech, 0, [800.0, 0.0]), 0.0);
        assert_eq!(partial(sech, 0, [-800.0, 0.0]), 0.0);
        let want = -(1f64.tanh() / 1f64.cosh());
        assert!((partial(sech, 0, [1.0, 0.0]) / want - 1.0).abs() < 1e-15);
        // tanh' = cosh^-2 and tanh'' = -2*tanh*cosh^-2, at 19 (where
        // 1 - tanh^2 is 77% off) and at 1000.
        let tanh = |g: &mut Graph, x, _| g.call1(Func::Tanh, x);
        let mut g = Graph::new();
        let x = g.var(0);
        let f = g.call1(Func::Tanh, x);
        let d = gradient(&mut g, f, &[x])[0];
        let dd = gradient(&mut g, d, &[x])[0];
        let at = |x: f64| Interpreter::new(&g, &[d, dd]).eval(&[x]);
        let sech2 = 1.0 / 19f64.cosh().powi(2);
        assert!((partial(tanh, 0, [19.0, 0.0]) / sech2 - 1.0).abs() < 1e-15);
        assert!((at(19.0)[1] / (-2.0 * sech2) - 1.0).abs() < 1e-15);
        assert_eq!(at(1000.0), [0.0, 0.0]);
    }

    #[test]
    fn atan2_partials_divide_by_hypot_twice() {
        let atan2 = |g: &mut Graph, y, x| g.call2(Func::Atan2, y, x);
        // x^2 + y^2 underflows (1e-400) or overflows (1e400).
        let d = partial(atan2, 0, [1e-200, 1e-200]);
        assert!((d / 5e199 - 1.0).abs() < 1e-15, "{d:e}");
        assert_eq!(partial(atan2, 1, [1e300, 1e-300]), -1e-300);
        let d = partial(atan2, 0, [1e200, 1e200]);
        assert!((d / 5e-201 - 1.0).abs() < 1e-15, "{d:e}");
        assert_eq!(partial(atan2, 0, [3.0, -4.0]), -0.16);
        assert_eq!(partial(atan2, 1, [3.0, -4.0]), -0.12);
    }

    #[test]
    fn quotients_by_hypot_do_not_cancel() {
        // d/dx x/hypot(x, y) = y^2/h^3, where 1/h - x^2/h^3 is 0 at (1, 1e-8).
        let unit = |g: &mut Graph, x, y| {
            let h = g.call2(Func::Hypot, x, y);
            g.div(x, h)
        };
        let d = partial(unit, 0, [1.0, 1e-8]);
        assert!((d / 1e-16 - 1.0).abs() < 1e-15, "{d:e}");
        assert_eq!(partial(unit, 1, [1.0, 1e-8]), -1e-8);
        // Also with a coefficient and the base second: 3*y/hypot(x, y) in x.
        let scaled = |g: &mut Graph, x, y| {
            let h = g.call2(Func::Hypot, x, y);
            let q = g.div(y, h);
            g.scale(3.0, q)
        };
        let d = partial(scaled, 1, [1e-8, 1.0]);
        assert!((d / 3e-16 - 1.0).abs() < 1e-15, "{d:e}");
        // atan2(c*u, u) is constant on each side of 0.
        let same = |g: &mut Graph, x, _| g.call2(Func::Atan2, x, x);
        assert_eq!(partial(same, 0, [0.0, 0.0]), 0.0);
        let twice = |g: &mut Graph, x, y| {
            let u = g.mul(x, y);
            let a = g.scale(2.0, u);
            g.call2(Func::Atan2, a, u)
        };
        assert_eq!(partial(twice, 0, [0.0, 1.0]), 0.0);
        assert_eq!(partial(twice, 1, [1.0, 0.0]), 0.0);
        let opposite = |g: &mut Graph, x, _| {
            let a = g.neg(x);
            g.call2(Func::Atan2, x, a)
        };
        assert_eq!(partial(opposite, 0, [0.0, 0.0]), 0.0);
    }

    #[test]
    fn quotient_derivatives_do_not_overflow_on_the_way() {
        let div = |g: &mut Graph, x, y| g.div(x, y);
        // d(x/y)/dy = -x/y^2, where y^2 overflows or is subnormal.
        assert_eq!(partial(div, 1, [1e160, 1e160]), -1e-160);
        assert_eq!(partial(div, 1, [1e-160, 1e-160]), -1e160);
        assert_eq!(partial(div, 1, [3.0, 2.0]), -0.75);
        let inv_sq = |g: &mut Graph, x, _| g.powc(x, -2.0);
        assert_eq!(partial(inv_sq, 0, [0.5, 0.0]), -16.0);
        let d = partial(inv_sq, 0, [1e-100, 0.0]);
        assert!((d / -2e300 - 1.0).abs() < 1e-15, "{d:e}");
    }
}
