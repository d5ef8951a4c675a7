//! Whether a stop came short of the minimum, as the end of a run asks
//! (`minimize.rs`): the lowest point the end-of-run tests probed may lie
//! too far below, or too far off, for the stopping test that fired to be
//! convergence (the run then goes on from it), and a stop for lack of
//! progress where the gradient is steep is none.

use super::Settings;
use super::outcome::Reason;
use super::vector::{held, is_finite};

/// A point an end-of-run test evaluated: where, f and the gradient there.
pub(super) struct Probe {
    pub x: Vec<f64>,
    pub f: f64,
    pub grad: Vec<f64>,
}

/// The gradient over the variables no bound holds, zero where one does.
pub(super) fn free_gradient(settings: &Settings, x: &[f64], grad: &[f64]) -> Vec<f64> {
    let bounds = settings.constraints();
    let free = |i: usize| bounds.is_none_or(|b| !held(x[i], grad[i], b[i], 0.0));
    (0..x.len())
        .map(|i| if free(i) { grad[i] } else { 0.0 })
        .collect()
}

/// The largest `|gᵢ|·max(1, |xᵢ|)` over the variables no bound holds,
/// relative to `max(1, |f|)`: how much f would change, relative to its
/// size, at first order, by a step of `max(1, |xᵢ|)` in one variable.
fn relative_slope(settings: &Settings, x: &[f64], f: f64, grad: &[f64]) -> f64 {
    let free = free_gradient(settings, x, grad);
    let largest = (x.iter().zip(&free)).fold(0.0f64, |m, (x, g)| m.max(g.abs() * x.abs().max(1.0)));
    largest / f.abs().max(1.0)
}

/// [`relative_slope`] above which a stop for lack of progress (`ftol`,
/// `ftol-rel`) is no convergence: on the MGH sets and their boxes such
/// stops at a minimum have at most 2e-3; Meyer's in its box stopped at
/// f = 1.12e5 with 5.1 (the run goes on from there: [`stopped_short`]);
/// `-1/x^2` near its pole at x = -7.5e-65, where f = -1.8e128, with 2.7e64
/// (that run is now `unbounded`: `pole.rs`).
const STEEP: f64 = 1.0;

/// The [`relative_slope`] at a point where a run stopped for lack of
/// progress (`ftol`, `ftol-rel`, or a failed search), where it is above
/// [`STEEP`]: no convergence.
pub(super) fn steep(settings: &Settings, x: &[f64], f: f64, grad: &[f64]) -> Option<f64> {
    Some(relative_slope(settings, x, f, grad)).filter(|&s| s > STEEP)
}

/// The lowest point the end-of-run tests probed, where it shows that the
/// run stopped short of the minimum; the run then goes on from there.
/// Where the run stopped for lack of progress (`ftol`, `ftol-rel`), a
/// point lower by more than the stop counted as small shows it: Meyer's
/// function in its box stopped by `ftol-rel` at f = 112123 (where scipy's
/// L-BFGS-B stops too), while the saddle test's walk along its flattest
/// direction found 111690; the minimum there is 31190. Where it stopped
/// for a small gradient or step (`gtol`, `xtol`), a lower point at least
/// [`FAR`] away, scaled by `max(1, |xᵢ|)`, shows it: `exp(x)` in `x ≥
/// -30` stopped by `gtol` at x = -18.9 (gradient 6e-9), while the walk
/// found f lower at the bound. Nearer points do not: `x⁴` stopped by
/// `gtol` at 1.3e-3 is lower 1e-3 further on, as close as that test asks.
pub(super) fn stopped_short(
    reason: Reason,
    x: &[f64],
    f: f64,
    lowest: Option<Probe>,
    settings: &Settings,
) -> Option<Probe> {
    let lowest = lowest?;
    let size = f.abs().max(lowest.f.abs());
    let small = match reason {
        Reason::FtolRel => settings.ftol_rel? * size,
        Reason::Ftol => settings.ftol?,
        Reason::Gtol | Reason::Xtol => {
            let far =
                (x.iter().zip(&lowest.x)).any(|(a, b)| (a - b).abs() > FAR * a.abs().max(1.0));
            if !far {
                return None;
            }
            Settings::FTOL_REL * size
        }
        // A failed search whose walk down the gradient found f lower.
        Reason::Stalled => 0.0,
        _ => return None,
    };
    (is_finite(lowest.f, &lowest.grad) && f - lowest.f > small).then_some(lowest)
}

/// How far (scaled by `max(1, |xᵢ|)`) a lower point must be from where a
/// run stopped for a small gradient or step to show that it stopped short
/// ([`stopped_short`]): beyond the end-of-run walk's second probe (10⁻²).
const FAR: f64 = 0.02;
