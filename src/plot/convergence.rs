//! Convergence charts: |f − f_best| and the gradient norm against the
//! iteration, on log scales, one line per run, side by side.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::colour::PATHS;
use super::{Canvas, Drawer, FONT, drawn, encode, label};
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
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, _: Canvas) -> Result<()> {
        let (w, _) = root.dim_in_pixel();
        let centre = TextStyle::from((FONT, 22).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        drawn(root.draw_text(&self.title, &centre, (w as i32 / 2, 12)))?;
        let area = root.margin(46, 0, 0, 0);
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
            &gaps,
            self.series,
            &format!("|f − f_best|   (f_best = {})", label(best)),
        )?;
        panel(&right, &norms, self.series, "‖∇f‖")
    }
}

/// One log-scale chart of `curves` against the iteration. Values that are
/// zero, negative or not finite break the line (the best run's last point
/// has a gap of exactly zero).
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
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
    let (lo, hi) = if lo > hi {
        (1e-16, 1.0)
    } else {
        // Log axes need a little room at both ends, and at least a decade.
        let (lo, hi) = (lo / 2.0, hi * 2.0);
        if hi / lo < 10.0 {
            (lo / 3.0, hi * 3.0)
        } else {
            (lo, hi)
        }
    };
    let last = curves.iter().map(Vec::len).max().unwrap_or(1).max(2) - 1;
    let mut chart = drawn(
        ChartBuilder::on(area)
            .margin_left(10)
            .margin_right(25)
            .margin_bottom(10)
            .x_label_area_size(55)
            .y_label_area_size(85)
            .build_cartesian_2d(0..last, (lo..hi).log_scale()),
    )?;
    drawn(
        chart
            .configure_mesh()
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(215, 215, 215))
            .x_labels(6)
            .x_desc("iteration")
            .y_desc(what)
            .y_label_formatter(&|v| label(*v))
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 18))
            .draw(),
    )?;
    let named = series.len() <= MAX_LEGEND && series.iter().any(|s| !s.label.is_empty());
    for (k, curve) in curves.iter().enumerate() {
        let colour = PATHS[k % PATHS.len()];
        let stride = curve.len().div_ceil(MAX_POINTS).max(1);
        let points: Vec<(usize, f64)> = curve
            .iter()
            .copied()
            .enumerate()
            .filter(|(i, _)| i % stride == 0 || i + 1 == curve.len())
            .collect();
        let mut labelled = false;
        for piece in points.split(|p| !positive(&p.1)).filter(|p| !p.is_empty()) {
            let style = colour.stroke_width(2);
            let line = drawn(chart.draw_series(LineSeries::new(piece.iter().copied(), style)))?;
            if !labelled && named {
                line.label(series[k].label.as_str()).legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 24, y)], colour.stroke_width(3))
                });
                labelled = true;
            }
            if piece.len() == 1 {
                drawn(chart.draw_series(std::iter::once(Circle::new(
                    piece[0],
                    3,
                    colour.filled(),
                ))))?;
            }
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
