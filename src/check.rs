//! Derivative checks for `slope check`: the exact gradient (and Hessian)
//! against finite differences at points, and derivatives written by hand
//! against the exact ones.
//!
//! **Exact against finite differences.** Along each coordinate, [`fd::along`]
//! gives a central difference `C` (step `h_c = ∛ε·max(1, |xᵢ|)`) and a
//! Richardson estimate `R` (steps `h = ε^(1/5)·max(1, |xᵢ|)` and `h/2`),
//! which is the one reported, and a second Richardson estimate `R'` with
//! half the steps. The error of `R` is not known (its truncation term
//! needs the fifth derivative), so it is bounded by what can be measured:
//! `|R − R'|`, about 15/16 of it, and `|R − C|` beyond the rounding of `C`
//! (`r_C = 4·ε·S/h_c`; its step is 120 times shorter than `R`'s, and so
//! is its rounding larger), at least the error of the cruder `C` (either
//! measure alone can be fooled when two errors happen to be equal, which
//! high-frequency functions such as Ackley's do show); plus the rounding
//! of `R`'s differences, `32·ε·S/h`, where `S` is the scale of the values
//! differenced: the largest |f| over the stencil, or `b_f/ε` if larger,
//! where `b_f` bounds the rounding of f near the point along its graph
//! (`check/rounding.rs`: a sum rounds at the size of its terms, a
//! cancellation inside a power less). The exact value rounds too, by up
//! to a bound `b` from the same place, for this one evaluation (a formula
//! such as the derivative of `sin(x)/x` near 0 cancels large terms; an
//! addition or multiplication whose result is exact adds nothing, so
//! `max`'s `(1 + sign(x))/2` has `b = 0`). The tolerance is
//! `2·max(|R − C| − r_C, |R − R'|) + 32·ε·S/h + 2·b + 16·ε·max(|exact|, |R|)`.
//!
//! A tolerance decides only when it is small beside the values compared
//! ([`DECISIVE`]); where it is not at the usual steps, or where those
//! disagree, shorter ones are tried, since at steps longer than the length
//! f bends on every estimate is wrong alike. A derivative agrees at the
//! first steps that agree, differs when two successive steps disagree
//! alike and none agrees, and is otherwise undecided, for the exact
//! value's rounding or the estimate's error (`check/ladder.rs`).
//!
//! Points where the outputs are not finite at the point or anywhere in the
//! usual stencil, and points whose usual stencil reaches across a kink
//! ([`Func::kink`]: `abs`, `sign`, `floor`, `ceil`, `min`, `max`, the
//! branch cut of `atan2`), are skipped with the reason: differences there
//! measure the jump, not the derivative.
//!
//! **Hand-written derivatives.** The hand formula is lowered into the
//! formula's own graph ([`Formula::parse_into`]), so the canonical
//! constructors already equate most rewritings. What they cannot see (a
//! product over a sum, a quotient-rule form over a common denominator,
//! `sin² + cos² = 1`) a bounded normaliser (`symbolic.rs`) decides: it
//! brings the difference to a rational function over atoms (variables and
//! non-polynomial subterms with normalised arguments) and proves equality
//! if the numerator cancels. Otherwise the two are compared at
//! [`NUMERIC_POINTS`] random points.
//!
//! The first check is `check/points.rs` (`check/elements.rs` for indexed
//! formulas, whose kinks `check/kinks.rs` finds for both, and whose steps
//! and verdicts `check/ladder.rs` chooses; an indexed formula's compiled
//! loops have no rounding bound, `b = 0`), the second
//! `check/hand.rs`; what both use (the random points, and the rounding
//! bounds of `check/rounding.rs`) is here.
//!
//! [`fd::along`]: crate::fd::along
//! [`Func::kink`]: crate::builtins::Func::kink
//! [`Formula::parse_into`]: crate::Formula::parse_into

mod elements;
mod hand;
mod kinks;
mod ladder;
mod points;
mod rounding;

pub use crate::symbolic::proved_equal;
pub use elements::{ALL_UP_TO, check_elements, vars_to_check};
pub use hand::{NUMERIC_POINTS, Verdict, compare_derivative};
pub use ladder::DECISIVE;
pub use points::{Checked, Comparison, PointCheck, Skip, Status, Undecided, check_points};

/// The `k`-th random point in a box from `seed`: the same stream the
/// optimizers' multi-start draws from.
pub fn sample(bounds: &[(f64, f64)], seed: u64, k: usize) -> Vec<f64> {
    crate::random::start_of_run(bounds, seed, k)
}

/// A box around `x` for the numeric comparison of hand derivatives when
/// only a point is given: half a unit (or half of |xᵢ|, if larger) each way.
pub fn box_around(x: &[f64]) -> Vec<(f64, f64)> {
    x.iter()
        .map(|&v| {
            let r = 0.5 * v.abs().max(1.0);
            (v - r, v + r)
        })
        .collect()
}
