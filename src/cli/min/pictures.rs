//! `slope min`'s pictures: the function with the descent paths
//! (`--plot`), and the convergence chart (`--plot-convergence`).

use std::io::Write;
use std::path::PathBuf;

use super::super::{Failure, usage};
use super::args::{Args, MAX_KEPT_VALUES};
use super::runs::{Mode, Runs};
use super::{Context, euclidean};
use slope::optim::{Outcome, Settings};
use slope::plot::{self, Axes, Canvas, ConvergencePlot, FunctionPlot, Series};
use slope::{Formula, Objective, Result};

/// The pictures asked for, checked: where, how large, which axes.
pub(super) struct Pictures {
    pub(super) plot: Option<(PathBuf, Canvas)>,
    pub(super) convergence: Option<(PathBuf, Canvas)>,
    axes: Axes,
}

impl Pictures {
    /// Checks the picture flags before any run, so a typo costs no time.
    pub(super) fn check(args: &Args, f: &Formula) -> Result<Pictures> {
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
            Some(_) => super::super::plot::parse_axes(f, "--plot-axes", args.plot_axes.as_deref())?,
            None => Axes::One(0),
        };
        // A picture keeps every iterate: bound what --max-iter can ask for.
        let per_iterate = f.n_vars() + 2;
        let kept = args.max_iter().saturating_mul(per_iterate);
        if pictures.any() && kept > MAX_KEPT_VALUES {
            return Err(usage(&format!(
                "a picture keeps every iterate, and --max-iter {} could keep {kept} values; \
                 at most {MAX_KEPT_VALUES}",
                args.max_iter()
            ))
            .with_hint("lower --max-iter, or leave out --plot and --plot-convergence"));
        }
        Ok(Pictures { axes, ..pictures })
    }

    /// Whether any picture is wanted (then the runs keep their history).
    pub(super) fn any(&self) -> bool {
        self.plot.is_some() || self.convergence.is_some()
    }

    /// The summary's lines naming the pictures written.
    pub(super) fn write_summary(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for (what, picture) in [("plot", &self.plot), ("convergence", &self.convergence)] {
            if let Some((path, _)) = picture {
                writeln!(out, "{what:<11} {}", path.display())?;
            }
        }
        Ok(())
    }
}

/// Draws the pictures asked for: the function with every run's path (a
/// slice through the best run's end when there are more than two
/// variables), and the convergence chart.
pub(super) fn draw(context: &Context, runs: &Runs) -> Result<(), Failure> {
    let pictures = context.pictures;
    if !pictures.any() {
        return Ok(());
    }
    let method = title(runs);
    let names = legend_names(runs);
    let best = runs.best();
    let (settings, at) = (&best.settings, &best.outcome.x);
    let sign = context.sign();
    let formula = plot::short_formula(context.f.source(), 60);
    let runs = &runs.runs;
    if let Some((path, canvas)) = &pictures.plot {
        let paths: Vec<plot::Path> = runs
            .iter()
            .zip(&names)
            .map(|(r, name)| plot::Path {
                // A legend of dozens of restarts would hide the map.
                label: if runs.len() <= 8 {
                    name.clone()
                } else {
                    String::new()
                },
                points: r.outcome.history.iter().map(|(x, _)| x.clone()).collect(),
                values: r.outcome.history.iter().map(|(_, v)| sign * v).collect(),
            })
            .collect();
        let axes = pictures.axes;
        let ranges = super::super::plot::axis_vars(axes)
            .into_iter()
            .map(|k| frame(settings.bounds.as_ref().map(|b| b[k]), &paths, k))
            .collect();
        let picture = FunctionPlot {
            title: format!("{formula} — {method}"),
            vars: context.f.vars(),
            axes,
            ranges,
            at: at.to_vec(),
            paths: &paths,
        };
        let bytes = plot::render_function(&mut context.plain.clone(), &picture, *canvas)
            .map_err(Failure::plain)?;
        super::super::plot::write_picture(path, &bytes)?;
    }
    if let Some((path, canvas)) = &pictures.convergence {
        let series: Vec<Series> = runs
            .iter()
            .zip(&names)
            .map(|(r, name)| Series {
                label: name.clone(),
                values: r.outcome.history.iter().map(|(_, v)| sign * v).collect(),
                grad_norms: r.grad_norms.clone(),
            })
            .collect();
        let chart = ConvergencePlot {
            title: format!("{formula} — {method}"),
            series: &series,
            maximize: context.args.maximize,
        };
        let bytes = plot::render_convergence(&chart, *canvas).map_err(Failure::plain)?;
        super::super::plot::write_picture(path, &bytes)?;
    }
    Ok(())
}

/// The range of axis variable `k`: the bounds where both ends are
/// finite; else (no bounds, `--bounds x=0:inf`, or a variable left out of
/// them) the range of the paths, which holds every path and its start.
fn frame(bounds: Option<(f64, f64)>, paths: &[plot::Path], k: usize) -> (f64, f64) {
    match bounds {
        Some((lo, hi)) if lo.is_finite() && hi.is_finite() && lo < hi => (lo, hi),
        _ => plot::path_range(paths, k).unwrap_or((-1.0, 1.0)),
    }
}

/// What the pictures' titles say of the runs: "gd, lr 0.1", "lbfgs (line
/// search), 20 starts", "gd, adam, lbfgs" (each method's step is in the
/// legend: methods compared may have different steps).
fn title(runs: &Runs) -> String {
    match &runs.mode {
        Mode::Single => method_title(&runs.best().settings),
        Mode::Restarts { .. } => format!(
            "{}, {} starts",
            method_title(&runs.best().settings),
            runs.runs.len()
        ),
        Mode::Compare => {
            let names: Vec<&str> = runs.runs.iter().map(|r| r.settings.method.name()).collect();
            names.join(", ")
        }
    }
}

/// Each run's name in the legends: its label, and when methods are
/// compared, the method with its step: "gd (lr 0.001)", "lbfgs (line
/// search)".
fn legend_names(runs: &Runs) -> Vec<String> {
    runs.runs
        .iter()
        .map(|r| match runs.mode {
            Mode::Compare => {
                let method = r.settings.method;
                if method.has_line_search() {
                    format!("{} (line search)", method.name())
                } else {
                    format!(
                        "{} (lr {})",
                        method.name(),
                        slope::print::format_number(method.lr())
                    )
                }
            }
            Mode::Single | Mode::Restarts { .. } => r.label.clone(),
        })
        .collect()
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

impl Context<'_> {
    /// The gradient norms at a run's recorded points, for the convergence
    /// chart (runs in parallel have no observer to record them as they go).
    pub(super) fn grad_norms(&self, outcome: &Outcome) -> Vec<f64> {
        if self.pictures.convergence.is_none() {
            return Vec::new();
        }
        let mut objective = self.plain.clone();
        let mut grad = vec![0.0; self.f.n_vars()];
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
