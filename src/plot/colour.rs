//! Colours: the map from function values to bands of a perceptually even
//! dark-to-light scale (viridis), and the palettes for paths and curves.

use plotters::style::RGBColor;

/// Viridis at nine evenly spaced stops, dark (low) to light (high): the
/// minimum of a function reads as the darkest region.
const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
];

/// The colour at `t` in `[0, 1]` (clamped), interpolated between stops.
pub fn viridis(t: f64) -> RGBColor {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let pos = t * (VIRIDIS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(VIRIDIS.len() - 2);
    let w = pos - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |p: u8, q: u8| (p as f64 + (q as f64 - p as f64) * w).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Colours for paths and curves, the same in the map and the convergence
/// chart of one run: saturated, readable on white and, with a halo, on
/// every viridis band (red first, as in the seed tutorials).
pub const PATHS: [RGBColor; 7] = [
    RGBColor(228, 26, 28),
    RGBColor(0, 0, 0),
    RGBColor(255, 127, 0),
    RGBColor(30, 160, 255),
    RGBColor(220, 0, 220),
    RGBColor(140, 80, 30),
    RGBColor(247, 129, 191),
];

/// The function's line in one-variable pictures.
pub const LINE: RGBColor = RGBColor(31, 119, 180);

/// How values map to colour bands: linearly, or through `ln(1 + (f -
/// low)/scale)` when most of the box is far below its highest values (a
/// narrow valley under steep walls, as in Rosenbrock's function), so that
/// the low region gets most of the bands.
#[derive(Clone, Debug, PartialEq)]
pub struct Scale {
    pub low: f64,
    pub high: f64,
    /// `Some(scale)` for the logarithmic map.
    pub log: Option<f64>,
    pub bands: usize,
}

impl Scale {
    /// A scale for the finite values among `values`; `None` if there are none.
    pub fn fit(values: &[f64], bands: usize) -> Option<Scale> {
        let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if finite.is_empty() {
            return None;
        }
        finite.sort_by(f64::total_cmp);
        let quantile = |q: f64| finite[((finite.len() - 1) as f64 * q).round() as usize];
        let low = finite[0];
        let mut high = finite[finite.len() - 1];
        // A pole (1/x near 0) would squash every other value into one band.
        let p99 = quantile(0.99);
        if high - low > 20.0 * (p99 - low) && p99 > low {
            high = p99;
        }
        if high <= low {
            // A constant: one band, with a range around it for the labels.
            let pad = low.abs().max(1.0) * 0.5;
            return Some(Scale {
                low: low - pad,
                high: low + pad,
                log: None,
                bands,
            });
        }
        let median = quantile(0.5);
        let skewed = median - low < 0.15 * (high - low);
        let log = skewed.then(|| ((median - low) / 20.0).max((high - low) * 1e-6));
        Some(Scale {
            low,
            high,
            log,
            bands,
        })
    }

    /// Where `f` falls on the scale, 0 at `low` to 1 at `high` (unclamped).
    pub fn position(&self, f: f64) -> f64 {
        match self.log {
            None => (f - self.low) / (self.high - self.low),
            Some(s) => {
                let d = (f - self.low).max(0.0);
                (d / s).ln_1p() / ((self.high - self.low) / s).ln_1p()
            }
        }
    }

    /// The value at position `t` (the inverse of [`Scale::position`]).
    pub fn value_at(&self, t: f64) -> f64 {
        match self.log {
            None => self.low + t * (self.high - self.low),
            Some(s) => self.low + s * (t * ((self.high - self.low) / s).ln_1p()).exp_m1(),
        }
    }

    /// The band `f` falls in; `None` for a value that is not finite.
    pub fn band(&self, f: f64) -> Option<usize> {
        if !f.is_finite() {
            return None;
        }
        let t = self.position(f);
        Some(((t * self.bands as f64).floor().max(0.0) as usize).min(self.bands - 1))
    }

    /// The colour of band `b`.
    pub fn colour(&self, b: usize) -> RGBColor {
        viridis((b as f64 + 0.5) / self.bands as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brightness(c: RGBColor) -> u32 {
        c.0 as u32 + c.1 as u32 + c.2 as u32
    }

    #[test]
    fn viridis_runs_dark_to_light() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(2.0), viridis(1.0));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        let mut last = 0;
        for k in 0..=20 {
            let b = brightness(viridis(k as f64 / 20.0));
            assert!(b >= last, "brightness falls at {k}");
            last = b;
        }
    }

    #[test]
    fn an_even_bowl_gets_a_linear_scale() {
        let values: Vec<f64> = (0..41)
            .flat_map(|i| (0..41).map(move |j| (i as f64 / 10.0 - 2.0, j as f64 / 10.0 - 2.0)))
            .map(|(x, y)| x * x + y * y)
            .collect();
        let s = Scale::fit(&values, 10).unwrap();
        assert_eq!((s.low, s.high, s.log), (0.0, 8.0, None));
        assert_eq!(s.band(0.0), Some(0));
        assert_eq!(s.band(4.0), Some(5));
        assert_eq!(s.band(8.0), Some(9));
        assert_eq!(s.band(f64::NAN), None);
        assert_eq!(s.band(f64::INFINITY), None);
    }

    #[test]
    fn a_narrow_valley_gets_a_log_scale_that_inverts() {
        let values: Vec<f64> = (0..81)
            .flat_map(|i| (0..81).map(move |j| (i as f64 / 20.0 - 2.0, j as f64 / 20.0 - 1.0)))
            .map(|(x, y)| (1.0 - x) * (1.0 - x) + 100.0 * (y - x * x) * (y - x * x))
            .collect();
        let s = Scale::fit(&values, 12).unwrap();
        assert!(s.log.is_some(), "{s:?}");
        for t in [0.0, 0.1, 0.5, 0.9, 1.0] {
            assert!((s.position(s.value_at(t)) - t).abs() < 1e-12);
        }
        // Most bands go to the lowest fifth of the values.
        assert!(s.value_at(0.5) < s.low + 0.2 * (s.high - s.low));
    }

    #[test]
    fn poles_and_constants_and_nothing() {
        let mut values: Vec<f64> = (1..1000).map(|i| i as f64 / 1000.0).collect();
        values.push(1e12);
        let s = Scale::fit(&values, 10).unwrap();
        assert!(s.high < 2.0, "{s:?}");
        assert_eq!(s.band(1e12), Some(9));
        let c = Scale::fit(&[3.0, 3.0, f64::NAN], 10).unwrap();
        assert!(c.low < 3.0 && c.high > 3.0);
        assert_eq!(Scale::fit(&[f64::NAN, f64::INFINITY], 10), None);
    }
}
