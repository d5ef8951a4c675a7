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

/// Most trial steps a search makes before giving up.
const MAX_TRIALS: usize = 60;

/// Halves the step from `t0` until `f(x + t d) <= f + c1 t ∇f·d` (with
/// bounds: until `f(P(x + t d)) <= f + c1 ∇f·(P(x + t d) - x)`); the
/// accepted step is left in `t0` (so a caller can start the next search
/// near it). Fails at once when the trial point no longer differs from `x`:
/// no step lowers f.
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
        t *= 0.5;
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
    /// value.
    Step(f64),
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
    // Bracketing: grow the step until the interval [lo, hi] holds a point
    // satisfying both conditions.
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
            return Found::Step(ft);
        }
        if slope >= 0.0 {
            bracket = Some((t, ft, slope, t_prev, f_prev));
            break;
        }
        // Still falling at the edge of the box: stop on the bound.
        if t >= t_max {
            return Found::Step(ft);
        }
        (t_prev, f_prev, slope_prev) = (t, ft, slope);
        t = (2.0 * t).min(t_max);
    }
    let Some((mut lo, mut f_lo, mut slope_lo, mut hi, mut f_hi)) = bracket else {
        // f fell at every one of the doubling steps, out to 2^60 times the
        // first: as far as a search can tell, it has no lower bound.
        if f_prev < f0 {
            // The trial buffers hold the last step, t_prev.
            return Found::Unbounded(f_prev);
        }
        return Found::Nothing;
    };
    // Zoom: shrink the bracket, always keeping `lo` the best point so far
    // that satisfies sufficient decrease.
    for _ in 0..MAX_TRIALS {
        let t = interpolate(lo, f_lo, slope_lo, hi, f_hi);
        let (ft, slope) = eval(ctx, t, trial, trial_grad);
        if !ft.is_finite() || ft > f0 + c1 * t * slope0 || ft >= f_lo {
            (hi, f_hi) = (t, ft);
        } else {
            if slope.abs() <= -c2 * slope0 {
                return Found::Step(ft);
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
        return Found::Step(ft);
    }
    Found::Nothing
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
