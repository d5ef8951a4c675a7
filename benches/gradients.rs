//! Compiled value+gradient against hand-written Rust, on the benchmark set.
//!
//! Each function is measured six ways in one group named after it
//! (`rosenbrock/1000/jit_value_grad`, ...): the compiled value+gradient; the
//! same through the path every optimiser takes (`optimiser_value_grad`: the
//! optimisers' loop calls a compiled formula's code through
//! `slope::objective::Direct`, the value returned and the gradient written
//! to its own buffer); through `&mut dyn Objective` (`objective_value_grad`, what an
//! objective without compiled code costs on top of its work); the compiled
//! value alone (for the cheap-gradient ratio), returned as
//! `CompiledFormula::value` gets it; the hand-written Rust
//! value+gradient (`hand_written`) and value alone (`hand_value`), each
//! called through a function pointer; and the interpreter.
//! The group `compile` times parse + differentiate + codegen.
//!
//! Run: `cargo bench --bench gradients` (a subset: `cargo bench --bench
//! gradients -- rosenbrock/1000`).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use slope::eval::Interpreter;
use slope::jit::Compiled;
use slope::objective::Direct;
use slope::testfns;
use slope::{Formula, Objective};

mod baselines;

use baselines::formulas::*;

/// A hand-written objective: writes the value to `out[0]` and the gradient
/// to `out[1..]`, the layout of the compiled function.
type Hand = fn(&[f64], &mut [f64]);

/// A hand-written value alone.
type HandValue = fn(&[f64]) -> f64;

struct Case {
    name: String,
    text: String,
    hand: Hand,
    hand_value: HandValue,
    /// Small formulas also get the interpreter measured.
    interpret: bool,
}

fn cases() -> Vec<Case> {
    let case = |name: &str, text: String, hand: Hand, hand_value: HandValue| Case {
        name: name.to_string(),
        interpret: text.len() < 20_000,
        text,
        hand,
        hand_value,
    };
    let mut v = vec![
        case(
            "parabola",
            testfns::PARABOLA.into(),
            parabola,
            parabola_value,
        ),
        case(
            "gaussian",
            testfns::GAUSSIAN.into(),
            gaussian,
            gaussian_value,
        ),
        case("sphere", testfns::SPHERE.into(), sphere, sphere_value),
        case("ackley", testfns::ACKLEY.into(), ackley, ackley_value),
        case("product/100", testfns::product(100), product, product_value),
        case(
            "nested_sin/50",
            testfns::nested_sin(50),
            nested_sin50,
            nested_sin50_value,
        ),
        case(
            "logistic/10x100",
            testfns::logistic(10, 100),
            logistic,
            logistic_value,
        ),
    ];
    for n in [2, 10, 100, 1000, 10000] {
        v.push(case(
            &format!("rosenbrock/{n}"),
            testfns::rosenbrock(n),
            rosenbrock_out,
            rosenbrock_value,
        ));
    }
    v
}

/// A point inside every function's domain, away from minima and kinks.
fn point(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 0.3 + 0.4 * ((i * 7919) % 13) as f64 / 13.0)
        .collect()
}

fn gradients(c: &mut Criterion) {
    for case in cases() {
        let f = Formula::parse(&case.text).expect("benchmark formulas parse");
        let n = f.vars().len();
        let mut outputs = vec![f.value()];
        outputs.extend_from_slice(f.gradient());
        let value_grad = Compiled::compile(f.graph(), &outputs, n).expect("compiles");
        let value = Compiled::compile(f.graph(), &outputs[..1], n).expect("compiles");
        let x = point(n);
        let mut out = vec![0.0; n + 1];
        let mut hand_out = vec![0.0; n + 1];
        check_baseline(&case, &value_grad, &x);

        let mut group = c.benchmark_group(&case.name);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        group.bench_function("jit_value_grad", |b| {
            b.iter(|| value_grad.call(black_box(&x), &mut out));
        });
        let mut objective = f.compile().expect("compiles");
        let direct = Direct::of(&objective).expect("compiled code");
        let mut grad = vec![0.0; n];
        group.bench_function("optimiser_value_grad", |b| {
            b.iter(|| black_box(&direct).value_grad(black_box(&x), &mut grad));
        });
        let objective: &mut dyn Objective = black_box(&mut objective);
        group.bench_function("objective_value_grad", |b| {
            b.iter(|| objective.value_grad(black_box(&x), &mut grad));
        });
        group.bench_function("jit_value", |b| {
            b.iter(|| value.value(black_box(&x)));
        });
        let hand: Hand = black_box(case.hand);
        group.bench_function("hand_written", |b| {
            b.iter(|| hand(black_box(&x), &mut hand_out));
        });
        let hand_value: HandValue = black_box(case.hand_value);
        group.bench_function("hand_value", |b| {
            b.iter(|| hand_value(black_box(&x)));
        });
        if case.interpret {
            let interpreter = Interpreter::new(f.graph(), &outputs);
            group.bench_function("interp_value_grad", |b| {
                b.iter(|| interpreter.eval(black_box(&x)));
            });
        }
        group.finish();
    }
}

fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for case in cases() {
        group.bench_with_input(
            BenchmarkId::from_parameter(&case.name),
            &case.text,
            |b, text| {
                b.iter(|| {
                    let f = Formula::parse(text).expect("parses");
                    let mut outputs = vec![f.value()];
                    outputs.extend_from_slice(f.gradient());
                    Compiled::compile(f.graph(), &outputs, f.vars().len()).expect("compiles")
                });
            },
        );
    }
    group.finish();
}

/// The baseline must compute the same thing, or the comparison means nothing.
fn check_baseline(case: &Case, compiled: &Compiled, x: &[f64]) {
    let mut a = vec![0.0; x.len() + 1];
    let mut b = vec![0.0; x.len() + 1];
    compiled.call(x, &mut a);
    (case.hand)(x, &mut b);
    let value = (case.hand_value)(x);
    assert!(
        (value - b[0]).abs() <= 1e-12 * b[0].abs().max(1.0),
        "{}: hand-written value {value}, with the gradient {}",
        case.name,
        b[0]
    );
    for (i, (p, q)) in a.iter().zip(&b).enumerate() {
        let scale = p.abs().max(q.abs()).max(1.0);
        assert!(
            (p - q).abs() <= 1e-9 * scale,
            "{}: output {i}: compiled {p}, hand-written {q}",
            case.name
        );
    }
}

criterion_group!(benches, gradients, compile);
criterion_main!(benches);
