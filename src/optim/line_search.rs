//! Line searches along a descent direction `d` from `x`: backtracking to
//! the Armijo condition, and the strong Wolfe conditions by bracketing and
//! zooming (Nocedal and Wright, Algorithms 3.5 and 3.6).
//!
//! Backtracking leaves `x`, `f` and `grad` at the accepted point, or
//! untouched when no acceptable step is found; the Wolfe search leaves
//! them as they were and hands back the point it found in its trial
//! buffers ([`Found`]). With bounds, backtracking follows the
//! projected path `P(x + t d)` and measures the promised decrease along it;
//! the Wolfe search stays within the longest feasible step `t_max`.

use super::{Context, StepResult, dot};

/// The sufficient-decrease (Armijo) constant: a step must lower f by at
/// least this fraction of what the slope promises (Nocedal and Wright's
/// usual value).
const C1: f64 = 1e-4;

/// The curvature (strong Wolfe) constant: the slope must shrink to this
/// fraction of the first, a loose test suited to quasi-Newton steps.
const C2: f64 = 0.9;

/// Trials of the strong Wolfe search's bracketing phase that double the
/// step. A search that has doubled this often started 256 times too
/// short: the direction's length is off by orders of magnitude (L-BFGS on
/// a badly scaled problem, Brown's in its box: 32 doublings from 1 to
/// 2e9), so later trials jump to where the slope is headed for zero
/// ([`extrapolate`]). Doubling first leaves the usual short searches as
/// they were; on the MGH sets, with 4 doublings penalty II took 51 more
/// evaluations, with 6 Meyer's function 54 more; with 8, five runs
/// changed, each to fewer evaluations.
const DOUBLINGS: usize = 8;

/// The most a trial after the doublings lengthens the step (to where the
/// slope's secant reaches zero, or this far where the slope does not
/// rise). With a cap of 4 (scipy's `dcsrch` grows by about that) or 10,
/// Brown's function in its box took 134 or 101 evaluations; with 100, 16.
const MAX_GROWTH: f64 = 100.0;

/// How close, relative to |f|, two values of f must be to count as
/// equal to rounding: a few units in the last place.
const ROUNDING: f64 = 4.0 * f64::EPSILON;

/// Most trial steps a search makes before giving up.
const MAX_TRIALS: usize = 60;

/// How many times longer than the step that moves x by its own size (or
/// by 1, if that is smaller) a failed trial must be before the search
/// stops halving it (or taking tenths) and bisects the exponent between
/// the two instead, when f there is not finite or absurdly high
/// ([`far_above`]); see [`absurd_shrink`]. A first step of 1e308 on x^2
/// overflows f at every step down to 1e154, and lands 1e146 past the
/// minimum where f is finite: halving takes 500 trials to come back, tenths
/// 146, bisecting the exponent a dozen, and 20 more halvings at most
/// below this ratio.
const ABSURD: f64 = 1e6;

/// How many times higher than `|f|` (or 1, if that is larger) f must be
/// at a failed trial for the trial to count as absurd ([`far_above`]).
const ABSURD_RISE: f64 = 1e12;

/// Halves the step from `t0` until `f(x + t d) <= f + c1 t ∇f·d` (with
/// bounds: until `f(P(x + t d)) <= f + c1 ∇f·(P(x + t d) - x)`); the
/// accepted step is left in `t0` (so a caller can start the next search
/// near it). A step absurdly too long (f not finite, or far above its
/// value at `x`) shrinks faster ([`absurd_shrink`]).
/// Fails at once when the trial point no longer differs from `x`: no step
/// lowers f.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backtrack(
    ctx: &mut Context<'_>,
    x: &mut [f64],
    f: &mut f64,
    grad: &mut [f64],
    d: &[f64],
    t0: &mut f64,
    trial: &mut [f64],
    trial_grad: &mut [f64],
) -> StepResult {
    let slope = dot(grad, d);
    if slope.is_nan() || slope >= 0.0 {
        return StepResult::Failed;
    }
    let c1 = C1;
    let projected = ctx.bounds().is_some();
    let mut t = *t0;
    for _ in 0..MAX_TRIALS {
        move_to(trial, x, d, t);
        ctx.project(trial);
        if trial == x {
            break;
        }
        let promised = match projected {
            true => trial
                .iter()
                .zip(x.iter())
                .zip(grad.iter())
                .map(|((p, q), g)| g * (p - q))
                .sum(),
            false => t * slope,
        };
        if promised.is_nan() || promised >= 0.0 {
            t *= 0.5;
            continue;
        }
        let ft = ctx.value_grad(trial, trial_grad);
        // A NaN fails the test too: the step left the domain, so shrink it.
        if ft <= *f + c1 * promised {
            accept(x, f, grad, trial, ft, trial_grad);
            *t0 = t;
            return StepResult::Moved;
        }
        let absurd = !ft.is_finite() || far_above(ft, *f);
        let shorter = absurd.then(|| absurd_shrink(t, x, d)).flatten();
        t = shorter.unwrap_or(0.5 * t);
    }
    StepResult::Failed
}

/// What [`strong_wolfe`] found. Unlike [`backtrack`], it leaves `x`,
/// `f` and `grad` at the start: the point found is in `trial` and
/// `trial_grad`, and its value is given here, so that L-BFGS can form its
/// correction pair from the old and new point as it moves (`lbfgs.rs`)
/// rather than keep a copy of the old one.
pub(crate) enum Found {
    /// A step satisfying the conditions (or ending on a bound), with its
    /// value and its length `t` along the direction.
    Step(f64, f64),
    /// A lower point, with its value, where f kept falling as far as the
    /// search looked.
    Unbounded(f64),
    /// No acceptable step.
    Nothing,
}

/// Finds a step in `(0, t_max]` satisfying the strong Wolfe conditions,
/// starting from `t0`, or `t_max` itself when f is still falling there
/// (the step then ends on a bound). When f falls at every trial of the
/// growing step and no bound stops it, the search returns the last trial
/// and says f is unbounded. The point is left in `trial` and `trial_grad`
/// ([`Found`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn strong_wolfe(
    ctx: &mut Context<'_>,
    x: &[f64],
    f: f64,
    grad: &[f64],
    d: &[f64],
    t0: f64,
    t_max: f64,
    trial: &mut [f64],
    trial_grad: &mut [f64],
) -> Found {
    let (f0, slope0) = (f, dot(grad, d));
    if slope0.is_nan() || slope0 >= 0.0 {
        return Found::Nothing;
    }
    let (c1, c2) = (C1, C2);
    let eval = |ctx: &mut Context<'_>, t: f64, trial: &mut [f64], trial_grad: &mut [f64]| {
        move_to(trial, x, d, t);
        // Rounding may put x + t d a hair outside the box.
        ctx.project(trial);
        let ft = ctx.value_grad(trial, trial_grad);
        (ft, dot(trial_grad, d))
    };
    // Bracketing: grow the step (doubling, then extrapolating) until the
    // interval [lo, hi] holds a point satisfying both conditions.
    let (mut t_prev, mut f_prev, mut slope_prev) = (0.0, f0, slope0);
    let mut t = t0.min(t_max);
    let mut bracket = None;
    for i in 0..MAX_TRIALS {
        let (ft, slope) = eval(ctx, t, trial, trial_grad);
        if !ft.is_finite() || ft > f0 + c1 * t * slope0 || (i > 0 && ft >= f_prev) {
            bracket = Some((t_prev, f_prev, slope_prev, t, ft));
            break;
        }
        if slope.abs() <= -c2 * slope0 {
            return Found::Step(ft, t);
        }
        if slope >= 0.0 {
            bracket = Some((t, ft, slope, t_prev, f_prev));
            break;
        }
        // Still falling at the edge of the box: stop on the bound.
        if t >= t_max {
            return Found::Step(ft, t);
        }
        let next = match i < DOUBLINGS {
            true => 2.0 * t,
            false => extrapolate(t_prev, slope_prev, t, slope),
        };
        (t_prev, f_prev, slope_prev) = (t, ft, slope);
        t = next.min(t_max);
    }
    let Some((mut lo, mut f_lo, mut slope_lo, mut hi, mut f_hi)) = bracket else {
        // f fell at every one of the growing steps, out to 2^8 · 100^52
        // times the first: as far as a search can tell, it has no lower
        // bound.
        if f_prev < f0 {
            // The trial buffers hold the last step, t_prev.
            return Found::Unbounded(f_prev);
        }
        return Found::Nothing;
    };
    // Zoom: shrink the bracket, always keeping `lo` the best point so far
    // that satisfies sufficient decrease; an upper end absurdly far beyond
    // it is brought in by its exponent.
    for _ in 0..MAX_TRIALS {
        // Until a step passes the sufficient-decrease test, `lo` is 0; once
        // one has, the bracket shrinks as it always did.
        let absurd = lo == 0.0 && hi > 0.0 && (!f_hi.is_finite() || far_above(f_hi, f_lo));
        let t = absurd.then(|| absurd_shrink(hi, x, d)).flatten();
        let t = t.unwrap_or_else(|| interpolate(lo, f_lo, slope_lo, hi, f_hi));
        // The bracket has shrunk to one representable point: the trial
        // would be lo's again (x itself while lo = 0, where halving on
        // took 50 evaluations of x's own value in an inner run of the
        // augmented Lagrangian, HS65, whose steepest-descent step lowers
        // f by less than its rounding).
        if same_point(x, d, t, lo) {
            break;
        }
        let (ft, slope) = eval(ctx, t, trial, trial_grad);
        if !ft.is_finite() || ft > f0 + c1 * t * slope0 || ft >= f_lo {
            // Once a step has passed (lo > 0), a trial within rounding of
            // f at lo says f is flat across the bracket at its precision:
            // zooming on would read rounding noise, for up to MAX_TRIALS
            // evaluations (Brown's almost-linear function in its box, at
            // its minimum: 47 trials whose values differed in the last
            // digit or not at all). Take lo, as a collapsed bracket does.
            if lo > 0.0 && (ft - f_lo).abs() <= ROUNDING * f_lo.abs() {
                let (ft, _) = eval(ctx, lo, trial, trial_grad);
                return Found::Step(ft, lo);
            }
            (hi, f_hi) = (t, ft);
        } else {
            if slope.abs() <= -c2 * slope0 {
                return Found::Step(ft, t);
            }
            if slope * (hi - lo) >= 0.0 {
                (hi, f_hi) = (lo, f_lo);
            }
            (lo, f_lo, slope_lo) = (t, ft, slope);
        }
        if (hi - lo).abs() <= 1e-16 * lo.abs().max(1e-300) {
            break;
        }
    }
    // The bracket collapsed: take the best point if it lowers f at all.
    if lo > 0.0 && f_lo < f0 {
        let (ft, _) = eval(ctx, lo, trial, trial_grad);
        return Found::Step(ft, lo);
    }
    Found::Nothing
}

/// The next, longer trial of the bracketing phase, after trials at
/// `t_prev < t` where f still falls (both slopes negative): where the
/// slope, interpolated linearly through the two, reaches zero, kept
/// between twice and [`MAX_GROWTH`] times `t`; the longest growth where
/// the slope is not rising (f not curving up along `d`); twice `t` where
/// a slope is not a number.
fn extrapolate(t_prev: f64, slope_prev: f64, t: f64, slope: f64) -> f64 {
    let rise = slope - slope_prev;
    let zero = if rise > 0.0 {
        t - slope * (t - t_prev) / rise
    } else {
        f64::INFINITY
    };
    // A slope that is not a number says nothing of the way ahead.
    if rise.is_nan() || zero.is_nan() {
        return 2.0 * t;
    }
    zero.clamp(2.0 * t, MAX_GROWTH * t)
}

/// The next trial after an absurd step `t` (f not finite there, or far
/// above its value at the start) that failed before any step passed:
/// the geometric mean of `t` and the step that moves x by its own size
/// (or by 1), when `t` is more than [`ABSURD`] times that; `None` for the
/// usual rules. Each such trial halves the exponent between the two, as
/// bisection halves a bracket, and none goes below the step that moves x
/// by its size: a backtracking search takes the first step that lowers f
/// enough, and one far too short would crawl (Newton-CG's steps along
/// negative curvature on Osborne's function, which overflow f, took 1e-8
/// steps for 180,000 evaluations when the floor was the step at which x
/// stops moving).
fn absurd_shrink(t: f64, x: &[f64], d: &[f64]) -> Option<f64> {
    let largest = |v: &[f64]| v.iter().fold(0.0f64, |m, e| m.max(e.abs()));
    let sized = largest(x).max(1.0) / largest(d);
    // Square roots first: the product of the two may overflow.
    (t > ABSURD * sized).then(|| sized.sqrt() * t.sqrt())
}

/// Whether `ft` is absurdly far above `f`: by more than [`ABSURD_RISE`]
/// times `|f|` (or 1, if larger).
fn far_above(ft: f64, f: f64) -> bool {
    ft - f > ABSURD_RISE * f.abs().max(1.0)
}

/// The minimiser of the quadratic with value `f_lo` and slope `slope_lo` at
/// `lo` and value `f_hi` at `hi`, kept inside the middle 80% of the
/// bracket; the midpoint where the quadratic has no minimum or `f_hi` is
/// not finite.
fn interpolate(lo: f64, f_lo: f64, slope_lo: f64, hi: f64, f_hi: f64) -> f64 {
    let (a, b) = if lo < hi { (lo, hi) } else { (hi, lo) };
    let width = b - a;
    let h = hi - lo;
    let curvature = (f_hi - f_lo - slope_lo * h) / (h * h);
    let t = if f_hi.is_finite() && curvature > 0.0 {
        lo - slope_lo / (2.0 * curvature)
    } else {
        0.5 * (a + b)
    };
    if t.is_finite() {
        t.clamp(a + 0.1 * width, b - 0.1 * width)
    } else {
        0.5 * (a + b)
    }
}

/// Whether `x + t d` and `x + u d` are the same point to the bit.
fn same_point(x: &[f64], d: &[f64], t: f64, u: f64) -> bool {
    x.iter().zip(d).all(|(xi, di)| xi + t * di == xi + u * di)
}

/// `trial = x + t d`.
fn move_to(trial: &mut [f64], x: &[f64], d: &[f64], t: f64) {
    for ((p, xi), di) in trial.iter_mut().zip(x).zip(d) {
        *p = xi + t * di;
    }
}

fn accept(
    x: &mut [f64],
    f: &mut f64,
    grad: &mut [f64],
    trial: &[f64],
    ft: f64,
    trial_grad: &[f64],
) {
    x.copy_from_slice(trial);
    grad.copy_from_slice(trial_grad);
    *f = ft;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extrapolation_aims_where_the_slope_meets_zero_within_its_limits() {
        // Slope -4 at 1, -1 at 2: zero at 2 + 1/3, below twice the step.
        assert_eq!(extrapolate(1.0, -4.0, 2.0, -1.0), 4.0);
        // Slope -2 at 1, -1.9 at 2: zero at 21.
        assert!((extrapolate(1.0, -2.0, 2.0, -1.9) - 21.0).abs() < 1e-9);
        // Slope -1 at 1, -0.999 at 2: zero at 1001, beyond the cap.
        assert_eq!(extrapolate(1.0, -1.0, 2.0, -0.999), 2.0 * MAX_GROWTH);
        // A slope that is not rising: the longest growth.
        assert_eq!(extrapolate(1.0, -1.0, 2.0, -1.0), 2.0 * MAX_GROWTH);
        assert_eq!(extrapolate(1.0, -1.0, 2.0, -3.0), 2.0 * MAX_GROWTH);
        // Slopes that are not numbers: doubling.
        assert_eq!(extrapolate(1.0, f64::NAN, 2.0, -1.0), 4.0);
    }

    /// f = 1 + 1e6 (x - 1)² from x = 1 + 1e-11: the best step lowers f by
    /// 1e-16, below its rounding at 1, so every trial of the search on
    /// the gradient fails, and from t = 5e-12 on, x + t d is x itself. The
    /// search stops there rather than halving on to its last trial.
    #[test]
    fn a_search_stops_once_its_trials_are_the_point_itself() {
        let mut points = Vec::new();
        let mut obj = crate::FnObjective::new(1, |x: &[f64], g: &mut [f64]| {
            points.push(x[0]);
            g[0] = 2e6 * (x[0] - 1.0);
            1.0 + 1e6 * (x[0] - 1.0).powi(2)
        });
        let start = 1.0 + 1e-11;
        let out = crate::minimize(&mut obj, &[start], &crate::Settings::default()).unwrap();
        assert_eq!(out.reason, crate::Reason::Stalled);
        let at_start = points[1..].iter().filter(|&&x| x == start).count();
        assert!(
            at_start <= 1,
            "{at_start} evaluations at the start: {points:?}"
        );
        assert!(out.evaluations < 40, "{}", out.evaluations);
    }

    #[test]
    fn an_absurdly_long_step_is_brought_in_by_its_exponent() {
        let near = |t: Option<f64>, want: f64| t.is_some_and(|t| (t / want - 1.0).abs() < 1e-12);
        // From x = 1 along d = -2 the step 0.5 moves x by its size: a
        // step of 1e308 comes back halfway in exponent.
        assert!(near(
            absurd_shrink(1e308, &[1.0], &[-2.0]),
            0.5f64.sqrt() * 1e154
        ));
        // x's size, or 1 where it is smaller.
        assert!(near(absurd_shrink(1e12, &[1e4, 0.0], &[-1.0, 1.0]), 1e8));
        assert!(near(absurd_shrink(1e12, &[1e-4], &[-1.0]), 1e6));
        // Within ABSURD of that step: the usual rules.
        assert_eq!(absurd_shrink(4e5, &[1.0], &[-2.0]), None);
        assert!(!far_above(1e12, 1.0) && far_above(1e13, 0.5) && !far_above(-1e300, 1.0));
        assert!(far_above(f64::INFINITY, 1.0) && !far_above(f64::NAN, 1.0));
    }
}
