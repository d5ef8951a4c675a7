//! The saddle test at the end of a converged fit: is the point where the
//! gradient of the sum of squares vanished a minimum, or a saddle or
//! maximum of it (`y ~ a*b` from a = b = 0, `y ~ a^2*t` from a = 0, where
//! J = 0 and the Levenberg–Marquardt loop stops at once on gtol)?
//!
//! The exact Hessian of ½Σrᵢ² is `JᵀJ + Σ rᵢ∇²rᵢ`. Its first part is
//! positive semidefinite and known from R; only the second can make it
//! indefinite, and it can do so only where `JᵀJ` is small beside it: along
//! J's null space, or along its flattest direction. So the test asks the
//! curvature there only: the directions are J's null vectors (when the
//! column-scaled J is rank-deficient) or, at full rank, the direction
//! R's inverse stretches most (one step of inverse iteration from the
//! last pivot, as condition estimators take it). The Hessian times each
//! is a forward difference of the exact gradient `Jᵀr` (one pass over
//! the data each), and the small matrix `VᵀHV` is tested for a negative
//! eigenvalue. Everything is in the scaled parameters `xⱼ/uⱼ`, `uⱼ = |xⱼ|`
//! (1 at 0), so the test reads the same at any scale of the data or the
//! estimates (Sylvester's law: the scaling keeps the signs of the
//! eigenvalues). Cost: one pass per null vector.
//!
//! At full rank the test runs only if the run never left its start: the
//! loop descends, and it ends at a saddle with J of full rank only from a
//! start on the saddle's stable set (a start that is itself stationary,
//! in practice); testing every fit would add a pass to each (a tenth of
//! a fit of eight iterations).
//!
//! Not caught: a negative curvature off the flattest direction of `JᵀJ`
//! (a residual curvature larger than the Jacobian's smallest singular
//! value but along another direction), and a fall of third or higher
//! order along a direction of zero curvature (`y ~ a^3*t` at a = 0).

use super::lm::Residuals;
use super::qr::qrfac;
use super::stream::Accumulator;

/// A negative eigenvalue of `VᵀHV` counts when it is below `-TOLERANCE`
/// times the Hessian's scale (the largest of its entries and of the
/// squared scaled column norms of J): forward differences of an exact
/// gradient err by about √ε of that scale.
const TOLERANCE: f64 = 1e-5;

/// Whether the converged point `x` (whose last pass is `at`) is a saddle
/// or a maximum of the cost. Parameters on a bound are left out. `moved`:
/// whether the run left its start (at full rank, a run that did is not
/// tested). `trial` is work space for the passes; `evaluations` counts
/// them.
pub(crate) fn saddle(
    problem: &mut dyn Residuals,
    x: &[f64],
    moved: bool,
    at: &Accumulator,
    bounds: &[(f64, f64)],
    trial: &mut Accumulator,
    evaluations: &mut usize,
) -> bool {
    let n = x.len();
    let free: Vec<usize> = (0..n)
        .filter(|&j| bounds[j].0 < x[j] && x[j] < bounds[j].1)
        .collect();
    let k = free.len();
    if k == 0 {
        return false;
    }
    let u: Vec<f64> = free
        .iter()
        .map(|&j| match x[j] {
            0.0 => 1.0,
            v => v.abs(),
        })
        .collect();
    // J U over the free columns, through R (same Gram matrix).
    let mut a = vec![0.0; n * k];
    for (c, &j) in free.iter().enumerate() {
        for i in 0..n {
            a[i + c * n] = at.r_column(j)[i] * u[c];
        }
    }
    let hessian_scale = (0..k)
        .map(|c| a[c * n..(c + 1) * n].iter().map(|v| v * v).sum::<f64>())
        .fold(0.0_f64, f64::max);
    let Some(directions) = flat_directions(&a, n, k, moved) else {
        return false;
    };
    let gradient = scaled_gradient(at, &free, &u);
    // Columns of H V (scaled), one pass each.
    let h = f64::EPSILON.sqrt();
    let mut hv = Vec::with_capacity(directions.len());
    for v in &directions {
        let mut step = x.to_vec();
        for (c, &j) in free.iter().enumerate() {
            step[j] = x[j] + h * u[c] * v[c];
        }
        // A step off the box goes the other way (free variables are
        // strictly inside, and the step is relatively √ε).
        let sign = match free
            .iter()
            .all(|&j| bounds[j].0 <= step[j] && step[j] <= bounds[j].1)
        {
            true => 1.0,
            false => {
                for (c, &j) in free.iter().enumerate() {
                    step[j] = x[j] - h * u[c] * v[c];
                }
                -1.0
            }
        };
        *evaluations += 1;
        trial.reset();
        let finite = problem.eval(&step, trial);
        trial.finish();
        if !finite {
            return false;
        }
        let moved = scaled_gradient(trial, &free, &u);
        hv.push(
            moved
                .iter()
                .zip(&gradient)
                .map(|(g1, g0)| sign * (g1 - g0) / h)
                .collect::<Vec<f64>>(),
        );
    }
    // VᵀHV, symmetrised.
    let d = directions.len();
    let mut m = vec![0.0; d * d];
    for i in 0..d {
        for l in 0..d {
            let vi_hvl: f64 = directions[i].iter().zip(&hv[l]).map(|(a, b)| a * b).sum();
            let vl_hvi: f64 = directions[l].iter().zip(&hv[i]).map(|(a, b)| a * b).sum();
            m[i + l * d] = 0.5 * (vi_hvl + vl_hvi);
        }
    }
    let scale = m.iter().fold(hessian_scale, |s, v| s.max(v.abs()));
    if !(scale > 0.0 && scale.is_finite()) {
        return false;
    }
    !positive_definite(&m, d, TOLERANCE * scale)
}

/// The gradient `J̃ᵀf̃ = Rᵀ(Qᵀf̃)` over the free columns, scaled by `u`.
fn scaled_gradient(at: &Accumulator, free: &[usize], u: &[f64]) -> Vec<f64> {
    let qtf = at.qtf();
    free.iter()
        .zip(u)
        .map(|(&j, uj)| {
            let col = at.r_column(j);
            uj * col.iter().zip(qtf).map(|(a, b)| a * b).sum::<f64>()
        })
        .collect()
}

/// Unit directions where the scaled `A` (n×k, column-major, `AᵀA` the
/// Gauss–Newton Hessian) is flat: an orthonormal basis of its null space
/// when its columns, each scaled to unit norm, have numerical rank below
/// k (a zero column is its own null vector); else the one direction
/// `R⁻¹eₖ` of its pivoted QR, which the smallest singular value
/// dominates; `None` at full rank if the run `moved` (not tested).
fn flat_directions(a: &[f64], n: usize, k: usize, moved: bool) -> Option<Vec<Vec<f64>>> {
    let norms: Vec<f64> = (0..k)
        .map(|c| super::qr::norm(&a[c * n..(c + 1) * n]))
        .collect();
    let mut scaled = a.to_vec();
    for c in 0..k {
        if norms[c] > 0.0 {
            for v in &mut scaled[c * n..(c + 1) * n] {
                *v /= norms[c];
            }
        }
    }
    let mut f = vec![0.0; n];
    let qr = qrfac(&mut scaled, n, k, &mut f);
    let rank = qr.rank(n.max(k));
    // Back to A's columns: A = Â N, so a null vector z of Â gives N⁻¹z,
    // and a zero column of A is a null vector itself.
    let unscale = |z: Vec<f64>| -> Vec<f64> {
        let mut w: Vec<f64> = (0..k)
            .map(|c| match norms[c] > 0.0 {
                true => z[c] / norms[c],
                false => z[c],
            })
            .collect();
        let size = super::qr::norm(&w);
        for v in &mut w {
            *v /= size;
        }
        w
    };
    let mut directions: Vec<Vec<f64>> = Vec::new();
    if rank < k {
        for last in rank..k {
            // (−R₁₁⁻¹R₁₂eₗ; eₗ) in pivot order.
            let mut z = vec![0.0; k];
            z[last] = 1.0;
            for i in (0..rank).rev() {
                let sum: f64 =
                    (i + 1..rank).map(|l| qr.at(i, l) * z[l]).sum::<f64>() + qr.at(i, last);
                z[i] = -sum / qr.at(i, i);
            }
            let mut v = vec![0.0; k];
            for (p, zp) in z.iter().enumerate() {
                v[qr.perm[p]] = *zp;
            }
            directions.push(unscale(v));
        }
        orthonormalise(&mut directions);
    } else if moved {
        return None;
    } else {
        // R z = eₖ, in pivot order.
        let mut z = vec![0.0; k];
        z[k - 1] = 1.0;
        for i in (0..k).rev() {
            let sum: f64 = (i + 1..k).map(|l| qr.at(i, l) * z[l]).sum();
            z[i] = (z[i] - sum) / qr.at(i, i);
        }
        let mut v = vec![0.0; k];
        for (p, zp) in z.iter().enumerate() {
            v[qr.perm[p]] = *zp;
        }
        directions.push(unscale(v));
    }
    Some(directions)
}

/// Gram–Schmidt (twice), dropping vectors that vanish.
fn orthonormalise(vs: &mut Vec<Vec<f64>>) {
    let mut out: Vec<Vec<f64>> = Vec::with_capacity(vs.len());
    for v in vs.drain(..) {
        let mut w = v;
        for _ in 0..2 {
            for q in &out {
                let d: f64 = q.iter().zip(&w).map(|(a, b)| a * b).sum();
                for (wi, qi) in w.iter_mut().zip(q) {
                    *wi -= d * qi;
                }
            }
        }
        let size = super::qr::norm(&w);
        if size > 1e-8 {
            out.push(w.iter().map(|v| v / size).collect());
        }
    }
    *vs = out;
}

/// Whether the symmetric d×d `m` + `shift`·I has a Cholesky factor: no
/// eigenvalue of `m` below −`shift`.
fn positive_definite(m: &[f64], d: usize, shift: f64) -> bool {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut sum = m[i + j * d] + if i == j { shift } else { 0.0 };
            for p in 0..j {
                sum -= l[i + p * d] * l[j + p * d];
            }
            if i == j {
                if sum.is_nan() || sum <= 0.0 {
                    return false;
                }
                l[i + i * d] = sum.sqrt();
            } else {
                l[i + j * d] = sum / l[j + j * d];
            }
        }
    }
    true
}
