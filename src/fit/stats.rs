//! What a fit reports beyond the estimates: the covariance s²(JᵀJ)⁻¹ from
//! the R of a pivoted QR of the Jacobian at the solution (never JᵀJ
//! itself, whose condition number is the square of J's), standard errors,
//! t-values, confidence intervals and the goodness of fit.

use super::qr::{Qr, norm, qrfac};
use super::student::t_quantile;

/// `(JᵀJ)⁻¹` for an m×n Jacobian J given by its n×n factor R
/// (column-major, J = QR), and the numerical rank of J. Rows and columns of
/// parameters the data do not identify are NaN: those past the rank in
/// pivot order, and those the null space of J moves with them
/// ([`unidentified`]). The others are the inverse over the columns before
/// the rank, as if the rest were held: for a parameter outside the null
/// space that is its variance whatever the held values (a generalised
/// inverse of JᵀJ, and the parameter an estimable function).
///
/// The rank is decided on J with each column scaled to unit norm (a
/// parameter's units, or the data's, change no column's direction), with
/// the relative tolerance of [`Qr::rank`]: unscaled, a fit to data of
/// size 10⁻³⁰ or 10²⁰ lost rank whose scaled Jacobian had condition 4.6.
/// A zero column is past the rank.
///
/// `r` may be some of R's columns (`rows`×n, rows ≥ n, column-major): those
/// of the parameters estimated, as `J[:, S] = Q R[:, S]`.
pub(crate) fn unscaled_covariance(r: &[f64], rows: usize, m: usize, n: usize) -> (Vec<f64>, usize) {
    let mut f = vec![0.0; rows];
    let mut a = r.to_vec();
    let norms: Vec<f64> = (0..n).map(|j| norm(&a[j * rows..(j + 1) * rows])).collect();
    for (j, &s) in norms.iter().enumerate() {
        if s > 0.0 {
            for v in &mut a[j * rows..(j + 1) * rows] {
                *v /= s;
            }
        }
    }
    let qr = qrfac(&mut a, rows, n, &mut f);
    let rank = qr.rank(m.max(n));
    let rinv = inverse_upper(&qr, rank);
    let lost = unidentified(&qr, &rinv, rank);
    // (R Pᵀ)⁻¹ (R Pᵀ)⁻ᵀ = P R⁻¹ R⁻ᵀ Pᵀ, over the leading `rank` block.
    let mut cov = vec![f64::NAN; n * n];
    for a in (0..rank).filter(|&a| !lost[a]) {
        for b in (0..rank).filter(|&b| !lost[b]) {
            let sum: f64 = (a.max(b)..rank)
                .map(|k| rinv[a + k * rank] * rinv[b + k * rank])
                .sum();
            let (i, j) = (qr.perm[a], qr.perm[b]);
            cov[i + j * n] = sum / (norms[i] * norms[j]);
        }
    }
    (cov, rank)
}

/// Which pivot positions of `qr` the data do not identify: those past
/// `rank`, and those with a part in a vector of J's null space. Each
/// position k past the rank gives one, `v = P (−R₁₁⁻¹R₁₂eₖ; eₖ)`; a
/// parameter is moved by it if its share of `J`'s change, `|vᵢ|·‖Jᵢ‖`, is
/// above √ε of the largest share (scale-free: the column norms carry the
/// units). For `y ~ a*b*x`, with `b` past the rank, `a` moves with it and
/// is no better identified; before, `a` was given an error bar.
fn unidentified(qr: &Qr, rinv: &[f64], rank: usize) -> Vec<bool> {
    let n = qr.n;
    let mut lost: Vec<bool> = (0..n).map(|i| i >= rank).collect();
    let tol = f64::EPSILON.sqrt();
    for k in rank..n {
        // z = R₁₁⁻¹ R₁₂ eₖ; the null vector is (−z, 1) in pivot order.
        let share: Vec<f64> = (0..rank)
            .map(|i| {
                let z: f64 = (i..rank).map(|l| rinv[i + l * rank] * qr.at(l, k)).sum();
                z.abs() * qr.col_norms[qr.perm[i]]
            })
            .collect();
        let largest = share
            .iter()
            .fold(qr.col_norms[qr.perm[k]], |a, &b| a.max(b));
        for (i, s) in share.iter().enumerate() {
            if *s > tol * largest || s.is_nan() {
                lost[i] = true;
            }
        }
    }
    lost
}

/// The inverse of the leading `k`×`k` block of R, column-major.
fn inverse_upper(qr: &Qr, k: usize) -> Vec<f64> {
    let mut inv = vec![0.0; k * k];
    for j in 0..k {
        inv[j + j * k] = 1.0 / qr.at(j, j);
        for i in (0..j).rev() {
            let sum: f64 = (i + 1..=j).map(|l| qr.at(i, l) * inv[l + j * k]).sum();
            inv[i + j * k] = -sum / qr.at(i, i);
        }
    }
    inv
}

/// The table's columns for each parameter: standard error, t-value and the
/// 95% confidence interval, from the covariance's diagonal and the t
/// quantile for `dof` degrees of freedom.
pub(crate) struct Table {
    pub stderr: Vec<f64>,
    pub t_values: Vec<f64>,
    pub intervals: Vec<(f64, f64)>,
    pub t_quantile: f64,
}

pub(crate) fn table(x: &[f64], covariance: &[f64], dof: usize) -> Table {
    let n = x.len();
    let q = interval_quantile(dof);
    let stderr: Vec<f64> = (0..n).map(|j| covariance[j + j * n].sqrt()).collect();
    let t_values = x.iter().zip(&stderr).map(|(v, s)| v / s).collect();
    // An infinite error (no degree of freedom left) spans the line, whatever
    // the quantile (which is not finite at 0 degrees of freedom).
    let intervals = x
        .iter()
        .zip(&stderr)
        .map(|(v, s)| match *s == f64::INFINITY {
            true => (f64::NEG_INFINITY, f64::INFINITY),
            false => (v - q * s, v + q * s),
        })
        .collect();
    Table {
        stderr,
        t_values,
        intervals,
        t_quantile: q,
    }
}

/// The 97.5% quantile of Student's t for `dof` degrees of freedom, kept
/// per thread for the last `dof` asked: Newton's method on the incomplete
/// beta function took a tenth of a refit of 100 rows, and a thousand
/// refits to data sets of one size ask for the same quantile each time.
fn interval_quantile(dof: usize) -> f64 {
    use std::cell::Cell;
    thread_local! {
        static LAST: Cell<Option<(usize, f64)>> = const { Cell::new(None) };
    }
    LAST.with(|last| match last.get() {
        Some((d, q)) if d == dof => q,
        _ => {
            let q = t_quantile(0.975, dof as f64);
            last.set(Some((dof, q)));
            q
        }
    })
}

/// The total sum of squares of the response `y` under the weights `w`
/// (1/σ), about its weighted mean: R² is 1 − RSS/TSS.
pub(crate) fn total_sum_of_squares(y: &[f64], w: Option<&[f64]>) -> f64 {
    match w {
        Some(w) => weighted_tss(y, |i| w[i]),
        // The same operations with wᵢ = 1 (each product by 1 exact).
        None => weighted_tss(y, |_| 1.0),
    }
}

#[inline(always)]
fn weighted_tss(y: &[f64], w: impl Fn(usize) -> f64) -> f64 {
    let (mut sw, mut swy) = (0.0, 0.0);
    for (i, yi) in y.iter().enumerate() {
        let wi = w(i);
        sw += wi * wi;
        swy += wi * wi * yi;
    }
    let mean = swy / sw;
    y.iter()
        .enumerate()
        .map(|(i, yi)| (w(i) * (yi - mean)).powi(2))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// J's R (unpivoted, column-major n×n), through the running QR.
    fn r_of(jac: &[f64], m: usize, n: usize) -> Vec<f64> {
        use crate::fit::loss::Loss;
        use crate::fit::stream::{Accumulator, RowSink};
        let mut acc = Accumulator::new(n, Loss::Linear, 1.0, m);
        for i in 0..m {
            let row: Vec<f64> = (0..n).map(|j| jac[i + j * m]).collect();
            acc.row(0.0, &row);
        }
        acc.finish();
        acc.r()
    }

    #[test]
    fn covariance_inverts_jtj() {
        let (m, n) = (4, 2);
        // J = [[1,0],[1,1],[1,2],[1,3]]: JᵀJ = [[4,6],[6,14]], det 20.
        let jac = vec![1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 2.0, 3.0];
        let (cov, rank) = unscaled_covariance(&r_of(&jac, m, n), n, m, n);
        assert_eq!(rank, 2);
        let want = [14.0 / 20.0, -6.0 / 20.0, -6.0 / 20.0, 4.0 / 20.0];
        for (c, w) in cov.iter().zip(want) {
            assert!((c - w).abs() < 1e-14, "{cov:?}");
        }
        // Two equal columns: rank 1, and neither parameter identifiable
        // (their sum is; each alone is not).
        let jac = vec![1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0];
        let (cov, rank) = unscaled_covariance(&r_of(&jac, m, n), n, m, n);
        assert_eq!(rank, 1);
        assert!(cov.iter().all(|c| c.is_nan()), "{cov:?}");
    }

    /// Columns a, b proportional (as for `y ~ a*b*x`, J = (b·x, a·x)) and
    /// a third independent one: a and b get no error bar, whichever the
    /// pivoting kept; c keeps the one it has with a and b merged into one
    /// column, which the null space leaves alone.
    #[test]
    fn parameters_moved_by_the_null_space_are_not_identified() {
        let m = 6;
        let x: Vec<f64> = (0..m).map(|i| 1.0 + i as f64).collect();
        let c: Vec<f64> = x.iter().map(|v| (0.7 * v).sin()).collect();
        let (a, b) = (2.0, 3.0);
        let mut jac: Vec<f64> = x.iter().map(|v| b * v).collect();
        jac.extend(x.iter().map(|v| a * v));
        jac.extend(&c);
        let (cov, rank) = unscaled_covariance(&r_of(&jac, m, 3), 3, m, 3);
        assert_eq!(rank, 2);
        for i in 0..3 {
            for j in 0..3 {
                assert_eq!(cov[i + 3 * j].is_nan(), i < 2 || j < 2, "{cov:?}");
            }
        }
        // c's variance: that of the full-rank fit on the columns (x, c).
        let mut two: Vec<f64> = x.clone();
        two.extend(&c);
        let (reference, _) = unscaled_covariance(&r_of(&two, m, 2), 2, m, 2);
        assert!(
            (cov[8] - reference[3]).abs() < 1e-12 * reference[3],
            "{cov:?}"
        );
    }
}
