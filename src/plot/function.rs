//! The function and the paths over it: a line for one variable, a filled
//! contour map with a colour bar for two, and for more a two-dimensional
//! slice through a point, with the paths projected onto it.

use std::cell::RefCell;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::colour::{LINE, PATHS, Scale};
use super::stroke::{PixelBox, stroke};
use super::{Canvas, Drawer, FONT, Format, drawn, encode, label};
use crate::error::Result;
use crate::objective::Objective;

/// The variables on the picture's axes, by index.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Axes {
    /// The function against one variable.
    One(usize),
    /// A map over two variables: (horizontal, vertical).
    Two(usize, usize),
}

/// A descent path: the iterates in every variable, with their values.
#[derive(Clone, Debug, Default)]
pub struct Path {
    /// The legend's name for it (a method); empty for a lone path.
    pub label: String,
    /// The iterates.
    pub points: Vec<Vec<f64>>,
    /// f at each iterate.
    pub values: Vec<f64>,
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

/// How far a path may run from its start, in units of the start's largest
/// coordinate (at least 1), and still be followed by the frame. A run that
/// diverges goes on to 1e56 and 1e169 within a few steps: a frame holding
/// those shows nothing of the function (f overflows over all of it) and
/// squeezes every other path into one pixel. Beyond this reach a path is
/// cut at the frame's edge, so it still shows which way it left.
const REACH: f64 = 1000.0;

/// The range covering variable `var` along every path (starts included),
/// with a margin of a tenth on each side (a path that stays put gets a unit
/// range around it), so that the frame holds every path. Points more than
/// 1000 times the start's scale away from their start are left out (a run
/// that diverged). `None` if no path has a finite coordinate there.
pub fn path_range(paths: &[Path], var: usize) -> Option<(f64, f64)> {
    let (lo, hi) = paths
        .iter()
        .flat_map(|p| within_reach(p).map(move |x| x[var]))
        .filter(|v| v.is_finite())
        .fold(None, |acc: Option<(f64, f64)>, v| {
            Some(acc.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
        })?;
    let pad = if hi > lo {
        0.1 * (hi - lo)
    } else {
        0.5 * lo.abs().max(1.0)
    };
    Some((lo - pad, hi + pad))
}

/// The points of `path` within [`REACH`] of its start (in every variable).
fn within_reach(path: &Path) -> impl Iterator<Item = &Vec<f64>> {
    let start = path.points.first();
    let scale = start.map_or(1.0, |s| {
        s.iter()
            .filter(|v| v.is_finite())
            .fold(1.0f64, |m, v| m.max(v.abs()))
    });
    path.points.iter().filter(move |x| {
        start.is_some_and(|s| {
            x.iter()
                .zip(s)
                .all(|(v, s0)| !v.is_finite() || !s0.is_finite() || (v - s0).abs() <= REACH * scale)
        })
    })
}

/// Draws the function and the paths over it; returns the encoded picture.
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
        let area = titled(root, &self.plot.title, &self.slice_note())?;
        match self.plot.axes {
            Axes::One(i) => self.draw_line(&area, canvas, i),
            Axes::Two(i, j) => self.draw_map(&area, canvas, i, j),
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

    fn draw_line<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        canvas: Canvas,
        i: usize,
    ) -> Result<()> {
        let plot = self.plot;
        let (xlo, xhi) = plot.ranges[0];
        let mut point = plot.at.clone();
        let samples: Vec<(f64, f64)> = (0..=LINE_SAMPLES)
            .map(|k| {
                let x = xlo + (xhi - xlo) * k as f64 / LINE_SAMPLES as f64;
                point[i] = x;
                (x, self.value(&mut point))
            })
            .collect();
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
        drawn(
            chart
                .configure_mesh()
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
        drawn(
            chart
                .configure_mesh()
                .disable_mesh()
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

/// The title (and a smaller note under it) at the top; returns the rest.
fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    note: &str,
) -> Result<DrawingArea<DB, Shift>> {
    let (w, _) = root.dim_in_pixel();
    let centre = TextStyle::from((FONT, 22).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    drawn(root.draw_text(title, &centre, (w as i32 / 2, 12)))?;
    let mut top = 46;
    if !note.is_empty() {
        let small = TextStyle::from((FONT, 16).into_font())
            .color(&RGBColor(80, 80, 80))
            .pos(Pos::new(HPos::Center, VPos::Top));
        drawn(root.draw_text(note, &small, (w as i32 / 2, 40)))?;
        top = 66;
    }
    Ok(root.margin(top, 0, 0, 0))
}

/// A tick label: rounding noise next to zero (`-5.6e-17` for a tick
/// computed as a sum of steps) reads as 0.
fn tick(v: f64, span: f64) -> String {
    label(if v.abs() < 1e-9 * span { 0.0 } else { v })
}

/// The plotting box in data coordinates.
#[derive(Copy, Clone)]
struct Rect {
    xlo: f64,
    xhi: f64,
    ylo: f64,
    yhi: f64,
}

impl Rect {
    fn contains(&self, (x, y): (f64, f64)) -> bool {
        (self.xlo..=self.xhi).contains(&x) && (self.ylo..=self.yhi).contains(&y)
    }

    /// The part of the segment `p`–`q` inside the box (Liang–Barsky), so
    /// that a path leaving the box is cut at its edge.
    fn clip(&self, p: (f64, f64), q: (f64, f64)) -> Option<((f64, f64), (f64, f64))> {
        if !(p.0.is_finite() && p.1.is_finite() && q.0.is_finite() && q.1.is_finite()) {
            return None;
        }
        let (dx, dy) = (q.0 - p.0, q.1 - p.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for (den, num) in [
            (-dx, p.0 - self.xlo),
            (dx, self.xhi - p.0),
            (-dy, p.1 - self.ylo),
            (dy, self.yhi - p.1),
        ] {
            if den == 0.0 {
                if num < 0.0 {
                    return None;
                }
            } else {
                let t = num / den;
                if den < 0.0 {
                    t0 = t0.max(t);
                } else {
                    t1 = t1.min(t);
                }
            }
        }
        (t0 <= t1).then_some((
            (p.0 + t0 * dx, p.1 + t0 * dy),
            (p.0 + t1 * dx, p.1 + t1 * dy),
        ))
    }
}

/// Path `k`'s colour: the same as its curve in the convergence chart.
fn path_colour(k: usize) -> RGBColor {
    PATHS[k % PATHS.len()]
}

/// The outline that keeps a path visible over any colour.
fn halo(colour: RGBColor) -> RGBColor {
    if colour.0 as u32 + colour.1 as u32 + colour.2 as u32 > 600 {
        BLACK
    } else {
        WHITE
    }
}

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// How lines are drawn: by plotters (an SVG viewer anti-aliases them), or
/// here, anti-aliased, on a bitmap (see [`super::stroke`]).
enum Pen<DB: DrawingBackend> {
    Vector,
    Bitmap {
        area: DrawingArea<DB, Shift>,
        pixels: PixelBox,
    },
}

impl<DB: DrawingBackend> Pen<DB> {
    /// The pen for `chart`'s plotting box `rect` in `format`.
    fn new(chart: &Chart<'_, DB>, rect: Rect, format: Format) -> Pen<DB> {
        match format {
            Format::Svg => Pen::Vector,
            Format::Png => Pen::Bitmap {
                area: chart.plotting_area().strip_coord_spec(),
                pixels: PixelBox::new(
                    (rect.xlo, rect.xhi),
                    (rect.ylo, rect.yhi),
                    chart.plotting_area().get_pixel_range(),
                ),
            },
        }
    }

    /// Draws the polylines `lines`, `width` pixels wide.
    fn lines<'a, C: Color>(
        &self,
        chart: &mut Chart<'a, DB>,
        lines: &[Vec<(f64, f64)>],
        colour: C,
        width: u32,
    ) -> Result<()>
    where
        DB: 'a,
    {
        match self {
            Pen::Vector => {
                for line in lines {
                    drawn(chart.draw_series(std::iter::once(PathElement::new(
                        line.clone(),
                        colour.stroke_width(width),
                    ))))?;
                }
                Ok(())
            }
            Pen::Bitmap { area, pixels } => stroke(area, pixels, lines, &colour, f64::from(width)),
        }
    }
}

/// Adds `name` to the legend, drawn by `glyph`, without drawing anything
/// on the chart.
fn legend_entry<'a, DB, E>(
    chart: &mut Chart<'a, DB>,
    name: &str,
    glyph: impl Fn((i32, i32)) -> E + 'a,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    E: IntoDynElement<'a, DB, (i32, i32)>,
{
    drawn(chart.draw_series(std::iter::empty::<Circle<(f64, f64), i32>>()))?
        .label(name)
        .legend(glyph);
    Ok(())
}

/// A path as dots joined by a line, clipped to the box. Dots closer than
/// about a pixel to the last one drawn are left out (a converging path piles
/// thousands on one spot). A named path gets a legend entry: its line
/// ending in a disc of its colour, as its end is marked.
#[allow(clippy::too_many_arguments)]
fn draw_path<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    pen: &Pen<DB>,
    points: &[(f64, f64)],
    colour: RGBColor,
    rect: Rect,
    (width, height): (f64, f64),
    name: &str,
    halo_line: bool,
) -> Result<()> {
    let (min_dx, min_dy) = (width / 1500.0, height / 1500.0);
    let mut kept: Vec<(f64, f64)> = Vec::with_capacity(points.len().min(4096));
    for (k, &p) in points.iter().enumerate() {
        let last = k + 1 == points.len();
        match kept.last() {
            Some(&q) if !last && (p.0 - q.0).abs() < min_dx && (p.1 - q.1).abs() < min_dy => {}
            _ => kept.push(p),
        }
    }
    // Runs of consecutive segments inside the box become one polyline.
    let mut lines: Vec<Vec<(f64, f64)>> = Vec::new();
    for pair in kept.windows(2) {
        let Some((a, b)) = rect.clip(pair[0], pair[1]) else {
            continue;
        };
        match lines.last_mut() {
            Some(line) if line.last() == Some(&a) => line.push(b),
            _ => lines.push(vec![a, b]),
        }
    }
    if halo_line {
        pen.lines(chart, &lines, halo(colour).mix(0.55), 4)?;
    }
    pen.lines(chart, &lines, colour, 2)?;
    if !name.is_empty() {
        legend_entry(chart, name, move |(x, y)| {
            EmptyElement::at((x, y))
                + PathElement::new([(0, 0), (16, 0)], colour.stroke_width(3))
                + Circle::new((17, 0), 5, colour.filled())
        })?;
    }
    let edge = halo(colour);
    drawn(
        chart.draw_series(kept.iter().filter(|p| rect.contains(**p)).map(|&p| {
            EmptyElement::at(p)
                + Circle::new((0, 0), 4, colour.filled())
                + Circle::new((0, 0), 4, edge.stroke_width(1))
        })),
    )?;
    Ok(())
}

/// The start (a ring) and end (a disc, in its path's colour) of every
/// path; starts shared by several paths are drawn once. The legend's "end"
/// shows a disc of each path's colour; when every path has its own legend
/// entry, which ends in its disc, it is left out.
fn draw_markers<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    paths: &[Path],
    rect: Rect,
    project: impl Fn(&[f64], f64) -> (f64, f64),
    on_map: bool,
) -> Result<()> {
    let mut starts: Vec<(f64, f64)> = Vec::new();
    for (k, path) in paths.iter().enumerate() {
        let (Some(first), Some(last)) = (path.points.first(), path.points.last()) else {
            continue;
        };
        let colour = path_colour(k);
        let edge = halo(colour);
        let start = project(first, path.values.first().copied().unwrap_or(f64::NAN));
        let end = project(last, path.values.last().copied().unwrap_or(f64::NAN));
        if rect.contains(end) {
            drawn(chart.draw_series(std::iter::once(
                EmptyElement::at(end)
                    + Circle::new((0, 0), 9, colour.filled())
                    + Circle::new((0, 0), 9, edge.stroke_width(2)),
            )))?;
        }
        if rect.contains(start) && !starts.contains(&start) {
            starts.push(start);
        }
    }
    let start_colour = if on_map { WHITE } else { BLACK };
    let ring = |p: (f64, f64)| {
        EmptyElement::at(p)
            + Circle::new((0, 0), 9, start_colour.stroke_width(3))
            + Circle::new((0, 0), 12, halo(start_colour).mix(0.6).stroke_width(1))
    };
    if !starts.is_empty() {
        let series = drawn(chart.draw_series(starts.into_iter().map(ring)))?;
        series.label("start").legend(move |(x, y)| {
            EmptyElement::at((x + 12, y)) + Circle::new((0, 0), 6, start_colour.stroke_width(3))
        });
    }
    let ended: Vec<RGBColor> = (0..paths.len())
        .filter(|&k| !paths[k].points.is_empty())
        .map(path_colour)
        .collect();
    let all_named = paths.len() > 1 && paths.iter().all(|p| !p.label.is_empty());
    if !ended.is_empty() && !all_named {
        // One disc for one path; for several, the first three colours
        // side by side.
        let discs: Vec<RGBColor> = ended.into_iter().take(3).collect();
        let (offsets, radius): ([i32; 3], i32) = match discs.len() {
            1 => ([0, 0, 0], 6),
            2 => ([-4, 4, 4], 4),
            _ => ([-8, 0, 8], 4),
        };
        let colours = [0, 1, 2].map(|k| discs[k.min(discs.len() - 1)]);
        legend_entry(chart, "end", move |(x, y)| {
            let disc = |k: usize| Circle::new((offsets[k], 0), radius, colours[k].filled());
            EmptyElement::at((x + 12, y)) + disc(0) + disc(1) + disc(2)
        })?;
    }
    Ok(())
}

/// The corner of the box with the fewest of `points` near it, for the
/// legend (upper right on a tie), so that it hides as little as possible.
fn quiet_corner(points: impl Iterator<Item = (f64, f64)>, rect: Rect) -> SeriesLabelPosition {
    let corners = [
        SeriesLabelPosition::UpperRight,
        SeriesLabelPosition::UpperLeft,
        SeriesLabelPosition::LowerRight,
        SeriesLabelPosition::LowerLeft,
    ];
    let mut counts = [0usize; 4];
    let (w, h) = (rect.xhi - rect.xlo, rect.yhi - rect.ylo);
    for (x, y) in points.filter(|p| rect.contains(*p)) {
        let right = x > rect.xhi - 0.35 * w;
        let left = x < rect.xlo + 0.35 * w;
        let upper = y > rect.yhi - 0.35 * h;
        let lower = y < rect.ylo + 0.35 * h;
        for (k, near) in [upper && right, upper && left, lower && right, lower && left]
            .into_iter()
            .enumerate()
        {
            counts[k] += near as usize;
        }
    }
    let best = (0..4).min_by_key(|&k| (counts[k], k)).unwrap_or(0);
    corners[best].clone()
}

fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    corner: SeriesLabelPosition,
) -> Result<()> {
    drawn(
        chart
            .configure_series_labels()
            .position(corner)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(120, 120, 120))
            .label_font((FONT, 16))
            .draw(),
    )
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

    #[test]
    fn legends_go_where_nothing_is_drawn() {
        let r = Rect {
            xlo: 0.0,
            xhi: 1.0,
            ylo: 0.0,
            yhi: 1.0,
        };
        let corner = |pts: &[(f64, f64)]| format!("{:?}", quiet_corner(pts.iter().copied(), r));
        assert_eq!(corner(&[]), "UpperRight");
        assert_eq!(corner(&[(0.9, 0.9), (0.5, 0.5)]), "UpperLeft");
        assert_eq!(corner(&[(0.9, 0.9), (0.1, 0.9)]), "LowerRight");
        // A rising line leaves the upper left free; a falling one the upper right.
        let rising: Vec<(f64, f64)> = (0..=20)
            .map(|k| (k as f64 / 20.0, k as f64 / 20.0))
            .collect();
        assert_eq!(corner(&rising), "UpperLeft");
        let falling: Vec<(f64, f64)> = rising.iter().map(|&(x, y)| (x, 1.0 - y)).collect();
        assert_eq!(corner(&falling), "UpperRight");
        // Points outside the box do not count.
        assert_eq!(corner(&[(5.0, 5.0)]), "UpperRight");
    }

    #[test]
    fn clipping_cuts_segments_at_the_edge() {
        let r = Rect {
            xlo: 0.0,
            xhi: 1.0,
            ylo: 0.0,
            yhi: 1.0,
        };
        assert_eq!(
            r.clip((0.5, 0.5), (0.6, 0.6)),
            Some(((0.5, 0.5), (0.6, 0.6)))
        );
        assert_eq!(
            r.clip((0.5, 0.5), (1.5, 0.5)),
            Some(((0.5, 0.5), (1.0, 0.5)))
        );
        assert_eq!(
            r.clip((-1.0, 0.5), (2.0, 0.5)),
            Some(((0.0, 0.5), (1.0, 0.5)))
        );
        assert_eq!(r.clip((2.0, 2.0), (3.0, 3.0)), None);
        assert_eq!(r.clip((0.5, 0.5), (f64::NAN, 0.5)), None);
    }

    #[test]
    fn path_ranges_have_a_margin() {
        let p = Path {
            label: String::new(),
            points: vec![vec![0.0, 5.0], vec![10.0, 5.0], vec![f64::NAN, 5.0]],
            values: vec![1.0, 0.0, f64::NAN],
        };
        assert_eq!(path_range(std::slice::from_ref(&p), 0), Some((-1.0, 11.0)));
        assert_eq!(path_range(std::slice::from_ref(&p), 1), Some((2.5, 7.5)));
        assert_eq!(path_range(&[], 0), None);
    }
}
