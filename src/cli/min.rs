//! `slope min`: minimise (or maximise) a formula from a start point or a
//! random point in a box, with a choice of methods and gradient sources.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Map, Value, json};

use super::{
    Failure, Input, format_value, fresh_seed, json_number, load, parse_assignments, parse_bounds,
    usage,
};
use crate::error::Result;
use crate::fd::Scheme;
use crate::formula::Formula;
use crate::objective::{CompiledObjective, FiniteDifferences, Negated, Objective};
use crate::optim::{self, Iterate, Method, Outcome, Settings};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    input: Input,
    /// Start point, e.g. --start x=1,y=2
    #[arg(long, value_name = "POINT", allow_hyphen_values = true)]
    start: Option<String>,
    /// Box for a random start (and for --project), e.g. --bounds x=-2:2,y=-1:1
    #[arg(long, value_name = "BOX", allow_hyphen_values = true)]
    bounds: Option<String>,
    /// Seed of the random start (default: drawn, and printed so the run can be repeated)
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Optimisation method
    #[arg(long, value_enum, default_value_t = Method::Lbfgs)]
    method: Method,
    /// Step size of first-order methods (default 0.1); first trial step of a line search (default 1)
    #[arg(long, allow_negative_numbers = true, value_name = "A")]
    lr: Option<f64>,
    /// Backtracking (Armijo) line search for gd
    #[arg(long)]
    line_search: bool,
    /// Most iterations
    #[arg(long, value_name = "N", default_value_t = 1000)]
    max_iter: usize,
    /// Stop when f changes by at most E between iterations (off by default)
    #[arg(long, allow_negative_numbers = true, value_name = "E")]
    ftol: Option<f64>,
    /// Stop when no gradient component exceeds E
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "E",
        default_value_t = 1e-8
    )]
    gtol: f64,
    /// Stop when a step is at most E long (off by default)
    #[arg(long, allow_negative_numbers = true, value_name = "E")]
    xtol: Option<f64>,
    /// Maximise instead of minimising
    #[arg(long)]
    maximize: bool,
    /// Keep first-order iterates inside --bounds
    #[arg(long)]
    project: bool,
    /// Gradient source: exact (compiled), or finite differences of the compiled value
    #[arg(long, value_enum, default_value_t = GradientArg::Exact)]
    gradient: GradientArg,
    /// Momentum coefficient (momentum, nesterov)
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "B",
        default_value_t = 0.9
    )]
    momentum: f64,
    /// Decay of the squared-gradient average (rmsprop)
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "R",
        default_value_t = 0.9
    )]
    rho: f64,
    /// First-moment decay (adam)
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "B",
        default_value_t = 0.9
    )]
    beta1: f64,
    /// Second-moment decay (adam)
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "B",
        default_value_t = 0.999
    )]
    beta2: f64,
    /// Added to denominators (adagrad, rmsprop, adam)
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "E",
        default_value_t = 1e-8
    )]
    epsilon: f64,
    /// Corrections kept (lbfgs)
    #[arg(long, value_name = "M", default_value_t = 10)]
    memory: usize,
    /// Run from K random starts in --bounds on all cores; report the best and the distinct minima
    #[arg(long, value_name = "K")]
    restarts: Option<usize>,
    /// Print every iteration: text (">3 f([x]) = f"), jsonl or csv
    #[arg(long, value_enum, value_name = "FORMAT", num_args = 0..=1, default_missing_value = "text")]
    trace: Option<TraceFormat>,
    /// One JSON object: {"vars", "x", "f", "iterations", "evaluations", "converged", "reason"}
    #[arg(long)]
    json: bool,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum GradientArg {
    Exact,
    FdForward,
    FdCentral,
}

#[derive(Copy, Clone, Debug, PartialEq, ValueEnum)]
enum TraceFormat {
    Text,
    Jsonl,
    Csv,
}

pub fn run(args: &Args, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    let (mut f, source) = load(&args.input)?;
    let (settings, start, seed) = settings(args, &f).map_err(Failure::plain)?;
    let inner = CompiledObjective::new(&mut f, settings.method == Method::Newton)
        .map_err(|e| Failure::in_source(e, &source))?;
    let make_objective = || -> Box<dyn Objective> {
        let inner = inner.clone();
        let objective: Box<dyn Objective> = match args.gradient {
            GradientArg::Exact => Box::new(inner),
            GradientArg::FdForward => Box::new(FiniteDifferences::new(inner, Scheme::Forward)),
            GradientArg::FdCentral => Box::new(FiniteDifferences::new(inner, Scheme::Central)),
        };
        if args.maximize {
            Box::new(Negated(objective))
        } else {
            objective
        }
    };
    if let Some(k) = args.restarts {
        return restarts(args, out, err, &f, &settings, k, seed, &make_objective);
    }
    let mut objective = make_objective();

    // With --json, the trace goes to stderr so that stdout stays one object.
    let mut trace_out: &mut dyn Write = if args.json { err } else { out };
    let sign = if args.maximize { -1.0 } else { 1.0 };
    let mut trace_error = None;
    if args.trace == Some(TraceFormat::Csv) {
        let names: Vec<&str> = f.vars().iter().map(String::as_str).collect();
        if let Err(e) = writeln!(trace_out, "iteration,{},f,grad_norm,step", names.join(",")) {
            trace_error = Some(e);
        }
    }
    // A bar for long runs, on a terminal only; it appears after a second.
    let bar = (args.trace.is_none() && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::with_draw_target(
            Some(settings.max_iter as u64),
            ProgressDrawTarget::stderr(),
        );
        bar.set_style(
            ProgressStyle::with_template("{elapsed} [{bar:30}] {pos}/{len} iterations, f = {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let started = Instant::now();
    let mut observe = |it: &Iterate| {
        if let (Some(format), None) = (args.trace, &trace_error)
            && let Err(e) = write_trace(&mut trace_out, format, it, sign)
        {
            trace_error = Some(e);
        }
        if let Some(bar) = &bar
            && it.iteration.is_multiple_of(1024)
            && started.elapsed().as_secs() >= 1
        {
            bar.set_position(it.iteration as u64);
            bar.set_message(format_value(sign * it.f));
        }
    };
    let outcome = optim::minimize(objective.as_mut(), &start, &settings, &mut observe);
    let elapsed = started.elapsed();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(e) = trace_error {
        return Err(e.into());
    }

    // `+ 0.0` turns the -0 of a negated zero into 0.
    let value = sign * outcome.f + 0.0;
    if args.json {
        let obj = outcome_json(&f, &outcome, value, seed);
        writeln!(out, "{}", Value::Object(obj))?;
    } else {
        write_summary(
            out,
            &f,
            &outcome,
            value,
            args,
            &settings,
            seed,
            elapsed.as_secs_f64(),
        )?;
    }
    report_trouble(err, &f, &source, &outcome)
}

/// The JSON object of one run: the shape DESIGN.md gives, plus the seed of
/// a random start and the hint of a run that did not converge.
fn outcome_json(
    f: &Formula,
    outcome: &Outcome,
    value: f64,
    seed: Option<u64>,
) -> Map<String, Value> {
    let mut obj = Map::new();
    obj.insert("vars".into(), json!(f.vars()));
    obj.insert(
        "x".into(),
        outcome.x.iter().map(|&v| json_number(v)).collect(),
    );
    obj.insert("f".into(), json_number(value));
    obj.insert("iterations".into(), json!(outcome.iterations));
    obj.insert("evaluations".into(), json!(outcome.evaluations));
    obj.insert("converged".into(), json!(outcome.reason.converged()));
    obj.insert("reason".into(), json!(outcome.reason.name()));
    if let Some(seed) = seed {
        obj.insert("seed".into(), json!(seed));
    }
    if let Some(hint) = &outcome.hint {
        obj.insert("hint".into(), json!(hint));
    }
    obj
}

/// Runs `k` starts in parallel; prints the best run and the distinct minima.
#[allow(clippy::too_many_arguments)]
fn restarts(
    args: &Args,
    out: &mut dyn Write,
    err: &mut dyn Write,
    f: &Formula,
    settings: &Settings,
    k: usize,
    seed: Option<u64>,
    make_objective: &(dyn Fn() -> Box<dyn Objective> + Sync),
) -> Result<u8, Failure> {
    let (Some(bounds), Some(seed)) = (&settings.bounds, seed) else {
        return Err(Failure::plain(usage("--restarts needs --bounds")));
    };
    let starts: Vec<Vec<f64>> = (0..k)
        .map(|i| optim::start_of_run(bounds, seed, i))
        .collect();
    let started = Instant::now();
    let outcomes = optim::multi_start(make_objective, &starts, settings);
    let elapsed = started.elapsed().as_secs_f64();
    let minima = optim::distinct_minima(&outcomes);
    let sign = if args.maximize { -1.0 } else { 1.0 };
    // The best converged run, or the best of all if none converged.
    let best = minima.first().map(|m| m.best).unwrap_or_else(|| {
        (0..k)
            .min_by(|&a, &b| outcomes[a].f.total_cmp(&outcomes[b].f))
            .unwrap_or(0)
    });
    let outcome = &outcomes[best];
    let value = sign * outcome.f + 0.0;
    let evaluations: usize = outcomes.iter().map(|o| o.evaluations).sum();
    if args.json {
        let found: Vec<Value> = minima
            .iter()
            .map(|m| {
                let o = &outcomes[m.best];
                json!({
                    "x": o.x.iter().map(|&v| json_number(v)).collect::<Vec<_>>(),
                    "f": json_number(sign * o.f + 0.0),
                    "runs": m.runs.len(),
                })
            })
            .collect();
        let mut obj = outcome_json(f, outcome, value, Some(seed));
        obj.insert("evaluations".into(), json!(evaluations));
        obj.insert("restarts".into(), json!(k));
        obj.insert("minima".into(), Value::Array(found));
        let obj = Value::Object(obj);
        writeln!(out, "{obj}")?;
    } else {
        write_summary(out, f, outcome, value, args, settings, Some(seed), elapsed)?;
        let converged = minima.iter().map(|m| m.runs.len()).sum::<usize>();
        writeln!(
            out,
            "{:<11} {} distinct from {converged} of {k} runs converging ({evaluations} evaluations in all)",
            "minima",
            minima.len()
        )?;
        for m in &minima {
            let o = &outcomes[m.best];
            let at: Vec<String> = f
                .vars()
                .iter()
                .zip(&o.x)
                .map(|(name, v)| format!("{name} = {}", format_value(*v)))
                .collect();
            writeln!(
                out,
                "{:<11} f = {} at {}  ({} runs)",
                "",
                format_value(sign * o.f + 0.0),
                at.join(", "),
                m.runs.len()
            )?;
        }
    }
    if minima.is_empty() {
        writeln!(
            err,
            "note: none of the {k} runs converged; the best is shown"
        )?;
        return Ok(1);
    }
    Ok(0)
}

/// Settings, start point and seed (when one was drawn or given) from the
/// command line, with every value checked.
fn settings(args: &Args, f: &Formula) -> Result<(Settings, Vec<f64>, Option<u64>)> {
    let method = args.method;
    let mut s = Settings::new(method);
    if let Some(lr) = args.lr {
        s.lr = positive("--lr", lr)?;
    }
    if args.max_iter == 0 {
        return Err(usage("--max-iter must be at least 1"));
    }
    s.max_iter = args.max_iter;
    s.ftol = args.ftol.map(|v| non_negative("--ftol", v)).transpose()?;
    s.xtol = args.xtol.map(|v| non_negative("--xtol", v)).transpose()?;
    s.gtol = non_negative("--gtol", args.gtol)?;
    s.line_search = args.line_search;
    if args.line_search && method != Method::Gd {
        return Err(usage(
            "--line-search applies to gd (lbfgs and newton always search)",
        ));
    }
    if args.line_search && args.lr.is_none() {
        s.lr = 1.0;
    }
    s.momentum = fraction("--momentum", args.momentum)?;
    s.rho = fraction("--rho", args.rho)?;
    s.beta1 = fraction("--beta1", args.beta1)?;
    s.beta2 = fraction("--beta2", args.beta2)?;
    s.epsilon = positive("--epsilon", args.epsilon)?;
    if args.memory == 0 {
        return Err(usage("--memory must be at least 1"));
    }
    s.memory = args.memory;

    let bounds = args
        .bounds
        .as_deref()
        .map(|b| parse_bounds(f, b))
        .transpose()?;
    if args.project {
        if bounds.is_none() {
            return Err(usage("--project needs --bounds"));
        }
        if !method.is_first_order() {
            return Err(usage(&format!(
                "--project applies to the first-order methods, not {}",
                method.name()
            )));
        }
        s.project = true;
    }
    if let Some(k) = args.restarts {
        if k == 0 {
            return Err(usage("--restarts must be at least 1"));
        }
        if bounds.is_none() || args.start.is_some() {
            return Err(usage(
                "--restarts draws its starts from --bounds, without --start",
            ));
        }
        if args.trace.is_some() {
            return Err(usage("--trace follows a single run: leave out --restarts"));
        }
    }
    let (start, seed) = match (&args.start, &bounds) {
        (Some(start), _) => {
            let point = f
                .point(&parse_assignments("--start", start)?)
                .map_err(|mut e| {
                    e.message = format!("--start: {}", e.message);
                    e
                })?;
            (point, None)
        }
        (None, Some(b)) => {
            let seed = args.seed.unwrap_or_else(fresh_seed);
            (optim::random_start(b, seed), Some(seed))
        }
        (None, None) => {
            let first = f.vars().first().map_or("x", String::as_str);
            return Err(usage("no start point").with_hint(format!(
                "give one with --start {first}=1, or a box for a random start with --bounds {first}=-1:1"
            )));
        }
    };
    s.bounds = bounds;
    Ok((s, start, seed))
}

fn positive(flag: &str, v: f64) -> Result<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(usage(&format!("{flag} must be a positive number, not {v}")))
    }
}

fn non_negative(flag: &str, v: f64) -> Result<f64> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(usage(&format!("{flag} must be zero or positive, not {v}")))
    }
}

fn fraction(flag: &str, v: f64) -> Result<f64> {
    if (0.0..1.0).contains(&v) {
        Ok(v)
    } else {
        Err(usage(&format!(
            "{flag} must be at least 0 and below 1, not {v}"
        )))
    }
}

fn write_trace(
    out: &mut dyn Write,
    format: TraceFormat,
    it: &Iterate,
    sign: f64,
) -> std::io::Result<()> {
    let f = sign * it.f;
    match format {
        TraceFormat::Text => {
            let xs: Vec<String> = it.x.iter().map(|v| format!("{v:.8}")).collect();
            writeln!(out, ">{} f([{}]) = {:.5}", it.iteration, xs.join(", "), f)
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

#[allow(clippy::too_many_arguments)]
fn write_summary(
    out: &mut dyn Write,
    f: &Formula,
    outcome: &Outcome,
    value: f64,
    args: &Args,
    settings: &Settings,
    seed: Option<u64>,
    seconds: f64,
) -> std::io::Result<()> {
    let what = match (outcome.reason, args.maximize) {
        (crate::optim::Reason::Diverged, _) => "last finite",
        (_, true) => "maximum",
        (_, false) => "minimum",
    };
    writeln!(out, "{what:<11} f = {}", format_value(value))?;
    for (i, (name, v)) in f.vars().iter().zip(&outcome.x).enumerate() {
        let label = if i == 0 { "at" } else { "" };
        writeln!(out, "{label:<11} {name} = {}", format_value(*v))?;
    }
    let gradient = match args.gradient {
        GradientArg::Exact => String::new(),
        GradientArg::FdForward => ", forward differences".to_string(),
        GradientArg::FdCentral => ", central differences".to_string(),
    };
    let search = if settings.line_search {
        " with line search"
    } else {
        ""
    };
    writeln!(
        out,
        "{:<11} {}{search}, lr {}{gradient}",
        "method",
        settings.method.name(),
        settings.lr
    )?;
    if let Some(seed) = seed {
        writeln!(out, "{:<11} random start from --seed {seed}", "start")?;
    }
    writeln!(
        out,
        "{:<11} {} after {} iterations ({} evaluations) in {}",
        "stopped",
        outcome.reason,
        outcome.iterations,
        outcome.evaluations,
        format_seconds(seconds)
    )
}

fn format_seconds(s: f64) -> String {
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
    source: &super::Source,
    outcome: &Outcome,
) -> Result<u8, Failure> {
    use crate::optim::Reason;
    let Some(hint) = &outcome.hint else {
        return Ok(0);
    };
    writeln!(err, "note: stopped by {}: {hint}", outcome.reason)?;
    if let Some(bad) = &outcome.bad_point {
        let mut nodes = vec![f.value()];
        let mut g = f.clone();
        nodes.extend_from_slice(g.gradient());
        if let Some(e) = g.diagnose(&nodes, bad) {
            err.write_all(e.render(&source.text, &source.origin).as_bytes())?;
        }
    }
    Ok(match outcome.reason {
        Reason::Diverged | Reason::Oscillating => 1,
        _ => 0,
    })
}
