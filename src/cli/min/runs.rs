//! The ways of running `slope min`: one run (with its trace and progress
//! bar), `--restarts` from random starts in parallel, and `--compare`,
//! several methods from one start. Each returns its runs as data; none
//! prints a result (only the trace streams out as the run goes).

use std::io::{IsTerminal, Write};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::super::{Failure, format_value, usage};
use super::args::{self, MethodArg};
use super::report::write_trace;
use super::{Context, euclidean};
use slope::Objective;
use slope::optim::{self, Iterate, Minimum, Outcome, Settings};

/// Builds the objective a run minimises (negated for `--maximize`).
pub(super) type MakeObjective<'a> = &'a (dyn Fn() -> Box<dyn Objective> + Sync);

/// One finished run.
pub(super) struct Run {
    /// What the pictures' legend calls it: "", "run 3", or the method.
    pub(super) label: String,
    pub(super) settings: Settings,
    pub(super) outcome: Outcome,
    /// The gradient's Euclidean norm at every iterate (when a convergence
    /// chart is wanted).
    pub(super) grad_norms: Vec<f64>,
    /// Wall-clock time of the run, as the command line measured it.
    pub(super) seconds: f64,
}

/// How the runs came about.
pub(super) enum Mode {
    Single,
    Restarts { minima: Vec<Minimum> },
    Compare,
}

/// Every run of one `slope min`, and which is best.
pub(super) struct Runs {
    pub(super) mode: Mode,
    pub(super) runs: Vec<Run>,
    pub(super) best: usize,
    /// The start shared by the runs (empty for `--restarts`).
    pub(super) start: Vec<f64>,
    /// The seed of a random start.
    pub(super) seed: Option<u64>,
    /// Wall-clock time of all the runs.
    pub(super) seconds: f64,
}

impl Runs {
    pub(super) fn best(&self) -> &Run {
        &self.runs[self.best]
    }
}

/// One run from `start`, streaming its trace (if asked) to `trace_out`
/// and showing a progress bar on a terminal.
/// The file `--trace-file` names, created, if it is given.
pub(super) fn trace_file(
    args: &args::Args,
) -> Result<Option<std::io::BufWriter<std::fs::File>>, Failure> {
    let Some(path) = &args.trace_file else {
        return Ok(None);
    };
    let file = std::fs::File::create(path).map_err(|e| {
        Failure::plain(usage(&format!(
            "--trace-file: cannot create {}: {e}",
            path.display()
        )))
    })?;
    Ok(Some(std::io::BufWriter::new(file)))
}

pub(super) fn single(
    context: &Context,
    trace_out: &mut dyn Write,
    settings: Settings,
    start: Vec<f64>,
    seed: Option<u64>,
    make_objective: MakeObjective,
) -> Result<Runs, Failure> {
    let args = context.args;
    let mut objective = make_objective();
    let mut grad_norms = Vec::new();
    let wants_norms = context.pictures.convergence.is_some();
    let sign = context.sign();
    let mut trace_error = None;
    if args.trace == Some(args::TraceFormat::Csv) {
        let names: Vec<_> = context.f.var_names().iter().collect();
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
        if wants_norms {
            grad_norms.push(euclidean(it.grad));
        }
        if let (Some(format), None) = (args.trace, &trace_error)
            && let Err(e) = write_trace(trace_out, format, it, sign)
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
        .map_err(|e| Failure::in_source(e, context.source))?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(e) = trace_error {
        return Err(e.into());
    }
    Ok(Runs {
        mode: Mode::Single,
        runs: vec![Run {
            label: String::new(),
            settings,
            outcome,
            grad_norms,
            seconds,
        }],
        best: 0,
        start,
        seed,
        seconds,
    })
}

/// `k` runs from random starts in the bounds, in parallel; the best is
/// the run that ended lowest, converged or not (a run may stop `stalled`
/// at a kink that is the global minimum: Ackley's at the origin), the
/// converged one among equals.
pub(super) fn restarts(
    context: &Context,
    settings: &Settings,
    k: usize,
    seed: Option<u64>,
    make_objective: MakeObjective,
) -> Result<Runs, Failure> {
    let (Some(bounds), Some(seed)) = (&settings.bounds, seed) else {
        return Err(Failure::plain(usage("--restarts needs --bounds")));
    };
    let starts: Vec<Vec<f64>> = (0..k)
        .map(|i| optim::start_of_run(bounds, seed, i))
        .collect();
    let started = Instant::now();
    let outcomes = optim::multi_start(make_objective, &starts, settings).map_err(Failure::plain)?;
    let seconds = started.elapsed().as_secs_f64();
    let minima = optim::distinct_minima(&outcomes);
    let best = (0..k)
        .min_by(|&a, &b| {
            let (a, b) = (&outcomes[a], &outcomes[b]);
            let key = |o: &optim::Outcome| (!o.f.is_nan(), o.reason.converged());
            // NaN last; lower first; converged first among equals.
            (key(b).0.cmp(&key(a).0))
                .then(a.f.total_cmp(&b.f))
                .then(key(b).1.cmp(&key(a).1))
        })
        .unwrap_or(0);
    let runs = outcomes
        .into_iter()
        .enumerate()
        .map(|(i, outcome)| Run {
            label: format!("run {}", i + 1),
            settings: settings.clone(),
            grad_norms: context.grad_norms(&outcome),
            seconds: outcome.seconds,
            outcome,
        })
        .collect();
    Ok(Runs {
        mode: Mode::Restarts { minima },
        runs,
        best,
        start: Vec::new(),
        seed: Some(seed),
        seconds,
    })
}

/// Each method from the same start, one after the other (each on its
/// own, so the times compare); the best is the lowest finite value.
pub(super) fn compare(
    context: &Context,
    methods: &[MethodArg],
    start: Vec<f64>,
    seed: Option<u64>,
    make_objective: MakeObjective,
) -> Result<Runs, Failure> {
    let mut methods = methods.to_vec();
    methods.dedup();
    let wants_norms = context.pictures.convergence.is_some();
    let mut runs = Vec::new();
    let all_started = Instant::now();
    // Every method's settings first, so that a refused one costs no run.
    let all_settings = methods
        .iter()
        .map(|&method| args::settings(context.args, context.f, method).map(|(s, _, _)| s))
        .collect::<slope::Result<Vec<_>>>()
        .map_err(Failure::plain)?;
    for mut settings in all_settings {
        settings.keep_history = context.pictures.any();
        settings.observe_every_iterate = wants_norms;
        let mut grad_norms = Vec::new();
        let mut objective = make_objective();
        let started = Instant::now();
        let outcome =
            optim::minimize_with(objective.as_mut(), &start, &settings, |it: &Iterate| {
                if wants_norms {
                    grad_norms.push(euclidean(it.grad));
                }
            })
            .map_err(Failure::plain)?;
        runs.push(Run {
            label: settings.method.name().to_string(),
            seconds: started.elapsed().as_secs_f64(),
            settings,
            outcome,
            grad_norms,
        });
    }
    let best = (0..runs.len())
        .filter(|&i| runs[i].outcome.f.is_finite())
        .min_by(|&a, &b| runs[a].outcome.f.total_cmp(&runs[b].outcome.f))
        .unwrap_or(0);
    Ok(Runs {
        mode: Mode::Compare,
        runs,
        best,
        start,
        seed,
        seconds: all_started.elapsed().as_secs_f64(),
    })
}
