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

use std::cell::Cell;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use slope::jit::Compiled;
use slope::{Formula, NodeId};

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
        // A zero's exponent says nothing about its size: 0 + 1e-183 is not 0.
        if self.hi == 0.0 {
            return b;
        }
        if b.hi == 0.0 {
            return self;
        }
        let (a, b) = if self.exp >= b.exp {
            (self, b)
        } else {
            (b, self)
        };
        if a.exp - b.exp > 300 {
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
pub(crate) fn ulps(got: f64, want: f64) -> u64 {
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
pub(crate) fn value_and_partials(text: &str, x: &[f64]) -> Vec<f64> {
    let f = Formula::parse(text).unwrap();
    let mut outputs = vec![f.value()];
    outputs.extend_from_slice(f.gradient());
    interpreted_as_compiled(text, &f, &outputs, x)
}

/// The nodes `outputs` of `f` (parsed from `text`) at `x`, interpreted,
/// after checking that the compiled code gives the same to the bit.
pub(crate) fn interpreted_as_compiled(
    text: &str,
    f: &Formula,
    outputs: &[NodeId],
    x: &[f64],
) -> Vec<f64> {
    let interpreted = f.eval_nodes(outputs, x);
    let compiled = Compiled::compile(f.graph(), outputs, x.len()).unwrap();
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
    // Constants whose product underflows are not folded to 0: x/1e200/1e200
    // at 1e300 is 1e-100, as the text gives.
    for text in ["x/1e200/1e200", "x*1e-200*1e-200", "1e-200*x*1e-200"] {
        let v = value_and_partials(text, &[1e300]);
        assert!(ulps(v[0], 1e-100) <= 2, "{text}: {v:?}");
        assert_eq!(v[1], 0.0, "{text}: 1e-400 is 0 as a double");
        let f = Formula::parse(text).unwrap();
        assert_ne!(f.expr(f.gradient()[0]).to_slope().unwrap(), "0", "{text}");
    }
    let v = value_and_partials("x^y", &[2.0, 3.0]);
    assert_eq!(v[..2], [8.0, 12.0]);
    assert!((v[2] - 8.0 * 2f64.ln()).abs() < 1e-15 * v[2]);
    // d/dy x^y = x^y*ln(x) has the limit 0 at x = 0 for y > 0 (the
    // product alone is 0*(-inf)); compiled and interpreted agree on it.
    for (y, dx) in [(2.0, 0.0), (0.5, f64::INFINITY), (1.0, 1.0)] {
        assert_eq!(
            value_and_partials("x^y", &[0.0, y]),
            [0.0, dx, 0.0],
            "y = {y}"
        );
    }
    assert_eq!(value_and_partials("x^(y^2)/y", &[0.0, 2.0])[2], 0.0);
    // Where x^y is not real the derivative in y is not either.
    assert!(value_and_partials("x^y", &[-2.0, 3.0])[2].is_nan());
    // It still prints as the product, and the proof still holds.
    let f = Formula::parse("x^y").unwrap();
    assert_eq!(f.expr(f.gradient()[1]).to_slope().unwrap(), "x^y*ln(x)");
    assert_eq!(value_and_partials("atan(x)", &[1e160])[1], 1e-320);
    assert_eq!(value_and_partials("asinh(x)", &[1e200])[1], 1e-200);
    let d = value_and_partials("acosh(x)", &[1e200])[1];
    assert!(ulps(d, 1e-200) <= 2, "{d:e}");
}

/// A random formula over `x` and `y` in the operations the reference does
/// exactly enough: `+ - * /`, `sqrt` and integer powers.
#[derive(Clone, Debug)]
enum Tree {
    Var(usize),
    Num(f64),
    Add(Box<Tree>, Box<Tree>),
    Sub(Box<Tree>, Box<Tree>),
    Mul(Box<Tree>, Box<Tree>),
    Div(Box<Tree>, Box<Tree>),
    Sqrt(Box<Tree>),
    Pow(Box<Tree>, i64),
}

impl Tree {
    fn text(&self) -> String {
        match self {
            Tree::Var(i) => ["x", "y"][*i].to_string(),
            Tree::Num(c) => format!("{c:?}"),
            Tree::Add(a, b) => format!("({} + {})", a.text(), b.text()),
            Tree::Sub(a, b) => format!("({} - {})", a.text(), b.text()),
            Tree::Mul(a, b) => format!("({} * {})", a.text(), b.text()),
            Tree::Div(a, b) => format!("({} / {})", a.text(), b.text()),
            Tree::Sqrt(a) => format!("sqrt({})", a.text()),
            Tree::Pow(a, n) => format!("({})^({n})", a.text()),
        }
    }

    fn reference(&self, x: &[f64]) -> Xd {
        match self {
            Tree::Var(i) => Xd::from(x[*i]),
            Tree::Num(c) => Xd::from(*c),
            Tree::Add(a, b) => a.reference(x).add(b.reference(x)),
            Tree::Sub(a, b) => a.reference(x).add(b.reference(x).neg()),
            Tree::Mul(a, b) => a.reference(x).mul(b.reference(x)),
            Tree::Div(a, b) => a.reference(x).div(b.reference(x)),
            Tree::Sqrt(a) => a.reference(x).sqrt(),
            Tree::Pow(a, n) => a.reference(x).powi(*n),
        }
    }
}

/// The exact value of `f`'s graph at `x`, where it holds only sums,
/// products and powers with integer or half-integer exponents.
fn graph_reference(f: &Formula, x: &[f64]) -> Option<Xd> {
    use slope::Node;
    let g = f.graph();
    let ids = slope::graph::reachable(g, &[f.value()]);
    let mut v: Vec<Option<Xd>> = vec![None; g.len()];
    for id in ids {
        let at = |c: &slope::NodeId| v[c.index()];
        let r = match g.node(id) {
            Node::Const(c) => Xd::from(*c),
            Node::Var(i) => Xd::from(x[*i as usize]),
            Node::Sum(ts) => ts
                .iter()
                .try_fold(Xd::from(0.0), |acc, t| Some(acc.add(at(t)?)))?,
            Node::Product(fs) => fs
                .iter()
                .try_fold(Xd::from(1.0), |acc, t| Some(acc.mul(at(t)?)))?,
            Node::Pow([b, e]) => {
                let (b, e) = (at(b)?, g.as_const(*e)?);
                let twice = 2.0 * e;
                if twice.fract() != 0.0 || twice.abs() > 1e4 {
                    return None;
                }
                let twice = twice as i64;
                if twice % 2 == 0 {
                    b.powi(twice / 2)
                } else {
                    b.sqrt().powi(twice)
                }
            }
            _ => return None,
        };
        v[id.index()] = Some(r);
    }
    v[f.value().index()]
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        (0usize..2).prop_map(Tree::Var),
        prop_oneof![
            Just(1.0),
            Just(2.0),
            Just(0.1),
            Just(3.7),
            Just(1e-8),
            Just(1e8)
        ]
        .prop_map(Tree::Num),
    ];
    leaf.prop_recursive(5, 32, 2, |inner| {
        let pair = (inner.clone(), inner.clone());
        prop_oneof![
            pair.clone()
                .prop_map(|(a, b)| Tree::Add(Box::new(a), Box::new(b))),
            pair.clone()
                .prop_map(|(a, b)| Tree::Sub(Box::new(a), Box::new(b))),
            pair.clone()
                .prop_map(|(a, b)| Tree::Mul(Box::new(a), Box::new(b))),
            pair.prop_map(|(a, b)| Tree::Div(Box::new(a), Box::new(b))),
            inner.clone().prop_map(|a| Tree::Sqrt(Box::new(a))),
            (inner, prop_oneof![-3i64..6, -40i64..40]).prop_map(|(a, n)| Tree::Pow(Box::new(a), n)),
        ]
    })
}

/// The value of random formulas at ordinary and extreme points lies within
/// the interpreter's own rounding-error bound (the running error analysis
/// that `check`'s numeric comparison and the properties rely on) of the
/// true value, plus the reference's rounding; compiled code gives the
/// interpreter's value to the bit. Points where the bound gives up (an
/// operation left the range of doubles) are skipped and counted.
#[test]
fn random_formulas_are_within_their_rounding_bound_of_the_true_value() {
    let point = prop_oneof![
        2 => -10.0f64..10.0,
        1 => extreme(false),
    ];
    let strategy = (tree(), [point.clone(), point]);
    let (compared, worst, unfolded) = (Cell::new(0usize), Cell::new(0u64), Cell::new(0usize));
    runner(3000)
        .run(&strategy, |(tree, x)| {
            let text = tree.text();
            let Ok(f) = Formula::parse(&text) else {
                return Ok(());
            };
            // Points for the variables the formula has, in its order.
            let at: Vec<f64> = f
                .vars()
                .iter()
                .map(|v| if v == "x" { x[0] } else { x[1] })
                .collect();
            let got = value_and_partials(&text, &at)[0];
            // The graph's own exact value: the parser folds constant
            // operations (`1e8 + 0.1`) into rounded constants, which the
            // bound (of the graph) takes as given. Both references agree
            // where nothing was folded.
            let Some(exact) = graph_reference(&f, &at) else {
                return Ok(());
            };
            let want = exact.to_f64();
            if tree.reference(&x).to_f64() == want {
                unfolded.set(unfolded.get() + 1);
            }
            if !got.is_finite() || !want.is_finite() || want.abs() < f64::MIN_POSITIVE {
                return Ok(());
            }
            let bound = crate::rounding::rounding_bound(&f, f.value(), &at, &|node, v, ops, b| {
                !v.is_finite()
                    || b.contains(&f64::INFINITY)
                    || crate::range::left_range(node, v, ops)
            });
            if !bound.is_finite() {
                return Ok(());
            }
            let ulp = f64::from_bits(want.abs().to_bits() + 1) - want.abs();
            compared.set(compared.get() + 1);
            if bound <= ulp {
                worst.set(worst.get().max(ulps(got, want)));
            }
            prop_assert!(
                (got - want).abs() <= 2.0 * bound + 2.0 * ulp,
                "{text} at {x:?}: {got:e}, true value {want:e} ({} ulps), bound {bound:e}",
                ulps(got, want)
            );
            Ok(())
        })
        .unwrap();
    // Most cases must compare something, or the test tests nothing.
    assert!(compared.get() > 1000, "only {} compared", compared.get());
    eprintln!(
        "{} of 3000 random formulas compared ({} with the text's value); where the bound \
         is under an ulp, the largest error is {} ulps",
        compared.get(),
        unfolded.get(),
        worst.get()
    );
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
