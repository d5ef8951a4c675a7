//! The saddle test at the end of a converged run: does the Hessian, over
//! the variables no bound holds, have a negative eigenvalue?
//!
//! Where the objective has its dense Hessian ready (Newton's runs) and `n`
//! is at most [`DENSE_NEWTON_MAX_VARS`], the test is one Hessian and a
//! Cholesky factorisation. Elsewhere it is Lanczos' method, which needs
//! only products of the Hessian with vectors: the objective's own
//! ([`Objective::hess_vec`](crate::Objective::hess_vec)) when it has them,
//! else forward differences of the exact gradient along each Lanczos
//! vector, one gradient each. Lanczos suits the question: the extreme
//! eigenvalues of the tridiagonal matrix it builds (its Ritz values)
//! approach the Hessian's extreme ones first, and every Ritz value lies
//! within the Hessian's spectrum, so a negative one is a direction of
//! negative curvature, never an artefact (up to the error of the
//! products, which the tolerance allows for). The test stops at a
//! negative Ritz value, when the Krylov space is exhausted (then its Ritz
//! values are eigenvalues of the Hessian, and a random start vector
//! reaches every eigenvalue), or after [`SADDLE_PRODUCTS`] products, so
//! its cost does not grow with `n`: a run on `k ≤ 20` free variables is
//! tested exactly in at most `k` products (fewer where the Hessian has few
//! distinct eigenvalues); on more, a negative eigenvalue that twenty
//! Lanczos steps do not reach is missed.
//!
//! The products are taken with the Hessian scaled as `D H D`, `D =
//! diag(max(1, |xᵢ|))`: by Sylvester's law of inertia it has negative
//! eigenvalues exactly when `H` has, and a difference along `D q` steps
//! each coordinate by `√ε·max(1, |xᵢ|)·qᵢ`, the forward-difference rule of
//! [`fd`](crate::fd).

use super::Context;
use super::dense::has_negative_eigenvalue;
use super::newton::DENSE_NEWTON_MAX_VARS;
use super::vector::{dot, held};
use crate::fd::Scheme;
use crate::random::random_start;

/// The most Hessian-vector products (Lanczos steps) the saddle test takes
/// when the objective has no dense Hessian ready: each costs about one
/// gradient.
pub const SADDLE_PRODUCTS: usize = 20;

/// A negative eigenvalue counts when it is below `-TOLERANCE · scale`,
/// `scale` the largest entry of the matrix tested: exact products, and
/// differences of the gradient (error about `√ε` of the scale for
/// forward differences of an exact gradient, more for central
/// differences of a differenced one), which must not make a minimum with
/// a flat direction a saddle.
const EXACT_TOLERANCE: f64 = 1e-8;
const DIFFERENCED_TOLERANCE: f64 = 1e-5;

/// The seed of the Lanczos start vector: fixed, so that a run's counts
/// are reproducible.
const START_SEED: u64 = 0x5add1e;

/// Whether the stationary point `x` (gradient `grad`) is a saddle: the
/// Hessian over the variables no bound holds has a negative eigenvalue.
pub(super) fn saddle(ctx: &mut Context<'_>, x: &[f64], grad: &[f64]) -> bool {
    let n = x.len();
    // Variables held by a bound they are pushed against are left out.
    let free: Vec<usize> = match ctx.bounds() {
        None => (0..n).collect(),
        Some(bounds) => (0..n)
            .filter(|&i| !held(x[i], grad[i], bounds[i], 0.0))
            .collect(),
    };
    if free.is_empty() {
        return false;
    }
    if n <= DENSE_NEWTON_MAX_VARS
        && let Some(answer) = dense(ctx, x, &free)
    {
        return answer;
    }
    Lanczos::new(ctx, x, grad, &free).has_negative_curvature(ctx)
}

/// The test on the objective's dense Hessian, if it has one ready: `None`
/// if it has none.
fn dense(ctx: &mut Context<'_>, x: &[f64], free: &[usize]) -> Option<bool> {
    let (n, k) = (x.len(), free.len());
    let mut hessian = vec![0.0; n * n];
    if !ctx.hessian(x, &mut hessian) {
        return None;
    }
    let reduced: Vec<f64> = (free.iter())
        .flat_map(|&i| free.iter().map(move |&j| (i, j)))
        .map(|(i, j)| hessian[i * n + j])
        .collect();
    if reduced.iter().any(|h| !h.is_finite()) {
        return Some(false);
    }
    Some(has_negative_eigenvalue(&reduced, k, EXACT_TOLERANCE))
}

/// How products are taken by differences of the gradient.
#[derive(Copy, Clone, PartialEq)]
enum Products {
    /// Forward differences of an exact gradient: one gradient each.
    Forward,
    /// Central differences of a differenced gradient (whose error a
    /// forward difference would magnify): two gradients each.
    Central,
}

/// Lanczos' method with full reorthogonalisation on `D H D` over the free
/// variables, in vectors of their length.
struct Lanczos<'x> {
    x: &'x [f64],
    grad: &'x [f64],
    free: &'x [usize],
    /// `max(1, |xᵢ|)` of each free variable.
    scale: Vec<f64>,
    /// How products are taken: the objective's own until it turns out to
    /// have none, then `differences`.
    exact: bool,
    differences: Products,
    /// The orthonormal Lanczos vectors so far.
    basis: Vec<Vec<f64>>,
    /// The tridiagonal matrix: its diagonal and its off-diagonal.
    alpha: Vec<f64>,
    beta: Vec<f64>,
    /// Full-length scratch: the direction multiplied, the product, the
    /// displaced point and the gradient there.
    direction: Vec<f64>,
    product: Vec<f64>,
    point: Vec<f64>,
    moved_grad: Vec<f64>,
}

impl<'x> Lanczos<'x> {
    fn new(ctx: &Context<'_>, x: &'x [f64], grad: &'x [f64], free: &'x [usize]) -> Lanczos<'x> {
        let n = x.len();
        Lanczos {
            x,
            grad,
            free,
            scale: free.iter().map(|&i| x[i].abs().max(1.0)).collect(),
            exact: true,
            differences: match ctx.exact_gradient() {
                true => Products::Forward,
                false => Products::Central,
            },
            basis: Vec::new(),
            alpha: Vec::new(),
            beta: Vec::new(),
            direction: vec![0.0; n],
            product: vec![0.0; n],
            point: vec![0.0; n],
            moved_grad: vec![0.0; n],
        }
    }

    fn has_negative_curvature(mut self, ctx: &mut Context<'_>) -> bool {
        let k = self.free.len();
        let mut q = random_start(&vec![(-1.0, 1.0); k], START_SEED);
        let norm = dot(&q, &q).sqrt();
        q.iter_mut().for_each(|v| *v /= norm);
        let mut largest: f64 = 0.0;
        for _ in 0..SADDLE_PRODUCTS.min(k) {
            let Some(mut w) = self.multiply(ctx, &q) else {
                return false;
            };
            let alpha = dot(&q, &w);
            self.basis.push(q);
            // w -= αq + βq_prev, then against every earlier vector again
            // (twice is enough), so that the basis stays orthogonal.
            for _ in 0..2 {
                for b in &self.basis {
                    let c = dot(b, &w);
                    w.iter_mut().zip(b).for_each(|(wi, bi)| *wi -= c * bi);
                }
            }
            let beta = dot(&w, &w).sqrt();
            self.alpha.push(alpha);
            largest = largest.max(alpha.abs()).max(beta);
            let tolerance = match self.exact {
                true => EXACT_TOLERANCE,
                false => DIFFERENCED_TOLERANCE,
            };
            let threshold = tolerance * largest.max(1e-8);
            if !(alpha.is_finite() && beta.is_finite()) {
                return false;
            }
            if has_eigenvalue_below(&self.alpha, &self.beta, -threshold) {
                return true;
            }
            // An (almost) invariant subspace: its Ritz values are the
            // Hessian's eigenvalues within `threshold`.
            if beta <= threshold {
                return false;
            }
            self.beta.push(beta);
            w.iter_mut().for_each(|v| *v /= beta);
            q = w;
        }
        false
    }

    /// `D H D q` over the free variables; `None` where a product or
    /// gradient is not finite.
    fn multiply(&mut self, ctx: &mut Context<'_>, q: &[f64]) -> Option<Vec<f64>> {
        self.direction.iter_mut().for_each(|d| *d = 0.0);
        for (a, &i) in self.free.iter().enumerate() {
            self.direction[i] = self.scale[a] * q[a];
        }
        if self.exact && !ctx.hess_vec(self.x, &self.direction, &mut self.product) {
            self.exact = false;
        }
        if !self.exact {
            self.difference(ctx)?;
        }
        let w: Vec<f64> = (self.free.iter().enumerate())
            .map(|(a, &i)| self.scale[a] * self.product[i])
            .collect();
        w.iter().all(|v| v.is_finite()).then_some(w)
    }

    /// `H · direction` into `product` by differences of the gradient.
    fn difference(&mut self, ctx: &mut Context<'_>) -> Option<()> {
        ctx.count_differenced_product();
        match self.differences {
            Products::Central => {
                let h = Scheme::Central.step(0.0);
                self.gradient_at(ctx, h);
                self.product.copy_from_slice(&self.moved_grad);
                self.gradient_at(ctx, -h);
                for (p, minus) in self.product.iter_mut().zip(&self.moved_grad) {
                    *p = (*p - minus) / (2.0 * h);
                }
            }
            Products::Forward => {
                let h = Scheme::Forward.step(0.0);
                // Backwards if only that stays in the box.
                let h = match (self.inside(ctx, h), self.inside(ctx, -h)) {
                    (false, true) => -h,
                    _ => h,
                };
                self.gradient_at(ctx, h);
                for ((p, plus), g) in self.product.iter_mut().zip(&self.moved_grad).zip(self.grad) {
                    *p = (plus - g) / h;
                }
            }
        }
        self.product.iter().all(|p| p.is_finite()).then_some(())
    }

    /// Whether `x + h·direction` is in the box.
    fn inside(&self, ctx: &Context<'_>, h: f64) -> bool {
        let Some(bounds) = ctx.bounds() else {
            return true;
        };
        (self.x.iter().zip(&self.direction).zip(bounds))
            .all(|((x, d), &(lo, hi))| (lo..=hi).contains(&(x + h * d)))
    }

    /// The gradient at `x + h·direction` into `moved_grad`.
    fn gradient_at(&mut self, ctx: &mut Context<'_>, h: f64) {
        for ((p, x), d) in self.point.iter_mut().zip(self.x).zip(&self.direction) {
            *p = x + h * d;
        }
        ctx.value_grad(&self.point, &mut self.moved_grad);
    }
}

/// Whether the symmetric tridiagonal matrix with diagonal `alpha` and
/// off-diagonal `beta` has an eigenvalue below `sigma`: Sylvester's law
/// of inertia on the LDLᵀ factorisation of `T - σI`, whose pivots are
/// negative as often as `T` has eigenvalues below `σ` (the Sturm count).
fn has_eigenvalue_below(alpha: &[f64], beta: &[f64], sigma: f64) -> bool {
    let mut pivot = 1.0;
    for (j, &a) in alpha.iter().enumerate() {
        let coupling = match j {
            0 => 0.0,
            _ => beta[j - 1] * beta[j - 1] / pivot,
        };
        pivot = a - sigma - coupling;
        if pivot < 0.0 {
            return true;
        }
        // A zero pivot: σ is an eigenvalue of the leading block; nudge it
        // (the usual guard, which changes no count of eigenvalues below).
        if pivot == 0.0 {
            pivot = f64::EPSILON * (a.abs() + coupling.abs()).max(f64::MIN_POSITIVE);
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sturm_counts_find_the_smallest_eigenvalue() {
        // [[2, 1], [1, 2]]: eigenvalues 1 and 3.
        assert!(!has_eigenvalue_below(&[2.0, 2.0], &[1.0], 0.99));
        assert!(has_eigenvalue_below(&[2.0, 2.0], &[1.0], 1.01));
        // [[0, 1], [1, 0]]: ±1, though the diagonal is zero.
        assert!(has_eigenvalue_below(&[0.0, 0.0], &[1.0], -0.99));
        assert!(!has_eigenvalue_below(&[0.0, 0.0], &[1.0], -1.01));
        // The second-difference matrix of order 5: smallest 2 - 2cos(π/6).
        let smallest = 2.0 - 2.0 * (std::f64::consts::PI / 6.0).cos();
        let (alpha, beta) = ([2.0; 5], [-1.0; 4]);
        assert!(!has_eigenvalue_below(&alpha, &beta, smallest - 1e-12));
        assert!(has_eigenvalue_below(&alpha, &beta, smallest + 1e-12));
    }
}
