//! The descent loops through the library against the same loops written by
//! hand with the analytic gradient inlined by rustc.
//!
//! - `gd/rosenbrock2/...`: 1,000,000 fixed-step gradient-descent iterations
//!   on Rosenbrock in 2 variables (lr 1e-4, from (-1.2, 1)).
//! - `lbfgs/rosenbrock1000/...`: 1,000 L-BFGS iterations on Rosenbrock in
//!   1,000 variables (from x = -1.2, 1, -1.2, 1, ...; gtol 0 so that every
//!   run does all iterations unless it converges exactly).
//!
//! Run: `cargo bench --bench optim`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use slope::Formula;
use slope::objective::{CompiledObjective, FnObjective};
use slope::optim::{Method, Settings, minimize};
use slope::testfns;

mod baselines;
use baselines::rosenbrock;

const GD_ITERATIONS: usize = 1_000_000;
const GD_LR: f64 = 1e-4;

/// Rosenbrock's value and gradient in 2 variables, inlined into the loops.
#[inline(always)]
fn rosenbrock2(x: &[f64], g: &mut [f64]) -> f64 {
    let t = x[1] - x[0] * x[0];
    let s = 1.0 - x[0];
    g[0] = -400.0 * x[0] * t - 2.0 * s;
    g[1] = 200.0 * t;
    100.0 * t * t + s * s
}

fn hand_gd(start: [f64; 2]) -> [f64; 2] {
    let mut x = start;
    let mut g = [0.0; 2];
    for _ in 0..GD_ITERATIONS {
        rosenbrock2(&x, &mut g);
        x[0] -= GD_LR * g[0];
        x[1] -= GD_LR * g[1];
    }
    x
}

fn gd(c: &mut Criterion) {
    let mut group = c.benchmark_group("gd/rosenbrock2");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    let mut f = Formula::parse(&testfns::rosenbrock(2)).expect("parses");
    let compiled = CompiledObjective::new(&mut f, false).expect("compiles");
    // No stopping test may end the run early: exactly GD_ITERATIONS steps.
    let settings = Settings {
        lr: GD_LR,
        max_iter: GD_ITERATIONS,
        gtol: 0.0,
        ..Settings::new(Method::Gd)
    };
    let start = [-1.2, 1.0];
    let library = minimize(&mut compiled.clone(), &start, &settings, &mut |_| {});
    let by_hand = hand_gd(start);
    assert_eq!(library.iterations, GD_ITERATIONS);
    assert!(
        (library.x[0] - by_hand[0]).abs() < 1e-9,
        "{:?} vs {by_hand:?}",
        library.x
    );

    group.bench_function("slope_compiled", |b| {
        b.iter(|| {
            minimize(
                &mut compiled.clone(),
                black_box(&start),
                &settings,
                &mut |_| {},
            )
        })
    });
    group.bench_function("slope_closure", |b| {
        b.iter(|| {
            let mut objective = FnObjective::new(2, rosenbrock2);
            minimize(&mut objective, black_box(&start), &settings, &mut |_| {})
        })
    });
    group.bench_function("hand_written", |b| b.iter(|| hand_gd(black_box(start))));
    group.finish();
}

fn lbfgs(c: &mut Criterion) {
    let n = 1000;
    let mut group = c.benchmark_group("lbfgs/rosenbrock1000");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    let mut f = Formula::parse(&testfns::rosenbrock(n)).expect("parses");
    let compiled = CompiledObjective::new(&mut f, false).expect("compiles");
    let settings = Settings {
        max_iter: 1000,
        gtol: 0.0,
        ..Settings::new(Method::Lbfgs)
    };
    let start: Vec<f64> = (0..n)
        .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
        .collect();
    // The same L-BFGS loop on the compiled gradient and on the hand-written
    // one: the difference is the cost of the gradient source.
    group.bench_function("slope_compiled", |b| {
        b.iter(|| {
            minimize(
                &mut compiled.clone(),
                black_box(&start),
                &settings,
                &mut |_| {},
            )
        })
    });
    group.bench_function("hand_written_gradient", |b| {
        b.iter(|| {
            let mut objective = FnObjective::new(n, rosenbrock);
            minimize(&mut objective, black_box(&start), &settings, &mut |_| {})
        })
    });
    group.finish();
}

criterion_group!(benches, gd, lbfgs);
criterion_main!(benches);
