//! Constrained minimisation by sequential quadratic programming, for
//! problems of modest size (dense matrices of n + m rows), with the exact
//! Hessian of the Lagrangian where it is compiled.
//!
//! Each iteration at `x` with multipliers `λ`:
//!
//! 1. **Model.** `B`, the Hessian of the Lagrangian `∇²f + Σ λ_i ∇²g_i`
//!    (compiled with the multipliers as inputs, `problem/lagrangian.rs`),
//!    made positive definite where it is not: first by adding
//!    `ρ·A_Aᵀ A_A` for the rows `A_A` of the constraints and bounds that are
//!    active or violated (or have a multiplier above 1e-8: not the
//!    interior point's 1e-13 on rows that hold with room, whose rows
//!    would span the space and shrink every step, HS15), which leaves the step unchanged where those rows
//!    hold in the subproblem and succeeds whenever the Hessian is positive
//!    definite on their null space (the second-order condition), then, if
//!    that is not enough, by a multiple of the identity (as Ipopt's inertia
//!    correction). Without a compiled Hessian, `B` is a BFGS approximation
//!    with Powell's damping (as SLSQP's).
//! 2. **Subproblem.** Fletcher's Sℓ1QP: `min ½dᵀBd + ∇fᵀd + μ Σ t_i` with
//!    `g_i + ∇g_iᵀd <= t_i` (inequalities), `|g_i + ∇g_iᵀd| <= t_i`
//!    (equalities), `t >= 0` and the bounds on `x + d`, solved by the
//!    interior-point method of `qp.rs`. It always has a solution; where the
//!    linearised constraints are consistent and `μ` exceeds the
//!    multipliers, it is the ordinary SQP step (`t = 0`). When `t > 0` the
//!    elastic weight `μ` grows tenfold, up to [`Sqp::max_penalty`]; at that
//!    limit the step minimises the linearised violation (the feasibility
//!    phase). The subproblem's multipliers are the new `λ`. Where no
//!    subproblem can be solved (the interior point fails on a model nearly
//!    flat along a direction the linearised constraints leave open: a
//!    linear f gives `B = 1e-4·I` and a step 1e4 long, HS10 and HS83 at
//!    their starts), `B + τI` with `τ` growing a hundredfold, up to
//!    `100·max|B|`, a shorter step as a trust region would take.
//! 3. **Merit and line search.** The ℓ1 merit `f + ν Σ |violation_i|`, with
//!    `ν` at least 1.5 times the largest multiplier (raised, never
//!    lowered), and a backtracking (Armijo) search from the full step.
//!    When the full step is refused, a second-order correction (one more
//!    subproblem with the constraints' values at `x + d`, as filterSQP's)
//!    is tried first, against the Maratos effect: near a curved constraint
//!    the full step raises the violation quadratically and the merit
//!    refuses it although it is the step to take.
//!
//! f and the constraints are scaled as in the augmented Lagrangian (a
//! function whose gradient at the start exceeds 100 is divided down to
//! 100, Ipopt's rule); the tests and the report are in the problem's own
//! units. Stops: [`Reason::Kkt`] by the same test as the augmented
//! Lagrangian (violation and complementarity within the feasibility
//! tolerance, KKT residual within the optimality tolerance relative to
//! `max(1, ‖∇f‖∞)`); [`Reason::Infeasible`] when the linearised constraints
//! are inconsistent at the largest elastic weight and the step would not
//! lower the linearised violation (a stationary point of the violation,
//! still violated by more than 1e-4; less is [`Reason::Stalled`]);
//! [`Reason::Stalled`] when no step along the direction lowers the merit;
//! [`Reason::Saddle`] when the KKT test passes but the exact Hessian of
//! the Lagrangian is negative along a direction the active constraints
//! allow (`second_order.rs`, shared with the augmented Lagrangian;
//! without a compiled Hessian, on one from differences of the
//! Lagrangian's exact gradient at the end of the run);
//! [`Reason::Unbounded`] when f falls below -1e20 or x grows past it;
//! [`Reason::Diverged`] at a point where a value is not finite
//! ([`Reason::Stalled`] where only a gradient is: the edge of a
//! constraint's domain, `optim/feasibility.rs`);
//! [`Reason::MaxIter`] after [`Sqp::max_iter`] iterations. A stall or the
//! end of the iterations at a point that meets the constraints says so,
//! and, where the active rows' gradients are dependent there (no
//! multipliers may exist: the constraint qualification fails), names them
//! and stops as [`Reason::Stalled`]. Violations are measured in each
//! row's unit (`feasibility.rs`).

use std::time::Instant;

use super::ConstrainedOutcome;
use super::Settings;
use super::auglag::{check_pattern, gradient_scale, positive};
use super::dense;
use super::feasibility;
use super::minimize::{check_input, start_in_box};
use super::outcome::{Bound, Outcome, Reason};
use super::qp::{self, QpStatus};
use super::second_order::{
    KktPoint, flat_fall, kkt_or_saddle, lagrangian_hessian_by_differences, negative_curvature,
};
use crate::constraint::ConstraintKind;
use crate::error::Result;
use crate::problem::ConstrainedObjective;
pub use chain::{SQP_MAX_SIZE, minimize_sqp_or_auglag};
use subproblem::{Subproblem, bfgs_update, convexify};

/// The SQP method's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Sqp {
    /// The largest violation (and complementarity) accepted, in each
    /// row's unit ([`ConstrainedOutcome::units`]) (default 1e-8).
    pub feasibility_tol: f64,
    /// The largest KKT residual accepted, relative to `max(1, ‖∇f‖∞)`
    /// (default 1e-6).
    pub optimality_tol: f64,
    /// The most iterations, each one subproblem and one Hessian (default
    /// 200).
    pub max_iter: usize,
    /// The largest elastic weight of the subproblem (default 1e8): with
    /// the linearised constraints still inconsistent there, the step is a
    /// feasibility step.
    pub max_penalty: f64,
}

impl Default for Sqp {
    fn default() -> Sqp {
        Sqp {
            feasibility_tol: 1e-8,
            optimality_tol: 1e-6,
            max_iter: 200,
            max_penalty: 1e8,
        }
    }
}

/// A violation this small at a stationary point of the violation ends
/// the run as `stalled`, not `infeasible`.
const NEARLY_MET: f64 = 1e-4;

/// f below this, or a coordinate beyond it, ends the run as unbounded.
const UNBOUNDED: f64 = 1e20;

/// The Armijo fraction of the predicted decrease a step must achieve.
const ARMIJO: f64 = 1e-4;

/// Minimises `problem` from `start` subject to its constraints and to
/// `settings.bounds` by SQP (see the module docs): the exact Hessian of the
/// Lagrangian when the problem has one
/// ([`ConstrainedObjective::prepare_lagrangian_hessian`]), else damped
/// BFGS; an ℓ1-elastic QP subproblem, an ℓ1 merit function with a
/// backtracking search and a second-order correction. The report is the
/// augmented Lagrangian's ([`ConstrainedOutcome`]), whose
/// `outer_iterations` are the SQP iterations and `penalty` the merit
/// function's weight on the violation. `settings.method`, `gtol` and
/// `max_iter` do not apply ([`Sqp`] has its own).
///
/// An error, before any evaluation, if `start` or the bounds do not have
/// one value per variable, a tolerance is not positive, or compiling the
/// Hessian failed. A run that fails is not an error: see its reason.
///
/// ```
/// use slope::{Reason, Settings, Sqp};
/// let f = slope::Formula::parse("(x - 2)^2 + (y - 1)^2\nsubject to x + y <= 2")?;
/// let mut p = f.compile_problem()?;
/// let out = slope::minimize_sqp(&mut p, &[0.0, 0.0], &Settings::default(), &Sqp::default())?;
/// assert_eq!(out.outcome.reason, Reason::Kkt);
/// assert!((out.outcome.x[0] - 1.5).abs() < 1e-8 && (out.multipliers[0] - 1.0).abs() < 1e-8);
///
/// let g = slope::Formula::parse("x^2\nsubject to x >= 1\nsubject to x <= 0")?;
/// let out = slope::minimize_sqp(&mut g.compile_problem()?, &[3.0], &Settings::default(), &Sqp::default())?;
/// assert_eq!(out.outcome.reason, Reason::Infeasible);
/// # Ok::<(), slope::Error>(())
/// ```
pub fn minimize_sqp(
    problem: &mut dyn ConstrainedObjective,
    start: &[f64],
    settings: &Settings,
    sqp: &Sqp,
) -> Result<ConstrainedOutcome> {
    checked_run(problem, start, settings, sqp).map(|(out, _)| out)
}

/// [`minimize_sqp`] with the direction of negative curvature of a run
/// that ends at a saddle.
pub(super) fn checked_run(
    problem: &mut dyn ConstrainedObjective,
    start: &[f64],
    settings: &Settings,
    sqp: &Sqp,
) -> Result<(ConstrainedOutcome, Option<Vec<f64>>)> {
    let n = problem.n_vars();
    check_input(n, start, settings)?;
    positive("the feasibility tolerance", sqp.feasibility_tol)?;
    positive("the optimality tolerance", sqp.optimality_tol)?;
    positive("the largest penalty", sqp.max_penalty)?;
    check_pattern(problem)?;
    let exact = problem.prepare_lagrangian_hessian()?;
    Ok(run(problem, start, settings, sqp, exact))
}

/// Everything one evaluation gives, the Jacobian dense (`m × n`).
#[derive(Clone)]
struct Point {
    x: Vec<f64>,
    f: f64,
    grad: Vec<f64>,
    c: Vec<f64>,
    jac: Vec<f64>,
}

impl Point {
    fn finite(&self) -> bool {
        self.f.is_finite()
            && self
                .grad
                .iter()
                .chain(&self.c)
                .chain(&self.jac)
                .all(|v| v.is_finite())
    }
}

/// The problem with its pattern, scaling and counters.
struct Scaled<'p> {
    problem: &'p mut dyn ConstrainedObjective,
    kinds: Vec<ConstraintKind>,
    pattern: Vec<(usize, usize)>,
    n: usize,
    fscale: f64,
    cscale: Vec<f64>,
    /// Each row's size at the start (`feasibility.rs`).
    start_sizes: Vec<f64>,
    sparse: Vec<f64>,
    evaluations: usize,
}

impl Scaled<'_> {
    /// Evaluates at `x`: one counted evaluation (value and gradient).
    fn eval(&mut self, x: &[f64]) -> Point {
        let (n, m) = (self.n, self.kinds.len());
        let mut p = Point {
            x: x.to_vec(),
            f: 0.0,
            grad: vec![0.0; n],
            c: vec![0.0; m],
            jac: vec![0.0; m * n],
        };
        p.f = self
            .problem
            .eval(x, &mut p.grad, &mut p.c, &mut self.sparse);
        for (k, &(i, j)) in self.pattern.iter().enumerate() {
            p.jac[i * n + j] += self.sparse[k];
        }
        self.evaluations += 1;
        p
    }

    /// The ℓ1 violation in scaled units, `Σ cs_i·violation_i`.
    fn violation(&self, c: &[f64]) -> f64 {
        (self.kinds.iter().zip(c).zip(&self.cscale))
            .map(|((k, &g), s)| s * k.violation(g))
            .sum()
    }

    /// The ℓ1 merit in scaled units.
    fn merit(&self, p: &Point, nu: f64) -> f64 {
        let v = self.fscale * p.f + nu * self.violation(&p.c);
        if v.is_nan() { f64::INFINITY } else { v }
    }
}

/// What the stopping test measures at a point: the violation in the
/// problem's units and in each row's unit (`feasibility.rs`), which the
/// tests use.
struct Measured {
    max_violation: f64,
    scaled_violation: f64,
    units: Vec<f64>,
    kkt: f64,
    complementarity: f64,
}

fn measure(s: &Scaled<'_>, p: &Point, lambda: &[f64], bounds: Option<&[(f64, f64)]>) -> Measured {
    let n = s.n;
    let mut lagrangian = p.grad.clone();
    for (i, &l) in lambda.iter().enumerate() {
        if l != 0.0 {
            for (lj, a) in lagrangian.iter_mut().zip(&p.jac[i * n..(i + 1) * n]) {
                *lj += l * a;
            }
        }
    }
    let mut kkt = 0.0f64;
    for j in 0..n {
        let mut to = p.x[j] - lagrangian[j];
        if let Some(b) = bounds {
            to = to.clamp(b[j].0, b[j].1);
        }
        let step = (to - p.x[j]).abs();
        kkt = if step.is_nan() { step } else { kkt.max(step) };
    }
    let mut max_violation = 0.0f64;
    let mut scaled_violation = 0.0f64;
    let mut complementarity = 0.0f64;
    let norms = feasibility::dense_row_norms(s.kinds.len(), n, &p.jac);
    let units = feasibility::units(&s.start_sizes, norms, &p.x);
    for (i, kind) in s.kinds.iter().enumerate() {
        let v = kind.violation(p.c[i]);
        max_violation = if v.is_nan() { v } else { max_violation.max(v) };
        let v = v / units[i];
        scaled_violation = if v.is_nan() {
            v
        } else {
            scaled_violation.max(v)
        };
        if *kind == ConstraintKind::Inequality && p.c[i] < 0.0 {
            complementarity = complementarity.max((lambda[i] * units[i]).min(-p.c[i] / units[i]));
        }
    }
    Measured {
        max_violation,
        scaled_violation,
        units,
        kkt,
        complementarity,
    }
}

fn converged(m: &Measured, p: &Point, sqp: &Sqp) -> bool {
    let scale = p.grad.iter().fold(1.0f64, |a, g| a.max(g.abs()));
    m.scaled_violation <= sqp.feasibility_tol
        && m.kkt <= sqp.optimality_tol * scale
        && m.complementarity <= sqp.feasibility_tol
}

/// How many times a run looks around a stationary point of the violation
/// before it calls the constraints infeasible.
const MAX_PROBES: usize = 3;

/// Most variables [`less_violated_nearby`] probes, two points each.
const MAX_PROBED: usize = 50;

/// A point a step of 1e-2·max(1, |x_j|) from `p` along a coordinate (both
/// ways, within the bounds, at most [`MAX_PROBED`] coordinates) whose ℓ1
/// violation is lower by more than a millionth; `None` if there is none.
/// Each probe is a counted evaluation.
fn less_violated_nearby(
    s: &mut Scaled<'_>,
    p: &Point,
    bounds: Option<&[(f64, f64)]>,
) -> Option<Point> {
    let here = s.violation(&p.c);
    let mut probe = p.x.clone();
    for j in 0..p.x.len().min(MAX_PROBED) {
        for sign in [1.0, -1.0] {
            let mut to = p.x[j] + sign * 1e-2 * p.x[j].abs().max(1.0);
            if let Some(b) = bounds {
                to = to.clamp(b[j].0, b[j].1);
            }
            probe[j] = to;
            let there = s.eval(&probe);
            if there.finite() && s.violation(&there.c) < here * (1.0 - 1e-6) {
                return Some(there);
            }
            probe[j] = p.x[j];
        }
    }
    None
}

/// A subproblem multiplier (scaled) above this marks its constraint as
/// active for [`convexify`]; the interior point leaves about 1e-13 on rows
/// that hold with room, which must not count (their rows, added to `B`,
/// span the whole space and shrink every step).
const ACTIVE_MULTIPLIER: f64 = 1e-8;

/// The shifts `τ/size` tried on `B` where no subproblem can be solved.
const DAMPINGS: [f64; 3] = [1e-2, 1.0, 1e2];

/// The ordinary subproblem first; the elastic one where its linearisation
/// is inconsistent (or it could not be solved), with the weight `mu`
/// raised tenfold while the linearisation cannot hold. The weight stops
/// growing at its limit, or where the solver fails with it (the last
/// weight solved is then the limit). The step (`None` if no subproblem
/// was solved) and whether the weight reached its limit.
fn subproblem_step(
    sub: &Subproblem<'_>,
    scaled_c: &[f64],
    mu: &mut f64,
    violation: f64,
    sqp: &Sqp,
) -> (Option<subproblem::Step>, bool) {
    if let Some(step) = sub.solve_plain(scaled_c) {
        return (Some(step), false);
    }
    let mut last = None;
    let mut at_limit;
    loop {
        let Some(st) = sub.solve(scaled_c, *mu) else {
            at_limit = true;
            *mu = (*mu / 10.0).max(1.0);
            break;
        };
        let holds = st.elastic <= 1e-9 * violation.max(1.0);
        at_limit = *mu >= sqp.max_penalty;
        last = Some(st);
        if holds || at_limit {
            break;
        }
        *mu = (*mu * 10.0).min(sqp.max_penalty);
    }
    (last, at_limit)
}

/// The loop, on checked input.
fn run(
    problem: &mut dyn ConstrainedObjective,
    start: &[f64],
    settings: &Settings,
    sqp: &Sqp,
    exact: bool,
) -> (ConstrainedOutcome, Option<Vec<f64>>) {
    let clock = Instant::now();
    let n = start.len();
    let kinds = problem.kinds().to_vec();
    let pattern = problem.jacobian_pattern().to_vec();
    let m = kinds.len();
    let bounds = settings.constraints();
    let (x, moved_start) = start_in_box(start, settings);
    let mut s = Scaled {
        problem,
        kinds: kinds.clone(),
        sparse: vec![0.0; pattern.len()],
        pattern,
        n,
        fscale: 1.0,
        cscale: vec![1.0; m],
        start_sizes: Vec::new(),
        evaluations: 0,
    };
    let mut point = s.eval(&x);
    s.fscale = gradient_scale(point.grad.iter().fold(0.0, |a, g| a.max(g.abs())));
    s.start_sizes = feasibility::sizes(feasibility::dense_row_norms(m, n, &point.jac), &point.x);
    for i in 0..m {
        let largest = point.jac[i * n..(i + 1) * n]
            .iter()
            .fold(0.0f64, |a, v| a.max(v.abs()));
        // Down to a gradient of 100 (Ipopt's rule), or up to a gradient
        // of 1 where it is smaller (`feasibility.rs`).
        s.cscale[i] = gradient_scale(largest) / feasibility::unit(s.start_sizes[i], 0.0);
    }
    // Multipliers in the problem's units; `to_scaled[i]` turns one into
    // the scaled problem's.
    let to_scaled: Vec<f64> = s.cscale.iter().map(|c| s.fscale / c).collect();
    let mut lambda = vec![0.0; m];
    let mut nu = 0.0f64;
    let mut mu = 1.0f64;
    let mut hessian = vec![0.0; n * n];
    let mut b = vec![0.0; n * n];
    let mut quasi: Vec<f64> = (0..n * n)
        .map(|k| if k % (n + 1) == 0 { 1.0 } else { 0.0 })
        .collect();
    let mut hessian_evaluations = 0;
    let mut probes = 0;
    let mut iterations = 0;
    // The direction of negative curvature at a saddle.
    let mut escape = None;
    // Whether the run stopped where only a gradient is not finite: its
    // message says why no multipliers are measured there.
    let mut at_an_edge = false;
    let (reason, message) = loop {
        if !point.finite() {
            let place = if iterations == 0 {
                "the start"
            } else {
                "the point reached"
            };
            at_an_edge = point.f.is_finite() && point.c.iter().all(|g| g.is_finite());
            break feasibility::not_finite(place, at_an_edge);
        }
        let now = measure(&s, &point, &lambda, bounds);
        if converged(&now, &point, sqp) {
            escape = second_order(
                &mut s,
                &point,
                &lambda,
                bounds,
                exact,
                &mut hessian_evaluations,
            );
            break kkt_or_saddle(escape.as_ref());
        }
        if point.f < -UNBOUNDED || point.x.iter().any(|v| v.abs() > UNBOUNDED) {
            break (
                Reason::Unbounded,
                "f decreases without bound where the constraints are (nearly) met".to_string(),
            );
        }
        if iterations == sqp.max_iter {
            break (
                Reason::MaxIter,
                format!("SQP used its {} iterations", sqp.max_iter),
            );
        }
        iterations += 1;
        // The model's Hessian, scaled.
        if exact
            && s.problem
                .lagrangian_hessian(&point.x, &lambda, &mut hessian)
        {
            hessian_evaluations += 1;
            hessian.iter_mut().for_each(|v| *v *= s.fscale);
        } else {
            hessian.copy_from_slice(&quasi);
        }
        if hessian.iter().any(|v| !v.is_finite()) {
            break (
                Reason::Diverged,
                "the Hessian of the Lagrangian is not finite at the point reached".to_string(),
            );
        }
        let scaled_c: Vec<f64> = (0..m).map(|i| s.cscale[i] * point.c[i]).collect();
        let mut scaled_jac = point.jac.clone();
        for i in 0..m {
            scaled_jac[i * n..(i + 1) * n]
                .iter_mut()
                .for_each(|v| *v *= s.cscale[i]);
        }
        let mut active: Vec<Vec<f64>> = (0..m)
            .filter(|&i| {
                kinds[i] == ConstraintKind::Equality
                    || lambda[i] * to_scaled[i] > ACTIVE_MULTIPLIER
                    || scaled_c[i] >= -1e-8
            })
            .map(|i| scaled_jac[i * n..(i + 1) * n].to_vec())
            .collect();
        let mut step_bounds = Vec::new();
        for j in 0..n {
            let (lo, hi) = bounds.map_or((f64::NEG_INFINITY, f64::INFINITY), |b| b[j]);
            if lo.is_finite() || hi.is_finite() {
                step_bounds.push((j, lo - point.x[j], hi - point.x[j]));
                if point.x[j] <= lo || point.x[j] >= hi {
                    let mut e = vec![0.0; n];
                    e[j] = 1.0;
                    active.push(e);
                }
            }
        }
        convexify(&hessian, n, &active, &mut b);
        // The elastic weight: above the multipliers, raised while the
        // linearisation cannot hold.
        let largest_lambda = (0..m).fold(0.0f64, |a, i| a.max((lambda[i] * to_scaled[i]).abs()));
        let mu_start = mu.max(2.0 * largest_lambda).max(1.0).min(sqp.max_penalty);
        let violation = s.violation(&point.c);
        // Where no subproblem can be solved on `B`, `B + τI` with a growing
        // `τ`: a shorter step, as a trust region would take. The interior
        // point fails on a model that is nearly flat along a direction the
        // linearised constraints leave open (a linear f, B = 1e-4·I: the
        // step is 1e4 long), and a damped model brings the answer near.
        let size = b.iter().fold(1.0f64, |a, v| a.max(v.abs()));
        let mut damping = 0;
        let (sub, step, at_limit) = loop {
            let sub = Subproblem {
                b: &b,
                grad: point.grad.iter().map(|g| s.fscale * g).collect(),
                jac: scaled_jac.clone(),
                kinds: &kinds,
                bounds: step_bounds.clone(),
                n,
            };
            mu = mu_start;
            let (step, at_limit) = subproblem_step(&sub, &scaled_c, &mut mu, violation, sqp);
            if step.is_some() || damping == DAMPINGS.len() {
                break (sub, step, at_limit);
            }
            let tau = DAMPINGS[damping] * size;
            damping += 1;
            drop(sub);
            for j in 0..n {
                b[j * n + j] += tau;
            }
        };
        let Some(step) = step else {
            break (
                Reason::Stalled,
                "the quadratic subproblem could not be solved at the point reached".to_string(),
            );
        };
        let new_lambda: Vec<f64> = (0..m).map(|i| step.lambda[i] / to_scaled[i]).collect();
        // The point may already pass with the subproblem's multipliers.
        let with_new = measure(&s, &point, &new_lambda, bounds);
        if converged(&with_new, &point, sqp) {
            lambda = new_lambda;
            escape = second_order(
                &mut s,
                &point,
                &lambda,
                bounds,
                exact,
                &mut hessian_evaluations,
            );
            break kkt_or_saddle(escape.as_ref());
        }
        let linear = sub.linear_violation(&scaled_c, &step.d);
        let inconsistent = step.elastic > 1e-9 * violation.max(1.0);
        if inconsistent && at_limit && linear >= violation * (1.0 - 1e-6) {
            // A stationary point of the violation may be a maximum or a
            // saddle of it (the origin, for x^2 + y^2 == 1): a nearby point
            // that violates the constraints less is a way on.
            if probes < MAX_PROBES {
                probes += 1;
                if let Some(better) = less_violated_nearby(&mut s, &point, bounds) {
                    point = better;
                    continue;
                }
            }
            let by = crate::print::format_number(now.max_violation);
            if now.scaled_violation <= NEARLY_MET {
                break (
                    Reason::Stalled,
                    format!(
                        "the constraints are violated by {by} and no step reduces their \
                         linearisation: nearly met, but not within the feasibility tolerance"
                    ),
                );
            }
            break (
                Reason::Infeasible,
                format!(
                    "the constraints stay violated by {by}, and their linearisation has no \
                     point that violates them less: they may have no common point, or still \
                     hold elsewhere (a run from another start may find such a point)"
                ),
            );
        }
        let largest_new = step.lambda.iter().fold(0.0f64, |a, l| a.max(l.abs()));
        if nu < 1.1 * largest_new {
            nu = 1.5 * largest_new;
        }
        let phi0 = s.merit(&point, nu);
        let gd: f64 = sub.grad.iter().zip(&step.d).map(|(a, b)| a * b).sum();
        let slope = gd - nu * (violation - linear);
        let dnorm = step.d.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let xnorm = point.x.iter().fold(1.0f64, |a, v| a.max(v.abs()));
        if dnorm <= 1e-15 * xnorm {
            break (
                Reason::Stalled,
                "the step is below the precision of x, with the KKT test not met".to_string(),
            );
        }
        let clamp_to = |x: &[f64], d: &[f64], alpha: f64| -> Vec<f64> {
            (0..n)
                .map(|j| {
                    let v = x[j] + alpha * d[j];
                    bounds.map_or(v, |b| v.clamp(b[j].0, b[j].1))
                })
                .collect()
        };
        let mut alpha = 1.0;
        let mut accepted = None;
        for tries in 0..40 {
            let trial = s.eval(&clamp_to(&point.x, &step.d, alpha));
            let phi = s.merit(&trial, nu);
            if trial.finite() && phi <= phi0 + ARMIJO * alpha * slope.min(0.0) {
                accepted = Some((trial, alpha));
                break;
            }
            if tries == 0 && trial.finite() {
                // The second-order correction: the same model, the
                // constraints' values where the full step landed.
                let shifted: Vec<f64> = (0..m)
                    .map(|i| {
                        let jd: f64 = (0..n).map(|j| sub.jac[i * n + j] * step.d[j]).sum();
                        s.cscale[i] * trial.c[i] - jd
                    })
                    .collect();
                if let Some(soc) = sub.solve_plain(&shifted) {
                    let corrected = s.eval(&clamp_to(&point.x, &soc.d, 1.0));
                    if corrected.finite()
                        && s.merit(&corrected, nu) <= phi0 + ARMIJO * slope.min(0.0)
                    {
                        accepted = Some((corrected, 1.0));
                        break;
                    }
                }
            }
            alpha *= if trial.finite() { 0.5 } else { 0.1 };
        }
        let Some((next, alpha)) = accepted else {
            break (
                Reason::Stalled,
                "no point along the SQP step lowers the merit function: the limit of \
                 floating-point precision, or a model that does not fit"
                    .to_string(),
            );
        };
        let stepped = new_lambda
            .iter()
            .zip(&lambda)
            .map(|(new, old)| old + alpha * (new - old))
            .collect::<Vec<f64>>();
        if !exact {
            // ∇L at both points with the new multipliers, scaled.
            let grad_l = |p: &Point| -> Vec<f64> {
                (0..n)
                    .map(|j| {
                        s.fscale
                            * (p.grad[j]
                                + (0..m).map(|i| stepped[i] * p.jac[i * n + j]).sum::<f64>())
                    })
                    .collect()
            };
            let (g1, g0) = (grad_l(&next), grad_l(&point));
            let sv: Vec<f64> = (0..n).map(|j| next.x[j] - point.x[j]).collect();
            let yv: Vec<f64> = (0..n).map(|j| g1[j] - g0[j]).collect();
            bfgs_update(&mut quasi, n, &sv, &yv);
        }
        lambda = stepped;
        point = next;
    };
    // The interior-point multipliers of inequalities that hold with room
    // are near 1e-13, not 0: reported as 0.
    let now = measure(&s, &point, &lambda, bounds);
    for (i, kind) in kinds.iter().enumerate() {
        if *kind == ConstraintKind::Inequality
            && point.c[i] / now.units[i] < -sqp.feasibility_tol
            && (lambda[i] * now.units[i]).abs() <= sqp.feasibility_tol
        {
            lambda[i] = 0.0;
        }
    }
    let now = measure(&s, &point, &lambda, bounds);
    // A feasible point where the run could go no further: say whether the
    // active constraints are degenerate there.
    let (reason, message) = match reason {
        Reason::Stalled | Reason::MaxIter
            if !at_an_edge && now.scaled_violation <= sqp.feasibility_tol =>
        {
            let (active, dependent) = degenerate_rows(&s, &point, &now, sqp.feasibility_tol);
            let reason = if dependent { Reason::Stalled } else { reason };
            let said = feasibility::degenerate_message(&active, dependent);
            (reason, format!("{message}; {said}"))
        }
        _ => (reason, message),
    };
    // The interior point ends a hair inside a bound it holds (x = 1 -
    // 2e-15 on x <= 1, y = 6e-13 on y >= 0), where the other methods
    // project onto it exactly: a variable within the feasibility tolerance
    // of a finite end, in that end's unit, is reported at it.
    let at_end = |v: f64, end: f64| {
        end.is_finite() && (v - end).abs() <= sqp.feasibility_tol * end.abs().max(1.0)
    };
    let active = match bounds {
        Some(b) => (point.x.iter().zip(b))
            .map(|(&v, &(lo, hi))| match Bound::of(v, (lo, hi)) {
                Bound::Free if at_end(v, lo) => Bound::Lower,
                Bound::Free if at_end(v, hi) => Bound::Upper,
                side => side,
            })
            .collect(),
        None => vec![Bound::Free; n],
    };
    let evaluations = s.evaluations;
    let fscale = s.fscale;
    let outcome = Outcome {
        x: point.x,
        f: point.f,
        gradient: point.grad,
        grad_norm: now.kkt,
        iterations,
        evaluations,
        gradient_evaluations: evaluations,
        hessian_evaluations,
        reason,
        message,
        advice: None,
        bad_point: None,
        history: Vec::new(),
        active,
        moved_start,
        seconds: clock.elapsed().as_secs_f64(),
    };
    let out = ConstrainedOutcome {
        outcome,
        constraints: point.c,
        multipliers: lambda,
        max_violation: now.max_violation,
        units: now.units,
        kkt_residual: now.kkt,
        outer_iterations: iterations,
        penalty: nu / fscale,
    };
    (out, escape.map(|(_, d)| d))
}

/// The rows active at `point` (equalities, and inequalities within `tol`
/// of 0 in their unit), and whether their gradients are dependent there.
fn degenerate_rows(s: &Scaled<'_>, point: &Point, now: &Measured, tol: f64) -> (Vec<usize>, bool) {
    let n = s.n;
    let active: Vec<usize> = (0..s.kinds.len())
        .filter(|&i| s.kinds[i] == ConstraintKind::Equality || point.c[i] / now.units[i] >= -tol)
        .collect();
    let rows: Vec<Vec<f64>> = (active.iter())
        .map(|&i| point.jac[i * n..(i + 1) * n].to_vec())
        .collect();
    let dependent = !rows.is_empty() && feasibility::dependent(&rows);
    (active, dependent)
}

/// The second-order test at a point that passed the KKT test, on the
/// exact Hessian of the Lagrangian (one more Hessian) where `exact`, else
/// on one from differences of its gradient (`n` more evaluations,
/// `second_order/differences.rs`): the curvature and direction of a
/// saddle, `None` where the test finds none. Where the Hessian is flat
/// along a direction the constraints allow, the Lagrangian is evaluated
/// along it (at most four evaluations, counted): a fall there is a saddle
/// with curvature 0 ([`kkt_or_saddle`]).
fn second_order(
    s: &mut Scaled<'_>,
    point: &Point,
    lambda: &[f64],
    bounds: Option<&[(f64, f64)]>,
    exact: bool,
    hessian_evaluations: &mut usize,
) -> Option<(f64, Vec<f64>)> {
    let n = s.n;
    let kinds = s.kinds.clone();
    let at = KktPoint {
        x: &point.x,
        grad: &point.grad,
        c: &point.c,
        jac: &point.jac,
        lambda,
        kinds: &kinds,
        bounds,
    };
    let hessian = if exact {
        let mut hessian = vec![0.0; n * n];
        if !s.problem.lagrangian_hessian(&point.x, lambda, &mut hessian) {
            return None;
        }
        *hessian_evaluations += 1;
        hessian
    } else {
        lagrangian_hessian_by_differences(&at, |x| {
            let q = s.eval(x);
            (q.grad, q.jac)
        })?
    };
    if hessian.iter().any(|v| !v.is_finite()) {
        return None;
    }
    if let Some(found) = negative_curvature(&at, &hessian) {
        return Some(found);
    }
    let lagrangian = |x: &[f64]| {
        let q = s.eval(x);
        let l = q.f + (lambda.iter().zip(&q.c)).map(|(l, c)| l * c).sum::<f64>();
        // An inequality with no multiplier, which the Lagrangian does not
        // see, that the probe would violate makes the fall no way on.
        let feasible = (0..kinds.len())
            .filter(|&i| kinds[i] == ConstraintKind::Inequality && lambda[i] == 0.0)
            .all(|i| q.c[i] <= point.c[i].max(0.0) + 1e-8 * point.c[i].abs().max(1.0));
        (l.is_finite() && feasible).then_some(l)
    };
    flat_fall(&at, &hessian, lagrangian).map(|d| (0.0, d))
}

mod chain;
mod subproblem;
#[cfg(test)]
mod tests;
