//! The quadratic subproblem of one SQP iteration, plain or ℓ1-elastic,
//! and the positive definite model `B` it is built on.

use super::*;

/// One subproblem's answer, in scaled units.
pub(super) struct Step {
    pub(super) d: Vec<f64>,
    /// The multipliers of the scaled constraints.
    pub(super) lambda: Vec<f64>,
    /// The largest elastic variable: 0 where the linearisation holds.
    pub(super) elastic: f64,
}

/// The data of the subproblem that stay fixed across its solves in one
/// iteration: `B`, the scaled gradient and Jacobian, and the bounds on `d`.
pub(super) struct Subproblem<'a> {
    pub(super) b: &'a [f64],
    pub(super) grad: Vec<f64>,
    pub(super) jac: Vec<f64>,
    pub(super) kinds: &'a [ConstraintKind],
    /// `(j, low, high)` for each variable with a finite bound on `d_j`.
    pub(super) bounds: Vec<(usize, f64, f64)>,
    pub(super) n: usize,
}

impl Subproblem<'_> {
    /// Solves the plain subproblem (no elastic variables) with constraint
    /// constants `c` (scaled); `None` if the linearisation is inconsistent
    /// or the solver failed.
    pub(super) fn solve_plain(&self, c: &[f64]) -> Option<Step> {
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
    pub(super) fn solve(&self, c: &[f64], mu: f64) -> Option<Step> {
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
    pub(super) fn linear_violation(&self, c: &[f64], d: &[f64]) -> f64 {
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
pub(super) fn convexify(h: &[f64], n: usize, active: &[Vec<f64>], b: &mut [f64]) {
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
pub(super) fn bfgs_update(b: &mut [f64], n: usize, s: &[f64], y: &[f64]) {
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
