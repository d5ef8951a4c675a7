//! `slope min`'s command line: the flags, and the settings, method, start
//! point and seed built from them with every value checked.

use std::path::PathBuf;

use clap::ValueEnum;

use super::super::{Input, fresh_seed, parse_assignments, parse_bounds, usage};
use slope::Formula;
use slope::Result;
use slope::optim::{self, Method, Settings};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub(super) input: Input,
    /// Start point, e.g. --start x=1,y=2
    #[arg(long, value_name = "POINT", allow_hyphen_values = true)]
    pub(super) start: Option<String>,
    /// Box for a random start (and for --project), e.g. --bounds x=-2:2,y=-1:1
    #[arg(long, value_name = "BOX", allow_hyphen_values = true)]
    pub(super) bounds: Option<String>,
    /// Seed of the random start (default: drawn, and printed so the run can be repeated)
    #[arg(long, value_name = "N")]
    pub(super) seed: Option<u64>,
    /// Optimisation method
    #[arg(long, value_enum, default_value_t = MethodArg::Lbfgs)]
    pub(super) method: MethodArg,
    /// Step size of first-order methods (default 0.1); first trial step of a line search (default 1)
    #[arg(long, allow_negative_numbers = true, value_name = "A")]
    pub(super) lr: Option<f64>,
    /// Backtracking (Armijo) line search for gd
    #[arg(long)]
    pub(super) line_search: bool,
    /// Most iterations
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub(super) max_iter: usize,
    /// Stop when f changes by at most E between iterations (off by default)
    #[arg(long, allow_negative_numbers = true, value_name = "E")]
    pub(super) ftol: Option<f64>,
    /// Stop when no gradient component exceeds E
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "E",
        default_value_t = 1e-8
    )]
    pub(super) gtol: f64,
    /// Stop when a step is at most E long (off by default)
    #[arg(long, allow_negative_numbers = true, value_name = "E")]
    pub(super) xtol: Option<f64>,
    /// Maximise instead of minimising
    #[arg(long)]
    pub(super) maximize: bool,
    /// Keep first-order iterates inside --bounds
    #[arg(long)]
    pub(super) project: bool,
    /// Gradient source: exact (compiled), or finite differences of the compiled value
    #[arg(long, value_enum, default_value_t = GradientArg::Exact)]
    pub(super) gradient: GradientArg,
    /// Momentum coefficient (momentum, nesterov)
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "B",
        default_value_t = 0.9
    )]
    pub(super) momentum: f64,
    /// Decay of the squared-gradient average (rmsprop)
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "R",
        default_value_t = 0.9
    )]
    pub(super) rho: f64,
    /// First-moment decay (adam)
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "B",
        default_value_t = 0.9
    )]
    pub(super) beta1: f64,
    /// Second-moment decay (adam)
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "B",
        default_value_t = 0.999
    )]
    pub(super) beta2: f64,
    /// Added to denominators (adagrad, rmsprop, adam)
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "E",
        default_value_t = 1e-8
    )]
    pub(super) epsilon: f64,
    /// Corrections kept (lbfgs)
    #[arg(long, value_name = "M", default_value_t = 10)]
    pub(super) memory: usize,
    /// Run from K random starts in --bounds on all cores; report the best and the distinct minima
    #[arg(long, value_name = "K")]
    pub(super) restarts: Option<usize>,
    /// Print every iteration: text (">3 f([x]) = f"), jsonl or csv
    #[arg(long, value_enum, value_name = "FORMAT", num_args = 0..=1, default_missing_value = "text")]
    pub(super) trace: Option<TraceFormat>,
    /// One JSON object: {"vars", "x", "f", "iterations", "evaluations", "converged", "reason"}
    #[arg(long)]
    pub(super) json: bool,
    /// Draw the function and the descent path: .svg or .png, chosen by the extension
    #[arg(long, value_name = "FILE")]
    pub(super) plot: Option<PathBuf>,
    /// The variables on the picture's axes (default: the first two); the others are held at the final point
    #[arg(long, value_name = "NAMES")]
    pub(super) plot_axes: Option<String>,
    /// Draw f - f_best and the gradient norm against the iteration (.svg or .png)
    #[arg(long, value_name = "FILE")]
    pub(super) plot_convergence: Option<PathBuf>,
    /// Size of the pictures in pixels
    #[arg(long, value_name = "WxH", default_value = "900x700")]
    pub(super) plot_size: String,
    /// Run these methods from the same start and compare them, e.g. --compare gd,momentum,adam,lbfgs
    #[arg(
        long,
        value_enum,
        value_name = "METHODS",
        value_delimiter = ',',
        conflicts_with_all = ["method", "restarts", "trace"]
    )]
    pub(super) compare: Option<Vec<MethodArg>>,
}

/// The methods as the command line names them.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum MethodArg {
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
pub(super) enum GradientArg {
    Exact,
    FdForward,
    FdCentral,
}

#[derive(Copy, Clone, Debug, PartialEq, ValueEnum)]
pub(super) enum TraceFormat {
    Text,
    Jsonl,
    Csv,
}

/// Settings, start point and seed (when one was drawn or given) from the
/// command line, with every value checked. With `--compare`, options that
/// apply to some methods only (`--lr` to the first-order ones,
/// `--line-search` to gd, `--project` to the first-order ones) are applied
/// where they fit instead of refused.
pub(super) fn settings(
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
