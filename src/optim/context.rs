//! What a method's step may use besides its own state: the objective,
//! called directly where it has compiled code and counted, the settings
//! and the box, and what the end-of-run tests' probes found.

use super::Settings;
use super::stopped_short::Probe;
use crate::objective::{Direct, Objective};

/// What a step may use besides its own state: the objective (counted) and
/// the settings.
pub(crate) struct Context<'a> {
    pub objective: &'a mut dyn Objective,
    pub settings: &'a Settings,
    /// The objective's [`Objective::evaluations_per_gradient`], asked once
    /// rather than on every gradient.
    pub(super) per_gradient: usize,
    /// The objective's compiled code, called without going through
    /// `objective` when it has some.
    pub(super) direct: Option<Direct>,
    pub(super) evaluations: usize,
    pub(super) gradient_evaluations: usize,
    pub(super) hessian_evaluations: usize,
    /// Whether an evaluation since the last iteration began gave f = −∞
    /// (a trial of a line search that then failed, say): f has no lower
    /// bound there.
    pub(super) fell_to_minus_infinity: bool,
    /// Whether an evaluation since the last iteration began gave f = NaN:
    /// a trial left the formula's domain (overflow gives ±∞, not NaN).
    pub(super) left_the_domain: bool,
    /// The step the last iteration took as a fraction of its method's
    /// full step: Newton's and L-BFGS's line searches set it, 1 otherwise
    /// (the relative-reduction test reads it where `lr` is below 1).
    pub step_fraction: f64,
    /// The lowest point the end-of-run tests' probes evaluated
    /// ([`Context::probe`]), where a run may go on from.
    pub(super) lowest_probe: Option<Probe>,
}

impl<'a> Context<'a> {
    /// A run's context: nothing counted yet, the objective's compiled code
    /// taken for direct calls where it has some.
    pub fn new(objective: &'a mut dyn Objective, settings: &'a Settings) -> Context<'a> {
        Context {
            per_gradient: objective.evaluations_per_gradient(),
            direct: Direct::of(objective),
            objective,
            settings,
            evaluations: 0,
            gradient_evaluations: 0,
            hessian_evaluations: 0,
            fell_to_minus_infinity: false,
            left_the_domain: false,
            step_fraction: 1.0,
            lowest_probe: None,
        }
    }

    pub fn value_grad(&mut self, x: &[f64], grad: &mut [f64]) -> f64 {
        self.count_gradients(1);
        let f = match &self.direct {
            Some(direct) => direct.value_grad(x, grad),
            None => self.objective.value_grad(x, grad),
        };
        // One test on the hot path; the two flags only where f is not finite.
        if !f.is_finite() {
            self.fell_to_minus_infinity |= f == f64::NEG_INFINITY;
            self.left_the_domain |= f.is_nan();
        }
        f
    }

    /// f and its gradient at a point an end-of-run test probes, as
    /// [`Context::value_grad`]; the lowest such point is kept, for a run
    /// stopped short of the minimum to go on from (`minimize.rs`).
    pub fn probe(&mut self, x: &[f64], grad: &mut [f64]) -> f64 {
        let f = self.value_grad(x, grad);
        if f < self.lowest_probe.as_ref().map_or(f64::INFINITY, |p| p.f) {
            self.lowest_probe = Some(Probe {
                x: x.to_vec(),
                f,
                grad: grad.to_vec(),
            });
        }
        f
    }

    /// The dense Hessian, counted once in the evaluations and once in the
    /// Hessians if the objective has one.
    pub fn hessian(&mut self, x: &[f64], hessian: &mut [f64]) -> bool {
        let ok = self.objective.hessian(x, hessian);
        self.count_hessians(ok as usize);
        ok
    }

    /// The sparse Hessian's entries, in its pattern's order, counted as
    /// [`Context::hessian`] is (one Hessian, though it costs a few
    /// products).
    pub fn sparse_hessian_values(&mut self, x: &[f64], values: &mut [f64]) -> bool {
        let ok = self.objective.sparse_hessian_values(x, values);
        self.count_hessians(ok as usize);
        ok
    }

    /// `H(x)·v`, counted as [`Context::hessian`] is: a product costs about
    /// a gradient, and `hessian_evaluations` counts products too.
    pub fn hess_vec(&mut self, x: &[f64], v: &[f64], out: &mut [f64]) -> bool {
        let ok = self.objective.hess_vec(x, v, out);
        self.count_hessians(ok as usize);
        ok
    }

    fn count_hessians(&mut self, k: usize) {
        self.evaluations += k;
        self.hessian_evaluations += k;
    }

    /// Counts a Hessian-vector product taken by differences of the
    /// gradient (whose gradients are counted as they are taken).
    pub fn count_differenced_product(&mut self) {
        self.hessian_evaluations += 1;
    }

    /// Whether a gradient is exact (one evaluation), not differenced.
    pub fn exact_gradient(&self) -> bool {
        self.per_gradient == 1
    }

    /// Counts `k` value+gradient evaluations done elsewhere (natively).
    pub fn count_gradients(&mut self, k: usize) {
        self.evaluations += k * self.per_gradient;
        self.gradient_evaluations += k;
    }

    /// The box the run is held in, if any.
    pub fn bounds(&self) -> Option<&'a [(f64, f64)]> {
        self.settings.constraints()
    }

    /// Clamps `x` into the bounds, if any.
    pub fn project(&self, x: &mut [f64]) {
        if let Some(bounds) = self.bounds() {
            for (xi, &(lo, hi)) in x.iter_mut().zip(bounds) {
                *xi = xi.clamp(lo, hi);
            }
        }
    }
}
