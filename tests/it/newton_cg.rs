//! Newton's method on Hessian-vector products (truncated Newton, by
//! conjugate gradients): what it runs on when an objective has products
//! but no dense Hessian, or more variables than
//! `DENSE_NEWTON_MAX_VARS`. Chained Rosenbrock of 1,000 variables by
//! hand-written closures, a box, a saddle, unboundedness, negative
//! curvature at the start (double wells), and the same
//! answers as dense Newton on a compiled formula.

use slope::fd::Scheme;
use slope::objective::FiniteDifferences;
use slope::optim::Bound;
use slope::{CompiledFormula, FnObjective, Formula, Objective, Result, testfns};
use slope::{Method, Reason, Settings, minimize};

/// Chained Rosenbrock, `Σ (1 - xᵢ)² + 100 (xᵢ₊₁ - xᵢ²)²`, with its
/// gradient into `g`.
fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
    g.iter_mut().for_each(|v| *v = 0.0);
    let mut f = 0.0;
    for i in 0..x.len() - 1 {
        let a = x[i + 1] - x[i] * x[i];
        let b = 1.0 - x[i];
        f += b * b + 100.0 * a * a;
        g[i] += -2.0 * b - 400.0 * x[i] * a;
        g[i + 1] += 200.0 * a;
    }
    f
}

/// The Hessian of [`rosenbrock`] at `x` times `v`, into `out`: the
/// tridiagonal matrix applied term by term.
fn rosenbrock_hess_vec(x: &[f64], v: &[f64], out: &mut [f64]) {
    out.iter_mut().for_each(|o| *o = 0.0);
    for i in 0..x.len() - 1 {
        let diagonal = 1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0;
        out[i] += diagonal * v[i] - 400.0 * x[i] * v[i + 1];
        out[i + 1] += -400.0 * x[i] * v[i] + 200.0 * v[i + 1];
    }
}

fn by_hand(n: usize) -> impl Objective {
    FnObjective::new(n, rosenbrock).with_hess_vec(rosenbrock_hess_vec)
}

/// The standard start: -1.2, 1, -1.2, 1, …
fn standard_start(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
        .collect()
}

#[test]
fn the_hand_written_rosenbrock_is_the_formulas() {
    let n = 6;
    let mut compiled = Formula::parse(&testfns::rosenbrock(n))
        .unwrap()
        .compile()
        .unwrap();
    assert!(compiled.prepare_hess_vec().unwrap());
    let mut hand = by_hand(n);
    let x = [-1.2, 1.0, 0.3, -0.7, 2.0, 0.1];
    let v = [0.5, -1.0, 2.0, 0.25, -3.0, 1.5];
    let (mut g1, mut g2, mut h1, mut h2) = ([0.0; 6], [0.0; 6], [0.0; 6], [0.0; 6]);
    let f1 = hand.value_grad(&x, &mut g1);
    let f2 = Objective::value_grad(&mut compiled, &x, &mut g2);
    assert!(hand.hess_vec(&x, &v, &mut h1) && compiled.hess_vec(&x, &v, &mut h2));
    assert!((f1 - f2).abs() <= 1e-12 * f2.abs());
    for i in 0..n {
        assert!(
            (g1[i] - g2[i]).abs() <= 1e-12 * g2[i].abs().max(1.0),
            "g {i}"
        );
        assert!(
            (h1[i] - h2[i]).abs() <= 1e-12 * h2[i].abs().max(1.0),
            "Hv {i}"
        );
    }
}

#[test]
fn chained_rosenbrock_of_1000_variables_by_products() {
    let n = 1000;
    let mut objective = by_hand(n);
    let o = minimize(
        &mut objective,
        &standard_start(n),
        &Settings::new(Method::newton()),
    )
    .unwrap();
    assert!(o.converged(), "{:?}: {}", o.reason, o.message);
    assert!(o.f < 1e-12, "f = {}", o.f);
    assert!(o.x.iter().all(|x| (x - 1.0).abs() < 1e-6));
    // Every product is counted, once as a Hessian and once as an
    // evaluation; the rest are the search's gradients (and the saddle
    // test's products, also the closure's).
    assert!(o.hessian_evaluations > o.iterations, "{o:?}");
    assert_eq!(
        o.evaluations,
        o.gradient_evaluations + o.hessian_evaluations
    );
    println!(
        "n = {n}: {} iterations, {} gradients, {} products",
        o.iterations, o.gradient_evaluations, o.hessian_evaluations
    );
}

#[test]
fn a_box_holds_newton_cg() {
    // Rosenbrock with x ≤ 0.8: the constrained minimum has its first
    // variables free and the last ones on the bound. L-BFGS-B finds the
    // same point.
    let n = 100;
    let bounds = Some(vec![(-2.0, 0.8); n]);
    let settings = |method| Settings {
        bounds: bounds.clone(),
        ..Settings::new(method)
    };
    let start = vec![0.0; n];
    let o = minimize(&mut by_hand(n), &start, &settings(Method::newton())).unwrap();
    assert!(o.converged(), "{o:?}");
    assert!(o.x.iter().all(|&x| (-2.0..=0.8).contains(&x)));
    assert!(o.active.contains(&Bound::Upper), "{:?}", o.active);
    let reference = minimize(
        &mut FnObjective::new(n, rosenbrock),
        &start,
        &settings(Method::lbfgs()),
    )
    .unwrap();
    assert!(reference.converged(), "{reference:?}");
    assert!(
        (o.f - reference.f).abs() <= 1e-8 * reference.f.max(1.0),
        "{} vs {}",
        o.f,
        reference.f
    );
    assert_eq!(o.active, reference.active);
    for (a, b) in o.x.iter().zip(&reference.x) {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
}

/// `x² - y²` by closures with a product.
fn saddle() -> impl Objective {
    FnObjective::new(2, |x: &[f64], g: &mut [f64]| {
        g[0] = 2.0 * x[0];
        g[1] = -2.0 * x[1];
        x[0] * x[0] - x[1] * x[1]
    })
    .with_hess_vec(|_: &[f64], v: &[f64], out: &mut [f64]| {
        out[0] = 2.0 * v[0];
        out[1] = -2.0 * v[1];
    })
}

#[test]
fn newton_cg_reports_saddles_and_unboundedness() {
    let newton = Settings::new(Method::newton());
    // From (1, 0) the Newton step lands on the saddle at the origin.
    let o = minimize(&mut saddle(), &[1.0, 0.0], &newton).unwrap();
    assert_eq!(
        (o.reason, o.x.as_slice()),
        (Reason::Saddle, [0.0, 0.0].as_slice()),
        "{o:?}"
    );
    // From (1, 0.5) the first CG direction has negative curvature: the
    // steps go down the gradient, along -y² without end.
    let o = minimize(&mut saddle(), &[1.0, 0.5], &newton).unwrap();
    assert_eq!(o.reason, Reason::Unbounded, "{o:?}");
    assert!(o.x[1].abs() > 1e6, "{o:?}");
}

/// A compiled formula seen only through its value, gradient and
/// Hessian-vector products, so that Newton runs on products.
pub struct ProductsOnly(pub CompiledFormula);

impl Objective for ProductsOnly {
    fn n_vars(&self) -> usize {
        self.0.n_vars()
    }
    fn value(&mut self, x: &[f64]) -> f64 {
        Objective::value(&mut self.0, x)
    }
    fn value_grad(&mut self, x: &[f64], grad: &mut [f64]) -> f64 {
        Objective::value_grad(&mut self.0, x, grad)
    }
    fn prepare_hess_vec(&mut self) -> Result<bool> {
        self.0.prepare_hess_vec()
    }
    fn hess_vec(&mut self, x: &[f64], v: &[f64], out: &mut [f64]) -> bool {
        self.0.hess_vec(x, v, out)
    }
}

#[test]
fn dense_and_products_give_the_same_minimum() {
    let text = testfns::rosenbrock(30);
    let f = Formula::parse(&text).unwrap();
    // From the standard start the two take different paths (dense Newton
    // to the local minimum near (-1, 1, …, 1), CG to the global one);
    // from 0.5 both reach (1, …, 1).
    let start = vec![0.5; 30];
    let settings = Settings::new(Method::newton());
    let dense = minimize(&mut f.compile().unwrap(), &start, &settings).unwrap();
    let cg = minimize(&mut ProductsOnly(f.compile().unwrap()), &start, &settings).unwrap();
    for o in [&dense, &cg] {
        assert!(o.converged() && o.f < 1e-14, "{o:?}");
        assert!(o.x.iter().all(|x| (x - 1.0).abs() < 1e-7), "{:?}", o.x);
    }
    println!(
        "dense: {} iterations, {} evaluations; cg: {} iterations, {} evaluations",
        dense.iterations, dense.evaluations, cg.iterations, cg.evaluations
    );
    // Dense Newton counts one Hessian per iteration, CG its products.
    assert_eq!(dense.hessian_evaluations, dense.iterations + 1);
    assert!(cg.hessian_evaluations > cg.iterations);
}

#[test]
fn without_products_newton_differences_the_gradient() {
    // The same Rosenbrock with no product: each is a forward difference
    // of the exact gradient, one more gradient, and counted as a Hessian.
    let n = 1000;
    let start = standard_start(n);
    let settings = Settings::new(Method::newton());
    let exact = minimize(&mut by_hand(n), &start, &settings).unwrap();
    let differenced = minimize(&mut FnObjective::new(n, rosenbrock), &start, &settings).unwrap();
    for o in [&exact, &differenced] {
        assert!(
            o.converged() && o.f < 1e-12,
            "{:?}: {}",
            o.reason,
            o.message
        );
        assert!(o.x.iter().all(|x| (x - 1.0).abs() < 1e-6));
    }
    // Every differenced product is one gradient; the rest are the
    // search's, as many as the exact run needs give or take a few.
    let searched = differenced.gradient_evaluations - differenced.hessian_evaluations;
    assert!(differenced.hessian_evaluations > differenced.iterations);
    assert!(searched > differenced.iterations, "{differenced:?}");
    assert_eq!(differenced.evaluations, differenced.gradient_evaluations);
    println!(
        "exact: {} iterations, {} products; differenced: {} iterations, {} products",
        exact.iterations,
        exact.hessian_evaluations,
        differenced.iterations,
        differenced.hessian_evaluations
    );
}

#[test]
fn newton_on_a_differenced_gradient_is_refused() {
    let plain = FnObjective::new(2, |x: &[f64], g: &mut [f64]| {
        g.copy_from_slice(x);
        0.5 * (x[0] * x[0] + x[1] * x[1])
    });
    let mut fd = FiniteDifferences::new(plain, Scheme::Forward);
    let e = minimize(&mut fd, &[1.0, 1.0], &Settings::new(Method::newton())).unwrap_err();
    assert!(e.to_string().contains("an exact gradient"), "{e}");
}

/// `slope min --method newton` on an indexed formula past the dense limit
/// (which has no dense Hessian at any n): Newton-CG from the command line.
#[test]
fn the_command_line_runs_newton_past_a_thousand_variables() {
    let (m, r) = crate::run::json(&[
        "min",
        "-f",
        "tests/data/rosen.slope",
        "--set",
        "n=20000",
        "--start",
        "x=1.1",
        "--method",
        "newton",
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(m["reason"], "gtol", "{}", m["message"]);
    let x = m["x"].as_array().unwrap();
    assert_eq!(x.len(), 20_000);
    assert!(x.iter().all(|v| (v.as_f64().unwrap() - 1.0).abs() < 1e-6));
    let products = m["hessian_evaluations"].as_u64().unwrap();
    assert!(products > m["iterations"].as_u64().unwrap(), "{m}");
}

/// `Σ a (xᵢ² - 1)²`, a row of double wells, by closures with a product:
/// negative curvature wherever every `|xᵢ| < 1/√3`, and a gradient of
/// about `a` there.
fn wells(n: usize, a: f64) -> impl Objective {
    FnObjective::new(n, move |x: &[f64], g: &mut [f64]| {
        let mut f = 0.0;
        for (g, &x) in g.iter_mut().zip(x) {
            let s = x * x - 1.0;
            f += a * s * s;
            *g = 4.0 * a * x * s;
        }
        f
    })
    .with_hess_vec(move |x: &[f64], v: &[f64], out: &mut [f64]| {
        for ((o, &x), &v) in out.iter_mut().zip(x).zip(v) {
            *o = a * (12.0 * x * x - 4.0) * v;
        }
    })
}

#[test]
fn negative_curvature_at_the_start_costs_few_trial_steps() {
    // From xᵢ = 0.1 + 0.003 i (all in the wells' concave middle) the first
    // CG direction, -g, has negative curvature. Each well's minimum is
    // at ±1; its gradient at the start is up to 4a·0.4 in size.
    for a in [1.0, 100.0, 1e4] {
        let n = 100;
        let start: Vec<f64> = (0..n).map(|i| 0.1 + 0.003 * i as f64).collect();
        let o = minimize(&mut wells(n, a), &start, &Settings::new(Method::newton())).unwrap();
        assert!(o.converged(), "{a}: {o:?}");
        assert!(o.x.iter().all(|x| (x - 1.0).abs() < 1e-6), "{a}: {o:?}");
        // One gradient at the start and one per accepted step; the rest
        // are the search's halvings. Stepping down -g unscaled, the first
        // step was about 4a·0.4 long, and the halvings grew with the
        // gradient's size: 3, 9 and 15 at a = 1, 100 and 10⁴. Scaled by
        // the curvature along -g they are 4 at each.
        let halvings = o.gradient_evaluations - 1 - o.iterations;
        println!(
            "a = {a}: {} iterations, {} gradients ({halvings} halvings), {} products",
            o.iterations, o.gradient_evaluations, o.hessian_evaluations
        );
        assert!(halvings <= 5, "{a}: {halvings} halvings, {o:?}");
    }
}
