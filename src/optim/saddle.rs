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
//! In a box, a variable that f pushes against its bound, or that its
//! bounds fix, is left out. One on a bound that f does not push against
//! (its gradient zero) may move only into the box, so negative curvature
//! over the free variables makes a saddle only if f falls at second order
//! (as below) along its direction, or the opposite one, with the
//! components that would leave the box set to zero (`x·y` on [0, 1]² at
//! its corner, where the Hessian's negative direction (1, −1) leaves the
//! box, is a minimum; with `y` in [−1, 1] it is a saddle). Where it does
//! not, the test is made again with those variables held.
//!
//! The products are taken with the Hessian scaled as `D H D`, `D =
//! diag(max(1, |xᵢ|))`: by Sylvester's law of inertia it has negative
//! eigenvalues exactly when `H` has, and a difference along `D q` steps
//! each coordinate by `√ε·max(1, |xᵢ|)·qᵢ`, the forward-difference rule of
//! [`fd`](crate::fd).
//!
//! Curvature within the tolerance of zero does not decide: a flat
//! direction of a minimum (`x⁴`, or the valley of `(x − y)²`) looks the
//! same to the Hessian as one along which f falls at third or fourth
//! order (`x³`, `x² − y⁴` at 0) or by a curvature too small beside the
//! largest to tell from the products' error (`x² + 1000z² − 0.001w²`).
//! There the function itself is asked, along the flattest direction found
//! (the Ritz vector of the smallest Ritz value): the point is a saddle
//! when, in one sense, f falls below its linear prediction from the
//! gradient at steps of 10⁻³ and 10⁻² (scaled by `D`), and falls at least
//! 30 times as far at the longer step, as a fall of second or higher
//! order does (100, 1000, 10000 times) and rounding error does not. At
//! most four evaluations; none when the curvature decides.
//!
//! Nor does a flat direction along which f does not fall vouch for a
//! minimum: `exp(-x)` at x = 18.9, where gradient and curvature are both
//! 6e-9, is flat without being a minimum, for f falls on towards 0 at
//! every x. And positive curvature that is small beside the gradient does
//! not vouch either: Newton on `x³` from 0.5 halves x at each step and
//! stops by `gtol` at x = 3e-5 with curvature 1.8e-4, positive, though
//! the inflection at 0 lies a model step further on. The quadratic model
//! puts its minimum `r = ‖g‖/λ` away (`λ` the smallest curvature of `D H
//! D`, `g` the gradient `D g`); a curvature of that size can vanish within
//! a distance `λ / f'''`, which, for a third derivative as large as the
//! largest curvature `M` (floored at 1, as the flat band is), is `λ / M`.
//! Where `r` is at least a hundredth of it, `λ² <= DOUBT · ‖g‖ · max(1,
//! M)` with `DOUBT` = 100, the curvature cannot vouch for the point: x³
//! has `λ² = 12‖g‖` wherever it stops (so `a·x³` is seen for `a` up to
//! 8), x⁴ `λ² = 36 |x| ‖g‖`, a well-conditioned minimum found to `gtol =
//! 1e-8` about `λ² = 10⁸ ‖g‖`. Both kinds of point are
//! [`Verdict::Doubtful`]: the loop then walks from it to see whether f
//! keeps falling (`minimize.rs`), which costs one evaluation where f rises
//! at once.

use super::Context;
use super::dense::{cholesky, has_negative_eigenvalue, solve_cholesky};
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

/// Curvature `λ` at most `√(DOUBT · ‖g‖ · max(1, M))` (scaled by `D`;
/// `M` the largest curvature) does not vouch for a minimum (see the
/// module's doc): the model's step to its minimum is at least 10⁻² of the
/// distance over which that curvature could vanish. Gradient descent
/// stopped by a loose `ftol` on a parabola (`λ² = 2400‖g‖`, `M` = 6) is
/// not asked; at 10⁴ it was, for two evaluations.
const DOUBT: f64 = 100.0;

/// The seed of the Lanczos start vector: fixed, so that a run's counts
/// are reproducible.
const START_SEED: u64 = 0x5add1e;

/// What the curvature at a converged run's point says of it.
#[derive(Clone, PartialEq, Debug)]
pub(super) enum Verdict {
    /// Curvature that vouches for a minimum.
    Minimum,
    /// A negative eigenvalue, or (`flat`) a flat direction along which f
    /// falls at higher order: the note says which.
    Saddle { flat: bool },
    /// Curvature that cannot vouch: flat, with no fall found along the
    /// flattest direction (which the walk then follows), or positive but
    /// small beside the gradient (see the module's doc). The caller asks f
    /// whether it keeps falling.
    Doubtful(Option<Downhill>),
}

/// The way a walk that asks whether f keeps falling goes from a flat
/// point: the flattest direction, in the sense the gradient descends.
#[derive(Clone, PartialEq, Debug)]
pub(super) struct Downhill {
    /// The step of `t = 1`, scaled by `D`: the walk probes `x +
    /// t·direction` for `t` = 10⁻³, 10⁻², ..., the first two where the flat
    /// probe looked.
    pub direction: Vec<f64>,
    /// f at those first probes, as far as the flat probe took them.
    pub known: Vec<f64>,
}

/// What the curvature says of the stationary point `x` (value `f`,
/// gradient `grad`): a saddle where the Hessian over the variables no
/// bound holds has a negative eigenvalue, or its smallest is zero within
/// the tolerance and f falls along that direction; doubtful where it is
/// flat otherwise or small beside the gradient (see the module's doc).
pub(super) fn saddle(ctx: &mut Context<'_>, x: &[f64], f: f64, grad: &[f64]) -> Verdict {
    let n = x.len();
    let Some(bounds) = ctx.bounds() else {
        return over(ctx, x, f, grad, &(0..n).collect::<Vec<_>>());
    };
    // Variables held by a bound they are pushed against, or fixed by
    // their bounds, are left out.
    let free: Vec<usize> = (0..n)
        .filter(|&i| bounds[i].0 < bounds[i].1 && !held(x[i], grad[i], bounds[i], 0.0))
        .collect();
    let verdict = over(ctx, x, f, grad, &free);
    // A variable on a bound that f does not push against may move only
    // into the box: negative curvature along a direction that would take
    // it out makes no saddle (`x·y` on [0, 1]² at its corner, a minimum).
    let on_bound = |i: &usize| x[*i] <= bounds[*i].0 || x[*i] >= bounds[*i].1;
    if !matches!(verdict, Verdict::Saddle { .. }) || !free.iter().any(on_bound) {
        return verdict;
    }
    let negative = Lanczos::new(ctx, x, grad, &free).negative_direction(ctx);
    if negative.is_some_and(|d| falls_into_the_box(ctx, x, f, grad, bounds, d)) {
        return Verdict::Saddle { flat: false };
    }
    // Else what the curvature says with those variables held.
    let inside: Vec<usize> = free.into_iter().filter(|i| !on_bound(i)).collect();
    over(ctx, x, f, grad, &inside)
}

/// Whether f falls at second or higher order (as [`falls_along`] asks)
/// along the direction of negative curvature `d` or its opposite, each
/// with its components that would take a variable on a bound out of the
/// box set to zero.
fn falls_into_the_box(
    ctx: &mut Context<'_>,
    x: &[f64],
    f: f64,
    grad: &[f64],
    bounds: &[(f64, f64)],
    d: Vec<f64>,
) -> bool {
    [1.0, -1.0].into_iter().any(|sign| {
        let inward: Vec<f64> = (d.iter().zip(x).zip(bounds))
            .map(|((di, xi), &(lo, hi))| {
                let step = sign * di;
                match (*xi <= lo && step < 0.0) || (*xi >= hi && step > 0.0) {
                    true => 0.0,
                    false => step,
                }
            })
            .collect();
        inward.iter().any(|v| *v != 0.0)
            && matches!(
                falls_along(ctx, x, f, grad, &inward),
                Verdict::Saddle { .. }
            )
    })
}

/// [`saddle`]'s test over the variables `free`.
fn over(ctx: &mut Context<'_>, x: &[f64], f: f64, grad: &[f64], free: &[usize]) -> Verdict {
    let n = x.len();
    if free.is_empty() {
        return Verdict::Minimum;
    }
    if n <= DENSE_NEWTON_MAX_VARS
        && let Some(curvature) = dense(ctx, x, grad, free)
    {
        return match curvature {
            Curvature::Negative => Verdict::Saddle { flat: false },
            Curvature::Positive => Verdict::Minimum,
            Curvature::Small(direction) => {
                Verdict::Doubtful(Some(downhill(grad, direction, Vec::new())))
            }
            Curvature::Flat(direction) => falls_along(ctx, x, f, grad, &direction),
        };
    }
    Lanczos::new(ctx, x, grad, free).verdict(ctx, f)
}

/// The curvature below which it does not vouch for a minimum, for a
/// scaled gradient whose largest component is `gradient` and a largest
/// curvature `largest` (see [`DOUBT`]).
fn doubtful_below(gradient: f64, largest: f64) -> f64 {
    (DOUBT * gradient * largest.max(1.0)).sqrt()
}

/// What the dense Hessian says.
enum Curvature {
    /// An eigenvalue below `-tolerance · scale`.
    Negative,
    /// Every eigenvalue above `tolerance · scale`, and those of `D H D`
    /// above [`doubtful_below`].
    Positive,
    /// Every eigenvalue above `tolerance · scale`, but the smallest of `D H
    /// D` not above [`doubtful_below`], with its eigenvector (as `Flat`'s).
    Small(Vec<f64>),
    /// The smallest eigenvalue within `tolerance · scale` of zero, with
    /// its eigenvector (of `D H D`, as a step: `D v`, over all variables).
    Flat(Vec<f64>),
}

/// The test on the objective's dense Hessian, if it has one ready: `None`
/// if it has none.
fn dense(ctx: &mut Context<'_>, x: &[f64], grad: &[f64], free: &[usize]) -> Option<Curvature> {
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
        return Some(Curvature::Positive);
    }
    if has_negative_eigenvalue(&reduced, k, EXACT_TOLERANCE) {
        return Some(Curvature::Negative);
    }
    let scale = reduced.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let band = EXACT_TOLERANCE * scale.max(1.0);
    let mut factor = vec![0.0; k * k];
    let d: Vec<f64> = free.iter().map(|&i| x[i].abs().max(1.0)).collect();
    let scaled: Vec<f64> = (0..k * k)
        .map(|ab| d[ab / k] * reduced[ab] * d[ab % k])
        .collect();
    let small = cholesky(&reduced, k, -band, &mut factor);
    if small {
        let gradient =
            (free.iter().zip(&d)).fold(0.0f64, |m, (&i, di)| m.max((di * grad[i]).abs()));
        let largest = scaled.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if cholesky(&scaled, k, -doubtful_below(gradient, largest), &mut factor) {
            return Some(Curvature::Positive);
        }
    }
    // The flattest direction of `D H D` by inverse iteration below its
    // smallest eigenvalue (at least −band, as the first test showed; above
    // it where the curvature is small, positive).
    let shift = match small {
        true => 0.0,
        false => 2.0 * EXACT_TOLERANCE * scaled.iter().fold(1.0f64, |m, v| m.max(v.abs())),
    };
    if !cholesky(&scaled, k, shift, &mut factor) {
        return Some(Curvature::Positive);
    }
    let mut v = unsymmetric_start(k);
    let mut solved = vec![0.0; k];
    for _ in 0..4 {
        v.iter_mut().for_each(|vi| *vi = -*vi);
        solve_cholesky(&factor, k, &v, &mut solved);
        v.copy_from_slice(&solved);
        if !normalise(&mut v) {
            return Some(Curvature::Positive);
        }
    }
    let mut direction = vec![0.0; n];
    for (a, &i) in free.iter().enumerate() {
        direction[i] = d[a] * v[a];
    }
    Some(match small {
        true => Curvature::Small(direction),
        false => Curvature::Flat(direction),
    })
}

/// Whether `f` (the value at `x`, where the gradient is `grad`) falls at
/// second or higher order along `direction` (see the module's doc): at
/// most four evaluations. If not, the point is doubtful, and the walk that
/// asks whether f keeps falling goes along `direction` in the sense the
/// gradient descends, starting from the probes taken in that sense.
fn falls_along(
    ctx: &mut Context<'_>,
    x: &[f64],
    f: f64,
    grad: &[f64],
    direction: &[f64],
) -> Verdict {
    let slope = dot(grad, direction);
    let downhill = if slope > 0.0 { -1.0 } else { 1.0 };
    let mut known = Vec::new();
    let (mut point, mut scratch) = (vec![0.0; x.len()], vec![0.0; x.len()]);
    // f at `x + h·direction` (`None` outside the box), and whether it is
    // below its linear prediction by more than rounding could make.
    let mut fall = |h: f64| -> Option<(f64, Option<f64>)> {
        for ((p, xi), di) in point.iter_mut().zip(x).zip(direction) {
            *p = xi + h * di;
        }
        if let Some(bounds) = ctx.bounds()
            && !(point.iter().zip(bounds)).all(|(p, &(lo, hi))| (lo..=hi).contains(p))
        {
            return None;
        }
        let f_h = ctx.probe(&point, &mut scratch);
        let remainder = f_h - f - h * slope;
        let noise = 16.0 * f64::EPSILON * (f.abs() + f_h.abs());
        Some((
            f_h,
            (remainder.is_finite() && remainder < -noise).then_some(remainder),
        ))
    };
    for sign in [1.0, -1.0] {
        let Some((value, short)) = fall(sign * 1e-3) else {
            continue;
        };
        if sign == downhill {
            known.push(value);
        }
        let Some(short) = short else {
            continue;
        };
        let Some((value, long)) = fall(sign * 1e-2) else {
            continue;
        };
        if sign == downhill {
            known.push(value);
        }
        if long.is_some_and(|long| long <= 30.0 * short) {
            return Verdict::Saddle { flat: true };
        }
    }
    Verdict::Doubtful(Some(self::downhill(grad, direction.to_vec(), known)))
}

/// `direction` in the sense the gradient `grad` descends, with f's values
/// `known` at its first probes (see [`Downhill`]). Entries below 10⁻⁸ of
/// the largest are set to zero: they are what inverse iteration leaves of
/// the other eigenvectors, or rounding, and a walk out to 1e20 along the
/// x axis of `exp(-x) + y²` would otherwise move y by 1e-4 (y² rises).
fn downhill(grad: &[f64], mut direction: Vec<f64>, known: Vec<f64>) -> Downhill {
    let sign = match dot(grad, &direction) > 0.0 {
        true => -1.0,
        false => 1.0,
    };
    let largest = direction.iter().fold(0.0f64, |m, d| m.max(d.abs()));
    for d in &mut direction {
        *d = match d.abs() < 1e-8 * largest {
            true => 0.0,
            false => sign * *d,
        };
    }
    Downhill { direction, known }
}

/// A start vector for inverse iteration with no symmetry of its own (all
/// ones is orthogonal to the eigenvector of many small symmetric matrices,
/// as (1, −1) of [[2, 1], [1, 2]]).
fn unsymmetric_start(m: usize) -> Vec<f64> {
    (1..=m)
        .map(|j| 0.5 + (j as f64 * 0.754_877_666).fract())
        .collect()
}

/// Scales `v` to unit length (by its largest entry first, so that the
/// norm cannot overflow); `false`, leaving it, if it is zero or not finite.
fn normalise(v: &mut [f64]) -> bool {
    let largest = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if !(largest.is_finite() && largest > 0.0) {
        return false;
    }
    v.iter_mut().for_each(|x| *x /= largest);
    let norm = dot(v, v).sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    true
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

/// How Lanczos' iteration ended.
enum Iteration {
    /// A Ritz value below the negative tolerance.
    Negative,
    /// A product or a Lanczos coefficient not finite.
    NotFinite,
    /// None negative, with the largest curvature seen and the band within
    /// which curvature counts as flat.
    Ended { largest: f64, flat: f64 },
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

    /// What `D H D` says: a saddle where it has curvature below the
    /// tolerance, or curvature within it of zero along which `f` (the
    /// value at `x`) falls; doubtful where it is flat otherwise, or its
    /// smallest Ritz value is not above [`doubtful_below`].
    fn verdict(mut self, ctx: &mut Context<'_>, f: f64) -> Verdict {
        let (largest, flat) = match self.iterate(ctx) {
            Iteration::Negative => return Verdict::Saddle { flat: false },
            Iteration::NotFinite => return Verdict::Minimum,
            Iteration::Ended { largest, flat } => (largest, flat),
        };
        let m = self.alpha.len();
        let beta = &self.beta[..m.saturating_sub(1)];
        let gradient = (self.free.iter().zip(&self.scale))
            .fold(0.0f64, |g, (&i, s)| g.max((s * self.grad[i]).abs()));
        if m == 0 {
            Verdict::Minimum
        } else if has_eigenvalue_below(&self.alpha, beta, flat) {
            self.falls_along_flattest(ctx, f)
        } else if has_eigenvalue_below(&self.alpha, beta, doubtful_below(gradient, largest)) {
            self.flattest();
            let direction = self.direction.clone();
            Verdict::Doubtful(Some(downhill(self.grad, direction, Vec::new())))
        } else {
            Verdict::Minimum
        }
    }

    /// A direction of negative curvature (the Ritz vector of a negative
    /// Ritz value, scaled by `D`), if the iteration finds one.
    fn negative_direction(mut self, ctx: &mut Context<'_>) -> Option<Vec<f64>> {
        if !matches!(self.iterate(ctx), Iteration::Negative) {
            return None;
        }
        self.flattest();
        Some(self.direction)
    }

    /// Lanczos' iteration, until a Ritz value is negative beyond the
    /// tolerance, the Krylov space is exhausted, or [`SADDLE_PRODUCTS`]
    /// products.
    fn iterate(&mut self, ctx: &mut Context<'_>) -> Iteration {
        let k = self.free.len();
        let mut q = random_start(&vec![(-1.0, 1.0); k], START_SEED);
        let norm = dot(&q, &q).sqrt();
        q.iter_mut().for_each(|v| *v /= norm);
        let mut largest: f64 = 0.0;
        let mut flat = 0.0;
        for _ in 0..SADDLE_PRODUCTS.min(k) {
            let Some(mut w) = self.multiply(ctx, &q) else {
                return Iteration::NotFinite;
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
            // Within this of zero, curvature is asked of f (above 1, the
            // floor of `D`'s scale, so a Hessian that vanishes, as `x³`'s
            // at 0, whose differences are pure error, counts as flat).
            flat = tolerance * largest.max(1.0);
            if !(alpha.is_finite() && beta.is_finite()) {
                return Iteration::NotFinite;
            }
            if has_eigenvalue_below(&self.alpha, &self.beta, -threshold) {
                return Iteration::Negative;
            }
            // An (almost) invariant subspace: its Ritz values are the
            // Hessian's eigenvalues within `threshold`.
            if beta <= threshold {
                break;
            }
            self.beta.push(beta);
            w.iter_mut().for_each(|v| *v /= beta);
            q = w;
        }
        Iteration::Ended { largest, flat }
    }

    /// Whether `f` falls at second or higher order along the Ritz vector
    /// of the smallest Ritz value (see the module's doc).
    fn falls_along_flattest(&mut self, ctx: &mut Context<'_>, f: f64) -> Verdict {
        self.flattest();
        falls_along(ctx, self.x, f, self.grad, &self.direction)
    }

    /// The Ritz vector of the smallest Ritz value, scaled by `D`, into
    /// `direction`.
    fn flattest(&mut self) {
        let m = self.alpha.len();
        let beta = self.beta[..m - 1].to_vec();
        let y = smallest_eigenvector(&self.alpha, &beta);
        self.direction.iter_mut().for_each(|d| *d = 0.0);
        for (a, &i) in self.free.iter().enumerate() {
            let v: f64 = self.basis.iter().zip(&y).map(|(b, yj)| b[a] * yj).sum();
            self.direction[i] = self.scale[a] * v;
        }
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
        ctx.probe(&self.point, &mut self.moved_grad);
    }
}

/// Solves `(T − σI) y = rhs` in place, `T` the symmetric tridiagonal
/// matrix (`alpha`, `beta`), by its LDLᵀ factorisation without pivoting
/// (for `σ` below `T`'s eigenvalues, where `T − σI` is positive definite).
fn solve_shifted(alpha: &[f64], beta: &[f64], sigma: f64, rhs: &mut [f64]) {
    let m = alpha.len();
    let mut pivots = vec![0.0; m];
    for j in 0..m {
        let coupling = match j {
            0 => 0.0,
            _ => beta[j - 1] * beta[j - 1] / pivots[j - 1],
        };
        pivots[j] = alpha[j] - sigma - coupling;
        if pivots[j] == 0.0 {
            pivots[j] = f64::MIN_POSITIVE;
        }
        if j > 0 {
            rhs[j] -= beta[j - 1] / pivots[j - 1] * rhs[j - 1];
        }
    }
    for j in (0..m).rev() {
        let next = if j + 1 < m { beta[j] * rhs[j + 1] } else { 0.0 };
        rhs[j] = (rhs[j] - next) / pivots[j];
    }
}

/// The unit eigenvector of the smallest eigenvalue of the symmetric
/// tridiagonal matrix (`alpha`, `beta`): that eigenvalue by bisection on
/// Sturm counts, then inverse iteration just below it.
fn smallest_eigenvector(alpha: &[f64], beta: &[f64]) -> Vec<f64> {
    let m = alpha.len();
    // Gershgorin's discs hold every eigenvalue.
    let radius = |j: usize| {
        let left = if j > 0 { beta[j - 1].abs() } else { 0.0 };
        left + beta.get(j).map_or(0.0, |b| b.abs())
    };
    let mut lo = (0..m)
        .map(|j| alpha[j] - radius(j))
        .fold(f64::INFINITY, f64::min);
    let mut hi = (0..m)
        .map(|j| alpha[j] + radius(j))
        .fold(f64::NEG_INFINITY, f64::max);
    // The shift below the eigenvalue: small beside the matrix's entries,
    // so that inverse iteration converges in a few steps, but not so small
    // that a pivot vanishes.
    let shift = 1e-8 * (hi - lo).abs().max(lo.abs()).max(1e-150);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        match has_eigenvalue_below(alpha, beta, mid) {
            true => hi = mid,
            false => lo = mid,
        }
    }
    let mut y = unsymmetric_start(m);
    for _ in 0..3 {
        solve_shifted(alpha, beta, lo - shift, &mut y);
        if !normalise(&mut y) {
            return vec![1.0; m];
        }
    }
    y
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
    fn the_smallest_eigenvector_of_a_tridiagonal_matrix() {
        // [[2, 1], [1, 2]]: eigenvalue 1 along (1, -1)/√2.
        let y = smallest_eigenvector(&[2.0, 2.0], &[1.0]);
        assert!((y[0] + y[1]).abs() < 1e-12 && (y[0].abs() - 0.5f64.sqrt()).abs() < 1e-12);
        // The second-difference matrix of order 5: sin(jπ/6), normalised.
        let y = smallest_eigenvector(&[2.0; 5], &[-1.0; 4]);
        let want: Vec<f64> = (1..=5)
            .map(|j| (j as f64 * std::f64::consts::PI / 6.0).sin())
            .collect();
        let norm = dot(&want, &want).sqrt();
        let sign = y[0].signum();
        for (a, b) in y.iter().zip(&want) {
            assert!((sign * a - b / norm).abs() < 1e-9, "{y:?}");
        }
        // One by one, and a zero matrix.
        assert_eq!(smallest_eigenvector(&[0.0], &[]), vec![1.0]);
    }

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
