//! Fitting `y ~ a*exp(-b*t) + c` through the library against the same
//! work written by hand in Rust.
//!
//! - `fit_pass/{slope,hand_written}/{100,1000000}`: one pass over the rows
//!   at fixed parameters. `slope` is [`Model::residuals_and_jacobian`]: the
//!   compiled loop over the rows called once per block of 64 rows, the
//!   residuals and the Jacobian written out (what each Levenberg–Marquardt
//!   iteration evaluates);
//!   `hand_written` computes the residuals, JᵀJ and Jᵀr in one fused loop
//!   with the derivatives written out and inlined by rustc (what a
//!   normal-equations Gauss–Newton step needs).
//! - `fit_whole/slope/1000000`: a whole fit from (a, b, c) = (1, 0.1, 0),
//!   including the statistics pass at the end; its iteration count is
//!   printed, so the cost per iteration can be set beside the pass. Each
//!   pass folds its rows into R by Householder reflections (the default);
//!   `fit_whole/normal_equations/1000000` is the same fit with each pass
//!   summing JᵀJ and Jᵀr in double-double instead.
//! - `fit_whole/slope_2_passes/1000000`: the same fit stopped after its
//!   first two passes (`max_evaluations`: the start's and one trial
//!   step's), the statistics included. The whole fit makes 10 passes, one
//!   per iteration after the first, so (whole − this)/8 is what one more
//!   iteration costs (its pass, its folding and its trust-region step),
//!   and what is left of this after two such passes is the fixed cost (the
//!   data checked and bound, the statistics).
//! - `refit/slope/1000x100`: a thousand fits of one compiled model to
//!   different 100-row data sets (the model is compiled once, outside).
//!
//! Run: `cargo bench --bench fit`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use slope::fit::{Factorization, Model, Options};

const MODEL: &str = "y ~ a*exp(-b*t) + c";
const TRUE: [f64; 3] = [5.0, 0.4, 0.5];

/// `rows` observations of the model on t in [0, 10], with deterministic
/// noise of about 1% (a seeded linear congruential sequence).
fn data(rows: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut noise = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    };
    let t: Vec<f64> = (0..rows).map(|i| 10.0 * i as f64 / rows as f64).collect();
    let y = t
        .iter()
        .map(|&t| TRUE[0] * (-TRUE[1] * t).exp() + TRUE[2] + 0.05 * noise())
        .collect();
    (t, y)
}

/// Residuals, JᵀJ (upper triangle) and Jᵀr in one pass, by hand.
fn hand_pass(p: &[f64; 3], t: &[f64], y: &[f64]) -> ([f64; 6], [f64; 3], f64) {
    let [a, b, c] = *p;
    let mut jtj = [0.0; 6];
    let mut jtr = [0.0; 3];
    let mut rss = 0.0;
    for (&t, &y) in t.iter().zip(y) {
        let e = (-b * t).exp();
        let r = y - (a * e + c);
        // ∂r/∂a, ∂r/∂b, ∂r/∂c.
        let j = [-e, a * t * e, -1.0];
        jtj[0] += j[0] * j[0];
        jtj[1] += j[0] * j[1];
        jtj[2] += j[0] * j[2];
        jtj[3] += j[1] * j[1];
        jtj[4] += j[1] * j[2];
        jtj[5] += j[2] * j[2];
        jtr[0] += j[0] * r;
        jtr[1] += j[1] * r;
        jtr[2] += j[2] * r;
        rss += r * r;
    }
    (jtj, jtr, rss)
}

fn pass(c: &mut Criterion) {
    let model = Model::new(MODEL, &["t", "y"]).expect("compiles");
    let at = [4.0, 0.3, 0.6];
    for rows in [100, 1_000_000] {
        let mut group = c.benchmark_group("fit_pass");
        if rows > 1000 {
            group.sample_size(20);
            group.measurement_time(Duration::from_secs(8));
        }
        let (t, y) = data(rows, 1);
        let columns = [("t", &t[..]), ("y", &y[..])];
        let mut r = vec![0.0; rows];
        let mut j = vec![0.0; 3 * rows];
        group.bench_function(format!("slope/{rows}"), |bench| {
            bench.iter(|| {
                model
                    .residuals_and_jacobian(black_box(&at), &columns, &mut r, &mut j)
                    .expect("shapes match")
            })
        });
        group.bench_function(format!("hand_written/{rows}"), |bench| {
            bench.iter(|| hand_pass(black_box(&at), &t, &y))
        });
        group.finish();
    }
}

fn whole(c: &mut Criterion) {
    let model = Model::new(MODEL, &["t", "y"]).expect("compiles");
    let (t, y) = data(1_000_000, 2);
    let columns = [("t", &t[..]), ("y", &y[..])];
    let options = Options {
        start: Some(vec![1.0, 0.1, 0.0]),
        ..Options::default()
    };
    let normal = Options {
        factorization: Factorization::NormalEquations,
        ..options.clone()
    };
    let two = Options {
        max_evaluations: Some(2),
        ..options.clone()
    };
    let mut group = c.benchmark_group("fit_whole");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    for (name, options) in [
        ("slope", &options),
        ("slope_2_passes", &two),
        ("normal_equations", &normal),
    ] {
        let fit = model.fit(&columns, options).expect("fits");
        println!(
            "fit_whole/{name}/1000000: {} iterations, {} passes, reason {}, x {:?}",
            fit.iterations,
            fit.evaluations,
            fit.reason.name(),
            fit.x
        );
        group.bench_function(format!("{name}/1000000"), |bench| {
            bench.iter(|| model.fit(&columns, options).expect("fits"))
        });
    }
    group.finish();
}

fn refit(c: &mut Criterion) {
    let model = Model::new(MODEL, &["t", "y"]).expect("compiles");
    let sets: Vec<(Vec<f64>, Vec<f64>)> = (0..1000).map(|k| data(100, 10 + k)).collect();
    let options = Options {
        start: Some(vec![1.0, 0.1, 0.0]),
        ..Options::default()
    };
    let mut group = c.benchmark_group("refit");
    group.sample_size(10);
    group.bench_function("slope/1000x100", |bench| {
        bench.iter(|| {
            let mut sum = 0.0;
            for (t, y) in &sets {
                let fit = model
                    .fit(&[("t", &t[..]), ("y", &y[..])], &options)
                    .expect("fits");
                sum += fit.x[1];
            }
            sum
        })
    });
    group.finish();
}

criterion_group!(benches, pass, whole, refit);
criterion_main!(benches);
