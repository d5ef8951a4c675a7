//! `slope check` and `slope bench` on indexed formulas: the gradient of
//! the compiled loops against finite differences, element by element (a
//! bounded subset past 20 variables), and the timings at n = 1,000.

use serde_json::Value;

use crate::run::{json, run};

const ROSEN: &str =
    "param n = 1000\nvar x[1..n]\nsum(i in 1..n-1, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)";

fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// Every comparison of every point: (element, exact, estimate, ok).
fn rows(v: &Value) -> Vec<(String, f64, f64, bool)> {
    let mut out = Vec::new();
    for p in v["points"].as_array().unwrap() {
        for g in p["gradient"].as_array().unwrap() {
            out.push((
                g["var"].as_str().unwrap().to_string(),
                g["exact"].as_f64().unwrap(),
                g["estimate"].as_f64().unwrap(),
                g["ok"].as_bool().unwrap(),
            ));
        }
    }
    out
}

#[test]
fn check_compares_every_element_of_a_small_array() {
    let (v, r) = json(&["check", ROSEN, "--set", "n=5", "--seed", "4", "--json"]);
    assert_eq!(r.status, 0, "{}{}", r.stdout, r.stderr);
    let all = ["x[1]", "x[2]", "x[3]", "x[4]", "x[5]"];
    assert_eq!(names(&v["vars"]), all);
    assert_eq!(names(&v["checked_vars"]), all);
    assert_eq!(v["checked"], 10);
    let rows = rows(&v);
    assert_eq!(rows.len(), 50);
    for (name, exact, estimate, ok) in rows {
        assert!(ok, "{name}: {exact} against {estimate}");
        // Not vacuous: the gradient of Rosenbrock in -2:2 is large.
        assert!(exact.abs() > 1e-3 || estimate.abs() < 1e-3, "{name}");
    }
    // The text names elements and says nothing of a subset.
    let r = run(&["check", ROSEN, "--set", "n=3", "--at", "x=0.5,x[2]=-1"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .starts_with("x[1] = 0.5, x[2] = -1, x[3] = 0.5 (f = "),
        "{}",
        r.stdout
    );
    for k in 1..=3 {
        assert!(r.stdout.contains(&format!("  df/dx[{k}] ")), "{}", r.stdout);
    }
    assert!(!r.stdout.contains("checked"), "{}", r.stdout);
}

#[test]
fn check_of_a_large_array_compares_both_ends_and_a_drawn_subset() {
    let (v, r) = json(&[
        "check", ROSEN, "--set", "n=2000", "--points", "2", "--seed", "9", "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(v["n_vars"], 2000);
    assert!(v.get("vars").is_none() && v["points"][0].get("x").is_none());
    let checked = names(&v["checked_vars"]);
    assert_eq!(checked.len(), 20);
    assert_eq!(checked[..5], ["x[1]", "x[2]", "x[3]", "x[4]", "x[5]"]);
    assert_eq!(
        checked[15..],
        ["x[1996]", "x[1997]", "x[1998]", "x[1999]", "x[2000]"]
    );
    for (name, exact, estimate, ok) in rows(&v) {
        assert!(ok, "{name}: {exact} against {estimate}");
    }
    // The same seed draws the same elements; the text says which.
    let r = run(&[
        "check", ROSEN, "--set", "n=2000", "--points", "1", "--seed", "9",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("2000 variables (f = "), "{}", r.stdout);
    for name in &checked {
        assert!(
            r.stdout.contains(&format!("  df/d{name} at ")),
            "{}",
            r.stdout
        );
    }
    assert!(
        r.stdout
            .contains("checked 20 of 2000 variables: the first 5, the last 5 and 10 drawn with the seed\nseed: 9\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn check_on_arrays_skips_kinks_and_refuses_what_it_cannot_do() {
    let text = "param n = 4\nvar x[1..n]\nsum(i in 1..n, abs(x[i]) + x[i]^2)";
    let r = run(&["check", text, "--at", "x=1,x[3]=0"]);
    assert_eq!(r.status, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("skipped, on a kink of abs at 3:16 (within the difference step along x[3])"),
        "{}",
        r.stdout
    );
    // Away from the kink it checks.
    let r = run(&["check", text, "--at", "x=1,x[3]=-0.5"]);
    assert_eq!(r.status, 0, "{}{}", r.stdout, r.stderr);
    for (args, want) in [
        (
            vec!["--hessian"],
            "slope check --hessian does not take arrays",
        ),
        (
            vec!["--grad", "x[1]=1"],
            "slope check --grad does not take arrays",
        ),
    ] {
        let mut all = vec!["check", ROSEN, "--set", "n=3"];
        all.extend(args);
        let r = run(&all);
        assert_eq!(r.status, 2, "{}", r.stderr);
        assert!(r.stderr.contains(want), "{}", r.stderr);
    }
}

#[test]
fn bench_times_an_indexed_formula_at_a_thousand_variables() {
    let (v, r) = json(&["bench", ROSEN, "--set", "n=1000", "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(v["vars"].as_array().unwrap().len(), 1000);
    for key in ["value", "value_grad", "interp_value_grad"] {
        assert!(
            v["ns_per_call"][key].as_f64().unwrap() > 0.0,
            "ns_per_call.{key}: {v}"
        );
    }
    // The compiled gradient agrees with central differences as it should
    // on Rosenbrock in -2:2: far better than forward ones.
    let central = v["fd_max_abs_error"]["central"].as_f64().unwrap();
    let forward = v["fd_max_abs_error"]["forward"].as_f64().unwrap();
    assert!(central < 1e-4 && central < forward, "{central} {forward}");
}

/// Differencing every partial at n = 10⁵ would take 10⁵ values of cost
/// 10⁵ each (minutes; hours at 10⁶): past 1,000 variables bench differences
/// 100 of them, spread evenly, and scales their time to all.
#[test]
fn bench_differences_a_sample_of_partials_past_a_thousand_variables() {
    let (v, r) = json(&["bench", ROSEN, "--set", "n=100000", "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(v["vars"].as_array().unwrap().len(), 100_000);
    assert_eq!(v["fd_vars"], 100);
    // The times are scaled to every partial; how they compare with the
    // value's is a timing, which tests do not assert (it failed once under a
    // load of 14).
    for key in ["fd_forward", "fd_central"] {
        let ns = v["ns_per_call"][key].as_f64().unwrap();
        assert!(ns.is_finite() && ns > 0.0, "{key}: {ns}");
    }
    let central = v["fd_max_abs_error"]["central"].as_f64().unwrap();
    assert!(central.is_finite() && central < 1e-3, "{central}");
    let (all, _) = json(&["bench", ROSEN, "--set", "n=1000", "--json"]);
    assert_eq!(all["fd_vars"], 1000);
}
