//! The second-order test of a constrained run on a formula with a
//! `param` line or arrays of variables, whose Hessian of the Lagrangian
//! is not compiled: a maximum or a saddle that passes the KKT test is
//! reported (or left) as the same problem with scalar variables is, never
//! called a minimum.

use crate::constraints::{close, min_json};

/// The run's reason, with its exit status.
fn verdict(v: &serde_json::Value, status: i32) -> (i32, &str) {
    (status, v["reason"].as_str().unwrap_or("?"))
}

#[test]
fn a_maximum_inside_a_disk_is_left_for_the_circle() {
    // -Σ x[i]² inside Σ x[i]² <= 1: the origin is the maximum (gradient
    // zero, constraint inactive, Hessian -2I); the minimum is -1 on the
    // circle.
    let formula = "param n = 2\nvar x[1..n]\n-sum(i in 1..n, x[i]^2)\n\
                   subject to sum(i in 1..n, x[i]^2) <= 1";
    let (v, status) = min_json(formula, "x=0", &[]);
    assert_eq!(verdict(&v, status), (0, "kkt"), "{v}");
    assert!(close(&v["f"], -1.0, 1e-6), "{v}");
    let (v, status) = min_json(formula, "x=0", &["--method", "sqp"]);
    assert_eq!(verdict(&v, status), (1, "saddle"), "{v}");
    assert!(close(&v["f"], 0.0, 0.0), "{v}");
}

#[test]
fn a_flat_point_where_cubes_fall_is_left_or_reported() {
    // Σ x[i]³ with x[i] >= -1 inactive at 0: gradient and Hessian vanish
    // there, and f falls at third order to -3 at x = -1. SQP alone reports
    // the saddle; the default, the augmented Lagrangian (which cannot
    // follow a cubic fall: its penalty grows only quadratically), hands it
    // to SQP, which leaves it.
    let formula = "param n = 3\nvar x[1..n]\nsum(i in 1..n, x[i]^3)\n\
                   subject to (i in 1..n) x[i] >= -1";
    let (v, status) = min_json(formula, "x=0", &["--method", "sqp"]);
    assert_eq!(verdict(&v, status), (1, "saddle"), "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("flat along a direction"),
        "{v}"
    );
    let (v, status) = min_json(formula, "x=0", &[]);
    assert_eq!(verdict(&v, status), (0, "kkt"), "{v}");
    assert!(close(&v["f"], -3.0, 1e-6), "{v}");
    for i in 0..3 {
        assert!(close(&v["x"][i], -1.0, 1e-6), "{v}");
    }
    let (v, status) = min_json(formula, "x=0", &["--method", "auglag"]);
    assert_ne!(verdict(&v, status).1, "kkt", "{v}");
    // One of two elements falls, the other is free and flat.
    let formula = "var x[1..2]\nx[1]^3\nsubject to x[1] >= -1";
    let (v, status) = min_json(formula, "x=0", &["--method", "sqp"]);
    assert_eq!(verdict(&v, status), (1, "saddle"), "{v}");
    let (v, status) = min_json(formula, "x=0", &[]);
    assert_eq!(verdict(&v, status), (0, "kkt"), "{v}");
    assert!(close(&v["f"], -1.0, 1e-6), "{v}");
    // Where the constraint holds at 0 the fall is infeasible: a minimum.
    let (v, status) = min_json(
        "var x[1..2]\nx[1]^3 + x[2]^2\nsubject to x[1] >= 0",
        "x=0",
        &["--method", "sqp"],
    );
    assert_eq!(verdict(&v, status), (0, "kkt"), "{v}");
}

#[test]
fn the_readme_saddle_with_a_param_line_is_a_saddle() {
    // -a·x² - y² on x + y = 0 in [-1, 1]²: the origin is a maximum on the
    // line. SQP alone says so; the default and the augmented Lagrangian go
    // on to a corner, f = -2. The same with an array of variables.
    let with_param = "param a = 1\n-a*x^2 - y^2\nsubject to x + y == 0";
    let array = "var x[1..2]\n-sum(i in 1..2, x[i]^2)\nsubject to x[1] + x[2] == 0";
    for (formula, start, bounds) in [
        (with_param, "x=0,y=0", "x=-1:1,y=-1:1"),
        (array, "x=0", "x=-1:1"),
    ] {
        let (v, status) = min_json(formula, start, &["--bounds", bounds, "--method", "sqp"]);
        assert_eq!(verdict(&v, status), (1, "saddle"), "{formula}: {v}");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("the Hessian of the Lagrangian is -2 along a direction"),
            "{v}"
        );
        for method in [&[][..], &["--method", "auglag"]] {
            let (v, status) = min_json(formula, start, &[&["--bounds", bounds], method].concat());
            assert_eq!(verdict(&v, status), (0, "kkt"), "{formula} {method:?}: {v}");
            assert!(close(&v["f"], -2.0, 1e-8), "{formula} {method:?}: {v}");
        }
    }
    // A minimum passes the test: +x² + y² on the same line.
    let (v, status) = min_json(
        "param a = 1\na*x^2 + y^2\nsubject to x + y == 0",
        "x=0,y=0",
        &["--method", "sqp"],
    );
    assert_eq!(verdict(&v, status), (0, "kkt"), "{v}");
}
