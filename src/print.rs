//! Graph → text, in slope syntax (which parses back to the same function) or
//! LaTeX, with as few parentheses as the precedence rules allow.
//!
//! Sums with `-1` coefficients print as subtraction and products with
//! negative powers as division, so `x + -1*y*z^-1` reads `x - y/z`.
//!
//! The printer walks the graph with an explicit stack of tasks rather than
//! recursion, so arbitrarily deep formulas print. A shared subexpression is
//! printed each time it is used; output longer than a limit is refused
//! rather than grown without bound, and the flattening before it stops as
//! soon as the text is sure to pass the limit (`Graph::flattened`).

use std::f64::consts::{E, PI};

use crate::ast::ReduceOp;
use crate::builtins::Func;
use crate::error::{Error, ErrorKind, Result};
use crate::graph::{Affine, Graph, Node, NodeId, Source, Symbol, denominator_exponent};

mod others;

/// The largest text the printer produces.
pub const MAX_PRINTED: usize = 16 << 20;

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Syntax {
    Slope,
    Latex,
}

/// How tightly an expression binds: a child that binds less tightly than its
/// context requires is parenthesised.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Prec {
    Sum,
    Product,
    Neg,
    Pow,
    Atom,
}

/// One factor of a printed product.
#[derive(Copy, Clone, Debug)]
enum Item {
    Node(NodeId),
    Number(f64),
    /// `base ^ k` for a denominator, where the graph holds `base ^ -k`.
    Power(NodeId, f64),
}

/// A product laid out as a fraction: numerator and denominator factors.
struct Layout {
    nums: Vec<Item>,
    dens: Vec<Item>,
}

enum Task {
    Text(&'static str),
    Owned(String),
    /// A node, parenthesised if it binds less tightly than the given level.
    Node(NodeId, Prec),
    Item(Item, Prec),
    /// A term of a sum without its sign.
    Magnitude(NodeId),
}

/// The names a printed node may use, beyond the scalar variables.
#[derive(Copy, Clone, Default)]
pub struct Names<'a> {
    pub vars: &'a [String],
    pub params: &'a [String],
    pub arrays: &'a [String],
    pub data: &'a [String],
    /// The name of each loop level's index.
    pub levels: &'a [String],
    /// A loop level printed as an index expression instead of its name
    /// (`i` as `k-1`, for a partial derivative with respect to `x[k]`).
    pub subst: Option<(u32, &'a Affine)>,
}

/// `id` in slope syntax.
pub fn to_slope(graph: &Graph, id: NodeId, names: &[String]) -> Result<String> {
    let names = Names {
        vars: names,
        ..Names::default()
    };
    print(graph, id, names, Syntax::Slope)
}

/// `id` in LaTeX.
pub fn to_latex(graph: &Graph, id: NodeId, names: &[String]) -> Result<String> {
    let names = Names {
        vars: names,
        ..Names::default()
    };
    print(graph, id, names, Syntax::Latex)
}

/// Prints the form the text reads back as, so that printing is a fixed point
/// of print-then-parse, even for derivatives built with nested products.
pub fn print(graph: &Graph, id: NodeId, names: Names<'_>, syntax: Syntax) -> Result<String> {
    let flat = graph.flattened(id, MAX_PRINTED).map_err(|()| too_large())?;
    let (graph, id) = match &flat {
        Some((g, id)) => (g, *id),
        None => (graph, id),
    };
    Printer {
        graph,
        names,
        syntax,
    }
    .print(id)
}

/// The refusal of a text longer than [`MAX_PRINTED`].
fn too_large() -> Error {
    Error::new(
        ErrorKind::Limit,
        format!("the expression is too large to print (over {MAX_PRINTED} bytes)"),
    )
    .with_hint("evaluate it instead of printing it")
}

struct Printer<'a> {
    graph: &'a Graph,
    names: Names<'a>,
    syntax: Syntax,
}

impl Printer<'_> {
    fn print(&self, id: NodeId) -> Result<String> {
        let mut out = String::new();
        let mut stack = vec![Task::Node(id, Prec::Sum)];
        while let Some(task) = stack.pop() {
            match task {
                Task::Text(s) => out.push_str(s),
                Task::Owned(s) => out.push_str(&s),
                Task::Node(id, min) => self.node(id, min, &mut stack),
                Task::Item(item, min) => self.item(item, min, &mut stack),
                Task::Magnitude(id) => self.magnitude(id, &mut stack),
            }
            if out.len() > MAX_PRINTED {
                return Err(too_large());
            }
        }
        Ok(out)
    }

    fn latex(&self) -> bool {
        self.syntax == Syntax::Latex
    }

    /// Pushes `inner` (a list of tasks in reading order), in parentheses if
    /// `prec < min`.
    fn push_group(&self, stack: &mut Vec<Task>, prec: Prec, min: Prec, inner: Vec<Task>) {
        let parens = prec < min;
        if parens {
            stack.push(Task::Text(if self.latex() { "\\right)" } else { ")" }));
        }
        stack.extend(inner.into_iter().rev());
        if parens {
            stack.push(Task::Text(if self.latex() { "\\left(" } else { "(" }));
        }
    }

    fn node(&self, id: NodeId, min: Prec, stack: &mut Vec<Task>) {
        let g = self.graph;
        if let Some(factors) = self.others_factors(id) {
            let prec = if factors.len() > 1 {
                Prec::Product
            } else {
                Prec::Atom
            };
            let times = if self.latex() { " " } else { "*" };
            let mut inner = Vec::with_capacity(2 * factors.len());
            for (k, text) in factors.into_iter().enumerate() {
                if k > 0 {
                    inner.push(Task::Text(times));
                }
                inner.push(Task::Owned(text));
            }
            self.push_group(stack, prec, min, inner);
            return;
        }
        match g.node(id) {
            Node::Const(c) => {
                let prec = if *c < 0.0 { Prec::Neg } else { Prec::Atom };
                let text = self.number(*c);
                self.push_group(stack, prec, min, vec![Task::Owned(text)]);
            }
            Node::Var(v) => {
                let name = self.names.vars.get(*v as usize).map_or("?", String::as_str);
                stack.push(Task::Owned(if self.latex() {
                    latex_name(name)
                } else {
                    name.to_string()
                }));
            }
            Node::Sum(terms) => {
                let inner = self.sum(terms);
                self.push_group(stack, Prec::Sum, min, inner);
            }
            Node::Product(_) => self.fraction(id, min, stack),
            Node::Pow(_) if self.is_fraction_or_product(id) => self.fraction(id, min, stack),
            Node::Pow([b, e]) => {
                if g.as_const(*e) == Some(0.5) {
                    stack.extend(self.call_tasks("sqrt", &[*b]).into_iter().rev());
                    return;
                }
                let inner = if self.latex() {
                    vec![
                        Task::Node(*b, Prec::Atom),
                        Task::Text("^{"),
                        Task::Node(*e, Prec::Sum),
                        Task::Text("}"),
                    ]
                } else {
                    vec![
                        Task::Node(*b, Prec::Atom),
                        Task::Text("^"),
                        Task::Node(*e, Prec::Neg),
                    ]
                };
                self.push_group(stack, Prec::Pow, min, inner);
            }
            Node::Call1(f, args) => {
                stack.extend(self.func_tasks(*f, args).into_iter().rev());
            }
            Node::Call2(f, args) => {
                stack.extend(self.func_tasks(*f, args).into_iter().rev());
            }
            Node::Param(p) => stack.push(Task::Owned(self.name(self.names.params, *p))),
            Node::Index(l) => match self.names.subst {
                Some((s, by)) if s == *l => {
                    let text = self.affine(by);
                    let single = by.constant == 0 && by.terms.len() == 1 && by.terms[0].1 == 1;
                    stack.push(Task::Owned(if single { text } else { format!("({text})") }));
                }
                _ => stack.push(Task::Owned(self.name(self.names.levels, *l))),
            },
            Node::Read(r) => {
                let array = match r.source {
                    Source::Var(a) => self.name(self.names.arrays, a),
                    Source::Data(d) => self.name(self.names.data, d),
                    Source::Direction(a) => {
                        format!("direction_{}", self.name(self.names.arrays, a))
                    }
                    Source::ScalarDirection(j) => {
                        stack.push(Task::Owned(format!("direction_{j}")));
                        return;
                    }
                };
                let index: Vec<String> = r.index.iter().map(|a| self.affine(a)).collect();
                let (open, close) = if self.latex() {
                    ("_{", "}")
                } else {
                    ("[", "]")
                };
                stack.push(Task::Owned(format!(
                    "{array}{open}{}{close}",
                    index.join(",")
                )));
            }
            Node::Reduce(r, [body])
                if self
                    .names
                    .subst
                    .is_some_and(|(l, _)| r.own_levels() & (1 << l) != 0) =>
            {
                // The reduction binds the substituted level anew: inside
                // it, the level is its own index, printed by name.
                let inner = Printer {
                    graph: self.graph,
                    names: Names {
                        subst: None,
                        ..self.names
                    },
                    syntax: self.syntax,
                };
                match inner.print(id) {
                    Ok(text) => stack.push(Task::Owned(text)),
                    Err(_) => stack.push(Task::Text("<too large>")),
                }
            }
            Node::Reduce(r, [body]) => {
                let ranges: Vec<String> = r
                    .ranges
                    .iter()
                    .enumerate()
                    .map(|(k, range)| {
                        let i = self.name(self.names.levels, r.level + k as u32);
                        let (lo, hi) = (self.affine(&range.lo), self.affine(&range.hi));
                        if self.latex() {
                            format!("{i}={lo}")
                        } else {
                            format!("{i} in {lo}..{hi}")
                        }
                    })
                    .collect();
                if self.latex() {
                    let his: Vec<String> = r.ranges.iter().map(|g| self.affine(&g.hi)).collect();
                    let op = match r.op {
                        ReduceOp::Sum => "\\sum",
                        ReduceOp::Prod => "\\prod",
                    };
                    stack.push(Task::Text("\\right)"));
                    stack.push(Task::Node(*body, Prec::Sum));
                    stack.push(Task::Owned(format!(
                        "{op}_{{{}}}^{{{}}} \\left(",
                        ranges.join(","),
                        his.join(",")
                    )));
                } else {
                    stack.push(Task::Text(")"));
                    stack.push(Task::Node(*body, Prec::Sum));
                    stack.push(Task::Owned(format!(
                        "{}({}, ",
                        r.op.name(),
                        ranges.join(", ")
                    )));
                }
            }
        }
    }

    fn name(&self, names: &[String], k: u32) -> String {
        name_of(names, k, self.latex())
    }

    fn affine(&self, a: &Affine) -> String {
        affine_text(self.names, self.syntax, a)
    }

    /// A product or `b^-k`, with its sign in front: `-2*x/y`.
    fn fraction(&self, id: NodeId, min: Prec, stack: &mut Vec<Task>) {
        let negative = self.coefficient(id) < 0.0;
        let layout = self.layout(id, negative);
        let lone = self.layout_prec(&layout);
        let mut inner = Vec::new();
        let prec = if negative {
            inner.push(Task::Text("-"));
            if lone == Prec::Product {
                Prec::Product
            } else {
                Prec::Neg
            }
        } else {
            lone
        };
        let lone_min = if negative { Prec::Neg } else { Prec::Sum };
        inner.extend(self.layout_tasks(layout, lone_min));
        self.push_group(stack, prec, min, inner);
    }

    /// Products, and powers with negative constant exponents (`1/x^2`).
    fn is_fraction_or_product(&self, id: NodeId) -> bool {
        if self.others_count(id).is_some() {
            return false;
        }
        match self.graph.node(id) {
            Node::Product(_) => true,
            Node::Pow(_) => denominator_exponent(self.graph, id).is_some(),
            _ => false,
        }
    }

    /// The constant factor of a product (1 if none).
    fn coefficient(&self, id: NodeId) -> f64 {
        match self.graph.node(id) {
            Node::Product(fs) => self.graph.as_const(fs[0]).unwrap_or(1.0),
            _ => 1.0,
        }
    }

    /// Whether a sum term prints with a minus sign.
    fn is_negative(&self, id: NodeId) -> bool {
        match self.graph.node(id) {
            Node::Const(c) => *c < 0.0,
            _ => self.coefficient(id) < 0.0,
        }
    }

    fn sum(&self, terms: &[NodeId]) -> Vec<Task> {
        let mut order: Vec<NodeId> = terms.to_vec();
        // `1 - x` rather than `-x + 1`.
        if self.is_negative(order[0])
            && let Some(p) = order.iter().position(|&t| !self.is_negative(t))
        {
            let t = order.remove(p);
            order.insert(0, t);
        }
        let mut tasks = Vec::with_capacity(2 * order.len());
        for (i, &t) in order.iter().enumerate() {
            let sign = match (i, self.is_negative(t)) {
                (0, true) => "-",
                (0, false) => "",
                (_, true) => " - ",
                (_, false) => " + ",
            };
            tasks.push(Task::Text(sign));
            tasks.push(Task::Magnitude(t));
        }
        tasks
    }

    /// A sum term without its sign.
    fn magnitude(&self, id: NodeId, stack: &mut Vec<Task>) {
        match self.graph.node(id) {
            Node::Const(c) => stack.push(Task::Owned(self.number(c.abs()))),
            _ if self.is_negative(id) => {
                let layout = self.layout(id, true);
                let prec = self.layout_prec(&layout);
                let inner = self.layout_tasks(layout, Prec::Sum);
                self.push_group(stack, prec, Prec::Product, inner);
            }
            _ => stack.push(Task::Node(id, Prec::Product)),
        }
    }

    /// A product or `b^-k` as numerator and denominator factors, with the
    /// coefficient's sign dropped if `drop_sign`.
    fn layout(&self, id: NodeId, drop_sign: bool) -> Layout {
        let g = self.graph;
        let factors: &[NodeId] = match g.node(id) {
            Node::Product(fs) => fs,
            _ => std::slice::from_ref(&id),
        };
        let mut nums = Vec::new();
        let mut dens = Vec::new();
        if let Some(c) = g.as_const(factors[0]) {
            let c = if drop_sign { c.abs() } else { c };
            match reciprocal_integer(c) {
                Some(m) => dens.push(Item::Number(m)),
                None if c != 1.0 => nums.push(Item::Number(c)),
                None => {}
            }
        }
        // Products nested inside (the prefix and suffix products of the
        // reverse sweep, large products kept whole) print as one product.
        let mut pending: Vec<NodeId> = factors.iter().rev().copied().collect();
        if g.as_const(factors[0]).is_some() {
            pending.pop();
        }
        while let Some(f) = pending.pop() {
            if self.others_count(f).is_some() {
                nums.push(Item::Node(f));
            } else if let Some((b, k)) = denominator_exponent(g, f) {
                dens.push(Item::Power(b, k));
            } else if let Node::Product(inner) = g.node(f) {
                pending.extend(inner.iter().rev());
            } else if let Some(c) = g.as_const(f) {
                nums.push(Item::Number(c));
            } else {
                nums.push(Item::Node(f));
            }
        }
        Layout { nums, dens }
    }

    fn layout_prec(&self, layout: &Layout) -> Prec {
        match (layout.nums.as_slice(), layout.dens.is_empty()) {
            ([item], true) => self.item_prec(*item),
            _ => Prec::Product,
        }
    }

    fn item_prec(&self, item: Item) -> Prec {
        match item {
            Item::Number(c) if c < 0.0 => Prec::Neg,
            Item::Number(_) => Prec::Atom,
            Item::Power(b, 1.0) => self.prec(b),
            Item::Power(_, 0.5) => Prec::Atom,
            Item::Power(..) => Prec::Pow,
            Item::Node(id) => self.prec(id),
        }
    }

    /// How a node prints on its own.
    fn prec(&self, id: NodeId) -> Prec {
        let g = self.graph;
        match self.others_count(id) {
            Some(1) => return Prec::Atom,
            Some(_) => return Prec::Product,
            None => {}
        }
        match g.node(id) {
            Node::Const(c) if *c < 0.0 => Prec::Neg,
            Node::Const(_)
            | Node::Var(_)
            | Node::Call1(..)
            | Node::Call2(..)
            | Node::Param(_)
            | Node::Index(_)
            | Node::Read(_)
            | Node::Reduce(..) => Prec::Atom,
            Node::Sum(_) => Prec::Sum,
            _ if self.is_fraction_or_product(id) => {
                let layout = self.layout(id, true);
                match (self.layout_prec(&layout), self.coefficient(id) < 0.0) {
                    (Prec::Product, _) => Prec::Product,
                    (_, true) => Prec::Neg,
                    (p, false) => p,
                }
            }
            Node::Pow([_, e]) if g.as_const(*e) == Some(0.5) => Prec::Atom,
            _ => Prec::Pow,
        }
    }

    /// The tasks of a fraction; a lone numerator factor needs `min`.
    fn layout_tasks(&self, layout: Layout, min: Prec) -> Vec<Task> {
        let Layout { nums, dens } = layout;
        let lone = nums.len() == 1 && dens.is_empty();
        let mut num = Vec::new();
        if nums.is_empty() {
            num.push(Task::Text("1"));
        }
        for (i, item) in nums.iter().enumerate() {
            if i > 0 {
                num.push(Task::Text(match self.syntax {
                    Syntax::Slope => "*",
                    Syntax::Latex if self.starts_with_number(*item) => " \\cdot ",
                    Syntax::Latex => " ",
                }));
            }
            num.push(Task::Item(*item, if lone { min } else { Prec::Product }));
        }
        if dens.is_empty() {
            return num;
        }
        let mut den = Vec::new();
        for (i, item) in dens.iter().enumerate() {
            if i > 0 {
                den.push(Task::Text(if self.latex() { " " } else { "*" }));
            }
            let min = if self.latex() || dens.len() > 1 {
                Prec::Product
            } else {
                Prec::Pow
            };
            den.push(Task::Item(*item, min));
        }
        let mut tasks = Vec::new();
        if self.latex() {
            tasks.push(Task::Text("\\frac{"));
            tasks.extend(num);
            tasks.push(Task::Text("}{"));
            tasks.extend(den);
            tasks.push(Task::Text("}"));
        } else {
            // A product numerator needs no parentheses: `a*b/c` is `(a*b)/c`.
            tasks.extend(num);
            tasks.push(Task::Text("/"));
            // Dividing by a literal zero is written as its own division
            // (`x/y/0`): in `x/(0*y)`, `0*y` would read back as 0.
            let by_zero = dens
                .iter()
                .any(|d| matches!(*d, Item::Power(b, _) if self.graph.as_const(b).is_some()));
            if by_zero {
                for (i, item) in dens.iter().enumerate() {
                    if i > 0 {
                        tasks.push(Task::Text("/"));
                    }
                    tasks.push(Task::Item(*item, Prec::Pow));
                }
            } else if dens.len() > 1 {
                tasks.push(Task::Text("("));
                tasks.extend(den);
                tasks.push(Task::Text(")"));
            } else {
                tasks.extend(den);
            }
        }
        tasks
    }

    /// Whether an item's LaTeX begins with a digit, so that juxtaposition
    /// after a number would read as one number (`2 3^x`).
    fn starts_with_number(&self, item: Item) -> bool {
        let mut id = match item {
            Item::Number(_) => return true,
            Item::Node(id) | Item::Power(id, _) => id,
        };
        loop {
            match self.graph.node(id) {
                Node::Const(_) => return true,
                Node::Pow([b, _]) => id = *b,
                _ => return false,
            }
        }
    }

    fn item(&self, item: Item, min: Prec, stack: &mut Vec<Task>) {
        match item {
            Item::Node(id) => stack.push(Task::Node(id, min)),
            Item::Number(c) => {
                let prec = if c < 0.0 { Prec::Neg } else { Prec::Atom };
                let text = self.number(c);
                self.push_group(stack, prec, min, vec![Task::Owned(text)]);
            }
            Item::Power(b, 1.0) => stack.push(Task::Node(b, min)),
            Item::Power(b, 0.5) => stack.extend(self.call_tasks("sqrt", &[b]).into_iter().rev()),
            Item::Power(b, k) => {
                let exponent = self.number(k);
                let inner = if self.latex() {
                    vec![
                        Task::Node(b, Prec::Atom),
                        Task::Owned(format!("^{{{exponent}}}")),
                    ]
                } else {
                    vec![
                        Task::Node(b, Prec::Atom),
                        Task::Owned(format!("^{exponent}")),
                    ]
                };
                self.push_group(stack, Prec::Pow, min, inner);
            }
        }
    }

    fn func_tasks(&self, f: Func, args: &[NodeId]) -> Vec<Task> {
        if !self.latex() {
            return self.call_tasks(f.name(), args);
        }
        let wrap = |open: &'static str, close: &'static str| {
            vec![
                Task::Text(open),
                Task::Node(args[0], Prec::Sum),
                Task::Text(close),
            ]
        };
        match f {
            Func::Abs => wrap("\\left|", "\\right|"),
            Func::Floor => wrap("\\left\\lfloor ", " \\right\\rfloor"),
            Func::Ceil => wrap("\\left\\lceil ", " \\right\\rceil"),
            Func::Cbrt => wrap("\\sqrt[3]{", "}"),
            Func::Exp => wrap("e^{", "}"),
            _ => self.call_tasks(latex_function(f), args),
        }
    }

    fn call_tasks(&self, name: &'static str, args: &[NodeId]) -> Vec<Task> {
        if self.latex() && name == "sqrt" {
            return vec![
                Task::Text("\\sqrt{"),
                Task::Node(args[0], Prec::Sum),
                Task::Text("}"),
            ];
        }
        let (open, close) = if self.latex() {
            ("\\left(", "\\right)")
        } else {
            ("(", ")")
        };
        let mut tasks = vec![Task::Text(name), Task::Text(open)];
        for (i, &a) in args.iter().enumerate() {
            if i > 0 {
                tasks.push(Task::Text(", "));
            }
            tasks.push(Task::Node(a, Prec::Sum));
        }
        tasks.push(Task::Text(close));
        tasks
    }

    fn number(&self, c: f64) -> String {
        if !self.latex() {
            return format_number(c);
        }
        if c.abs() == PI {
            return if c < 0.0 { "-\\pi" } else { "\\pi" }.to_string();
        }
        let text = format_number(c);
        match text.split_once('e') {
            Some((mantissa, exp)) if text != "e" && text != "-e" => {
                format!("{mantissa} \\cdot 10^{{{exp}}}")
            }
            _ => text,
        }
    }
}

/// A number as slope syntax reads it back exactly: integers without a
/// fraction, others in Rust's shortest round-trip form (`0.1`, `1e-7`), and
/// the constants `pi` and `e` by name.
pub fn format_number(c: f64) -> String {
    if c.abs() == PI || c.abs() == E {
        let name = if c.abs() == PI { "pi" } else { "e" };
        return if c < 0.0 {
            format!("-{name}")
        } else {
            name.to_string()
        };
    }
    if c.fract() == 0.0 && c.abs() < 1e16 {
        format!("{}", c as i64)
    } else {
        format!("{c:?}")
    }
}

/// `m` if `c` is exactly `1/m` for a whole number `m > 1`: then `c*x`
/// prints as `x/m`.
fn reciprocal_integer(c: f64) -> Option<f64> {
    let m = 1.0 / c;
    (c > 0.0 && c < 1.0 && m.fract() == 0.0 && m < 1e6 && 1.0 / m == c).then_some(m)
}

fn latex_function(f: Func) -> &'static str {
    match f {
        Func::Sin => "\\sin",
        Func::Cos => "\\cos",
        Func::Tan => "\\tan",
        Func::Asin => "\\arcsin",
        Func::Acos => "\\arccos",
        Func::Atan => "\\arctan",
        Func::Sinh => "\\sinh",
        Func::Cosh => "\\cosh",
        Func::Tanh => "\\tanh",
        Func::Asinh => "\\operatorname{arsinh}",
        Func::Acosh => "\\operatorname{arcosh}",
        Func::Atanh => "\\operatorname{artanh}",
        Func::Exp => "\\exp",
        Func::Ln => "\\ln",
        Func::Log2 => "\\log_{2}",
        Func::Log10 => "\\log_{10}",
        Func::Cbrt => "\\operatorname{cbrt}",
        Func::Abs => "\\operatorname{abs}",
        Func::Sign => "\\operatorname{sign}",
        Func::Floor => "\\operatorname{floor}",
        Func::Ceil => "\\operatorname{ceil}",
        Func::Min => "\\min",
        Func::Max => "\\max",
        Func::Atan2 => "\\operatorname{atan2}",
        Func::Hypot => "\\operatorname{hypot}",
        // Never reached: `print` rewrites it as `a \\ln(b)` first.
        Func::Xlogy => "\\operatorname{xlogy}",
    }
}

const GREEK: [&str; 24] = [
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi",
    "psi", "omega",
];

/// `x1` → `x_{1}`, `x_max` → `x_{\mathrm{max}}`, `alpha` → `\alpha`,
/// `rate` → `\mathrm{rate}`.
fn latex_name(name: &str) -> String {
    // An element of an array, `x[3]` or `p[2,1]`, as written out by
    // `Formula::unrolled`: its indices as a subscript.
    if let Some((stem, rest)) = name.split_once('[')
        && let Some(index) = rest.strip_suffix(']')
    {
        return format!("{}_{{{index}}}", latex_name(stem));
    }
    let (stem, sub) = match name.split_once('_') {
        Some((s, sub)) if !s.is_empty() && !sub.is_empty() => (s, Some(sub.to_string())),
        _ => {
            let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
            if digits > 0 && digits < name.len() {
                let (s, d) = name.split_at(name.len() - digits);
                (s, Some(d.to_string()))
            } else {
                (name, None)
            }
        }
    };
    let word = |s: &str| {
        if GREEK.contains(&s) && s != "omicron" {
            format!("\\{s}")
        } else if s.len() == 1 {
            s.to_string()
        } else {
            format!("\\mathrm{{{}}}", s.replace('_', "\\_"))
        }
    };
    match sub {
        Some(sub) if sub.chars().all(|c| c.is_ascii_digit()) => format!("{}_{{{sub}}}", word(stem)),
        Some(sub) => format!("{}_{{{}}}", word(stem), word(&sub)),
        None => word(stem),
    }
}

/// A name from `names`, as LaTeX if asked.
fn name_of(names: &[String], k: u32, latex: bool) -> String {
    let name = names.get(k as usize).map_or("?", String::as_str);
    if latex {
        latex_name(name)
    } else {
        name.to_string()
    }
}

/// An index: `i+1`, `2*i-1`, `n+1-i`.
pub fn affine_text(names: Names<'_>, syntax: Syntax, a: &Affine) -> String {
    let latex = syntax == Syntax::Latex;
    let substituted;
    let a = match names.subst {
        Some((l, by)) => match a.terms.iter().find(|(s, _)| *s == Symbol::Level(l)) {
            Some(&(_, k)) => {
                let rest = Affine {
                    constant: a.constant,
                    terms: a
                        .terms
                        .iter()
                        .filter(|(s, _)| *s != Symbol::Level(l))
                        .copied()
                        .collect(),
                };
                match rest.combine(1, by, k) {
                    Some(r) => {
                        substituted = r;
                        &substituted
                    }
                    None => a,
                }
            }
            None => a,
        },
        None => a,
    };
    let mut out = String::new();
    // Positive terms first: `n-k`, not `-k+n`.
    let mut terms: Vec<(Symbol, i64)> = a.terms.to_vec();
    terms.sort_by_key(|(_, k)| *k < 0);
    for (s, k) in terms.iter() {
        let name = match s {
            Symbol::Level(l) => name_of(names.levels, *l, latex),
            Symbol::Param(p) => name_of(names.params, *p, latex),
        };
        let sign = if *k < 0 {
            "-"
        } else if out.is_empty() {
            ""
        } else {
            "+"
        };
        let times = if latex { " " } else { "*" };
        match k.unsigned_abs() {
            1 => out.push_str(&format!("{sign}{name}")),
            m => out.push_str(&format!("{sign}{m}{times}{name}")),
        }
    }
    if a.constant != 0 || out.is_empty() {
        let sign = if a.constant < 0 {
            "-"
        } else if out.is_empty() {
            ""
        } else {
            "+"
        };
        out.push_str(&format!("{sign}{}", a.constant.unsigned_abs()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_in_the_shortest_form() {
        assert_eq!(format_number(2.0), "2");
        assert_eq!(format_number(-1.5), "-1.5");
        assert_eq!(format_number(1e-7), "1e-7");
        assert_eq!(format_number(1e20), "1e20");
        assert_eq!(format_number(PI), "pi");
        assert_eq!(format_number(0.1 + 0.2), "0.30000000000000004");
    }

    #[test]
    fn reciprocals_of_whole_numbers_become_divisions() {
        assert_eq!(reciprocal_integer(0.5), Some(2.0));
        assert_eq!(reciprocal_integer(0.25), Some(4.0));
        assert_eq!(reciprocal_integer(0.3), None);
        assert_eq!(reciprocal_integer(2.0), None);
    }

    #[test]
    fn latex_names_use_subscripts_and_greek() {
        assert_eq!(latex_name("x1"), "x_{1}");
        assert_eq!(latex_name("x_max"), "x_{\\mathrm{max}}");
        assert_eq!(latex_name("alpha"), "\\alpha");
        assert_eq!(latex_name("rate"), "\\mathrm{rate}");
        assert_eq!(latex_name("theta_2"), "\\theta_{2}");
        assert_eq!(latex_name("x[3]"), "x_{3}");
        assert_eq!(latex_name("beta[2,1]"), "\\beta_{2,1}");
    }
}
