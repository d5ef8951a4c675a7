//! Newton's method for large `n`: truncated Newton (Newton-CG, Nocedal
//! and Wright's Algorithm 7.1), taking each step by conjugate gradients on
//! `H p = -g` with Hessian-vector products, never forming the `n × n`
//! Hessian. CG stops when the residual is below the forcing term
//! `min(0.5, √‖g‖)·‖g‖` (superlinear convergence near a minimum, cheap
//! inexact steps far from it), or at the first direction of zero or
//! negative curvature: then the step is the CG iterate so far, or, if that
//! is the first direction, steepest descent scaled by its curvature's
//! magnitude, `-(gᵀg / |gᵀHg|) g` (scipy's fallback). A backtracking search along
//! the step keeps each one lowering f, and ends the run at once when none
//! does.
//!
//! The products are the objective's own where it has them
//! ([`Objective::hess_vec`](crate::Objective::hess_vec)), else forward
//! differences of its exact gradient, `(∇f(x + h d) - ∇f(x)) / h`, one
//! gradient each (scipy's Newton-CG does the same without `hessp`): `h`
//! moves the largest component of `h d` by `√ε·max(1, ‖x‖∞)`, so the
//! difference's error is about `√ε` of the Hessian's scale, small beside
//! the forcing term until the gradient is tiny. Either way a product is
//! counted as a Hessian evaluation.
//!
//! With bounds it is projected as [`Newton`](super::newton) is: variables
//! held at a bound are fixed, CG runs over the others (their products read
//! with the held components of the vector zero, and written only to the
//! free ones), held variables move down their gradient, and the search
//! follows the projected path; a difference is taken backwards where only
//! that stays in the box.

use super::line_search::backtrack;
use super::newton::choose_free;
use super::vector::dot;
use super::{Context, Step, StepResult};
use crate::fd::Scheme;

pub(crate) struct NewtonCg {
    /// Whether products are differences of the gradient rather than the
    /// objective's own.
    differenced: bool,
    /// Whether each variable is free this step.
    free: Vec<bool>,
    free_indices: Vec<usize>,
    /// The CG iterate (the Newton step over the free variables), its
    /// residual `H z + g`, search direction and `H d`; zero at held
    /// variables.
    z: Vec<f64>,
    residual: Vec<f64>,
    d: Vec<f64>,
    hd: Vec<f64>,
    direction: Vec<f64>,
    trial: Vec<f64>,
    trial_grad: Vec<f64>,
}

/// CG iterations a step may take beyond the number of free variables (in
/// exact arithmetic CG ends within that number; rounding can need a few
/// more on an ill-conditioned Hessian).
const EXTRA_CG_ITERATIONS: usize = 10;

/// The length, in units of `-g`, of the step down the gradient when the
/// first CG direction `-g` has curvature `curvature = gᵀHg <= 0` (`rr` is
/// `gᵀg`): `gᵀg / |gᵀHg|`, the step to the minimum of the quadratic with
/// the curvature's magnitude along `-g` (scipy's Newton-CG falls back so),
/// or 1 where the curvature is exactly zero.
///
/// The unscaled `-g` is only right for a gradient of size 1: a gradient
/// in the hundreds makes the search halve the step eight or more times,
/// one gradient each, in every iteration that meets negative curvature
/// first; `-g` in units of its curvature is as long as the problem's own
/// scale says.
fn first_step(rr: f64, curvature: f64) -> f64 {
    let scale = rr / -curvature;
    if curvature < 0.0 && scale.is_finite() && scale > 0.0 {
        scale
    } else {
        1.0
    }
}

impl NewtonCg {
    /// Newton-CG over `n` variables, on differences of the gradient if
    /// `differenced`, else on the objective's products.
    pub fn new(n: usize, differenced: bool) -> NewtonCg {
        NewtonCg {
            differenced,
            free: vec![true; n],
            free_indices: Vec::with_capacity(n),
            z: vec![0.0; n],
            residual: vec![0.0; n],
            d: vec![0.0; n],
            hd: vec![0.0; n],
            direction: vec![0.0; n],
            trial: vec![0.0; n],
            trial_grad: vec![0.0; n],
        }
    }

    /// Conjugate gradients on `H z = -g` over the free variables, into
    /// `z`; `false` if a product failed or was not finite.
    fn solve(&mut self, ctx: &mut Context<'_>, x: &[f64], grad: &[f64]) -> bool {
        for (i, &g) in grad.iter().enumerate() {
            let g = if self.free[i] { g } else { 0.0 };
            self.z[i] = 0.0;
            self.residual[i] = g;
            self.d[i] = -g;
        }
        let mut rr = dot(&self.residual, &self.residual);
        let g_norm = rr.sqrt();
        let forcing = g_norm.sqrt().min(0.5) * g_norm;
        let most = self.free_indices.len() * 2 + EXTRA_CG_ITERATIONS;
        for j in 0..most {
            if rr.sqrt() <= forcing {
                break;
            }
            if !self.product(ctx, x, grad) {
                return false;
            }
            for (h, &free) in self.hd.iter_mut().zip(&self.free) {
                if !free {
                    *h = 0.0;
                }
            }
            let curvature = dot(&self.d, &self.hd);
            if curvature.is_nan() || self.hd.iter().any(|h| !h.is_finite()) {
                return false;
            }
            if curvature <= 0.0 {
                // Along d the model has no minimum: keep the iterate so
                // far, or, on the first direction, go down the gradient,
                // scaled (see `first_step`).
                if j == 0 {
                    let scale = first_step(rr, curvature);
                    for (z, d) in self.z.iter_mut().zip(&self.d) {
                        *z = scale * d;
                    }
                }
                break;
            }
            let alpha = rr / curvature;
            for i in 0..x.len() {
                self.z[i] += alpha * self.d[i];
                self.residual[i] += alpha * self.hd[i];
            }
            let next = dot(&self.residual, &self.residual);
            let beta = next / rr;
            rr = next;
            for (d, r) in self.d.iter_mut().zip(&self.residual) {
                *d = -r + beta * *d;
            }
        }
        true
    }

    /// `H(x)·d` into `hd`: the objective's product, or a forward
    /// difference of the gradient along `d` (with `trial` and `trial_grad`
    /// as scratch); `false` if the objective's product failed.
    fn product(&mut self, ctx: &mut Context<'_>, x: &[f64], grad: &[f64]) -> bool {
        if !self.differenced {
            return ctx.hess_vec(x, &self.d, &mut self.hd);
        }
        ctx.count_differenced_product();
        let d_max = self.d.iter().fold(0.0, |m: f64, v| m.max(v.abs()));
        if d_max == 0.0 {
            self.hd.iter_mut().for_each(|h| *h = 0.0);
            return true;
        }
        let x_max = x.iter().fold(0.0, |m: f64, v| m.max(v.abs()));
        let mut h = Scheme::Forward.step(x_max) / d_max;
        // Backwards if only that stays in the box.
        if let Some(bounds) = ctx.bounds() {
            let inside = |h: f64| {
                (x.iter().zip(&self.d).zip(bounds))
                    .all(|((x, d), &(lo, hi))| (lo..=hi).contains(&(x + h * d)))
            };
            if !inside(h) && inside(-h) {
                h = -h;
            }
        }
        for ((p, x), d) in self.trial.iter_mut().zip(x).zip(&self.d) {
            *p = x + h * d;
        }
        ctx.value_grad(&self.trial, &mut self.trial_grad);
        for ((hd, moved), g) in self.hd.iter_mut().zip(&self.trial_grad).zip(grad) {
            *hd = (moved - g) / h;
        }
        true
    }
}

impl Step for NewtonCg {
    fn step(
        &mut self,
        ctx: &mut Context<'_>,
        x: &mut [f64],
        f: &mut f64,
        grad: &mut [f64],
    ) -> StepResult {
        choose_free(x, grad, ctx.bounds(), &mut self.free_indices);
        self.free.iter_mut().for_each(|free| *free = false);
        for &i in &self.free_indices {
            self.free[i] = true;
        }
        // Where a product fails or is not finite (the point is at the edge
        // of the formula's domain) the step goes down the gradient.
        let solved = self.solve(ctx, x, grad);
        // Held variables move down their gradient, which the projection
        // turns into staying on their bound.
        for (i, &g) in grad.iter().enumerate() {
            self.direction[i] = if self.free[i] && solved {
                self.z[i]
            } else {
                -g
            };
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
        ctx.step_fraction = t;
        moved
    }
}
