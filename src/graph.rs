//! The expression graph: a hash-consed DAG of numeric operations.
//!
//! Invariant: children precede parents. A node's children always have smaller
//! ids, so every pass over the graph is a plain loop (forward to evaluate,
//! backward to differentiate) and nothing recurses on depth.
//!
//! Invariant: each distinct node exists once. `Graph::intern` looks a node up
//! before adding it, so equal subexpressions share one id, and the code
//! generator computes each of them once.
//!
//! The canonicalising constructors that build nodes (`sum`, `product`,
//! `pow`, ...) live in `canon.rs`; this module only stores and describes,
//! including the facts every pass reads: which nodes outputs need
//! ([`reachable`]) and which factors of a product divide
//! ([`denominator_exponent`]).

use std::hash::{Hash, Hasher};

use rustc_hash::FxHashMap;

use crate::builtins::Func;
use crate::error::Span;

mod indexed;

pub use indexed::{Affine, Range, Read, Reduce, Source, Symbol};

/// A node of a formula's expression graph: its value, a partial
/// derivative, a Hessian entry, or any subexpression. A handle to print
/// ([`Formula::to_slope`](crate::Formula::to_slope)), evaluate
/// ([`Formula::eval_nodes`](crate::Formula::eval_nodes)) or wrap as an
/// [`Expr`](crate::Expr); it means something only for the formula it came
/// from.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// The node's position in its graph (children come before parents).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One operation. Subtraction is a sum with a `-1` coefficient, division a
/// product with a negative power: the printers turn them back into `a - b`
/// and `a/b`.
#[derive(Clone, Debug)]
pub enum Node {
    /// A finite constant (non-finite results are never folded into one).
    Const(f64),
    /// The variable with this index in the formula's variable order.
    Var(u32),
    /// `a + b + ...`: two or more terms, sorted, the constant term last.
    Sum(Box<[NodeId]>),
    /// `a * b * ...`: two or more factors, sorted, the coefficient first.
    Product(Box<[NodeId]>),
    /// `[base, exponent]`.
    Pow([NodeId; 2]),
    /// A one-argument function.
    Call1(Func, [NodeId; 1]),
    /// A two-argument function.
    Call2(Func, [NodeId; 2]),
    /// A parameter (`param n`): an input of the formula that is never
    /// differentiated.
    Param(u32),
    /// The loop index at this nesting level, as a number (`i*x[i]`).
    Index(u32),
    /// An element of an array of variables or data.
    Read(Box<Read>),
    /// `sum(...)` or `prod(...)` of its one child, the body, over ranges.
    Reduce(Box<Reduce>, [NodeId; 1]),
}

/// Where variables of arrays and other non-constant leaves sort among the
/// terms of a sum: after every scalar variable, each array by its number.
const ARRAY_VARS: u32 = 1 << 30;
/// Where parameters, loop indices and data sort: after every variable, but
/// not at `u32::MAX`, which marks constants.
pub(crate) const INPUTS: u32 = u32::MAX - 1;

impl Node {
    pub fn children(&self) -> &[NodeId] {
        match self {
            Node::Const(_) | Node::Var(_) | Node::Param(_) | Node::Index(_) | Node::Read(_) => &[],
            Node::Sum(c) | Node::Product(c) => c,
            Node::Pow(c) | Node::Call2(_, c) => c,
            Node::Call1(_, c) | Node::Reduce(_, c) => c,
        }
    }

    pub fn as_const(&self) -> Option<f64> {
        match *self {
            Node::Const(c) => Some(c),
            _ => None,
        }
    }
}

// Constants compare by bit pattern (NaN never becomes a constant), so that the
// interning map can hash them.
impl PartialEq for Node {
    fn eq(&self, other: &Node) -> bool {
        match (self, other) {
            (Node::Const(a), Node::Const(b)) => a.to_bits() == b.to_bits(),
            (Node::Var(a), Node::Var(b)) => a == b,
            (Node::Sum(a), Node::Sum(b)) | (Node::Product(a), Node::Product(b)) => a == b,
            (Node::Pow(a), Node::Pow(b)) => a == b,
            (Node::Call1(f, a), Node::Call1(g, b)) => f == g && a == b,
            (Node::Call2(f, a), Node::Call2(g, b)) => f == g && a == b,
            (Node::Param(a), Node::Param(b)) | (Node::Index(a), Node::Index(b)) => a == b,
            (Node::Read(a), Node::Read(b)) => a == b,
            (Node::Reduce(r, a), Node::Reduce(s, b)) => r == s && a == b,
            _ => false,
        }
    }
}

impl Eq for Node {}

impl Hash for Node {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Node::Const(c) => c.to_bits().hash(state),
            Node::Var(v) | Node::Param(v) | Node::Index(v) => v.hash(state),
            Node::Call1(f, _) | Node::Call2(f, _) => f.hash(state),
            Node::Read(r) => r.hash(state),
            Node::Reduce(r, _) => r.hash(state),
            _ => {}
        }
        self.children().hash(state);
    }
}

/// Facts about a node computed once, when it is interned.
#[derive(Copy, Clone, Debug)]
pub struct Meta {
    /// A hash of the node's structure that does not depend on node ids or
    /// construction order: the last key of the canonical ordering.
    pub shape: u64,
    /// The smallest variable index in the node (`u32::MAX` for constants).
    pub first_var: u32,
    /// Polynomial degree, approximately: orders terms like `x^2 + x + 1`.
    pub degree: f64,
    /// Longest path to a leaf.
    pub depth: u32,
    /// The loop levels the node's value depends on, as a bit set: 0 for a
    /// node computed outside every loop.
    pub levels: u64,
}

/// Where a node came from, for diagnostics such as "ln of a negative number
/// at 1:5".
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct Origin {
    pub span: Span,
    /// The node was built while differentiating the operation at `span`.
    pub in_derivative: bool,
}

/// The arena of nodes with its interning map.
#[derive(Clone, Default)]
pub struct Graph {
    nodes: Vec<Node>,
    meta: Vec<Meta>,
    origins: Vec<Option<Origin>>,
    interned: FxHashMap<Node, NodeId>,
    /// Given to nodes created while it is set (see [`Graph::set_origin`]).
    current_origin: Option<Origin>,
    /// Flatten sums and products whatever their size (for printing only:
    /// see `Graph::flattened`).
    pub(crate) flatten_all: bool,
    /// Nodes that are the product of the other factors of a `prod` (the
    /// reduction and its body), as the gradient built them: the Hessian
    /// sweep differentiates them by their own rule (`diff/product.rs`).
    others: FxHashMap<NodeId, (Reduce, NodeId)>,
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    /// Whether a node calls a function with kinks or steps (`abs`, `sign`,
    /// `floor`, `ceil`, `min`, `max`, `atan2`'s cut: [`Func::kink`]).
    ///
    /// [`Func::kink`]: crate::builtins::Func::kink
    pub fn has_kinks(&self) -> bool {
        self.nodes.iter().any(|node| match node {
            Node::Call1(f, _) | Node::Call2(f, _) => f.kink().is_some(),
            _ => false,
        })
    }

    pub fn meta(&self, id: NodeId) -> &Meta {
        &self.meta[id.index()]
    }

    pub fn origin(&self, id: NodeId) -> Option<Origin> {
        self.origins[id.index()]
    }

    pub fn as_const(&self, id: NodeId) -> Option<f64> {
        self.node(id).as_const()
    }

    /// A node's constant coefficient and its other factors, in canonical
    /// form a product's leading constant: `(c, [f, g])` for `c*f*g`, `(1,
    /// [f, g])` for `f*g`, `(c, [])` for a constant, `(1, [id])` for
    /// anything else. Two nodes are proportional where their other factors
    /// are the same.
    pub fn coefficient(&self, id: NodeId) -> (f64, Vec<NodeId>) {
        match self.node(id) {
            Node::Product(fs) => match self.as_const(fs[0]) {
                Some(c) => (c, fs[1..].to_vec()),
                None => (1.0, fs.to_vec()),
            },
            Node::Const(c) => (*c, Vec::new()),
            _ => (1.0, vec![id]),
        }
    }

    pub fn ids(&self) -> impl DoubleEndedIterator<Item = NodeId> + use<> {
        (0..self.nodes.len() as u32).map(NodeId)
    }

    /// Nodes created from now on (that do not exist yet) remember this origin.
    pub fn set_origin(&mut self, origin: Option<Origin>) {
        self.current_origin = origin;
    }

    /// Forgets the nodes from `len` on, as if they had never been made:
    /// undoes a derivative sweep that was stopped by the node limit.
    pub fn truncate(&mut self, len: usize) {
        while self.nodes.len() > len {
            if let Some(node) = self.nodes.pop() {
                self.interned.remove(&node);
            }
        }
        self.meta.truncate(len);
        self.origins.truncate(len);
        self.others.retain(|id, _| id.index() < len);
    }

    /// Remembers that `id` is the product of the factors of the `prod`
    /// `reduce` of `body` other than the one at the current index.
    pub(crate) fn mark_product_of_others(&mut self, id: NodeId, reduce: Reduce, body: NodeId) {
        self.others.insert(id, (reduce, body));
    }

    /// The `prod` and body whose product of the other factors `id` is, if
    /// the gradient built it as one.
    pub(crate) fn product_of_others(&self, id: NodeId) -> Option<&(Reduce, NodeId)> {
        self.others.get(&id)
    }

    /// The id of `node`, adding it if it is new. Callers are the canonical
    /// constructors, which guarantee the node's invariants.
    pub(crate) fn intern(&mut self, node: Node) -> NodeId {
        if let Some(&id) = self.interned.get(&node) {
            return id;
        }
        let id = NodeId(self.nodes.len() as u32);
        debug_assert!(node.children().iter().all(|c| *c < id));
        let meta = self.describe(&node);
        self.nodes.push(node.clone());
        self.meta.push(meta);
        self.origins.push(self.current_origin);
        self.interned.insert(node, id);
        id
    }

    fn describe(&self, node: &Node) -> Meta {
        let mut h = ShapeHasher::new(match node {
            Node::Const(_) => 1,
            Node::Var(_) => 2,
            Node::Sum(_) => 3,
            Node::Product(_) => 4,
            Node::Pow(_) => 5,
            Node::Param(_) => 6,
            Node::Index(_) => 7,
            Node::Read(_) => 8,
            Node::Reduce(..) => 9,
            Node::Call1(f, _) | Node::Call2(f, _) => 16 + *f as u64,
        });
        let children = node.children();
        let mut first_var = u32::MAX;
        let mut depth = 0;
        let mut levels = 0;
        for &c in children {
            let m = &self.meta[c.index()];
            h.add(m.shape);
            first_var = first_var.min(m.first_var);
            depth = depth.max(m.depth + 1);
            levels |= m.levels;
        }
        let degree_of = |id: NodeId| self.meta[id.index()].degree;
        let degree = match node {
            Node::Const(c) => {
                h.add(c.to_bits());
                0.0
            }
            Node::Var(v) => {
                h.add(u64::from(*v));
                first_var = *v;
                1.0
            }
            Node::Param(p) => {
                h.add(u64::from(*p));
                first_var = INPUTS;
                0.0
            }
            Node::Index(l) => {
                h.add(u64::from(*l));
                first_var = INPUTS;
                levels = 1 << l;
                0.0
            }
            Node::Read(r) => {
                let mut hasher = rustc_hash::FxHasher::default();
                r.hash(&mut hasher);
                h.add(hasher.finish());
                levels = r.levels();
                match r.source {
                    Source::Var(a) => {
                        first_var = ARRAY_VARS + a;
                        1.0
                    }
                    Source::Data(_) | Source::Direction(_) | Source::ScalarDirection(_) => {
                        first_var = INPUTS;
                        0.0
                    }
                }
            }
            Node::Reduce(r, _) => {
                let mut hasher = rustc_hash::FxHasher::default();
                r.hash(&mut hasher);
                h.add(hasher.finish());
                levels = (levels & !r.own_levels()) | r.range_levels();
                1.0
            }
            Node::Sum(c) => c.iter().map(|&t| degree_of(t)).fold(0.0, f64::max),
            Node::Product(c) => c.iter().map(|&f| degree_of(f)).sum(),
            Node::Pow([b, e]) => match self.as_const(*e) {
                Some(e) => degree_of(*b) * e,
                None => degree_of(*b),
            },
            Node::Call1(..) | Node::Call2(..) => 1.0,
        };
        Meta {
            shape: h.finish(),
            first_var,
            degree,
            depth,
            levels,
        }
    }
}

/// The ids that `outputs` depend on, in increasing order.
pub fn reachable(graph: &Graph, outputs: &[NodeId]) -> Vec<NodeId> {
    let Some(top) = outputs.iter().max() else {
        return Vec::new();
    };
    // A walk from the outputs touches only the nodes they need, so one
    // partial of a large formula costs its own size, not the graph's
    // (printing every partial was quadratic). The nodes come out in index
    // order, children first: sorted when few, read off the marks when many.
    let mut needed = vec![false; top.index() + 1];
    let mut found = Vec::new();
    let mut stack: Vec<NodeId> = outputs.to_vec();
    while let Some(id) = stack.pop() {
        if std::mem::replace(&mut needed[id.index()], true) {
            continue;
        }
        found.push(id);
        stack.extend(graph.node(id).children());
    }
    if found.len() < needed.len() / 16 {
        found.sort_unstable();
        found
    } else {
        (0..needed.len() as u32)
            .filter(|&i| needed[i as usize])
            .map(NodeId)
            .collect()
    }
}

/// The constant exponent of a denominator factor (`b^e`, `e < 0`), as `-e`.
///
/// A non-zero constant base is not a denominator: `0.5^-1100` is kept only
/// because it overflows, and printed as `1/0.5^1100` it would read back as
/// `1/0`. (`1/0` itself is the one form of a negative power of zero.)
pub fn denominator_exponent(graph: &Graph, factor: NodeId) -> Option<(NodeId, f64)> {
    match *graph.node(factor) {
        Node::Pow([b, e]) if graph.as_const(b).is_none_or(|b| b == 0.0) => {
            graph.as_const(e).filter(|&e| e < 0.0).map(|e| (b, -e))
        }
        _ => None,
    }
}

/// A fixed, seedless hash (FxHash's multiply-rotate), so that the canonical
/// order of terms is the same in every run and on every machine.
struct ShapeHasher(u64);

impl ShapeHasher {
    fn new(tag: u64) -> ShapeHasher {
        let mut h = ShapeHasher(0);
        h.add(tag);
        h
    }

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// One step of [`sum_pairwise`]: an evaluator's value of a term, or the
/// sum of two partial sums.
pub(crate) enum SumStep<T> {
    Term(NodeId),
    Add(T, T),
}

/// Adds a sum's terms in the one order every evaluator follows (the
/// interpreter, straight-line native code and loops), so that they agree to
/// the bit: pairwise, as a balanced tree. The terms are split into a first
/// half of `⌈len/2⌉` terms and the rest, each half is summed the same way,
/// and the two partial sums are added (so up to three terms still add left
/// to right). `step` gives a term's value and adds two values; it is called
/// in the tree's post-order, which keeps at most `⌈log₂ len⌉ + 1` partial
/// sums alive.
///
/// Why: a left-to-right chain of `n` terms waits for `n − 1` dependent
/// adds and its rounding error grows with `n`; the tree's depth is
/// `⌈log₂ n⌉`, so independent adds overlap, and the computed sum `ŝ`
/// of terms `tᵢ` satisfies `|ŝ − Σtᵢ| ≤ γ_d · Σ|tᵢ|` with `d = ⌈log₂ n⌉`
/// and `γ_d = d·u/(1 − d·u)`, `u = 2⁻⁵³` (Higham, *Accuracy and Stability
/// of Numerical Algorithms*, §4.2), against `γ_{n−1}` for the chain.
///
/// `terms` must not be empty.
pub(crate) fn sum_pairwise<T, E>(
    terms: &[NodeId],
    step: &mut impl FnMut(SumStep<T>) -> Result<T, E>,
) -> Result<T, E> {
    match terms {
        [] => panic!("sum_pairwise: a sum has at least one term"),
        [t] => step(SumStep::Term(*t)),
        _ => {
            let (first, rest) = terms.split_at(terms.len().div_ceil(2));
            let a = sum_pairwise(first, step)?;
            let b = sum_pairwise(rest, step)?;
            step(SumStep::Add(a, b))
        }
    }
}
