//! A fit written as a formula: a sum over the data's rows of squared
//! residuals, `sum(i in 1..rows, r1[i]^2 + r2[i]^2)`, recognised in the
//! lowered graph and turned into one plain formula per row.
//!
//! Why in the graph and not the text: `let` definitions, `param`
//! constants and constant factors are already resolved there, so
//! `r[i]^2`, `(y[i] - m)^2/4` and `w[i]*(y[i] - m)^2` all reach this
//! module as squares with coefficients. Each squared expression (a
//! residual family: one residual per row) is copied into a new graph in
//! which the read `t[i]` of a data column becomes a variable, numbered
//! after the parameters, as in a `y ~ MODEL` fit; its partials in the
//! parameters are taken there, and the whole is compiled as one loop over
//! the rows. A term that is not a square over every row is refused at its
//! place in the text.

use crate::ast::ReduceOp;
use crate::builtins::Func;
use crate::error::{Error, ErrorKind, Result, Span};
use crate::graph::{Affine, Graph, Node, NodeId, Origin, Source, Symbol};
use crate::graph::{INPUTS, reachable};
use crate::lower::{Lowered, quoted_list};

/// One residual per row: `scale * value`, with `value` a node of the row
/// graph.
#[derive(Clone, Debug)]
pub(crate) struct Family {
    pub value: NodeId,
    /// √c for a square written with a constant factor `c`.
    pub scale: f64,
    /// Σ|terms| of the value, the scale its rounding error is relative to
    /// (`|y| + |m|` for `y - m`).
    pub magnitude: NodeId,
    /// For a residual `w*(y - m)`, with `y` a column read bare and `w` free
    /// of parameters: the column (among the predictors) and `w`, for R².
    pub response: Option<(usize, NodeId)>,
    /// The square's factors free of parameters, `w` of `w*(y - m)^2`, as
    /// written (the residual takes √w): a negative one in some row is
    /// named as such, not as the NaN of its root.
    pub weights: Vec<NodeId>,
    /// Where the square is written.
    pub span: Option<Span>,
}

/// The residual families of a formula, over a new graph whose variables
/// are the parameters and then the columns read.
pub(crate) struct Squares {
    pub graph: Graph,
    pub params: Vec<String>,
    /// The data columns the residuals read, in the order of `data`.
    pub predictors: Vec<String>,
    pub families: Vec<Family>,
}

/// The hint every "not a sum of squares" error carries.
const EXPECTED: &str = "a fit's formula is a sum over the rows of squared residuals: \
                        sum(i in 1..rows, r[i]^2), or r1[i]^2 + r2[i]^2 for several";

/// Finds the residual families of the lowered formula `lowered` (of text
/// `text`) fitted to data with the columns `columns`.
pub(crate) fn recognise(lowered: &Lowered, text: &str, columns: &[&str]) -> Result<Squares> {
    let g = &lowered.graph;
    let indexed = &lowered.indexed;
    if let Some(c) = lowered.constraints.first() {
        return Err(Error::at(
            ErrorKind::Usage,
            c.span,
            "a fit has no constraints: 'subject to' is for slope min",
        )
        .with_hint("bound parameters with --bounds, or minimise the formula with slope min"));
    }
    if let Some(a) = indexed.arrays.first() {
        return Err(Error::at(
            ErrorKind::Usage,
            a.span,
            format!(
                "'{}' is an array of variables: a fit's parameters are scalars",
                a.name
            ),
        )
        .with_hint("name each parameter, e.g. a1, a2"));
    }
    if indexed.data.is_empty() {
        return Err(Error::new(
            ErrorKind::Usage,
            "a model is written 'y ~ MODEL', or as a sum of squares over data rows: \
             this text has no '~' and declares no data",
        )
        .with_hint(
            "name the response column on the left, e.g. y ~ a*exp(-b*t); or declare \
             the columns, data t, y, and write sum(i in 1..rows, (y[i] - a*exp(-b*t[i]))^2)",
        ));
    }
    for (name, span) in &indexed.data {
        if !columns.contains(&name.as_str()) {
            return Err(Error::at(
                ErrorKind::Usage,
                *span,
                format!("the data have no column '{name}'"),
            )
            .with_hint(format!("its columns are {}", quoted_list(columns))));
        }
    }
    if let Some(v) = lowered.vars.iter().find(|v| columns.contains(&v.as_str())) {
        return Err(Error::new(
            ErrorKind::Usage,
            format!("'{v}' is a column of the data, but the formula reads it as a parameter"),
        )
        .with_hint(format!("declare it with data {v} and read it as {v}[i]")));
    }
    if lowered.vars.is_empty() {
        return Err(Error::new(
            ErrorKind::Usage,
            "the formula has no parameter to fit: every name in it is data or a constant",
        ));
    }
    let rows = indexed
        .params
        .iter()
        .position(|p| p.name == "rows" && p.default.is_none())
        .map(|p| p as u32);
    let mut squares = Vec::new();
    let top = g.node(lowered.value);
    let terms: Vec<NodeId> = match top {
        Node::Sum(ts) => ts.to_vec(),
        _ => vec![lowered.value],
    };
    for t in terms {
        let (c, factors) = g.coefficient(t);
        let reduce = match factors.as_slice() {
            [one] => match g.node(*one) {
                Node::Reduce(r, [body]) if r.op == ReduceOp::Sum => Some((r, *body)),
                _ => None,
            },
            _ => None,
        };
        let Some((r, body)) = reduce else {
            return Err(not_squares(
                g,
                t,
                text,
                "this term is not a sum over the rows",
            ));
        };
        let over_rows = r.ranges.len() == 1
            && r.ranges[0].lo == Affine::constant(1)
            && rows.is_some_and(|p| r.ranges[0].hi == Affine::symbol(Symbol::Param(p)));
        if !over_rows {
            return Err(Error::at(
                ErrorKind::Usage,
                span_of(g, t).unwrap_or_default(),
                "a fit sums over every row once: the range must be 1..rows",
            )
            .with_hint(EXPECTED));
        }
        if c <= 0.0 {
            return Err(not_squares(
                g,
                t,
                text,
                "this sum over the rows is multiplied by a factor that is not positive",
            ));
        }
        let body_terms: Vec<NodeId> = match g.node(body) {
            Node::Sum(ts) => ts.to_vec(),
            _ => vec![body],
        };
        for b in body_terms {
            squares.push(square(g, b, c, text)?);
        }
    }
    // The columns read, in the order of `data`.
    let mut read = vec![false; indexed.data.len()];
    let bases: Vec<NodeId> = squares.iter().flat_map(|s| s.nodes()).collect();
    for id in reachable(g, &bases) {
        if let Node::Read(r) = g.node(id)
            && let Source::Data(d) = r.source
        {
            read[d as usize] = true;
        }
    }
    if !read.contains(&true) {
        return Err(Error::new(
            ErrorKind::Usage,
            "the residuals read no data column: a fit needs residuals that depend on the row",
        )
        .with_hint(format!("read the columns row by row, as t[i]; {EXPECTED}")));
    }
    let predictors: Vec<String> = indexed
        .data
        .iter()
        .zip(&read)
        .filter(|(_, r)| **r)
        .map(|((n, _), _)| n.clone())
        .collect();
    let column_of: Vec<Option<u32>> = read
        .iter()
        .scan(0u32, |next, &r| {
            Some(r.then(|| {
                *next += 1;
                *next - 1
            }))
        })
        .collect();
    let n_params = lowered.vars.len() as u32;
    let mut copy = Copy {
        from: g,
        to: Graph::new(),
        map: vec![None; g.len()],
        column_of: &column_of,
        n_params,
        params: &indexed.params,
        text,
    };
    let mut families = Vec::with_capacity(squares.len());
    for s in &squares {
        families.push(copy.family(s)?);
    }
    Ok(Squares {
        graph: copy.to,
        params: lowered.vars.clone(),
        predictors,
        families,
    })
}

/// A square of the sum's body: `c * w * b1^2 * b2^2 ...`, with `w` free
/// of parameters, as its residual `√c * √w * b1 * b2 ...`.
struct Square {
    scale: f64,
    weights: Vec<NodeId>,
    bases: Vec<NodeId>,
    span: Option<Span>,
}

impl Square {
    fn nodes(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.weights.iter().chain(&self.bases).copied()
    }
}

fn square(g: &Graph, term: NodeId, outer: f64, text: &str) -> Result<Square> {
    let (c, factors) = g.coefficient(term);
    let c = c * outer;
    let mut weights = Vec::new();
    let mut bases = Vec::new();
    for f in factors {
        match g.node(f) {
            Node::Pow([b, e]) if g.as_const(*e) == Some(2.0) => bases.push(*b),
            _ if g.meta(f).first_var >= INPUTS => weights.push(f),
            _ => {
                return Err(not_squares(
                    g,
                    term,
                    text,
                    "this term of the sum is not a square",
                ));
            }
        }
    }
    if bases.is_empty() {
        return Err(not_squares(
            g,
            term,
            text,
            "this term of the sum is not a square",
        ));
    }
    if c.is_nan() || c <= 0.0 {
        return Err(not_squares(
            g,
            term,
            text,
            "this square has a factor that is not positive",
        ));
    }
    Ok(Square {
        scale: c.sqrt(),
        weights,
        bases,
        span: span_of(g, term),
    })
}

fn span_of(g: &Graph, id: NodeId) -> Option<Span> {
    g.origin(id).filter(|o| !o.in_derivative).map(|o| o.span)
}

/// "Not a sum of squares", pointing at `id`'s place in the text if it
/// has one (and quoting the term if not).
fn not_squares(g: &Graph, id: NodeId, text: &str, what: &str) -> Error {
    let e = Error::new(ErrorKind::Usage, what).with_hint(EXPECTED);
    match span_of(g, id) {
        Some(span) if span.end as usize <= text.len() => e.with_span(span),
        _ => e,
    }
}

/// Copies nodes of the formula's graph into the row graph: a read of
/// column `d` at row `i` becomes the variable `n_params + column_of[d]`,
/// a `param` its value.
struct Copy<'a> {
    from: &'a Graph,
    to: Graph,
    map: Vec<Option<NodeId>>,
    column_of: &'a [Option<u32>],
    n_params: u32,
    params: &'a [crate::lower::ParamDecl],
    text: &'a str,
}

impl Copy<'_> {
    fn family(&mut self, s: &Square) -> Result<Family> {
        let mut factors = Vec::new();
        let mut weights = Vec::new();
        for &w in &s.weights {
            let w = self.node(w)?;
            weights.push(w);
            factors.push(self.to.powc(w, 0.5));
        }
        let mut bases = Vec::new();
        for &b in &s.bases {
            bases.push(self.node(b)?);
        }
        factors.extend(&bases);
        self.to.set_origin(s.span.map(|span| Origin {
            span,
            in_derivative: false,
        }));
        let value = self.to.product(&factors);
        let magnitude = self.magnitude(value);
        let response = self.response(value);
        self.to.set_origin(None);
        Ok(Family {
            value,
            scale: s.scale,
            magnitude,
            response,
            weights,
            span: s.span,
        })
    }

    /// Σ|tᵢ| for a sum, the product of the factors' magnitudes for a
    /// product, |v| otherwise.
    fn magnitude(&mut self, id: NodeId) -> NodeId {
        let of_sum = |g: &mut Graph, id: NodeId| match g.node(id) {
            Node::Sum(ts) => {
                let ts = ts.to_vec();
                let abs: Vec<NodeId> = ts.iter().map(|&t| g.call1(Func::Abs, t)).collect();
                g.sum(&abs)
            }
            _ => g.call1(Func::Abs, id),
        };
        match self.to.node(id) {
            Node::Product(fs) => {
                let fs = fs.to_vec();
                let ms: Vec<NodeId> = fs.iter().map(|&f| of_sum(&mut self.to, f)).collect();
                self.to.product(&ms)
            }
            _ => of_sum(&mut self.to, id),
        }
    }

    /// `(column, w)` if the residual is `w*(y - m)`: one factor a sum with
    /// a column read bare (`y`, with a coefficient of 1) that no other term
    /// reads, the others free of parameters.
    fn response(&mut self, id: NodeId) -> Option<(usize, NodeId)> {
        let g = &self.to;
        let factors: Vec<NodeId> = match g.node(id) {
            Node::Product(fs) => fs.to_vec(),
            _ => vec![id],
        };
        let (sums, weights): (Vec<NodeId>, Vec<NodeId>) = factors
            .iter()
            .partition(|&&f| g.meta(f).first_var < self.n_params);
        let [sum] = sums[..] else { return None };
        let Node::Sum(terms) = g.node(sum) else {
            return None;
        };
        // `y` or `-y`: R² is the same for `y - m` and `m - y`.
        let column = |id: NodeId| match *g.node(id) {
            Node::Var(v) if v >= self.n_params => Some(v),
            _ => None,
        };
        let y = terms.iter().find_map(|&t| match g.node(t) {
            Node::Product(fs) if fs.len() == 2 && g.as_const(fs[0]) == Some(-1.0) => {
                column(fs[1]).map(|v| (t, fs[1], v))
            }
            _ => column(t).map(|v| (t, t, v)),
        })?;
        let (term, var, y) = y;
        let others: Vec<NodeId> = terms.iter().copied().filter(|&t| t != term).collect();
        if reachable(g, &others).contains(&var) || reachable(g, &weights).contains(&var) {
            return None;
        }
        let w = match weights.is_empty() {
            true => self.to.constant(1.0),
            false => self.to.product(&weights),
        };
        Some(((y - self.n_params) as usize, w))
    }

    fn node(&mut self, root: NodeId) -> Result<NodeId> {
        for id in reachable(self.from, &[root]) {
            if self.map[id.index()].is_some() {
                continue;
            }
            let new = self.copy(id)?;
            self.map[id.index()] = Some(new);
        }
        self.copied(root)
    }

    /// The copy of `id`, made before.
    fn copied(&self, id: NodeId) -> Result<NodeId> {
        self.map[id.index()]
            .ok_or_else(|| Error::new(ErrorKind::Internal, "a node was copied before its children"))
    }

    fn copy(&mut self, id: NodeId) -> Result<NodeId> {
        let g = self.from;
        let mut kids = Vec::with_capacity(g.node(id).children().len());
        for &c in g.node(id).children() {
            kids.push(self.copied(c)?);
        }
        let origin = g.origin(id);
        self.to.set_origin(origin);
        let refuse = |what: String, hint: &str| {
            let e = Error::new(ErrorKind::Usage, what).with_hint(hint.to_string());
            match origin {
                Some(o) if o.span.end as usize <= self.text.len() => e.with_span(o.span),
                _ => e,
            }
        };
        let new = match g.node(id) {
            Node::Const(c) => self.to.constant(*c),
            Node::Var(v) => self.to.var(*v),
            Node::Sum(_) => self.to.sum(&kids),
            Node::Product(_) => self.to.product(&kids),
            Node::Pow(_) => self.to.pow(kids[0], kids[1]),
            Node::Call1(f, _) => self.to.call1(*f, kids[0]),
            Node::Call2(f, _) => self.to.call2(*f, kids[0], kids[1]),
            Node::Param(p) => {
                let decl = &self.params[*p as usize];
                match decl.default {
                    Some(v) => self.to.constant(v),
                    None => {
                        return Err(refuse(
                            format!("a residual reads '{}', which the data give", decl.name),
                            "each residual depends on its own row and the parameters only",
                        ));
                    }
                }
            }
            Node::Read(r) => {
                let own_row = r.index.len() == 1 && r.index[0] == Affine::symbol(Symbol::Level(0));
                match (r.source, own_row) {
                    (Source::Data(d), true) => match self.column_of[d as usize] {
                        Some(column) => self.to.var(self.n_params + column),
                        None => {
                            return Err(Error::new(
                                ErrorKind::Internal,
                                "a column read by a residual was not counted",
                            ));
                        }
                    },
                    _ => {
                        return Err(refuse(
                            "a residual reads another row than its own".to_string(),
                            "each residual of a fit reads row i of its columns (t[i]); put \
                             shifted values in a column of the data",
                        ));
                    }
                }
            }
            Node::Index(_) => {
                return Err(refuse(
                    "a residual uses the row number as a value".to_string(),
                    "add the row number as a column of the data and read it as a column",
                ));
            }
            Node::Reduce(..) => {
                return Err(refuse(
                    "a residual holds a sum or product of its own".to_string(),
                    "write each residual from its row's values and the parameters",
                ));
            }
        };
        self.to.set_origin(None);
        Ok(new)
    }
}
