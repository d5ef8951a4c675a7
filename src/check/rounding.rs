//! Values with a bound on their rounding error: the interpreter's value of
//! each node beside a bound on how far rounding may have moved it from the
//! exact value of the same expression at the same point.
//!
//! The numeric comparison of a hand derivative with the exact one needs
//! this to tell a real difference from rounding. A tolerance scaled by the
//! largest term is fooled by large terms that cancel:
//! `1e15*x*(y+1) - 1e15*x*y - 1e15*x + x` rounds by about 0.5 near
//! `x = y = 1`, while its true value differs from `0` by `x`. With a bound
//! per evaluation, a difference larger than both bounds is a difference,
//! and a point whose bounds swamp the values decides nothing. The
//! comparison of an exact derivative with finite differences needs it for
//! the same reason: the derivative of `sin(x)/x`, `cos(x)/x - sin(x)/x^2`,
//! is 0 at `x = 1e-9` in doubles (two terms of 1e9 cancel), against a true
//! `-x/3`, and only a bound of about 1e-7 says that 0 is no verdict.
//!
//! The bounds are first order (products of two error terms are left out)
//! and assume each elementary operation rounds once and each library
//! function is within [`LIBRARY_ULPS`] units in the last place:
//! - a constant or a variable is exact;
//! - a sum of `k` terms: the terms' bounds plus `(k - 1)·u·Σ|tᵢ|`;
//! - a product: `Σ eᵢ·Π_{j≠i}|fⱼ|` plus `k·u·|v|` for its `k` roundings;
//! - a power or a function: the largest change of the result over the
//!   corners of its arguments' error intervals (exact for monotone
//!   functions, and the intervals are tiny), plus the library's own error.

use crate::bind::{MAX_LEVELS, SCALAR};
use crate::eval::eval_node;
use crate::graph::{Graph, Node, NodeId};

/// Unit roundoff of a double: half an ulp of 1.
const U: f64 = f64::EPSILON / 2.0;

/// The error of `pow` and the libm functions, in ulps of the result:
/// `powi` for exponents -3 to 4 is within 3.
const LIBRARY_ULPS: f64 = 4.0;

/// Each output's value and rounding-error bound at `x`. `order` is the
/// nodes the outputs need, children first. A value that is not finite has
/// an infinite bound.
pub(super) fn eval_bounded(
    graph: &Graph,
    order: &[NodeId],
    outputs: &[NodeId],
    x: &[f64],
) -> Vec<(f64, f64)> {
    let mut values = vec![f64::NAN; graph.len()];
    let mut errors = vec![f64::INFINITY; graph.len()];
    for &id in order {
        let v = eval_node(graph, id, &values, x, &SCALAR, &[0; MAX_LEVELS]);
        values[id.index()] = v;
        errors[id.index()] = if v.is_finite() {
            error_of(graph, id, v, &mut values, &errors, x)
        } else {
            f64::INFINITY
        };
    }
    outputs
        .iter()
        .map(|o| (values[o.index()], errors[o.index()]))
        .collect()
}

/// The bound for node `id`, whose value is `v`, given its children's.
fn error_of(
    graph: &Graph,
    id: NodeId,
    v: f64,
    values: &mut [f64],
    errors: &[f64],
    x: &[f64],
) -> f64 {
    let error = |n: &NodeId| errors[n.index()];
    let value = |values: &[f64], n: &NodeId| values[n.index()];
    match graph.node(id) {
        Node::Const(_) | Node::Var(_) | Node::Param(_) | Node::Index(_) | Node::Read(_) => 0.0,
        // A loop's rounding is not bounded here: the comparison is untested.
        Node::Reduce(..) => f64::INFINITY,
        Node::Sum(terms) => {
            let carried: f64 = terms.iter().map(error).sum();
            let size: f64 = terms.iter().map(|t| value(values, t).abs()).sum();
            carried + (terms.len() as f64 - 1.0) * U * size
        }
        Node::Product(factors) => {
            // Π_{j≠i}|fⱼ| from prefix and suffix products, so that a factor
            // of 0 does not divide.
            let k = factors.len();
            let mut suffix = vec![1.0; k + 1];
            for i in (0..k).rev() {
                suffix[i] = suffix[i + 1] * value(values, &factors[i]).abs();
            }
            let mut prefix = 1.0;
            let mut carried = 0.0;
            for (i, f) in factors.iter().enumerate() {
                carried += error(f) * prefix * suffix[i + 1];
                prefix *= value(values, f).abs();
            }
            carried + k as f64 * U * v.abs()
        }
        Node::Pow([a, b]) | Node::Call2(_, [a, b]) => {
            let (ea, eb) = (error(a), error(b));
            let mut spread: f64 = 0.0;
            for (da, db) in [(-ea, -eb), (-ea, eb), (ea, -eb), (ea, eb)] {
                spread = spread.max(corner(graph, id, &[(*a, da), (*b, db)], values, x, v));
            }
            spread + LIBRARY_ULPS * 2.0 * U * v.abs()
        }
        Node::Call1(_, [a]) => {
            let ea = error(a);
            let spread = corner(graph, id, &[(*a, -ea)], values, x, v).max(corner(
                graph,
                id,
                &[(*a, ea)],
                values,
                x,
                v,
            ));
            spread + LIBRARY_ULPS * 2.0 * U * v.abs()
        }
    }
}

/// How far node `id` moves from `v` when its children are shifted by the
/// given amounts (infinite where it stops being finite). The children's
/// values are shifted in place and put back, so a corner costs one node.
fn corner(
    graph: &Graph,
    id: NodeId,
    shifts: &[(NodeId, f64)],
    values: &mut [f64],
    x: &[f64],
    v: f64,
) -> f64 {
    if shifts.iter().all(|&(_, d)| d == 0.0) {
        return 0.0;
    }
    if shifts.iter().any(|&(_, d)| !d.is_finite()) {
        return f64::INFINITY;
    }
    // At most two children: saved in place, without an allocation.
    let mut saved = [0.0; 2];
    for (slot, &(child, _)) in saved.iter_mut().zip(shifts) {
        *slot = values[child.index()];
    }
    for &(child, d) in shifts {
        values[child.index()] += d;
    }
    let moved = eval_node(graph, id, values, x, &SCALAR, &[0; MAX_LEVELS]);
    // Restored in reverse, so a child named twice (x^x) comes back whole.
    for (&(child, _), &old) in shifts.iter().zip(&saved).rev() {
        values[child.index()] = old;
    }
    match moved.is_finite() {
        true => (moved - v).abs(),
        false => f64::INFINITY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formula::Formula;
    use crate::graph::reachable;

    fn bounded(text: &str, x: &[f64]) -> (f64, f64) {
        let f = Formula::parse(text).unwrap();
        let order = reachable(f.graph(), &[f.value()]);
        eval_bounded(f.graph(), &order, &[f.value()], x)[0]
    }

    #[test]
    fn exact_operations_have_no_error_and_cancellation_has_a_large_one() {
        assert_eq!(bounded("x*y", &[2.0, 3.0]), (6.0, 2.0 * U * 6.0));
        assert_eq!(bounded("x", &[0.1]), (0.1, 0.0));
        // 1e15*x*(y+1) - 1e15*x*y - 1e15*x is 0 exactly, but its rounding
        // is about 1e15·u per operation.
        let (v, e) = bounded("1e15*x*(y+1) - 1e15*x*y - 1e15*x", &[1.1, 1.3]);
        assert!(e > 0.1 && e < 10.0, "{v} ± {e}");
        assert!(v.abs() <= e);
    }

    #[test]
    fn the_bound_holds_against_a_more_precise_evaluation() {
        // (1 + x)^2 - 1 - 2x - x^2 is 0; its rounding at x = 1e8 is large
        // and the bound must cover the computed value.
        for x in [1e-8, 0.3, 7.0, 1e8] {
            let (v, e) = bounded("(1 + x)^2 - 1 - 2*x - x^2", &[x]);
            assert!(v.abs() <= e, "at {x}: {v} ± {e}");
        }
        // Functions: sin near its zero at pi keeps a small absolute error.
        let (v, e) = bounded("sin(x)", &[std::f64::consts::PI]);
        assert!(v.abs() < 1e-15 && e < 1e-15, "{v} ± {e}");
    }
}
