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
//! stencil, and points whose stencil reaches across a kink ([`Func::kink`]:
//! `abs`, `sign`, `floor`, `ceil`, `min`, `max`, the branch cut of
//! `atan2`), are skipped with the reason: differences there measure the
//! jump, not the derivative.
//!
//! **Hand-written derivatives.** The hand formula is lowered into the
//! formula's own graph ([`Formula::parse_into`]), so the canonical
//! constructors already equate most rewritings. What they cannot see (a
//! product over a sum, a quotient-rule form over a common denominator,
//! `sin² + cos² = 1`) a bounded normaliser (`symbolic.rs`) decides: it
//! brings the difference to a rational function over atoms (variables and
//! non-polynomial subterms with normalised arguments) and proves equality
//! if the numerator cancels. Otherwise the two are compared at
//! [`NUMERIC_POINTS`] random points.

use crate::builtins::{Func, Kink, sign};
use crate::error::{Error, ErrorKind, Result, Span};
use crate::eval::{Interpreter, reachable};
use crate::fd;
use crate::formula::Formula;
use crate::graph::{Graph, Node, NodeId};
use crate::jit::Compiled;
use crate::symbolic;

pub use crate::symbolic::proved_equal;

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

/// A call whose derivative jumps, and where its values that decide the
/// branch are.
struct Switch {
    node: NodeId,
    func: Func,
    kink: Kink,
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
        let (func, args): (Func, &[NodeId]) = match graph.node(id) {
            Node::Call1(f, args) => (*f, &args[..]),
            Node::Call2(f, args) => (*f, &args[..]),
            Node::Const(_) | Node::Var(_) | Node::Sum(_) | Node::Product(_) | Node::Pow(_) => {
                continue;
            }
        };
        let Some(kink) = func.kink() else {
            continue;
        };
        let decided_by: &[NodeId] = match kink {
            Kink::ArgumentSign => &args[..1],
            Kink::Step => &[id],
            Kink::Crossing | Kink::BranchCut => args,
        };
        kinks.push(Switch {
            node: id,
            func,
            kink,
            first: switches.len(),
        });
        switches.extend_from_slice(decided_by);
    }
    let switch_interp = Interpreter::new(graph, &switches);
    let branches = |x: &[f64]| -> Vec<f64> {
        if kinks.is_empty() {
            return Vec::new();
        }
        let s = switch_interp.eval(x);
        kinks
            .iter()
            .map(|k| branch(k.kink, &s[k.first..]))
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
fn branch(kink: Kink, s: &[f64]) -> f64 {
    match kink {
        Kink::ArgumentSign => sign(s[0]),
        // The value itself: floor(x) is constant between integers.
        Kink::Step => s[0],
        Kink::Crossing => sign(s[0] - s[1]),
        // atan2(y, x) jumps where y changes sign with x < 0, and at 0.
        Kink::BranchCut if s[1] < 0.0 => sign(s[0]),
        Kink::BranchCut if s[0] == 0.0 && s[1] == 0.0 => 2.0,
        Kink::BranchCut => 3.0,
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
    if symbolic::proved_equal(graph, exact, yours) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
