//! Property tests over random indexed formulas.
//!
//! A generator builds bodies from reads `x[i+c]` (c in -1..1, the range of
//! the sum shrunk so that every read stays in 1..n), the index as a number,
//! constants, + - * /, small integer powers and 0.5 on positive bodies,
//! sin, exp, ln and sqrt (of positive bodies); and wraps them in a sum, a
//! product, a log-sum-exp, a double sum over `j in i+1..`, an indexed `let`
//! or a combination of two of these. Each formula is also written out term
//! by term with scalar names `x_1 … x_n` (the unrolled twin). For each:
//!
//! - indexed == unrolled: value and gradient agree up to the rounding
//!   either can carry, bounded by a running error analysis of the twins
//!   (see [`agree`]);
//! - the compiled loops give the interpreter's value and gradient to the
//!   bit (or NaN both);
//! - the gradient agrees with central differences (Richardson-extrapolated)
//!   of the interpreted value;
//! - the Hessian-vector product (reverse over reverse, as loops) equals
//!   the twin's dense Hessian times the same direction, within the twin's
//!   rounding bound, and compiled gives the interpreter's product to the
//!   bit.

use std::cell::Cell;
use std::fmt::Write;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use slope::builtins::Func;
use slope::{Formula, Node, NodeId, Options};

// ---------------------------------------------------------------------------
// Bodies, written two ways
// ---------------------------------------------------------------------------

/// A body over one or two loop indices (0 is `i`, 1 is `j`).
#[derive(Clone, Debug)]
enum Body {
    /// `x[i+c]`
    Read(usize, i64),
    /// The index as a number.
    Index(usize),
    Const(&'static str),
    /// `a op b` for + - *.
    Bin(char, Box<Body>, Box<Body>),
    /// `a / (d + b^2)`: a quotient whose denominator stays at least d.
    Div(Box<Body>, &'static str, Box<Body>),
    /// `(a)^k` for a small integer k.
    Pow(Box<Body>, i32),
    /// `sqrt`, `ln` or `^0.5` of a positive body, `sin` or `exp` of any.
    Call(&'static str, Box<Body>),
}

/// Where a body is written: with its loop indices, or at given values of
/// them with the scalar names of the unrolled twin: `x_k` for x[k], or,
/// with a term number t, `y{t}{index}{offset+1}_k` (`y3j0_2` for x[j-1] at
/// j = 3), a copy of x[k] private to the term and to the read: the indexed
/// gradient adds each read's partial apart (x[i] and x[j-1] at j = i + 1
/// are two reads of one element), where one name would let canonical
/// forms merge them first.
#[derive(Clone, Copy)]
enum At<'a> {
    Indexed,
    Values(&'a [i64], Option<usize>),
}

const NAMES: [&str; 2] = ["i", "j"];

/// The prefixes of the twins' variables that hold the values of i and j.
const INDEX_VALUES: [&str; 2] = ["k", "m"];

impl Body {
    fn write(&self, at: At, out: &mut String) {
        match self {
            Body::Read(k, c) => match at {
                At::Indexed => {
                    let _ = match c {
                        0 => write!(out, "x[{}]", NAMES[*k]),
                        c if *c > 0 => write!(out, "x[{}+{c}]", NAMES[*k]),
                        c => write!(out, "x[{}-{}]", NAMES[*k], -c),
                    };
                }
                At::Values(v, None) => {
                    let _ = write!(out, "x_{}", v[*k] + c);
                }
                At::Values(v, Some(t)) => {
                    let _ = write!(out, "y{t}{}{}_{}", NAMES[*k], c + 1, v[*k] + c);
                }
            },
            // In the unrolled twin an index's value v is the variable
            // `k_v` (`m_v` for j), held at v: a number would be folded
            // with the constants around it, where the indexed body adds it
            // at run time (x[i] + i - 3 at i = 3 rounds x + 3 before taking
            // 3 away; x_3 + 3 - 3 is x_3), and the rounding bound of the
            // twin would not see that addition. One name for both indices
            // would fold j - i at j = i the same way.
            Body::Index(k) => match at {
                At::Indexed => out.push_str(NAMES[*k]),
                At::Values(v, _) => {
                    let _ = write!(out, "{}_{}", INDEX_VALUES[*k], v[*k]);
                }
            },
            Body::Const(c) => out.push_str(c),
            Body::Bin(op, a, b) => {
                out.push('(');
                a.write(at, out);
                let _ = write!(out, " {op} ");
                b.write(at, out);
                out.push(')');
            }
            Body::Div(a, d, b) => {
                out.push('(');
                a.write(at, out);
                let _ = write!(out, ")/({d} + (");
                b.write(at, out);
                out.push_str(")^2)");
            }
            Body::Pow(a, k) => {
                out.push('(');
                a.write(at, out);
                let _ = write!(out, ")^{k}");
            }
            Body::Call(f, a) => {
                // Positive arguments: 1 + a^2 for sqrt, ln and ^0.5.
                let positive = matches!(*f, "sqrt" | "ln" | "half");
                if *f == "half" {
                    out.push_str("(1 + (");
                    a.write(at, out);
                    out.push_str(")^2)^0.5");
                    return;
                }
                let _ = write!(out, "{f}(");
                if positive {
                    out.push_str("1 + (");
                }
                a.write(at, out);
                if positive {
                    out.push_str(")^2");
                }
                out.push(')');
            }
        }
    }

    fn text(&self, at: At) -> String {
        let mut s = String::new();
        self.write(at, &mut s);
        s
    }

    /// The least and greatest offset read through index `k` (0 and 0 when
    /// none is read).
    fn offsets(&self, k: usize) -> (i64, i64) {
        match self {
            Body::Read(m, c) if *m == k => (*c.min(&0), *c.max(&0)),
            Body::Read(..) | Body::Index(_) | Body::Const(_) => (0, 0),
            Body::Bin(_, a, b) | Body::Div(a, _, b) => {
                let (p, q) = (a.offsets(k), b.offsets(k));
                (p.0.min(q.0), p.1.max(q.1))
            }
            Body::Pow(a, _) | Body::Call(_, a) => a.offsets(k),
        }
    }
}

fn body(indices: usize) -> impl Strategy<Value = Body> {
    let leaf = prop_oneof![
        5 => (0..indices, -1i64..=1).prop_map(|(k, c)| Body::Read(k, c)),
        1 => (0..indices).prop_map(Body::Index),
        2 => prop::sample::select(vec!["2", "0.5", "3", "1.25", "0.1"]).prop_map(Body::Const),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            6 => (prop::sample::select(vec!['+', '-', '*']), inner.clone(), inner.clone())
                .prop_map(|(op, a, b)| Body::Bin(op, Box::new(a), Box::new(b))),
            1 => (inner.clone(), prop::sample::select(vec!["1", "2"]), inner.clone())
                .prop_map(|(a, d, b)| Body::Div(Box::new(a), d, Box::new(b))),
            2 => (inner.clone(), 2i32..=3).prop_map(|(a, k)| Body::Pow(Box::new(a), k)),
            3 => (prop::sample::select(vec!["sin", "exp", "ln", "sqrt", "half"]), inner)
                .prop_map(|(f, a)| Body::Call(f, Box::new(a))),
        ]
    })
}

/// A reduction over the array `x[1..n]`.
#[derive(Clone, Debug)]
enum Form {
    Sum(Body),
    Prod(Body),
    LogSumExp(Body),
    /// `sum(i in .., j in i+1.., body)`
    Double(Body),
    /// `let r[i] = body` and `sum(k in .., r[k]^2)`.
    Let(Body),
    /// `sum(i in .., g(inner(j in ..i, body)))`, g one of exp, sin and a
    /// square, inner `sum` or `prod`: a reduction inside a function
    /// inside a reduction, over a range that depends on the outer index.
    Nested(&'static str, &'static str, Body),
}

/// The range of index `k` of `body` that keeps its reads in 1..n.
fn range(body: &Body, k: usize, n: i64) -> (i64, i64) {
    let (lo, hi) = body.offsets(k);
    (1 - lo, n - hi)
}

impl Form {
    fn body(&self) -> &Body {
        match self {
            Form::Sum(b)
            | Form::Prod(b)
            | Form::LogSumExp(b)
            | Form::Double(b)
            | Form::Let(b)
            | Form::Nested(_, _, b) => b,
        }
    }

    /// The indexed text (with `let r[i]` definitions appended to `lets`
    /// under the name `name`), for the array `x[1..n]`.
    fn indexed(&self, n: i64, name: &str, lets: &mut String) -> String {
        let b = self.body();
        let (lo, hi) = range(b, 0, n);
        let body = b.text(At::Indexed);
        match self {
            Form::Sum(_) => format!("sum(i in {lo}..{hi}, {body})"),
            Form::Prod(_) => format!("prod(i in {lo}..{hi}, {body})"),
            Form::LogSumExp(_) => format!("log(sum(i in {lo}..{hi}, exp({body})))"),
            Form::Double(_) => {
                // j starts above i, itself at least 1, so x[j-1] is read
                // within the extent.
                let (_, hi_j) = range(b, 1, n);
                format!("sum(i in {lo}..{hi}, j in i+1..{hi_j}, {body})")
            }
            Form::Let(_) => {
                let _ = writeln!(lets, "let {name}[i] = {body}");
                format!("sum(k in {lo}..{hi}, {name}[k]^2)")
            }
            Form::Nested(g, inner, _) => {
                let (lo_i, hi, lo_j) = nested_ranges(b, n);
                let t = wrap(g, &format!("{inner}(j in {lo_j}..i, {body})"));
                format!("sum(i in {lo_i}..{hi}, {t})")
            }
        }
    }

    /// The same reduction written out term by term; with `copies`, each
    /// term reads its own copies of the variables, numbered on from
    /// `copies`' count.
    fn unrolled(&self, n: i64, copies: Option<&Cell<usize>>) -> String {
        let b = self.body();
        let (lo, hi) = range(b, 0, n);
        let term = |v: &[i64]| {
            let t = copies.map(|c| {
                c.set(c.get() + 1);
                c.get()
            });
            b.text(At::Values(v, t))
        };
        let terms: Vec<String> = match self {
            Form::Double(_) => {
                let (_, hi_j) = range(b, 1, n);
                (lo..=hi)
                    .flat_map(|i| (i + 1..=hi_j).map(move |j| [i, j]))
                    .map(|v| term(&v))
                    .collect()
            }
            Form::Nested(g, inner, _) => {
                let (lo_i, hi, lo_j) = nested_ranges(b, n);
                let (sep, empty) = if *inner == "sum" {
                    (" + ", "0")
                } else {
                    (" * ", "1")
                };
                (lo_i..=hi)
                    .map(|i| {
                        let parts: Vec<String> = (lo_j..=i).map(|j| term(&[i, j])).collect();
                        wrap(g, &join_or(&parts, sep, empty))
                    })
                    .collect()
            }
            _ => (lo..=hi).map(|i| term(&[i])).collect(),
        };
        match self {
            Form::Sum(_) | Form::Double(_) | Form::Nested(..) => join_or(&terms, " + ", "0"),
            Form::Prod(_) => join_or(&terms, " * ", "1"),
            Form::LogSumExp(_) => {
                let exps: Vec<String> = terms.iter().map(|t| format!("exp({t})")).collect();
                format!("log({})", join_or(&exps, " + ", "0"))
            }
            Form::Let(_) => {
                let squares: Vec<String> = terms.iter().map(|t| format!("({t})^2")).collect();
                join_or(&squares, " + ", "0")
            }
        }
    }
}

impl Form {
    /// The factors of a product, written out (none for other forms).
    fn factors(&self, n: i64) -> Vec<String> {
        match self {
            Form::Prod(b) => {
                let (lo, hi) = range(b, 0, n);
                (lo..=hi).map(|i| b.text(At::Values(&[i], None))).collect()
            }
            Form::Nested(_, "prod", b) => {
                let (lo_i, hi, lo_j) = nested_ranges(b, n);
                (lo_i..=hi)
                    .flat_map(|i| (lo_j..=i).map(move |j| [i, j]))
                    .map(|v| b.text(At::Values(&v, None)))
                    .collect()
            }
            _ => Vec::new(),
        }
    }
}

impl Top {
    fn forms(&self) -> Vec<&Form> {
        match self {
            Top::One(f) | Top::Sin(f) | Top::Square(f) => vec![f],
            Top::Two(_, f, g) => vec![f, g],
        }
    }
}

/// The ranges of a nested form: i in lo_i..hi, j in lo_j..i, keeping
/// every read of i and j (j at most i) in 1..n.
fn nested_ranges(body: &Body, n: i64) -> (i64, i64, i64) {
    let (lo_i, hi_i) = range(body, 0, n);
    let (lo_j, hi_j) = range(body, 1, n);
    (lo_i, hi_i.min(hi_j), lo_j)
}

/// `g` applied to `t`.
fn wrap(g: &str, t: &str) -> String {
    match g {
        "square" => format!("({t})^2"),
        g => format!("{g}({t})"),
    }
}

fn join_or(terms: &[String], sep: &str, empty: &str) -> String {
    if terms.is_empty() {
        empty.to_string()
    } else {
        terms
            .iter()
            .map(|t| format!("({t})"))
            .collect::<Vec<_>>()
            .join(sep)
    }
}

/// A reduction; with `nested`, only reductions inside functions inside
/// reductions (see `nested_reductions_equal_their_unrolled_twins`).
fn form(nested: bool) -> BoxedStrategy<Form> {
    if nested {
        (
            prop::sample::select(vec!["exp", "sin", "square"]),
            prop::sample::select(vec!["sum", "prod"]),
            body(2),
        )
            .prop_map(|(g, inner, b)| Form::Nested(g, inner, b))
            .boxed()
    } else {
        prop_oneof![
            4 => body(1).prop_map(Form::Sum),
            2 => body(1).prop_map(Form::Prod),
            2 => body(1).prop_map(Form::LogSumExp),
            3 => body(2).prop_map(Form::Double),
            2 => body(1).prop_map(Form::Let),
        ]
        .boxed()
    }
}

/// A whole formula: one reduction, or two combined, or one inside a
/// function.
#[derive(Clone, Debug)]
enum Top {
    One(Form),
    Two(char, Form, Form),
    Sin(Form),
    Square(Form),
}

impl Top {
    /// The indexed text and its unrolled twin, for `x[1..n]` (with
    /// `copies`, the twin whose terms read copies of the variables).
    fn texts(&self, n: i64, copies: Option<&Cell<usize>>) -> (String, String) {
        let mut lets = String::new();
        let (indexed, unrolled) = match self {
            Top::One(f) => (f.indexed(n, "r", &mut lets), f.unrolled(n, copies)),
            Top::Two(op, f, g) => (
                format!(
                    "({}) {op} ({})",
                    f.indexed(n, "r", &mut lets),
                    g.indexed(n, "s", &mut lets)
                ),
                format!(
                    "({}) {op} ({})",
                    f.unrolled(n, copies),
                    g.unrolled(n, copies)
                ),
            ),
            Top::Sin(f) => (
                format!("sin({})", f.indexed(n, "r", &mut lets)),
                format!("sin({})", f.unrolled(n, copies)),
            ),
            Top::Square(f) => (
                format!("({})^2", f.indexed(n, "r", &mut lets)),
                format!("({})^2", f.unrolled(n, copies)),
            ),
        };
        (
            format!("param n = {n}\nvar x[1..n]\n{lets}{indexed}"),
            unrolled,
        )
    }
}

fn top(nested: bool) -> impl Strategy<Value = Top> {
    prop_oneof![
        6 => form(nested).prop_map(Top::One),
        3 => (prop::sample::select(vec!['+', '*']), form(nested), form(nested))
            .prop_map(|(op, f, g)| Top::Two(op, f, g)),
        1 => form(nested).prop_map(Top::Sin),
        1 => form(nested).prop_map(Top::Square),
    ]
}

/// A formula, its size n and a point in [-1.5, 1.5]^n.
fn case(nested: bool) -> impl Strategy<Value = (Top, Vec<f64>)> {
    (top(nested), 3usize..=6).prop_flat_map(|(t, n)| {
        (
            Just(t),
            prop::collection::vec((-150i32..=150).prop_map(|k| k as f64 / 100.0), n),
        )
    })
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

fn fail(text: &str, message: String) -> TestCaseError {
    TestCaseError::fail(format!("{text}\n{message}"))
}

/// The rounding bound of the unrolled formula's `node` at `x`, which gives
/// up at a value that is not finite, after a bound that gave up, and at a
/// periodic function of an argument off by more than a radian: sin of
/// exp(576), whose argument's ulp is 1e234, is a number with no digit of
/// the function (its bound would say 2, and its differences are 0 while
/// its derivative is 1e18). It gives up too where a product, a power or
/// an exponential of non-zero numbers underflows, leaving the doubles at
/// the other end: `S^-2` of a sum `S` of `exp(e^6)` is 0 for 1e-350, and a
/// Hessian term `S'^2 * S^-2` of size 1 vanishes from the twin's entry.
fn rounding_bound(f: &Formula, node: NodeId, x: &[f64]) -> f64 {
    crate::rounding::rounding_bound(f, node, x, &|op, value, operands, bounds| {
        let periodic = matches!(op, Node::Call1(Func::Sin | Func::Cos | Func::Tan, _));
        let scaling = matches!(
            op,
            Node::Product(_) | Node::Pow(_) | Node::Call1(Func::Exp, _)
        );
        let underflow = scaling
            && value.abs() < f64::MIN_POSITIVE
            && operands.iter().all(|&a| a != 0.0 && a.is_finite());
        !value.is_finite()
            || bounds.contains(&f64::INFINITY)
            || (periodic && bounds[0] > 1.0)
            || underflow
    })
}

/// Indexed and unrolled agree on `a` and `b`: NaN both, or within four
/// times `bound` plus a few ulps of the result. `bound` is the sum of two
/// running error analyses (rounding.rs): of the unrolled twin, and of the
/// twin whose terms read private copies of the variables, which computes
/// each term apart and then adds them, as the indexed loops do, so that no
/// canonical merging across terms (x_2 - x_2 telescoping) hides the
/// indexed evaluation's error. A tolerance of a fixed number of ulps would
/// be dishonest: terms that cancel leave a result far smaller than the
/// error of its terms, and an index added at run time (x[i] + i - 3 at
/// i = 3) rounds where the twin's folded constants do not.
///
/// Where the bound gave up, a value on the way left the doubles (exp(6^6)
/// is infinite) and neither side's result means anything: the indexed sum
/// adds inf*(-1) and inf*1.01 as they come (NaN) where the twin merged the
/// coefficients first (inf). Such results are not compared, nor those
/// whose bound is NaN (the twin with copies adds an infinite partial of
/// one copy to a NaN one of another: exp(exp(2)^6) is infinite).
fn agree(a: f64, b: f64, bound: f64) -> bool {
    if bound == f64::INFINITY || bound.is_nan() {
        return true;
    }
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    (a - b).abs() <= 4.0 * bound + 8.0 * f64::EPSILON * a.abs().max(b.abs())
}

/// Central differences with steps h and h/2, extrapolated, against the
/// exact partial `g` of x[k]. Returns whether the component was checked
/// (not where f is not finite nearby, where the steps disagree, a sign of
/// a function too curved or too noisy for them, or where the exact
/// partial swings across the smallest step).
fn check_difference(f: &Formula, x: &[f64], k: usize, g: f64, noise: f64) -> Result<bool, String> {
    let h = 1e-4 * (1.0 + x[k].abs());
    let stencil = |h: f64| {
        let mut p = x.to_vec();
        p[k] = x[k] + h;
        let up = f.eval(&p);
        p[k] = x[k] - h;
        let down = f.eval(&p);
        (up - down) / (2.0 * h)
    };
    let (d1, d2) = (stencil(h), stencil(h / 2.0));
    if !d1.is_finite() || !d2.is_finite() || !g.is_finite() {
        return Ok(false);
    }
    // Differences of which the value's rounding over the step is a tenth
    // or more say little: sin(exp(28.4)) turns 10^11 radians over a step,
    // its value is off by a tenth, and its stencils give a few thousand of
    // either sign, all within that noise. (The exact partial is still
    // compared with the unrolled twin's.)
    if noise / (h / 2.0) >= 0.1 * d1.abs().max(d2.abs()) {
        return Ok(false);
    }
    // The steps must agree among themselves (the exact value plays no
    // part in choosing what to check), and much smaller steps too: sin of
    // a product near 5e4 turns faster than the steps and can fool two of
    // them, and sin of (x^2 + e^3)^5, near 4e6, turns once in 3e-6 and fooled
    // three (h = 1e-4, h/2 and h/64 all gave -3.9e4 where the partial is
    // -1.35e6).
    let agree_steps =
        |a: f64, b: f64, h: f64| (a - b).abs() <= 1e-3 * a.abs().max(b.abs()) + noise / h;
    if !agree_steps(d1, d2, h / 2.0) {
        return Ok(false);
    }
    let mut previous = d2;
    for small in [h / 64.0, h / 4096.0] {
        let d = stencil(small);
        if !d.is_finite() || !agree_steps(previous, d, small) {
            return Ok(false);
        }
        previous = d;
    }
    // A quotient of differences is the mean of the partial over its step,
    // so it says nothing where the partial itself swings across the
    // smallest step: sin of a product near 3e8 turns once in 1.5e-8 of
    // x[6], under the smallest step's 2.8e-8, and all four steps agreed on
    // -5.4438e9, the partial of the rest of the formula, where the whole
    // partial is -5.3468e9. The exact partial's second difference over
    // that step, which a smooth partial keeps near s²·f''', tells.
    let tiny = h / 4096.0;
    let partial_at = |t: f64| {
        let mut p = x.to_vec();
        p[k] = x[k] + t;
        f.value_grad(&p).1[k]
    };
    let swing = partial_at(tiny) + partial_at(-tiny) - 2.0 * g;
    if !swing.is_finite() || swing.abs() > 1e-7 * g.abs().max(d2.abs()) + noise / tiny {
        return Ok(false);
    }
    // Extrapolated from steps s and s/2 the error is O(s^4), plus the
    // value's rounding divided by the step, plus a tenth of the spread of
    // the two stencils (which bounds the next term once s is small against
    // the function's turns). Of s = h and s = h/64, the one with the smaller
    // such bound is compared: sin of a product near 940 turns 0.12 radians
    // over h, where the terms past h^4 still count (off by 7e-6 of 237).
    let scale = g.abs().max(d1.abs()).max(d2.abs());
    let (fine1, fine2) = (stencil(h / 64.0), stencil(h / 128.0));
    let bound = |a: f64, b: f64, s: f64| 4.0 * noise / s + 0.1 * (a - b).abs();
    let (d, slack, s, a, b) = if fine1.is_finite()
        && fine2.is_finite()
        && bound(fine1, fine2, h / 64.0) < bound(d1, d2, h)
    {
        let b = bound(fine1, fine2, h / 64.0);
        (extrapolate(fine1, fine2), b, h / 64.0, fine1, fine2)
    } else {
        (extrapolate(d1, d2), bound(d1, d2, h), h, d1, d2)
    };
    if !d.is_finite() {
        return Ok(false);
    }
    if (g - d).abs() > 1e-6 * scale + slack {
        return Err(format!(
            "d/dx[{}]: exact {g} but central differences {d} (steps {s}: {a}, {}: {b})",
            k + 1,
            s / 2.0
        ));
    }
    Ok(true)
}

/// Richardson's extrapolation of central differences with steps h and
/// h/2, `(4·d₂ − d₁)/3`, written as `d₂ + (d₂ − d₁)/3` so that it does not
/// overflow where the differences are near the largest double (4·d₂ is
/// infinite for d₂ ≈ 7.7e307, a partial the compiled code gives exactly).
fn extrapolate(d1: f64, d2: f64) -> f64 {
    d2 + (d2 - d1) / 3.0
}

/// 600 cases (about a second in the debug test profile: each parses three
/// formulas and compiles one), or as many as `PROPTEST_CASES` says; the
/// seed as in `properties.rs` (fixed under CI).
fn options() -> Config {
    let mut config = crate::properties::options();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 600;
    }
    config
}

/// The variables of the unrolled twins: x_1 … x_n, then the index values
/// k_1 … k_n and m_1 … m_n (held at 1 … n), then (in the twin with
/// copies) the copies `y{t}{index}{offset+1}_k` of x[k], in the order the
/// formula found them.
fn twin(text: &str, n: usize, copies: bool) -> Result<Formula, TestCaseError> {
    let names: Vec<String> = (1..=n)
        .map(|k| format!("x_{k}"))
        .chain(
            INDEX_VALUES
                .iter()
                .flat_map(|i| (1..=n).map(move |k| format!("{i}_{k}"))),
        )
        .collect();
    let options = Options {
        vars: (!copies).then_some(names),
        ..Options::default()
    };
    Formula::parse_with(text, &options).map_err(|e| {
        fail(
            text,
            format!("does not parse:\n{}", e.render(text, "<twin>")),
        )
    })
}

/// Where each variable of a twin takes its value: x[k] (index k - 1), or
/// the number v for `k_v` and `m_v`.
enum Source {
    X(usize),
    Number(f64),
}

/// The point at which a twin's variables take the values `x` gives its
/// array elements (see [`Source`]).
fn twin_point(f: &Formula, x: &[f64]) -> Vec<f64> {
    f.vars()
        .iter()
        .map(|name| match source(name) {
            Source::X(k) => x[k],
            Source::Number(v) => v,
        })
        .collect()
}

fn source(name: &str) -> Source {
    if let Some(v) = INDEX_VALUES
        .iter()
        .find_map(|i| name.strip_prefix(i)?.strip_prefix('_'))
    {
        Source::Number(v.parse().unwrap())
    } else {
        let k = name.rsplit('_').next().unwrap();
        Source::X(k.parse::<usize>().unwrap() - 1)
    }
}

/// A twin's value and gradient with respect to x[1..n] (the partials of all
/// copies of x[k] added up), each with its rounding bound.
fn twin_values(f: &Formula, x: &[f64]) -> ((f64, f64), Vec<(f64, f64)>) {
    let sources: Vec<Source> = f.vars().iter().map(|v| source(v)).collect();
    let point = twin_point(f, x);
    let (v, g) = f.value_grad(&point);
    let value = (v, rounding_bound(f, f.value(), &point));
    let mut grad = vec![(0.0, 0.0); x.len()];
    let mut spread = vec![(0usize, 0.0f64); x.len()];
    for (m, s) in sources.iter().enumerate() {
        if let Source::X(k) = s {
            grad[*k].0 += g[m];
            grad[*k].1 += rounding_bound(f, f.gradient()[m], &point);
            spread[*k].0 += 1;
            spread[*k].1 += g[m].abs();
        }
    }
    // Adding the copies' partials rounds too.
    for (gk, (count, magnitude)) in grad.iter_mut().zip(spread) {
        gk.1 += f64::EPSILON * count as f64 * magnitude;
    }
    (value, grad)
}

#[test]
fn indexed_formulas_equal_their_unrolled_twins_compile_exactly_and_match_differences() {
    property(false);
}

/// Found by the nested property: sin of a product near 3e8 turns faster
/// in x[6] than the smallest difference step, and the steps, fooled alike,
/// agreed on the partial of the formula's other term. The exact partial's
/// swing over that step marks the component unchecked; x[1], whose
/// partial is smooth there, is still checked.
#[test]
fn a_partial_turning_faster_than_the_smallest_step_is_not_checked() {
    let text = "param n = 6
var x[1..n]
(sum(i in 1..6, sin(prod(j in 1..i, (x[i] + (j)^3))))) + (sum(i in 2..5, (prod(j in 2..i, ((exp(x[i-1]))^3 - (i + (x[j-1])/(1 + (x[j+1])^2)))))^2))";
    let f = Formula::parse(text).unwrap();
    let x = [0.0, 0.0, 0.0, 1.15, 0.0, -0.14];
    let (_, g) = f.value_grad(&x);
    // About the rounding bound the property had for this value of 2e11
    // (the unrolled twins' bounds, larger than one ulp of it), with which
    // the smallest steps agreed too.
    let noise = 0.02;
    assert_eq!(check_difference(&f, &x, 5, g[5], noise), Ok(false));
    assert_eq!(check_difference(&f, &x, 0, g[0], noise), Ok(true));
}

/// The same property over reductions inside functions inside reductions
/// with dependent ranges, `sum(i in .., exp(prod(j in 1..i, …)))`: the
/// inner reduction is differentiated inside the outer one's body, its
/// reads become scatters over both loops, and both evaluators run it
/// inside those loops (where it moves their index j and overwrites the
/// values of its body).
#[test]
fn nested_reductions_equal_their_unrolled_twins() {
    property(true);
}

fn property(nested: bool) {
    let cases = Cell::new(0usize);
    let finite = Cell::new(0usize);
    let differences = Cell::new(0usize);
    let zero_factors = Cell::new(0usize);
    let products = Cell::new(0usize);
    let mut runner = TestRunner::new(options());
    let result = runner.run(&case(nested), |(top, x)| {
        let n = x.len();
        let (text, flat) = top.texts(n as i64, None);
        let (_, copied) = top.texts(n as i64, Some(&Cell::new(0)));
        let mut indexed = Formula::parse(&text).map_err(|e| {
            fail(
                &text,
                format!("does not parse:\n{}", e.render(&text, "<p>")),
            )
        })?;
        prop_assert_eq!(indexed.vars().len(), n);
        let mut unrolled = twin(&flat, n, false)?;
        let separate = twin(&copied, n, true)?;
        let both = format!("{text}\nunrolled: {flat}\nat {x:?}");

        // A product with a factor exactly 0 at x, where the gradient must
        // not divide by the factor (`a_product_with_a_zero_factor_has_a_gradient`):
        // compared like any other, and counted, to show that the
        // generator reaches it.
        let zero_factor = top.forms().iter().any(|form| {
            form.factors(n as i64).iter().any(|factor| {
                let f = twin(factor, n, false).unwrap();
                let values = (1..=n).map(|k| k as f64);
                let point: Vec<f64> = x
                    .iter()
                    .copied()
                    .chain(values.clone())
                    .chain(values)
                    .collect();
                f.eval(&point) == 0.0
            })
        });

        // Indexed == unrolled. The unrolled twin with shared names lets
        // canonical forms merge terms across the sum (x_2 - x_2
        // telescopes), so its rounding bound need not cover the indexed
        // evaluation, which computes each term apart and then adds them;
        // the twin whose terms read private copies of the variables does
        // exactly that, so its bound does. The two bounds together cover
        // the difference (each, as in properties.rs, taken four times).
        let (v, g) = indexed.value_grad(&x);
        let ((fv, bound), fg) = twin_values(&unrolled, &x);
        let ((_, separate_bound), sg) = twin_values(&separate, &x);
        let total = bound + separate_bound;
        if !agree(v, fv, total) {
            return Err(fail(
                &both,
                format!("value {v:e}, unrolled {fv:e} (bounds {bound:e}, {separate_bound:e})"),
            ));
        }
        if zero_factor {
            zero_factors.set(zero_factors.get() + 1);
        }
        for k in 0..n {
            let total = fg[k].1 + sg[k].1;
            if !agree(g[k], fg[k].0, total) {
                return Err(fail(
                    &both,
                    format!(
                        "d/dx[{}]: {:e}, unrolled {:e} (bounds {:e}, {:e})",
                        k + 1,
                        g[k],
                        fg[k].0,
                        fg[k].1,
                        sg[k].1
                    ),
                ));
            }
        }

        // Compiled == interpreted, to the bit.
        let compiled = indexed
            .compile()
            .map_err(|e| fail(&both, format!("does not compile: {e:?}")))?;
        let (cv, cg) = compiled.value_grad(&x).unwrap();
        let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        if !same(cv, v) || !cg.iter().zip(&g).all(|(a, b)| same(*a, *b)) {
            return Err(fail(
                &both,
                format!("compiled {cv:e}, {cg:?}; interpreted {v:e}, {g:?}"),
            ));
        }
        let cvalue = compiled.value(&x).unwrap();
        if !same(cvalue, v) {
            return Err(fail(
                &both,
                format!("compiled value {cvalue:e}, interpreted {v:e}"),
            ));
        }

        // The shared names may cancel a factor whose reads the loops
        // differentiate apart (x_2 - x_2 is 0, x[i] - x[j] at j = i is two
        // reads): the size of the terms they add apart. Not only in a
        // product reduction's factor: in `x[i+1]/(1 + x[i]^2) * (x[i-1] -
        // x[j-1])` at i = j = 2 the loops' (Hv)[1] was 1.3e-17 where the
        // twin's x_1 - x_1 is 0 with no rounding.
        let apart = added_apart(&separate, &x);
        let hv = match apart {
            // Where the value overflows, a factor of the Hessian is
            // infinite: the loops give inf*0 = NaN where the twin's
            // canonical form has no term at all (a found case: inf times
            // the sum of exp(prod(j in 1..i, x[i-1] - x[j])), whose
            // factor x_1 - x_1 makes it constant in the twin).
            Some(_) if !v.is_finite() => Ok(false),
            Some(apart) => {
                // A product divides the product of its non-zero factors
                // by the factor, where the twin multiplies the others: a
                // few more roundings of the terms' size.
                let has_product = top.forms().iter().any(|f| !f.factors(n as i64).is_empty());
                let ulps = if has_product { 64.0 } else { 4.0 };
                let slack = Slack { apart, ulps };
                check_hess_vec(&mut indexed, &compiled, &mut unrolled, &x, slack)
            }
            None => Ok(false),
        };
        if hv.map_err(|m| fail(&both, m))? {
            products.set(products.get() + 1);
        }

        // Gradient against central differences.
        cases.set(cases.get() + 1);
        if v.is_finite() && g.iter().all(|d| d.is_finite()) {
            finite.set(finite.get() + 1);
            let noise = total.max(f64::EPSILON * v.abs());
            if noise.is_finite() {
                for (k, &gk) in g.iter().enumerate() {
                    if check_difference(&indexed, &x, k, gk, noise).map_err(|m| fail(&both, m))? {
                        differences.set(differences.get() + 1);
                    }
                }
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!(
        "indexed == unrolled: {} formulas, {} finite, {} partials checked against differences, \
         {} with a zero factor in a product, {} finite Hessian-vector products compared",
        cases.get(),
        finite.get(),
        differences.get(),
        zero_factors.get(),
        products.get()
    );
    assert!(
        products.get() * 2 > cases.get(),
        "too few Hessian-vector products were compared: {} of {}",
        products.get(),
        cases.get()
    );
    assert!(
        finite.get() * 4 > cases.get() * 3,
        "too few formulas were finite at their points: {} of {}",
        finite.get(),
        cases.get()
    );
}

/// A direction for the Hessian-vector product at `x`, not parallel to it
/// and with no zero component.
fn direction(x: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|k| 0.75 - 0.5 * k as f64 + 0.25 * x[x.len() - 1 - k])
        .map(|d| if d == 0.0 { 0.5 } else { d })
        .collect()
}

/// The indexed Hessian-vector product against the unrolled twin's dense
/// Hessian times the same direction, component by component, within four
/// times the twin's rounding bound (each entry's bound times |v_j|) and a
/// few ulps of the largest row of |H|·|v| per variable (see [`agree`]); and the compiled
/// product against the interpreted one, to the bit (or NaN both). Returns
/// whether the products were compared (not where the twin's Hessian is
/// over the size limits or not finite).
///
/// A product's gradient divides the product of the non-zero factors by
/// the factor, but its own derivative is formed without the terms that
/// would cancel (`diff/product.rs`): products, with a zero factor or not,
/// are held to a few ulps (`slack.ulps` per variable) of the row's
/// magnitude (before that rule: 10⁻⁹ of it, and NaN at a zero factor).
fn check_hess_vec(
    indexed: &mut Formula,
    compiled: &slope::CompiledFormula,
    twin: &mut Formula,
    x: &[f64],
    slack: Slack,
) -> Result<bool, String> {
    let n = x.len();
    let v = direction(x);
    let mut hv = vec![0.0; n];
    indexed
        .hess_vec(x, &v, &mut hv)
        .map_err(|e| format!("Hv: {e:?}"))?;
    let chv = compiled
        .hessian_times(x, &v)
        .map_err(|e| format!("compiled Hv: {e:?}"))?;
    let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    if !hv.iter().zip(&chv).all(|(a, b)| same(*a, *b)) {
        return Err(format!("compiled Hv {chv:?}, interpreted {hv:?}"));
    }
    let Ok(rows) = twin.hessian() else {
        return Ok(false);
    };
    let point = twin_point(twin, x);
    let entries: Vec<NodeId> = rows[..n].iter().flat_map(|r| r[..n].to_vec()).collect();
    let values = twin.eval_nodes(&entries, &point);
    if values.iter().any(|h| !h.is_finite()) {
        return Ok(false);
    }
    // The largest row of |H|·|v|: terms that cancel in one row of the
    // twin (exp(x2 - x1)*exp(x3 - x2) telescopes) are added apart by the
    // loops, with a rounding of that size.
    let scale = (0..n)
        .map(|k| {
            (0..n)
                .map(|j| (values[k * n + j] * v[j]).abs())
                .sum::<f64>()
        })
        .fold(0.0, f64::max)
        .max(cancelled(indexed, x) * v.iter().fold(0.0, |m: f64, d| m.max(d.abs())));
    let vmax = v.iter().fold(0.0f64, |m, d| m.max(d.abs()));
    for k in 0..n {
        let (mut want, mut bound) = (0.0, 0.0);
        for j in 0..n {
            want += values[k * n + j] * v[j];
            bound += rounding_bound(twin, entries[k * n + j], &point) * v[j].abs();
        }
        bound += slack.ulps * n as f64 * f64::EPSILON * scale + slack.apart * vmax;
        if !agree(hv[k], want, bound) {
            return Err(format!(
                "(Hv)[{}] along {v:?}: {:e}, the unrolled Hessian's {want:e} (bound {bound:e})",
                k + 1,
                hv[k]
            ));
        }
    }
    let dense = TwinHessian {
        twin,
        entries: &entries,
        values: &values,
        point: &point,
    };
    check_sparse_hessian(indexed, compiled, &dense, x, slack)?;
    Ok(true)
}

/// What the Hessian checks allow beyond the twin's rounding bound: `ulps`
/// times the number of variables of the largest row or entry, and `apart`
/// (see [`added_apart`]).
#[derive(Clone, Copy)]
struct Slack {
    ulps: f64,
    apart: f64,
}

/// A size for the rounding of second derivatives that the loops add
/// apart and the twin with shared names cancels whole: a few ulps of the
/// largest row of |H| of the twin whose every read is a variable of its
/// own (`None` where that Hessian is over the limits).
fn added_apart(separate: &Formula, x: &[f64]) -> Option<f64> {
    let mut f = separate.clone();
    let rows = f.hessian().ok()?;
    let point = twin_point(&f, x);
    let largest = rows
        .iter()
        .map(|row| {
            f.eval_nodes(row, &point)
                .iter()
                .map(|h| h.abs())
                .sum::<f64>()
        })
        .fold(0.0, f64::max);
    Some(4.0 * rows.len() as f64 * f64::EPSILON * largest)
}

/// A size for second derivatives that the twin's canonical form cancels
/// whole: `log(exp(u))` is `u` there, while the loops form
/// `h''(u)·∇u∇uᵀ + h'(u)·∇²u` term by term, whose terms have the size of
/// the squared gradient. The largest partial squared.
fn cancelled(indexed: &Formula, x: &[f64]) -> f64 {
    let (_, g) = indexed.value_grad(x);
    g.iter().fold(0.0, |m: f64, d| m.max(d * d))
}

/// The unrolled twin's dense Hessian: its entries' nodes and values at
/// `point`.
#[derive(Clone, Copy)]
struct TwinHessian<'a> {
    twin: &'a Formula,
    entries: &'a [NodeId],
    values: &'a [f64],
    point: &'a [f64],
}

/// The sparse Hessian (from grouped products), interpreted and compiled
/// to the bit, against the unrolled twin's dense one `values` (its
/// `entries`, at `point`, whose first variables are `x`), entry by entry,
/// both triangles: within four times the twin entry's rounding bound and
/// a few ulps of the largest entry (see [`check_hess_vec`]). An entry
/// outside the pattern must be 0 in the twin: the pattern misses nothing.
fn check_sparse_hessian(
    indexed: &mut Formula,
    compiled: &slope::CompiledFormula,
    dense: &TwinHessian<'_>,
    x: &[f64],
    slack: Slack,
) -> Result<(), String> {
    let TwinHessian {
        twin,
        entries,
        values,
        point,
    } = *dense;
    let n = x.len();
    let sparse = indexed
        .sparse_hessian(x)
        .map_err(|e| format!("sparse Hessian: {e:?}"))?;
    let by_code = compiled
        .sparse_hessian(x)
        .map_err(|e| format!("compiled sparse Hessian: {e:?}"))?;
    let same = |a: &f64, b: &f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    if sparse.cols != by_code.cols
        || !sparse
            .values
            .iter()
            .zip(&by_code.values)
            .all(|(a, b)| same(a, b))
    {
        return Err(format!(
            "compiled sparse Hessian {by_code:?}, interpreted {sparse:?}"
        ));
    }
    let dense = sparse.to_dense();
    // The largest entry: the loops add apart what the twin's canonical
    // form cancels (log(exp(u)) is u), anywhere in the matrix.
    let scale = values
        .iter()
        .fold(cancelled(indexed, x), |m: f64, h| m.max(h.abs()));
    for k in 0..n {
        for j in 0..n {
            let want = values[k * n + j];
            let bound = rounding_bound(twin, entries[k * n + j], point)
                + slack.ulps * n as f64 * f64::EPSILON * scale
                + slack.apart;
            if !agree(dense[k * n + j], want, bound) {
                return Err(format!(
                    "sparse H[{}][{}] = {:e}, the unrolled Hessian's {want:e} (bound {bound:e})",
                    k + 1,
                    j + 1,
                    dense[k * n + j]
                ));
            }
        }
    }
    Ok(())
}

/// The gradient of a product where factors are 0: the product of the
/// other factors, not prod/factor (0/0). d/dx[2] of prod(i in 1..2,
/// x[i]^2) at (1, 0) is 2*x[2]*x[1]^2 = 0 and d/dx[2] of prod(i in 1..2,
/// x[i]) is x[1] = 1; with two zero factors every partial is 0; inside a
/// sum whose outer index bounds it, each product has its own zeros.
/// Interpreted and compiled alike.
#[test]
fn a_product_with_a_zero_factor_has_a_gradient() {
    for (text, x, want) in [
        (
            "var x[1..2]\nprod(i in 1..2, x[i]^2)",
            &[1.0, 0.0][..],
            &[0.0, 0.0][..],
        ),
        (
            "var x[1..2]\nprod(i in 1..2, x[i])",
            &[1.0, 0.0],
            &[0.0, 1.0],
        ),
        (
            "var x[1..4]\nprod(i in 1..4, x[i])",
            &[2.0, 0.0, 3.0, 5.0],
            &[0.0, 30.0, 0.0, 0.0],
        ),
        (
            "var x[1..3]\nprod(i in 1..3, x[i])",
            &[0.0, 2.0, 0.0],
            &[0.0, 0.0, 0.0],
        ),
        (
            "var x[1..3]\nsum(i in 1..3, prod(j in 1..i, x[j]))",
            &[2.0, 0.0, 3.0],
            &[1.0, 8.0, 0.0],
        ),
    ] {
        let f = Formula::parse(text).unwrap();
        let (_, g) = f.value_grad(x);
        assert_eq!(g, want, "{text}");
        let (_, cg) = f.compile().unwrap().value_grad(x).unwrap();
        assert_eq!(cg, want, "{text}, compiled");
    }
}
