//! Small dense linear algebra on row-major `Vec<f64>` matrices: Cholesky
//! for Newton's steps, the saddle test and L-BFGS-B's compact
//! representation (by blocks, `lbfgsb.rs`), and Gaussian elimination for
//! the augmented Lagrangian's small normal equations.

/// The Cholesky factor of `a + shift·I` (`n × n`, only the lower triangle
/// read) into `factor`; `false` if that matrix is not (numerically)
/// positive definite.
pub(super) fn cholesky(a: &[f64], n: usize, shift: f64, factor: &mut [f64]) -> bool {
    for i in 0..n {
        for j in 0..=i {
            let mut sum = a[i * n + j] + if i == j { shift } else { 0.0 };
            for k in 0..j {
                sum -= factor[i * n + k] * factor[j * n + k];
            }
            if i == j {
                if sum.is_nan() || sum <= 0.0 {
                    return false;
                }
                factor[i * n + i] = sum.sqrt();
            } else {
                factor[i * n + j] = sum / factor[j * n + j];
            }
        }
    }
    true
}

/// Solves `L Lᵀ d = -g` into `d`, with `l` from [`cholesky`].
pub(super) fn solve_cholesky(l: &[f64], n: usize, g: &[f64], d: &mut [f64]) {
    for i in 0..n {
        let (solved, rest) = d.split_at_mut(i);
        let row = &l[i * n..i * n + i];
        let sum = -g[i]
            - row
                .iter()
                .zip(solved.iter())
                .map(|(a, b)| a * b)
                .sum::<f64>();
        rest[0] = sum / l[i * n + i];
    }
    for i in (0..n).rev() {
        let (head, solved) = d.split_at_mut(i + 1);
        let column = solved
            .iter()
            .enumerate()
            .map(|(j, dk)| l[(i + 1 + j) * n + i] * dk);
        head[i] = (head[i] - column.sum::<f64>()) / l[i * n + i];
    }
}

/// Solves `a x = b` in place (`a` is `n × n` and is overwritten, `b`
/// becomes `x`) by Gaussian elimination with partial pivoting; `false` if
/// `a` is singular to working precision.
pub(super) fn solve(a: &mut [f64], n: usize, b: &mut [f64]) -> bool {
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&p, &q| a[p * n + col].abs().total_cmp(&a[q * n + col].abs()))
            .unwrap_or(col);
        let p = a[pivot * n + col];
        if !p.is_finite() || p.abs() <= 1e-14 * scale {
            return false;
        }
        if pivot != col {
            for k in 0..n {
                a.swap(col * n + k, pivot * n + k);
            }
            b.swap(col, pivot);
        }
        for row in col + 1..n {
            let factor = a[row * n + col] / p;
            if factor != 0.0 {
                for k in col..n {
                    a[row * n + k] -= factor * a[col * n + k];
                }
                b[row] -= factor * b[col];
            }
        }
    }
    for row in (0..n).rev() {
        let sum: f64 = (row + 1..n).map(|k| a[row * n + k] * b[k]).sum();
        b[row] = (b[row] - sum) / a[row * n + row];
    }
    true
}

/// Whether the symmetric `a` (`n × n`) has an eigenvalue below
/// `-relative·max|aᵢⱼ|` (a relative tolerance for the error of `a`).
pub(super) fn has_negative_eigenvalue(a: &[f64], n: usize, relative: f64) -> bool {
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut factor = vec![0.0; n * n];
    !cholesky(a, n, relative * scale.max(1e-8), &mut factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_elimination_solves_with_pivoting() {
        // The first pivot is 0: only row exchange makes this solvable.
        let mut a = vec![0.0, 2.0, 1.0, 1.0, 1.0, 0.0, 2.0, 0.0, 1.0];
        let mut b = vec![3.0, 3.0, 5.0];
        assert!(solve(&mut a, 3, &mut b));
        for (x, want) in b.iter().zip([2.0, 1.0, 1.0]) {
            assert!((x - want).abs() < 1e-14, "{b:?}");
        }
        let mut singular = vec![1.0, 2.0, 2.0, 4.0];
        assert!(!solve(&mut singular, 2, &mut [1.0, 2.0]));
    }

    #[test]
    fn negative_eigenvalues_are_seen() {
        assert!(has_negative_eigenvalue(&[2.0, 0.0, 0.0, -2.0], 2, 1e-8));
        // x*y: eigenvalues ±1, though the diagonal is zero.
        assert!(has_negative_eigenvalue(&[0.0, 1.0, 1.0, 0.0], 2, 1e-8));
        assert!(!has_negative_eigenvalue(&[2.0, 1.0, 1.0, 2.0], 2, 1e-8));
        // A flat direction (x^4 at 0) is not negative.
        assert!(!has_negative_eigenvalue(&[0.0, 0.0, 0.0, 3.0], 2, 1e-8));
    }
}
