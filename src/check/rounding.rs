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
//! Each node gets two bounds. [`Bounded::rounding`] is this evaluation's:
//! an addition or a multiplication whose result is exact (`1 + sign(x)` is
//! 0, 1 or 2, and half of it too) adds no error, so a derivative computed
//! without rounding, such as `max`'s `(1 + sign(x))/2`, has a bound of 0
//! and can be called equal to an estimate it matches to the bit.
//! [`Bounded::nearby`] is what evaluations near the point may suffer,
//! where `(x + 1e10)*y - 1e10` is exact at `x = 0.5, y = 1` and rounds by
//! 1e-6 a step away: the finite-difference check scales the rounding of
//! the values it differences by it.
//!
//! The bounds are first order (products of two error terms are left out)
//! and assume each elementary operation rounds once and each library
//! function is within [`LIBRARY_ULPS`] units in the last place:
//! - a constant or a variable is exact;
//! - a sum of `k` terms: the terms' bounds plus, for `rounding`, the error
//!   of each of its pairwise additions, found exactly (Knuth's TwoSum),
//!   and for `nearby`, `(k - 1)·u·Σ|tᵢ|`;
//! - a product: `Σ eᵢ·Π_{j≠i}|fⱼ|` plus, for `rounding`, the error of each
//!   multiplication, found exactly with a fused multiply-add (where it
//!   divides, and for `nearby`, `k·u·|v|` for its `k` roundings);
//! - a power or a function: the largest change of the result over the
//!   corners of its arguments' error intervals (exact for monotone
//!   functions, and the intervals are tiny), plus the library's own error,
//!   which `abs`, `sign`, `floor`, `ceil`, `min` and `max` do not have:
//!   their result is one of their arguments or an integer, never rounded.

use crate::bind::{MAX_LEVELS, SCALAR};
use crate::builtins::Func;
use crate::eval::eval_node;
use crate::graph::{Graph, Node, NodeId, SumStep, denominator_exponent, sum_pairwise};

/// Unit roundoff of a double: half an ulp of 1.
const U: f64 = f64::EPSILON / 2.0;

/// The error of `pow` and the libm functions, in ulps of the result:
/// `powi` for exponents -3 to 4 is within 3.
const LIBRARY_ULPS: f64 = 4.0;

/// An output's value at a point with two bounds on its rounding error
/// (infinite where the value is not finite).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Bounded {
    pub value: f64,
    /// How far rounding may have moved this evaluation from the exact
    /// value: 0 where no operation on the way rounded.
    pub rounding: f64,
    /// How far rounding may move evaluations near the point: sums round
    /// at the size of their terms, exact here or not.
    pub nearby: f64,
}

/// Each output's value and rounding-error bounds at `x`. `order` is the
/// nodes the outputs need, children first.
pub(super) fn eval_bounded(
    graph: &Graph,
    order: &[NodeId],
    outputs: &[NodeId],
    x: &[f64],
) -> Vec<Bounded> {
    let mut values = vec![f64::NAN; graph.len()];
    let mut here = vec![f64::INFINITY; graph.len()];
    let mut nearby = vec![f64::INFINITY; graph.len()];
    for &id in order {
        let v = eval_node(graph, id, &values, x, &SCALAR, &[0; MAX_LEVELS]);
        values[id.index()] = v;
        if v.is_finite() {
            let i = id.index();
            here[i] = error_of(graph, id, v, &mut values, &here, x, Exactness::Here);
            nearby[i] = error_of(graph, id, v, &mut values, &nearby, x, Exactness::Nearby);
        }
    }
    outputs
        .iter()
        .map(|o| Bounded {
            value: values[o.index()],
            rounding: here[o.index()],
            nearby: nearby[o.index()],
        })
        .collect()
}

/// Which of the two bounds [`error_of`] computes: they differ only in a
/// sum's own rounding.
#[derive(Clone, Copy, PartialEq)]
enum Exactness {
    /// This evaluation's: an exact addition adds nothing.
    Here,
    /// Nearby evaluations': every addition may round.
    Nearby,
}

/// Whether `f` returns one of its arguments or an integer computed without
/// rounding, so that it adds no error of its own.
fn computed_exactly(f: Func) -> bool {
    matches!(
        f,
        Func::Abs | Func::Sign | Func::Floor | Func::Ceil | Func::Min | Func::Max
    )
}

/// The library's own error for a call of `f` that returned `v`.
fn library_error(f: Option<Func>, v: f64) -> f64 {
    match f {
        Some(f) if computed_exactly(f) => 0.0,
        _ => LIBRARY_ULPS * 2.0 * U * v.abs(),
    }
}

/// The rounding error of each pairwise addition of the sum of `terms`, in
/// the interpreter's order ([`sum_pairwise`]), summed in magnitude. Each is
/// exact (TwoSum, Knuth, TAOCP vol. 2, §4.2.2): the sum's value is finite,
/// so no partial sum overflowed.
fn addition_errors(terms: &[NodeId], values: &[f64]) -> f64 {
    if terms.len() < 2 {
        return 0.0;
    }
    let added = sum_pairwise(terms, &mut |step: SumStep<(f64, f64)>| {
        Ok::<(f64, f64), std::convert::Infallible>(match step {
            SumStep::Term(t) => (values[t.index()], 0.0),
            SumStep::Add((a, ea), (b, eb)) => {
                let s = a + b;
                let b_rounded = s - a;
                let a_rounded = s - b_rounded;
                let error: f64 = (a - a_rounded) + (b - b_rounded);
                (s, ea + eb + error.abs())
            }
        })
    });
    added.unwrap_or_else(|never| match never {}).1
}

/// The rounding error of each multiplication of a product without
/// divisors, in the interpreter's order (left to right), summed in
/// magnitude; each is exact (`fma(a, b, -ab)`), so a product by 1/2 or by
/// 0 adds none. `None` for a product that divides: its divisor is a power
/// whose error is not known exactly.
fn multiplication_errors(graph: &Graph, factors: &[NodeId], values: &[f64]) -> Option<f64> {
    if factors
        .iter()
        .any(|&f| denominator_exponent(graph, f).is_some())
    {
        return None;
    }
    let mut product = values[factors.first()?.index()];
    let mut lost = 0.0;
    for f in &factors[1..] {
        let b = values[f.index()];
        let p = product * b;
        lost += product.mul_add(b, -p).abs();
        product = p;
    }
    Some(lost)
}

/// The bound for node `id`, whose value is `v`, given its children's.
fn error_of(
    graph: &Graph,
    id: NodeId,
    v: f64,
    values: &mut [f64],
    errors: &[f64],
    x: &[f64],
    exactness: Exactness,
) -> f64 {
    let error = |n: &NodeId| errors[n.index()];
    let value = |values: &[f64], n: &NodeId| values[n.index()];
    match graph.node(id) {
        Node::Const(_) | Node::Var(_) | Node::Param(_) | Node::Index(_) | Node::Read(_) => 0.0,
        // A loop's rounding is not bounded here: the comparison is untested.
        Node::Reduce(..) => f64::INFINITY,
        Node::Sum(terms) => {
            let carried: f64 = terms.iter().map(error).sum();
            let own = match exactness {
                Exactness::Here => addition_errors(terms, values),
                Exactness::Nearby => {
                    let size: f64 = terms.iter().map(|t| value(values, t).abs()).sum();
                    (terms.len() as f64 - 1.0) * U * size
                }
            };
            carried + own
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
            let own = match exactness {
                Exactness::Here => {
                    multiplication_errors(graph, factors, values).unwrap_or(k as f64 * U * v.abs())
                }
                Exactness::Nearby => k as f64 * U * v.abs(),
            };
            carried + own
        }
        Node::Pow([a, b]) | Node::Call2(_, [a, b]) => {
            let (ea, eb) = (error(a), error(b));
            let mut spread: f64 = 0.0;
            for (da, db) in [(-ea, -eb), (-ea, eb), (ea, -eb), (ea, eb)] {
                spread = spread.max(corner(graph, id, &[(*a, da), (*b, db)], values, x, v));
            }
            let f = match graph.node(id) {
                Node::Call2(f, _) => Some(*f),
                _ => None,
            };
            spread + library_error(f, v)
        }
        Node::Call1(f, [a]) => {
            let (f, ea) = (*f, error(a));
            let spread = corner(graph, id, &[(*a, -ea)], values, x, v).max(corner(
                graph,
                id,
                &[(*a, ea)],
                values,
                x,
                v,
            ));
            spread + library_error(Some(f), v)
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

    /// The value of `text` at `x` and this evaluation's bound.
    fn bounded(text: &str, x: &[f64]) -> (f64, f64) {
        let b = both(text, x);
        (b.value, b.rounding)
    }

    fn both(text: &str, x: &[f64]) -> Bounded {
        let f = Formula::parse(text).unwrap();
        let order = reachable(f.graph(), &[f.value()]);
        eval_bounded(f.graph(), &order, &[f.value()], x)[0]
    }

    #[test]
    fn exact_operations_have_no_error_and_cancellation_has_a_large_one() {
        // 2·3 is exact; 0.1·0.3 rounds, by at most half an ulp.
        assert_eq!(bounded("x*y", &[2.0, 3.0]), (6.0, 0.0));
        let (v, e) = bounded("x*y", &[0.1, 0.3]);
        assert!(e > 0.0 && e <= U * v, "{v} ± {e}");
        assert_eq!(both("x*y", &[2.0, 3.0]).nearby, 2.0 * U * 6.0);
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

    #[test]
    fn a_value_computed_without_rounding_has_no_bound_here_but_one_nearby() {
        // max's derivative, (1 + sign(x))/2, is 0, 1/2 or 1 exactly.
        for x in [-0.5, 0.0, 0.5] {
            let (v, e) = bounded("(1 + sign(x))/2", &[x]);
            assert_eq!(e, 0.0, "{v} at {x}");
        }
        assert_eq!(bounded("y*(1 + sign(x - 4))/2", &[0.5, 3.0]), (0.0, 0.0));
        // Functions that return an argument or an integer do not round.
        for text in ["abs(x)", "floor(x)", "ceil(x)", "min(x, y)", "max(x, y)"] {
            assert_eq!(bounded(text, &[-2.5, 0.1]).1, 0.0, "{text}");
        }
        // Exact at 0.5, but a step away it rounds at the size of 1e10.
        let b = both("(x + 1e10)*y - 1e10", &[0.5, 1.0]);
        assert_eq!((b.value, b.rounding), (0.5, 0.0));
        assert!(b.nearby > 1e-6, "{b:?}");
        // An addition that rounds is bounded by what it lost.
        let (v, e) = bounded("x + 1", &[0.1]);
        assert!(e > 0.0 && e <= U * 1.1, "{v} ± {e}");
    }
}
