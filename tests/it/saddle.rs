//! The saddle test at the end of a converged run, by Lanczos: it finds
//! negative curvature among many variables in a few Hessian-vector
//! products (the objective's own, or differences of the gradient), does
//! not call a minimum a saddle, and costs at most `SADDLE_PRODUCTS`
//! products however many variables there are.

use slope::optim::{Outcome, SADDLE_PRODUCTS};
use slope::{CompiledFormula, FnObjective, Formula, Objective};
use slope::{Method, Reason, Settings, minimize};

/// `Σ cᵢ (xᵢ - 1)²` over `n` variables with `cᵢ = 1 + i/n`, except that
/// variable `negative` has coefficient `c` instead: a minimum at (1, …, 1)
/// if `c > 0`, a saddle if `c < 0`.
fn bowl(n: usize, negative: usize, c: f64) -> String {
    (0..n)
        .map(|i| {
            let ci = if i == negative {
                c
            } else {
                1.0 + i as f64 / n as f64
            };
            format!("{ci}*(x{i} - 1)^2")
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

/// L-BFGS on `text` from `start`, with the default settings.
fn lbfgs(text: &str, start: &[f64]) -> Outcome {
    let f = Formula::parse(text).unwrap();
    let mut objective = CompiledFormula::new(&f, false).unwrap();
    minimize(&mut objective, start, &Settings::default()).unwrap()
}

#[test]
fn a_saddle_among_300_variables_is_found_in_a_few_products() {
    let n = 300;
    // The negative direction's variable starts at its stationary value, so
    // the run converges to the saddle along the others.
    let mut start = vec![3.0; n];
    start[150] = 1.0;
    let o = lbfgs(&bowl(n, 150, -0.5), &start);
    assert_eq!(o.reason, Reason::Saddle, "{o:?}");
    // Lanczos from a random vector: products until the negative Ritz value
    // shows, each one gradient; far fewer than the 600 gradients of a
    // differenced Hessian, and no more than the cap.
    assert!(
        (1..=SADDLE_PRODUCTS).contains(&o.hessian_evaluations),
        "{o:?}"
    );
    assert!(o.gradient_evaluations < 60, "{o:?}");
}

#[test]
fn a_minimum_among_300_variables_is_not_a_saddle() {
    let n = 300;
    let o = lbfgs(&bowl(n, 0, 1.0), &vec![3.0; n]);
    assert!(o.converged(), "{o:?}");
    assert!(o.f < 1e-12, "{o:?}");
    // 300 distinct eigenvalues: Lanczos runs to its cap and finds none
    // negative. The search's gradients and the test's are all counted.
    assert_eq!(o.hessian_evaluations, SADDLE_PRODUCTS, "{o:?}");
    assert_eq!(
        o.gradient_evaluations, o.evaluations,
        "every evaluation is a gradient"
    );
}

#[test]
fn small_problems_are_tested_exactly_in_at_most_n_products() {
    // A negative eigenvalue a thousand times smaller than the positive
    // one, and a minimum with a flat direction (y^4 at 0), on 2 variables:
    // at most 2 products each.
    let o = lbfgs("x^2 + 2*x*y + 0.999*y^2", &[0.0, 0.0]);
    assert_eq!(o.reason, Reason::Saddle, "{o:?}");
    assert!(o.hessian_evaluations <= 2, "{o:?}");
    let o = lbfgs("(x - 1)^2 + y^4", &[3.0, 0.0]);
    assert!(o.converged(), "{o:?}");
    assert!(o.hessian_evaluations <= 2, "{o:?}");
    // Badly scaled: curvatures 2e6 and 2 at x = 1, y = 1000.
    let o = lbfgs("1e6*(x - 1)^2 + (y - 1000)^2", &[1.5, 900.0]);
    assert!(o.converged(), "{o:?}");
}

/// `x² - y²` (or `x² + y²` if `!saddle`) by a closure, with its
/// Hessian-vector product by another; counts the products.
fn by_hand(saddle: bool) -> Outcome {
    let s = if saddle { -1.0 } else { 1.0 };
    let mut objective = FnObjective::new(2, move |x: &[f64], g: &mut [f64]| {
        g[0] = 2.0 * x[0];
        g[1] = 2.0 * s * x[1];
        x[0] * x[0] + s * x[1] * x[1]
    })
    .with_hess_vec(move |_: &[f64], v: &[f64], out: &mut [f64]| {
        out[0] = 2.0 * v[0];
        out[1] = 2.0 * s * v[1];
    });
    assert!(objective.prepare_hess_vec().unwrap());
    minimize(&mut objective, &[1.0, 0.0], &Settings::new(Method::lbfgs())).unwrap()
}

#[test]
fn the_objectives_own_products_replace_differences() {
    let saddle = by_hand(true);
    assert_eq!(saddle.reason, Reason::Saddle, "{saddle:?}");
    let minimum = by_hand(false);
    assert!(minimum.converged(), "{minimum:?}");
    for o in [saddle, minimum] {
        // The products are the closure's, counted once each as evaluations
        // and as Hessians; every other evaluation is the search's gradient.
        assert!((1..=2).contains(&o.hessian_evaluations), "{o:?}");
        assert_eq!(
            o.evaluations,
            o.gradient_evaluations + o.hessian_evaluations
        );
    }
}

/// Newton (compiled dense Hessian) on `text` from `start`.
fn newton(text: &str, start: &[f64]) -> Outcome {
    let f = Formula::parse(text).unwrap();
    let mut objective = CompiledFormula::new(&f, false).unwrap();
    minimize(&mut objective, start, &Settings::new(Method::newton())).unwrap()
}

#[test]
fn where_the_curvature_is_flat_the_function_decides() {
    // Curvature too small beside the largest to tell from the products'
    // error, and falls of third and fourth order where the Hessian is
    // singular: all saddles, by either method's test (Lanczos on
    // differences, the dense Hessian then Lanczos).
    let saddles: [(&str, &[f64]); 4] = [
        ("x^2 + 1000*z^2 - 0.001*w^2", &[1.0, 1.0, 0.0]),
        ("x^3", &[0.0]),
        ("x^2 - y^4", &[0.0, 0.0]),
        ("x^3 + y^2", &[0.0, 1.0]),
    ];
    for (text, start) in saddles {
        for o in [lbfgs(text, start), newton(text, start)] {
            assert_eq!(o.reason, Reason::Saddle, "{text}: {o:?}");
        }
    }
    // Flat directions of minima are not: a quartic bottom, and valleys of
    // minima written two ways (the second cancels large terms, so its
    // rounding error is far above ε·|f| there).
    let minima: [(&str, &[f64]); 4] = [
        ("x^4 + y^2", &[1.0, 1.0]),
        ("(x - y)^2", &[1000.0, 3.0]),
        ("x^2 - 2*x*y + y^2", &[1000.0, 3.0]),
        ("(x*y - 1)^2", &[3.0, 1.0]),
    ];
    for (text, start) in minima {
        for o in [lbfgs(text, start), newton(text, start)] {
            assert!(o.converged() && o.reason != Reason::Saddle, "{text}: {o:?}");
        }
    }
}

#[test]
fn where_no_minimum_is_attained_the_run_says_unbounded() {
    // Gradients that vanish as the point runs off (exp(-x) below its floor
    // of 0, -ln(x) without one, 1/(1 + x²)), passing gtol with curvature
    // too flat or too small to vouch; Newton on x³ from 0.5, which halves
    // x and stops at 3e-5 with positive curvature 1.8e-4; exp(-x) + y²,
    // whose infimum is approached along x alone.
    let runaways: [(&str, &[f64]); 6] = [
        ("exp(-x)", &[0.0]),
        ("-ln(x)", &[1.0]),
        ("1/(1 + x^2)", &[1.0]),
        ("x^3", &[0.5]),
        ("exp(-x) + y^2", &[0.0, 1.0]),
        ("exp(-x - y)", &[0.0, 0.0]),
    ];
    for (text, start) in runaways {
        for o in [lbfgs(text, start), newton(text, start)] {
            assert_eq!(o.reason, Reason::Unbounded, "{text}: {o:?}");
            // (L-BFGS's own search sees x³ fall without bound.)
            let walked = o.message.contains("no minimum is attained");
            assert!(walked || o.message.contains("grew past"), "{text}: {o:?}");
        }
    }
    // Minima with flat or small curvature keep their verdict.
    let minima: [(&str, &[f64]); 5] = [
        ("x^4", &[0.3]),
        ("(x - y)^2", &[0.3, 2.0]),
        ("(x*y - 1)^2", &[0.3, 2.0]),
        ("x^4 + y^2", &[1.0, 1.0]),
        (
            "(a + 10*b)^2 + 5*(c - d)^2 + (b - 2*c)^4 + 10*(a - d)^4",
            &[3.0, -1.0, 0.0, 1.0],
        ),
    ];
    for (text, start) in minima {
        for o in [lbfgs(text, start), newton(text, start)] {
            assert!(o.converged(), "{text}: {o:?}");
        }
    }
}

/// `slope min TEXT --start START --bounds BOX --method METHOD --json`: its
/// reason.
fn reason_in_box(text: &str, start: &str, bounds: &str, method: &str) -> String {
    let args = ["min", text, "--start", start, "--bounds", bounds];
    let (v, _) = crate::run::json(&[&args[..], &["--method", method, "--json"]].concat());
    v["reason"].as_str().unwrap().to_string()
}

#[test]
fn negative_curvature_out_of_the_box_makes_no_saddle() {
    for method in ["lbfgs", "newton"] {
        // x·y ≥ 0 on [0, 1]²: its corner is a minimum, though the Hessian
        // has the eigenvalue -1 along (1, -1), which leaves the box.
        let corner = reason_in_box("x*y", "x=0,y=0", "x=0:1,y=0:1", method);
        assert_eq!(corner, "gtol", "{method}");
        // With y free to go below 0, f = -t² along (t, -t): a saddle.
        let edge = reason_in_box("x*y", "x=0,y=0", "x=0:1,y=-1:1", method);
        assert_eq!(edge, "saddle", "{method}");
        // A variable its bounds fix does not move: with y fixed, x² - y²
        // is x², whose minimum is x = 0.
        let fixed = reason_in_box("x^2 - y^2", "x=0.5,y=0", "y=0:0", method);
        assert_eq!(fixed, "gtol", "{method}");
    }
    // Negative curvature inside the box beside the corner: a saddle.
    let inside = reason_in_box("x*y - 0.001*z^2", "x=0,y=0,z=0", "x=0:1,y=0:1", "lbfgs");
    assert_eq!(inside, "saddle");
}
