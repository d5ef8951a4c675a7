//! Finite-difference gradients: the estimates exact gradients are compared
//! with, and a gradient source for when no exact one is wanted.
//!
//! Step sizes balance truncation error against rounding error for a
//! function evaluated to about machine precision `ε`, scaled by the size of
//! the coordinate so that large coordinates get proportionally large steps:
//!
//! | scheme     | step `h`                  | error      | evaluations |
//! |------------|---------------------------|------------|-------------|
//! | forward    | `√ε · max(1, |xᵢ|)`        | O(h)       | n + 1       |
//! | backward   | `√ε · max(1, |xᵢ|)`        | O(h)       | n + 1       |
//! | central    | `∛ε · max(1, |xᵢ|)`        | O(h²)      | 2n          |
//! | Richardson | `ε^(1/5) · max(1, |xᵢ|)`   | O(h⁴)      | 4n          |
//!
//! Why these exponents: with a step `h`, a scheme of order `p` has a
//! truncation error of about `C·hᵖ` (`C` a higher derivative of f), and
//! the subtraction `f(x+h) − f(x−h)` loses about `ε·|f|/h` to rounding. The
//! sum is smallest near `h = ε^(1/(p+1))` when `C` and `|f|` are of the
//! same size, which is all that can be assumed without knowing f: `p = 1`
//! gives `√ε ≈ 1.5e-8`, `p = 2` gives `∛ε ≈ 6.1e-6` and `p = 4` gives
//! `ε^(1/5) ≈ 7.4e-4`, with total errors of about `√ε`, `ε^(2/3)` and
//! `ε^(4/5)` relative to the scale of f. The `max(1, |xᵢ|)` keeps steps
//! from vanishing near zero and relative for large coordinates.
//!
//! Richardson extrapolation combines central differences with steps `h`
//! and `h/2` as `(4·D(h/2) − D(h))/3`, cancelling the `h²` error term.
//! Each step is rounded so that `xᵢ + h` is exactly representable, which
//! removes one source of rounding error.
//!
//! [`along`] estimates the derivatives of several outputs along one
//! coordinate at once, for checks that compare a whole gradient or Hessian
//! row: central differences, Richardson extrapolation with steps `h, h/2`,
//! and again with `h/2, h/4`. The last two differ by about the error of the
//! first (its `h⁴` term shrinks 16-fold), which is how a check can bound
//! that error without knowing f's fifth derivative.
//!
//! `max(1, |xᵢ|)` is a guess at the length on which f varies, and a wrong
//! one where f varies faster: `sqrt(x^2 + 1e-20)` at `x = 1e-12` bends on
//! a length of `1e-10`, and every step above is far longer, so all three
//! estimates are equally wrong and agree with each other.
//! [`along_at_scale`] takes the length instead; the derivative check
//! (`check/ladder.rs`) tries shorter ones when the usual one decides
//! nothing.

/// `ε^(1/2)`, `ε^(1/3)` and `ε^(1/5)`, correctly rounded. Written out, not
/// computed with `powf`: its last bit differs between builds (a test build
/// and `cargo build` were seen to give `ε^(1/5)` one ulp apart), and with
/// it every difference at a small `xᵢ`, where `xᵢ + h` keeps every bit of
/// `h`.
const SQRT_EPS: f64 = 1.490_116_119_384_765_6e-8;
const CBRT_EPS: f64 = 6.055_454_452_393_343e-6;
const FIFTH_ROOT_EPS: f64 = 7.400_959_797_414_05e-4;

/// A finite-difference scheme.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Scheme {
    /// `(f(x + h) - f(x)) / h`.
    Forward,
    /// `(f(x) - f(x - h)) / h`.
    Backward,
    /// `(f(x + h) - f(x - h)) / 2h`.
    Central,
    /// Two central differences, at `h` and `h/2`, extrapolated.
    Richardson,
}

impl Scheme {
    /// Every scheme.
    pub const ALL: [Scheme; 4] = [
        Scheme::Forward,
        Scheme::Backward,
        Scheme::Central,
        Scheme::Richardson,
    ];

    /// The scheme's name (`"forward"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Forward => "forward",
            Scheme::Backward => "backward",
            Scheme::Central => "central",
            Scheme::Richardson => "richardson",
        }
    }

    /// The step for a coordinate of value `x`.
    pub fn step(self, x: f64) -> f64 {
        self.step_at_scale(x, x.abs().max(1.0))
    }

    /// The step for a coordinate of value `x` when f varies on the length
    /// `scale` (the table's `max(1, |xᵢ|)`): a derivative check that finds
    /// the usual step too coarse tries smaller scales.
    pub fn step_at_scale(self, x: f64, scale: f64) -> f64 {
        let root = match self {
            Scheme::Forward | Scheme::Backward => SQRT_EPS,
            Scheme::Central => CBRT_EPS,
            Scheme::Richardson => FIFTH_ROOT_EPS,
        };
        let h = root * scale;
        // Make x + h exact, so that the step taken is the step divided by.
        (x + h) - x
    }

    /// Function evaluations for a gradient of `n` variables, given f(x).
    pub fn evaluations(self, n: usize) -> usize {
        match self {
            Scheme::Forward | Scheme::Backward => n,
            Scheme::Central => 2 * n,
            Scheme::Richardson => 4 * n,
        }
    }
}

/// Estimates the gradient of `f` at `x` into `out`, given `fx = f(x)`
/// (used by the one-sided schemes). `x` is restored before returning.
pub fn gradient(
    f: &mut dyn FnMut(&[f64]) -> f64,
    x: &mut [f64],
    fx: f64,
    scheme: Scheme,
    out: &mut [f64],
) {
    let n = x.len();
    partials(f, x, fx, scheme, 0..n, out);
}

/// Estimates the partials of `f` at `x` with respect to the variables
/// `indices`, the k-th into `out[k]`, as [`gradient`] does for all of them.
pub fn partials(
    f: &mut dyn FnMut(&[f64]) -> f64,
    x: &mut [f64],
    fx: f64,
    scheme: Scheme,
    indices: impl IntoIterator<Item = usize>,
    out: &mut [f64],
) {
    for (k, i) in indices.into_iter().enumerate() {
        let xi = x[i];
        let mut at = |x: &mut [f64], offset: f64| {
            x[i] = xi + offset;
            let v = f(x);
            x[i] = xi;
            v
        };
        let h = scheme.step(xi);
        out[k] = match scheme {
            Scheme::Forward => (at(x, h) - fx) / h,
            Scheme::Backward => (fx - at(x, -h)) / h,
            Scheme::Central => (at(x, h) - at(x, -h)) / (2.0 * h),
            Scheme::Richardson => {
                let wide = (at(x, h) - at(x, -h)) / (2.0 * h);
                let half = h / 2.0;
                let narrow = (at(x, half) - at(x, -half)) / h;
                extrapolate(wide, narrow)
            }
        };
    }
}

/// `(4·D(h/2) − D(h))/3`: the Richardson combination of central
/// differences with steps `h` (`wide`) and `h/2` (`narrow`).
fn extrapolate(wide: f64, narrow: f64) -> f64 {
    (4.0 * narrow - wide) / 3.0
}

/// Derivatives of every output of a vector function along one coordinate.
#[derive(Clone, Debug, PartialEq)]
pub struct Along {
    /// Central differences with the [`Scheme::Central`] step.
    pub central: Vec<f64>,
    /// Richardson extrapolation with the [`Scheme::Richardson`] step `h`
    /// (and `h/2`).
    pub richardson: Vec<f64>,
    /// Richardson extrapolation with steps `h/2` and `h/4`.
    pub richardson_half: Vec<f64>,
    /// The central step.
    pub h_central: f64,
    /// The Richardson step `h` (its stencil also uses `h/2`).
    pub h_richardson: f64,
    /// The largest magnitude of each output over the stencil: the scale of
    /// the rounding error in the differences.
    pub scale: Vec<f64>,
}

/// Estimates `∂outₖ/∂xᵢ` for every output `k` of `f` (which writes
/// `n_out` values) at `x`, by central differences and by Richardson
/// extrapolation with two steps: eight calls of `f`. `x` is restored
/// before returning.
pub fn along(
    f: &mut dyn FnMut(&[f64], &mut [f64]),
    x: &mut [f64],
    i: usize,
    n_out: usize,
) -> Along {
    let scale = x[i].abs().max(1.0);
    along_at_scale(f, x, i, n_out, scale)
}

/// [`along`] with the steps of [`Scheme::step_at_scale`]: for a function
/// that varies on a length shorter than `max(1, |xᵢ|)`.
pub fn along_at_scale(
    f: &mut dyn FnMut(&[f64], &mut [f64]),
    x: &mut [f64],
    i: usize,
    n_out: usize,
    scale: f64,
) -> Along {
    let xi = x[i];
    let hc = Scheme::Central.step_at_scale(xi, scale);
    let hr = Scheme::Richardson.step_at_scale(xi, scale);
    let offsets = [hc, -hc, hr, -hr, hr / 2.0, -hr / 2.0, hr / 4.0, -hr / 4.0];
    let mut values = vec![0.0; offsets.len() * n_out];
    for (k, offset) in offsets.iter().enumerate() {
        x[i] = xi + offset;
        f(x, &mut values[k * n_out..(k + 1) * n_out]);
    }
    x[i] = xi;
    let at = |k: usize, j: usize| values[k * n_out + j];
    let mut out = Along {
        central: Vec::with_capacity(n_out),
        richardson: Vec::with_capacity(n_out),
        richardson_half: Vec::with_capacity(n_out),
        h_central: hc,
        h_richardson: hr,
        scale: Vec::with_capacity(n_out),
    };
    for j in 0..n_out {
        out.central.push((at(0, j) - at(1, j)) / (2.0 * hc));
        let wide = (at(2, j) - at(3, j)) / (2.0 * hr);
        let narrow = (at(4, j) - at(5, j)) / hr;
        let narrower = (at(6, j) - at(7, j)) / (hr / 2.0);
        out.richardson.push(extrapolate(wide, narrow));
        out.richardson_half.push(extrapolate(narrow, narrower));
        out.scale.push(
            (0..offsets.len())
                .map(|k| at(k, j).abs())
                .fold(0.0, f64::max),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate(scheme: Scheme, f: fn(&[f64]) -> f64, x: &[f64]) -> Vec<f64> {
        let mut x = x.to_vec();
        let mut out = vec![0.0; x.len()];
        let fx = f(&x);
        let mut call = |x: &[f64]| f(x);
        gradient(&mut call, &mut x, fx, scheme, &mut out);
        out
    }

    #[test]
    fn higher_order_schemes_are_more_accurate() {
        // d/dx sin(x)*exp(y) at (0.7, 0.3) is cos(0.7)*exp(0.3).
        let f = |x: &[f64]| x[0].sin() * x[1].exp();
        let exact = 0.7f64.cos() * 0.3f64.exp();
        let err = |s| (estimate(s, f, &[0.7, 0.3])[0] - exact).abs();
        assert!(err(Scheme::Forward) < 1e-7, "{}", err(Scheme::Forward));
        assert!(err(Scheme::Backward) < 1e-7);
        assert!(err(Scheme::Central) < 1e-9);
        assert!(err(Scheme::Richardson) < 1e-11);
        assert!(err(Scheme::Central) < err(Scheme::Forward));
    }

    #[test]
    fn the_roots_of_epsilon_are_the_powers_they_stand_for() {
        // Within the last bit of powf, whichever libm computes it.
        for (root, power) in [(SQRT_EPS, 2.0), (CBRT_EPS, 3.0), (FIFTH_ROOT_EPS, 5.0)] {
            let back = root.powf(power);
            assert!((back / f64::EPSILON - 1.0).abs() < 1e-14, "{root}");
        }
        assert_eq!(SQRT_EPS, 2f64.powi(-26));
    }

    #[test]
    fn steps_scale_with_the_coordinate_and_are_exact() {
        let small = Scheme::Central.step(0.5);
        let large = Scheme::Central.step(1e6);
        assert!((large / small - 1e6).abs() / 1e6 < 1e-3);
        let x = 1e6 + 0.1;
        let h = Scheme::Forward.step(x);
        assert_eq!((x + h) - x, h);
    }

    #[test]
    fn along_matches_the_scalar_schemes_for_each_output() {
        // Outputs sin(x)*exp(y) and x*y, along x at (0.7, 0.3).
        let mut f = |x: &[f64], out: &mut [f64]| {
            out[0] = x[0].sin() * x[1].exp();
            out[1] = x[0] * x[1];
        };
        let mut x = vec![0.7, 0.3];
        let a = along(&mut f, &mut x, 0, 2);
        assert_eq!(x, [0.7, 0.3]);
        let s = |x: &[f64]| x[0].sin() * x[1].exp();
        assert_eq!(a.central[0], estimate(Scheme::Central, s, &[0.7, 0.3])[0]);
        assert_eq!(
            a.richardson[0],
            estimate(Scheme::Richardson, s, &[0.7, 0.3])[0]
        );
        assert!((a.richardson[1] - 0.3).abs() < 1e-12);
        // Halving the steps shrinks the error about 16-fold, where it is
        // above rounding: sin(8x) has a large fifth derivative.
        let mut g = |x: &[f64], out: &mut [f64]| out[0] = (8.0 * x[0]).sin();
        let b = along(&mut g, &mut [0.3], 0, 1);
        let exact = 8.0 * 2.4f64.cos();
        let (e1, e2) = (b.richardson[0] - exact, b.richardson_half[0] - exact);
        assert!(e1.abs() > 1e-12 && e2.abs() < e1.abs() / 4.0, "{e1} {e2}");
        assert_eq!(a.h_richardson, Scheme::Richardson.step(0.7));
        // The scale is the largest |output| over the stencil, just above
        // f at x since sin*exp grows along x here.
        let center = 0.7f64.sin() * 0.3f64.exp();
        assert!(a.scale[0] > center && a.scale[0] < center * 1.001);
    }

    #[test]
    fn the_point_is_restored() {
        let mut x = vec![1.0, 2.0];
        let mut out = vec![0.0; 2];
        let mut f = |x: &[f64]| x[0] * x[1];
        gradient(&mut f, &mut x, 2.0, Scheme::Richardson, &mut out);
        assert_eq!(x, [1.0, 2.0]);
        assert!((out[0] - 2.0).abs() < 1e-10 && (out[1] - 1.0).abs() < 1e-10);
    }
}
