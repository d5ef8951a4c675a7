//! Hand-written derivatives against the exact ones: proved equal by
//! [`symbolic`], else compared at random points.
//!
//! A proof holds where both sides are defined: the normaliser, like the
//! canonical forms, cancels `x/x` and takes `sqrt(x)^2` for `x`. So a
//! proof is reported only if the hand formula is also finite at each of
//! [`NUMERIC_POINTS`] random points where the exact derivative is: `2*sqrt(x)^2`
//! for the derivative of `x^2` on `x` in [-2, -1] is NaN at every point
//! there, which is a difference, not an equality. "Finite" is asked of
//! what was written, step by step, not of its canonical form, which has
//! already cancelled `sqrt(x)/sqrt(x)` to 1 and `ln(x) - ln(x)` to 0: a
//! step that is NaN makes the hand formula NaN there, at any point and in
//! the numeric comparison too.

use crate::eval::Interpreter;
use crate::formula::Written;
use crate::graph::{Graph, NodeId, reachable};
use crate::symbolic;

use super::rounding::eval_bounded;

/// How many points a hand derivative is compared at when no proof is found.
pub const NUMERIC_POINTS: usize = 200;

/// Draws per wanted point before giving up on points where both sides are
/// finite (a formula defined on a small part of the box).
const DRAWS_PER_POINT: usize = 10;

/// The largest rounding-error bound, relative to the values, at which a
/// point where both sides agree counts as agreement: past it the rounding
/// could hide a difference, and the point decides nothing.
const AGREEMENT: f64 = 1e-6;

/// What became of a hand-written derivative.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// The difference from the exact derivative simplifies to zero, and
    /// the hand formula is finite at each of [`NUMERIC_POINTS`] random
    /// points where the exact one is.
    Proved,
    /// Equal within the rounding of both evaluations (a bound computed at
    /// each point) at `points` random points, but not proved.
    Agrees {
        /// Points compared.
        points: usize,
    },
    /// Different at `x` by more than rounding can explain, or not finite
    /// there where the exact derivative is.
    Differs {
        /// The point.
        x: Vec<f64>,
        /// The hand-written derivative there.
        yours: f64,
        /// The exact one.
        exact: f64,
    },
    /// Not proved, and no drawn point could decide: the exact derivative
    /// was not finite, or rounding swamped the values.
    Untested {
        /// Points drawn.
        draws: usize,
    },
}

impl Verdict {
    /// Proved or agreeing.
    pub fn ok(&self) -> bool {
        matches!(self, Verdict::Proved | Verdict::Agrees { .. })
    }

    /// `"proved"`, `"agrees"`, `"differs"` or `"untested"`.
    pub fn status(&self) -> &'static str {
        match self {
            Verdict::Proved => "proved",
            Verdict::Agrees { .. } => "agrees",
            Verdict::Differs { .. } => "differs",
            Verdict::Untested { .. } => "untested",
        }
    }
}

/// What one point says of a hand derivative.
enum Point {
    /// The exact derivative is not finite there, or rounding is too large
    /// beside the values to tell.
    Undecided,
    /// Equal within the rounding of both evaluations.
    Agree,
    /// Different by more than the rounding of both evaluations, or not
    /// finite where the exact derivative is.
    Differ { yours: f64, exact: f64 },
}

/// Compares `(exact, its error bound)` with `(yours, its error bound)`. A
/// difference is real when it is over twice the two bounds (the bounds
/// are first order); the point agrees when they are equal within bounds
/// that are small beside the values, [`AGREEMENT`] relative.
fn compare_at((exact, exact_error): (f64, f64), (yours, yours_error): (f64, f64)) -> Point {
    if !exact.is_finite() {
        return Point::Undecided;
    }
    let bound = exact_error + yours_error;
    let size = exact.abs().max(yours.abs());
    if !yours.is_finite() || (exact - yours).abs() > 2.0 * bound + 4.0 * f64::EPSILON * size {
        return Point::Differ { yours, exact };
    }
    if bound <= AGREEMENT * size || bound == 0.0 {
        Point::Agree
    } else {
        Point::Undecided
    }
}

/// Compares the hand-written `yours` with `exact` (both nodes of `graph`):
/// symbolically, then at up to [`NUMERIC_POINTS`] random points of the
/// box `bounds` (drawn by [`sample`](super::sample) from `seed`).
/// A proof stands only where the hand formula is finite wherever the
/// exact one is, at the first [`NUMERIC_POINTS`] points drawn. `yours`
/// is the hand formula as [`Formula::parse_written`](crate::Formula::parse_written)
/// lowered it: its node and its steps, each of which must be defined
/// where it is said to be.
pub fn compare_derivative(
    graph: &Graph,
    exact: NodeId,
    yours: &Written,
    bounds: &[(f64, f64)],
    seed: u64,
) -> Verdict {
    let draw = |k| super::sample(bounds, seed, k);
    let outputs = [exact, yours.node];
    let order = reachable(graph, &outputs);
    // The steps outside loops (a scalar hand formula's are all).
    let steps: Vec<NodeId> = (yours.steps.iter().copied())
        .filter(|&s| graph.meta(s).levels == 0)
        .collect();
    let written = Interpreter::new(graph, &steps);
    let eval = |x: &[f64]| {
        let mut v: Vec<(f64, f64)> = eval_bounded(graph, &order, &outputs, x)
            .into_iter()
            .map(|b| (b.value, b.rounding))
            .collect();
        if written.eval(x).iter().any(|s| s.is_nan()) {
            v[1].0 = f64::NAN;
        }
        v
    };
    let at = |x: &[f64]| {
        let v = eval(x);
        compare_at(v[0], v[1])
    };
    if symbolic::proved_equal(graph, exact, yours.node) {
        let undefined = |x: &[f64]| {
            let v = eval(x);
            match (v[0].0, v[1].0) {
                (exact, yours) if exact.is_finite() && !yours.is_finite() => {
                    Point::Differ { yours, exact }
                }
                _ => Point::Agree,
            }
        };
        for k in 0..NUMERIC_POINTS {
            let x = draw(k);
            if let Point::Differ { yours, exact } = undefined(&x) {
                return roundest(x, yours, exact, bounds, &undefined);
            }
        }
        return Verdict::Proved;
    }
    let mut agreed = 0;
    let draws = NUMERIC_POINTS * DRAWS_PER_POINT;
    for k in 0..draws {
        let x = draw(k);
        match at(&x) {
            Point::Undecided => continue,
            Point::Agree => agreed += 1,
            Point::Differ { yours, exact } => return roundest(x, yours, exact, bounds, &at),
        }
        if agreed == NUMERIC_POINTS {
            break;
        }
    }
    if agreed == 0 {
        Verdict::Untested { draws }
    } else {
        Verdict::Agrees { points: agreed }
    }
}

/// The difference found at `x`, reported at the roundest nearby point of
/// the box `bounds` where `at` finds one too.
fn roundest(
    x: Vec<f64>,
    yours: f64,
    exact: f64,
    bounds: &[(f64, f64)],
    at: &dyn Fn(&[f64]) -> Point,
) -> Verdict {
    for digits in 0..4 {
        let p = 10f64.powi(digits);
        let rounded: Vec<f64> = x.iter().map(|v| (v * p).round() / p).collect();
        let inside = (rounded.iter().zip(bounds)).all(|(v, &(lo, hi))| (lo..=hi).contains(v));
        if !inside {
            continue;
        }
        if let Point::Differ { yours, exact } = at(&rounded) {
            return Verdict::Differs {
                x: rounded,
                yours,
                exact,
            };
        }
    }
    Verdict::Differs { x, yours, exact }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formula::Formula;

    fn verdict(formula: &str, var: &str, hand: &str) -> Verdict {
        verdict_in(formula, var, hand, (-2.0, 2.0))
    }

    fn verdict_in(formula: &str, var: &str, hand: &str, bounds: (f64, f64)) -> Verdict {
        let mut f = Formula::parse(formula).unwrap();
        let exact = f.partial(var).unwrap().id();
        let yours = f.parse_written(hand, &Default::default()).unwrap();
        let bounds = vec![bounds; f.n_vars()];
        compare_derivative(f.graph(), exact, &yours, &bounds, 7)
    }

    #[test]
    fn a_proof_stands_only_where_the_hand_formula_is_defined() {
        // sqrt(x)^2 is x where it is defined, which on [-2, -1] is nowhere.
        let v = verdict_in("x^2", "x", "2*sqrt(x)^2", (-2.0, -1.0));
        assert!(
            matches!(&v, Verdict::Differs { x, yours, exact }
                if yours.is_nan() && *exact == 2.0 * x[0] && x[0] == x[0].round()),
            "{v:?}"
        );
        assert_eq!(
            verdict_in("x^2", "x", "2*sqrt(x)^2", (1.0, 2.0)),
            Verdict::Proved
        );
        // x^0.5*x^0.5/x is 1 only for x > 0; sign(x) + sqrt(x)^2 - x is
        // sign(x) only for x >= 0.
        assert!(matches!(
            verdict("x", "x", "x^0.5*x^0.5/x"),
            Verdict::Differs { .. }
        ));
        assert!(matches!(
            verdict("abs(x)", "x", "sign(x) + sqrt(x)^2 - x"),
            Verdict::Differs { .. }
        ));
        // Undefined where the exact derivative is too: proved.
        assert_eq!(verdict("sqrt(x)", "x", "0.5/sqrt(x)"), Verdict::Proved);
        // Written with a step that is NaN on the whole box, though the
        // canonical form cancelled it: a difference (a user probe).
        for hand in ["sqrt(x)/sqrt(x)", "ln(x) - ln(x) + 1", "0*ln(x) + 1"] {
            let v = verdict_in("x", "x", hand, (-2.0, -1.0));
            assert!(
                matches!(&v, Verdict::Differs { yours, exact, .. } if yours.is_nan() && *exact == 1.0),
                "{hand}: {v:?}"
            );
            assert_eq!(verdict_in("x", "x", hand, (1.0, 2.0)), Verdict::Proved);
        }
        // Not proved, compared at points: NaN steps count there too.
        assert!(matches!(
            verdict_in("x^2", "x", "2*x*ln(x)/ln(x) + 0*cbrt(x)", (-2.0, -1.0)),
            Verdict::Differs { .. }
        ));
    }

    #[test]
    fn numeric_comparison_finds_a_counterexample() {
        match verdict("sin(x^2)", "x", "cos(x^2)") {
            Verdict::Differs { x, yours, exact } => {
                assert!((yours - x[0].powi(2).cos()).abs() < 1e-15);
                assert!((exact - 2.0 * x[0] * x[0].powi(2).cos()).abs() < 1e-15);
                // A round point, where a whole number fails to show it.
                assert_eq!(x[0], (x[0] * 10.0).round() / 10.0, "{x:?}");
            }
            v => panic!("{v:?}"),
        }
        // cbrt is an atom the normaliser cannot relate to x^(1/3).
        // Negative x gives NaN on the exact side: those draws are skipped.
        assert_eq!(
            verdict("x^(4/3)", "x", "4/3*cbrt(x)"),
            Verdict::Agrees {
                points: NUMERIC_POINTS
            }
        );
        // Nowhere finite on both sides.
        assert!(matches!(
            verdict("sqrt(-x^2 - 1)", "x", "x"),
            Verdict::Untested { .. }
        ));
    }
}
