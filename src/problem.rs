//! A constrained problem as one native function: the objective, its
//! gradient, the constraints and the nonzero entries of their Jacobian,
//! compiled together so that equal subexpressions are computed once. The
//! multipliers and the penalty of the augmented Lagrangian are not in the
//! code: they are run-time inputs of `optim/auglag.rs`, which assembles
//! the Lagrangian around these outputs, so no outer iteration recompiles.

use std::sync::Arc;

use crate::constraint::{ConstraintKind, Rows};
use crate::error::Result;
use crate::formula::Formula;
use crate::graph::NodeId;
use crate::jit::Compiled;
use crate::objective::{CompiledFormula, Objective, check_len};

mod lagrangian;

use lagrangian::LagrangianHessian;

/// A function to minimise under constraints `g_i(x) <= 0` or `g_i(x) == 0`
/// ([`ConstraintKind`]): what
/// [`minimize_constrained`](crate::minimize_constrained) takes. One call
/// gives everything at a point, as compiled code computes it in one pass.
pub trait ConstrainedObjective {
    /// The number of variables.
    fn n_vars(&self) -> usize;

    /// Each constraint's kind, in order.
    fn kinds(&self) -> &[ConstraintKind];

    /// The entries of the constraints' Jacobian that may be nonzero, as
    /// (constraint, variable), in the order [`ConstrainedObjective::eval`]
    /// writes them.
    fn jacobian_pattern(&self) -> &[(usize, usize)];

    /// `f(x)`, with `∇f(x)` written to `grad`, each `g_i(x)` to
    /// `constraints`, and the Jacobian's entries (in the order of
    /// [`ConstrainedObjective::jacobian_pattern`]) to `jacobian`.
    fn eval(
        &mut self,
        x: &[f64],
        grad: &mut [f64],
        constraints: &mut [f64],
        jacobian: &mut [f64],
    ) -> f64;

    /// Makes [`ConstrainedObjective::lagrangian_hessian`] ready (compiles
    /// it, for a compiled problem): `Ok(true)` if it is available, `Ok(false)`
    /// if this problem has none (the SQP method then builds a quasi-Newton
    /// approximation), an error if building it failed (a node limit).
    fn prepare_lagrangian_hessian(&mut self) -> Result<bool> {
        Ok(false)
    }

    /// The Hessian of the Lagrangian `f + Σ λ_i g_i` at `x` with
    /// multipliers `lambda` (one per constraint), `n × n` row-major, into
    /// `hessian`; `false` if it is not available (see
    /// [`ConstrainedObjective::prepare_lagrangian_hessian`]).
    fn lagrangian_hessian(&mut self, _x: &[f64], _lambda: &[f64], _hessian: &mut [f64]) -> bool {
        false
    }
}

/// A formula with its constraints compiled to native code.
///
/// ```
/// use slope::ConstrainedObjective;
/// let f = slope::Formula::parse("x^2 + y^2\nsubject to x + 2*y >= 1")?;
/// let mut p = f.compile_problem()?;
/// assert_eq!(p.jacobian_pattern(), [(0, 0), (0, 1)]);
/// let (mut g, mut c, mut j) = (vec![0.0; 2], vec![0.0; 1], vec![0.0; 2]);
/// let v = p.eval(&[1.0, 1.0], &mut g, &mut c, &mut j);
/// assert_eq!((v, g, c, j), (2.0, vec![2.0, 2.0], vec![-2.0], vec![-1.0, -2.0]));
/// # Ok::<(), slope::Error>(())
/// ```
#[derive(Clone)]
pub struct CompiledProblem {
    n_vars: usize,
    /// Per constraint row (a family has one per index tuple).
    kinds: Vec<ConstraintKind>,
    pattern: Vec<(usize, usize)>,
    code: Code,
}

/// How a [`CompiledProblem`] is computed.
#[derive(Clone)]
enum Code {
    /// A formula without parameters, arrays or sums: everything in one
    /// straight-line function; the Hessian of the Lagrangian another,
    /// compiled on first request.
    Straight {
        code: Arc<Compiled>,
        out: Vec<f64>,
        formula: Arc<Formula>,
        hessian: Option<LagrangianHessian>,
    },
    /// An indexed formula: the objective compiled (loops over its sums),
    /// the constraints' rows by the interpreter, a family's body once per
    /// row (see `constraint/rows.rs`).
    Rows {
        objective: CompiledFormula,
        formula: Arc<Formula>,
        rows: Arc<Rows>,
    },
}

impl Formula {
    /// Compiles the objective, its gradient, the constraints and their
    /// Jacobian (its nonzero entries) into one native function. For an
    /// indexed formula (parameters, arrays, sums, families of
    /// constraints) the objective and its gradient are compiled and the
    /// constraints' rows interpreted: a family costs its body's size per
    /// row and evaluation, and its Jacobian only the entries each row's
    /// reads can reach.
    pub fn compile_problem(&self) -> Result<CompiledProblem> {
        let n = self.n_vars();
        if self.is_indexed() || self.constraints().iter().any(|c| !c.is_scalar()) {
            let rows = self.rows()?;
            let mut pattern = Vec::with_capacity(rows.columns.len());
            for r in 0..rows.rows.len() {
                let columns = &rows.columns[rows.starts[r]..rows.starts[r + 1]];
                pattern.extend(columns.iter().map(|&j| (r, j)));
            }
            let kinds = (rows.rows.iter())
                .map(|r| self.constraints()[r.statement].kind)
                .collect();
            return Ok(CompiledProblem {
                n_vars: n,
                kinds,
                pattern,
                code: Code::Rows {
                    objective: CompiledFormula::new(self, false)?,
                    formula: Arc::new(self.clone()),
                    rows: Arc::new(rows),
                },
            });
        }
        let mut outputs: Vec<NodeId> = vec![self.value()];
        outputs.extend_from_slice(self.gradient());
        outputs.extend(self.constraints().iter().map(|c| c.value));
        let mut pattern = Vec::new();
        for (i, c) in self.constraints().iter().enumerate() {
            for (j, &d) in c.gradient.iter().enumerate() {
                if !self.expr(d).is_zero() {
                    pattern.push((i, j));
                    outputs.push(d);
                }
            }
        }
        let code = Compiled::compile(self.graph(), &outputs, n)?;
        Ok(CompiledProblem {
            n_vars: n,
            kinds: self.constraints().iter().map(|c| c.kind).collect(),
            pattern,
            code: Code::Straight {
                code: Arc::new(code),
                out: vec![0.0; outputs.len()],
                formula: Arc::new(self.clone()),
                hessian: None,
            },
        })
    }
}

impl CompiledProblem {
    /// `f(x)`, `∇f(x)`, the constraints' values and the Jacobian's
    /// entries; an error if `x` does not have one value per variable.
    #[allow(clippy::type_complexity)]
    pub fn values(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>, Vec<f64>, Vec<f64>)> {
        check_len("the point", x.len(), self.n_vars)?;
        let (n, m) = (self.n_vars, self.kinds.len());
        let (mut g, mut c, mut j) = (vec![0.0; n], vec![0.0; m], vec![0.0; self.pattern.len()]);
        let f = self.eval(x, &mut g, &mut c, &mut j);
        Ok((f, g, c, j))
    }
}

impl ConstrainedObjective for CompiledProblem {
    fn n_vars(&self) -> usize {
        self.n_vars
    }

    fn kinds(&self) -> &[ConstraintKind] {
        &self.kinds
    }

    fn jacobian_pattern(&self) -> &[(usize, usize)] {
        &self.pattern
    }

    fn eval(
        &mut self,
        x: &[f64],
        grad: &mut [f64],
        constraints: &mut [f64],
        jacobian: &mut [f64],
    ) -> f64 {
        let (n, m) = (self.n_vars, self.kinds.len());
        match &mut self.code {
            Code::Straight { code, out, .. } => {
                code.call(x, out);
                grad.copy_from_slice(&out[1..=n]);
                constraints.copy_from_slice(&out[n + 1..n + 1 + m]);
                jacobian.copy_from_slice(&out[n + 1 + m..]);
                out[0]
            }
            Code::Rows {
                objective,
                formula,
                rows,
            } => {
                let f = objective.value_grad(x, grad);
                let (graph, frame) = (formula.graph(), formula.frame());
                rows.eval(
                    graph,
                    formula.constraints(),
                    frame,
                    x,
                    constraints,
                    jacobian,
                );
                f
            }
        }
    }

    fn prepare_lagrangian_hessian(&mut self) -> Result<bool> {
        match &mut self.code {
            Code::Straight {
                formula, hessian, ..
            } => {
                if hessian.is_none() {
                    *hessian = Some(LagrangianHessian::compile(formula)?);
                }
                Ok(true)
            }
            // An indexed formula's constraints are interpreted row by row:
            // it has no compiled second derivatives.
            Code::Rows { .. } => Ok(false),
        }
    }

    fn lagrangian_hessian(&mut self, x: &[f64], lambda: &[f64], out: &mut [f64]) -> bool {
        match &mut self.code {
            Code::Straight {
                hessian: Some(h), ..
            } => {
                h.eval(x, lambda, out);
                true
            }
            _ => false,
        }
    }
}
