//! A batch of points through one native loop, against a hand-written Rust
//! loop over the same rows, on one thread.
//!
//! What Python's `f.batch` and `f.batch_value_and_grad` hand each of their
//! threads (`CompiledFormula::values_of_rows` and `values_grads_of_rows`),
//! without the threads: Rosenbrock's value, its value and gradient, and
//! `x + y` (the loop and the memory, with next to no arithmetic), each on
//! 4,096 rows (one rayon task's share, in the L2 cache) and on 10^6 rows
//! (the Python benchmark's 16 MB batch). The hand-written loops are what a
//! Rust programmer would write over rows of a slice (`chunks_exact`), built
//! for the same target (SSE2, so LLVM may vectorise them by two).
//!
//! Run: `cargo bench --bench batch` (a subset: `cargo bench --bench batch --
//! rosenbrock_value`). For instruction counts per row, independent of the
//! load: `valgrind --tool=callgrind` on the bench binary with
//! `--profile-time 1` and a filter, then `callgrind_annotate --inclusive=yes`
//! for `values_of_rows` divided by its calls and rows.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use slope::Formula;

/// A hand-written loop: the rows of `xs` (two values each) into `values`
/// and `grads` (empty when only values are asked for).
type Hand = fn(&[f64], &mut [f64], &mut [f64]);

struct Case {
    name: &'static str,
    text: &'static str,
    grad: bool,
    hand: Hand,
}

const CASES: [Case; 3] = [
    Case {
        name: "rosenbrock_value",
        text: "(1-x)^2 + 100*(y-x^2)^2",
        grad: false,
        hand: rosenbrock_values,
    },
    Case {
        name: "rosenbrock_value_grad",
        text: "(1-x)^2 + 100*(y-x^2)^2",
        grad: true,
        hand: rosenbrock_values_grads,
    },
    Case {
        name: "x_plus_y",
        text: "x + y",
        grad: false,
        hand: sums,
    },
];

fn batch(c: &mut Criterion) {
    for case in &CASES {
        let code = Formula::parse(case.text)
            .and_then(|f| f.compile())
            .expect("compiles");
        let mut group = c.benchmark_group(case.name);
        group.measurement_time(Duration::from_secs(2));
        for rows in [4096, 1_000_000] {
            let xs: Vec<f64> = (0..2 * rows)
                .map(|k| ((k * 7919) % 4001) as f64 / 1000.0 - 2.0)
                .collect();
            let mut values = vec![0.0; rows];
            let mut grads = vec![0.0; if case.grad { 2 * rows } else { 0 }];
            group.bench_with_input(BenchmarkId::new("slope", rows), &xs, |b, xs| {
                b.iter(|| {
                    if case.grad {
                        code.values_grads_of_rows(black_box(xs), &mut values, &mut grads)
                    } else {
                        code.values_of_rows(black_box(xs), &mut values)
                    }
                    .expect("rows agree")
                })
            });
            group.bench_with_input(BenchmarkId::new("hand_written", rows), &xs, |b, xs| {
                b.iter(|| (case.hand)(black_box(xs), &mut values, &mut grads))
            });
        }
        group.finish();
    }
}

fn rosenbrock_values(xs: &[f64], values: &mut [f64], _: &mut [f64]) {
    for (p, v) in xs.chunks_exact(2).zip(values) {
        let (a, b) = (1.0 - p[0], p[1] - p[0] * p[0]);
        *v = a * a + 100.0 * (b * b);
    }
}

fn rosenbrock_values_grads(xs: &[f64], values: &mut [f64], grads: &mut [f64]) {
    for ((p, v), g) in xs
        .chunks_exact(2)
        .zip(values)
        .zip(grads.chunks_exact_mut(2))
    {
        let (a, b) = (1.0 - p[0], p[1] - p[0] * p[0]);
        *v = a * a + 100.0 * (b * b);
        g[0] = -2.0 * a - 400.0 * p[0] * b;
        g[1] = 200.0 * b;
    }
}

fn sums(xs: &[f64], values: &mut [f64], _: &mut [f64]) {
    for (p, v) in xs.chunks_exact(2).zip(values) {
        *v = p[0] + p[1];
    }
}

criterion_group!(benches, batch);
criterion_main!(benches);
