//! Constraints of a formula (`subject to lhs <= rhs`, `>=`, `==`), each
//! one node of the formula's graph in a standard form, with its gradient
//! (its row of the Jacobian) from the same reverse sweep as the
//! objective's.
//!
//! Standard form: `g(x) <= 0` or `g(x) == 0`, with `g = lhs - rhs`; a `>=`
//! constraint is turned round (`g = rhs - lhs`), so that every inequality
//! points the same way and its multiplier is never negative.

use crate::diff::Scatter;
use crate::error::{Result, Span};
mod rows;

pub(crate) use rows::Rows;
pub use rows::{ConstraintRow, ConstraintValues};

use crate::ast::ReduceOp;
use crate::graph::{Graph, NodeId, Range, Reduce};
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
#[derive(Clone, Debug)]
pub struct Constraint {
    /// Inequality `g <= 0` or equality `g == 0`.
    pub kind: ConstraintKind,
    /// The statement in the formula's text, `subject` to its end.
    pub span: Span,
    /// The node of `g`.
    pub value: NodeId,
    /// The partial derivatives of `g`, one node per variable, in the order
    /// of [`Formula::vars`](crate::Formula::vars); for a formula with
    /// arrays of variables, one per scalar variable only.
    pub gradient: Vec<NodeId>,
    /// The partials with respect to array elements, as loops.
    pub(crate) scatters: Vec<Scatter>,
    /// A family's ranges (`(i in 1..n-1)`), whose indices `g` and its
    /// partials use as the loop levels `0..`; empty for one constraint.
    pub(crate) family: Vec<Range>,
    /// The family's index names, as written (`i`).
    pub(crate) names: Vec<String>,
    /// A node that reads what `g` reads at every row of a family (the sum
    /// of its rows), so that binding checks each read against its extent;
    /// `g` itself for one constraint.
    pub(crate) reads: NodeId,
}

impl Constraint {
    /// Whether this is a family (`subject to (i in 1..n-1) ...`): one
    /// constraint per index tuple, whose rows
    /// [`Formula::constraint_rows`](crate::Formula::constraint_rows) lists.
    pub fn is_family(&self) -> bool {
        !self.family.is_empty()
    }

    /// Whether `value` and `gradient` are all of it: one constraint, whose
    /// partials are all nodes (no arrays of variables).
    pub fn is_scalar(&self) -> bool {
        self.family.is_empty() && self.scatters.is_empty()
    }
}

/// The constraints of a lowered formula with their gradients, built in
/// `graph` within `max_nodes`. With arrays of variables (`indexed`) or a
/// family, the reverse sweep is the one of sums: a family's body is
/// differentiated once, whatever the number of its rows.
pub(crate) fn derive(
    graph: &mut Graph,
    lowered: &[LoweredConstraint],
    var_nodes: &[NodeId],
    indexed: bool,
    max_nodes: usize,
) -> Result<Vec<Constraint>> {
    lowered
        .iter()
        .map(|c| {
            let (gradient, scatters) = if indexed || !c.family.is_empty() {
                let g = crate::diff::gradient_indexed(graph, c.value, var_nodes, max_nodes)?;
                (g.scalars, g.scatters)
            } else {
                let g = crate::diff::gradient_within(graph, c.value, var_nodes, max_nodes)?;
                (g, Vec::new())
            };
            let reads = match c.family.is_empty() {
                true => c.value,
                false => {
                    graph.set_origin(Some(crate::graph::Origin {
                        span: c.span,
                        in_derivative: false,
                    }));
                    let node = graph.reduce(
                        Reduce {
                            op: ReduceOp::Sum,
                            level: 0,
                            ranges: c.family.clone().into(),
                        },
                        c.value,
                    );
                    graph.set_origin(None);
                    node
                }
            };
            Ok(Constraint {
                kind: match c.equality {
                    true => ConstraintKind::Equality,
                    false => ConstraintKind::Inequality,
                },
                span: c.span,
                value: c.value,
                gradient,
                scatters,
                family: c.family.clone(),
                names: c.names.clone(),
                reads,
            })
        })
        .collect()
}
