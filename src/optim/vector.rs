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

/// What [`step_pass`] measures of a step.
pub(super) struct StepSums {
    /// `s·s`, the squared length of the step.
    pub step2: f64,
    /// `s·previous`, to see whether the step turned back.
    pub turn: f64,
    /// The largest |xᵢ| at the new point (NaN coordinates left out).
    pub largest_x: f64,
}

/// `s = x - last` written to `s`, with what the stopping tests read of it
/// ([`StepSums`]): for a method that forms the step anyway (L-BFGS's
/// correction pair), this replaces [`measure`]'s own pass over the
/// variables. `step2` runs in [`dot`]'s lanes and order, so it is
/// `dot(s, s)` to the bit (and what [`measure`] finds, whose lanes are the
/// same). `turn` is [`dot`] itself, after the pass: summed in the same
/// pass, its lanes and `step2`'s took 12 instructions a variable where the
/// two passes take 8 (callgrind; the compiler paired the two sums in its
/// vector registers, and spilled).
pub(super) fn step_pass(x: &[f64], last: &[f64], previous: &[f64], s: &mut [f64]) -> StepSums {
    let (step2, largest_x) = difference_pass(x, last, s);
    StepSums {
        step2,
        turn: dot(s, previous),
        largest_x,
    }
}

/// `d = a - last` written to `d`, with `d·d` (in [`dot`]'s lanes and
/// order: the same bits) and the largest |aᵢ| (NaN left out), in one pass:
/// the work [`step_pass`] and [`gradient_pass`] share.
fn difference_pass(a: &[f64], last: &[f64], d: &mut [f64]) -> (f64, f64) {
    let n = a.len();
    let (last, d) = (&last[..n], &mut d[..n]);
    let split = n - n % LANES;
    let (mut squares, mut largest_lanes) = ([0.0; LANES], [0.0f64; LANES]);
    for ((a, last), d) in (a[..split].chunks_exact(LANES))
        .zip(last[..split].chunks_exact(LANES))
        .zip(d[..split].chunks_exact_mut(LANES))
    {
        for j in 0..LANES {
            let diff = a[j] - last[j];
            d[j] = diff;
            squares[j] += diff * diff;
            largest_lanes[j] = larger(largest_lanes[j], a[j].abs());
        }
    }
    let (mut squares_tail, mut largest) = (0.0, 0.0f64);
    for i in split..n {
        let diff = a[i] - last[i];
        d[i] = diff;
        squares_tail += diff * diff;
        largest = larger(largest, a[i].abs());
    }
    (
        squares.iter().sum::<f64>() + squares_tail,
        largest_lanes.iter().fold(largest, |m, &a| larger(m, a)),
    )
}

/// `max(m, a)` for an `m` that is not NaN, leaving a NaN `a` out: what
/// `f64::max` gives then, in one instruction (`maxpd`) where `f64::max`
/// takes several to handle a NaN `m`.
#[inline(always)]
fn larger(m: f64, a: f64) -> f64 {
    if a > m { a } else { m }
}

/// What [`gradient_pass`] measures of the new gradient.
pub(super) struct GradientSums {
    /// The largest |gᵢ|, NaN if a component is NaN (as
    /// [`projected_norm`] without bounds): finite exactly when every
    /// component is.
    pub largest_g: f64,
    /// `y·y`.
    pub yy: f64,
}

/// `y = grad - last` written to `y`, with the gradient's largest component
/// and `y·y` (in [`dot`]'s lanes and order: the same bits), in one pass.
///
/// The lanes' maxima leave NaN out, which takes one instruction where
/// keeping it takes several: a finite `y·y` says that every `yᵢ`, so every
/// `gᵢ`, is finite (a `gᵢ` that is not makes `yᵢ` infinite or NaN whatever
/// `last` holds), and then there was no NaN to keep; otherwise the
/// largest component is taken again, NaN kept.
pub(super) fn gradient_pass(grad: &[f64], last: &[f64], y: &mut [f64]) -> GradientSums {
    let (yy, largest_g) = difference_pass(grad, last, y);
    let largest_g = match yy.is_finite() {
        true => largest_g,
        false => largest_magnitude(grad),
    };
    GradientSums { largest_g, yy }
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

    /// Awkward values: signs, a tail after the lanes, zeros.
    fn wobbly(n: usize, seed: u64) -> Vec<f64> {
        (0..n as u64)
            .map(|i| {
                let h = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed;
                (h % 2001) as f64 / 7.0 - 140.0
            })
            .collect()
    }

    #[test]
    fn the_pair_passes_measure_what_measure_and_dot_do_to_the_bit() {
        let settings = Settings::default();
        for n in [0, 1, 7, 8, 19, 1000] {
            let (x, last, g, g_last) = (wobbly(n, 1), wobbly(n, 2), wobbly(n, 3), wobbly(n, 4));
            for previous in [wobbly(n, 5), vec![0.0; n]] {
                let (mut s, mut y) = (vec![f64::NAN; n], vec![f64::NAN; n]);
                let step = step_pass(&x, &last, &previous, &mut s);
                let gradient = gradient_pass(&g, &g_last, &mut y);
                let mut previous_copy = previous.clone();
                let (m, reversed) = measure(&settings, &x, &last, 1.0, &g, &mut previous_copy);
                assert_eq!(previous_copy, s, "n = {n}");
                let bits = |v: f64| v.to_bits();
                assert_eq!(bits(step.step2), bits(dot(&s, &s)));
                assert_eq!(bits(step.step2.sqrt()), bits(m.step));
                assert_eq!(step.turn, dot(&s, &previous));
                let previous2 = dot(&previous, &previous);
                let turned = step.turn < -0.5 * (step.step2 * previous2).sqrt();
                assert_eq!(turned, reversed);
                assert_eq!(bits(step.largest_x), bits(m.largest_x));
                assert_eq!(bits(gradient.largest_g), bits(m.grad_norm));
                assert_eq!(bits(gradient.yy), bits(dot(&y, &y)));
                let y_plain: Vec<f64> = g.iter().zip(&g_last).map(|(a, b)| a - b).collect();
                assert_eq!(y, y_plain);
            }
        }
        // A gradient that is not finite shows in its largest component.
        let mut g = wobbly(19, 3);
        for (at, bad) in [(3, f64::INFINITY), (17, f64::NAN)] {
            g[at] = bad;
            let gradient = gradient_pass(&g, &wobbly(19, 4), &mut [0.0; 19]);
            assert!(!gradient.largest_g.is_finite());
        }
    }

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
