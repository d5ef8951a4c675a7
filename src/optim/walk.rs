//! The walks that tell, where a run stopped, whether f still falls
//! beyond the point: down the gradient after a failed search (a stall
//! that is no lack of descent), and off towards infinity where the
//! curvature at a converged point could not vouch for a minimum
//! (`unbounded`: no minimum is attained). Both probe `x + t·d` with a
//! growing `t` ([`walk`]).

use super::context::Context;
use super::minimize::UNBOUNDED_X;
use super::saddle::Downhill;
use super::vector::{dot, largest};

/// Whether f is lower a short way down the gradient from `x` (from a
/// millionth of the point's size): then a stalled search did not stop for
/// lack of descent, and its message should not blame the gradient. Where
/// f stays level (rounding's steps, as `ln(exp(x) + exp(y))` near
/// x = y = −744, where `exp` is subnormal), the walk doubles its step while
/// f stays level, at most 64 times, so that an f falling to −∞ further on
/// is seen (in [`Context::value_grad`]).
pub(super) fn falls_down_the_gradient(
    ctx: &mut Context<'_>,
    x: &[f64],
    f: f64,
    grad: &[f64],
) -> bool {
    let (down, first) = down_the_gradient(grad, 1e-6 * largest(x).max(f64::MIN_POSITIVE));
    walk(ctx, x, f, &down, (first, 2.0, 64), &[], |_, value, _| {
        value == f
    })
    .is_some_and(|(value, _)| value.is_finite() && value < f)
}

/// Whether f keeps falling as the point runs off to infinity from the
/// converged point `x` (value `f`), where the curvature could not vouch for
/// a minimum: a walk from `x` grows its step tenfold while f neither rises
/// nor stays level at `f` (level where the gradient promises a fall too
/// small to show beside f's rounding counts as falling), and f either reaches −∞ or is still lower than
/// at `x` where the walk passes [`UNBOUNDED_X`] (the growth test's bound).
/// It goes first along the flattest direction downhill, from the saddle
/// test's probes there (`exp(-x) + y²` runs off along x alone: down the
/// gradient, whose y part is 6e-11 of its x part, y² rises again at
/// x = 1e10); where f stays level along it (the valley of `exp(-x-y)`,
/// along x − y), down the gradient, from a thousandth of `max(1, ‖x‖∞)`.
/// Beside a minimum f rises once a walk passes it: at the first probe
/// where the curvature is what the saddle test calls small (the probe is
/// at least twice as far as the model's minimum), at the flat probe's own
/// points or one more beside a flat one (`x⁴` at 1.3e-3: one more).
pub(super) fn runs_off(
    ctx: &mut Context<'_>,
    x: &[f64],
    f: f64,
    grad: &[f64],
    downhill: Option<&Downhill>,
) -> bool {
    let along = downhill.map(|d| {
        let slope = dot(grad, &d.direction);
        walk_off(ctx, x, f, (&d.direction, slope), 1e-3, &d.known)
    });
    if along.is_some_and(|ended| ended != Ended::Level) {
        return along == Some(Ended::Runaway);
    }
    let (down, first) = down_the_gradient(grad, 1e-3 * largest(x).max(1.0));
    let slope = dot(grad, &down);
    walk_off(ctx, x, f, (&down, slope), first, &[]) == Ended::Runaway
}

/// The direction down the gradient, and the step along it that moves the
/// point by `reach` in its largest component.
fn down_the_gradient(grad: &[f64], reach: f64) -> (Vec<f64>, f64) {
    let down = grad.iter().map(|v| -v).collect();
    (down, reach / largest(grad))
}

/// How a walk of [`runs_off`] ended.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Ended {
    /// f fell to −∞, or fell, never rising, until the point passed
    /// [`UNBOUNDED_X`].
    Runaway,
    /// f rose (or was not a number), or the box stopped the walk.
    Rose,
    /// f stayed level at its value at the start.
    Level,
}

/// A walk of [`runs_off`] from `x` along `direction`, from step `first`
/// (f's values at the first probes `known` where given).
fn walk_off(
    ctx: &mut Context<'_>,
    x: &[f64],
    f: f64,
    (direction, slope): (&[f64], f64),
    first: f64,
    known: &[f64],
) -> Ended {
    let (mut rose, mut level) = (false, false);
    let mut t = first;
    // From 1e-3 to past 1e20 takes 23 probes; a walk held by a bound
    // stops where its probe no longer moves. f level at a probe where the
    // gradient promises a fall (`slope`, f's derivative along the
    // direction) too small to show beside f's rounding is no level
    // stretch: the walk goes on (`(x - 1e20)^2` at x = 2, where f = 1e40
    // stays 1e40 out to a step of 1e4).
    let walked = walk(
        ctx,
        x,
        f,
        direction,
        (first, 10.0, 30),
        known,
        |last, value, reach| {
            let unseen = slope < 0.0 && -slope * t < 4.0 * f64::EPSILON * f.abs();
            t *= 10.0;
            rose = value > last || value.is_nan();
            level = value == f && !unseen;
            !rose && !level && value > f64::NEG_INFINITY && reach <= UNBOUNDED_X
        },
    );
    match walked {
        Some((value, _)) if value == f64::NEG_INFINITY => Ended::Runaway,
        Some((value, reach)) if !rose && !level && value < f && reach > UNBOUNDED_X => {
            Ended::Runaway
        }
        _ if level => Ended::Level,
        _ => Ended::Rose,
    }
}

/// Walks from `x` (value `f`) along `direction`: probes `x + t·direction`
/// (kept in the box) for `t` from `first`, growing by `growth`, while
/// `go_on(last value, value, largest |coordinate|)` holds (the last value
/// is `f` for the first probe), for at most `probes` probes, or until the
/// box stops the probe moving. The first probes' values are `known` where
/// given. The last probe's value and largest |coordinate|; `None` where
/// the walk cannot start (a step not finite and positive). The stalled
/// diagnosis and the runaway test walk so.
pub(super) fn walk(
    ctx: &mut Context<'_>,
    x: &[f64],
    f: f64,
    direction: &[f64],
    (first, growth, probes): (f64, f64, usize),
    known: &[f64],
    mut go_on: impl FnMut(f64, f64, f64) -> bool,
) -> Option<(f64, f64)> {
    if !(first > 0.0 && first.is_finite()) {
        return None;
    }
    let mut t = first;
    let mut probe = vec![0.0; x.len()];
    let mut before = x.to_vec();
    let mut scratch = vec![0.0; x.len()];
    let mut last = f;
    let mut walked = None;
    for k in 0..probes {
        for (i, p) in probe.iter_mut().enumerate() {
            *p = x[i] + t * direction[i];
            if let Some(bounds) = ctx.bounds() {
                *p = p.clamp(bounds[i].0, bounds[i].1);
            }
        }
        if k > 0 && probe == before {
            break;
        }
        let value = match known.get(k) {
            Some(&value) => value,
            None => ctx.probe(&probe, &mut scratch),
        };
        let reach = probe.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        walked = Some((value, reach));
        if !go_on(last, value, reach) {
            break;
        }
        last = value;
        before.copy_from_slice(&probe);
        t *= growth;
    }
    walked
}
