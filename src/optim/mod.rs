//! Minimisation: one loop, many methods.
//!
//! [`minimize`] owns everything a method should not have to think about:
//! evaluation counting, projection onto bounds, the stopping tests, and the
//! diagnosis of runs that go wrong (divergence, oscillation, a step too
//! small to get anywhere). A method is a [`Step`]: given the current point,
//! value and gradient, it moves to the next point and leaves value and
//! gradient current there. State is allocated once, before the loop; an
//! iteration allocates nothing.

mod first_order;
mod lbfgs;
mod line_search;
mod newton;

use std::fmt;

use crate::jit::{DescentState, Variant};
use crate::objective::Objective;

/// The optimisation methods (their command-line names are `name()`).
#[derive(Copy, Clone, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Method {
    /// Gradient descent with a fixed step (the seed tutorials' algorithm).
    Gd,
    /// Heavy-ball momentum.
    Momentum,
    /// Nesterov's accelerated gradient.
    Nesterov,
    Adagrad,
    Rmsprop,
    Adam,
    /// Limited-memory BFGS with a strong Wolfe line search.
    Lbfgs,
    /// Newton's method on the exact Hessian, damped where it is not
    /// positive definite, with a backtracking line search.
    Newton,
}

impl Method {
    pub const ALL: [Method; 8] = [
        Method::Gd,
        Method::Momentum,
        Method::Nesterov,
        Method::Adagrad,
        Method::Rmsprop,
        Method::Adam,
        Method::Lbfgs,
        Method::Newton,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::Gd => "gd",
            Method::Momentum => "momentum",
            Method::Nesterov => "nesterov",
            Method::Adagrad => "adagrad",
            Method::Rmsprop => "rmsprop",
            Method::Adam => "adam",
            Method::Lbfgs => "lbfgs",
            Method::Newton => "newton",
        }
    }

    pub fn from_name(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Whether the method moves by a fixed rule, not a line search (these
    /// are the methods projection applies to).
    pub fn is_first_order(self) -> bool {
        !matches!(self, Method::Lbfgs | Method::Newton)
    }
}

/// Everything that controls a run. [`Settings::new`] gives the defaults.
#[derive(Clone, Debug)]
pub struct Settings {
    pub method: Method,
    /// The step of the first-order methods; the first trial step of a line
    /// search.
    pub lr: f64,
    /// Backtracking (Armijo) line search for `gd`.
    pub line_search: bool,
    pub max_iter: usize,
    /// Stop when f changes by at most this between iterations.
    pub ftol: Option<f64>,
    /// Stop when no gradient component exceeds this in magnitude.
    pub gtol: f64,
    /// Stop when a step is at most this long.
    pub xtol: Option<f64>,
    /// Per variable `(low, high)`, for projection.
    pub bounds: Option<Vec<(f64, f64)>>,
    /// Keep first-order iterates inside `bounds`.
    pub project: bool,
    /// Momentum coefficient (`momentum`, `nesterov`).
    pub momentum: f64,
    /// Decay of the squared-gradient average (`rmsprop`).
    pub rho: f64,
    /// Adam's moment decays.
    pub beta1: f64,
    pub beta2: f64,
    /// Added to denominators (`adagrad`, `rmsprop`, `adam`).
    pub epsilon: f64,
    /// Corrections kept by L-BFGS.
    pub memory: usize,
    /// Sufficient decrease (Armijo) and curvature (Wolfe) constants.
    pub c1: f64,
    pub c2: f64,
    /// Keep every iterate in [`Outcome::history`].
    pub keep_history: bool,
    /// The observer must see every iterate (for a trace). When `false`,
    /// fixed-step `gd` on compiled code may run many iterations at a time
    /// in one native loop and show the observer only the last of each
    /// batch (often enough for a progress bar); the outcome is the same.
    pub observe_every_iterate: bool,
}

impl Settings {
    /// The defaults for `method`: a step of 0.1 for the first-order methods
    /// and a first trial step of 1 for line searches.
    pub fn new(method: Method) -> Settings {
        Settings {
            method,
            lr: if method.is_first_order() { 0.1 } else { 1.0 },
            line_search: false,
            max_iter: 1000,
            ftol: None,
            gtol: 1e-8,
            xtol: None,
            bounds: None,
            project: false,
            momentum: 0.9,
            rho: 0.9,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            memory: 10,
            c1: 1e-4,
            c2: 0.9,
            keep_history: false,
            observe_every_iterate: true,
        }
    }
}

/// Why a run stopped.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Reason {
    /// f changed by at most `ftol`.
    Ftol,
    /// The gradient is at most `gtol` in every component.
    Gtol,
    /// The step was at most `xtol` long.
    Xtol,
    /// `max_iter` iterations were done.
    MaxIter,
    /// A value or gradient was not finite.
    Diverged,
    /// The iterates bounce back and forth without f decreasing.
    Oscillating,
    /// The line search found no point that decreases f: usually the limit of
    /// floating-point precision near a minimum.
    Stalled,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::Ftol => "ftol",
            Reason::Gtol => "gtol",
            Reason::Xtol => "xtol",
            Reason::MaxIter => "max-iter",
            Reason::Diverged => "diverged",
            Reason::Oscillating => "oscillating",
            Reason::Stalled => "stalled",
        }
    }

    /// Whether the run reached a point it can vouch for.
    pub fn converged(self) -> bool {
        matches!(self, Reason::Ftol | Reason::Gtol | Reason::Xtol)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One iterate, as observers see it.
#[derive(Debug)]
pub struct Iterate<'a> {
    pub iteration: usize,
    pub x: &'a [f64],
    pub f: f64,
    pub grad: &'a [f64],
    pub grad_norm: f64,
    /// Length of the step that led here (0 at the start).
    pub step: f64,
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The last point with a finite value.
    pub x: Vec<f64>,
    pub f: f64,
    pub grad_norm: f64,
    pub iterations: usize,
    /// Evaluations of the function: a value+gradient counts once, or as
    /// many function values as finite differences spent; a Hessian once.
    pub evaluations: usize,
    pub reason: Reason,
    /// Advice for runs that did not converge, in plain words.
    pub hint: Option<String>,
    /// Where the value or gradient stopped being finite (for `Diverged`).
    pub bad_point: Option<Vec<f64>>,
    /// Every iterate's point and value, if [`Settings::keep_history`].
    pub history: Vec<(Vec<f64>, f64)>,
}

/// What a method's step did.
pub(crate) enum StepResult {
    /// `x`, `f` and `grad` describe the new point.
    Moved,
    /// No acceptable point was found; `x`, `f`, `grad` are unchanged.
    Failed,
}

/// One method's iteration, with its state.
pub(crate) trait Step {
    fn step(
        &mut self,
        ctx: &mut Context<'_>,
        x: &mut [f64],
        f: &mut f64,
        grad: &mut [f64],
    ) -> StepResult;
}

/// What a step may use besides its own state: the objective (counted) and
/// the settings.
pub(crate) struct Context<'a> {
    objective: &'a mut dyn Objective,
    pub settings: &'a Settings,
    pub evaluations: usize,
}

impl Context<'_> {
    pub fn value_grad(&mut self, x: &[f64], grad: &mut [f64]) -> f64 {
        self.evaluations += self.objective.evaluations_per_gradient();
        self.objective.value_grad(x, grad)
    }

    pub fn hessian(&mut self, x: &[f64], hessian: &mut [f64]) -> bool {
        self.evaluations += 1;
        self.objective.hessian(x, hessian)
    }

    /// Clamps `x` into the bounds when projecting.
    pub fn project(&self, x: &mut [f64]) {
        if let (true, Some(bounds)) = (self.settings.project, &self.settings.bounds) {
            for (xi, &(lo, hi)) in x.iter_mut().zip(bounds) {
                *xi = xi.clamp(lo, hi);
            }
        }
    }
}

/// How many iterations the oscillation and progress diagnoses look back.
const WINDOW: usize = 6;

/// Iterations after which a run compiles its native descent loop, if it may
/// use one: about what compiling costs, so that a short run never pays much
/// more than it would have spent, and a long run gains the rest.
const FUSE_AFTER: usize = 4096;

/// Iterations the native loop runs between returns to the observer.
const FUSED_BATCH: usize = 1 << 16;

/// Minimises `objective` from `start`. `observe` sees the start and every
/// iterate (for traces and progress).
pub fn minimize(
    objective: &mut dyn Objective,
    start: &[f64],
    settings: &Settings,
    observe: &mut dyn FnMut(&Iterate),
) -> Outcome {
    let n = start.len();
    let mut ctx = Context {
        objective,
        settings,
        evaluations: 0,
    };
    let mut step: Box<dyn Step> = match settings.method {
        Method::Lbfgs => Box::new(lbfgs::Lbfgs::new(n, settings)),
        Method::Newton => Box::new(newton::Newton::new(n)),
        m => Box::new(first_order::FirstOrder::new(m, n, settings)),
    };
    let mut x = start.to_vec();
    ctx.project(&mut x);
    let mut grad = vec![0.0; n];
    let mut f = ctx.value_grad(&x, &mut grad);
    let mut last_x = x.clone();
    let mut last_f = f;
    let mut previous_step = vec![0.0; n];
    let mut recent = Recent::default();
    let mut history = Vec::new();
    if settings.keep_history {
        history.push((x.clone(), f));
    }
    // What the stopping tests read, measured in one pass after each step.
    let mut now = Measure {
        step: 0.0,
        grad_norm: projected_norm(settings, &x, &grad),
        finite: is_finite(f, &grad),
    };
    observe(&Iterate {
        iteration: 0,
        x: &x,
        f,
        grad: &grad,
        grad_norm: now.grad_norm,
        step: 0.0,
    });
    let mut iterations = 0;
    // Plain `gd` may hand its iterations to a native loop (see
    // `jit::DescentKernel`), which gives the same iterates.
    let fuse = settings.method == Method::Gd
        && !settings.line_search
        && !settings.keep_history
        && !settings.observe_every_iterate;
    let variant = Variant {
        project: settings.project && settings.bounds.is_some(),
        negate: false,
        ftol: settings.ftol.is_some(),
        xtol: settings.xtol.is_some(),
    };
    let mut fused: Option<DescentState> = None;
    let stop = loop {
        if !now.finite {
            break if iterations == 0 {
                Stop::at_current(
                    Reason::Diverged,
                    "the start point is outside the formula's domain",
                )
            } else {
                Stop {
                    back_to_last: true,
                    ..Stop::at_current(
                        Reason::Diverged,
                        &divergence_hint(settings, &recent, last_f),
                    )
                }
            };
        }
        if recent.oscillating() {
            let hint = format!(
                "the iterates bounce back and forth without lowering f: try a smaller --lr (now {})",
                crate::print::format_number(settings.lr)
            );
            break Stop::at_current(Reason::Oscillating, &hint);
        }
        if iterations > 0 {
            let step_len = now.step;
            if settings.xtol.is_some_and(|xtol| step_len <= xtol) {
                break Stop::converged(Reason::Xtol);
            }
            // A change in f counts as convergence when f went down (or the
            // point stayed put): a step to the mirror image of the last
            // point changes f by nothing and has not converged.
            let decrease = last_f - f;
            if settings
                .ftol
                .is_some_and(|ftol| (decrease > 0.0 && decrease <= ftol) || step_len == 0.0)
            {
                break Stop::converged(Reason::Ftol);
            }
        }
        if now.grad_norm <= settings.gtol {
            break Stop::converged(Reason::Gtol);
        }
        if iterations == settings.max_iter {
            let hint = match recent.progress() {
                Progress::Slow => format!(
                    "f was still going down, but slowly: the step may be too small (--lr {})",
                    crate::print::format_number(settings.lr)
                ),
                Progress::Fast => format!(
                    "f was still going down quickly: allow more iterations than --max-iter {}",
                    settings.max_iter
                ),
                Progress::Erratic => {
                    format!("no convergence within {} iterations", settings.max_iter)
                }
            };
            break Stop::at_current(Reason::MaxIter, &hint);
        }

        let native = match fuse {
            true => ctx
                .objective
                .descent_kernel(variant, iterations >= FUSE_AFTER),
            false => None,
        };
        if let Some(kernel) = native {
            let state = fused.get_or_insert_with(|| {
                DescentState::new(
                    n,
                    settings.lr,
                    settings.ftol,
                    settings.gtol,
                    settings.xtol,
                    settings.bounds.as_deref(),
                )
            });
            state.enter(&x, f, &grad, &previous_step, iterations);
            for age in 0..recent.len() {
                let (value, reversed) = recent.aged(age);
                state.set_history(iterations - age, value, reversed);
            }
            let done = kernel.run(state, (settings.max_iter - iterations).min(FUSED_BATCH));
            iterations += done;
            ctx.evaluations += done * ctx.objective.evaluations_per_gradient();
            x.copy_from_slice(state.x());
            grad.copy_from_slice(state.grad());
            previous_step.copy_from_slice(state.previous_step());
            last_x.copy_from_slice(state.last_x());
            (f, last_f) = (state.f(), state.last_f());
            for j in iterations + 1 - done.min(WINDOW + 1)..=iterations {
                let (value, reversed) = state.history(j);
                recent.push(value, reversed);
            }
            now = Measure {
                step: distance(&x, &last_x),
                grad_norm: projected_norm(settings, &x, &grad),
                finite: is_finite(f, &grad),
            };
        } else {
            last_x.copy_from_slice(&x);
            last_f = f;
            if let StepResult::Failed = step.step(&mut ctx, &mut x, &mut f, &mut grad) {
                break Stop::at_current(
                    Reason::Stalled,
                    "no step along the search direction lowers f: the point is as good as \
                     floating-point precision allows, or the gradient is wrong",
                );
            }
            iterations += 1;
            if settings.keep_history {
                history.push((x.clone(), f));
            }
            let reversed;
            (now, reversed) = measure(settings, &x, &last_x, f, &grad, &mut previous_step);
            recent.push(f, reversed);
        }
        observe(&Iterate {
            iteration: iterations,
            x: &x,
            f,
            grad: &grad,
            grad_norm: now.grad_norm,
            step: now.step,
        });
    };
    let bad_point = (stop.reason == Reason::Diverged).then(|| x.clone());
    let (x, f) = if stop.back_to_last {
        (last_x, last_f)
    } else {
        (x, f)
    };
    Outcome {
        grad_norm: projected_norm(settings, &x, &grad),
        x,
        f,
        iterations,
        evaluations: ctx.evaluations,
        reason: stop.reason,
        hint: stop.hint,
        bad_point,
        history,
    }
}

/// How a run ended.
struct Stop {
    reason: Reason,
    hint: Option<String>,
    /// Report the last finite iterate rather than the current point.
    back_to_last: bool,
}

impl Stop {
    fn converged(reason: Reason) -> Stop {
        Stop {
            reason,
            hint: None,
            back_to_last: false,
        }
    }

    fn at_current(reason: Reason, hint: &str) -> Stop {
        Stop {
            reason,
            hint: Some(hint.to_string()),
            back_to_last: false,
        }
    }
}

/// The last few values of f and whether each step reversed the one before,
/// in a fixed ring (no shifting, no allocation per iteration).
#[derive(Default)]
struct Recent {
    values: [f64; WINDOW + 1],
    reversals: [bool; WINDOW + 1],
    /// Entries pushed so far (the ring holds the last `WINDOW + 1`).
    pushed: usize,
}

impl Recent {
    fn push(&mut self, f: f64, reversed: bool) {
        let slot = self.pushed % (WINDOW + 1);
        self.values[slot] = f;
        self.reversals[slot] = reversed;
        self.pushed += 1;
    }

    fn len(&self) -> usize {
        self.pushed.min(WINDOW + 1)
    }

    /// The `k`-th value held, oldest first.
    fn value(&self, k: usize) -> f64 {
        let oldest = self.pushed - self.len();
        self.values[(oldest + k) % (WINDOW + 1)]
    }

    /// The value and reversal `age` pushes ago (0: the last).
    fn aged(&self, age: usize) -> (f64, bool) {
        let slot = (self.pushed - 1 - age) % (WINDOW + 1);
        (self.values[slot], self.reversals[slot])
    }

    /// f no lower than a window ago while nearly every step turned back.
    fn oscillating(&self) -> bool {
        if self.len() <= WINDOW {
            return false;
        }
        let (first, last) = (self.value(0), self.value(WINDOW));
        let no_progress = last >= first - 1e-12 * first.abs().max(1e-300);
        let turns = self.reversals.iter().filter(|r| **r).count();
        no_progress && turns >= WINDOW - 1
    }

    /// Whether f went down at every step held.
    fn always_down(&self) -> bool {
        (1..self.len()).all(|k| self.value(k) < self.value(k - 1))
    }

    /// How f was moving over the last window.
    fn progress(&self) -> Progress {
        if self.len() <= WINDOW || !self.always_down() {
            return Progress::Erratic;
        }
        // The distance still to go is unknown: compare the decrease per
        // step with the size of f and with its own trend.
        let (first, last) = (self.value(0), self.value(WINDOW));
        let per_step = (first - last) / WINDOW as f64;
        let first_step = self.value(0) - self.value(1);
        let last_step = self.value(WINDOW - 1) - self.value(WINDOW);
        let tiny = per_step < 1e-3 * first.abs().max(f64::MIN_POSITIVE);
        // Steps that do not shrink mean the iterates are far from a minimum
        // and crawl towards it.
        let not_shrinking = last_step > 0.9 * first_step;
        if tiny || not_shrinking {
            Progress::Slow
        } else {
            Progress::Fast
        }
    }
}

enum Progress {
    Slow,
    Fast,
    Erratic,
}

fn divergence_hint(settings: &Settings, recent: &Recent, last_f: f64) -> String {
    let held = recent.len();
    let growing = held >= 3 && (1..held).all(|k| recent.value(k).abs() > recent.value(k - 1).abs());
    if growing || last_f.abs() > 1e100 {
        format!(
            "f grew until it overflowed: the step is too large, try a smaller --lr (now {})",
            crate::print::format_number(settings.lr)
        )
    } else {
        "a step left the formula's domain".to_string()
    }
}

/// What the stopping tests need after a step, in one pass over the
/// variables: the step's length, the gradient's size, whether everything is
/// finite, and whether the step turned back against the previous one (which
/// it then replaces in `previous`).
fn measure(
    settings: &Settings,
    x: &[f64],
    last: &[f64],
    f: f64,
    grad: &[f64],
    previous: &mut [f64],
) -> (Measure, bool) {
    let (mut step2, mut dot, mut previous2) = (0.0, 0.0, 0.0);
    let mut finite = f.is_finite();
    for i in 0..x.len() {
        let s = x[i] - last[i];
        step2 += s * s;
        dot += s * previous[i];
        previous2 += previous[i] * previous[i];
        previous[i] = s;
        finite &= grad[i].is_finite();
    }
    let measure = Measure {
        step: step2.sqrt(),
        grad_norm: projected_norm(settings, x, grad),
        finite,
    };
    (measure, dot < -0.5 * (step2 * previous2).sqrt())
}

/// The length of the step from `last` to `x`, summed as [`measure`] does.
fn distance(x: &[f64], last: &[f64]) -> f64 {
    let mut step2 = 0.0;
    for (a, b) in x.iter().zip(last) {
        let s = a - b;
        step2 += s * s;
    }
    step2.sqrt()
}

/// See [`measure`].
struct Measure {
    step: f64,
    grad_norm: f64,
    finite: bool,
}

fn is_finite(f: f64, grad: &[f64]) -> bool {
    f.is_finite() && grad.iter().all(|g| g.is_finite())
}

/// The largest gradient component, leaving out components that push against
/// an active bound when projecting (there the gradient need not vanish).
/// NaN if a component is NaN.
fn projected_norm(settings: &Settings, x: &[f64], grad: &[f64]) -> f64 {
    let Some(bounds) = settings.bounds.as_deref().filter(|_| settings.project) else {
        return largest_magnitude(grad);
    };
    let mut m = 0.0;
    for ((&xi, &g), &(lo, hi)) in x.iter().zip(grad).zip(bounds) {
        let held = (xi <= lo && g > 0.0) || (xi >= hi && g < 0.0);
        if !held {
            m = larger_or_nan(m, g.abs());
        }
    }
    m
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

pub use crate::random::{random_start, start_of_run};

/// Runs `minimize` from every start, in parallel on all cores; `objective`
/// makes each run's own objective (they share compiled code, not buffers).
pub fn multi_start<O, F>(objective: F, starts: &[Vec<f64>], settings: &Settings) -> Vec<Outcome>
where
    O: Objective,
    F: Fn() -> O + Sync,
{
    use rayon::prelude::*;
    starts
        .par_iter()
        .map(|start| minimize(&mut objective(), start, settings, &mut |_| {}))
        .collect()
}

/// A distinct minimum found by a multi-start search.
#[derive(Clone, Debug)]
pub struct Minimum {
    /// The best run that ended here.
    pub best: usize,
    /// The runs that ended here.
    pub runs: Vec<usize>,
}

/// Groups converged runs by where they ended: two runs found the same
/// minimum when every coordinate agrees within `1e-4·(1 + |x|)`. Groups
/// come best first.
pub fn distinct_minima(outcomes: &[Outcome]) -> Vec<Minimum> {
    let mut order: Vec<usize> = (0..outcomes.len())
        .filter(|&i| outcomes[i].reason.converged() && outcomes[i].f.is_finite())
        .collect();
    order.sort_by(|&a, &b| outcomes[a].f.total_cmp(&outcomes[b].f).then(a.cmp(&b)));
    let mut minima: Vec<Minimum> = Vec::new();
    for i in order {
        let same = |m: &Minimum| {
            outcomes[m.best]
                .x
                .iter()
                .zip(&outcomes[i].x)
                .all(|(a, b)| (a - b).abs() <= 1e-4 * (1.0 + a.abs().max(b.abs())))
        };
        match minima.iter_mut().find(|m| same(m)) {
            Some(m) => m.runs.push(i),
            None => minima.push(Minimum {
                best: i,
                runs: vec![i],
            }),
        }
    }
    minima
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formula::Formula;
    use crate::objective::{CompiledObjective, Negated};

    /// Runs `settings` twice from `start`: every iteration in Rust, and with
    /// the native descent loop allowed (compiled beforehand when
    /// `from_start`, else once the run is long enough). Both must agree to
    /// the bit.
    fn same_either_way(text: &str, start: &[f64], settings: Settings, maximize: bool) -> Outcome {
        let mut formula = Formula::parse(text).expect("parses");
        let compiled = CompiledObjective::new(&mut formula, false).expect("compiles");
        let run = |every: bool, precompile: bool| {
            let settings = Settings {
                observe_every_iterate: every,
                ..settings.clone()
            };
            let mut seen = 0;
            let mut observe = |_: &Iterate| seen += 1;
            let mut objective: Box<dyn Objective> = if maximize {
                Box::new(Negated(compiled.clone()))
            } else {
                Box::new(compiled.clone())
            };
            if precompile {
                let variant = Variant {
                    project: settings.project,
                    negate: false,
                    ftol: settings.ftol.is_some(),
                    xtol: settings.xtol.is_some(),
                };
                assert!(objective.descent_kernel(variant, true).is_some());
            }
            let outcome = minimize(&mut objective, start, &settings, &mut observe);
            (outcome, seen)
        };
        let (reference, seen) = run(true, false);
        assert_eq!(
            seen,
            reference.iterations + 1,
            "the observer sees every iterate"
        );
        for precompile in [false, true] {
            let (fused, seen) = run(false, precompile);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let context = format!("{text}, precompiled {precompile}: {reference:?} vs {fused:?}");
            assert_eq!(bits(&fused.x), bits(&reference.x), "{context}");
            assert_eq!(fused.f.to_bits(), reference.f.to_bits(), "{context}");
            assert_eq!(fused.grad_norm.to_bits(), reference.grad_norm.to_bits());
            assert_eq!(fused.iterations, reference.iterations, "{context}");
            assert_eq!(fused.evaluations, reference.evaluations, "{context}");
            assert_eq!(fused.reason, reference.reason, "{context}");
            assert_eq!(fused.hint, reference.hint, "{context}");
            assert_eq!(
                fused.bad_point.as_deref().map(bits),
                reference.bad_point.as_deref().map(bits)
            );
            if precompile && reference.iterations > 1 {
                assert!(
                    seen < reference.iterations,
                    "{context}: the native loop ran"
                );
            }
        }
        reference
    }

    fn gd(lr: f64, max_iter: usize) -> Settings {
        Settings {
            lr,
            max_iter,
            ..Settings::new(Method::Gd)
        }
    }

    #[test]
    fn native_descent_loop_gives_the_same_iterates() {
        let rosenbrock = crate::testfns::rosenbrock(2);
        let long = Settings {
            gtol: 0.0,
            ..gd(1e-3, 3 * FUSED_BATCH + 17)
        };
        let o = same_either_way(&rosenbrock, &[-1.2, 1.0], long, false);
        assert_eq!(o.reason, Reason::MaxIter);
        let o = same_either_way(&rosenbrock, &[-1.2, 1.0], gd(1e-3, 200_000), false);
        assert_eq!(o.reason, Reason::Gtol);
        let xtol = Settings {
            xtol: Some(1e-7),
            ..gd(1e-3, 200_000)
        };
        assert_eq!(
            same_either_way(&rosenbrock, &[-1.2, 1.0], xtol, false).reason,
            Reason::Xtol
        );
        let ftol = Settings {
            ftol: Some(1e-4),
            ..gd(0.1, 100)
        };
        let o = same_either_way("3*x^2 + 2*x + 1", &[1.5], ftol, false);
        assert_eq!(o.reason, Reason::Ftol);
        // Ackley calls exp, cos and sqrt inside the loop.
        let ackley = same_either_way(
            crate::testfns::ACKLEY,
            &[0.3, -0.2],
            gd(1e-3, 10_000),
            false,
        );
        assert!(ackley.iterations > 0);
    }

    #[test]
    fn native_descent_loop_diagnoses_the_same_way() {
        let o = same_either_way("x^2", &[0.648], gd(1.0, 1000), false);
        assert_eq!(o.reason, Reason::Oscillating);
        let o = same_either_way("x^2", &[0.5], gd(1.5, 100_000), false);
        assert_eq!(o.reason, Reason::Oscillating);
        let o = same_either_way("-x^2", &[0.5], gd(0.5, 100_000), false);
        assert_eq!(o.reason, Reason::Diverged);
        // Gradient ascent on sqrt(x) - x steps to x = 0, where the gradient
        // is infinite.
        let o = same_either_way("sqrt(x) - x", &[1.0], gd(2.0, 1000), true);
        assert_eq!(o.reason, Reason::Diverged);
        let o = same_either_way("-(x-2)^2 - (y+1)^2", &[0.0, 0.0], gd(0.1, 1000), true);
        assert_eq!(o.reason, Reason::Gtol);
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

    #[test]
    fn native_descent_loop_projects_onto_the_bounds() {
        let settings = Settings {
            bounds: Some(vec![(-1.0, 1.0), (-1.0, 1.0)]),
            project: true,
            ..gd(0.1, 10_000)
        };
        let o = same_either_way("(x-2)^2 + (y+3)^2 + x*y", &[0.5, 0.5], settings, false);
        assert_eq!(o.reason, Reason::Gtol);
        assert_eq!(o.x, [1.0, -1.0]);
    }
}
