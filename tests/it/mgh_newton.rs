//! Newton's method at n = 10⁴ on the Moré–Garbow–Hillstrom chained
//! problems of `mgh_indexed.rs` (the same formulas and standard starts):
//! their Hessians are banded, so each step factorises the sparse
//! Hessian's envelope (a few compiled products a step), and must reach
//! the minimum each problem is known to have. A box on extended
//! Rosenbrock holds the run and is reported as active, as L-BFGS-B
//! reports it.
//!
//! `cargo test --test it mgh_newton -- --nocapture` prints each run.

use slope::optim::Bound;
use slope::{Formula, Method, Settings, testfns};

use crate::mgh_indexed::{
    BROYDEN_TRIDIAGONAL, DISCRETE_BOUNDARY_VALUE, EXTENDED_POWELL, EXTENDED_ROSENBROCK,
    TRIGONOMETRIC, formula, run,
};

const N: usize = 10_000;

fn newton() -> Settings {
    Settings::new(Method::newton())
}

/// The largest `|xᵢ - target|`.
fn distance(x: &[f64], target: f64) -> f64 {
    x.iter().fold(0.0, |m, v| m.max((v - target).abs()))
}

fn rosenbrock_start() -> Vec<f64> {
    (1..=N)
        .map(|j| if j % 2 == 1 { -1.2 } else { 1.0 })
        .collect()
}

#[test]
fn extended_rosenbrock() {
    let f = formula(EXTENDED_ROSENBROCK, &[]);
    let out = run("extended Rosenbrock", &f, &rosenbrock_start(), &newton());
    assert!(out.converged(), "{}", out.message);
    // Stopped by gtol = 1e-5 with a regular Hessian, f is about ½ gᵀH⁻¹g:
    // 2e-13 on the compiled products (1e-24 on differenced ones, whose last
    // step happened to overshoot the test).
    assert!(out.f <= 1e-11, "f = {:e}", out.f);
    assert!(distance(&out.x, 1.0) <= 1e-5);
    // Products, never an n × n matrix: more of them than iterations.
    assert!(out.hessian_evaluations > out.iterations);
}

/// The Hessian is singular at the minimum, so Newton converges there
/// linearly, as L-BFGS does (`mgh_indexed.rs`), and needs gtol = 1e-12;
/// f falls like |x|⁴ along the singular directions, so f = 1e-13 is x
/// within 1e-3 of the origin.
#[test]
fn extended_powell_singular() {
    let f = formula(EXTENDED_POWELL, &[]);
    let x0: Vec<f64> = (0..N).map(|j| [3.0, -1.0, 0.0, 1.0][j % 4]).collect();
    let settings = Settings {
        gtol: 1e-12,
        ..newton()
    };
    let out = run("extended Powell", &f, &x0, &settings);
    assert!(out.converged(), "{}", out.message);
    assert!(out.f <= 1e-13, "f = {:e}", out.f);
    assert!(distance(&out.x, 0.0) <= 1e-3);
}

#[test]
fn broyden_tridiagonal() {
    let f = formula(BROYDEN_TRIDIAGONAL, &[]);
    let out = run("Broyden tridiagonal", &f, &vec![-1.0; N], &newton());
    assert!(out.converged(), "{}", out.message);
    assert!(out.f <= 1e-14, "f = {:e}", out.f);
}

/// The standard start is within f = 1.3e-12 of the minimum and
/// cond(JᵀJ) ≈ 10¹⁴ (see `mgh_indexed.rs`): one Newton step, whose
/// conjugate gradients run to their limit of 2n + 10 products without
/// meeting the forcing term, takes f below the start's and the gradient
/// below gtol.
#[test]
fn discrete_boundary_value() {
    let f = formula(DISCRETE_BOUNDARY_VALUE, &[]);
    let h = 1.0 / (N as f64 + 1.0);
    let x0: Vec<f64> = (1..=N)
        .map(|j| {
            let t = j as f64 * h;
            t * (t - 1.0)
        })
        .collect();
    let f0 = f.eval(&x0);
    let out = run("discrete boundary value", &f, &x0, &newton());
    assert!(out.converged(), "{}", out.message);
    assert!(out.f < f0, "f = {:e} from {f0:e}", out.f);
}

/// Many local minima: from the standard start Newton must end at a
/// stationary point well below it (L-BFGS ends at f = 2.19e-8).
#[test]
fn trigonometric() {
    let f = formula(TRIGONOMETRIC, &[]);
    let x0 = vec![1.0 / N as f64; N];
    let f0 = f.eval(&x0);
    let out = run("trigonometric", &f, &x0, &newton());
    assert!(out.converged(), "{}", out.message);
    assert!(out.f <= 1e-2 * f0, "f = {:e} from {f0:e}", out.f);
    assert!(out.grad_norm <= 1e-6, "gradient {:e}", out.grad_norm);
}

/// Extended Rosenbrock in the box x ≤ 0.8: the minimum has every pair's
/// first variable on the bound (x[2i-1] = 0.8, x[2i] = 0.64). Newton stays in the box at every step,
/// and ends where L-BFGS-B does, with the same bounds active.
#[test]
fn a_box_holds_newton_at_ten_thousand_variables() {
    let f = formula(EXTENDED_ROSENBROCK, &[]);
    let bounds = Some(vec![(-2.0, 0.8); N]);
    let boxed = |method| Settings {
        bounds: bounds.clone(),
        keep_history: true,
        ..Settings::new(method)
    };
    let start = vec![0.0; N];
    let out = run(
        "boxed extended Rosenbrock",
        &f,
        &start,
        &boxed(Method::newton()),
    );
    let reference = run("boxed, L-BFGS-B", &f, &start, &boxed(Method::lbfgs()));
    assert!(out.converged() && reference.converged(), "{}", out.message);
    for (x, _) in &out.history {
        assert!(x.iter().all(|v| (-2.0..=0.8).contains(v)));
    }
    let upper = out.active.iter().filter(|&&b| b == Bound::Upper).count();
    assert_eq!(upper, N / 2, "variables at the upper bound");
    assert_eq!(out.active, reference.active);
    assert!(
        (out.f - reference.f).abs() <= 1e-8 * reference.f.max(1.0),
        "{} vs {}",
        out.f,
        reference.f
    );
}

/// The chained Rosenbrock from x = -1.2 at n = 100 (the README's and
/// `tests/data/rosen.slope`'s): Newton on the indexed formula's sparse
/// Hessian (its tridiagonal envelope factorised) takes the steps dense
/// Newton takes on the same function written with scalars (its n × n
/// Hessian compiled), and both end at the global minimum, all ones.
#[test]
fn the_sparse_factor_steps_as_the_dense_one_does() {
    let n = 100;
    let indexed = formula(
        "param n = 4\nvar x[1..n]\nsum(i in 1..n-1, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)",
        &[("n", n as f64)],
    );
    let sparse = run("sparse", &indexed, &vec![-1.2; n], &newton());
    let scalar = Formula::parse(&testfns::rosenbrock(n)).unwrap();
    let mut compiled = scalar.compile().unwrap();
    let dense = slope::minimize(&mut compiled, &vec![-1.2; n], &newton()).unwrap();
    assert!(
        sparse.converged() && dense.converged(),
        "{}",
        sparse.message
    );
    assert_eq!(sparse.iterations, dense.iterations);
    assert!(distance(&sparse.x, 1.0) <= 1e-8 && distance(&dense.x, 1.0) <= 1e-8);
    // One Hessian a step (3 products each), against 2n Hessian-vector
    // products and more for conjugate gradients.
    assert!(sparse.hessian_evaluations <= sparse.iterations + 1);
}
