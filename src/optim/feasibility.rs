//! Feasibility measured so that it does not depend on how a constraint is
//! written: `1e-12*x <= 1e-12` and `x <= 1` hold at the same points, and a
//! run must tell a point that breaks the first threefold (x = 3, g = 2e-12)
//! from one that meets it, which an absolute tolerance of 1e-8 on `g`
//! cannot.
//!
//! A row's violation (`max(g, 0)` or `|g|`) is divided by its *unit*: its
//! size `‖∇g‖₂·max(1, ‖x‖∞)` where that is below 1 (the larger of its
//! sizes at the start and at the point), else 1. The feasibility tolerance
//! then bounds the violation as a value and, for a row whose gradient is
//! small, the distance to the row's surface to first order, `|g|/‖∇g‖`,
//! relative to the size of x: the stricter of the two. Rows with large
//! gradients keep the absolute test (HS106's terms reach 1e6: a distance
//! test would loosen them), and so do rows with small gradients among
//! large x (HS106's `0.0025*(x4 + x6) <= 1` with x near 400: a distance
//! of 1e-8 there is below what the other rows allow). The larger of the
//! two sizes keeps a row whose gradient vanishes at the point (a
//! degenerate point of `(x-1)^2 == 0`) from being held to an infinitely
//! strict test, and one that is flat at the start (a circle's centre)
//! from a needlessly strict one.
//!
//! Inside SQP and the augmented Lagrangian a row with a small gradient at
//! the start is also scaled up by `1/unit` (Ipopt's gradient-based scaling,
//! `nlp_scaling_method gradient-based`, scales rows only down, to a
//! gradient of 100; a row scaled by 1e-12 is otherwise invisible to the
//! subproblem and to the penalty).

use crate::constraint::ConstraintKind;
use crate::optim::outcome::Reason;

/// The smallest unit: a row whose gradient is smaller (or zero) is
/// measured as if its gradient were this size, or 1 when it is zero.
const SMALLEST_UNIT: f64 = 1e-100;

/// Each row's size at `x`, given the 2-norms of the rows' gradients
/// there: `norm·max(1, ‖x‖∞)`. ‖x‖∞ is found once for all the rows: found
/// once per row, it made a family of n rows on n variables cost n² per
/// measurement (n = 100,000 did not finish in two minutes).
pub(crate) fn sizes(norms: impl IntoIterator<Item = f64>, x: &[f64]) -> Vec<f64> {
    let scale = x.iter().fold(1.0f64, |a, v| a.max(v.abs()));
    norms.into_iter().map(|norm| norm * scale).collect()
}

/// Each row's unit at `x` (see the module docs), given its size at the
/// start and the 2-norms of the rows' gradients at `x`.
pub(crate) fn units(start_sizes: &[f64], norms: Vec<f64>, x: &[f64]) -> Vec<f64> {
    (start_sizes.iter().zip(sizes(norms, x)))
        .map(|(&start, now)| unit(start, now))
        .collect()
}

/// The unit of a row whose size ([`sizes`]) is `start` at the start and
/// `now` at the point (see the module docs).
pub(crate) fn unit(start: f64, now: f64) -> f64 {
    let size = start.max(now);
    if size > 0.0 && size < 1.0 {
        size.max(SMALLEST_UNIT)
    } else {
        1.0
    }
}

/// Row `i`'s violation in its unit; NaN stays NaN.
pub(crate) fn violation(kind: ConstraintKind, g: f64, unit: f64) -> f64 {
    kind.violation(g) / unit
}

/// The 2-norm of each of `m` rows of a Jacobian given by its `pattern`
/// (row, column) and `entries` (repeated positions add up).
pub(crate) fn row_norms(m: usize, pattern: &[(usize, usize)], entries: &[f64]) -> Vec<f64> {
    let mut squares = vec![0.0; m];
    for (&(i, _), v) in pattern.iter().zip(entries) {
        squares[i] += v * v;
    }
    squares.into_iter().map(f64::sqrt).collect()
}

/// The 2-norm of each row of a dense `m × n` Jacobian.
pub(crate) fn dense_row_norms(m: usize, n: usize, jac: &[f64]) -> Vec<f64> {
    (0..m)
        .map(|i| {
            jac[i * n..(i + 1) * n]
                .iter()
                .map(|v| v * v)
                .sum::<f64>()
                .sqrt()
        })
        .collect()
}

/// Most active rows whose dependence [`dependent`] tests (a dense k × k
/// Gram matrix).
pub(crate) const MAX_DEPENDENCE_TEST: usize = 200;

/// Whether the gradients `rows` (dense, `n` long each) are dependent or
/// nearly so: the Gram matrix of the normalised rows has an eigenvalue
/// below 1e-4 (two rows within about half a degree of parallel), or a row
/// is zero. Where the active constraints' gradients are so, multipliers
/// that balance `∇f` may not exist although the point is feasible (the
/// constraint qualification fails: `y >= x^2` with `y <= 0` at the origin).
pub(crate) fn dependent(rows: &[Vec<f64>]) -> bool {
    let k = rows.len();
    let mut normalised = Vec::with_capacity(k);
    for r in rows {
        let norm = r.iter().map(|v| v * v).sum::<f64>().sqrt();
        if !(norm > 0.0 && norm.is_finite()) {
            return true;
        }
        normalised.push(r.iter().map(|v| v / norm).collect::<Vec<f64>>());
    }
    let mut gram = vec![0.0; k * k];
    for a in 0..k {
        for b in 0..k {
            gram[a * k + b] = (normalised[a].iter().zip(&normalised[b]))
                .map(|(u, v)| u * v)
                .sum();
        }
    }
    let mut factor = vec![0.0; k * k];
    !super::dense::cholesky(&gram, k, -1e-4, &mut factor)
}

/// The message of a run that stops at a feasible point where the KKT test
/// cannot be met, naming the active constraints (1-based, in the order of
/// the rows) when their gradients are dependent there.
pub(crate) fn degenerate_message(active: &[usize], dependent: bool) -> String {
    let names: Vec<String> = active.iter().map(|i| (i + 1).to_string()).collect();
    if dependent && !names.is_empty() {
        format!(
            "the constraints hold within the feasibility tolerance, but the KKT test cannot be \
             met: the gradients of the active constraints (rows {}) are dependent there, so \
             multipliers that balance the gradient of f may not exist (the constraint \
             qualification fails); the point is the best feasible one found",
            names.join(", ")
        )
    } else {
        "the constraints hold within the feasibility tolerance, but the KKT test could not be \
         met; the point is the best feasible one found"
            .to_string()
    }
}

/// The stop of a constrained run at `place` ("the start" or "the point
/// reached") where a value or a gradient is not finite. Where f or a
/// constraint is not, the point is outside the formula's domain:
/// `diverged`. Where only a gradient is, the point is in the domain, at a
/// kink or at the edge of a constraint's domain (`sqrt(1 - x) >= 0` at
/// x = 1, which is feasible and the minimum of `-x`): no multiplier can
/// be measured there and no step taken from it, and it may be the
/// solution, so `stalled`, as the unconstrained runs say at such a point.
pub(crate) fn not_finite(place: &str, values_finite: bool) -> (Reason, String) {
    if values_finite {
        (
            Reason::Stalled,
            format!(
                "the objective and the constraints are finite at {place}, but a gradient is not \
                 (a kink, or the edge of a constraint's domain): no multipliers can be measured \
                 there and a gradient method cannot go on from it, and it may be the solution"
            ),
        )
    } else {
        (
            Reason::Diverged,
            format!(
                "the objective or a constraint is not finite at {place}: outside the formula's \
                 domain"
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_gradient_is_the_unit_and_a_large_or_zero_one_is_not() {
        assert_eq!(unit(1e-12, 1e-12), 1e-12);
        assert_eq!(unit(0.0, 1e-3), 1e-3);
        assert_eq!(unit(5.0, 1e-3), 1.0);
        assert_eq!(unit(0.0, 0.0), 1.0);
        assert_eq!(unit(f64::NAN, 0.5), 0.5);
        let v = violation(ConstraintKind::Inequality, 2e-12, unit(1e-12, 1e-12));
        assert!((v - 2.0).abs() < 1e-12);
    }

    #[test]
    fn sizes_scale_each_norm_by_the_largest_coordinate_of_x() {
        assert_eq!(sizes([2.0, 0.5], &[0.1, -3.0]), vec![6.0, 1.5]);
        assert_eq!(sizes([2.0], &[0.1]), vec![2.0]);
        assert_eq!(units(&[0.0, 0.5], vec![0.1, 0.1], &[-2.0]), vec![0.2, 0.5]);
    }

    #[test]
    fn parallel_gradients_are_dependent_and_orthogonal_ones_not() {
        assert!(dependent(&[vec![0.0, -1.0], vec![8e-4, 1.0]]));
        assert!(dependent(&[vec![1.0, 1.0], vec![2.0, 2.0 + 1e-9]]));
        assert!(!dependent(&[vec![1.0, 0.0], vec![0.0, 3.0]]));
        assert!(dependent(&[vec![0.0, 0.0]]));
    }
}
