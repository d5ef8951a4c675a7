//! Newton's method on the exact Hessian, factorised, projected onto the
//! bounds when there are any (Bertsekas' projected Newton method).
//! Variables at a bound with the gradient pushing them out of the box are
//! held; the Newton step is taken on the others (the free subspace), where
//! the Hessian is shifted by a multiple of the identity until it is
//! positive definite, so the step is a descent direction. A backtracking
//! search along the projected path `P(x + t d)` from the full step keeps
//! each step lowering f; when no step does, the method says so at once.
//! Where the Hessian had to be shifted, the shift also keeps the step
//! within a radius that doubles after each step taken whole, so that steps
//! along negative or zero curvature grow (and a run along a direction of
//! unbounded decrease gets somewhere). A singular Hessian whose model
//! still has a minimum (the gradient in its range, as in a least-squares
//! problem of deficient rank) gets Newton's own step instead, through a
//! shift too small to change it.
//!
//! The Hessian is the dense `n × n` matrix ([`Dense`]) or, for an
//! objective with a sparse one whose envelope is narrow (a band, as in
//! chained functions), that envelope and its Cholesky factor
//! ([`Sparse`], on `profile.rs`): the same step either way.
//! [`curvature`] chooses between them and the truncated Newton of
//! `newton_cg.rs`, which needs only Hessian-vector products: the envelope
//! where its factorisation is cheap, else the dense matrix up to
//! [`DENSE_NEWTON_MAX_VARS`] variables, else products.

use super::dense::{cholesky, solve_cholesky};
use super::line_search::backtrack;
use super::profile::{Envelope, Profile};
use super::vector::held;
use super::{Context, Step, StepResult};
use crate::error::{Error, ErrorKind, Result};
use crate::objective::Objective;
use crate::sparse_hessian::SparseHessian;

/// The most variables for which Newton's method factorises the dense
/// Hessian (and the saddle test reads it): at 1,000 each of its three
/// `n × n` matrices is 8 MB and a Cholesky factorisation about 3·10⁸
/// multiply-adds, against a few Hessian-vector products for a truncated
/// Newton step. Beyond it Newton takes its steps by conjugate gradients,
/// unless the Hessian is sparse with a narrow envelope.
pub const DENSE_NEWTON_MAX_VARS: usize = 1_000;

/// The most multiply-adds a factorisation of the sparse Hessian's
/// envelope may cost for Newton to take it (about the dense
/// factorisation's at [`DENSE_NEWTON_MAX_VARS`] variables, 1.7·10⁸): a
/// band of half-width 10 qualifies up to 3·10⁶ variables, a
/// two-dimensional grid of side 100 (half-width 100) does not.
const PROFILE_MAX_WORK: f64 = 2e8;

/// The most numbers the envelope may hold for Newton to factorise it (its
/// two copies, the matrix and the factor, then take 320 MB): a band of
/// half-width 19 at 10⁶ variables.
const PROFILE_MAX_SIZE: usize = 20_000_000;

/// A Hessian Newton's step can read and factorise over the free
/// variables.
pub(crate) trait Factorable {
    /// Reads the Hessian at `x` over the variables `free` lists; `None` if
    /// the objective gave none or an entry is not finite, else the
    /// largest diagonal entry's size over them.
    fn load(&mut self, ctx: &mut Context<'_>, x: &[f64], free: &[usize]) -> Option<f64>;

    /// Factorises the loaded matrix plus `shift·I`; `false` if that is
    /// not (numerically) positive definite.
    fn factor(&mut self, shift: f64) -> bool;

    /// Solves the factorised system for the step `d = -(H + shift·I)⁻¹ g`
    /// over the free variables, writing their components of `direction`
    /// (and leaving the others).
    fn solve(&mut self, grad: &[f64], direction: &mut [f64]);
}

/// The dense Hessian and the free variables' part of it.
pub(crate) struct Dense {
    n: usize,
    hessian: Vec<f64>,
    /// The free variables' indices, and their Hessian, gradient and step.
    free: Vec<usize>,
    reduced: Vec<f64>,
    reduced_grad: Vec<f64>,
    reduced_step: Vec<f64>,
    factor: Vec<f64>,
}

impl Dense {
    pub fn new(n: usize) -> Dense {
        Dense {
            n,
            hessian: vec![0.0; n * n],
            free: Vec::with_capacity(n),
            reduced: vec![0.0; n * n],
            reduced_grad: vec![0.0; n],
            reduced_step: vec![0.0; n],
            factor: vec![0.0; n * n],
        }
    }
}

impl Factorable for Dense {
    fn load(&mut self, ctx: &mut Context<'_>, x: &[f64], free: &[usize]) -> Option<f64> {
        if !ctx.hessian(x, &mut self.hessian) || self.hessian.iter().any(|h| !h.is_finite()) {
            return None;
        }
        self.free.clear();
        self.free.extend_from_slice(free);
        let (n, k) = (self.n, free.len());
        for (a, &i) in free.iter().enumerate() {
            for (b, &j) in free.iter().enumerate() {
                self.reduced[a * k + b] = self.hessian[i * n + j];
            }
        }
        Some(
            (0..k)
                .map(|a| self.reduced[a * k + a].abs())
                .fold(0.0, f64::max),
        )
    }

    fn factor(&mut self, shift: f64) -> bool {
        let k = self.free.len();
        cholesky(&self.reduced[..k * k], k, shift, &mut self.factor)
    }

    fn solve(&mut self, grad: &[f64], direction: &mut [f64]) {
        let k = self.free.len();
        for (a, &i) in self.free.iter().enumerate() {
            self.reduced_grad[a] = grad[i];
        }
        solve_cholesky(
            &self.factor[..k * k],
            k,
            &self.reduced_grad[..k],
            &mut self.reduced_step[..k],
        );
        for (a, &i) in self.free.iter().enumerate() {
            direction[i] = self.reduced_step[a];
        }
    }
}

/// The sparse Hessian, its entries in the order of its pattern, and
/// their envelope with its factor.
pub(crate) struct Sparse {
    values: Vec<f64>,
    profile: Profile,
    /// Whether each variable is free this step.
    free: Vec<bool>,
    step: Vec<f64>,
}

impl Sparse {
    pub fn new(pattern: &SparseHessian) -> Sparse {
        let n = pattern.n();
        Sparse {
            values: vec![0.0; pattern.values.len()],
            profile: Profile::new(pattern),
            free: vec![true; n],
            step: vec![0.0; n],
        }
    }
}

impl Factorable for Sparse {
    fn load(&mut self, ctx: &mut Context<'_>, x: &[f64], free: &[usize]) -> Option<f64> {
        if !ctx.sparse_hessian_values(x, &mut self.values) {
            return None;
        }
        self.free.fill(false);
        for &i in free {
            self.free[i] = true;
        }
        self.profile.load(&self.values, &self.free)
    }

    fn factor(&mut self, shift: f64) -> bool {
        self.profile.factor(shift)
    }

    fn solve(&mut self, grad: &[f64], direction: &mut [f64]) {
        self.profile.solve(grad, &mut self.step);
        for (i, &free) in self.free.iter().enumerate() {
            if free {
                direction[i] = self.step[i];
            }
        }
    }
}

pub(crate) struct Newton<H> {
    hessian: H,
    free: Vec<usize>,
    direction: Vec<f64>,
    trial: Vec<f64>,
    trial_grad: Vec<f64>,
    /// How long a step may be where the Hessian had to be shifted.
    radius: f64,
}

impl<H: Factorable> Newton<H> {
    /// Newton's method over `n` variables on `hessian`.
    pub fn new(n: usize, hessian: H) -> Newton<H> {
        Newton {
            hessian,
            free: Vec::with_capacity(n),
            direction: vec![0.0; n],
            trial: vec![0.0; n],
            trial_grad: vec![0.0; n],
            radius: 1.0,
        }
    }
}

impl<H: Factorable> Step for Newton<H> {
    fn step(
        &mut self,
        ctx: &mut Context<'_>,
        x: &mut [f64],
        f: &mut f64,
        grad: &mut [f64],
    ) -> StepResult {
        let bounds = ctx.bounds();
        choose_free(x, grad, bounds, &mut self.free);
        let Some(diagonal) = self.hessian.load(ctx, x, &self.free) else {
            return StepResult::Failed;
        };
        // Held variables move down their gradient, which the projection
        // turns into staying on their bound.
        for (d, g) in self.direction.iter_mut().zip(grad.iter()) {
            *d = -g;
        }
        let mut shift = 0.0;
        if self.hessian.factor(0.0) {
            self.hessian.solve(grad, &mut self.direction);
        } else if self.consistent_singular_step(grad, diagonal) {
            // Newton's step of a singular model with a minimum: as if
            // unshifted, it leaves the radius alone.
        } else {
            // Otherwise the model has no minimum along some direction, and
            // the step's length is set by a radius instead (as in a trust
            // region): the shift is |g| / radius when that makes the
            // matrix positive definite (a singular Hessian needs only a
            // little), else the smallest shift that does, found by
            // doubling from a scale set by the diagonal (so within a
            // factor 2). The radius's shift is tried first, which saves
            // the doubling whenever it serves.
            let g_norm = self.free.iter().map(|&i| grad[i] * grad[i]).sum::<f64>();
            let wanted = g_norm.sqrt() / self.radius;
            if wanted > 0.0 && wanted.is_finite() && self.hessian.factor(wanted) {
                shift = wanted;
            } else {
                shift = SINGULAR_SHIFT * diagonal.max(1e-12);
                while !self.hessian.factor(shift) {
                    shift *= 2.0;
                    if !shift.is_finite() || shift > 1e300 {
                        return StepResult::Failed;
                    }
                }
            }
            self.hessian.solve(grad, &mut self.direction);
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

    /// A shifted step as long as the move that resumed the run: from
    /// x = 1e25 on `x` (Hessian 0) a radius of 1 is lost to rounding.
    fn resumed(&mut self, jump: f64) {
        self.radius = self.radius.max(jump);
    }
}

impl<H: Factorable> Newton<H> {
    /// Whether the Hessian over the free variables is singular but
    /// positive semidefinite with the gradient in its range (a least-squares
    /// problem of deficient rank, such as a linear one of rank 1): its model
    /// then has a minimum, and Newton's step goes there. A shift of
    /// [`SINGULAR_SHIFT`] of the largest diagonal entry makes such a matrix
    /// factorable, and the step it gives, `(H + σI) d = -g`, solves `H d =
    /// -g` to a residual `σ|d|`: where that is at most
    /// [`CONSISTENT_RESIDUAL`] of `|g|`, the step (left in `direction`) is
    /// Newton's, and the radius, which would have shortened it to a
    /// fraction of the way (many iterations on a quadratic), is not needed.
    /// A gradient with a part along the null space (a model with no
    /// minimum) makes `σ|d|` at least that part, and the radius decides.
    fn consistent_singular_step(&mut self, grad: &[f64], diagonal: f64) -> bool {
        let shift = SINGULAR_SHIFT * diagonal;
        if !(shift > 0.0 && self.hessian.factor(shift)) {
            return false;
        }
        self.hessian.solve(grad, &mut self.direction);
        let free = || self.free.iter();
        let step = free()
            .map(|&i| self.direction[i].powi(2))
            .sum::<f64>()
            .sqrt();
        let g_norm = free().map(|&i| grad[i].powi(2)).sum::<f64>().sqrt();
        shift * step <= CONSISTENT_RESIDUAL * g_norm
    }
}

/// The shift, relative to the largest diagonal entry, that makes a
/// singular positive semidefinite Hessian factorable: above the rounding of
/// a factorisation, far below any curvature Newton's step should heed.
const SINGULAR_SHIFT: f64 = 1e-8;

/// How small, relative to `|g|`, the residual of Newton's equations must be
/// for a step of the shifted singular Hessian to count as Newton's.
const CONSISTENT_RESIDUAL: f64 = 1e-6;

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
#[derive(Clone, PartialEq, Debug)]
pub(crate) enum Curvature {
    /// The dense `n × n` matrix, factorised (this file).
    Dense,
    /// The sparse matrix with this pattern, factorised in its envelope
    /// (this file and `profile.rs`).
    Sparse(Box<SparseHessian>),
    /// The objective's Hessian-vector products, for conjugate gradients
    /// (`newton_cg.rs`).
    Products,
    /// Hessian-vector products by forward differences of the exact
    /// gradient, one gradient each, where the objective has no products
    /// of its own.
    Differences,
}

/// How Newton will read `objective`'s Hessian: the sparse matrix where it
/// has one whose envelope holds at most [`PROFILE_MAX_SIZE`] numbers and
/// whose factorisation costs at most [`PROFILE_MAX_WORK`] and under half
/// the dense one's; else the dense
/// matrix where it has one and `n` is at most [`DENSE_NEWTON_MAX_VARS`];
/// else its products if it has them, else differences of its gradient if
/// that is exact (an objective whose Hessian failed to build, over a size
/// limit, still gets Newton this way); an error for a differenced
/// gradient with no Hessian, whose differences would be mostly rounding.
pub(crate) fn curvature(objective: &mut dyn Objective) -> Result<Curvature> {
    let n = objective.n_vars();
    let mut failure = None;
    match objective.prepare_sparse_hessian() {
        Ok(Some(pattern)) => {
            let envelope = Envelope::of(&pattern);
            let dense_work = (n as f64).powi(3) / 6.0;
            let work = envelope.work();
            if envelope.size() <= PROFILE_MAX_SIZE
                && work <= PROFILE_MAX_WORK
                && work <= 0.5 * dense_work
            {
                return Ok(Curvature::Sparse(Box::new(pattern)));
            }
        }
        Ok(None) => {}
        Err(e) => failure = Some(e),
    }
    if n <= DENSE_NEWTON_MAX_VARS {
        match objective.prepare_hessian() {
            Ok(true) => return Ok(Curvature::Dense),
            Ok(false) => {}
            Err(e) => failure = failure.or(Some(e)),
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
