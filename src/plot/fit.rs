//! A fitted model: for one predictor, the data and the fitted curve with
//! the residuals in a panel beneath; for several, the residuals against
//! the fitted values (a curve over several predictors has no one axis).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::colour::{LINE, PATHS};
use super::{Canvas, Drawer, FONT, drawn, encode, label, titled};
use crate::error::Result;

/// What to draw of a fit.
#[derive(Clone, Debug)]
pub struct FitPlot {
    /// The picture's title.
    pub title: String,
    /// The response column's name.
    pub response: String,
    /// The one predictor's name and values, if the model reads one column.
    pub predictor: Option<(String, Vec<f64>)>,
    /// The response at each row.
    pub observed: Vec<f64>,
    /// The model at each row, at the estimates.
    pub fitted: Vec<f64>,
    /// The fitted curve through the predictor's range, `(x, m(x))`.
    pub curve: Vec<(f64, f64)>,
}

/// Draws the fit; returns the encoded picture.
pub fn render_fit(plot: &FitPlot, canvas: Canvas) -> Result<Vec<u8>> {
    encode(canvas, plot)
}

/// The range of finite values, padded by 6% (a unit either side of a single
/// value; (-1, 1) for none).
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if lo > hi {
        (-1.0, 1.0)
    } else if lo == hi {
        (lo - 0.5 * lo.abs().max(1.0), hi + 0.5 * hi.abs().max(1.0))
    } else {
        let pad = 0.06 * (hi - lo);
        (lo - pad, hi + pad)
    }
}

impl Drawer for &FitPlot {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        _canvas: Canvas,
    ) -> Result<()> {
        let (_, h) = root.dim_in_pixel();
        let area = titled(root, &self.title, "")?;
        let residuals: Vec<f64> = self
            .observed
            .iter()
            .zip(&self.fitted)
            .map(|(y, m)| y - m)
            .collect();
        let Some((name, xs)) = &self.predictor else {
            // Several predictors: residuals against fitted values.
            let points: Vec<(f64, f64)> = self.fitted.iter().copied().zip(residuals).collect();
            return scatter(&area, &points, "fitted value", "residual", true);
        };
        let (top, bottom) = area.split_vertically((h - 46) * 68 / 100);
        let (xlo, xhi) = range(xs.iter().copied());
        let (ylo, yhi) = range(
            self.observed
                .iter()
                .copied()
                .chain(self.curve.iter().map(|c| c.1)),
        );
        let mut chart = drawn(
            ChartBuilder::on(&top)
                .margin_left(10)
                .margin_right(30)
                .x_label_area_size(30)
                .y_label_area_size(80)
                .build_cartesian_2d(xlo..xhi, ylo..yhi),
        )?;
        drawn(
            chart
                .configure_mesh()
                .light_line_style(RGBColor(246, 246, 246))
                .bold_line_style(RGBColor(215, 215, 215))
                .x_label_formatter(&|v| label(*v))
                .y_label_formatter(&|v| label(*v))
                .y_desc(self.response.as_str())
                .label_style((FONT, 16))
                .axis_desc_style((FONT, 20))
                .draw(),
        )?;
        let dots = PATHS[1];
        drawn(
            chart.draw_series(
                xs.iter()
                    .zip(&self.observed)
                    .filter(|(x, y)| x.is_finite() && y.is_finite())
                    .map(|(&x, &y)| Circle::new((x, y), 3, dots.filled())),
            ),
        )?;
        let pieces: Vec<Vec<(f64, f64)>> = self
            .curve
            .split(|c| !c.1.is_finite() || c.1 < ylo || c.1 > yhi)
            .filter(|p| p.len() > 1)
            .map(<[(f64, f64)]>::to_vec)
            .collect();
        for piece in pieces {
            drawn(chart.draw_series(LineSeries::new(piece, LINE.stroke_width(2))))?;
        }
        let points: Vec<(f64, f64)> = xs.iter().copied().zip(residuals).collect();
        scatter(&bottom, &points, name, "residual", false)
    }
}

/// Points with a zero line: the residual panel.
fn scatter<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    points: &[(f64, f64)],
    x_desc: &str,
    y_desc: &str,
    big: bool,
) -> Result<()> {
    let (xlo, xhi) = range(points.iter().map(|p| p.0));
    let r = points
        .iter()
        .map(|p| p.1.abs())
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let r = if r > 0.0 { 1.08 * r } else { 1.0 };
    let mut chart = drawn(
        ChartBuilder::on(area)
            .margin_left(10)
            .margin_right(30)
            .margin_bottom(10)
            .x_label_area_size(55)
            .y_label_area_size(80)
            .build_cartesian_2d(xlo..xhi, -r..r),
    )?;
    drawn(
        chart
            .configure_mesh()
            .light_line_style(RGBColor(246, 246, 246))
            .bold_line_style(RGBColor(215, 215, 215))
            .x_label_formatter(&|v| label(*v))
            // A tick at zero computed as -1.4e-17 reads as zero.
            .y_label_formatter(&|v| match v.abs() < 1e-9 * r {
                true => "0".to_string(),
                false => label(*v),
            })
            .y_labels(if big { 10 } else { 5 })
            .x_desc(x_desc)
            .y_desc(y_desc)
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 20))
            .draw(),
    )?;
    drawn(chart.draw_series(LineSeries::new(
        [(xlo, 0.0), (xhi, 0.0)],
        RGBColor(120, 120, 120).stroke_width(1),
    )))?;
    drawn(
        chart.draw_series(
            points
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .map(|&(x, y)| Circle::new((x, y), 3, PATHS[1].filled())),
        ),
    )?;
    Ok(())
}
