//! Whether a converged point of an f with kinks or steps has f lower right
//! beside it. The gradient and the curvature at a point say nothing of a
//! step there: `floor(x) + x^2` converges at 0, where its gradient
//! (floor's is 0) and curvature (2) describe a minimum, and f is −1 just
//! left of it; `sign(x)` likewise. Where the objective has such functions
//! ([`Objective::has_kinks`](crate::Objective::has_kinks)), the end of a
//! converged run evaluates f a little way either side of the point along
//! each variable, and a value lower than the gradient allows for shows
//! that the run stopped short (it goes on from there: `minimize.rs`).

use super::context::Context;
use super::stopped_short::Probe;

/// The most variables whose two sides are looked at (two evaluations
/// each): past it the look would cost more than a run of a small formula.
const MAX_VARS: usize = 100;

/// How far to either side, relative to `max(1, |xᵢ|)`: beyond the
/// rounding of the point, near enough that f's smooth part barely moves.
const STEP: f64 = 1e-7;

/// The lowest point `x ± h·eᵢ` where f is lower than at `x` (value `f`,
/// gradient `grad`) by more than the gradient and rounding allow for,
/// if f has kinks or steps and at most [`MAX_VARS`] variables.
pub(super) fn lower_beside(
    ctx: &mut Context<'_>,
    x: &[f64],
    f: f64,
    grad: &[f64],
) -> Option<Probe> {
    if !ctx.objective.has_kinks() || x.len() > MAX_VARS {
        return None;
    }
    let mut lowest: Option<Probe> = None;
    let mut probe = x.to_vec();
    let mut probe_grad = vec![0.0; x.len()];
    for i in 0..x.len() {
        let h = STEP * x[i].abs().max(1.0);
        for side in [-1.0, 1.0] {
            probe[i] = x[i] + side * h;
            if let Some(bounds) = ctx.bounds() {
                probe[i] = probe[i].clamp(bounds[i].0, bounds[i].1);
            }
            if probe[i] == x[i] {
                continue;
            }
            let value = ctx.probe(&probe, &mut probe_grad);
            let allowed = grad[i].abs() * h + 4.0 * f64::EPSILON * f.abs();
            let best = lowest.as_ref().map_or(f - allowed, |p| p.f);
            if value.is_finite() && value < best {
                lowest = Some(Probe {
                    x: probe.clone(),
                    f: value,
                    grad: probe_grad.clone(),
                });
            }
        }
        probe[i] = x[i];
    }
    lowest
}
