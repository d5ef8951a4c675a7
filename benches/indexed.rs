//! Indexed formulas compiled to native loops, against hand-written Rust
//! loops called through a function pointer.
//!
//! Each case is measured in one group (`indexed/rosenbrock/1000/...`): the
//! compiled value+gradient, the compiled value, the compiled
//! Hessian-vector product (the goal: at most 3× value+gradient), and the
//! hand-written fused loop (for `product/n`, the gradient of a `prod` is
//! the product of the other factors: by hand, a backward and a forward
//! pass). The group `indexed_compile` times parse + differentiate + bind +
//! codegen of the indexed Rosenbrock at each n (`rosenbrock/n`: the code
//! does not grow with n, so neither should the time), and beside it the
//! same with every variable's name made (`rosenbrock_and_names/n`, to 10⁶; what
//! binding cost before names were made on request). The group
//! `indexed_lbfgs/rosenbrock/1000000` times 100 L-BFGS iterations at
//! n = 10⁶: the library on the compiled loops and on the hand-written
//! gradient, and the hand-written L-BFGS of `baselines/lbfgs.rs`.
//!
//! Run: `cargo bench --bench indexed` (a subset: `cargo bench --bench
//! indexed -- rosenbrock/1000000`; L-BFGS alone, about two minutes:
//! `cargo bench --bench indexed -- indexed_lbfgs`).

use std::cell::OnceCell;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use slope::{CompiledFormula, FnObjective, Formula, Method, Objective, Options, Reason, Settings};

mod baselines;

const ROSENBROCK: &str = "param n = 1000
var x[1..n]
sum(i in 1..n-1, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)";

/// Least squares of an exponential decay over data rows.
const DECAY: &str = "data t, y
sum(i in 1..rows, (y[i] - a*exp(-b*t[i]) - c)^2)";

/// A double sum over pairs: a soft repulsion between points on a line.
const PAIRS: &str = "param n = 100
var x[1..n]
sum(i in 1..n-1, j in i+1..n, 1/(1 + (x[i] - x[j])^2))";

/// A product whose factors stay near 1 at any `n` (its value is about
/// `e^0.5` at the benchmark's point): the gradient is the product of the
/// other factors (`diff/product.rs`).
const PRODUCT: &str = "param n = 1000
var x[1..n]
prod(i in 1..n, 1 + x[i]/n)";

type Hand = fn(&[f64], &[f64], &[f64], &mut [f64]);

fn rosenbrock_hand(x: &[f64], _t: &[f64], _y: &[f64], out: &mut [f64]) {
    let (value, grad) = out.split_at_mut(1);
    value[0] = baselines::rosenbrock(x, grad);
}

fn decay_hand(p: &[f64], t: &[f64], y: &[f64], out: &mut [f64]) {
    let (a, b, c) = (p[0], p[1], p[2]);
    let (mut f, mut ga, mut gb, mut gc) = (0.0, 0.0, 0.0, 0.0);
    for (&ti, &yi) in t.iter().zip(y) {
        let e = (-b * ti).exp();
        let r = yi - a * e - c;
        f += r * r;
        ga += -2.0 * r * e;
        gb += 2.0 * r * a * ti * e;
        gc += -2.0 * r;
    }
    out[..4].copy_from_slice(&[f, ga, gb, gc]);
}

fn pairs_hand(x: &[f64], _t: &[f64], _y: &[f64], out: &mut [f64]) {
    let n = x.len();
    let (value, grad) = out.split_at_mut(1);
    grad.fill(0.0);
    let mut f = 0.0;
    for i in 0..n {
        for j in i + 1..n {
            let d = x[i] - x[j];
            let q = 1.0 / (1.0 + d * d);
            f += q;
            let g = -2.0 * d * q * q;
            grad[i] += g;
            grad[j] -= g;
        }
    }
    value[0] = f;
}

/// The product and its gradient, the product of the other factors, as
/// the products before and after each factor: the products after are
/// stored in the gradient first (a backward pass), then multiplied by the
/// products before (a forward one). No division, so no 0/0 at a zero
/// factor, and no overflow where the product of the others is finite.
fn product_hand(x: &[f64], _t: &[f64], _y: &[f64], out: &mut [f64]) {
    let n = x.len();
    let scale = 1.0 / n as f64;
    let (value, grad) = out.split_at_mut(1);
    let mut after = 1.0;
    for i in (0..n).rev() {
        grad[i] = after;
        after *= 1.0 + x[i] * scale;
    }
    let mut before = 1.0;
    for i in 0..n {
        grad[i] *= before * scale;
        before *= 1.0 + x[i] * scale;
    }
    value[0] = before;
}

struct Case {
    name: String,
    text: &'static str,
    options: Options,
    hand: Hand,
    data: (Vec<f64>, Vec<f64>),
    /// Sampled less: one call takes milliseconds.
    large: bool,
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for n in [1_000usize, 10_000, 100_000, 1_000_000, 10_000_000] {
        v.push(Case {
            name: format!("rosenbrock/{n}"),
            text: ROSENBROCK,
            options: Options {
                params: vec![("n".into(), n as f64)],
                ..max_vars_for(n)
            },
            hand: rosenbrock_hand,
            data: (Vec::new(), Vec::new()),
            large: n >= 100_000,
        });
    }
    for rows in [1_000usize, 1_000_000, 10_000_000] {
        let t: Vec<f64> = (0..rows).map(|i| i as f64 / rows as f64 * 5.0).collect();
        let y: Vec<f64> = t.iter().map(|t| 3.0 * (-0.7 * t).exp() + 0.5).collect();
        v.push(Case {
            name: format!("decay/{rows}"),
            text: DECAY,
            options: Options {
                data: vec![("t".into(), t.clone()), ("y".into(), y.clone())],
                ..Options::default()
            },
            hand: decay_hand,
            data: (t, y),
            large: rows >= 1_000_000,
        });
    }
    for n in [1_000usize, 100_000] {
        v.push(Case {
            name: format!("product/{n}"),
            text: PRODUCT,
            options: Options {
                params: vec![("n".into(), n as f64)],
                ..max_vars_for(n)
            },
            hand: product_hand,
            data: (Vec::new(), Vec::new()),
            large: n >= 100_000,
        });
    }
    for n in [100usize, 1_000] {
        v.push(Case {
            name: format!("pairs/{n}"),
            text: PAIRS,
            options: Options {
                params: vec![("n".into(), n as f64)],
                ..Options::default()
            },
            hand: pairs_hand,
            data: (Vec::new(), Vec::new()),
            large: false,
        });
    }
    v
}

/// Options allowing `n` variables.
fn max_vars_for(n: usize) -> Options {
    let mut o = Options::default();
    o.limits.max_vars = o.limits.max_vars.max(n);
    o
}

fn point(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 0.3 + 0.4 * ((i * 7919) % 13) as f64 / 13.0)
        .collect()
}

/// A case compiled and checked against its hand-written twin; made when
/// the first of its benchmarks runs, so a filtered run compiles only the
/// cases it times.
struct Prepared {
    code: CompiledFormula,
    x: Vec<f64>,
    /// The direction of the Hessian-vector products.
    v: Vec<f64>,
}

impl Prepared {
    fn new(case: &Case) -> Prepared {
        let f = Formula::parse_with(case.text, &case.options).expect("benchmark formulas parse");
        let code = f.compile().expect("compiles");
        let n = f.vars().len();
        let x = point(n);
        let mut out = vec![0.0; n + 1];
        let mut hand_out = vec![0.0; n + 1];
        code.write_value_grad(&x, &mut out);
        (case.hand)(&x, &case.data.0, &case.data.1, &mut hand_out);
        for (a, b) in out.iter().zip(&hand_out) {
            assert!(
                (a - b).abs() <= 1e-9 * (1.0 + b.abs()),
                "{}: {a} against the hand-written {b}",
                case.name
            );
        }
        let v: Vec<f64> = x.iter().map(|xi| 1.0 - xi).collect();
        let hv = code.hessian_times(&x, &v).expect("Hv compiles");
        check_hess_vec(&code, &x, &v, &hv, &case.name);
        Prepared { code, x, v }
    }
}

fn indexed(c: &mut Criterion) {
    for case in cases() {
        let prepared = OnceCell::new();
        let ready = || prepared.get_or_init(|| Prepared::new(&case));
        let mut g = c.benchmark_group(format!("indexed/{}", case.name));
        if case.large {
            g.sample_size(20).measurement_time(Duration::from_secs(4));
        }
        g.bench_function("jit_value_grad", |b| {
            let p = ready();
            let mut out = vec![0.0; p.x.len() + 1];
            b.iter(|| p.code.write_value_grad(black_box(&p.x), &mut out))
        });
        g.bench_function("jit_value", |b| {
            let p = ready();
            let mut out = [0.0];
            b.iter(|| p.code.write_value(black_box(&p.x), &mut out))
        });
        g.bench_function("jit_hess_vec", |b| {
            let p = ready();
            // Timed as Newton-CG calls it: into its buffer, through the trait.
            let mut objective = p.code.clone();
            assert!(objective.prepare_hess_vec().expect("Hv compiles"));
            let mut hv = vec![0.0; p.x.len()];
            b.iter(|| objective.hess_vec(black_box(&p.x), &p.v, &mut hv))
        });
        let hand: Hand = black_box(case.hand);
        g.bench_function("hand_value_grad", |b| {
            let p = ready();
            let mut out = vec![0.0; p.x.len() + 1];
            b.iter(|| hand(black_box(&p.x), &case.data.0, &case.data.1, &mut out))
        });
        g.finish();
    }
}

/// The product against central differences of the compiled gradient
/// along `v`, so that what is timed is right.
fn check_hess_vec(code: &CompiledFormula, x: &[f64], v: &[f64], hv: &[f64], name: &str) {
    let h = 1e-6;
    let at = |t: f64| {
        let p: Vec<f64> = x.iter().zip(v).map(|(a, b)| a + t * b).collect();
        code.value_grad(&p).expect("the point fits").1
    };
    let (up, down) = (at(h), at(-h));
    let scale = hv.iter().fold(1.0f64, |m, a| m.max(a.abs()));
    for (k, &got) in hv.iter().enumerate() {
        let want = (up[k] - down[k]) / (2.0 * h);
        assert!(
            (got - want).abs() <= 1e-5 * scale,
            "{name}: (Hv)[{k}] = {got}, differences give {want}"
        );
    }
}

fn compile(c: &mut Criterion) {
    let mut g = c.benchmark_group("indexed_compile");
    for n in [1_000usize, 10_000, 100_000, 1_000_000, 10_000_000] {
        let options = Options {
            params: vec![("n".into(), n as f64)],
            ..max_vars_for(n)
        };
        g.bench_with_input(BenchmarkId::new("rosenbrock", n), &options, |b, o| {
            b.iter(|| {
                let f = Formula::parse_with(ROSENBROCK, o).expect("parses");
                black_box(f.compile().expect("compiles"))
            })
        });
        if n > 1_000_000 {
            continue; // naming 10^7 variables takes most of a second a call
        }
        g.bench_with_input(
            BenchmarkId::new("rosenbrock_and_names", n),
            &options,
            |b, o| {
                b.iter(|| {
                    let f = Formula::parse_with(ROSENBROCK, o).expect("parses");
                    let code = f.compile().expect("compiles");
                    assert_eq!(code.vars().len(), n);
                    black_box(code)
                })
            },
        );
    }
    g.finish();
}

/// L-BFGS on the indexed Rosenbrock at n = 10^6, 100 iterations from the
/// standard start: `jit`, the library on the compiled loops (compiled in
/// each run); `hand`, the library on the hand-written gradient; and
/// `hand_lbfgs`, the whole L-BFGS written by hand (`baselines/lbfgs.rs`) on
/// that gradient, the baseline for the library's loop. At this size the
/// optimiser's vector work (the two-loop recursion over ten pairs of
/// 10^6-vectors) is most of an iteration. A run takes seconds, so each
/// sample is one run (flat sampling): about 30 s a function.
fn lbfgs(c: &mut Criterion) {
    let n = 1_000_000;
    let options = Options {
        params: vec![("n".into(), n as f64)],
        ..max_vars_for(n)
    };
    let f = Formula::parse_with(ROSENBROCK, &options).expect("parses");
    let start = vec![-1.2; n];
    // gtol 0: every run does its 100 iterations, the only stopping rule
    // the hand-written loop has besides a failed line search.
    let settings = Settings {
        max_iter: 100,
        gtol: 0.0,
        ..Settings::new(Method::lbfgs())
    };
    let hand_gradient = || {
        FnObjective::new(n, |x: &[f64], grad: &mut [f64]| {
            baselines::rosenbrock(x, grad)
        })
    };
    // Like with like: on the same gradient the library and the hand-written
    // L-BFGS visit the same iterates, to the bit; on the compiled gradient
    // (f summed in another order) the library ends at the same f to 1e-9.
    // Checked when the first of the group's benchmarks runs.
    let checked = OnceCell::new();
    let check = || {
        checked.get_or_init(|| {
            let by_hand = baselines::lbfgs::lbfgs(&start, settings.max_iter);
            let library = slope::minimize(&mut hand_gradient(), &start, &settings).expect("runs");
            assert_eq!(library.reason, Reason::MaxIter);
            assert_eq!(
                (library.iterations, library.evaluations),
                (by_hand.iterations, by_hand.evaluations)
            );
            assert_eq!(library.f.to_bits(), by_hand.f.to_bits());
            assert!(
                library
                    .x
                    .iter()
                    .zip(&by_hand.x)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            );
            let mut code = f.compile().expect("compiles");
            let compiled = slope::minimize(&mut code, &start, &settings).expect("runs");
            assert_eq!(compiled.reason, Reason::MaxIter);
            assert_eq!(compiled.iterations, by_hand.iterations);
            assert!(
                (compiled.f - by_hand.f).abs() <= 1e-9 * by_hand.f.abs(),
                "compiled f {} against the hand-written {} ({} evaluations against {})",
                compiled.f,
                by_hand.f,
                compiled.evaluations,
                by_hand.evaluations
            );
        })
    };

    let mut g = c.benchmark_group("indexed_lbfgs/rosenbrock/1000000");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(25));
    g.bench_function("jit", |b| {
        check();
        b.iter(|| {
            let mut code = f.compile().expect("compiles");
            black_box(slope::minimize(&mut code, &start, &settings).expect("runs"))
        })
    });
    g.bench_function("hand", |b| {
        check();
        b.iter(|| {
            black_box(slope::minimize(&mut hand_gradient(), &start, &settings).expect("runs"))
        })
    });
    g.bench_function("hand_lbfgs", |b| {
        check();
        b.iter(|| {
            black_box(baselines::lbfgs::lbfgs(
                black_box(&start),
                settings.max_iter,
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, indexed, compile, lbfgs);
criterion_main!(benches);
