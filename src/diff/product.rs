//! The derivative of an indexed `prod`: the product of the other factors,
//! and that product's own derivative, both right at and near a factor
//! that is 0, in O(size of the body) nodes and a few loops over the range.
//!
//! For `F = Π b` (one factor `b_j` per index tuple `j`), `∂F/∂b_j` is
//! `O_j = Π_{i≠j} b_i` and `∂O_j/∂b_k` is `Π_{i≠j,k} b_i` for `k ≠ j`, 0
//! for `k = j`. The gradient builds `O_j` as a node marked in the graph
//! ([`product_of_others`]): in a loop over the `prod`'s own indices, where
//! the gradient uses it, the evaluators compute it by an exclusive scan,
//! the products of the factors before and after `j` (`eval/scan.rs`),
//! which overflow only where the product of the others does; its operands,
//! `Q`, the product of the non-zero factors, divided by `b_j`, are its
//! value elsewhere and the form its second derivative is built from, and
//! a loop that scans it does not compute them. Swept again
//! as an ordinary product, that form's derivative is the difference of
//! two terms `±Q·b_j'²/b_j²` that are equal in exact arithmetic: near a
//! zero factor they are huge and their rounding is the answer (a Hessian
//! off by 0.18 in entries of 2,790), and at a zero factor they are
//! `0·0⁻¹`, NaN. So the gradient marks `O_j` in the graph, and the sweep
//! gives it the rule of [`others_partials`], which never forms a `k = j`
//! term; the printer, reading the same mark, writes it as a person would,
//! `prod(i in 1..k-1, x[i])*prod(i in k+1..n, x[i])` (`print.rs`).

use crate::ast::ReduceOp;
use crate::builtins::Func;
use crate::graph::{Graph, NodeId, Reduce};

/// `∂(Π b)/∂b`, the product of the other factors of the product `r` of
/// `body`, per index tuple, in O(size of the body) nodes. In a loop over
/// `r`'s indices it is computed by the scan of `eval/scan.rs` (the
/// products before and after the tuple), which needs none of the nodes
/// below; elsewhere it is their value, two more loops over the range,
/// without dividing by a factor that is 0 (`Π/b` is NaN there). With
/// `s = sign(b)^2`, 1 at a non-zero factor and 0 at a zero one:
///
/// - `Q = Π b^s`, the product of the non-zero factors (`b^1` is `b` to
///   the bit, `0^0` is 1);
/// - `Z = Σ (1 - s)`, how many factors are 0;
/// - the product of the others is `Q * b^-s * (1 - sign(Z - 1 + s))`:
///   `Z - 1 + s` counts the zero factors other than this one, and the
///   product of the others is `Q/b` (or `Q` at the zero factor) where
///   there are none, 0 where there are some.
///
/// This form holds at a zero factor but not around it, and its terms
/// cancel in its derivative near one, so the node is marked
/// ([`Graph::mark_product_of_others`]) and differentiated by
/// [`others_partials`], not as the product it is.
pub(super) fn product_of_others(graph: &mut Graph, r: &Reduce, body: NodeId) -> NodeId {
    let one = graph.constant(1.0);
    let Parts {
        product,
        divided,
        others_zero,
        ..
    } = parts(graph, r, body);
    let any = graph.call1(Func::Sign, others_zero);
    let none = graph.sub(one, any);
    // Kept whole (a chain is never spliced into another product), so that
    // the Hessian's sweep meets it as one node inside the gradient's.
    let others = graph.chain_product(product, divided);
    let others = graph.chain_product(others, none);
    graph.mark_product_of_others(others, r.clone(), body);
    others
}

/// The nodes both rules share (hash-consed, so built once).
struct Parts {
    /// `s = sign(b)^2`.
    nonzero: NodeId,
    /// `Q`, the product of the non-zero factors.
    product: NodeId,
    /// `b^-s`: `1/b`, or 1 at a zero factor.
    divided: NodeId,
    /// `Z - 1 + s`: how many factors other than this one are 0.
    others_zero: NodeId,
}

fn parts(graph: &mut Graph, r: &Reduce, body: NodeId) -> Parts {
    let one = graph.constant(1.0);
    let sign = graph.call1(Func::Sign, body);
    let nonzero = graph.powc(sign, 2.0);
    let kept = graph.pow(body, nonzero);
    let product = graph.reduce(r.clone(), kept);
    let is_zero = graph.sub(one, nonzero);
    let zeros = graph.reduce(as_sum(r), is_zero);
    let minus_nonzero = graph.neg(nonzero);
    let divided = graph.pow(body, minus_nonzero);
    let others_zero = graph.sum(&[zeros, nonzero]);
    let others_zero = graph.sub(others_zero, one);
    Parts {
        nonzero,
        product,
        divided,
        others_zero,
    }
}

/// The reduction `r` as a sum over the same indices and ranges.
fn as_sum(r: &Reduce) -> Reduce {
    Reduce {
        op: ReduceOp::Sum,
        ..r.clone()
    }
}

/// What the node `id`, if it is a product of the other factors
/// ([`product_of_others`]) swept with adjoint `adjoint` inside the loop of
/// its own reduction (the innermost of `loops`), contributes to the body:
/// `C_k = Σ_{j≠k} ā_j Π_{i≠j,k} b_i` at each index tuple `k`. `None`
/// for any other node, or one swept elsewhere (then it is the product it
/// is, with that product's derivative).
///
/// With `u_j = ā_j b_j^-s` (`ā_j/b_j`, or `ā_j` at a zero factor) and the
/// zero factors other than this one counted as in [`product_of_others`],
/// `C_k = Q b_k^-s X_k` with
///
/// - no other zero factor: `X_k = Σ_{j≠k} u_j`;
/// - one: `X_k = ā_m`, the adjoint at that zero factor `m`
///   (`Σ_j (1 - s_j) ā_j`, less this one's if this one is 0 too);
/// - more: 0.
///
/// `Σ_{j≠k} u_j` is not `Σ u - u_k`: near a zero factor `b_k`, `u_k` is
/// huge and the difference is its rounding. A term is "huge" when it is
/// more than 3/4 of `M = Σ |u|` (so one term at most, even with `M`
/// rounded): the sum without it, `Σ_{j not huge} u_j`, is formed without
/// it, and for every other term `Σ u - u_k` cancels at most `M`, less
/// than 4 times the rest it leaves. So the rounding of `X_k` is a few
/// ulps of `Σ_{j≠k} |u_j|`, the size of the terms it adds, as the
/// unrolled product's would be. Four more loops over the range, outside
/// the loop the body is in: the cost stays linear in the range.
pub(super) fn others_partials(
    graph: &mut Graph,
    id: NodeId,
    adjoint: NodeId,
    loops: &[Reduce],
) -> Option<Vec<(NodeId, NodeId)>> {
    let (r, body) = graph.product_of_others(id)?.clone();
    if !super::varies(graph, body) {
        return Some(Vec::new());
    }
    let own = r.own_levels();
    if graph.meta(body).levels & own == 0 {
        return Some(vec![(body, invariant_partial(graph, &r, body, adjoint))]);
    }
    let inner = loops.last()?;
    if inner.level != r.level || inner.ranges != r.ranges {
        return None;
    }
    let zero = graph.constant(0.0);
    let one = graph.constant(1.0);
    let Parts {
        nonzero,
        product,
        divided,
        others_zero,
    } = parts(graph, &r, body);
    let sum = as_sum(&r);
    // Σ_{j≠k} u_j, the huge term left out rather than subtracted.
    let u = graph.mul(adjoint, divided);
    let size = graph.call1(Func::Abs, u);
    let total_size = graph.reduce(sum.clone(), size);
    let excess = graph.scale(0.75, total_size);
    let excess = graph.sub(size, excess);
    let excess = graph.call1(Func::Sign, excess);
    let huge = graph.call2(Func::Max, zero, excess);
    let kept = graph.sub(one, huge);
    let total = graph.reduce(sum.clone(), u);
    let kept_u = graph.mul(kept, u);
    let rest = graph.reduce(sum.clone(), kept_u);
    let but_this = graph.sub(total, u);
    let when_kept = graph.mul(kept, but_this);
    let when_huge = graph.mul(huge, rest);
    let no_zero = graph.add(when_kept, when_huge);
    // The adjoint at the one other zero factor.
    let is_zero = graph.sub(one, nonzero);
    let at_zero = graph.mul(is_zero, adjoint);
    let at_zeros = graph.reduce(sum, at_zero);
    let at_other_zero = graph.sub(at_zeros, at_zero);
    // 1 where no other factor is 0, and where exactly one is.
    let any = graph.call1(Func::Sign, others_zero);
    let none = graph.sub(one, any);
    let minus_one = graph.sub(others_zero, one);
    let not_one = graph.call1(Func::Sign, minus_one);
    let not_one = graph.powc(not_one, 2.0);
    let just_one = graph.sub(one, not_one);
    let a = graph.mul(none, no_zero);
    let b = graph.mul(just_one, at_other_zero);
    let x = graph.add(a, b);
    let c = graph.product(&[product, divided, x]);
    Some(vec![(body, c)])
}

/// [`others_partials`] where the body does not use the product's indices
/// (`prod(j in 1..i, x[i])`, `b^m` for the `m` index tuples): the product
/// of the others is `b^(m-1)`, computed outside the loop, and its
/// derivative `(m-1) b^(m-2)`, here `(m-1) Q b^-2s` (`Q = b^(ms)`), times
/// the indicator that no more than two factors are 0 where the two are
/// this one and another (`1 - sign(Z - 2 + 2s)^2`): `b'` where `m = 2` and
/// `b = 0`, 0 for more factors at `b = 0`.
fn invariant_partial(graph: &mut Graph, r: &Reduce, body: NodeId, adjoint: NodeId) -> NodeId {
    let one = graph.constant(1.0);
    let Parts {
        nonzero, product, ..
    } = parts(graph, r, body);
    let count = graph.reduce(as_sum(r), one);
    let others = graph.sub(count, one);
    let twice = graph.scale(-2.0, nonzero);
    let divided = graph.pow(body, twice);
    let is_zero = graph.sub(one, nonzero);
    let zeros = graph.reduce(as_sum(r), is_zero);
    let two = graph.constant(2.0);
    let excess = graph.sub(zeros, two);
    let excess = graph.sum(&[excess, nonzero, nonzero]);
    let excess = graph.call1(Func::Sign, excess);
    let excess = graph.powc(excess, 2.0);
    let at_most_two = graph.sub(one, excess);
    graph.product(&[adjoint, others, product, divided, at_most_two])
}
