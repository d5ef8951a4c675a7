//! Runs that a stopping test ended short of the minimum, where the
//! end-of-run tests (the saddle test's probes and the walk) found a lower
//! point that shows it: the run goes on from there (`minimize.rs`,
//! `stopped_short`). Before, each was reported as a minimum where it
//! stopped. (Meyer's function in its box, stopped by `ftol-rel` at
//! 1.12e5, is in `mgh.rs`.)

use crate::run::json;

/// `slope min TEXT ARGS --json`: the point, f and the reason.
fn min(text: &str, args: &[&str]) -> (Vec<f64>, f64, String) {
    let mut all = vec!["min", text];
    all.extend_from_slice(args);
    all.push("--json");
    let (v, r) = json(&all);
    assert_eq!(r.status, 0, "{text} {args:?}: {}", r.stdout);
    let x = v["x"].as_array().unwrap();
    let x = x.iter().map(|v| v.as_f64().unwrap()).collect();
    (x, v["f"].as_f64().unwrap(), v["reason"].to_string())
}

#[test]
fn a_bound_beyond_a_flat_stretch_is_reached() {
    // exp(x) met gtol at x = -18.9 (gradient 6e-9), inside a box whose
    // minimum is its bound at -30; the walk found f lower there.
    for method in ["lbfgs", "newton"] {
        let (x, _, reason) = min(
            "exp(x)",
            &["--start", "x=0", "--bounds", "x=-30:5", "--method", method],
        );
        assert_eq!((x[0], reason.as_str()), (-30.0, "\"gtol\""), "{method}");
    }
}

#[test]
fn a_minimum_of_a_formula_at_a_small_scale_is_reached() {
    // The gradient met the absolute gtol (1e-8) at the start, 0
    // iterations in: f = 1e-150 at x = 1 and 1e-10 at x = 0.
    let (x, f, _) = min("1e-150*x^2", &["--start", "x=1"]);
    assert_eq!((x[0], f), (0.0, 0.0));
    let (x, f, _) = min("1e-10*(x-1)^2", &["--start", "x=0"]);
    assert!((x[0] - 1.0).abs() < 1e-6 && f < 1e-20, "{x:?} {f}");
    // The gradient (6e-9 at the origin) met gtol again after each step
    // L-BFGS took from the lower points the end-of-run tests found: it
    // said "minimum" at x = 2.76. Once a gtol stop is shown short, the
    // gradient must fall by the factor gtol from the start's. Rosenbrock's
    // function so scaled was a "saddle" at (-0.98, 0.97) (L-BFGS) and a
    // "minimum" at (0.949, 0.894) (Newton).
    for method in ["lbfgs", "newton"] {
        let (x, f, _) = min(
            "1e-9*((x-3)^2 + (y+1)^2)",
            &["--start", "x=0,y=0", "--method", method],
        );
        let near = (x[0] - 3.0).abs() < 1e-12 && (x[1] + 1.0).abs() < 1e-12;
        assert!(near && f < 1e-35, "{method}: {x:?} {f}");
        let (x, f, _) = min(
            "1e-9*((1-x)^2 + 100*(y-x^2)^2)",
            &["--start", "x=-1.2,y=1", "--method", method],
        );
        let near = (x[0] - 1.0).abs() < 1e-6 && (x[1] - 1.0).abs() < 1e-6;
        assert!(near && f < 1e-21, "{method}: {x:?} {f}");
    }
}

#[test]
fn a_minimum_far_beyond_unit_steps_is_reached() {
    // From 0, L-BFGS's first steps (x moves by 1) change f = 1e40 by less
    // than its rounding, so ftol-rel stopped it at x = 2, "minimum". The
    // walk now goes on through such level stretches where the gradient
    // promises a fall, and the next leg's first step is as long as the
    // move to the lower point the walk found.
    let (x, f, _) = min("(x-1e20)^2", &["--start", "x=0"]);
    assert_eq!((x[0], f), (1e20, 0.0));
    let (x, f, _) = min("(x-1e20)^2 + (y-1e20)^2", &["--start", "x=0,y=0"]);
    assert_eq!((x[0], x[1], f), (1e20, 1e20, 0.0));
}

#[test]
fn a_gradient_step_lost_to_rounding_goes_on_at_the_scale_of_the_point() {
    // f = x from 1e25: a unit step (gradient 1) does not move x, so the
    // search failed and the run ended `stalled` at the start, blaming the
    // gradient, though the walk down it found f lower. The run now goes
    // on from there, its first step as long as the move.
    for method in ["lbfgs", "newton"] {
        let (v, r) = json(&[
            "min", "x", "--start", "x=1e25", "--method", method, "--json",
        ]);
        assert_eq!(
            (v["reason"].as_str(), r.status),
            (Some("unbounded"), 1),
            "{v}"
        );
        // In a box the run reaches the bound (not `unbounded` on the way:
        // x shrinks from 1e25, it does not grow past 1e20).
        let (x, f, reason) = min(
            "x",
            &[
                "--start", "x=1e25", "--bounds", "x=0:inf", "--method", method,
            ],
        );
        assert_eq!(
            (x[0], f, reason.as_str()),
            (0.0, 0.0, "\"gtol\""),
            "{method}"
        );
    }
}
