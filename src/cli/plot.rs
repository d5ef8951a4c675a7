//! `slope plot`: a picture of the function alone (a line for one variable,
//! a filled contour map for two, a slice for more); and the helpers that
//! `slope min --plot` shares with it.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Failure, Input, format_value, load, parse_assignments, parse_bounds, usage};
use slope::Formula;
use slope::objective::CompiledFormula;
use slope::plot::{self, Axes, Canvas, FunctionPlot};
use slope::{Error, ErrorKind, Result};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    input: Input,
    /// The box to draw, e.g. --bounds x=-2:2,y=-1:3
    #[arg(long, value_name = "BOX", allow_hyphen_values = true)]
    bounds: String,
    /// The picture: .svg or .png, chosen by the extension
    #[arg(
        short = 'o',
        long = "output",
        visible_alias = "plot",
        value_name = "FILE",
        default_value = "plot.svg"
    )]
    output: PathBuf,
    /// The variables on the axes (default: the first two); one name draws a line
    #[arg(long, visible_alias = "plot-axes", value_name = "NAMES")]
    axes: Option<String>,
    /// Values of the variables off the axes (default: the middle of their bounds)
    #[arg(long, value_name = "POINT", allow_hyphen_values = true)]
    at: Option<String>,
    /// Size of the picture in pixels
    #[arg(
        long,
        visible_alias = "plot-size",
        value_name = "WxH",
        default_value = "900x700"
    )]
    size: String,
}

pub fn run(args: &Args, out: &mut dyn Write) -> Result<u8, Failure> {
    let (f, source) = load(&args.input)?;
    let checked = (|| {
        let format = plot::check_target(&args.output, "-o")?;
        let size = plot::parse_size("--size", &args.size)?;
        let axes = parse_axes(&f, "--axes", args.axes.as_deref())?;
        let bounds = parse_bounds(&f, &args.bounds)?;
        for &i in &axis_vars(axes) {
            wide_enough(&f.var_names().name(i), bounds[i])?;
        }
        let mut at: Vec<f64> = bounds.iter().map(|(lo, hi)| 0.5 * (lo + hi)).collect();
        if let Some(text) = &args.at {
            for (name, value) in parse_assignments("--at", text)? {
                let i = f.var_index(&name).ok_or_else(|| {
                    usage(&format!("--at: the formula has no variable '{name}'")).with_hint(
                        format!("its variables are {}", slope::quoted_list(f.vars())),
                    )
                })?;
                at[i] = value;
            }
        }
        Ok::<_, Error>((Canvas::new(format, size), axes, bounds, at))
    })();
    let (canvas, axes, bounds, at) = checked.map_err(Failure::plain)?;
    let mut objective =
        CompiledFormula::new(&f, false).map_err(|e| Failure::in_source(e, &source))?;
    let picture = FunctionPlot {
        title: format!("f = {}", plot::short_formula(f.source(), 70)),
        vars: f.vars(),
        axes,
        ranges: axis_vars(axes).iter().map(|&i| bounds[i]).collect(),
        at,
        paths: &[],
    };
    let bytes =
        plot::render_function(&mut objective, &picture, canvas).map_err(|e| match e.kind {
            ErrorKind::Usage => Failure::plain(why_blank(e, &f, &picture)),
            _ => Failure::plain(e),
        })?;
    write_picture(&args.output, &bytes)?;
    writeln!(
        out,
        "wrote {} ({}x{})",
        args.output.display(),
        canvas.width,
        canvas.height
    )?;
    Ok(0)
}

/// A picture that would be blank, with the reason at the middle of the
/// range drawn (the operation that first gave NaN or infinity there) and
/// the flag that moves it.
fn why_blank(e: Error, f: &Formula, picture: &FunctionPlot) -> Error {
    let mut middle = picture.at.clone();
    for (&i, (lo, hi)) in axis_vars(picture.axes).iter().zip(&picture.ranges) {
        middle[i] = 0.5 * (lo + hi);
    }
    let point: Vec<String> = (f.var_names().iter().zip(&middle))
        .map(|(name, v)| format!("{name} = {}", format_value(*v)))
        .collect();
    let why = match f.diagnose(&[f.value()], &middle) {
        Some(d) => {
            let place = d.span.map_or(String::new(), |span| {
                let (line, column) = span.line_col(f.source());
                format!(" ({line}:{column})")
            });
            format!("{}{place}", d.message)
        }
        None => "f is not finite".to_string(),
    };
    let hint = format!(
        "at the middle, {}: {why}; give --bounds where f is defined",
        point.join(", ")
    );
    Error {
        hint: Some(hint),
        ..e
    }
}

/// The variables on the axes: `--plot-axes x1,x3` (or one name, for a
/// line), by default the first two (the only one for one variable).
pub(super) fn parse_axes(f: &Formula, flag: &str, text: Option<&str>) -> Result<Axes> {
    let n = f.n_vars();
    if n == 0 {
        return Err(usage(
            "the formula has no variables: there is nothing to draw",
        ));
    }
    let Some(text) = text else {
        return Ok(if n == 1 {
            Axes::One(0)
        } else {
            Axes::Two(0, 1)
        });
    };
    let names: Vec<&str> = text.split(',').map(str::trim).collect();
    let mut indices = Vec::new();
    for name in &names {
        let i = f.var_index(name).ok_or_else(|| {
            usage(&format!("{flag}: the formula has no variable '{name}'")).with_hint(format!(
                "its variables are {}",
                slope::quoted_list(f.vars())
            ))
        })?;
        indices.push(i);
    }
    match indices[..] {
        [i] => Ok(Axes::One(i)),
        [i, j] if i != j => Ok(Axes::Two(i, j)),
        [_, _] => Err(usage(&format!("{flag}: '{text}' names one variable twice"))),
        _ => Err(
            usage(&format!("{flag}: '{text}' names more than two variables"))
                .with_hint(format!("write {flag} x,y: a picture has two axes")),
        ),
    }
}

/// The variables on the axes, in order.
/// The fewest doubles an axis's range must hold: the line's 301 samples
/// and the tick labels need distinct values to be drawn and read.
const MIN_DOUBLES: u64 = 1000;

/// An error unless the range `(lo, hi)` (finite, `lo < hi`) of the axis
/// variable `name` holds [`MIN_DOUBLES`] doubles: `x=1e16:1.0000000000000002e16`
/// holds two, and every tick of its picture read "1e16".
fn wide_enough(name: &str, (lo, hi): (f64, f64)) -> Result<()> {
    // Doubles in order as integers: the count between is a difference.
    let ordered = |x: f64| {
        let bits = x.to_bits() as i64;
        if bits < 0 { -(bits & i64::MAX) } else { bits }
    };
    let doubles = ordered(hi).abs_diff(ordered(lo)) + 1;
    if doubles >= MIN_DOUBLES {
        return Ok(());
    }
    // The spacing of doubles near the larger end, within a factor of 2.
    let spacing = (lo.abs().max(hi.abs()) * f64::EPSILON).max(f64::from_bits(1));
    Err(usage(&format!(
        "--bounds: {name}={}:{} is too narrow to draw: it holds {doubles} doubles, and a \
         picture needs {MIN_DOUBLES} to tell its points and ticks apart",
        format_value(lo),
        format_value(hi),
    ))
    .with_hint(format!(
        "widen it to about {:.1e} or more",
        MIN_DOUBLES as f64 * spacing
    )))
}

pub(super) fn axis_vars(axes: Axes) -> Vec<usize> {
    match axes {
        Axes::One(i) => vec![i],
        Axes::Two(i, j) => vec![i, j],
    }
}

pub(super) fn write_picture(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, bytes).map_err(|e| {
        Failure::plain(Error::new(
            ErrorKind::Io,
            format!("cannot write '{}': {e}", path.display()),
        ))
    })
}
