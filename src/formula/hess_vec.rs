//! Hessian-vector products `H(x)·v` by the interpreter, from the product's
//! loops built once (`diff/hess_vec.rs`), and the native code of the same
//! loops.

use super::*;
use crate::objective::check_len;
use crate::sparse_hessian::{self, SparseHessian};

/// The product `Hv` as a gradient (scalars and scatters), and the zero
/// node that stands for the value its evaluators do not need.
#[derive(Clone, Debug)]
pub(crate) struct HessVec {
    pub product: diff::Gradient,
    pub zero: NodeId,
}

impl Formula {
    /// Writes the Hessian at `x` times `v` to `out` (each of one value per
    /// variable), by the interpreter. The product is built on first use as
    /// loops of O(size of the formula) nodes whatever the arrays' sizes
    /// (the gradient of `∇f·v`), and kept. An error if a length is wrong,
    /// or if building it would take the graph over
    /// [`Limits::max_nodes`] (the formula is then left as it was).
    ///
    /// ```
    /// let mut f = slope::Formula::parse("param n = 3\nvar x[1..n]\nsum(i in 1..n-1, x[i]*x[i+1])")?;
    /// let mut hv = [0.0; 3];
    /// f.hess_vec(&[1.0, 2.0, 3.0], &[1.0, 0.0, 0.0], &mut hv)?;
    /// assert_eq!(hv, [0.0, 1.0, 0.0]);
    /// # Ok::<(), slope::Error>(())
    /// ```
    pub fn hess_vec(&mut self, x: &[f64], v: &[f64], out: &mut [f64]) -> Result<()> {
        let n = self.vars.len();
        check_len("the point", x.len(), n)?;
        check_len("the direction", v.len(), n)?;
        check_len("the product", out.len(), n)?;
        let hv = self.hess_vec_product()?.clone();
        // The interpreter reads the direction after the point.
        let mut point = Vec::with_capacity(2 * n);
        point.extend_from_slice(x);
        point.extend_from_slice(v);
        GradientInterpreter::new(
            &self.graph,
            hv.zero,
            &hv.product.scalars,
            &hv.product.scatters,
            &self.frame,
        )
        .value_grad(&point, out);
        Ok(())
    }

    /// The Hessian-vector product's loops, built on first request.
    pub(crate) fn hess_vec_product(&mut self) -> Result<&HessVec> {
        if self.hess_vec.is_none() {
            let before = self.graph.len();
            let gradient = diff::Gradient {
                scalars: self.gradient.clone(),
                scatters: self.scatters.clone(),
            };
            let max = self.limits.max_nodes;
            match diff::hess_vec(&mut self.graph, &gradient, &self.var_nodes, max) {
                Ok(product) => {
                    let zero = self.graph.constant(0.0);
                    self.hess_vec = Some(HessVec { product, zero });
                }
                Err(e) => {
                    self.graph.truncate(before);
                    return Err(e);
                }
            }
        }
        match &self.hess_vec {
            Some(hv) => Ok(hv),
            None => Err(Error::new(
                ErrorKind::Internal,
                "the Hessian-vector product was not built",
            )),
        }
    }

    /// Native code for the Hessian-vector product, as loops reading the
    /// bound parameters and data (the same inputs as [`Formula::compile`]'s
    /// loops; a scalar formula's code has no loops).
    pub(crate) fn compile_hess_vec(&mut self) -> Result<(LoopCode, InputBuffers)> {
        let ranks: Vec<usize> = self.indexed.arrays.iter().map(|a| a.rank).collect();
        let n_params = self.indexed.params.len();
        let hv = self.hess_vec_product()?.clone();
        let outputs = Outputs {
            value: hv.zero,
            scalars: &hv.product.scalars,
            scatters: &hv.product.scatters,
            gradient: true,
        };
        let code = LoopCode::compile(&self.graph, &outputs, n_params, &ranks)?;
        Ok((code, self.loop_inputs()))
    }
}

impl Formula {
    /// The Hessian at `x`, sparse: its lower triangle at the entries its
    /// pattern allows (known from the index offsets of the gradient's
    /// loops), each found by one of a few Hessian-vector products along
    /// grouped directions (see [`SparseHessian`]): a banded Hessian costs
    /// a handful of products whatever `n`. An error if `x` has the wrong
    /// length, or if the pattern has more entries than
    /// [`Limits::max_nodes`] (a sum inside a nonlinear function makes the
    /// Hessian dense).
    ///
    /// ```
    /// let text = "param n = 4\nvar x[1..n]\nsum(i in 1..n-1, (x[i+1] - x[i]^2)^2)";
    /// let mut f = slope::Formula::parse(text)?;
    /// let h = f.sparse_hessian(&[1.0; 4])?;
    /// // Tridiagonal: the diagonal and one entry below it in each row.
    /// assert_eq!(h.entries().count(), 4 + 3);
    /// assert_eq!(h.to_dense()[1], -4.0); // d2f/dx1dx2 = -4*x[1]
    /// # Ok::<(), slope::Error>(())
    /// ```
    pub fn sparse_hessian(&mut self, x: &[f64]) -> Result<SparseHessian> {
        let pattern = self.hessian_pattern()?;
        sparse_hessian::from_products(&sparse_hessian::Grouping::new(&pattern), |v, out| {
            self.hess_vec(x, v, out)
        })
    }

    /// The lower triangle of the Hessian's pattern for the bound sizes.
    pub(crate) fn hessian_pattern(&self) -> Result<Vec<Vec<usize>>> {
        let gradient = diff::Gradient {
            scalars: self.gradient.clone(),
            scatters: self.scatters.clone(),
        };
        let n = self.vars.len();
        sparse_hessian::pattern(
            &self.graph,
            &gradient,
            &self.frame,
            n,
            self.limits.max_nodes,
        )
    }
}
