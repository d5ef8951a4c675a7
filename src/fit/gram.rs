//! The normal equations, accumulated exactly enough: each pass sums
//! `JᵀJ` and `Jᵀf` over its rows in double-double (about 106 bits), and
//! the Cholesky factor of that Gram matrix, also in double-double, stands
//! in for the R of a QR of J.
//!
//! Why: the normal equations in double precision lose twice the digits a
//! QR loses, because rounding `JᵀJ` to 53 bits perturbs it by ε‖J‖²,
//! which moves the solution by about cond(J)²·ε. Summed to 2⁻¹⁰⁶ the Gram
//! matrix carries cond(J)²·2⁻¹⁰⁶ instead, below the cond(J)·ε of a
//! Householder QR for any cond(J) under 10¹⁶ (scaled by columns, as
//! Cholesky's error is); the factor R is then rounded to double once,
//! entry by entry, which is a relative perturbation of ε in R, the
//! backward error a QR has too. So R and `Qᵀf = R⁻ᵀJᵀf` answer the trust
//! region's least-squares questions as the QR's would, and the NIST test
//! reads the same digits (`tests/it/nist.rs`).
//!
//! It was meant to be cheaper per row than the Householder fold (per
//! pair of columns a product, its exact error by a fused multiply-add and
//! a two-sum, in four lanes of one AVX register, with no square root or
//! division near the rows), but it is not: nine pairs of columns for
//! three parameters cost about 90 operations a row, more than the fold's
//! dot products and updates, and a whole fit measured about 10% slower
//! (`benches/fit.rs`). So [`Factorization::Householder`] stays the
//! default and this is the other choice.
//!
//! [`Factorization::Householder`]: super::Factorization::Householder
//!
//! The error-free transformations are Knuth's TwoSum and the fused
//! multiply-add's TwoProduct (Ogita, Rump, Oishi 2005, "Accurate sum and
//! dot product", algorithm Dot2); the block sums are added into the
//! running double-double entries once per block.

/// A double-double `hi + lo`, `|lo| ≤ ulp(hi)/2`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Dd {
    pub hi: f64,
    pub lo: f64,
}

/// `a + b = s + e` exactly (Knuth).
#[inline(always)]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// `a + b = s + e` exactly when `|a| ≥ |b|` (or a is 0).
#[inline(always)]
fn fast_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    (s, b - (s - a))
}

/// `a·b = p + e` exactly (unless it overflows or e underflows).
#[inline(always)]
fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    (p, a.mul_add(b, -p))
}

impl Dd {
    pub(crate) const ZERO: Dd = Dd { hi: 0.0, lo: 0.0 };

    pub(crate) fn from(x: f64) -> Dd {
        Dd { hi: x, lo: 0.0 }
    }

    /// The nearest double.
    pub(crate) fn value(self) -> f64 {
        self.hi + self.lo
    }

    fn norm(hi: f64, lo: f64) -> Dd {
        let (hi, lo) = fast_two_sum(hi, lo);
        Dd { hi, lo }
    }

    pub(crate) fn add(self, b: Dd) -> Dd {
        let (s, e) = two_sum(self.hi, b.hi);
        let (t, f) = two_sum(self.lo, b.lo);
        let (s, e) = fast_two_sum(s, e + t);
        Dd::norm(s, e + f)
    }

    pub(crate) fn sub(self, b: Dd) -> Dd {
        self.add(Dd {
            hi: -b.hi,
            lo: -b.lo,
        })
    }

    pub(crate) fn mul(self, b: Dd) -> Dd {
        let (p, e) = two_prod(self.hi, b.hi);
        Dd::norm(p, e + (self.hi * b.lo + self.lo * b.hi))
    }

    pub(crate) fn div(self, b: Dd) -> Dd {
        let q1 = self.hi / b.hi;
        let r = self.sub(b.mul(Dd::from(q1)));
        let q2 = r.hi / b.hi;
        let r = r.sub(b.mul(Dd::from(q2)));
        let q3 = r.hi / b.hi;
        let (q, e) = fast_two_sum(q1, q2);
        Dd::norm(q, e + q3)
    }

    /// √x for x ≥ 0: one Newton step from the double's root.
    pub(crate) fn sqrt(self) -> Dd {
        if self.hi <= 0.0 {
            return Dd::ZERO;
        }
        let s = self.hi.sqrt();
        let (p, e) = two_prod(s, s);
        let r = (self.hi - p - e + self.lo) / (2.0 * s);
        Dd::norm(s, r)
    }
}

/// The Gram matrix of `[J f]` without `fᵀf`, summed in double-double:
/// `JᵀJ`'s upper triangle and `Jᵀf`, as column k of an n×(n+1) upper
/// triangle (column n is `Jᵀf`).
pub(crate) struct Gram {
    n: usize,
    /// Entry (j, k), j ≤ k ≤ n, j < n, at `k*(k+1)/2 + j` (packed upper
    /// triangle; the last column's n entries are `Jᵀf`).
    sums: Vec<Dd>,
    /// One block's sums, before they are checked and added in.
    block: Vec<Dd>,
    /// Whether any rows went in since the last [`Gram::reset`].
    pub(crate) filled: bool,
}

/// Where a block's sums are safely inside the double range: every
/// product's rounding error stays a normal number and no square
/// overflows, so TwoProduct is exact.
const LARGEST: f64 = 1e270;
const SMALLEST: f64 = 1e-270;

impl Gram {
    pub(crate) fn new(n: usize) -> Gram {
        let entries = (n + 1) * (n + 2) / 2 - 1;
        Gram {
            n,
            sums: vec![Dd::ZERO; entries],
            block: vec![Dd::ZERO; entries],
            filled: false,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.sums.fill(Dd::ZERO);
        self.filled = false;
    }

    /// Adds a block of rows: column j of J at `b[j*ld..][..f.len()]`, the
    /// residuals `f`. False, with nothing added, where the block's sums
    /// leave the range in which the products are exact (entries near
    /// 1e135 or 1e-135 and beyond): the caller folds that block another
    /// way.
    pub(crate) fn add_block(&mut self, b: &[f64], ld: usize, f: &[f64]) -> bool {
        let (n, nb) = (self.n, f.len());
        if nb == 0 {
            return true;
        }
        let column = |k: usize| if k == n { f } else { &b[k * ld..k * ld + nb] };
        for k in 0..=n {
            for j in 0..=k.min(n - 1) {
                self.block[k * (k + 1) / 2 + j] = dot(column(j), column(k));
            }
        }
        let diagonal_ok = (0..n).all(|j| {
            let d = self.block[j * (j + 1) / 2 + j].hi;
            d == 0.0 || (SMALLEST..LARGEST).contains(&d)
        });
        if !diagonal_ok || !self.block.iter().all(|s| s.hi.abs() < LARGEST) {
            return false;
        }
        for (s, t) in self.sums.iter_mut().zip(&self.block) {
            *s = s.add(*t);
        }
        self.filled = true;
        true
    }

    /// The Cholesky factor R of `JᵀJ` (upper triangle, n×n column-major
    /// into `r`) and `q = R⁻ᵀJᵀf` into `qtf`, both computed in
    /// double-double and rounded. A pivot that the earlier columns cancel
    /// to nothing or less (a column in their span, to 106 bits) makes a
    /// zero row: R is then the factor of the columns that are independent,
    /// and the rank tests downstream see the zero on the diagonal.
    pub(crate) fn factor(&self, r: &mut [f64], qtf: &mut [f64]) {
        let n = self.n;
        let at = |j: usize, k: usize| self.sums[k * (k + 1) / 2 + j];
        // R's rows in double-double, row j from column j on; column n is q.
        let mut rows = vec![Dd::ZERO; n * (n + 1)];
        for j in 0..n {
            let mut d = at(j, j);
            for i in 0..j {
                let rij = rows[i * (n + 1) + j];
                d = d.sub(rij.mul(rij));
            }
            // Below a few units of 2⁻¹⁰⁶ of the column's own square: what
            // is left is the Gram matrix's rounding, not a direction.
            // (NaN included: a Gram matrix with one is no factor.)
            if d.hi.partial_cmp(&(1e-30 * at(j, j).hi)) != Some(std::cmp::Ordering::Greater) {
                continue;
            }
            let rjj = d.sqrt();
            rows[j * (n + 1) + j] = rjj;
            for k in j + 1..=n {
                let mut s = at(j, k);
                for i in 0..j {
                    s = s.sub(rows[i * (n + 1) + j].mul(rows[i * (n + 1) + k]));
                }
                rows[j * (n + 1) + k] = s.div(rjj);
            }
        }
        for j in 0..n {
            for k in 0..n {
                r[k * n + j] = rows[j * (n + 1) + k].value();
            }
            qtf[j] = rows[j * (n + 1) + n].value();
        }
    }
}

/// `aᵀb` in double-double: Dot2 in four lanes (a product's error by a
/// fused multiply-add, the sum's by TwoSum, the errors summed plainly),
/// the lanes then added exactly. On x86-64 with FMA the lanes are one
/// vector register; elsewhere (or without FMA) the same operations
/// run through the portable code.
#[inline]
fn dot(a: &[f64], b: &[f64]) -> Dd {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the features the function is compiled for were just
        // detected on this processor.
        return unsafe { dot_fma(a, b) };
    }
    dot_lanes(a, b)
}

/// [`dot_lanes`] in AVX registers: four lanes in one, a product's
/// error by the fused multiply-subtract. Same operations, same lanes,
/// same result.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_fma(a: &[f64], b: &[f64]) -> Dd {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let whole = n / 4 * 4;
    let (mut s, mut c) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    for i in (0..whole).step_by(4) {
        // SAFETY: i + 4 ≤ n, within both slices.
        let (x, y) = unsafe {
            (
                _mm256_loadu_pd(a.as_ptr().add(i)),
                _mm256_loadu_pd(b.as_ptr().add(i)),
            )
        };
        let p = _mm256_mul_pd(x, y);
        let e = _mm256_fmsub_pd(x, y, p);
        let t = _mm256_add_pd(s, p);
        let bb = _mm256_sub_pd(t, s);
        let q = _mm256_add_pd(_mm256_sub_pd(s, _mm256_sub_pd(t, bb)), _mm256_sub_pd(p, bb));
        s = t;
        c = _mm256_add_pd(c, _mm256_add_pd(q, e));
    }
    let (mut sl, mut cl) = ([0.0; 4], [0.0; 4]);
    // SAFETY: four doubles each, unaligned stores.
    unsafe {
        _mm256_storeu_pd(sl.as_mut_ptr(), s);
        _mm256_storeu_pd(cl.as_mut_ptr(), c);
    }
    finish_lanes(&a[whole..n], &b[whole..n], sl, cl)
}

#[inline(always)]
fn dot_lanes(a: &[f64], b: &[f64]) -> Dd {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut s = [0.0; 4];
    let mut c = [0.0; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ar, br) = (a4.remainder(), b4.remainder());
    for (x, y) in a4.zip(b4) {
        for l in 0..4 {
            let (p, e) = two_prod(x[l], y[l]);
            let (t, q) = two_sum(s[l], p);
            s[l] = t;
            c[l] += q + e;
        }
    }
    finish_lanes(ar, br, s, c)
}

/// The last rows (fewer than four) into the lanes, then the lanes added.
#[inline(always)]
fn finish_lanes(a: &[f64], b: &[f64], mut s: [f64; 4], mut c: [f64; 4]) -> Dd {
    for (l, (x, y)) in a.iter().zip(b).enumerate() {
        let (p, e) = two_prod(*x, *y);
        let (t, q) = two_sum(s[l], p);
        s[l] = t;
        c[l] += q + e;
    }
    let lane = |l: usize| Dd::norm(s[l], c[l]);
    (lane(0).add(lane(2))).add(lane(1).add(lane(3)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An exact reference: values `m·2⁻²⁴` with |m| < 2³⁵, whose products
    /// are integers times 2⁻⁴⁸ below 2⁷⁰ (more bits than a double holds,
    /// so TwoProduct's error matters), summed exactly in i128.
    fn exact_dot(a: &[i64], b: &[i64]) -> i128 {
        a.iter().zip(b).map(|(x, y)| *x as i128 * *y as i128).sum()
    }

    /// A seeded sequence of 35-bit integers of both signs, spread over
    /// scales 2⁰ to 2³⁴ (so that the sums cancel and mix magnitudes).
    fn integers(count: usize, seed: u64) -> Vec<i64> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..count)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let bits = (state >> 29) as i64 & ((1 << 35) - 1);
                let shift = (state % 30) as u32;
                let v = bits >> shift;
                if state & 1 == 0 { v } else { -v }
            })
            .collect()
    }

    fn to_f64(v: &[i64]) -> Vec<f64> {
        v.iter().map(|m| *m as f64 * 2f64.powi(-24)).collect()
    }

    /// `hi + lo` minus the exact `k·2⁻⁴⁸`, relative to Σ|aᵢbᵢ|: the
    /// double-double error, measured exactly (hi and lo are multiples of
    /// 2⁻⁸⁰ but for rounding junk far below, converted to i128 after
    /// scaling by 2⁸⁰).
    fn error(d: Dd, exact: i128, scale: f64) -> f64 {
        let fixed = |x: f64| (x * 2f64.powi(80)) as i128;
        let got = fixed(d.hi) + fixed(d.lo);
        (got - exact * (1 << 32)) as f64 * 2f64.powi(-80) / scale
    }

    /// The double-double dot product of 500 mixed-scale, cancelling
    /// products is within 2⁻⁹⁰ of the exact sum relative to Σ|aᵢbᵢ|
    /// (Dot2's bound is about n·2⁻¹⁰⁶), where the plain double sum is off
    /// by far more (the test would fail on it).
    #[test]
    fn the_dot_product_is_exact_to_double_double() {
        for seed in 1..20 {
            let (ia, ib) = (integers(500, seed), integers(500, seed + 100));
            let (a, b) = (to_f64(&ia), to_f64(&ib));
            let exact = exact_dot(&ia, &ib);
            let scale: f64 = a.iter().zip(&b).map(|(x, y)| (x * y).abs()).sum();
            let got = dot(&a, &b);
            let bound = 2f64.powi(-90);
            assert!(error(got, exact, scale).abs() <= bound, "seed {seed}");
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!(
                error(Dd::from(plain), exact, scale).abs() > bound,
                "seed {seed}: the plain sum was exact too; the data test nothing"
            );
        }
    }

    /// The running sums over blocks of 64 equal one dot product over all
    /// rows, to double-double; a block whose squares overflow is refused
    /// and leaves the sums as they were.
    #[test]
    fn blocks_add_up_and_huge_blocks_are_refused() {
        let (m, n) = (300, 2);
        let ia: Vec<i64> = integers(m * n + m, 7);
        let v = to_f64(&ia);
        let (jac, f) = v.split_at(m * n);
        let mut gram = Gram::new(n);
        for lo in (0..m).step_by(64) {
            let hi = (lo + 64).min(m);
            assert!(gram.add_block(&jac[lo..], m, &f[lo..hi]));
        }
        let column = |k: usize| &ia[k * m..(k + 1) * m];
        for (j, k, at) in [(0, 0, 0), (0, 1, 1), (1, 1, 2), (0, 2, 3), (1, 2, 4)] {
            let exact = exact_dot(column(j), column(k));
            let scale: f64 = (0..m).map(|i| (v[j * m + i] * v[k * m + i]).abs()).sum();
            assert!(error(gram.sums[at], exact, scale).abs() <= 2f64.powi(-90));
        }
        let before = gram.sums.clone();
        let huge: Vec<f64> = jac.iter().map(|x| x * 1e200).collect();
        assert!(!gram.add_block(&huge, m, &f[..64]));
        assert_eq!(gram.sums, before);
    }

    /// Hilbert-like columns tᵏ on [0, 1] (cond(J) about 10⁵ for five
    /// columns, so cond(JᵀJ) about 10¹⁰): RᵀR = JᵀJ and Rᵀq = Jᵀf to the
    /// rounding of R, and the least-squares solution R⁻¹q agrees with the
    /// known coefficients of an exact polynomial to 1e-10.
    #[test]
    fn the_cholesky_factor_solves_an_ill_conditioned_fit() {
        let (m, n) = (200, 5);
        let want = [1.0, -2.0, 3.0, 0.5, -1.5];
        let t: Vec<f64> = (0..m).map(|i| i as f64 / (m - 1) as f64).collect();
        let mut jac = vec![0.0; m * n];
        let mut f = vec![0.0; m];
        for i in 0..m {
            for k in 0..n {
                jac[k * m + i] = t[i].powi(k as i32);
            }
            f[i] = (0..n).map(|k| want[k] * jac[k * m + i]).sum();
        }
        let mut gram = Gram::new(n);
        for lo in (0..m).step_by(64) {
            let hi = (lo + 64).min(m);
            assert!(gram.add_block(&jac[lo..], m, &f[lo..hi]));
        }
        let (mut r, mut q) = (vec![0.0; n * n], vec![0.0; n]);
        gram.factor(&mut r, &mut q);
        // R x = q, back substitution.
        let mut x = q.clone();
        for k in (0..n).rev() {
            x[k] /= r[k * n + k];
            for i in 0..k {
                x[i] -= r[k * n + i] * x[k];
            }
        }
        for (got, want) in x.iter().zip(want) {
            assert!((got - want).abs() < 1e-10, "{x:?}");
        }
        for j in 0..n {
            for i in j + 1..n {
                assert_eq!(r[j * n + i], 0.0, "R is upper triangular");
            }
        }
    }

    /// A column equal to another: its pivot cancels and its row of R is
    /// zero; its column of R is the other's.
    #[test]
    fn a_repeated_column_gives_a_zero_row() {
        let m = 50;
        let a: Vec<f64> = (0..m).map(|i| 1.0 + i as f64 * 0.1).collect();
        let ones = vec![1.0; m];
        let jac: Vec<f64> = [ones.clone(), a.clone(), a.clone()].concat();
        let f: Vec<f64> = a.iter().map(|x| 2.0 * x - 1.0).collect();
        let mut gram = Gram::new(3);
        assert!(gram.add_block(&jac, m, &f));
        let (mut r, mut q) = (vec![0.0; 9], vec![0.0; 3]);
        gram.factor(&mut r, &mut q);
        assert!(r[0] > 0.0 && r[4] > 0.0);
        assert_eq!((r[8], q[2]), (0.0, 0.0));
        assert!((r[7] - r[4]).abs() <= 1e-15 * r[4] && (r[6] - r[3]).abs() <= 1e-15 * r[3].abs());
    }

    /// The double-double operations against exact values.
    #[test]
    fn double_double_arithmetic() {
        let third = Dd::from(1.0).div(Dd::from(3.0));
        let back = third.mul(Dd::from(3.0)).sub(Dd::from(1.0));
        assert!(back.value().abs() < 1e-31, "{back:?}");
        let two = Dd::from(2.0).sqrt();
        let err = two.mul(two).sub(Dd::from(2.0));
        assert!(err.value().abs() < 1e-31, "{err:?}");
        assert!(third.lo != 0.0);
    }
}
