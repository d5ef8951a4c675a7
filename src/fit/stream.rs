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

use super::Factorization;
use super::gram::Gram;
use super::loss::Loss;
use super::qr::norm;

/// Rows evaluated and folded at a time, one constant for both: the pass
/// (`rows.rs`) hands on each block of the compiled loop's output whole,
/// and [`Accumulator::rows`] folds it where it lies, so the block sizes
/// agree by construction. 64 rows of a few parameters, (p + 1) × 64
/// doubles, stay in the L1 cache.
pub(crate) const BLOCK: usize = 64;

/// Receives the rows of a pass, in order: residual and gradient.
pub(crate) trait RowSink {
    fn row(&mut self, r: f64, grad: &[f64]);

    /// A block of rows at once: residuals `r`, and the Jacobian's column
    /// `j` at `jac[j*ld..j*ld + r.len()]`. A pass over compiled code hands
    /// on its blocks whole, so that they are read column by column, not
    /// row by row through a call each. The sink may overwrite both (the
    /// accumulator folds them in place): the caller hands on scratch.
    /// False if a value handed on is not finite: the sink tells, since
    /// the accumulator learns it from sums it makes anyway (see [`fold`]),
    /// where a test of every value cost the pass a sweep of its own.
    fn rows(&mut self, r: &mut [f64], jac: &mut [f64], ld: usize) -> bool {
        let n = if r.is_empty() {
            0
        } else {
            jac.len().div_ceil(ld)
        };
        let mut grad = vec![0.0; n];
        let mut finite = true;
        for (k, &ri) in r.iter().enumerate() {
            for (j, g) in grad.iter_mut().enumerate() {
                *g = jac[j * ld + k];
            }
            finite &= ri.is_finite() && grad.iter().all(|g| g.is_finite());
            self.row(ri, &grad);
        }
        finite
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
    /// R, n×n column-major; its strict lower triangle stays zero.
    r: Vec<f64>,
    /// Qᵀf̃, n entries.
    qtf: Vec<f64>,
    /// `BLOCK` × n column-major: rows fed one at a time ([`RowSink::row`])
    /// wait here until a block is full.
    buf: Vec<f64>,
    /// `BLOCK`: their residuals.
    fbuf: Vec<f64>,
    filled: usize,
    /// n + 1: work space for [`fold`]'s dot products.
    dots: Vec<f64>,
    /// The normal equations in double-double, for
    /// [`Factorization::NormalEquations`]: blocks go there, and only a
    /// block out of its range is folded into R by reflections (`folded`).
    gram: Option<Gram>,
    /// Whether any block was folded into R by reflections this pass.
    folded: bool,
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
    /// residuals, by the default [`Factorization`].
    #[cfg(test)]
    pub(crate) fn new(n: usize, loss: Loss, c: f64, rows: usize) -> Accumulator {
        Accumulator::with(n, loss, c, rows, Factorization::default())
    }

    /// An empty accumulator for `n` parameters, with room for `rows`
    /// residuals, that builds R by `method`.
    pub(crate) fn with(
        n: usize,
        loss: Loss,
        c: f64,
        rows: usize,
        method: Factorization,
    ) -> Accumulator {
        Accumulator {
            n,
            loss,
            c,
            r: vec![0.0; n * n],
            qtf: vec![0.0; n],
            buf: vec![0.0; BLOCK * n],
            fbuf: vec![0.0; BLOCK],
            filled: 0,
            dots: vec![0.0; n + 1],
            gram: match method {
                Factorization::NormalEquations => Some(Gram::new(n)),
                Factorization::Householder => None,
            },
            folded: false,
            cost2: 0.0,
            ft_squares: 0.0,
            kept: Vec::with_capacity(rows),
        }
    }

    /// Empties it for another pass, keeping its memory.
    pub(crate) fn reset(&mut self) {
        self.r.fill(0.0);
        self.qtf.fill(0.0);
        self.filled = 0;
        self.folded = false;
        if let Some(gram) = &mut self.gram {
            gram.reset();
        }
        self.cost2 = 0.0;
        self.ft_squares = 0.0;
        self.kept.clear();
    }

    /// Folds in the rows still waiting, and turns the normal equations
    /// into R (their Cholesky factor, or, if some blocks went into R by
    /// reflections, that factor's rows folded in as n more rows, whose
    /// Gram matrix is the same): R and Qᵀf̃ then cover every row fed.
    /// Calling it again changes nothing.
    pub(crate) fn finish(&mut self) {
        self.flush();
        // Under the linear loss f̃ = r, and both sums add the same r² in
        // the same order ([`RowSink::row`] too): the blocks add the cost
        // only.
        if self.loss == Loss::Linear {
            self.ft_squares = self.cost2;
        }
        let Some(gram) = &mut self.gram else {
            return;
        };
        if !gram.filled {
            return;
        }
        let n = self.n;
        if self.folded {
            let (mut r, mut q) = (vec![0.0; n * n], vec![0.0; n]);
            gram.factor(&mut r, &mut q);
            fold(
                &mut self.r,
                &mut self.qtf,
                &mut self.dots,
                &mut r,
                n,
                &mut q,
            );
        } else {
            gram.factor(&mut self.r, &mut self.qtf);
        }
        gram.reset();
        self.folded = true;
    }

    /// Folds in the rows fed one at a time that wait in `buf`.
    fn flush(&mut self) {
        let nb = self.filled;
        self.filled = 0;
        let Accumulator {
            r,
            qtf,
            dots,
            buf,
            fbuf,
            gram,
            folded,
            ..
        } = self;
        fold_block(r, qtf, dots, gram, folded, buf, BLOCK, &mut fbuf[..nb]);
    }

    /// Column `j` of R, its first `j + 1` entries nonzero (after
    /// [`Accumulator::finish`]).
    pub(crate) fn r_column(&self, j: usize) -> &[f64] {
        &self.r[j * self.n..(j + 1) * self.n]
    }

    /// R, n×n column-major (after [`Accumulator::finish`]).
    pub(crate) fn r(&self) -> Vec<f64> {
        self.r.clone()
    }

    /// Qᵀf̃, n entries (after [`Accumulator::finish`]).
    pub(crate) fn qtf(&self) -> &[f64] {
        &self.qtf
    }
}

/// A block of rows into the normal equations if there are any and the
/// block is in their range, else into R by reflections ([`fold`]),
/// `folded` then set. False if a value of the block is not finite (the
/// normal equations refuse such a block: their sums leave the range).
#[allow(clippy::too_many_arguments)]
fn fold_block(
    r: &mut [f64],
    qtf: &mut [f64],
    dots: &mut [f64],
    gram: &mut Option<Gram>,
    folded: &mut bool,
    b: &mut [f64],
    ld: usize,
    f: &mut [f64],
) -> bool {
    if f.is_empty() {
        return true;
    }
    if let Some(gram) = gram
        && gram.add_block(b, ld, f)
    {
        return true;
    }
    *folded = true;
    fold(r, qtf, dots, b, ld, f)
}

/// Householder reflections that fold a block of rows into R and Qᵀf̃,
/// column by column: the block's column j is `b[j*ld..][..f.len()]`, its
/// residuals `f`; both are overwritten.
///
/// The reflection of column j reads only R's diagonal entry and the
/// block's rows (R's entries below it are zero), so with `b` the block's
/// column j, `α = ±‖(Rⱼⱼ, b)‖` and `v = (Rⱼⱼ/α + 1, b/α)`, the product
/// `vᵀc` with another column `(Rⱼₖ, c)` is `v₀Rⱼₖ + (bᵀc)/α`. So each
/// column costs one sweep of dot products over the block (in four lanes,
/// so that the sums are not one chain of dependent additions) and one
/// sweep of updates, with no division per row. That is the same
/// reflection as in MINPACK's `qrfac`, in another order of operations;
/// where the sums overflow or come near underflow, [`fold_column_scaled`]
/// does it the slow way. On x86-64 with AVX2 and FMA the same code is
/// compiled for them ([`fold_avx2`]): the four-lane sums are one
/// register. No operation is fused, so the results are the same.
///
/// Returns whether every value of the block (its columns and `f`) is
/// finite, read from the first column's sums: `Rⱼⱼ² + bᵀb` is finite
/// only if every entry of b is (the squares cannot cancel), and with b
/// finite, `bᵀc` is not finite if an entry of c is (x·∞ is ±∞ or NaN).
/// Where those sums are not all finite (or too small to use) the values
/// are tested one by one, which only such blocks pay.
fn fold(
    r: &mut [f64],
    qtf: &mut [f64],
    dots: &mut [f64],
    b: &mut [f64],
    ld: usize,
    f: &mut [f64],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the features it is compiled for were just detected.
        return unsafe { fold_avx2(r, qtf, dots, b, ld, f) };
    }
    fold_portable(r, qtf, dots, b, ld, f)
}

/// [`fold_portable`] compiled for AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn fold_avx2(
    r: &mut [f64],
    qtf: &mut [f64],
    dots: &mut [f64],
    b: &mut [f64],
    ld: usize,
    f: &mut [f64],
) -> bool {
    fold_portable(r, qtf, dots, b, ld, f)
}

/// [`fold`]'s reflections, for any processor.
#[inline(always)]
fn fold_portable(
    r: &mut [f64],
    qtf: &mut [f64],
    dots: &mut [f64],
    b: &mut [f64],
    ld: usize,
    f: &mut [f64],
) -> bool {
    let (n, nb) = (qtf.len(), f.len());
    if nb == 0 {
        return true;
    }
    // Every value one by one, before the first column's reflection
    // overwrites them.
    let each = |b: &[f64], f: &[f64]| {
        f.iter().all(|v| v.is_finite())
            && (0..n).all(|j| {
                let column = &b[j * ld..(j * ld + nb).min(b.len())];
                column.iter().all(|v| v.is_finite())
            })
    };
    let mut finite = n > 0 || each(b, f);
    for j in 0..n {
        // The block's column j, and the columns right of it with f̃ last.
        // (A caller's last column may end with its rows, short of ld.)
        let (head, tail) = b.split_at_mut(((j + 1) * ld).min(b.len()));
        let bj = &head[j * ld..j * ld + nb];
        let top = r[j * n + j];
        let others = n - j - 1;
        let squares = top * top + dot4(bj, bj);
        let fast = squares.is_finite() && squares > 1e-280 && {
            for (k, d) in dots[..others].iter_mut().enumerate() {
                *d = dot4(bj, &tail[k * ld..k * ld + nb]);
            }
            dots[others] = dot4(bj, f);
            dots[..=others].iter().all(|d| d.is_finite())
        };
        if !fast {
            if j == 0 {
                finite = each(b, f);
            }
            fold_column_scaled(r, qtf, j, b, ld, f);
            continue;
        }
        let mut alpha = squares.sqrt();
        if top < 0.0 {
            alpha = -alpha;
        }
        let v0 = top / alpha + 1.0;
        // Column k's top entry loses s = vᵀc, its block part t·b/α with
        // t = s/v₀.
        let update = |top_k: &mut f64, d: f64, c: &mut [f64]| {
            let s = v0 * *top_k + d / alpha;
            *top_k -= s;
            let tau = s / v0 / alpha;
            for (ci, bi) in c.iter_mut().zip(bj) {
                *ci -= tau * bi;
            }
        };
        for k in 0..others {
            let c = &mut tail[k * ld..k * ld + nb];
            update(&mut r[(j + 1 + k) * n + j], dots[k], c);
        }
        update(&mut qtf[j], dots[others], f);
        r[j * n + j] = -alpha;
    }
    finite
}

/// The reflection of column j as [`fold`] makes it, with the norm scaled
/// by the largest entry and the reflection vector formed: for sums that
/// would overflow or underflow.
fn fold_column_scaled(
    r: &mut [f64],
    qtf: &mut [f64],
    j: usize,
    b: &mut [f64],
    ld: usize,
    f: &mut [f64],
) {
    let (n, nb) = (qtf.len(), f.len());
    let (head, tail) = b.split_at_mut(((j + 1) * ld).min(b.len()));
    // v: R's diagonal entry, then the block (R's entries between are 0).
    let mut v: Vec<f64> = std::iter::once(r[j * n + j])
        .chain(head[j * ld..j * ld + nb].iter().copied())
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
        apply(&mut r[(j + 1 + k) * n + j], &mut tail[k * ld..k * ld + nb]);
    }
    apply(&mut qtf[j], f);
    r[j * n + j] = -alpha;
}

/// `aᵀb` summed in four lanes.
#[inline(always)]
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
        let (cost, fs, js) = self.loss.scale(r, self.c);
        self.cost2 += cost;
        let ft = r * fs;
        self.ft_squares += ft * ft;
        self.kept.push(r);
        let i = self.filled;
        for (j, g) in grad.iter().enumerate() {
            self.buf[i + j * BLOCK] = g * js;
        }
        self.fbuf[i] = ft;
        self.filled += 1;
        if self.filled == BLOCK {
            self.flush();
        }
    }

    /// The rows folded where they lie, `BLOCK` at a time, after any rows
    /// fed one at a time: no copy. Under the linear loss the residuals
    /// and the Jacobian go in as they are (its scale factors are 1);
    /// otherwise each row is rescaled first, with [`RowSink::row`]'s
    /// operations.
    fn rows(&mut self, r: &mut [f64], jac: &mut [f64], ld: usize) -> bool {
        if r.is_empty() {
            return true;
        }
        self.flush();
        let n = self.n;
        self.kept.extend_from_slice(r);
        let mut finite = true;
        for lo in (0..r.len()).step_by(BLOCK) {
            let hi = (lo + BLOCK).min(r.len());
            let f = &mut r[lo..hi];
            if self.loss == Loss::Linear {
                // f̃ = r: ‖f̃‖² is the cost, one sum ([`finish`] copies
                // it).
                //
                // [`finish`]: Accumulator::finish
                for &v in f.iter() {
                    self.cost2 += v * v;
                }
            } else {
                // The rescaled values may be finite where the raw ones
                // are not: the raw ones are tested.
                for (q, fq) in f.iter_mut().enumerate() {
                    finite &= fq.is_finite() && (0..n).all(|j| jac[j * ld + lo + q].is_finite());
                    let (cost, fs, js) = self.loss.scale(*fq, self.c);
                    self.cost2 += cost;
                    *fq *= fs;
                    self.ft_squares += *fq * *fq;
                    for j in 0..n {
                        jac[j * ld + lo + q] *= js;
                    }
                }
            }
            finite &= fold_block(
                &mut self.r,
                &mut self.qtf,
                &mut self.dots,
                &mut self.gram,
                &mut self.folded,
                &mut jac[lo..],
                ld,
                f,
            );
        }
        finite
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

    fn rows(&mut self, r: &mut [f64], jac: &mut [f64], ld: usize) -> bool {
        let (m, count) = (self.f.len(), r.len());
        self.f[self.i..self.i + count].copy_from_slice(r);
        let mut finite = r.iter().all(|v| v.is_finite());
        for (j, column) in self.jac.chunks_exact_mut(m).enumerate() {
            let from = &jac[j * ld..j * ld + count];
            column[self.i..self.i + count].copy_from_slice(from);
            finite &= from.iter().all(|v| v.is_finite());
        }
        self.i += count;
        finite
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RᵀR and Rᵀ(Qᵀf) equal JᵀJ and Jᵀf, over several blocks, by
    /// either factorization.
    #[test]
    fn the_running_r_factors_the_rows() {
        for method in [Factorization::Householder, Factorization::NormalEquations] {
            running_r_factors_the_rows(method);
        }
    }

    fn running_r_factors_the_rows(method: Factorization) {
        let (m, n) = (200, 3);
        let row = |i: usize| -> ([f64; 3], f64) {
            let t = i as f64 * 0.05;
            ([(-t).exp(), t * (-t).exp(), 1.0], (3.0 * t).sin())
        };
        let mut acc = Accumulator::with(n, Loss::Linear, 1.0, m, method);
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
                assert!(
                    (jtj - rtr).abs() < 1e-12 * jtj.abs().max(1.0),
                    "{method:?} {a} {b}"
                );
            }
            let jtf: f64 = (0..m).map(|i| jac[i + a * m] * f[i]).sum();
            let rtq: f64 = (0..n).map(|k| r[k + a * n] * qtf[k]).sum();
            assert!((jtf - rtq).abs() < 1e-12 * jtf.abs().max(1.0));
        }
    }

    /// Blocks folded where they lie ([`RowSink::rows`]) and rows fed one
    /// at a time ([`RowSink::row`]) give the same R (as RᵀR and Rᵀ(Qᵀf̃),
    /// whose rows' signs depend on the grouping), the same sums and the same
    /// residuals kept, under the linear loss and a robust one, with single
    /// rows fed before and between the blocks and a block longer than
    /// `BLOCK`.
    #[test]
    fn blocks_folded_in_place_agree_with_rows_fed_one_at_a_time() {
        let (m, n) = (300, 3);
        let (mut r, mut jac) = (vec![0.0; m], vec![0.0; m * n]);
        for i in 0..m {
            let t = i as f64 * 0.03;
            r[i] = (3.0 * t).sin() + 0.1 * t;
            for (j, g) in [(-t).exp(), t * (-t).exp(), 1.0].into_iter().enumerate() {
                jac[i + j * m] = g;
            }
        }
        let grad = |i: usize| [jac[i], jac[i + m], jac[i + 2 * m]];
        for loss in [Loss::Linear, Loss::Cauchy] {
            let mut one = Accumulator::new(n, loss, 0.5, m);
            for (i, &ri) in r.iter().enumerate() {
                one.row(ri, &grad(i));
            }
            one.finish();
            let mut blocks = Accumulator::new(n, loss, 0.5, m);
            let slice = |lo: usize, hi: usize| -> (Vec<f64>, Vec<f64>) {
                let columns = (0..n).flat_map(|j| jac[j * m + lo..j * m + hi].to_vec());
                (r[lo..hi].to_vec(), columns.collect())
            };
            for (lo, hi) in [(0, 5), (5, 200), (200, 203), (203, 300)] {
                if hi - lo < 5 {
                    for (i, &ri) in r.iter().enumerate().take(hi).skip(lo) {
                        blocks.row(ri, &grad(i));
                    }
                } else {
                    let (mut f, mut g) = slice(lo, hi);
                    blocks.rows(&mut f, &mut g, hi - lo);
                }
            }
            blocks.finish();
            assert_eq!(blocks.kept, r, "{loss:?}");
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0);
            assert!(close(blocks.cost2, one.cost2), "{loss:?}");
            assert!(close(blocks.ft_squares, one.ft_squares), "{loss:?}");
            let (ra, rb) = (blocks.r(), one.r());
            let (qa, qb) = (blocks.qtf(), one.qtf());
            for a in 0..n {
                for b in 0..n {
                    let gram = |r: &[f64]| (0..n).map(|k| r[k + a * n] * r[k + b * n]).sum::<f64>();
                    assert!(close(gram(&ra), gram(&rb)), "{loss:?} RᵀR {a} {b}");
                }
                let rtq = |r: &[f64], q: &[f64]| (0..n).map(|k| r[k + a * n] * q[k]).sum::<f64>();
                assert!(close(rtq(&ra, qa), rtq(&rb, qb)), "{loss:?} Rᵀ(Qᵀf) {a}");
            }
        }
    }

    /// Finiteness is read from the sums a block makes anyway; a block
    /// of values too large to square is still finite, and a value that is
    /// not finite anywhere in the block is found.
    #[test]
    fn a_block_tells_whether_its_values_are_finite() {
        let (m, n) = (150, 3);
        let (mut r, mut jac) = (vec![0.0; m], vec![0.0; m * n]);
        for i in 0..m {
            let t = i as f64 * 0.05;
            r[i] = (3.0 * t).sin();
            for (j, g) in [(-t).exp(), t * (-t).exp(), 1.0].into_iter().enumerate() {
                jac[i + j * m] = g;
            }
        }
        let rows = |method, r: &[f64], jac: &[f64], scale: f64| {
            let mut acc = Accumulator::with(n, Loss::Linear, 1.0, m, method);
            let big = |v: &[f64]| v.iter().map(|x| x * scale).collect::<Vec<_>>();
            let finite = acc.rows(&mut big(r), &mut big(jac), m);
            let mut store = (vec![0.0; m], vec![0.0; m * n]);
            let mut sink = Store {
                f: &mut store.0,
                jac: &mut store.1,
                i: 0,
            };
            assert_eq!(sink.rows(&mut r.to_vec(), &mut jac.to_vec(), m), finite);
            finite
        };
        for method in [Factorization::Householder, Factorization::NormalEquations] {
            // Finite, also where the sums overflow (the scaled path).
            assert!(rows(method, &r, &jac, 1.0), "{method:?}");
            assert!(rows(method, &r, &jac, 1e200), "{method:?}");
            // One bad value in any column, the residuals or the first
            // column (also where that column is zero in its block).
            for (at, bad) in [
                (70, f64::NAN),
                (m + 3, f64::INFINITY),
                (2 * m + 149, f64::NEG_INFINITY),
            ] {
                let mut jac = jac.clone();
                jac[at] = bad;
                assert!(!rows(method, &r, &jac, 1.0), "{method:?} {at}");
            }
            let mut zero = jac.clone();
            zero[..m].fill(0.0);
            assert!(rows(method, &r, &zero, 1.0), "{method:?}");
            zero[m + 100] = f64::NAN;
            assert!(!rows(method, &r, &zero, 1.0), "{method:?}");
            let mut r = r.clone();
            r[149] = f64::INFINITY;
            assert!(!rows(method, &r, &jac, 1.0), "{method:?}");
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
        plain.rows(&mut r.clone(), &mut jac.clone(), m);
        plain.finish();
        let mut huge = Accumulator::new(n, Loss::Linear, 1.0, m);
        huge.row(5.0, &[1.0, 2.0, 3.0]);
        huge.finish();
        huge.reset();
        let big = |v: &[f64]| v.iter().map(|x| x * scale).collect::<Vec<_>>();
        huge.rows(&mut big(&r), &mut big(&jac), m);
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

    /// The normal equations with one block out of their range (rows times
    /// 1e150, whose squares pass 1e270): that block goes through the
    /// reflections and the Cholesky factor of the rest is folded in after
    /// it, so RᵀR and Rᵀ(Qᵀf) are those of the reflections alone.
    #[test]
    fn a_block_out_of_range_joins_the_normal_equations() {
        let (m, n) = (200, 3);
        let (mut r, mut jac) = (vec![0.0; m], vec![0.0; m * n]);
        for i in 0..m {
            let t = i as f64 * 0.05;
            let big = if (64..128).contains(&i) { 1e150 } else { 1.0 };
            r[i] = big * (3.0 * t).sin();
            for (j, g) in [(-t).exp(), t * (-t).exp(), 1.0].into_iter().enumerate() {
                jac[i + j * m] = big * g;
            }
        }
        let feed = |method| {
            let mut acc = Accumulator::with(n, Loss::Linear, 1.0, m, method);
            for lo in (0..m).step_by(BLOCK) {
                let hi = (lo + BLOCK).min(m);
                let mut f = r[lo..hi].to_vec();
                let mut g: Vec<f64> = (0..n)
                    .flat_map(|j| jac[j * m + lo..j * m + hi].to_vec())
                    .collect();
                acc.rows(&mut f, &mut g, hi - lo);
            }
            acc.finish();
            acc
        };
        let (normal, householder) = (
            feed(Factorization::NormalEquations),
            feed(Factorization::Householder),
        );
        assert!(normal.folded);
        let gram = |acc: &Accumulator, a: usize, b: usize| -> f64 {
            (0..n)
                .map(|k| acc.r()[k + a * n] * acc.r()[k + b * n])
                .sum()
        };
        let rtq = |acc: &Accumulator, a: usize| -> f64 {
            (0..n).map(|k| acc.r()[k + a * n] * acc.qtf()[k]).sum()
        };
        for a in 0..n {
            for b in 0..n {
                let scale = gram(&householder, a, a).sqrt() * gram(&householder, b, b).sqrt();
                let diff = gram(&normal, a, b) - gram(&householder, a, b);
                assert!(diff.abs() <= 1e-13 * scale, "RᵀR {a} {b}");
            }
            let diff = rtq(&normal, a) - rtq(&householder, a);
            assert!(diff.abs() <= 1e-13 * rtq(&householder, a).abs(), "Rᵀq {a}");
        }
    }
}
