//! [`Formula`]: the library's front door. It runs the pipeline (parse, lower,
//! differentiate) and hands out printable, evaluable results.

use crate::diff;
use crate::error::{Error, ErrorKind, Result};
use crate::eval::Interpreter;
use crate::graph::{Graph, NodeId};
use crate::lower::{self, quoted_list};
use crate::parse::{self, Limits};
use crate::print;

/// How to read a formula.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The variables' order. Must name every variable of the formula and may
    /// name others (their partial derivatives are zero).
    pub vars: Option<Vec<String>>,
    pub limits: Limits,
}

/// A parsed formula with its expression graph. Derivatives are computed on
/// first request and kept, as nodes of the same graph.
///
/// ```
/// let mut f = slope::Formula::parse("x^2*sin(y)")?;
/// assert_eq!(f.vars(), ["x", "y"]);
/// let dx = f.gradient()[0];
/// assert_eq!(f.to_slope(dx)?, "2*x*sin(y)");
/// assert_eq!(f.eval(&[3.0, 0.0]), 0.0);
/// # Ok::<(), slope::Error>(())
/// ```
#[derive(Clone)]
pub struct Formula {
    source: String,
    graph: Graph,
    vars: Vec<String>,
    var_nodes: Vec<NodeId>,
    value: NodeId,
    gradient: Option<Vec<NodeId>>,
    hessian: Option<Vec<Vec<NodeId>>>,
    limits: Limits,
}

impl Formula {
    /// Parses `text` with the default options.
    pub fn parse(text: &str) -> Result<Formula> {
        Formula::parse_with(text, &Options::default())
    }

    pub fn parse_with(text: &str, options: &Options) -> Result<Formula> {
        let ast = parse::parse(text, &options.limits)?;
        let lowered = lower::lower(&ast, text, options.vars.as_deref())?;
        let limits = options.limits;
        if lowered.vars.len() > limits.max_vars {
            return Err(Error::new(
                ErrorKind::Limit,
                format!(
                    "the formula has {} variables, over the limit of {}",
                    lowered.vars.len(),
                    limits.max_vars
                ),
            )
            .with_hint("raise the limit with --max-vars"));
        }
        if lowered.graph.len() > limits.max_nodes {
            return Err(diff::too_many_nodes(limits.max_nodes));
        }
        Ok(Formula {
            source: text.to_string(),
            graph: lowered.graph,
            vars: lowered.vars,
            var_nodes: lowered.var_nodes,
            value: lowered.value,
            gradient: None,
            hessian: None,
            limits,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The variables, in order: `x[i]` in every evaluation is `vars()[i]`.
    pub fn vars(&self) -> &[String] {
        &self.vars
    }

    pub fn var_index(&self, name: &str) -> Option<usize> {
        self.vars.iter().position(|v| v == name)
    }

    /// The node of variable `i`.
    pub fn var_node(&self, i: usize) -> NodeId {
        self.var_nodes[i]
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The node of the formula's value.
    pub fn value(&self) -> NodeId {
        self.value
    }

    /// The partial derivatives, one node per variable (one reverse sweep).
    /// Not bounded by [`Limits::max_nodes`]: the gradient is at most a few
    /// times the formula's size, but for untrusted input prefer
    /// [`Formula::try_gradient`].
    pub fn gradient(&mut self) -> &[NodeId] {
        if self.gradient.is_none() {
            self.gradient = Some(diff::gradient(&mut self.graph, self.value, &self.var_nodes));
        }
        self.gradient.as_deref().unwrap_or_default()
    }

    /// [`Formula::gradient`], refused with an [`ErrorKind::Limit`] error if
    /// the graph would outgrow [`Limits::max_nodes`]; the formula is then
    /// left as it was.
    pub fn try_gradient(&mut self) -> Result<&[NodeId]> {
        if self.gradient.is_none() {
            let before = self.graph.len();
            let max = self.limits.max_nodes;
            match diff::gradient_within(&mut self.graph, self.value, &self.var_nodes, max) {
                Ok(g) => self.gradient = Some(g),
                Err(e) => {
                    self.graph.truncate(before);
                    return Err(e);
                }
            }
        }
        Ok(self.gradient.as_deref().unwrap_or_default())
    }

    /// [`Formula::hessian`], refused with an [`ErrorKind::Limit`] error if
    /// the graph and the matrix's n² entries would outgrow
    /// [`Limits::max_nodes`] (the Hessian of a formula can be far larger
    /// than the formula: n sweeps of its gradient). The formula is then left
    /// as it was.
    pub fn try_hessian(&mut self) -> Result<&[Vec<NodeId>]> {
        if self.hessian.is_none() {
            let gradient = self.try_gradient()?.to_vec();
            let before = self.graph.len();
            let max = self.limits.max_nodes;
            match diff::hessian_within(&mut self.graph, &gradient, &self.var_nodes, max) {
                Ok(h) => self.hessian = Some(h),
                Err(e) => {
                    self.graph.truncate(before);
                    return Err(e);
                }
            }
        }
        Ok(self.hessian.as_deref().unwrap_or_default())
    }

    /// The second partial derivatives, `hessian()[i][j]` = ∂²f/∂xi∂xj.
    /// Not bounded by [`Limits::max_nodes`]: for untrusted input use
    /// [`Formula::try_hessian`].
    pub fn hessian(&mut self) -> &[Vec<NodeId>] {
        if self.hessian.is_none() {
            let gradient = self.gradient().to_vec();
            self.hessian = Some(diff::hessian(&mut self.graph, &gradient, &self.var_nodes));
        }
        self.hessian.as_deref().unwrap_or_default()
    }

    /// The partial derivative with respect to the variable `name`.
    pub fn partial(&mut self, name: &str) -> Result<NodeId> {
        let i = self
            .var_index(name)
            .ok_or_else(|| self.unknown_variable(name))?;
        Ok(self.gradient()[i])
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
        let ast = parse::parse(text, limits)?;
        let before = self.graph.len();
        let lowered = lower::lower_into(&ast, text, &mut self.graph, &self.vars, &self.var_nodes)
            .and_then(|id| match self.graph.len() > limits.max_nodes {
                true => Err(diff::too_many_nodes(limits.max_nodes)),
                false => Ok(id),
            });
        if lowered.is_err() {
            self.graph.truncate(before);
        }
        lowered
    }

    /// A node in slope syntax; it parses back to the same function.
    pub fn to_slope(&self, id: NodeId) -> Result<String> {
        print::to_slope(&self.graph, id, &self.vars)
    }

    pub fn to_latex(&self, id: NodeId) -> Result<String> {
        print::to_latex(&self.graph, id, &self.vars)
    }

    /// The value at `x`, by the interpreter.
    pub fn eval(&self, x: &[f64]) -> f64 {
        self.eval_nodes(&[self.value], x)[0]
    }

    /// Any nodes at `x`, by the interpreter.
    pub fn eval_nodes(&self, nodes: &[NodeId], x: &[f64]) -> Vec<f64> {
        Interpreter::new(&self.graph, nodes).eval(x)
    }

    /// Why some of `nodes` are not finite at `x`, naming the operation that
    /// first went wrong; `None` if all are finite.
    pub fn diagnose(&self, nodes: &[NodeId], x: &[f64]) -> Option<Error> {
        let interpreter = Interpreter::new(&self.graph, nodes);
        if interpreter.eval(x).iter().all(|v| v.is_finite()) {
            return None;
        }
        interpreter.diagnose(x)
    }

    /// A point from `name = value` pairs: every variable exactly once.
    pub fn point(&self, assignments: &[(String, f64)]) -> Result<Vec<f64>> {
        let mut x = vec![f64::NAN; self.vars.len()];
        let mut given = vec![false; self.vars.len()];
        // A map, not `var_index`: a point may name 100,000 variables.
        let index: std::collections::HashMap<&str, usize> = self
            .vars
            .iter()
            .enumerate()
            .map(|(i, v)| (v.as_str(), i))
            .collect();
        for (name, value) in assignments {
            let i = *index
                .get(name.as_str())
                .ok_or_else(|| self.unknown_variable(name))?;
            if given[i] {
                return Err(Error::new(
                    ErrorKind::Usage,
                    format!("'{name}' is given twice"),
                ));
            }
            given[i] = true;
            x[i] = *value;
        }
        let missing: Vec<&str> = self
            .vars
            .iter()
            .zip(&given)
            .filter(|(_, g)| !**g)
            .map(|(v, _)| v.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("no value for {}", quoted_list(&missing)),
            )
            .with_hint(format!("the formula's variables are {}", self.var_list())));
        }
        Ok(x)
    }

    fn var_list(&self) -> String {
        if self.vars.is_empty() {
            "none: it is a constant".to_string()
        } else {
            quoted_list(&self.vars)
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
