//! The Levenberg–Marquardt loop, after MINPACK's `lmder` (Moré 1978, "The
//! Levenberg–Marquardt algorithm: implementation and theory"): a trust
//! region of radius Δ in the scaled norm ‖D p‖, with D the largest column
//! norms of the Jacobian seen so far; each step is found by [`lmpar`] on a
//! pivoted QR of the Jacobian ([`qrfac`] of the p×p R that the pass built,
//! `stream.rs`), and Δ grows or shrinks by the ratio of the actual to the
//! predicted reduction.
//!
//! Differences from `lmder`, each for a reason:
//!
//! - Bounds. A variable at a bound whose gradient points out of the box
//!   is held for the iteration (its column leaves the factorisation), and
//!   every trial point is clipped into the box; the predicted reduction is
//!   that of the clipped step, computed from R (`‖J p‖`, `fᵀJ p`), so the
//!   ratio test stays honest. Iterates never leave the box.
//! - Robust losses. The cost is `½Σ C²ρ((r/C)²)`; each pass factors the
//!   rescaled residuals and Jacobian ([`Loss::scale`]), whose predicted
//!   reduction is that of the robust cost to second order.
//! - One pass per trial point, and no stored Jacobian. The compiled model
//!   gives residuals and the Jacobian together, and the pass folds each
//!   row into a running R ([`Accumulator`]); a trial point's R is kept and,
//!   when the step is accepted, the next iteration needs no pass of its
//!   own. Likewise the polishing ([`polish`]) starts from the trust
//!   region's last pass, and the statistics read the last pass of all
//!   (R and the residuals): a fit of 8 iterations from the start of
//!   `benches/fit.rs` makes 10 passes, not 12.
//! - A saddle test at a converged point ([`saddle`]): the cost's exact
//!   curvature along J's null space, so that a stationary point of the
//!   sum that is no minimum (`y ~ a*b` from a = b = 0) is not reported
//!   converged.
//! - A stop on ftol or xtol where a Gauss–Newton step still promises more
//!   than 10⁻⁴ of the sum is not taken as converged: the trust region
//!   starts again there (see [`OFFSET`]).
//! - A residual that is not finite at a trial point rejects the step (Δ
//!   shrinks) instead of poisoning the run.

// The loops index several arrays in step, as MINPACK writes them: kept
// that way so the code reads against the published algorithm.
#![allow(clippy::needless_range_loop)]

use super::Factorization;
use super::lmpar::lmpar;
use super::loss::Loss;
use super::qr::{Qr, norm, qrfac};
use super::saddle::saddle;
use super::stream::{Accumulator, RowSink};
use crate::optim::Reason;

/// Residuals and their Jacobian, computed in one pass over the rows.
pub(crate) trait Residuals {
    /// The number of residuals (rows).
    fn rows(&self) -> usize;
    /// The number of parameters.
    fn params(&self) -> usize;
    /// Feeds each row's residual and gradient ∂rᵢ/∂x at `x` to `sink`, in
    /// order. False if any value is not finite.
    fn eval(&mut self, x: &[f64], sink: &mut dyn RowSink) -> bool;
    /// A bound on the rounding error of Σrᵢ² at the last point evaluated:
    /// 2ε·Σ|rᵢ|·(|yᵢ| + |mᵢ|)/σᵢ, the error of each `yᵢ − mᵢ` carried into
    /// its square.
    fn rounding(&self) -> f64;
}

/// Tolerances and limits of the loop.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Control {
    pub ftol: f64,
    pub xtol: f64,
    pub gtol: f64,
    pub max_evaluations: usize,
    pub loss: Loss,
    pub f_scale: f64,
    pub factorization: Factorization,
}

/// Where the loop stopped.
pub(crate) struct Stop {
    pub x: Vec<f64>,
    pub reason: Reason,
    pub iterations: usize,
    pub evaluations: usize,
    /// The last pass at `x`, for the statistics: the raw residuals
    /// ([`Accumulator::kept`]), R of the loss-rescaled Jacobian and the
    /// minimised sum ΣC²ρ ([`Accumulator::cost2`]).
    pub at: Accumulator,
    /// [`Residuals::rounding`] of that pass.
    rounding: f64,
}

/// One pass at `x` into `acc`: R and Qᵀf̃ of the rescaled rows, Σ C²ρ,
/// ‖f̃‖² and the raw residuals. False if a value is not finite.
fn pass(problem: &mut dyn Residuals, x: &[f64], acc: &mut Accumulator) -> bool {
    acc.reset();
    let finite = problem.eval(x, acc);
    acc.finish();
    finite
}

/// The pivoted QR of the columns `free` of J, from J's R: `J[:, free] =
/// Q R[:, free]`, so a QR of the p×|free| matrix `R[:, free]` is one of
/// `J[:, free]`, with the same column norms.
fn factor(at: &Accumulator, free: &[usize], n: usize) -> Qr {
    let nf = free.len();
    let mut a = vec![0.0; n * nf];
    for (k, &j) in free.iter().enumerate() {
        a[k * n..(k + 1) * n].copy_from_slice(at.r_column(j));
    }
    let mut qtf = at.qtf().to_vec();
    qrfac(&mut a, n, nf, &mut qtf)
}

/// Jᵀf̃ = Rᵀ(Qᵀf̃).
fn gradient(at: &Accumulator, n: usize) -> Vec<f64> {
    let qtf = at.qtf();
    (0..n)
        .map(|j| (0..=j).map(|i| at.r_column(j)[i] * qtf[i]).sum())
        .collect()
}

/// Minimises the cost of `problem`'s residuals from `x0` inside
/// `bounds` (`x0` must lie inside), then polishes a converged point with
/// Gauss–Newton steps ([`polish`]). An `Err` only if the residuals, or
/// the sum of their squares, are not finite at `x0`.
///
/// Every pass goes into one of two accumulators, the one at the current
/// point and the one at the trial point, swapped when a step is taken: the
/// last pass at the solution is the statistics', and no pass allocates.
pub(crate) fn levenberg_marquardt(
    problem: &mut dyn Residuals,
    x0: &[f64],
    bounds: &[(f64, f64)],
    control: &Control,
) -> Result<Stop, Reason> {
    let (m, n) = (problem.rows(), problem.params());
    let accumulator =
        || Accumulator::with(n, control.loss, control.f_scale, m, control.factorization);
    let mut trial = accumulator();
    let mut stop = trust_region(problem, x0, bounds, control, accumulator(), &mut trial)?;
    // A stop on ftol or xtol where a Gauss–Newton step still promises a
    // real reduction is a collapsed trust region, not a minimum: start the
    // region again there, with the scaling of the Jacobian there (MINPACK's
    // D keeps the largest column norms ever seen, and a column that
    // shrank by 10⁴⁰ on the way stays weighted as it was at the start).
    let mut restarts = 0;
    while matches!(stop.reason, Reason::Ftol | Reason::Xtol)
        && stop.at.cost2 > ROUNDING * stop.rounding
        && offset(&stop.at, &stop.x, bounds, m) > OFFSET
    {
        let left = control.max_evaluations.saturating_sub(stop.evaluations);
        if restarts == RESTARTS || left == 0 {
            stop.reason = Reason::Stalled;
            break;
        }
        restarts += 1;
        let again = Control {
            max_evaluations: left,
            ..*control
        };
        let (evaluations, iterations) = (stop.evaluations, stop.iterations);
        let x = stop.x.clone();
        let mut next = trust_region(problem, &x, bounds, &again, stop.at, &mut trial)?;
        next.evaluations += evaluations;
        next.iterations += iterations;
        stop = next;
    }
    if stop.reason.converged() {
        polish(problem, &mut stop, bounds, control, &mut trial);
        let mut evaluations = stop.evaluations;
        let moved = stop.x != x0;
        if saddle(
            problem,
            &stop.x,
            moved,
            &stop.at,
            bounds,
            &mut trial,
            &mut evaluations,
        ) {
            stop.reason = Reason::Saddle;
        }
        stop.evaluations = evaluations;
    }
    Ok(stop)
}

/// The largest relative offset ([`offset`]) at which an ftol or xtol stop
/// is a minimum: a full Gauss–Newton step would remove at most 10⁻⁴ of the
/// sum. At the 54 NIST runs' stops it is at most 1.2·10⁻³ (Lanczos1, whose
/// residuals are rounding error), mostly below 10⁻⁷; where the trust
/// region collapsed in the valley of `a·exp(−b·t) + c` towards b → 0, it
/// was 0.95.
const OFFSET: f64 = 1e-2;

/// A sum within this many times its rounding error ([`Residuals::rounding`])
/// is rounding: its residuals are noise at the last bits of the data and
/// the model (data on the curve, NIST's Lanczos1), and their offset
/// means nothing.
const ROUNDING: f64 = 1000.0;

/// Restarts of the trust region from an ftol or xtol stop whose offset is
/// above [`OFFSET`], before the run is reported stalled.
const RESTARTS: usize = 5;

/// The relative offset of Bates and Watts (1981): the share of the
/// residual vector in the span of the free columns of the Jacobian,
/// `‖Q₁ᵀf̃‖/‖f̃‖`, over the columns its numerical rank keeps. It is the
/// cosine between the residuals and the Gauss–Newton step's image: 0 at a
/// stationary point, and free of the scales of the data and the
/// parameters. Variables on a bound whose gradient points out are held.
fn offset(at: &Accumulator, x: &[f64], bounds: &[(f64, f64)], m: usize) -> f64 {
    let n = x.len();
    let gradient = gradient(at, n);
    let free: Vec<usize> = (0..n)
        .filter(|&j| {
            let (lo, hi) = bounds[j];
            !(lo == hi || (x[j] <= lo && gradient[j] > 0.0) || (x[j] >= hi && gradient[j] < 0.0))
        })
        .collect();
    let ft_norm = at.ft_squares.sqrt();
    if free.is_empty() || ft_norm == 0.0 {
        return 0.0;
    }
    // The span of J's free columns, each scaled to unit norm: the rank
    // then reads directions, not units (a column 10⁻⁴⁰ the size of the
    // others still counts).
    let nf = free.len();
    let mut a = vec![0.0; n * nf];
    for (k, &j) in free.iter().enumerate() {
        let column = at.r_column(j);
        let size = norm(column);
        for (i, v) in column.iter().enumerate() {
            a[k * n + i] = if size > 0.0 { v / size } else { 0.0 };
        }
    }
    let mut qtf = at.qtf().to_vec();
    let qr = qrfac(&mut a, n, nf, &mut qtf);
    let rank = qr.rank(m);
    norm(&qr.qtf[..rank]) / ft_norm
}

/// Gauss–Newton steps from a converged point, while they shrink.
///
/// Why: the trust region's tests read the cost, and near a minimum the
/// cost changes by (δp/σ)²/dof relative to itself for a step δp in units
/// of the standard error σ; double precision resolves that down to
/// δp/σ ≈ √(ε·dof), 10⁻⁷ for a few hundred rows. So MINPACK's loop
/// stops, correctly, where the cost stops changing, with the parameters
/// still 10⁻⁷σ from the minimum: on NIST's ENSO that was 6.5 correct
/// digits. The Gauss–Newton step itself, solved from R and Qᵀr, has
/// no such cancellation, so steps that keep shrinking (each by at least a
/// tenth) are taken while the cost stays within its rounding error of
/// where it was. On the 54 NIST runs this lifted the mean LRE of the parameters
/// from 9.17 to 10.74, and the least from 6.4 to 10.3. The bound on the
/// cost's rounding matters: with a fixed 64ε, Lanczos3's steps were
/// refused (its cost rose by 1e-12, within its rounding).
fn polish(
    problem: &mut dyn Residuals,
    stop: &mut Stop,
    bounds: &[(f64, f64)],
    control: &Control,
    trial: &mut Accumulator,
) {
    let (m, n) = (problem.rows(), problem.params());
    let mut rounding = stop.rounding;
    let mut last_step = f64::INFINITY;
    for _ in 0..POLISH_STEPS {
        if stop.evaluations >= control.max_evaluations {
            return;
        }
        // Only variables off their bounds move.
        let free: Vec<usize> = (0..n)
            .filter(|&j| bounds[j].0 < stop.x[j] && stop.x[j] < bounds[j].1)
            .collect();
        let nf = free.len();
        if nf == 0 {
            return;
        }
        let qr = factor(&stop.at, &free, n);
        if qr.rank(m) < nf {
            return;
        }
        // R z = Qᵀf; the step is -P z.
        let mut z = qr.qtf.clone();
        for k in (0..nf).rev() {
            z[k] /= qr.at(k, k);
            for i in 0..k {
                z[i] -= qr.at(i, k) * z[k];
            }
        }
        let mut x_trial = stop.x.clone();
        let (mut step, mut size) = (0.0_f64, 0.0_f64);
        for (k, &zk) in z.iter().enumerate() {
            let j = free[qr.perm[k]];
            x_trial[j] = (stop.x[j] - zk).clamp(bounds[j].0, bounds[j].1);
            let d = qr.col_norms[qr.perm[k]];
            step += (d * (x_trial[j] - stop.x[j])).powi(2);
            size += (d * stop.x[j]).powi(2);
        }
        // A step at the rounding of x itself changes nothing worth a pass.
        let step = step.sqrt();
        if step <= 8.0 * f64::EPSILON * size.sqrt()
            || step > 0.9 * last_step
            || step > 1e-6 * size.sqrt().max(f64::MIN_POSITIVE)
        {
            return;
        }
        stop.evaluations += 1;
        if !pass(problem, &x_trial, trial) {
            return;
        }
        // Not above the cost by more than either value's rounding (with a
        // margin of 4 for the model's own rounding, which the bound leaves
        // out).
        let rounding_trial = problem.rounding();
        if trial.cost2 > stop.at.cost2 + 4.0 * (rounding + rounding_trial) {
            return;
        }
        rounding = rounding_trial;
        stop.x = x_trial;
        stop.rounding = rounding;
        last_step = step;
        std::mem::swap(&mut stop.at, trial);
    }
}

/// Gauss–Newton polishing steps at most; each must halve the last, so
/// a few suffice to reach rounding.
const POLISH_STEPS: usize = 40;

/// MINPACK's loop: the trust region and its three tests.
/// `at` and `trial` are the accumulators of the passes (`at` is moved
/// into the [`Stop`]); an `Err` if the residuals or their sum of squares
/// are not finite at `x0`.
fn trust_region(
    problem: &mut dyn Residuals,
    x0: &[f64],
    bounds: &[(f64, f64)],
    control: &Control,
    mut at: Accumulator,
    trial: &mut Accumulator,
) -> Result<Stop, Reason> {
    let n = problem.params();
    let eps = f64::EPSILON;
    let mut x = x0.to_vec();
    let mut evaluations = 1;
    // Finite residuals whose sum of squares overflows fail too: with an
    // infinite cost every cosine of the gradient test is 0, and the start
    // was reported converged.
    if !(pass(problem, &x, &mut at) && at.cost2.is_finite() && at.ft_squares.is_finite()) {
        return Err(Reason::Diverged);
    }
    let mut rounding = problem.rounding();
    let stop = |x: &[f64], reason, iterations, evaluations, at, rounding| Stop {
        x: x.to_vec(),
        reason,
        iterations,
        evaluations,
        at,
        rounding,
    };
    let mut fnorm = at.cost2.sqrt();
    let mut diag = vec![0.0; n];
    let mut delta = 0.0;
    let mut xnorm = 0.0;
    let mut par = 0.0;
    let mut iterations = 0;
    let mut p = vec![0.0; n];
    loop {
        iterations += 1;
        // Hold variables at a bound whose gradient points out of the box.
        let gradient = gradient(&at, n);
        let free: Vec<usize> = (0..n)
            .filter(|&j| {
                let (lo, hi) = bounds[j];
                !(lo == hi
                    || (x[j] <= lo && gradient[j] > 0.0)
                    || (x[j] >= hi && gradient[j] < 0.0))
            })
            .collect();
        let nf = free.len();
        if nf == 0 {
            return Ok(stop(
                &x,
                Reason::Gtol,
                iterations,
                evaluations,
                at,
                rounding,
            ));
        }
        let ft_norm = at.ft_squares.sqrt();
        let mut qr = factor(&at, &free, n);
        if iterations == 1 {
            for j in 0..n {
                diag[j] = 1.0;
            }
            for (k, &j) in free.iter().enumerate() {
                if qr.col_norms[k] != 0.0 {
                    diag[j] = qr.col_norms[k];
                }
            }
            xnorm = scaled_norm(&diag, &x);
            delta = if xnorm == 0.0 { 100.0 } else { 100.0 * xnorm };
        }
        // The largest cosine between the residual and a column of J.
        let mut gnorm = 0.0_f64;
        if ft_norm != 0.0 {
            for k in 0..nf {
                let l = qr.perm[k];
                if qr.col_norms[l] != 0.0 {
                    let sum: f64 = (0..=k).map(|i| qr.at(i, k) * (qr.qtf[i] / ft_norm)).sum();
                    gnorm = gnorm.max((sum / qr.col_norms[l]).abs());
                }
            }
        }
        if gnorm <= control.gtol {
            return Ok(stop(
                &x,
                Reason::Gtol,
                iterations,
                evaluations,
                at,
                rounding,
            ));
        }
        for (k, &j) in free.iter().enumerate() {
            diag[j] = diag[j].max(qr.col_norms[k]);
        }
        let diag_free: Vec<f64> = free.iter().map(|&j| diag[j]).collect();
        let mut p_free = vec![0.0; nf];
        loop {
            par = lmpar(&mut qr, &diag_free, delta, par, &mut p_free);
            // The trial point, clipped into the box, and the step taken.
            let mut x_trial = x.clone();
            p.fill(0.0);
            for (k, &j) in free.iter().enumerate() {
                let (lo, hi) = bounds[j];
                x_trial[j] = (x[j] + p_free[k]).clamp(lo, hi);
                p[j] = x_trial[j] - x[j];
                p_free[k] = p[j];
            }
            let pnorm = scaled_norm(&diag, &p);
            if iterations == 1 {
                delta = delta.min(pnorm);
            }
            evaluations += 1;
            let fnorm1 = match pass(problem, &x_trial, trial) {
                true => trial.cost2.sqrt(),
                false => f64::INFINITY,
            };
            let actred = match 0.1 * fnorm1 < fnorm {
                true => 1.0 - (fnorm1 / fnorm).powi(2),
                false => -1.0,
            };
            // Predicted reduction and directional derivative, relative to
            // the cost, for the step taken: -2gᵀp - ‖Jp‖² and gᵀp.
            let jp2 = (qr.norm_jp(&p_free) / fnorm).powi(2);
            let gp = qr.f_dot_jp(&p_free) / fnorm / fnorm;
            let prered = (-2.0 * gp - jp2).max(0.0);
            let dirder = gp;
            let ratio = if prered != 0.0 { actred / prered } else { 0.0 };
            if ratio <= 0.25 {
                let mut temp = match actred >= 0.0 {
                    true => 0.5,
                    false => 0.5 * dirder / (dirder + 0.5 * actred),
                };
                // MINPACK's quadratic along the step assumes it descends;
                // a step clipped by a bound may not (the rest of the
                // Levenberg–Marquardt step was solved with the clipped part
                // moving), and then the fit through an ascent grew the
                // region again and the loop cycled: shrink it instead, until
                // the step is short enough to stay unclipped.
                if 0.1 * fnorm1 >= fnorm || temp < 0.1 || !temp.is_finite() || dirder >= 0.0 {
                    temp = 0.1;
                }
                delta = temp * delta.min(pnorm / 0.1);
                par /= temp;
            } else if par == 0.0 || ratio >= 0.75 {
                delta = pnorm / 0.5;
                par *= 0.5;
            }
            // A step to a point where a residual is not finite has an
            // infinite fnorm1, so actred -1 and no acceptance.
            let accepted = ratio >= 1e-4;
            if accepted {
                x = x_trial;
                std::mem::swap(&mut at, trial);
                rounding = problem.rounding();
                xnorm = scaled_norm(&diag, &x);
                fnorm = fnorm1;
            }
            let reduced =
                actred.abs() <= control.ftol && prered <= control.ftol && 0.5 * ratio <= 1.0;
            let short = delta <= control.xtol * xnorm;
            let reason = if fnorm == 0.0 || reduced {
                Some(Reason::Ftol)
            } else if short {
                Some(Reason::Xtol)
            } else if evaluations >= control.max_evaluations {
                Some(Reason::MaxIter)
            // Tolerances below what double precision can resolve: the run
            // is as close as it can get (MINPACK's info 6, 7 and 8).
            } else if actred.abs() <= eps && prered <= eps && 0.5 * ratio <= 1.0 {
                Some(Reason::Ftol)
            } else if delta <= eps * xnorm {
                Some(Reason::Xtol)
            } else if gnorm <= eps {
                Some(Reason::Gtol)
            } else {
                None
            };
            if let Some(reason) = reason {
                return Ok(stop(&x, reason, iterations, evaluations, at, rounding));
            }
            if accepted {
                break;
            }
        }
    }
}

/// `‖D v‖`.
fn scaled_norm(diag: &[f64], v: &[f64]) -> f64 {
    let w: Vec<f64> = diag.iter().zip(v).map(|(d, x)| d * x).collect();
    norm(&w)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rᵢ = yᵢ − a·exp(−b·tᵢ), recording every point it is evaluated at.
    struct Decay {
        t: Vec<f64>,
        y: Vec<f64>,
        seen: Vec<Vec<f64>>,
    }

    impl Residuals for Decay {
        fn rows(&self) -> usize {
            self.t.len()
        }
        fn params(&self) -> usize {
            2
        }
        fn eval(&mut self, x: &[f64], sink: &mut dyn RowSink) -> bool {
            self.seen.push(x.to_vec());
            for (t, y) in self.t.iter().zip(&self.y) {
                let e = (-x[1] * t).exp();
                sink.row(y - x[0] * e, &[-e, x[0] * t * e]);
            }
            true
        }
        fn rounding(&self) -> f64 {
            0.0
        }
    }

    fn control() -> Control {
        Control {
            ftol: 1e-15,
            xtol: 1e-15,
            gtol: 1e-15,
            max_evaluations: 1000,
            loss: Loss::Linear,
            f_scale: 1.0,
            factorization: Factorization::default(),
        }
    }

    fn decay() -> Decay {
        let t: Vec<f64> = (0..20).map(|i| i as f64 * 0.5).collect();
        let y = t.iter().map(|t| 3.0 * (-0.3 * t).exp()).collect();
        Decay {
            t,
            y,
            seen: Vec::new(),
        }
    }

    /// Exact data: the fit recovers the parameters to rounding.
    #[test]
    fn recovers_exact_parameters() {
        let mut problem = decay();
        let stop = levenberg_marquardt(
            &mut problem,
            &[1.0, 1.0],
            &[(f64::NEG_INFINITY, f64::INFINITY); 2],
            &control(),
        )
        .unwrap_or_else(|_| panic!("finite"));
        assert!(stop.reason.converged(), "{:?}", stop.reason);
        assert!(
            (stop.x[0] - 3.0).abs() < 1e-12 && (stop.x[1] - 0.3).abs() < 1e-12,
            "{:?}",
            stop.x
        );
    }

    /// The minimum lies outside the box (b = 0.3 < 0.5): every point
    /// evaluated is inside it, and the fit ends on the bound.
    #[test]
    fn iterates_stay_in_the_box() {
        let mut problem = decay();
        let bounds = [(0.0, 10.0), (0.5, 1.0)];
        let stop = levenberg_marquardt(&mut problem, &[1.0, 0.9], &bounds, &control())
            .unwrap_or_else(|_| panic!("finite"));
        for x in &problem.seen {
            for (v, (lo, hi)) in x.iter().zip(bounds) {
                assert!(lo <= *v && *v <= hi, "{x:?} left the box");
            }
        }
        assert!(stop.reason.converged(), "{:?}", stop.reason);
        assert_eq!(stop.x[1], 0.5);
    }
}
