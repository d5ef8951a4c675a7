//! The loop every method runs in. It owns what a method should not have to
//! think about: checking the caller's input, counting evaluations,
//! projection onto bounds, the stopping tests (in the order below), the
//! diagnosis of runs that go wrong, and the observer. A method is a
//! [`Step`]: given the current point, value and gradient, it moves to the
//! next point and leaves value and gradient current there; the loop keeps
//! a copy of the last point and measures the step in a pass of its own.
//! L-BFGS instead takes the run's [`Path`]: it swaps the point its line
//! search accepted with the current one, which becomes the last point,
//! and measures the step as it forms its correction pair, as a
//! hand-written L-BFGS would. State is allocated once, before the loop;
//! an iteration allocates nothing.
//!
//! The tests, after each iteration:
//! 1. a value or gradient that is not finite: `unbounded` if f is -∞,
//!    `stalled` at a lower point where only the gradient is not finite
//!    (a kink or the domain's edge), else `diverged`;
//! 2. an iterate beyond [`UNBOUNDED_X`] in some coordinate with f still
//!    falling: `unbounded` (not for fixed-step `gd`, whose native loop
//!    does not make this test; its unbounded runs end at f = -∞);
//! 3. iterates that turn back at nearly every step without lowering f over
//!    [`WINDOW`](super::diagnose::WINDOW) iterations, and whose step has
//!    not halved a window later (shrinking alternation converges, and is
//!    watched iteration by iteration here): `oscillating`;
//! 4. a step at most `xtol` long: `xtol`;
//! 5. f lowered by at most `ftol` (or a step of length 0): `ftol`;
//! 6. f lowered by at most `ftol_rel` relative to `|f|` in each of the
//!    last two iterations, neither a restart ([`StepResult::Restarted`]):
//!    `ftol-rel`. Where the user's `lr` below 1 shortened the step
//!    (Newton's backtracking starts from it, L-BFGS's search too), the
//!    decrease is divided by the step taken, a fraction `t` of the
//!    method's full step ([`Context::step_fraction`]): a quadratic along
//!    the line, lowest at `t = 1`, falls by `(2t − t²)·D` at `t`, so the
//!    quotient is the full step's decrease `D` within a factor 2. Counted
//!    as it fell, Newton with `lr` 0.01 on Rosenbrock's function plus 1
//!    stopped "converged" with a gradient of 4e-4, each step lowering f by
//!    a hundredth of what a full one would;
//! 7. no component of the (projected) gradient above `gtol`: `gtol`;
//! 8. `max_iter` iterations: `max-iter`.
//!
//! What follows is told in `verdict.rs` (a failed search, and the end of
//! a run, [`judge`]'s), from the tests its files hold.
//! A step that finds f falling as far as its line search looks ends the
//! run as `unbounded`; one that finds no lower point, as `stalled`, or as
//! `unbounded` where the gradient is steep and f falls without bound
//! towards a pole beside the point (`pole.rs`: `1/(x-1)` stops at the
//! last double before its pole). A run
//! that stops by 4–7 is checked for negative curvature over the variables
//! no bound holds (`saddle.rs`: the objective's dense Hessian if it has
//! one ready, else a few Hessian-vector products): `saddle`. Where that
//! curvature cannot vouch for a minimum (flat, or small beside the
//! gradient: [`Verdict::Doubtful`]), f is asked whether it keeps falling
//! as the point runs off (`walk.rs`): a walk from the point grows its
//! step tenfold while f does not rise, and a walk that passes
//! [`UNBOUNDED_X`] so, or reaches f = −∞, makes the run `unbounded`
//! (`exp(-x)` stopped by `gtol` at x = 18.9, `x³` by Newton at 3e-5):
//! no minimum is attained. Where f rises at the first probe, as beside a
//! minimum, the walk costs one evaluation.
//!
//! Where f has kinks or steps, a converged point is also looked at either
//! side along each variable (`beside.rs`): f lower there than the
//! gradient allows for is a step no gradient sees, and the run goes on
//! from it as below.
//!
//! The lowest point those tests evaluated ([`Context::probe`]) can show
//! that the stop came short of the minimum (`stopped_short.rs`): then the
//! run goes on from it as from a new start (L-BFGS's memory cleared), at
//! most [`MAX_RESUMES`] times, and the tests that compare a step with the
//! last one, and the gradient test, wait for a step of the new leg. A
//! `gtol` stop so shown says f's gradients are smaller than `gtol`
//! assumes: the legs after it ask that the gradient fall by the factor
//! `gtol` from the start's, where that is below 1 (and not 0). A
//! stop by 5 or 6 that no lower point shows short, but where the gradient
//! is steep (`stopped_short.rs`), ends `unbounded` beside a pole
//! (`pole.rs`), else `stalled`: f stopped falling where its gradient says
//! it should fall fast, and that is no minimum.
//!
//! The native descent loop (`jit/descent.rs`) performs tests 1 and 3–8
//! except 6 in the same order; a change here must be made there too, and
//! the native branch is not taken while `ftol_rel` is on (`native.rs`).

use std::time::Instant;

use super::context::Context;
use super::diagnose::{self, Recent};
use super::native::Fused;
use super::newton::Curvature;
use super::newton_cg::NewtonCg;
use super::outcome::{Bound, Control, Iterate, Outcome, Reason};
use super::start::check_start_finite;
use super::vector::{Measure, is_finite, largest, measure, projected_norm};
use super::verdict::{Stop, failed_search, judge};
use super::{Method, Settings, first_order, lbfgs, newton};
use crate::error::{Error, ErrorKind, Result};
use crate::objective::{Objective, check_len};

/// What a method's step did.
pub(crate) enum StepResult {
    /// `x`, `f` and `grad` describe the new point.
    Moved,
    /// No acceptable point was found; `x`, `f`, `grad` are unchanged.
    Failed,
    /// `x`, `f` and `grad` describe a new, lower point, and f kept falling
    /// as far along the direction as the search looked.
    Unbounded,
    /// As [`StepResult::Moved`], by a step the method took after its own
    /// direction failed and it cleared its memory (L-BFGS's steepest
    /// descent): how little such a step lowered f says nothing about
    /// convergence, so it does not count for the relative-reduction stop.
    Restarted,
}

/// How far from the origin an iterate may go, with f still falling, before
/// the run calls f unbounded (Ipopt's `diverging_iterates_tol`).
pub const UNBOUNDED_X: f64 = 1e20;

/// One method's iteration, with its state.
pub(crate) trait Step {
    fn step(
        &mut self,
        ctx: &mut Context<'_>,
        x: &mut [f64],
        f: &mut f64,
        grad: &mut [f64],
    ) -> StepResult;

    /// The run goes on from a lower point `jump` away (in its largest
    /// coordinate), as from a new start: a method whose steps are scaled
    /// by what it has seen may take the jump as that scale.
    fn resumed(&mut self, _jump: f64) {}
}

/// Where a run is: the current and the last point, and the record of
/// recent values the diagnoses read.
pub(super) struct Path {
    pub x: Vec<f64>,
    pub f: f64,
    pub grad: Vec<f64>,
    pub last_x: Vec<f64>,
    pub last_f: f64,
    /// The step that led to `x`, to see whether the next one turns back:
    /// `n` values for a method measured by the loop ([`measure`]), empty
    /// for L-BFGS, whose last step is among its correction pairs.
    pub previous_step: Vec<f64>,
    pub recent: Recent,
    pub iterations: usize,
}

impl Path {
    /// A run at its start `x`, with value `f` and gradient `grad`, with no
    /// room for a previous step (see [`Path::previous_step`]).
    pub fn new(x: Vec<f64>, f: f64, grad: Vec<f64>) -> Path {
        Path {
            last_x: x.clone(),
            last_f: f,
            x,
            f,
            grad,
            previous_step: Vec::new(),
            recent: Recent::default(),
            iterations: 0,
        }
    }
}

/// How the loop runs a method's iteration.
enum Stepper {
    /// The method moves `x`, `f` and `grad` in place: the loop copies the
    /// point before the step and measures the step after it ([`measure`]).
    InPlace(Box<dyn Step>),
    /// L-BFGS searches into its own buffers and swaps the point it accepts
    /// with the run's, leaving the old one as the last point, and measures
    /// the step as it forms its correction pair (`Lbfgs::iterate`): no
    /// copies and no pass of its own over the variables, as a hand-written
    /// L-BFGS.
    Lbfgs(Box<lbfgs::Lbfgs>),
}

/// Minimises `objective` from `start`.
///
/// An error, before any evaluation, if `start` or the bounds do not have
/// one value per variable, a method parameter is out of range, the
/// method needs a Hessian the objective does not have, or the objective's
/// formula has constraints ([`minimize_constrained`](crate::minimize_constrained)
/// takes those). A run that goes
/// wrong is not an error: its [`Outcome`] says why it stopped.
///
/// ```
/// let f = slope::Formula::parse("(1-x)^2 + 100*(y-x^2)^2")?;
/// let mut obj = f.compile()?;
/// let out = slope::minimize(&mut obj, &[-1.2, 1.0], &slope::Settings::default())?;
/// assert!(out.converged());
/// assert!((out.x[0] - 1.0).abs() < 1e-8 && (out.x[1] - 1.0).abs() < 1e-8);
/// assert!(slope::minimize(&mut obj, &[0.0], &Default::default()).is_err());
/// # Ok::<(), slope::Error>(())
/// ```
pub fn minimize(
    objective: &mut dyn Objective,
    start: &[f64],
    settings: &Settings,
) -> Result<Outcome> {
    minimize_with(objective, start, settings, |_: &Iterate| ())
}

/// [`minimize`], showing the start and every iterate to `observe` (for
/// traces and progress; see [`Settings::observe_every_iterate`]), which may
/// stop the run by returning [`Control::Stop`].
///
/// ```
/// use slope::{Control, Iterate, Reason};
/// let mut obj = slope::Formula::parse("(x-1)^2 + (y+2)^4")?.compile()?;
/// let mut values = Vec::new();
/// let out = slope::minimize_with(&mut obj, &[0.0, 0.0], &Default::default(), |it: &Iterate| {
///     values.push(it.f);
///     if it.iteration == 3 { Control::Stop } else { Control::Continue }
/// })?;
/// assert_eq!(out.reason, Reason::Interrupted);
/// assert_eq!(values.len(), 4);
/// # Ok::<(), slope::Error>(())
/// ```
pub fn minimize_with<R: Into<Control>>(
    objective: &mut dyn Objective,
    start: &[f64],
    settings: &Settings,
    mut observe: impl FnMut(&Iterate) -> R,
) -> Result<Outcome> {
    check_input(objective.n_vars(), start, settings)?;
    let m = objective.n_constraints();
    if m > 0 {
        let s = if m == 1 { "" } else { "s" };
        return Err(Error::new(
            ErrorKind::Usage,
            format!("the formula has {m} constraint{s}, which this method would leave out"),
        )
        .with_hint("compile it with Formula::compile_problem and call minimize_constrained"));
    }
    let curvature = match settings.method {
        Method::Newton { .. } => Some(newton::curvature(objective)?),
        _ => None,
    };
    Ok(run(
        objective,
        start,
        settings,
        curvature,
        true,
        &mut |it| observe(it).into(),
    ))
}

/// An error unless `start` and the bounds have `n` values, the start is
/// finite (`start.rs`), the bounds are intervals, and the settings are in
/// range ([`Settings::validate`]).
pub(crate) fn check_input(n: usize, start: &[f64], settings: &Settings) -> Result<()> {
    check_len("the start point", start.len(), n)?;
    check_start_finite(start, |i| format!("variable {i}"))?;
    if let Some(bounds) = &settings.bounds {
        check_len("the bounds", bounds.len(), n)?;
        for (i, &(lo, hi)) in bounds.iter().enumerate() {
            check_interval(&format!("variable {i}"), lo, hi)?;
        }
    }
    settings.validate()
}

/// An error unless `lo..=hi`, the bounds of `what`, is an interval that
/// holds a finite value: neither end NaN, the low end not above the high
/// one, `lo` not +∞ and `hi` not −∞.
pub(crate) fn check_interval(what: &str, lo: f64, hi: f64) -> Result<()> {
    if lo.is_nan() || hi.is_nan() || lo > hi {
        return Err(Error::new(
            ErrorKind::Usage,
            format!("the bounds of {what} are not an interval: low {lo}, high {hi}"),
        )
        .with_hint("the low end must not be above the high end, and neither NaN"));
    }
    if lo == f64::INFINITY || hi == f64::NEG_INFINITY {
        return Err(Error::new(
            ErrorKind::Usage,
            format!("the bounds of {what} hold no finite value: low {lo}, high {hi}"),
        )
        .with_hint("give a finite end, or -inf and inf for no bound"));
    }
    Ok(())
}

/// The start clamped into the bounds that constrain the run, and the
/// variables that moved (reported as the outcome's `moved_start`).
pub(crate) fn start_in_box(start: &[f64], settings: &Settings) -> (Vec<f64>, Vec<usize>) {
    let mut x = start.to_vec();
    if let Some(b) = settings.constraints() {
        for (xi, &(lo, hi)) in x.iter_mut().zip(b) {
            *xi = xi.clamp(lo, hi);
        }
    }
    let moved = (0..x.len()).filter(|&i| x[i] != start[i]).collect();
    (x, moved)
}

/// The loop without the saddle test at its end, for a method that runs
/// it as its inner solver (the augmented Lagrangian, whose inner minima
/// are not the answer). The caller has checked the input.
pub(crate) fn minimize_inner(
    objective: &mut dyn Objective,
    start: &[f64],
    settings: &Settings,
) -> Outcome {
    run(objective, start, settings, None, false, &mut |_| {
        Control::Continue
    })
}

/// The loop, on checked input; Newton reads the Hessian as `curvature`
/// says (dense if `None`).
fn run(
    objective: &mut dyn Objective,
    start: &[f64],
    settings: &Settings,
    curvature: Option<Curvature>,
    check_saddle: bool,
    observe: &mut dyn FnMut(&Iterate) -> Control,
) -> Outcome {
    let clock = Instant::now();
    let n = start.len();
    let mut ctx = Context::new(objective, settings);
    let mut stepper = match settings.method {
        Method::Lbfgs { memory, .. } => Stepper::Lbfgs(Box::new(lbfgs::Lbfgs::new(
            n,
            memory,
            settings.constraints().is_some(),
        ))),
        _ => Stepper::InPlace(in_place(settings.method, n, curvature)),
    };
    let mut x = start.to_vec();
    ctx.project(&mut x);
    let moved_start: Vec<usize> = (0..n).filter(|&i| x[i] != start[i]).collect();
    let mut grad = vec![0.0; n];
    let f = ctx.value_grad(&x, &mut grad);
    let mut path = Path::new(x, f, grad);
    if let Stepper::InPlace(_) = stepper {
        path.previous_step = vec![0.0; n];
    }
    let mut history = Vec::new();
    if settings.keep_history {
        history.push((path.x.clone(), path.f));
    }
    // What the stopping tests read, measured in one pass after each step.
    let mut now = at_start(settings, &path);
    let lr = settings.method.lr();
    let mut fused = Fused::new(settings);
    // Fixed-step gd leaves the growth test out, as its native loop does.
    let watch_growth = !matches!(
        settings.method,
        Method::Gd {
            line_search: false,
            ..
        }
    );
    let mut control = observe(&iterate(&path, &now));
    // Whether the last iteration's decrease was within `ftol_rel`.
    let mut small_before = false;
    // Whether the last step was a restart ([`StepResult::Restarted`]).
    let mut restarted = false;
    // Where the steps began to alternate without lowering f, and the step
    // length then.
    let mut alternating_since: Option<(usize, f64)> = None;
    // How often the run went on from a lower point the end-of-run tests
    // found, and the iteration it last did so: the tests that compare a
    // step with the last one wait for a step of the new leg, and so does
    // the gradient test (a lower point found far off, where the gradient
    // is already below `gtol`, is reached by stepping, not by stopping).
    let (mut resumes, mut resumed_at) = (0, None);
    // The gradient test's threshold: `gtol`, until the end-of-run tests
    // show that a stop by it came short of the minimum (f lower far off).
    // Then f's gradients are on a smaller scale than `gtol` assumes
    // (`1e-9*((x-3)^2 + (y+1)^2)` has 6e-9 at the origin, and stopped by
    // `gtol` at x = 2.76), and the test asks instead that the gradient
    // have fallen by the factor `gtol` from where the run began (where
    // that was below 1 and not 0: a start with no gradient gives no
    // scale).
    let mut gtol = settings.gtol;
    let start_grad_norm = now.grad_norm;
    let stop = 'run: loop {
        let stop = loop {
            if !now.finite && path.f == f64::NEG_INFINITY {
                break Stop {
                    back_to_last: path.iterations > 0,
                    ..Stop::new(
                        Reason::Unbounded,
                        match path.iterations {
                            0 => "f fell to -∞: it has no lower bound near the last point",
                            _ => {
                                "f fell to -∞ a step from here: it has no lower bound near the \
                                 last point"
                            }
                        }
                        .to_string(),
                    )
                };
            }
            // A lower point where f is finite and its gradient is not: a kink
            // or the edge of the domain, as the minimum of hypot(x, y) at the
            // origin or of sqrt(x) at 0. Not a divergence, and the point is
            // kept; but no gradient says what is beyond it.
            if !now.finite && path.iterations > 0 && path.f.is_finite() && path.f < path.last_f {
                break Stop::new(
                    Reason::Stalled,
                    "the step reached a lower point where f is finite but its gradient is not \
                 (a kink, or the edge of the formula's domain): a gradient method cannot go \
                 on from it, and it may be the minimum"
                        .to_string(),
                );
            }
            if !now.finite {
                break if path.iterations == 0 {
                    // NaN is a domain's edge; ±∞ (overflow, or a pole) is not.
                    let nan = path.f.is_nan() || path.grad.iter().any(|g| g.is_nan());
                    Stop::new(
                        Reason::Diverged,
                        match nan {
                            true => "the start point is outside the formula's domain",
                            false => {
                                "f or its gradient is infinite at the start point: too large for \
                             a double there (an overflow), or a pole"
                            }
                        }
                        .to_string(),
                    )
                } else {
                    Stop {
                        back_to_last: true,
                        ..Stop::diagnosed(
                            Reason::Diverged,
                            diagnose::diverged(&path.recent, path.last_f, lr),
                        )
                    }
                };
            }
            if watch_growth
                && path.iterations > 0
                && path.f < path.last_f
                && now.largest_x > UNBOUNDED_X
                // Growing: from x = 1e25 towards a bound at 0 is no runaway.
                && now.largest_x > largest(&path.last_x)
            {
                break Stop::new(
                    Reason::Unbounded,
                    format!(
                        "f kept falling while x grew past {UNBOUNDED_X:e}: it has no lower bound"
                    ),
                );
            }
            // Alternating steps that shrink converge (gd on a curvature
            // between 1/lr and 2/lr), even where f has reached its rounding
            // and stopped falling: the verdict waits a window to see whether
            // the step at least halves.
            if path.recent.oscillating() {
                match alternating_since {
                    None => alternating_since = Some((path.iterations, now.step)),
                    Some((at, step)) if path.iterations >= at + diagnose::WINDOW => {
                        if now.step > 0.5 * step {
                            break Stop::diagnosed(Reason::Oscillating, diagnose::oscillating(lr));
                        }
                        alternating_since = Some((path.iterations, now.step));
                    }
                    Some(_) => {}
                }
            } else {
                alternating_since = None;
            }
            if path.iterations > resumed_at.unwrap_or(0) {
                if settings.xtol.is_some_and(|xtol| now.step <= xtol) {
                    break Stop::converged(Reason::Xtol);
                }
                // A change in f counts as convergence when f went down (or the
                // point stayed put): a step to the mirror image of the last
                // point changes f by nothing and has not converged.
                let decrease = path.last_f - path.f;
                if settings
                    .ftol
                    .is_some_and(|ftol| (decrease > 0.0 && decrease <= ftol) || now.step == 0.0)
                {
                    break Stop::converged(Reason::Ftol);
                }
                let size = path.last_f.abs().max(path.f.abs());
                // Per unit of the full step where the user's lr shortened it
                // (the module's doc, test 6).
                let full = match lr < 1.0 && ctx.step_fraction < 1.0 {
                    true => decrease / ctx.step_fraction,
                    false => decrease,
                };
                let small = !restarted
                    && settings
                        .ftol_rel
                        .is_some_and(|tol| decrease >= 0.0 && full <= tol * size);
                // Twice in a row: a single short step (a line search that found
                // little along a poor direction) is not convergence, nor is a
                // restart's step along the gradient, however little it found.
                if small && small_before {
                    break Stop::converged(Reason::FtolRel);
                }
                small_before = small;
            }
            if now.grad_norm <= gtol && resumed_at.is_none_or(|at| path.iterations > at) {
                break Stop::converged(Reason::Gtol);
            }
            if path.iterations == settings.max_iter {
                let fixed_step = (!settings.method.has_line_search()).then_some(lr);
                let diagnosis =
                    diagnose::out_of_iterations(&path.recent, fixed_step, settings.max_iter);
                break Stop::diagnosed(Reason::MaxIter, diagnosis);
            }
            if control == Control::Stop {
                break Stop::new(
                    Reason::Interrupted,
                    Reason::Interrupted.explanation().to_string(),
                );
            }

            // While alternation is watched, every iteration here (the native
            // loop would run past the iterations the watch reads).
            let native = fused.as_mut().filter(|_| alternating_since.is_none());
            if let Some(measured) = native.and_then(|f| f.batch(&mut ctx, &mut path)) {
                now = measured;
            } else {
                path.last_f = path.f;
                ctx.fell_to_minus_infinity = false;
                ctx.left_the_domain = false;
                ctx.step_fraction = 1.0;
                let (moved, measured) = match &mut stepper {
                    Stepper::Lbfgs(lbfgs) => lbfgs.iterate(&mut ctx, &mut path),
                    Stepper::InPlace(step) => {
                        path.last_x.copy_from_slice(&path.x);
                        let moved = step.step(&mut ctx, &mut path.x, &mut path.f, &mut path.grad);
                        (moved, None)
                    }
                };
                restarted = matches!(moved, StepResult::Restarted);
                // A leg begun at a lower point the end-of-run tests found, where
                // the gradient already met `gtol`, ends so if it cannot step;
                // so does one whose test was tightened, at a point that meets
                // the user's.
                if let StepResult::Failed = moved
                    && (resumed_at == Some(path.iterations) || gtol < settings.gtol)
                    && now.grad_norm <= settings.gtol
                {
                    break Stop::converged(Reason::Gtol);
                }
                if let StepResult::Failed = moved {
                    break failed_search(&mut ctx, &path.x, path.f, &path.grad);
                }
                if let StepResult::Unbounded = moved {
                    path.iterations += 1;
                    if settings.keep_history {
                        history.push((path.x.clone(), path.f));
                    }
                    break Stop::new(
                        Reason::Unbounded,
                        "f kept falling along the search direction as far as the line search \
                     looked: it has no lower bound"
                            .to_string(),
                    );
                }
                path.iterations += 1;
                if settings.keep_history {
                    history.push((path.x.clone(), path.f));
                }
                let reversed;
                (now, reversed) = measured.unwrap_or_else(|| {
                    measure(
                        settings,
                        &path.x,
                        &path.last_x,
                        path.f,
                        &path.grad,
                        &mut path.previous_step,
                    )
                });
                path.recent.push(path.f, reversed);
            }
            control = observe(&iterate(&path, &now));
        };
        let (x, f) = match stop.back_to_last {
            true => (&path.last_x, path.last_f),
            false => (&path.x, path.f),
        };
        let (stop, lower) = judge(&mut ctx, stop, (x, f), &path.grad, check_saddle);
        let Some(lower) = lower else {
            break 'run stop;
        };
        // The run goes on from the lower point, as from a new start
        // (L-BFGS's pairs describe the curvature where it stopped): the
        // move there counts as an iteration, and is one the limit must
        // leave room for.
        if path.iterations == settings.max_iter {
            break 'run Stop::new(
                Reason::MaxIter,
                format!(
                    "the run stopped by {} short of the minimum: its last tests found f lower \
                     nearby, and no iterations were left to go on from there",
                    stop.reason.name()
                ),
            );
        }
        let iterations = path.iterations + 1;
        let jump = (x.iter().zip(&lower.x)).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        path = Path::new(lower.x, lower.f, lower.grad);
        path.iterations = iterations;
        if settings.keep_history {
            history.push((path.x.clone(), path.f));
        }
        now = at_start(settings, &path);
        control = observe(&iterate(&path, &now));
        if resumes == MAX_RESUMES {
            break 'run match stop.reason {
                // A search that keeps failing where f falls a little way down
                // the gradient keeps its own diagnosis (a wrong gradient, say).
                Reason::Stalled => stop,
                _ => Stop::new(
                    Reason::Stalled,
                    format!(
                        "the stopping tests ended the run short of the minimum {MAX_RESUMES} \
                         times (each time its last tests found f lower, and it went on from \
                         there), and they still find it lower: f may fall without bound towards \
                         a pole or the edge of its domain, or be too flat for the stopping tests; \
                         the lowest point found is reported"
                    ),
                ),
            };
        }
        resumes += 1;
        resumed_at = Some(iterations);
        if stop.reason == Reason::Gtol && start_grad_norm > 0.0 && start_grad_norm < 1.0 {
            gtol = gtol.min(settings.gtol * start_grad_norm);
            // The native loop tests the settings' `gtol`.
            fused = None;
        }
        match (&mut stepper, settings.method) {
            (Stepper::Lbfgs(lbfgs), Method::Lbfgs { memory, .. }) => {
                **lbfgs = lbfgs::Lbfgs::new(n, memory, settings.constraints().is_some());
                lbfgs.first_move = jump.max(1.0);
            }
            (Stepper::InPlace(step), _) => {
                step.resumed(jump);
                path.previous_step = vec![0.0; n];
            }
            _ => path.previous_step = vec![0.0; n],
        }
        (small_before, restarted, alternating_since) = (false, false, None);
    };
    let bad_point = (stop.reason == Reason::Diverged).then(|| path.x.clone());
    // The point reported is the last one's, and so is its gradient, one
    // more evaluation: `path.grad` belongs to the point beyond it, where f
    // or the gradient stopped being finite (`ln(x)` on `0:1` reported the
    // start's f beside the gradient, null, of x = 0).
    let (x, f, gradient) = match stop.back_to_last {
        true => {
            let mut grad = vec![0.0; n];
            ctx.value_grad(&path.last_x, &mut grad);
            (path.last_x, path.last_f, grad)
        }
        false => (path.x, path.f, path.grad),
    };
    let active = match settings.constraints() {
        Some(bounds) => x
            .iter()
            .zip(bounds)
            .map(|(&v, &b)| Bound::of(v, b))
            .collect(),
        None => vec![Bound::Free; n],
    };
    Outcome {
        grad_norm: projected_norm(settings, &x, &gradient),
        x,
        f,
        gradient,
        iterations: path.iterations,
        evaluations: ctx.evaluations,
        gradient_evaluations: ctx.gradient_evaluations,
        hessian_evaluations: ctx.hessian_evaluations,
        reason: stop.reason,
        message: stop.message,
        advice: stop.advice,
        bad_point,
        history,
        active,
        moved_start,
        seconds: clock.elapsed().as_secs_f64(),
    }
}

/// What the stopping tests read at a run's start, before any step.
fn at_start(settings: &Settings, path: &Path) -> Measure {
    Measure {
        step: 0.0,
        grad_norm: projected_norm(settings, &path.x, &path.grad),
        largest_x: largest(&path.x),
        finite: is_finite(path.f, &path.grad),
    }
}

/// The most times a run goes on from a lower point its end-of-run tests
/// found ([`stopped_short`]).
const MAX_RESUMES: usize = 10;

/// The step of a method other than L-BFGS; Newton reads the Hessian as
/// `curvature` says (dense if `None`).
fn in_place(method: Method, n: usize, curvature: Option<Curvature>) -> Box<dyn Step> {
    match method {
        Method::Newton { .. } => match curvature {
            Some(Curvature::Products) => Box::new(NewtonCg::new(n, false)),
            Some(Curvature::Differences) => Box::new(NewtonCg::new(n, true)),
            Some(Curvature::Sparse(pattern)) => {
                Box::new(newton::Newton::new(n, newton::Sparse::new(&pattern)))
            }
            Some(Curvature::Dense) | None => {
                Box::new(newton::Newton::new(n, newton::Dense::new(n)))
            }
        },
        m => Box::new(first_order::FirstOrder::new(m, n)),
    }
}

/// The observer's view of the current iterate.
fn iterate<'p>(path: &'p Path, now: &Measure) -> Iterate<'p> {
    Iterate {
        iteration: path.iterations,
        x: &path.x,
        f: path.f,
        grad: &path.grad,
        grad_norm: now.grad_norm,
        step: now.step,
    }
}
