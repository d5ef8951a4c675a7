//! The steps a finite-difference check tries along one coordinate, and
//! what they say of each exact derivative: agrees, differs, or undecided.
//!
//! The usual steps ([`fd::along`]) assume f varies on a length of
//! `max(1, |xᵢ|)`. Where it varies faster, all of the estimates are wrong
//! by the same amount and agree with each other, so their spread, the
//! measured error, is tiny: `sqrt(x^2 + 1e-20)` at `x = 1e-12` (which bends
//! on a length of `1e-10`) gives `3e-9 ± 3e-7` for a derivative of `0.01`,
//! and `tanh(1e4*x)` at 0 gives `3148 ± 14000` for one of `10000`. So a
//! verdict is taken at the usual steps only when it is decisive there, and
//! otherwise along a ladder of shorter lengths ([`lengths`]): a tenth, a
//! hundredth, ... of the usual one, and `|xᵢ|` itself, where f near a
//! small `xᵢ` varies on the length of `xᵢ` (`cbrt(x)`, `sqrt(x^2)`).
//!
//! At each rung a comparison is
//! - *agreeing* when the exact value is within the tolerance of the
//!   estimate and the tolerance is small beside the values compared,
//!   [`DECISIVE`] relative (or the two are equal: an even function's
//!   central difference at its centre is 0 at every step, and so is its
//!   derivative);
//! - *disagreeing* when it is outside the tolerance and the tolerance is
//!   small in the same sense;
//! - undecided otherwise.
//!
//! One agreeing rung is enough, since at a length f does not vary on the
//! estimates are all wrong together and can only disagree. A difference
//! needs two successive rungs that disagree and whose estimates agree with
//! each other, and no rung that agrees: a derivative that really differs
//! differs at every step. What is left is undecided, reported at the rung
//! whose estimate has the smallest error beside itself, with what made the
//! tolerance large: the rounding of the exact value (`sin(x)/x` at
//! `x = 1e-9`, whose derivative `cos(x)/x - sin(x)/x^2` cancels two terms
//! of 1e9), or the estimate's own error.
//!
//! [`fd::along`]: crate::fd::along

use crate::fd::Along;

use super::points::{Comparison, Status, Undecided};

/// The largest tolerance, relative to the values compared, at which a
/// comparison decides anything. The values are the exact derivative, its
/// estimate, and the largest of its siblings (the gradient's or the
/// Hessian's entries at the point): a derivative of 0 is checked to a
/// tolerance small beside the others.
pub const DECISIVE: f64 = 1e-3;

/// Rungs below the usual length, each a tenth of the one before.
const TENTHS: i32 = 6;

/// Lengths below this are not tried: their steps would be subnormal.
const SHORTEST: f64 = 1e-290;

/// The lengths tried along a coordinate of value `x`, the usual
/// `max(1, |x|)` first: then tenths of it down to a millionth, then `|x|`
/// and a tenth of it if `x` is smaller than that (and not 0).
pub fn lengths(x: f64) -> Vec<f64> {
    let usual = x.abs().max(1.0);
    // 10^k is exact, and one division rounds the same in every build.
    let mut out: Vec<f64> = (0..=TENTHS).map(|k| usual / 10f64.powi(k)).collect();
    let shortest = usual / 10f64.powi(TENTHS);
    let a = x.abs();
    if a < shortest {
        out.extend([a, a / 10.0].into_iter().filter(|&s| s > SHORTEST));
    }
    out
}

/// An exact derivative, and what judging its estimate needs beside it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exact {
    /// The derivative, from the compiled code.
    pub value: f64,
    /// A bound on the rounding error of `value` (0 where none is known:
    /// the tolerance then allows for the rounding of one operation).
    pub rounding: f64,
    /// The largest magnitude of its siblings (the gradient's entries, or
    /// the Hessian's), the scale a small derivative is judged on.
    pub siblings: f64,
    /// The size at which the differenced values round, when larger than
    /// the values themselves (the largest term of a sum in them).
    pub terms: f64,
}

/// Compares each of `exact` with differences along coordinate `i` of value
/// `xi`: the `j`-th with output `j` of each [`Along`] that `estimate`
/// gives for a length, which is `None` where the stencil met a kink or a
/// value that is not finite. Returns `None` if that happened at the usual
/// length (the caller says why the point is skipped); past it the ladder
/// stops there.
pub fn compare_along(
    xi: f64,
    exact: &[Exact],
    estimate: &mut dyn FnMut(f64) -> Option<Along>,
) -> Option<Vec<Comparison>> {
    let mut rungs: Vec<Vec<Comparison>> = Vec::new();
    for (k, length) in lengths(xi).into_iter().enumerate() {
        let Some(along) = estimate(length) else {
            if k == 0 {
                return None;
            }
            break;
        };
        let rung: Vec<Comparison> = exact
            .iter()
            .enumerate()
            .map(|(j, e)| {
                let mut c = Comparison::at_rung(e, &along, j);
                c.usual_step = k == 0;
                c
            })
            .collect();
        rungs.push(rung);
        let agreed = |j: usize| rungs.iter().any(|r| r[j].status == Status::Agrees);
        if (0..exact.len()).all(agreed) {
            break;
        }
    }
    let (usual, shorter) = rungs.split_first()?;
    let verdicts = (usual.iter().enumerate())
        .map(|(j, c)| verdict(c, &shorter.iter().map(|r| &r[j]).collect::<Vec<_>>()))
        .collect();
    Some(verdicts)
}

/// The verdict on one derivative from its comparison at each rung tried:
/// the first that agrees; else the first of two successive rungs that
/// disagree alike; else undecided at the rung whose estimate knows itself
/// best.
fn verdict(usual: &Comparison, shorter: &[&Comparison]) -> Comparison {
    let rungs: Vec<&Comparison> = std::iter::once(usual)
        .chain(shorter.iter().copied())
        .collect();
    if let Some(c) = rungs.iter().find(|c| c.status == Status::Agrees) {
        return (*c).clone();
    }
    let confirmed = rungs.windows(2).find(|w| {
        let (a, b) = (w[0], w[1]);
        a.status == Status::Differs
            && b.status == Status::Differs
            && (a.estimate - b.estimate).abs() <= a.tolerance + b.tolerance
    });
    if let Some(w) = confirmed {
        return w[0].clone();
    }
    let closest =
        (shorter.iter().copied()).fold(usual, |best, c| match own_error(c) < own_error(best) {
            true => c,
            false => best,
        });
    let mut c = closest.clone();
    if let Status::Differs = c.status {
        // Disagreeing at one step only: the estimates moved between steps.
        c.set_status(Status::Undecided(Undecided::Estimate));
    }
    c
}

/// The error of `c`'s estimate relative to the estimate: its tolerance
/// without the exact value's rounding, which is the same at every step.
fn own_error(c: &Comparison) -> f64 {
    let error = c.tolerance - 2.0 * c.exact_rounding;
    match c.estimate != 0.0 {
        true => error / c.estimate.abs(),
        false => f64::INFINITY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fd;

    /// The comparison of `df(x)` with differences of `f` at `x`.
    fn check(f: fn(f64) -> f64, df: f64, rounding: f64, x: f64) -> Comparison {
        let exact = Exact {
            value: df,
            rounding,
            siblings: 0.0,
            terms: 0.0,
        };
        let mut point = [x];
        let mut estimate = |length: f64| {
            let mut g = |x: &[f64], out: &mut [f64]| out[0] = f(x[0]);
            Some(fd::along_at_scale(&mut g, &mut point, 0, 1, length))
        };
        compare_along(x, &[exact], &mut estimate).unwrap().remove(0)
    }

    #[test]
    fn the_ladder_reaches_the_length_of_a_small_point_and_stops_at_a_millionth_of_zero() {
        assert_eq!(lengths(3.0).len(), 7);
        assert_eq!(lengths(3.0)[0], 3.0);
        assert_eq!(lengths(0.0).len(), 7);
        let small = lengths(1e-12);
        assert_eq!(small[small.len() - 2..], [1e-12, 1e-13]);
        assert!(lengths(1e-300).iter().all(|&s| s > SHORTEST));
    }

    #[test]
    fn a_function_that_bends_faster_than_the_usual_step_agrees_at_a_shorter_one() {
        let c = check(
            |x| (x * x + 1e-20).sqrt(),
            1e-12 / (1e-24f64 + 1e-20).sqrt(),
            0.0,
            1e-12,
        );
        assert_eq!(c.status, Status::Agrees, "{c:?}");
        assert!(c.step < 1e-10, "{c:?}");
        let c = check(|x| (1e4 * x).tanh(), 1e4, 0.0, 0.0);
        assert_eq!(c.status, Status::Agrees, "{c:?}");
        assert!(c.tolerance < 1.0, "{c:?}");
        let c = check(f64::cbrt, 1.0 / (3.0 * 1e-14f64.cbrt()), 0.0, 1e-7);
        assert_eq!(c.status, Status::Agrees, "{c:?}");
    }

    #[test]
    fn a_wrong_derivative_differs_at_every_step_and_a_rounded_one_is_undecided() {
        // 2% off, on a function that bends faster than the usual step.
        let c = check(|x| (1e4 * x).tanh(), 1.02e4, 0.0, 0.0);
        assert_eq!(c.status, Status::Differs, "{c:?}");
        let c = check(f64::sin, 1.0 + 1e-6, 0.0, 0.0);
        assert_eq!(c.status, Status::Differs, "{c:?}");
        // The same 1e-6, within the exact value's rounding: undecided.
        let c = check(f64::sin, 1.0 + 1e-6, 1e-3, 0.0);
        assert_eq!(c.status, Status::Undecided(Undecided::Rounding), "{c:?}");
    }
}
