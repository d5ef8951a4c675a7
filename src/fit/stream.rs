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
/// it: Qᵀf̃, ‖f̃‖², the cost Σ C²ρ and the raw residuals, for the
/// loss-rescaled residuals f̃. One is made per fit and [`reset`] for each
/// pass, so a pass allocates nothing.
///
/// [`reset`]: Accumulator::reset
pub(crate) struct Accumulator {
    n: usize,
    loss: Loss,
    c: f64,
    /// (n + BLOCK) × n column-major: R in the top n rows (its strict lower
    /// triangle stays zero), then the block.
    buf: Vec<f64>,
    /// n + BLOCK: Qᵀf̃ in the first n, then the block's residuals.
    fbuf: Vec<f64>,
    filled: usize,
    /// n + 1: work space for [`Accumulator::reduce`]'s dot products.
    dots: Vec<f64>,
    /// Σ C²ρ((rᵢ/C)²): Σ rᵢ² for the linear loss.
    pub cost2: f64,
    /// Σ f̃ᵢ².
    pub ft_squares: f64,
    /// The raw residuals, in the order fed: the statistics at the solution
    /// read them from the last pass, which needs no pass of its own.
    pub kept: Vec<f64>,
}

impl Accumulator {
    /// An empty accumulator for `n` parameters, with room for `rows`
    /// residuals.
    pub(crate) fn new(n: usize, loss: Loss, c: f64, rows: usize) -> Accumulator {
        let ld = n + BLOCK;
        Accumulator {
            n,
            loss,
            c,
            buf: vec![0.0; ld * n],
            fbuf: vec![0.0; ld],
            filled: 0,
            dots: vec![0.0; n + 1],
            cost2: 0.0,
            ft_squares: 0.0,
            kept: Vec::with_capacity(rows),
        }
    }

    /// Empties it for another pass, keeping its memory.
    pub(crate) fn reset(&mut self) {
        let ld = self.n + BLOCK;
        for column in self.buf.chunks_exact_mut(ld) {
            column[..self.n].fill(0.0);
        }
        self.fbuf[..self.n].fill(0.0);
        self.filled = 0;
        self.cost2 = 0.0;
        self.ft_squares = 0.0;
        self.kept.clear();
    }

    /// Folds in the rows still in the block: R and Qᵀf̃ then cover every
    /// row fed.
    pub(crate) fn finish(&mut self) {
        self.reduce();
    }

    /// Column `j` of R, its first `j + 1` entries nonzero (after
    /// [`Accumulator::finish`]).
    pub(crate) fn r_column(&self, j: usize) -> &[f64] {
        let ld = self.n + BLOCK;
        &self.buf[j * ld..j * ld + self.n]
    }

    /// R, n×n column-major (after [`Accumulator::finish`]).
    pub(crate) fn r(&self) -> Vec<f64> {
        (0..self.n)
            .flat_map(|j| self.r_column(j))
            .copied()
            .collect()
    }

    /// Qᵀf̃, n entries (after [`Accumulator::finish`]).
    pub(crate) fn qtf(&self) -> &[f64] {
        &self.fbuf[..self.n]
    }

    /// Householder reflections that fold the block into R, column by
    /// column.
    ///
    /// The reflection of column j reads only R's diagonal entry and the
    /// block's rows (R's entries below it are zero), so with `b` the
    /// block's column j, `α = ±‖(Rⱼⱼ, b)‖` and `v = (Rⱼⱼ/α + 1, b/α)`, the
    /// product `vᵀc` with another column `(Rⱼₖ, c)` is `v₀Rⱼₖ + (bᵀc)/α`.
    /// So each column costs one sweep of dot products over the block (in
    /// four lanes, so that the sums are not one chain of dependent
    /// additions) and one sweep of updates, with no division per row.
    /// That is the same reflection as in MINPACK's `qrfac`, in another
    /// order of operations; where the sums overflow or come near
    /// underflow, [`Accumulator::reduce_column_scaled`] does it the slow
    /// way.
    fn reduce(&mut self) {
        let (n, ld, nb) = (self.n, self.n + BLOCK, self.filled);
        if nb == 0 {
            return;
        }
        let mut dots = std::mem::take(&mut self.dots);
        for j in 0..n {
            // The block's column j, and the columns right of it with Qᵀf̃
            // last.
            let (head, tail) = self.buf.split_at_mut((j + 1) * ld);
            let b = &head[j * ld + n..j * ld + n + nb];
            let top = head[j * ld + j];
            let others = n - j - 1;
            let squares = top * top + dot4(b, b);
            let fast = squares.is_finite() && squares > 1e-280 && {
                for (k, d) in dots[..others].iter_mut().enumerate() {
                    *d = dot4(b, &tail[k * ld + n..k * ld + n + nb]);
                }
                dots[others] = dot4(b, &self.fbuf[n..n + nb]);
                dots[..=others].iter().all(|d| d.is_finite())
            };
            if !fast {
                self.reduce_column_scaled(j);
                continue;
            }
            let mut alpha = squares.sqrt();
            if top < 0.0 {
                alpha = -alpha;
            }
            let v0 = top / alpha + 1.0;
            // Column k's top entry loses s = vᵀc, its block part t·b/α
            // with t = s/v₀.
            let update = |top_k: &mut f64, d: f64, c: &mut [f64]| {
                let s = v0 * *top_k + d / alpha;
                *top_k -= s;
                let tau = s / v0 / alpha;
                for (ci, bi) in c.iter_mut().zip(b) {
                    *ci -= tau * bi;
                }
            };
            for k in 0..others {
                let column = &mut tail[k * ld..(k + 1) * ld];
                let (r, c) = column.split_at_mut(n);
                update(&mut r[j], dots[k], &mut c[..nb]);
            }
            let (qtf, fb) = self.fbuf.split_at_mut(n);
            update(&mut qtf[j], dots[others], &mut fb[..nb]);
            head[j * ld + j] = -alpha;
        }
        self.dots = dots;
        self.filled = 0;
    }

    /// The reflection of column j as [`Accumulator::reduce`] makes it, with
    /// the norm scaled by the largest entry and the reflection vector
    /// formed: for sums that would overflow or underflow.
    fn reduce_column_scaled(&mut self, j: usize) {
        let (n, ld, nb) = (self.n, self.n + BLOCK, self.filled);
        let (head, tail) = self.buf.split_at_mut((j + 1) * ld);
        let column = &mut head[j * ld..(j + 1) * ld];
        // v: R's diagonal entry, then the block (R's entries between are 0).
        let mut v: Vec<f64> = std::iter::once(column[j])
            .chain(column[n..n + nb].iter().copied())
            .collect();
        let mut alpha = norm(&v);
        if alpha == 0.0 {
            return;
        }
        if v[0] < 0.0 {
            alpha = -alpha;
        }
        for x in v.iter_mut() {
            *x /= alpha;
        }
        v[0] += 1.0;
        let v0 = v[0];
        let apply = |top: &mut f64, c: &mut [f64]| {
            let s = v0 * *top + v[1..].iter().zip(c.iter()).map(|(a, b)| a * b).sum::<f64>();
            let t = s / v0;
            *top -= t * v0;
            for (ci, vi) in c.iter_mut().zip(&v[1..]) {
                *ci -= t * vi;
            }
        };
        for k in 0..n - j - 1 {
            let (r, c) = tail[k * ld..(k + 1) * ld].split_at_mut(n);
            apply(&mut r[j], &mut c[..nb]);
        }
        let (qtf, fb) = self.fbuf.split_at_mut(n);
        apply(&mut qtf[j], &mut fb[..nb]);
        column[j] = -alpha;
    }
}

/// `aᵀb` summed in four lanes.
#[inline]
fn dot4(a: &[f64], b: &[f64]) -> f64 {
    let mut lanes = [0.0; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ar, br) = (a4.remainder(), b4.remainder());
    for (x, y) in a4.zip(b4) {
        for l in 0..4 {
            lanes[l] += x[l] * y[l];
        }
    }
    let tail: f64 = ar.iter().zip(br).map(|(x, y)| x * y).sum();
    (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]) + tail
}

impl RowSink for Accumulator {
    #[inline]
    fn row(&mut self, r: f64, grad: &[f64]) {
        let (n, ld) = (self.n, self.n + BLOCK);
        let (cost, fs, js) = self.loss.scale(r, self.c);
        self.cost2 += cost;
        let ft = r * fs;
        self.ft_squares += ft * ft;
        self.kept.push(r);
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
            self.kept.extend_from_slice(block);
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
        let mut acc = Accumulator::new(n, Loss::Linear, 1.0, m);
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
        acc.finish();
        let (r, qtf) = (acc.r(), acc.qtf());
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

    /// The rows of [`the_running_r_factors_the_rows`] times 1e200, whose
    /// squares overflow (the scaled reflections), fed through `rows` into
    /// an accumulator used once before: 1e200 times the same R and Qᵀf,
    /// and the raw residuals kept.
    #[test]
    fn huge_rows_and_a_reused_accumulator_give_the_same_r() {
        let (m, n) = (150, 3);
        let scale = 1e200;
        let (mut r, mut jac) = (vec![0.0; m], vec![0.0; m * n]);
        for i in 0..m {
            let t = i as f64 * 0.05;
            r[i] = (3.0 * t).sin();
            for (j, g) in [(-t).exp(), t * (-t).exp(), 1.0].into_iter().enumerate() {
                jac[i + j * m] = g;
            }
        }
        let mut plain = Accumulator::new(n, Loss::Linear, 1.0, m);
        plain.rows(&r, &jac, m);
        plain.finish();
        let mut huge = Accumulator::new(n, Loss::Linear, 1.0, m);
        huge.row(5.0, &[1.0, 2.0, 3.0]);
        huge.finish();
        huge.reset();
        let big = |v: &[f64]| v.iter().map(|x| x * scale).collect::<Vec<_>>();
        huge.rows(&big(&r), &big(&jac), m);
        huge.finish();
        for (a, b) in huge.r().iter().zip(plain.r()) {
            assert!((a / scale - b).abs() <= 1e-13 * b.abs().max(1.0), "{a} {b}");
        }
        for (a, b) in huge.qtf().iter().zip(plain.qtf()) {
            assert!((a / scale - b).abs() <= 1e-13 * b.abs().max(1.0), "{a} {b}");
        }
        assert_eq!(huge.kept, big(&r));
        assert!(huge.cost2.is_infinite() && plain.cost2 > 0.0);
    }
}
