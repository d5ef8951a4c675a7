//! L-BFGS on Rosenbrock written by hand: the baseline for the library's
//! `lbfgs`. Plain loops over slices, the gradient called directly (so rustc
//! can inline it), and the same arithmetic as `src/optim/lbfgs.rs` and the
//! strong Wolfe search in `src/optim/line_search.rs`, in the same order, so
//! that both runs visit the same iterates.

use super::rosenbrock;

/// Corrections kept, and the line search's constants: the library's defaults.
const MEMORY: usize = 10;
const C1: f64 = 1e-4;
const C2: f64 = 0.9;
const MAX_TRIALS: usize = 60;

/// Where a run ended.
pub struct Run {
    pub x: Vec<f64>,
    pub f: f64,
    /// Accepted steps.
    pub iterations: usize,
    /// Value+gradient evaluations, the start included.
    pub evaluations: usize,
}

/// Minimises Rosenbrock from `start` with L-BFGS (first trial step 1), for
/// `max_iter` iterations or until the line search finds no lower point.
pub fn lbfgs(start: &[f64], max_iter: usize) -> Run {
    let n = start.len();
    let mut x = start.to_vec();
    let mut g = vec![0.0; n];
    let mut f = rosenbrock(&x, &mut g);
    let mut evaluations = 1;
    // The last `len` pairs s = x_{k+1} - x_k, y = g_{k+1} - g_k, a ring
    // with the oldest at `oldest`.
    let mut s = vec![vec![0.0; n]; MEMORY];
    let mut y = vec![vec![0.0; n]; MEMORY];
    let mut rho = [0.0; MEMORY];
    let mut alpha = [0.0; MEMORY];
    let (mut oldest, mut len) = (0, 0);
    let mut d = vec![0.0; n];
    // The line search's trial point; once a step is accepted it is swapped
    // with `x`, `g` and so holds the previous iterate.
    let mut xt = vec![0.0; n];
    let mut gt = vec![0.0; n];
    let mut iterations = 0;
    while iterations < max_iter {
        // d = -H g by the two-loop recursion (computed on -g directly:
        // negation is exact, so this is bit for bit -(H g)).
        for (dj, gj) in d.iter_mut().zip(&g) {
            *dj = -gj;
        }
        for k in (0..len).rev() {
            let i = (oldest + k) % MEMORY;
            alpha[i] = rho[i] * dot(&s[i], &d);
            axpy(&mut d, -alpha[i], &y[i]);
        }
        let t0 = if len > 0 {
            let newest = (oldest + len - 1) % MEMORY;
            let gamma = 1.0 / (rho[newest] * dot(&y[newest], &y[newest]));
            d.iter_mut().for_each(|v| *v *= gamma);
            1.0
        } else {
            // No curvature yet: a first step of length about 1.
            1.0 / dot(&d, &d).sqrt().max(1.0)
        };
        for k in 0..len {
            let i = (oldest + k) % MEMORY;
            let beta = rho[i] * dot(&y[i], &d);
            axpy(&mut d, alpha[i] - beta, &s[i]);
        }

        let Some(ft) = wolfe(&x, f, &g, &d, t0, &mut xt, &mut gt, &mut evaluations) else {
            if len == 0 {
                break;
            }
            // Forget the curvature and try steepest descent from here.
            len = 0;
            continue;
        };
        std::mem::swap(&mut x, &mut xt);
        std::mem::swap(&mut g, &mut gt);
        f = ft;
        iterations += 1;

        // The new pair, kept only with positive curvature.
        for (sj, xj) in xt.iter_mut().zip(&x) {
            *sj = xj - *sj;
        }
        for (yj, gj) in gt.iter_mut().zip(&g) {
            *yj = gj - *yj;
        }
        let sy = dot(&xt, &gt);
        let threshold = 1e-12 * dot(&xt, &xt).sqrt() * dot(&gt, &gt).sqrt();
        if sy > threshold {
            let slot = (oldest + len) % MEMORY;
            std::mem::swap(&mut s[slot], &mut xt);
            std::mem::swap(&mut y[slot], &mut gt);
            rho[slot] = 1.0 / sy;
            if len < MEMORY {
                len += 1;
            } else {
                oldest = (oldest + 1) % MEMORY;
            }
        }
    }
    Run {
        x,
        f,
        iterations,
        evaluations,
    }
}

/// A step along `d` from `x` satisfying the strong Wolfe conditions,
/// starting from `t0` (Nocedal and Wright, Algorithms 3.5 and 3.6): the
/// accepted value, with the point and its gradient in `xt`, `gt`.
#[allow(clippy::too_many_arguments)]
fn wolfe(
    x: &[f64],
    f0: f64,
    g: &[f64],
    d: &[f64],
    t0: f64,
    xt: &mut [f64],
    gt: &mut [f64],
    evaluations: &mut usize,
) -> Option<f64> {
    let slope0 = dot(g, d);
    if slope0.is_nan() || slope0 >= 0.0 {
        return None;
    }
    let mut eval = |t: f64, xt: &mut [f64], gt: &mut [f64]| {
        for ((p, xj), dj) in xt.iter_mut().zip(x).zip(d) {
            *p = xj + t * dj;
        }
        *evaluations += 1;
        let ft = rosenbrock(xt, gt);
        (ft, dot(gt, d))
    };
    let armijo = |t: f64, ft: f64| ft <= f0 + C1 * t * slope0;
    let curvature = |slope: f64| slope.abs() <= -C2 * slope0;

    // Grow the step until [lo, hi] brackets an acceptable one.
    let (mut t_prev, mut f_prev, mut slope_prev) = (0.0, f0, slope0);
    let mut t = t0;
    let mut bracket = None;
    for i in 0..MAX_TRIALS {
        let (ft, slope) = eval(t, xt, gt);
        if !ft.is_finite() || !armijo(t, ft) || (i > 0 && ft >= f_prev) {
            bracket = Some((t_prev, f_prev, slope_prev, t, ft));
            break;
        }
        if curvature(slope) {
            return Some(ft);
        }
        if slope >= 0.0 {
            bracket = Some((t, ft, slope, t_prev, f_prev));
            break;
        }
        (t_prev, f_prev, slope_prev) = (t, ft, slope);
        t *= 2.0;
    }
    let (mut lo, mut f_lo, mut slope_lo, mut hi, mut f_hi) = bracket?;

    // Zoom, keeping `lo` the best step so far with sufficient decrease.
    for _ in 0..MAX_TRIALS {
        let t = interpolate(lo, f_lo, slope_lo, hi, f_hi);
        let (ft, slope) = eval(t, xt, gt);
        if !ft.is_finite() || !armijo(t, ft) || ft >= f_lo {
            (hi, f_hi) = (t, ft);
        } else {
            if curvature(slope) {
                return Some(ft);
            }
            if slope * (hi - lo) >= 0.0 {
                (hi, f_hi) = (lo, f_lo);
            }
            (lo, f_lo, slope_lo) = (t, ft, slope);
        }
        if (hi - lo).abs() <= 1e-16 * lo.abs().max(1e-300) {
            break;
        }
    }
    // The bracket collapsed: settle for the best step if it lowers f.
    (lo > 0.0 && f_lo < f0).then(|| eval(lo, xt, gt).0)
}

/// The minimiser of the quadratic through (lo, f_lo) with slope `slope_lo`
/// and through (hi, f_hi), kept in the middle 80% of the bracket; the
/// midpoint when that quadratic has no minimum.
fn interpolate(lo: f64, f_lo: f64, slope_lo: f64, hi: f64, f_hi: f64) -> f64 {
    let (a, b) = if lo < hi { (lo, hi) } else { (hi, lo) };
    let width = b - a;
    let h = hi - lo;
    let curvature = (f_hi - f_lo - slope_lo * h) / (h * h);
    let t = lo - slope_lo / (2.0 * curvature);
    if f_hi.is_finite() && curvature > 0.0 && t.is_finite() {
        t.clamp(a + 0.1 * width, b - 0.1 * width)
    } else {
        0.5 * (a + b)
    }
}

/// `a · b` in eight interleaved partial sums, the order slope's own `dot`
/// uses, so that both runs take the same steps (one running sum would be
/// about three times slower here: each addition waits for the last).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let (pa, pb) = (a.chunks_exact(8), b.chunks_exact(8));
    let mut tail = 0.0;
    for (p, q) in pa.remainder().iter().zip(pb.remainder()) {
        tail += p * q;
    }
    let mut sums = [0.0; 8];
    for (p, q) in pa.zip(pb) {
        for j in 0..8 {
            sums[j] += p[j] * q[j];
        }
    }
    sums.iter().sum::<f64>() + tail
}

/// `v += a w`.
fn axpy(v: &mut [f64], a: f64, w: &[f64]) {
    for (vj, wj) in v.iter_mut().zip(w) {
        *vj += a * wj;
    }
}
