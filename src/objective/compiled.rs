//! [`CompiledFormula`]: a formula's native code as an [`Objective`], with
//! its Hessian and Hessian-vector product compiled on first request.

use std::sync::{Arc, Mutex, OnceLock};

use super::{Native, Objective, check_len};
use crate::bind::VarNames;
use crate::error::{Error, ErrorKind, Limit, Result};
use crate::formula::Formula;
use crate::graph::NodeId;
use crate::jit::{Compiled, InputBuffers, LoopCode};
use crate::sparse_hessian::{Grouping, SparseHessian};

/// A formula compiled to native code: value, value and gradient, and the
/// Hessian, compiled on first request. Cloning shares the code (it is
/// `Send + Sync`); calls write the value and gradient straight where the
/// caller wants them, through no buffer of the objective's own.
///
/// ```
/// let f = slope::Formula::parse("(1-x)^2 + 100*(y-x^2)^2")?;
/// let obj = f.compile()?;
/// let (v, g) = obj.value_grad(&[1.0, 1.0])?;
/// assert_eq!((v, g), (0.0, vec![0.0, 0.0]));
/// assert!(obj.value(&[1.0]).is_err()); // two variables, one value
/// assert_eq!(obj.hessian(&[1.0, 1.0])?, [802.0, -400.0, -400.0, 200.0]);
/// # Ok::<(), slope::Error>(())
/// ```
#[derive(Clone)]
pub struct CompiledFormula {
    vars: Arc<VarNames>,
    code: Code,
    hessian: Arc<LazyHessian>,
    n_constraints: usize,
    /// The [`Formula`] id the code was compiled from.
    formula_id: u64,
    /// Whether the formula has kinks or steps ([`Graph::has_kinks`]).
    kinked: bool,
    /// Scratch for the products behind the sparse Hessian: a direction
    /// and its product, one value per variable each (empty until used).
    products: Vec<f64>,
}

/// What computes values and gradients.
#[derive(Clone)]
enum Code {
    Native {
        /// The value alone, compiled on first request from the formula
        /// kept for the Hessian: L-BFGS, Newton and the other methods
        /// that take the value with the gradient never ask for it, and
        /// compiling it was a quarter of `slope min "x^2"`'s start-up.
        value: Arc<OnceLock<Result<Compiled>>>,
        value_grad: Arc<Compiled>,
    },
    /// An indexed formula: loops in native code, reading the parameters
    /// and data it was bound with.
    Loops {
        value: Arc<LoopCode>,
        value_grad: Arc<LoopCode>,
        inputs: Arc<InputBuffers>,
    },
}

/// The code of the Hessian and of the Hessian-vector product, each
/// compiled on first request from the formula kept for them (which the
/// value code of [`Code::Native`] is compiled from too).
struct LazyHessian {
    formula: Mutex<Formula>,
    code: OnceLock<Result<Compiled>>,
    hess_vec: OnceLock<Result<(LoopCode, InputBuffers)>>,
    /// The sparse Hessian's pattern and the grouping of its columns.
    pattern: OnceLock<Result<Grouping>>,
}

impl LazyHessian {
    fn new(formula: &Formula) -> Arc<LazyHessian> {
        Arc::new(LazyHessian {
            formula: Mutex::new(formula.clone()),
            code: OnceLock::new(),
            hess_vec: OnceLock::new(),
            pattern: OnceLock::new(),
        })
    }

    /// Runs `f` on the kept formula (which building derivatives changes).
    fn with_formula<T>(&self, f: impl FnOnce(&mut Formula) -> Result<T>) -> Result<T> {
        let mut formula = self.formula.lock().map_err(|_| {
            Error::new(
                ErrorKind::Internal,
                "a thread panicked while it built the Hessian",
            )
        })?;
        f(&mut formula)
    }
}

impl Formula {
    /// Compiles value and gradient to native code (the value alone and
    /// the Hessian follow on first request). Compiling takes about a microsecond per node; the
    /// code runs at the speed of hand-written Rust.
    ///
    /// An indexed formula compiles to loops over its ranges, reading its
    /// parameters and data at run time; its code does not grow with `n`.
    pub fn compile(&self) -> Result<CompiledFormula> {
        let n = self.n_vars();
        let code = if self.is_indexed() {
            let (value, value_grad, inputs) = self.compile_loops()?;
            Code::Loops {
                value: Arc::new(value),
                value_grad: Arc::new(value_grad),
                inputs: Arc::new(inputs),
            }
        } else {
            let mut outputs = vec![self.value()];
            outputs.extend_from_slice(self.gradient());
            Code::Native {
                value_grad: Arc::new(Compiled::compile(self.graph(), &outputs, n)?),
                value: Arc::new(OnceLock::new()),
            }
        };
        Ok(CompiledFormula {
            vars: self.shared_vars(),
            code,
            hessian: LazyHessian::new(self),
            n_constraints: self.constraints().len(),
            formula_id: self.id(),
            kinked: self.graph().has_kinks(),
            products: Vec::new(),
        })
    }
}

impl CompiledFormula {
    /// This code for `formula` bound again with [`Formula::bind`]: an
    /// indexed formula's loops read sizes, parameters and data at run
    /// time, so only the inputs are new and nothing is compiled again. A
    /// scalar formula, or one other than (a clone of) the formula this was
    /// compiled from, is compiled afresh.
    ///
    /// ```
    /// let mut f = slope::Formula::parse("param n = 2\nvar x[1..n]\nsum(i in 1..n, x[i]^2)")?;
    /// let code = f.compile()?;
    /// f.bind(&[("n".to_string(), 3.0)], &[])?;
    /// let code = code.rebind(&f)?;
    /// assert_eq!(code.vars().len(), 3);
    /// assert_eq!(code.value(&[1.0, 2.0, 3.0])?, 14.0);
    /// # Ok::<(), slope::Error>(())
    /// ```
    pub fn rebind(&self, formula: &Formula) -> Result<CompiledFormula> {
        match &self.code {
            Code::Loops {
                value, value_grad, ..
            } if self.formula_id == formula.id() => Ok(CompiledFormula {
                vars: formula.shared_vars(),
                code: Code::Loops {
                    value: Arc::clone(value),
                    value_grad: Arc::clone(value_grad),
                    inputs: Arc::new(formula.loop_inputs()),
                },
                hessian: LazyHessian::new(formula),
                n_constraints: formula.constraints().len(),
                formula_id: formula.id(),
                kinked: self.kinked,
                products: Vec::new(),
            }),
            _ => formula.compile(),
        }
    }

    /// Compiles `formula`, and its Hessian now rather than on first use if
    /// `with_hessian`.
    pub fn new(formula: &Formula, with_hessian: bool) -> Result<CompiledFormula> {
        let mut compiled = formula.compile()?;
        if with_hessian {
            compiled.prepare_hessian()?;
        }
        Ok(compiled)
    }

    /// The variables, in the order the methods take them (an array's
    /// elements named on the first call: see [`CompiledFormula::var_names`]).
    pub fn vars(&self) -> &[String] {
        self.vars.all()
    }

    /// The variables' names, each made when asked for.
    pub fn var_names(&self) -> &VarNames {
        &self.vars
    }

    /// `f(x)`; an error if `x` does not have one value per variable.
    pub fn value(&self, x: &[f64]) -> Result<f64> {
        self.check_len(x)?;
        Ok(self.value_of(x))
    }

    /// `f(x)` and `∇f(x)`; an error if `x` does not have one value per
    /// variable.
    pub fn value_grad(&self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        self.check_len(x)?;
        let mut grad = vec![0.0; x.len()];
        let value = self.value_grad_into(x, &mut grad);
        Ok((value, grad))
    }

    /// The Hessian at `x`, row-major (`n*n` values), compiling it on first
    /// use; an error if `x` does not have one value per variable or the
    /// Hessian is over the formula's size limits.
    ///
    /// An indexed formula's comes from [`CompiledFormula::sparse_hessian`],
    /// refused if its `n*n` values are over the formula's node limit.
    pub fn hessian(&self, x: &[f64]) -> Result<Vec<f64>> {
        self.check_len(x)?;
        if let Code::Loops { .. } = self.code {
            self.check_dense()?;
            return Ok(self.sparse_hessian(x)?.to_dense());
        }
        let code = self.hessian_code()?;
        let mut out = vec![0.0; x.len() * x.len()];
        code.call(x, &mut out);
        Ok(out)
    }

    /// Writes `f(x)` to `out[0]`, straight from the native code (for
    /// benchmarks: no checks, no copies). Panics if `x` has the wrong
    /// length.
    #[doc(hidden)]
    pub fn write_value(&self, x: &[f64], out: &mut [f64]) {
        out[0] = self.value_of(x);
    }

    /// Writes `f(x)` and `∇f(x)` to `out` (`n + 1` values), as
    /// [`CompiledFormula::write_value`] does.
    #[doc(hidden)]
    pub fn write_value_grad(&self, x: &[f64], out: &mut [f64]) {
        let (value, grad) = out.split_at_mut(1);
        value[0] = self.value_grad_into(x, grad);
    }

    /// `f` at each row of `xs` (rows of one value per variable, one after
    /// the other) into `values`, one per row: for a formula without
    /// arrays, one native loop over the rows (compiled on first use; a
    /// large formula is called row by row), for an indexed one a call of
    /// its loops per row. The numbers are [`CompiledFormula::value`]'s on
    /// each row, to the bit. An error if `xs` does not hold
    /// `values.len()` rows.
    ///
    /// ```
    /// let code = slope::Formula::parse("x*y + 1")?.compile()?;
    /// let mut values = [0.0; 2];
    /// code.values_of_rows(&[1.0, 2.0, 3.0, 4.0], &mut values)?;
    /// assert_eq!(values, [3.0, 13.0]);
    /// # Ok::<(), slope::Error>(())
    /// ```
    pub fn values_of_rows(&self, xs: &[f64], values: &mut [f64]) -> Result<()> {
        self.check_rows(xs, values.len())?;
        match &self.code {
            Code::Native { value, .. } => self.value_code(value)?.call_rows(xs, values, &mut []),
            Code::Loops { .. } => self.each_row(xs, values, |x, v, _| *v = self.value_of(x)),
        }
        Ok(())
    }

    /// `f` and `∇f` at each row of `xs`, as
    /// [`CompiledFormula::values_of_rows`]: the values into `values`, one
    /// per row, and the gradients into `grads`, one row of one value per
    /// variable for each row of `xs`. An error if the lengths do not agree.
    pub fn values_grads_of_rows(
        &self,
        xs: &[f64],
        values: &mut [f64],
        grads: &mut [f64],
    ) -> Result<()> {
        self.check_rows(xs, values.len())?;
        self.check_rows(grads, values.len())?;
        match &self.code {
            Code::Native { value_grad, .. } => value_grad.call_rows(xs, values, grads),
            Code::Loops { .. } => self.each_row(xs, values, |x, v, g| {
                *v = self.value_grad_into(x, &mut grads[g..g + x.len()]);
            }),
        }
        Ok(())
    }

    /// Calls `f(row, value, start)` for each row of `xs` with its slot in
    /// `values` and the index its gradient starts at.
    fn each_row(&self, xs: &[f64], values: &mut [f64], mut f: impl FnMut(&[f64], &mut f64, usize)) {
        let n = self.vars.len();
        for (i, v) in values.iter_mut().enumerate() {
            f(&xs[i * n..(i + 1) * n], v, i * n);
        }
    }

    /// An error unless `xs` holds `rows` rows of one value per variable.
    fn check_rows(&self, xs: &[f64], rows: usize) -> Result<()> {
        let n = self.vars.len();
        if xs.len() == rows.saturating_mul(n) {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Shape,
            format!(
                "the rows hold {} values, not {rows} rows of one value for each of the \
                 formula's {n} variables",
                xs.len()
            ),
        ))
    }

    /// `f(x)` from the value code, which returns it in a register.
    #[inline]
    fn value_of(&self, x: &[f64]) -> f64 {
        match &self.code {
            Code::Native { value, value_grad } => match self.value_code(value) {
                Ok(code) => code.value(x),
                // Not reached: the value is part of the gradient code,
                // which compiled. That code gives the same value.
                Err(_) => value_grad.call_value(x, &mut vec![0.0; x.len()]),
            },
            Code::Loops { value, inputs, .. } => {
                let mut v = 0.0;
                value.call(inputs, x, &mut v, &mut []);
                v
            }
        }
    }

    /// `f(x)`, with the gradient code writing `∇f(x)` straight to `grad`.
    #[inline]
    fn value_grad_into(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        match &self.code {
            Code::Native { value_grad, .. } => value_grad.call_value(x, grad),
            Code::Loops {
                value_grad, inputs, ..
            } => {
                let mut v = 0.0;
                value_grad.call(inputs, x, &mut v, grad);
                v
            }
        }
    }

    fn check_len(&self, x: &[f64]) -> Result<()> {
        check_len("the point", x.len(), self.vars.len())
    }

    /// An error if an indexed formula's dense Hessian, `n*n` values, is
    /// over the formula's node limit (as a scalar formula's Hessian
    /// nodes would be): past it, only products and the sparse form.
    fn check_dense(&self) -> Result<()> {
        let n = self.vars.len();
        let max = self.hessian.with_formula(|f| Ok(f.limits.max_nodes))?;
        if n.saturating_mul(n) <= max {
            return Ok(());
        }
        Err(Error::over_limit(
            Limit::Nodes,
            max,
            format!(
                "the dense Hessian of {n} variables has {} entries, over the limit of {max}",
                n.saturating_mul(n)
            ),
        )
        .with_hint("take it sparse (CompiledFormula::sparse_hessian) or as products (hess_vec)"))
    }

    /// The compiled Hessian-vector product and its inputs, compiled on
    /// first request.
    fn hess_vec_code(&self) -> Result<&(LoopCode, InputBuffers)> {
        let lazy = &*self.hessian;
        let code = lazy
            .hess_vec
            .get_or_init(|| lazy.with_formula(Formula::compile_hess_vec));
        code.as_ref().map_err(Clone::clone)
    }

    /// The sparse Hessian's pattern and the grouping of its columns into
    /// products, found on first request.
    fn hessian_pattern(&self) -> Result<&Grouping> {
        let lazy = &*self.hessian;
        let pattern = lazy
            .pattern
            .get_or_init(|| lazy.with_formula(|f| Ok(Grouping::new(&f.hessian_pattern()?))));
        pattern.as_ref().map_err(Clone::clone)
    }

    /// The value code of a formula without arrays, compiled on first use.
    fn value_code<'a>(&self, value: &'a OnceLock<Result<Compiled>>) -> Result<&'a Compiled> {
        let code = value.get_or_init(|| {
            self.hessian.with_formula(|formula| {
                Compiled::compile(formula.graph(), &[formula.value()], formula.n_vars())
            })
        });
        code.as_ref().map_err(Clone::clone)
    }

    fn hessian_code(&self) -> Result<&Compiled> {
        let lazy = &*self.hessian;
        let code = lazy.code.get_or_init(|| {
            lazy.with_formula(|formula| {
                let entries: Vec<NodeId> = formula.hessian()?.into_iter().flatten().collect();
                Compiled::compile(formula.graph(), &entries, formula.n_vars())
            })
        });
        code.as_ref().map_err(Clone::clone)
    }

    /// The Hessian at `x` times `v` (each of one value per variable), by
    /// native code compiled on first use: loops of the size of the formula
    /// whatever the arrays' sizes, costing a few gradients (see
    /// [`Formula::hess_vec`], whose numbers these are to the bit). An
    /// error if a length is wrong or the product is over the formula's
    /// size limits. [`Objective::hess_vec`] is the same product into the
    /// caller's buffer, unchecked, once [`Objective::prepare_hess_vec`]
    /// has compiled it.
    ///
    /// ```
    /// let f = slope::Formula::parse("param n = 3\nvar x[1..n]\nsum(i in 1..n, x[i]^3)")?;
    /// let code = f.compile()?;
    /// let hv = code.hessian_times(&[1.0, 2.0, 3.0], &[1.0, 1.0, 1.0])?;
    /// assert_eq!(hv, [6.0, 12.0, 18.0]);
    /// # Ok::<(), slope::Error>(())
    /// ```
    pub fn hessian_times(&self, x: &[f64], v: &[f64]) -> Result<Vec<f64>> {
        self.check_len(x)?;
        check_len("the direction", v.len(), self.vars.len())?;
        let (code, inputs) = self.hess_vec_code()?;
        let mut out = vec![0.0; x.len()];
        code.call_hess_vec(inputs, x, v, &mut out);
        Ok(out)
    }

    /// The Hessian at `x`, sparse, from a few compiled Hessian-vector
    /// products (see [`Formula::sparse_hessian`], whose pattern and
    /// grouping this shares; both are found on first use and kept).
    pub fn sparse_hessian(&self, x: &[f64]) -> Result<SparseHessian> {
        self.check_len(x)?;
        let pattern = self.hessian_pattern()?;
        let (code, inputs) = self.hess_vec_code()?;
        crate::sparse_hessian::from_products(pattern, |v, out| {
            code.call_hess_vec(inputs, x, v, out);
            Ok(())
        })
    }
}

impl Objective for CompiledFormula {
    fn n_vars(&self) -> usize {
        self.vars.len()
    }

    fn value(&mut self, x: &[f64]) -> f64 {
        self.value_of(x)
    }

    fn value_grad(&mut self, x: &[f64], grad: &mut [f64]) -> f64 {
        self.value_grad_into(x, grad)
    }

    /// An indexed formula's dense Hessian is its sparse one, from
    /// compiled products: refused past the node limit on `n*n`.
    fn prepare_hessian(&mut self) -> Result<bool> {
        if let Code::Loops { .. } = self.code {
            self.check_dense()?;
            self.hessian_pattern()?;
            return self.hess_vec_code().map(|_| true);
        }
        self.hessian_code().map(|_| true)
    }

    fn n_constraints(&self) -> usize {
        self.n_constraints
    }

    fn has_kinks(&self) -> bool {
        self.kinked
    }

    fn hessian(&mut self, x: &[f64], hessian: &mut [f64]) -> bool {
        if let Code::Loops { .. } = self.code {
            let ready = matches!(self.hessian.hess_vec.get(), Some(Ok(_)))
                && matches!(self.hessian.pattern.get(), Some(Ok(_)))
                && self.check_dense().is_ok();
            let Some(sparse) = ready.then(|| self.sparse_hessian(x).ok()).flatten() else {
                return false;
            };
            hessian.fill(0.0);
            let n = x.len();
            for (i, j, v) in sparse.entries() {
                hessian[i * n + j] = v;
                hessian[j * n + i] = v;
            }
            return true;
        }
        match self.hessian.code.get() {
            Some(Ok(code)) => {
                code.call(x, hessian);
                true
            }
            _ => false,
        }
    }

    /// Products by compiled code of the product itself (the gradient of
    /// `∇f·v`, loops for an indexed formula): a few gradients' cost, and
    /// no `n × n` matrix anywhere.
    fn prepare_hess_vec(&mut self) -> Result<bool> {
        self.hess_vec_code().map(|_| true)
    }

    fn hess_vec(&mut self, x: &[f64], v: &[f64], out: &mut [f64]) -> bool {
        let Some(Ok((code, inputs))) = self.hessian.hess_vec.get() else {
            return false;
        };
        code.call_hess_vec(inputs, x, v, out);
        true
    }

    /// An indexed formula's pattern, from the gradient's loops, with the
    /// compiled product its entries come from (a few products a step:
    /// 3 for a tridiagonal Hessian at any `n`).
    fn prepare_sparse_hessian(&mut self) -> Result<Option<SparseHessian>> {
        if let Code::Native { .. } = self.code {
            return Ok(None);
        }
        self.hess_vec_code()?;
        Ok(Some(self.hessian_pattern()?.pattern()))
    }

    fn sparse_hessian_values(&mut self, x: &[f64], values: &mut [f64]) -> bool {
        let (Some(Ok((code, inputs))), Some(Ok(grouping))) =
            (self.hessian.hess_vec.get(), self.hessian.pattern.get())
        else {
            return false;
        };
        let n = x.len();
        self.products.resize(2 * n, 0.0);
        let (direction, product) = self.products.split_at_mut(n);
        let filled = grouping.fill(values, direction, product, |v, out| {
            code.call_hess_vec(inputs, x, v, out);
            Ok(())
        });
        filled.is_ok()
    }

    fn native(&self) -> Option<Native<'_>> {
        match &self.code {
            Code::Native { value_grad, .. } => Some(Native {
                code: value_grad,
                negate: false,
            }),
            Code::Loops { .. } => None,
        }
    }
}
