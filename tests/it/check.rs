//! `slope check` and `slope::check`: exact gradients and Hessians against
//! finite differences on the benchmark set, kinks and poles skipped, hand
//! derivatives proved, agreeing or caught with a counterexample, bad input,
//! and the finite-difference descent of the first seed tutorial.

use serde_json::Value;
use slope::check::{self, Verdict};
use slope::{Formula, testfns};

use crate::run::{self, Run};
use crate::table::Table;

// ---------------------------------------------------------------- helpers

/// Runs `slope check ARGS`.
fn run(args: &[&str]) -> Run {
    run::command("check", args)
}

/// Runs `slope check ARGS --json`: one JSON object on one line.
fn run_json(args: &[&str]) -> (Value, Run) {
    run::command_json("check", args)
}

/// The `hand` entry of variable `var`.
fn hand<'a>(v: &'a Value, var: &str) -> &'a Value {
    v["hand"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["var"] == var)
        .unwrap_or_else(|| panic!("no hand entry for {var} in {v}"))
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

// ---------------------------------------------------------------- exact vs fd

fn benchmark_set() -> Vec<String> {
    let mut set: Vec<String> = [
        testfns::PARABOLA,
        testfns::GAUSSIAN,
        testfns::SPHERE,
        testfns::ACKLEY,
        testfns::BOOTH,
        testfns::BEALE,
        testfns::HIMMELBLAU,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    set.extend([
        testfns::rosenbrock(8),
        testfns::product(6),
        testfns::nested_sin(6),
        testfns::logistic(4, 30),
    ]);
    set
}

#[test]
fn exact_gradients_and_hessians_agree_with_differences_on_the_benchmark_set() {
    let t = Table::new();
    for text in benchmark_set() {
        t.row(&text, || {
            let mut f = Formula::parse(&text).unwrap();
            let bounds = vec![(-2.0, 2.0); f.vars().len()];
            let points: Vec<Vec<f64>> = (0..40).map(|k| check::sample(&bounds, 5, k)).collect();
            let checks = check::check_points(&mut f, &points, true).unwrap();
            let mut checked = 0;
            for c in &checks {
                let result = c.outcome.as_ref().unwrap_or_else(|s| {
                    panic!("{text} at {:?} skipped: {s:?}", c.x);
                });
                assert!(result.ok(), "{text} at {:?}: {result:?}", c.x);
                // The estimate is far better than the tolerance needs: the
                // check is not passing by being loose.
                for row in &result.gradient {
                    assert!(
                        row.abs_error <= 1e-6 * row.exact.abs().max(1.0),
                        "{text}: {row:?}"
                    );
                }
                checked += 1;
            }
            assert_eq!(checked, 40, "{text}");
        });
    }
}

#[test]
fn the_command_checks_the_benchmark_set_at_random_points() {
    let t = Table::new();
    for text in benchmark_set() {
        t.row(&text, || {
            let (v, r) = run_json(&[&text, "--points", "5", "--seed", "42"]);
            assert_eq!(r.status, 0, "{text}: {}", r.stderr);
            assert_eq!(v["ok"], true, "{text}");
            assert_eq!(v["checked"], 5, "{text}");
            assert_eq!(v["failed"], 0);
            assert_eq!(v["seed"], 42);
            let n = v["vars"].as_array().unwrap().len();
            for p in v["points"].as_array().unwrap() {
                assert_eq!(p["ok"], true);
                let rows = p["gradient"].as_array().unwrap();
                assert_eq!(rows.len(), n);
                for row in rows {
                    let (abs, tol) = (row["abs_error"].as_f64(), row["tolerance"].as_f64());
                    assert!(abs.unwrap() <= tol.unwrap(), "{text}: {row}");
                }
                // Points come from the default box, -2:2.
                assert!(f64s(&p["x"]).iter().all(|x| x.abs() <= 2.0));
            }
        });
    }
}

#[test]
fn the_same_seed_checks_the_same_points() {
    let args = ["x^2*sin(y)", "--bounds", "x=0:1,y=5:6", "--points", "3"];
    let (a, _) = run_json(&[&args[..], &["--seed", "9"]].concat());
    let (b, _) = run_json(&[&args[..], &["--seed", "9"]].concat());
    let (c, _) = run_json(&[&args[..], &["--seed", "10"]].concat());
    assert_eq!(a["points"], b["points"]);
    assert_ne!(a["points"], c["points"]);
    for p in a["points"].as_array().unwrap() {
        let x = f64s(&p["x"]);
        assert!((0.0..=1.0).contains(&x[0]) && (5.0..=6.0).contains(&x[1]));
    }
    // Without --seed one is drawn and reported.
    let (d, _) = run_json(&args);
    assert!(d["seed"].is_u64(), "{d}");
}

#[test]
fn text_output_at_one_point() {
    let r = run(&["x^2*y", "--at", "x=3,y=2", "--hessian"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "x = 3, y = 2 (f = 18)");
    assert!(lines[1].contains("exact") && lines[1].contains("estimate"));
    // One row per gradient component and per Hessian entry on or above
    // the diagonal, each with the exact value and a verdict.
    let row = |name: &str| {
        lines
            .iter()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} row in\n{}", r.stdout))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    for (name, exact) in [
        ("df/dx", "12"),
        ("df/dy", "9"),
        ("d2f/dx2", "4"),
        ("d2f/dxdy", "6"),
        ("d2f/dy2", "0"),
    ] {
        let cells = row(name);
        assert_eq!(cells[1], exact, "{name}");
        assert_eq!(cells.last(), Some(&"ok"), "{name}");
    }
    assert_eq!(
        lines.last(),
        Some(&"gradient and Hessian: 1 point agrees with finite differences")
    );
    // No seed: nothing was random.
    assert!(!r.stdout.contains("seed"));
}

#[test]
fn json_report_shape() {
    let (v, r) = run_json(&["x^2*y", "--at", "x=3,y=2", "--hessian"]);
    assert_eq!(r.status, 0);
    assert_eq!(v["vars"], serde_json::json!(["x", "y"]));
    assert!(v.get("seed").is_none());
    let p = &v["points"][0];
    assert_eq!(f64s(&p["x"]), [3.0, 2.0]);
    assert_eq!(p["value"], 18.0);
    let gx = &p["gradient"][0];
    assert_eq!(gx["var"], "x");
    assert_eq!(gx["exact"], 12.0);
    for key in ["estimate", "central", "abs_error", "rel_error", "tolerance"] {
        assert!(gx[key].is_f64(), "{key} in {gx}");
    }
    assert!((gx["estimate"].as_f64().unwrap() - 12.0).abs() < 1e-9);
    assert_eq!(p["hessian"][0][1]["exact"], 6.0);
    assert_eq!(p["hessian"][1][0]["exact"], 6.0);
    assert_eq!(
        (
            v["checked"].clone(),
            v["skipped"].clone(),
            v["failed"].clone()
        ),
        (1.into(), 0.into(), 0.into())
    );
    assert_eq!(v["hand"], serde_json::json!([]));
    assert_eq!(v["ok"], true);
}

// ---------------------------------------------------------------- skipped

#[test]
fn points_on_kinks_are_skipped_with_the_reason() {
    let cases = [
        ("abs(x - 1) + y^2", "x=1,y=0", "on a kink of abs at 1:1"),
        // Within the step, not only exactly on it.
        (
            "abs(x - 1) + y^2",
            "x=1.000000001,y=0",
            "on a kink of abs at 1:1",
        ),
        ("y + max(x, y)", "x=0.5,y=0.5", "on a kink of max at 1:5"),
        ("min(x, 2)*y", "x=2,y=1", "on a kink of min at 1:1"),
        ("floor(x) + x", "x=3,y=0", "on a kink of floor at 1:1"),
        ("x*sign(y)", "x=1,y=0", "on a kink of sign at 1:3"),
        ("atan2(y, x)", "x=-1,y=0", "on a kink of atan2 at 1:1"),
        // The kink of abs(x) comes first, though abs(x)^3 is smooth and only
        // its derivative's sign(x) jumps: skipping errs on the safe side.
        ("abs(x)^3 + y", "x=0,y=0", "on a kink of abs at 1:1"),
    ];
    let t = Table::new();
    for (formula, at, reason) in cases {
        t.row(format!("{formula} at {at}"), || {
            let (v, r) = run_json(&[formula, "--at", at, "--vars", "x,y"]);
            // A skip is not a failure, but a check of nothing vouches for nothing.
            assert_eq!(r.status, 1, "{formula}: nothing was checked");
            assert_eq!(v["skipped"], 1, "{formula} at {at}: {v}");
            let skipped = v["points"][0]["skipped"].as_str().unwrap();
            assert!(skipped.starts_with(reason), "{formula}: {skipped}");
            assert!(
                r.stderr.contains("no point could be checked"),
                "{}",
                r.stderr
            );
        });
    }
    // The same formulas away from their kinks are checked.
    let (v, _) = run_json(&["abs(x - 1) + y^2", "--at", "x=1.5,y=0"]);
    assert_eq!(
        (v["checked"].clone(), v["ok"].clone()),
        (1.into(), true.into())
    );
    let (v, _) = run_json(&["atan2(y, x)", "--at", "x=1,y=0"]);
    assert_eq!(v["checked"], 1);
}

/// A hand derivative proved equal is no checked point: on x=-2:-1,
/// where neither sqrt(x) nor its derivative is finite, the proof stands
/// but nothing was checked (it exited 0, `"ok": true`, with no note).
#[test]
fn a_proof_alone_is_no_checked_point() {
    let args = [
        "sqrt(x)",
        "--bounds",
        "x=-2:-1",
        "--seed",
        "1",
        "--grad",
        "x=1/(2*sqrt(x))",
    ];
    let r = run(&args);
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert!(r.stdout.contains("df/dx: proved equal"), "{}", r.stdout);
    assert!(
        r.stderr.contains("no point could be checked"),
        "{}",
        r.stderr
    );
    let (v, _) = run_json(&args);
    assert_eq!(
        (v["checked"].clone(), v["ok"].clone()),
        (0.into(), false.into())
    );
    assert_eq!(v["hand"][0]["status"], "proved", "{v}");
    // Where points are checked, the proof goes with them.
    let r = run(&[
        "sqrt(x)",
        "--bounds",
        "x=1:2",
        "--seed",
        "1",
        "--grad",
        "x=1/(2*sqrt(x))",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
}

#[test]
fn points_where_values_are_not_finite_are_skipped() {
    let r = run(&["ln(x)", "--at", "x=0"]);
    // Nothing was checked.
    assert_eq!(r.status, 1);
    assert_eq!(
        r.stdout,
        "x = 0: skipped, not finite: ln of zero at 1:1, gives infinity here\n\
         gradient: 0 points agree with finite differences, 1 skipped\n"
    );
    // Finite at the point, but the stencil leaves the domain.
    let r = run(&["sqrt(x)", "--at", "x=1e-9"]);
    assert!(
        r.stdout.contains(
            "skipped, not finite: sqrt of a negative number at 1:1, gives NaN here \
             (within the difference step along x)"
        ),
        "{}",
        r.stdout
    );
    // Among random points, the bad ones are skipped and the rest checked.
    let (v, r) = run_json(&[
        "ln(x) + y",
        "--bounds",
        "x=-1:1,y=0:1",
        "--points",
        "20",
        "--seed",
        "1",
    ]);
    assert_eq!(r.status, 0);
    let skipped = v["skipped"].as_u64().unwrap();
    assert!(skipped > 3 && skipped < 17, "{v}");
    assert_eq!(v["checked"].as_u64().unwrap() + skipped, 20);
    for p in v["points"].as_array().unwrap() {
        let x = f64s(&p["x"])[0];
        assert_eq!(p.get("skipped").is_some(), x <= 0.0, "{p}");
    }
}

// ---------------------------------------------------------------- verdicts

/// The one gradient row of `slope check FORMULA --at AT --json`, and the
/// run.
fn only_row(formula: &str, at: &str) -> (Value, Value, Run) {
    let (v, r) = run_json(&[formula, "--at", at]);
    let row = v["points"][0]["gradient"][0].clone();
    assert!(row.is_object(), "{formula} at {at}: {v}");
    (v, row, r)
}

#[test]
fn right_derivatives_of_functions_that_bend_within_the_usual_step_agree() {
    // User probe: each said DIFFERS (sqrt, cbrt) or "ok" with a tolerance
    // above the values (tanh), from steps of 7e-4 far longer than the
    // length f bends on. Exact values by hand.
    let cases = [
        (
            "sqrt(x^2+1e-20)",
            "x=1e-12",
            1e-12 / (1e-24f64 + 1e-20).sqrt(),
        ),
        ("cbrt(x)", "x=1e-7", 1.0 / (3.0 * 1e-14f64.cbrt())),
        ("sqrt(x^2)", "x=1e-7", 1.0),
        ("tanh(1e4*x)", "x=0", 1e4),
    ];
    let t = Table::new();
    for (formula, at, exact) in cases {
        t.row(format!("{formula} at {at}"), || {
            let (v, row, r) = only_row(formula, at);
            assert_eq!((r.status, &v["failed"]), (0, &0.into()), "{v}");
            assert_eq!(row["status"], "agrees", "{row}");
            let exact_reported = row["exact"].as_f64().unwrap();
            assert!((exact_reported - exact).abs() <= 1e-12 * exact, "{row}");
            // The estimate is close, and the tolerance small beside it.
            let estimate = row["estimate"].as_f64().unwrap();
            assert!((estimate - exact).abs() <= 1e-5 * exact, "{row}");
            assert!(row["tolerance"].as_f64().unwrap() <= 1e-4 * exact, "{row}");
            // From a step shorter than the usual one, and the text says so.
            assert!(row["step"].as_f64().unwrap() < 1e-5, "{row}");
            let text = run(&[formula, "--at", at]);
            assert!(
                text.stdout.contains("shorter than the usual one"),
                "{}",
                text.stdout
            );
        });
    }
}

#[test]
fn a_right_derivative_whose_formula_cancels_is_undecided_not_different() {
    // User probe: cos(x)/x - sin(x)/x^2 at 1e-9 cancels two terms of 1e9
    // to 0 (the truth is -x/3); the derivative of (exp(x)-1)/x at 1e-7
    // cancels to 0.5057 (the truth is 0.5). Both said DIFFERS.
    for (formula, at) in [("sin(x)/x", "x=1e-9"), ("(exp(x)-1)/x", "x=1e-7")] {
        let (v, row, r) = only_row(formula, at);
        assert_eq!(
            (row["status"].as_str(), row["undecided"].as_str()),
            (Some("undecided"), Some("rounding")),
            "{row}"
        );
        assert_eq!(
            (&v["failed"], &v["undecided"]),
            (&0.into(), &1.into()),
            "{v}"
        );
        // The exact value's rounding bound covers the difference.
        let (exact, estimate) = (
            row["exact"].as_f64().unwrap(),
            row["estimate"].as_f64().unwrap(),
        );
        assert!(
            (exact - estimate).abs() <= 2.0 * row["exact_rounding"].as_f64().unwrap(),
            "{row}"
        );
        // Nothing was vouched for: exit 1, and the text says why.
        assert_eq!(r.status, 1);
        let text = run(&[formula, "--at", at]);
        assert!(
            text.stdout.contains("undecided (rounding)"),
            "{}",
            text.stdout
        );
        assert!(
            text.stdout
                .ends_with("gradient: 0 points agree with finite differences, 1 undecided\n"),
            "{}",
            text.stdout
        );
        assert!(text.stderr.contains("note: undecided"), "{}", text.stderr);
    }
}

#[test]
fn an_estimate_whose_error_is_as_large_as_the_values_decides_nothing() {
    // tanh(1e9*x) bends on a length of 1e-9: no step tried (down to a
    // millionth of the usual) resolves it, so there is no verdict: not
    // "ok" (the probe's tanh(1e4*x) was, with a tolerance of 1.4e4 beside
    // 1e4), and not DIFFERS.
    let (v, row, r) = only_row("tanh(1e9*x)", "x=0");
    assert_eq!(row["status"], "undecided", "{row}");
    assert_eq!(row["undecided"], "estimate", "{row}");
    assert_eq!(row["ok"], false);
    assert!(
        row["tolerance"].as_f64().unwrap() > check::DECISIVE * 1e9,
        "{row}"
    );
    assert_eq!(
        (&v["failed"], &v["undecided"], &v["ok"]),
        (&0.into(), &1.into(), &false.into())
    );
    assert_eq!(r.status, 1);
}

#[test]
fn a_derivative_that_vanishes_by_symmetry_agrees_without_a_relative_tolerance() {
    // At 0 the differences of x^2 and cos(x) are 0 at every step, and so
    // is the derivative: equal to the bit, with no tolerance small beside 0.
    for formula in ["x^2", "cos(x)", "x^3"] {
        let (v, row, r) = only_row(formula, "x=0");
        assert_eq!(
            (r.status, &row["status"]),
            (0, &"agrees".into()),
            "{formula}: {v}"
        );
    }
}

#[test]
fn an_exact_zero_of_a_kink_function_agrees_with_an_equal_estimate() {
    // User probe: max's derivative (1 + sign(x))/2 is exactly 0 at x < 0,
    // and so are the differences, but its rounding bound was 5.6e-16
    // (sign's library error, 1 + (-1)'s rounding): "undecided (rounding)",
    // exit 1, for a correct ReLU gradient.
    for (formula, at) in [
        ("max(x,0)", "x=-0.5"),
        ("min(x,0)", "x=0.5"),
        ("max(x,0)*y", "x=-0.5,y=1"),
    ] {
        let (v, row, r) = only_row(formula, at);
        assert_eq!(
            (row["exact"].as_f64(), row["estimate"].as_f64()),
            (Some(0.0), Some(0.0))
        );
        assert_eq!(row["exact_rounding"], 0.0, "{formula}: {row}");
        assert_eq!(
            (r.status, &row["status"]),
            (0, &"agrees".into()),
            "{formula}: {v}"
        );
    }
    // Random points of a box that holds the kink: every point off it is ok.
    let r = run(&["max(x,0)", "--bounds", "x=-1:1", "--seed", "637160"]);
    assert_eq!(r.status, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("undecided"), "{}", r.stdout);
}

// ---------------------------------------------------------------- by hand

#[test]
fn correct_hand_derivatives_are_proved() {
    let cases: &[(&str, &[&str])] = &[
        // Polynomials, rearranged and expanded.
        (
            "3*x^2 + 2*x + 1",
            &["x=6*x + 2", "x=2 + 6*x", "x=2*(3*x + 1)"],
        ),
        ("(x + 1)^3", &["x=3*x^2 + 6*x + 3", "x=3*(x+1)*(x+1)"]),
        // sin(x)^2, written several ways.
        (
            "sin(x)^2",
            &[
                "x=2*sin(x)*cos(x)",
                "x=cos(x)*sin(x)*2",
                "x=sin(x)*cos(x) + cos(x)*sin(x)",
                "x=2*sin(x)*cos(x)*(sin(x)^2 + cos(x)^2)",
                "x=sin(2*x)",
            ],
        ),
        // Quotient-rule forms.
        (
            "x/(1 + x)",
            &[
                "x=1/(1+x) - x/(1+x)^2",
                "x=((1+x) - x)/(1+x)^2",
                "x=(1+x)^-2",
            ],
        ),
        ("(x^2 + 1)/(x - 1)", &["x=(2*x*(x-1) - (x^2+1))/(x-1)^2"]),
        ("tan(x)", &["x=1 + tan(x)^2", "x=1/cos(x)^2"]),
        ("exp(2*x)", &["x=2*exp(x)^2", "x=2*exp(x)*exp(x)"]),
    ];
    for (formula, grads) in cases {
        let t = Table::new();
        for grad in *grads {
            t.row(format!("{formula} / {grad}"), || {
                let r = run(&[formula, "--at", "x=0.3", "--grad", grad]);
                assert_eq!(r.status, 0, "{formula} / {grad}: {}{}", r.stdout, r.stderr);
                assert!(
                    r.stdout.contains("df/dx: proved equal\n"),
                    "{formula} / {grad}:\n{}",
                    r.stdout
                );
                let yours = grad.split_once('=').unwrap().1;
                assert!(r.stdout.contains(&format!("  yours  {yours}\n")));
            });
        }
    }
}

#[test]
fn several_variables_in_one_grad_or_several() {
    let t = Table::new();
    for args in [
        vec!["--grad", "x=2*x*y,y=x^2"],
        vec!["--grad", "x=2*x*y", "--grad", "y=x*x"],
        vec!["--grad", "y = x^2 , x = y*x*2"],
    ] {
        t.row(format!("{args:?}"), || {
            let all = [&["x^2*y", "--at", "x=1,y=2"][..], &args].concat();
            let (v, r) = run_json(&all);
            assert_eq!(r.status, 0, "{args:?}: {}", r.stderr);
            for var in ["x", "y"] {
                assert_eq!(hand(&v, var)["status"], "proved", "{args:?}: {v}");
            }
            assert_eq!(hand(&v, "x")["exact"], "2*x*y");
            assert_eq!(hand(&v, "y")["exact"], "x^2");
        });
    }
    // Commas inside a call stay with the formula.
    let (v, r) = run_json(&[
        "hypot(x, y)",
        "--at",
        "x=2,y=1",
        "--grad",
        "x=x/hypot(x, y),y=y/hypot(y, x)",
    ]);
    assert_eq!(r.status, 0, "{v}");
    assert_eq!(hand(&v, "x")["given"], "x/hypot(x, y)");
    assert_eq!(hand(&v, "y")["given"], "y/hypot(y, x)");
    for var in ["x", "y"] {
        let status = hand(&v, var)["status"].as_str().unwrap();
        assert!(status == "proved" || status == "agrees", "{v}");
    }
}

#[test]
fn wrong_hand_derivatives_are_caught_with_a_counterexample() {
    // (formula, wrong derivative, its value and the exact one at x)
    type Pair = fn(f64) -> (f64, f64);
    let cases: [(&str, &str, Pair); 4] = [
        // A sign error.
        ("x^2 - 3*x", "x=2*x + 3", |x| (2.0 * x + 3.0, 2.0 * x - 3.0)),
        // A missing chain-rule factor.
        ("sin(x^2)", "x=cos(x^2)", |x| {
            ((x * x).cos(), 2.0 * x * (x * x).cos())
        }),
        // Off by a constant factor.
        ("x^3", "x=x^2", |x| (x * x, 3.0 * x * x)),
        // A quotient rule with the wrong sign.
        ("x/(1 + x)", "x=1/(1+x) + x/(1+x)^2", |x| {
            (1.0 / (1.0 + x) + x / (1.0 + x).powi(2), (1.0 + x).powi(-2))
        }),
    ];
    let t = Table::new();
    for (formula, grad, values) in cases {
        t.row(formula, || {
            let (v, r) = run_json(&[formula, "--bounds", "x=0:2", "--seed", "4", "--grad", grad]);
            assert_eq!(r.status, 1, "{formula}: {v}");
            assert_eq!(v["ok"], false);
            let h = hand(&v, "x");
            assert_eq!(h["status"], "differs", "{formula}: {h}");
            let cx = &h["counterexample"];
            let x = f64s(&cx["x"])[0];
            let (yours, exact) = values(x);
            assert!((cx["yours"].as_f64().unwrap() - yours).abs() < 1e-12, "{h}");
            assert!((cx["exact"].as_f64().unwrap() - exact).abs() < 1e-12, "{h}");
            assert!((yours - exact).abs() > 1e-6);
            // The text names the point and both values, and prints the exact
            // derivative beside yours.
            let r = run(&[formula, "--bounds", "x=0:2", "--seed", "4", "--grad", grad]);
            assert_eq!(r.status, 1);
            let line = r.stdout.lines().find(|l| l.starts_with("df/dx:")).unwrap();
            assert!(line.starts_with("df/dx: differs: at x="), "{line}");
            assert!(line.contains(" yours gives ") && line.contains(", exact "));
            let exact_text = h["exact"].as_str().unwrap();
            assert!(r.stdout.contains(&format!("  exact  {exact_text}\n")));
        });
    }
}

#[test]
fn small_terms_beside_large_ones_are_not_proved_away() {
    // The hand derivative of x^2*y below is 2xy + x: the normaliser's
    // coefficients are exact rationals, so the term x is not lost beside
    // the 1e15s, and an exponent of 1e-13 is not snapped to 0.
    let cases = [
        "x=2*x*y + 1e15*x*(y+1) - 1e15*x*y - 1e15*x + x",
        "x=2*x*y + 1e15*(x^(1e-13) - 1)",
    ];
    // Nor do the points agree. The first hand derivative's large terms
    // round at most points by more than the x it differs by (a bound
    // computed at each point says so), but not where every operation is
    // exact, as at (1, 1): the bound of that evaluation is 0, and 3 is
    // not 2. The second differs by more than its rounding.
    let t = Table::new();
    for grad in cases {
        t.row(grad, || {
            let (v, r) = run_json(&["x^2*y", "--at", "x=1,y=1", "--grad", grad]);
            let h = hand(&v, "x");
            assert_eq!(
                (h["status"].as_str(), r.status),
                (Some("differs"), 1),
                "{h}"
            );
        });
    }
    let (v, _) = run_json(&["x^2*y", "--at", "x=1,y=1", "--grad", cases[0]]);
    let c = &hand(&v, "x")["counterexample"];
    assert_eq!(
        (&c["yours"], &c["exact"]),
        (&3.0.into(), &2.0.into()),
        "{c}"
    );
    // A hand derivative that is infinite where the exact one is finite
    // differs, with the point.
    let (v, r) = run_json(&["x^2", "--at", "x=1", "--grad", "x=1/0"]);
    let h = hand(&v, "x");
    assert_eq!((h["status"].as_str(), r.status), (Some("differs"), 1));
    assert_eq!(h["counterexample"]["yours"], Value::Null, "{h}");
    // Where the exact derivative is nowhere finite, nothing is compared.
    let (v, r) = run_json(&["sqrt(x)", "--at", "x=-1", "--grad", "x=1"]);
    let h = hand(&v, "x");
    assert_eq!(
        (h["status"].as_str(), r.status),
        (Some("untested"), 1),
        "{h}"
    );
}

#[test]
fn a_proof_that_needs_the_hand_formula_outside_its_domain_is_a_difference() {
    // Each hand formula equals the exact derivative where it is defined,
    // which is nowhere in the box (the first) or not where x < 0.
    let cases = [
        ("x^2", "x=-2:-1", "x=2*sqrt(x)^2", "2*x"),
        ("x", "x=-2:2", "x=x^0.5*x^0.5/x", "1"),
        ("abs(x)", "x=-2:2", "x=sign(x) + sqrt(x)^2 - x", "sign(x)"),
        // Steps the canonical form cancels are still asked (a user probe).
        ("x", "x=-2:-1", "x=sqrt(x)/sqrt(x)", "1"),
        ("x", "x=-2:-1", "x=ln(x) - ln(x) + 1", "1"),
        ("x^2", "x=-2:-1", "x=2*x*ln(x)/ln(x)", "2*x"),
    ];
    let t = Table::new();
    for (f, bounds, grad, exact) in cases {
        t.row(grad, || {
            let (v, r) = run_json(&[f, "--bounds", bounds, "--grad", grad]);
            let h = hand(&v, "x");
            assert_eq!(
                (h["status"].as_str(), r.status),
                (Some("differs"), 1),
                "{h}"
            );
            assert_eq!(h["exact"], exact, "{h}");
            // x < 0, or 0 itself where yours divides 0 by 0.
            assert!(h["counterexample"]["x"][0].as_f64().unwrap() <= 0.0, "{h}");
        });
    }
    // Where it is defined in the whole box, the proof stands.
    let (v, r) = run_json(&["x^2", "--bounds", "x=1:2", "--grad", "x=2*sqrt(x)^2"]);
    assert_eq!(
        (hand(&v, "x")["status"].as_str(), r.status),
        (Some("proved"), 0)
    );
}

#[test]
fn counterexamples_are_round_points() {
    let r = run(&["x^2*y", "--at", "x=1,y=1", "--seed", "3", "--grad", "x=2*x"]);
    assert_eq!(r.status, 1);
    // 2*x vs 2*x*y: they agree wherever y = 1, so a point with y != 1.
    let line = r.stdout.lines().find(|l| l.starts_with("df/dx")).unwrap();
    let (point, rest) = line
        .trim_start_matches("df/dx: differs: at ")
        .split_once(" yours gives ")
        .unwrap();
    let coords: Vec<f64> = point
        .split(", ")
        .map(|p| p.split_once('=').unwrap().1.parse().unwrap())
        .collect();
    for c in &coords {
        assert_eq!(*c, (c * 1000.0).round() / 1000.0, "{line}");
    }
    let (yours, exact) = rest.split_once(", exact ").unwrap();
    assert_eq!(yours.parse::<f64>().unwrap(), 2.0 * coords[0]);
    assert_eq!(exact.parse::<f64>().unwrap(), 2.0 * coords[0] * coords[1]);
}

#[test]
fn equal_but_unprovable_derivatives_agree_numerically() {
    // cbrt(x) and x^(1/3) are different atoms to the normaliser.
    let (v, r) = run_json(&["x^(4/3)", "--bounds", "x=0.1:3", "--grad", "x=4/3*cbrt(x)"]);
    assert_eq!(r.status, 0, "{v}");
    let h = hand(&v, "x");
    assert_eq!(h["status"], "agrees");
    assert_eq!(h["points"], 200);
    let r = run(&["x^(4/3)", "--at", "x=1", "--grad", "x=4/3*cbrt(x)"]);
    assert!(
        r.stdout
            .contains("df/dx: agrees at 200 points (not proved)\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn variables_without_a_derivative_are_unchecked() {
    let r = run(&["x^2*y + z", "--at", "x=1,y=2,z=0", "--grad", "x=2*x*y"]);
    assert_eq!(r.status, 0);
    assert!(
        r.stdout.contains(
            "df/dx: proved equal\n  yours  2*x*y\n  exact  2*x*y\n\
         df/dy: unchecked (no derivative given)\n  exact  x^2\n\
         df/dz: unchecked (no derivative given)\n  exact  1\n"
        ),
        "{}",
        r.stdout
    );
    let (v, _) = run_json(&["x^2*y + z", "--at", "x=1,y=2,z=0", "--grad", "x=2*x*y"]);
    assert_eq!(hand(&v, "y")["status"], "unchecked");
    assert!(hand(&v, "y").get("given").is_none());
}

#[test]
fn grad_file_one_derivative_a_line() {
    let dir = std::env::temp_dir().join(format!("slope-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("grads.txt");
    std::fs::write(
        &path,
        "# derivatives of x^2*sin(y), by hand\n\nx = 2*x*sin(y)\ny = x^2*cos(y)  # chain rule\n",
    )
    .unwrap();
    let path_s = path.to_str().unwrap();
    let (v, r) = run_json(&["x^2*sin(y)", "--at", "x=1,y=2", "--grad-file", path_s]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(hand(&v, "x")["status"], "proved");
    assert_eq!(hand(&v, "y")["status"], "proved");
    // A bad line is reported with its number.
    std::fs::write(&path, "x = 2*x*sin(y)\ny: x^2\n").unwrap();
    let r = run(&["x^2*sin(y)", "--at", "x=1,y=2", "--grad-file", path_s]);
    assert_eq!(r.status, 2);
    assert!(
        r.stderr.contains("line 2: 'y: x^2' is not name = formula"),
        "{}",
        r.stderr
    );
    // And a syntax error in a formula names the file and line.
    std::fs::write(&path, "\nx = 2*x*sin(y\n").unwrap();
    let r = run(&["x^2*sin(y)", "--at", "x=1,y=2", "--grad-file", path_s]);
    assert_eq!(r.status, 2);
    assert!(r.stderr.contains("(line 2)"), "{}", r.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------- bad input

#[test]
fn bad_input_exits_2_with_a_hint() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["x^2", "--grad", "z=2*z"],
            "--grad z: the formula has no variable 'z'",
        ),
        (
            &["x^2", "--grad", "x=2*z"],
            "the formula has no variable 'z'",
        ),
        (
            &["x^2", "--grad", "6*x"],
            "--grad: '6*x' is not name=formula",
        ),
        (&["x^2", "--grad", "x="], "--grad: no formula after 'x='"),
        (&["x^2", "--grad", "x=2*(x"], "unclosed '('"),
        (&["x^2", "--grad", "x=sinn(x)"], "unknown function 'sinn'"),
        (
            &["x^2", "--grad", "x=2*x", "--grad", "x=x+x"],
            "given twice",
        ),
        (&["x^2", "--points", "0"], "--points 0 checks nothing"),
        (&["x^2", "--points", "-1"], "'-1'"),
        (&["x^2", "--points", "1000000000"], "is more than 100000"),
        (&["x^2", "--at", "y=1"], "no variable 'y'"),
        (
            &["x^2", "--at", "x=1", "--bounds", "x=0:1"],
            "cannot be used with",
        ),
        (
            &["x^2", "--at", "x=1", "--points", "3"],
            "cannot be used with",
        ),
        (
            &["x*y", "--bounds", "x=0:1"],
            "--bounds gives no range for 'y'",
        ),
        (&["x^2", "--bounds", "x=1:0"], "is not an interval"),
        (&["x^2", "--grad-file", "/nonexistent/grads"], "cannot read"),
        (&["x^^2"], "error"),
        (
            &["x*y*z", "--hessian", "--max-nodes", "12"],
            "over the limit of 12 nodes",
        ),
    ];
    let t = Table::new();
    for (args, message) in cases {
        t.row(format!("{args:?}"), || {
            let r = run(args);
            assert_eq!(r.status, 2, "{args:?}: {}{}", r.stdout, r.stderr);
            assert!(r.stderr.contains(message), "{args:?}: {}", r.stderr);
            assert_eq!(r.stdout, "", "{args:?}");
        });
    }
    // The hand formula's error points into the hand formula.
    let r = run(&["x^2", "--grad", "x=2*z"]);
    assert!(r.stderr.contains("--grad x:1:3"), "{}", r.stderr);
    assert!(r.stderr.contains("its variables are 'x'"), "{}", r.stderr);
}

/// The counterexample is rounded only as far as it stays in the box: for
/// x in [1.1, 1.9] it was reported at x = 2 (a user probe), outside.
#[test]
fn a_counterexample_lies_in_the_box() {
    for (bounds, lo, hi) in [("x=1.1:1.9", 1.1, 1.9), ("x=0.1:1.9", 0.1, 1.9)] {
        let (v, r) = run_json(&["floor(x)*x", "--bounds", bounds, "--grad", "x=0"]);
        let h = hand(&v, "x");
        assert_eq!(
            (h["status"].as_str(), r.status),
            (Some("differs"), 1),
            "{h}"
        );
        let x = h["counterexample"]["x"][0].as_f64().unwrap();
        assert!((lo..=hi).contains(&x), "{bounds}: {h}");
    }
}

// ---------------------------------------------------------------- library

#[test]
fn the_library_verdicts() {
    let mut f = Formula::parse("x^3*y").unwrap();
    let dx = f.partial("x").unwrap().id();
    let right = f.parse_written("3*y*x*x", &Default::default()).unwrap();
    let wrong = f.parse_written("3*x^2", &Default::default()).unwrap();
    let bounds = [(-1.0, 1.0), (-1.0, 1.0)];
    assert_eq!(
        check::compare_derivative(f.graph(), dx, &right, &bounds, 1),
        Verdict::Proved
    );
    let Verdict::Differs { x, yours, exact } =
        check::compare_derivative(f.graph(), dx, &wrong, &bounds, 1)
    else {
        panic!("not caught")
    };
    assert_eq!(yours, 3.0 * x[0] * x[0]);
    assert_eq!(exact, 3.0 * x[0] * x[0] * x[1]);
}

// ---------------------------------------------------------------- fd descent

#[test]
fn finite_difference_descent_reaches_the_exact_minimum_and_counts_its_calls() {
    // The first seed tutorial: 3x^2 + 2x + 1 from x = 1.5 by gd, lr 0.1.
    let base = [
        "3*x^2 + 2*x + 1",
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
    let json = |extra: &[&str]| -> Value {
        let r = run::command("min", &[&base[..], extra, &["--json"]].concat());
        assert_eq!(r.status, 0, "{}", r.stderr);
        serde_json::from_str(&r.stdout).unwrap()
    };
    let exact = json(&[]);
    let fd = json(&["--gradient", "fd-central"]);
    assert_eq!(fd["reason"], "ftol");
    assert_eq!(fd["iterations"], exact["iterations"]);
    let (xe, xf) = (f64s(&exact["x"])[0], f64s(&fd["x"])[0]);
    assert!((xe - xf).abs() < 1e-9, "{xe} vs {xf}");
    assert!((xf + 1.0 / 3.0).abs() < 2.5e-3);
    assert!((fd["f"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-4);
    // Each exact gradient costs one evaluation; each central-difference
    // one 1 + 2n = 3 calls of the function, and the count says so. A run
    // takes one at the start and one per step; the saddle test one more
    // with the exact gradient (a forward difference of it), two with the
    // differenced one (a central difference, which its error needs).
    let iterations = exact["iterations"].as_u64().unwrap();
    assert_eq!(exact["evaluations"].as_u64().unwrap(), iterations + 2);
    assert_eq!(fd["evaluations"].as_u64().unwrap(), 3 * (iterations + 3));
    // The text names the source and the evaluations spent.
    let r = run::command("min", &[&base[..], &["--gradient", "fd-central"]].concat());
    assert!(r.stdout.contains("central differences"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains(&format!("({} evaluations)", 3 * (iterations + 3))),
        "{}",
        r.stdout
    );
}

// ---------------------------------------------------------------- README

/// Splits a shell command line of the README (double quotes only).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut started) = (false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            ' ' if !quoted => {
                if started {
                    words.push(std::mem::take(&mut word));
                }
                started = false;
            }
            _ => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

#[test]
fn the_readme_shows_what_slope_check_prints() {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("### `slope check`")
        .expect("a slope check section");
    let end = start + readme[start..].find("\n### ").expect("a next section");
    let mut examples = 0;
    for block in readme[start..end].split("```text\n").skip(1) {
        let block = &block[..block.find("```").unwrap()];
        for example in block.split("$ ").filter(|e| !e.is_empty()) {
            let (command, expected) = example.split_once('\n').unwrap();
            // Examples in one block are separated by a blank line.
            let expected = format!("{}\n", expected.trim_end_matches('\n'));
            let words = shell_words(command);
            assert_eq!(words[..2], ["slope", "check"], "{command}");
            let args: Vec<&str> = words[2..].iter().map(String::as_str).collect();
            let r = run(&args);
            assert_eq!(
                format!("{}{}", r.stdout, r.stderr),
                expected,
                "README example: {command}"
            );
            examples += 1;
        }
    }
    assert_eq!(examples, 8);
}

#[test]
fn a_deep_power_tower_is_checked_in_bounded_time() {
    // x^x^...^x, 2,000 deep, against a wrong hand derivative (itself): the
    // normaliser gives up within its work bound instead of reading ever
    // longer monomials for minutes, and the numbers show the difference.
    let tower = vec!["x"; 2_000].join("^");
    let dir = std::env::temp_dir().join(format!("slope-tower-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (f, g) = (dir.join("f.txt"), dir.join("g.txt"));
    std::fs::write(&f, &tower).unwrap();
    std::fs::write(&g, format!("x = {tower}")).unwrap();
    let (v, r) = run_json(&[
        "-f",
        f.to_str().unwrap(),
        "--at",
        "x=1",
        "--grad-file",
        g.to_str().unwrap(),
    ]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert_eq!(hand(&v, "x")["status"], "differs", "{v}");
}

/// Scalar variables with sums, parameters or data were refused ("only
/// value and gradient are compiled yet"): written out, they are checked
/// as any scalar formula, Hessian and hand derivatives included.
#[test]
fn sums_and_parameters_over_scalar_variables_are_checked() {
    let (v, r) = run_json(&[
        "sum(i in 1..3, i*x^i) + y",
        "--at",
        "x=0.5,y=1",
        "--hessian",
    ]);
    assert_eq!(
        (r.status, &v["ok"]),
        (0, &Value::Bool(true)),
        "{}",
        r.stderr
    );
    let exact: Vec<&Value> = (v["points"][0]["gradient"].as_array().unwrap().iter())
        .map(|g| &g["exact"])
        .collect();
    assert_eq!(exact, [5.25, 1.0], "{v}");
    let (v, r) = run_json(&["param a = 2\n(x-a)^2", "--grad", "x=2*(x-2)"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(hand(&v, "x")["status"], "proved", "{v}");
    let (v, r) = run_json(&["param a = 2\n(x-a)^2", "--grad", "x=2*(x+2)"]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert_eq!(hand(&v, "x")["status"], "differs", "{v}");
}
