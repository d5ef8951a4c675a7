//! The vector work around each step: the measurements the stopping tests
//! read, norms and dot products, written so that the compiler keeps several
//! independent sums or maxima in flight (one running sum waits on the last
//! addition each time; at n = 1000 that was most of an L-BFGS iteration).

use super::Settings;

/// What the stopping tests need after a step, in one pass over the
/// variables: the step's length, the gradient's size, the largest
/// coordinate, whether everything is finite, and whether the step turned
/// back against the previous one (which it then replaces in `previous`).
///
/// The sums and maxima run in [`LANES`] interleaved lanes, as [`dot`]'s
/// do (four lanes, which would fit the registers better, took 20% more
/// instructions): with one running sum per quantity the pass waited on its
/// additions and was a fifth of an L-BFGS iteration at n = 1000. Without
/// bounds the gradient's size is taken in the same pass.
pub(super) fn measure(
    settings: &Settings,
    x: &[f64],
    last: &[f64],
    f: f64,
    grad: &[f64],
    previous: &mut [f64],
) -> (Measure, bool) {
    let n = x.len();
    let (last, grad, previous) = (&last[..n], &grad[..n], &mut previous[..n]);
    let mut lanes = Lanes::default();
    let split = n - n % LANES;
    for (((x, last), grad), previous) in (x[..split].chunks_exact(LANES))
        .zip(last[..split].chunks_exact(LANES))
        .zip(grad[..split].chunks_exact(LANES))
        .zip(previous[..split].chunks_exact_mut(LANES))
    {
        for j in 0..LANES {
            lanes.add(j, x[j], last[j], grad[j], &mut previous[j]);
        }
    }
    let mut tail = Lanes::default();
    for i in split..n {
        tail.add(0, x[i], last[i], grad[i], &mut previous[i]);
    }
    let (step2, dot, previous2) = (
        lanes.step2.iter().sum::<f64>() + tail.step2[0],
        lanes.dot.iter().sum::<f64>() + tail.dot[0],
        lanes.previous2.iter().sum::<f64>() + tail.previous2[0],
    );
    let grad_norm = match settings.constraints() {
        None => (lanes.grad.iter()).fold(tail.grad[0], |m, &a| larger_or_nan(m, a)),
        Some(_) => projected_norm(settings, x, grad),
    };
    // g - g is 0 for a finite g and NaN for an infinite or NaN one.
    let not_finite = lanes.not_finite.iter().sum::<f64>() + tail.not_finite[0];
    let measure = Measure {
        step: step2.sqrt(),
        grad_norm,
        largest_x: lanes
            .largest_x
            .iter()
            .fold(tail.largest_x[0], |m, &a| m.max(a)),
        finite: f.is_finite() && not_finite == 0.0,
    };
    (measure, dot < -0.5 * (step2 * previous2).sqrt())
}

/// [`measure`]'s running sums and maxima, one of each per lane.
#[derive(Default)]
struct Lanes {
    step2: [f64; LANES],
    dot: [f64; LANES],
    previous2: [f64; LANES],
    /// Sums of `g - g`: zero while every gradient component is finite.
    not_finite: [f64; LANES],
    /// The largest |xᵢ|, NaN left out (`f64::max`).
    largest_x: [f64; LANES],
    /// The largest |gᵢ|, NaN kept ([`larger_or_nan`]).
    grad: [f64; LANES],
}

impl Lanes {
    // `g - g` on purpose: 0 for a finite g, NaN otherwise.
    #[allow(clippy::eq_op)]
    #[inline(always)]
    fn add(&mut self, j: usize, x: f64, last: f64, g: f64, previous: &mut f64) {
        let s = x - last;
        self.step2[j] += s * s;
        self.dot[j] += s * *previous;
        self.previous2[j] += *previous * *previous;
        *previous = s;
        self.not_finite[j] += g - g;
        self.largest_x[j] = self.largest_x[j].max(x.abs());
        self.grad[j] = larger_or_nan(self.grad[j], g.abs());
    }
}

/// The length of the step from `last` to `x`, summed as [`measure`] does.
pub(super) fn distance(x: &[f64], last: &[f64]) -> f64 {
    let mut step2 = 0.0;
    for (a, b) in x.iter().zip(last) {
        let s = a - b;
        step2 += s * s;
    }
    step2.sqrt()
}

/// See [`measure`].
pub(super) struct Measure {
    pub step: f64,
    pub grad_norm: f64,
    /// The largest |xᵢ| (NaN coordinates left out).
    pub largest_x: f64,
    pub finite: bool,
}

/// The largest |xᵢ|, as [`measure`] finds it.
pub(super) fn largest(x: &[f64]) -> f64 {
    x.iter().fold(0.0, |m: f64, v| m.max(v.abs()))
}

pub(super) fn is_finite(f: f64, grad: &[f64]) -> bool {
    f.is_finite() && grad.iter().all(|g| g.is_finite())
}

/// The largest gradient component, leaving out components that push against
/// an active bound (there the gradient need not vanish). NaN if a
/// component is NaN.
pub(super) fn projected_norm(settings: &Settings, x: &[f64], grad: &[f64]) -> f64 {
    let Some(bounds) = settings.constraints() else {
        return largest_magnitude(grad);
    };
    let mut m = 0.0;
    for ((&xi, &g), &bound) in x.iter().zip(grad).zip(bounds) {
        if !held(xi, g, bound, 0.0) {
            m = larger_or_nan(m, g.abs());
        }
    }
    m
}

/// Whether a variable at `x` (within `epsilon` of a bound) is held there:
/// its gradient `g` pushes it against the bound. The projected gradient,
/// Newton's free set and the saddle test all leave such variables out.
pub(super) fn held(x: f64, g: f64, (lo, hi): (f64, f64), epsilon: f64) -> bool {
    (x <= lo + epsilon && g > 0.0) || (x >= hi - epsilon && g < 0.0)
}

/// `max(m, a)`, where a NaN wins and stays.
fn larger_or_nan(m: f64, a: f64) -> f64 {
    if a > m || a.is_nan() { a } else { m }
}

/// The largest `|v_i|` (NaN if any is NaN), in [`LANES`] running maxima
/// rather than one, so that each comparison need not wait for the last:
/// on every iteration this was a tenth of an L-BFGS step at n = 1000.
fn largest_magnitude(v: &[f64]) -> f64 {
    let chunks = v.chunks_exact(LANES);
    let mut m = chunks
        .remainder()
        .iter()
        .fold(0.0, |m, a| larger_or_nan(m, a.abs()));
    let mut lanes = [0.0; LANES];
    for c in chunks {
        for j in 0..LANES {
            lanes[j] = larger_or_nan(lanes[j], c[j].abs());
        }
    }
    for lane in lanes {
        m = larger_or_nan(m, lane);
    }
    m
}

/// Partial sums [`dot`] keeps.
const LANES: usize = 8;

/// `a · b`, in [`LANES`] interleaved partial sums. With one running sum
/// every addition waits for the one before (4 cycles), which made dot
/// products most of an L-BFGS iteration; independent sums keep the adders
/// busy and let the compiler use vector instructions.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (chunks_a, chunks_b) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f64 = (chunks_a.remainder().iter())
        .zip(chunks_b.remainder())
        .map(|(p, q)| p * q)
        .sum();
    let mut sums = [0.0; LANES];
    for (p, q) in chunks_a.zip(chunks_b) {
        for j in 0..LANES {
            sums[j] += p[j] * q[j];
        }
    }
    sums.iter().sum::<f64>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_magnitude_in_lanes_is_the_plain_maximum() {
        let v: Vec<f64> = (0..19).map(|i| ((i * 7) % 19) as f64 - 9.5).collect();
        let plain = v.iter().fold(0.0f64, |m, a| m.max(a.abs()));
        assert_eq!(largest_magnitude(&v), plain);
        for at in [0, 7, 8, 18] {
            let mut w = v.clone();
            w[at] = f64::NAN;
            assert!(largest_magnitude(&w).is_nan(), "NaN at {at}");
        }
        assert_eq!(largest_magnitude(&[]), 0.0);
        assert_eq!(largest_magnitude(&[f64::NEG_INFINITY, 1.0]), f64::INFINITY);
    }
}
