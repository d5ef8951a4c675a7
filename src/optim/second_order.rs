//! The second-order test at a point where a constrained method's KKT test
//! passed (SQP's and the augmented Lagrangian's): is the Hessian of the
//! Lagrangian negative along a direction the active constraints allow?
//! Then the point is not a local minimum (a saddle of the Lagrangian on
//! the constraints, or a maximum), and the run says so.
//!
//! Neither method can see such a point by itself. The augmented
//! Lagrangian's inner L-BFGS-B stops where the gradient vanishes, and at
//! a point with a zero multiplier on a bound that is as much a saddle as a
//! minimum. SQP's model is made positive
//! definite on the null space of the active rows (`convexify`), so the
//! step there is zero and the KKT test passes. HS33 ends so at (0, 0, 2),
//! f = -4: the sphere `x1² + x2² + x3² >= 4` and the bound `x1 >= 0` hold
//! with positive multipliers, the bound `x2 >= 0` with a zero one, and the
//! Hessian of the Lagrangian is -0.5 along x2, which lowers f by moving
//! along the sphere off the bound (to the minimum -4.5858 at
//! (0, √2, √2)).
//!
//! The test works on the dense `n × n` Hessian, the compiled one or,
//! where none is compiled (an indexed formula), one from differences of
//! the Lagrangian's exact gradient ([`lagrangian_hessian_by_differences`],
//! `2n` evaluations), so that a `param` line or an array of variables
//! loses no verdict (SQP's sizes: n + m at most
//! [`SQP_MAX_SIZE`](super::SQP_MAX_SIZE) by default; the augmented
//! Lagrangian tests runs on at most [`DENSE_TEST_MAX_VARS`] variables). The constraints
//! split three ways:
//!
//! - **strongly active**: equalities, and inequalities and bounds that hold
//!   as equalities with a multiplier above [`WEAK_MULTIPLIER`] (relative to
//!   `max(1, ‖∇f‖∞)`, the KKT test's scale). A direction must keep them
//!   (`∇gᵢ·d = 0`): moving off them raises the Lagrangian at first order.
//! - **weakly active** (degenerate): holding as equalities with a
//!   multiplier at most that. A direction may leave them on the feasible
//!   side only (`∇gᵢ·d <= 0`; for a bound, into the box).
//! - **inactive**: every other one; no restriction.
//!
//! The smallest eigenvalue of the Hessian projected on the null space of
//! the strongly active rows (`P H P`, `P = I - QQᵀ`, `Q` an orthonormal
//! basis of the rows) is found by Jacobi's method, after a Cholesky
//! factorisation has said there is one below the tolerance (at a minimum,
//! only that factorisation is paid). Its eigenvector `v` (or `-v`) counts
//! when it leaves every weakly active constraint on its feasible side.
//! When neither sign does, the test repeats with the weakly active rows
//! kept as well, where both signs are feasible. Deciding the sign
//! conditions of several weakly active constraints together is a
//! copositivity question (NP-hard in general); this test answers "saddle"
//! only with a direction in hand, so it can miss a saddle but never calls
//! a minimum one.
//!
//! Where the smallest eigenvalue on that null space is zero within the
//! tolerance (relative to `max(1, max|Hᵢⱼ|)`, as the unconstrained test's
//! flat band, so that a Hessian that vanishes counts), the Hessian cannot
//! tell a flat bottom from a fall of third or higher order: `x³` with the
//! inactive constraint `x >= -1` is a KKT point at 0, where the Hessian is
//! 0, and its minimum is at -1. There the Lagrangian itself is asked along
//! the flat eigenvector ([`flat_fall`]), by the unconstrained test's rule
//! (`saddle.rs`): it falls below its linear prediction at steps of 10⁻³
//! and 10⁻² (scaled by `max(1, |xᵢ|)`), 30 or more times as far at the
//! longer, in a sense the weakly active constraints allow and with the
//! probes inside the bounds. At most four evaluations, and none where the
//! curvature decides; the direction found is left as a saddle's is.

mod differences;

pub(super) use differences::lagrangian_hessian_by_differences;

use super::ConstrainedOutcome;
use super::dense::{cholesky, has_negative_eigenvalue};
use super::outcome::Reason;
use crate::constraint::ConstraintKind;
use crate::optim::vector::dot;

/// A multiplier (times its row's largest entry) at most this, relative
/// to `max(1, ‖∇f‖∞)`, makes its constraint weakly active: the KKT test
/// accepts gradients of the Lagrangian this small.
const WEAK_MULTIPLIER: f64 = 1e-6;

/// An inequality within this of its bound (in its own units) holds as an
/// equality.
const ACTIVE: f64 = 1e-6;

/// A negative eigenvalue counts when it is below `-NEGATIVE · max|Hᵢⱼ|`:
/// the KKT point is only as exact as its tolerances, and a flat direction
/// of a minimum must not turn into a saddle.
const NEGATIVE: f64 = 1e-6;

/// The most variables for which the augmented Lagrangian tests its
/// answer: the test factors (and at a saddle diagonalises) the dense
/// `n × n` Hessian, which past a few hundred variables costs more than the
/// run (SQP, whose own steps are dense, tests every answer).
pub(super) const DENSE_TEST_MAX_VARS: usize = 200;

/// The KKT point, in the problem's units.
pub(super) struct KktPoint<'a> {
    pub(super) x: &'a [f64],
    pub(super) grad: &'a [f64],
    /// The constraints' values, `g <= 0` or `g == 0`.
    pub(super) c: &'a [f64],
    /// Their Jacobian, dense, `m × n`.
    pub(super) jac: &'a [f64],
    pub(super) lambda: &'a [f64],
    pub(super) kinds: &'a [ConstraintKind],
    pub(super) bounds: Option<&'a [(f64, f64)]>,
}

/// A unit direction along which `hessian` (of the Lagrangian at `p`,
/// `n × n`) is negative and which the active constraints allow (see the
/// module docs), with the curvature `dᵀHd` along it; `None` if the test
/// finds none.
pub(super) fn negative_curvature(p: &KktPoint<'_>, hessian: &[f64]) -> Option<(f64, Vec<f64>)> {
    let n = p.x.len();
    let (mut strong, weakly, _) = active_rows(p);
    let (curvature, v) = smallest_on_null_space(hessian, n, &strong)?;
    if allowed(&weakly, &v) {
        return Some((curvature, v));
    }
    let minus: Vec<f64> = v.iter().map(|x| -x).collect();
    if allowed(&weakly, &minus) {
        return Some((curvature, minus));
    }
    if weakly.is_empty() {
        return None;
    }
    // Keeping the weakly active rows too: both signs are feasible.
    strong.extend(weakly);
    smallest_on_null_space(hessian, n, &strong)
}

/// Whether `d` leaves every weakly active constraint (row `a`, `a·d <= 0`
/// feasible) on its feasible side.
fn allowed(weakly: &[Vec<f64>], d: &[f64]) -> bool {
    weakly.iter().all(|a| {
        let size = a.iter().fold(0.0f64, |s, v| s.max(v.abs()));
        dot(a, d) <= 1e-8 * size
    })
}

/// The strongly active rows (kept by a direction), the weakly active ones
/// (with the sign `a·d <= 0` a direction must respect), and the gradient
/// of the Lagrangian (see the module docs).
fn active_rows(p: &KktPoint<'_>) -> (Vec<Vec<f64>>, Vec<Vec<f64>>, Vec<f64>) {
    let n = p.x.len();
    let scale = p.grad.iter().fold(1.0f64, |a, g| a.max(g.abs()));
    let weak = WEAK_MULTIPLIER * scale;
    // The gradient of the Lagrangian: on a bound, its component is the
    // bound's multiplier.
    let mut grad_l = p.grad.to_vec();
    for (i, &l) in p.lambda.iter().enumerate() {
        for (g, a) in grad_l.iter_mut().zip(&p.jac[i * n..(i + 1) * n]) {
            *g += l * a;
        }
    }
    let mut strong: Vec<Vec<f64>> = Vec::new();
    let mut weakly: Vec<Vec<f64>> = Vec::new();
    for (i, kind) in p.kinds.iter().enumerate() {
        let row = &p.jac[i * n..(i + 1) * n];
        let size = row.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        match kind {
            ConstraintKind::Equality => strong.push(row.to_vec()),
            ConstraintKind::Inequality if p.c[i] >= -ACTIVE => {
                if p.lambda[i] * size > weak {
                    strong.push(row.to_vec());
                } else {
                    weakly.push(row.to_vec());
                }
            }
            ConstraintKind::Inequality => {}
        }
    }
    if let Some(bounds) = p.bounds {
        for (j, &(lo, hi)) in bounds.iter().enumerate() {
            let unit = |sign: f64| {
                let mut e = vec![0.0; n];
                e[j] = sign;
                e
            };
            let at = |b: f64| (p.x[j] - b).abs() <= 1e-10 * b.abs().max(1.0);
            // At the lower bound, `d_j >= 0` (`-e_j·d <= 0`), its multiplier
            // the Lagrangian's gradient component; at the upper, the
            // opposite.
            let (side, multiplier) = if lo.is_finite() && at(lo) {
                (-1.0, grad_l[j])
            } else if hi.is_finite() && at(hi) {
                (1.0, -grad_l[j])
            } else {
                continue;
            };
            if multiplier > weak {
                strong.push(unit(1.0));
            } else {
                weakly.push(unit(side));
            }
        }
    }
    (strong, weakly, grad_l)
}

/// Where [`negative_curvature`] found none: if the Hessian of the
/// Lagrangian is flat (within the tolerance) along a direction the
/// strongly active constraints keep, whether the Lagrangian falls along
/// it at second or higher order (see the module docs); `lagrangian` gives
/// its value at a point (`None` where it cannot be had). The flat unit
/// direction, in the sense it falls, if so.
pub(super) fn flat_fall(
    p: &KktPoint<'_>,
    hessian: &[f64],
    mut lagrangian: impl FnMut(&[f64]) -> Option<f64>,
) -> Option<Vec<f64>> {
    let n = p.x.len();
    let (strong, weakly, grad_l) = active_rows(p);
    let v = flattest_on_null_space(hessian, n, &strong)?;
    let l0 = lagrangian(p.x)?;
    let d: Vec<f64> = (0..n).map(|j| p.x[j].abs().max(1.0) * v[j]).collect();
    let slope = dot(&grad_l, &d);
    let mut point = vec![0.0; n];
    let mut fall = |h: f64| -> Option<f64> {
        for j in 0..n {
            point[j] = p.x[j] + h * d[j];
        }
        if let Some(bounds) = p.bounds
            && !(point.iter().zip(bounds)).all(|(x, &(lo, hi))| (lo..=hi).contains(x))
        {
            return None;
        }
        let l_h = lagrangian(&point)?;
        let remainder = l_h - l0 - h * slope;
        let noise = 16.0 * f64::EPSILON * (l0.abs() + l_h.abs());
        (remainder.is_finite() && remainder < -noise).then_some(remainder)
    };
    for sign in [1.0, -1.0] {
        let signed: Vec<f64> = v.iter().map(|x| sign * x).collect();
        if !allowed(&weakly, &signed) {
            continue;
        }
        let Some(short) = fall(sign * 1e-3) else {
            continue;
        };
        if fall(sign * 1e-2).is_some_and(|long| long <= 30.0 * short) {
            return Some(signed);
        }
    }
    None
}

/// The unit eigenvector of the smallest eigenvalue of `hessian` on the
/// null space of `rows`, if that eigenvalue is within the flat band,
/// `NEGATIVE · max(1, max|Hᵢⱼ|)`, of zero (one Cholesky factorisation
/// says whether; Jacobi's method finds it only then).
fn flattest_on_null_space(hessian: &[f64], n: usize, rows: &[Vec<f64>]) -> Option<Vec<f64>> {
    let (mut hp, basis) = projected(hessian, n, rows)?;
    let size = hp.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let band = NEGATIVE * size.max(1.0);
    // The rows' own space lifted above the band, out of the way.
    let lift = 2.0 * band + size;
    for b in &basis {
        for i in 0..n {
            for j in 0..n {
                hp[i * n + j] += lift * b[i] * b[j];
            }
        }
    }
    let mut factor = vec![0.0; n * n];
    if cholesky(&hp, n, -band, &mut factor) {
        return None;
    }
    let (_, mut v) = smallest_eigenpair(&hp, n);
    project_out(&basis, &mut v);
    let norm = dot(&v, &v).sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return None;
    }
    v.iter_mut().for_each(|x| *x /= norm);
    Some(v)
}

/// How many times a method leaves a saddle (and runs again from a step
/// off it) before it reports one.
pub(super) const MAX_ESCAPES: usize = 3;

/// The step off a saddle along its direction of negative curvature,
/// relative to `max(1, ‖x‖∞)`: long enough that the next run sees the
/// descent (SQP's model, made convex, hid it; the augmented Lagrangian's
/// inner gradient was zero there).
const ESCAPE_STEP: f64 = 0.1;

/// The point a step off the saddle `x` along `d` (a unit direction of
/// negative curvature), projected onto the bounds: where the next run
/// starts.
fn step_off(x: &[f64], d: &[f64], bounds: Option<&[(f64, f64)]>) -> Vec<f64> {
    let step = ESCAPE_STEP * x.iter().fold(1.0f64, |a, v| a.max(v.abs()));
    (0..x.len())
        .map(|j| {
            let v = x[j] + step * d[j];
            bounds.map_or(v, |b| v.clamp(b[j].0, b[j].1))
        })
        .collect()
}

/// Runs again from a step off each saddle, up to [`MAX_ESCAPES`] times:
/// `last` is a run's outcome and `direction` the second-order test's
/// direction of negative curvature at its end (`None` if it found none);
/// `rerun` runs from a start and tests its end the same way. Returns the
/// last run's outcome, with every run's counts and the first run's moved
/// start, and the point the last run began from (`start` if none ran
/// again). SQP's default chain and the augmented Lagrangian both escape
/// so.
pub(super) fn escape_saddles<E>(
    mut last: ConstrainedOutcome,
    mut direction: Option<Vec<f64>>,
    start: &[f64],
    bounds: Option<&[(f64, f64)]>,
    mut rerun: impl FnMut(&[f64]) -> Result<(ConstrainedOutcome, Option<Vec<f64>>), E>,
) -> Result<(ConstrainedOutcome, Vec<f64>), E> {
    let mut began = start.to_vec();
    let moved_start = last.outcome.moved_start.clone();
    for _ in 0..MAX_ESCAPES {
        let Some(d) = direction.take() else {
            break;
        };
        began = step_off(&last.outcome.x, &d, bounds);
        let (next, next_direction) = rerun(&began)?;
        let earlier = std::mem::replace(&mut last, next);
        last.outcome.add_counts(&earlier.outcome);
        direction = next_direction;
    }
    last.outcome.moved_start = moved_start;
    Ok((last, began))
}

/// The verdict at a point that passed the KKT test: `kkt`, or `saddle`
/// with the curvature the second-order test found.
/// A curvature of exactly 0 marks a flat direction along which the
/// Lagrangian falls at higher order ([`flat_fall`]).
pub(super) fn kkt_or_saddle(saddle: Option<&(f64, Vec<f64>)>) -> (Reason, String) {
    match saddle {
        None => (Reason::Kkt, Reason::Kkt.explanation().to_string()),
        Some((curvature, _)) if *curvature == 0.0 => (
            Reason::Saddle,
            "the KKT conditions hold, and the Hessian of the Lagrangian is flat along a \
             direction the active constraints allow, but the Lagrangian falls along it at \
             higher order: not a minimum"
                .to_string(),
        ),
        Some((curvature, _)) => (
            Reason::Saddle,
            // Six digits: the curvature is only as exact as the KKT point.
            format!(
                "the KKT conditions hold, but the Hessian of the Lagrangian is {} along a \
                 direction the active constraints allow: a saddle or a maximum, not a minimum",
                crate::print::format_number(
                    format!("{curvature:.5e}").parse().unwrap_or(*curvature)
                )
            ),
        ),
    }
}

/// The smallest eigenvalue of `hessian` on the null space of `rows`, with
/// its unit eigenvector, if it is below the tolerance; `None` if not.
fn smallest_on_null_space(hessian: &[f64], n: usize, rows: &[Vec<f64>]) -> Option<(f64, Vec<f64>)> {
    let (hp, basis) = projected(hessian, n, rows)?;
    if !has_negative_eigenvalue(&hp, n, NEGATIVE) {
        return None;
    }
    let size = hp.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let (value, mut v) = smallest_eigenpair(&hp, n);
    if value >= -NEGATIVE * size {
        return None;
    }
    // In the null space up to rounding; projected once more.
    project_out(&basis, &mut v);
    let norm = dot(&v, &v).sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return None;
    }
    v.iter_mut().for_each(|x| *x /= norm);
    Some((value, v))
}

/// Removes from `v` its components along the orthonormal `basis`.
fn project_out(basis: &[Vec<f64>], v: &mut [f64]) {
    for b in basis {
        let c = dot(b, v);
        v.iter_mut().zip(b).for_each(|(x, y)| *x -= c * y);
    }
}

/// `P H P`, `P = I - QQᵀ` the projection on the null space of `rows` (`Q`
/// an orthonormal basis of them), with `Q`; `None` where the rows leave no
/// direction or the matrix is not finite.
fn projected(hessian: &[f64], n: usize, rows: &[Vec<f64>]) -> Option<(Vec<f64>, Vec<Vec<f64>>)> {
    // An orthonormal basis of the rows (Gram–Schmidt, twice), dependent
    // rows dropped.
    let mut basis: Vec<Vec<f64>> = Vec::new();
    for row in rows {
        let norm = dot(row, row).sqrt();
        if norm == 0.0 || !norm.is_finite() {
            continue;
        }
        let mut q = row.clone();
        for _ in 0..2 {
            project_out(&basis, &mut q);
        }
        let left = dot(&q, &q).sqrt();
        if left > 1e-10 * norm {
            q.iter_mut().for_each(|x| *x /= left);
            basis.push(q);
        }
    }
    if basis.len() >= n {
        return None;
    }
    let mut hp = hessian.to_vec();
    for i in 0..n {
        project_out(&basis, &mut hp[i * n..(i + 1) * n]);
    }
    // Row i of H P is P applied to row i of H (P is symmetric); column j
    // of P (H P) is P applied to column j of H P.
    let mut column = vec![0.0; n];
    for j in 0..n {
        for i in 0..n {
            column[i] = hp[i * n + j];
        }
        project_out(&basis, &mut column);
        for i in 0..n {
            hp[i * n + j] = column[i];
        }
    }
    // Symmetric up to rounding: averaged.
    symmetrize(&mut hp, n);
    hp.iter().all(|v| v.is_finite()).then_some((hp, basis))
}

/// The smallest eigenvalue of the symmetric `a` (`n × n`) and a unit
/// eigenvector, by cyclic Jacobi rotations (each zeroes one off-diagonal
/// pair; sweeps until the off-diagonal part is negligible).
fn smallest_eigenpair(a: &[f64], n: usize) -> (f64, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v: Vec<f64> = (0..n * n)
        .map(|k| if k % (n + 1) == 0 { 1.0 } else { 0.0 })
        .collect();
    let total: f64 = a.iter().map(|x| x * x).sum();
    for _ in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum();
        if off <= 1e-30 * total || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                // The rotation that zeroes a_pq: t = tan φ, the smaller
                // root of t² + 2θt - 1 = 0.
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (kp, kq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * kp - s * kq;
                    a[k * n + q] = s * kp + c * kq;
                }
                for k in 0..n {
                    let (pk, qk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * pk - s * qk;
                    a[q * n + k] = s * pk + c * qk;
                }
                for k in 0..n {
                    let (kp, kq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * kp - s * kq;
                    v[k * n + q] = s * kp + c * kq;
                }
            }
        }
    }
    let smallest = (0..n)
        .min_by(|&i, &j| a[i * n + i].total_cmp(&a[j * n + j]))
        .unwrap_or(0);
    let vector = (0..n).map(|k| v[k * n + smallest]).collect();
    (a[smallest * n + smallest], vector)
}

/// `h` (`n × n`, row-major) made symmetric: each pair of entries
/// across the diagonal replaced by their mean.
pub(super) fn symmetrize(h: &mut [f64], n: usize) {
    for i in 0..n {
        for j in 0..i {
            let v = 0.5 * (h[i * n + j] + h[j * n + i]);
            h[i * n + j] = v;
            h[j * n + i] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_finds_the_smallest_eigenpair() {
        // The second-difference matrix of order 3 (with 2 on the
        // diagonal, +1 off it): eigenvalues 2 - √2, 2, 2 + √2.
        let a = [2.0, 1.0, 0.0, 1.0, 2.0, 1.0, 0.0, 1.0, 2.0];
        let (value, v) = smallest_eigenpair(&a, 3);
        let want = 2.0 - 2f64.sqrt();
        assert!((value - want).abs() < 1e-12, "{value}");
        for i in 0..3 {
            let av: f64 = (0..3).map(|j| a[i * 3 + j] * v[j]).sum();
            assert!((av - value * v[i]).abs() < 1e-12, "{v:?}");
        }
        let (value, _) = smallest_eigenpair(&[0.0, 1.0, 1.0, 0.0], 2);
        assert!((value + 1.0).abs() < 1e-14);
    }

    fn point<'a>(
        x: &'a [f64],
        grad: &'a [f64],
        c: &'a [f64],
        jac: &'a [f64],
        lambda: &'a [f64],
        kinds: &'a [ConstraintKind],
        bounds: Option<&'a [(f64, f64)]>,
    ) -> KktPoint<'a> {
        KktPoint {
            x,
            grad,
            c,
            jac,
            lambda,
            kinds,
            bounds,
        }
    }

    #[test]
    fn hs33_is_a_saddle_through_its_degenerate_bound() {
        // HS33 at (0, 0, 2): f = (x1-1)(x1-2)(x1-3) + x3, the sphere
        // 4 - |x|² <= 0 active with λ = 1/4, x1 >= 0 with multiplier 11,
        // x2 >= 0 with 0, and the other constraint x1² + x2² - x3² <= 0
        // inactive. Hessian of the Lagrangian diag(-12.5, -0.5, -0.5).
        let kinds = [ConstraintKind::Inequality, ConstraintKind::Inequality];
        let bounds = [(0.0, f64::INFINITY), (0.0, f64::INFINITY), (0.0, 5.0)];
        let jac = [0.0, 0.0, -4.0, 0.0, 0.0, -4.0];
        let (x, grad, c, lambda) = ([0.0, 0.0, 2.0], [11.0, 0.0, 1.0], [-4.0, 0.0], [0.0, 0.25]);
        let p = point(&x, &grad, &c, &jac, &lambda, &kinds, Some(&bounds));
        let h = [-12.5, 0.0, 0.0, 0.0, -0.5, 0.0, 0.0, 0.0, -0.5];
        let (curvature, d) = negative_curvature(&p, &h).expect("a saddle");
        assert!((curvature + 0.5).abs() < 1e-12, "{curvature}");
        // Along +x2, into the box.
        assert!((d[1] - 1.0).abs() < 1e-12 && d[0].abs() < 1e-12 && d[2].abs() < 1e-12);
        // With a multiplier on x2's bound, the same point is a minimum.
        let grad = [11.0, 1.0, 1.0];
        let p = point(&x, &grad, &c, &jac, &lambda, &kinds, Some(&bounds));
        assert!(negative_curvature(&p, &h).is_none());
    }

    #[test]
    fn a_maximum_along_an_equality_is_found_and_a_minimum_is_not() {
        // -x² - y² on x + y = 0 at the origin: -4 along (1, -1)/√2.
        let kinds = [ConstraintKind::Equality];
        let (x, grad, c, jac, lambda) = ([0.0, 0.0], [0.0, 0.0], [0.0], [1.0, 1.0], [0.0]);
        let p = point(&x, &grad, &c, &jac, &lambda, &kinds, None);
        let (curvature, d) = negative_curvature(&p, &[-2.0, 0.0, 0.0, -2.0]).expect("a maximum");
        assert!((curvature + 2.0).abs() < 1e-12, "{curvature}");
        assert!((d[0] + d[1]).abs() < 1e-12 && (d[0].abs() - 0.5f64.sqrt()).abs() < 1e-12);
        // x² - y² on y = 0 is x²: a minimum, although the Hessian is
        // indefinite.
        let jac = [0.0, 1.0];
        let p = point(&x, &grad, &c, &jac, &lambda, &kinds, None);
        assert!(negative_curvature(&p, &[2.0, 0.0, 0.0, -2.0]).is_none());
    }
}
