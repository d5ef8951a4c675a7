//! SQP on small problems: each constraint kind, bounds, the infeasible
//! verdict, the BFGS fallback and the second-order correction.

use super::*;
use crate::Formula;

fn sqp(text: &str, start: &[f64], bounds: Option<Vec<(f64, f64)>>) -> ConstrainedOutcome {
    let f = Formula::parse(text).unwrap();
    let settings = Settings {
        bounds,
        ..Settings::default()
    };
    minimize_sqp(
        &mut f.compile_problem().unwrap(),
        start,
        &settings,
        &Sqp::default(),
    )
    .unwrap()
}

fn near(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

#[test]
fn each_kind_of_constraint_with_its_multiplier() {
    // (formula, start, bounds, x*, λ*)
    type Case<'a> = (
        &'a str,
        &'a [f64],
        Option<Vec<(f64, f64)>>,
        &'a [f64],
        &'a [f64],
    );
    let free = f64::INFINITY;
    let cases: Vec<Case> = vec![
        (
            "(x - 2)^2 + (y - 1)^2\nsubject to x + y <= 2",
            &[0.0, 0.0],
            None,
            &[1.5, 0.5],
            &[1.0],
        ),
        (
            "x^2 + y^2\nsubject to x + y >= 1",
            &[3.0, -1.0],
            None,
            &[0.5, 0.5],
            &[1.0],
        ),
        (
            "x*y\nsubject to x^2 + y^2 == 2",
            &[1.0, -0.5],
            None,
            &[1.0, -1.0],
            &[0.5],
        ),
        (
            "(x - 1)^2 + (y - 2)^2\nsubject to x + y == 1\nsubject to x >= 0.5",
            &[0.0, 0.0],
            Some(vec![(-free, free), (-1.0, 0.2)]),
            &[0.8, 0.2],
            &[0.4, 0.0],
        ),
    ];
    for (text, start, bounds, x, lambda) in cases {
        let out = sqp(text, start, bounds);
        assert_eq!(out.outcome.reason, Reason::Kkt, "{text}: {out:?}");
        assert!(out.max_violation <= 1e-8, "{text}: {out:?}");
        assert!(near(&out.outcome.x, x, 1e-7), "{text}: {out:?}");
        assert!(near(&out.multipliers, lambda, 1e-6), "{text}: {out:?}");
        assert!(out.outcome.hessian_evaluations > 0);
    }
}

#[test]
fn contradictory_constraints_are_infeasible() {
    let text = "x^2\nsubject to x >= 1\nsubject to x <= 0";
    let out = sqp(text, &[3.0], None);
    assert_eq!(out.outcome.reason, Reason::Infeasible, "{text}: {out:?}");
    assert!(out.max_violation > 0.1, "{text}: {out:?}");
}

/// The problem without its Hessian: SQP falls back on damped BFGS.
struct NoHessian(crate::CompiledProblem);

impl ConstrainedObjective for NoHessian {
    fn n_vars(&self) -> usize {
        self.0.n_vars()
    }
    fn kinds(&self) -> &[ConstraintKind] {
        self.0.kinds()
    }
    fn jacobian_pattern(&self) -> &[(usize, usize)] {
        self.0.jacobian_pattern()
    }
    fn eval(&mut self, x: &[f64], g: &mut [f64], c: &mut [f64], j: &mut [f64]) -> f64 {
        self.0.eval(x, g, c, j)
    }
}

#[test]
fn without_a_hessian_damped_bfgs_gets_there() {
    // The closest point to (2, 1) under the parabola y >= x^2 and the
    // line x + y <= 2 is their corner (1, 1).
    let f = Formula::parse("(x - 2)^2 + (y - 1)^2\nsubject to x^2 <= y\nsubject to x + y <= 2")
        .unwrap();
    let mut p = NoHessian(f.compile_problem().unwrap());
    let out = minimize_sqp(&mut p, &[0.0, 0.0], &Settings::default(), &Sqp::default()).unwrap();
    assert_eq!(out.outcome.reason, Reason::Kkt, "{out:?}");
    assert_eq!(out.outcome.hessian_evaluations, 0);
    assert!(near(&out.outcome.x, &[1.0, 1.0], 1e-7), "{out:?}");
}

#[test]
fn the_second_order_correction_takes_the_full_step_on_a_circle() {
    // Nocedal and Wright's example of the Maratos effect: from a point
    // on the circle near the solution (1, 0), the full SQP step raises
    // both f and the violation, and the ℓ1 merit refuses it.
    let t: f64 = 0.3;
    let out = sqp(
        "2*(x^2 + y^2 - 1) - x\nsubject to x^2 + y^2 == 1",
        &[t.cos(), t.sin()],
        None,
    );
    assert_eq!(out.outcome.reason, Reason::Kkt, "{out:?}");
    assert!(near(&out.outcome.x, &[1.0, 0.0], 1e-7), "{out:?}");
    // Quadratic convergence: a handful of iterations, each one
    // evaluation or two (the corrected step).
    assert!(out.outcome.iterations <= 6, "{out:?}");
    assert!(
        out.outcome.evaluations <= 2 * out.outcome.iterations + 1,
        "{out:?}"
    );
}

#[test]
fn bad_input_is_an_error_before_any_evaluation() {
    let f = Formula::parse("x^2\nsubject to x >= 1").unwrap();
    let mut p = f.compile_problem().unwrap();
    let bad = Sqp {
        optimality_tol: 0.0,
        ..Sqp::default()
    };
    assert!(minimize_sqp(&mut p, &[1.0], &Settings::default(), &bad).is_err());
    assert!(minimize_sqp(&mut p, &[1.0, 2.0], &Settings::default(), &Sqp::default()).is_err());
}
