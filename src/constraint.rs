//! Constraints of a formula (`subject to lhs <= rhs`, `>=`, `==`), each
//! one node of the formula's graph in a standard form, with its gradient
//! (its row of the Jacobian) from the same reverse sweep as the
//! objective's.
//!
//! Standard form: `g(x) <= 0` or `g(x) == 0`, with `g = lhs - rhs`; a `>=`
//! constraint is turned round (`g = rhs - lhs`), so that every inequality
//! points the same way and its multiplier is never negative.

use crate::error::{Result, Span};
use crate::graph::{Graph, NodeId};
use crate::lower::LoweredConstraint;

/// Whether a constraint holds as an inequality or an equality.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum ConstraintKind {
    /// `g(x) <= 0` (written `<=`, or `>=` turned round).
    Inequality,
    /// `g(x) == 0`.
    Equality,
}

impl ConstraintKind {
    /// `"<="` or `"=="`, the relation of the standard form.
    pub fn relation(self) -> &'static str {
        match self {
            ConstraintKind::Inequality => "<=",
            ConstraintKind::Equality => "==",
        }
    }

    /// How far `g` is from holding: `max(g, 0)` for an inequality, `|g|`
    /// for an equality (NaN stays NaN).
    pub fn violation(self, g: f64) -> f64 {
        match self {
            ConstraintKind::Inequality if g.is_nan() => g,
            ConstraintKind::Inequality => g.max(0.0),
            ConstraintKind::Equality => g.abs(),
        }
    }
}

/// One constraint of a [`Formula`](crate::Formula), in standard form.
///
/// ```
/// let f = slope::Formula::parse("x^2 + y^2\nsubject to x + y >= 1")?;
/// let c = &f.constraints()[0];
/// assert_eq!(c.kind, slope::ConstraintKind::Inequality);
/// // `>=` is turned round: g = 1 - (x + y) <= 0.
/// assert_eq!(f.expr(c.value).to_string(), "1 - x - y");
/// assert_eq!(f.expr(c.gradient[0]).to_string(), "-1");
/// assert_eq!(f.eval_nodes(&[c.value], &[0.25, 0.25]), [0.5]);
/// # Ok::<(), slope::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Constraint {
    /// Inequality `g <= 0` or equality `g == 0`.
    pub kind: ConstraintKind,
    /// The statement in the formula's text, `subject` to its end.
    pub span: Span,
    /// The node of `g`.
    pub value: NodeId,
    /// The partial derivatives of `g`, one node per variable, in the order
    /// of [`Formula::vars`](crate::Formula::vars).
    pub gradient: Vec<NodeId>,
}

/// The constraints of a lowered formula with their gradients, built in
/// `graph` within `max_nodes`.
pub(crate) fn derive(
    graph: &mut Graph,
    lowered: &[LoweredConstraint],
    var_nodes: &[NodeId],
    max_nodes: usize,
) -> Result<Vec<Constraint>> {
    lowered
        .iter()
        .map(|c| {
            let gradient = crate::diff::gradient_within(graph, c.value, var_nodes, max_nodes)?;
            Ok(Constraint {
                kind: match c.equality {
                    true => ConstraintKind::Equality,
                    false => ConstraintKind::Inequality,
                },
                span: c.span,
                value: c.value,
                gradient,
            })
        })
        .collect()
}
