//! How a run's stop is told: the verdict after a search that found no
//! acceptable step, and what the end of a run makes of any stop — the
//! saddle test, the walk off to infinity, the look beside a point of an f
//! with kinks, a lower point that shows the stop came short (the run goes
//! on from it), and a steep gradient at a stop for lack of progress.

use super::Advice;
use super::beside::lower_beside;
use super::context::Context;
use super::outcome::Reason;
use super::pole::unbounded_beside_a_pole;
use super::saddle::{Verdict, saddle};
use super::stopped_short::{Probe, steep, stopped_short};
use super::walk::{falls_down_the_gradient, runs_off};

/// How a run ended.
pub(super) struct Stop {
    pub reason: Reason,
    pub message: String,
    pub advice: Option<Advice>,
    /// Report the last finite iterate rather than the current point.
    pub back_to_last: bool,
    /// A lower point the stop's own diagnosis found, for the run to go on
    /// from (`stopped_short`).
    pub lower: Option<Probe>,
}

impl Stop {
    pub fn new(reason: Reason, message: String) -> Stop {
        Stop {
            reason,
            message,
            advice: None,
            back_to_last: false,
            lower: None,
        }
    }

    pub fn converged(reason: Reason) -> Stop {
        Stop::new(reason, reason.explanation().to_string())
    }

    pub fn diagnosed(reason: Reason, (message, advice): (String, Option<Advice>)) -> Stop {
        Stop {
            advice,
            ..Stop::new(reason, message)
        }
    }
}

/// The stop after a search found no acceptable step from `x` (value `f`,
/// gradient `grad`), once a walk down the gradient has asked whether f is
/// lower a little way on: f fell to −∞ (`unbounded`), or falls without
/// bound towards a pole beside a steep point (`unbounded`, `pole.rs`),
/// else `stalled`, with what the trials say of why.
pub(super) fn failed_search(ctx: &mut Context<'_>, x: &[f64], f: f64, grad: &[f64]) -> Stop {
    let lower = falls_down_the_gradient(ctx, x, f, grad);
    // A trial of the search, or of that walk, gave f = −∞.
    if ctx.fell_to_minus_infinity {
        return Stop::new(
            Reason::Unbounded,
            "f fell to -∞ a step from here: it has no lower bound near the last point".to_string(),
        );
    }
    if steep(ctx.settings, x, f, grad).is_some()
        && let Some(why) = unbounded_beside_a_pole(ctx, x, f, grad)
    {
        return Stop::new(Reason::Unbounded, why);
    }
    // The domain's edge only where a trial gave NaN: f = x^2 has none,
    // though its trials may overflow.
    match (lower, ctx.left_the_domain) {
        (true, true) => Stop::new(
            Reason::Stalled,
            "no acceptable step was found, though f still falls a little way down the \
             gradient: the point may be at the edge of the formula's domain (f not finite \
             beyond it), where f may have no lower bound"
                .to_string(),
        ),
        // The run goes on from the walk's lower point (`x` from 1e25: a
        // unit step is lost to rounding).
        (true, false) => Stop {
            lower: ctx.lowest_probe.take(),
            ..Stop::new(
                Reason::Stalled,
                "no acceptable step was found, though f still falls a little way \
                 down the gradient: along the line search's trials (none of them \
                 NaN) f never fell by the fraction of what the gradient promised \
                 that a step needs, so the gradient may be wrong, or f rough at \
                 this scale"
                    .to_string(),
            )
        },
        (false, _) => Stop::new(
            Reason::Stalled,
            "no step along the search direction lowers f: the point is as good as \
             floating-point precision allows, or the gradient is wrong"
                .to_string(),
        ),
    }
}

/// What the end of a run makes of `stop` at `x` (value `f`, gradient
/// `grad`): the stop, perhaps turned into another verdict, and the lower
/// point to go on from where one shows that the run stopped short.
pub(super) fn judge(
    ctx: &mut Context<'_>,
    mut stop: Stop,
    (x, f): (&[f64], f64),
    grad: &[f64],
    check_saddle: bool,
) -> (Stop, Option<Probe>) {
    ctx.lowest_probe = stop.lower.take();
    let verdict = match check_saddle && stop.reason.converged() {
        true => saddle(ctx, x, f, grad),
        false => Verdict::Minimum,
    };
    let stop = match verdict {
        Verdict::Saddle { flat: false } => Stop::converged(Reason::Saddle),
        // No negative eigenvalue: `x^3` or `x^2 - y^4` at the origin.
        Verdict::Saddle { flat: true } => Stop::new(
            Reason::Saddle,
            "the gradient vanishes and the Hessian is flat along a direction, but f falls \
             along it at higher order: a saddle or a maximum, not a minimum"
                .to_string(),
        ),
        Verdict::Doubtful(downhill) if runs_off(ctx, x, f, grad, downhill.as_ref()) => Stop::new(
            Reason::Unbounded,
            "the gradient is small here, but f kept falling, never rising, along a walk downhill \
             that grew its step tenfold until the point passed 1e20: no minimum is attained (f \
             has no lower bound, or nears one it never reaches)"
                .to_string(),
        ),
        _ => stop,
    };
    // f lower right beside a converged point of an f with kinks or steps
    // (a step the gradient cannot see), else lower where the end-of-run
    // tests probed.
    let beside = match stop.reason.converged() && stop.reason != Reason::Saddle {
        true => lower_beside(ctx, x, f, grad),
        false => None,
    };
    let lowest = ctx.lowest_probe.take();
    let lower = beside.or_else(|| stopped_short(stop.reason, x, f, lowest, ctx.settings));
    if lower.is_some() || !matches!(stop.reason, Reason::Ftol | Reason::FtolRel) {
        return (stop, lower);
    }
    // A stop for lack of progress where the gradient says f should fall
    // fast is no convergence: f falls without bound towards a pole there,
    // or is rough.
    let Some(slope) = steep(ctx.settings, x, f, grad) else {
        return (stop, None);
    };
    let stop = match unbounded_beside_a_pole(ctx, x, f, grad) {
        Some(why) => Stop::new(Reason::Unbounded, why),
        None => Stop::new(
            Reason::Stalled,
            format!(
                "f stopped falling ({} met), though its gradient says a step of max(1, |x|) in \
                 one variable would change it by {} times |f|: f is rough or singular here (a \
                 pole, say), and this is no minimum",
                stop.reason.name(),
                crate::print::format_number(slope),
            ),
        ),
    };
    (stop, None)
}
