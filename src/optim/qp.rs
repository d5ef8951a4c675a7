//! A dense convex quadratic program, `min ½zᵀQz + cᵀz` subject to
//! `Gz <= h`, by a primal-dual interior-point method with Mehrotra's
//! predictor-corrector (as in CVXOPT's `coneqp` and Vandenberghe's notes):
//! the SQP method's subproblem (`sqp.rs`).
//!
//! An interior-point method rather than an active set because the
//! subproblems here are small and dense and each step is one Cholesky
//! factorisation of `Q + Gᵀ(Y/S)G`, whatever the degeneracy of the
//! constraints (duplicated or dependent rows, vertices where more rows meet
//! than there are variables), which an active-set method must handle with
//! anti-cycling rules. The subproblem's solution is accurate to about 1e-11,
//! which is all the outer method's superlinear rate needs; its multipliers
//! of inactive rows come out near 1e-13, not exactly 0.
//!
//! The iteration starts from `z = 0`, `s = max(h − Gz, 1)`, `y = 1`
//! (infeasible start: only `s, y > 0` is kept), and each step goes a
//! fraction 0.99 of the way to the boundary. It stops with
//! [`QpStatus::Solved`] when the residuals and the gap `sᵀy/p` are tiny
//! relative to the data; with [`QpStatus::Infeasible`] when the
//! multipliers grow into a certificate that `Gz <= h` has no point (`y >= 0`
//! with `Gᵀy ≈ 0` and `hᵀy < 0`, Farkas); with [`QpStatus::Unbounded`] when
//! `z` grows into a direction of unbounded descent (`Qz ≈ 0`, `Gz <= 0`,
//! `cᵀz < 0`).

use super::dense;

/// How a [`solve`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum QpStatus {
    /// The KKT conditions hold to about 1e-11 relative to the data.
    Solved,
    /// No `z` satisfies `Gz <= h`.
    Infeasible,
    /// The objective decreases without bound on the feasible set.
    Unbounded,
    /// The iteration limit came first (the last iterate is returned).
    MaxIter,
}

/// A solution: the point, the multipliers of the rows (never negative)
/// and how the run ended.
#[derive(Clone, Debug)]
pub(super) struct QpSolution {
    pub(super) z: Vec<f64>,
    pub(super) y: Vec<f64>,
    pub(super) status: QpStatus,
}

impl QpSolution {
    /// The solution with the multipliers held at the iteration's floor
    /// (`FLOOR`, which keeps the iterates interior) returned as 0: a row
    /// with no weight, not one of weight 1e-300.
    fn new(z: Vec<f64>, mut y: Vec<f64>, status: QpStatus) -> QpSolution {
        y.iter_mut().filter(|v| **v <= FLOOR).for_each(|v| *v = 0.0);
        QpSolution { z, y, status }
    }
}

/// The least a slack or a multiplier is kept at between iterations.
const FLOOR: f64 = 1e-300;

/// The most interior-point iterations; a well-posed subproblem takes 10–30.
const MAX_ITER: usize = 200;

/// Relative accuracy of the residuals and of the gap at [`QpStatus::Solved`].
const TOL: f64 = 1e-11;

/// The accuracy accepted as [`QpStatus::Solved`] when the iteration breaks
/// down before [`TOL`] (rounding in the last factorisations).
const NEARLY: f64 = 1e-8;

/// `min ½zᵀQz + cᵀz` subject to `Gz <= h`; `Q` is `n × n` row-major and
/// positive semidefinite, `G` is `p × n` row-major (`p = h.len()`).
pub(super) fn solve(q: &[f64], c: &[f64], g: &[f64], h: &[f64]) -> QpSolution {
    let n = c.len();
    let p = h.len();
    debug_assert!(q.len() == n * n && g.len() == p * n);
    let norm = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let data = 1.0 + norm(q).max(norm(c)).max(norm(g)).max(norm(h));
    // Each residual relative to its own data: an elastic weight of 1e10
    // in `c` must not loosen the test of `Gz <= h`.
    let primal = 1.0 + norm(g).max(norm(h));
    let dual = 1.0 + norm(q).max(norm(c));
    let gz = |z: &[f64], out: &mut [f64]| {
        for (i, o) in out.iter_mut().enumerate() {
            *o = g[i * n..(i + 1) * n]
                .iter()
                .zip(z)
                .map(|(a, b)| a * b)
                .sum();
        }
    };
    let gt = |y: &[f64], out: &mut [f64]| {
        out.fill(0.0);
        for (i, &yi) in y.iter().enumerate() {
            if yi != 0.0 {
                for (o, a) in out.iter_mut().zip(&g[i * n..(i + 1) * n]) {
                    *o += a * yi;
                }
            }
        }
    };
    let qz = |z: &[f64], out: &mut [f64]| {
        for (i, o) in out.iter_mut().enumerate() {
            *o = q[i * n..(i + 1) * n]
                .iter()
                .zip(z)
                .map(|(a, b)| a * b)
                .sum();
        }
    };
    let (mut z, mut s, mut y) = start(q, c, g, h, data, &gz, &gt);
    let (mut rd, mut rp) = (vec![0.0; n], vec![0.0; p]);
    let mut tmp_n = vec![0.0; n];
    let mut m = vec![0.0; n * n];
    let mut factor = vec![0.0; n * n];
    let mut status = QpStatus::MaxIter;
    for _ in 0..MAX_ITER {
        // Residuals: rd = Qz + c + Gᵀy, rp = Gz + s − h.
        qz(&z, &mut rd);
        let objective: f64 = (0..n).map(|j| z[j] * (0.5 * rd[j] + c[j])).sum();
        gt(&y, &mut tmp_n);
        for j in 0..n {
            rd[j] += c[j] + tmp_n[j];
        }
        gz(&z, &mut rp);
        for i in 0..p {
            rp[i] += s[i] - h[i];
        }
        let total: f64 = s.iter().zip(&y).map(|(a, b)| a * b).sum();
        let gap = if p == 0 { 0.0 } else { total / p as f64 };
        let within = |tol: f64| {
            norm(&rd) <= tol * dual
                && norm(&rp) <= tol * primal
                && total <= tol * objective.abs().max(1.0)
        };
        if within(TOL) {
            status = QpStatus::Solved;
            break;
        }
        // Where the iteration breaks down from here on (a factorisation
        // swamped by rounding near the end), this point is the answer.
        if within(NEARLY) {
            status = QpStatus::Solved;
        }
        if let Some(verdict) = certificate(&z, &y, q, c, h, data, &gz, &gt) {
            status = verdict;
            break;
        }
        // M = Q + Gᵀ W G (W = Y/S), with a tiny shift for a semidefinite Q
        // and rows that leave some directions free.
        m.copy_from_slice(q);
        for i in 0..p {
            let w = y[i] / s[i];
            let row = &g[i * n..(i + 1) * n];
            for (a, &ga) in row.iter().enumerate() {
                if ga != 0.0 {
                    for (b, &gb) in row.iter().enumerate().take(a + 1) {
                        m[a * n + b] += w * ga * gb;
                    }
                }
            }
        }
        // The shift relative to the largest diagonal entry: near the end
        // the weights of the active rows reach 1e20 and more.
        let diagonal = (0..n).fold(data, |a, j| a.max(m[j * n + j].abs()));
        let mut shift = 1e-14 * diagonal;
        while !dense::cholesky(&m, n, shift, &mut factor) {
            shift *= 100.0;
            if !shift.is_finite() || shift > 1e-2 * diagonal {
                return QpSolution::new(z, y, status);
            }
        }
        // The affine (predictor) step, then the corrected one.
        let newton = |rc: &[f64], dz: &mut Vec<f64>, ds: &mut Vec<f64>, dy: &mut Vec<f64>| {
            // t = S⁻¹(Y rp − rc); M dz = −rd − Gᵀt.
            let t: Vec<f64> = (0..p).map(|i| (y[i] * rp[i] - rc[i]) / s[i]).collect();
            let mut rhs = vec![0.0; n];
            gt(&t, &mut rhs);
            for j in 0..n {
                rhs[j] += rd[j];
            }
            dense::solve_cholesky(&factor, n, &rhs, dz);
            let mut gdz = vec![0.0; p];
            gz(dz, &mut gdz);
            for i in 0..p {
                ds[i] = -rp[i] - gdz[i];
                dy[i] = (-rc[i] - y[i] * ds[i]) / s[i];
            }
        };
        let (mut dz, mut ds, mut dy) = (vec![0.0; n], vec![0.0; p], vec![0.0; p]);
        let rc: Vec<f64> = s.iter().zip(&y).map(|(a, b)| a * b).collect();
        newton(&rc, &mut dz, &mut ds, &mut dy);
        let alpha = boundary(&s, &ds).min(boundary(&y, &dy)).min(1.0);
        let affine_gap = if p == 0 {
            0.0
        } else {
            (0..p)
                .map(|i| (s[i] + alpha * ds[i]) * (y[i] + alpha * dy[i]))
                .sum::<f64>()
                / p as f64
        };
        let sigma = if gap > 0.0 {
            (affine_gap / gap).powi(3).min(1.0)
        } else {
            0.0
        };
        let rc: Vec<f64> = (0..p)
            .map(|i| s[i] * y[i] + ds[i] * dy[i] - sigma * gap)
            .collect();
        newton(&rc, &mut dz, &mut ds, &mut dy);
        let alpha = (0.99 * boundary(&s, &ds).min(boundary(&y, &dy))).min(1.0);
        if dz.iter().chain(&ds).chain(&dy).any(|v| !v.is_finite()) {
            return QpSolution::new(z, y, status);
        }
        for j in 0..n {
            z[j] += alpha * dz[j];
        }
        for i in 0..p {
            s[i] = (s[i] + alpha * ds[i]).max(FLOOR);
            y[i] = (y[i] + alpha * dy[i]).max(FLOOR);
        }
        if z.iter().chain(&y).any(|v| !v.is_finite()) {
            break;
        }
    }
    QpSolution::new(z, y, status)
}

/// The starting point of CVXOPT's `coneqp`: the least-squares point of
/// `min ½zᵀQz + cᵀz + ½‖Gz − h‖²`, its residual `h − Gz` as the slacks and
/// `Gz − h` as the multipliers, each shifted to be at least 1 where it is
/// not positive. Far better than `z = 0` when the data are badly scaled.
#[allow(clippy::type_complexity)]
fn start(
    q: &[f64],
    c: &[f64],
    g: &[f64],
    h: &[f64],
    data: f64,
    gz: &dyn Fn(&[f64], &mut [f64]),
    gt: &dyn Fn(&[f64], &mut [f64]),
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (n, p) = (c.len(), h.len());
    let mut m = q.to_vec();
    for i in 0..p {
        let row = &g[i * n..(i + 1) * n];
        for (a, &ga) in row.iter().enumerate() {
            if ga != 0.0 {
                for (b, &gb) in row.iter().enumerate() {
                    m[a * n + b] += ga * gb;
                }
            }
        }
    }
    let mut factor = vec![0.0; n * n];
    let mut shift = 1e-12 * data;
    let mut z = vec![0.0; n];
    while shift.is_finite() && shift <= 1e10 * data {
        if dense::cholesky(&m, n, shift, &mut factor) {
            // (Q + GᵀG) z = Gᵀh − c, i.e. solve_cholesky with c − Gᵀh.
            let mut gth = vec![0.0; n];
            gt(h, &mut gth);
            let rhs: Vec<f64> = (0..n).map(|j| c[j] - gth[j]).collect();
            dense::solve_cholesky(&factor, n, &rhs, &mut z);
            break;
        }
        shift *= 100.0;
    }
    if z.iter().any(|v| !v.is_finite()) {
        z.fill(0.0);
    }
    let mut r = vec![0.0; p];
    gz(&z, &mut r);
    let mut s: Vec<f64> = (0..p).map(|i| h[i] - r[i]).collect();
    let mut y: Vec<f64> = s.iter().map(|v| -v).collect();
    for v in [&mut s, &mut y] {
        let least = v.iter().fold(f64::INFINITY, |a, &b| a.min(b));
        if least <= 0.0 || !least.is_finite() {
            let by = if least.is_finite() { 1.0 - least } else { 1.0 };
            // At least 1 after rounding too: −6.7e16 + (1 + 6.7e16) is 0.
            v.iter_mut().for_each(|x| {
                *x = if x.is_finite() {
                    (*x + by).max(1.0)
                } else {
                    1.0
                }
            });
        }
    }
    (z, s, y)
}

/// The longest step `a` with `v + a·dv >= 0` (infinite if nothing blocks).
fn boundary(v: &[f64], dv: &[f64]) -> f64 {
    v.iter()
        .zip(dv)
        .filter(|(_, d)| **d < 0.0)
        .map(|(v, d)| -v / d)
        .fold(f64::INFINITY, f64::min)
}

/// Iterates grown large enough to carry a certificate, and the
/// certificate checked: `y` of infeasibility, `z` of unboundedness.
#[allow(clippy::too_many_arguments)]
fn certificate(
    z: &[f64],
    y: &[f64],
    q: &[f64],
    c: &[f64],
    h: &[f64],
    data: f64,
    gz: &dyn Fn(&[f64], &mut [f64]),
    gt: &dyn Fn(&[f64], &mut [f64]),
) -> Option<QpStatus> {
    let n = z.len();
    let norm = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let big = 1e8 * data;
    let ny = norm(y);
    if ny > big {
        let mut gty = vec![0.0; n];
        gt(y, &mut gty);
        let hy: f64 = h.iter().zip(y).map(|(a, b)| a * b).sum();
        if norm(&gty) <= 1e-7 * data * ny && hy < -1e-7 * ny {
            return Some(QpStatus::Infeasible);
        }
    }
    let nz = norm(z);
    if nz > big {
        let unit: Vec<f64> = z.iter().map(|v| v / nz).collect();
        let mut qv = vec![0.0; n];
        for (i, o) in qv.iter_mut().enumerate() {
            *o = q[i * n..(i + 1) * n]
                .iter()
                .zip(&unit)
                .map(|(a, b)| a * b)
                .sum();
        }
        let mut gv = vec![0.0; h.len()];
        gz(&unit, &mut gv);
        let cv: f64 = c.iter().zip(&unit).map(|(a, b)| a * b).sum();
        if norm(&qv) <= 1e-7 * data && gv.iter().all(|&v| v <= 1e-7 * data) && cv < 0.0 {
            return Some(QpStatus::Unbounded);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    #[test]
    fn an_answer_far_beyond_the_data_scale() {
        // min z² + 0.3z s.t. z >= 1.23e17: the start's slack, shifted
        // to be at least 1, rounded to 0 and the iteration never moved.
        let s = solve(&[2.0], &[0.3], &[-1.0], &[-1.2345678912e17]);
        assert_eq!(s.status, QpStatus::Solved, "{s:?}");
        assert!((s.z[0] / 1.2345678912e17 - 1.0).abs() <= 1e-9, "{s:?}");
        assert!((s.y[0] / 2.4691357824e17 - 1.0).abs() <= 1e-9, "{s:?}");
    }

    #[test]
    fn a_projection_onto_a_half_plane_with_its_multiplier() {
        // min ½‖z − (2, 1)‖² s.t. z1 + z2 <= 2: z = (1.5, 0.5), y = 0.5.
        let s = solve(&[1.0, 0.0, 0.0, 1.0], &[-2.0, -1.0], &[1.0, 1.0], &[2.0]);
        assert_eq!(s.status, QpStatus::Solved);
        assert!(close(&s.z, &[1.5, 0.5], 1e-9), "{s:?}");
        assert!(close(&s.y, &[0.5], 1e-9), "{s:?}");
    }

    #[test]
    fn a_degenerate_vertex_with_repeated_and_redundant_rows() {
        // min ½‖z‖² − z1 − z2 s.t. z1 <= 0 (twice), z2 <= 0, z1 + z2 <= 0:
        // the solution (0, 0) has four active rows for two variables.
        let g = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let s = solve(&[1.0, 0.0, 0.0, 1.0], &[-1.0, -1.0], &g, &[0.0; 4]);
        assert_eq!(s.status, QpStatus::Solved);
        assert!(close(&s.z, &[0.0, 0.0], 1e-9), "{s:?}");
        // The multipliers are not unique, but they balance the gradient.
        let balance = [s.y[0] + s.y[1] + s.y[3] - 1.0, s.y[2] + s.y[3] - 1.0];
        assert!(close(&balance, &[0.0, 0.0], 1e-9), "{s:?}");
    }

    #[test]
    fn a_linear_program_with_a_semidefinite_q() {
        // min −z1 − 2 z2 s.t. z1 + z2 <= 4, z1 <= 3, z >= 0: z = (0, 4).
        let g = [1.0, 1.0, 1.0, 0.0, -1.0, 0.0, 0.0, -1.0];
        let s = solve(&[0.0; 4], &[-1.0, -2.0], &g, &[4.0, 3.0, 0.0, 0.0]);
        assert_eq!(s.status, QpStatus::Solved);
        assert!(close(&s.z, &[0.0, 4.0], 1e-8), "{s:?}");
        assert!(close(&s.y, &[2.0, 0.0, 1.0, 0.0], 1e-8), "{s:?}");
    }

    #[test]
    fn inconsistent_rows_are_infeasible() {
        // z1 >= 1 and z1 <= 0.
        let s = solve(&[1.0], &[0.0], &[-1.0, 1.0], &[-1.0, 0.0]);
        assert_eq!(s.status, QpStatus::Infeasible, "{s:?}");
    }

    #[test]
    fn a_ray_of_descent_is_unbounded() {
        // min −z1 + ½z2² s.t. −z1 <= 0: z1 grows for ever.
        let s = solve(&[0.0, 0.0, 0.0, 1.0], &[-1.0, 0.0], &[-1.0, 0.0], &[0.0]);
        assert_eq!(s.status, QpStatus::Unbounded, "{s:?}");
    }

    #[test]
    fn no_rows_is_one_newton_step() {
        let s = solve(&[2.0, 0.0, 0.0, 4.0], &[-2.0, 4.0], &[], &[]);
        assert_eq!(s.status, QpStatus::Solved);
        assert!(close(&s.z, &[1.0, -1.0], 1e-9), "{s:?}");
    }
}
