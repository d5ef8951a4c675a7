//! What the outer loop of the augmented Lagrangian measures and decides
//! at each point: the violation, the KKT residual and the complementarity;
//! least-squares multipliers where the first-order ones lag; and the tests
//! behind the `infeasible` verdict.

use super::{Auglag, Augmented};
use crate::constraint::ConstraintKind;
use crate::optim::dense;
use crate::optim::outcome::Outcome;

/// Everything measured at a point after an inner run.
#[derive(Clone)]
pub(super) struct Measured {
    pub(super) f: f64,
    pub(super) grad: Vec<f64>,
    pub(super) max_violation: f64,
    /// The largest violation in each row's unit, which the tests use.
    pub(super) scaled_violation: f64,
    /// Each row's unit (`optim/feasibility.rs`).
    pub(super) units: Vec<f64>,
    pub(super) kkt: f64,
    pub(super) complementarity: f64,
}

/// Evaluations and iterations summed over the inner runs and the outer
/// loop's own evaluations.
#[derive(Default)]
pub(super) struct Counts {
    pub(super) iterations: usize,
    pub(super) evaluations: usize,
    pub(super) gradient_evaluations: usize,
}

impl Counts {
    pub(super) fn add(&mut self, inner: &Outcome) {
        self.iterations += inner.iterations;
        self.evaluations += inner.evaluations;
        self.gradient_evaluations += inner.gradient_evaluations;
    }
}

/// Evaluates at `x` (one counted evaluation), leaving the constraints and
/// the Jacobian in `aug`'s buffers, and measures the point with the
/// current multipliers.
pub(super) fn measure(
    aug: &mut Augmented<'_>,
    x: &[f64],
    bounds: Option<&[(f64, f64)]>,
    counts: &mut Counts,
) -> Measured {
    let mut grad = vec![0.0; x.len()];
    let f = aug.eval(x, &mut grad);
    counts.evaluations += 1;
    counts.gradient_evaluations += 1;
    let now = Measured {
        f,
        grad,
        max_violation: 0.0,
        scaled_violation: 0.0,
        units: Vec::new(),
        kkt: 0.0,
        complementarity: 0.0,
    };
    remeasure(aug, x, bounds, now)
}

/// The violation, KKT residual and complementarity at `x` from the
/// values in `aug`'s buffers and its multipliers.
pub(super) fn remeasure(
    aug: &Augmented<'_>,
    x: &[f64],
    bounds: Option<&[(f64, f64)]>,
    mut now: Measured,
) -> Measured {
    let mut lagrangian = now.grad.clone();
    for (k, &(i, j)) in aug.pattern.iter().enumerate() {
        lagrangian[j] += aug.lambda[i] * aug.jac[k];
    }
    now.kkt = projected_step(x, &lagrangian, bounds);
    now.max_violation = 0.0;
    now.scaled_violation = 0.0;
    now.complementarity = 0.0;
    let norms = crate::optim::feasibility::row_norms(aug.kinds.len(), &aug.pattern, &aug.jac);
    now.units = crate::optim::feasibility::units(&aug.start_sizes, norms, x);
    for (i, kind) in aug.kinds.iter().enumerate() {
        let (g, unit) = (aug.c[i], now.units[i]);
        let v = kind.violation(g);
        now.max_violation = if v.is_nan() {
            v
        } else {
            now.max_violation.max(v)
        };
        let v = v / unit;
        now.scaled_violation = if v.is_nan() {
            v
        } else {
            now.scaled_violation.max(v)
        };
        if *kind == ConstraintKind::Inequality && g < 0.0 {
            now.complementarity = now
                .complementarity
                .max((aug.lambda[i] * unit).min(-g / unit));
        }
    }
    now
}

/// Whether `now` meets the tolerances of [`Reason::Kkt`].
pub(super) fn converged(now: &Measured, auglag: &Auglag) -> bool {
    now.scaled_violation <= auglag.feasibility_tol
        && now.kkt <= auglag.optimality_tol * scale(&now.grad)
        && now.complementarity <= auglag.feasibility_tol
}

/// Most active constraints for which [`least_squares_multipliers`] solves
/// its dense system (m³/3 operations).
const MAX_LEAST_SQUARES: usize = 200;

/// The multipliers of the active constraints (equalities, and inequalities
/// whose multiplier `lambda` is positive) that best balance `∇f` over the
/// variables no bound holds: `min ‖∇f + J_Aᵀ μ‖` over those variables, by
/// the normal equations. `None` if too many constraints are active, the
/// system is singular, or an inequality's multiplier comes out negative.
pub(super) fn least_squares_multipliers(
    aug: &Augmented<'_>,
    lambda: &[f64],
    x: &[f64],
    bounds: Option<&[(f64, f64)]>,
    grad: &[f64],
) -> Option<Vec<f64>> {
    let active: Vec<usize> = (0..aug.kinds.len())
        .filter(|&i| aug.kinds[i] == ConstraintKind::Equality || lambda[i] > 0.0)
        .collect();
    let k = active.len();
    if k == 0 || k > MAX_LEAST_SQUARES {
        return None;
    }
    let free = |j: usize| bounds.is_none_or(|b| x[j] > b[j].0 && x[j] < b[j].1);
    // Row `r` of J_A, over the free variables, as a sparse list.
    let mut row_of = vec![usize::MAX; aug.kinds.len()];
    for (r, &i) in active.iter().enumerate() {
        row_of[i] = r;
    }
    let mut rows: Vec<Vec<(usize, f64)>> = vec![Vec::new(); k];
    for (e, &(i, j)) in aug.pattern.iter().enumerate() {
        if row_of[i] != usize::MAX && free(j) {
            rows[row_of[i]].push((j, aug.jac[e]));
        }
    }
    let mut dense_row = vec![0.0; x.len()];
    let mut normal = vec![0.0; k * k];
    let mut rhs = vec![0.0; k];
    for a in 0..k {
        for &(j, v) in &rows[a] {
            dense_row[j] += v;
        }
        rhs[a] = -rows[a].iter().map(|&(j, v)| v * grad[j]).sum::<f64>();
        for b in 0..k {
            normal[a * k + b] = rows[b].iter().map(|&(j, v)| v * dense_row[j]).sum();
        }
        for &(j, _) in &rows[a] {
            dense_row[j] = 0.0;
        }
    }
    if !dense::solve(&mut normal, k, &mut rhs) {
        return None;
    }
    let mut out = vec![0.0; aug.kinds.len()];
    for (r, &i) in active.iter().enumerate() {
        let mu = rhs[r];
        if !mu.is_finite() || (aug.kinds[i] == ConstraintKind::Inequality && mu < 0.0) {
            return None;
        }
        out[i] = mu;
    }
    Some(out)
}

/// The size the optimality tolerance is relative to: `max(1, ‖∇f‖∞)`, so
/// that a problem whose gradients are in the hundreds is held to the same
/// relative accuracy as one whose gradients are near 1.
pub(super) fn scale(grad: &[f64]) -> f64 {
    grad.iter()
        .fold(1.0f64, |m, g| if g.abs() > m { g.abs() } else { m })
}

/// `‖P(x − d) − x‖∞`, with P the projection onto the bounds.
fn projected_step(x: &[f64], d: &[f64], bounds: Option<&[(f64, f64)]>) -> f64 {
    let mut largest = 0.0f64;
    for (j, (&xj, &dj)) in x.iter().zip(d).enumerate() {
        let mut to = xj - dj;
        if let Some(b) = bounds {
            to = to.clamp(b[j].0, b[j].1);
        }
        let step = (to - xj).abs();
        largest = if step.is_nan() {
            step
        } else {
            largest.max(step)
        };
    }
    largest
}

/// Whether `x` is stationary for the violation `½‖g⁺‖²` within the
/// bounds: the gradient of the violation, `Σ r_i ∇g_i` (`r_i` the
/// violation of constraint i), leaving out components a bound blocks, is
/// below 1e-3 of its largest term `|r_i|·‖∇g_i‖∞`. The violated
/// constraints then pull against each other (or into the bounds), so no
/// nearby point violates them less. Relative to the terms, not absolute,
/// so that constraints with tiny gradients (HS72's `4/x1`, 1e-4 at the
/// solution) are not taken for stationary.
pub(super) fn infeasibility_stationary(
    aug: &Augmented<'_>,
    x: &[f64],
    bounds: Option<&[(f64, f64)]>,
) -> bool {
    let mut d = vec![0.0; x.len()];
    let mut largest_term = 0.0f64;
    for (k, &(i, j)) in aug.pattern.iter().enumerate() {
        let g = aug.c[i];
        let r = match aug.kinds[i] {
            ConstraintKind::Equality => g,
            ConstraintKind::Inequality => g.max(0.0),
        };
        d[j] += r * aug.jac[k];
        largest_term = largest_term.max((r * aug.jac[k]).abs());
    }
    let mut free = 0.0f64;
    for (j, &dj) in d.iter().enumerate() {
        let blocked =
            bounds.is_some_and(|b| (x[j] <= b[j].0 && dj > 0.0) || (x[j] >= b[j].1 && dj < 0.0));
        if !blocked {
            free = free.max(dj.abs());
        }
    }
    free <= 1e-3 * largest_term
}

/// Most variables [`less_violated_nearby`] probes, two points each.
const MAX_PROBED: usize = 50;

/// A point near `x`, a step of 1e-2·max(1, |x_j|) along a coordinate (at
/// most [`MAX_PROBED`] of them, both ways, within the bounds), where the
/// constraints' squared violation `Σ r_i²` is lower than at `x` by more
/// than a millionth: `None` if there is none, and `x` is a local minimum
/// of the violation as far as the probes tell. Each probe is a counted
/// evaluation; `aug`'s buffers are left holding the values at the point
/// returned, or at `x`.
pub(super) fn less_violated_nearby(
    aug: &mut Augmented<'_>,
    x: &[f64],
    bounds: Option<&[(f64, f64)]>,
    counts: &mut Counts,
) -> Option<Vec<f64>> {
    let mut grad = vec![0.0; x.len()];
    let mut squared = |aug: &mut Augmented<'_>, p: &[f64], counts: &mut Counts| -> f64 {
        aug.eval(p, &mut grad);
        counts.evaluations += 1;
        counts.gradient_evaluations += 1;
        (aug.kinds.iter().zip(&aug.c))
            .map(|(k, &g)| k.violation(g).powi(2))
            .sum()
    };
    let here = squared(aug, x, counts);
    let mut probe = x.to_vec();
    for j in 0..x.len().min(MAX_PROBED) {
        for sign in [1.0, -1.0] {
            let mut to = x[j] + sign * 1e-2 * x[j].abs().max(1.0);
            if let Some(b) = bounds {
                to = to.clamp(b[j].0, b[j].1);
            }
            probe[j] = to;
            let there = squared(aug, &probe, counts);
            if there < here * (1.0 - 1e-6) {
                return Some(probe);
            }
            probe[j] = x[j];
        }
    }
    // Leave the buffers as they were at `x`, which the run reports.
    squared(aug, x, counts);
    None
}
