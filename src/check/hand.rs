//! Hand-written derivatives against the exact ones: proved equal by
//! [`symbolic`], else compared at random points.

use crate::eval::Interpreter;
use crate::graph::{Graph, NodeId};
use crate::symbolic;

use super::sum_terms;

/// How many points a hand derivative is compared at when no proof is found.
pub const NUMERIC_POINTS: usize = 200;

/// Draws per wanted point before giving up on points where both sides are
/// finite (a formula defined on a small part of the box).
const DRAWS_PER_POINT: usize = 10;

/// Relative difference (to the scale of the values and of their sums'
/// terms) up to which a hand derivative agrees with the exact one.
const NUMERIC_TOLERANCE: f64 = 1e-9;

/// What became of a hand-written derivative.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// The difference from the exact derivative simplifies to zero.
    Proved,
    /// Equal up to rounding at `points` random points, but not proved.
    Agrees {
        /// Points compared.
        points: usize,
    },
    /// Different at `x`.
    Differs {
        /// The point.
        x: Vec<f64>,
        /// The hand-written derivative there.
        yours: f64,
        /// The exact one.
        exact: f64,
    },
    /// Not proved, and no drawn point had both sides finite.
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

/// Compares the hand-written `yours` with `exact` (both nodes of `graph`):
/// symbolically, then at up to [`NUMERIC_POINTS`] points from `draw(k)`.
pub fn compare_derivative(
    graph: &Graph,
    exact: NodeId,
    yours: NodeId,
    draw: &mut dyn FnMut(usize) -> Vec<f64>,
) -> Verdict {
    if symbolic::proved_equal(graph, exact, yours) {
        return Verdict::Proved;
    }
    let both = Interpreter::new(graph, &[exact, yours]);
    let terms = Interpreter::new(graph, &sum_terms(graph, &[exact, yours]));
    let mut agreed = 0;
    let draws = NUMERIC_POINTS * DRAWS_PER_POINT;
    for k in 0..draws {
        let x = draw(k);
        let v = both.eval(&x);
        let (e, y) = (v[0], v[1]);
        if !(e.is_finite() && y.is_finite()) {
            continue;
        }
        let differ = |x: &[f64]| {
            let v = both.eval(x);
            let (e, y) = (v[0], v[1]);
            let scale = terms
                .eval(x)
                .iter()
                .filter(|t| t.is_finite())
                .fold(e.abs().max(y.abs()), |m, t| m.max(t.abs()));
            (e.is_finite() && y.is_finite() && (e - y).abs() > NUMERIC_TOLERANCE * scale)
                .then_some((y, e))
        };
        if differ(&x).is_some() {
            // Report the roundest nearby point where they differ too.
            for digits in 0..4 {
                let p = 10f64.powi(digits);
                let rounded: Vec<f64> = x.iter().map(|v| (v * p).round() / p).collect();
                if let Some((yours, exact)) = differ(&rounded) {
                    return Verdict::Differs {
                        x: rounded,
                        yours,
                        exact,
                    };
                }
            }
            return Verdict::Differs {
                x,
                yours: y,
                exact: e,
            };
        }
        agreed += 1;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::sample;
    use crate::formula::Formula;

    fn verdict(formula: &str, var: &str, hand: &str) -> Verdict {
        let mut f = Formula::parse(formula).unwrap();
        let exact = f.partial(var).unwrap().id();
        let yours = f.parse_into(hand, &Default::default()).unwrap();
        let bounds = vec![(-2.0, 2.0); f.vars().len()];
        compare_derivative(f.graph(), exact, yours, &mut |k| sample(&bounds, 7, k))
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
