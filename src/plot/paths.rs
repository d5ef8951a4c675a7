//! The descent paths drawn over a function: the frame that holds them,
//! their lines (clipped to the plotting box, anti-aliased in PNG), the
//! start and end markers, and the legend placed where nothing is drawn.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::colour::PATHS;
use super::stroke::{PixelBox, stroke};
use super::{FONT, Format, drawn};
use crate::error::Result;

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

/// How far a path may run from its start, in units of the start's largest
/// coordinate (at least 1), and still be followed by the frame. A run that
/// diverges goes on to 1e56 and 1e169 within a few steps: a frame holding
/// those shows nothing of the function (f overflows over all of it) and
/// squeezes every other path into one pixel. Beyond this reach a path is
/// cut at the frame's edge, so it still shows which way it left.
pub(super) const REACH: f64 = 1000.0;

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
pub(super) fn within_reach(path: &Path) -> impl Iterator<Item = &Vec<f64>> {
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

/// The plotting box in data coordinates.
#[derive(Copy, Clone)]
pub(super) struct Rect {
    pub(super) xlo: f64,
    pub(super) xhi: f64,
    pub(super) ylo: f64,
    pub(super) yhi: f64,
}

impl Rect {
    pub(super) fn contains(&self, (x, y): (f64, f64)) -> bool {
        (self.xlo..=self.xhi).contains(&x) && (self.ylo..=self.yhi).contains(&y)
    }

    /// The part of the segment `p`–`q` inside the box (Liang–Barsky), so
    /// that a path leaving the box is cut at its edge.
    pub(super) fn clip(&self, p: (f64, f64), q: (f64, f64)) -> Option<((f64, f64), (f64, f64))> {
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
pub(super) fn path_colour(k: usize) -> RGBColor {
    PATHS[k % PATHS.len()]
}

/// The outline that keeps a path visible over any colour.
pub(super) fn halo(colour: RGBColor) -> RGBColor {
    if colour.0 as u32 + colour.1 as u32 + colour.2 as u32 > 600 {
        BLACK
    } else {
        WHITE
    }
}

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// How lines are drawn: by plotters (an SVG viewer anti-aliases them), or
/// here, anti-aliased, on a bitmap (see [`super::stroke`]).
pub(super) enum Pen<DB: DrawingBackend> {
    Vector,
    Bitmap {
        area: DrawingArea<DB, Shift>,
        pixels: PixelBox,
    },
}

impl<DB: DrawingBackend> Pen<DB> {
    /// The pen for `chart`'s plotting box `rect` in `format`.
    pub(super) fn new(chart: &Chart<'_, DB>, rect: Rect, format: Format) -> Pen<DB> {
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
    pub(super) fn lines<'a, C: Color>(
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
pub(super) fn legend_entry<'a, DB, E>(
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
pub(super) fn draw_path<'a, DB: DrawingBackend + 'a>(
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
pub(super) fn draw_markers<'a, DB: DrawingBackend + 'a>(
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
pub(super) fn quiet_corner(
    points: impl Iterator<Item = (f64, f64)>,
    rect: Rect,
) -> SeriesLabelPosition {
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

pub(super) fn legend<'a, DB: DrawingBackend + 'a>(
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

#[cfg(test)]
mod tests {
    use super::*;

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
