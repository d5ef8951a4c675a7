//! `slope.Function`: a formula compiled to native code, as Python sees it.
//!
//! Single points are read into a small vector and answered with the GIL
//! held (a compiled call takes nanoseconds; releasing the GIL would cost
//! more). Batches release the GIL and split the rows over rayon's threads,
//! each with its own clone of the compiled code (clones share the code and
//! own their buffers). The object is immutable (`frozen`), so threads may
//! share it; it pickles as its text and options and compiles again where
//! it is unpickled.

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyNotImplementedError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use rayon::prelude::*;

use super::{float_array, formula_error, read_point, shape_text, to_py};
use crate::{CompiledFormula, Formula, Objective, Options};

/// Rows of a batch one rayon task evaluates: large enough that the clone
/// of the compiled code and the task's scheduling are a small part of it.
const ROWS_PER_TASK: usize = 4096;

/// A batch's values (shape `(m,)`) and gradients (shape `(m, n)`).
type ValuesAndGrads<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray2<f64>>);

/// A formula compiled to native code: value, gradient and Hessian.
///
/// Made by :func:`slope.compile`. Points are lists, tuples or 1-D NumPy
/// arrays with one value per variable, in the order of ``vars``; batches
/// are 2-D arrays with one point per row. Results are floats and NumPy
/// arrays. A point of the wrong length or shape raises ``ValueError``.
#[pyclass(frozen, module = "slope._slope")]
pub struct Function {
    /// The formula: text, variables, graph and gradient, for printing.
    formula: Formula,
    /// Its native code.
    compiled: CompiledFormula,
    /// The variable order the caller gave, if any, for pickling.
    given_vars: Option<Vec<String>>,
}

/// Refuses what the library cannot read yet: parameters and data belong to
/// indexed formulas, which slope does not have yet.
fn refuse_indexed(
    params: Option<&Bound<'_, PyAny>>,
    data: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    for (name, given) in [("params", params), ("data", data)] {
        if let Some(value) = given
            && !value.is_none()
            && value.len().map_or(true, |n| n > 0)
        {
            return Err(PyNotImplementedError::new_err(format!(
                "'{name}' belongs to indexed formulas, which slope cannot read yet; \
                 write the values into the formula's text for now"
            )));
        }
    }
    Ok(())
}

fn build(py: Python<'_>, text: &str, vars: Option<Vec<String>>) -> PyResult<Function> {
    let options = Options {
        vars: vars.clone(),
        ..Options::default()
    };
    let formula = py
        .detach(|| Formula::parse_with(text, &options))
        .map_err(|e| formula_error(py, &e, text))?;
    let compiled = formula.compile().map_err(|e| formula_error(py, &e, text))?;
    Ok(Function {
        formula,
        compiled,
        given_vars: vars,
    })
}

/// Parses ``text``, derives its gradient exactly and compiles value and
/// gradient to native code (the Hessian follows on first use).
///
/// ``vars`` fixes the order of the variables (it must name every variable
/// of the formula and may name more); by default they come in the order
/// they first appear. ``params`` and ``data`` are for indexed formulas,
/// which slope cannot read yet: giving either raises
/// ``NotImplementedError``. A formula that does not read raises
/// :class:`slope.FormulaError`.
///
/// >>> f = slope.compile("(1-x)^2 + 100*(y-x^2)^2")
/// >>> f.vars
/// ['x', 'y']
#[pyfunction]
#[pyo3(signature = (text, params=None, data=None, *, vars=None))]
pub fn compile(
    py: Python<'_>,
    text: &str,
    params: Option<&Bound<'_, PyAny>>,
    data: Option<&Bound<'_, PyAny>>,
    vars: Option<Vec<String>>,
) -> PyResult<Function> {
    refuse_indexed(params, data)?;
    build(py, text, vars)
}

/// What unpickling calls: :func:`compile` with positional arguments.
#[pyfunction]
#[pyo3(name = "_rebuild", signature = (text, params, data, vars))]
pub fn rebuild(
    py: Python<'_>,
    text: &str,
    params: Option<&Bound<'_, PyAny>>,
    data: Option<&Bound<'_, PyAny>>,
    vars: Option<Vec<String>>,
) -> PyResult<Function> {
    compile(py, text, params, data, vars)
}

impl Function {
    /// The compiled code, for `minimize`.
    pub(super) fn compiled(&self) -> &CompiledFormula {
        &self.compiled
    }

    /// `X` as rows of one point each, checked against the variables.
    fn rows<'py>(&self, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, numpy::PyArrayDyn<f64>>> {
        let array = float_array(x, "the batch")?;
        let n = self.compiled.vars().len();
        let shape = array.shape();
        if shape.len() != 2 || shape[1] != n {
            return Err(PyValueError::new_err(format!(
                "the batch must be a 2-D array with one row per point and {n} columns \
                 (one per variable), not one of shape {}",
                shape_text(shape)
            )));
        }
        Ok(array)
    }

    /// Fills `out`, `width` values per row of `xs`, on all cores without
    /// the GIL: `fill(objective, row, out_row)`.
    fn par_rows(
        &self,
        py: Python<'_>,
        xs: &[f64],
        out: &mut [f64],
        width: usize,
        fill: impl Fn(&mut CompiledFormula, &[f64], &mut [f64]) + Sync,
    ) {
        let n = self.compiled.vars().len();
        let compiled = &self.compiled;
        py.detach(|| {
            if n == 0 {
                // No variables: every row is the empty point.
                let mut f = compiled.clone();
                out.chunks_mut(width).for_each(|o| fill(&mut f, &[], o));
                return;
            }
            out.par_chunks_mut(ROWS_PER_TASK * width)
                .zip(xs.par_chunks(ROWS_PER_TASK * n))
                .for_each_init(
                    || compiled.clone(),
                    |f, (o, x)| {
                        for (o, row) in o.chunks_mut(width).zip(x.chunks_exact(n)) {
                            fill(f, row, o);
                        }
                    },
                );
        });
    }
}

#[pymethods]
impl Function {
    /// The variables, in the order points give their values.
    #[getter]
    fn vars(&self) -> Vec<String> {
        self.compiled.vars().to_vec()
    }

    /// The formula's text, as given.
    #[getter]
    fn text(&self) -> &str {
        self.formula.source()
    }

    /// f(x) as a float.
    fn __call__(&self, x: &Bound<'_, PyAny>) -> PyResult<f64> {
        let x = read_point(x)?;
        self.compiled.value(&x).map_err(|e| to_py(&e))
    }

    /// The gradient at ``x`` as a 1-D array.
    fn grad<'py>(&self, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (_, g) = self.value_grad(x)?;
        Ok(PyArray1::from_slice(x.py(), &g))
    }

    /// ``(f(x), gradient)``: a float and a 1-D array, as
    /// ``scipy.optimize.minimize(f.value_and_grad, x0, jac=True)`` wants.
    fn value_and_grad<'py>(
        &self,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<(f64, Bound<'py, PyArray1<f64>>)> {
        let (v, g) = self.value_grad(x)?;
        Ok((v, PyArray1::from_slice(x.py(), &g)))
    }

    /// The Hessian at ``x`` as a dense 2-D array, compiled on first use.
    fn hess<'py>(&self, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let py = x.py();
        let point = read_point(x)?;
        let n = point.len();
        let h = self.compiled.hessian(&point).map_err(|e| to_py(&e))?;
        PyArray1::from_vec(py, h).reshape([n, n])
    }

    /// f at each row of ``X`` (shape ``(m, n)``) as a 1-D array of ``m``
    /// values, on all cores with the GIL released. ``X`` must not be
    /// written by another thread meanwhile.
    #[pyo3(name = "batch")]
    fn batch<'py>(&self, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let py = x.py();
        let rows = self.rows(x)?;
        let m = rows.shape()[0];
        let readonly = rows.readonly();
        let xs = readonly.as_slice()?;
        let mut out = vec![0.0; m];
        self.par_rows(py, xs, &mut out, 1, |f, row, o| {
            o[0] = Objective::value(f, row)
        });
        Ok(PyArray1::from_vec(py, out))
    }

    /// The gradient at each row of ``X`` (shape ``(m, n)``) as an ``(m, n)``
    /// array, on all cores with the GIL released.
    fn batch_grad<'py>(&self, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let (_, grads) = self.batch_value_grad(x)?;
        Ok(grads)
    }

    /// ``(values, gradients)`` at each row of ``X``: arrays of shape ``(m,)``
    /// and ``(m, n)``, on all cores with the GIL released.
    fn batch_value_and_grad<'py>(&self, x: &Bound<'py, PyAny>) -> PyResult<ValuesAndGrads<'py>> {
        self.batch_value_grad(x)
    }

    /// The partial derivatives in slope syntax: ``{name: text}`` in the
    /// order of ``vars``.
    fn diff<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (name, &d) in self.formula.vars().iter().zip(self.formula.gradient()) {
            let text = self.formula.to_slope(d).map_err(|e| to_py(&e))?;
            out.set_item(name, text)?;
        }
        Ok(out)
    }

    /// The formula in LaTeX.
    fn latex(&self) -> PyResult<String> {
        self.formula
            .to_latex(self.formula.value())
            .map_err(|e| to_py(&e))
    }

    fn __repr__(&self) -> String {
        format!("slope.compile({:?})", self.formula.source())
    }

    /// Pickles as the text and options; unpickling compiles again.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let rebuild = py.import("slope._slope")?.getattr("_rebuild")?;
        let none = py.None();
        let args = (
            self.formula.source(),
            none.clone_ref(py),
            none,
            self.given_vars.clone(),
        )
            .into_pyobject(py)?;
        Ok((rebuild, args))
    }
}

impl Function {
    fn value_grad(&self, x: &Bound<'_, PyAny>) -> PyResult<(f64, Vec<f64>)> {
        let x = read_point(x)?;
        self.compiled.value_grad(&x).map_err(|e| to_py(&e))
    }

    fn batch_value_grad<'py>(&self, x: &Bound<'py, PyAny>) -> PyResult<ValuesAndGrads<'py>> {
        let py = x.py();
        let rows = self.rows(x)?;
        let m = rows.shape()[0];
        let n = self.compiled.vars().len();
        let readonly = rows.readonly();
        let xs = readonly.as_slice()?;
        let mut out = vec![0.0; m * (n + 1)];
        self.par_rows(py, xs, &mut out, n + 1, |f, row, o| {
            let (v, g) = o.split_at_mut(1);
            v[0] = Objective::value_grad(f, row, g);
        });
        let mut values = Vec::with_capacity(m);
        let mut grads = Vec::with_capacity(m * n);
        for row in out.chunks_exact(n + 1) {
            values.push(row[0]);
            grads.extend_from_slice(&row[1..]);
        }
        let grads = PyArray1::from_vec(py, grads).reshape([m, n])?;
        Ok((PyArray1::from_vec(py, values), grads))
    }
}
