//! `slope min`: minimise (or maximise) a formula from a start point or a
//! random point in a box, with a choice of methods and gradient sources.
//!
//! The command reads as its files: [`args`] turns flags into settings, a
//! start and a seed; [`runs`] makes the runs (one, `--restarts`, or
//! `--compare`) and returns them as data; [`pictures`] draws them; and
//! [`report`] is the one place that turns runs into output and an exit
//! status.

use std::io::Write;

use super::{Failure, Source, load};
use slope::Formula;
use slope::fd::Scheme;
use slope::objective::{CompiledFormula, FiniteDifferences, Negated, Objective};
use slope::optim::DENSE_NEWTON_MAX_VARS;

mod args;
mod constrained;
mod pictures;
mod report;
mod runs;

pub use args::Args;
use args::{GradientArg, MethodArg, TraceFormat};
use pictures::Pictures;

pub fn run(args: &Args, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    let (f, source) = load(&args.input)?;
    if !f.constraints().is_empty()
        || matches!(args.method, Some(MethodArg::Auglag | MethodArg::Sqp))
    {
        return constrained::run(args, &f, &source, out, err);
    }
    let method = args.method.unwrap_or(MethodArg::Lbfgs);
    let (mut settings, start, seed) = args::settings(args, &f, method).map_err(Failure::plain)?;
    if args.project {
        writeln!(
            err,
            "note: --project is no longer needed: --bounds keeps every method inside the box"
        )?;
    }
    // Pictures are checked before the run, so a typo costs no time.
    let pictures = Pictures::check(args, &f).map_err(Failure::plain)?;
    settings.keep_history = pictures.any();
    // Only a trace and the convergence chart need to see every iterate; the
    // progress bar does with some, which lets plain gd run as a native loop.
    settings.observe_every_iterate = args.trace.is_some() || pictures.convergence.is_some();
    let newton = match &args.compare {
        Some(methods) => methods.contains(&MethodArg::Newton),
        None => method == MethodArg::Newton,
    };
    let mut inner = CompiledFormula::new(&f, false).map_err(|e| Failure::in_source(e, &source))?;
    // Newton's dense Hessian is compiled once here, so that the runs'
    // clones share it. Past DENSE_NEWTON_MAX_VARS variables, or where it
    // cannot be built, Newton takes Hessian-vector products instead.
    if newton && inner.n_vars() <= DENSE_NEWTON_MAX_VARS {
        let _ = inner.prepare_hessian();
    }
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
    let context = Context {
        args,
        f: &f,
        source: &source,
        pictures: &pictures,
        plain: &inner,
    };
    let runs = if let Some(methods) = &args.compare {
        runs::compare(&context, methods, start, seed, &make_objective)?
    } else if let Some(k) = args.restarts {
        runs::restarts(&context, &settings, k, seed, &make_objective)?
    } else {
        let mut file = runs::trace_file(args)?;
        // With --json, the trace goes to stderr so that stdout stays one object.
        let trace_out: &mut dyn Write = match (&mut file, args.json) {
            (Some(file), _) => file,
            (None, true) => &mut *err,
            (None, false) => &mut *out,
        };
        let runs = runs::single(&context, trace_out, settings, start, seed, &make_objective)?;
        if let Some(file) = &mut file {
            file.flush()?;
        }
        runs
    };
    pictures::draw(&context, &runs)?;
    // A jsonl or csv trace on stdout is data for a program: the summary
    // goes to stderr so that `--trace csv > t.csv` holds only the trace.
    let machine_trace = matches!(args.trace, Some(TraceFormat::Jsonl | TraceFormat::Csv));
    if machine_trace && args.trace_file.is_none() && !args.json {
        let mut notes = Vec::new();
        let status = report::report(&context, &runs, err, &mut notes)?;
        err.write_all(&notes)?;
        Ok(status)
    } else {
        report::report(&context, &runs, out, err)
    }
}

/// What the ways of running, the pictures and the report share.
struct Context<'a> {
    args: &'a Args,
    f: &'a Formula,
    source: &'a Source,
    pictures: &'a Pictures,
    /// The compiled formula itself (not negated), for pictures.
    plain: &'a CompiledFormula,
}

impl Context<'_> {
    /// -1 when maximising (the runs minimise the negated formula), else 1.
    fn sign(&self) -> f64 {
        if self.args.maximize { -1.0 } else { 1.0 }
    }
}

fn euclidean(v: &[f64]) -> f64 {
    v.iter().map(|g| g * g).sum::<f64>().sqrt()
}
