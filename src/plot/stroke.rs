//! Anti-aliased strokes for bitmaps.
//!
//! plotters' bitmap backend draws a line wider than one pixel by filling
//! the polygon around it, with no anti-aliasing: a gentle curve shows
//! stair-steps. Worse, where a polyline turns back on itself within a
//! pixel (the converged end of an L-BFGS path), the inner corner of that
//! polygon is the intersection of two nearly parallel edges, which can lie
//! anywhere: a thin spike shot out of the frame across the picture.
//!
//! So PNG pictures draw their curves and paths here instead, from the
//! distance to the line: a pixel whose centre lies at distance `d` from the
//! polyline is covered `clamp(width/2 + 1/2 − d, 0, 1)`, the area of a
//! one-pixel box under the stroke's edge. Each pixel takes its largest
//! coverage over the polyline's segments (so joints are not drawn twice)
//! and is blended with the picture beneath. Only pixels inside the plotting
//! box are drawn, so nothing leaves the frame. SVG needs none of this: a
//! viewer anti-aliases its own polylines.

use std::collections::HashMap;
use std::ops::Range;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::drawn;
use crate::error::Result;

/// A plotting box: its data ranges (on linear axes) and its size in pixels.
#[derive(Copy, Clone, Debug)]
pub(crate) struct PixelBox {
    x: (f64, f64),
    y: (f64, f64),
    width: i32,
    height: i32,
}

impl PixelBox {
    /// The box spanning `x` × `y` in data drawn over `pixels` (a plotting
    /// area's pixel range, as plotters reports it).
    pub(crate) fn new(x: (f64, f64), y: (f64, f64), pixels: (Range<i32>, Range<i32>)) -> PixelBox {
        PixelBox {
            x,
            y,
            width: pixels.0.end - pixels.0.start,
            height: pixels.1.end - pixels.1.start,
        }
    }

    /// Where the data point `p` falls, in pixels from the box's top left
    /// corner: plotters puts the ends of each axis on its first and last
    /// pixel, whose centres are half a pixel in.
    fn pixel(&self, (x, y): (f64, f64)) -> (f64, f64) {
        let tx = (x - self.x.0) / (self.x.1 - self.x.0);
        let ty = (y - self.y.0) / (self.y.1 - self.y.0);
        (
            (self.width - 1) as f64 * tx + 0.5,
            (self.height - 1) as f64 * (1.0 - ty) + 0.5,
        )
    }
}

/// Draws each polyline of `lines` (in data coordinates) `width` pixels wide
/// in `colour` (whose alpha is kept) on `area`, the plotting area of the
/// chart with its coordinates stripped to pixels.
pub(crate) fn stroke<DB: DrawingBackend, C: Color>(
    area: &DrawingArea<DB, Shift>,
    frame: &PixelBox,
    lines: &[Vec<(f64, f64)>],
    colour: &C,
    width: f64,
) -> Result<()> {
    let mut cover: HashMap<(i32, i32), f64> = HashMap::new();
    for line in lines {
        let pixels: Vec<(f64, f64)> = line.iter().map(|&p| frame.pixel(p)).collect();
        match pixels.as_slice() {
            [] => {}
            [p] => segment(&mut cover, *p, *p, width / 2.0, frame),
            _ => {
                for pair in pixels.windows(2) {
                    segment(&mut cover, pair[0], pair[1], width / 2.0, frame);
                }
            }
        }
    }
    // Pixels are drawn once each, so their order does not change the
    // picture; sorting keeps it out of the hash map's hands all the same.
    let mut cover: Vec<((i32, i32), f64)> = cover.into_iter().collect();
    cover.sort_by_key(|&((x, y), _)| (y, x));
    let RGBAColor(r, g, b, alpha) = colour.to_rgba();
    for ((x, y), c) in cover {
        drawn(area.draw_pixel((x, y), &RGBAColor(r, g, b, alpha * c)))?;
    }
    Ok(())
}

/// Adds the coverage of the segment `a`–`b` (pixels, half-width `half`)
/// to `cover`, row by row: in each row only the pixels near the part of the
/// segment within reach of that row are measured, so a long segment costs
/// its length times its width, not its bounding box.
fn segment(
    cover: &mut HashMap<(i32, i32), f64>,
    a: (f64, f64),
    b: (f64, f64),
    half: f64,
    frame: &PixelBox,
) {
    if !(a.0.is_finite() && a.1.is_finite() && b.0.is_finite() && b.1.is_finite()) {
        return;
    }
    let reach = half + 1.0;
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let top = (a.1.min(b.1) - reach).floor().max(0.0) as i32;
    let bottom = (a.1.max(b.1) + reach).ceil().min((frame.height - 1) as f64) as i32;
    for row in top..=bottom {
        let y = row as f64 + 0.5;
        // The part of the segment within `reach` of this row, as t in [0, 1].
        let (t0, t1) = if dy.abs() < 1e-12 {
            (0.0, 1.0)
        } else {
            let (u, v) = ((y - reach - a.1) / dy, (y + reach - a.1) / dy);
            (u.min(v).max(0.0), u.max(v).min(1.0))
        };
        if t0 > t1 {
            continue;
        }
        let (x0, x1) = (a.0 + t0 * dx, a.0 + t1 * dx);
        let left = (x0.min(x1) - reach).floor().max(0.0) as i32;
        let right = (x0.max(x1) + reach).ceil().min((frame.width - 1) as f64) as i32;
        for col in left..=right {
            let d = distance((col as f64 + 0.5, y), a, b);
            let c = (half + 0.5 - d).clamp(0.0, 1.0);
            if c > 0.0 {
                let slot = cover.entry((col, row)).or_insert(0.0);
                *slot = slot.max(c);
            }
        }
    }
}

/// The distance from `p` to the segment `a`–`b`.
fn distance(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (a.0 + t * dx, a.1 + t * dy);
    ((p.0 - qx).powi(2) + (p.1 - qy).powi(2)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covered(a: (f64, f64), b: (f64, f64), half: f64) -> HashMap<(i32, i32), f64> {
        let frame = PixelBox::new((0.0, 100.0), (0.0, 100.0), (0..101, 0..101));
        let mut cover = HashMap::new();
        segment(&mut cover, a, b, half, &frame);
        cover
    }

    #[test]
    fn a_stroke_is_solid_inside_and_soft_at_its_edges() {
        // A horizontal line along y = 10.5 (a row's centre), 2 pixels wide.
        let cover = covered((10.0, 10.5), (60.0, 10.5), 1.0);
        assert_eq!(cover.get(&(30, 10)), Some(&1.0));
        assert_eq!(cover.get(&(30, 11)), Some(&0.5));
        assert_eq!(cover.get(&(30, 9)), Some(&0.5));
        assert_eq!(cover.get(&(30, 12)), None);
        // A diagonal one leaves partly covered pixels beside it.
        let cover = covered((10.0, 10.0), (60.0, 40.0), 1.0);
        let soft = cover.values().filter(|&&c| c > 0.05 && c < 0.95).count();
        assert!(soft > 50, "{soft} soft pixels");
    }

    #[test]
    fn strokes_stay_in_the_box_and_skip_what_is_not_finite() {
        let cover = covered((-50.0, 50.0), (500.0, 50.0), 2.0);
        assert!(
            cover
                .keys()
                .all(|&(x, y)| (0..101).contains(&x) && (0..101).contains(&y))
        );
        assert!(covered((0.0, 0.0), (f64::NAN, 1.0), 1.0).is_empty());
        // Far outside: nothing, and no time spent on it.
        assert!(covered((1e300, 1e300), (2e300, 2e300), 1.0).is_empty());
    }

    #[test]
    fn pixels_follow_the_axes() {
        let frame = PixelBox::new((-1.0, 1.0), (0.0, 10.0), (5..105, 20..70));
        assert_eq!(frame.pixel((-1.0, 10.0)), (0.5, 0.5));
        assert_eq!(frame.pixel((1.0, 0.0)), (99.5, 49.5));
    }
}
