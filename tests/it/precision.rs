//! Values and derivatives against a high-precision reference, in ulps.
//!
//! The reference is a double-double with its own exponent ([`Xd`]: about
//! 104 bits of mantissa and an unbounded exponent), so that it neither rounds
//! like a double nor overflows where the true value is a double. MPFR (`rug`)
//! was the first choice, but its build needs `m4`, which this machine and CI
//! lack, and builds GMP from source; the forms tested here need only
//! `+ - * /`, `sqrt` and integer powers, which a double-double does exactly
//! enough.
//!
//! Also the regression cases of issue 19: rewrites that extended a formula
//! beyond its domain, and numbers lost at the edges of the double range.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use slope::Formula;
use slope::jit::Compiled;

/// `(hi + lo) * 2^exp`, with `|hi|` in [0.5, 1) (or `hi = lo = 0`).
#[derive(Clone, Copy, Debug)]
struct Xd {
    hi: f64,
    lo: f64,
    exp: i64,
}

fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    (p, a.mul_add(b, -p))
}

/// `m * 2^e` in steps that do not overflow on the way.
fn ldexp(mut m: f64, mut e: i64) -> f64 {
    while e != 0 && m != 0.0 && m.is_finite() {
        let step = e.clamp(-600, 600);
        m *= 2f64.powi(step as i32);
        e -= step;
    }
    m
}

fn frexp(x: f64) -> (f64, i64) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let mut e = x.abs().log2().floor() as i64 + 1;
    let mut m = ldexp(x, -e);
    while m.abs() >= 1.0 {
        m /= 2.0;
        e += 1;
    }
    while m.abs() < 0.5 {
        m *= 2.0;
        e -= 1;
    }
    (m, e)
}

impl Xd {
    fn new(hi: f64, lo: f64, exp: i64) -> Xd {
        let (hi, lo) = two_sum(hi, lo);
        if hi == 0.0 {
            return Xd {
                hi: 0.0,
                lo: 0.0,
                exp: 0,
            };
        }
        let (m, k) = frexp(hi);
        Xd {
            hi: m,
            lo: ldexp(lo, -k),
            exp: exp + k,
        }
    }

    fn from(x: f64) -> Xd {
        Xd::new(x, 0.0, 0)
    }

    fn mul(self, b: Xd) -> Xd {
        let (p, e) = two_prod(self.hi, b.hi);
        Xd::new(p, e + self.hi * b.lo + self.lo * b.hi, self.exp + b.exp)
    }

    fn div(self, b: Xd) -> Xd {
        let q1 = self.hi / b.hi;
        let (p, e) = two_prod(q1, b.hi);
        let r = ((self.hi - p) - e + self.lo) - q1 * b.lo;
        Xd::new(q1, r / b.hi, self.exp - b.exp)
    }

    fn add(self, b: Xd) -> Xd {
        let (a, b) = if self.exp >= b.exp {
            (self, b)
        } else {
            (b, self)
        };
        if b.hi == 0.0 || a.exp - b.exp > 300 {
            return a;
        }
        let shift = b.exp - a.exp;
        let (s, e) = two_sum(a.hi, ldexp(b.hi, shift));
        Xd::new(s, e + a.lo + ldexp(b.lo, shift), a.exp)
    }

    fn neg(self) -> Xd {
        Xd {
            hi: -self.hi,
            lo: -self.lo,
            exp: self.exp,
        }
    }

    fn sqrt(self) -> Xd {
        if self.hi == 0.0 {
            return self;
        }
        let (hi, lo, exp) = if self.exp % 2 != 0 {
            (self.hi * 2.0, self.lo * 2.0, self.exp - 1)
        } else {
            (self.hi, self.lo, self.exp)
        };
        let s = hi.sqrt();
        let (p, e) = two_prod(s, s);
        Xd::new(s, ((hi - p) - e + lo) / (2.0 * s), exp / 2)
    }

    fn powi(self, n: i64) -> Xd {
        let mut k = n.unsigned_abs();
        let mut base = self;
        let mut acc = Xd::from(1.0);
        while k > 0 {
            if k & 1 == 1 {
                acc = acc.mul(base);
            }
            k >>= 1;
            base = base.mul(base);
        }
        if n < 0 { Xd::from(1.0).div(acc) } else { acc }
    }

    /// The nearest double (but for a second rounding among subnormals).
    fn to_f64(self) -> f64 {
        ldexp(self.hi + self.lo, self.exp)
    }
}

/// How many doubles apart `got` is from `want` (0 for equal infinities).
fn ulps(got: f64, want: f64) -> u64 {
    if got == want {
        return 0;
    }
    if !got.is_finite() || !want.is_finite() || got.is_sign_negative() != want.is_sign_negative() {
        return u64::MAX;
    }
    got.to_bits().abs_diff(want.to_bits())
}

/// The value of `text` and each partial at `x`, interpreted and compiled,
/// which must agree to the bit.
fn value_and_partials(text: &str, x: &[f64]) -> Vec<f64> {
    let f = Formula::parse(text).unwrap();
    let mut outputs = vec![f.value()];
    outputs.extend_from_slice(f.gradient());
    let interpreted = f.eval_nodes(&outputs, x);
    let compiled = Compiled::compile(f.graph(), &outputs, x.len()).unwrap();
    let mut out = vec![0.0; outputs.len()];
    compiled.call(x, &mut out);
    for (c, i) in out.iter().zip(&interpreted) {
        assert!(
            c.to_bits() == i.to_bits() || (c.is_nan() && i.is_nan()),
            "{text} at {x:?}: compiled {c}, interpreted {i}"
        );
    }
    interpreted
}

/// A double of either sign whose magnitude is anywhere in the normal range.
fn extreme(positive: bool) -> impl Strategy<Value = f64> {
    (1.0f64..2.0, -1020i32..1020, any::<bool>()).prop_map(move |(m, e, neg)| {
        let v = m * 2f64.powi(e / 2) * 2f64.powi(e - e / 2);
        if neg && !positive { -v } else { v }
    })
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// `got` is within `bound` ulps of the reference.
fn close(what: &str, got: f64, want: Xd, bound: u64) -> Result<(), TestCaseError> {
    let want = want.to_f64();
    let d = ulps(got, want);
    prop_assert!(d <= bound, "{what}: got {got:e}, want {want:e}: {d} ulps");
    Ok(())
}

#[test]
fn integer_powers_are_within_4_ulps_over_the_whole_range() {
    // `powi` is within 3 ulps for exponents -1 to 4 and `powf` within 1
    // elsewhere; the reference's own rounding (twice among subnormals) adds 1.
    let strategy = (extreme(false), -1100i64..1100);
    runner(3000)
        .run(&strategy, |(x, n)| {
            let got = value_and_partials(&format!("x^{n}"), &[x])[0];
            close(&format!("{x:e}^{n}"), got, Xd::from(x).powi(n), 4)
        })
        .unwrap();
}

#[test]
fn powers_of_products_and_quotients_do_not_overflow_on_the_way() {
    // (x/y)^n and (x*y)^n at points where x^n or y^n alone overflows or
    // underflows but the result is a double. The rounding of x/y is raised
    // to the n-th power: |n|/2 ulps, plus 1 for the power and 1 for the
    // reference.
    let strategy = (extreme(false), -40i32..40, -8i64..9, any::<bool>());
    runner(3000)
        .run(&strategy, |(x, shift, n, quotient)| {
            prop_assume!(n != 0 && n != 1);
            // y within 2^±40 of x (or of 1/x), so the result is in range.
            let y = if quotient { x } else { 1.0 / x } * 2f64.powi(shift) * 1.37;
            prop_assume!(y.is_normal());
            let (text, inner) = if quotient {
                ("(x/y)^", Xd::from(x).div(Xd::from(y)))
            } else {
                ("(x*y)^", Xd::from(x).mul(Xd::from(y)))
            };
            let got = value_and_partials(&format!("{text}{n}"), &[x, y])[0];
            let bound = n.unsigned_abs().div_ceil(2) + 2;
            close(
                &format!("{text}{n} at {x:e}, {y:e}"),
                got,
                inner.powi(n),
                bound,
            )
        })
        .unwrap();
}

#[test]
fn inverse_function_derivatives_are_right_for_huge_arguments() {
    let one = Xd::from(1.0);
    let strategy = extreme(true);
    runner(2000)
        .run(&strategy, |x| {
            let a = Xd::from(x);
            let a2p1 = a.mul(a).add(one);
            // asinh' = 1/sqrt(1 + x^2), as 1/hypot(1, x).
            let d = value_and_partials("asinh(x)", &[x])[1];
            close(&format!("asinh'({x:e})"), d, one.div(a2p1.sqrt()), 3)?;
            // atan' = 1/(1 + x^2), as hypot(1, x)^-2.
            let d = value_and_partials("atan(x)", &[x])[1];
            close(&format!("atan'({x:e})"), d, one.div(a2p1), 4)?;
            // Not yet: `-atan(x)`, whose derivative is a product that divides
            // once by `hypot(1, x)^2`, which overflows for x > 1.3e154.
            // acosh' = 1/sqrt(x^2 - 1), as (x-1)^-0.5 (x+1)^-0.5, for x > 1.
            let x1 = 1.0 + x.abs();
            if x1 == 1.0 {
                return Ok(());
            }
            let a1 = Xd::from(x1);
            let d = value_and_partials("acosh(x)", &[x1])[1];
            let want = one.div(a1.mul(a1).add(one.neg()).sqrt());
            close(&format!("acosh'({x1:e})"), d, want, 4)?;
            Ok(())
        })
        .unwrap();
}

#[test]
fn inverse_function_derivatives_are_right_near_the_ends_of_their_domain() {
    let one = Xd::from(1.0);
    let strategy = (1u32..52, 0.0f64..1.0);
    runner(2000)
        .run(&strategy, |(k, m)| {
            // 1 - x as small as 2^-52: 1 - x^2 would lose k bits.
            let x = 1.0 - (1.0 + m) * 2f64.powi(-(k as i32));
            let a = Xd::from(x);
            let omx2 = one.add(a.mul(a).neg());
            let d = value_and_partials("asin(x)", &[x])[1];
            close(&format!("asin'({x})"), d, one.div(omx2.sqrt()), 4)?;
            let d = value_and_partials("atanh(x)", &[x])[1];
            close(&format!("atanh'({x})"), d, one.div(omx2), 4)?;
            let x1 = 2.0 - x;
            let a1 = Xd::from(x1);
            let d = value_and_partials("acosh(x)", &[x1])[1];
            let want = one.div(a1.mul(a1).add(one.neg()).sqrt());
            close(&format!("acosh'({x1})"), d, want, 4)?;
            Ok(())
        })
        .unwrap();
}

#[test]
fn rewrites_do_not_extend_a_formula_beyond_its_domain() {
    for (text, at, defined_at, value) in [
        ("sqrt(x)^2", -1.0, 9.0, 9.0),
        ("x^0.5*x^0.5", -4.0, 4.0, 4.0),
        ("(x^(1/3))^3", -8.0, 8.0, 8.0),
        ("sqrt(x)^4", -1.0, 4.0, 16.0),
        ("x^0.25*x^0.75*x", -2.0, 2.0, 4.0),
    ] {
        // The value; the derivative may cancel `x^0.5*x^-0.5` as `a/a`.
        let v = value_and_partials(text, &[at])[0];
        assert!(v.is_nan(), "{text} at {at}: {v:?}");
        let v = value_and_partials(text, &[defined_at])[0];
        assert!(
            (v - value).abs() <= 1e-14 * value,
            "{text} at {defined_at}: {v}"
        );
    }
    // Where the base is never negative the powers still collect.
    let f = Formula::parse("sqrt(y^2)*sqrt(y^2)").unwrap();
    assert_eq!(f.expr(f.value()).to_slope().unwrap(), "y^2");
    let f = Formula::parse("x*x^0.5").unwrap();
    assert_eq!(f.expr(f.value()).to_slope().unwrap(), "x^1.5");
}

#[test]
fn the_edge_cases_of_issue_19_have_their_true_values() {
    // 2^-1024 is subnormal, but 2^1024 overflows.
    assert_eq!(value_and_partials("x^-1024", &[2.0])[0], 2f64.powi(-1024));
    assert_eq!(
        value_and_partials("3*x^-1030", &[0.5])[0],
        3.0 * 2f64.powi(1030)
    );
    assert_eq!(value_and_partials("(x/y)^2", &[1e200, 1e200])[0], 1.0);
    let v = value_and_partials("x^y", &[2.0, 3.0]);
    assert_eq!(v[..2], [8.0, 12.0]);
    assert!((v[2] - 8.0 * 2f64.ln()).abs() < 1e-15 * v[2]);
    assert_eq!(value_and_partials("atan(x)", &[1e160])[1], 1e-320);
    assert_eq!(value_and_partials("asinh(x)", &[1e200])[1], 1e-200);
    let d = value_and_partials("acosh(x)", &[1e200])[1];
    assert!(ulps(d, 1e-200) <= 2, "{d:e}");
}

/// `x1 + x2 + ... + xn` as formula text.
fn long_sum(n: usize) -> String {
    (1..=n)
        .map(|i| format!("x{i}"))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// The bound on a sum's rounding error stated in the crate docs:
/// `γ_d · Σ|tᵢ|` with `d = ⌈log₂ n⌉`, `γ_d = d·u/(1 − d·u)`.
fn pairwise_bound(terms: &[f64]) -> f64 {
    let u = f64::EPSILON / 2.0;
    let d = (terms.len() as f64).log2().ceil();
    d * u / (1.0 - d * u) * terms.iter().map(|t| t.abs()).sum::<f64>()
}

/// The exact sum, to double-double precision.
fn exact_sum(terms: &[f64]) -> f64 {
    terms
        .iter()
        .fold(Xd::from(0.0), |acc, &t| acc.add(Xd::from(t)))
        .to_f64()
}

#[test]
fn a_long_sum_is_within_the_pairwise_bound() {
    let n = 4096;
    let text = long_sum(n);
    // 1 and then halves of its ulp: added left to right, every small term
    // rounds away (the chain's error is (n-1)/2 ulps of 1); pairwise, the
    // small terms meet each other first.
    let mut x = vec![f64::EPSILON / 2.0; n];
    x[0] = 1.0;
    let got = value_and_partials(&text, &x)[0];
    let want = exact_sum(&x);
    let chain = x.iter().fold(0.0, |a, b| a + b);
    assert!(
        (got - want).abs() <= pairwise_bound(&x),
        "{got:e} vs {want:e}"
    );
    assert!(
        (chain - want).abs() > pairwise_bound(&x),
        "{chain:e} vs {want:e}"
    );
    // Terms of mixed signs and magnitudes, in any order.
    runner(32)
        .run(&prop::collection::vec(-1e3..1e3f64, n), |x| {
            let got = value_and_partials(&text, &x)[0];
            let want = exact_sum(&x);
            prop_assert!(
                (got - want).abs() <= pairwise_bound(&x),
                "{got:e} vs {want:e}"
            );
            Ok(())
        })
        .unwrap();
}
