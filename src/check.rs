//! Derivative checks for `slope check`: the exact gradient (and Hessian)
//! against finite differences at points, and derivatives written by hand
//! against the exact ones.
//!
//! **Exact against finite differences.** Along each coordinate, [`fd::along`]
//! gives a central difference `C` (step `h_c = ∛ε·max(1, |xᵢ|)`) and a
//! Richardson estimate `R` (steps `h = ε^(1/5)·max(1, |xᵢ|)` and `h/2`),
//! which is the one reported, and a second Richardson estimate `R'` with
//! half the steps. The error of `R` is not known (its truncation term
//! needs the fifth derivative), so it is bounded by what can be measured:
//! `|R − R'|`, about 15/16 of it, and `|R − C|`, at least the error of the
//! cruder `C` (either alone can be fooled when two errors happen to be
//! equal, which high-frequency functions such as Ackley's do show); plus
//! the rounding of the differences, `ε·S/h` where `S` is the scale of the
//! values differenced (the largest |f| over the stencil, or the largest
//! term of a sum in f, whichever is larger, since a sum rounds at the size
//! of its terms). The tolerance is
//! `2·max(|R − C|, |R − R'|) + 4·ε·S/h_c + 32·ε·S/h + 16·ε·max(|exact|, |R|)`,
//! the last term for the rounding of the exact value itself.
//!
//! Points where the outputs are not finite at the point or anywhere in the
//! stencil, and points whose stencil reaches across a kink (`abs`, `sign`,
//! `floor`, `ceil`, `min`, `max`, the branch cut of `atan2`), are skipped
//! with the reason: differences there measure the jump, not the derivative.
//!
//! **Hand-written derivatives.** The hand formula is lowered into the
//! formula's own graph ([`Formula::parse_into`]), so the canonical
//! constructors already equate most rewritings. What they cannot see (a
//! product over a sum, a quotient-rule form over a common denominator,
//! `sin² + cos² = 1`) a bounded normaliser decides: it brings the
//! difference to a rational function over atoms (variables and
//! non-polynomial subterms with normalised arguments) and proves equality
//! if the numerator cancels. Otherwise the two are compared at
//! [`NUMERIC_POINTS`] random points.

use rustc_hash::FxHashMap;

use crate::builtins::Func;
use crate::error::{Error, ErrorKind, Result, Span};
use crate::eval::{Interpreter, reachable};
use crate::fd;
use crate::formula::Formula;
use crate::graph::{Graph, Node, NodeId};
use crate::jit::Compiled;

/// How many points a hand derivative is compared at when no proof is found.
pub const NUMERIC_POINTS: usize = 200;

/// Draws per wanted point before giving up on points where both sides are
/// finite (a formula defined on a small part of the box).
const DRAWS_PER_POINT: usize = 10;

/// Relative difference (to the scale of the values and of their sums'
/// terms) up to which a hand derivative agrees with the exact one.
const NUMERIC_TOLERANCE: f64 = 1e-9;

/// The `k`-th random point in a box from `seed`: the same stream the
/// optimizers' multi-start draws from.
pub fn sample(bounds: &[(f64, f64)], seed: u64, k: usize) -> Vec<f64> {
    crate::random::start_of_run(bounds, seed, k)
}

/// A box around `x` for the numeric comparison of hand derivatives when
/// only a point is given: half a unit (or half of |xᵢ|, if larger) each way.
pub fn box_around(x: &[f64]) -> Vec<(f64, f64)> {
    x.iter()
        .map(|&v| {
            let r = 0.5 * v.abs().max(1.0);
            (v - r, v + r)
        })
        .collect()
}

// ------------------------------------------------------------ exact vs fd

/// One exact derivative compared with its finite-difference estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub exact: f64,
    /// The Richardson estimate.
    pub estimate: f64,
    /// The central-difference estimate, a cruder one: its distance to the
    /// Richardson estimate bounds the error.
    pub central: f64,
    /// The Richardson estimate with half the steps: its distance to
    /// `estimate` is about the error of `estimate`.
    pub estimate_half_step: f64,
    pub abs_error: f64,
    /// `abs_error / max(|exact|, |estimate|)` (0 when both are 0).
    pub rel_error: f64,
    /// The error expected of the estimate (see the module docs).
    pub tolerance: f64,
    /// `abs_error <= tolerance`.
    pub ok: bool,
}

impl Comparison {
    /// `estimates` are central, Richardson and Richardson with half steps;
    /// `h` is the Richardson step, `h_c` the central one.
    fn new(exact: f64, estimates: [f64; 3], scale: f64, h: f64, h_c: f64) -> Comparison {
        let [central, estimate, finer] = estimates;
        let eps = f64::EPSILON;
        let abs_error = (exact - estimate).abs();
        let size = exact.abs().max(estimate.abs());
        let measured = (estimate - central).abs().max((estimate - finer).abs());
        let tolerance =
            2.0 * measured + 4.0 * eps * scale / h_c + 32.0 * eps * scale / h + 16.0 * eps * size;
        Comparison {
            exact,
            estimate,
            central,
            estimate_half_step: finer,
            abs_error,
            rel_error: if size > 0.0 { abs_error / size } else { 0.0 },
            tolerance,
            ok: abs_error <= tolerance,
        }
    }
}

/// Why a point was not checked.
#[derive(Clone, Debug, PartialEq)]
pub enum Skip {
    /// An output is not finite at the point (`var: None`) or at a point of
    /// the stencil along `var`; `error` names the operation.
    NotFinite { error: Error, var: Option<usize> },
    /// The stencil along `var` reaches across a kink of `func`, which was
    /// written at `span` (in the formula's text). Kinks of the derivatives
    /// (`sign` from `abs`) sit where those of the formula do, which come
    /// first: the reason names what the user wrote.
    Kink {
        func: Func,
        span: Option<Span>,
        var: usize,
    },
}

impl Skip {
    /// The reason in one line, with positions in `source`.
    pub fn describe(&self, source: &str, vars: &[String]) -> String {
        let at = |span: Option<Span>| match span {
            Some(s) => {
                let (line, col) = s.line_col(source);
                format!(" at {line}:{col}")
            }
            None => String::new(),
        };
        let along = |i: usize| {
            let name = vars.get(i).map_or("?", String::as_str);
            format!(" (within the difference step along {name})")
        };
        match self {
            Skip::NotFinite { error, var } => {
                let hint = error
                    .hint
                    .as_deref()
                    .map_or(String::new(), |h| format!(", {h}"));
                let var = var.map_or(String::new(), along);
                format!("not finite: {}{}{hint}{var}", error.message, at(error.span))
            }
            Skip::Kink { func, span, var } => {
                format!("on a kink of {}{}{}", func.name(), at(*span), along(*var))
            }
        }
    }
}

/// The comparisons at one point.
#[derive(Clone, Debug, PartialEq)]
pub struct Checked {
    /// One per variable.
    pub gradient: Vec<Comparison>,
    /// `hessian[i][j]` compares ∂²f/∂xᵢ∂xⱼ with the difference of ∂f/∂xⱼ
    /// along xᵢ; empty unless the Hessian was asked for.
    pub hessian: Vec<Vec<Comparison>>,
}

impl Checked {
    pub fn ok(&self) -> bool {
        self.gradient
            .iter()
            .chain(self.hessian.iter().flatten())
            .all(|c| c.ok)
    }
}

/// One point of a gradient check.
#[derive(Clone, Debug, PartialEq)]
pub struct PointCheck {
    pub x: Vec<f64>,
    /// f at the point (compiled).
    pub value: f64,
    pub outcome: std::result::Result<Checked, Skip>,
}

/// A function whose derivative jumps: where its branch changes.
struct Kink {
    node: NodeId,
    func: Func,
    /// Offset of its switch values in the kink interpreter's outputs.
    first: usize,
}

/// Compares the compiled exact gradient (and Hessian, with `hessian`) of
/// `formula` with finite differences of its compiled value (and gradient)
/// at each of `points`. Errors if a point has the wrong number of
/// coordinates, the derivatives would outgrow the formula's node limit
/// ([`Formula::try_hessian`]) or the formula cannot be compiled.
pub fn check_points(
    formula: &mut Formula,
    points: &[Vec<f64>],
    hessian: bool,
) -> Result<Vec<PointCheck>> {
    let n = formula.vars().len();
    if let Some(p) = points.iter().find(|p| p.len() != n) {
        return Err(Error::new(
            ErrorKind::Usage,
            format!(
                "a point of {} values for a formula of {n} variables",
                p.len()
            ),
        ));
    }
    // Within the formula's node limit: a Hessian can be far larger than f.
    let gradient = formula.try_gradient()?.to_vec();
    let mut outputs = vec![formula.value()];
    outputs.extend_from_slice(&gradient);
    if hessian {
        let entries: Vec<NodeId> = formula.try_hessian()?.iter().flatten().copied().collect();
        outputs.extend(entries);
    }
    let graph = formula.graph();
    let compiled = Compiled::compile(graph, &outputs, n)?;
    // The stencil needs f and, for the Hessian, the gradient: not the
    // Hessian itself, n² values a call.
    let n_fd = if hessian { 1 + n } else { 1 };
    let stencil = if outputs.len() > n_fd {
        Some(Compiled::compile(graph, &outputs[..n_fd], n)?)
    } else {
        None
    };
    let stencil = stencil.as_ref().unwrap_or(&compiled);

    // What decides each kink's branch, evaluated by one interpreter.
    let mut kinks = Vec::new();
    let mut switches = Vec::new();
    for id in reachable(graph, &outputs) {
        let (func, decided_by): (Func, Vec<NodeId>) = match *graph.node(id) {
            Node::Call1(f @ (Func::Abs | Func::Sign), [a]) => (f, vec![a]),
            Node::Call1(f @ (Func::Floor | Func::Ceil), _) => (f, vec![id]),
            Node::Call2(f @ (Func::Min | Func::Max | Func::Atan2), [a, b]) => (f, vec![a, b]),
            _ => continue,
        };
        kinks.push(Kink {
            node: id,
            func,
            first: switches.len(),
        });
        switches.extend(decided_by);
    }
    let switch_interp = Interpreter::new(graph, &switches);
    let branches = |x: &[f64]| -> Vec<f64> {
        if kinks.is_empty() {
            return Vec::new();
        }
        let s = switch_interp.eval(x);
        kinks
            .iter()
            .map(|k| branch(k.func, &s[k.first..]))
            .collect()
    };
    // The terms of the sums, whose size sets the rounding of a difference.
    let value_terms = Interpreter::new(graph, &sum_terms(graph, &outputs[..1]));
    let gradient_terms = Interpreter::new(graph, &sum_terms(graph, &gradient));
    let largest = |interp: &Interpreter, x: &[f64]| {
        interp
            .eval(x)
            .iter()
            .filter(|v| v.is_finite())
            .fold(0.0f64, |m, v| m.max(v.abs()))
    };

    let mut results = Vec::with_capacity(points.len());
    let mut all = vec![0.0; outputs.len()];
    for point in points {
        let mut x = point.clone();
        compiled.call(&x, &mut all);
        let value = all[0];
        let at_center = all.clone();
        if at_center.iter().any(|v| !v.is_finite()) {
            let error = formula
                .diagnose(&outputs, &x)
                .unwrap_or_else(|| not_finite_without_cause(&x));
            results.push(PointCheck {
                x,
                value,
                outcome: Err(Skip::NotFinite { error, var: None }),
            });
            continue;
        }
        let center_branches = branches(&x);
        let scale_f = largest(&value_terms, &x);
        let scale_g = if hessian {
            largest(&gradient_terms, &x)
        } else {
            0.0
        };
        let mut checked = Checked {
            gradient: Vec::with_capacity(n),
            hessian: Vec::new(),
        };
        let mut skip = None;
        for i in 0..n {
            // The first trouble met in the stencil along x_i.
            let mut trouble: Option<Trouble> = None;
            let mut f = |x: &[f64], out: &mut [f64]| {
                stencil.call(x, out);
                if trouble.is_some() {
                    return;
                }
                if let Some(k) = branches(x)
                    .iter()
                    .zip(&center_branches)
                    .position(|(a, b)| a.to_bits() != b.to_bits())
                {
                    trouble = Some(Trouble::Kink(k));
                } else if out.iter().any(|v| !v.is_finite()) {
                    trouble = Some(Trouble::NotFinite(x.to_vec()));
                }
            };
            let along = fd::along(&mut f, &mut x, i, n_fd);
            match trouble {
                Some(Trouble::Kink(k)) => {
                    skip = Some(Skip::Kink {
                        func: kinks[k].func,
                        span: graph.origin(kinks[k].node).map(|o| o.span),
                        var: i,
                    });
                    break;
                }
                Some(Trouble::NotFinite(at)) => {
                    let error = formula
                        .diagnose(&outputs[..n_fd], &at)
                        .unwrap_or_else(|| not_finite_without_cause(&at));
                    skip = Some(Skip::NotFinite {
                        error,
                        var: Some(i),
                    });
                    break;
                }
                None => {}
            }
            let (h, h_c) = (along.h_richardson, along.h_central);
            let estimates = |k: usize| {
                [
                    along.central[k],
                    along.richardson[k],
                    along.richardson_half[k],
                ]
            };
            checked.gradient.push(Comparison::new(
                at_center[1 + i],
                estimates(0),
                along.scale[0].max(scale_f),
                h,
                h_c,
            ));
            if hessian {
                let row = (0..n)
                    .map(|j| {
                        Comparison::new(
                            at_center[1 + n + i * n + j],
                            estimates(1 + j),
                            along.scale[1 + j].max(scale_g),
                            h,
                            h_c,
                        )
                    })
                    .collect();
                checked.hessian.push(row);
            }
        }
        results.push(PointCheck {
            x,
            value,
            outcome: match skip {
                Some(s) => Err(s),
                None => Ok(checked),
            },
        });
    }
    Ok(results)
}

enum Trouble {
    Kink(usize),
    NotFinite(Vec<f64>),
}

/// Which side of its kink a function is on, from the values that decide it
/// (`s` starts at the kink's first switch value). Equal on one smooth piece.
fn branch(func: Func, s: &[f64]) -> f64 {
    let sign = |v: f64| {
        if v > 0.0 {
            1.0
        } else if v < 0.0 {
            -1.0
        } else if v == 0.0 {
            0.0
        } else {
            f64::NAN
        }
    };
    match func {
        Func::Abs | Func::Sign => sign(s[0]),
        // The value itself: floor(x) is constant between integers.
        Func::Floor | Func::Ceil => s[0],
        Func::Min | Func::Max => sign(s[0] - s[1]),
        // atan2(y, x) jumps where y changes sign with x < 0, and at 0.
        Func::Atan2 if s[1] < 0.0 => sign(s[0]),
        Func::Atan2 if s[0] == 0.0 && s[1] == 0.0 => 2.0,
        _ => 3.0,
    }
}

/// The terms of every sum the outputs depend on, and the outputs.
fn sum_terms(graph: &Graph, outputs: &[NodeId]) -> Vec<NodeId> {
    let mut terms: Vec<NodeId> = outputs.to_vec();
    for id in reachable(graph, outputs) {
        if let Node::Sum(ts) = graph.node(id) {
            terms.extend_from_slice(ts);
        }
    }
    terms.sort();
    terms.dedup();
    terms
}

/// Compiled code gave a non-finite value the interpreter does not: they
/// perform the same operations, so this should not happen; say so plainly.
fn not_finite_without_cause(x: &[f64]) -> Error {
    Error::new(
        ErrorKind::NotFinite,
        format!("the compiled code gives a non-finite value at {x:?}"),
    )
}

// ------------------------------------------------------------ by hand

/// What became of a hand-written derivative.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// The difference from the exact derivative simplifies to zero.
    Proved,
    /// Equal up to rounding at `points` random points, but not proved.
    Agrees { points: usize },
    /// Different at `x`.
    Differs { x: Vec<f64>, yours: f64, exact: f64 },
    /// Not proved, and no drawn point had both sides finite.
    Untested { draws: usize },
}

impl Verdict {
    /// Proved or agreeing.
    pub fn ok(&self) -> bool {
        matches!(self, Verdict::Proved | Verdict::Agrees { .. })
    }

    /// `"proved"`, `"agrees"`, `"differs"` or `"untested"`.
    pub fn status(&self) -> &'static str {
        match self {
            Verdict::Proved => "proved",
            Verdict::Agrees { .. } => "agrees",
            Verdict::Differs { .. } => "differs",
            Verdict::Untested { .. } => "untested",
        }
    }
}

/// Compares the hand-written `yours` with `exact` (both nodes of `graph`):
/// symbolically, then at up to [`NUMERIC_POINTS`] points from `draw(k)`.
pub fn compare_derivative(
    graph: &Graph,
    exact: NodeId,
    yours: NodeId,
    draw: &mut dyn FnMut(usize) -> Vec<f64>,
) -> Verdict {
    if proved_equal(graph, exact, yours) {
        return Verdict::Proved;
    }
    let both = Interpreter::new(graph, &[exact, yours]);
    let terms = Interpreter::new(graph, &sum_terms(graph, &[exact, yours]));
    let mut agreed = 0;
    let draws = NUMERIC_POINTS * DRAWS_PER_POINT;
    for k in 0..draws {
        let x = draw(k);
        let v = both.eval(&x);
        let (e, y) = (v[0], v[1]);
        if !(e.is_finite() && y.is_finite()) {
            continue;
        }
        let differ = |x: &[f64]| {
            let v = both.eval(x);
            let (e, y) = (v[0], v[1]);
            let scale = terms
                .eval(x)
                .iter()
                .filter(|t| t.is_finite())
                .fold(e.abs().max(y.abs()), |m, t| m.max(t.abs()));
            (e.is_finite() && y.is_finite() && (e - y).abs() > NUMERIC_TOLERANCE * scale)
                .then_some((y, e))
        };
        if differ(&x).is_some() {
            // Report the roundest nearby point where they differ too.
            for digits in 0..4 {
                let p = 10f64.powi(digits);
                let rounded: Vec<f64> = x.iter().map(|v| (v * p).round() / p).collect();
                if let Some((yours, exact)) = differ(&rounded) {
                    return Verdict::Differs {
                        x: rounded,
                        yours,
                        exact,
                    };
                }
            }
            return Verdict::Differs {
                x,
                yours: y,
                exact: e,
            };
        }
        agreed += 1;
        if agreed == NUMERIC_POINTS {
            break;
        }
    }
    if agreed == 0 {
        Verdict::Untested { draws }
    } else {
        Verdict::Agrees { points: agreed }
    }
}

/// Whether `a` and `b` are provably the same function (away from the
/// removable points the canonical forms ignore). `false` means not proved.
pub fn proved_equal(graph: &Graph, a: NodeId, b: NodeId) -> bool {
    if a == b {
        return true;
    }
    let mut g = graph.clone();
    let d = g.sub(a, b);
    if g.as_const(d) == Some(0.0) {
        return true;
    }
    normal::is_zero(&mut g, d)
}

// ------------------------------------------------------------ normaliser

/// Rational functions over atoms, for proofs the canonical forms miss.
///
/// A value is `num / Π factorᵏ`: `num` a polynomial with integer (possibly
/// negative) exponents over atoms, each factor a polynomial with more than
/// one term, kept whole and scaled to a fixed form, so that common
/// denominators are found without expanding them. Atoms are variables and
/// non-polynomial subterms rebuilt from their normalised arguments. Some
/// identities between atoms are applied: `sin² = 1 − cos²`,
/// `sinh² = cosh² − 1`, `tan = sin/cos`, the angle sums of `sin(k·u)` and
/// `cos(k·u)` for small whole `k`, `exp(a)·exp(b) = exp(a + b)`, and
/// `(b^(1/q))^q = b`. Everything is bounded (terms, powers, total work);
/// past a bound the normaliser gives up, which proves nothing.
mod normal {
    use super::*;
    use std::collections::BTreeMap;

    const MAX_TERMS: usize = 2_000;
    const MAX_POWER: f64 = 16.0;
    const MAX_WORK: usize = 2_000_000;
    const MAX_ROOT: i32 = 12;
    const MAX_NESTING: usize = 64;
    /// The largest `k` for which `sin(k·u)` is expanded.
    const MAX_MULTIPLE: f64 = 8.0;

    /// Exponents by atom, sorted by atom, none zero.
    type Mono = Vec<(u32, i32)>;

    #[derive(Clone, Copy, Debug)]
    struct Coef {
        c: f64,
        /// The sum of the magnitudes that went into `c`: a coefficient
        /// below its rounding (`32·ε·mag`) has cancelled.
        mag: f64,
    }

    type Poly = BTreeMap<Mono, Coef>;

    #[derive(Clone, Debug)]
    struct Rat {
        num: Poly,
        /// Factor index to its exponent (> 0).
        den: BTreeMap<u32, u32>,
    }

    #[derive(Clone, Debug)]
    enum Kind {
        Plain,
        /// `sin(arg)`: its square is rewritten with `cos(arg)`.
        Sin(NodeId),
        /// `sinh(arg)`: its square is rewritten with `cosh(arg)`.
        Sinh(NodeId),
        /// `base^(1/q)`.
        Root(Rat, i32),
        /// `exp(arg)`.
        Exp(Rat),
    }

    struct Atom {
        node: NodeId,
        kind: Kind,
    }

    /// The work ran past a bound.
    struct GiveUp;

    type R<T> = std::result::Result<T, GiveUp>;

    /// Whether `d` normalises to zero.
    pub(super) fn is_zero(graph: &mut Graph, d: NodeId) -> bool {
        let mut n = Normaliser {
            graph,
            atoms: Vec::new(),
            atom_index: FxHashMap::default(),
            factors: Vec::new(),
            factor_nodes: Vec::new(),
            factor_index: FxHashMap::default(),
            work: 0,
            nesting: 0,
        };
        matches!(n.node(d), Ok(r) if r.num.is_empty())
    }

    struct Normaliser<'g> {
        graph: &'g mut Graph,
        atoms: Vec<Atom>,
        atom_index: FxHashMap<NodeId, u32>,
        factors: Vec<Poly>,
        factor_nodes: Vec<NodeId>,
        factor_index: FxHashMap<Vec<(Mono, u64)>, u32>,
        work: usize,
        /// Current depth of nested `reduce` calls.
        nesting: usize,
    }

    fn constant(c: f64) -> Rat {
        let mut num = Poly::new();
        if c != 0.0 {
            num.insert(Vec::new(), Coef { c, mag: c.abs() });
        }
        Rat {
            num,
            den: BTreeMap::new(),
        }
    }

    fn monomial(atom: u32, e: i32) -> Rat {
        if e == 0 {
            return constant(1.0);
        }
        let mut num = Poly::new();
        num.insert(vec![(atom, e)], Coef { c: 1.0, mag: 1.0 });
        Rat {
            num,
            den: BTreeMap::new(),
        }
    }

    fn mono_mul(a: &Mono, b: &Mono) -> Mono {
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            if j == b.len() || (i < a.len() && a[i].0 < b[j].0) {
                out.push(a[i]);
                i += 1;
            } else if i == a.len() || b[j].0 < a[i].0 {
                out.push(b[j]);
                j += 1;
            } else {
                let e = a[i].1 + b[j].1;
                if e != 0 {
                    out.push((a[i].0, e));
                }
                i += 1;
                j += 1;
            }
        }
        out
    }

    /// Adds `c` to the coefficient of `m`, dropping it if it cancels.
    fn accumulate(p: &mut Poly, m: Mono, c: Coef) {
        match p.get_mut(&m) {
            Some(old) => {
                old.c += c.c;
                old.mag += c.mag;
                if old.c.abs() <= 32.0 * f64::EPSILON * old.mag {
                    p.remove(&m);
                }
            }
            None => {
                if c.c != 0.0 {
                    p.insert(m, c);
                }
            }
        }
    }

    impl Normaliser<'_> {
        fn spend(&mut self, amount: usize) -> R<()> {
            self.work += amount;
            if self.work > MAX_WORK {
                Err(GiveUp)
            } else {
                Ok(())
            }
        }

        fn poly_add(&mut self, a: &Poly, b: &Poly) -> R<Poly> {
            self.spend(a.len() + b.len())?;
            let mut out = a.clone();
            for (m, c) in b {
                accumulate(&mut out, m.clone(), *c);
            }
            Ok(out)
        }

        fn poly_mul(&mut self, a: &Poly, b: &Poly) -> R<Poly> {
            self.spend(a.len() * b.len())?;
            let mut out = Poly::new();
            for (ma, ca) in a {
                for (mb, cb) in b {
                    let c = Coef {
                        c: ca.c * cb.c,
                        mag: ca.mag * cb.mag,
                    };
                    if !c.c.is_finite() || !c.mag.is_finite() {
                        return Err(GiveUp);
                    }
                    accumulate(&mut out, mono_mul(ma, mb), c);
                }
            }
            if out.len() > MAX_TERMS {
                return Err(GiveUp);
            }
            Ok(out)
        }

        fn poly_pow(&mut self, p: &Poly, k: u32) -> R<Poly> {
            let mut out = constant(1.0).num;
            for _ in 0..k {
                out = self.poly_mul(&out, p)?;
            }
            Ok(out)
        }

        fn add(&mut self, a: &Rat, b: &Rat) -> R<Rat> {
            if a.num.is_empty() {
                return Ok(b.clone());
            }
            if b.num.is_empty() {
                return Ok(a.clone());
            }
            let mut den = a.den.clone();
            for (&f, &k) in &b.den {
                let e = den.entry(f).or_insert(0);
                *e = (*e).max(k);
            }
            let na = self.lift(a, &den)?;
            let nb = self.lift(b, &den)?;
            let num = self.poly_add(&na, &nb)?;
            self.reduce(Rat { num, den })
        }

        /// `a.num` over the larger denominator `den`.
        fn lift(&mut self, a: &Rat, den: &BTreeMap<u32, u32>) -> R<Poly> {
            let mut num = a.num.clone();
            for (&f, &k) in den {
                let missing = k - a.den.get(&f).copied().unwrap_or(0);
                if missing > 0 {
                    let p = self.factors[f as usize].clone();
                    let p = self.poly_pow(&p, missing)?;
                    num = self.poly_mul(&num, &p)?;
                }
            }
            Ok(num)
        }

        fn mul(&mut self, a: &Rat, b: &Rat) -> R<Rat> {
            let num = self.poly_mul(&a.num, &b.num)?;
            if num.is_empty() {
                return Ok(constant(0.0));
            }
            let mut den = a.den.clone();
            for (&f, &k) in &b.den {
                *den.entry(f).or_insert(0) += k;
            }
            self.reduce(Rat { num, den })
        }

        fn inverse(&mut self, a: &Rat) -> R<Rat> {
            if a.num.is_empty() {
                return Err(GiveUp);
            }
            let (c, m, p) = content(&a.num);
            let mut num = Poly::new();
            let inv_m: Mono = m.iter().map(|&(atom, e)| (atom, -e)).collect();
            num.insert(
                inv_m,
                Coef {
                    c: 1.0 / c,
                    mag: 1.0 / c.abs(),
                },
            );
            let mut den = BTreeMap::new();
            if p.len() > 1 {
                den.insert(self.factor(p), 1);
            }
            for (&f, &k) in &a.den {
                let q = self.factors[f as usize].clone();
                let q = self.poly_pow(&q, k)?;
                num = self.poly_mul(&num, &q)?;
            }
            self.reduce(Rat { num, den })
        }

        fn pow(&mut self, a: &Rat, k: i64) -> R<Rat> {
            if k < 0 {
                let inv = self.inverse(a)?;
                return self.pow(&inv, -k);
            }
            let mut out = constant(1.0);
            for _ in 0..k {
                out = self.mul(&out, a)?;
            }
            Ok(out)
        }

        /// The index of a (monic, content-free) factor polynomial.
        fn factor(&mut self, p: Poly) -> u32 {
            let key: Vec<(Mono, u64)> = p.iter().map(|(m, c)| (m.clone(), c.c.to_bits())).collect();
            if let Some(&i) = self.factor_index.get(&key) {
                return i;
            }
            let i = self.factors.len() as u32;
            let node = self.poly_node(&p);
            self.factors.push(p);
            self.factor_nodes.push(node);
            self.factor_index.insert(key, i);
            i
        }

        /// Applies the identities between atoms until none applies, and
        /// cancels a numerator equal to a factor of the denominator.
        /// Rewriting an atom can reduce its argument, so this recurses as
        /// deep as atoms nest: bounded, to keep off the stack's end.
        fn reduce(&mut self, r: Rat) -> R<Rat> {
            if self.nesting >= MAX_NESTING {
                return Err(GiveUp);
            }
            self.nesting += 1;
            let out = self.reduce_here(r);
            self.nesting -= 1;
            out
        }

        fn reduce_here(&mut self, mut r: Rat) -> R<Rat> {
            for _round in 0..64 {
                let mut keep = Poly::new();
                let mut rewritten: Option<Rat> = None;
                let terms = std::mem::take(&mut r.num);
                for (m, c) in terms {
                    match self.rewrite(&m)? {
                        None => {
                            keep.insert(m, c);
                        }
                        Some(replacement) => {
                            let mut scaled = replacement;
                            for v in scaled.num.values_mut() {
                                v.c *= c.c;
                                v.mag *= c.mag;
                            }
                            let with_den = Rat {
                                num: scaled.num,
                                den: scaled.den,
                            };
                            rewritten = Some(match rewritten {
                                None => with_den,
                                Some(acc) => self.add_plain(&acc, &with_den)?,
                            });
                        }
                    }
                }
                r.num = keep;
                match rewritten {
                    None => return Ok(self.cancel(r)),
                    Some(extra) => {
                        let extra = Rat {
                            num: extra.num,
                            den: {
                                let mut d = extra.den;
                                for (&f, &k) in &r.den {
                                    *d.entry(f).or_insert(0) += k;
                                }
                                d
                            },
                        };
                        r = self.add_plain(&r, &extra)?;
                    }
                }
            }
            Err(GiveUp)
        }

        /// [`Normaliser::add`] without reducing (used by `reduce`).
        fn add_plain(&mut self, a: &Rat, b: &Rat) -> R<Rat> {
            let mut den = a.den.clone();
            for (&f, &k) in &b.den {
                let e = den.entry(f).or_insert(0);
                *e = (*e).max(k);
            }
            let na = self.lift(a, &den)?;
            let nb = self.lift(b, &den)?;
            let num = self.poly_add(&na, &nb)?;
            Ok(Rat { num, den })
        }

        /// Cancels one power of a denominator factor that the numerator is
        /// a multiple of by a monomial, and drops the denominator of zero.
        fn cancel(&mut self, mut r: Rat) -> Rat {
            if r.num.is_empty() {
                r.den.clear();
                return r;
            }
            loop {
                if r.den.is_empty() || r.num.len() < 2 {
                    return r;
                }
                let (c, m, p) = content(&r.num);
                let key: Vec<(Mono, u64)> =
                    p.iter().map(|(m, c)| (m.clone(), c.c.to_bits())).collect();
                let Some(&f) = self.factor_index.get(&key) else {
                    return r;
                };
                let Some(k) = r.den.get_mut(&f) else {
                    return r;
                };
                *k -= 1;
                if *k == 0 {
                    r.den.remove(&f);
                }
                let mut num = Poly::new();
                num.insert(m, Coef { c, mag: c.abs() });
                r.num = num;
            }
        }

        /// The replacement of a monomial by an identity, if one applies.
        fn rewrite(&mut self, m: &Mono) -> R<Option<Rat>> {
            let mut exps: Vec<(Rat, i32)> = Vec::new();
            let mut exp_count = 0;
            for (pos, &(atom, e)) in m.iter().enumerate() {
                let others = || -> Mono {
                    let mut r = m.clone();
                    r.remove(pos);
                    r
                };
                let kind = self.atoms[atom as usize].kind.clone();
                let replacement = match kind {
                    // sin^e = sin^(e-2)·(1 − cos²)
                    Kind::Sin(arg) if e >= 2 => {
                        let cos = self.atom_of(Func::Cos, arg);
                        let one_minus = self.add(&constant(1.0), &{
                            let mut r = monomial(cos, 2);
                            r.num.values_mut().for_each(|v| v.c = -1.0);
                            r
                        })?;
                        Some(self.mul_plain(&monomial(atom, e - 2), &one_minus)?)
                    }
                    // sinh^e = sinh^(e-2)·(cosh² − 1)
                    Kind::Sinh(arg) if e >= 2 => {
                        let cosh = self.atom_of(Func::Cosh, arg);
                        let minus_one = self.add(&constant(-1.0), &monomial(cosh, 2))?;
                        Some(self.mul_plain(&monomial(atom, e - 2), &minus_one)?)
                    }
                    Kind::Root(base, q) if !(0..q).contains(&e) => {
                        let whole = e.div_euclid(q);
                        let b = self.pow(&base, i64::from(whole))?;
                        Some(self.mul_plain(&monomial(atom, e.rem_euclid(q)), &b)?)
                    }
                    Kind::Exp(arg) => {
                        exps.push((arg, e));
                        exp_count += 1;
                        None
                    }
                    _ => None,
                };
                if let Some(r) = replacement {
                    let rest = Rat {
                        num: {
                            let mut p = Poly::new();
                            p.insert(others(), Coef { c: 1.0, mag: 1.0 });
                            p
                        },
                        den: BTreeMap::new(),
                    };
                    return Ok(Some(self.mul_plain(&rest, &r)?));
                }
            }
            // exp(a)^j · exp(b)^k = exp(j·a + k·b)
            if exp_count > 1 || exps.iter().any(|(_, e)| *e != 1) {
                let mut sum = constant(0.0);
                for (arg, e) in &exps {
                    let scaled = self.mul(arg, &constant(f64::from(*e)))?;
                    sum = self.add(&sum, &scaled)?;
                }
                let rest: Mono = m
                    .iter()
                    .copied()
                    .filter(|(a, _)| !matches!(self.atoms[*a as usize].kind, Kind::Exp(_)))
                    .collect();
                let mut r = Rat {
                    num: {
                        let mut p = Poly::new();
                        p.insert(rest, Coef { c: 1.0, mag: 1.0 });
                        p
                    },
                    den: BTreeMap::new(),
                };
                if !sum.num.is_empty() {
                    let arg = self.rat_node(&sum);
                    let node = self.graph.call1(Func::Exp, arg);
                    let factor = match self.graph.as_const(node) {
                        Some(c) => constant(c),
                        None => monomial(self.atom(node, Kind::Exp(sum)), 1),
                    };
                    r = self.mul_plain(&r, &factor)?;
                }
                return Ok(Some(r));
            }
            Ok(None)
        }

        /// [`Normaliser::mul`] without reducing (used by `rewrite`).
        fn mul_plain(&mut self, a: &Rat, b: &Rat) -> R<Rat> {
            let num = self.poly_mul(&a.num, &b.num)?;
            let mut den = a.den.clone();
            for (&f, &k) in &b.den {
                *den.entry(f).or_insert(0) += k;
            }
            Ok(Rat { num, den })
        }

        fn atom(&mut self, node: NodeId, kind: Kind) -> u32 {
            if let Some(&i) = self.atom_index.get(&node) {
                return i;
            }
            let i = self.atoms.len() as u32;
            self.atoms.push(Atom { node, kind });
            self.atom_index.insert(node, i);
            i
        }

        /// The atom `func(arg)` for the trigonometric kinds.
        fn atom_of(&mut self, func: Func, arg: NodeId) -> u32 {
            let node = self.graph.call1(func, arg);
            let kind = match func {
                Func::Sin => Kind::Sin(arg),
                Func::Sinh => Kind::Sinh(arg),
                _ => Kind::Plain,
            };
            self.atom(node, kind)
        }

        /// A normal form back as a canonical node.
        fn rat_node(&mut self, r: &Rat) -> NodeId {
            let mut factors = vec![self.poly_node(&r.num)];
            for (&f, &k) in &r.den {
                let node = self.factor_nodes[f as usize];
                factors.push(self.graph.powc(node, -f64::from(k)));
            }
            self.graph.product(&factors)
        }

        fn poly_node(&mut self, p: &Poly) -> NodeId {
            let mut terms = Vec::with_capacity(p.len());
            for (m, c) in p {
                let mut factors = vec![self.graph.constant(c.c)];
                for &(atom, e) in m {
                    let node = self.atoms[atom as usize].node;
                    factors.push(self.graph.powc(node, f64::from(e)));
                }
                terms.push(self.graph.product(&factors));
            }
            self.graph.sum(&terms)
        }

        /// The normal form of `root`, computed for each node it depends on
        /// in increasing order (children first: no recursion).
        /// A child's normal form (a copy, counted as work).
        fn fetch(&mut self, memo: &FxHashMap<NodeId, Rat>, n: &NodeId) -> R<Rat> {
            let r = memo.get(n).ok_or(GiveUp)?;
            self.spend(r.num.len() + r.den.len())?;
            Ok(r.clone())
        }

        fn node(&mut self, root: NodeId) -> R<Rat> {
            let order = reachable(self.graph, &[root]);
            let mut memo: FxHashMap<NodeId, Rat> = FxHashMap::default();
            for id in order {
                let node = self.graph.node(id).clone();
                let r = match node {
                    Node::Const(c) => constant(c),
                    Node::Var(_) => monomial(self.atom(id, Kind::Plain), 1),
                    Node::Sum(ts) => {
                        let mut acc = constant(0.0);
                        for t in ts.iter() {
                            let r = self.fetch(&memo, t)?;
                            acc = self.add(&acc, &r)?;
                        }
                        acc
                    }
                    Node::Product(fs) => {
                        let mut acc = constant(1.0);
                        for f in fs.iter() {
                            let r = self.fetch(&memo, f)?;
                            acc = self.mul(&acc, &r)?;
                        }
                        acc
                    }
                    Node::Pow([b, e]) => {
                        let base = self.fetch(&memo, &b)?;
                        match self.graph.as_const(e) {
                            Some(e) => self.power(&base, e)?,
                            None => {
                                let exponent = self.fetch(&memo, &e)?;
                                let (b, e) = (self.rat_node(&base), self.rat_node(&exponent));
                                let node = self.graph.pow(b, e);
                                monomial(self.atom(node, Kind::Plain), 1)
                            }
                        }
                    }
                    Node::Call1(f, [a]) => {
                        let arg = self.fetch(&memo, &a)?;
                        let a = self.rat_node(&arg);
                        match f {
                            Func::Tan => {
                                let s = self.atom_of(Func::Sin, a);
                                let c = self.atom_of(Func::Cos, a);
                                self.mul(&monomial(s, 1), &monomial(c, -1))?
                            }
                            Func::Sin | Func::Cos => self.trig(f, &arg, a)?,
                            Func::Sinh | Func::Cosh => monomial(self.atom_of(f, a), 1),
                            Func::Exp => {
                                let node = self.graph.call1(Func::Exp, a);
                                match self.graph.as_const(node) {
                                    Some(c) => constant(c),
                                    None => monomial(self.atom(node, Kind::Exp(arg)), 1),
                                }
                            }
                            _ => {
                                let node = self.graph.call1(f, a);
                                match self.graph.as_const(node) {
                                    Some(c) => constant(c),
                                    None => monomial(self.atom(node, Kind::Plain), 1),
                                }
                            }
                        }
                    }
                    Node::Call2(f, [a, b]) => {
                        let (ra, rb) = (self.fetch(&memo, &a)?, self.fetch(&memo, &b)?);
                        let (a, b) = (self.rat_node(&ra), self.rat_node(&rb));
                        let node = self.graph.call2(f, a, b);
                        match self.graph.as_const(node) {
                            Some(c) => constant(c),
                            None => monomial(self.atom(node, Kind::Plain), 1),
                        }
                    }
                };
                memo.insert(id, r);
            }
            memo.remove(&root).ok_or(GiveUp)
        }

        /// `sin(arg)` or `cos(arg)` (`a` is the node of `arg`). An argument
        /// `k·u` with a small whole `k` (its first coefficient) expands by
        /// the angle-sum formulas into powers of `sin(u)` and `cos(u)`, so
        /// that `sin(2*x)` and `2*sin(x)*cos(x)` meet; the sign of `k` comes
        /// out by symmetry.
        fn trig(&mut self, f: Func, arg: &Rat, a: NodeId) -> R<Rat> {
            let k = arg.num.values().next().map_or(1.0, |c| c.c);
            if arg.num.is_empty() || k == 1.0 || k.fract() != 0.0 || k.abs() > MAX_MULTIPLE {
                return Ok(monomial(self.atom_of(f, a), 1));
            }
            let u = self.mul(arg, &constant(1.0 / k))?;
            let u = self.rat_node(&u);
            let (s1, c1) = (
                monomial(self.atom_of(Func::Sin, u), 1),
                monomial(self.atom_of(Func::Cos, u), 1),
            );
            // sin((j+1)u) = sin(ju)cos(u) + cos(ju)sin(u),
            // cos((j+1)u) = cos(ju)cos(u) − sin(ju)sin(u).
            let (mut s, mut c) = (s1.clone(), c1.clone());
            for _ in 1..k.abs() as i32 {
                let sc = self.mul(&s, &c1)?;
                let cs = self.mul(&c, &s1)?;
                let cc = self.mul(&c, &c1)?;
                let ss = self.mul(&s, &s1)?;
                let minus_ss = self.mul(&ss, &constant(-1.0))?;
                s = self.add(&sc, &cs)?;
                c = self.add(&cc, &minus_ss)?;
            }
            match f {
                Func::Sin if k < 0.0 => self.mul(&s, &constant(-1.0)),
                Func::Sin => Ok(s),
                _ => Ok(c),
            }
        }

        /// `base^e` for a constant `e`: integer powers expand, `b^(n + m/q)`
        /// becomes `b^n · root^m` with the atom `root = b^(1/q)`, anything
        /// else is an atom.
        fn power(&mut self, base: &Rat, e: f64) -> R<Rat> {
            if e.fract() == 0.0 && e.abs() <= MAX_POWER {
                return self.pow(base, e as i64);
            }
            let whole = e.floor();
            let frac = e - whole;
            let q = (2..=MAX_ROOT).find(|&q| {
                let m = frac * f64::from(q);
                (m - m.round()).abs() < 1e-12
            });
            let b = self.rat_node(base);
            if self.graph.as_const(b).is_some() {
                let node = self.graph.powc(b, e);
                if let Some(v) = self.graph.as_const(node) {
                    return Ok(constant(v));
                }
            }
            match q {
                Some(q) if whole.abs() <= MAX_POWER => {
                    let m = (frac * f64::from(q)).round() as i32;
                    let node = self.graph.powc(b, 1.0 / f64::from(q));
                    let root = self.atom(node, Kind::Root(base.clone(), q));
                    let int_part = self.pow(base, whole as i64)?;
                    self.mul(&int_part, &monomial(root, m))
                }
                _ => {
                    let node = self.graph.powc(b, e);
                    Ok(monomial(self.atom(node, Kind::Plain), 1))
                }
            }
        }
    }

    /// `p` as `c · m · rest`: `c` the coefficient of its first term, `m`
    /// the smallest power of each atom over its terms, `rest` monic.
    fn content(p: &Poly) -> (f64, Mono, Poly) {
        let c = p.values().next().map_or(1.0, |v| v.c);
        let mut atoms: Vec<u32> = p.keys().flatten().map(|&(a, _)| a).collect();
        atoms.sort_unstable();
        atoms.dedup();
        let m: Mono = atoms
            .into_iter()
            .filter_map(|a| {
                let least = p
                    .keys()
                    .map(|mono| mono.iter().find(|(b, _)| *b == a).map_or(0, |&(_, e)| e))
                    .min()
                    .unwrap_or(0);
                (least != 0).then_some((a, least))
            })
            .collect();
        let inv_m: Mono = m.iter().map(|&(a, e)| (a, -e)).collect();
        let rest = p
            .iter()
            .map(|(mono, v)| {
                (
                    mono_mul(mono, &inv_m),
                    Coef {
                        c: v.c / c,
                        mag: v.mag / c.abs(),
                    },
                )
            })
            .collect();
        (c, m, rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proved(formula: &str, var: &str, hand: &str) -> bool {
        let mut f = Formula::parse(formula).unwrap();
        let exact = f.partial(var).unwrap();
        let yours = f.parse_into(hand, &Default::default()).unwrap();
        proved_equal(f.graph(), exact, yours)
    }

    #[test]
    fn canonical_forms_prove_rearrangements() {
        assert!(proved("3*x^2 + 2*x + 1", "x", "2 + 6*x"));
        assert!(proved("3*x^2 + 2*x + 1", "x", "x*6 + 1 + 1"));
        assert!(proved("sin(x)^2", "x", "2*cos(x)*sin(x)"));
        assert!(proved("x^2*y", "y", "x*x"));
    }

    #[test]
    fn the_normaliser_proves_expansions_and_quotient_rules() {
        // A product over a sum, expanded by hand.
        assert!(proved("(x + 1)^3", "x", "3*x^2 + 6*x + 3"));
        assert!(proved("x^2*y + x*y^2", "x", "y*(2*x + y)"));
        // The quotient rule of x/(1+x), left over two denominators.
        assert!(proved("x/(1 + x)", "x", "1/(1+x) - x/(1+x)^2"));
        assert!(proved("x/(1 + x)", "x", "((1+x) - x)/(1+x)^2"));
        // (x^2+1)/(x-1): quotient rule over a common denominator.
        assert!(proved(
            "(x^2 + 1)/(x - 1)",
            "x",
            "(2*x*(x-1) - (x^2+1))/(x-1)^2"
        ));
        // Multiple angles: sin(2x) = 2 sin(x) cos(x), and by symmetry.
        assert!(proved("sin(x)^2", "x", "sin(2*x)"));
        assert!(proved("cos(2*x)", "x", "-4*sin(x)*cos(x)"));
        assert!(proved("sin(x)*cos(x)", "x", "cos(2*x)"));
        assert!(proved("sin(3*x + 3)", "x", "3*cos(3*(x + 1))"));
        assert!(proved("cos(-x)", "x", "-sin(x)"));
        assert!(!proved("sin(x)^2", "x", "sin(x)*cos(2*x)"));
        // sin² + cos² = 1 and tan = sin/cos.
        assert!(proved("tan(x)", "x", "1 + tan(x)^2"));
        assert!(proved(
            "sin(x)^2 + x",
            "x",
            "2*sin(x)*cos(x) + sin(x)^2 + cos(x)^2"
        ));
        // exp(a)*exp(b) = exp(a + b), and sqrt(u)^2 = u.
        assert!(proved("exp(2*x)", "x", "2*exp(x)^2"));
        assert!(proved("sqrt(x^2 + 1)", "x", "x*sqrt(x^2+1)/(x^2+1)"));
        // Arguments of atoms are normalised too.
        assert!(proved("sin(x*(x+1))", "x", "cos(x^2 + x)*(2*x + 1)"));
    }

    #[test]
    fn wrong_derivatives_are_not_proved() {
        assert!(!proved("3*x^2 + 2*x + 1", "x", "6*x - 2"));
        assert!(!proved("sin(x^2)", "x", "cos(x^2)"));
        assert!(!proved("x/(1 + x)", "x", "1/(1+x) + x/(1+x)^2"));
        assert!(!proved("tan(x)", "x", "tan(x)^2"));
        assert!(!proved("exp(2*x)", "x", "exp(x)^2"));
    }

    #[test]
    fn the_normaliser_gives_up_on_large_expansions() {
        // True, but the proof would expand a 3,876-term power: not proved,
        // and no hang.
        assert!(!proved(
            "(x+y+z+w+1)^16",
            "x",
            "16*(x+y+z+w+1)^15*((x+1)^2 - x^2 - 2*x)"
        ));
        // The same with a small power is proved.
        assert!(proved(
            "(x+y+1)^3",
            "x",
            "3*(x+y+1)^2*((x+1)^2 - x^2 - 2*x)"
        ));
    }

    #[test]
    fn deep_formulas_are_normalised_without_recursion() {
        // The normaliser walks all 3,000 levels (and gives no proof).
        let limits = crate::parse::Limits::default();
        let mut f = Formula::parse(&crate::testfns::nested_sin(3000)).unwrap();
        let exact = f.partial("x1").unwrap();
        let wrong = f.parse_into("cos(x1*x2)*x2", &limits).unwrap();
        assert!(!proved_equal(f.graph(), exact, wrong));
        // The printed derivative of a shallower one reads back as equal,
        // and so does twice it, written as a sum and as a product.
        let mut f = Formula::parse(&crate::testfns::nested_sin(40)).unwrap();
        let exact = f.partial("x1").unwrap();
        let printed = f.to_slope(exact).unwrap();
        let same = f.parse_into(&printed, &limits).unwrap();
        assert!(proved_equal(f.graph(), exact, same));
        let doubled = f
            .parse_into(&format!("{printed} + ({printed})*x2/x2"), &limits)
            .unwrap();
        let two = f.parse_into(&format!("2*({printed})"), &limits).unwrap();
        assert!(proved_equal(f.graph(), doubled, two));
    }

    fn verdict(formula: &str, var: &str, hand: &str) -> Verdict {
        let mut f = Formula::parse(formula).unwrap();
        let exact = f.partial(var).unwrap();
        let yours = f.parse_into(hand, &Default::default()).unwrap();
        let bounds = vec![(-2.0, 2.0); f.vars().len()];
        compare_derivative(f.graph(), exact, yours, &mut |k| sample(&bounds, 7, k))
    }

    #[test]
    fn numeric_comparison_finds_a_counterexample() {
        match verdict("sin(x^2)", "x", "cos(x^2)") {
            Verdict::Differs { x, yours, exact } => {
                assert!((yours - x[0].powi(2).cos()).abs() < 1e-15);
                assert!((exact - 2.0 * x[0] * x[0].powi(2).cos()).abs() < 1e-15);
                // A round point, where a whole number fails to show it.
                assert_eq!(x[0], (x[0] * 10.0).round() / 10.0, "{x:?}");
            }
            v => panic!("{v:?}"),
        }
        // cbrt is an atom the normaliser cannot relate to x^(1/3).
        // Negative x gives NaN on the exact side: those draws are skipped.
        assert_eq!(
            verdict("x^(4/3)", "x", "4/3*cbrt(x)"),
            Verdict::Agrees {
                points: NUMERIC_POINTS
            }
        );
        // Nowhere finite on both sides.
        assert!(matches!(
            verdict("sqrt(-x^2 - 1)", "x", "x"),
            Verdict::Untested { .. }
        ));
    }

    #[test]
    fn gradient_check_passes_on_a_smooth_function_with_its_hessian() {
        let mut f = Formula::parse("x^2*sin(y) + exp(x*y)").unwrap();
        let points: Vec<Vec<f64>> = (0..20)
            .map(|k| sample(&[(-2.0, 2.0), (-2.0, 2.0)], 3, k))
            .collect();
        let checks = check_points(&mut f, &points, true).unwrap();
        for c in &checks {
            let checked = c.outcome.as_ref().unwrap();
            assert!(checked.ok(), "{c:?}");
            assert_eq!(checked.hessian.len(), 2);
        }
    }

    #[test]
    fn points_of_the_wrong_size_are_refused() {
        let mut f = Formula::parse("x*y").unwrap();
        let e = check_points(&mut f, &[vec![1.0]], false).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Usage);
        assert!(e.message.contains("a point of 1 values for a formula of 2"));
    }

    #[test]
    fn kinks_and_poles_are_skipped() {
        let mut f = Formula::parse("abs(x) + 1/y").unwrap();
        let checks = check_points(
            &mut f,
            &[vec![0.0, 1.0], vec![1e-9, 1.0], vec![1.0, 0.0]],
            false,
        )
        .unwrap();
        let text = "abs(x) + 1/y";
        let vars = f.vars().to_vec();
        let reason = |k: usize| match &checks[k].outcome {
            Err(s) => s.describe(text, &vars),
            Ok(c) => panic!("checked: {c:?}"),
        };
        assert_eq!(
            reason(0),
            "on a kink of abs at 1:1 (within the difference step along x)"
        );
        assert_eq!(reason(1), reason(0));
        assert!(
            reason(2).starts_with("not finite: division by zero"),
            "{}",
            reason(2)
        );
        // Away from both, it checks.
        let ok = check_points(&mut f, &[vec![0.5, 1.0]], false).unwrap();
        assert!(ok[0].outcome.as_ref().is_ok_and(Checked::ok));
    }

    #[test]
    fn a_wrong_gradient_fails_the_check() {
        // Comparison itself: an exact value off by 1e-6 relative fails.
        let c = Comparison::new(1.000001, [1.0; 3], 1.0, 7e-4, 6e-6);
        assert!(!c.ok);
        let c = Comparison::new(1.0 + 1e-13, [1.0 + 1e-11, 1.0, 1.0], 1.0, 7e-4, 6e-6);
        assert!(c.ok, "{c:?}");
        // Central and Richardson agreeing by chance do not make the
        // tolerance tight when the finer Richardson estimate moves.
        let c = Comparison::new(1.0 + 1e-8, [1.0, 1.0, 1.0 + 1e-8], 1.0, 7e-4, 6e-6);
        assert!(c.ok, "{c:?}");
    }
}
