//! The default for a small constrained problem whose Hessian of the
//! Lagrangian is not compiled (an indexed formula: a `param` line, arrays
//! of variables, sums): the augmented Lagrangian, and SQP where it fails.
//!
//! Such a problem goes to the augmented Lagrangian by default, as SQP
//! would model its Hessian by damped BFGS. But some problems the augmented
//! Lagrangian cannot solve and SQP can: one whose f falls faster than the
//! penalty grows away from the constraints (`Σ x[i]³` with `x[i] >= -1`,
//! where the run says "unbounded below away from the constraints ... SQP
//! may"). There, as the default for a scalar problem hands a failed SQP
//! run to the augmented Lagrangian (`sqp/chain.rs`), this hands a failed
//! augmented Lagrangian to SQP, with its saddle escapes, from the same
//! start; the answer is SQP's where SQP converged, else the augmented
//! Lagrangian's, with both runs' work counted.

use super::{Auglag, ConstrainedOutcome, minimize_constrained};
use crate::error::Result;
use crate::optim::Settings;
use crate::optim::Sqp;
use crate::optim::outcome::Reason;
use crate::optim::second_order::escape_saddles;
use crate::optim::sqp::checked_run;
use crate::problem::ConstrainedObjective;

/// The augmented Lagrangian ([`minimize_constrained`]); where it ends
/// stalled, out of iterations or infeasible, SQP from `start`, and again
/// from a step off each saddle it stops at (see the module docs). The
/// second value says whether SQP's answer was taken.
///
/// ```
/// use slope::{Auglag, Reason, Settings, Sqp};
/// // x³ falls faster than the penalty of x >= -1 grows beyond it: the
/// // augmented Lagrangian stalls, and SQP finds the minimum at -1.
/// let f = slope::Formula::parse("var x[1..1]\nx[1]^3\nsubject to x[1] >= -1")?;
/// let mut p = f.compile_problem()?;
/// let settings = Settings::default();
/// let alone = slope::minimize_constrained(&mut p, &[-0.5], &settings, &Auglag::default())?;
/// assert_eq!(alone.outcome.reason, Reason::Stalled);
/// let (out, sqp) = slope::minimize_auglag_or_sqp(&mut p, &[-0.5], &settings, &Auglag::default(), &Sqp::default())?;
/// assert!(sqp && out.outcome.reason == Reason::Kkt);
/// assert!((out.outcome.f + 1.0).abs() < 1e-8);
/// # Ok::<(), slope::Error>(())
/// ```
pub fn minimize_auglag_or_sqp(
    problem: &mut dyn ConstrainedObjective,
    start: &[f64],
    settings: &Settings,
    auglag: &Auglag,
    sqp: &Sqp,
) -> Result<(ConstrainedOutcome, bool)> {
    let mut first = minimize_constrained(problem, start, settings, auglag)?;
    if !matches!(
        first.outcome.reason,
        Reason::Stalled | Reason::MaxIter | Reason::Infeasible
    ) {
        return Ok((first, false));
    }
    let (run, direction) = checked_run(problem, start, settings, sqp)?;
    let (mut second, _) = escape_saddles(run, direction, start, settings.constraints(), |at| {
        checked_run(problem, at, settings, sqp)
    })?;
    if second.converged() {
        second.outcome.add_counts(&first.outcome);
        return Ok((second, true));
    }
    first.outcome.add_counts(&second.outcome);
    Ok((first, false))
}
