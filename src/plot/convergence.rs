//! Convergence charts: |f − f_best| and the gradient norm against the
//! iteration, on log scales, one line per run, side by side.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::colour::PATHS;
use super::stroke::{PixelBox, stroke};
use super::{Canvas, Drawer, FONT, Format, drawn, encode, label, titled};
use crate::error::Result;

/// One run's history.
#[derive(Clone, Debug, Default)]
pub struct Series {
    /// The legend's name (a method, or "run 3").
    pub label: String,
    /// f at every iterate, from the start.
    pub values: Vec<f64>,
    /// The gradient's Euclidean norm at every iterate.
    pub grad_norms: Vec<f64>,
}

/// A convergence chart: |f − f_best| and the gradient norm of each run
/// against the iteration, on log scales.
#[derive(Clone, Debug)]
pub struct ConvergencePlot<'a> {
    /// The chart's title.
    pub title: String,
    /// One series per run.
    pub series: &'a [Series],
    /// The runs maximised: the best value is the highest.
    pub maximize: bool,
}

/// Legends longer than this would cover the curves; the runs then share
/// one entry.
const MAX_LEGEND: usize = 10;
/// Points drawn per curve at most: long runs are thinned evenly.
const MAX_POINTS: usize = 2000;

impl ConvergencePlot<'_> {
    /// The best finite value over all runs (lowest, or highest when
    /// maximising): the reference the gaps are measured from.
    pub fn best(&self) -> Option<f64> {
        let values = self
            .series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .filter(|v| v.is_finite());
        if self.maximize {
            values.reduce(f64::max)
        } else {
            values.reduce(f64::min)
        }
    }
}

/// The chart, encoded in the canvas's format.
pub fn render_convergence(plot: &ConvergencePlot, canvas: Canvas) -> Result<Vec<u8>> {
    encode(canvas, plot)
}

impl Drawer for &ConvergencePlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        canvas: Canvas,
    ) -> Result<()> {
        let (w, _) = root.dim_in_pixel();
        let area = titled(root, &self.title, "")?;
        let (left, right) = area.split_horizontally(w / 2);
        let best = self.best().unwrap_or(0.0);
        let gaps: Vec<Vec<f64>> = self
            .series
            .iter()
            .map(|s| s.values.iter().map(|v| (v - best).abs()).collect())
            .collect();
        let norms: Vec<Vec<f64>> = self.series.iter().map(|s| s.grad_norms.clone()).collect();
        panel(
            &left,
            canvas,
            &gaps,
            self.series,
            &format!("|f − f_best|   (f_best = {})", label(best)),
        )?;
        panel(&right, canvas, &norms, self.series, "‖∇f‖")
    }
}

/// The iteration axis turns logarithmic when the longest run has more
/// than this many times the iterations of the shortest: on a linear axis
/// lbfgs's 36 iterations beside gd's 5000 are a smudge at the left edge.
const LOG_ITERATIONS: f64 = 20.0;
/// Labelled decades on a value axis at most: more are thinned to every
/// second, third, … decade.
const MAX_DECADES: i32 = 8;

/// The iteration axis: linear from 0, or logarithmic in `iteration + 1`
/// (so that the start, iteration 0, has a place on it).
#[derive(Copy, Clone, Debug, PartialEq)]
enum IterationAxis {
    Linear,
    Log,
}

impl IterationAxis {
    /// Linear, unless the runs' iteration counts differ by more than
    /// [`LOG_ITERATIONS`] times.
    fn for_runs(series: &[Series]) -> IterationAxis {
        let counts = series.iter().map(|s| {
            s.values
                .len()
                .max(s.grad_norms.len())
                .saturating_sub(1)
                .max(1) as f64
        });
        let (lo, hi) = counts.fold((f64::INFINITY, 0.0f64), |(lo, hi), n| {
            (lo.min(n), hi.max(n))
        });
        if hi > LOG_ITERATIONS * lo {
            IterationAxis::Log
        } else {
            IterationAxis::Linear
        }
    }

    /// Where iteration `i` is drawn.
    fn position(self, i: usize) -> f64 {
        match self {
            IterationAxis::Linear => i as f64,
            IterationAxis::Log => ((i + 1) as f64).log10(),
        }
    }

    /// The axis's caption: it says what is plotted, `iteration + 1` on a
    /// log axis.
    fn caption(self) -> &'static str {
        match self {
            IterationAxis::Linear => "iteration",
            IterationAxis::Log => "iteration + 1 (log scale)",
        }
    }

    /// The label of the tick at position `v`.
    fn label(self, v: f64) -> String {
        match self {
            IterationAxis::Linear => label(v),
            IterationAxis::Log => label(10f64.powf(v).round()),
        }
    }

    /// The axis's range for runs of at most `last` iterations, and its
    /// labelled ticks and unlabelled grid lines.
    fn ticks(self, last: usize) -> ((f64, f64), Vec<f64>, Vec<f64>) {
        match self {
            IterationAxis::Linear => {
                let end = last.max(1) as f64;
                let step = nice_step(end / 6.0);
                let bold: Vec<f64> = (0..)
                    .map(|k| k as f64 * step)
                    .take_while(|&v| v <= end)
                    .collect();
                ((0.0, end), bold, Vec::new())
            }
            IterationAxis::Log => {
                let end = ((last + 1) as f64).log10().max(1.0);
                let bold: Vec<f64> = (0..).map(f64::from).take_while(|&d| d <= end).collect();
                let light = bold
                    .iter()
                    .flat_map(|&d| (2..10).map(move |m| d + f64::from(m).log10()))
                    .filter(|&v| v <= end)
                    .collect();
                ((0.0, end), bold, light)
            }
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `rough`.
fn nice_step(rough: f64) -> f64 {
    let rough = rough.max(1.0);
    let decade = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * decade)
        .find(|&s| s >= rough)
        .unwrap_or(10.0 * decade)
}

/// The value axis for positive values from `lo` to `hi`, in decades
/// (log10): from the decade at or below the lowest value to one at or
/// above the highest, so that labelled ticks enclose every point drawn.
/// Returns the range and the labelled decades (every one, or every k-th
/// when there are many, counted from the bottom so both ends are labelled).
fn decades(lo: f64, hi: f64) -> ((f64, f64), Vec<f64>, Vec<f64>) {
    let bottom = lo.log10().floor() as i32;
    let top = (hi.log10().ceil() as i32).max(bottom + 1);
    let stride = (top - bottom + MAX_DECADES - 1) / MAX_DECADES;
    let top = bottom + stride * ((top - bottom + stride - 1) / stride);
    let bold: Vec<f64> = (bottom..=top)
        .step_by(stride as usize)
        .map(f64::from)
        .collect();
    let light: Vec<f64> = if stride > 1 {
        (bottom..=top).map(f64::from).collect()
    } else {
        Vec::new()
    };
    ((f64::from(bottom), f64::from(top)), bold, light)
}

/// A linear axis with the ticks chosen here: `bold` are labelled and
/// drawn as grid lines, `light` are grid lines only. (plotters'
/// `with_key_points` wraps its f64 axis but loses its label formatting, so
/// the mesh could not be drawn on it.)
struct Ticked {
    linear: RangedCoordf64,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ticked {
    fn new((lo, hi): (f64, f64), bold: Vec<f64>, light: Vec<f64>) -> Ticked {
        Ticked {
            linear: (lo..hi).into(),
            bold,
            light,
        }
    }
}

impl Ranged for Ticked {
    type ValueType = f64;
    type FormatOption = DefaultFormatting;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.linear.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.linear.range()
    }
}

/// One chart of `curves` against the iteration, the values on a log
/// scale. Values that are zero, negative or not finite break the line (the
/// best run's last point has a gap of exactly zero).
///
/// Both axes are drawn linear in what they show (log10 of the value, and
/// log10 of iteration + 1 on a log iteration axis) with ticks chosen here:
/// plotters' own log axis drops every tick below 2.2e-16 (it takes them
/// for zero), so its labels stopped at 1e-14 while the curves went on.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    canvas: Canvas,
    curves: &[Vec<f64>],
    series: &[Series],
    what: &str,
) -> Result<()> {
    let positive = |v: &f64| v.is_finite() && *v > 0.0;
    let (lo, hi) = curves
        .iter()
        .flatten()
        .copied()
        .filter(positive)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let (lo, hi) = if lo > hi { (1e-16, 1.0) } else { (lo, hi) };
    let (yrange, ybold, ylight) = decades(lo, hi);
    let iterations = IterationAxis::for_runs(series);
    let last = curves.iter().map(Vec::len).max().unwrap_or(1).max(2) - 1;
    let (xrange, xbold, xlight) = iterations.ticks(last);
    let mut chart = drawn(
        ChartBuilder::on(area)
            .margin_left(10)
            .margin_right(25)
            .margin_bottom(10)
            .x_label_area_size(55)
            .y_label_area_size(85)
            .build_cartesian_2d(
                Ticked::new(xrange, xbold, xlight),
                Ticked::new(yrange, ybold, ylight),
            ),
    )?;
    drawn(
        chart
            .configure_mesh()
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(215, 215, 215))
            .x_desc(iterations.caption())
            .y_desc(what)
            .x_label_formatter(&|v| iterations.label(*v))
            .y_label_formatter(&|v| label(10f64.powf(*v)))
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 18))
            .draw(),
    )?;
    let pixels = PixelBox::new(xrange, yrange, chart.plotting_area().get_pixel_range());
    let bitmap = chart.plotting_area().strip_coord_spec();
    let named = series.len() <= MAX_LEGEND && series.iter().any(|s| !s.label.is_empty());
    for (k, curve) in curves.iter().enumerate() {
        let colour = PATHS[k % PATHS.len()];
        let stride = curve.len().div_ceil(MAX_POINTS).max(1);
        let points: Vec<(f64, f64)> = curve
            .iter()
            .copied()
            .enumerate()
            .filter(|(i, _)| i % stride == 0 || i + 1 == curve.len())
            .map(|(i, v)| {
                (
                    iterations.position(i),
                    if positive(&v) { v.log10() } else { f64::NAN },
                )
            })
            .collect();
        let pieces: Vec<Vec<(f64, f64)>> = points
            .split(|p| p.1.is_nan())
            .filter(|p| !p.is_empty())
            .map(<[(f64, f64)]>::to_vec)
            .collect();
        match canvas.format {
            Format::Svg => {
                for piece in &pieces {
                    let style = colour.stroke_width(2);
                    drawn(chart.draw_series(LineSeries::new(piece.iter().copied(), style)))?;
                }
            }
            Format::Png => stroke(&bitmap, &pixels, &pieces, &colour, 2.0)?,
        }
        for piece in pieces.iter().filter(|p| p.len() == 1) {
            drawn(chart.draw_series(std::iter::once(Circle::new(piece[0], 3, colour.filled()))))?;
        }
        if named && !pieces.is_empty() {
            drawn(chart.draw_series(std::iter::empty::<PathElement<(f64, f64)>>()))?
                .label(series[k].label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 24, y)], colour.stroke_width(3))
                });
        }
    }
    if named && !series.is_empty() {
        drawn(
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(120, 120, 120))
                .label_font((FONT, 16))
                .draw(),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_value_is_over_all_runs() {
        let series = [
            Series {
                label: "a".into(),
                values: vec![3.0, 1.0, f64::NAN],
                grad_norms: vec![1.0, 0.5, 0.1],
            },
            Series {
                label: "b".into(),
                values: vec![2.0, 0.5],
                grad_norms: vec![1.0, 0.1],
            },
        ];
        let mut plot = ConvergencePlot {
            title: "t".into(),
            series: &series,
            maximize: false,
        };
        assert_eq!(plot.best(), Some(0.5));
        plot.maximize = true;
        assert_eq!(plot.best(), Some(3.0));
        let empty = ConvergencePlot {
            title: "t".into(),
            series: &[],
            maximize: false,
        };
        assert_eq!(empty.best(), None);
    }
}
