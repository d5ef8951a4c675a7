//! Whether a run that stopped at a steep point stopped beside a pole: f
//! falling without bound towards a point at a finite distance (`1/(x-1)`
//! from 0.5, `tan(x)`, `-1/x^2`), where no step can go on (the next double
//! towards the pole is the last, or beyond it f is large again) and the
//! run would otherwise end `stalled`.
//!
//! Near a pole of order k, f ≈ a − c/dᵏ at distance d from it; beside a
//! logarithmic singularity f ≈ a + c·ln d. In both, quartering the distance
//! lowers f by at least as much as the last quartering did (by 4ᵏ times as
//! much, or by the same), so the falls add up without bound. At a regular
//! point they shrink fourfold (f is linear there), and where f is rough or
//! has a step they do not keep one sign. [`towards_a_pole`] walks away from
//! the point, up the gradient, quadrupling the distance, and asks that of
//! each rise: a test of about a dozen evaluations, made only where a run
//! would otherwise stop at a steep point.

use super::context::Context;
use super::stopped_short::free_gradient;
use super::vector::largest;
use super::walk::walk;

/// Probes of the walk, each four times as far as the last: from the
/// point's last digit (`1/(x-1)` stops at 1.1e-16 from its pole) they
/// reach some 10⁷ times further, where the pole still dominates.
const PROBES: usize = 12;

/// Probes whose distance from the point is within a few roundings of its
/// coordinates (the first two are at 4 and 16 times the pole's estimated
/// distance): their rises are left out of the comparison.
const ROUNDED: usize = 2;

/// How much smaller than the last a rise may be, nearer the singular
/// point, and still count as the same: a logarithm's rises are equal in
/// exact arithmetic, a pole's grow fourfold or more (order ≥ 1).
const SAME: f64 = 0.99;

/// Why a run that stopped for lack of progress at `x` (value `f`,
/// gradient `grad`), where the gradient is steep (its caller asks
/// `stopped_short::steep`), is `unbounded`: f falls without bound towards
/// a singular point beside it ([`towards_a_pole`]).
pub(super) fn unbounded_beside_a_pole(
    ctx: &mut Context<'_>,
    x: &[f64],
    f: f64,
    grad: &[f64],
) -> Option<String> {
    let pole = towards_a_pole(ctx, x, f, grad)?;
    // Rises equal within rounding: a logarithm, whose order is 0.
    let like = match pole.order {
        k if k < 0.1 => "a logarithm's".to_string(),
        k => format!("a pole's of order {k:.2}"),
    };
    Some(format!(
        "f kept falling towards a singular point beside the last point, where no step could \
         go on: walking away from it, quadrupling the distance {} times, each step changed f \
         by at least as much as the one before, as {like} does: it has no lower bound",
        pole.quarterings
    ))
}

/// What the walk found: f falls without bound towards a singular point
/// beside the run's last point.
struct Pole {
    /// The quarterings of the distance the rises were compared over.
    quarterings: usize,
    /// The order k of f ≈ a − c/dᵏ from the rises' ratio at the far end
    /// (0 for a logarithmic singularity).
    order: f64,
}

/// Whether f, at the point `x` (value `f`, gradient `grad`) where a run
/// stopped for lack of progress, falls without bound towards a singular
/// point beside it (see the module's docs). The walk goes up the gradient
/// over the variables no bound holds, from the pole's distance as f's
/// value and slope estimate it (`|f|/‖g‖`: exact for a simple pole).
fn towards_a_pole(ctx: &mut Context<'_>, x: &[f64], f: f64, grad: &[f64]) -> Option<Pole> {
    // The direction scaled to a largest component of 1: a pole's gradient
    // squared overflows (`-1/x^2` stops at x = -2.9e-53).
    let mut up = free_gradient(ctx.settings, x, grad);
    let scale = largest(&up);
    up.iter_mut().for_each(|g| *g /= scale);
    let norm = up.iter().map(|g| g * g).sum::<f64>().sqrt();
    let floor = f64::EPSILON * largest(x).max(f64::MIN_POSITIVE);
    let distance = (f.abs() / scale / norm).max(floor);
    let mut values = vec![f];
    walk(
        ctx,
        x,
        f,
        &up,
        (distance / norm, 4.0, PROBES),
        &[],
        |last, value, _| {
            values.push(value);
            value.is_finite() && value > last
        },
    );
    let rises: Vec<f64> = values.windows(2).map(|w| w[1] - w[0]).collect();
    if rises.len() < PROBES || rises.iter().any(|r| !(r.is_finite() && *r > 0.0)) {
        return None;
    }
    let compared = &rises[ROUNDED..];
    let kept = compared.windows(2).all(|w| w[0] >= SAME * w[1]);
    let ratio = compared[compared.len() - 2] / compared[compared.len() - 1];
    kept.then(|| Pole {
        quarterings: compared.len(),
        order: ratio.log(4.0).max(0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formula::Formula;
    use crate::objective::{CompiledFormula, Objective};
    use crate::optim::Settings;

    /// What [`towards_a_pole`] finds for `text` (one variable `x`) at `x`.
    fn pole_at(text: &str, x: f64) -> Option<Pole> {
        let formula = Formula::parse(text).expect("parses");
        let mut objective = CompiledFormula::new(&formula, false).expect("compiles");
        let settings = Settings::default();
        let mut grad = [0.0];
        let f = Objective::value_grad(&mut objective, &[x], &mut grad);
        let mut ctx = Context::new(&mut objective, &settings);
        towards_a_pole(&mut ctx, &[x], f, &grad)
    }

    #[test]
    fn poles_and_logarithms_are_told_by_their_order() {
        // Where L-BFGS stops beside each (the next double is the pole, or
        // past it), and nearer than that.
        for (text, x, order) in [
            ("1/(x-1)", 0.9999999999999999, 1.0),
            ("tan(x)", -std::f64::consts::FRAC_PI_2, 1.0),
            ("-1/x^2", -2.862633958710152e-53, 2.0),
            ("-1/sqrt(x)", 8.673617379883912e-19, 0.5),
            ("-1/abs(x)^0.05", 1e-30, 0.05),
            ("-1/x^2 + x^2", 1e-12, 2.0),
        ] {
            let pole = pole_at(text, x).unwrap_or_else(|| panic!("{text} at {x}"));
            assert!((pole.order - order).abs() < 0.02, "{text}: {}", pole.order);
            assert_eq!(pole.quarterings, PROBES - ROUNDED);
        }
        let log = pole_at("ln(abs(x))", -2.350988701644575e-38).expect("a logarithm");
        assert!(log.order < 0.01, "{}", log.order);
    }

    #[test]
    fn kinks_cusps_steps_and_smooth_points_are_no_pole() {
        for (text, x) in [
            // A kink at the minimum; f bounded beside a cusp (√d → 0) and
            // beside a peak (−d^0.01 → 0); a step; regular points.
            ("abs(x-1)*1e3 + x^2", 1.0),
            ("sqrt(abs(x))", 1e-20),
            ("-abs(x)^0.01", 1e-20),
            ("floor(1e6*x) + x", 0.5),
            ("(x-1)^2", 0.3),
            ("1e150*(x-1)^2", 1.0 + 2e-16),
            ("exp(x)", -700.0),
        ] {
            assert!(pole_at(text, x).is_none(), "{text} at {x}");
        }
    }
}
