//! `slope min` on a formula with constraints (or `--method auglag`/`sqp`):
//! one run of SQP or of the augmented Lagrangian, reported with each
//! constraint's value, multiplier and status. Without `--method`, SQP on
//! the compiled Hessian of the Lagrangian for a problem of at most
//! [`SQP_MAX_SIZE`] variables and constraint rows whose Hessian compiles;
//! the augmented Lagrangian for an indexed or larger one (SQP's dense
//! subproblems cost (n + m)³ per step), and for an indexed one of at most
//! that size SQP (damped BFGS) where the augmented Lagrangian fails. Exit
//! status 0 only for a run that converged (`kkt`); 1 for `infeasible` and
//! every other way of stopping.

use std::borrow::Cow;
use std::io::Write;

use serde_json::{Map, Value, json};

use super::super::{
    Failure, Source, constraint_row_text, counted, format_value, json_number, usage,
};
use super::args::{self, Args, GradientArg, MethodArg};
use slope::optim::{
    Auglag, ConstrainedOutcome, Reason, SQP_MAX_SIZE, Sqp, minimize_auglag_or_sqp,
    minimize_constrained, minimize_sqp, minimize_sqp_or_auglag,
};
use slope::{ConstrainedObjective, ConstraintKind, Formula};

/// An inequality within this of 0 (or above it) is reported as active.
const ACTIVE_TOL: f64 = 1e-6;

/// How the run is made: the method, and for SQP whether its Hessian is
/// the exact one.
#[derive(Clone, Copy, PartialEq)]
enum Run {
    Auglag,
    Sqp { exact: bool },
}

pub(super) fn run(
    args: &Args,
    f: &Formula,
    source: &Source,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Failure> {
    refuse_unsupported(args, !f.constraints().is_empty()).map_err(Failure::plain)?;
    let (settings, start, seed) =
        args::settings(args, f, MethodArg::Lbfgs).map_err(Failure::plain)?;
    let mut problem = f
        .compile_problem()
        .map_err(|e| Failure::in_source(e, source))?;
    let size = problem.n_vars() + problem.kinds().len();
    let mut how = match args.method {
        Some(MethodArg::Auglag) => Run::Auglag,
        Some(_) => Run::Sqp {
            exact: problem
                .prepare_lagrangian_hessian()
                .map_err(|e| Failure::in_source(e, source))?,
        },
        // A Hessian that cannot be built (a node limit) is no error here:
        // the augmented Lagrangian needs none.
        None if size <= SQP_MAX_SIZE && problem.prepare_lagrangian_hessian().unwrap_or(false) => {
            Run::Sqp { exact: true }
        }
        None => Run::Auglag,
    };
    let sqp = Sqp {
        feasibility_tol: args.ctol,
        optimality_tol: args.kkt_tol,
        max_iter: args.max_iter.unwrap_or(Sqp::default().max_iter),
        ..Sqp::default()
    };
    let run = match how {
        Run::Auglag => {
            let auglag = Auglag {
                feasibility_tol: args.ctol,
                optimality_tol: args.kkt_tol,
                ..Auglag::default()
            };
            if args.method.is_none() && size <= SQP_MAX_SIZE {
                // The default hands a failed run to SQP (damped BFGS),
                // from the start.
                minimize_auglag_or_sqp(&mut problem, &start, &settings, &auglag, &sqp).map(
                    |(run, handed)| {
                        if handed {
                            how = Run::Sqp { exact: false };
                        }
                        run
                    },
                )
            } else {
                minimize_constrained(&mut problem, &start, &settings, &auglag)
            }
        }
        Run::Sqp { .. } => {
            if args.method.is_none() {
                // The default hands a stalled SQP run to the augmented
                // Lagrangian, from the start.
                let auglag = Auglag {
                    feasibility_tol: args.ctol,
                    optimality_tol: args.kkt_tol,
                    ..Auglag::default()
                };
                minimize_sqp_or_auglag(&mut problem, &start, &settings, &sqp, &auglag).map(
                    |(run, handed)| {
                        if handed {
                            how = Run::Auglag;
                        }
                        run
                    },
                )
            } else {
                minimize_sqp(&mut problem, &start, &settings, &sqp)
            }
        }
    }
    .map_err(|e| Failure::in_source(e, source))?;
    let rows = f
        .constraint_rows()
        .map_err(|e| Failure::in_source(e, source))?;
    let kinds: Vec<ConstraintKind> = (rows.iter())
        .map(|r| f.constraints()[r.statement].kind)
        .collect();
    let texts: Vec<String> = rows.iter().map(|r| constraint_row_text(f, r)).collect();
    // A violated row is never active, in the JSON as in the text.
    let active: Vec<bool> = (run.active(&kinds, ACTIVE_TOL).into_iter().enumerate())
        .map(|(i, active)| active && !run.violated(kinds[i], i, args.ctol))
        .collect();
    if args.json {
        let obj = run_json(f, &run, how, &active, &texts, seed, settings.constraints());
        writeln!(out, "{}", Value::Object(obj))?;
    } else {
        let rows = Rows {
            kinds: &kinds,
            texts: &texts,
            active: &active,
            bounds: settings.constraints(),
        };
        write_summary(out, f, &run, how, &rows, seed, args.ctol)?;
    }
    if !run.converged() {
        writeln!(
            err,
            "note: stopped by {}: {}",
            run.outcome.reason, run.outcome.message
        )?;
    }
    Ok(u8::from(!run.converged()))
}

/// Flags that a constrained run does not take, refused rather than
/// ignored.
fn refuse_unsupported(args: &Args, constrained: bool) -> slope::Result<()> {
    let method = args.method.unwrap_or(MethodArg::Sqp);
    if !matches!(method, MethodArg::Auglag | MethodArg::Sqp) {
        let name = args::method_name(method);
        return Err(
            usage(&format!("--method {name} cannot take constraints")).with_hint(
                "the formula has 'subject to' statements: leave out --method, or choose sqp or \
                 auglag",
            ),
        );
    }
    let refused: [(&str, bool); 8] = [
        ("--compare", args.compare.is_some()),
        ("--restarts", args.restarts.is_some()),
        ("--maximize", args.maximize),
        ("--trace", args.trace.is_some()),
        ("--plot", args.plot.is_some()),
        ("--plot-convergence", args.plot_convergence.is_some()),
        ("--gradient", !matches!(args.gradient, GradientArg::Exact)),
        ("--line-search", args.line_search),
    ];
    if let Some((flag, _)) = refused.iter().find(|(_, given)| *given) {
        let with = if constrained {
            "constraints (methods sqp and auglag)".to_string()
        } else {
            format!("--method {}", args::method_name(method))
        };
        // Leaving out --maximize would minimise instead: say what gives
        // the maximum.
        let hint = match (*flag, constrained) {
            ("--maximize", true) => "minimise -(f) instead: write the objective negated, \
                                     -(...), keep the constraints, and turn the sign of the f \
                                     reported"
                .to_string(),
            ("--maximize", false) => format!(
                "leave out --method {} (the methods for unconstrained problems take \
                 --maximize), or minimise -(f)",
                args::method_name(method)
            ),
            _ => format!("leave out {flag}"),
        };
        return Err(usage(&format!("{flag} is not available with {with}")).with_hint(hint));
    }
    for (flag, v) in [("--ctol", args.ctol), ("--kkt-tol", args.kkt_tol)] {
        if !(v.is_finite() && v > 0.0) {
            return Err(usage(&format!(
                "{flag} must be a positive number, not {}",
                format_value(v)
            )));
        }
    }
    Ok(())
}

/// Each constraint's status: "active", "inactive" or "violated" (by more
/// than `ctol` in the row's unit, as the runs test it; such a row's
/// `active` is false).
fn status(
    run: &ConstrainedOutcome,
    kind: ConstraintKind,
    i: usize,
    active: bool,
    ctol: f64,
) -> &'static str {
    if run.violated(kind, i, ctol) {
        "violated"
    } else if active {
        "active"
    } else {
        "inactive"
    }
}

/// Most constraint rows the text report lists one by one (`--json` gives
/// them all).
const LISTED_ROWS: usize = 20;

/// The rows of a run's constraints, as the report shows them.
struct Rows<'a> {
    kinds: &'a [ConstraintKind],
    texts: &'a [String],
    active: &'a [bool],
    /// The box the run held, if any: a variable with equal bounds is
    /// reported as fixed.
    bounds: Option<&'a [(f64, f64)]>,
}

fn run_json(
    f: &Formula,
    run: &ConstrainedOutcome,
    how: Run,
    active: &[bool],
    texts: &[String],
    seed: Option<u64>,
    bounds: Option<&[(f64, f64)]>,
) -> Map<String, Value> {
    let outcome = &run.outcome;
    let numbers = |v: &[f64]| -> Value { v.iter().map(|&v| json_number(v)).collect() };
    let mut obj = Map::new();
    obj.insert("vars".into(), json!(f.vars()));
    obj.insert("x".into(), numbers(&outcome.x));
    obj.insert("f".into(), json_number(outcome.f));
    obj.insert("gradient".into(), numbers(&outcome.gradient));
    obj.insert("constraints".into(), numbers(&run.constraints));
    obj.insert("multipliers".into(), numbers(&run.multipliers));
    obj.insert("max_violation".into(), json_number(run.max_violation));
    obj.insert("kkt_residual".into(), json_number(run.kkt_residual));
    obj.insert("constraint_text".into(), json!(texts));
    obj.insert("active_constraints".into(), json!(active));
    obj.insert("iterations".into(), json!(outcome.iterations));
    obj.insert("outer_iterations".into(), json!(run.outer_iterations));
    obj.insert("penalty".into(), json_number(run.penalty));
    obj.insert("evaluations".into(), json!(outcome.evaluations));
    obj.insert(
        "gradient_evaluations".into(),
        json!(outcome.gradient_evaluations),
    );
    obj.insert(
        "hessian_evaluations".into(),
        json!(outcome.hessian_evaluations),
    );
    obj.insert("converged".into(), json!(run.converged()));
    obj.insert("reason".into(), json!(outcome.reason.name()));
    obj.insert("message".into(), json!(outcome.message));
    let method = match how {
        Run::Auglag => "auglag",
        Run::Sqp { .. } => "sqp",
    };
    obj.insert("method".into(), json!(method));
    obj.insert("seconds".into(), json_number(outcome.seconds));
    // As an unconstrained run's: present whenever there are bounds.
    if bounds.is_some() {
        let at: Map<String, Value> = super::report::active_bounds(f, &run.outcome, bounds)
            .map(|(name, side)| (name.to_string(), json!(side)))
            .collect();
        obj.insert("active_bounds".into(), Value::Object(at));
    }
    if !outcome.moved_start.is_empty() {
        let moved: Vec<Cow<str>> = (outcome.moved_start.iter())
            .map(|&i| f.var_names().name(i))
            .collect();
        obj.insert("moved_start".into(), json!(moved));
    }
    if let Some(seed) = seed {
        obj.insert("seed".into(), json!(seed));
    }
    obj
}

fn write_summary(
    out: &mut dyn Write,
    f: &Formula,
    run: &ConstrainedOutcome,
    how: Run,
    rows: &Rows<'_>,
    seed: Option<u64>,
    ctol: f64,
) -> std::io::Result<()> {
    let outcome = &run.outcome;
    let what = match outcome.reason {
        Reason::Kkt => "minimum",
        Reason::Infeasible => "infeasible",
        Reason::Diverged if outcome.f.is_finite() => "last finite",
        Reason::Diverged => "not finite",
        Reason::Unbounded => "lowest seen",
        Reason::Saddle => "saddle",
        _ => "last",
    };
    writeln!(out, "{what:<11} f = {}", format_value(outcome.f))?;
    super::report::write_point(out, f, &outcome.x)?;
    let listed = rows.texts.len().min(LISTED_ROWS);
    let width = (rows.texts[..listed].iter())
        .map(|t| t.chars().count())
        .max()
        .unwrap_or(0);
    for (i, text) in rows.texts[..listed].iter().enumerate() {
        let g = run.constraints[i];
        let label = if i == 0 { "subject to" } else { "" };
        let state = status(run, rows.kinds[i], i, rows.active[i], ctol);
        writeln!(
            out,
            "{label:<11} {text:<width$}  {state:<8}  g = {}, multiplier {}",
            format_value(g),
            format_value(run.multipliers[i]),
        )?;
    }
    if rows.texts.len() > listed {
        let rest = listed..rows.texts.len();
        let count = |state: &str| {
            rest.clone()
                .filter(|&i| status(run, rows.kinds[i], i, rows.active[i], ctol) == state)
                .count()
        };
        writeln!(
            out,
            "{:<11} and {} more rows: {} active, {} violated (--json lists every row)",
            "",
            rest.len(),
            count("active"),
            count("violated")
        )?;
    }
    writeln!(
        out,
        "{:<11} {} (largest), KKT residual {}",
        "violation",
        format_value(run.max_violation),
        format_value(run.kkt_residual)
    )?;
    match how {
        Run::Auglag => writeln!(
            out,
            "{:<11} auglag (L-BFGS-B inside), {}, penalty {}",
            "method",
            counted(run.outer_iterations, "outer iteration"),
            format_value(run.penalty)
        )?,
        Run::Sqp { exact } => writeln!(
            out,
            "{:<11} sqp ({}), {}, merit penalty {}",
            "method",
            if exact {
                "exact Hessian of the Lagrangian"
            } else {
                "damped BFGS"
            },
            counted(outcome.hessian_evaluations, "Hessian"),
            format_value(run.penalty)
        )?,
    }
    super::report::write_run_end(out, f, outcome, rows.bounds, seed, outcome.seconds)
}
