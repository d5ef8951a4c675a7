//! Newton's method on the dense exact Hessian, projected onto the bounds when
//! there are any (Bertsekas' projected Newton method). Variables at a bound
//! with the gradient pushing them out of the box are held; the Newton step
//! is taken on the others (the free subspace), where the Hessian is
//! shifted by a multiple of the identity until it is positive definite, so
//! the step is a descent direction. A backtracking search along the
//! projected path `P(x + t d)` from the full step keeps each step lowering
//! f; when no step does, the method says so at once. Where the Hessian had
//! to be shifted, the shift also keeps the step within a radius that
//! doubles after each step taken whole, so that steps along negative or
//! zero curvature grow (and a run along a direction of unbounded decrease
//! gets somewhere).
//!
//! [`curvature`] chooses between this and the truncated Newton of
//! `newton_cg.rs`, which needs only Hessian-vector products: this where
//! the objective has a dense Hessian and at most [`DENSE_NEWTON_MAX_VARS`]
//! variables.

use super::dense::{cholesky, solve_cholesky};
use super::line_search::backtrack;
use super::vector::held;
use super::{Context, Step, StepResult};
use crate::error::{Error, ErrorKind, Result};
use crate::objective::Objective;

/// The most variables for which Newton's method factorises the dense
/// Hessian (and the saddle test reads it): at 1,000 each of its three
/// `n × n` matrices is 8 MB and a Cholesky factorisation about 3·10⁸
/// multiply-adds, against a few Hessian-vector products for a truncated
/// Newton step. Beyond it Newton takes its steps by conjugate gradients.
pub const DENSE_NEWTON_MAX_VARS: usize = 1_000;

pub(crate) struct Newton {
    n: usize,
    hessian: Vec<f64>,
    /// The free variables' indices, and their Hessian, gradient and step.
    free: Vec<usize>,
    reduced: Vec<f64>,
    reduced_grad: Vec<f64>,
    reduced_step: Vec<f64>,
    factor: Vec<f64>,
    direction: Vec<f64>,
    trial: Vec<f64>,
    trial_grad: Vec<f64>,
    /// How long a step may be where the Hessian had to be shifted.
    radius: f64,
}

impl Newton {
    pub fn new(n: usize) -> Newton {
        Newton {
            n,
            hessian: vec![0.0; n * n],
            free: Vec::with_capacity(n),
            reduced: vec![0.0; n * n],
            reduced_grad: vec![0.0; n],
            reduced_step: vec![0.0; n],
            factor: vec![0.0; n * n],
            direction: vec![0.0; n],
            trial: vec![0.0; n],
            trial_grad: vec![0.0; n],
            radius: 1.0,
        }
    }
}

impl Step for Newton {
    fn step(
        &mut self,
        ctx: &mut Context<'_>,
        x: &mut [f64],
        f: &mut f64,
        grad: &mut [f64],
    ) -> StepResult {
        if !ctx.hessian(x, &mut self.hessian) || self.hessian.iter().any(|h| !h.is_finite()) {
            return StepResult::Failed;
        }
        let bounds = ctx.bounds();
        choose_free(x, grad, bounds, &mut self.free);
        let (n, k) = (self.n, self.free.len());
        for (a, &i) in self.free.iter().enumerate() {
            self.reduced_grad[a] = grad[i];
            for (b, &j) in self.free.iter().enumerate() {
                self.reduced[a * k + b] = self.hessian[i * n + j];
            }
        }
        // The smallest shift that makes the matrix positive definite, found
        // by doubling it from a scale set by the diagonal.
        let scale = (0..k)
            .map(|a| self.reduced[a * k + a].abs())
            .fold(0.0, f64::max)
            .max(1e-12);
        let mut shift = 0.0;
        while !cholesky(&self.reduced[..k * k], k, shift, &mut self.factor) {
            shift = if shift == 0.0 {
                1e-8 * scale
            } else {
                shift * 2.0
            };
            if !shift.is_finite() || shift > 1e300 {
                return StepResult::Failed;
            }
        }
        // Where the Hessian had to be shifted, the model has no minimum
        // along some direction, and the step's length is set by a radius
        // instead (as in a trust region): the shift is |g| / radius when
        // that keeps the matrix positive definite (a singular Hessian
        // needs only a little), else the one just found.
        if shift > 0.0 {
            let g_norm = self.reduced_grad[..k]
                .iter()
                .map(|g| g * g)
                .sum::<f64>()
                .sqrt();
            let wanted = g_norm / self.radius;
            let (reduced, factor) = (&self.reduced[..k * k], &mut self.factor);
            if !(wanted > 0.0 && wanted.is_finite() && cholesky(reduced, k, wanted, factor)) {
                cholesky(reduced, k, shift, factor);
            }
        }
        solve_cholesky(
            &self.factor[..k * k],
            k,
            &self.reduced_grad[..k],
            &mut self.reduced_step[..k],
        );
        // Held variables move down their gradient, which the projection
        // turns into staying on their bound.
        for (d, g) in self.direction.iter_mut().zip(grad.iter()) {
            *d = -g;
        }
        for (a, &i) in self.free.iter().enumerate() {
            self.direction[i] = self.reduced_step[a];
        }
        let mut t = ctx.settings.method.lr();
        let moved = backtrack(
            ctx,
            x,
            f,
            grad,
            &self.direction,
            &mut t,
            &mut self.trial,
            &mut self.trial_grad,
        );
        // A shifted step that was taken whole may be twice as long next
        // time; one cut back sets the radius to what was taken.
        if shift > 0.0 {
            let length = t * self.direction.iter().map(|d| d * d).sum::<f64>().sqrt();
            self.radius = match t == ctx.settings.method.lr() {
                true => 2.0 * self.radius.max(length),
                false => length.max(f64::MIN_POSITIVE),
            };
        }
        moved
    }
}

/// Chooses the free variables into `free`: those not within `epsilon` of
/// a bound that the gradient pushes them against. Newton's dense and CG
/// steps both take them.
pub(super) fn choose_free(
    x: &[f64],
    grad: &[f64],
    bounds: Option<&[(f64, f64)]>,
    free: &mut Vec<usize>,
) {
    free.clear();
    let n = x.len();
    let Some(bounds) = bounds else {
        free.extend(0..n);
        return;
    };
    // Bertsekas' ε: a variable this close to a bound it is pushed
    // against is held, so the search does not crawl towards it.
    let width = (0..n)
        .map(|i| (x[i] - (x[i] - grad[i]).clamp(bounds[i].0, bounds[i].1)).abs())
        .fold(0.0, f64::max);
    let epsilon = width.min(1e-6);
    free.extend((0..n).filter(|&i| !held(x[i], grad[i], bounds[i], epsilon)));
}

/// How Newton's method reads the Hessian.
#[derive(Copy, Clone, PartialEq, Debug)]
pub(crate) enum Curvature {
    /// The dense `n × n` matrix, factorised (this file).
    Dense,
    /// The objective's Hessian-vector products, for conjugate gradients
    /// (`newton_cg.rs`).
    Products,
    /// Hessian-vector products by forward differences of the exact
    /// gradient, one gradient each, where the objective has no products
    /// of its own.
    Differences,
}

/// How Newton will read `objective`'s Hessian: the dense matrix where it
/// has one and `n` is at most [`DENSE_NEWTON_MAX_VARS`], else its products
/// if it has them, else differences of its gradient if that is exact (an
/// objective whose Hessian failed to build, over a size limit, still gets
/// Newton this way); an error for a differenced gradient with no Hessian,
/// whose differences would be mostly rounding.
pub(crate) fn curvature(objective: &mut dyn Objective) -> Result<Curvature> {
    let mut failure = None;
    if objective.n_vars() <= DENSE_NEWTON_MAX_VARS {
        match objective.prepare_hessian() {
            Ok(true) => return Ok(Curvature::Dense),
            Ok(false) => {}
            Err(e) => failure = Some(e),
        }
    }
    match objective.prepare_hess_vec() {
        Ok(true) => return Ok(Curvature::Products),
        Ok(false) => {}
        Err(e) => failure = failure.or(Some(e)),
    }
    if objective.evaluations_per_gradient() == 1 {
        return Ok(Curvature::Differences);
    }
    Err(failure.unwrap_or_else(|| {
        Error::new(
            ErrorKind::Usage,
            "newton needs the Hessian, Hessian-vector products or an exact gradient, \
             and this objective has none of them",
        )
        .with_hint("use the exact gradient (no --gradient fd), or choose a method that needs only the gradient")
    }))
}
