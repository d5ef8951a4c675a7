//! `slope min` and `slope::optim`: the seed tutorials, every method on the
//! standard test functions, maximising, bounds and projection,
//! reproducible random starts, bad input, divergence, traces, gradient
//! sources and the library's objectives.
//!
//! Known optima used below (see `src/testfns.rs`):
//! - `3*x^2 + 2*x + 1`: minimum 2/3 at x = -1/3;
//! - `-exp(-x1^2 - x2^2)`: minimum -1 at (0, 0);
//! - `(x1-1.5)^2 + (x2-2.5)^2 + (x3-0.5)^2`: minimum 0 at (1.5, 2.5, 0.5);
//! - Rosenbrock in n variables: minimum 0 at (1, …, 1);
//! - Booth: minimum 0 at (1, 3); Beale: minimum 0 at (3, 0.5).

use std::cell::Cell;

use serde_json::Value;
use slope::fd::Scheme;
use slope::{CompiledFormula, FiniteDifferences, FnObjective, Iterate, Negated, Objective};
use slope::{Formula, testfns};
use slope::{Method, Reason, Settings, minimize, minimize_with};

use crate::run::{self, Run};
use crate::table::Table;

// ---------------------------------------------------------------- helpers

/// Runs `slope min ARGS`.
fn run(args: &[&str]) -> Run {
    run::command("min", args)
}

/// Runs `slope min ARGS --json`: stdout is exactly one JSON object.
fn run_json(args: &[&str]) -> (Value, Run) {
    run::command_json("min", args)
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key:?} is not a number in {v}"))
}

fn point(v: &Value) -> Vec<f64> {
    v["x"]
        .as_array()
        .unwrap_or_else(|| panic!("no \"x\" array in {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap_or_else(|| panic!("non-number in {v}")))
        .collect()
}

/// Largest componentwise distance between two points.
fn dist(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f64::max)
}

fn assert_near(x: &[f64], want: &[f64], tol: f64, what: &str) {
    let d = dist(x, want);
    assert!(
        d <= tol,
        "{what}: x = {x:?} is {d:e} from {want:?} (tolerance {tol:e})"
    );
}

/// Compiles `text` (with the Hessian for Newton) and minimises it from `start`.
fn minimize_text(text: &str, start: &[f64], settings: &Settings) -> slope::optim::Outcome {
    let f = Formula::parse(text).unwrap();
    let mut objective =
        CompiledFormula::new(&f, matches!(settings.method, Method::Newton { .. })).unwrap();
    minimize(&mut objective, start, settings).unwrap()
}

const PARABOLA_SEED: [&str; 11] = [
    testfns::PARABOLA,
    "--start",
    "x=1.5",
    "--method",
    "gd",
    "--lr",
    "0.1",
    "--ftol",
    "1e-4",
    "--max-iter",
    "100",
];

// ---------------------------------------------------------------- seed tutorials

#[test]
fn seed_parabola_stops_by_ftol_near_minus_one_third() {
    // Minimum 2/3 at x = -1/3. With lr 0.1 the error e = x + 1/3 shrinks by
    // |1 - 0.1*6| = 0.4 per step, and f - 2/3 = 3 e^2, so one step lowers f
    // by 3 e^2 (1 - 0.16) = 2.52 e^2. ftol 1e-4 stops at the first step
    // whose decrease is at most 1e-4: e was at most 6.3e-3 before that
    // step and is at most 0.4 * 6.3e-3 = 2.5e-3 after it. Hence the
    // tolerance 2.5e-3 on x and 3 * (2.5e-3)^2 < 2e-5 on f.
    let (v, r) = run_json(&PARABOLA_SEED);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "");
    assert_eq!(v["reason"], "ftol");
    assert_eq!(v["converged"], true);
    assert_eq!(v["vars"], serde_json::json!(["x"]));
    let x = point(&v);
    assert_near(&x, &[-1.0 / 3.0], 2.5e-3, "parabola");
    // Stopping early: not at the minimum to rounding, but close.
    assert!(
        (x[0] + 1.0 / 3.0).abs() > 1e-6,
        "ftol should stop before gtol would: {x:?}"
    );
    let f = num(&v, "f");
    assert!((f - 2.0 / 3.0).abs() < 2e-5 && f >= 2.0 / 3.0, "f = {f}");
    // One evaluation at the start, one per gd step, and one for the test
    // that the point is not a saddle (a forward difference of the gradient
    // along the one variable).
    assert_eq!(num(&v, "evaluations"), num(&v, "iterations") + 2.0);
    assert_eq!(v["hessian_evaluations"], 1);
    assert!(num(&v, "iterations") < 100.0);
}

#[test]
fn ftol_rel_stops_after_two_small_decreases_in_a_row() {
    // gd with step 0.01 on x^2 multiplies x by 0.98 per step, so each step
    // lowers f by 1 - 0.98^2 = 3.96% of it. Under ftol_rel 5% every
    // decrease is small, and the run stops at the second, not the first,
    // at x = 0.98² = 0.9604.
    let gd = Method::gd().with_lr(0.01);
    let settings = Settings {
        ftol_rel: Some(0.05),
        keep_history: true,
        ..Settings::new(gd)
    };
    let o = minimize_text("x^2", &[1.0], &settings);
    assert!((o.history[2].0[0] - 0.9604).abs() < 1e-12, "{o:?}");
    // There the end-of-run walk finds f lower by far more than 5% of it,
    // so that stop came short of the minimum: the run moves to the lower
    // point (its third iteration) and goes on from there, to near 0.
    assert!(o.history[3].0[0].abs() < 0.5, "{o:?}");
    assert_eq!(o.reason, Reason::FtolRel, "{o:?}");
    assert!(o.f < 1e-3, "{o:?}");
    // Where the limit leaves no iteration for that move, the run says so.
    let settings = Settings {
        max_iter: 2,
        ..settings
    };
    let o = minimize_text("x^2", &[1.0], &settings);
    assert_eq!((o.reason, o.iterations), (Reason::MaxIter, 2), "{o:?}");
    assert!(o.message.contains("short of the minimum"), "{o:?}");
    // Under 3.9% none is: the run goes on to max_iter.
    let settings = Settings {
        ftol_rel: Some(0.039),
        max_iter: 50,
        ..Settings::new(gd)
    };
    let o = minimize_text("x^2", &[1.0], &settings);
    assert_eq!((o.reason, o.iterations), (Reason::MaxIter, 50), "{o:?}");
}

#[test]
fn seed_gaussian_and_sphere_reach_their_minima() {
    let settings = [
        "--method",
        "gd",
        "--lr",
        "0.1",
        "--ftol",
        "1e-4",
        "--max-iter",
        "100",
    ];
    // Gaussian well: minimum -1 at (0, 0). Near the minimum f + 1 ≈ |x|^2
    // and gd with lr 0.1 contracts by 0.8 per step, so a decrease of at
    // most 1e-4 means |x|^2 (1 - 0.64) <= 1e-4, |x| <= 1.7e-2: tolerance
    // 2e-2 on x and 4e-4 on f.
    let mut args = vec![testfns::GAUSSIAN, "--start", "x1=1,x2=1.5"];
    args.extend(settings);
    let (v, r) = run_json(&args);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(v["reason"], "ftol");
    assert_near(&point(&v), &[0.0, 0.0], 2e-2, "gaussian");
    assert!((num(&v, "f") + 1.0).abs() < 4e-4, "{v}");

    // Sphere: minimum 0 at (1.5, 2.5, 0.5). f = |e|^2 with e shrinking by
    // 0.8 per step: a decrease of at most 1e-4 means |e|^2 * 0.36 <= 1e-4
    // before the step, so |e| <= 1.7e-2 (f <= 2.8e-4), and less after it.
    let mut args = vec![testfns::SPHERE, "--start", "x1=0,x2=0.5,x3=0"];
    args.extend(settings);
    let (v, r) = run_json(&args);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(v["reason"], "ftol");
    assert_near(&point(&v), &[1.5, 2.5, 0.5], 2e-2, "sphere");
    assert!(num(&v, "f") < 3e-4, "{v}");
}

#[test]
fn seed_bounded_x_squared_with_three_steps() {
    // x^2: minimum 0 at x = 0; random starts in [-1, 1] from fixed seeds.
    for seed in ["1", "7", "42"] {
        let base = [
            "x^2",
            "--bounds",
            "x=-1:1",
            "--seed",
            seed,
            "--max-iter",
            "30",
            "--method",
            "gd",
        ];
        let with_lr = |lr: &'static str| {
            let mut args = base.to_vec();
            args.extend(["--lr", lr]);
            args
        };

        // lr 0.1: x shrinks by 0.8 per step, 0.8^30 = 1.2e-3, so f <= 1.5e-6.
        // The gradient 2x is still above gtol 1e-8, so the run uses all 30
        // iterations.
        let (v, r) = run_json(&with_lr("0.1"));
        assert_eq!(r.status, 0, "seed {seed}: {}", r.stderr);
        assert!(num(&v, "f") < 1e-5, "seed {seed}: {v}");
        assert_eq!(v["reason"], "max-iter", "seed {seed}");
        assert_eq!(num(&v, "iterations"), 30.0);
        assert_eq!(v["seed"].as_u64(), Some(seed.parse().unwrap()));

        // lr 1: x -> x - 2x = -x, a pure bounce at constant f.
        let (v, r) = run_json(&with_lr("1.0"));
        assert_eq!(v["reason"], "oscillating", "seed {seed}: {v}");
        assert_eq!(v["converged"], false);
        assert_eq!(r.status, 1, "seed {seed}: {}", r.stderr);
        assert!(
            r.stderr.contains("try a smaller --lr (now 1)"),
            "{}",
            r.stderr
        );
        assert!(
            r.stderr.starts_with("note: stopped by oscillating: "),
            "{}",
            r.stderr
        );
        assert!(v["hint"].as_str().unwrap().contains("smaller --lr"), "{v}");

        // lr 1e-5: f creeps down by a relative 4e-5 per step.
        let (v, r) = run_json(&with_lr("1e-5"));
        assert_eq!(r.status, 0, "seed {seed}: {}", r.stderr);
        assert_eq!(v["reason"], "max-iter", "seed {seed}");
        assert_eq!(v["converged"], false);
        let hint = "f was still going down, but slowly: the step may be too small (--lr 1e-5)";
        assert_eq!(v["hint"], hint);
        assert_eq!(r.stderr, format!("note: stopped by max-iter: {hint}\n"));
    }
}

// ---------------------------------------------------------------- every method

/// The settings each method is tested with on the standard functions.
/// Rosenbrock's valley has curvature up to about 1000 near (1, 1) (more in
/// 10-D), so the fixed-step methods need lr 1e-3 (Nesterov 5e-4: its
/// look-ahead makes the effective step larger, and at 1e-3 it is unstable
/// on 10-D Rosenbrock) and up to tens of thousands of iterations, which
/// take milliseconds on compiled code. AdaGrad's steps shrink by
/// themselves, so it starts larger.
fn method_settings() -> Vec<(&'static str, Settings)> {
    let first_order = |method: Method, lr| Settings {
        max_iter: 100_000,
        ..Settings::new(method.with_lr(lr))
    };
    vec![
        ("gd", first_order(Method::gd(), 1e-3)),
        (
            "gd --line-search",
            first_order(
                Method::Gd {
                    lr: 1.0,
                    line_search: true,
                },
                1.0,
            ),
        ),
        ("momentum", first_order(Method::momentum(), 1e-3)),
        ("nesterov", first_order(Method::nesterov(), 5e-4)),
        ("adagrad", first_order(Method::adagrad(), 0.1)),
        ("rmsprop", first_order(Method::rmsprop(), 1e-3)),
        ("adam", first_order(Method::adam(), 1e-3)),
        // Without the relative-reduction stop (on by default for these),
        // so that the run goes on to gtol and the accuracy below is met.
        (
            "lbfgs",
            Settings {
                ftol_rel: None,
                ..Settings::new(Method::lbfgs())
            },
        ),
        ("newton", Settings::new(Method::newton())),
    ]
}

/// The standard functions: name, formula, start, known minimiser.
fn standard_functions() -> Vec<(&'static str, String, Vec<f64>, Vec<f64>)> {
    vec![
        // Minimum 0 at (1, 1), from the classic start.
        (
            "rosenbrock 2-D",
            testfns::rosenbrock(2),
            vec![-1.2, 1.0],
            vec![1.0, 1.0],
        ),
        // Minimum 0 at (1, 3).
        (
            "booth",
            testfns::BOOTH.to_string(),
            vec![0.0, 0.0],
            vec![1.0, 3.0],
        ),
        // Minimum 0 at (3, 0.5).
        (
            "beale",
            testfns::BEALE.to_string(),
            vec![1.0, 1.0],
            vec![3.0, 0.5],
        ),
        // Minimum 0 at (1, …, 1). From the origin: from (-1.2, 1, -1.2, …)
        // Newton settles, legitimately, in the local minimum near
        // (-1, 1, …, 1) with f ≈ 3.99 that this function has for n >= 4.
        (
            "rosenbrock 10-D",
            testfns::rosenbrock(10),
            vec![0.0; 10],
            vec![1.0; 10],
        ),
    ]
}

#[test]
fn every_method_reaches_the_minimum_of_the_standard_functions() {
    for (fname, text, start, minimiser) in standard_functions() {
        let t = Table::new();
        for (mname, settings) in method_settings() {
            t.row(format!("{mname} on {fname}"), || {
                let what = format!("{mname} on {fname}");
                let o = minimize_text(&text, &start, &settings);
                if matches!(settings.method, Method::Rmsprop { .. }) {
                    // RMSProp divides the gradient by its running RMS, so near
                    // the minimum each step is still about lr per component, as
                    // long as g is not exactly 0: with a fixed lr it can only get
                    // within a few lr of the minimum, where it bounces and the
                    // loop stops it as oscillating (the hint, a smaller --lr, is
                    // the right advice: the bounce scales with lr).
                    assert_eq!(o.reason, Reason::Oscillating, "{what}: {o:?}");
                    assert_near(&o.x, &minimiser, 2.0 * settings.method.lr(), &what);
                    assert!(o.f < 1e-2, "{what}: f = {}", o.f);
                    return;
                }
                // Stopped by gtol 1e-8 (no gradient component above it), x is
                // within 1e-6 of the minimiser (the farthest seen is 4e-8, on
                // Beale and on 10-D Rosenbrock's last coordinate) and f below
                // 1e-12.
                assert!(
                    o.reason.converged(),
                    "{what}: stopped by {} ({:?})",
                    o.reason,
                    o.message
                );
                // L-BFGS and Newton may stop by the relative reduction of f.
                assert!(matches!(o.reason, Reason::Gtol | Reason::FtolRel), "{what}");
                assert_near(&o.x, &minimiser, 1e-6, &what);
                assert!(o.f.abs() < 1e-12, "{what}: f = {:e}", o.f);
                assert!(o.iterations < settings.max_iter, "{what}");
                assert!(o.evaluations > o.iterations, "{what}: {o:?}");
                assert!(o.advice.is_none(), "{what}: {:?}", o.advice);
            });
        }
    }
}

#[test]
fn rmsprop_gets_closer_with_a_smaller_step() {
    // Booth, minimum 0 at (1, 3): the bounce RMSProp ends in scales with lr.
    for lr in [1e-3, 1e-4] {
        let settings = Settings {
            max_iter: 200_000,
            ..Settings::new(Method::rmsprop().with_lr(lr))
        };
        let o = minimize_text(testfns::BOOTH, &[0.0, 0.0], &settings);
        assert_eq!(o.reason, Reason::Oscillating, "lr {lr}: {o:?}");
        assert_near(&o.x, &[1.0, 3.0], lr, &format!("rmsprop lr {lr}"));
    }
}

#[test]
fn every_method_through_the_binary() {
    // Booth, minimum 0 at (1, 3), from (0, 0): checks that each --method
    // name runs its method (lbfgs and newton stop within ten iterations,
    // the others need hundreds to thousands).
    let cases: [(&[&str], f64); 9] = [
        (&["--method", "gd", "--lr", "0.05"], 1e-6),
        (&["--method", "gd", "--line-search"], 1e-6),
        (&["--method", "momentum", "--lr", "0.01"], 1e-6),
        (&["--method", "nesterov", "--lr", "0.01"], 1e-6),
        (&["--method", "adagrad", "--lr", "0.5"], 1e-6),
        // Only gets within about lr of the minimum (see above).
        (&["--method", "rmsprop", "--lr", "1e-3"], 2e-3),
        (&["--method", "adam", "--lr", "0.01"], 1e-6),
        (&["--method", "lbfgs"], 1e-6),
        (&["--method", "newton"], 1e-6),
    ];
    for (extra, tol) in cases {
        let mut args = vec![testfns::BOOTH, "--start", "x=0,y=0", "--max-iter", "100000"];
        args.extend(extra);
        let (v, r) = run_json(&args);
        assert_near(&point(&v), &[1.0, 3.0], tol, &format!("{extra:?}"));
        if extra[1] == "rmsprop" {
            assert_eq!(v["reason"], "oscillating", "{extra:?}");
            assert_eq!(r.status, 1);
        } else {
            assert!(
                v["reason"] == "gtol" || v["reason"] == "ftol-rel",
                "{extra:?}: {v}"
            );
            assert_eq!(v["converged"], true);
            assert_eq!(r.status, 0, "{extra:?}: {}", r.stderr);
            assert_eq!(r.stderr, "");
        }
        if extra[1] == "lbfgs" || extra[1] == "newton" {
            assert!(num(&v, "iterations") <= 10.0, "{extra:?}: {v}");
        }
    }
}

// ---------------------------------------------------------------- maximize

#[test]
fn maximize_reports_the_maximum_not_its_negation() {
    // -(x-2)^2: maximum 0 at x = 2.
    for method in ["lbfgs", "gd", "newton"] {
        let (v, r) = run_json(&[
            "-(x-2)^2",
            "--start",
            "x=0",
            "--maximize",
            "--method",
            method,
        ]);
        assert_eq!(r.status, 0, "{method}: {}", r.stderr);
        assert_eq!(v["reason"], "gtol", "{method}");
        assert_near(&point(&v), &[2.0], 1e-8, method);
        // f is the formula's value there: at most 0, and 0 to within
        // (5e-9)^2.
        let f = num(&v, "f");
        assert!(f <= 0.0 && f > -1e-16, "{method}: f = {f}");
    }
    // Shifted so that the sign of f shows: maximum 5 at x = 2.
    let (v, _) = run_json(&[
        "5 - (x-2)^2",
        "--start",
        "x=0",
        "--maximize",
        "--trace",
        "jsonl",
    ]);
    assert!((num(&v, "f") - 5.0).abs() < 1e-12, "{v}");
    // The text summary says "maximum".
    let r = run(&["5 - (x-2)^2", "--start", "x=0", "--maximize"]);
    assert!(r.stdout.starts_with("maximum     f = 5\n"), "{}", r.stdout);
    // The trace shows the formula's values too: 1 at the start x = 0.
    let r = run(&[
        "5 - (x-2)^2",
        "--start",
        "x=0",
        "--maximize",
        "--trace",
        "jsonl",
        "--method",
        "gd",
    ]);
    let first: Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["f"].as_f64(), Some(1.0), "{first}");
}

// ---------------------------------------------------------------- bounds

/// The JSON objects of a jsonl trace (lines that are not JSON are notes).
fn jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn projection_keeps_every_iterate_in_the_box() {
    // (x-3)^2 on [-1, 1]: the constrained minimum is at the bound x = 1 (f = 4),
    // where the projected gradient vanishes, so the run stops by gtol.
    for seed in ["1", "3", "11"] {
        let args = [
            "(x-3)^2",
            "--bounds",
            "x=-1:1",
            "--project",
            "--method",
            "gd",
            "--seed",
            seed,
        ];
        let mut with_trace = args.to_vec();
        with_trace.extend(["--trace", "jsonl"]);
        let (v, r) = run_json(&with_trace);
        assert_eq!(r.status, 0, "{}", r.stderr);
        assert_eq!(point(&v), [1.0], "seed {seed}");
        assert_eq!(num(&v, "f"), 4.0);
        assert_eq!(v["reason"], "gtol");
        let trace = jsonl(&r.stderr);
        assert_eq!(trace.len() as f64, num(&v, "iterations") + 1.0);
        for it in &trace {
            let x = point(it)[0];
            assert!(
                (-1.0..=1.0).contains(&x),
                "seed {seed}: iterate outside the box: {it}"
            );
        }
    }

    // Momentum overshoots, and a start outside the box is clamped first:
    // (x-3)^2 + (y+5)^2 on [-1, 1] x [-2, 2] has its minimum at (1, -2), f = 13.
    for method in ["gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"] {
        let args = [
            "(x-3)^2 + (y+5)^2",
            "--start",
            "x=5,y=0",
            "--bounds",
            "x=-1:1,y=-2:2",
            "--project",
            "--method",
            method,
            "--lr",
            "0.3",
            "--trace",
            "jsonl",
        ];
        let (v, r) = run_json(&args);
        assert_eq!(r.status, 0, "{method}: {}", r.stderr);
        assert_eq!(v["reason"], "gtol", "{method}: {v}");
        assert_eq!(point(&v), [1.0, -2.0], "{method}");
        let trace = jsonl(&r.stderr);
        assert_eq!(
            point(&trace[0]),
            [1.0, 0.0],
            "{method}: the start is clamped"
        );
        for it in &trace {
            let x = point(it);
            assert!(
                (-1.0..=1.0).contains(&x[0]) && (-2.0..=2.0).contains(&x[1]),
                "{method}: iterate outside the box: {it}"
            );
        }
    }

    // Without --project too, the bounds hold in every method: the run
    // ends on the bound x = 1, not at the unconstrained minimum x = 3.
    for method in ["gd", "lbfgs", "newton"] {
        let (v, _) = run_json(&[
            "(x-3)^2", "--bounds", "x=-1:1", "--method", method, "--seed", "3",
        ]);
        assert_eq!(point(&v), [1.0], "{method}");
    }
}

/// At a step or kink the gradient and curvature say nothing of f beside
/// the point: `floor(x) + x^2` and `sign(x)` converged at 0 as "minimum
/// f = 0", where f is -1 just left of it, and `max(0,x)^2 - max(0,-x)^3`
/// at 0, where f falls as x^3 to the left without bound. Where f has such
/// functions, the end of a converged run looks either side of the point.
#[test]
fn a_step_beside_a_converged_point_is_seen() {
    for (formula, want) in [
        ("floor(x) + x^2", -1.0),
        ("sign(x)", -1.0),
        ("floor(x)", -1.0),
    ] {
        let (v, r) = run_json(&[formula, "--start", "x=0"]);
        assert_eq!((r.status, v["converged"].as_bool()), (0, Some(true)), "{v}");
        let (x, f) = (point(&v)[0], v["f"].as_f64().unwrap());
        assert!(x < 0.0 && (f - want).abs() < 1e-12, "{formula}: {v}");
    }
    let (v, r) = run_json(&["max(0,x)^2 - max(0,-x)^3", "--start", "x=1"]);
    assert_eq!(
        (v["reason"].as_str(), r.status),
        (Some("unbounded"), 1),
        "{v}"
    );
    // A kink at the minimum is one.
    let (v, r) = run_json(&["abs(x-1) + abs(y+2)", "--start", "x=0,y=0"]);
    assert_eq!(r.status, 0, "{v}");
    assert_eq!(point(&v), [1.0, -2.0]);
}

#[test]
fn a_maximum_without_bound_is_said_to_rise() {
    // The run minimises -f; its note speaks of f.
    let r = run(&["x^2", "--start", "x=1", "--maximize"]);
    assert_eq!(r.status, 1);
    assert!(r.stdout.starts_with("highest seen"), "{}", r.stdout);
    assert!(r.stderr.contains("f kept rising"), "{}", r.stderr);
    assert!(r.stderr.contains("no upper bound"), "{}", r.stderr);
    assert!(!r.stderr.contains("lower bound"), "{}", r.stderr);
}

#[test]
fn a_saddle_note_says_which_test_found_it_and_turns_when_maximising() {
    // (formula, start, --maximize, the note's reason). The flat cases
    // have no negative eigenvalue: the note said they had, and under
    // --maximize it gave the minimiser's reason (x^2 at 0 "has a
    // negative eigenvalue ... not a minimum").
    let negative = "the Hessian has a negative eigenvalue: a saddle or a maximum, not a minimum";
    let flat = "the Hessian is flat along a direction, but f falls along it at higher order: \
                a saddle or a maximum, not a minimum";
    let positive = "the Hessian has a positive eigenvalue: a saddle or a minimum, not a maximum";
    let rising = "the Hessian is flat along a direction, but f rises along it at higher order: \
                  a saddle or a minimum, not a maximum";
    let cases = [
        ("x^2 - y^2", "x=0,y=0", false, negative),
        ("x^3", "x=0", false, flat),
        ("x^2 - y^4", "x=0,y=0", false, flat),
        ("x^2", "x=0", true, positive),
        ("x^2 - y^2", "x=0,y=0", true, positive),
        ("y^4 - x^2", "x=0,y=0", true, rising),
    ];
    let t = Table::new();
    for (formula, start, maximize, reason) in cases {
        t.row(format!("{formula} maximize={maximize}"), || {
            let mut args = vec![formula, "--start", start];
            if maximize {
                args.push("--maximize");
            }
            let r = run(&args);
            assert_eq!(r.status, 1, "{}", r.stderr);
            assert!(r.stderr.contains(reason), "{}", r.stderr);
            let (v, _) = run_json(&args);
            assert_eq!(v["reason"], "saddle", "{v}");
            let message = v["message"].as_str().unwrap();
            assert!(message.contains(reason), "{message}");
        });
    }
}

#[test]
fn the_command_line_says_minimum_only_when_it_is_one() {
    // (formula, start, reason, heading of the text summary, exit status)
    let cases = [
        ("(x-3)^2", "x=0", "gtol", "minimum", 0),
        ("x + y^2", "x=0,y=1", "unbounded", "lowest seen", 1),
        ("-x^2", "x=1", "unbounded", "lowest seen", 1),
        ("x", "x=0", "unbounded", "lowest seen", 1),
        ("x^2 - y^2", "x=0,y=0", "saddle", "saddle", 1),
        // Near x = y = -744 `exp` is subnormal and f a staircase no search
        // step lowers; f falls to -inf a little further down.
        (
            "ln(exp(x) + exp(y))",
            "x=0,y=0",
            "unbounded",
            "lowest seen",
            1,
        ),
        // Higher-order falls where the Hessian is singular.
        ("x^3", "x=0", "saddle", "saddle", 1),
        ("x^2 - y^4", "x=0,y=0", "saddle", "saddle", 1),
        ("x^4 + y^2", "x=1,y=1", "gtol", "minimum", 0),
        // A gradient that vanishes as x runs off: no minimum is attained.
        ("exp(-x)", "x=0", "unbounded", "lowest seen", 1),
        // Beside a pole or a logarithm's singularity no step goes on (the
        // next double is the pole, or past it): these ended `stalled`,
        // blaming rounding or the gradient, and -1/x^2 `ftol-rel`.
        ("1/(x-1)", "x=0.5", "unbounded", "lowest seen", 1),
        ("tan(x)", "x=0.5", "unbounded", "lowest seen", 1),
        ("-1/x^2", "x=1", "unbounded", "lowest seen", 1),
        (
            "ln(abs(x)) + y^2",
            "x=0.5,y=1",
            "unbounded",
            "lowest seen",
            1,
        ),
        // A kink at the minimum is none of those.
        ("1e3*abs(x-1) + x^2", "x=0", "stalled", "last", 0),
    ];
    let t = Table::new();
    for (formula, start, reason, heading, status) in cases {
        t.row(formula, || {
            let (v, r) = run_json(&[formula, "--start", start]);
            assert_eq!((v["reason"].as_str(), r.status), (Some(reason), status));
            assert_eq!(v["converged"], reason == "gtol", "{v}");
            let r = run(&[formula, "--start", start]);
            assert!(r.stdout.starts_with(heading), "{}", r.stdout);
        });
    }
}

#[test]
fn bounds_beside_a_start_may_be_open_and_partial() {
    let args = [
        "(x-3)^2 + (y+1)^2 + (z-2)^2",
        "--start",
        "x=5,y=1,z=0",
        "--bounds",
        "x=0:1,y=0:inf",
    ];
    let (v, r) = run_json(&args);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(point(&v), [1.0, 0.0, 2.0]);
    assert_eq!(
        v["active_bounds"],
        serde_json::json!({"x": "upper", "y": "lower"})
    );
    assert_eq!(v["moved_start"], serde_json::json!(["x"]));
    let r = run(&args);
    assert!(
        r.stdout
            .contains("bounds      x at its upper bound, y at its lower bound"),
        "{}",
        r.stdout
    );
    // --project is no longer needed, and says so.
    let mut with_project = args.to_vec();
    with_project.push("--project");
    let r = run(&with_project);
    assert_eq!(r.status, 0);
    assert!(
        r.stderr.contains("--project is no longer needed"),
        "{}",
        r.stderr
    );
}

/// sqp's interior point ends a hair inside the bounds it holds (x = 1 -
/// 2e-15, y = 6e-13): it names them as every other method does, in the
/// text and the JSON.
#[test]
fn sqp_names_the_bounds_it_ends_on() {
    for method in ["lbfgs", "newton", "auglag", "sqp"] {
        let args = [
            "(x-3)^2 + (y+1)^2",
            "--start",
            "x=0,y=0",
            "--bounds",
            "x=0:1,y=0:inf",
            "--method",
            method,
        ];
        let (v, r) = run_json(&args);
        assert_eq!(r.status, 0, "{method}: {}", r.stderr);
        assert_eq!(
            v["active_bounds"],
            serde_json::json!({"x": "upper", "y": "lower"}),
            "{method}: {v}"
        );
        let r = run(&args);
        assert!(
            r.stdout
                .contains("\nbounds      x at its upper bound, y at its lower bound\n"),
            "{method}: {}",
            r.stdout
        );
        // A bound the run does not end on is not named, and the JSON
        // still says which are active: none.
        let inside = [
            "(x-0.5)^2",
            "--start",
            "x=0",
            "--bounds",
            "x=0:1",
            "--method",
            method,
        ];
        let (v, r) = run_json(&inside);
        assert_eq!(r.status, 0, "{method}: {}", r.stderr);
        assert_eq!(v["active_bounds"], serde_json::json!({}), "{method}: {v}");
        assert!(!run(&inside).stdout.contains("\nbounds "), "{method}");
    }
}

/// A variable whose bounds are equal is fixed, not at one of its bounds:
/// in the text and in the JSON, with constraints too.
#[test]
fn equal_bounds_report_the_variable_fixed() {
    let args = [
        "(x-3)^2 + y^2",
        "--start",
        "x=0,y=1",
        "--bounds",
        "x=1:1,y=0:5",
    ];
    let (v, r) = run_json(&args);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(point(&v), [1.0, 0.0]);
    assert_eq!(
        v["active_bounds"],
        serde_json::json!({"x": "fixed", "y": "lower"})
    );
    let r = run(&args);
    assert!(
        r.stdout
            .contains("\nbounds      x fixed, y at its lower bound\n"),
        "{}",
        r.stdout
    );
    let constrained = [
        "(x-3)^2 + y^2; subject to x + y <= 5",
        "--start",
        "x=0,y=1",
        "--bounds",
        "x=1:1,y=0:5",
        "--method",
        "auglag",
    ];
    let (v, r) = run_json(&constrained);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(v["active_bounds"]["x"], "fixed", "{v}");
    let r = run(&constrained);
    assert!(r.stdout.contains("\nbounds      x fixed"), "{}", r.stdout);
}

/// A random start draws a fixed variable's one point: `x=1:1` without
/// --start was refused ("x=1:1 is not an interval", exit status 2).
#[test]
fn equal_bounds_fix_a_variable_for_random_starts_too() {
    for extra in [&["--seed", "1"][..], &["--restarts", "3", "--seed", "2"]] {
        let mut args = vec!["(x-3)^2+y^2", "--bounds", "x=1:1,y=-1:1"];
        args.extend_from_slice(extra);
        let (v, r) = run_json(&args);
        assert_eq!(r.status, 0, "{extra:?}: {}", r.stderr);
        let x = point(&v);
        assert_eq!(x[0], 1.0, "{v}");
        assert!(x[1].abs() < 1e-6, "{v}");
        assert_eq!(v["active_bounds"]["x"], "fixed", "{v}");
    }
}

// ---------------------------------------------------------------- reproducibility

#[test]
fn a_seed_reproduces_the_run() {
    let args = [
        testfns::HIMMELBLAU,
        "--bounds",
        "x=-5:5,y=-5:5",
        "--method",
        "adam",
        "--seed",
        "12345",
    ];
    // Everything but the times.
    let timeless = |mut v: Value| {
        v.as_object_mut().unwrap().remove("seconds");
        v.to_string()
    };
    let (a, _) = run_json(&args);
    let (b, _) = run_json(&args);
    assert_eq!(timeless(a.clone()), timeless(b));
    assert_eq!(a["seed"].as_u64(), Some(12345));
    // A different seed starts elsewhere.
    let mut other = args.to_vec();
    other[6] = "54321";
    let (c, _) = run_json(&other);
    assert_ne!(a["x"], c["x"]);

    // No --seed: one is drawn and reported; rerunning with it repeats the run.
    let args = [
        testfns::HIMMELBLAU,
        "--bounds",
        "x=-5:5,y=-5:5",
        "--method",
        "gd",
        "--lr",
        "0.01",
    ];
    let (drawn, _) = run_json(&args);
    let seed = drawn["seed"]
        .as_u64()
        .unwrap_or_else(|| panic!("no seed in {drawn}"));
    let seed = seed.to_string();
    let mut again = args.to_vec();
    again.extend(["--seed", &seed]);
    let (repeat, _) = run_json(&again);
    // Everything but the times.
    let timeless = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("seconds");
        v.to_string()
    };
    assert_eq!(timeless(&drawn), timeless(&repeat));
    // Himmelblau's four minima all have f = 0.
    assert!(num(&repeat, "f") < 1e-12, "{repeat}");
    // The text summary names the seed too.
    let r = run(&again);
    assert!(
        r.stdout
            .contains(&format!("random start from --seed {seed}\n")),
        "{}",
        r.stdout
    );

    // A given start draws no seed.
    let (v, _) = run_json(&PARABOLA_SEED);
    assert!(v.get("seed").is_none(), "{v}");
}

// ---------------------------------------------------------------- bad input

#[test]
fn bad_input_is_refused_with_status_2_and_one_clear_line() {
    let cases: [(&[&str], &str); 16] = [
        (
            &["x^2", "--start", "x=1", "--lr=-1"],
            "error: --lr must be a positive number, not -1",
        ),
        (
            &["x^2", "--start", "x=1", "--lr", "0"],
            "error: --lr must be a positive number, not 0",
        ),
        (
            &["x^2", "--start", "x=1", "--max-iter", "0"],
            "error: --max-iter must be at least 1",
        ),
        (
            &["x^2", "--start", "x=1", "--method", "foo"],
            "error: invalid value 'foo' for '--method <METHOD>'",
        ),
        (
            &["x^2", "--start", "x=abc"],
            "error: --start: 'abc' is not a number",
        ),
        (
            &["x^2", "--start", "y=1"],
            "error: --start: the formula has no variable 'y'",
        ),
        (
            &["x^2 + y", "--start", "x=1"],
            "error: --start: no value for 'y'",
        ),
        (
            &["x^2", "--bounds", "x=2:1"],
            "error: --bounds: x=2:1 is not an interval: the low end must be below the high end",
        ),
        (
            &["x^2 + y", "--bounds", "x=0:1"],
            "error: --bounds gives no range for 'y'",
        ),
        (&["x^2 + y"], "error: no start point"),
        (
            &["x^2", "--start", "x=1", "--project"],
            "error: --project needs --bounds",
        ),
        (
            &["x^2", "--bounds", "x=0:inf"],
            "error: --bounds: x=0:inf has an infinite end, and points are drawn from a finite box",
        ),
        (
            &["x^2", "--start", "x=1", "--line-search", "--method", "adam"],
            "error: --line-search applies to gd (lbfgs and newton always search)",
        ),
        (
            &[
                "x^2",
                "--start",
                "x=1",
                "--method",
                "momentum",
                "--momentum",
                "1.5",
            ],
            "error: --momentum must be at least 0 and below 1, not 1.5",
        ),
        (
            &["x^2", "--start", "x=1", "--lr", "nan"],
            "error: --lr must be a positive number, not NaN",
        ),
        (
            &["x^2", "--start", "x=1,x=2"],
            "error: --start: 'x' is given twice",
        ),
    ];
    let t = Table::new();
    for (args, first_line) in cases {
        t.row(format!("{args:?}"), || {
            let r = run(args);
            assert_eq!(r.status, 2, "{args:?}: {}", r.stderr);
            assert_eq!(r.stdout, "", "{args:?}");
            assert_eq!(
                r.stderr.lines().next(),
                Some(first_line),
                "{args:?}:\n{}",
                r.stderr
            );
        });
    }
    // Hints where the fix is not obvious.
    let r = run(&["x^2 + y"]);
    assert!(
        r.stderr.contains(
            "give one with --start x=1, or a box for a random start with --bounds x=-1:1"
        ),
        "{}",
        r.stderr
    );
    let r = run(&["x^2 + y", "--start", "x=1"]);
    assert!(
        r.stderr.contains("the formula's variables are 'x' and 'y'"),
        "{}",
        r.stderr
    );

    // A negative value as a separate word reaches the same check.
    let r = run(&["x^2", "--start", "x=1", "--lr", "-1"]);
    assert_eq!((r.status, r.stdout.as_str()), (2, ""), "{}", r.stderr);
    assert_eq!(
        r.stderr.lines().next(),
        Some("error: --lr must be a positive number, not -1")
    );
}

// ---------------------------------------------------------------- divergence

#[test]
fn a_step_too_large_diverges_with_advice() {
    // x^4 from x = 1 with lr 10: x -> x - 40 x^3 grows without bound until
    // x^4 overflows.
    let (v, r) = run_json(&["x^4", "--start", "x=1", "--method", "gd", "--lr", "10"]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert_eq!(v["reason"], "diverged");
    assert_eq!(v["converged"], false);
    let hint = "f grew until it overflowed, so the step is too large: try a smaller --lr (now 10)";
    assert_eq!(v["hint"], hint);
    assert!(
        r.stderr
            .starts_with(&format!("note: stopped by diverged: {hint}\n")),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("error: a power overflowed"),
        "{}",
        r.stderr
    );
    // The reported point is the last finite one.
    let x = point(&v);
    assert!(x[0].is_finite() && num(&v, "f") == x[0].powi(4), "{v}");
}

#[test]
fn leaving_the_domain_diverges_and_names_the_operation() {
    // ln(x) has no minimum: gd (lr 0.1) from x = 1 moves by -0.1/x, towards
    // 0 faster and faster: 0.9, 0.789, 0.662, 0.511, 0.315, then
    // 0.315 - 0.1/0.315 = -0.0016, where ln is NaN.
    let (v, r) = run_json(&[
        "ln(x)", "--start", "x=1", "--method", "gd", "--trace", "jsonl",
    ]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert_eq!(v["reason"], "diverged");
    assert_eq!(v["hint"], "a step left the formula's domain");
    assert!(
        r.stderr
            .contains("note: stopped by diverged: a step left the formula's domain\n")
    );
    assert!(
        r.stderr.contains("error: ln of a negative number\n"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("1 | ln(x)\n"), "{}", r.stderr);
    assert!(r.stderr.contains("^^^^^ gives NaN here"), "{}", r.stderr);
    // Reported: the last point inside the domain, and its value.
    let x = point(&v)[0];
    assert!((x - 0.315_443_848_931_175_8).abs() < 1e-12, "{v}");
    assert!((num(&v, "f") - x.ln()).abs() < 1e-15);
    // The trace shows the step out: six steps, the last to x < 0, f null.
    let trace = jsonl(&r.stderr);
    assert_eq!(trace.len(), 7);
    assert_eq!(num(&v, "iterations"), 6.0);
    let last = &trace[6];
    assert!(point(last)[0] < 0.0 && last["f"].is_null(), "{last}");

    // The library says the same: the point outside the domain is kept.
    let o = minimize_text("ln(x)", &[1.0], &Settings::new(Method::gd()));
    assert_eq!(o.reason, Reason::Diverged);
    let bad = o.bad_point.expect("a diverged run keeps the bad point");
    assert!(bad[0] < 0.0 && bad[0] > -0.01, "{bad:?}");
    assert_eq!(o.x, [x]);

    // A start outside the domain is reported as such.
    let (v, r) = run_json(&["ln(x)", "--start", "x=-1"]);
    assert_eq!(r.status, 1);
    assert_eq!(v["reason"], "diverged");
    assert_eq!(v["hint"], "the start point is outside the formula's domain");
    assert!(
        r.stderr.contains("error: ln of a negative number"),
        "{}",
        r.stderr
    );
    // An overflow at the start is not outside the domain, and its f is
    // not "last finite" (a user probe).
    let r = crate::run::slope(&["min", "x^2", "--start", "x=1e300"], None);
    assert_eq!(r.status, 1);
    assert!(
        r.stdout.starts_with("not finite  f = inf\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("infinite at the start point")
            && r.stderr.contains("error: a power overflowed"),
        "{}",
        r.stderr
    );
}

/// A first step of 1e308 overflows x^2 at every step down to about 1e154
/// and, where f is finite, lands 1e146 past the minimum: each line search
/// brings it in by its exponent and finds the minimum (it halved 60 times
/// and stalled, blaming the edge of a domain x^2 does not have), and the
/// heading prints the step as the report prints numbers.
#[test]
fn an_absurdly_long_first_step_still_finds_the_minimum() {
    for method in [&["lbfgs"][..], &["gd", "--line-search"], &["newton"]] {
        let mut args = vec!["x^2", "--start", "x=1", "--lr", "1e308", "--method"];
        args.extend_from_slice(method);
        let r = run(&args);
        assert_eq!(
            (r.status, r.stderr.as_str()),
            (0, ""),
            "{args:?}\n{}",
            r.stdout
        );
        assert!(
            r.stdout.contains("\nstopped     gtol after"),
            "{args:?}\n{}",
            r.stdout
        );
        let method = r.stdout.lines().find(|l| l.starts_with("method"));
        assert!(
            method.is_some_and(|l| l.ends_with(", lr 1e308")),
            "{args:?}\n{}",
            r.stdout
        );
        let (v, _) = run_json(&args);
        assert!(point(&v)[0].abs() < 1e-8, "{args:?}: {v}");
        assert_eq!(v["lr"], 1e308);
    }
    // The same search on x^4 and on cosh: the quadratic model is no
    // longer exact, and the search still gets in.
    for formula in ["x^4", "exp(x) + exp(-x)"] {
        let (v, r) = run_json(&[formula, "--start", "x=1", "--lr", "1e308"]);
        assert_eq!(
            (r.status, v["converged"].as_bool()),
            (0, Some(true)),
            "{formula}: {v}"
        );
    }
}

/// A line search whose every trial f rejects, without a NaN among them,
/// does not blame the edge of a domain: f = x^2 with a gradient 10^6 times
/// too steep never falls by the 10^-4 of the promised decrease that a
/// step needs, though a short step down the gradient lowers it.
#[test]
fn a_stall_without_nan_does_not_blame_a_domain() {
    let mut steep = FnObjective::new(1, |x: &[f64], g: &mut [f64]| {
        g[0] = 2e6 * x[0];
        x[0] * x[0]
    });
    let o = minimize(&mut steep, &[1.0], &Settings::default()).unwrap();
    assert_eq!(o.reason, Reason::Stalled, "{}", o.message);
    assert!(
        o.message.starts_with(
            "no acceptable step was found, though f still falls a little way down the \
             gradient: along the line search's trials (none of them NaN)"
        ),
        "{}",
        o.message
    );
    assert!(
        o.message
            .ends_with("the gradient may be wrong, or f rough at this scale")
    );
}

// ---------------------------------------------------------------- traces

/// Parses a text trace line `>N f([x1, x2]) = F` (every number with all
/// its digits, as the summary prints them) into N and the numbers.
fn text_trace_line(line: &str) -> Option<(usize, Vec<f64>, f64)> {
    let rest = line.strip_prefix('>')?;
    let (n, rest) = rest.split_once(" f([")?;
    let (xs, f) = rest.split_once("]) = ")?;
    let xs: Option<Vec<f64>> = xs.split(", ").map(|x| x.parse().ok()).collect();
    Some((n.parse().ok()?, xs?, f.parse().ok()?))
}

#[test]
fn text_trace_lines_hold_every_digit() {
    assert_eq!(
        text_trace_line(">3 f([-0.18590023, 1e-9]) = 0.0345"),
        Some((3, vec![-0.18590023, 1e-9], 0.0345))
    );
    assert_eq!(text_trace_line("3 f([-0.1859]) = 0.03456"), None);

    // With --json, the trace goes to stderr and stdout stays one object.
    let mut args = PARABOLA_SEED.to_vec();
    args.push("--trace");
    let (v, r) = run_json(&args);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines.len() as f64,
        num(&v, "iterations") + 1.0,
        "{}",
        r.stderr
    );
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(text_trace_line(line).map(|t| t.0), Some(i), "{line:?}");
    }
    assert_eq!(lines[0], ">0 f([1.5]) = 10.75");
    // gd with lr 0.1: x1 = 1.5 - 0.1 * (6*1.5 + 2) = 0.4 (to rounding),
    // f = 0.48 + 0.8 + 1.
    assert_eq!(lines[1], ">1 f([0.3999999999999999]) = 2.2799999999999994");
    // The last line is the reported point, to the last digit.
    let (_, x, f) = text_trace_line(lines.last().unwrap()).unwrap();
    assert_eq!((x, f), (point(&v), num(&v, "f")));

    // Without --json, the trace precedes the summary on stdout; two
    // variables are separated by ", ".
    let r = run(&[testfns::BOOTH, "--start", "x=0,y=0", "--trace"]);
    let trace: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with('>')).collect();
    assert!(r.stdout.starts_with(">0 f([0, 0]) = 74\n"), "{}", r.stdout);
    for (i, line) in trace.iter().enumerate() {
        assert_eq!(text_trace_line(line).map(|t| t.0), Some(i), "{line:?}");
    }
    let stopped = |reason| format!("stopped     {reason} after {} iterations", trace.len() - 1);
    assert!(
        r.stdout.contains(&stopped("gtol")) || r.stdout.contains(&stopped("ftol-rel")),
        "{}",
        r.stdout
    );
}

#[test]
fn jsonl_trace_has_one_object_per_iteration() {
    let args = [
        testfns::SPHERE,
        "--start",
        "x1=0,x2=0.5,x3=0",
        "--method",
        "gd",
        "--trace",
        "jsonl",
    ];
    let (v, r) = run_json(&args);
    let trace = jsonl(&r.stderr);
    assert_eq!(
        r.stderr.lines().count(),
        trace.len(),
        "only trace lines: {}",
        r.stderr
    );
    assert_eq!(trace.len() as f64, num(&v, "iterations") + 1.0);
    let mut previous: Option<Vec<f64>> = None;
    for (i, it) in trace.iter().enumerate() {
        let keys: Vec<&str> = it.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["iteration", "x", "f", "grad_norm", "step"], "{it}");
        assert_eq!(it["iteration"].as_u64(), Some(i as u64));
        let x = point(it);
        assert_eq!(x.len(), 3);
        // f, the gradient's largest component and the step agree with x.
        let want_f = (x[0] - 1.5).powi(2) + (x[1] - 2.5).powi(2) + (x[2] - 0.5).powi(2);
        assert!((num(it, "f") - want_f).abs() < 1e-12, "{it}");
        let want_g = [x[0] - 1.5, x[1] - 2.5, x[2] - 0.5]
            .iter()
            .map(|e| 2.0 * e.abs())
            .fold(0.0, f64::max);
        assert!((num(it, "grad_norm") - want_g).abs() < 1e-12, "{it}");
        let want_step = previous.map_or(0.0, |p| {
            p.iter()
                .zip(&x)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt()
        });
        assert!((num(it, "step") - want_step).abs() < 1e-12, "{it}");
        previous = Some(x);
    }
    assert_eq!(trace.last().unwrap()["x"], v["x"]);
    assert_eq!(trace.last().unwrap()["f"], v["f"]);
}

#[test]
fn csv_trace_has_a_header_and_one_row_per_iteration() {
    let args = [
        testfns::SPHERE,
        "--start",
        "x1=0,x2=0.5,x3=0",
        "--method",
        "gd",
        "--trace",
        "csv",
    ];
    let (v, r) = run_json(&args);
    let mut lines = r.stderr.lines();
    assert_eq!(lines.next(), Some("iteration,x1,x2,x3,f,grad_norm,step"));
    let rows: Vec<Vec<f64>> = lines
        .map(|l| {
            l.split(',')
                .map(|c| c.parse().unwrap_or_else(|_| panic!("{l}")))
                .collect()
        })
        .collect();
    assert_eq!(rows.len() as f64, num(&v, "iterations") + 1.0);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), 7, "{row:?}");
        assert_eq!(row[0], i as f64);
    }
    assert_eq!(rows[0][1..5], [0.0, 0.5, 0.0, 2.25 + 4.0 + 0.25]);
    // Full precision: the last row is the reported point exactly.
    assert_eq!(rows.last().unwrap()[1..4], point(&v)[..]);
    assert_eq!(rows.last().unwrap()[4], num(&v, "f"));

    // Without --json the csv goes to stdout alone, the summary to stderr,
    // so that `--trace csv > t.csv` is a CSV file.
    let r = run(&[
        "x^2 + 3*y^2",
        "--start",
        "x=1,y=1",
        "--method",
        "newton",
        "--trace",
        "csv",
    ]);
    assert!(
        r.stdout
            .starts_with("iteration,x,y,f,grad_norm,step\n0,1.0,1.0,4.0,"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.lines().skip(1).all(|l| l.split(',').count() == 6));
    assert!(r.stderr.starts_with("minimum     f = "), "{}", r.stderr);
    assert_eq!(r.status, 0);

    // --trace-file takes the trace anywhere, and stdout keeps the summary.
    let dir = std::env::temp_dir().join(format!("slope-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("t.jsonl");
    let (v, r) = run_json(&[
        "x^2 + 3*y^2",
        "--start",
        "x=1,y=1",
        "--trace",
        "jsonl",
        "--trace-file",
        file.to_str().unwrap(),
    ]);
    assert_eq!(r.stderr, "");
    let trace = jsonl(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(trace.len() as f64, num(&v, "iterations") + 1.0);
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------- gradient sources

#[test]
fn finite_differences_reach_the_same_minimum() {
    // 3*x^2 + 2*x + 1: minimum 2/3 at x = -1/3. Central differences of a
    // quadratic are exact up to rounding, so the run takes the same steps.
    let (exact, _) = run_json(&PARABOLA_SEED);
    for scheme in ["fd-central", "fd-forward"] {
        let mut args = PARABOLA_SEED.to_vec();
        args.extend(["--gradient", scheme]);
        let (fd, r) = run_json(&args);
        assert_eq!(r.status, 0, "{}", r.stderr);
        assert_eq!(fd["reason"], "ftol");
        assert_eq!(fd["iterations"], exact["iterations"], "{scheme}");
        // Forward differences are off by h * f''/2 = 1.5e-8 * 3 in the
        // gradient: the path barely moves.
        assert_near(&point(&fd), &point(&exact), 1e-6, scheme);
        assert_near(&point(&fd), &[-1.0 / 3.0], 2.5e-3, scheme);
        // The summary names the gradient source.
        let r = run(&args);
        let name = if scheme == "fd-central" {
            "central"
        } else {
            "forward"
        };
        assert!(
            r.stdout
                .contains(&format!("gd, lr 0.1, {name} differences\n")),
            "{}",
            r.stdout
        );
    }
}

#[test]
fn finite_differences_cost_extra_calls_of_the_function() {
    // "evaluations" counts calls of the function itself: wrapped around a
    // counted function of n = 1 variable, central differences call it
    // 1 + 2n = 3 times per value_grad.
    let calls = Cell::new(0usize);
    let inner = FnObjective::new(1, |x: &[f64], g: &mut [f64]| {
        calls.set(calls.get() + 1);
        g[0] = 6.0 * x[0] + 2.0;
        3.0 * x[0] * x[0] + 2.0 * x[0] + 1.0
    });
    let mut fd = FiniteDifferences::new(inner, Scheme::Central);
    let settings = Settings {
        ftol: Some(1e-4),
        max_iter: 100,
        ..Settings::new(Method::gd().with_lr(0.1))
    };
    let o = minimize(&mut fd, &[1.5], &settings).unwrap();
    assert_eq!(o.reason, Reason::Ftol);
    assert_near(&o.x, &[-1.0 / 3.0], 2.5e-3, "fd central");
    // Each gradient costs 1 + 2n function values, and the count says so:
    // one at the start, one per step, two for the saddle test (a central
    // difference of the differenced gradient).
    assert_eq!(o.evaluations, 3 * (o.iterations + 3));
    assert_eq!(calls.get(), o.evaluations);

    // With the exact gradient, each evaluation is one call.
    calls.set(0);
    let mut exact = fd.inner;
    let o = minimize(&mut exact, &[1.5], &settings).unwrap();
    assert_eq!(calls.get(), o.evaluations);
}

// ---------------------------------------------------------------- library

#[test]
fn a_closure_with_a_hand_written_gradient() {
    // (x-1)^2 + 10*(y+2)^2: minimum 0 at (1, -2).
    let quadratic = |x: &[f64], g: &mut [f64]| {
        g[0] = 2.0 * (x[0] - 1.0);
        g[1] = 20.0 * (x[1] + 2.0);
        (x[0] - 1.0).powi(2) + 10.0 * (x[1] + 2.0).powi(2)
    };
    let lbfgs = Settings::new(Method::lbfgs());
    let gd = Settings {
        ..Settings::new(Method::gd().with_lr(0.04))
    };
    for settings in [lbfgs, gd] {
        let mut objective = FnObjective::new(2, quadratic);
        assert_eq!(objective.n_vars(), 2);
        let o = minimize(&mut objective, &[5.0, 5.0], &settings).unwrap();
        let stops = [Reason::Gtol, Reason::FtolRel];
        assert!(stops.contains(&o.reason), "{:?}", settings.method);
        assert_near(&o.x, &[1.0, -2.0], 1e-8, settings.method.name());
        assert!(o.f < 1e-15);
    }
    // The same function compiled from a formula takes the same steps.
    let settings = Settings {
        ..Settings::new(Method::gd().with_lr(0.04))
    };
    let by_closure = minimize(&mut FnObjective::new(2, quadratic), &[5.0, 5.0], &settings).unwrap();
    let by_formula = minimize_text("(x-1)^2 + 10*(y+2)^2", &[5.0, 5.0], &settings);
    assert_eq!(by_closure.iterations, by_formula.iterations);
    assert_near(&by_closure.x, &by_formula.x, 1e-12, "closure vs formula");
}

#[test]
fn hessian_vector_products_from_every_objective_that_has_them() {
    let text = "x^2*y + exp(x - y) + 3*y^4";
    let (x, v) = ([0.3, -0.7], [1.5, -2.0]);
    let f = Formula::parse(text).unwrap();
    let mut compiled = f.compile().unwrap();
    let mut out = [0.0; 2];
    // None until the Hessian is asked for.
    assert!(!compiled.hess_vec(&x, &v, &mut out));
    assert!(compiled.prepare_hess_vec().unwrap());
    let h = compiled.hessian(&x).unwrap();
    let want = [h[0] * v[0] + h[1] * v[1], h[2] * v[0] + h[3] * v[1]];
    // Twice at one point (the Hessian kept), then at another.
    for _ in 0..2 {
        assert!(compiled.hess_vec(&x, &v, &mut out));
        assert_near(&out, &want, 1e-14, "compiled H·v");
    }
    let other = [1.0, 2.0];
    let h = compiled.hessian(&other).unwrap();
    assert!(compiled.hess_vec(&other, &v, &mut out));
    assert_near(
        &out,
        &[h[0] * v[0] + h[1] * v[1], h[2] * v[0] + h[3] * v[1]],
        1e-12,
        "moved",
    );
    // A clone starts without the kept Hessian and computes the same.
    let mut negated = Negated(compiled.clone());
    assert!(negated.prepare_hess_vec().unwrap());
    assert!(negated.hess_vec(&x, &v, &mut out));
    assert_near(&out, &want.map(|w| -w), 1e-14, "negated H·v");
    let mut boxed: Box<dyn Objective> = Box::new(compiled);
    assert!(boxed.hess_vec(&x, &v, &mut out));
    assert_near(&out, &want, 1e-14, "boxed H·v");
    // A closure has products only when given them.
    let bowl = |x: &[f64], g: &mut [f64]| {
        g[0] = 2.0 * x[0];
        x[0] * x[0]
    };
    let mut plain = FnObjective::new(1, bowl);
    assert!(!plain.prepare_hess_vec().unwrap());
    assert!(!plain.hess_vec(&[1.0], &[1.0], &mut out[..1]));
    let mut with =
        FnObjective::new(1, bowl).with_hess_vec(|_: &[f64], v: &[f64], o: &mut [f64]| {
            o[0] = 2.0 * v[0];
        });
    assert!(with.prepare_hess_vec().unwrap());
    assert!(with.hess_vec(&[1.0], &[3.0], &mut out[..1]));
    assert_eq!(out[0], 6.0);
    // Differenced gradients have none.
    let mut fd = FiniteDifferences::new(f.compile().unwrap(), Scheme::Central);
    assert!(!fd.prepare_hess_vec().unwrap());
}

#[test]
fn negated_maximises() {
    // -(x-2)^2 + 3: maximum 3 at x = 2; Negated minimises its negation.
    for method in [Method::lbfgs(), Method::newton(), Method::gd()] {
        let f = Formula::parse("-(x-2)^2 + 3").unwrap();
        let compiled = CompiledFormula::new(&f, matches!(method, Method::Newton { .. })).unwrap();
        let mut objective = Negated(compiled);
        let o = minimize(&mut objective, &[-1.0], &Settings::new(method)).unwrap();
        assert_eq!(o.reason, Reason::Gtol, "{method:?}");
        assert_near(&o.x, &[2.0], 1e-8, method.name());
        assert!((-o.f - 3.0).abs() < 1e-15, "{method:?}: f = {}", o.f);
    }
    // Negated negates value, gradient and Hessian.
    let f = Formula::parse("x^3").unwrap();
    let mut objective = Negated(CompiledFormula::new(&f, true).unwrap());
    let mut g = [0.0];
    let mut h = [0.0];
    assert_eq!(objective.value_grad(&[2.0], &mut g), -8.0);
    assert_eq!(g, [-12.0]);
    assert_eq!(objective.value(&[2.0]), -8.0);
    assert!(objective.hessian(&[2.0], &mut h));
    assert_eq!(h, [-12.0]);
}

#[test]
fn keep_history_returns_every_iterate() {
    // Booth, minimum 0 at (1, 3).
    let text = testfns::BOOTH;
    let formula = Formula::parse(text).unwrap();
    for method in [Method::gd(), Method::adam(), Method::lbfgs()] {
        let lr = if method == Method::lbfgs() { 1.0 } else { 0.05 };
        let settings = Settings {
            keep_history: true,
            max_iter: 10_000,
            ..Settings::new(method.with_lr(lr))
        };
        let f = Formula::parse(text).unwrap();
        let mut objective = CompiledFormula::new(&f, false).unwrap();
        let mut observed: Vec<(Vec<f64>, f64)> = Vec::new();
        let o = minimize_with(&mut objective, &[0.0, 0.0], &settings, |it: &Iterate| {
            assert_eq!(it.iteration, observed.len());
            observed.push((it.x.to_vec(), it.f));
        })
        .unwrap();
        let stops = [Reason::Gtol, Reason::FtolRel];
        assert!(stops.contains(&o.reason), "{method:?}");
        assert_near(&o.x, &[1.0, 3.0], 1e-8, method.name());
        assert_eq!(o.history.len(), o.iterations + 1, "{method:?}");
        assert_eq!(o.history, observed, "{method:?}");
        assert_eq!(o.history[0], (vec![0.0, 0.0], 74.0));
        assert_eq!(o.history.last().unwrap(), &(o.x.clone(), o.f));
        for (x, fx) in &o.history {
            assert!(
                (formula.eval(x) - fx).abs() <= 1e-12 * fx.abs().max(1.0),
                "{x:?}"
            );
        }
    }
    // Off by default.
    let o = minimize_text(text, &[0.0, 0.0], &Settings::new(Method::lbfgs()));
    assert!(o.history.is_empty());
    assert!(o.converged(), "{o:?}");
}

// ----------------------------------------------------------------- restarts

#[test]
fn restarts_find_all_four_minima_of_himmelblau() {
    // Himmelblau's minima, all with f = 0: (3, 2), (-2.805118, 3.131312),
    // (-3.779310, -3.283186), (3.584428, -1.848126).
    let known = [
        [3.0, 2.0],
        [-2.805118, 3.131312],
        [-3.779310, -3.283186],
        [3.584428, -1.848126],
    ];
    let args = [
        slope::testfns::HIMMELBLAU,
        "--bounds",
        "x=-5:5,y=-5:5",
        "--seed",
        "1",
        "--restarts",
        "24",
    ];
    let (v, r) = run_json(&args);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(v["restarts"], 24);
    let minima = v["minima"].as_array().unwrap();
    assert_eq!(minima.len(), 4, "{v}");
    for m in &known {
        let found = minima.iter().any(|f| {
            let x = f["x"].as_array().unwrap();
            (x[0].as_f64().unwrap() - m[0]).abs() < 1e-5
                && (x[1].as_f64().unwrap() - m[1]).abs() < 1e-5
        });
        assert!(found, "minimum {m:?} not among {minima:?}");
    }
    let runs: u64 = minima.iter().map(|m| m["runs"].as_u64().unwrap()).sum();
    assert!(runs <= 24);
    assert!(num(&v, "f") < 1e-20);
    // The same seed gives the same search (in another time).
    let timeless = |mut v: Value| {
        let obj = v.as_object_mut().unwrap();
        obj.remove("seconds");
        obj.remove("total_seconds");
        v
    };
    assert_eq!(timeless(run_json(&args).0), timeless(v));
}

/// Under --maximize the list heads "maxima", and one run is "1 run".
#[test]
fn restarts_name_maxima_and_count_runs_in_words() {
    let args = |k: &'static str| {
        [
            "-(x^2 - 4)^2",
            "--bounds",
            "x=-3:3",
            "--seed",
            "1",
            "--restarts",
            k,
            "--maximize",
        ]
    };
    let r = run(&args("1"));
    assert_eq!(r.status, 0, "{}", r.stderr);
    let tail: Vec<&str> = r
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("maxima"))
        .collect();
    assert_eq!(tail.len(), 2, "{}", r.stdout);
    assert!(
        tail[0].starts_with("maxima      1 distinct from 1 of 1 run converging ("),
        "{}",
        r.stdout
    );
    assert!(tail[1].ends_with("  (1 run)"), "{}", r.stdout);
    let r = run(&args("4"));
    assert!(
        r.stdout
            .contains("\nmaxima      2 distinct from 4 of 4 runs converging ("),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("  (2 runs)\n"), "{}", r.stdout);
    let r = run(&[
        "x^2",
        "--bounds",
        "x=-1:1",
        "--seed",
        "1",
        "--restarts",
        "2",
    ]);
    assert!(
        r.stdout
            .contains("\nminima      1 distinct from 2 of 2 runs"),
        "{}",
        r.stdout
    );
}

/// Ackley's global minimum is a kink (the square root of x² + y² at the
/// origin): runs that reach it end `stalled`, and the best converged run
/// (f = 2.58, a local minimum) was reported as the best while half the
/// runs had found f = 0.
#[test]
fn restarts_show_a_run_that_ended_lower_than_every_converged_one() {
    let ackley = "-20*exp(-0.2*sqrt(0.5*(x^2+y^2))) \
                  - exp(0.5*(cos(2*pi*x)+cos(2*pi*y))) + e + 20";
    let args = [
        ackley,
        "--bounds",
        "x=-1:1,y=-1:1",
        "--seed",
        "5",
        "--restarts",
        "20",
    ];
    let (v, r) = run_json(&args);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(v["reason"], "stalled", "{v}");
    assert!(v["f"].as_f64().unwrap() < 1e-12, "{v}");
    let converged_best = v["minima"][0]["f"].as_f64().unwrap();
    assert!(converged_best > 2.5, "{v}");
    let r = run(&args);
    assert!(r.stdout.starts_with("last "), "{}", r.stdout);
    assert!(
        r.stderr
            .contains("shown as the best, ended lower than every converged run"),
        "{}",
        r.stderr
    );
}

#[test]
fn restarts_need_bounds_and_no_trace() {
    let t = Table::new();
    for (args, message) in [
        (
            &["x^2", "--start", "x=1", "--restarts", "3"][..],
            "error: --restarts draws its starts from --bounds, without --start",
        ),
        (
            &["x^2", "--bounds", "x=-1:1", "--restarts", "0"][..],
            "error: --restarts must be at least 1",
        ),
        (
            &["x^2", "--bounds", "x=-1:1", "--restarts", "3", "--trace"][..],
            "error: --trace follows a single run: leave out --restarts",
        ),
    ] {
        t.row(format!("{args:?}"), || {
            let r = run(args);
            assert_eq!(
                (r.status, r.stderr.lines().next()),
                (2, Some(message)),
                "{args:?}"
            );
        });
    }
}

#[test]
fn a_maximum_that_is_not_attained_is_said_so() {
    // ln(x) passes gtol at x = 1e8; it rises on without bound.
    let r = run(&["ln(x)", "--start", "x=1", "--maximize"]);
    assert_eq!(r.status, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("highest seen"), "{}", r.stdout);
    assert!(r.stderr.contains("no maximum is attained"), "{}", r.stderr);
    assert!(r.stderr.contains("walk uphill"), "{}", r.stderr);
    assert!(!r.stderr.contains("minimum"), "{}", r.stderr);
}

#[test]
fn steps_shortened_by_lr_do_not_stop_the_run_by_relative_reduction_early() {
    // Rosenbrock plus 1 (so that relative reduction is measured against
    // |f| = 1): with lr below 1 each step lowers f by that fraction of a
    // full step. Counted as they fell, Newton stopped by ftol-rel at
    // f - 1 = 1.1e-7 (lr 0.01) and 7.5e-9 (lr 0.1); measured per full
    // step, within the test's 2.2e-9 of |f|, as at lr 1.
    for method in ["newton", "lbfgs"] {
        for lr in ["0.01", "0.1"] {
            let (v, r) = run_json(&[
                "(1-x)^2 + 100*(y-x^2)^2 + 1",
                "--start",
                "x=-1.2,y=1",
                "--method",
                method,
                "--lr",
                lr,
            ]);
            assert_eq!(r.status, 0, "{v}");
            let f = v["f"].as_f64().unwrap();
            assert!(f - 1.0 < 5e-9, "{method} lr {lr}: {v}");
        }
    }
}

#[test]
fn the_library_refuses_the_settings_slope_min_refuses() {
    // max_iter 0, a negative or NaN tolerance, and bounds with no number
    // between them are errors before any evaluation, as on the command
    // line (and in Python), not runs that stall or diverge.
    let f = Formula::parse("x^2").unwrap();
    let mut objective = CompiledFormula::new(&f, false).unwrap();
    let refused = |settings: Settings| {
        let e = minimize(&mut objective.clone(), &[1.0], &settings).unwrap_err();
        e.to_string()
    };
    let cases = [
        Settings {
            max_iter: 0,
            ..Settings::default()
        },
        Settings {
            gtol: -1.0,
            ..Settings::default()
        },
        Settings {
            gtol: f64::NAN,
            ..Settings::default()
        },
        Settings {
            ftol: Some(-1e-9),
            ..Settings::default()
        },
        Settings {
            xtol: Some(f64::NAN),
            ..Settings::default()
        },
        Settings {
            bounds: Some(vec![(f64::INFINITY, f64::INFINITY)]),
            ..Settings::default()
        },
        Settings {
            bounds: Some(vec![(f64::NEG_INFINITY, f64::NEG_INFINITY)]),
            ..Settings::default()
        },
    ];
    let messages: Vec<String> = cases.into_iter().map(refused).collect();
    assert!(
        messages[0].contains("max_iter must be at least 1"),
        "{messages:?}"
    );
    assert!(
        messages[1].contains("gtol must be zero or positive, not -1"),
        "{messages:?}"
    );
    assert!(messages[5].contains("hold no finite value"), "{messages:?}");
    assert!(minimize(&mut objective, &[1.0], &Settings::default()).is_ok());
}
