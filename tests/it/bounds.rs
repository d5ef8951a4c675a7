//! Bounds in every method, and verdicts that tell the truth: a constrained
//! minimum on a bound, `unbounded`, `saddle`, Newton giving up at once when
//! no step lowers f, and the default settings finishing a large problem.

use slope::optim::{Bound, Outcome};
use slope::{CompiledFormula, Formula, testfns};
use slope::{Method, Reason, Settings, minimize};

/// Minimises `text` from `start` with `method`, within `bounds` if given
/// (with the Hessian compiled for Newton).
fn run(text: &str, start: &[f64], method: Method, bounds: Option<Vec<(f64, f64)>>) -> Outcome {
    let f = Formula::parse(text).unwrap();
    let newton = matches!(method, Method::Newton { .. });
    let mut objective = CompiledFormula::new(&f, newton).unwrap();
    let settings = Settings {
        bounds,
        ..Settings::new(method)
    };
    minimize(&mut objective, start, &settings).unwrap()
}

fn every_method() -> impl Iterator<Item = Method> {
    Method::NAMES
        .iter()
        .map(|name| Method::by_name(name).unwrap())
}

#[test]
fn every_method_stops_on_the_bound() {
    for method in every_method() {
        let o = run("(x-3)^2", &[0.5], method, Some(vec![(0.0, 1.0)]));
        let name = method.name();
        assert_eq!(o.x, [1.0], "{name}: {o:?}");
        assert_eq!(o.f, 4.0, "{name}");
        assert!(o.converged(), "{name}: {o:?}");
        assert_eq!(o.active, [Bound::Upper], "{name}");
        assert!(o.moved_start.is_empty(), "{name}");
        // The gradient (-4) pushes out of the box: the projected one is 0.
        assert_eq!(o.grad_norm, 0.0, "{name}");
    }
}

#[test]
fn a_start_outside_the_box_is_moved_onto_it() {
    for method in every_method() {
        let o = run(
            "(x-3)^2 + (y+5)^2",
            &[5.0, 0.0],
            method.with_lr(0.3),
            Some(vec![(-1.0, 1.0), (-2.0, 2.0)]),
        );
        let name = method.name();
        assert_eq!(o.moved_start, [0], "{name}");
        assert!(o.summary().contains("outside the bounds"), "{name}");
        assert_eq!(o.x, [1.0, -2.0], "{name}: {o:?}");
        assert_eq!(o.active, [Bound::Upper, Bound::Lower], "{name}");
    }
    // Inside the box, or without bounds, nothing is moved or active.
    let o = run("(x-3)^2", &[5.0], Method::lbfgs(), None);
    assert!(o.moved_start.is_empty());
    assert_eq!(o.active, [Bound::Free]);
}

/// The minimiser of `f` on `[a, b]` by golden-section search (f unimodal
/// there), to 1e-12.
fn golden(f: impl Fn(f64) -> f64, mut a: f64, mut b: f64) -> f64 {
    let r = (5f64.sqrt() - 1.0) / 2.0;
    while b - a > 1e-12 {
        let (c, d) = (b - r * (b - a), a + r * (b - a));
        if f(c) < f(d) {
            b = d;
        } else {
            a = c;
        }
    }
    0.5 * (a + b)
}

#[test]
fn rosenbrock_with_its_minimum_cut_off() {
    let rosenbrock = |x: f64, y: f64| (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
    // y <= 0.5 cuts off (1, 1). On the face y = 0.5 the minimiser in x is
    // found by a 1-D search; there ∂f/∂y = 200 (0.5 - x²) < 0 pushes y up
    // against its bound, so the point is the constrained minimum (KKT).
    let x_face = golden(|x| rosenbrock(x, 0.5), 0.0, 1.0);
    assert!(200.0 * (0.5 - x_face * x_face) < 0.0);
    let want = [x_face, 0.5];
    // x <= 0.5 cuts it off too: on x = 0.5 the minimiser is y = 0.25
    // exactly, where ∂f/∂x = -1 pushes x up against its bound.
    let cases = [
        (
            vec![(-2.0, 2.0), (-2.0, 0.5)],
            want,
            [Bound::Free, Bound::Upper],
        ),
        (
            vec![(-2.0, 0.5), (-2.0, 2.0)],
            [0.5, 0.25],
            [Bound::Upper, Bound::Free],
        ),
    ];
    for (bounds, want, active) in cases {
        for method in [Method::lbfgs(), Method::newton()] {
            let o = run(
                &testfns::rosenbrock(2),
                &[-1.2, 0.5],
                method,
                Some(bounds.clone()),
            );
            let name = method.name();
            assert!(o.converged(), "{name}: {o:?}");
            for (x, w) in o.x.iter().zip(&want) {
                assert!((x - w).abs() < 1e-6, "{name}: {:?} vs {want:?}", o.x);
            }
            assert!((o.f - rosenbrock(want[0], want[1])).abs() < 1e-10, "{name}");
            assert_eq!(o.active, active, "{name}");
        }
        let gd = Method::Gd {
            lr: 1e-3,
            line_search: true,
        };
        let o = run(&testfns::rosenbrock(2), &[-1.2, 0.5], gd, Some(bounds));
        assert!(
            (o.x[0] - want[0]).abs() < 1e-3 && (o.x[1] - want[1]).abs() < 1e-3,
            "{o:?}"
        );
    }
}

#[test]
fn lbfgs_b_holds_many_bounds_at_once() {
    // Rosenbrock n = 20 with every variable below 0.7: a quarter of the
    // gradient's pull meets a bound; the run must end in the box with the
    // projected gradient small, the same whichever way the box is entered.
    let n = 20;
    let bounds = vec![(-2.0, 0.7); n];
    let start: Vec<f64> = (0..n)
        .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
        .collect();
    let o = run(
        &testfns::rosenbrock(n),
        &start,
        Method::lbfgs(),
        Some(bounds.clone()),
    );
    assert!(o.converged(), "{o:?}");
    assert!(o.x.iter().all(|x| (-2.0..=0.7).contains(x)));
    assert!(o.active.contains(&Bound::Upper), "{:?}", o.active);
    let newton = run(
        &testfns::rosenbrock(n),
        &start,
        Method::newton(),
        Some(bounds),
    );
    assert!(newton.converged(), "{newton:?}");
    assert!(
        (newton.f - o.f).abs() < 1e-8 * (1.0 + o.f),
        "{} vs {}",
        newton.f,
        o.f
    );
}

#[test]
fn f_without_a_lower_bound_is_unbounded() {
    for method in [Method::lbfgs(), Method::newton()] {
        for (text, start) in [
            ("x", &[0.0][..]),
            ("x + y^2", &[0.0, 1.0]),
            ("-x^2", &[1.0]),
        ] {
            let o = run(text, start, method, None);
            assert_eq!(
                o.reason,
                Reason::Unbounded,
                "{} on {text}: {o:?}",
                method.name()
            );
            assert!(!o.converged());
            assert!(o.evaluations < 500, "{} on {text}: {o:?}", method.name());
        }
    }
    // Fixed-step gd doubles x on -x^2 until f overflows to -∞.
    let o = run("-x^2", &[0.5], Method::gd().with_lr(0.5), None);
    assert_eq!(o.reason, Reason::Unbounded, "{o:?}");
    assert!(o.f.is_finite(), "the last finite point is reported");
    // The same f in a box has a minimum on the bound.
    let o = run("x", &[0.0], Method::lbfgs(), Some(vec![(-3.0, 3.0)]));
    assert_eq!((o.x[0], o.reason.converged()), (-3.0, true), "{o:?}");
}

#[test]
fn a_saddle_is_not_a_minimum() {
    for method in every_method() {
        for text in ["x^2 - y^2", "x*y"] {
            let o = run(text, &[0.0, 0.0], method, None);
            assert_eq!(
                o.reason,
                Reason::Saddle,
                "{} on {text}: {o:?}",
                method.name()
            );
            assert!(!o.converged());
        }
    }
    // A minimum stays a minimum, flat directions included.
    let o = run("x^2 + y^4", &[0.0, 0.0], Method::lbfgs(), None);
    assert_eq!(o.reason, Reason::Gtol);
    // On a bound, only the free variables' curvature counts: at (0, 1)
    // in [-1, 1]², -y² pushes y against its upper bound, and along the
    // free x the function curves up: a constrained minimum.
    let o = run(
        "x^2 - y^2",
        &[0.0, 1.0],
        Method::lbfgs(),
        Some(vec![(-1.0, 1.0); 2]),
    );
    assert_eq!(
        (o.x.as_slice(), o.reason),
        ([0.0, 1.0].as_slice(), Reason::Gtol),
        "{o:?}"
    );
    assert_eq!(o.active, [Bound::Free, Bound::Upper]);
}

#[test]
fn newton_stops_at_once_when_no_step_lowers_f() {
    // So steep that at the floats nearest √2 the gradient is about 10:
    // gtol cannot be met, and no representable step lowers f.
    let settings = Settings {
        ftol_rel: None,
        ..Settings::new(Method::newton())
    };
    let f = Formula::parse("1e16*(x^2 - 2)^2").unwrap();
    let mut objective = CompiledFormula::new(&f, true).unwrap();
    let o = minimize(&mut objective, &[1.5], &settings).unwrap();
    assert_eq!(o.reason, Reason::Stalled, "{o:?}");
    assert!(o.grad_norm > settings.gtol, "{o:?}");
    assert!(o.evaluations < 150, "{o:?}");
    assert!((o.x[0] - 2f64.sqrt()).abs() < 1e-15);
    // With the default relative-reduction test it ends as converged.
    let o = run("1e16*(x^2 - 2)^2", &[1.5], Method::newton(), None);
    assert!(o.converged() || o.reason == Reason::Stalled, "{o:?}");
    assert!(o.evaluations < 100, "{o:?}");
}

#[test]
fn lbfgs_finishes_rosenbrock_1000_with_the_defaults() {
    let n = 1000;
    let start: Vec<f64> = (0..n)
        .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
        .collect();
    let o = run(&testfns::rosenbrock(n), &start, Method::lbfgs(), None);
    assert!(
        o.converged(),
        "{:?} after {} iterations, f = {}",
        o.reason,
        o.iterations,
        o.f
    );
    assert!(o.f < 1e-8, "f = {}", o.f);
    assert!(o.x.iter().all(|x| (x - 1.0).abs() < 1e-3));
}

#[test]
fn every_reason_explains_itself() {
    let mut names = std::collections::HashSet::new();
    for reason in Reason::ALL {
        assert!(names.insert(reason.name()), "{reason} named twice");
        let text = reason.explanation();
        assert!(!text.is_empty() && !text.contains('\n'), "{reason}: {text}");
    }
    assert!(!Reason::Unbounded.converged() && !Reason::Saddle.converged());
    assert!(Reason::FtolRel.converged());
}

/// Moré, Garbow and Hillstrom's problem 16 (Brown and Dennis, n = 4,
/// m = 20) as one formula: the sum of the squares of
/// `(x1 + t x2 - e^t)^2 + (x3 + x4 sin t - cos t)^2`, `t = i/5`.
fn brown_dennis() -> String {
    let terms: Vec<String> = (1..=20)
        .map(|i| {
            let t = f64::from(i) / 5.0;
            format!("((x1 + {t}*x2 - exp({t}))^2 + (x3 + x4*sin({t}) - cos({t}))^2)^2")
        })
        .collect();
    terms.join(" + ")
}

/// MGH problem 6 (Jennrich and Sampson, n = 2, m = 10): the sum of the
/// squares of `2 + 2i - (e^(i x1) + e^(i x2))`.
fn jennrich_sampson() -> String {
    let terms: Vec<String> = (1..=10)
        .map(|i| format!("({} - (exp({i}*x1) + exp({i}*x2)))^2", 2 + 2 * i))
        .collect();
    terms.join(" + ")
}

#[test]
fn minima_whose_gradient_cannot_reach_gtol_end_promptly() {
    // Both minima are far from 0, so at the floats near them the gradient
    // may stay above 1e-8: the relative reduction of f ends the runs
    // (Newton, one iteration after it first holds, meets gtol on Brown and
    // Dennis, at 3.2e-10). Before
    // it, L-BFGS took 187 evaluations on Brown and Dennis (scipy's
    // L-BFGS-B stops after 22) and Newton 47,780 on Jennrich and Sampson.
    // The minima are MGH's: 85822.2016 and 124.362182 (m = 10).
    let cases = [
        (
            brown_dennis(),
            vec![25.0, 5.0, -5.0, -1.0],
            85822.2016,
            1e-9,
        ),
        (jennrich_sampson(), vec![0.3, 0.4], 124.362182, 1e-8),
    ];
    for (text, start, f_min, rel) in cases {
        for method in [Method::lbfgs(), Method::newton()] {
            let o = run(&text, &start, method, None);
            let name = method.name();
            assert!(
                matches!(o.reason, Reason::FtolRel | Reason::Gtol),
                "{name}: {o:?}"
            );
            assert!(((o.f - f_min) / f_min).abs() < rel, "{name}: f = {}", o.f);
            assert!(o.evaluations < 60, "{name}: {} evaluations", o.evaluations);
        }
    }
}

#[test]
fn a_search_stopped_at_the_edge_of_the_domain_does_not_blame_the_gradient() {
    // ln(x) falls without bound towards 0, where the line search meets NaN
    // beyond the domain and gives up; f is -∞ at 0, which the walk down the
    // gradient after the failed search finds: unbounded, not stalled.
    let o = run("ln(x)", &[1.0], Method::lbfgs(), None);
    assert_eq!(o.reason, Reason::Unbounded, "{o:?}");
    assert!(o.message.contains("fell to -∞"), "{}", o.message);
    // sqrt(x) and hypot(x, y) have their minima where the gradient is not
    // finite: the run keeps that lower point and says why it cannot go on,
    // rather than call it a divergence and go back to the start.
    for (text, start) in [("sqrt(x)", &[0.5][..]), ("hypot(x, y)", &[1.0, 2.0])] {
        let o = run(text, start, Method::lbfgs(), None);
        assert_eq!((o.reason, o.f), (Reason::Stalled, 0.0), "{text}: {o:?}");
        assert!(o.x.iter().all(|&v| v == 0.0), "{text}: {o:?}");
        assert!(o.message.contains("a kink, or the edge"), "{}", o.message);
    }
    // Where no nearby point is lower, the old diagnosis stands.
    let settings = Settings {
        ftol_rel: None,
        ..Settings::new(Method::newton())
    };
    let f = Formula::parse("1e16*(x^2 - 2)^2").unwrap();
    let mut objective = CompiledFormula::new(&f, true).unwrap();
    let o = minimize(&mut objective, &[1.5], &settings).unwrap();
    assert_eq!(o.reason, Reason::Stalled);
    assert!(
        o.message
            .contains("as good as floating-point precision allows")
    );
}

/// Where a step reaches f = -∞ (ln(x) at its bound 0) the run reports the
/// last finite point with that point's own gradient. Newton's projected
/// step from 0.5 lands on 0: the run reported f and x of 0.5 beside the
/// gradient of 0 (NaN, `null` in JSON), and a message that did not say
/// the -∞ lay a step beyond the point.
#[test]
fn a_fall_to_minus_infinity_reports_the_last_point_with_its_own_gradient() {
    for method in [Method::newton(), Method::lbfgs()] {
        let o = run("ln(x)", &[0.5], method, Some(vec![(0.0, 1.0)]));
        let name = method.name();
        assert_eq!(o.reason, Reason::Unbounded, "{name}: {o:?}");
        assert!(o.f.is_finite() && o.x[0] > 0.0, "{name}: {o:?}");
        assert_eq!(o.f, o.x[0].ln(), "{name}: {o:?}");
        let own = 1.0 / o.x[0];
        assert!((o.gradient[0] - own).abs() <= 1e-12 * own, "{name}: {o:?}");
    }
    let o = run("ln(x)", &[0.5], Method::newton(), Some(vec![(0.0, 1.0)]));
    assert!(
        o.message.contains("fell to -∞ a step from here"),
        "{}",
        o.message
    );
}
