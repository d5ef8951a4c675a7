//! `slope fit "y ~ MODEL" --data FILE.csv`, or `slope fit -f FILE.slope
//! --data FILE.csv` for a formula that is a sum of squares over the rows:
//! a model fitted to a CSV file's columns by least squares, reported as a
//! table (or one JSON object), with a picture on request.
//!
//! The flags become [`slope::fit::Options`]; [`report`] is the one place
//! that turns the fit into output, warnings and the exit status (0
//! converged, 1 not, 2 bad input).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::ValueEnum;

use super::{
    BoxKind, Failure, Input, Source, format_value, parse_assignments, parse_box_over, read_file,
    usage,
};
use slope::data::Columns;
use slope::fit::{Fit, Loss, Model, Options, Sigma};
use slope::parse::Limits;
use slope::{Error, ErrorKind, Result};

mod report;

use super::MAX_DATA_BYTES;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    input: Input,
    /// Start values, e.g. --start a=1,b=0.1 (a parameter left out starts at 1)
    #[arg(long, value_name = "POINT", allow_hyphen_values = true)]
    start: Option<String>,
    /// Bounds on parameters, e.g. --bounds a=0:inf,b=-1:1 (iterates stay inside)
    #[arg(long, value_name = "BOX", allow_hyphen_values = true)]
    bounds: Option<String>,
    /// The residuals' standard deviations: a column name, or one number for every row
    #[arg(long, value_name = "COL|S", allow_negative_numbers = true)]
    sigma: Option<String>,
    /// Take --sigma as absolute: the covariance is not scaled by the residual variance
    #[arg(long)]
    absolute_sigma: bool,
    /// The loss on each residual (robust losses weigh outliers less)
    #[arg(long, value_enum, default_value_t = LossArg::Linear)]
    loss: LossArg,
    /// The residual scale of a robust loss: residuals well below it count as squares
    #[arg(
        long,
        value_name = "C",
        default_value_t = 1.0,
        allow_negative_numbers = true
    )]
    f_scale: f64,
    /// Print the correlation matrix of the estimates
    #[arg(long)]
    corr: bool,
    /// Draw the data, the fitted curve and the residuals to FILE (.svg or .png)
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// Stop when an iteration reduces the sum of squares by at most this fraction
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "E",
        default_value = "1e-15"
    )]
    ftol: f64,
    /// Stop when the trust region is at most this fraction of the scaled estimates
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "E",
        default_value = "1e-15"
    )]
    xtol: f64,
    /// Stop when the residuals are this close to orthogonal to every column of the Jacobian
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "E",
        default_value = "1e-15"
    )]
    gtol: f64,
    /// Most passes over the data [default: 200 per parameter, plus 200]
    #[arg(long, value_name = "N")]
    max_evaluations: Option<usize>,
    /// Refuse data files longer than this many bytes
    #[arg(long, value_name = "N", default_value_t = MAX_DATA_BYTES, help_heading = "Limits")]
    max_data_bytes: usize,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum LossArg {
    Linear,
    Huber,
    #[value(name = "soft_l1")]
    SoftL1,
    Cauchy,
    Arctan,
}

impl LossArg {
    fn loss(self) -> Loss {
        match self {
            LossArg::Linear => Loss::Linear,
            LossArg::Huber => Loss::Huber,
            LossArg::SoftL1 => Loss::SoftL1,
            LossArg::Cauchy => Loss::Cauchy,
            LossArg::Arctan => Loss::Arctan,
        }
    }
}

/// What the report needs beside the fit.
pub(super) struct Context<'a> {
    args: &'a Args,
    model: &'a Model,
    source: &'a Source,
    data: &'a Columns,
    /// Parameters `--start` left out (they start at 1).
    defaulted: Vec<String>,
    bounds: Vec<(f64, f64)>,
    seconds: f64,
}

pub fn run(args: &Args, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    if !args.input.set.is_empty() {
        return Err(Failure::plain(
            usage("--set does not apply to fit")
                .with_hint("every name of the model that is not a column is fitted; give its start with --start"),
        ));
    }
    if args.input.vars.is_some() {
        return Err(Failure::plain(
            usage("--vars does not apply to fit")
                .with_hint("the parameters are the model's names that are not columns of --data"),
        ));
    }
    let source = args.input.read().map_err(Failure::plain)?;
    let Some(path) = &args.input.data else {
        return Err(Failure::plain(
            usage("fit needs data: no --data given")
                .with_hint("give a CSV file whose header names the columns: --data FILE.csv"),
        ));
    };
    // Checked before the work, so that a typo costs no time.
    if let Some(plot) = &args.plot {
        slope::plot::check_target(plot, "--plot").map_err(Failure::plain)?;
    }
    let text = read_file(path, args.max_data_bytes).map_err(|e| {
        let e = match e.kind {
            ErrorKind::Limit => e.with_hint("raise the limit with --max-data-bytes"),
            _ => e,
        };
        Failure::plain(e)
    })?;
    let data = Columns::parse_csv(&text, &path.display().to_string()).map_err(Failure::plain)?;
    // The text is as large as the file (up to --max-data-bytes): freed
    // before the fit, which needs only the columns.
    drop(text);
    let limits: Limits = args.input.limits();
    let model = Model::with_limits(&source.text, data.names(), &limits)
        .map_err(|e| Failure::in_source(e, &source))?;
    if let (Some(_), "") = (&args.plot, model.response()) {
        return Err(Failure::plain(
            usage("--plot draws a y ~ MODEL fit: a sum of squares has no fitted curve")
                .with_hint("write the model as y ~ MODEL to draw it, or leave out --plot"),
        ));
    }
    let (options, defaulted) = options(args, &model).map_err(Failure::plain)?;
    let bounds = options.bounds.clone().unwrap_or_default();
    let began = Instant::now();
    let fit = model
        .fit(&data.as_slices(), &options)
        .map_err(Failure::plain)?;
    let seconds = began.elapsed().as_secs_f64();
    let context = Context {
        args,
        model: &model,
        source: &source,
        data: &data,
        defaulted,
        bounds,
        seconds,
    };
    if let Some(plot) = &args.plot {
        draw(&context, &fit, plot).map_err(Failure::plain)?;
    }
    report::report(&context, &fit, out, err)
}

/// The fit's options from the flags, and the parameters `--start` left
/// out.
fn options(args: &Args, model: &Model) -> Result<(Options, Vec<String>)> {
    let params = model.params();
    let mut start = vec![f64::NAN; params.len()];
    if let Some(text) = &args.start {
        for (name, value) in parse_assignments("--start", text)? {
            let i = params.iter().position(|p| *p == name).ok_or_else(|| {
                let what = match model.predictors().contains(&name) || model.response() == name {
                    true => format!("--start: '{name}' is a column of the data, not a parameter"),
                    false => format!("--start: the model has no parameter '{name}'"),
                };
                usage(&what).with_hint(format!("its parameters are {}", slope::quoted_list(params)))
            })?;
            if !start[i].is_nan() {
                return Err(usage(&format!("--start: '{name}' is given twice")));
            }
            start[i] = value;
        }
    }
    let bounds = match &args.bounds {
        Some(text) => {
            let resolve = |name: &str| match params.iter().position(|p| p == name) {
                Some(i) => Ok(i..i + 1),
                None => Err(usage(&format!("the model has no parameter '{name}'"))
                    .with_hint(format!("its parameters are {}", slope::quoted_list(params)))),
            };
            let name = |k: usize| params[k].clone();
            parse_box_over((params.len(), &name), &resolve, text, BoxKind::Open)?
        }
        None => vec![(f64::NEG_INFINITY, f64::INFINITY); params.len()],
    };
    // A parameter its bounds fix (`c=0.71:0.71`) starts nowhere else: no
    // note says it starts at 1.
    let defaulted: Vec<String> = (params.iter().zip(&start).zip(&bounds))
        .filter(|((_, v), (lo, hi))| v.is_nan() && lo < hi)
        .map(|((p, _), _)| p.clone())
        .collect();
    for v in &mut start {
        if v.is_nan() {
            *v = 1.0;
        }
    }
    let sigma = match &args.sigma {
        None => Sigma::None,
        Some(text) => match text.trim().parse::<f64>() {
            Ok(s) if s > 0.0 && s.is_finite() => Sigma::Constant(s),
            Ok(_) => {
                return Err(usage(&format!(
                    "--sigma: '{text}' is not a positive finite number"
                )));
            }
            Err(_) => Sigma::Column(text.trim().to_string()),
        },
    };
    if !(args.f_scale > 0.0 && args.f_scale.is_finite()) {
        return Err(usage(&format!(
            "--f-scale: {} is not a positive finite number",
            args.f_scale
        ))
        .with_hint(
            "the scale of the residuals a robust loss treats as inliers, e.g. --f-scale 0.1",
        ));
    }
    for (flag, v) in [
        ("--ftol", args.ftol),
        ("--xtol", args.xtol),
        ("--gtol", args.gtol),
    ] {
        if !(v >= 0.0 && v.is_finite()) {
            return Err(usage(&format!(
                "{flag}: {} is not a finite number ≥ 0",
                format_value(v)
            )));
        }
    }
    if args.max_evaluations == Some(0) {
        return Err(usage("--max-evaluations: 0 passes fit nothing"));
    }
    let options = Options {
        start: Some(start),
        bounds: Some(bounds),
        sigma,
        absolute_sigma: args.absolute_sigma,
        loss: args.loss.loss(),
        f_scale: args.f_scale,
        ftol: args.ftol,
        xtol: args.xtol,
        gtol: args.gtol,
        max_evaluations: args.max_evaluations,
        ..Options::default()
    };
    Ok((options, defaulted))
}

/// Draws the picture `--plot` asked for and writes it.
fn draw(context: &Context, fit: &Fit, path: &std::path::Path) -> Result<()> {
    use slope::plot::{Canvas, DEFAULT_SIZE, FitPlot, Format, render_fit};
    let format = Format::of_path(path, "--plot")?;
    let model = context.model;
    let y = context.data.get(model.response())?;
    let predictor = match model.predictors() {
        [one] => Some((one.as_str(), context.data.get(one)?)),
        _ => None,
    };
    // The curve through the one predictor's range, on a fine grid.
    let curve = match predictor {
        Some((name, xs)) => {
            let (lo, hi) = xs
                .iter()
                .filter(|v| v.is_finite())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            if lo < hi {
                let grid: Vec<f64> = (0..=400)
                    .map(|k| lo + (hi - lo) * k as f64 / 400.0)
                    .collect();
                let values = model.predict(&fit.x, &[(name, &grid)])?;
                grid.into_iter().zip(values).collect()
            } else {
                Vec::new()
            }
        }
        None => Vec::new(),
    };
    let plot = FitPlot {
        title: slope::plot::short_formula(&context.source.text, 80),
        response: model.response().to_string(),
        predictor: predictor.map(|(n, xs)| (n.to_string(), xs.to_vec())),
        observed: y.to_vec(),
        fitted: fit.fitted.clone(),
        curve,
    };
    let bytes = render_fit(&plot, Canvas::new(format, DEFAULT_SIZE))?;
    std::fs::write(path, bytes).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("--plot: cannot write '{}': {e}", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    /// The flags' written defaults are the library's.
    #[test]
    fn tolerance_defaults_are_the_librarys() {
        let cli = super::super::Cli::parse_from(["slope", "fit", "y ~ a*t"]);
        let super::super::Command::Fit(args) = cli.command else {
            panic!("not fit")
        };
        let library = slope::fit::Options::default();
        assert_eq!(
            (args.ftol, args.xtol, args.gtol),
            (library.ftol, library.xtol, library.gtol)
        );
    }
}
