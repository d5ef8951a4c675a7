//! A bound on the interpreter's rounding error, shared by the properties
//! (`tests/it`) and the fuzz oracle (`tests/fuzz`), which are separate
//! crates. The two differ in where a bound gives up (see [`GivesUp`]).

use slope::{Formula, Node, NodeId};

/// Whether the bound of a node gives up (becomes infinite), asked of each
/// node with its value, its operands' values and its operands' bounds. A
/// bound that is NaN gives up in any case.
pub type GivesUp<'a> = &'a dyn Fn(&Node, f64, &[f64], &[f64]) -> bool;

/// A first-order bound (in the style of a running error analysis) on the
/// rounding error of the interpreter's value of `node` at `x`. A sum that
/// cancels can be off by an ulp of its terms, and a product multiplies the
/// error of each factor by the others: expressions such as
/// `(80*exp(40*x)*sign(x) - 80*exp(40*x)) + 40` lose the small term
/// entirely, and two equal functions written differently may then differ
/// by much more than their value. Comparisons allow for this bound.
/// Sums are exact among the subnormals; products and functions there are
/// off by a multiple of the smallest subnormal, which the bound adds.
pub fn rounding_bound(f: &Formula, node: NodeId, x: &[f64], gives_up: GivesUp) -> f64 {
    let g = f.graph();
    let ids = slope::graph::reachable(g, &[node]);
    let values = f.eval_nodes(&ids, x);
    let mut v = vec![0.0f64; g.len()];
    let mut err = vec![0.0f64; g.len()];
    for (&id, &value) in ids.iter().zip(&values) {
        v[id.index()] = value;
    }
    let eps = f64::EPSILON;
    // The spacing of the subnormals: below f64::MIN_POSITIVE a result is
    // rounded to a multiple of it, whatever its size.
    let tiny = f64::from_bits(1);
    for &id in &ids {
        let value = v[id.index()];
        let op = g.node(id);
        let children = op.children();
        let e = match op {
            Node::Const(_) | Node::Var(_) | Node::Param(_) | Node::Index(_) | Node::Read(_) => 0.0,
            Node::Reduce(..) => f64::INFINITY,
            Node::Sum(_) => {
                let spread: f64 = children.iter().map(|t| v[t.index()].abs()).sum();
                let inherited: f64 = children.iter().map(|t| err[t.index()]).sum();
                inherited + eps * children.len() as f64 * spread
            }
            Node::Product(_) => {
                let mut inherited = 0.0;
                for (k, c) in children.iter().enumerate() {
                    let others: f64 = children
                        .iter()
                        .enumerate()
                        .filter(|&(m, _)| m != k)
                        .map(|(_, o)| v[o.index()].abs())
                        .product();
                    inherited += err[c.index()] * others;
                }
                // A partial product among the subnormals rounds to a
                // multiple of `tiny`, not to eps of itself: 1e-312*x is off
                // by up to tiny/2, and the factors still to come multiply
                // that (by at most the product of those above 1).
                let amplified: f64 = children
                    .iter()
                    .map(|c| v[c.index()].abs().max(1.0))
                    .product();
                inherited
                    + 2.0 * eps * children.len() as f64 * value.abs()
                    + tiny * children.len() as f64 * amplified
            }
            // Move each argument by its own bound and see how far the
            // result moves.
            Node::Pow(_) | Node::Call1(..) | Node::Call2(..) => {
                let apply = |args: &[f64]| match op {
                    Node::Pow(_) => slope::builtins::pow(args[0], args[1]),
                    Node::Call1(func, _) => func.apply1(args[0]),
                    Node::Call2(func, _) => func.apply2(args[0], args[1]),
                    _ => f64::NAN,
                };
                let args: Vec<f64> = children.iter().map(|c| v[c.index()]).collect();
                let mut inherited = 0.0;
                for (k, c) in children.iter().enumerate() {
                    let d = err[c.index()];
                    if d == 0.0 {
                        continue;
                    }
                    let mut worst: f64 = 0.0;
                    for sign in [-1.0, 1.0] {
                        let mut moved = args.clone();
                        moved[k] += sign * d;
                        worst = worst.max((apply(&moved) - value).abs());
                    }
                    inherited += if worst.is_nan() { f64::INFINITY } else { worst };
                }
                inherited + 4.0 * eps * value.abs() + 4.0 * tiny
            }
        };
        let operands: Vec<f64> = children.iter().map(|c| v[c.index()]).collect();
        let bounds: Vec<f64> = children.iter().map(|c| err[c.index()]).collect();
        err[id.index()] = if e.is_nan() || gives_up(op, value, &operands, &bounds) {
            f64::INFINITY
        } else {
            e
        };
    }
    err[node.index()]
}
