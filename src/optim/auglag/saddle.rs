//! The augmented Lagrangian's answer tested for a saddle, and left if it
//! is one.
//!
//! The inner L-BFGS-B stops where the gradient of the augmented Lagrangian
//! vanishes, and the outer loop where the KKT test passes; neither looks
//! at curvature. Started on a symmetry plane of the problem the run stays
//! on it, and ends at whatever KKT point the plane holds: HS33 from
//! (0, 0, 3) ends at (0, 0, 2), f = -4, where the bound `x2 >= 0` holds
//! with a zero multiplier and f falls along the sphere off it (to -4.5858
//! at (0, √2, √2)). So a run that ends as `kkt` is tested as SQP's is
//! ([`negative_curvature`], on the compiled Hessian of the Lagrangian at
//! the final point and multipliers, with the active set the final
//! constraint values and bounds give), and a saddle is reported as one.
//!
//! The run then goes on, as the default chain does after SQP: a user who
//! asked for the augmented Lagrangian asked for a minimum, and the test
//! has just handed over a direction that lowers f while the active
//! constraints allow it. A fresh run starts a step along it (a tenth of
//! `max(1, ‖x‖∞)`, projected onto the bounds), up to `MAX_ESCAPES`
//! times; the last saddle is reported if the runs keep finding one. The
//! step gives the inner solver a nonzero gradient to follow, which the
//! saddle's symmetry denied it. The fresh run starts its multipliers and
//! penalty afresh: the old ones belong to the saddle's active set, which
//! the step leaves. Every run's evaluations, iterations and Hessians count
//! in the one outcome.
//!
//! Where the Hessian is flat along a direction the constraints allow,
//! the Lagrangian is asked along it, as SQP's test does (`flat_fall`).
//!
//! Where no Hessian is compiled (an indexed formula's constraints, which
//! are interpreted row by row, or a node limit), the Hessian of the
//! Lagrangian comes from differences of its exact gradient
//! (`second_order/differences.rs`, `2n` evaluations, counted), and the
//! test is the same. There is no test past [`DENSE_TEST_MAX_VARS`]
//! variables; the verdict stays `kkt`.

use super::{Auglag, ConstrainedOutcome, run};
use crate::constraint::ConstraintKind;
use crate::optim::Settings;
use crate::optim::outcome::{Outcome, Reason};
use crate::optim::second_order::{
    DENSE_TEST_MAX_VARS, KktPoint, escape_saddles, flat_fall, kkt_or_saddle,
    lagrangian_hessian_by_differences, negative_curvature,
};
use crate::problem::ConstrainedObjective;

/// [`run`], with each answer that passed the KKT test tested for a saddle
/// and left along its direction of negative curvature (see the module
/// docs).
pub(super) fn run_off_saddles(
    problem: &mut dyn ConstrainedObjective,
    start: &[f64],
    settings: &Settings,
    auglag: &Auglag,
) -> ConstrainedOutcome {
    // A run, and its answer tested: a saddle is reported as one, with the
    // direction to leave it along.
    let tested = |problem: &mut dyn ConstrainedObjective, at: &[f64]| {
        let mut out = run(problem, at, settings, auglag);
        let saddle = match out.outcome.reason {
            Reason::Kkt => negative_curvature_at(problem, &mut out, settings),
            _ => None,
        };
        if saddle.is_some() {
            (out.outcome.reason, out.outcome.message) = kkt_or_saddle(saddle.as_ref());
        }
        (out, saddle.map(|(_, d)| d))
    };
    let (first, direction) = tested(problem, start);
    escape_saddles(first, direction, start, settings.constraints(), |at| {
        Ok::<_, std::convert::Infallible>(tested(problem, at))
    })
    .map_or_else(|never| match never {}, |(out, _)| out)
}

/// The second-order test at the end of `out` (see the module docs): a
/// unit direction the active constraints allow along which the Hessian of
/// the Lagrangian is negative, with its curvature; `None` where there is
/// none or no test. The evaluations (the Jacobian's, the differences')
/// and the Hessian are counted in `out`.
fn negative_curvature_at(
    problem: &mut dyn ConstrainedObjective,
    out: &mut ConstrainedOutcome,
    settings: &Settings,
) -> Option<(f64, Vec<f64>)> {
    let n = out.outcome.x.len();
    if n > DENSE_TEST_MAX_VARS {
        return None;
    }
    // A Hessian that cannot be built (a node limit) is no error here: the
    // Hessian comes from differences of the gradient instead.
    let exact = problem.prepare_lagrangian_hessian().unwrap_or(false);
    let m = out.constraints.len();
    let x = out.outcome.x.clone();
    let lambda = out.multipliers.clone();
    let kinds = problem.kinds().to_vec();
    // The dense Jacobian, from one more evaluation.
    let (mut grad, mut c) = (vec![0.0; n], vec![0.0; m]);
    let (_, jac) = dense_eval(problem, &x, &mut grad, &mut c, &mut out.outcome);
    if (jac.iter().chain(&grad)).any(|v| !v.is_finite()) {
        return None;
    }
    let at = KktPoint {
        x: &x,
        grad: &grad,
        c: &c,
        jac: &jac,
        lambda: &lambda,
        kinds: &kinds,
        bounds: settings.constraints(),
    };
    let (mut g, mut q) = (vec![0.0; n], vec![0.0; m]);
    let hessian = if exact {
        let mut hessian = vec![0.0; n * n];
        if !problem.lagrangian_hessian(&x, &lambda, &mut hessian) {
            return None;
        }
        out.outcome.hessian_evaluations += 1;
        hessian
    } else {
        lagrangian_hessian_by_differences(&at, |p| {
            let (_, jac) = dense_eval(problem, p, &mut g, &mut q, &mut out.outcome);
            (g.clone(), jac)
        })?
    };
    if hessian.iter().any(|v| !v.is_finite()) {
        return None;
    }
    if let Some(found) = negative_curvature(&at, &hessian) {
        return Some(found);
    }
    // Flat: the Lagrangian along the flat direction, as SQP asks it
    // (`sqp.rs`), each evaluation counted.
    let lagrangian = |p: &[f64]| {
        let (f, _) = dense_eval(problem, p, &mut g, &mut q, &mut out.outcome);
        let l = f + (lambda.iter().zip(&q)).map(|(l, c)| l * c).sum::<f64>();
        let feasible = (0..kinds.len())
            .filter(|&i| kinds[i] == ConstraintKind::Inequality && lambda[i] == 0.0)
            .all(|i| q[i] <= c[i].max(0.0) + 1e-8 * c[i].abs().max(1.0));
        (l.is_finite() && feasible).then_some(l)
    };
    flat_fall(&at, &hessian, lagrangian).map(|d| (0.0, d))
}

/// One evaluation at `p`, counted in `outcome`: f, with `∇f` written to
/// `grad` and the constraints' values to `c`, and the dense Jacobian
/// (`m × n`).
fn dense_eval(
    problem: &mut dyn ConstrainedObjective,
    p: &[f64],
    grad: &mut [f64],
    c: &mut [f64],
    outcome: &mut Outcome,
) -> (f64, Vec<f64>) {
    let n = p.len();
    let pattern = problem.jacobian_pattern().to_vec();
    let mut entries = vec![0.0; pattern.len()];
    let f = problem.eval(p, grad, c, &mut entries);
    outcome.evaluations += 1;
    outcome.gradient_evaluations += 1;
    let mut jac = vec![0.0; c.len() * n];
    for (&(i, j), &v) in pattern.iter().zip(&entries) {
        jac[i * n + j] += v;
    }
    (f, jac)
}
