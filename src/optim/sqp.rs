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
//!    active or violated, which leaves the step unchanged where those rows
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
//!    phase). The subproblem's multipliers are the new `λ`.
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
//! [`Reason::Unbounded`] when f falls below -1e20 or x grows past it;
//! [`Reason::Diverged`] at a point where a value is not finite;
//! [`Reason::MaxIter`] after [`Sqp::max_iter`] iterations.

use std::time::Instant;

use super::ConstrainedOutcome;
use super::Settings;
use super::dense;
use super::minimize::{check_input, start_in_box};
use super::outcome::{Bound, Outcome, Reason};
use super::qp::{self, QpStatus};
use crate::constraint::ConstraintKind;
use crate::error::{Error, ErrorKind, Result};
use crate::objective::check_len;
use crate::problem::ConstrainedObjective;

/// The SQP method's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Sqp {
    /// The largest violation (and complementarity) accepted (default 1e-8).
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
    let n = problem.n_vars();
    check_input(n, start, settings)?;
    let positive = |name: &str, v: f64| match v.is_finite() && v > 0.0 {
        true => Ok(()),
        false => Err(Error::new(
            ErrorKind::Usage,
            format!("{name} must be positive, not {v}"),
        )),
    };
    positive("the feasibility tolerance", sqp.feasibility_tol)?;
    positive("the optimality tolerance", sqp.optimality_tol)?;
    positive("the largest penalty", sqp.max_penalty)?;
    let m = problem.kinds().len();
    for (k, &(i, j)) in problem.jacobian_pattern().iter().enumerate() {
        if j >= n {
            return Err(Error::new(
                ErrorKind::Shape,
                format!("entry {k} of the Jacobian's pattern names variable {j} of {n}"),
            ));
        }
        if i >= m {
            check_len("the Jacobian's pattern", i + 1, m)?;
        }
    }
    let exact = problem.prepare_lagrangian_hessian()?;
    Ok(run(problem, start, settings, sqp, exact))
}

/// SQP, and where it ends stalled, out of iterations or infeasible (its
/// subproblems or its line search failed, or its infeasibility test, which
/// probes less than the augmented Lagrangian's, fired) the augmented Lagrangian
/// ([`minimize_constrained`](crate::minimize_constrained)) from the same
/// start: the default of `slope min` for small problems. The outcome is
/// the augmented Lagrangian's, with both runs' evaluations, iterations and
/// Hessians counted; `settings.method` must be L-BFGS (the augmented
/// Lagrangian's inner solver).
///
/// ```
/// use slope::{Auglag, Reason, Settings, Sqp};
/// let f = slope::Formula::parse("(x - 2)^2 + (y - 1)^2\nsubject to x + y <= 2")?;
/// let mut p = f.compile_problem()?;
/// let out = slope::minimize_sqp_or_auglag(&mut p, &[0.0, 0.0], &Settings::default(), &Sqp::default(), &Auglag::default())?;
/// assert_eq!(out.0.outcome.reason, Reason::Kkt);
/// assert!(!out.1, "SQP solved it alone");
/// # Ok::<(), slope::Error>(())
/// ```
///
/// The second value says whether the augmented Lagrangian took over.
pub fn minimize_sqp_or_auglag(
    problem: &mut dyn ConstrainedObjective,
    start: &[f64],
    settings: &Settings,
    sqp: &Sqp,
    auglag: &super::Auglag,
) -> Result<(ConstrainedOutcome, bool)> {
    let first = minimize_sqp(problem, start, settings, sqp)?;
    if !matches!(
        first.outcome.reason,
        Reason::Stalled | Reason::MaxIter | Reason::Infeasible
    ) {
        return Ok((first, false));
    }
    let mut second = super::minimize_constrained(problem, start, settings, auglag)?;
    let (a, b) = (&first.outcome, &mut second.outcome);
    b.evaluations += a.evaluations;
    b.gradient_evaluations += a.gradient_evaluations;
    b.hessian_evaluations += a.hessian_evaluations;
    b.iterations += a.iterations;
    b.seconds += a.seconds;
    Ok((second, true))
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

/// What the stopping test measures at a point, in the problem's units.
struct Measured {
    max_violation: f64,
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
    let mut complementarity = 0.0f64;
    for (i, kind) in s.kinds.iter().enumerate() {
        let v = kind.violation(p.c[i]);
        max_violation = if v.is_nan() { v } else { max_violation.max(v) };
        if *kind == ConstraintKind::Inequality && p.c[i] < 0.0 {
            complementarity = complementarity.max(lambda[i].min(-p.c[i]));
        }
    }
    Measured {
        max_violation,
        kkt,
        complementarity,
    }
}

fn converged(m: &Measured, p: &Point, sqp: &Sqp) -> bool {
    let scale = p.grad.iter().fold(1.0f64, |a, g| a.max(g.abs()));
    m.max_violation <= sqp.feasibility_tol
        && m.kkt <= sqp.optimality_tol * scale
        && m.complementarity <= sqp.feasibility_tol
}

/// Ipopt's gradient-based scaling factor (see `auglag.rs`).
fn gradient_scale(largest: f64) -> f64 {
    if largest.is_finite() && largest > 100.0 {
        100.0 / largest
    } else {
        1.0
    }
}

/// One subproblem's answer, in scaled units.
struct Step {
    d: Vec<f64>,
    /// The multipliers of the scaled constraints.
    lambda: Vec<f64>,
    /// The largest elastic variable: 0 where the linearisation holds.
    elastic: f64,
}

/// The data of the subproblem that stay fixed across its solves in one
/// iteration: `B`, the scaled gradient and Jacobian, and the bounds on `d`.
struct Subproblem<'a> {
    b: &'a [f64],
    grad: Vec<f64>,
    jac: Vec<f64>,
    kinds: &'a [ConstraintKind],
    /// `(j, low, high)` for each variable with a finite bound on `d_j`.
    bounds: Vec<(usize, f64, f64)>,
    n: usize,
}

impl Subproblem<'_> {
    /// Solves the plain subproblem (no elastic variables) with constraint
    /// constants `c` (scaled); `None` if the linearisation is inconsistent
    /// or the solver failed.
    fn solve_plain(&self, c: &[f64]) -> Option<Step> {
        let (n, m) = (self.n, self.kinds.len());
        let (mut g, mut h) = (Vec::new(), Vec::new());
        let mut row = |i: usize, sign: f64| {
            g.extend(self.jac[i * n..(i + 1) * n].iter().map(|v| sign * v));
            h.push(-sign * c[i]);
        };
        for (i, kind) in self.kinds.iter().enumerate() {
            row(i, 1.0);
            if *kind == ConstraintKind::Equality {
                row(i, -1.0);
            }
        }
        for &(j, lo, hi) in &self.bounds {
            let mut e = vec![0.0; n];
            if hi.is_finite() {
                e[j] = 1.0;
                g.extend_from_slice(&e);
                h.push(hi);
            }
            if lo.is_finite() {
                e[j] = -1.0;
                g.extend_from_slice(&e);
                h.push(-lo);
            }
        }
        let sol = qp::solve(self.b, &self.grad, &g, &h);
        if sol.status != QpStatus::Solved || sol.z.iter().chain(&sol.y).any(|v| !v.is_finite()) {
            return None;
        }
        let mut lambda = vec![0.0; m];
        let mut k = 0;
        for (i, kind) in self.kinds.iter().enumerate() {
            lambda[i] = sol.y[k];
            k += 1;
            if *kind == ConstraintKind::Equality {
                lambda[i] -= sol.y[k];
                k += 1;
            }
        }
        Some(Step {
            d: sol.z,
            lambda,
            elastic: 0.0,
        })
    }

    /// Solves with constraint constants `c` (scaled) and elastic weight
    /// `mu`; `None` if the QP solver failed.
    fn solve(&self, c: &[f64], mu: f64) -> Option<Step> {
        let (n, m) = (self.n, self.kinds.len());
        let nz = n + m;
        let mut q = vec![0.0; nz * nz];
        for i in 0..n {
            q[i * nz..i * nz + n].copy_from_slice(&self.b[i * n..(i + 1) * n]);
        }
        let mut lin = self.grad.clone();
        lin.extend(std::iter::repeat_n(mu, m));
        let (mut g, mut h) = (Vec::new(), Vec::new());
        let mut row = |coef: &[(usize, f64)], jac: Option<(usize, f64)>, rhs: f64| {
            let start = g.len();
            g.resize(start + nz, 0.0);
            if let Some((i, sign)) = jac {
                for j in 0..n {
                    g[start + j] = sign * self.jac[i * n + j];
                }
            }
            for &(k, v) in coef {
                g[start + k] += v;
            }
            h.push(rhs);
        };
        for (i, kind) in self.kinds.iter().enumerate() {
            let t = n + i;
            row(&[(t, -1.0)], Some((i, 1.0)), -c[i]);
            match kind {
                ConstraintKind::Inequality => row(&[(t, -1.0)], None, 0.0),
                ConstraintKind::Equality => row(&[(t, -1.0)], Some((i, -1.0)), c[i]),
            }
        }
        for &(j, lo, hi) in &self.bounds {
            if hi.is_finite() {
                row(&[(j, 1.0)], None, hi);
            }
            if lo.is_finite() {
                row(&[(j, -1.0)], None, -lo);
            }
        }
        let sol = qp::solve(&q, &lin, &g, &h);
        if sol.status != QpStatus::Solved || sol.z.iter().chain(&sol.y).any(|v| !v.is_finite()) {
            return None;
        }
        let lambda = (self.kinds.iter().enumerate())
            .map(|(i, kind)| match kind {
                ConstraintKind::Inequality => sol.y[2 * i],
                ConstraintKind::Equality => sol.y[2 * i] - sol.y[2 * i + 1],
            })
            .collect();
        let elastic = sol.z[n..].iter().fold(0.0f64, |a, &t| a.max(t));
        Some(Step {
            d: sol.z[..n].to_vec(),
            lambda,
            elastic,
        })
    }

    /// The scaled ℓ1 violation of the linearised constraints at `d`.
    fn linear_violation(&self, c: &[f64], d: &[f64]) -> f64 {
        let n = self.n;
        (self.kinds.iter().enumerate())
            .map(|(i, k)| {
                let lin = c[i] + (0..n).map(|j| self.jac[i * n + j] * d[j]).sum::<f64>();
                k.violation(lin)
            })
            .sum()
    }
}

/// `h` made positive definite, into `b` (see the module docs): `h` itself,
/// else `h + ρ Σ aaᵀ/‖a‖²` over the active rows `a`, else `h + τI`.
fn convexify(h: &[f64], n: usize, active: &[Vec<f64>], b: &mut [f64]) {
    let mut factor = vec![0.0; n * n];
    b.copy_from_slice(h);
    if dense::cholesky(b, n, 0.0, &mut factor) {
        return;
    }
    let size = h.iter().fold(1.0f64, |a, v| a.max(v.abs()));
    if !active.is_empty() {
        for rho in [1.0, 1e2, 1e4] {
            b.copy_from_slice(h);
            for a in active {
                let norm2: f64 = a.iter().map(|v| v * v).sum();
                if norm2 > 0.0 {
                    let w = rho * size / norm2;
                    for i in 0..n {
                        for j in 0..n {
                            b[i * n + j] += w * a[i] * a[j];
                        }
                    }
                }
            }
            if dense::cholesky(b, n, 0.0, &mut factor) {
                return;
            }
        }
    }
    let mut tau = 1e-4 * size;
    loop {
        b.copy_from_slice(h);
        for i in 0..n {
            b[i * n + i] += tau;
        }
        if dense::cholesky(b, n, 0.0, &mut factor) || !tau.is_finite() {
            return;
        }
        tau *= 10.0;
    }
}

/// The damped BFGS update of `b` with step `s` and gradient change `y`
/// (Powell's damping keeps `b` positive definite).
fn bfgs_update(b: &mut [f64], n: usize, s: &[f64], y: &[f64]) {
    let bs: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| b[i * n + j] * s[j]).sum())
        .collect();
    let sbs: f64 = s.iter().zip(&bs).map(|(a, b)| a * b).sum();
    let sy: f64 = s.iter().zip(y).map(|(a, b)| a * b).sum();
    if !(sbs > 0.0 && sbs.is_finite() && sy.is_finite()) {
        return;
    }
    let theta = if sy >= 0.2 * sbs {
        1.0
    } else {
        0.8 * sbs / (sbs - sy)
    };
    let r: Vec<f64> = (0..n)
        .map(|i| theta * y[i] + (1.0 - theta) * bs[i])
        .collect();
    let sr: f64 = s.iter().zip(&r).map(|(a, b)| a * b).sum();
    if sr <= 0.0 {
        return;
    }
    for i in 0..n {
        for j in 0..n {
            b[i * n + j] += r[i] * r[j] / sr - bs[i] * bs[j] / sbs;
        }
    }
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

/// The loop, on checked input.
fn run(
    problem: &mut dyn ConstrainedObjective,
    start: &[f64],
    settings: &Settings,
    sqp: &Sqp,
    exact: bool,
) -> ConstrainedOutcome {
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
        evaluations: 0,
    };
    let mut point = s.eval(&x);
    s.fscale = gradient_scale(point.grad.iter().fold(0.0, |a, g| a.max(g.abs())));
    for i in 0..m {
        let largest = point.jac[i * n..(i + 1) * n]
            .iter()
            .fold(0.0f64, |a, v| a.max(v.abs()));
        s.cscale[i] = gradient_scale(largest);
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
    let (reason, message) = loop {
        if !point.finite() {
            let place = if iterations == 0 {
                "the start"
            } else {
                "the point reached"
            };
            break (
                Reason::Diverged,
                format!(
                    "the objective, a constraint or a gradient is not finite at {place}: \
                     outside the formula's domain"
                ),
            );
        }
        let now = measure(&s, &point, &lambda, bounds);
        if converged(&now, &point, sqp) {
            break (Reason::Kkt, Reason::Kkt.explanation().to_string());
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
                kinds[i] == ConstraintKind::Equality || lambda[i] > 0.0 || scaled_c[i] >= -1e-8
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
        let sub = Subproblem {
            b: &b,
            grad: point.grad.iter().map(|g| s.fscale * g).collect(),
            jac: scaled_jac,
            kinds: &kinds,
            bounds: step_bounds,
            n,
        };
        // The elastic weight: above the multipliers, raised while the
        // linearisation cannot hold.
        let largest_lambda = (0..m).fold(0.0f64, |a, i| a.max((lambda[i] * to_scaled[i]).abs()));
        mu = mu.max(2.0 * largest_lambda).max(1.0).min(sqp.max_penalty);
        let violation = s.violation(&point.c);
        // The ordinary subproblem first; the elastic one where its
        // linearisation is inconsistent (or it could not be solved).
        // The weight stops growing at its limit, or where the solver fails
        // with it (the last weight solved is then the limit).
        let mut step = sub.solve_plain(&scaled_c);
        let mut at_limit = false;
        if step.is_none() {
            let mut last = None;
            loop {
                let Some(st) = sub.solve(&scaled_c, mu) else {
                    at_limit = true;
                    mu = (mu / 10.0).max(1.0);
                    break;
                };
                let holds = st.elastic <= 1e-9 * violation.max(1.0);
                at_limit = mu >= sqp.max_penalty;
                last = Some(st);
                if holds || at_limit {
                    break;
                }
                mu = (mu * 10.0).min(sqp.max_penalty);
            }
            step = last;
        }
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
            break (Reason::Kkt, Reason::Kkt.explanation().to_string());
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
            if now.max_violation <= NEARLY_MET {
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
                     point that violates them less: they may have no common point"
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
    for (i, kind) in kinds.iter().enumerate() {
        if *kind == ConstraintKind::Inequality
            && point.c[i] < -sqp.feasibility_tol
            && lambda[i].abs() <= sqp.feasibility_tol
        {
            lambda[i] = 0.0;
        }
    }
    let now = measure(&s, &point, &lambda, bounds);
    let active = match bounds {
        Some(b) => point
            .x
            .iter()
            .zip(b)
            .map(|(&v, &b)| Bound::of(v, b))
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
    ConstrainedOutcome {
        outcome,
        constraints: point.c,
        multipliers: lambda,
        max_violation: now.max_violation,
        kkt_residual: now.kkt,
        outer_iterations: iterations,
        penalty: nu / fscale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Formula;

    fn sqp(text: &str, start: &[f64], bounds: Option<Vec<(f64, f64)>>) -> ConstrainedOutcome {
        let f = Formula::parse(text).unwrap();
        let settings = Settings {
            bounds,
            ..Settings::default()
        };
        minimize_sqp(
            &mut f.compile_problem().unwrap(),
            start,
            &settings,
            &Sqp::default(),
        )
        .unwrap()
    }

    fn near(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    #[test]
    fn each_kind_of_constraint_with_its_multiplier() {
        // (formula, start, bounds, x*, λ*)
        type Case<'a> = (
            &'a str,
            &'a [f64],
            Option<Vec<(f64, f64)>>,
            &'a [f64],
            &'a [f64],
        );
        let free = f64::INFINITY;
        let cases: Vec<Case> = vec![
            (
                "(x - 2)^2 + (y - 1)^2\nsubject to x + y <= 2",
                &[0.0, 0.0],
                None,
                &[1.5, 0.5],
                &[1.0],
            ),
            (
                "x^2 + y^2\nsubject to x + y >= 1",
                &[3.0, -1.0],
                None,
                &[0.5, 0.5],
                &[1.0],
            ),
            (
                "x*y\nsubject to x^2 + y^2 == 2",
                &[1.0, -0.5],
                None,
                &[1.0, -1.0],
                &[0.5],
            ),
            (
                "(x - 1)^2 + (y - 2)^2\nsubject to x + y == 1\nsubject to x >= 0.5",
                &[0.0, 0.0],
                Some(vec![(-free, free), (-1.0, 0.2)]),
                &[0.8, 0.2],
                &[0.4, 0.0],
            ),
        ];
        for (text, start, bounds, x, lambda) in cases {
            let out = sqp(text, start, bounds);
            assert_eq!(out.outcome.reason, Reason::Kkt, "{text}: {out:?}");
            assert!(out.max_violation <= 1e-8, "{text}: {out:?}");
            assert!(near(&out.outcome.x, x, 1e-7), "{text}: {out:?}");
            assert!(near(&out.multipliers, lambda, 1e-6), "{text}: {out:?}");
            assert!(out.outcome.hessian_evaluations > 0);
        }
    }

    #[test]
    fn contradictory_constraints_are_infeasible() {
        let text = "x^2\nsubject to x >= 1\nsubject to x <= 0";
        let out = sqp(text, &[3.0], None);
        assert_eq!(out.outcome.reason, Reason::Infeasible, "{text}: {out:?}");
        assert!(out.max_violation > 0.1, "{text}: {out:?}");
    }

    /// The problem without its Hessian: SQP falls back on damped BFGS.
    struct NoHessian(crate::CompiledProblem);

    impl ConstrainedObjective for NoHessian {
        fn n_vars(&self) -> usize {
            self.0.n_vars()
        }
        fn kinds(&self) -> &[ConstraintKind] {
            self.0.kinds()
        }
        fn jacobian_pattern(&self) -> &[(usize, usize)] {
            self.0.jacobian_pattern()
        }
        fn eval(&mut self, x: &[f64], g: &mut [f64], c: &mut [f64], j: &mut [f64]) -> f64 {
            self.0.eval(x, g, c, j)
        }
    }

    #[test]
    fn without_a_hessian_damped_bfgs_gets_there() {
        // The closest point to (2, 1) under the parabola y >= x^2 and the
        // line x + y <= 2 is their corner (1, 1).
        let f = Formula::parse("(x - 2)^2 + (y - 1)^2\nsubject to x^2 <= y\nsubject to x + y <= 2")
            .unwrap();
        let mut p = NoHessian(f.compile_problem().unwrap());
        let out = minimize_sqp(&mut p, &[0.0, 0.0], &Settings::default(), &Sqp::default()).unwrap();
        assert_eq!(out.outcome.reason, Reason::Kkt, "{out:?}");
        assert_eq!(out.outcome.hessian_evaluations, 0);
        assert!(near(&out.outcome.x, &[1.0, 1.0], 1e-7), "{out:?}");
    }

    #[test]
    fn the_second_order_correction_takes_the_full_step_on_a_circle() {
        // Nocedal and Wright's example of the Maratos effect: from a point
        // on the circle near the solution (1, 0), the full SQP step raises
        // both f and the violation, and the ℓ1 merit refuses it.
        let t: f64 = 0.3;
        let out = sqp(
            "2*(x^2 + y^2 - 1) - x\nsubject to x^2 + y^2 == 1",
            &[t.cos(), t.sin()],
            None,
        );
        assert_eq!(out.outcome.reason, Reason::Kkt, "{out:?}");
        assert!(near(&out.outcome.x, &[1.0, 0.0], 1e-7), "{out:?}");
        // Quadratic convergence: a handful of iterations, each one
        // evaluation or two (the corrected step).
        assert!(out.outcome.iterations <= 6, "{out:?}");
        assert!(
            out.outcome.evaluations <= 2 * out.outcome.iterations + 1,
            "{out:?}"
        );
    }

    #[test]
    fn bad_input_is_an_error_before_any_evaluation() {
        let f = Formula::parse("x^2\nsubject to x >= 1").unwrap();
        let mut p = f.compile_problem().unwrap();
        let bad = Sqp {
            optimality_tol: 0.0,
            ..Sqp::default()
        };
        assert!(minimize_sqp(&mut p, &[1.0], &Settings::default(), &bad).is_err());
        assert!(minimize_sqp(&mut p, &[1.0, 2.0], &Settings::default(), &Sqp::default()).is_err());
    }
}
