//! The Cholesky factorisation of a symmetric matrix stored by its
//! envelope (profile, or skyline): each row from its first non-zero
//! column to the diagonal. The factor's non-zeros stay inside the
//! envelope (fill happens only between a row's first entry and the
//! diagonal), so a band of half-width `w` costs about `n·w²` multiply-adds
//! and `n·(w + 1)` numbers whatever `n`: 2n for the tridiagonal Hessian of
//! a chained function, where the dense factorisation costs n³/6. Newton's
//! method (`newton.rs`) chooses it by the pattern's profile, not by `n`.

use crate::sparse_hessian::SparseHessian;

/// Which columns each row of a symmetric matrix's envelope holds.
pub(super) struct Envelope {
    /// The first column of each row's envelope.
    first: Vec<usize>,
    /// Where each row's envelope starts in a row-by-row array (row `i`
    /// holds columns `first[i]..=i`), then that array's length.
    starts: Vec<usize>,
}

impl Envelope {
    /// The envelope of `pattern`'s lower triangle.
    pub fn of(pattern: &SparseHessian) -> Envelope {
        let n = pattern.n();
        let first: Vec<usize> = (0..n)
            .map(|i| {
                let row = &pattern.cols[pattern.starts[i]..pattern.starts[i + 1]];
                row.iter().copied().min().unwrap_or(i).min(i)
            })
            .collect();
        let mut starts = Vec::with_capacity(n + 1);
        starts.push(0);
        for (i, &f) in first.iter().enumerate() {
            starts.push(starts[i] + i + 1 - f);
        }
        Envelope { first, starts }
    }

    /// The numbers the envelope holds (the diagonal included).
    pub fn size(&self) -> usize {
        self.starts.last().copied().unwrap_or(0)
    }

    /// About the multiply-adds of one factorisation: for a row reaching
    /// `w` columns left of the diagonal, `w (w + 1) / 2` and a root.
    pub fn work(&self) -> f64 {
        (0..self.first.len())
            .map(|i| {
                let w = (i - self.first[i]) as f64;
                w * (w + 1.0) / 2.0 + 1.0
            })
            .sum()
    }
}

/// A sparse Hessian's entries spread into its envelope, and the
/// envelope's Cholesky factor.
pub(super) struct Profile {
    first: Vec<usize>,
    starts: Vec<usize>,
    /// For each entry of the sparse pattern, its row, its column and its
    /// place in `matrix`.
    rows: Vec<usize>,
    cols: Vec<usize>,
    places: Vec<usize>,
    matrix: Vec<f64>,
    factor: Vec<f64>,
    /// The reciprocals of the factor's diagonal, so that the solves and
    /// the factorisation's own divisions are multiplications.
    inverse: Vec<f64>,
}

impl Profile {
    /// The envelope of `pattern`'s lower triangle, every value 0.
    pub fn new(pattern: &SparseHessian) -> Profile {
        let n = pattern.n();
        let envelope = Envelope::of(pattern);
        let (mut rows, mut places) = (Vec::new(), Vec::new());
        for (i, j, _) in pattern.entries() {
            rows.push(i);
            places.push(envelope.starts[i] + j - envelope.first[i]);
        }
        let size = envelope.size();
        Profile {
            first: envelope.first,
            starts: envelope.starts,
            rows,
            cols: pattern.cols.clone(),
            places,
            matrix: vec![0.0; size],
            factor: vec![0.0; size],
            inverse: vec![0.0; n],
        }
    }

    /// Spreads the entries `values` (in the pattern's order) into the
    /// envelope over the variables `free` says are free; a held
    /// variable's row and column become the identity's, so that the
    /// factor solves the free variables' system alone and leaves the
    /// held ones 0. The largest diagonal entry's size over the free
    /// variables, or `None` if an entry is not finite.
    pub fn load(&mut self, values: &[f64], free: &[bool]) -> Option<f64> {
        self.matrix.fill(0.0);
        for (k, &v) in values.iter().enumerate() {
            let (i, j) = (self.rows[k], self.cols[k]);
            if free[i] && free[j] {
                if !v.is_finite() {
                    return None;
                }
                self.matrix[self.places[k]] = v;
            }
        }
        let mut scale = 0.0f64;
        for (i, &free) in free.iter().enumerate() {
            let diagonal = &mut self.matrix[self.starts[i + 1] - 1];
            if free {
                scale = scale.max(diagonal.abs());
            } else {
                *diagonal = 1.0;
            }
        }
        Some(scale)
    }

    /// The factor `L` of the loaded matrix plus `shift` on its diagonal
    /// (the held variables' rows too, which only scales their zero step);
    /// `false` if that matrix is not (numerically) positive definite.
    pub fn factor(&mut self, shift: f64) -> bool {
        let n = self.first.len();
        for i in 0..n {
            let (fi, si) = (self.first[i], self.starts[i]);
            for j in fi..=i {
                let (fj, sj) = (self.first[j], self.starts[j]);
                // Σ L[i][k] L[j][k] over the columns both rows hold left of j.
                let k0 = fi.max(fj);
                let left_i = &self.factor[si + k0 - fi..si + j - fi];
                let left_j = &self.factor[sj + k0 - fj..sj + j - fj];
                let dot: f64 = left_i.iter().zip(left_j).map(|(a, b)| a * b).sum();
                let mut sum = self.matrix[si + j - fi] - dot;
                if i == j {
                    sum += shift;
                    if sum.is_nan() || sum <= 0.0 {
                        return false;
                    }
                    let root = sum.sqrt();
                    self.factor[si + i - fi] = root;
                    self.inverse[i] = 1.0 / root;
                } else {
                    self.factor[si + j - fi] = sum * self.inverse[j];
                }
            }
        }
        true
    }

    /// Solves `L Lᵀ d = -g` into `d`, with the factor from
    /// [`Profile::factor`].
    pub fn solve(&self, g: &[f64], d: &mut [f64]) {
        let n = self.first.len();
        for i in 0..n {
            let (fi, si) = (self.first[i], self.starts[i]);
            let row = &self.factor[si..si + i - fi];
            let dot: f64 = row.iter().zip(&d[fi..i]).map(|(a, b)| a * b).sum();
            d[i] = (-g[i] - dot) * self.inverse[i];
        }
        for i in (0..n).rev() {
            let (fi, si) = (self.first[i], self.starts[i]);
            d[i] *= self.inverse[i];
            let di = d[i];
            for (dk, l) in d[fi..i].iter_mut().zip(&self.factor[si..si + i - fi]) {
                *dk -= l * di;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lower triangle of `dense` (n × n, row-major) at the entries
    /// that are not 0.
    fn sparse(dense: &[f64], n: usize) -> SparseHessian {
        let mut h = SparseHessian {
            starts: vec![0],
            ..Default::default()
        };
        for i in 0..n {
            for j in 0..=i {
                if dense[i * n + j] != 0.0 {
                    h.cols.push(j);
                    h.values.push(dense[i * n + j]);
                }
            }
            h.starts.push(h.cols.len());
        }
        h
    }

    #[test]
    fn solves_what_the_dense_factor_solves() {
        // A variable band: rows reach back 0, 1, 2, 1 and 3 columns.
        let n = 5;
        #[rustfmt::skip]
        let a = [
            4.0, 0.0, 0.0, 0.0, 0.0,
            1.0, 5.0, 0.0, 0.0, 0.0,
            0.5, 0.0, 6.0, 1.0, 0.0,
            0.0, 0.0, 1.0, 7.0, 2.0,
            0.0, 1.0, 0.0, 2.0, 8.0,
        ];
        let mut full = a;
        for i in 0..n {
            for j in 0..i {
                full[j * n + i] = a[i * n + j];
            }
        }
        let h = sparse(&a, n);
        assert_eq!(Envelope::of(&h).size(), 1 + 2 + 3 + 2 + 4);
        let mut profile = Profile::new(&h);
        assert_eq!(profile.load(&h.values, &[true; 5]), Some(8.0));
        assert!(profile.factor(0.0));
        let g = [1.0, -2.0, 3.0, 0.5, -1.0];
        let mut d = [0.0; 5];
        profile.solve(&g, &mut d);
        // A d = -g.
        for i in 0..n {
            let row: f64 = (0..n).map(|j| full[i * n + j] * d[j]).sum();
            assert!((row + g[i]).abs() < 1e-14, "row {i}: {d:?}");
        }
    }

    #[test]
    fn held_variables_are_left_out_and_indefinite_matrices_refused() {
        // [[1, 2], [2, 1]] has eigenvalues 3 and -1.
        let h = sparse(&[1.0, 0.0, 2.0, 1.0], 2);
        let mut profile = Profile::new(&h);
        profile.load(&h.values, &[true, true]);
        assert!(!profile.factor(0.0));
        assert!(profile.factor(1.5));
        // Holding the second leaves [1]: d = -g over the first, 0 at the second.
        profile.load(&h.values, &[true, false]);
        assert!(profile.factor(0.0));
        let mut d = [0.0; 2];
        profile.solve(&[3.0, 0.0], &mut d);
        assert_eq!(d, [-3.0, 0.0]);
        let nan = [f64::NAN, 0.0, 1.0];
        assert_eq!(profile.load(&nan, &[true, true]), None);
    }
}
