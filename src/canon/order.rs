//! The canonical order of terms and factors: keys that depend only on
//! structure (first variable, degree, kind, depth, shape hash), never on
//! the order nodes were made, so `x + y` and `y + x` are one node and
//! printed forms read as they are written.

use std::cmp::Ordering;

use crate::graph::{Graph, Node, NodeId};

impl Graph {
    /// The order of terms in a sum: by first variable, higher degree first,
    /// then by kind and shape. Constants go last.
    pub(super) fn term_order(&self, a: NodeId, b: NodeId) -> Ordering {
        let (ma, mb) = (self.meta(a), self.meta(b));
        ma.first_var
            .cmp(&mb.first_var)
            .then(mb.degree.total_cmp(&ma.degree))
            .then(self.rank(a).cmp(&self.rank(b)))
            .then(ma.depth.cmp(&mb.depth))
            .then(ma.shape.cmp(&mb.shape))
            .then(a.cmp(&b))
    }

    /// The order of factors in a product: variables before sums before
    /// function calls, so that `2*x*sin(y)` reads as it is written.
    pub(super) fn factor_order(&self, a: NodeId, b: NodeId) -> Ordering {
        let (ma, mb) = (self.meta(a), self.meta(b));
        self.rank(a)
            .cmp(&self.rank(b))
            .then(ma.first_var.cmp(&mb.first_var))
            .then(mb.degree.total_cmp(&ma.degree))
            .then(ma.depth.cmp(&mb.depth))
            .then(ma.shape.cmp(&mb.shape))
            .then(a.cmp(&b))
    }

    fn rank(&self, id: NodeId) -> u32 {
        match self.node(id) {
            Node::Const(_) => 0,
            Node::Var(_) | Node::Read(_) | Node::Param(_) | Node::Index(_) => 1,
            Node::Reduce(..) => 5,
            Node::Pow([b, _]) => match self.node(*b) {
                Node::Var(_) => 1,
                Node::Sum(_) => 2,
                _ => 4,
            },
            Node::Sum(_) => 2,
            Node::Product(_) => 3,
            Node::Call1(f, _) | Node::Call2(f, _) => 10 + *f as u32,
        }
    }
}
