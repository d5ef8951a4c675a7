//! Compiled code against the interpreter, and `slope bench`.

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use slope::jit::Compiled;
use slope::{Formula, testfns};

use crate::properties::{formula, options, point, points};

/// Compiled and interpreted results agree: both NaN, equal infinities, or
/// within 4 ulps (1e-13 relative near zero, where ulps are tiny).
fn agree(compiled: f64, interpreted: f64) -> bool {
    if compiled.is_nan() || interpreted.is_nan() {
        return compiled.is_nan() && interpreted.is_nan();
    }
    if compiled == interpreted {
        return true;
    }
    let ulps = (compiled.to_bits() as i64)
        .wrapping_sub(interpreted.to_bits() as i64)
        .unsigned_abs();
    let relative = (compiled - interpreted).abs() / compiled.abs().max(interpreted.abs());
    compiled.signum() == interpreted.signum() && (ulps <= 4 || relative <= 1e-13)
}

/// Value, gradient and Hessian of `text`, compiled and interpreted at `x`.
fn compare(text: &str, x_of: impl Fn(usize) -> Vec<f64>, hessian: bool) -> Result<(), String> {
    let mut f = Formula::parse(text).map_err(|e| e.to_string())?;
    let n = f.vars().len();
    let mut outputs = vec![f.value()];
    outputs.extend_from_slice(f.gradient());
    if hessian {
        let rows: Vec<_> = f.hessian().unwrap().into_iter().flatten().collect();
        outputs.extend(rows);
    }
    let compiled = Compiled::compile(f.graph(), &outputs, n).map_err(|e| e.to_string())?;
    let x = x_of(n);
    let mut out = vec![0.0; outputs.len()];
    compiled.call(&x, &mut out);
    let reference = f.eval_nodes(&outputs, &x);
    for (i, (c, r)) in out.iter().zip(&reference).enumerate() {
        if !agree(*c, *r) {
            return Err(format!(
                "{text:?} at {x:?}: output {i}: compiled {c}, interpreter {r}"
            ));
        }
    }
    Ok(())
}

#[test]
fn the_benchmark_set_compiles_to_the_interpreters_results() {
    let texts = [
        testfns::PARABOLA.to_string(),
        testfns::GAUSSIAN.to_string(),
        testfns::SPHERE.to_string(),
        testfns::ACKLEY.to_string(),
        testfns::BOOTH.to_string(),
        testfns::BEALE.to_string(),
        testfns::HIMMELBLAU.to_string(),
        testfns::product(100),
        testfns::nested_sin(50),
        testfns::logistic(10, 100),
        testfns::rosenbrock(2),
        testfns::rosenbrock(10),
        testfns::rosenbrock(1000),
    ];
    for text in &texts {
        let small = text.len() < 2_000;
        for shift in [0.0, 0.37, -1.3] {
            let x_of = |n: usize| (0..n).map(|i| shift + 0.1 * (i % 7) as f64).collect();
            compare(text, x_of, small).unwrap();
        }
    }
}

#[test]
fn non_finite_results_propagate_alike() {
    for (text, x) in [
        ("ln(x)", -1.0),
        ("1/x", 0.0),
        ("sqrt(x) + x", -4.0),
        ("exp(x)^2", 800.0),
        ("min(x, 0/0)", 1.0),
        ("x^0.5*ln(x)", 0.0),
    ] {
        compare(text, |_| vec![x], true).unwrap();
    }
}

/// The input on which the `pipeline` fuzz target crashed. It compiles fine
/// in a small process; in the fuzzer's (500 MB resident, under
/// AddressSanitizer) Cranelift's separate mappings for code and constants
/// landed over 2 GiB apart, and patching a 32-bit displacement panicked.
/// Each module now lives in one reservation (`src/jit/region.rs`, whose unit
/// test covers the reservation itself); here the formula must still agree.
#[test]
fn fuzz_regressions_compile_to_the_interpreters_results() {
    let nested_powers = "((((((w / w) / (w / w)) / ((w / w) / (w / w))) / (pow(pow(y, y), \
        pow(y, y)) / pow(pow(x, y), pow(y, y)))) / pow(pow(pow(pow(y, y), pow(y, y)), \
        pow(pow(y, y), pow(y, w))), atan2(pow(pow(y, y), pow(y, y)), pow(((w)**(y)), \
        pow(y, y))))) / pow(pow(pow(pow(pow(y, y), pow(y, y)), pow(((w)**(y)), pow(y, y))), \
        pow(pow(pow(y, y), y), pow(pow(y, y), pow(y, y)))), ((((((((w)**y))**y))**y))**y)))";
    for shift in [0.0, 0.37, 1.3] {
        let x_of = |n: usize| (0..n).map(|i| shift + 0.5 + 0.1 * i as f64).collect();
        compare(nested_powers, x_of, true).unwrap();
    }
}

#[test]
fn random_formulas_compile_to_the_interpreters_results() {
    let mut runner = TestRunner::new(options());
    let result = runner.run(&(formula(), points()), |(text, pts)| {
        for p in &pts {
            compare(&text, |n| point(p, n), true).map_err(TestCaseError::fail)?;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn bench_reports_its_json_shape_and_sane_errors() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slope"))
        .args([
            "bench",
            &testfns::rosenbrock(2),
            "--at",
            "x1=0.3,x2=0.7",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["vars"], serde_json::json!(["x1", "x2"]));
    for key in ["parse", "diff", "codegen", "total"] {
        assert!(
            v["compile_ms"][key].as_f64().unwrap() >= 0.0,
            "compile_ms.{key}"
        );
    }
    for key in [
        "value",
        "value_grad",
        "interp_value_grad",
        "fd_forward",
        "fd_central",
    ] {
        assert!(
            v["ns_per_call"][key].as_f64().unwrap() > 0.0,
            "ns_per_call.{key}"
        );
    }
    assert!(v["grad_over_value"].as_f64().unwrap() > 0.0);
    for key in ["forward", "central"] {
        let e = v["fd_max_abs_error"][key].as_f64().unwrap();
        assert!(e > 0.0 && e < 1e-4, "fd_max_abs_error.{key} = {e}");
    }
    // Central differences are the more accurate.
    assert!(v["fd_max_abs_error"]["central"].as_f64() < v["fd_max_abs_error"]["forward"].as_f64());
}

#[test]
fn bench_explains_a_point_outside_the_domain() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slope"))
        .args(["bench", "ln(x)", "--at", "x=-1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ln of a negative number"), "{stderr}");
}

/// A constant has no partials: bench says so instead of timing 0 values
/// ("central differences NaN NaN (0 values)"), and its JSON holds 0, not
/// null, for the differences.
#[test]
fn bench_of_a_constant_has_no_differences() {
    let r = crate::run::ok(&["bench", "5"]);
    assert!(!r.stdout.contains("NaN"), "{}", r.stdout);
    for row in [
        "forward differences",
        "central differences",
        "finite-difference max",
    ] {
        assert!(!r.stdout.contains(row), "{row}: {}", r.stdout);
    }
    assert!(
        r.stdout
            .contains("\n  finite differences         none: a constant has no partials\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.starts_with("variables        0\n"), "{}", r.stdout);
    let (v, r) = crate::run::json(&["bench", "5", "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(v["ns_per_call"]["fd_central"].as_f64(), Some(0.0), "{v}");
    assert_eq!(v["ns_per_call"]["fd_forward"].as_f64(), Some(0.0), "{v}");
    assert_eq!(v["fd_vars"], 0, "{v}");
}
