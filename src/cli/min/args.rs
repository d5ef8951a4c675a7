//! `slope min`'s command line: the flags, and the settings, method, start
//! point and seed built from them with every value checked.

use std::path::PathBuf;

use clap::ValueEnum;

use super::super::{BoxKind, Input, format_value, fresh_seed, parse_assignments, parse_box, usage};
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
    /// Not a flag of min: read only to point to --start
    #[arg(long, hide = true, value_name = "POINT", allow_hyphen_values = true)]
    pub(super) at: Option<String>,
    /// Box every method stays in, and random starts are drawn from, e.g. --bounds x=-2:2,y=0:inf (with --start, a variable left out is free)
    #[arg(long, value_name = "BOX", allow_hyphen_values = true)]
    pub(super) bounds: Option<String>,
    /// Seed of the random start (default: drawn, and printed so the run can be repeated)
    #[arg(long, value_name = "N")]
    pub(super) seed: Option<u64>,
    /// Optimisation method [default: lbfgs; for a formula with constraints sqp, or auglag when it is indexed or large]
    #[arg(long, value_enum)]
    pub(super) method: Option<MethodArg>,
    /// With constraints: the largest violation accepted
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "E",
        default_value_t = 1e-8
    )]
    pub(super) ctol: f64,
    /// With constraints: the largest KKT residual (projected gradient of the Lagrangian) accepted
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "E",
        default_value_t = 1e-6
    )]
    pub(super) kkt_tol: f64,
    /// Step size of first-order methods (default 0.1); first trial step of a line search (default 1)
    #[arg(long, allow_negative_numbers = true, value_name = "A")]
    pub(super) lr: Option<f64>,
    /// Backtracking (Armijo) line search for gd
    #[arg(long)]
    pub(super) line_search: bool,
    /// Most iterations [default: 15000, as scipy's L-BFGS-B]
    #[arg(long, value_name = "N")]
    pub(super) max_iter: Option<usize>,
    /// Stop when f changes by at most E between iterations (off by default)
    #[arg(long, allow_negative_numbers = true, value_name = "E")]
    pub(super) ftol: Option<f64>,
    /// Stop when no gradient component exceeds E
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "E",
        default_value = "1e-8"
    )]
    pub(super) gtol: f64,
    /// Stop when a step is at most E long (off by default)
    #[arg(long, allow_negative_numbers = true, value_name = "E")]
    pub(super) xtol: Option<f64>,
    /// Maximise instead of minimising
    #[arg(long)]
    pub(super) maximize: bool,
    /// Once "keep first-order iterates inside --bounds"; now every method
    /// does, and the flag only earns a note
    #[arg(long, hide = true)]
    pub(super) project: bool,
    /// Gradient source: exact (compiled), or finite differences of the compiled value
    #[arg(long, value_enum, default_value_t = GradientArg::Exact)]
    pub(super) gradient: GradientArg,
    /// Momentum coefficient (momentum, nesterov) [default: 0.9]
    #[arg(long, allow_negative_numbers = true, value_name = "B")]
    pub(super) momentum: Option<f64>,
    /// Decay of the squared-gradient average (rmsprop) [default: 0.9]
    #[arg(long, allow_negative_numbers = true, value_name = "R")]
    pub(super) rho: Option<f64>,
    /// First-moment decay (adam) [default: 0.9]
    #[arg(long, allow_negative_numbers = true, value_name = "B")]
    pub(super) beta1: Option<f64>,
    /// Second-moment decay (adam) [default: 0.999]
    #[arg(long, allow_negative_numbers = true, value_name = "B")]
    pub(super) beta2: Option<f64>,
    /// Added to denominators (adagrad, rmsprop, adam) [default: 1e-8]
    #[arg(long, allow_negative_numbers = true, value_name = "E")]
    pub(super) epsilon: Option<f64>,
    /// Corrections kept (lbfgs) [default: 10]
    #[arg(long, value_name = "M")]
    pub(super) memory: Option<usize>,
    /// Run from K random starts in --bounds on all cores; report the best and the distinct minima
    #[arg(long, value_name = "K")]
    pub(super) restarts: Option<usize>,
    /// Print every iteration: text (">3 f([x]) = f"), jsonl or csv; on stdout (a jsonl or csv trace then sends the summary to stderr), on stderr with --json
    #[arg(long, value_enum, value_name = "FORMAT", num_args = 0..=1, default_missing_value = "text")]
    pub(super) trace: Option<TraceFormat>,
    /// Write the trace to FILE instead
    #[arg(long, value_name = "FILE", requires = "trace")]
    pub(super) trace_file: Option<PathBuf>,
    /// One JSON object: {"vars", "x", "f", "gradient", "iterations", "evaluations", "converged", "reason", "message", "method", "seconds", ...}
    #[arg(long)]
    pub(in crate::cli) json: bool,
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
    /// Run these methods (those without constraints) from the same start and compare them, e.g.
    /// --compare gd,momentum,adam,lbfgs
    #[arg(
        long,
        value_enum,
        value_name = "METHODS",
        value_delimiter = ',',
        conflicts_with_all = ["method", "restarts", "trace"]
    )]
    pub(super) compare: Option<Vec<MethodArg>>,
}

impl Args {
    /// The iteration limit: `--max-iter`, or the library's default.
    pub(super) fn max_iter(&self) -> usize {
        self.max_iter
            .unwrap_or_else(|| Settings::default().max_iter)
    }
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
    /// Steps scaled per variable by the root of its summed squared gradients
    Adagrad,
    /// Steps scaled per variable by a running root mean square of its gradient
    Rmsprop,
    /// Momentum and RMSProp's scaling, with bias correction
    Adam,
    /// Limited-memory BFGS with a strong Wolfe line search; L-BFGS-B within --bounds
    Lbfgs,
    /// Newton's method on the exact Hessian, damped where it is not positive definite, with a backtracking line search; projected within --bounds
    Newton,
    /// Augmented Lagrangian with L-BFGS-B inside: for 'subject to' constraints, large or indexed problems
    Auglag,
    /// Sequential quadratic programming on the exact Hessian of the Lagrangian: for 'subject to' constraints, small problems
    Sqp,
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

/// The most numbers a run may be asked to keep in memory for its report
/// (`--restarts` starts and results, iterates for a picture): 80 MB of
/// doubles.
pub(super) const MAX_KEPT_VALUES: usize = 10_000_000;

/// Settings, start point and seed (when one was drawn or given) from the
/// command line, with every value checked. With `--compare`, options that
/// apply to some methods only (`--lr` to the first-order ones,
/// `--line-search` to gd) are applied where they fit instead of refused.
pub(super) fn settings(
    args: &Args,
    f: &Formula,
    which: MethodArg,
) -> Result<(Settings, Vec<f64>, Option<u64>)> {
    if let Some(at) = &args.at {
        return Err(
            usage("min starts from --start, not --at").with_hint(format!("write --start {at}"))
        );
    }
    let method = method(args, which)?;
    let mut s = Settings::new(method);
    if args.max_iter == Some(0) {
        return Err(usage("--max-iter must be at least 1"));
    }
    s.max_iter = args.max_iter();
    s.ftol = args.ftol.map(|v| non_negative("--ftol", v)).transpose()?;
    s.xtol = args.xtol.map(|v| non_negative("--xtol", v)).transpose()?;
    s.gtol = non_negative("--gtol", args.gtol)?;

    let bounds = args
        .bounds
        .as_deref()
        .map(|b| {
            let kind = match args.start {
                Some(_) => BoxKind::Open,
                None => BoxKind::Drawn,
            };
            parse_box(f, b, kind)
        })
        .transpose()?;
    if args.project && bounds.is_none() {
        return Err(usage("--project needs --bounds")
            .with_hint("--bounds alone keeps every method inside the box"));
    }
    if let Some(k) = args.restarts {
        if k == 0 {
            return Err(usage("--restarts must be at least 1"));
        }
        // Every run's start and result are kept until the minima are
        // grouped, so their number is bounded by what they hold.
        let values = k.saturating_mul(f.n_vars().max(1));
        if values > MAX_KEPT_VALUES {
            return Err(usage(&format!(
                "--restarts {k} would keep {values} values (runs times variables); at most {MAX_KEPT_VALUES}"
            ))
            .with_hint("ask for fewer runs"));
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
    if let (Some(_), Some(_)) = (&args.start, args.seed) {
        return Err(usage("--seed draws a random start, and --start gives one")
            .with_hint("leave out --seed, or --start for a random start in --bounds"));
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
            let first = match f.n_vars() {
                0 => "x".into(),
                _ => f.var_names().name(0),
            };
            return Err(usage("no start point").with_hint(format!(
                "give one with --start {first}=1, or a box for a random start with --bounds {first}=-1:1"
            )));
        }
    };
    s.bounds = bounds;
    Ok((s, start, seed))
}

/// The method `which` with the parameters given on the command line. A
/// parameter no method in use reads is refused rather than ignored.
fn method(args: &Args, which: MethodArg) -> Result<Method> {
    let comparing = args.compare.is_some();
    if comparing && matches!(which, MethodArg::Auglag | MethodArg::Sqp) {
        let name = which.name();
        return Err(usage(&format!(
            "--compare runs the methods without constraints, and {name} is a method for \
             constraints"
        ))
        .with_hint(format!(
            "leave {name} out of --compare, or run it alone with --method {name}"
        )));
    }
    let lr = args.lr.map(|lr| positive("--lr", lr)).transpose()?;
    if args.line_search && which != MethodArg::Gd && !comparing {
        return Err(usage(
            "--line-search applies to gd (lbfgs and newton always search)",
        ));
    }
    let in_use: &[MethodArg] = match &args.compare {
        Some(methods) => methods,
        None => std::slice::from_ref(&which),
    };
    let unused = |flag: &str, given: bool, readers: &[MethodArg]| -> Result<()> {
        if !given || in_use.iter().any(|m| readers.contains(m)) {
            return Ok(());
        }
        // "a", "a and b", "a, b and c".
        let names = |ms: &[MethodArg], last: &str| -> String {
            let names: Vec<String> = ms.iter().map(|m| m.name()).collect();
            match names.split_last() {
                Some((tail, init)) if !init.is_empty() => {
                    format!("{} {last} {tail}", init.join(", "))
                }
                _ => names.concat(),
            }
        };
        Err(usage(&format!(
            "{flag} applies to {}, not {}",
            names(readers, "and"),
            names(in_use, "or")
        ))
        .with_hint(format!("leave out {flag}, or choose one of those methods")))
    };
    use MethodArg as M;
    unused(
        "--momentum",
        args.momentum.is_some(),
        &[M::Momentum, M::Nesterov],
    )?;
    unused("--rho", args.rho.is_some(), &[M::Rmsprop])?;
    unused("--beta1", args.beta1.is_some(), &[M::Adam])?;
    unused("--beta2", args.beta2.is_some(), &[M::Adam])?;
    unused(
        "--epsilon",
        args.epsilon.is_some(),
        &[M::Adagrad, M::Rmsprop, M::Adam],
    )?;
    // The constrained path reads --memory as lbfgs's (auglag runs lbfgs).
    unused("--memory", args.memory.is_some(), &[M::Lbfgs])?;
    let (lr0, momentum) = (0.1, fraction("--momentum", args.momentum.unwrap_or(0.9))?);
    let epsilon = positive("--epsilon", args.epsilon.unwrap_or(1e-8))?;
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
            rho: fraction("--rho", args.rho.unwrap_or(0.9))?,
            epsilon,
        },
        MethodArg::Adam => Method::Adam {
            lr: lr0,
            beta1: fraction("--beta1", args.beta1.unwrap_or(0.9))?,
            beta2: fraction("--beta2", args.beta2.unwrap_or(0.999))?,
            epsilon,
        },
        // Auglag runs L-BFGS-B inside, with this memory.
        MethodArg::Lbfgs | MethodArg::Auglag | MethodArg::Sqp => {
            let memory = args.memory.unwrap_or(10);
            if memory == 0 {
                return Err(usage("--memory must be at least 1"));
            }
            Method::Lbfgs {
                memory,
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

/// The name of a method on the command line.
pub(super) fn method_name(method: MethodArg) -> String {
    method.name()
}

impl MethodArg {
    /// The name on the command line.
    fn name(self) -> String {
        self.to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_string())
    }
}

fn positive(flag: &str, v: f64) -> Result<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(usage(&format!(
            "{flag} must be a positive number, not {}",
            format_value(v)
        )))
    }
}

fn non_negative(flag: &str, v: f64) -> Result<f64> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(usage(&format!(
            "{flag} must be zero or positive, not {}",
            format_value(v)
        )))
    }
}

fn fraction(flag: &str, v: f64) -> Result<f64> {
    if (0.0..1.0).contains(&v) {
        Ok(v)
    } else {
        Err(usage(&format!(
            "{flag} must be at least 0 and below 1, not {}",
            format_value(v)
        )))
    }
}
