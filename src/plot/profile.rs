//! Dolan–Moré performance profiles (E. D. Dolan and J. J. Moré,
//! "Benchmarking optimization software with performance profiles", Math.
//! Program. 91, 2002): for each solver, the fraction of the problems it
//! solves within a factor τ of the best solver's cost on each, against τ
//! on a log2 scale. One panel per cost (evaluations, time).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::colour::PATHS;
use super::stroke::{PixelBox, stroke};
use super::{Canvas, Drawer, FONT, Format, drawn, encode, label, titled};
use crate::error::Result;

/// One solver's cost on every problem, in the problems' order: infinite
/// (or NaN) where it did not solve the problem.
#[derive(Clone, Debug, Default)]
pub struct Solver {
    /// The legend's name.
    pub label: String,
    /// The cost on each problem.
    pub costs: Vec<f64>,
}

/// One profile: solvers' costs of one kind.
#[derive(Clone, Debug)]
pub struct Profile {
    /// What the cost is ("function evaluations").
    pub cost: String,
    /// The solvers compared, each with a cost per problem.
    pub solvers: Vec<Solver>,
}

/// Performance profiles side by side.
#[derive(Clone, Debug)]
pub struct ProfilePlot<'a> {
    /// The chart's title.
    pub title: String,
    /// One panel each.
    pub profiles: &'a [Profile],
}

fn solved(c: f64) -> bool {
    c.is_finite() && c >= 0.0
}

impl Profile {
    /// Each solver's performance ratios: its cost on a problem over the
    /// least cost any solver reached on it (infinite where it failed). A
    /// zero cost (too fast for the clock) counts as the smallest positive
    /// one measured, so that ratios stay finite.
    pub fn ratios(&self) -> Vec<Vec<f64>> {
        let problems = self
            .solvers
            .iter()
            .map(|s| s.costs.len())
            .max()
            .unwrap_or(0);
        let floor = (self.solvers.iter())
            .flat_map(|s| s.costs.iter().copied())
            .filter(|&c| solved(c) && c > 0.0)
            .fold(f64::INFINITY, f64::min);
        let cost = |s: &Solver, p: usize| match s.costs.get(p) {
            Some(&c) if solved(c) => c.max(floor),
            _ => f64::INFINITY,
        };
        let best: Vec<f64> = (0..problems)
            .map(|p| {
                self.solvers
                    .iter()
                    .map(|s| cost(s, p))
                    .fold(f64::INFINITY, f64::min)
            })
            .collect();
        let ratio = |s: &Solver, p: usize| match cost(s, p) {
            c if c.is_finite() => c / best[p],
            _ => f64::INFINITY,
        };
        (self.solvers.iter())
            .map(|s| (0..problems).map(|p| ratio(s, p)).collect())
            .collect()
    }
}

/// The fraction of `ratios` at most `tau`: the profile's height at τ.
pub fn fraction_within(ratios: &[f64], tau: f64) -> f64 {
    if ratios.is_empty() {
        return 0.0;
    }
    ratios.iter().filter(|&&r| r <= tau).count() as f64 / ratios.len() as f64
}

/// The step curve of one solver, in (log2 τ, fraction) from τ = 1 to
/// 2^`end`: flat between the ratios, rising at each.
fn steps(ratios: &[f64], end: f64) -> Vec<(f64, f64)> {
    let mut finite: Vec<f64> = ratios.iter().copied().filter(|r| r.is_finite()).collect();
    finite.sort_by(f64::total_cmp);
    let mut height = fraction_within(ratios, 1.0);
    let mut points = vec![(0.0, height)];
    for r in finite.into_iter().filter(|&r| r > 1.0) {
        let above = fraction_within(ratios, r);
        if above > height {
            points.push((r.log2(), height));
            points.push((r.log2(), above));
            height = above;
        }
    }
    points.push((end, height));
    points
}

/// The chart, encoded in the canvas's format.
pub fn render_profile(plot: &ProfilePlot, canvas: Canvas) -> Result<Vec<u8>> {
    encode(canvas, plot)
}

impl Drawer for &ProfilePlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        canvas: Canvas,
    ) -> Result<()> {
        let area = titled(root, &self.title, "")?;
        let n = self.profiles.len().max(1);
        let panels = area.split_evenly((1, n));
        for (profile, panel_area) in self.profiles.iter().zip(&panels) {
            panel(panel_area, canvas, profile)?;
        }
        Ok(())
    }
}

/// One profile: the fraction solved (0 to 1) against log2 τ, from τ = 1
/// to the largest finite ratio (at least 2).
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    canvas: Canvas,
    profile: &Profile,
) -> Result<()> {
    let ratios = profile.ratios();
    let largest = (ratios.iter().flatten())
        .copied()
        .filter(|r| r.is_finite())
        .fold(2.0f64, f64::max);
    let end = largest.log2().ceil().max(1.0);
    let (xrange, yrange) = ((0.0, end), (0.0, 1.0));
    let mut chart = drawn(
        ChartBuilder::on(area)
            .margin_left(10)
            .margin_right(25)
            .margin_bottom(10)
            .margin_top(10)
            .x_label_area_size(55)
            .y_label_area_size(60)
            .build_cartesian_2d(xrange.0..xrange.1, yrange.0..yrange.1),
    )?;
    drawn(
        chart
            .configure_mesh()
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(215, 215, 215))
            // At most nine labels: past that, 4096, 8192, … run together.
            .x_labels((end as usize + 1).min(9))
            .y_labels(6)
            .x_desc(format!(
                "within this factor of the fewest {} (log scale)",
                profile.cost
            ))
            .y_desc("fraction of problems solved")
            .x_label_formatter(&|v| label(2f64.powf(*v)))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 18))
            .draw(),
    )?;
    let pixels = PixelBox::new(xrange, yrange, chart.plotting_area().get_pixel_range());
    let bitmap = chart.plotting_area().strip_coord_spec();
    for (k, (solver, r)) in profile.solvers.iter().zip(&ratios).enumerate() {
        let colour = PATHS[k % PATHS.len()];
        let curve = steps(r, end);
        match canvas.format {
            Format::Svg => {
                let style = colour.stroke_width(2);
                drawn(chart.draw_series(LineSeries::new(curve.iter().copied(), style)))?;
            }
            Format::Png => stroke(&bitmap, &pixels, &[curve], &colour, 2.0)?,
        }
        drawn(chart.draw_series(std::iter::empty::<PathElement<(f64, f64)>>()))?
            .label(solver.label.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], colour.stroke_width(3)));
    }
    drawn(
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(120, 120, 120))
            .label_font((FONT, 16))
            .draw(),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        let inf = f64::INFINITY;
        Profile {
            cost: "evaluations".into(),
            solvers: vec![
                Solver {
                    label: "a".into(),
                    costs: vec![10.0, 40.0, inf, 5.0],
                },
                Solver {
                    label: "b".into(),
                    costs: vec![20.0, 10.0, inf, f64::NAN],
                },
            ],
        }
    }

    #[test]
    fn ratios_are_to_the_best_solver_on_each_problem() {
        let r = profile().ratios();
        let inf = f64::INFINITY;
        assert_eq!(r[0], [1.0, 4.0, inf, 1.0]);
        assert_eq!(r[1], [2.0, 1.0, inf, inf]);
        assert_eq!(fraction_within(&r[0], 1.0), 0.5);
        assert_eq!(fraction_within(&r[0], 4.0), 0.75);
        assert_eq!(fraction_within(&r[1], 1e9), 0.5);
    }

    #[test]
    fn the_curve_rises_at_each_ratio() {
        let r = profile().ratios();
        assert_eq!(
            steps(&r[0], 3.0),
            [(0.0, 0.5), (2.0, 0.5), (2.0, 0.75), (3.0, 0.75)]
        );
        assert_eq!(
            steps(&r[1], 3.0),
            [(0.0, 0.25), (1.0, 0.25), (1.0, 0.5), (3.0, 0.5)]
        );
    }

    #[test]
    fn a_zero_cost_counts_as_the_smallest_measured() {
        let p = Profile {
            cost: "seconds".into(),
            solvers: vec![
                Solver {
                    label: "a".into(),
                    costs: vec![0.0, 2.0],
                },
                Solver {
                    label: "b".into(),
                    costs: vec![4.0, 1.0],
                },
            ],
        };
        assert_eq!(p.ratios(), [[1.0, 2.0], [4.0, 1.0]]);
    }

    #[test]
    fn both_formats_render() {
        let profiles = [profile()];
        let plot = ProfilePlot {
            title: "t".into(),
            profiles: &profiles,
        };
        for format in [Format::Png, Format::Svg] {
            let bytes = render_profile(&plot, Canvas::new(format, (600, 400))).unwrap();
            assert!(bytes.len() > 1000);
        }
    }
}
