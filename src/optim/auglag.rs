//! Constrained minimisation by the augmented Lagrangian
//! (Powell–Hestenes–Rockafellar), with the bound-constrained L-BFGS-B of
//! `lbfgs.rs` as the inner solver.
//!
//! For constraints `g_i(x) <= 0` (inequalities) and `g_i(x) = 0`
//! (equalities), multipliers `λ` and a penalty `ρ > 0`, each outer
//! iteration minimises, within the bounds,
//!
//! ```text
//! L(x; λ, ρ) = f(x) + Σ_i [ ρ/2 · s_i(x)² − λ_i² / (2ρ) ]
//!   s_i = g_i + λ_i/ρ              (equality)
//!   s_i = max(0, g_i + λ_i/ρ)      (inequality: the shifted penalty)
//! ∇L = ∇f + Σ_i ρ·s_i ∇g_i
//! ```
//!
//! (the constant `−λ²/2ρ` makes `L = f` at a solution, which keeps the
//! inner solver's relative tests meaningful). The multipliers and the
//! penalty are plain numbers here: `f`, `∇f`, every `g_i` and the nonzero
//! entries of the Jacobian come from one compiled function
//! ([`ConstrainedObjective`]), and `L` is assembled around its outputs, so
//! nothing is recompiled between outer iterations.
//!
//! After each inner run, as in ALGENCAN (Birgin and Martínez, *Practical
//! Augmented Lagrangian Methods for Constrained Optimization*, 2014):
//!
//! - **Multipliers:** `λ_i ← λ_i + ρ g_i` (inequalities: `max(0, ·)`),
//!   safeguarded: clamped to `±`[`Auglag::max_multiplier`], so a wild
//!   estimate cannot swamp the next subproblem.
//! - **Penalty:** the progress measure is `V_i = g_i` for equalities and
//!   `max(g_i, −λ_i/ρ)` for inequalities (which also measures
//!   complementarity); when `‖V‖∞` did not fall below a half of its last
//!   value, `ρ ← 10ρ`. The first penalty balances f against the violation
//!   at the start: `10·max(1, |f|) / max(1, ½Σ violation²)`, within
//!   [1e-8, 1e8].
//! - **Inner tolerance:** the inner gradient tolerance starts at 1e-2 and
//!   falls tenfold per outer iteration, down to half the optimality
//!   tolerance (both relative to `max(1, ‖∇f‖∞)`): early subproblems are solved roughly, the last ones as
//!   well as the answer needs (the inner projected gradient of `L` is the
//!   KKT residual with the new multipliers).
//!
//! The run stops with [`Reason::Kkt`] when the largest violation and the
//! complementarity `max_i min(λ_i, −g_i)` over the inequalities that hold
//! are at most [`Auglag::feasibility_tol`] (a constraint with a multiplier
//! is met as an equality, not 1e-6 inside), and the KKT residual
//! `‖P(x − ∇f − Jᵀλ) − x‖∞` (P: projection onto the bounds) is at most
//! [`Auglag::optimality_tol`] times `max(1, ‖∇f‖∞)` (gradients in the
//! thousands cannot be balanced to 1e-6 absolutely in floating point).
//! Where the active constraints pin the point down (a vertex) the
//! first-order multipliers converge slowly; least-squares multipliers of
//! the active constraints over the free variables are tried at each
//! feasible point, and accepted if they pass the test. It stops with [`Reason::Infeasible`]
//! when the constraints stay violated and either the penalty reached
//! [`Auglag::max_penalty`] or, with the penalty at least 1e4, the point is
//! stationary for the violation itself (the gradient of `½‖g⁺‖²`, where
//! no bound blocks it, below 1e-3 of its largest term, with the violation not halved in
//! the last outer iteration): no nearby point is less infeasible. A
//! violation below 1e-4 there is [`Reason::Stalled`] (a feasible set with
//! no interior ends so), and a run that met the constraints at some outer
//! iteration is never called infeasible: it reports the feasible iterate
//! of lowest f as [`Reason::Stalled`], naming the active rows whose
//! gradients are dependent there. Violations are measured in each row's
//! unit (`optim/feasibility.rs`). An inner
//! run that finds `L` unbounded ends the run as unbounded; a point where
//! f, a constraint or a gradient is not finite ends it as diverged.
//! [`Reason::MaxIter`] after [`Auglag::max_outer`] outer iterations.
//!
//! A run that ends as `kkt` is then tested for a saddle on the compiled
//! Hessian of the Lagrangian (or, where none is compiled, one from
//! differences of its gradient), and run again from a step off one
//! (`auglag/saddle.rs`); [`Reason::Saddle`] if the runs keep finding one.
//! For a small problem without a compiled Hessian, the default hands a
//! failed run to SQP (`auglag/or_sqp.rs`).

use std::time::Instant;

mod measure;
mod or_sqp;
mod saddle;

pub use or_sqp::minimize_auglag_or_sqp;

use super::minimize::{check_input, minimize_inner, start_in_box};
use super::outcome::{Bound, Outcome, Reason};
use super::{Method, Settings};
use crate::constraint::ConstraintKind;
use crate::error::{Error, ErrorKind, Result};
use crate::objective::{Objective, check_count};
use crate::problem::ConstrainedObjective;
use measure::{
    Counts, Measured, converged, infeasibility_stationary, least_squares_multipliers,
    less_violated_nearby, measure, remeasure, scale,
};

/// The augmented-Lagrangian method's own parameters (the inner solver's
/// come from [`Settings`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Auglag {
    /// The largest violation accepted: `max(g_i, 0)` for inequalities,
    /// `|g_i|` for equalities, each in its row's unit
    /// ([`ConstrainedOutcome::units`]) (default 1e-8); also the largest
    /// complementarity `min(λ_i, −g_i)`, in the same units.
    pub feasibility_tol: f64,
    /// The largest KKT residual accepted, relative to `max(1, ‖∇f‖∞)` at
    /// the point (default 1e-6).
    pub optimality_tol: f64,
    /// The most outer iterations, each one inner run (default 100).
    pub max_outer: usize,
    /// The first penalty; `None` balances f against the violation at the
    /// start (see the module docs).
    pub initial_penalty: Option<f64>,
    /// The largest penalty: reached with the constraints still violated,
    /// the run stops as infeasible (default 1e12).
    pub max_penalty: f64,
    /// The multipliers' safeguard: each is clamped to this size (default
    /// 1e20).
    pub max_multiplier: f64,
}

impl Default for Auglag {
    fn default() -> Auglag {
        Auglag {
            feasibility_tol: 1e-8,
            optimality_tol: 1e-6,
            max_outer: 100,
            initial_penalty: None,
            max_penalty: 1e12,
            max_multiplier: 1e20,
        }
    }
}

/// What a constrained run reports: the [`Outcome`] of the whole run (its
/// `x`, `f`, `gradient` of f, iterations and evaluations summed over the
/// inner runs, the reason) and the constraints at `x`.
#[derive(Clone, Debug)]
pub struct ConstrainedOutcome {
    /// The run as a whole. Its `grad_norm` is the KKT residual.
    pub outcome: Outcome,
    /// Each `g_i(x)` in standard form (`<= 0` or `== 0`).
    pub constraints: Vec<f64>,
    /// The Lagrange multipliers: `∇f + Σ λ_i ∇g_i` vanishes (within the
    /// bounds) at a solution; inequalities' are never negative.
    pub multipliers: Vec<f64>,
    /// The largest violation at `x`, in the constraints' own units
    /// (`max(g_i, 0)` or `|g_i|`).
    pub max_violation: f64,
    /// Each constraint's unit of violation at `x`: the size of its
    /// gradient where that is below 1, else 1 (`optim/feasibility.rs`).
    /// The feasibility tolerance bounds each violation divided by its
    /// unit, so that `1e-12*x <= 1e-12` is held to `x <= 1`'s accuracy.
    pub units: Vec<f64>,
    /// `‖P(x − ∇f − Jᵀλ) − x‖∞`: the projected gradient of the Lagrangian.
    pub kkt_residual: f64,
    /// Outer iterations done.
    pub outer_iterations: usize,
    /// The penalty at the end.
    pub penalty: f64,
}

impl ConstrainedOutcome {
    /// Whether the run found a point it can vouch for ([`Reason::Kkt`]).
    pub fn converged(&self) -> bool {
        self.outcome.converged()
    }

    /// Whether constraint `i` is active at `x`: an equality always, an
    /// inequality when `g_i`, divided by its unit ([`Self::units`]), is
    /// within `tol` of 0 or above it.
    pub fn active(&self, kinds: &[ConstraintKind], tol: f64) -> Vec<bool> {
        (kinds.iter().zip(&self.constraints).zip(&self.units))
            .map(|((k, &g), &u)| *k == ConstraintKind::Equality || g / u >= -tol)
            .collect()
    }

    /// Whether constraint `i` is violated by more than `tol` in its unit
    /// ([`Self::units`]), or its value is NaN: the test the runs apply
    /// with their feasibility tolerance.
    pub fn violated(&self, kind: ConstraintKind, i: usize, tol: f64) -> bool {
        let v = super::feasibility::violation(kind, self.constraints[i], self.units[i]);
        v > tol || v.is_nan()
    }
}

/// Minimises `problem` from `start` subject to its constraints and to
/// `settings.bounds`, by the augmented Lagrangian (Powell–Hestenes–
/// Rockafellar, inequalities by the shifted penalty, as in ALGENCAN) with
/// L-BFGS-B inside. f and each constraint whose gradient at the start
/// exceeds 100 are scaled down to 100 inside the method (Ipopt's rule);
/// tolerances, values and multipliers are those of the problem as posed.
/// Each outer iteration minimises, within the bounds,
/// `f + Σ ρ/2·s_i² − λ_i²/2ρ` with `s_i = g_i + λ_i/ρ` (inequalities:
/// `max(0, ·)`), then updates the multipliers (`λ ← λ + ρg`, clamped to
/// ±[`Auglag::max_multiplier`], inequalities' at 0 from below), multiplies
/// the penalty by 10 when the violation (and complementarity) did not halve,
/// and tightens the inner gradient tolerance tenfold (from 1e-2 down to
/// half the optimality tolerance, relative to `max(1, ‖∇f‖∞)`). The
/// multipliers and the penalty are plain numbers: nothing is recompiled.
///
/// The run ends with [`Reason::Kkt`] when the violation and the
/// complementarity `min(λ_i, −g_i)` are at most
/// [`Auglag::feasibility_tol`] and the KKT residual `‖P(x − ∇f − Jᵀλ) − x‖∞`
/// (P: projection onto the bounds) at most [`Auglag::optimality_tol`]
/// times `max(1, ‖∇f‖∞)`; at a feasible point least-squares multipliers of
/// the active constraints are also tried, which settles a vertex where the
/// first-order update crawls. It ends with [`Reason::Infeasible`] when the
/// constraints stay violated (by more than 1e-4; less is [`Reason::Stalled`])
/// with the penalty at [`Auglag::max_penalty`],
/// or (penalty at least 1e4, violation not halved) at a point stationary
/// for the violation `½‖g⁺‖²` itself where no probe a step of 1e-2 along
/// a coordinate violates the constraints less (a probe that does, at a
/// maximum or saddle of the violation, is where the run goes on from); with [`Reason::Unbounded`] when an
/// inner run finds the Lagrangian unbounded where the constraints are
/// (nearly) met ([`Reason::Stalled`] at the point before it where they
/// are not: f outgrows the penalty there), [`Reason::Diverged`] at a
/// point where f or a constraint is not finite ([`Reason::Stalled`] where
/// only a gradient is: a kink or the edge of a constraint's domain), and
/// [`Reason::MaxIter`] after [`Auglag::max_outer`] outer iterations.
///
/// Where the run ends as `kkt` on at most 200 variables and the problem
/// has a compiled Hessian of the Lagrangian, the second-order test SQP
/// uses follows: if that Hessian is negative along a direction the active
/// constraints allow, the point is a saddle, and the method runs again
/// from a step along that direction (up to three times), reporting
/// [`Reason::Saddle`] (with the curvature) if it still ends at one.
///
/// `settings.method` must be [`Method::Lbfgs`] (its memory is the inner
/// solver's); `settings`' `ftol`, `xtol` and `max_iter` apply to each inner
/// run, whose gradient tolerance the method sets (and whose
/// relative-reduction test it turns off).
///
/// An error, before any evaluation, if `start` or the bounds do not have
/// one value per variable, or the method is not L-BFGS or a tolerance is
/// not positive. A run that fails is not an error: see its reason.
///
/// ```
/// use slope::{Auglag, Reason, Settings};
/// let f = slope::Formula::parse("(x - 2)^2 + (y - 1)^2\nsubject to x + y <= 2")?;
/// let mut p = f.compile_problem()?;
/// let out = slope::minimize_constrained(&mut p, &[0.0, 0.0], &Settings::default(), &Auglag::default())?;
/// assert_eq!(out.outcome.reason, Reason::Kkt);
/// assert!((out.outcome.x[0] - 1.5).abs() < 1e-6 && (out.multipliers[0] - 1.0).abs() < 1e-5);
///
/// let g = slope::Formula::parse("x^2\nsubject to x >= 1\nsubject to x <= 0")?;
/// let out = slope::minimize_constrained(&mut g.compile_problem()?, &[3.0], &Settings::default(), &Auglag::default())?;
/// assert_eq!(out.outcome.reason, Reason::Infeasible);
/// # Ok::<(), slope::Error>(())
/// ```
pub fn minimize_constrained(
    problem: &mut dyn ConstrainedObjective,
    start: &[f64],
    settings: &Settings,
    auglag: &Auglag,
) -> Result<ConstrainedOutcome> {
    let n = problem.n_vars();
    check_input(n, start, settings)?;
    if !matches!(settings.method, Method::Lbfgs { .. }) {
        return Err(Error::new(
            ErrorKind::Usage,
            format!(
                "the method '{}' cannot take constraints: the augmented Lagrangian runs lbfgs inside",
                settings.method.name()
            ),
        )
        .with_hint("choose lbfgs, or leave the method out"));
    }
    positive("the feasibility tolerance", auglag.feasibility_tol)?;
    positive("the optimality tolerance", auglag.optimality_tol)?;
    positive("the largest penalty", auglag.max_penalty)?;
    positive("the largest multiplier", auglag.max_multiplier)?;
    if let Some(rho) = auglag.initial_penalty {
        positive("the first penalty", rho)?;
    }
    check_pattern(problem)?;
    Ok(saddle::run_off_saddles(problem, start, settings, auglag))
}

/// An error unless a setting is a positive number.
pub(super) fn positive(name: &str, v: f64) -> Result<()> {
    match v.is_finite() && v > 0.0 {
        true => Ok(()),
        false => Err(Error::new(
            ErrorKind::Usage,
            format!("{name} must be positive, not {v}"),
        )),
    }
}

/// An error unless every entry of the problem's Jacobian pattern names one
/// of its variables and one of its constraints.
pub(super) fn check_pattern(problem: &dyn ConstrainedObjective) -> Result<()> {
    let n = problem.n_vars();
    for (i, &(_, j)) in problem.jacobian_pattern().iter().enumerate() {
        if j >= n {
            return Err(Error::new(
                ErrorKind::Shape,
                format!("entry {i} of the Jacobian's pattern names variable {j} of {n}"),
            ));
        }
    }
    let m = problem.kinds().len();
    if let Some(&(i, _)) = problem.jacobian_pattern().iter().find(|(i, _)| *i >= m) {
        check_count(
            "the Jacobian's pattern",
            i + 1,
            m,
            "the problem has",
            "constraint",
        )?;
    }
    Ok(())
}

/// The augmented Lagrangian at fixed multipliers and penalty: the inner
/// solver's objective.
struct Augmented<'p> {
    problem: &'p mut dyn ConstrainedObjective,
    kinds: Vec<ConstraintKind>,
    pattern: Vec<(usize, usize)>,
    /// The multipliers of the problem as posed (not scaled).
    lambda: Vec<f64>,
    rho: f64,
    /// The factors f and each constraint are scaled by inside the
    /// Lagrangian, fixed at the start (see [`gradient_scale`]).
    fscale: f64,
    cscale: Vec<f64>,
    /// Each row's size at the start (`optim/feasibility.rs`).
    start_sizes: Vec<f64>,
    /// Buffers for one evaluation: constraints, Jacobian, weights `ρ·s_i`,
    /// and a gradient for `value`.
    c: Vec<f64>,
    jac: Vec<f64>,
    weights: Vec<f64>,
    grad: Vec<f64>,
}

impl Augmented<'_> {
    /// `f`, `∇f`, the constraints and the Jacobian at `x`, into the
    /// buffers (`grad` gets `∇f`), as posed (not scaled).
    fn eval(&mut self, x: &[f64], grad: &mut [f64]) -> f64 {
        self.problem.eval(x, grad, &mut self.c, &mut self.jac)
    }

    /// Multiplier `i` of the scaled problem the Lagrangian is built on.
    fn scaled_lambda(&self, i: usize) -> f64 {
        self.lambda[i] * self.fscale / self.cscale[i]
    }
}

/// A violation this small when the penalty reaches its limit ends the run
/// as `stalled`, not `infeasible`.
const NEARLY_MET: f64 = 1e-4;

/// Scaling as Ipopt's gradient-based default: a function whose gradient at
/// the start is larger than 100 in some component is divided so that it is
/// 100, so that one badly scaled constraint (HS106's terms reach 1e6) does
/// not swamp the others in the penalty. Never scaled up.
pub(super) fn gradient_scale(largest: f64) -> f64 {
    if largest.is_finite() && largest > 100.0 {
        100.0 / largest
    } else {
        1.0
    }
}

impl Objective for Augmented<'_> {
    fn n_vars(&self) -> usize {
        self.grad.len()
    }

    fn value(&mut self, x: &[f64]) -> f64 {
        let mut grad = std::mem::take(&mut self.grad);
        let v = self.value_grad(x, &mut grad);
        self.grad = grad;
        v
    }

    fn value_grad(&mut self, x: &[f64], grad: &mut [f64]) -> f64 {
        let mut l = self.fscale * self.eval(x, grad);
        grad.iter_mut().for_each(|g| *g *= self.fscale);
        let rho = self.rho;
        for (i, kind) in self.kinds.iter().enumerate() {
            let lambda = self.scaled_lambda(i);
            let shifted = self.cscale[i] * self.c[i] + lambda / rho;
            // `f64::max` would turn a NaN into 0 and hide it.
            let s = match kind {
                ConstraintKind::Inequality if shifted <= 0.0 => 0.0,
                _ => shifted,
            };
            l += 0.5 * rho * s * s - 0.5 * lambda * lambda / rho;
            self.weights[i] = rho * s * self.cscale[i];
        }
        for (k, &(i, j)) in self.pattern.iter().enumerate() {
            grad[j] += self.weights[i] * self.jac[k];
        }
        l
    }
}

/// The outer loop, on checked input.
fn run(
    problem: &mut dyn ConstrainedObjective,
    start: &[f64],
    settings: &Settings,
    auglag: &Auglag,
) -> ConstrainedOutcome {
    let clock = Instant::now();
    let n = start.len();
    let kinds = problem.kinds().to_vec();
    let pattern = problem.jacobian_pattern().to_vec();
    let m = kinds.len();
    let bounds = settings.constraints();
    let (mut x, moved_start) = start_in_box(start, settings);
    let mut aug = Augmented {
        problem,
        kinds,
        pattern,
        lambda: vec![0.0; m],
        rho: 1.0,
        fscale: 1.0,
        cscale: vec![1.0; m],
        start_sizes: vec![0.0; m],
        c: vec![0.0; m],
        jac: vec![0.0; 0],
        weights: vec![0.0; m],
        grad: vec![0.0; n],
    };
    aug.jac = vec![0.0; aug.pattern.len()];
    let mut counts = Counts::default();
    let mut now = measure(&mut aug, &x, bounds, &mut counts);
    aug.fscale = gradient_scale(now.grad.iter().fold(0.0, |m, g| m.max(g.abs())));
    for (k, &(i, _)) in aug.pattern.iter().enumerate() {
        aug.cscale[i] = aug.cscale[i].min(gradient_scale(aug.jac[k].abs()));
    }
    // A row with a small gradient at the start is scaled up to a gradient
    // of 1 (`optim/feasibility.rs`), and measured in that unit from now on.
    aug.start_sizes =
        super::feasibility::sizes(super::feasibility::row_norms(m, &aug.pattern, &aug.jac), &x);
    for (scale, &size) in aug.cscale.iter_mut().zip(&aug.start_sizes) {
        *scale /= super::feasibility::unit(size, 0.0);
    }
    now = remeasure(&aug, &x, bounds, now);
    let mut inner_settings = Settings {
        gtol: 1e-2 * scale(&now.grad) * aug.fscale,
        // The relative-reduction test would end an inner run long before
        // its gradient meets a tight tolerance (at f = 0.5 it stops once f
        // falls by 1e-9 per step, with the gradient still near 1e-5): the
        // inner runs end on the gradient, or when no step lowers L.
        ftol_rel: None,
        keep_history: settings.keep_history,
        observe_every_iterate: false,
        ..settings.clone()
    };
    aug.rho = auglag.initial_penalty.unwrap_or_else(|| {
        let squares: f64 = (aug.kinds.iter().zip(&aug.c).zip(&aug.cscale))
            .map(|((k, &g), &s)| k.violation(s * g).powi(2))
            .sum();
        let rho = 10.0 * (aug.fscale * now.f).abs().max(1.0) / (0.5 * squares).max(1.0);
        if rho.is_finite() {
            rho.clamp(1e-8, 1e8)
        } else {
            1.0
        }
    });
    let mut progress = f64::INFINITY;
    let mut history = Vec::new();
    // The feasible outer iterate of lowest f, the answer where the run
    // would otherwise call the constraints infeasible.
    let mut best_feasible = None;
    let mut outer = 0;
    let (reason, message) = loop {
        let finite = now.f.is_finite()
            && !now.max_violation.is_nan()
            && now.grad.iter().chain(&aug.jac).all(|v| v.is_finite());
        if !finite {
            let place = if outer == 0 {
                "the start"
            } else {
                "the point reached"
            };
            let values = now.f.is_finite() && aug.c.iter().all(|g| g.is_finite());
            break super::feasibility::not_finite(place, values);
        }
        if outer > 0 && converged(&now, auglag) {
            break (Reason::Kkt, Reason::Kkt.explanation().to_string());
        }
        // The first-order update converges slowly where the active
        // constraints pin the point down (a vertex): the point is right
        // but the multipliers lag. Least-squares multipliers there settle
        // it at once.
        if outer > 0 && now.scaled_violation <= auglag.feasibility_tol {
            let old = std::mem::take(&mut aug.lambda);
            if let Some(lambda) = least_squares_multipliers(&aug, &old, &x, bounds, &now.grad) {
                aug.lambda = lambda;
                let polished = remeasure(&aug, &x, bounds, now.clone());
                if converged(&polished, auglag) {
                    now = polished;
                    break (Reason::Kkt, Reason::Kkt.explanation().to_string());
                }
            }
            aug.lambda = old;
        }
        if outer == auglag.max_outer {
            break (
                Reason::MaxIter,
                format!(
                    "the augmented Lagrangian used its {} outer iterations",
                    auglag.max_outer
                ),
            );
        }
        outer += 1;
        let inner = minimize_inner(&mut aug, &x, &inner_settings);
        counts.add(&inner);
        let before = std::mem::replace(&mut x, inner.x);
        history.extend(inner.history);
        let reason = inner.reason;
        if reason == Reason::Unbounded {
            let after = measure(&mut aug, &x, bounds, &mut counts);
            if after.scaled_violation <= NEARLY_MET {
                now = after;
                break (
                    Reason::Unbounded,
                    "f decreases without bound where the constraints are (nearly) met".to_string(),
                );
            }
            // Unbounded far from the constraints says nothing of f on
            // them: f outgrows the quadratic penalty there (x³ beside
            // x² for x >= -1). The run stays at the point it had.
            x = before;
            now = measure(&mut aug, &x, bounds, &mut counts);
            break (
                Reason::Stalled,
                "the augmented Lagrangian is unbounded below away from the constraints \
                 (f falls faster than the penalty grows): it cannot solve this problem, \
                 SQP may"
                    .to_string(),
            );
        }
        let violation_before = now.max_violation;
        // The new multipliers, and the progress measure with the old ones.
        let old = aug.lambda.clone();
        now = measure(&mut aug, &x, bounds, &mut counts);
        let mut v = 0.0f64;
        for (i, &old) in old.iter().enumerate() {
            // The update and the progress measure in the scaled problem,
            // the multiplier kept as posed.
            let (g, rho) = (aug.cscale[i] * aug.c[i], aug.rho);
            let to_posed = aug.cscale[i] / aug.fscale;
            let old_scaled = old / to_posed;
            let cap = auglag.max_multiplier;
            let (lambda, vi) = match aug.kinds[i] {
                ConstraintKind::Equality => (
                    ((old_scaled + rho * g) * to_posed).clamp(-cap, cap),
                    g.abs(),
                ),
                ConstraintKind::Inequality => (
                    ((old_scaled + rho * g) * to_posed).clamp(0.0, cap),
                    g.max(-old_scaled / rho).abs(),
                ),
            };
            aug.lambda[i] = if lambda.is_nan() { old } else { lambda };
            v = v.max(vi);
        }
        now = remeasure(&aug, &x, bounds, now);
        if now.scaled_violation <= auglag.feasibility_tol
            && best_feasible
                .as_ref()
                .is_none_or(|b: &Feasible| now.f < b.now.f)
        {
            best_feasible = Some(Feasible {
                x: x.clone(),
                now: now.clone(),
                c: aug.c.clone(),
                jac: aug.jac.clone(),
                lambda: aug.lambda.clone(),
            });
        }
        if now.scaled_violation > auglag.feasibility_tol {
            if aug.rho >= auglag.max_penalty {
                let by = crate::print::format_number(now.max_violation);
                // Nearly met is not infeasible: the run stalled short of
                // the tolerance (badly scaled problems end so).
                if now.scaled_violation <= NEARLY_MET {
                    break (
                        Reason::Stalled,
                        format!(
                            "the penalty reached its limit with the constraints violated by \
                             {by}: nearly met, but not within the feasibility tolerance"
                        ),
                    );
                }
                break (
                    Reason::Infeasible,
                    format!(
                        "the constraints stay violated by {by} with the penalty at its limit: \
                         the run found no point that violates them less, but it searched \
                         locally; they may still hold elsewhere (a run from another start may \
                         find such a point)"
                    ),
                );
            }
            if aug.rho >= 1e4
                && now.max_violation > 0.5 * violation_before
                && infeasibility_stationary(&aug, &x, bounds)
            {
                // A stationary point of the violation may be a maximum or a
                // saddle of it (the origin, for x^2 + y^2 == 1): a nearby
                // point that violates the constraints less is a way on.
                if let Some(better) = less_violated_nearby(&mut aug, &x, bounds, &mut counts) {
                    x = better;
                    now = measure(&mut aug, &x, bounds, &mut counts);
                    progress = f64::INFINITY;
                    continue;
                }
                // Nearly met is not infeasible, as at the penalty's limit:
                // where the active gradients are dependent (a feasible set
                // with no interior) the violation's gradient vanishes as
                // the point nears the set, and the run stalls short of it.
                if now.scaled_violation <= NEARLY_MET {
                    let (active, dependent) = degenerate_rows(&aug, &now, auglag.feasibility_tol);
                    let rows: Vec<String> = active.iter().map(|i| (i + 1).to_string()).collect();
                    let why = match dependent {
                        true => format!(
                            ": the gradients of the active constraints (rows {}) are dependent \
                             here, so the set they leave may have no interior (the constraint \
                             qualification fails)",
                            rows.join(", ")
                        ),
                        false => String::new(),
                    };
                    break (
                        Reason::Stalled,
                        format!(
                            "the constraints are violated by {}, nearly met, but no nearby \
                             point violates them less{why}",
                            crate::print::format_number(now.max_violation)
                        ),
                    );
                }
                break (
                    Reason::Infeasible,
                    format!(
                        "the constraints stay violated by {}, and no nearby point violates \
                         them less: they may have no common point, or still hold elsewhere (a \
                         run from another start may find such a point)",
                        crate::print::format_number(now.max_violation)
                    ),
                );
            }
        }
        if v > 0.5 * progress && v > 0.1 * auglag.feasibility_tol {
            aug.rho = (aug.rho * 10.0).min(auglag.max_penalty);
        }
        progress = v;
        let floor = 0.5 * auglag.optimality_tol * scale(&now.grad) * aug.fscale;
        inner_settings.gtol = (0.1 * inner_settings.gtol).max(floor);
    };
    // A point within the tolerance was found: the constraints are not
    // infeasible, whatever the run's last point (at a degenerate point the
    // violation's gradient vanishes and the last iterates wander).
    let (reason, message) = match (reason, best_feasible) {
        (Reason::Infeasible, Some(best)) => {
            x = best.x;
            now = best.now;
            aug.c = best.c;
            aug.jac = best.jac;
            aug.lambda = best.lambda;
            let (active, dependent) = degenerate_rows(&aug, &now, auglag.feasibility_tol);
            let said = super::feasibility::degenerate_message(&active, dependent);
            (Reason::Stalled, format!("{message}; but {said}"))
        }
        (reason, _) => (reason, message),
    };
    let (lambda, c, rho) = (aug.lambda, aug.c, aug.rho);
    let active = match bounds {
        Some(b) => x.iter().zip(b).map(|(&v, &b)| Bound::of(v, b)).collect(),
        None => vec![Bound::Free; n],
    };
    let outcome = Outcome {
        x,
        f: now.f,
        gradient: now.grad,
        grad_norm: now.kkt,
        iterations: counts.iterations,
        evaluations: counts.evaluations,
        gradient_evaluations: counts.gradient_evaluations,
        hessian_evaluations: 0,
        reason,
        message,
        advice: None,
        bad_point: None,
        history,
        active,
        moved_start,
        seconds: clock.elapsed().as_secs_f64(),
    };
    ConstrainedOutcome {
        outcome,
        constraints: c,
        multipliers: lambda,
        max_violation: now.max_violation,
        units: now.units,
        kkt_residual: now.kkt,
        outer_iterations: outer,
        penalty: rho,
    }
}

/// A feasible outer iterate kept by the run.
struct Feasible {
    x: Vec<f64>,
    now: Measured,
    c: Vec<f64>,
    jac: Vec<f64>,
    lambda: Vec<f64>,
}

/// The rows active at the point whose values are in `aug`'s buffers
/// (equalities, and inequalities within `tol` of 0 in their unit), and
/// whether their gradients are dependent there.
fn degenerate_rows(aug: &Augmented<'_>, now: &Measured, tol: f64) -> (Vec<usize>, bool) {
    let n = aug.grad.len();
    let active: Vec<usize> = (0..aug.kinds.len())
        .filter(|&i| aug.kinds[i] == ConstraintKind::Equality || aug.c[i] / now.units[i] >= -tol)
        .collect();
    if active.len() > super::feasibility::MAX_DEPENDENCE_TEST {
        return (active, false);
    }
    let mut rows = vec![vec![0.0; n]; active.len()];
    for (k, &(i, j)) in aug.pattern.iter().enumerate() {
        if let Ok(r) = active.binary_search(&i) {
            rows[r][j] += aug.jac[k];
        }
    }
    let dependent = !rows.is_empty() && super::feasibility::dependent(&rows);
    (active, dependent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_augmented_gradient_matches_central_differences() {
        let f = crate::Formula::parse(
            "x^2 + 3*y\nsubject to x*y >= 1\nsubject to x + y^2 == 2\nsubject to sin(x) <= 0.5",
        )
        .unwrap();
        let mut p = f.compile_problem().unwrap();
        let kinds = p.kinds().to_vec();
        let pattern = p.jacobian_pattern().to_vec();
        let mut aug = Augmented {
            jac: vec![0.0; pattern.len()],
            problem: &mut p,
            kinds,
            pattern,
            lambda: vec![0.5, -1.5, 0.0],
            rho: 3.0,
            fscale: 0.5,
            cscale: vec![1.0, 0.25, 2.0],
            start_sizes: vec![1.0; 3],
            c: vec![0.0; 3],
            weights: vec![0.0; 3],
            grad: vec![0.0; 2],
        };
        for x in [[0.3, 0.7], [1.2, -0.4], [2.0, 1.0]] {
            let mut g = [0.0; 2];
            aug.value_grad(&x, &mut g);
            for j in 0..2 {
                let h = 1e-6;
                let (mut a, mut b) = (x, x);
                a[j] += h;
                b[j] -= h;
                let fd = (aug.value(&a) - aug.value(&b)) / (2.0 * h);
                assert!(
                    (fd - g[j]).abs() < 1e-6 * (1.0 + g[j].abs()),
                    "{x:?} {j}: {fd} vs {}",
                    g[j]
                );
            }
        }
    }

    #[test]
    fn an_inequality_met_with_room_costs_nothing_and_a_nan_is_kept() {
        let f = crate::Formula::parse("x\nsubject to x <= 10\nsubject to sqrt(x) <= 1").unwrap();
        let mut p = f.compile_problem().unwrap();
        let kinds = p.kinds().to_vec();
        let pattern = p.jacobian_pattern().to_vec();
        let mut aug = Augmented {
            jac: vec![0.0; pattern.len()],
            problem: &mut p,
            kinds,
            pattern,
            lambda: vec![0.0, 0.0],
            rho: 10.0,
            fscale: 1.0,
            cscale: vec![1.0, 1.0],
            start_sizes: vec![1.0; 2],
            c: vec![0.0; 2],
            weights: vec![0.0; 2],
            grad: vec![0.0; 1],
        };
        assert_eq!(aug.value(&[0.5]), 0.5);
        assert!(aug.value(&[-1.0]).is_nan());
    }
}
