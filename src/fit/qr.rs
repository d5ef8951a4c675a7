//! The factorisations under Levenberg–Marquardt, after MINPACK (Moré,
//! Garbow, Hillstrom 1980): a Householder QR of the Jacobian with column
//! pivoting (`qrfac`), and the solution of the damped system
//! `[R; √λ·D] x ≈ [Qᵀf; 0]` by Givens rotations (`qrsolv`).
//!
//! Why QR and not the normal equations: JᵀJ squares the condition number,
//! and the NIST "higher difficulty" problems (MGH09, MGH10, Bennett5)
//! have Jacobians whose condition numbers reach 10⁸ and more, where the
//! normal equations lose every digit the certified values ask for.
//!
//! Matrices are dense and column-major: entry (i, j) of an m×n matrix is
//! `a[i + j*m]`, so that each column (one parameter's derivatives over
//! every row) is contiguous.

// The loops index several arrays in step, as MINPACK writes them: kept
// that way so the code reads against the published algorithm.
#![allow(clippy::needless_range_loop)]

/// A Householder QR factorisation `J P = Q R` of an m×n matrix (m ≥ n),
/// with the columns pivoted by decreasing norm.
pub(crate) struct Qr {
    /// Columns of the factor `R`, n×n column-major (upper triangle; the
    /// strict lower triangle is work space for `qrsolv`).
    pub r: Vec<f64>,
    /// The permutation: column `j` of `J P` is column `perm[j]` of `J`.
    pub perm: Vec<usize>,
    /// The Euclidean norms of `J`'s columns, before pivoting.
    pub col_norms: Vec<f64>,
    /// `Qᵀf`, the first n components.
    pub qtf: Vec<f64>,
    pub n: usize,
}

impl Qr {
    /// Entry (i, j) of `R` (or of the work space below it).
    #[inline]
    pub fn at(&self, i: usize, j: usize) -> f64 {
        self.r[i + j * self.n]
    }

    /// `‖R Pᵀ p‖` = `‖J p‖`.
    pub fn norm_jp(&self, p: &[f64]) -> f64 {
        let n = self.n;
        let mut w = vec![0.0; n];
        for j in 0..n {
            let pj = p[self.perm[j]];
            for (i, wi) in w.iter_mut().enumerate().take(j + 1) {
                *wi += self.at(i, j) * pj;
            }
        }
        norm(&w)
    }

    /// `(Qᵀf) · (R Pᵀ p)` = `f · J p` = `(Jᵀf) · p`.
    pub fn f_dot_jp(&self, p: &[f64]) -> f64 {
        let n = self.n;
        let mut w = vec![0.0; n];
        for j in 0..n {
            let pj = p[self.perm[j]];
            for (i, wi) in w.iter_mut().enumerate().take(j + 1) {
                *wi += self.at(i, j) * pj;
            }
        }
        w.iter().zip(&self.qtf).map(|(a, b)| a * b).sum()
    }

    /// The numerical rank: diagonal entries of `R` above
    /// `max(m, n)·ε·|R₁₁|` (the threshold of LAPACK's and scipy's rank
    /// tests).
    pub fn rank(&self, m: usize) -> usize {
        let n = self.n;
        if n == 0 {
            return 0;
        }
        let tol = (m.max(n) as f64) * f64::EPSILON * self.at(0, 0).abs();
        (0..n)
            .take_while(|&k| self.at(k, k).abs() > tol && self.at(k, k) != 0.0)
            .count()
    }
}

/// Factors the m×n matrix `a` (column-major; overwritten) as `a P = Q R`
/// and applies `Qᵀ` to `f` (overwritten). MINPACK's `qrfac` with pivoting.
pub(crate) fn qrfac(a: &mut [f64], m: usize, n: usize, f: &mut [f64]) -> Qr {
    debug_assert!(a.len() == m * n && f.len() == m && m >= n);
    let eps = f64::EPSILON;
    let col_norms: Vec<f64> = (0..n).map(|j| norm(&a[j * m..(j + 1) * m])).collect();
    let mut rdiag = col_norms.clone();
    let mut wa = col_norms.clone();
    let mut perm: Vec<usize> = (0..n).collect();
    for j in 0..n {
        // Bring the column of largest remaining norm into the pivot place.
        let kmax = (j..n).fold(j, |best, k| if rdiag[k] > rdiag[best] { k } else { best });
        if kmax != j {
            for i in 0..m {
                a.swap(i + j * m, i + kmax * m);
            }
            rdiag[kmax] = rdiag[j];
            wa[kmax] = wa[j];
            perm.swap(j, kmax);
        }
        // The Householder reflection that zeroes column j below the diagonal.
        let mut ajnorm = norm(&a[j + j * m..(j + 1) * m]);
        if ajnorm != 0.0 {
            if a[j + j * m] < 0.0 {
                ajnorm = -ajnorm;
            }
            for v in &mut a[j + j * m..(j + 1) * m] {
                *v /= ajnorm;
            }
            a[j + j * m] += 1.0;
            // Apply it to the remaining columns and update their norms.
            let (head, tail) = a.split_at_mut((j + 1) * m);
            let v = &head[j + j * m..(j + 1) * m];
            let vjj = v[0];
            for k in j + 1..n {
                let col = &mut tail[(k - j - 1) * m..(k - j) * m];
                let sum: f64 = v.iter().zip(&col[j..]).map(|(a, b)| a * b).sum();
                let temp = sum / vjj;
                for (c, vi) in col[j..].iter_mut().zip(v) {
                    *c -= temp * vi;
                }
                if rdiag[k] != 0.0 {
                    let t = col[j] / rdiag[k];
                    rdiag[k] *= (1.0 - t * t).max(0.0).sqrt();
                    if 0.05 * (rdiag[k] / wa[k]).powi(2) <= eps {
                        rdiag[k] = norm(&col[j + 1..]);
                        wa[k] = rdiag[k];
                    }
                }
            }
        }
        rdiag[j] = -ajnorm;
    }
    // Qᵀf: the reflections applied in order.
    for j in 0..n {
        let v = &a[j + j * m..(j + 1) * m];
        if v[0] != 0.0 {
            let sum: f64 = v.iter().zip(&f[j..]).map(|(a, b)| a * b).sum();
            let temp = -sum / v[0];
            for (fi, vi) in f[j..].iter_mut().zip(v) {
                *fi += temp * vi;
            }
        }
    }
    let mut r = vec![0.0; n * n];
    for j in 0..n {
        for i in 0..j {
            r[i + j * n] = a[i + j * m];
        }
        r[j + j * n] = rdiag[j];
    }
    Qr {
        r,
        perm,
        col_norms,
        qtf: f[..n].to_vec(),
        n,
    }
}

/// Solves `[R Pᵀ; D] x ≈ [Qᵀf; 0]` in the least-squares sense, for the
/// diagonal `d`: MINPACK's `qrsolv`. Writes `x`, and the diagonal of the
/// triangular factor `S` of the augmented system to `sdiag` (its strict
/// lower triangle goes to the work space below `R`, whose upper triangle
/// is kept).
pub(crate) fn qrsolv(qr: &mut Qr, d: &[f64], x: &mut [f64], sdiag: &mut [f64]) {
    let n = qr.n;
    let r = &mut qr.r;
    let idx = |i: usize, j: usize| i + j * n;
    let mut wa = qr.qtf.clone();
    // Copy R's upper triangle to the lower one, and keep its diagonal.
    for j in 0..n {
        for i in j..n {
            r[idx(i, j)] = r[idx(j, i)];
        }
        x[j] = r[idx(j, j)];
    }
    // Eliminate the diagonal matrix with Givens rotations.
    for j in 0..n {
        let l = qr.perm[j];
        if d[l] != 0.0 {
            sdiag[j..].fill(0.0);
            sdiag[j] = d[l];
            let mut qtbpj = 0.0;
            for k in j..n {
                if sdiag[k] == 0.0 {
                    continue;
                }
                let rkk = r[idx(k, k)];
                let (sin, cos) = if rkk.abs() < sdiag[k].abs() {
                    let cotan = rkk / sdiag[k];
                    let sin = 0.5 / (0.25 + 0.25 * cotan * cotan).sqrt();
                    (sin, sin * cotan)
                } else {
                    let tan = sdiag[k] / rkk;
                    let cos = 0.5 / (0.25 + 0.25 * tan * tan).sqrt();
                    (cos * tan, cos)
                };
                r[idx(k, k)] = cos * rkk + sin * sdiag[k];
                let temp = cos * wa[k] + sin * qtbpj;
                qtbpj = -sin * wa[k] + cos * qtbpj;
                wa[k] = temp;
                for i in k + 1..n {
                    let temp = cos * r[idx(i, k)] + sin * sdiag[i];
                    sdiag[i] = -sin * r[idx(i, k)] + cos * sdiag[i];
                    r[idx(i, k)] = temp;
                }
            }
        }
        sdiag[j] = r[idx(j, j)];
        r[idx(j, j)] = x[j];
    }
    // Back-substitute; a singular system gets a least-squares solution.
    let nsing = sdiag.iter().position(|&s| s == 0.0).unwrap_or(n);
    wa[nsing..].fill(0.0);
    for k in (0..nsing).rev() {
        let sum: f64 = (k + 1..nsing).map(|i| r[idx(i, k)] * wa[i]).sum();
        wa[k] = (wa[k] - sum) / sdiag[k];
    }
    for j in 0..n {
        x[qr.perm[j]] = wa[j];
    }
}

/// The Euclidean norm: the plain sum of squares where it neither
/// overflows nor comes near underflow, else scaled by the largest entry
/// (a division per entry, which made the plain case four times slower).
pub(crate) fn norm(v: &[f64]) -> f64 {
    let plain: f64 = v.iter().map(|x| x * x).sum();
    if plain.is_finite() && plain > 1e-280 {
        return plain.sqrt();
    }
    let big = v.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    if big == 0.0 || !big.is_finite() {
        return big;
    }
    let sum: f64 = v.iter().map(|x| (x / big) * (x / big)).sum();
    big * sum.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// J P = Q R: ‖J p‖ from R matches J p computed directly, and the
    /// least-squares solution of J x = f matches the normal equations on a
    /// well-conditioned matrix.
    #[test]
    fn qr_solves_least_squares() {
        let (m, n) = (5, 3);
        let j: Vec<f64> = vec![
            1.0, 2.0, 3.0, 4.0, 5.0, // column 0
            0.5, -1.0, 2.0, 0.0, 1.0, // column 1
            10.0, 0.0, 1.0, 3.0, -2.0, // column 2
        ];
        let f = vec![1.0, -2.0, 0.5, 3.0, 1.0];
        let mut a = j.clone();
        let mut qtf = f.clone();
        let mut qr = qrfac(&mut a, m, n, &mut qtf);
        assert_eq!(qr.perm[0], 2, "the largest column first");
        let p = [0.3, -0.7, 1.1];
        let jp: Vec<f64> = (0..m)
            .map(|i| (0..n).map(|c| j[i + c * m] * p[c]).sum())
            .collect();
        assert!((qr.norm_jp(&p) - norm(&jp)).abs() < 1e-12);
        let fjp: f64 = f.iter().zip(&jp).map(|(a, b)| a * b).sum();
        assert!((qr.f_dot_jp(&p) - fjp).abs() < 1e-12);
        assert_eq!(qr.rank(m), 3);
        // D = 0: plain least squares.
        let (mut x, mut sdiag) = (vec![0.0; n], vec![0.0; n]);
        qrsolv(&mut qr, &[0.0; 3], &mut x, &mut sdiag);
        // Residual orthogonal to the columns: Jᵀ(f - J x) = 0.
        for c in 0..n {
            let g: f64 = (0..m)
                .map(|i| {
                    let jx: f64 = (0..n).map(|k| j[i + k * m] * x[k]).sum();
                    j[i + c * m] * (f[i] - jx)
                })
                .sum();
            assert!(g.abs() < 1e-12, "{g}");
        }
    }
}
