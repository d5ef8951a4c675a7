//! `slope fit` of a formula that is a sum of squares over the rows: the
//! same fit as `y ~ MODEL` when written to be, several responses sharing
//! parameters (checked against the same fit of the stacked data), a
//! residual that is not `y - m`, `slope min` on the same file, and every
//! formula that is not a sum of squares refused at its place.

use std::path::PathBuf;

use serde_json::Value;

use crate::fit::numbers;
use crate::run::{command, command_json};

const DECAY: &str = "tests/data/decay.csv";

/// A file in the temporary directory, named for the test.
fn file(name: &str, text: &str) -> String {
    let path: PathBuf = std::env::temp_dir().join(format!("slope-it-fit-squares-{name}"));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn close(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol * want.abs().max(1e-300)
}

/// Every number of two fits' JSON agrees to `tol`, relative.
fn same_fit(a: &Value, b: &Value, tol: f64, what: &str) {
    for key in ["x", "stderr", "t_values"] {
        for (u, v) in numbers(&a[key]).iter().zip(numbers(&b[key])) {
            assert!(close(*u, v, tol), "{what}: {key}: {u} vs {v}");
        }
    }
    for (u, v) in a["covariance"]
        .as_array()
        .unwrap()
        .iter()
        .zip(b["covariance"].as_array().unwrap())
    {
        for (s, t) in numbers(u).iter().zip(numbers(v)) {
            assert!(close(*s, t, tol), "{what}: covariance {s} vs {t}");
        }
    }
    for key in ["rss", "f", "r2", "adjusted_r2"] {
        let (u, v) = (a[key].as_f64().unwrap(), b[key].as_f64().unwrap());
        assert!(close(u, v, tol), "{what}: {key}: {u} vs {v}");
    }
    for key in ["dof", "rows", "rank", "vars", "converged", "warnings"] {
        assert_eq!(a[key], b[key], "{what}: {key}");
    }
}

/// The decay fit written as a file of residuals gives what `y ~ MODEL`
/// gives, to 1e-10: plain, weighted by a σ column (from the flag, written
/// in the square, and as a factor 1/σ² outside it), under a robust loss
/// and with a parameter on a bound.
#[test]
fn a_file_written_as_the_same_fit_gives_the_same_fit() {
    let plain = file(
        "decay.slope",
        "# the decay of tests/data/decay.csv, residual by residual\n\
         data t, y\n\
         let r[i] = y[i] - a*exp(-b*t[i]) - c\n\
         sum(i in 1..rows, r[i]^2)\n",
    );
    let weighted = file(
        "decay-sigma.slope",
        "data t, y, sigma\n\
         sum(i in 1..rows, ((y[i] - a*exp(-b*t[i]) - c)/sigma[i])^2)\n",
    );
    // The weight as a factor free of parameters, outside the square.
    let factor = file(
        "decay-factor.slope",
        "data t, y, sigma\n\
         sum(i in 1..rows, (y[i] - a*exp(-b*t[i]) - c)^2/sigma[i]^2)\n",
    );
    let model = "y ~ a*exp(-b*t) + c";
    let start = "a=1,b=0.1,c=0";
    let runs: [(&str, &[&str], &[&str]); 6] = [
        (&plain, &[], &[]),
        (&plain, &["--sigma", "sigma"], &["--sigma", "sigma"]),
        (&weighted, &[], &["--sigma", "sigma"]),
        (&factor, &[], &["--sigma", "sigma"]),
        (
            &plain,
            &["--loss", "huber", "--f-scale", "0.05"],
            &["--loss", "huber", "--f-scale", "0.05"],
        ),
        (
            &plain,
            &["--bounds", "c=0.6:inf"],
            &["--bounds", "c=0.6:inf"],
        ),
    ];
    for (path, flags, model_flags) in runs {
        let mut args = vec!["-f", path, "--data", DECAY, "--start", start];
        args.extend(flags);
        let (a, r) = command_json("fit", &args);
        assert_eq!(r.status, 0, "{flags:?}: {}", r.stderr);
        let mut args = vec![model, "--data", DECAY, "--start", start];
        args.extend(model_flags);
        let (b, r) = command_json("fit", &args);
        assert_eq!(r.status, 0, "{}", r.stderr);
        same_fit(&a, &b, 1e-10, &format!("{path} {flags:?}"));
        assert_eq!(a["residuals_per_row"], 1);
    }
    // The table says what was fitted.
    let r = command("fit", &["-f", &plain, "--data", DECAY]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains(&format!("model               {plain} (a sum of squares)"))
    );
    assert!(
        r.stdout
            .contains("residuals           1 per row, 40 in all")
    );
    assert!(
        r.stdout
            .contains("a           4.99593   0.0307882  162.268"),
        "{}",
        r.stdout
    );
}

/// Two responses sharing the decay rate: the same estimates, standard
/// errors and degrees of freedom as one `y ~` fit of the stacked data
/// with an indicator column, and R² pooled over the two responses, each
/// about its own mean.
#[test]
fn two_responses_share_parameters_as_the_stacked_fit_does() {
    let n = 25;
    let (mut wide, mut stacked) = ("t,y1,y2\n".to_string(), "t,y,first\n".to_string());
    let (mut y1s, mut y2s) = (Vec::new(), Vec::new());
    for i in 0..n {
        let t = 0.3 * i as f64;
        // Deterministic wiggles in place of noise.
        let y1 = 4.0 * (-0.5 * t).exp() + 0.3 + 0.02 * (7.1 * t).sin();
        let y2 = 2.0 * (-0.5 * t).exp() - 0.1 + 0.03 * (5.3 * t).cos();
        wide.push_str(&format!("{t},{y1},{y2}\n"));
        stacked.push_str(&format!("{t},{y1},1\n{t},{y2},0\n"));
        y1s.push(y1);
        y2s.push(y2);
    }
    let wide = file("two.csv", &wide);
    let stacked = file("stacked.csv", &stacked);
    let formula = file(
        "two.slope",
        "data t, y1, y2\n\
         let r1[i] = y1[i] - a1*exp(-b*t[i]) - c1\n\
         let r2[i] = y2[i] - a2*exp(-b*t[i]) - c2\n\
         sum(i in 1..rows, r1[i]^2 + r2[i]^2)\n",
    );
    let start = "a1=1,a2=1,b=0.3,c1=0,c2=0";
    let (a, r) = command_json("fit", &["-f", &formula, "--data", &wide, "--start", start]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let model = "y ~ first*(a1*exp(-b*t) + c1) + (1 - first)*(a2*exp(-b*t) + c2)";
    let (b, r) = command_json("fit", &[model, "--data", &stacked, "--start", start]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(a["vars"], b["vars"]);
    for key in ["x", "stderr"] {
        for (u, v) in numbers(&a[key]).iter().zip(numbers(&b[key])) {
            assert!(close(*u, v, 1e-10), "{key}: {u} vs {v}");
        }
    }
    assert!(close(
        a["rss"].as_f64().unwrap(),
        b["rss"].as_f64().unwrap(),
        1e-10
    ));
    assert_eq!(a["dof"], 2 * n - 5);
    assert_eq!(a["dof"], b["dof"]);
    assert_eq!(
        (&a["rows"], &a["residuals_per_row"]),
        (&n.into(), &2.into())
    );
    let tss = |y: &[f64]| {
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        y.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
    };
    let r2 = 1.0 - a["rss"].as_f64().unwrap() / (tss(&y1s) + tss(&y2s));
    assert!(
        close(a["r2"].as_f64().unwrap(), r2, 1e-12),
        "{} vs {r2}",
        a["r2"]
    );
}

/// An implicit model, the ellipse x²/a² + y²/b² = 1: points on it give
/// the axes back; R² has no meaning (no response) and is null.
#[test]
fn an_implicit_model_fits_an_ellipse() {
    let mut csv = "x,y\n".to_string();
    for k in 0..24 {
        let th = 0.2 + k as f64 * std::f64::consts::TAU / 24.0;
        csv.push_str(&format!("{},{}\n", 3.0 * th.cos(), 1.5 * th.sin()));
    }
    let data = file("ellipse.csv", &csv);
    let text = "data x, y\nsum(i in 1..rows, (x[i]^2/a^2 + y[i]^2/b^2 - 1)^2)";
    let (j, r) = command_json("fit", &[text, "--data", &data, "--start", "a=2,b=2"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let x = numbers(&j["x"]);
    assert!(close(x[0], 3.0, 1e-12) && close(x[1], 1.5, 1e-12), "{x:?}");
    assert!(j["r2"].is_null(), "{}", j["r2"]);
    let r = command("fit", &[text, "--data", &data, "--start", "a=2,b=2"]);
    assert!(
        r.stdout
            .contains("R²                  none: a residual that is not"),
        "{}",
        r.stdout
    );
}

/// `slope min` minimises the same file to the same point.
#[test]
fn slope_min_reaches_the_same_minimum() {
    let text = "data t, y\nsum(i in 1..rows, (y[i] - a*exp(-b*t[i]) - c)^2)";
    let args = ["--data", DECAY, "--start", "a=1,b=0.1,c=0"];
    let (fit, r) = command_json("fit", &[&[text][..], &args].concat());
    assert_eq!(r.status, 0, "{}", r.stderr);
    let (min, r) = command_json("min", &[&[text][..], &args].concat());
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(close(
        min["f"].as_f64().unwrap(),
        fit["f"].as_f64().unwrap(),
        1e-9
    ));
    for (u, v) in numbers(&min["x"]).iter().zip(numbers(&fit["x"])) {
        assert!(close(*u, v, 1e-5), "{u} vs {v}");
    }
}

/// Formulas that are not sums of squares over the rows, each refused with
/// status 2 and the form expected; where the fault has a place, a caret
/// under it (`--> <arg>:line:column`, and the `^` in that column of the
/// quoted line).
#[test]
fn what_is_not_a_sum_of_squares_is_refused_at_its_place() {
    type Case = (
        &'static str,
        &'static str,
        Option<(usize, usize)>,
        &'static str,
    );
    let cases: [Case; 12] = [
        (
            "data t, y\nsum(i in 1..rows, abs(y[i] - a*t[i]))",
            "error: this term of the sum is not a square",
            Some((2, 19)),
            "sum(i in 1..rows, r[i]^2)",
        ),
        (
            "data t, y\nsum(i in 1..rows, (y[i] - a*t[i])^2) + a",
            "error: this term is not a sum over the rows",
            None,
            "sum(i in 1..rows, r[i]^2)",
        ),
        (
            "data t, y\nsum(i in 2..rows, (y[i] - a*t[i])^2)",
            "the range must be 1..rows",
            Some((2, 1)),
            "",
        ),
        (
            "data t, y\nsum(i in 1..rows, (y[i] - a*t[i])^2 - (y[i] - a)^2)",
            "this square has a factor that is not positive",
            Some((2, 19)),
            "",
        ),
        (
            "data t, y\n-sum(i in 1..rows, (y[i] - a*t[i])^2)",
            "multiplied by a factor that is not positive",
            Some((2, 1)),
            "",
        ),
        (
            "data t, y\nsum(i in 1..rows, (y[i] - a*t[i-1])^2)",
            "a residual reads another row than its own",
            Some((2, 29)),
            "put shifted values in a column",
        ),
        (
            "data t, y\nsum(i in 1..rows, (y[i] - a*i)^2)",
            "a residual uses the row number as a value",
            Some((2, 29)),
            "",
        ),
        (
            "data t, y, q\nsum(i in 1..rows, (y[i] - a*t[i])^2)",
            "error: the data have no column 'q'",
            Some((1, 12)),
            "its columns are",
        ),
        (
            "data y\nsum(i in 1..rows, (y[i] - a*t)^2)",
            "'t' is a column of the data, but the formula reads it as a parameter",
            None,
            "declare it with data t",
        ),
        (
            "data t, y\nsum(i in 1..rows, (a - 1)^2)",
            "the residuals read no data column",
            None,
            "t[i]",
        ),
        (
            "var p[1..2]\ndata t, y\nsum(i in 1..rows, (y[i] - p[1]*t[i])^2)",
            "'p' is an array of variables: a fit's parameters are scalars",
            Some((1, 5)),
            "",
        ),
        (
            "data t, y\nsum(i in 1..rows, (y[i] - a*t[i])^2)\nsubject to a <= 2",
            "a fit has no constraints: 'subject to' is for slope min",
            Some((3, 1)),
            "bound parameters with --bounds",
        ),
    ];
    for (text, message, place, hint) in cases {
        let r = command("fit", &[text, "--data", DECAY]);
        assert_eq!(r.status, 2, "{text}: {}", r.stderr);
        assert!(r.stderr.contains(message), "{text}: {}", r.stderr);
        assert!(r.stderr.contains(hint), "{text}: {}", r.stderr);
        match place {
            Some((line, column)) => {
                assert!(
                    r.stderr.contains(&format!(" --> <arg>:{line}:{column}\n")),
                    "{text}: {}",
                    r.stderr
                );
                let quoted = text.lines().nth(line - 1).unwrap();
                assert!(
                    r.stderr.contains(&format!("{line} | {quoted}\n")),
                    "{text}: {}",
                    r.stderr
                );
                let caret = format!("  | {}^", " ".repeat(column - 1));
                assert!(
                    r.stderr.lines().any(|l| l.starts_with(&caret)),
                    "{text}: no caret in column {column}: {}",
                    r.stderr
                );
            }
            None => assert!(!r.stderr.contains("-->"), "{text}: {}", r.stderr),
        }
    }
    // No `~` and no data: both forms named.
    let r = command("fit", &["a*exp(-b*t)", "--data", DECAY]);
    assert_eq!(r.status, 2);
    assert!(
        r.stderr
            .contains("a model is written 'y ~ MODEL', or as a sum of squares")
    );
    // A `~` in a comment is not the model's.
    let text = "# fits y ~ a*t, as a sum\ndata t, y\nsum(i in 1..rows, (y[i] - a*t[i])^2)";
    assert_eq!(command("fit", &[text, "--data", DECAY]).status, 0);
    // A picture needs a fitted curve.
    let text = "data t, y\nsum(i in 1..rows, (y[i] - a*t[i])^2)";
    let r = command("fit", &[text, "--data", DECAY, "--plot", "x.svg"]);
    assert_eq!(r.status, 2);
    assert!(
        r.stderr.contains("--plot draws a y ~ MODEL fit"),
        "{}",
        r.stderr
    );
    // A residual not finite at the start: status 1, the family and row.
    let text = "data t, y\nsum(i in 1..rows, (y[i] - a)^2 + ln(a*t[i] - 1)^2)";
    let r = command("fit", &[text, "--data", DECAY]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr
            .contains("residual 2 of 2 is NaN at the start in row 1: ln of a negative number"),
        "{}",
        r.stderr
    );
}

/// From the library: two families' residuals and Jacobian, family by
/// family, over more rows than one block, equal the formulas'.
#[test]
fn the_library_gives_each_familys_residuals_and_jacobian() {
    use slope::fit::Model;
    let text = "data t, y\nsum(i in 1..rows, (y[i] - a*t[i])^2 + 4*(b*y[i] - t[i]^2)^2)";
    let model = Model::new(text, &["t", "y"]).unwrap();
    assert_eq!(model.params(), ["a", "b"]);
    assert_eq!(model.residuals_per_row(), 2);
    let rows = 150;
    let t: Vec<f64> = (0..rows).map(|i| i as f64 * 0.01).collect();
    let y: Vec<f64> = t.iter().map(|t| (3.0 * t).sin()).collect();
    let data = [("t", &t[..]), ("y", &y[..])];
    let (a, b) = (1.3, -0.7);
    let m = 2 * rows;
    let (mut r, mut jac) = (vec![0.0; m], vec![0.0; 2 * m]);
    assert!(
        model
            .residuals_and_jacobian(&[a, b], &data, &mut r, &mut jac)
            .unwrap()
    );
    for i in 0..rows {
        assert!(close(r[i], y[i] - a * t[i], 1e-15));
        assert_eq!((jac[i], jac[i + m]), (-t[i], 0.0));
        let k = rows + i;
        assert!(close(r[k], 2.0 * (b * y[i] - t[i] * t[i]), 1e-14), "{i}");
        assert_eq!((jac[k], jac[k + m]), (0.0, 2.0 * y[i]));
    }
    let e = model.predict(&[a, b], &data).unwrap_err();
    assert!(e.message.contains("no predicted values"), "{}", e.message);
}
