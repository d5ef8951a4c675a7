//! The function: a line for one variable, a filled contour map with a
//! colour bar for two, and for more a two-dimensional slice through a
//! point, with the paths (`paths.rs`) projected onto it.

use std::cell::RefCell;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::colour::{LINE, Scale};
use super::paths::{
    Path, Pen, Rect, draw_markers, draw_path, legend, legend_entry, path_colour, quiet_corner,
};
use super::{Canvas, Drawer, FONT, Format, drawn, encode, label, tick_label, titled};
use crate::error::{Error, ErrorKind, Result};
use crate::objective::Objective;

/// The variables on the picture's axes, by index.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Axes {
    /// The function against one variable.
    One(usize),
    /// A map over two variables: (horizontal, vertical).
    Two(usize, usize),
}

/// What to draw of a function.
#[derive(Clone, Debug)]
pub struct FunctionPlot<'a> {
    /// The picture's title.
    pub title: String,
    /// The function's variables.
    pub vars: &'a [String],
    /// The variables on the axes.
    pub axes: Axes,
    /// The range of each axis variable, in the order of `axes`.
    pub ranges: Vec<(f64, f64)>,
    /// A point in every variable: the variables not on an axis are held at
    /// their values here (the slice).
    pub at: Vec<f64>,
    /// Descent paths drawn over the function.
    pub paths: &'a [Path],
}

/// Colour bands of a contour map.
const BANDS: usize = 12;
/// Samples of a function line.
const LINE_SAMPLES: usize = 300;
/// Width of the colour bar and its labels.
const BAR_WIDTH: u32 = 120;

/// Draws the function and the paths over it; returns the encoded picture.
/// A `Usage` error where f is finite at none of the samples and there are
/// no paths: the picture would be blank (a box outside f's domain).
pub fn render_function(
    objective: &mut dyn Objective,
    plot: &FunctionPlot,
    canvas: Canvas,
) -> Result<Vec<u8>> {
    let drawer = FunctionDrawer {
        objective: RefCell::new(objective),
        plot,
    };
    encode(canvas, drawer)
}

struct FunctionDrawer<'o, 'p> {
    objective: RefCell<&'o mut dyn Objective>,
    plot: &'p FunctionPlot<'p>,
}

impl Drawer for FunctionDrawer<'_, '_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        canvas: Canvas,
    ) -> Result<()> {
        match self.plot.axes {
            Axes::One(i) => {
                // The line's samples first: where f is not finite, the
                // note under the title says so.
                let samples = self.line_samples(i);
                let mut notes = vec![self.slice_note()];
                notes.extend(not_finite_note(&samples, &self.plot.vars[i]));
                notes.retain(|n| !n.is_empty());
                let area = titled(root, &self.plot.title, &notes.join("; "))?;
                self.draw_line(&area, canvas, i, samples)
            }
            Axes::Two(i, j) => {
                let area = titled(root, &self.plot.title, &self.slice_note())?;
                self.draw_map(&area, canvas, i, j)
            }
        }
    }
}

impl FunctionDrawer<'_, '_> {
    /// `f` at `at` with the axis variables replaced.
    fn value(&self, point: &mut [f64]) -> f64 {
        self.objective.borrow_mut().value(point)
    }

    /// "slice at x3 = 0.5, x4 = 1" for the variables held fixed.
    fn slice_note(&self) -> String {
        let on_axis = |k: usize| match self.plot.axes {
            Axes::One(i) => k == i,
            Axes::Two(i, j) => k == i || k == j,
        };
        let held: Vec<String> = (0..self.plot.vars.len())
            .filter(|&k| !on_axis(k))
            .map(|k| format!("{} = {}", self.plot.vars[k], label(self.plot.at[k])))
            .collect();
        if held.is_empty() {
            return String::new();
        }
        let mut note = format!("slice at {}", held.join(", "));
        if note.chars().count() > 90 {
            note = note.chars().take(89).collect::<String>() + "…";
        }
        note
    }

    /// f along the line's axis variable `i`, at evenly spaced points.
    fn line_samples(&self, i: usize) -> Vec<(f64, f64)> {
        let (xlo, xhi) = self.plot.ranges[0];
        let mut point = self.plot.at.clone();
        (0..=LINE_SAMPLES)
            .map(|k| {
                let x = xlo + (xhi - xlo) * k as f64 / LINE_SAMPLES as f64;
                point[i] = x;
                (x, self.value(&mut point))
            })
            .collect()
    }

    fn draw_line<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        canvas: Canvas,
        i: usize,
        samples: Vec<(f64, f64)>,
    ) -> Result<()> {
        let plot = self.plot;
        let (xlo, xhi) = plot.ranges[0];
        // The vertical range covers the line and the path's values.
        let ys = samples
            .iter()
            .map(|s| s.1)
            .chain(plot.paths.iter().flat_map(|p| {
                p.points
                    .iter()
                    .zip(&p.values)
                    .filter(move |(x, _)| (xlo..=xhi).contains(&x[i]))
                    .map(|(_, v)| *v)
            }))
            .filter(|v| v.is_finite());
        if plot.paths.is_empty() && ys.clone().next().is_none() {
            return Err(blank(samples.len()));
        }
        let (ylo, yhi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let (ylo, yhi) = if ylo > yhi {
            (-1.0, 1.0)
        } else if ylo == yhi {
            (
                ylo - 0.5 * ylo.abs().max(1.0),
                yhi + 0.5 * yhi.abs().max(1.0),
            )
        } else {
            let pad = 0.06 * (yhi - ylo);
            (ylo - pad, yhi + pad)
        };
        let mut chart = drawn(
            ChartBuilder::on(area)
                .margin_left(10)
                .margin_right(30)
                .margin_bottom(10)
                .x_label_area_size(55)
                .y_label_area_size(80)
                .build_cartesian_2d(xlo..xhi, ylo..yhi),
        )?;
        let (x_labels, y_labels) = label_counts(chart.plotting_area(), (xlo, xhi));
        drawn(
            chart
                .configure_mesh()
                .x_labels(x_labels)
                .y_labels(y_labels)
                .light_line_style(RGBColor(246, 246, 246))
                .bold_line_style(RGBColor(215, 215, 215))
                .x_label_formatter(&|v| tick(*v, xhi - xlo))
                .y_label_formatter(&|v| tick(*v, yhi - ylo))
                .x_desc(plot.vars[i].as_str())
                .y_desc("f")
                .label_style((FONT, 16))
                .axis_desc_style((FONT, 20))
                .draw(),
        )?;
        // The line, broken where f is not finite.
        let rect = Rect { xlo, xhi, ylo, yhi };
        let pen = Pen::new(&chart, rect, canvas.format);
        let pieces: Vec<Vec<(f64, f64)>> = samples
            .split(|s| !s.1.is_finite() || s.1 < ylo || s.1 > yhi)
            .filter(|p| p.len() > 1)
            .map(<[(f64, f64)]>::to_vec)
            .collect();
        pen.lines(&mut chart, &pieces, LINE, 2)?;
        if !pieces.is_empty() {
            legend_entry(&mut chart, "f", |(x, y)| {
                PathElement::new([(x, y), (x + 24, y)], LINE.stroke_width(2))
            })?;
        }
        let (width, height) = (xhi - xlo, yhi - ylo);
        for (k, path) in plot.paths.iter().enumerate() {
            let colour = path_colour(k);
            let points: Vec<(f64, f64)> = path
                .points
                .iter()
                .zip(&path.values)
                .map(|(x, &v)| (x[i], v))
                .collect();
            draw_path(
                &mut chart,
                &pen,
                &points,
                colour,
                rect,
                (width, height),
                &path.label,
                false,
            )?;
        }
        draw_markers(&mut chart, plot.paths, rect, |x, v| (x[i], v), false)?;
        let drawn_points = samples.iter().copied().chain(
            plot.paths
                .iter()
                .flat_map(|p| p.points.iter().zip(&p.values).map(move |(x, &v)| (x[i], v))),
        );
        legend(&mut chart, quiet_corner(drawn_points, rect))
    }

    fn draw_map<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        canvas: Canvas,
        i: usize,
        j: usize,
    ) -> Result<()> {
        let plot = self.plot;
        let ((xlo, xhi), (ylo, yhi)) = (plot.ranges[0], plot.ranges[1]);
        let (w, _) = area.dim_in_pixel();
        let (main, bar) = area.split_horizontally(w.saturating_sub(BAR_WIDTH));
        let mut chart = drawn(
            ChartBuilder::on(&main)
                .margin_left(10)
                .margin_right(15)
                .margin_bottom(10)
                .margin_top(5)
                .x_label_area_size(55)
                .y_label_area_size(75)
                .build_cartesian_2d(xlo..xhi, ylo..yhi),
        )?;
        // The map: one value per cell of `cell` pixels, at the cell's centre.
        let (prx, pry) = chart.plotting_area().get_pixel_range();
        let (pw, ph) = (
            (prx.end - prx.start) as usize,
            (pry.end - pry.start) as usize,
        );
        let cell = if canvas.format == Format::Png { 1 } else { 3 };
        let (nx, ny) = (pw.div_ceil(cell), ph.div_ceil(cell));
        let mut point = plot.at.clone();
        let mut values = Vec::with_capacity(nx * ny);
        for r in 0..ny {
            let py = ((r * cell) as f64 + cell as f64 / 2.0).min(ph as f64);
            point[j] = yhi - (yhi - ylo) * py / ph as f64;
            for c in 0..nx {
                let px = ((c * cell) as f64 + cell as f64 / 2.0).min(pw as f64);
                point[i] = xlo + (xhi - xlo) * px / pw as f64;
                values.push(self.value(&mut point));
            }
        }
        let scale = Scale::fit(&values, BANDS);
        if scale.is_none() && plot.paths.is_empty() {
            return Err(blank(values.len()));
        }
        let cells = chart.plotting_area().strip_coord_spec();
        if let Some(scale) = &scale {
            let bands: Vec<Option<usize>> = values.iter().map(|&v| scale.band(v)).collect();
            for (x0, y0, x1, y1, b) in runs(&bands, nx, ny) {
                let (x1, y1) = ((x1 * cell).min(pw), (y1 * cell).min(ph));
                drawn(cells.draw(&Rectangle::new(
                    [
                        ((x0 * cell) as i32, (y0 * cell) as i32),
                        (x1 as i32, y1 as i32),
                    ],
                    scale.colour(b).filled(),
                )))?;
            }
        }
        let (x_labels, y_labels) = label_counts(chart.plotting_area(), (xlo, xhi));
        drawn(
            chart
                .configure_mesh()
                .disable_mesh()
                .x_labels(x_labels)
                .y_labels(y_labels)
                .x_label_formatter(&|v| tick(*v, xhi - xlo))
                .y_label_formatter(&|v| tick(*v, yhi - ylo))
                .x_desc(plot.vars[i].as_str())
                .y_desc(plot.vars[j].as_str())
                .label_style((FONT, 16))
                .axis_desc_style((FONT, 20))
                .draw(),
        )?;
        drawn(chart.draw_series(std::iter::once(Rectangle::new(
            [(xlo, yhi), (xhi, ylo)],
            BLACK.stroke_width(1),
        ))))?;
        let rect = Rect { xlo, xhi, ylo, yhi };
        let pen = Pen::new(&chart, rect, canvas.format);
        for (k, path) in plot.paths.iter().enumerate() {
            let colour = path_colour(k);
            let points: Vec<(f64, f64)> = path.points.iter().map(|x| (x[i], x[j])).collect();
            draw_path(
                &mut chart,
                &pen,
                &points,
                colour,
                rect,
                (xhi - xlo, yhi - ylo),
                &path.label,
                true,
            )?;
        }
        draw_markers(&mut chart, plot.paths, rect, |x, _| (x[i], x[j]), true)?;
        if !plot.paths.is_empty() {
            let drawn_points = plot
                .paths
                .iter()
                .flat_map(|p| p.points.iter().map(|x| (x[i], x[j])));
            legend(&mut chart, quiet_corner(drawn_points, rect))?;
        }
        colour_bar(
            &bar,
            scale.as_ref(),
            pry.start - area.get_base_pixel().1,
            ph as i32,
        )
    }
}

/// The error of a picture that would be blank: f finite at none of its
/// `samples`.
fn blank(samples: usize) -> Error {
    Error::new(
        ErrorKind::Usage,
        format!(
            "f is not finite anywhere in the range drawn (at none of {samples} points): \
             the picture would be blank"
        ),
    )
    .with_hint("draw a range where f is defined")
}

/// A tick label on an axis `span` long: rounding noise next to zero
/// (`-5.6e-17` for a tick computed as a sum of steps) reads as 0, and a
/// narrow range far from zero gets the digits that tell its ticks apart
/// (eleven ticks at most, so never closer than a fiftieth of the span).
fn tick(v: f64, span: f64) -> String {
    tick_label(if v.abs() < 1e-9 * span { 0.0 } else { v }, span / 50.0)
}

/// How many tick labels the axes of `area` hold without running
/// together, at most plotters' default of eleven: on the horizontal axis each needs
/// about its characters' width in the 16-pixel font (9 pixels each) and a
/// gap, so `--size 450x350` draws fewer than eleven ("-0.80.60.40.2"
/// otherwise); on the vertical one a line's height and a gap each.
fn label_counts<DB: DrawingBackend, X, Y>(
    area: &DrawingArea<DB, plotters::coord::cartesian::Cartesian2d<X, Y>>,
    (xlo, xhi): (f64, f64),
) -> (usize, usize)
where
    X: plotters::coord::ranged1d::Ranged,
    Y: plotters::coord::ranged1d::Ranged,
{
    let (width, height) = area.dim_in_pixel();
    let span = xhi - xlo;
    let widest = [xlo, xhi, xlo + 0.45 * span]
        .iter()
        .map(|&v| tick(v, span).chars().count())
        .max()
        .unwrap_or(1);
    let x = width as usize / (9 * widest + 16);
    let y = height as usize / 28;
    (x.clamp(2, 11), y.clamp(2, 11))
}

/// The note for a line where f is not finite at some of its `samples`
/// (`exp(x)` past 709.8): the line just ends there, which reads as the
/// range's end unless said. None where f is finite at every sample.
fn not_finite_note(samples: &[(f64, f64)], var: &str) -> Option<String> {
    let bad: Vec<&(f64, f64)> = samples.iter().filter(|s| !s.1.is_finite()).collect();
    let (first, last) = (bad.first()?, bad.last()?);
    let what = if bad.iter().all(|s| s.1.is_nan()) {
        "undefined (NaN)"
    } else if bad.iter().all(|s| s.1.is_infinite()) {
        "infinite"
    } else {
        "not finite"
    };
    let extent = if bad.len() == 1 {
        format!("at {var} = {}", label(first.0))
    } else {
        format!(
            "at {} of the {} points from {var} = {} to {}",
            bad.len(),
            samples.len(),
            label(first.0),
            label(last.0)
        )
    };
    Some(format!("f is {what} {extent}: not drawn"))
}

/// The colour bar: each band with the value at its lower edge.
fn colour_bar<DB: DrawingBackend>(
    bar: &DrawingArea<DB, Shift>,
    scale: Option<&Scale>,
    top: i32,
    height: i32,
) -> Result<()> {
    let Some(scale) = scale else {
        let style = TextStyle::from((FONT, 15).into_font());
        return drawn(bar.draw_text("f not finite", &style, (4, top)));
    };
    let (x0, x1) = (8, 30);
    let n = scale.bands as i32;
    for b in 0..n {
        let y1 = top + height - b * height / n;
        let y0 = top + height - (b + 1) * height / n;
        drawn(bar.draw(&Rectangle::new(
            [(x0, y0), (x1, y1)],
            scale.colour(b as usize).filled(),
        )))?;
    }
    drawn(bar.draw(&Rectangle::new(
        [(x0, top), (x1, top + height)],
        BLACK.stroke_width(1),
    )))?;
    let style = TextStyle::from((FONT, 15).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    // Every boundary if there is room for it, else every other one.
    let step = if height / n >= 22 { 1 } else { 2 };
    for b in (0..=n).step_by(step as usize) {
        let y = top + height - b * height / n;
        let value = scale.value_at(b as f64 / n as f64);
        drawn(bar.draw(&PathElement::new([(x1, y), (x1 + 4, y)], BLACK)))?;
        drawn(bar.draw_text(&label(value), &style, (x1 + 7, y)))?;
    }
    let caption = if scale.log.is_some() {
        "f (log scale)"
    } else {
        "f"
    };
    let above = TextStyle::from((FONT, 15).into_font()).pos(Pos::new(HPos::Left, VPos::Bottom));
    drawn(bar.draw_text(caption, &above, (x0, top - 12)))
}

/// Rectangles of equal band covering a grid of `nx × ny` cells: runs along
/// each row, merged with the run just below when it spans the same cells.
/// Each is `(x0, y0, x1, y1, band)` in cells, ends exclusive; cells with no
/// band (not finite) are left out.
fn runs(bands: &[Option<usize>], nx: usize, ny: usize) -> Vec<(usize, usize, usize, usize, usize)> {
    let mut done: Vec<(usize, usize, usize, usize, usize)> = Vec::new();
    // Runs of the previous row still open: index into `done`.
    let mut open: Vec<usize> = Vec::new();
    for r in 0..ny {
        let row = &bands[r * nx..(r + 1) * nx];
        let mut next_open = Vec::new();
        let mut c = 0;
        while c < nx {
            let Some(b) = row[c] else {
                c += 1;
                continue;
            };
            let start = c;
            while c < nx && row[c] == Some(b) {
                c += 1;
            }
            let extend = open
                .iter()
                .copied()
                .find(|&k| done[k].0 == start && done[k].2 == c && done[k].4 == b);
            match extend {
                Some(k) => {
                    done[k].3 = r + 1;
                    next_open.push(k);
                }
                None => {
                    done.push((start, r, c, r + 1, b));
                    next_open.push(done.len() - 1);
                }
            }
        }
        open = next_open;
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders `f` over [-1, 1]² to a PNG and decodes it.
    fn rendered(f: fn(f64, f64) -> f64) -> (usize, Vec<u8>) {
        let mut objective =
            crate::objective::FnObjective::new(2, move |x: &[f64], g: &mut [f64]| {
                g.fill(0.0);
                f(x[0], x[1])
            });
        let vars = ["x".to_string(), "y".to_string()];
        let plot = FunctionPlot {
            title: "t".into(),
            vars: &vars,
            axes: Axes::Two(0, 1),
            ranges: vec![(-1.0, 1.0), (-1.0, 1.0)],
            at: vec![0.0, 0.0],
            paths: &[],
        };
        let canvas = Canvas::new(Format::Png, (400, 300));
        let bytes = render_function(&mut objective, &plot, canvas).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (400, 300));
        (400, buf)
    }

    #[test]
    fn maps_are_dark_at_the_minimum_and_blank_where_f_is_not_finite() {
        let brightness = |buf: &[u8], w: usize, x: usize, y: usize| {
            let i = 3 * (y * w + x);
            buf[i] as u32 + buf[i + 1] as u32 + buf[i + 2] as u32
        };
        // The plot area of a 400x300 picture surely covers (140, 170) and
        // (180, 170), left and right of its centre line.
        let (w, slope) = rendered(|x, _| x);
        assert!(brightness(&slope, w, 140, 170) < brightness(&slope, w, 180, 170));
        let (w, half) = rendered(|x, _| if x < 0.0 { f64::NAN } else { x });
        assert_eq!(brightness(&half, w, 140, 170), 3 * 255, "NaN is blank");
        assert!(brightness(&half, w, 200, 170) < 3 * 255);
    }

    #[test]
    fn runs_cover_every_finite_cell_once() {
        let grid = [
            Some(0),
            Some(0),
            Some(1),
            None,
            Some(0),
            Some(0),
            Some(1),
            Some(1),
            Some(2),
            Some(0),
            Some(1),
            Some(1),
        ];
        let rects = runs(&grid, 4, 3);
        let mut covered = [None; 12];
        for &(x0, y0, x1, y1, b) in &rects {
            for r in y0..y1 {
                for c in x0..x1 {
                    assert!(covered[r * 4 + c].is_none(), "cell {r},{c} twice");
                    covered[r * 4 + c] = Some(b);
                }
            }
        }
        assert_eq!(covered, grid);
        // The first two rows share their leading run of zeros.
        assert!(rects.contains(&(0, 0, 2, 2, 0)), "{rects:?}");
    }
}
