//! `slope min`: minimise (or maximise) a formula from a start point or a
//! random point in a box, with a choice of methods and gradient sources.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Map, Value, json};

use super::{
    Failure, Input, format_value, fresh_seed, json_number, load, parse_assignments, parse_bounds,
    usage,
};
use slope::Formula;
use slope::Result;
use slope::fd::Scheme;
use slope::objective::{CompiledFormula, FiniteDifferences, Negated, Objective};
use slope::optim::{self, Advice, Iterate, Method, Outcome, Settings};
use slope::plot::{self, Axes, Canvas, ConvergencePlot, FunctionPlot, Series};

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
    #[arg(long, value_enum, default_value_t = MethodArg::Lbfgs)]
    method: MethodArg,
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
    /// Draw the function and the descent path: .svg or .png, chosen by the extension
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// The variables on the picture's axes (default: the first two); the others are held at the final point
    #[arg(long, value_name = "NAMES")]
    plot_axes: Option<String>,
    /// Draw f - f_best and the gradient norm against the iteration (.svg or .png)
    #[arg(long, value_name = "FILE")]
    plot_convergence: Option<PathBuf>,
    /// Size of the pictures in pixels
    #[arg(long, value_name = "WxH", default_value = "900x700")]
    plot_size: String,
    /// Run these methods from the same start and compare them, e.g. --compare gd,momentum,adam,lbfgs
    #[arg(
        long,
        value_enum,
        value_name = "METHODS",
        value_delimiter = ',',
        conflicts_with_all = ["method", "restarts", "trace"]
    )]
    compare: Option<Vec<MethodArg>>,
}

/// The methods as the command line names them.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum MethodArg {
    /// Gradient descent with a fixed step (--line-search adds Armijo backtracking)
    Gd,
    /// Heavy-ball momentum
    Momentum,
    /// Nesterov's accelerated gradient
    Nesterov,
    Adagrad,
    Rmsprop,
    Adam,
    /// Limited-memory BFGS with a strong Wolfe line search
    Lbfgs,
    /// Newton's method on the exact Hessian, damped where it is not positive definite, with a backtracking line search
    Newton,
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
    let (f, source) = load(&args.input)?;
    let (mut settings, start, seed) = settings(args, &f, args.method).map_err(Failure::plain)?;
    // Pictures are checked before the run, so a typo costs no time.
    let pictures = Pictures::check(args, &f).map_err(Failure::plain)?;
    settings.keep_history = pictures.plot.is_some() || pictures.convergence.is_some();
    // Only a trace and the convergence chart need to see every iterate; the
    // progress bar does with some, which lets plain gd run as a native loop.
    settings.observe_every_iterate = args.trace.is_some() || pictures.convergence.is_some();
    let newton = match &args.compare {
        Some(methods) => methods.contains(&MethodArg::Newton),
        None => args.method == MethodArg::Newton,
    };
    let inner = CompiledFormula::new(&f, newton).map_err(|e| Failure::in_source(e, &source))?;
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
    let mut context = Context {
        args,
        f: &f,
        pictures: &pictures,
        plain: &inner,
    };
    if let Some(methods) = &args.compare {
        return compare(
            &mut context,
            out,
            err,
            methods,
            &start,
            seed,
            &make_objective,
        );
    }
    if let Some(k) = args.restarts {
        return restarts(&mut context, out, err, &settings, k, seed, &make_objective);
    }
    let mut objective = make_objective();
    let mut grad_norms = Vec::new();

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
    let mut next_bar = 0;
    let mut observe = |it: &Iterate| {
        if pictures.convergence.is_some() {
            grad_norms.push(euclidean(it.grad));
        }
        if let (Some(format), None) = (args.trace, &trace_error)
            && let Err(e) = write_trace(&mut trace_out, format, it, sign)
        {
            trace_error = Some(e);
        }
        // Every 1024 iterations or more: a native loop shows only some.
        if let Some(bar) = &bar
            && it.iteration >= next_bar
            && started.elapsed().as_secs() >= 1
        {
            next_bar = it.iteration + 1024;
            bar.set_position(it.iteration as u64);
            bar.set_message(format_value(sign * it.f));
        }
    };
    let outcome = optim::minimize_with(objective.as_mut(), &start, &settings, &mut observe)
        .map_err(|e| Failure::in_source(e, &source))?;
    let elapsed = started.elapsed();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(e) = trace_error {
        return Err(e.into());
    }

    let run = Run {
        label: String::new(),
        outcome: &outcome,
        grad_norms,
    };
    let title = method_title(&settings);
    context.draw(&settings, std::slice::from_ref(&run), &title, &outcome.x)?;

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
        pictures.write_summary(out)?;
    }
    report_trouble(err, &f, &source, &outcome)
}

/// What the ways of running (one run, restarts, a comparison) share.
struct Context<'a> {
    args: &'a Args,
    f: &'a Formula,
    pictures: &'a Pictures,
    /// The compiled formula itself (not negated), for pictures.
    plain: &'a CompiledFormula,
}

/// A finished run as the pictures see it.
struct Run<'a> {
    label: String,
    outcome: &'a Outcome,
    /// The gradient's Euclidean norm at every iterate (when a convergence
    /// chart is wanted).
    grad_norms: Vec<f64>,
}

/// The pictures asked for, checked: where, how large, which axes.
struct Pictures {
    plot: Option<(PathBuf, Canvas)>,
    convergence: Option<(PathBuf, Canvas)>,
    axes: Axes,
}

impl Pictures {
    fn check(args: &Args, f: &Formula) -> Result<Pictures> {
        let size = plot::parse_size("--plot-size", &args.plot_size)?;
        let target = |path: &Option<PathBuf>, flag: &str| -> Result<Option<(PathBuf, Canvas)>> {
            path.as_ref()
                .map(|p| Ok((p.clone(), Canvas::new(plot::check_target(p, flag)?, size))))
                .transpose()
        };
        let pictures = Pictures {
            plot: target(&args.plot, "--plot")?,
            convergence: target(&args.plot_convergence, "--plot-convergence")?,
            axes: Axes::One(0),
        };
        if let (Some((a, _)), Some((b, _))) = (&pictures.plot, &pictures.convergence)
            && a == b
        {
            return Err(usage(&format!(
                "--plot and --plot-convergence both name '{}'",
                a.display()
            ))
            .with_hint("give each picture its own file"));
        }
        if args.plot_axes.is_some() && pictures.plot.is_none() {
            return Err(
                usage("--plot-axes chooses the axes of --plot, which is not given")
                    .with_hint("add --plot out.svg"),
            );
        }
        let axes = match pictures.plot {
            Some(_) => super::plot::parse_axes(f, "--plot-axes", args.plot_axes.as_deref())?,
            None => Axes::One(0),
        };
        Ok(Pictures { axes, ..pictures })
    }

    fn write_summary(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for (what, picture) in [("plot", &self.plot), ("convergence", &self.convergence)] {
            if let Some((path, _)) = picture {
                writeln!(out, "{what:<11} {}", path.display())?;
            }
        }
        Ok(())
    }
}

impl Context<'_> {
    /// Draws the pictures asked for: the function with every run's path
    /// (a slice through `at` when there are more than two variables), and
    /// the convergence chart.
    fn draw(
        &mut self,
        settings: &Settings,
        runs: &[Run],
        method: &str,
        at: &[f64],
    ) -> Result<(), Failure> {
        let sign = if self.args.maximize { -1.0 } else { 1.0 };
        let formula = plot::short_formula(self.f.source(), 60);
        if let Some((path, canvas)) = &self.pictures.plot {
            let paths: Vec<plot::Path> = runs
                .iter()
                .map(|r| plot::Path {
                    // A legend of dozens of restarts would hide the map.
                    label: if runs.len() <= 8 {
                        r.label.clone()
                    } else {
                        String::new()
                    },
                    points: r.outcome.history.iter().map(|(x, _)| x.clone()).collect(),
                    values: r.outcome.history.iter().map(|(_, v)| sign * v).collect(),
                })
                .collect();
            let axes = self.pictures.axes;
            let ranges = super::plot::axis_vars(axes)
                .into_iter()
                .map(|k| {
                    settings
                        .bounds
                        .as_ref()
                        .map(|b| b[k])
                        .or_else(|| plot::path_range(&paths, k))
                        .unwrap_or((-1.0, 1.0))
                })
                .collect();
            let picture = FunctionPlot {
                title: format!("{formula} — {method}"),
                vars: self.f.vars(),
                axes,
                ranges,
                at: at.to_vec(),
                paths: &paths,
            };
            let bytes = plot::render_function(&mut self.plain.clone(), &picture, *canvas)
                .map_err(Failure::plain)?;
            super::plot::write_picture(path, &bytes)?;
        }
        if let Some((path, canvas)) = &self.pictures.convergence {
            let series: Vec<Series> = runs
                .iter()
                .map(|r| Series {
                    label: r.label.clone(),
                    values: r.outcome.history.iter().map(|(_, v)| sign * v).collect(),
                    grad_norms: r.grad_norms.clone(),
                })
                .collect();
            let chart = ConvergencePlot {
                title: format!("{formula} — {method}"),
                series: &series,
                maximize: self.args.maximize,
            };
            let bytes = plot::render_convergence(&chart, *canvas).map_err(Failure::plain)?;
            super::plot::write_picture(path, &bytes)?;
        }
        Ok(())
    }

    /// The gradient norms at a run's recorded points (runs in parallel have
    /// no observer to record them as they go).
    fn grad_norms(&self, outcome: &Outcome) -> Vec<f64> {
        if self.pictures.convergence.is_none() {
            return Vec::new();
        }
        let mut objective = self.plain.clone();
        let mut grad = vec![0.0; self.f.vars().len()];
        outcome
            .history
            .iter()
            .map(|(x, _)| {
                Objective::value_grad(&mut objective, x, &mut grad);
                euclidean(&grad)
            })
            .collect()
    }
}

fn euclidean(v: &[f64]) -> f64 {
    v.iter().map(|g| g * g).sum::<f64>().sqrt()
}

/// "gd, lr 0.1", or "lbfgs (line search)": what a title says of a method.
fn method_title(settings: &Settings) -> String {
    let method = settings.method;
    if method.has_line_search() {
        format!("{} (line search)", method.name())
    } else {
        format!(
            "{}, lr {}",
            method.name(),
            slope::print::format_number(method.lr())
        )
    }
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
    if let Some(note) = note(outcome) {
        obj.insert("hint".into(), json!(note));
    }
    obj
}

/// Runs `k` starts in parallel; prints the best run and the distinct minima.
fn restarts(
    context: &mut Context,
    out: &mut dyn Write,
    err: &mut dyn Write,
    settings: &Settings,
    k: usize,
    seed: Option<u64>,
    make_objective: &(dyn Fn() -> Box<dyn Objective> + Sync),
) -> Result<u8, Failure> {
    let (args, f) = (context.args, context.f);
    let (Some(bounds), Some(seed)) = (&settings.bounds, seed) else {
        return Err(Failure::plain(usage("--restarts needs --bounds")));
    };
    let starts: Vec<Vec<f64>> = (0..k)
        .map(|i| optim::start_of_run(bounds, seed, i))
        .collect();
    let started = Instant::now();
    let outcomes = optim::multi_start(make_objective, &starts, settings).map_err(Failure::plain)?;
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
    let runs: Vec<Run> = outcomes
        .iter()
        .enumerate()
        .map(|(i, o)| Run {
            label: format!("run {}", i + 1),
            outcome: o,
            grad_norms: context.grad_norms(o),
        })
        .collect();
    let title = format!("{}, {k} starts", method_title(settings));
    context.draw(settings, &runs, &title, &outcome.x)?;
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
        context.pictures.write_summary(out)?;
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

/// Runs each method from the same start, one after the other (each on its
/// own, so the times compare); prints one row per method.
fn compare(
    context: &mut Context,
    out: &mut dyn Write,
    err: &mut dyn Write,
    methods: &[MethodArg],
    start: &[f64],
    seed: Option<u64>,
    make_objective: &(dyn Fn() -> Box<dyn Objective> + Sync),
) -> Result<u8, Failure> {
    let (args, f) = (context.args, context.f);
    let sign = if args.maximize { -1.0 } else { 1.0 };
    let mut methods = methods.to_vec();
    methods.dedup();
    let mut done: Vec<(Settings, Outcome, Vec<f64>, f64)> = Vec::new();
    for &method in &methods {
        let (mut settings, _, _) = settings(args, f, method).map_err(Failure::plain)?;
        settings.keep_history =
            context.pictures.plot.is_some() || context.pictures.convergence.is_some();
        settings.observe_every_iterate = context.pictures.convergence.is_some();
        let wants_norms = context.pictures.convergence.is_some();
        let mut norms = Vec::new();
        let mut objective = make_objective();
        let started = Instant::now();
        let outcome = optim::minimize_with(objective.as_mut(), start, &settings, |it: &Iterate| {
            if wants_norms {
                norms.push(euclidean(it.grad));
            }
        })
        .map_err(Failure::plain)?;
        done.push((settings, outcome, norms, started.elapsed().as_secs_f64()));
    }
    let runs: Vec<Run> = done
        .iter()
        .map(|(s, o, norms, _)| Run {
            label: s.method.name().to_string(),
            outcome: o,
            grad_norms: norms.clone(),
        })
        .collect();
    let best = (0..done.len())
        .filter(|&i| done[i].1.f.is_finite())
        .min_by(|&a, &b| done[a].1.f.total_cmp(&done[b].1.f))
        .unwrap_or(0);
    let names: Vec<&str> = done.iter().map(|d| d.0.method.name()).collect();
    let mut title = names.join(", ");
    if let Some(first_order) = done.iter().find(|d| !d.0.method.has_line_search()) {
        title += &format!(
            " (lr {})",
            slope::print::format_number(first_order.0.method.lr())
        );
    }
    context.draw(&done[best].0, &runs, &title, &done[best].1.x)?;

    let point = |x: &[f64]| -> String {
        f.vars()
            .iter()
            .zip(x)
            .map(|(name, v)| format!("{name} = {}", format_value(*v)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if args.json {
        let rows: Vec<Value> = done
            .iter()
            .map(|(s, o, _, seconds)| {
                let mut row = Map::new();
                row.insert("method".into(), json!(s.method.name()));
                row.insert("lr".into(), json_number(s.method.lr()));
                let mut rest = outcome_json(f, o, sign * o.f + 0.0, None);
                rest.remove("vars");
                row.append(&mut rest);
                row.insert("seconds".into(), json_number(*seconds));
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
        for (s, o, _, seconds) in &done {
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
    for (s, o, _, _) in &done {
        if let Some(hint) = note(o) {
            writeln!(
                err,
                "note: {} stopped by {}: {hint}",
                s.method.name(),
                o.reason
            )?;
        }
    }
    // A comparison fails only if no method got anywhere.
    let failed = |o: &Outcome| {
        matches!(
            o.reason,
            optim::Reason::Diverged | optim::Reason::Oscillating
        )
    };
    Ok(if done.iter().all(|d| failed(&d.1)) {
        1
    } else {
        0
    })
}

/// Settings, start point and seed (when one was drawn or given) from the
/// command line, with every value checked. With `--compare`, options that
/// apply to some methods only (`--lr` to the first-order ones,
/// `--line-search` to gd, `--project` to the first-order ones) are applied
/// where they fit instead of refused.
fn settings(
    args: &Args,
    f: &Formula,
    which: MethodArg,
) -> Result<(Settings, Vec<f64>, Option<u64>)> {
    let comparing = args.compare.is_some();
    let method = method(args, which)?;
    let mut s = Settings::new(method);
    if args.max_iter == 0 {
        return Err(usage("--max-iter must be at least 1"));
    }
    s.max_iter = args.max_iter;
    s.ftol = args.ftol.map(|v| non_negative("--ftol", v)).transpose()?;
    s.xtol = args.xtol.map(|v| non_negative("--xtol", v)).transpose()?;
    s.gtol = non_negative("--gtol", args.gtol)?;

    let bounds = args
        .bounds
        .as_deref()
        .map(|b| parse_bounds(f, b))
        .transpose()?;
    if args.project {
        if bounds.is_none() {
            return Err(usage("--project needs --bounds"));
        }
        if !method.is_first_order() && !comparing {
            return Err(usage(&format!(
                "--project applies to the first-order methods, not {}",
                method.name()
            )));
        }
        s.project = method.is_first_order();
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

/// The method `which` with the parameters given on the command line.
fn method(args: &Args, which: MethodArg) -> Result<Method> {
    let comparing = args.compare.is_some();
    let lr = args.lr.map(|lr| positive("--lr", lr)).transpose()?;
    if args.line_search && which != MethodArg::Gd && !comparing {
        return Err(usage(
            "--line-search applies to gd (lbfgs and newton always search)",
        ));
    }
    let (lr0, momentum) = (0.1, fraction("--momentum", args.momentum)?);
    let epsilon = positive("--epsilon", args.epsilon)?;
    let method = match which {
        MethodArg::Gd => Method::Gd {
            lr: lr0,
            line_search: args.line_search,
        },
        MethodArg::Momentum => Method::Momentum { lr: lr0, momentum },
        MethodArg::Nesterov => Method::Nesterov { lr: lr0, momentum },
        MethodArg::Adagrad => Method::Adagrad { lr: lr0, epsilon },
        MethodArg::Rmsprop => Method::Rmsprop {
            lr: lr0,
            rho: fraction("--rho", args.rho)?,
            epsilon,
        },
        MethodArg::Adam => Method::Adam {
            lr: lr0,
            beta1: fraction("--beta1", args.beta1)?,
            beta2: fraction("--beta2", args.beta2)?,
            epsilon,
        },
        MethodArg::Lbfgs => {
            if args.memory == 0 {
                return Err(usage("--memory must be at least 1"));
            }
            Method::Lbfgs {
                memory: args.memory,
                first_step: 1.0,
            }
        }
        MethodArg::Newton => Method::newton(),
    };
    Ok(match lr {
        Some(lr) if !comparing || method.is_first_order() => method.with_lr(lr),
        // A line search starts from a step of 1 unless told otherwise.
        _ if method.has_line_search() => method.with_lr(1.0),
        _ => method,
    })
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
        (slope::optim::Reason::Diverged, _) => "last finite",
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
        method.lr()
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
    use slope::optim::Reason;
    let Some(hint) = note(outcome) else {
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
    Ok(match outcome.reason {
        Reason::Diverged | Reason::Oscillating => 1,
        _ => 0,
    })
}

/// What the command line says of a run that did not converge: the
/// library's diagnosis with its advice in terms of flags.
fn note(outcome: &Outcome) -> Option<String> {
    if outcome.converged() {
        return None;
    }
    let number = slope::print::format_number;
    Some(match outcome.advice {
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
