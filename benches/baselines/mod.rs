//! Hand-written baselines shared by the benchmarks.

// Each bench uses some of these modules: benches/optim.rs and
// benches/indexed.rs run `lbfgs`, benches/gradients.rs and
// benches/call_counts.rs time or count `formulas`.
#[allow(dead_code)]
pub mod formulas;
#[allow(dead_code)]
pub mod lbfgs;

/// The expanded Rosenbrock function's value, with its gradient written to
/// `grad`: the loop a good engineer would write.
pub fn rosenbrock(x: &[f64], grad: &mut [f64]) -> f64 {
    grad.fill(0.0);
    let mut f = 0.0;
    for i in 0..x.len() - 1 {
        let t = x[i + 1] - x[i] * x[i];
        let s = 1.0 - x[i];
        f += 100.0 * t * t + s * s;
        grad[i] += -400.0 * x[i] * t - 2.0 * s;
        grad[i + 1] += 200.0 * t;
    }
    f
}
