//! Why a value is not finite: the first operation whose inputs were
//! finite and whose result was not, found by running the interpreter again
//! (inside a loop, at the first index tuple where it happens), and told
//! in plain words with its place in the text.

use super::{Interpreter, Levels, each_tuple};
use crate::bind::MAX_LEVELS;
use crate::builtins::{self, Func};
use crate::error::{Error, ErrorKind};
use crate::graph::{Graph, Node, NodeId, denominator_exponent};

impl Interpreter<'_> {
    /// Why an output is not finite at `x`: the first operation (children
    /// before parents) whose inputs were finite and whose result was not;
    /// inside a `sum` or `prod`, the first such operation of its body at
    /// the first index tuple where there is one, with the indices' values
    /// (named by `names.levels`, as [`crate::print`] names them).
    pub fn diagnose(&self, x: &[f64], names: &IndexNames<'_>) -> Option<Error> {
        let mut values = vec![f64::NAN; self.graph.len()];
        let mut levels = [0; MAX_LEVELS];
        for (k, &id) in self.order.iter().enumerate() {
            values[id.index()] = self.node(id, &mut values, x, &mut levels);
            if !values[id.index()].is_finite() {
                let id = self
                    .zero_over_zero(id, &self.order[k + 1..], &mut values, x, &mut levels)
                    .unwrap_or(id);
                return Some(self.cause(id, &mut values, x, &mut levels, 0, names));
            }
        }
        None
    }

    /// The quotient that gives NaN, if `id` is the infinite reciprocal of
    /// a zero (`y^-1` at y = 0) and the first product of the nodes `after`
    /// it that divides by it has a zero numerator: `x/y` at x = y = 0 is
    /// 0/0, NaN, and a note that blamed `y^-1` said "gives infinity" below
    /// the `f = NaN` it explained.
    fn zero_over_zero(
        &self,
        id: NodeId,
        after: &[NodeId],
        values: &mut [f64],
        x: &[f64],
        levels: &mut Levels,
    ) -> Option<NodeId> {
        let g = self.graph;
        let Node::Pow([b, _]) = g.node(id) else {
            return None;
        };
        if values[b.index()] != 0.0 {
            return None;
        }
        for &n in after {
            values[n.index()] = self.node(n, values, x, levels);
            if let Node::Product(fs) = g.node(n)
                && fs.contains(&id)
            {
                return values[n.index()].is_nan().then_some(n);
            }
        }
        None
    }

    /// Why `id` is not finite, its inputs being finite (they come first),
    /// with the `bound` loop levels around it at the values in `levels`.
    fn cause(
        &self,
        id: NodeId,
        values: &mut [f64],
        x: &[f64],
        levels: &mut Levels,
        bound: usize,
        names: &IndexNames<'_>,
    ) -> Error {
        if let Node::Reduce(r, _) = self.graph.node(id) {
            let list = self.bodies.get(&id).map_or(&[][..], |b| b);
            let inner = r.level as usize + r.ranges.len();
            let mut found = None;
            let mut scans = self.start_scans(list, r, values, x, levels);
            each_tuple(&r.ranges, r.level, self.frame, levels, |levels| {
                if found.is_some() {
                    return;
                }
                for &n in list {
                    values[n.index()] = self.in_loop(n, &mut scans, values, x, levels);
                    if !values[n.index()].is_finite() {
                        found = Some(self.cause(n, values, x, levels, inner, names));
                        return;
                    }
                }
            });
            if let Some(e) = found {
                return e;
            }
            // Every term finite and the sum or product not: it overflowed.
        }
        describe(self.graph, id, values, &names.at(&levels[..bound]))
    }
}

/// The names the loop levels' indices print as, for messages.
#[derive(Clone, Copy, Default)]
pub struct IndexNames<'a> {
    /// One a level.
    pub levels: &'a [String],
    /// The levels whose index has more than one name in the text, as a
    /// bit set: named by depth instead.
    pub renamed: u64,
}

impl IndexNames<'_> {
    /// `" when i = 2, j = 1"` for the index values `values` of the
    /// outermost levels (`" at loop indices 2, 1"` where a level has no
    /// one name); empty outside loops.
    fn at(&self, values: &[i64]) -> String {
        let named: Option<Vec<String>> = (values.iter().enumerate())
            .map(|(l, v)| {
                let name = self.levels.get(l).filter(|n| !n.is_empty());
                name.filter(|_| self.renamed & (1 << l) == 0)
                    .map(|name| format!("{name} = {v}"))
            })
            .collect();
        let numbers = || values.iter().map(i64::to_string).collect::<Vec<_>>();
        match (values.len(), named) {
            (0, _) => String::new(),
            (_, Some(named)) => format!(" when {}", named.join(", ")),
            (1, None) => format!(" at loop index {}", values[0]),
            (_, None) => format!(
                " at loop indices {} (outermost first)",
                numbers().join(", ")
            ),
        }
    }
}

/// A plain-words account of a non-finite result whose inputs were finite,
/// `at` the loop indices' values (see [`IndexNames::at`]).
fn describe(graph: &Graph, id: NodeId, values: &[f64], at: &str) -> Error {
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
            // Its factors are finite: NaN is a zero numerator over zero.
            if divides_by_zero && v(id).is_nan() {
                "zero divided by zero".to_string()
            } else if divides_by_zero {
                "division by zero".to_string()
            } else {
                "a product overflowed".to_string()
            }
        }
        Node::Sum(_) => "a sum overflowed".to_string(),
        Node::Reduce(r, _) => format!("a {} over its range is not finite", r.op.name()),
        Node::Const(_) | Node::Var(_) | Node::Param(_) | Node::Index(_) | Node::Read(_) => {
            "an input is not finite".to_string()
        }
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
            .with_hint(format!("gives {result} here{at}"))
        }
        None => Error::new(ErrorKind::NotFinite, format!("{what} (gives {result}{at})")),
    }
}
