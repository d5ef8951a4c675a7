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
//!   own.
//! - A residual that is not finite at a trial point rejects the step (Δ
//!   shrinks) instead of poisoning the run.

// The loops index several arrays in step, as MINPACK writes them: kept
// that way so the code reads against the published algorithm.
#![allow(clippy::needless_range_loop)]

use super::lmpar::lmpar;
use super::loss::Loss;
use super::qr::{Qr, norm, qrfac};
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
}

/// Where the loop stopped.
pub(crate) struct Stop {
    pub x: Vec<f64>,
    pub reason: Reason,
    pub iterations: usize,
    pub evaluations: usize,
    /// At `x`, for the statistics: the raw residuals, R of the
    /// loss-rescaled Jacobian (p×p column-major) and the minimised sum
    /// ΣC²ρ. Empty from [`trust_region`].
    pub f: Vec<f64>,
    pub r: Vec<f64>,
    pub cost2: f64,
}

/// One pass at `x`: R and Qᵀf̃ of the rescaled rows, Σ C²ρ and ‖f̃‖, and
/// the raw residuals if `keep`. `None` if a value is not finite.
pub(crate) struct Pass {
    r: Vec<f64>,
    qtf: Vec<f64>,
    cost2: f64,
    ft_norm: f64,
    kept: Option<Vec<f64>>,
}

fn pass(problem: &mut dyn Residuals, x: &[f64], control: &Control, keep: bool) -> Option<Pass> {
    let (m, n) = (problem.rows(), problem.params());
    let mut acc = Accumulator::new(n, control.loss, control.f_scale, keep.then_some(m));
    if !problem.eval(x, &mut acc) {
        return None;
    }
    let (cost2, ft_norm, kept) = (acc.cost2, acc.ft_squares.sqrt(), acc.kept.take());
    let (r, qtf) = acc.finish();
    Some(Pass {
        r,
        qtf,
        cost2,
        ft_norm,
        kept,
    })
}

/// The pivoted QR of the columns `free` of J, from J's R: `J[:, free] =
/// Q R[:, free]`, so a QR of the p×|free| matrix `R[:, free]` is one of
/// `J[:, free]`, with the same column norms.
fn factor(pass: &Pass, free: &[usize], n: usize) -> Qr {
    let nf = free.len();
    let mut a = vec![0.0; n * nf];
    for (k, &j) in free.iter().enumerate() {
        a[k * n..(k + 1) * n].copy_from_slice(&pass.r[j * n..(j + 1) * n]);
    }
    let mut qtf = pass.qtf.clone();
    qrfac(&mut a, n, nf, &mut qtf)
}

/// Jᵀf̃ = Rᵀ(Qᵀf̃).
fn gradient(pass: &Pass, n: usize) -> Vec<f64> {
    (0..n)
        .map(|j| (0..=j).map(|i| pass.r[i + j * n] * pass.qtf[i]).sum())
        .collect()
}

/// Minimises the cost of `problem`'s residuals from `x0` inside
/// `bounds` (`x0` must lie inside), then polishes a converged point with
/// Gauss–Newton steps ([`polish`]). An `Err` only if the residuals are not
/// finite at `x0`.
pub(crate) fn levenberg_marquardt(
    problem: &mut dyn Residuals,
    x0: &[f64],
    bounds: &[(f64, f64)],
    control: &Control,
) -> Result<Stop, Stop> {
    let mut stop = trust_region(problem, x0, bounds, control)?;
    if stop.reason.converged() {
        polish(problem, &mut stop, bounds, control);
    }
    // The pass the statistics read, not counted as one of the solver's.
    let x = stop.x.clone();
    if let Some(at) = pass(problem, &x, control, true) {
        stop.r = at.r;
        stop.cost2 = at.cost2;
        stop.f = at.kept.unwrap_or_default();
    }
    Ok(stop)
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
fn polish(problem: &mut dyn Residuals, stop: &mut Stop, bounds: &[(f64, f64)], control: &Control) {
    let (m, n) = (problem.rows(), problem.params());
    stop.evaluations += 1;
    let Some(mut at) = pass(problem, &stop.x, control, false) else {
        return;
    };
    let mut rounding = problem.rounding();
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
        let qr = factor(&at, &free, n);
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
        let Some(trial) = pass(problem, &x_trial, control, false) else {
            return;
        };
        // Not above the cost by more than either value's rounding (with a
        // margin of 4 for the model's own rounding, which the bound leaves
        // out).
        let rounding_trial = problem.rounding();
        if trial.cost2 > at.cost2 + 4.0 * (rounding + rounding_trial) {
            return;
        }
        rounding = rounding_trial;
        stop.x = x_trial;
        last_step = step;
        at = trial;
    }
}

/// Gauss–Newton polishing steps at most; each must halve the last, so
/// a few suffice to reach rounding.
const POLISH_STEPS: usize = 40;

/// MINPACK's loop: the trust region and its three tests.
fn trust_region(
    problem: &mut dyn Residuals,
    x0: &[f64],
    bounds: &[(f64, f64)],
    control: &Control,
) -> Result<Stop, Stop> {
    let n = problem.params();
    let eps = f64::EPSILON;
    let mut x = x0.to_vec();
    let mut evaluations = 1;
    let stop = |x: Vec<f64>, reason, iterations, evaluations| Stop {
        x,
        reason,
        iterations,
        evaluations,
        f: Vec::new(),
        r: Vec::new(),
        cost2: f64::NAN,
    };
    let Some(mut at) = pass(problem, &x, control, false) else {
        return Err(stop(x, Reason::Diverged, 0, evaluations));
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
            return Ok(stop(x, Reason::Gtol, iterations, evaluations));
        }
        let ft_norm = at.ft_norm;
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
            return Ok(stop(x, Reason::Gtol, iterations, evaluations));
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
            let trial = pass(problem, &x_trial, control, false);
            let fnorm1 = trial.as_ref().map_or(f64::INFINITY, |t| t.cost2.sqrt());
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
            let accepted = ratio >= 1e-4;
            if accepted && let Some(trial) = trial {
                x = x_trial;
                at = trial;
                xnorm = scaled_norm(&diag, &x);
                fnorm = fnorm1;
            }
            let reduced =
                actred.abs() <= control.ftol && prered <= control.ftol && 0.5 * ratio <= 1.0;
            let short = delta <= control.xtol * xnorm;
            let done = |reason| Ok(stop(x.clone(), reason, iterations, evaluations));
            if fnorm == 0.0 {
                return done(Reason::Ftol);
            }
            if reduced {
                return done(Reason::Ftol);
            }
            if short {
                return done(Reason::Xtol);
            }
            if evaluations >= control.max_evaluations {
                return done(Reason::MaxIter);
            }
            // Tolerances below what double precision can resolve: the run
            // is as close as it can get (MINPACK's info 6, 7 and 8).
            if actred.abs() <= eps && prered <= eps && 0.5 * ratio <= 1.0 {
                return done(Reason::Ftol);
            }
            if delta <= eps * xnorm {
                return done(Reason::Xtol);
            }
            if gnorm <= eps {
                return done(Reason::Gtol);
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
