//! The product of the other factors of a `prod`, at each index tuple of a
//! loop over that `prod`'s own indices and ranges, by an exclusive scan:
//! the products before and after the tuple, never the whole product.
//!
//! The gradient gives the factor `b_t` of `Π b` the product of the others
//! (`diff/product.rs`, a node marked in the graph). Built as the whole
//! product divided by the factor, it overflows or underflows where the
//! product of the others does not: at `(1e-200, 1e-200, 1e200)` the
//! whole product is 0 and `∂/∂x[1]` came out 0, not 1. So a loop over the
//! `prod`'s own tuples evaluates that node as `O_t = P_t·S_t`, the
//! product of the factors before `t` (`P`, in tuple order) times the
//! product of those after it (`S`), one rounding each step, no division
//! (a zero factor is a factor like any other: one zero leaves its own
//! partial, two leave none). The order, which the interpreter and the
//! compiled loops share to the bit:
//!
//! 1. before the loop, the factors `b_t` in tuple order (lexicographic,
//!    the last index fastest), each stored;
//! 2. backward from the last tuple, with `a = 1`: `S_t = a`, then
//!    `a = a·b_t`;
//! 3. in the loop, with `P = 1`: `O_t = P·S_t`, then `P = P·b_t`.
//!
//! The products `P_t` and `S_t` are those of the printed derivative,
//! `prod(i in 1..k-1, x[i])*prod(i in k+1..n, x[i])`, the second
//! multiplied from its end; where one of them is out of range the partial
//! is too, as it is in that form. Elsewhere (a loop over other indices,
//! or a body that does not use the `prod`'s indices) the node is the
//! product it is.

use crate::graph::{Graph, NodeId, Reduce};

/// The nodes of `list` that a loop over `r` evaluates by the scan, each
/// with its `prod`'s body: products of the others whose `prod` has `r`'s
/// indices and ranges and whose body uses those indices.
pub(crate) fn scanned(graph: &Graph, list: &[NodeId], r: &Reduce) -> Vec<(NodeId, NodeId)> {
    list.iter()
        .filter(|&&n| scans(graph, n, r))
        .filter_map(|&n| Some((n, graph.product_of_others(n)?.1)))
        .collect()
}

/// Whether a loop over `r` computes `n` by the scan: `n` is a product of
/// the other factors of a `prod` with `r`'s indices and ranges, whose
/// body uses those indices. The lists of loop bodies leave out such a
/// node's operands (`eval::reduction_body`), so this one test decides
/// both.
pub(crate) fn scans(graph: &Graph, n: NodeId, r: &Reduce) -> bool {
    graph.product_of_others(n).is_some_and(|(m, body)| {
        m.level == r.level && m.ranges == r.ranges && graph.meta(*body).levels & r.own_levels() != 0
    })
}

/// One scan as the interpreter runs it: each tuple's factor and the
/// product after it, interleaved (`[b_0, S_0, b_1, S_1, ...]`, the layout
/// the compiled loops use), and the product before the next tuple.
pub(crate) struct Scan {
    pub(crate) id: NodeId,
    pairs: Vec<f64>,
    before: f64,
    next: usize,
}

impl Scan {
    /// The scan of `id` over the factors `factors`, in tuple order
    /// (steps 1 and 2).
    pub(crate) fn new(id: NodeId, factors: &[f64]) -> Scan {
        let mut pairs = vec![0.0; 2 * factors.len()];
        let mut after = 1.0;
        for (t, &b) in factors.iter().enumerate().rev() {
            pairs[2 * t] = b;
            pairs[2 * t + 1] = after;
            after *= b;
        }
        Scan {
            id,
            pairs,
            before: 1.0,
            next: 0,
        }
    }

    /// The product of the others at the next tuple (step 3).
    pub(crate) fn step(&mut self) -> f64 {
        let t = self.next;
        let (b, after) = match self.pairs.get(2 * t..2 * t + 2) {
            Some(&[b, after]) => (b, after),
            _ => (f64::NAN, f64::NAN),
        };
        let others = self.before * after;
        self.before *= b;
        self.next += 1;
        others
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scan_gives_the_products_before_times_the_products_after() {
        let b = [1e-200, 1e-200, 1e200];
        let mut s = Scan::new(NodeId(0), &b);
        let got: Vec<f64> = (0..3).map(|_| s.step()).collect();
        assert_eq!(got, [1e-200 * 1e200, 1e-200 * 1e200, 0.0]);
        let mut s = Scan::new(NodeId(0), &[2.0, 0.0, 3.0, 0.0]);
        let got: Vec<f64> = (0..4).map(|_| s.step()).collect();
        assert_eq!(got, [0.0; 4]);
        let mut s = Scan::new(NodeId(0), &[2.0, 0.0, 3.0]);
        let got: Vec<f64> = (0..3).map(|_| s.step()).collect();
        assert_eq!(got, [0.0, 6.0, 0.0]);
    }
}
