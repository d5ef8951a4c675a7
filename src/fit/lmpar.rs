//! Moré's search for the Levenberg–Marquardt parameter λ (MINPACK's
//! `lmpar`): given the trust-region radius Δ, find λ ≥ 0 such that the
//! step `p(λ)` solving `min ‖J p + f‖² + λ‖D p‖²` has `‖D p‖` within 10%
//! of Δ, or λ = 0 if the Gauss–Newton step already fits inside.
//!
//! The function φ(λ) = ‖D p(λ)‖ − Δ is convex and decreasing; Newton's
//! method on it (with the derivative from one triangular solve) is kept
//! inside safeguarding bounds [λₗ, λᵤ] that shrink each step, and stops
//! after 10 tries, which MINPACK found to be ample (two or three are
//! typical).

// The loops index several arrays in step, as MINPACK writes them: kept
// that way so the code reads against the published algorithm.
#![allow(clippy::needless_range_loop)]

use super::qr::{Qr, norm, qrsolv};

/// Returns λ and writes the step to `p` (the step solves `J p ≈ -f`: its
/// sign is already that of a descent step). `par` is the previous λ, the
/// starting guess.
pub(crate) fn lmpar(qr: &mut Qr, diag: &[f64], delta: f64, par: f64, p: &mut [f64]) -> f64 {
    let n = qr.n;
    let dwarf = f64::MIN_POSITIVE;
    let mut wa1 = vec![0.0; n];
    let mut wa2 = vec![0.0; n];
    let mut sdiag = vec![0.0; n];
    // The Gauss–Newton direction, least squares if R is singular.
    let nsing = (0..n).position(|j| qr.at(j, j) == 0.0).unwrap_or(n);
    wa1[..nsing].copy_from_slice(&qr.qtf[..nsing]);
    for k in (0..nsing).rev() {
        wa1[k] /= qr.at(k, k);
        let temp = wa1[k];
        for i in 0..k {
            wa1[i] -= qr.at(i, k) * temp;
        }
    }
    for j in 0..n {
        p[qr.perm[j]] = wa1[j];
    }
    for j in 0..n {
        wa2[j] = diag[j] * p[j];
    }
    let mut dxnorm = norm(&wa2);
    let mut fp = dxnorm - delta;
    if fp <= 0.1 * delta {
        negate(p);
        return 0.0;
    }
    // A lower bound λₗ from the Newton step at λ = 0 (zero if singular).
    let mut parl = 0.0;
    if nsing == n {
        for j in 0..n {
            let l = qr.perm[j];
            wa1[j] = diag[l] * (wa2[l] / dxnorm);
        }
        for j in 0..n {
            let sum: f64 = (0..j).map(|i| qr.at(i, j) * wa1[i]).sum();
            wa1[j] = (wa1[j] - sum) / qr.at(j, j);
        }
        let temp = norm(&wa1);
        parl = ((fp / delta) / temp) / temp;
    }
    // An upper bound λᵤ from the gradient.
    for j in 0..n {
        let sum: f64 = (0..=j).map(|i| qr.at(i, j) * qr.qtf[i]).sum();
        wa1[j] = sum / diag[qr.perm[j]];
    }
    let gnorm = norm(&wa1);
    let mut paru = gnorm / delta;
    if paru == 0.0 {
        paru = dwarf / delta.min(0.1);
    }
    let mut par = par.max(parl).min(paru);
    if par == 0.0 {
        par = gnorm / dxnorm;
    }
    for iter in 1..=10 {
        if par == 0.0 {
            par = dwarf.max(0.001 * paru);
        }
        let s = par.sqrt();
        for j in 0..n {
            wa1[j] = s * diag[j];
        }
        qrsolv(qr, &wa1, p, &mut sdiag);
        for j in 0..n {
            wa2[j] = diag[j] * p[j];
        }
        dxnorm = norm(&wa2);
        let previous = fp;
        fp = dxnorm - delta;
        // Close enough to Δ, or λₗ = 0 and φ rising toward a step inside Δ
        // (λ = 0's step fits: it is as good as any), or out of tries.
        if fp.abs() <= 0.1 * delta
            || (parl == 0.0 && fp <= previous && previous < 0.0)
            || iter == 10
        {
            break;
        }
        // Newton's correction, through the factor S of the damped system.
        for j in 0..n {
            let l = qr.perm[j];
            wa1[j] = diag[l] * (wa2[l] / dxnorm);
        }
        for j in 0..n {
            wa1[j] /= sdiag[j];
            let temp = wa1[j];
            for i in j + 1..n {
                wa1[i] -= qr.at(i, j) * temp;
            }
        }
        let temp = norm(&wa1);
        let parc = ((fp / delta) / temp) / temp;
        if fp > 0.0 {
            parl = parl.max(par);
        }
        if fp < 0.0 {
            paru = paru.min(par);
        }
        par = parl.max(par + parc);
    }
    negate(p);
    par
}

fn negate(p: &mut [f64]) {
    for v in p {
        *v = -*v;
    }
}
