//! [`Formula`]: the library's front door. It runs the pipeline (parse, lower,
//! differentiate) and hands out printable, evaluable results.

use std::fmt;

use crate::bind::{self, Frame, VarNames};
use crate::constraint::{self, Constraint};
use crate::diff::{self, Scatter};
use crate::error::{Error, ErrorKind, Limit, Result};
use crate::eval::{GradientInterpreter, IndexNames, Interpreter};
use crate::graph::{Graph, NodeId};
use crate::jit::{InputBuffers, LoopCode, Outputs};
use crate::lower::{self, Indexed, Lowered, quoted_list};
use crate::parse::{self, Limits};
use crate::print;

mod elements;
mod hess_vec;
mod partials;
mod unroll;

pub use elements::{Elements, Entries};
use hess_vec::HessVec;
pub use partials::ArrayTerm;

/// How to read a formula.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The variables' order. Must name every variable of the formula and may
    /// name others (their partial derivatives are zero).
    pub vars: Option<Vec<String>>,
    /// Size limits on the text and on the graph built from it.
    pub limits: Limits,
    /// Values for parameters (`param n = 10`), overriding the text's.
    pub params: Vec<(String, f64)>,
    /// Data columns by name, for `data t, y`.
    pub data: Vec<(String, Vec<f64>)>,
}

/// A parsed formula with its expression graph and its gradient, nodes of
/// the same graph. The Hessian is built on first request and kept.
///
/// ```
/// let f = slope::Formula::parse("x^2*sin(y)")?;
/// assert_eq!(f.vars(), ["x", "y"]);
/// assert_eq!(f.partial("x")?.to_string(), "2*x*sin(y)");
/// for (name, &d) in f.vars().iter().zip(f.gradient()) {
///     println!("df/d{name} = {}", f.to_slope(d)?);
/// }
/// assert_eq!(f.eval(&[3.0, 0.0]), 0.0);
/// # Ok::<(), slope::Error>(())
/// ```
#[derive(Clone)]
pub struct Formula {
    source: String,
    graph: Graph,
    /// Shared, so that compiled code and copies share the names made.
    vars: std::sync::Arc<VarNames>,
    var_nodes: Vec<NodeId>,
    value: NodeId,
    gradient: Vec<NodeId>,
    hessian: Option<Vec<Vec<NodeId>>>,
    /// The Hessian-vector product's loops, built on first request.
    hess_vec: Option<HessVec>,
    pub(crate) limits: Limits,
    /// Parameters, arrays and data (empty for a scalar formula).
    indexed: Indexed,
    /// The partials with respect to array elements, as loops.
    scatters: Vec<Scatter>,
    /// The bound parameters and data, and where arrays lie in a point.
    frame: Frame,
    param_names: Vec<String>,
    array_names: Vec<String>,
    data_names: Vec<String>,
    /// `subject to` statements, in the order of the text.
    constraints: Vec<Constraint>,
    /// Which derivation this is: clones and rebinds keep it, so compiled
    /// loops may be reused for a formula with the same id.
    id: u64,
}

/// The next [`Formula`] id.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Formula {
    /// Parses `text` with the default options.
    pub fn parse(text: &str) -> Result<Formula> {
        Formula::parse_with(text, &Options::default())
    }

    /// Parses `text` and derives its gradient, within `options.limits`.
    pub fn parse_with(text: &str, options: &Options) -> Result<Formula> {
        let mut f = Formula::derive(text, Formula::lower(text, options)?, &options.limits)?;
        f.bind_options(options)?;
        Ok(f)
    }

    /// Binds `options`' parameters and data (a scalar formula has none to
    /// bind, and refuses any given). A formula whose only loops run over
    /// numbers (`sum(i in 1..1e12, x)`) is bound too: binding is what
    /// holds its loops to [`bind::MAX_ITERATIONS`].
    pub(crate) fn bind_options(&mut self, options: &Options) -> Result<()> {
        if self.is_indexed() {
            self.bind(&options.params, &options.data)
        } else if let Some((name, _)) = options.params.first() {
            self.bind(&[(name.clone(), 0.0)], &[])
        } else if !options.data.is_empty() {
            Err(Error::new(
                ErrorKind::Usage,
                "data were given, but the formula declares no data",
            )
            .with_hint("name the columns it reads with a statement such as: data t, y"))
        } else {
            Ok(())
        }
    }

    /// The interpreter on the value and the whole gradient.
    #[doc(hidden)]
    pub fn interpreter(&self) -> GradientInterpreter<'_> {
        GradientInterpreter::new(
            &self.graph,
            self.value,
            &self.gradient,
            &self.scatters,
            &self.frame,
        )
    }

    /// Binds parameter values and data columns (by name), without parsing
    /// or differentiating again: every read of every loop is checked
    /// against its array's extent, and [`Formula::vars`] becomes the
    /// flattened list of the variables (`x[1]`, `x[2]`, ...) for these
    /// sizes, made only when asked for ([`Formula::var_names`]). Parameters not named keep their values in the text.
    pub fn bind(&mut self, params: &[(String, f64)], data: &[(String, Vec<f64>)]) -> Result<()> {
        let mut outputs = vec![self.value];
        outputs.extend_from_slice(&self.gradient);
        outputs.extend(self.scatters.iter().map(|s| s.value));
        for c in &self.constraints {
            outputs.push(c.reads);
            outputs.extend(c.scatters.iter().map(|s| s.value));
        }
        let (frame, vars) = bind::bind(
            &self.graph,
            &outputs,
            &self.indexed,
            self.vars.scalars(),
            params,
            data,
            self.limits.max_vars,
        )?;
        self.frame = frame;
        self.vars = std::sync::Arc::new(vars);
        Ok(())
    }

    /// Whether the formula has arrays of variables, whose partials are
    /// loops rather than nodes: then [`Formula::gradient`] holds the scalar
    /// variables' partials only, and [`Formula::value_grad`] gives all.
    pub fn has_arrays(&self) -> bool {
        !self.indexed.arrays.is_empty()
    }

    /// Whether the formula has parameters, arrays, data or loops.
    pub fn is_indexed(&self) -> bool {
        !self.indexed.is_empty()
            || self
                .graph
                .ids()
                .any(|id| matches!(self.graph.node(id), crate::graph::Node::Reduce(..)))
    }

    /// The value and every partial derivative at `x`, by the interpreter,
    /// loops over arrays included.
    pub fn value_grad(&self, x: &[f64]) -> (f64, Vec<f64>) {
        let mut grad = vec![0.0; self.vars.len()];
        let v = self.value_grad_into(x, &mut grad);
        (v, grad)
    }

    /// Native code for the value, and for the value and gradient, of an
    /// indexed formula (loops over its ranges), with the inputs it reads
    /// for the bound parameters and data.
    pub(crate) fn compile_loops(&self) -> Result<(LoopCode, LoopCode, InputBuffers)> {
        let ranks: Vec<usize> = self.indexed.arrays.iter().map(|a| a.rank).collect();
        let n_params = self.indexed.params.len();
        let mut outputs = Outputs {
            value: self.value,
            scalars: &self.gradient,
            scatters: &self.scatters,
            gradient: false,
        };
        let value = LoopCode::compile(&self.graph, &outputs, n_params, &ranks)?;
        outputs.gradient = true;
        let value_grad = LoopCode::compile(&self.graph, &outputs, n_params, &ranks)?;
        Ok((value, value_grad, self.frame.inputs(self.vars.len())))
    }

    /// Which derivation this formula is (kept by clones and by
    /// [`Formula::bind`]).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The inputs compiled loops read, for the parameters and data bound
    /// now.
    pub(crate) fn loop_inputs(&self) -> InputBuffers {
        self.frame.inputs(self.vars.len())
    }

    /// [`Formula::value_grad`] into a caller's buffer.
    pub fn value_grad_into(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        GradientInterpreter::new(
            &self.graph,
            self.value,
            &self.gradient,
            &self.scatters,
            &self.frame,
        )
        .value_grad(x, grad)
    }

    /// The first half of [`Formula::parse_with`], apart so that `bench`
    /// can time it: the text parsed and lowered to a graph.
    pub(crate) fn lower(text: &str, options: &Options) -> Result<Lowered> {
        let ast = parse::parse(text, &options.limits)?;
        let lowered = lower::lower(&ast, text, options.vars.as_deref())?;
        let limits = options.limits;
        if lowered.vars.len() > limits.max_vars {
            return Err(Error::over_limit(
                Limit::Vars,
                limits.max_vars,
                format!(
                    "the formula has {} variables, over the limit of {}",
                    lowered.vars.len(),
                    limits.max_vars
                ),
            ));
        }
        if lowered.graph.len() > limits.max_nodes {
            return Err(diff::too_many_nodes(limits.max_nodes));
        }
        Ok(lowered)
    }

    /// The second half of [`Formula::parse_with`]: the gradient of a
    /// lowered formula.
    pub(crate) fn derive(text: &str, lowered: Lowered, limits: &Limits) -> Result<Formula> {
        let mut graph = lowered.graph;
        let gradient = diff::gradient_indexed(
            &mut graph,
            lowered.value,
            &lowered.var_nodes,
            limits.max_nodes,
        )?;
        let constraints = constraint::derive(
            &mut graph,
            &lowered.constraints,
            &lowered.var_nodes,
            !lowered.indexed.arrays.is_empty(),
            limits.max_nodes,
        )?;
        Ok(Formula {
            source: text.to_string(),
            graph,
            vars: std::sync::Arc::new(VarNames::new(lowered.vars, Vec::new())),
            var_nodes: lowered.var_nodes,
            value: lowered.value,
            gradient: gradient.scalars,
            hessian: None,
            hess_vec: None,
            limits: *limits,
            indexed: lowered.indexed.clone(),
            scatters: gradient.scatters,
            frame: Frame::default(),
            param_names: lowered
                .indexed
                .params
                .iter()
                .map(|p| p.name.clone())
                .collect(),
            array_names: lowered
                .indexed
                .arrays
                .iter()
                .map(|a| a.name.clone())
                .collect(),
            data_names: lowered.indexed.data.iter().map(|d| d.0.clone()).collect(),
            constraints,
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// The text the formula was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The variables, in order: `x[i]` in every evaluation is `vars()[i]`.
    /// An array's elements are named here on the first call (a million
    /// strings for a million elements); [`Formula::n_vars`] and
    /// [`Formula::var_names`] name none or one.
    pub fn vars(&self) -> &[String] {
        self.vars.all()
    }

    /// The names its `data` statements declare, in order: the columns
    /// [`Formula::bind`] reads (it ignores others, as a CSV file's).
    pub fn data_names(&self) -> &[String] {
        &self.data_names
    }

    /// The number of variables, `vars().len()` without making the names.
    pub fn n_vars(&self) -> usize {
        self.vars.len()
    }

    /// The variables' names, each made when asked for.
    pub fn var_names(&self) -> &VarNames {
        &self.vars
    }

    /// The variables' names, shared.
    pub(crate) fn shared_vars(&self) -> std::sync::Arc<VarNames> {
        std::sync::Arc::clone(&self.vars)
    }

    /// The position of the variable `name` (`y`, `x[3]`, as
    /// [`Formula::vars`] writes it) in [`Formula::vars`].
    pub fn var_index(&self, name: &str) -> Option<usize> {
        self.vars.index_of(name)
    }

    /// The node of variable `i`.
    pub fn var_node(&self, i: usize) -> NodeId {
        self.var_nodes[i]
    }

    /// The expression graph, derivatives included.
    #[doc(hidden)]
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The node of the formula's value.
    pub fn value(&self) -> NodeId {
        self.value
    }

    /// The partial derivatives, one node per variable, in the order of
    /// [`Formula::vars`] (built by one reverse sweep when the formula was
    /// parsed).
    pub fn gradient(&self) -> &[NodeId] {
        &self.gradient
    }

    /// The constraints (`subject to` statements), in the order of the text,
    /// each in standard form with its gradient; empty for a formula
    /// without any. See [`Constraint`].
    pub fn constraints(&self) -> &[Constraint] {
        &self.constraints
    }

    /// The bound parameters and data, and where arrays lie in a point.
    pub(crate) fn frame(&self) -> &Frame {
        &self.frame
    }

    /// The size limits it was parsed with.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The partial derivative with respect to the variable `name`, ready to
    /// print or evaluate.
    ///
    /// ```
    /// let f = slope::Formula::parse("(1-x)^2 + 100*(y-x^2)^2")?;
    /// assert_eq!(f.partial("x")?.to_string(), "-400*x*(y - x^2) - 2*(1 - x)");
    /// assert!(f.partial("z").is_err());
    /// # Ok::<(), slope::Error>(())
    /// ```
    pub fn partial(&self, name: &str) -> Result<Expr<'_>> {
        let i = self
            .var_index(name)
            .ok_or_else(|| self.unknown_variable(name))?;
        Ok(self.expr(self.gradient[i]))
    }

    /// A node of this formula as an expression to print or evaluate.
    pub fn expr(&self, id: NodeId) -> Expr<'_> {
        Expr { formula: self, id }
    }

    /// The second partial derivatives, `hessian()?[i][j]` = ∂²f/∂xi∂xj,
    /// built on first request (one more sweep per variable) and kept.
    /// Refused with an [`ErrorKind::Limit`] error if the graph and the
    /// matrix's n² entries would outgrow [`Limits::max_nodes`] (the Hessian
    /// of a formula can be far larger than the formula); the formula is
    /// then left as it was.
    ///
    /// The matrix is returned as a copy, so the formula can be used while
    /// it is read:
    ///
    /// ```
    /// let mut f = slope::Formula::parse("x^3*y")?;
    /// for row in f.hessian()? {
    ///     let printed: Vec<String> = row.iter().map(|&h| f.expr(h).to_string()).collect();
    ///     println!("{}", printed.join("  "));
    /// }
    /// # Ok::<(), slope::Error>(())
    /// ```
    pub fn hessian(&mut self) -> Result<Vec<Vec<NodeId>>> {
        if let Some(h) = &self.hessian {
            return Ok(h.clone());
        }
        if self.has_arrays() {
            return Err(Error::new(
                ErrorKind::Usage,
                "the Hessian of a formula with arrays of variables has no nodes: its entries \
                 are numbers at a point",
            )
            .with_hint("take it with Formula::sparse_hessian(x), or CompiledFormula::hessian(x)"));
        }
        let before = self.graph.len();
        let max = self.limits.max_nodes;
        match diff::hessian_within(&mut self.graph, &self.gradient, &self.var_nodes, max) {
            Ok(h) => Ok(self.hessian.insert(h).clone()),
            Err(e) => {
                self.graph.truncate(before);
                Err(e)
            }
        }
    }

    /// Parses another formula over this one's variables, such as a
    /// hand-written derivative, into this formula's graph, so that it can be
    /// compared with the exact nodes. Errors (including a name that is not
    /// one of [`Formula::vars`]) point into `text`; a text that would take
    /// the graph over `limits.max_nodes` is refused. Either way the formula
    /// is left as it was.
    ///
    /// ```
    /// let mut f = slope::Formula::parse("3*x^2 + 2*x + 1")?;
    /// let dx = f.gradient()[0];
    /// let mine = f.parse_into("2 + 6*x", &Default::default())?;
    /// assert_eq!(mine, dx);
    /// assert!(f.parse_into("2*y", &Default::default()).is_err());
    /// # Ok::<(), slope::Error>(())
    /// ```
    pub fn parse_into(&mut self, text: &str, limits: &Limits) -> Result<NodeId> {
        Ok(self.parse_written(text, limits)?.node)
    }

    /// [`Formula::parse_into`], with the node of each operation the text
    /// writes, before the canonical form folded any: `sqrt(x)/sqrt(x)` is
    /// the node 1 with the step `sqrt(x)`, so whether what was written is
    /// defined at a point can still be asked (`slope check`).
    pub fn parse_written(&mut self, text: &str, limits: &Limits) -> Result<Written> {
        let ast = parse::parse(text, limits)?;
        let before = self.graph.len();
        // Elements are read as `x[i]`, never by name: the scalars suffice.
        let vars = std::sync::Arc::clone(&self.vars);
        let lowered = lower::lower_into(
            &ast,
            text,
            &mut self.graph,
            (vars.scalars(), vars.scalar_index()),
            &self.var_nodes,
        )
        .and_then(|(node, steps)| match self.graph.len() > limits.max_nodes {
            true => Err(diff::too_many_nodes(limits.max_nodes)),
            false => Ok(Written { node, steps }),
        });
        if lowered.is_err() {
            self.graph.truncate(before);
        }
        lowered
    }

    /// A node in slope syntax; it parses back to the same function.
    /// Refused with an [`ErrorKind::Limit`] error past 64 MiB of text.
    pub fn to_slope(&self, id: NodeId) -> Result<String> {
        print::print(&self.graph, id, self.names(), print::Syntax::Slope)
    }

    /// A node in LaTeX, for documents.
    pub fn to_latex(&self, id: NodeId) -> Result<String> {
        print::print(&self.graph, id, self.names(), print::Syntax::Latex)
    }

    fn names(&self) -> print::Names<'_> {
        print::Names {
            vars: self.vars.scalars(),
            params: &self.param_names,
            arrays: &self.array_names,
            data: &self.data_names,
            levels: &self.indexed.levels,
            subst: None,
        }
    }

    /// The value at `x`, by the interpreter (the reference the compiled
    /// code is tested against). `x[i]` is the value of `vars()[i]`; a
    /// variable with no value in `x` reads as NaN.
    pub fn eval(&self, x: &[f64]) -> f64 {
        self.eval_nodes(&[self.value], x)[0]
    }

    /// Any nodes at `x`, by the interpreter.
    pub fn eval_nodes(&self, nodes: &[NodeId], x: &[f64]) -> Vec<f64> {
        Interpreter::with_frame(&self.graph, nodes, &self.frame).eval(x)
    }

    /// Why some of `nodes` are not finite at `x`, naming the operation that
    /// first went wrong; `None` if all are finite.
    pub fn diagnose(&self, nodes: &[NodeId], x: &[f64]) -> Option<Error> {
        let interpreter = Interpreter::with_frame(&self.graph, nodes, &self.frame);
        if interpreter.eval(x).iter().all(|v| v.is_finite()) {
            return None;
        }
        let names = IndexNames {
            levels: &self.indexed.levels,
            renamed: self.indexed.renamed,
        };
        interpreter.diagnose(x, &names)
    }

    /// A point from `name = value` pairs, every variable given a value:
    /// `y = 1` for a scalar, `x = 1` for every element of an array,
    /// `x[3] = 1` for one element (see [`Formula::elements`]). An element's
    /// pair overrides its array's, in either order (`x = 0, x[1] = 1`); the
    /// same scalar, array or element named twice is an error, as a likely
    /// slip (see [`Entries`]).
    pub fn point(&self, assignments: &[(String, f64)]) -> Result<Vec<f64>> {
        let mut x = bind::per_variable(self.vars.len(), f64::NAN)?;
        let mut given = bind::per_variable(self.vars.len(), false)?;
        let mut entries = Entries::new(self.vars.len())?;
        let names = self.elements();
        for (name, value) in assignments {
            entries.set(name, names.resolve(name)?, |k| {
                x[k] = *value;
                given[k] = true;
            })?;
        }
        let missing: Vec<usize> = (0..given.len()).filter(|&k| !given[k]).collect();
        if !missing.is_empty() {
            let shown = quoted_list_capped(missing.len(), |k| self.vars.name(missing[k]).into());
            return Err(
                Error::new(ErrorKind::Usage, format!("no value for {shown}"))
                    .with_hint(format!("the formula's variables are {}", self.var_list())),
            );
        }
        Ok(x)
    }

    fn var_list(&self) -> String {
        if self.vars.is_empty() {
            "none: it is a constant".to_string()
        } else if self.has_arrays() {
            let mut names: Vec<String> = self.vars.scalars().to_vec();
            for (a, p) in self.array_names.iter().zip(&self.frame.arrays) {
                names.push(format!("{a} ({} elements)", p.len()));
            }
            quoted_list(&names)
        } else {
            quoted_list(self.vars.scalars())
        }
    }

    fn unknown_variable(&self, name: &str) -> Error {
        Error::new(
            ErrorKind::Usage,
            format!("the formula has no variable '{name}'"),
        )
        .with_hint(format!("its variables are {}", self.var_list()))
    }
}

/// The `n` names `name(0)`, `name(1)`, ... quoted, or the first ten of a
/// longer list and how many more: only the names shown are made, of
/// possibly a million.
pub fn quoted_list_capped(n: usize, name: impl Fn(usize) -> String) -> String {
    let names: Vec<String> = (0..n.min(10)).map(name).collect();
    if n > 10 {
        format!("{} and {} more", names.join(", "), n - 10)
    } else {
        quoted_list(&names)
    }
}

/// A text lowered into a formula's graph by [`Formula::parse_written`].
#[derive(Clone, Debug)]
pub struct Written {
    /// The text's node (in canonical form).
    pub node: NodeId,
    /// The node of each operation the text writes, children first.
    pub steps: Vec<NodeId>,
}

/// One expression of a [`Formula`] (its value, a partial derivative, a
/// Hessian entry): printed by `Display` in slope syntax, or evaluated.
///
/// ```
/// let f = slope::Formula::parse("3*x^2 + 2*x + 1")?;
/// let dx = f.partial("x")?;
/// assert_eq!(dx.to_string(), "6*x + 2");
/// assert_eq!(dx.to_latex()?, "6 x + 2");
/// assert_eq!(dx.eval(&[1.0]), 8.0);
/// # Ok::<(), slope::Error>(())
/// ```
#[derive(Copy, Clone)]
pub struct Expr<'f> {
    formula: &'f Formula,
    id: NodeId,
}

impl Expr<'_> {
    /// The expression's node in the formula's graph.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// In slope syntax (what `Display` shows); an error only past the
    /// printing limit.
    pub fn to_slope(&self) -> Result<String> {
        self.formula.to_slope(self.id)
    }

    /// In LaTeX.
    pub fn to_latex(&self) -> Result<String> {
        self.formula.to_latex(self.id)
    }

    /// The value at `x` (one value per variable of the formula), by the
    /// interpreter.
    pub fn eval(&self, x: &[f64]) -> f64 {
        self.formula.eval_nodes(&[self.id], x)[0]
    }

    /// Whether the expression is the constant 0 (a partial derivative with
    /// respect to a variable the formula does not depend on).
    pub fn is_zero(&self) -> bool {
        self.formula.graph.as_const(self.id) == Some(0.0)
    }
}

impl fmt::Display for Expr<'_> {
    /// Slope syntax. An expression too large to print shows the reason in
    /// angle brackets instead (use [`Expr::to_slope`] to get the error).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_slope() {
            Ok(text) => f.write_str(&text),
            Err(e) => write!(f, "<{}>", e.message),
        }
    }
}

impl fmt::Debug for Expr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expr({:?}: {self})", self.id)
    }
}
