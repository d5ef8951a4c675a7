//! The default for small constrained problems: SQP, SQP again from a
//! step off a saddle it stopped at, and the augmented Lagrangian where SQP
//! itself fails, with every run's work counted in the one outcome.

use super::checked_run;
use crate::constraint::ConstraintKind;
use crate::error::Result;
use crate::optim::outcome::Reason;
use crate::optim::second_order::escape_saddles;
use crate::optim::{ConstrainedOutcome, Settings};
use crate::problem::ConstrainedObjective;

use super::Sqp;

/// The most variables plus constraint rows for which `slope min` (and
/// Python's `slope.minimize`) pick SQP by default: its dense subproblems
/// cost (n + m)³ per step, so larger problems go to the augmented
/// Lagrangian.
pub const SQP_MAX_SIZE: usize = 200;

/// SQP; from a saddle, SQP again from a point a step along the direction
/// of negative curvature the second-order test found (up to three times);
/// and where SQP ends stalled, out of iterations or infeasible (its
/// subproblems or its line search failed, or its infeasibility test,
/// which probes less than the augmented Lagrangian's, fired) the augmented
/// Lagrangian ([`minimize_constrained`](crate::minimize_constrained)) from
/// where the last SQP run began: the default of `slope min` for small
/// problems. Of SQP's run and the augmented Lagrangian's, the outcome is
/// the better verdict: the augmented Lagrangian's where it converged or
/// found f unbounded on the feasible set; else a point that meets the
/// constraints (within the feasibility tolerance, in each row's unit)
/// before one that does not — a feasible point is never dropped for an
/// `infeasible` verdict — and of two such points the lower; where neither
/// meets them, the augmented Lagrangian's. Every run's evaluations,
/// iterations and Hessians are counted in it; `settings.method` must be L-BFGS (the
/// augmented Lagrangian's inner solver).
///
/// ```
/// use slope::{Auglag, Reason, Settings, Sqp};
/// let f = slope::Formula::parse("(x - 2)^2 + (y - 1)^2\nsubject to x + y <= 2")?;
/// let mut p = f.compile_problem()?;
/// let out = slope::minimize_sqp_or_auglag(&mut p, &[0.0, 0.0], &Settings::default(), &Sqp::default(), &Auglag::default())?;
/// assert_eq!(out.0.outcome.reason, Reason::Kkt);
/// assert!(!out.1, "SQP solved it alone");
///
/// // The origin is a maximum of -x² - y² on the line x + y = 0: SQP stops
/// // there as a saddle, and the default leaves it for a corner of the box.
/// let g = slope::Formula::parse("-x^2 - y^2\nsubject to x + y == 0")?;
/// let settings = Settings { bounds: Some(vec![(-1.0, 1.0); 2]), ..Settings::default() };
/// let mut p = g.compile_problem()?;
/// let alone = slope::minimize_sqp(&mut p, &[0.0, 0.0], &settings, &Sqp::default())?;
/// assert_eq!(alone.outcome.reason, Reason::Saddle);
/// let out = slope::minimize_sqp_or_auglag(&mut p, &[0.0, 0.0], &settings, &Sqp::default(), &Auglag::default())?;
/// assert_eq!(out.0.outcome.reason, Reason::Kkt);
/// assert!((out.0.outcome.f + 2.0).abs() < 1e-8);
/// # Ok::<(), slope::Error>(())
/// ```
///
/// The second value says whether the augmented Lagrangian took over.
pub fn minimize_sqp_or_auglag(
    problem: &mut dyn ConstrainedObjective,
    start: &[f64],
    settings: &Settings,
    sqp: &Sqp,
    auglag: &crate::optim::Auglag,
) -> Result<(ConstrainedOutcome, bool)> {
    let (first, direction) = checked_run(problem, start, settings, sqp)?;
    let (last, began) = escape_saddles(first, direction, start, settings.constraints(), |at| {
        checked_run(problem, at, settings, sqp)
    })?;
    if !matches!(
        last.outcome.reason,
        Reason::Stalled | Reason::MaxIter | Reason::Infeasible
    ) {
        return Ok((last, false));
    }
    let mut second = crate::optim::minimize_constrained(problem, &began, settings, auglag)?;
    let kinds = problem.kinds();
    if keeps_first(
        &last,
        &second,
        kinds,
        sqp.feasibility_tol,
        auglag.feasibility_tol,
    ) {
        let mut first = last;
        first.outcome.add_counts(&second.outcome);
        return Ok((first, false));
    }
    second.outcome.add_counts(&last.outcome);
    second.outcome.moved_start = last.outcome.moved_start;
    Ok((second, true))
}

/// Whether the hand-over reports SQP's run (`first`) rather than the
/// augmented Lagrangian's (`second`), both having ended short of a
/// verified minimum on SQP's side: the better verdict of the two.
/// `second`'s is kept when it converged or found f unbounded where the
/// constraints are (nearly) met — SQP's iteration limit or stalled step
/// says nothing against either — and otherwise feasibility comes first,
/// then f: SQP's point is kept when it met the constraints (within the
/// feasibility tolerance, in each row's unit) and `second`'s did not, or
/// `second`'s is no lower. Where neither point is feasible, `second`'s
/// verdict stands: its infeasibility test probes further than SQP's.
fn keeps_first(
    first: &ConstrainedOutcome,
    second: &ConstrainedOutcome,
    kinds: &[ConstraintKind],
    first_tol: f64,
    second_tol: f64,
) -> bool {
    if second.converged() || second.outcome.reason == Reason::Unbounded {
        return false;
    }
    let feasible = |run: &ConstrainedOutcome, tol: f64| {
        (0..kinds.len()).all(|i| !run.violated(kinds[i], i, tol))
    };
    if !feasible(first, first_tol) {
        return false;
    }
    // Not `>=`: a NaN f in `second` keeps SQP's point.
    !(feasible(second, second_tol) && second.outcome.f < first.outcome.f)
}
