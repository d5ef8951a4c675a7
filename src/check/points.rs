//! Exact derivatives against finite differences at points, skipping
//! kinks and points where a value is not finite. The tolerance is derived
//! in the docs of [`check`](super).

use crate::builtins::Func;
use crate::error::{Error, ErrorKind, Result, Span};
use crate::fd;
use crate::formula::Formula;
use crate::graph::{NodeId, reachable};
use crate::jit::Compiled;

use super::kinks::Kinks;
use super::ladder::{DECISIVE, Exact, compare_along};
use super::rounding::eval_bounded;

/// One exact derivative compared with its finite-difference estimate, at
/// the steps that decided (see `check/ladder.rs`).
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// The exact derivative.
    pub exact: f64,
    /// The Richardson estimate.
    pub estimate: f64,
    /// The central-difference estimate, a cruder one: its distance to the
    /// Richardson estimate bounds the error.
    pub central: f64,
    /// The Richardson estimate with half the steps: its distance to
    /// `estimate` is about the error of `estimate`.
    pub estimate_half_step: f64,
    /// `|exact - estimate|`.
    pub abs_error: f64,
    /// `abs_error / max(|exact|, |estimate|)` (0 when both are 0).
    pub rel_error: f64,
    /// The error expected of the estimate, and of the exact value's
    /// rounding (see the docs of [`check`](crate::check)).
    pub tolerance: f64,
    /// The bound on the exact value's rounding error within `tolerance`
    /// (0 where none is known).
    pub exact_rounding: f64,
    /// The Richardson step `h` (its stencil also uses `h/2` and `h/4`).
    pub step: f64,
    /// Whether the step is the usual one, [`fd::Scheme::step`], not one
    /// of the shorter ones tried when it decides nothing.
    pub usual_step: bool,
    /// The verdict.
    pub status: Status,
    /// `status == Status::Agrees`.
    pub ok: bool,
}

/// What a comparison says of an exact derivative.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Within a tolerance small beside the values.
    Agrees,
    /// Outside a tolerance small beside the values, at two steps.
    Differs,
    /// The tolerance is too large beside the values to tell.
    Undecided(Undecided),
}

/// What made a tolerance too large to decide.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Undecided {
    /// The rounding of the exact value: its formula cancels there.
    Rounding,
    /// The estimate's own error, at every step tried.
    Estimate,
}

impl Status {
    /// `"agrees"`, `"differs"` or `"undecided"`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Agrees => "agrees",
            Status::Differs => "differs",
            Status::Undecided(_) => "undecided",
        }
    }
}

impl Undecided {
    /// `"rounding"` or `"estimate"`.
    pub fn name(self) -> &'static str {
        match self {
            Undecided::Rounding => "rounding",
            Undecided::Estimate => "estimate",
        }
    }
}

impl Comparison {
    /// The comparison of `exact` with output `j` of the differences
    /// `along`, and what it says at these steps alone: the tolerance is
    /// derived in the docs of [`check`](crate::check), the verdict in
    /// `check/ladder.rs`.
    pub(super) fn at_rung(exact: &Exact, along: &fd::Along, j: usize) -> Comparison {
        let (h, h_c) = (along.h_richardson, along.h_central);
        let estimates = [
            along.central[j],
            along.richardson[j],
            along.richardson_half[j],
        ];
        let scale = along.scale[j].max(exact.terms);
        Comparison::new(exact, estimates, scale, h, h_c)
    }

    /// `estimates` are central, Richardson and Richardson with half steps;
    /// `h` is the Richardson step, `h_c` the central one; `scale` the size
    /// at which the differenced values round.
    pub(super) fn new(
        exact: &Exact,
        estimates: [f64; 3],
        scale: f64,
        h: f64,
        h_c: f64,
    ) -> Comparison {
        let [central, estimate, finer] = estimates;
        let eps = f64::EPSILON;
        let value = exact.value;
        let abs_error = (value - estimate).abs();
        let size = value.abs().max(estimate.abs());
        // C rounds 120 times as much as R (its step is that much shorter):
        // only its distance beyond its own rounding measures R's error.
        let central_rounding = 4.0 * eps * scale / h_c;
        let beyond = ((estimate - central).abs() - central_rounding).max(0.0);
        let measured = beyond.max((estimate - finer).abs());
        let differences = 2.0 * measured + 32.0 * eps * scale / h;
        let rounding = 2.0 * exact.rounding;
        let tolerance = differences + rounding + 16.0 * eps * size;
        let decisive = tolerance <= DECISIVE * size.max(exact.siblings);
        // Equal to the bit, and the exact value computed without rounding
        // (else 0 may be what is left of cancelled terms, and the
        // differences 0 for values that round alike): a derivative that
        // vanishes by symmetry (x^2 at 0), or a constant one's, where no
        // tolerance is small beside 0.
        let exactly_equal = value == estimate && exact.rounding == 0.0;
        let status = if abs_error > tolerance && decisive {
            Status::Differs
        } else if abs_error <= tolerance && (decisive || exactly_equal) {
            Status::Agrees
        } else if rounding >= differences {
            Status::Undecided(Undecided::Rounding)
        } else {
            Status::Undecided(Undecided::Estimate)
        };
        Comparison {
            exact: value,
            estimate,
            central,
            estimate_half_step: finer,
            abs_error,
            rel_error: if size > 0.0 { abs_error / size } else { 0.0 },
            tolerance,
            exact_rounding: exact.rounding,
            step: h,
            usual_step: true,
            status,
            ok: status == Status::Agrees,
        }
    }

    /// Sets the verdict (the ladder's, over the steps tried).
    pub(super) fn set_status(&mut self, status: Status) {
        self.status = status;
        self.ok = status == Status::Agrees;
    }
}

/// Why a point was not checked.
#[derive(Clone, Debug, PartialEq)]
pub enum Skip {
    /// An output is not finite at the point (`var: None`) or at a point of
    /// the stencil along `var`; `error` names the operation.
    NotFinite {
        /// What went wrong, naming the operation.
        error: Error,
        /// The coordinate whose stencil it was, if not the point itself.
        var: Option<usize>,
    },
    /// The stencil along `var` reaches across a kink of `func`, which was
    /// written at `span` (in the formula's text). Kinks of the derivatives
    /// (`sign` from `abs`) sit where those of the formula do, which come
    /// first: the reason names what the user wrote.
    Kink {
        /// The function with the kink.
        func: Func,
        /// Where it was written.
        span: Option<Span>,
        /// The coordinate whose stencil crosses it.
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
    /// Whether every comparison agrees.
    pub fn ok(&self) -> bool {
        self.comparisons().all(|c| c.ok)
    }

    /// Whether any comparison differs.
    pub fn differs(&self) -> bool {
        self.comparisons().any(|c| c.status == Status::Differs)
    }

    fn comparisons(&self) -> impl Iterator<Item = &Comparison> {
        self.gradient.iter().chain(self.hessian.iter().flatten())
    }
}

/// One point of a gradient check.
#[derive(Clone, Debug, PartialEq)]
pub struct PointCheck {
    /// The point.
    pub x: Vec<f64>,
    /// f at the point (compiled).
    pub value: f64,
    /// The comparisons, or why the point was skipped.
    pub outcome: std::result::Result<Checked, Skip>,
}

/// Compares the compiled exact gradient (and Hessian, with `hessian`) of
/// `formula` with finite differences of its compiled value (and gradient)
/// at each of `points`. Errors if a point has the wrong number of
/// coordinates, the derivatives would outgrow the formula's node limit
/// ([`Formula::hessian`]) or the formula cannot be compiled.
pub fn check_points(
    formula: &mut Formula,
    points: &[Vec<f64>],
    hessian: bool,
) -> Result<Vec<PointCheck>> {
    let n = formula.n_vars();
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
    let gradient = formula.gradient().to_vec();
    let mut outputs = vec![formula.value()];
    outputs.extend_from_slice(&gradient);
    if hessian {
        let entries: Vec<NodeId> = formula.hessian()?.into_iter().flatten().collect();
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
    let kinks = Kinks::new(graph, &outputs);
    let branches = |x: &[f64]| kinks.branches(x);
    // Every output's rounding, bounded along its graph: the exact
    // derivatives', and that of the values differenced.
    let order = reachable(graph, &outputs);

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
        // A bound that is not finite (a loop's) is not known: 0.
        let known = |e: f64| if e.is_finite() { e } else { 0.0 };
        let bounded = eval_bounded(graph, &order, &outputs, &x);
        let rounding: Vec<f64> = bounded.iter().map(|b| known(b.rounding)).collect();
        // The size at which the differenced values round, as Exact::terms
        // has it: for f and, along each row of the Hessian, for each
        // entry of the gradient. The stencil's points are not the center,
        // so the bound is the one for evaluations nearby.
        let terms = |k: usize| known(bounded[k].nearby) / f64::EPSILON;
        let largest_of = |v: &[f64]| v.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let gradient_size = largest_of(&at_center[1..1 + n]);
        let hessian_size = largest_of(&at_center[1 + n..]);
        let mut checked = Checked {
            gradient: Vec::with_capacity(n),
            hessian: Vec::new(),
        };
        let mut skip = None;
        for i in 0..n {
            // The exact derivatives compared along x_i: ∂f/∂xᵢ with the
            // differences of f, and row i of the Hessian with those of the
            // gradient.
            let mut exact = vec![Exact {
                value: at_center[1 + i],
                rounding: rounding[1 + i],
                siblings: gradient_size,
                terms: terms(0),
            }];
            if hessian {
                exact.extend((0..n).map(|j| Exact {
                    value: at_center[1 + n + i * n + j],
                    rounding: rounding[1 + n + i * n + j],
                    siblings: hessian_size,
                    terms: terms(1 + j),
                }));
            }
            // The first trouble met in a stencil along x_i.
            let mut first_trouble: Option<Trouble> = None;
            let mut estimate = |length: f64| {
                let mut trouble: Option<Trouble> = None;
                let mut f = |x: &[f64], out: &mut [f64]| {
                    stencil.call(x, out);
                    if trouble.is_some() {
                        return;
                    }
                    if let Some(k) = kinks.crossed(&branches(x), &center_branches) {
                        trouble = Some(Trouble::Kink(k));
                    } else if out.iter().any(|v| !v.is_finite()) {
                        trouble = Some(Trouble::NotFinite(x.to_vec()));
                    }
                };
                let along = fd::along_at_scale(&mut f, &mut x, i, n_fd, length);
                match trouble {
                    Some(t) => {
                        first_trouble.get_or_insert(t);
                        None
                    }
                    None => Some(along),
                }
            };
            let compared = compare_along(point[i], &exact, &mut estimate);
            let Some(mut compared) = compared else {
                skip = match first_trouble {
                    Some(Trouble::Kink(k)) => {
                        let (func, span) = kinks.describe(k);
                        Some(Skip::Kink { func, span, var: i })
                    }
                    Some(Trouble::NotFinite(at)) => {
                        let error = formula
                            .diagnose(&outputs[..n_fd], &at)
                            .unwrap_or_else(|| not_finite_without_cause(&at));
                        Some(Skip::NotFinite {
                            error,
                            var: Some(i),
                        })
                    }
                    None => None,
                };
                break;
            };
            checked.gradient.push(compared.remove(0));
            if hessian {
                checked.hessian.push(compared);
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

pub(super) enum Trouble {
    Kink(usize),
    NotFinite(Vec<f64>),
}

/// Compiled code gave a non-finite value the interpreter does not: they
/// perform the same operations, so this should not happen; say so plainly.
pub(super) fn not_finite_without_cause(x: &[f64]) -> Error {
    Error::new(
        ErrorKind::NotFinite,
        format!("the compiled code gives a non-finite value at {x:?}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::sample;

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
        let compare = |exact: f64, estimates: [f64; 3]| {
            let exact = Exact {
                value: exact,
                rounding: 0.0,
                siblings: 0.0,
                terms: 0.0,
            };
            Comparison::new(&exact, estimates, 1.0, 7e-4, 6e-6)
        };
        // Comparison itself: an exact value off by 1e-6 relative differs.
        let c = compare(1.000001, [1.0; 3]);
        assert_eq!(c.status, Status::Differs);
        assert!(!c.ok);
        let c = compare(1.0 + 1e-13, [1.0 + 1e-11, 1.0, 1.0]);
        assert!(c.ok, "{c:?}");
        // Central and Richardson agreeing by chance do not make the
        // tolerance tight when the finer Richardson estimate moves.
        let c = compare(1.0 + 1e-8, [1.0, 1.0, 1.0 + 1e-8]);
        assert!(c.ok, "{c:?}");
        // A tolerance as large as the values decides nothing.
        let c = compare(1.0, [0.5, 0.4, 0.3]);
        assert_eq!(c.status, Status::Undecided(Undecided::Estimate), "{c:?}");
    }
}
