//! The syntax tree, as an arena: nodes refer to their children by index.
//!
//! Invariant: children precede parents in `Ast::nodes`, so lowering is one
//! forward loop, and dropping the tree never recurses however deep it is.

use crate::error::Span;

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct AstId(pub u32);

impl AstId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

#[derive(Clone, PartialEq, Debug)]
pub enum AstKind {
    Number(f64),
    /// A variable, a definition or a constant: which one is decided by lowering.
    Name(String),
    Call {
        name: String,
        name_span: Span,
        args: Vec<AstId>,
    },
    Neg(AstId),
    /// `a + b - c ...`: a whole chain of additions and subtractions at one
    /// level, so that long sums are built in one step, not one term at a time.
    Sum(Vec<(Sign, AstId)>),
    /// `a * b / c ...`, likewise.
    Product(Vec<(Sign, AstId)>),
    Pow(AstId, AstId),
    /// `name[index, ...]`: an element of an array (variables, data or an
    /// indexed definition).
    Subscript {
        name: String,
        name_span: Span,
        args: Vec<AstId>,
    },
    /// `sum(i in a..b, j in c..d, body)` or `prod(...)`.
    Reduce {
        op: ReduceOp,
        bindings: Vec<Binding>,
        body: AstId,
    },
    /// A node whose operands were moved into a longer chain.
    Merged,
}

/// Which reduction: `sum` or `prod`.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum ReduceOp {
    Sum,
    Prod,
}

impl ReduceOp {
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Prod => "prod",
        }
    }
}

/// `i in lo..hi`: an index and its range, both ends included.
#[derive(Clone, PartialEq, Debug)]
pub struct Binding {
    pub name: String,
    pub span: Span,
    pub lo: AstId,
    pub hi: AstId,
}

/// `name[lo..hi, ...]` in a `var` statement; no ranges for a scalar.
#[derive(Clone, PartialEq, Debug)]
pub struct Declared {
    pub name: String,
    pub span: Span,
    pub extents: Vec<(AstId, AstId)>,
}

/// Whether an operand of a chain is added (multiplied) or subtracted (divided).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Sign {
    Plus,
    Minus,
}

#[derive(Clone, PartialEq, Debug)]
pub struct AstNode {
    pub kind: AstKind,
    pub span: Span,
}

#[derive(Clone, PartialEq, Debug)]
pub enum Statement {
    Let {
        name: String,
        name_span: Span,
        /// The index names of an indexed definition (`let r[i] = ...`).
        indices: Vec<(String, Span)>,
        value: AstId,
    },
    /// `param n = 1000`.
    Param {
        name: String,
        name_span: Span,
        value: AstId,
    },
    /// `var x[1..n], y`.
    Var(Vec<Declared>),
    /// `data t, y`.
    Data(Vec<(String, Span)>),
    Expr(AstId),
    /// `subject to lhs <= rhs` (or `>=`, `==`), or a family of them. The
    /// family's ranges are built first and `rhs` after `lhs`, so `rhs` is
    /// the statement's last node.
    Constraint {
        /// The indices of a family, `(i in 1..n-1)`; empty for one constraint.
        family: Vec<Binding>,
        relation: Relation,
        lhs: AstId,
        rhs: AstId,
        /// The whole statement, `subject` to the end of `rhs`.
        span: Span,
    },
}

/// The comparison of a constraint.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Relation {
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// `==`
    Eq,
}

#[derive(Clone, Default, Debug)]
pub struct Ast {
    pub nodes: Vec<AstNode>,
    pub statements: Vec<Statement>,
}

impl Ast {
    pub fn push(&mut self, kind: AstKind, span: Span) -> AstId {
        self.nodes.push(AstNode { kind, span });
        AstId(self.nodes.len() as u32 - 1)
    }

    pub fn node(&self, id: AstId) -> &AstNode {
        &self.nodes[id.index()]
    }
}
