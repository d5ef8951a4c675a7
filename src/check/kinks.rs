//! Where a formula's derivative jumps: the calls with kinks (`abs`,
//! `min`, `floor`, the branch cut of `atan2`, ...) and the values that say
//! which side of each a point is on. A difference stencil whose points do
//! not all lie on the side of the centre measures the jump, not the
//! derivative, and is skipped.

use crate::builtins::{Func, Kink, sign};
use crate::error::Span;
use crate::eval::Interpreter;
use crate::graph::reachable;
use crate::graph::{Graph, Node, NodeId};

/// A call whose derivative jumps, and where its values that decide the
/// branch are.
struct Switch {
    node: NodeId,
    func: Func,
    kink: Kink,
    /// Offset of its switch values in the interpreter's outputs.
    first: usize,
}

/// The kinks of a scalar graph's outputs, with one interpreter for the
/// values that decide every branch.
pub(super) struct Kinks<'g> {
    graph: &'g Graph,
    switches: Vec<Switch>,
    interpreter: Interpreter<'g>,
}

impl<'g> Kinks<'g> {
    /// The kinks `outputs` pass through.
    pub(super) fn new(graph: &'g Graph, outputs: &[NodeId]) -> Kinks<'g> {
        Kinks::along(graph, outputs, None)
    }

    /// The kinks `outputs` pass through whose branch depends on one of
    /// `vars` (every kink if `None`): a stencil along other variables
    /// cannot cross them, and a written-out sum of a million has a million.
    pub(super) fn along(graph: &'g Graph, outputs: &[NodeId], vars: Option<&[usize]>) -> Kinks<'g> {
        // Which nodes depend on `vars`, children first.
        let depends: Vec<bool> = match vars {
            None => Vec::new(),
            Some(vars) => {
                let mut d = vec![false; graph.len()];
                for id in graph.ids() {
                    d[id.index()] = match graph.node(id) {
                        Node::Var(v) => vars.contains(&(*v as usize)),
                        node => node.children().iter().any(|c| d[c.index()]),
                    };
                }
                d
            }
        };
        let mut switches = Vec::new();
        let mut deciding = Vec::new();
        for id in reachable(graph, outputs) {
            let (func, args): (Func, &[NodeId]) = match graph.node(id) {
                Node::Call1(f, args) => (*f, &args[..]),
                Node::Call2(f, args) => (*f, &args[..]),
                Node::Const(_)
                | Node::Var(_)
                | Node::Sum(_)
                | Node::Product(_)
                | Node::Pow(_)
                | Node::Param(_)
                | Node::Index(_)
                | Node::Read(_)
                | Node::Reduce(..) => {
                    continue;
                }
            };
            let Some(kink) = func.kink() else {
                continue;
            };
            let decided_by: &[NodeId] = match kink {
                Kink::ArgumentSign => &args[..1],
                Kink::Step => &[id],
                Kink::Crossing | Kink::BranchCut => args,
            };
            if vars.is_some() && !decided_by.iter().any(|n| depends[n.index()]) {
                continue;
            }
            switches.push(Switch {
                node: id,
                func,
                kink,
                first: deciding.len(),
            });
            deciding.extend_from_slice(decided_by);
        }
        Kinks {
            graph,
            switches,
            interpreter: Interpreter::new(graph, &deciding),
        }
    }

    /// Which side of each kink `x` is on (equal on one smooth piece).
    pub(super) fn branches(&self, x: &[f64]) -> Vec<f64> {
        if self.switches.is_empty() {
            return Vec::new();
        }
        let s = self.interpreter.eval(x);
        self.switches
            .iter()
            .map(|k| branch(k.kink, &s[k.first..]))
            .collect()
    }

    /// The first kink on which `a` and `b` (from [`Kinks::branches`])
    /// differ.
    pub(super) fn crossed(&self, a: &[f64], b: &[f64]) -> Option<usize> {
        a.iter()
            .zip(b)
            .position(|(a, b)| a.to_bits() != b.to_bits())
    }

    /// Kink `k`'s function and where it was written.
    pub(super) fn describe(&self, k: usize) -> (Func, Option<Span>) {
        let s = &self.switches[k];
        (s.func, self.graph.origin(s.node).map(|o| o.span))
    }
}

/// Which side of its kink a function is on, from the values that decide it
/// (`s` starts at the kink's first switch value). Equal on one smooth piece.
fn branch(kink: Kink, s: &[f64]) -> f64 {
    match kink {
        Kink::ArgumentSign => sign(s[0]),
        // The value itself: floor(x) is constant between integers.
        Kink::Step => s[0],
        Kink::Crossing => sign(s[0] - s[1]),
        // atan2(y, x) jumps where y changes sign with x < 0, and at 0.
        Kink::BranchCut if s[1] < 0.0 => sign(s[0]),
        Kink::BranchCut if s[0] == 0.0 && s[1] == 0.0 => 2.0,
        Kink::BranchCut => 3.0,
    }
}
