//! Hessian-vector products of formulas with loops, by reverse over reverse.
//!
//! For a direction `v`, φ(x) = ∇f(x)·v is built in the graph: each scalar
//! partial times its component of `v`, and for each [`Scatter`] the sum
//! over its loops of its value times `v` at its target. `v` is read where
//! the variables are ([`Source::Direction`], [`Source::ScalarDirection`]),
//! and is a constant of differentiation. Then `Hv = ∇φ`, by
//! [`gradient_indexed`] again: scalars and scatters like any gradient, so
//! the interpreter runs it and the loop emitter compiles it unchanged. Its
//! graph is O(size of f) whatever `n` (the second sweep differentiates
//! each body once), and so is one product's cost: a few times one
//! gradient, where a dense Hessian would be n sweeps and n² entries.
//!
//! Forward over reverse (differentiating the gradient's nodes along `v`)
//! would give the same numbers, but needs a tangent for every node of the
//! gradient, loops included, with a second propagation rule per operation;
//! reverse over reverse reuses the one sweep there is.

use super::{Gradient, gradient_indexed};
use crate::ast::ReduceOp;
use crate::error::Result;
use crate::graph::{Affine, Graph, Node, NodeId, Read, Reduce, Source};

/// The Hessian-vector product of the formula whose gradient is
/// `gradient` (with respect to the scalar variables `vars`, then the
/// arrays), as the gradient of φ = ∇f·v, within `max_nodes` graph nodes.
/// The scalar variable `vars[j]` is component `j` of `v`; an array's
/// elements are where the point holds them.
pub fn hess_vec(
    graph: &mut Graph,
    gradient: &Gradient,
    vars: &[NodeId],
    max_nodes: usize,
) -> Result<Gradient> {
    let mut terms = Vec::with_capacity(gradient.scalars.len() + gradient.scatters.len());
    for (j, &partial) in gradient.scalars.iter().enumerate() {
        let component = direction_at(graph, Source::ScalarDirection(j as u32), Box::new([]));
        terms.push(graph.mul(partial, component));
    }
    for s in &gradient.scatters {
        let Source::Var(a) = s.target.source else {
            continue;
        };
        let component = direction_at(graph, Source::Direction(a), s.target.index.clone());
        let mut term = graph.mul(s.value, component);
        // A scatter's loops keep the op of the reduction they came from;
        // the scatter adds over them whatever it was.
        for r in s.loops.iter().rev() {
            let over = Reduce {
                op: ReduceOp::Sum,
                ..r.clone()
            };
            term = graph.reduce(over, term);
        }
        terms.push(term);
    }
    let phi = graph.sum(&terms);
    gradient_indexed(graph, phi, vars, max_nodes)
}

/// The read of the direction's component at `index` of `source`.
fn direction_at(graph: &mut Graph, source: Source, index: Box<[Affine]>) -> NodeId {
    graph.leaf(Node::Read(Box::new(Read { source, index })))
}

#[cfg(test)]
mod tests {
    use crate::Formula;

    fn hv(text: &str, x: &[f64], v: &[f64]) -> Vec<f64> {
        let mut f = Formula::parse(text).unwrap();
        let mut out = vec![0.0; x.len()];
        f.hess_vec(x, v, &mut out).unwrap();
        out
    }

    #[test]
    fn products() {
        let t = "var x[1..2]\nprod(i in 1..2, x[i])";
        assert_eq!(hv(t, &[2.0, 3.0], &[1.0, 0.0]), [0.0, 1.0]);
        let t = "var x[1..3]\nprod(i in 1..3, x[i])";
        assert_eq!(hv(t, &[2.0, 3.0, 5.0], &[1.0, 0.0, 0.0]), [0.0, 5.0, 3.0]);
        let t = "var x[1..3]\nprod(i in 1..3, x[i]+x[i])";
        assert_eq!(hv(t, &[2.0, 3.0, 5.0], &[1.0, 0.0, 0.0]), [0.0, 40.0, 24.0]);
    }
}
