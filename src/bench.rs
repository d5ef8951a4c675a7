//! The `slope bench` harness: compile time by stage, the cost of a call of
//! each gradient source, and the accuracy of finite differences.
//!
//! Timing: each figure is the median of 7 timed batches, after a warm-up
//! that also chooses the batch size (doubled until one batch takes 3 ms),
//! so that clock resolution and one-off stalls do not show.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};
use crate::fd::{self, Scheme};
use crate::formula::{Formula, Options};

/// Timed batches per figure (the median is reported).
const BATCHES: usize = 7;
/// The shortest batch: long enough for the clock's resolution.
const MIN_BATCH: Duration = Duration::from_millis(3);

/// The most variables whose every partial is differenced. A difference
/// gradient costs `n + 1` (or `2n`) values, each of cost `n` for a formula
/// over arrays, so at `n = 10⁶` one would take hours: past this, the
/// partials of [`FD_SAMPLE`] variables spread evenly (the first and the
/// last among them) are differenced, their time scaled to `n` by the
/// number of values, and their errors reported.
pub const FD_ALL_VARS: usize = 1_000;
/// How many variables are differenced past [`FD_ALL_VARS`].
pub const FD_SAMPLE: usize = 100;

/// Compile times in milliseconds.
#[derive(Clone, Debug)]
pub struct CompileMs {
    /// Text to graph: parsing and lowering.
    pub parse: f64,
    /// The reverse sweep that builds the gradient.
    pub diff: f64,
    /// Native code for value and gradient.
    pub codegen: f64,
    /// All three.
    pub total: f64,
}

/// Nanoseconds per call of each way to get a value or a gradient.
#[derive(Clone, Debug)]
pub struct NsPerCall {
    /// The compiled value.
    pub value: f64,
    /// The compiled value and gradient.
    pub value_grad: f64,
    /// Value and gradient by the interpreter.
    pub interp_value_grad: f64,
    /// The gradient by forward differences of the compiled value (past
    /// [`FD_ALL_VARS`] variables, scaled from [`Report::fd_vars`] of them;
    /// 0 for a constant, which has no partials to difference).
    pub fd_forward: f64,
    /// The gradient by central differences of the compiled value (scaled
    /// alike; 0 for a constant).
    pub fd_central: f64,
}

/// What `bench::run` measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// The formula's variables (named when asked for).
    pub vars: std::sync::Arc<crate::VarNames>,
    /// The point every call was made at.
    pub point: Vec<f64>,
    /// Compile time by stage.
    pub compile_ms: CompileMs,
    /// The cost of each way to get a value or gradient.
    pub ns_per_call: NsPerCall,
    /// Value+gradient cost over value cost (the cheap-gradient ratio).
    pub grad_over_value: f64,
    /// Largest error of a finite-difference gradient component against the
    /// exact gradient: `[forward, central]`, over the partials differenced.
    pub fd_max_abs_error: [f64; 2],
    /// The variables whose partials were differenced: all of them up to
    /// [`FD_ALL_VARS`], [`FD_SAMPLE`] past that.
    pub fd_vars: usize,
}

/// Benchmarks `text` at `point` ([`default_point`] if `None`). `progress`
/// hears the name of each measurement as it starts.
pub fn run(
    text: &str,
    options: &Options,
    point: Option<&[(String, f64)]>,
    progress: &mut dyn FnMut(&str),
) -> Result<Report> {
    progress("compiling");
    let start = Instant::now();
    let lowered = Formula::lower(text, options)?;
    let parsed = Instant::now();
    let mut f = Formula::derive(text, lowered, &options.limits)?;
    f.bind_options(options)?;
    let derived = Instant::now();
    let mut outputs = vec![f.value()];
    outputs.extend_from_slice(f.gradient());
    let n = f.n_vars();
    let code = f.compile()?;
    let compiled = Instant::now();
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
    let compile_ms = CompileMs {
        parse: ms(start, parsed),
        diff: ms(parsed, derived),
        codegen: ms(derived, compiled),
        total: ms(start, compiled),
    };

    let x = match point {
        Some(assignments) => f.point(assignments)?,
        None => default_point(n),
    };
    let mut exact = vec![0.0; n + 1];
    code.write_value_grad(&x, &mut exact);
    if let Some(e) = f.diagnose(&outputs, &x) {
        let hint = "choose a point where the formula and its gradient are finite";
        return Err(Error::new(
            ErrorKind::NotFinite,
            format!("at the benchmark point, {}", e.message),
        )
        .with_hint(hint));
    }

    let interpreter = f.interpreter();
    let mut out = vec![0.0; n + 1];
    let mut xs = x.clone();
    let sample = differenced(n);
    let mut estimate = vec![0.0; sample.len()];

    progress("compiled value");
    let t_value = ns_per_call(|| {
        let mut v = [0.0];
        code.write_value(black_box(&x), &mut v);
        black_box(v);
    });
    progress("compiled value and gradient");
    let t_value_grad = ns_per_call(|| {
        code.write_value_grad(black_box(&x), &mut out);
        black_box(&out);
    });
    progress("interpreted value and gradient");
    let mut grad = vec![0.0; n];
    let t_interp = ns_per_call(|| {
        black_box(interpreter.value_grad(black_box(&x), &mut grad));
    });
    let mut value_at = |x: &[f64]| {
        let mut v = [0.0];
        code.write_value(x, &mut v);
        v[0]
    };
    // The time of the sample's differences, scaled to every variable by
    // the values computed (one more for the forward scheme's f(x)).
    let values = |scheme: Scheme, vars: usize| {
        scheme.evaluations(vars) + usize::from(scheme == Scheme::Forward)
    };
    let mut fd_time = |scheme: Scheme, estimate: &mut [f64]| {
        // A constant has no partials: no values to compute, and the
        // scaling below would divide 0 by 0 for central differences.
        if n == 0 {
            return 0.0;
        }
        let sampled = ns_per_call(|| {
            let fx = value_at(&xs);
            fd::partials(
                &mut value_at,
                &mut xs,
                fx,
                scheme,
                sample.iter().copied(),
                estimate,
            );
            black_box(&estimate);
        });
        sampled / values(scheme, sample.len()) as f64 * values(scheme, n) as f64
    };
    let exact_sampled: Vec<f64> = sample.iter().map(|&i| exact[1 + i]).collect();
    progress("forward differences");
    let t_forward = fd_time(Scheme::Forward, &mut estimate);
    let forward_error = max_abs_error(&estimate, &exact_sampled);
    progress("central differences");
    let t_central = fd_time(Scheme::Central, &mut estimate);
    let central_error = max_abs_error(&estimate, &exact_sampled);

    Ok(Report {
        vars: f.shared_vars(),
        point: x,
        compile_ms,
        ns_per_call: NsPerCall {
            value: t_value,
            value_grad: t_value_grad,
            interp_value_grad: t_interp,
            fd_forward: t_forward,
            fd_central: t_central,
        },
        grad_over_value: t_value_grad / t_value,
        fd_max_abs_error: [forward_error, central_error],
        fd_vars: sample.len(),
    })
}

/// The variables whose partials are differenced: all up to
/// [`FD_ALL_VARS`], else [`FD_SAMPLE`] spread evenly from the first to the
/// last.
fn differenced(n: usize) -> Vec<usize> {
    if n <= FD_ALL_VARS {
        return (0..n).collect();
    }
    (0..FD_SAMPLE)
        .map(|k| k * (n - 1) / (FD_SAMPLE - 1))
        .collect()
}

/// The default benchmark point: every variable between 0.4 and 0.6, no two
/// alike (a point with equal coordinates can make differences exact by
/// accident), the same in every run.
pub fn default_point(n: usize) -> Vec<f64> {
    const GOLDEN: f64 = 0.618_033_988_749_894_8;
    (1..=n)
        .map(|i| 0.4 + 0.2 * (i as f64 * GOLDEN).fract())
        .collect()
}

/// The largest absolute difference; NaN if any difference is NaN.
fn max_abs_error(estimate: &[f64], exact: &[f64]) -> f64 {
    estimate
        .iter()
        .zip(exact)
        .map(|(e, x)| (e - x).abs())
        .fold(0.0, |m, d| {
            if d.is_nan() || m.is_nan() {
                f64::NAN
            } else {
                m.max(d)
            }
        })
}

/// The median time of one call of `f`, in nanoseconds.
pub fn ns_per_call(mut f: impl FnMut()) -> f64 {
    let mut reps: u64 = 1;
    loop {
        let start = Instant::now();
        for _ in 0..reps {
            f();
        }
        if start.elapsed() >= MIN_BATCH || reps >= 1 << 32 {
            break;
        }
        reps *= 2;
    }
    let mut samples: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..reps {
                f();
            }
            start.elapsed().as_secs_f64() * 1e9 / reps as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[BATCHES / 2]
}
