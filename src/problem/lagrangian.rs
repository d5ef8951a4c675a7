//! The Hessian of the Lagrangian `f + Σ λ_i g_i` of a formula with
//! constraints, compiled once with the multipliers as run-time inputs: the
//! SQP method (`optim/sqp.rs`) asks for it at every iterate with new
//! multipliers, and nothing is recompiled.
//!
//! The multipliers enter the graph as variables `n..n+m` (after the
//! formula's own), the Lagrangian's gradient is assembled from the nodes
//! the formula already has (`∂f/∂x_j + Σ λ_i ∂g_i/∂x_j`), and one more
//! reverse sweep per variable differentiates it with respect to the
//! formula's variables only. The code writes the upper triangle.

use crate::diff::hessian_within;
use crate::error::Result;
use crate::formula::Formula;
use crate::graph::NodeId;
use crate::jit::Compiled;

/// The compiled Hessian of the Lagrangian, and buffers for one call.
#[derive(Clone)]
pub(super) struct LagrangianHessian {
    code: std::sync::Arc<Compiled>,
    n: usize,
    input: Vec<f64>,
    upper: Vec<f64>,
}

impl LagrangianHessian {
    /// Compiles it for a formula without arrays of variables, within
    /// the formula's node limit.
    pub(super) fn compile(formula: &Formula) -> Result<LagrangianHessian> {
        let n = formula.vars().len();
        let m = formula.constraints().len();
        let mut graph = formula.graph().clone();
        let var_nodes: Vec<NodeId> = (0..n as u32).map(|j| graph.var(j)).collect();
        let lambda: Vec<NodeId> = (0..m as u32).map(|i| graph.var(n as u32 + i)).collect();
        let gradient: Vec<NodeId> = (0..n)
            .map(|j| {
                let mut terms = vec![formula.gradient()[j]];
                for (c, &l) in formula.constraints().iter().zip(&lambda) {
                    let d = c.gradient[j];
                    if !formula.expr(d).is_zero() {
                        terms.push(graph.mul(l, d));
                    }
                }
                graph.sum(&terms)
            })
            .collect();
        let rows = hessian_within(&mut graph, &gradient, &var_nodes, formula.limits.max_nodes)?;
        let upper: Vec<NodeId> = (0..n).flat_map(|i| rows[i][i..].to_vec()).collect();
        let code = Compiled::compile(&graph, &upper, n + m)?;
        Ok(LagrangianHessian {
            code: std::sync::Arc::new(code),
            n,
            input: vec![0.0; n + m],
            upper: vec![0.0; upper.len()],
        })
    }

    /// The full `n × n` Hessian at `x` with multipliers `lambda`, row-major.
    pub(super) fn eval(&mut self, x: &[f64], lambda: &[f64], hessian: &mut [f64]) {
        let n = self.n;
        self.input[..n].copy_from_slice(x);
        self.input[n..].copy_from_slice(lambda);
        self.code.call(&self.input, &mut self.upper);
        let mut k = 0;
        for i in 0..n {
            for j in i..n {
                hessian[i * n + j] = self.upper[k];
                hessian[j * n + i] = self.upper[k];
                k += 1;
            }
        }
    }
}
