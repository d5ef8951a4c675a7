//! The native descent loop against the Rust loop: the same iterates,
//! counts and diagnoses, to the bit.

use super::native::FUSED_BATCH;
use super::*;
use crate::formula::Formula;
use crate::jit::Variant;
use crate::objective::{CompiledFormula, Negated, Objective};

/// Runs `settings` twice from `start`: every iteration in Rust, and with
/// the native descent loop allowed (compiled beforehand when
/// `from_start`, else once the run is long enough). Both must agree to
/// the bit.
fn same_either_way(text: &str, start: &[f64], settings: Settings, maximize: bool) -> Outcome {
    let formula = Formula::parse(text).expect("parses");
    let compiled = CompiledFormula::new(&formula, false).expect("compiles");
    let run = |every: bool, precompile: bool| {
        let settings = Settings {
            observe_every_iterate: every,
            ..settings.clone()
        };
        let mut seen = 0;
        let mut observe = |_: &Iterate| seen += 1;
        let mut objective: Box<dyn Objective> = if maximize {
            Box::new(Negated(compiled.clone()))
        } else {
            Box::new(compiled.clone())
        };
        if precompile {
            let variant = Variant {
                project: settings.constraints().is_some(),
                negate: false,
                ftol: settings.ftol.is_some(),
                xtol: settings.xtol.is_some(),
            };
            let native = objective.native().expect("compiled code");
            assert!(native.descent_kernel(variant, true).is_some());
        }
        let outcome = minimize_with(&mut objective, start, &settings, &mut observe).unwrap();
        (outcome, seen)
    };
    let (reference, seen) = run(true, false);
    assert_eq!(
        seen,
        reference.iterations + 1,
        "the observer sees every iterate"
    );
    for precompile in [false, true] {
        let (fused, seen) = run(false, precompile);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let context = format!("{text}, precompiled {precompile}: {reference:?} vs {fused:?}");
        assert_eq!(bits(&fused.x), bits(&reference.x), "{context}");
        assert_eq!(fused.f.to_bits(), reference.f.to_bits(), "{context}");
        assert_eq!(fused.grad_norm.to_bits(), reference.grad_norm.to_bits());
        assert_eq!(fused.iterations, reference.iterations, "{context}");
        assert_eq!(fused.evaluations, reference.evaluations, "{context}");
        assert_eq!(fused.reason, reference.reason, "{context}");
        assert_eq!(fused.message, reference.message, "{context}");
        assert_eq!(fused.advice, reference.advice, "{context}");
        assert_eq!(
            fused.bad_point.as_deref().map(bits),
            reference.bad_point.as_deref().map(bits)
        );
        if precompile && reference.iterations > 1 {
            assert!(
                seen < reference.iterations,
                "{context}: the native loop ran"
            );
        }
    }
    reference
}

fn gd(lr: f64, max_iter: usize) -> Settings {
    Settings {
        max_iter,
        ..Settings::new(Method::gd().with_lr(lr))
    }
}

#[test]
fn native_descent_loop_gives_the_same_iterates() {
    let rosenbrock = crate::testfns::rosenbrock(2);
    let long = Settings {
        gtol: 0.0,
        ..gd(1e-3, 3 * FUSED_BATCH + 17)
    };
    let o = same_either_way(&rosenbrock, &[-1.2, 1.0], long, false);
    assert_eq!(o.reason, Reason::MaxIter);
    let o = same_either_way(&rosenbrock, &[-1.2, 1.0], gd(1e-3, 200_000), false);
    assert_eq!(o.reason, Reason::Gtol);
    let xtol = Settings {
        xtol: Some(1e-7),
        ..gd(1e-3, 200_000)
    };
    assert_eq!(
        same_either_way(&rosenbrock, &[-1.2, 1.0], xtol, false).reason,
        Reason::Xtol
    );
    let ftol = Settings {
        ftol: Some(1e-4),
        ..gd(0.1, 100)
    };
    let o = same_either_way("3*x^2 + 2*x + 1", &[1.5], ftol, false);
    assert_eq!(o.reason, Reason::Ftol);
    // Ackley calls exp, cos and sqrt inside the loop.
    let ackley = same_either_way(
        crate::testfns::ACKLEY,
        &[0.3, -0.2],
        gd(1e-3, 10_000),
        false,
    );
    assert!(ackley.iterations > 0);
}

/// Steps that alternate and shrink converge, though f has reached its
/// rounding and no longer falls: gd on x⁴ − 3x² + x from 2 with lr 0.1
/// (curvature 14.3 at the minimum, so each step is −0.43 times the last)
/// was "oscillating" at gradient 4e-8, three iterations short of gtol.
#[test]
fn alternating_steps_that_shrink_are_no_oscillation() {
    let o = same_either_way("x^4 - 3*x^2 + x", &[2.0], gd(0.1, 1000), false);
    assert_eq!(o.reason, Reason::Gtol, "{o:?}");
    assert!((o.f + 3.513905038934789).abs() < 1e-14, "{o:?}");
}

#[test]
fn native_descent_loop_diagnoses_the_same_way() {
    let o = same_either_way("x^2", &[0.648], gd(1.0, 1000), false);
    assert_eq!(o.reason, Reason::Oscillating);
    let o = same_either_way("x^2", &[0.5], gd(1.5, 100_000), false);
    assert_eq!(o.reason, Reason::Oscillating);
    // f falls to -∞ as x doubles each step: unbounded, not diverged.
    let o = same_either_way("-x^2", &[0.5], gd(0.5, 100_000), false);
    assert_eq!(o.reason, Reason::Unbounded);
    // Gradient ascent on sqrt(x) - x steps to x = 0, where the gradient
    // is infinite.
    let o = same_either_way("sqrt(x) - x", &[1.0], gd(2.0, 1000), true);
    assert_eq!(o.reason, Reason::Diverged);
    let o = same_either_way("-(x-2)^2 - (y+1)^2", &[0.0, 0.0], gd(0.1, 1000), true);
    assert_eq!(o.reason, Reason::Gtol);
}

#[test]
fn native_descent_loop_projects_onto_the_bounds() {
    let settings = Settings {
        bounds: Some(vec![(-1.0, 1.0), (-1.0, 1.0)]),
        project: true,
        ..gd(0.1, 10_000)
    };
    let o = same_either_way("(x-2)^2 + (y+3)^2 + x*y", &[0.5, 0.5], settings, false);
    assert_eq!(o.reason, Reason::Gtol);
    assert_eq!(o.x, [1.0, -1.0]);
}
