//! The interpreter: the reference evaluator every other evaluator is tested
//! against. Kept simple on purpose: one forward loop over the graph.
//!
//! Evaluation rules, which the compiled code follows to the bit:
//! - a sum adds its terms left to right;
//! - a product multiplies its numerator factors left to right, its
//!   denominator factors (`b^e` with a constant `e < 0`) as `b^-e` left to
//!   right, and divides once at the end (`x/y` is a true division);
//! - `b^e` is [`builtins::pow`]: exponents -1 to 4 by binary powering,
//!   `^0.5` as `sqrt`, otherwise `powf`;
//! - functions are Rust's `f64` methods, `min`/`max` propagate NaN.

use crate::builtins::{self, Func};
use crate::error::{Error, ErrorKind};
use crate::graph::{Graph, Node, NodeId, denominator_exponent, reachable};

/// Evaluates chosen outputs of a graph at points.
pub struct Interpreter<'g> {
    graph: &'g Graph,
    /// Nodes the outputs depend on, children first.
    order: Vec<NodeId>,
    outputs: Vec<NodeId>,
}

impl<'g> Interpreter<'g> {
    pub fn new(graph: &'g Graph, outputs: &[NodeId]) -> Interpreter<'g> {
        Interpreter {
            graph,
            order: reachable(graph, outputs),
            outputs: outputs.to_vec(),
        }
    }

    /// Every output's value at `x` (indexed by variable number).
    pub fn eval(&self, x: &[f64]) -> Vec<f64> {
        let values = self.values(x);
        self.outputs.iter().map(|o| values[o.index()]).collect()
    }

    /// The value of every node the outputs need (other slots hold NaN).
    fn values(&self, x: &[f64]) -> Vec<f64> {
        let mut values = vec![f64::NAN; self.graph.len()];
        for &id in &self.order {
            values[id.index()] = eval_node(self.graph, id, &values, x);
        }
        values
    }

    /// Why an output is not finite at `x`: the first operation (children
    /// before parents) whose inputs were finite and whose result was not.
    pub fn diagnose(&self, x: &[f64]) -> Option<Error> {
        let values = self.values(x);
        let id = self.order.iter().copied().find(|&id| {
            !values[id.index()].is_finite()
                && self
                    .graph
                    .node(id)
                    .children()
                    .iter()
                    .all(|c| values[c.index()].is_finite())
        })?;
        Some(describe(self.graph, id, &values))
    }
}

pub(crate) fn eval_node(graph: &Graph, id: NodeId, values: &[f64], x: &[f64]) -> f64 {
    let v = |n: NodeId| values[n.index()];
    match graph.node(id) {
        Node::Const(c) => *c,
        Node::Var(i) => x.get(*i as usize).copied().unwrap_or(f64::NAN),
        Node::Sum(terms) => terms
            .iter()
            .map(|&t| v(t))
            .reduce(|a, b| a + b)
            .unwrap_or(0.0),
        Node::Product(factors) => {
            let mut num: Option<f64> = None;
            let mut den: Option<f64> = None;
            for &f in factors.iter() {
                match denominator_exponent(graph, f) {
                    Some((b, e)) => {
                        let p = builtins::pow(v(b), e);
                        den = Some(den.map_or(p, |d| d * p));
                    }
                    None => num = Some(num.map_or(v(f), |n| n * v(f))),
                }
            }
            match (num, den) {
                (Some(n), Some(d)) => n / d,
                (Some(n), None) => n,
                (None, Some(d)) => 1.0 / d,
                (None, None) => 1.0,
            }
        }
        Node::Pow([b, e]) => builtins::pow(v(*b), v(*e)),
        Node::Call1(f, [a]) => f.apply1(v(*a)),
        Node::Call2(f, [a, b]) => f.apply2(v(*a), v(*b)),
    }
}

/// A plain-words account of a non-finite result whose inputs were finite.
fn describe(graph: &Graph, id: NodeId, values: &[f64]) -> Error {
    let v = |n: NodeId| values[n.index()];
    let what = match graph.node(id) {
        Node::Call1(f @ (Func::Ln | Func::Log2 | Func::Log10), [a]) if v(*a) <= 0.0 => {
            let sign = if v(*a) == 0.0 {
                "zero"
            } else {
                "a negative number"
            };
            format!("{} of {sign}", f.name())
        }
        Node::Call1(f @ (Func::Asin | Func::Acos), _) => {
            format!("{} of a number outside [-1, 1]", f.name())
        }
        Node::Call1(Func::Acosh, _) => "acosh of a number below 1".to_string(),
        Node::Call1(Func::Atanh, _) => "atanh of a number outside (-1, 1)".to_string(),
        Node::Call1(f, _) | Node::Call2(f, _) => format!("{} overflowed", f.name()),
        Node::Pow([b, e]) => {
            let (b, e) = (v(*b), v(*e));
            if b == 0.0 && e < 0.0 {
                "division by zero".to_string()
            } else if b < 0.0 && e.abs() == 0.5 {
                "sqrt of a negative number".to_string()
            } else if b < 0.0 && e.fract() != 0.0 {
                "a non-integer power of a negative number".to_string()
            } else {
                "a power overflowed".to_string()
            }
        }
        Node::Product(fs) => {
            let divides_by_zero = fs.iter().any(|&f| {
                denominator_exponent(graph, f).is_some_and(|(b, e)| builtins::pow(v(b), e) == 0.0)
            });
            if divides_by_zero {
                "division by zero".to_string()
            } else {
                "a product overflowed".to_string()
            }
        }
        Node::Sum(_) => "a sum overflowed".to_string(),
        Node::Const(_) | Node::Var(_) => "an input is not finite".to_string(),
    };
    let value = v(id);
    let result = if value.is_nan() { "NaN" } else { "infinity" };
    match graph.origin(id) {
        Some(origin) => {
            let context = if origin.in_derivative {
                " in the derivative of the operation"
            } else {
                ""
            };
            Error::at(
                ErrorKind::NotFinite,
                origin.span,
                format!("{what}{context}"),
            )
            .with_hint(format!("gives {result} here"))
        }
        None => Error::new(ErrorKind::NotFinite, format!("{what} (gives {result})")),
    }
}
