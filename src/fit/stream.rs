//! The Jacobian's R, built while the rows are evaluated: each pass over
//! the data feeds its rows, rescaled for the loss, into a running
//! Householder QR, so the m×p Jacobian is never stored and never swept
//! again.
//!
//! Why: factoring a stored million-row Jacobian took about twenty sweeps
//! over it per iteration (norms, reflections, Qᵀf), six times the cost of
//! the pass that computed it. Here rows are gathered in blocks of
//! [`BLOCK`] under the current R, and each block is reduced by p
//! Householder reflections while it is in the L1 cache: `[R; B] = Q [R'; 0]`
//! with `Qᵀ[qtf; fB]` carried along. Orthogonal throughout, so as accurate
//! as one Householder QR of the whole matrix (the NIST test reads the
//! same digits). Column pivoting, which the trust-region step and the rank
//! test need, is then a pivoted QR of the p×p R alone (`J P = Q R P =
//! Q Q₂ R₂`).

use super::loss::Loss;
use super::qr::norm;

/// Rows reduced at a time: a block of 64 rows of a few parameters stays
/// in the L1 cache.
const BLOCK: usize = 64;

/// Receives the rows of a pass, in order: residual and gradient.
pub(crate) trait RowSink {
    fn row(&mut self, r: f64, grad: &[f64]);

    /// A block of rows at once: residuals `r`, and the Jacobian's column
    /// `j` at `jac[j*ld..j*ld + r.len()]`. A pass over compiled code hands
    /// on its blocks whole, so that they are copied column by column, not
    /// row by row through a call each.
    fn rows(&mut self, r: &[f64], jac: &[f64], ld: usize) {
        let n = if r.is_empty() {
            0
        } else {
            jac.len().div_ceil(ld)
        };
        let mut grad = vec![0.0; n];
        for (k, &ri) in r.iter().enumerate() {
            for (j, g) in grad.iter_mut().enumerate() {
                *g = jac[j * ld + k];
            }
            self.row(ri, &grad);
        }
    }
}

/// A running R of the rows seen, and what the trust region reads beside
/// it: Qᵀf̃, ‖f̃‖² and the cost Σ C²ρ, for the loss-rescaled residuals f̃.
pub(crate) struct Accumulator {
    n: usize,
    loss: Loss,
    c: f64,
    /// (n + BLOCK) × n column-major: R in the top n rows, then the block.
    buf: Vec<f64>,
    /// n + BLOCK: Qᵀf̃ in the first n, then the block's residuals.
    fbuf: Vec<f64>,
    filled: usize,
    /// Σ C²ρ((rᵢ/C)²): Σ rᵢ² for the linear loss.
    pub cost2: f64,
    /// Σ f̃ᵢ².
    pub ft_squares: f64,
    /// The raw residuals, if kept.
    pub kept: Option<Vec<f64>>,
}

impl Accumulator {
    /// An empty accumulator for `n` parameters; keeps the raw residuals
    /// (capacity `rows`) if `keep`.
    pub(crate) fn new(n: usize, loss: Loss, c: f64, keep: Option<usize>) -> Accumulator {
        let ld = n + BLOCK;
        Accumulator {
            n,
            loss,
            c,
            buf: vec![0.0; ld * n],
            fbuf: vec![0.0; ld],
            filled: 0,
            cost2: 0.0,
            ft_squares: 0.0,
            kept: keep.map(Vec::with_capacity),
        }
    }

    /// R (n×n column-major, upper triangular) and Qᵀf̃ of every row fed.
    pub(crate) fn finish(mut self) -> (Vec<f64>, Vec<f64>) {
        self.reduce();
        let (n, ld) = (self.n, self.n + BLOCK);
        let mut r = vec![0.0; n * n];
        for j in 0..n {
            for i in 0..=j {
                r[i + j * n] = self.buf[i + j * ld];
            }
        }
        (r, self.fbuf[..n].to_vec())
    }

    /// Householder reflections that fold the block into R.
    fn reduce(&mut self) {
        let (n, ld) = (self.n, self.n + BLOCK);
        let rows = n + self.filled;
        for j in 0..n {
            let (head, tail) = self.buf.split_at_mut((j + 1) * ld);
            let v = &mut head[j * ld + j..j * ld + rows];
            let mut alpha = norm(v);
            if alpha == 0.0 {
                continue;
            }
            if v[0] < 0.0 {
                alpha = -alpha;
            }
            for x in v.iter_mut() {
                *x /= alpha;
            }
            v[0] += 1.0;
            let v0 = v[0];
            for k in j + 1..n {
                let col = &mut tail[(k - j - 1) * ld + j..(k - j - 1) * ld + rows];
                let s: f64 = v.iter().zip(col.iter()).map(|(a, b)| a * b).sum();
                let t = s / v0;
                for (c, vi) in col.iter_mut().zip(v.iter()) {
                    *c -= t * vi;
                }
            }
            let f = &mut self.fbuf[j..rows];
            let s: f64 = v.iter().zip(f.iter()).map(|(a, b)| a * b).sum();
            let t = s / v0;
            for (fi, vi) in f.iter_mut().zip(v.iter()) {
                *fi -= t * vi;
            }
            // The column is now (-alpha, 0, ..., 0).
            v[0] = -alpha;
            v[1..].fill(0.0);
        }
        // The block's rows are consumed: zero them for the next block.
        for j in 0..n {
            self.buf[j * ld + n..j * ld + rows].fill(0.0);
        }
        self.fbuf[n..rows].fill(0.0);
        self.filled = 0;
    }
}

impl RowSink for Accumulator {
    #[inline]
    fn row(&mut self, r: f64, grad: &[f64]) {
        let (n, ld) = (self.n, self.n + BLOCK);
        let (cost, fs, js) = self.loss.scale(r, self.c);
        self.cost2 += cost;
        let ft = r * fs;
        self.ft_squares += ft * ft;
        if let Some(kept) = &mut self.kept {
            kept.push(r);
        }
        let i = n + self.filled;
        for (j, g) in grad.iter().enumerate() {
            self.buf[i + j * ld] = g * js;
        }
        self.fbuf[i] = ft;
        self.filled += 1;
        if self.filled == BLOCK {
            self.reduce();
        }
    }

    /// As [`RowSink::row`] row by row, with the same operations in the
    /// same order, but each column copied as a slice.
    fn rows(&mut self, r: &[f64], jac: &[f64], ld: usize) {
        let (n, lda) = (self.n, self.n + BLOCK);
        let mut scale = [0.0; BLOCK];
        let mut k = 0;
        while k < r.len() {
            let take = (BLOCK - self.filled).min(r.len() - k);
            let at = n + self.filled;
            let block = &r[k..k + take];
            for (q, &ri) in block.iter().enumerate() {
                let (cost, fs, js) = self.loss.scale(ri, self.c);
                self.cost2 += cost;
                let ft = ri * fs;
                self.ft_squares += ft * ft;
                self.fbuf[at + q] = ft;
                scale[q] = js;
            }
            if let Some(kept) = &mut self.kept {
                kept.extend_from_slice(block);
            }
            for j in 0..n {
                let to = &mut self.buf[j * lda + at..j * lda + at + take];
                let from = &jac[j * ld + k..j * ld + k + take];
                for ((t, f), js) in to.iter_mut().zip(from).zip(&scale) {
                    *t = f * js;
                }
            }
            self.filled += take;
            k += take;
            if self.filled == BLOCK {
                self.reduce();
            }
        }
    }
}

/// Writes the residuals and the Jacobian (column-major, `rows` rows).
pub(crate) struct Store<'a> {
    pub f: &'a mut [f64],
    pub jac: &'a mut [f64],
    pub i: usize,
}

impl RowSink for Store<'_> {
    #[inline]
    fn row(&mut self, r: f64, grad: &[f64]) {
        let m = self.f.len();
        self.f[self.i] = r;
        for (j, g) in grad.iter().enumerate() {
            self.jac[self.i + j * m] = *g;
        }
        self.i += 1;
    }

    fn rows(&mut self, r: &[f64], jac: &[f64], ld: usize) {
        let (m, count) = (self.f.len(), r.len());
        self.f[self.i..self.i + count].copy_from_slice(r);
        for (j, column) in self.jac.chunks_exact_mut(m).enumerate() {
            column[self.i..self.i + count].copy_from_slice(&jac[j * ld..j * ld + count]);
        }
        self.i += count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RᵀR and Rᵀ(Qᵀf) equal JᵀJ and Jᵀf, over several blocks.
    #[test]
    fn the_running_r_factors_the_rows() {
        let (m, n) = (200, 3);
        let row = |i: usize| -> ([f64; 3], f64) {
            let t = i as f64 * 0.05;
            ([(-t).exp(), t * (-t).exp(), 1.0], (3.0 * t).sin())
        };
        let mut acc = Accumulator::new(n, Loss::Linear, 1.0, None);
        let mut jac = vec![0.0; m * n];
        let mut f = vec![0.0; m];
        for i in 0..m {
            let (g, r) = row(i);
            acc.row(r, &g);
            for j in 0..n {
                jac[i + j * m] = g[j];
            }
            f[i] = r;
        }
        let (r, qtf) = acc.finish();
        for a in 0..n {
            for b in 0..n {
                let jtj: f64 = (0..m).map(|i| jac[i + a * m] * jac[i + b * m]).sum();
                let rtr: f64 = (0..n).map(|k| r[k + a * n] * r[k + b * n]).sum();
                assert!((jtj - rtr).abs() < 1e-12 * jtj.abs().max(1.0), "{a} {b}");
            }
            let jtf: f64 = (0..m).map(|i| jac[i + a * m] * f[i]).sum();
            let rtq: f64 = (0..n).map(|k| r[k + a * n] * qtf[k]).sum();
            assert!((jtf - rtq).abs() < 1e-12 * jtf.abs().max(1.0));
        }
    }
}
