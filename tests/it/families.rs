//! Families of constraints, `subject to (i in 1..n-1) x[i] <= x[i+1] - 1`:
//! one constraint per index tuple, solved to known answers, checked
//! against the KKT conditions computed here and against the same
//! constraints written out one by one, and their errors.

use expect_test::expect;
use slope::{Auglag, ConstraintKind, Formula, Options, Settings, minimize_constrained};

use crate::run::{check_failure, json};
use crate::table::Table;

/// Σ x[i]² with each x[i+1] at least 1 above x[i]: the minimum spreads
/// the points evenly around 0.
const ORDERED: &str = "param n = 3
var x[1..n]
sum(i in 1..n, x[i]^2)
subject to (i in 1..n-1) x[i] <= x[i+1] - 1";

fn floats(v: &serde_json::Value) -> Vec<f64> {
    (v.as_array().unwrap().iter())
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn parse(text: &str, n: f64) -> Formula {
    let options = Options {
        params: vec![("n".to_string(), n)],
        ..Options::default()
    };
    Formula::parse_with(text, &options).unwrap_or_else(|e| panic!("{}", e.render(text, "<test>")))
}

#[test]
fn an_ordering_family_has_its_known_minimum_and_multipliers() {
    // n = 5: x = (-2, -1, 0, 1, 2), f = 10; stationarity 2x[k] = λ[k-1] - λ[k]
    // gives λ = (4, 6, 6, 4).
    let (v, r) = json(&["min", ORDERED, "--set", "n=5", "--start", "x=0", "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(v["reason"], "kkt");
    let x = floats(&v["x"]);
    for (xi, want) in x.iter().zip([-2.0, -1.0, 0.0, 1.0, 2.0]) {
        assert!((xi - want).abs() < 1e-6, "{x:?}");
    }
    assert!((v["f"].as_f64().unwrap() - 10.0).abs() < 1e-6, "{v}");
    let lambda = floats(&v["multipliers"]);
    for (l, want) in lambda.iter().zip([4.0, 6.0, 6.0, 4.0]) {
        assert!((l - want).abs() < 1e-4, "{lambda:?}");
    }
    assert_eq!(
        v["constraint_text"],
        serde_json::json!([
            "x[i] <= x[i+1] - 1 (i=1)",
            "x[i] <= x[i+1] - 1 (i=2)",
            "x[i] <= x[i+1] - 1 (i=3)",
            "x[i] <= x[i+1] - 1 (i=4)"
        ])
    );
    assert_eq!(
        v["active_constraints"],
        serde_json::json!([true, true, true, true])
    );
}

#[test]
fn the_text_report_names_each_row_and_summarises_long_families() {
    let r = crate::run::run(&["min", ORDERED, "--start", "x=0"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("subject to  x[i] <= x[i+1] - 1 (i=1)  active"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("            x[i] <= x[i+1] - 1 (i=2)  active")
    );
    let r = crate::run::run(&["min", ORDERED, "--set", "n=30", "--start", "x=0"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.contains("(i=20)"), "{}", r.stdout);
    assert!(!r.stdout.contains("(i=21)"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("and 9 more rows: 9 active, 0 violated (--json lists every row)"),
        "{}",
        r.stdout
    );
}

/// A family with two indices and a dependent range, a family with a sum
/// inside, an empty family and a plain constraint.
const MIXED: &str = "param n = 6
var x[1..n]
sum(i in 1..n, (x[i] - i)^2 + 0.1*x[i]^4)
subject to (i in 1..n, j in i+1..n) x[j] - x[i] <= 0.5*(j - i)
subject to (i in 2..n) sum(k in 1..i, x[k]) <= i
subject to (i in 1..0) x[i] >= 100
subject to x[1] >= 0.5";

#[test]
fn a_solution_meets_the_kkt_conditions_computed_here() {
    let f = parse(MIXED, 6.0);
    let rows = f.constraint_rows().unwrap();
    // 15 pairs, 5 partial sums, no row for the empty family, one more.
    assert_eq!(rows.len(), 15 + 5 + 1);
    let mut problem = f.compile_problem().unwrap();
    let start = vec![0.0; 6];
    let out = minimize_constrained(
        &mut problem,
        &start,
        &Settings::default(),
        &Auglag::default(),
    )
    .unwrap();
    assert!(out.converged(), "{:?}", out.outcome.reason);
    let x = &out.outcome.x;
    let (_, grad) = f.value_grad(x);
    let c = f.constraint_values(x).unwrap();
    let mut residual = grad.clone();
    for ((row, g), (lambda, gradient)) in
        (c.rows.iter().zip(&c.values)).zip(out.multipliers.iter().zip(&c.gradients))
    {
        let kind = f.constraints()[row.statement].kind;
        assert_eq!(kind, ConstraintKind::Inequality);
        assert!(*g <= 1e-6, "row {row:?} violated: g = {g}");
        assert!(*lambda >= 0.0, "row {row:?}: multiplier {lambda}");
        assert!(
            (lambda * g).abs() <= 1e-6,
            "row {row:?}: λg = {}",
            lambda * g
        );
        for &(j, d) in gradient {
            residual[j] += lambda * d;
        }
    }
    let worst = residual.iter().fold(0.0f64, |a, r| a.max(r.abs()));
    assert!(worst <= 1e-5, "stationarity residual {residual:?}");
    // Some constraints of each family bind at this minimum.
    let binding = |statement: usize| {
        (c.rows.iter().zip(&c.values)).any(|(r, g)| r.statement == statement && g.abs() < 1e-6)
    };
    assert!(binding(0) && binding(1) && binding(3), "{:?}", c.values);
}

#[test]
fn a_family_solves_like_its_rows_written_out() {
    let n = 5;
    let mut written = String::from("var x[1..5]\nsum(i in 1..5, (x[i] - i)^2 + 0.1*x[i]^4)\n");
    for i in 1..=n {
        for j in i + 1..=n {
            written += &format!("subject to x[{j}] - x[{i}] <= 0.5*({j} - {i})\n");
        }
    }
    for i in 2..=n {
        let terms: Vec<String> = (1..=i).map(|k| format!("x[{k}]")).collect();
        written += &format!("subject to {} <= {i}\n", terms.join(" + "));
    }
    written += "subject to x[1] >= 0.5";
    let family = parse(MIXED, n as f64);
    let flat = Formula::parse(&written).unwrap();
    let x: Vec<f64> = (0..n).map(|k| 0.3 * k as f64 - 0.2).collect();
    let (a, b) = (
        family.constraint_values(&x).unwrap(),
        flat.constraint_values(&x).unwrap(),
    );
    assert_eq!(a.values, b.values);
    assert_eq!(a.gradients, b.gradients);
    let solve = |f: &Formula| {
        let mut p = f.compile_problem().unwrap();
        let out = minimize_constrained(&mut p, &[0.0; 5], &Settings::default(), &Auglag::default())
            .unwrap();
        assert!(out.converged());
        out.outcome.x
    };
    let (xa, xb) = (solve(&family), solve(&flat));
    for (a, b) in xa.iter().zip(&xb) {
        assert!((a - b).abs() < 1e-6, "{xa:?} against {xb:?}");
    }
}

#[test]
fn eval_gives_each_row_and_its_gradient() {
    let (v, r) = json(&["eval", ORDERED, "--at", "x=1,x[2]=3", "--grad", "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(v["constraints"], serde_json::json!([-1.0, 3.0]));
    assert_eq!(v["violations"], serde_json::json!([0.0, 3.0]));
    assert_eq!(
        v["constraint_gradients"],
        serde_json::json!([[1.0, -1.0, 0.0], [0.0, 1.0, -1.0]])
    );
    assert_eq!(
        v["constraint_text"],
        serde_json::json!(["x[i] <= x[i+1] - 1 (i=1)", "x[i] <= x[i+1] - 1 (i=2)"])
    );
}

#[test]
fn mistakes_in_families_point_at_them() {
    let t = Table::new();
    let min = |text: &'static str| ["min", text, "--start", "x=0"];
    check_failure(
        &t,
        &min(
            "param n = 4\nvar x[1..n]\nsum(k in 1..n, x[k]^2)\nsubject to (i in 1..n) x[i] <= x[i+1]",
        ),
        expect![[r#"
            error: this reads x[5], outside its extent 1..4
             --> <arg>:4:32
              |
            4 | subject to (i in 1..n) x[i] <= x[i+1]
              |                                ^^^^^^ when k = 4
        "#]],
        2,
    );
    check_failure(
        &t,
        &min(
            "param n = 4\nvar x[1..n]\nsum(k in 1..n, x[k]^2) + i\nsubject to (i in 1..n-1) x[i] <= x[i+1]",
        ),
        expect![[r#"
            error: 'i' is a loop index, used here outside its sum
             --> <arg>:3:26
              |
            3 | sum(k in 1..n, x[k]^2) + i
              |                          ^ a loop index exists only inside the sum, family of constraints or definition that binds it
        "#]],
        2,
    );
    check_failure(
        &t,
        &min(
            "param n = 4\nvar x[1..n]\nsum(k in 1..n, x[k]^2)\nsubject to (i in 1..n-1) x[i*i] <= 1",
        ),
        expect![[r#"
            error: an index must be affine: a sum of integer multiples of loop indices and parameters
             --> <arg>:4:28
              |
            4 | subject to (i in 1..n-1) x[i*i] <= 1
              |                            ^^^ such as x[i+1], x[2*i-1] or x[n+1-i]
        "#]],
        2,
    );
    check_failure(
        &t,
        &min("var x[1..3]\nsum(k in 1..3, x[k]^2)\nsubject to (i in 1..2) x[i]"),
        expect![[r#"
            error: a constraint needs a comparison: <=, >= or ==
             --> <arg>:3:1
              |
            3 | subject to (i in 1..2) x[i]
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^ write it as 'subject to x + y <= 1'
        "#]],
        2,
    );
    check_failure(
        &t,
        &min("var x[1..3]\nsum(k in 1..3, x[k]^2)\nsubject to (i in 1..2 x[i] <= 1"),
        expect![[r#"
            error: missing operator between '2' and 'x'
             --> <arg>:3:21
              |
            3 | subject to (i in 1..2 x[i] <= 1
              |                     ^^^ write 2*x to multiply
        "#]],
        2,
    );
}

#[test]
fn an_empty_family_is_no_constraint() {
    let text = "param n = 1\nvar x[1..2]\n(x[1] - 3)^2 + (x[2] + 1)^2\nsubject to (i in 1..n-1) x[i] >= x[i+1] + 10";
    let (v, r) = json(&["min", text, "--start", "x=0", "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(v["constraints"], serde_json::json!([]));
    let x = floats(&v["x"]);
    assert!(
        (x[0] - 3.0).abs() < 1e-6 && (x[1] + 1.0).abs() < 1e-6,
        "{x:?}"
    );
    // With n = 2 the family has its one row, and it binds.
    let (v, _) = json(&["min", text, "--set", "n=2", "--start", "x=0", "--json"]);
    let x = floats(&v["x"]);
    assert!((x[0] - x[1] - 10.0).abs() < 1e-6, "{x:?}");
}

/// A family of more rows than the node limit is refused from its ranges,
/// before any row is made (n² = 1e10 rows here: visiting them took 51 s
/// in a release build, to stop at the Jacobian's entries).
#[test]
fn a_family_of_too_many_rows_is_refused_from_its_ranges() {
    let f = parse(
        "param n = 4\nvar x[1..n]\nsum(i in 1..n, x[i]^2)\nsubject to (i in 1..n, j in i..n) x[i] <= x[j] + 1\nsubject to (i in 1..n, j in 1..n) x[i] <= x[j] + 1",
        100000.0,
    );
    let e = f.constraint_rows().unwrap_err();
    // 5000050000 triangular rows and 1e10 square ones.
    assert_eq!(
        e.message,
        "the constraints would have 15000050000 rows, over 10000000 (the node limit)"
    );
    assert_eq!(e.kind, slope::ErrorKind::Limit);
    assert_eq!(parse(ORDERED, 4.0).constraint_rows().unwrap().len(), 3);
}

/// A family of n rows, each reading one variable, costs n per measurement
/// of the augmented Lagrangian's outer loop, not n²: each row's unit read
/// ‖x‖∞ afresh, and n = 100,000 (1e10 steps per measurement) did not
/// finish in two minutes of a release build, with n = 30,000 at 7.8 s.
#[test]
fn a_family_of_a_hundred_thousand_rows_costs_linear_time() {
    let text = "param n = 10
var x[1..n]
sum(i in 1..n, (x[i] - 2)^2)
subject to (i in 1..n) x[i] <= 1";
    let n = 100_000;
    let f = parse(text, n as f64);
    let mut p = f.compile_problem().unwrap();
    let out = minimize_constrained(
        &mut p,
        &vec![0.0; n],
        &Settings::default(),
        &Auglag::default(),
    )
    .unwrap();
    assert_eq!(
        out.outcome.reason,
        slope::Reason::Kkt,
        "{}",
        out.outcome.message
    );
    assert!(out.outcome.x.iter().all(|&v| (v - 1.0).abs() < 1e-6));
    // ∇f = 2(x - 2) = -2 is balanced by each row's multiplier.
    assert!(out.multipliers.iter().all(|&l| (l - 2.0).abs() < 1e-4));
}
