//! `slope min`'s one report path: the runs, whichever way they were made,
//! become the text summary or one JSON object on stdout, notes on stderr
//! for runs that did not converge, and the exit status.

use std::borrow::Cow;
use std::io::Write;

/// Coordinates a text report lists, at most.
const MAX_SHOWN: usize = 20;

use serde_json::{Map, Value, json};

use super::super::{Failure, counted, format_value, json_number};
use super::Context;
use super::args::{GradientArg, TraceFormat};
use super::runs::{Mode, Run, Runs};
use slope::Formula;
use slope::optim::{self, Advice, Iterate, Method, Outcome};

/// Writes the report of `runs` and returns the exit status.
pub(super) fn report(
    context: &Context,
    runs: &Runs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Failure> {
    match &runs.mode {
        Mode::Single => single(context, runs, out, err),
        Mode::Restarts { minima } => restarts(context, runs, minima, out, err),
        Mode::Compare => compare(context, runs, out, err),
    }
}

fn single(
    context: &Context,
    runs: &Runs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Failure> {
    let (args, f) = (context.args, context.f);
    let run = runs.best();
    let outcome = &run.outcome;
    // `+ 0.0` turns the -0 of a negated zero into 0.
    let value = context.sign() * outcome.f + 0.0;
    if args.json {
        let obj = run_json(context, run, runs.seed);
        writeln!(out, "{}", Value::Object(obj))?;
    } else {
        write_summary(out, context, run, value, runs.seed, run.seconds)?;
        context.pictures.write_summary(out)?;
    }
    report_trouble(err, f, context, outcome)
}

/// The best run and the distinct minima found.
fn restarts(
    context: &Context,
    runs: &Runs,
    minima: &[optim::Minimum],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Failure> {
    let (args, f) = (context.args, context.f);
    let sign = context.sign();
    let k = runs.runs.len();
    let outcome_of = |i: usize| &runs.runs[i].outcome;
    let best = runs.best();
    let value = sign * best.outcome.f + 0.0;
    let evaluations: usize = runs.runs.iter().map(|r| r.outcome.evaluations).sum();
    if args.json {
        let found: Vec<Value> = minima
            .iter()
            .map(|m| {
                let o = outcome_of(m.best);
                json!({
                    "x": o.x.iter().map(|&v| json_number(v)).collect::<Vec<_>>(),
                    "f": json_number(sign * o.f + 0.0),
                    "runs": m.runs.len(),
                })
            })
            .collect();
        let mut obj = run_json(context, best, runs.seed);
        obj.insert("total_evaluations".into(), json!(evaluations));
        obj.insert("total_seconds".into(), json_number(runs.seconds));
        obj.insert("restarts".into(), json!(k));
        obj.insert("minima".into(), Value::Array(found));
        let obj = Value::Object(obj);
        writeln!(out, "{obj}")?;
    } else {
        write_summary(out, context, best, value, runs.seed, runs.seconds)?;
        let converged = minima.iter().map(|m| m.runs.len()).sum::<usize>();
        // `--maximize` finds maxima (the JSON keeps its key, "minima").
        let heading = if args.maximize { "maxima" } else { "minima" };
        writeln!(
            out,
            "{heading:<11} {} distinct from {converged} of {} converging ({evaluations} evaluations in all)",
            minima.len(),
            counted(k, "run"),
        )?;
        for m in minima {
            let o = outcome_of(m.best);
            let at: Vec<String> = (f.var_names().iter())
                .zip(&o.x)
                .map(|(name, v)| format!("{name} = {}", format_value(*v)))
                .collect();
            writeln!(
                out,
                "{:<11} f = {} at {}  ({})",
                "",
                format_value(sign * o.f + 0.0),
                at.join(", "),
                counted(m.runs.len(), "run")
            )?;
        }
        context.pictures.write_summary(out)?;
    }
    if minima.is_empty() {
        writeln!(
            err,
            "note: none of the {k} runs converged; the best is shown"
        )?;
        return Ok(1);
    }
    if !best.outcome.reason.converged() {
        let message = match args.maximize {
            true => of_maximum(&best.outcome.message),
            false => best.outcome.message.clone(),
        };
        writeln!(
            err,
            "note: {}, shown as the best, ended lower than every converged run, stopped by {}: \
             {message}",
            best.label,
            best.outcome.reason.name(),
        )?;
    }
    Ok(0)
}

/// One row per method.
fn compare(
    context: &Context,
    runs: &Runs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Failure> {
    let (args, f) = (context.args, context.f);
    let sign = context.sign();
    let (start, seed) = (&runs.start, runs.seed);
    let point = |x: &[f64]| -> String {
        (f.var_names().iter())
            .zip(x)
            .map(|(name, v)| format!("{name} = {}", format_value(*v)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if args.json {
        let rows: Vec<Value> = runs
            .runs
            .iter()
            .map(|run| {
                let mut row = run_json(context, run, None);
                row.shift_remove("vars");
                row.insert("status".into(), json!(u8::from(failed(&run.outcome))));
                Value::Object(row)
            })
            .collect();
        let mut obj = Map::new();
        obj.insert("vars".into(), json!(f.vars()));
        obj.insert(
            "start".into(),
            start.iter().map(|&v| json_number(v)).collect(),
        );
        if let Some(seed) = seed {
            obj.insert("seed".into(), json!(seed));
        }
        obj.insert("runs".into(), Value::Array(rows));
        writeln!(out, "{}", Value::Object(obj))?;
    } else {
        let origin = seed.map_or(String::new(), |s| format!("  (random, --seed {s})"));
        writeln!(out, "{:<11} {}{origin}", "start", point(start))?;
        writeln!(
            out,
            "{:<11} {:<24} {:>10} {:>11}  {:<11} {:>9}  at",
            "method", "f", "iterations", "evaluations", "stopped", "time"
        )?;
        for Run {
            settings: s,
            outcome: o,
            seconds,
            ..
        } in &runs.runs
        {
            writeln!(
                out,
                "{:<11} {:<24} {:>10} {:>11}  {:<11} {:>9}  {}",
                s.method.name(),
                format_value(sign * o.f + 0.0),
                o.iterations,
                o.evaluations,
                o.reason.name(),
                format_seconds(*seconds),
                point(&o.x)
            )?;
        }
        context.pictures.write_summary(out)?;
    }
    for Run {
        settings: s,
        outcome: o,
        ..
    } in &runs.runs
    {
        if let Some(hint) = note(o, context.args.maximize) {
            writeln!(
                err,
                "note: {} stopped by {}: {hint}",
                s.method.name(),
                o.reason
            )?;
        }
    }
    // As each run would exit alone: a comparison with a failed run fails.
    Ok(u8::from(runs.runs.iter().any(|r| failed(&r.outcome))))
}

/// The JSON object of one run, in DESIGN.md's shared vocabulary (the same
/// fields for a single run, each `--compare` run and the best `--restarts`
/// run), plus the seed of a random start and the hint of a run that did
/// not converge.
fn run_json(context: &Context, run: &Run, seed: Option<u64>) -> Map<String, Value> {
    let (outcome, sign) = (&run.outcome, context.sign());
    let numbers = |v: &[f64]| -> Value { v.iter().map(|&v| json_number(v)).collect() };
    let mut obj = Map::new();
    obj.insert("vars".into(), json!(context.f.vars()));
    obj.insert("x".into(), numbers(&outcome.x));
    // `+ 0.0` turns the -0 of a negated zero into 0.
    obj.insert("f".into(), json_number(sign * outcome.f + 0.0));
    let gradient: Vec<f64> = outcome.gradient.iter().map(|g| sign * g + 0.0).collect();
    obj.insert("gradient".into(), numbers(&gradient));
    obj.insert("iterations".into(), json!(outcome.iterations));
    obj.insert("evaluations".into(), json!(outcome.evaluations));
    obj.insert(
        "gradient_evaluations".into(),
        json!(outcome.gradient_evaluations),
    );
    obj.insert(
        "hessian_evaluations".into(),
        json!(outcome.hessian_evaluations),
    );
    obj.insert("converged".into(), json!(outcome.reason.converged()));
    obj.insert("reason".into(), json!(outcome.reason.name()));
    // The text's words: about f, not the -f a maximising run minimised.
    let message = match context.args.maximize {
        true => of_maximum(&outcome.message),
        false => outcome.message.clone(),
    };
    obj.insert("message".into(), json!(message));
    obj.insert("method".into(), json!(run.settings.method.name()));
    obj.insert("lr".into(), json_number(run.settings.method.lr()));
    obj.insert("seconds".into(), json_number(run.seconds));
    if run.settings.constraints().is_some() {
        let at: Map<String, Value> = active_bounds(context.f, outcome, run.settings.constraints())
            .map(|(name, side)| (name.to_string(), json!(side)))
            .collect();
        obj.insert("active_bounds".into(), Value::Object(at));
    }
    if !outcome.moved_start.is_empty() {
        let names = context.f.var_names();
        let moved: Vec<Cow<str>> = outcome.moved_start.iter().map(|&i| names.name(i)).collect();
        obj.insert("moved_start".into(), json!(moved));
    }
    if let Some(seed) = seed {
        obj.insert("seed".into(), json!(seed));
    }
    if let Some(note) = note(outcome, context.args.maximize) {
        obj.insert("hint".into(), json!(note));
    }
    obj
}

/// The library's words about `-f` (which a maximising run minimises) as
/// words about f: `--maximize` on `x^2` rises without bound, it does not
/// fall.
fn of_maximum(message: &str) -> String {
    const TURNED: [(&str, &str); 10] = [
        // The saddle test's two cases (the Hessian is -f's).
        (
            "has a negative eigenvalue: a saddle or a maximum, not a minimum",
            "has a positive eigenvalue: a saddle or a minimum, not a maximum",
        ),
        (
            "f falls along it at higher order: a saddle or a maximum, not a minimum",
            "f rises along it at higher order: a saddle or a minimum, not a maximum",
        ),
        ("kept falling", "kept rising"),
        ("fell to -∞", "rose to +∞"),
        ("no lower bound", "no upper bound"),
        ("lowers f", "raises f"),
        (
            "falls a little way down the gradient",
            "rises a little way up the gradient",
        ),
        ("never rising", "never falling"),
        ("walk downhill", "walk uphill"),
        ("no minimum is attained", "no maximum is attained"),
    ];
    TURNED
        .iter()
        .fold(message.to_string(), |m, (from, to)| m.replace(from, to))
}

/// Whether a run went wrong (exit status 1): it diverged or oscillated, f
/// has no lower bound, or the point it found is a saddle. Running out of
/// iterations is not a failure: the result may be usable.
fn failed(outcome: &Outcome) -> bool {
    use optim::Reason::*;
    matches!(outcome.reason, Diverged | Oscillating | Unbounded | Saddle)
}

/// The variables a run ended on a bound of, with the side ("lower" or
/// "upper"), or "fixed" for a variable whose `bounds` are equal (at both
/// at once, it never moved), in order.
pub(super) fn active_bounds<'f>(
    f: &'f Formula,
    outcome: &'f Outcome,
    bounds: Option<&'f [(f64, f64)]>,
) -> impl Iterator<Item = (Cow<'f, str>, &'static str)> {
    // Only the variables on a bound are named.
    outcome
        .active
        .iter()
        .enumerate()
        .filter_map(move |(k, side)| {
            let fixed = bounds.is_some_and(|b| b[k].0 == b[k].1);
            let side = match side {
                optim::Bound::Free => return None,
                _ if fixed => "fixed",
                optim::Bound::Lower => "lower",
                optim::Bound::Upper => "upper",
            };
            Some((f.var_names().name(k), side))
        })
}

/// How the text report says where a variable ended: "x fixed", "x at its
/// lower bound".
pub(super) fn bound_phrase(name: &str, side: &str) -> String {
    match side {
        "fixed" => format!("{name} fixed"),
        _ => format!("{name} at its {side} bound"),
    }
}

pub(super) fn write_trace(
    out: &mut dyn Write,
    format: TraceFormat,
    it: &Iterate,
    sign: f64,
) -> std::io::Result<()> {
    let f = sign * it.f;
    match format {
        TraceFormat::Text => {
            // Every digit: a fixed number of decimals prints 0 near a minimum.
            let xs: Vec<String> = it.x.iter().map(|&v| format_value(v)).collect();
            writeln!(
                out,
                ">{} f([{}]) = {}",
                it.iteration,
                xs.join(", "),
                format_value(f)
            )
        }
        TraceFormat::Jsonl => {
            let record = json!({
                "iteration": it.iteration,
                "x": it.x.iter().map(|&v| json_number(v)).collect::<Vec<_>>(),
                "f": json_number(f),
                "grad_norm": json_number(it.grad_norm),
                "step": json_number(it.step),
            });
            writeln!(out, "{record}")
        }
        TraceFormat::Csv => {
            let xs: Vec<String> = it.x.iter().map(|v| format!("{v:?}")).collect();
            writeln!(
                out,
                "{},{},{:?},{:?},{:?}",
                it.iteration,
                xs.join(","),
                f,
                it.grad_norm,
                it.step
            )
        }
    }
}

/// The text summary of one run: the value, the point, the method, how
/// it stopped.
fn write_summary(
    out: &mut dyn Write,
    context: &Context,
    run: &Run,
    value: f64,
    seed: Option<u64>,
    seconds: f64,
) -> std::io::Result<()> {
    let (f, args, outcome, settings) = (context.f, context.args, &run.outcome, &run.settings);
    // "minimum" only when the run can vouch for it.
    use slope::optim::Reason;
    let what = match (outcome.reason, args.maximize) {
        (Reason::Diverged, _) if value.is_finite() => "last finite",
        (Reason::Diverged, _) => "not finite",
        (Reason::Saddle, _) => "saddle",
        (Reason::Unbounded, false) => "lowest seen",
        (Reason::Unbounded, true) => "highest seen",
        (r, _) if !r.converged() => "last",
        (_, true) => "maximum",
        (_, false) => "minimum",
    };
    writeln!(out, "{what:<11} f = {}", format_value(value))?;
    write_point(out, f, &outcome.x)?;
    let gradient = match args.gradient {
        GradientArg::Exact => String::new(),
        GradientArg::FdForward => ", forward differences".to_string(),
        GradientArg::FdCentral => ", central differences".to_string(),
    };
    let method = settings.method;
    let search = match method {
        Method::Gd {
            line_search: true, ..
        } => " with line search",
        _ => "",
    };
    writeln!(
        out,
        "{:<11} {}{search}, lr {}{gradient}",
        "method",
        method.name(),
        format_value(method.lr())
    )?;
    write_run_end(out, f, outcome, settings.constraints(), seed, seconds)
}

/// The lines every text report ends with, constrained or not: how the
/// start was chosen or moved, the bounds that hold, and why the run stopped.
pub(super) fn write_run_end(
    out: &mut dyn Write,
    f: &Formula,
    outcome: &Outcome,
    bounds: Option<&[(f64, f64)]>,
    seed: Option<u64>,
    seconds: f64,
) -> std::io::Result<()> {
    if let Some(seed) = seed {
        writeln!(out, "{:<11} random start from --seed {seed}", "start")?;
    }
    if !outcome.moved_start.is_empty() {
        writeln!(
            out,
            "{:<11} moved onto --bounds (it lay outside them)",
            "start"
        )?;
    }
    // As the coordinates: the first twenty of possibly a million, each
    // name made only when shown, and how many more.
    let active: Vec<String> = active_bounds(f, outcome, bounds)
        .take(MAX_SHOWN)
        .map(|(name, side)| bound_phrase(&name, side))
        .collect();
    if !active.is_empty() {
        let all = (outcome.active.iter())
            .filter(|&&side| side != optim::Bound::Free)
            .count();
        let more = match all - active.len() {
            0 => String::new(),
            n => format!(" and {n} more (--json gives every one)"),
        };
        writeln!(out, "{:<11} {}{more}", "bounds", active.join(", "))?;
    }
    writeln!(
        out,
        "{:<11} {} after {} ({}) in {}",
        "stopped",
        outcome.reason,
        counted(outcome.iterations, "iteration"),
        counted(outcome.evaluations, "evaluation"),
        format_seconds(seconds)
    )
}

/// The `at` lines of a report: a million coordinates are data, not a
/// report, so at most [`MAX_SHOWN`] lines, the last saying how many more
/// there are and where to find them.
pub(super) fn write_point(out: &mut dyn Write, f: &Formula, x: &[f64]) -> std::io::Result<()> {
    let shown = if f.n_vars() > MAX_SHOWN {
        MAX_SHOWN - 1
    } else {
        MAX_SHOWN
    };
    let names = f.var_names().iter();
    for (i, (name, v)) in names.zip(x).take(shown).enumerate() {
        let label = if i == 0 { "at" } else { "" };
        writeln!(out, "{label:<11} {name} = {}", format_value(*v))?;
    }
    if f.n_vars() > shown {
        let more = f.n_vars() - shown;
        writeln!(
            out,
            "{:<11} ... and {more} more (--json gives every one)",
            ""
        )?;
    }
    Ok(())
}

pub(super) fn format_seconds(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.1} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

/// Explains a run that did not converge on stderr; the exit status is 1
/// for numerical trouble (divergence, oscillation), 0 otherwise.
fn report_trouble(
    err: &mut dyn Write,
    f: &Formula,
    context: &Context,
    outcome: &Outcome,
) -> Result<u8, Failure> {
    let source = context.source;
    let Some(hint) = note(outcome, context.args.maximize) else {
        return Ok(0);
    };
    writeln!(err, "note: stopped by {}: {hint}", outcome.reason)?;
    if let Some(bad) = &outcome.bad_point {
        let mut nodes = vec![f.value()];
        nodes.extend_from_slice(f.gradient());
        if let Some(e) = f.diagnose(&nodes, bad) {
            err.write_all(e.render(&source.text, &source.origin).as_bytes())?;
        }
    }
    Ok(u8::from(failed(outcome)))
}

/// What the command line says of a run that did not converge: the
/// library's diagnosis with its advice in terms of flags (and, when
/// maximising, in terms of the formula rather than of `-f`, which the run
/// minimised).
fn note(outcome: &Outcome, maximize: bool) -> Option<String> {
    if outcome.converged() {
        return None;
    }
    let number = slope::print::format_number;
    Some(match outcome.advice {
        None if maximize => of_maximum(&outcome.message),
        None => outcome.message.clone(),
        Some(advice) => {
            let advice = match advice {
                Advice::SmallerStep { lr } => format!("try a smaller --lr (now {})", number(lr)),
                Advice::LargerStep { lr } => {
                    format!("the step may be too small (--lr {})", number(lr))
                }
                Advice::MoreIterations { max_iter } => {
                    format!("allow more iterations than --max-iter {max_iter}")
                }
            };
            format!("{}: {advice}", outcome.message)
        }
    })
}
