//! `slope.Function`: a formula compiled to native code, as Python sees it.
//!
//! Single points are read into a small vector and answered with the GIL
//! held (a compiled call takes nanoseconds; releasing the GIL would cost
//! more). Batches release the GIL and split the rows over rayon's threads;
//! each thread hands its rows to the compiled code at once, which walks
//! them in one native loop (for formulas without arrays) and writes into
//! the arrays Python gets, with no per-point call or copy. The object is immutable (`frozen`), so threads may
//! share it; it pickles as its text and options and compiles again where
//! it is unpickled.

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyImportError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use rayon::prelude::*;

use super::{
    float_array, formula_error, pool, read_borrow, read_point, read_values, shape_text, to_py,
    write_borrow,
};

use crate::{CompiledFormula, ErrorKind, Formula, Options, SparseHessian};

/// Rows of a batch one rayon task evaluates: large enough that the task's
/// scheduling is a small part of it, small enough that two threads share
/// a batch of some ten thousand rows.
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
    /// The parameter values given (over the text's), for binding again
    /// and pickling.
    params: Vec<(String, f64)>,
    /// The data columns given, for binding again and pickling.
    data: Vec<(String, Vec<f64>)>,
}

/// Parameter values by name, from a dict of numbers (None: none).
fn read_params(params: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, f64)>> {
    let Some(params) = params.filter(|p| !p.is_none()) else {
        return Ok(Vec::new());
    };
    let dict = params
        .cast::<PyDict>()
        .map_err(|_| PyTypeError::new_err("params must be a dict of name: number"))?;
    let mut out = Vec::with_capacity(dict.len());
    for (key, value) in dict.iter() {
        let name: String = key
            .extract()
            .map_err(|_| PyTypeError::new_err("params must be a dict of name: number"))?;
        let value: f64 = value.extract().map_err(|_| {
            PyTypeError::new_err(format!("the parameter '{name}' must be a number"))
        })?;
        out.push((name, value));
    }
    Ok(out)
}

/// Data columns by name, from a dict of 1-D array-likes (None: none).
/// The library keeps its own copy of each column.
fn read_data(data: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, Vec<f64>)>> {
    let Some(data) = data.filter(|d| !d.is_none()) else {
        return Ok(Vec::new());
    };
    let dict = data
        .cast::<PyDict>()
        .map_err(|_| PyTypeError::new_err("data must be a dict of name: 1-D array"))?;
    let mut out = Vec::with_capacity(dict.len());
    for (key, value) in dict.iter() {
        let name: String = key
            .extract()
            .map_err(|_| PyTypeError::new_err("data must be a dict of name: 1-D array"))?;
        out.push((name.clone(), read_column(&value, &name)?));
    }
    Ok(out)
}

/// One column of numbers: a 1-D array-like.
pub(super) fn read_column(value: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<f64>> {
    let array = float_array(value, &format!("the column '{name}'"))?;
    if array.ndim() != 1 {
        return Err(PyValueError::new_err(format!(
            "the column '{name}' must be a 1-D array, not one of shape {}",
            shape_text(array.shape())
        )));
    }
    Ok(read_borrow(&array, &format!("the column '{name}'"))?
        .as_array()
        .iter()
        .copied()
        .collect())
}

/// `old` with the entries of `new` put over it, by name.
fn merge<T: Clone>(old: &[(String, T)], new: Vec<(String, T)>) -> Vec<(String, T)> {
    let mut out: Vec<(String, T)> = old
        .iter()
        .filter(|(name, _)| !new.iter().any(|(n, _)| n == name))
        .cloned()
        .collect();
    out.extend(new);
    out
}

fn build(
    py: Python<'_>,
    text: &str,
    vars: Option<Vec<String>>,
    params: Vec<(String, f64)>,
    data: Vec<(String, Vec<f64>)>,
) -> PyResult<Function> {
    let options = Options {
        vars: vars.clone(),
        params,
        data,
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
        params: options.params,
        data: options.data,
    })
}

/// Parses ``text``, derives its gradient exactly and compiles value and
/// gradient to native code (the Hessian follows on first use).
///
/// ``vars`` fixes the order of the variables (it must name every variable
/// of the formula and may name more); by default they come in the order
/// they first appear. ``params`` (``{name: number}``) overrides the
/// values of the formula's ``param`` statements; ``data``
/// (``{name: 1-D array}``) binds the columns its ``data`` statements name.
/// An array of variables is flattened into ``vars`` (``x[1]``, ``x[2]``,
/// ...) for the bound sizes. A formula that does not read, an unknown
/// parameter, a missing column, columns of different lengths or an index
/// outside its array's extent raise :class:`slope.FormulaError` (a
/// ``ValueError``).
///
/// >>> f = slope.compile("(1-x)^2 + 100*(y-x^2)^2")
/// >>> f.vars
/// ['x', 'y']
/// >>> g = slope.compile("param n = 3\nvar x[1..n]\nsum(i in 1..n, (x[i] - i)^2)", params={"n": 2})
/// >>> g.vars
/// ['x[1]', 'x[2]']
#[pyfunction]
#[pyo3(signature = (text, params=None, data=None, *, vars=None))]
pub fn compile(
    py: Python<'_>,
    text: &str,
    params: Option<&Bound<'_, PyAny>>,
    data: Option<&Bound<'_, PyAny>>,
    vars: Option<Vec<String>>,
) -> PyResult<Function> {
    let params = read_params(params)?;
    let data = read_data(data)?;
    build(py, text, vars, params, data)
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

    /// The formula, bound to its parameters and data, for `minimize`.
    pub(super) fn formula(&self) -> &Formula {
        &self.formula
    }

    /// `X` as rows of one point each, checked against the variables.
    fn rows<'py>(&self, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, numpy::PyArrayDyn<f64>>> {
        let array = float_array(x, "the batch")?;
        let n = self.compiled.var_names().len();
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

    /// Fills `values` (one per row of `xs`) and, if given, `grads` (one
    /// row of one value per variable for each), without the GIL: each task
    /// hands its rows to the compiled code at once, which loops over them
    /// natively (see `CompiledFormula::values_of_rows`) and writes straight
    /// into the arrays Python gets. A batch of more than one task's rows
    /// runs on slope's own pool (see `pool.rs`: rayon's global pool hangs
    /// in a forked child); a smaller one on the calling thread, which
    /// spares it the hand-over to a worker.
    fn par_rows(
        &self,
        py: Python<'_>,
        xs: &[f64],
        values: &mut [f64],
        grads: Option<&mut [f64]>,
    ) -> PyResult<()> {
        let n = self.compiled.var_names().len();
        let f = &self.compiled;
        let rows_of =
            |t: usize, len: usize| &xs[t * ROWS_PER_TASK * n..(t * ROWS_PER_TASK + len) * n];
        // No variables: no gradients to split the rows by.
        let inline = values.len() <= ROWS_PER_TASK || (grads.is_some() && n == 0);
        let run = || match grads {
            None if inline => f.values_of_rows(xs, values),
            None => values
                .par_chunks_mut(ROWS_PER_TASK)
                .enumerate()
                .try_for_each(|(t, v)| f.values_of_rows(rows_of(t, v.len()), v)),
            Some(grads) if inline => f.values_grads_of_rows(xs, values, grads),
            Some(grads) => values
                .par_chunks_mut(ROWS_PER_TASK)
                .zip(grads.par_chunks_mut(ROWS_PER_TASK * n))
                .enumerate()
                .try_for_each(|(t, (v, g))| f.values_grads_of_rows(rows_of(t, v.len()), v, g)),
        };
        let result = if inline {
            py.detach(run)
        } else {
            let pool = pool::pool(py)?;
            py.detach(|| pool.install(run))
        };
        result.map_err(|e| to_py(&e))
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

    /// The parameter values given to :func:`compile` or :meth:`bind`
    /// (those not given keep their values in the text).
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.params_dict(py)
    }

    /// The data columns bound, ``{name: 1-D array}`` (copies).
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.data_dict(py)
    }

    /// The variable order given to :func:`compile` (``vars=``), or None.
    #[getter]
    fn given_vars(&self) -> Option<Vec<String>> {
        self.given_vars.clone()
    }

    /// The ``subject to`` statements, as many as the formula has.
    #[getter]
    fn n_constraints(&self) -> usize {
        self.formula.constraints().len()
    }

    /// A new function from the same formula with parameters and data bound
    /// again, without parsing, differentiating or compiling again (the
    /// compiled loops read sizes, parameters and data at run time): ``params`` and
    /// ``data`` are put over those bound now (by name), and ``vars``
    /// follows the new sizes. This object is left as it was (functions
    /// are immutable, so threads may share them). Errors as
    /// :func:`compile`'s, and a ``data`` name the formula's ``data``
    /// statements do not declare raises ``ValueError`` (the old column
    /// would stay in use).
    ///
    /// >>> f = slope.compile("data t, y\nsum(i in 1..rows, (y[i] - a*t[i])^2)", data={"t": [1, 2], "y": [2, 4]})
    /// >>> f.bind(data={"y": [3, 6]}).grad([0.0])
    /// array([-30.])
    #[pyo3(signature = (params=None, data=None))]
    fn bind(
        &self,
        py: Python<'_>,
        params: Option<&Bound<'_, PyAny>>,
        data: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Function> {
        let params = merge(&self.params, read_params(params)?);
        let new_data = read_data(data)?;
        // The merge keeps every column not given again, so a misspelled
        // name (`T` for `t`) would leave the old column in use unsaid: a
        // name the formula does not read is refused, as an unknown
        // parameter is.
        let declared = self.formula.data_names();
        if let Some((name, _)) = new_data.iter().find(|(n, _)| !declared.contains(n)) {
            let have = match declared.is_empty() {
                true => "it has no data statement".to_string(),
                false => format!("its data are {}", crate::quoted_list(declared)),
            };
            return Err(PyValueError::new_err(format!(
                "the formula reads no data column '{name}'; {have}"
            )));
        }
        let data = merge(&self.data, new_data);
        let text = self.formula.source();
        let mut formula = self.formula.clone();
        py.detach(|| formula.bind(&params, &data))
            .map_err(|e| formula_error(py, &e, text))?;
        let compiled = self
            .compiled
            .rebind(&formula)
            .map_err(|e| formula_error(py, &e, text))?;
        Ok(Function {
            formula,
            compiled,
            given_vars: self.given_vars.clone(),
            params,
            data,
        })
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

    /// The Hessian at ``x``, compiled on first use.
    ///
    /// For a formula with arrays of variables it is by default a
    /// ``scipy.sparse.csr_array`` (``csr_matrix`` on an older scipy)
    /// holding the whole symmetric matrix, both triangles: its pattern is
    /// read from the gradient's loops and its entries come from a few
    /// compiled Hessian-vector products, so a banded Hessian costs a
    /// handful of gradients whatever ``n`` and no ``n × n`` array is made.
    /// Other formulas give a dense ``(n, n)`` array. ``sparse=False``
    /// forces the dense array (refused with ``ValueError`` when its
    /// ``n*n`` entries are over the formula's node limit), ``sparse=True``
    /// the sparse one for any formula. Sparse needs scipy (``ImportError``
    /// without it). Works as ``scipy.optimize.minimize(..., hess=f.hess)``.
    ///
    /// >>> f = slope.compile("param n = 3\nvar x[1..n]\nsum(i in 1..n-1, (x[i+1] - x[i])^2)")
    /// >>> f.hess([0, 0, 0]).toarray()
    /// array([[ 2., -2.,  0.],
    ///        [-2.,  4., -2.],
    ///        [ 0., -2.,  2.]])
    #[pyo3(signature = (x, sparse=None))]
    fn hess<'py>(
        &self,
        x: &Bound<'py, PyAny>,
        sparse: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = x.py();
        let point = read_point(x)?;
        let n = point.len();
        if !sparse.unwrap_or_else(|| self.formula.has_arrays()) {
            let h = self.compiled.hessian(&point).map_err(|e| {
                // The library's hint names its Rust API.
                if e.kind == ErrorKind::Limit {
                    PyValueError::new_err(format!(
                        "{} (take it sparse, f.hess(x, sparse=True), or as products, \
                         f.hessp(x, p))",
                        e.message
                    ))
                } else {
                    to_py(&e)
                }
            })?;
            return Ok(PyArray1::from_vec(py, h).reshape([n, n])?.into_any());
        }
        let csr = scipy_csr(py)?;
        let compiled = &self.compiled;
        let lower = py
            .detach(|| compiled.sparse_hessian(&point))
            .map_err(|e| to_py(&e))?;
        let (data, indices, indptr) = both_triangles(&lower);
        let arrays = (
            PyArray1::from_vec(py, data),
            PyArray1::from_vec(py, indices),
            PyArray1::from_vec(py, indptr),
        );
        let kwargs = PyDict::new(py);
        kwargs.set_item("shape", (n, n))?;
        csr.call((arrays,), Some(&kwargs))
    }

    /// The Hessian at ``x`` times ``p``, a 1-D array, as
    /// ``scipy.optimize.minimize(..., hessp=f.hessp)`` wants: by native
    /// code of the product itself, compiled on first use (loops for a
    /// formula with arrays), costing a few gradients and making no
    /// ``n × n`` matrix. ``x`` and ``p`` each hold one value per variable
    /// (``ValueError`` otherwise).
    ///
    /// >>> f = slope.compile("param n = 3\nvar x[1..n]\nsum(i in 1..n, x[i]^3)")
    /// >>> f.hessp([1, 2, 3], [1, 1, 1])
    /// array([ 6., 12., 18.])
    fn hessp<'py>(
        &self,
        x: &Bound<'py, PyAny>,
        p: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let py = x.py();
        let point = read_point(x)?;
        let direction = read_values(p, "p")?;
        let hv = self
            .compiled
            .hessian_times(&point, &direction)
            .map_err(|e| to_py(&e))?;
        Ok(PyArray1::from_vec(py, hv))
    }

    /// f at each row of ``X`` (shape ``(m, n)``) as a 1-D array of ``m``
    /// values, on all cores with the GIL released. ``out``, a writable
    /// C-contiguous float64 array of ``m`` values, receives them instead of
    /// a new array (NumPy's ``out=``: a loop over many batches then
    /// allocates nothing) and is returned; an ``out`` sharing memory with
    /// ``X`` gets the values of a copy of ``X``, as NumPy's ufuncs do. An
    /// ``X`` another thread's batch writes meanwhile (as its ``out``), or
    /// an ``out`` another thread's batch uses, is a ``ValueError``.
    #[pyo3(name = "batch", signature = (x, out=None))]
    fn batch<'py>(
        &self,
        x: &Bound<'py, PyAny>,
        out: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let py = x.py();
        let rows = self.rows(x)?;
        let Some(out) = out else {
            // Unfilled, as `numpy.empty`: `zeros` takes fresh pages for a
            // large array, each a fault when first written (10⁶ values of
            // Rosenbrock: 0.46 ms into `zeros`, 0.28 into `empty`).
            // SAFETY: `par_rows` writes every element before the array is
            // returned; on an error the array is dropped unread.
            let values = unsafe { PyArray1::new(py, rows.shape()[0], false) };
            self.rows_into(py, &rows, &values)?;
            return Ok(values);
        };
        let values = out_array(out, rows.shape()[0])?;
        // `out` over `X`'s own memory: the rows are read from a copy, as
        // NumPy's ufuncs do, since the values would overwrite rows not yet
        // read (and the borrows of one array as both would conflict).
        let rows = if overlap(&rows, &values) {
            rows.call_method0("copy")?
                .cast_into::<numpy::PyArrayDyn<f64>>()?
        } else {
            rows
        };
        self.rows_into(py, &rows, &values)?;
        Ok(values)
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

    /// The partial derivatives in slope syntax, as ``slope diff`` prints
    /// them: ``{name: text}`` for each scalar variable, in the order of
    /// ``vars``, then for each array of variables ``x`` the key
    /// ``"x[k]"`` (the index ``k``, or ``m`` where the formula uses ``k``)
    /// with the terms of ``df/dx[k]`` as a list of ``(text, where)``
    /// pairs: ``where`` is the range of ``k`` the term holds on (``"k in
    /// 1..n-1"``, ``"k = 2"``), or for a term added by a loop to other
    /// elements, that loop (``"the element x[2*i], for i in 1..n"``).
    /// The partial of an element is the sum of the terms whose range holds
    /// it; an array the formula does not vary by has an empty list.
    ///
    /// >>> slope.compile("param n = 3\nvar x[1..n]\nsum(i in 1..n-1, (x[i+1] - x[i])^2)").diff()
    /// {'x[k]': [('-2*(x[k+1] - x[k])', 'k in 1..n-1'), ('2*(x[k] - x[k-1])', 'k in 2..n')]}
    fn diff<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (name, &d) in self.formula.vars().iter().zip(self.formula.gradient()) {
            let text = self.formula.to_slope(d).map_err(|e| to_py(&e))?;
            out.set_item(name, text)?;
        }
        if self.formula.has_arrays() {
            let k = self.formula.partial_index();
            for (array, terms) in self.formula.array_partials(false).map_err(|e| to_py(&e))? {
                let terms: Vec<(String, Option<String>)> =
                    terms.into_iter().map(|t| (t.text, t.range)).collect();
                out.set_item(format!("{array}[{k}]"), terms)?;
            }
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
        let args = (
            self.formula.source(),
            self.params_dict(py)?,
            self.data_dict(py)?,
            self.given_vars.clone(),
        )
            .into_pyobject(py)?;
        Ok((rebuild, args))
    }
}

/// `scipy.sparse.csr_array`, or `csr_matrix` on a scipy without it; an
/// `ImportError` that says what to do without scipy.
fn scipy_csr(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let module = py.import("scipy.sparse").map_err(|e| {
        PyImportError::new_err(format!(
            "a sparse Hessian needs scipy ({e}): pip install scipy, \
             or ask for the dense one with f.hess(x, sparse=False)"
        ))
    })?;
    module
        .getattr("csr_array")
        .or_else(|_| module.getattr("csr_matrix"))
}

/// The whole symmetric matrix in compressed sparse rows, `(data, indices,
/// indptr)`, from its lower triangle: row `i` holds its own entries
/// (columns up to `i`, in order), then the mirror of each entry below the
/// diagonal in column `i`, met in increasing rows, so every row's columns
/// stay sorted, as scipy prefers.
fn both_triangles(lower: &SparseHessian) -> (Vec<f64>, Vec<i64>, Vec<i64>) {
    let n = lower.n();
    let mut counts = vec![0usize; n];
    for (i, j, _) in lower.entries() {
        counts[i] += 1;
        if j != i {
            counts[j] += 1;
        }
    }
    let mut indptr = Vec::with_capacity(n + 1);
    indptr.push(0usize);
    for c in &counts {
        indptr.push(indptr.last().copied().unwrap_or(0) + c);
    }
    let nnz = indptr[n];
    let mut data = vec![0.0; nnz];
    let mut indices = vec![0i64; nnz];
    let mut next: Vec<usize> = indptr[..n].to_vec();
    let mut put = |row: usize, col: usize, v: f64| {
        data[next[row]] = v;
        indices[next[row]] = col as i64;
        next[row] += 1;
    };
    for (i, j, v) in lower.entries() {
        put(i, j, v);
    }
    for (i, j, v) in lower.entries() {
        if j != i {
            put(j, i, v);
        }
    }
    let indptr = indptr.into_iter().map(|k| k as i64).collect();
    (data, indices, indptr)
}

impl Function {
    fn params_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (name, value) in &self.params {
            out.set_item(name, value)?;
        }
        Ok(out)
    }

    fn data_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (name, column) in &self.data {
            out.set_item(name, PyArray1::from_slice(py, column))?;
        }
        Ok(out)
    }

    fn value_grad(&self, x: &Bound<'_, PyAny>) -> PyResult<(f64, Vec<f64>)> {
        let x = read_point(x)?;
        self.compiled.value_grad(&x).map_err(|e| to_py(&e))
    }

    /// The values at the rows of `rows` into `values`, both borrowed for
    /// the batch's time: a `ValueError` if another thread's batch writes
    /// the rows or uses `values`.
    fn rows_into(
        &self,
        py: Python<'_>,
        rows: &Bound<'_, numpy::PyArrayDyn<f64>>,
        values: &Bound<'_, PyArray1<f64>>,
    ) -> PyResult<()> {
        let xs = read_borrow(rows, "X")?;
        let mut out = write_borrow(values)?;
        self.par_rows(py, xs.as_slice()?, out.as_slice_mut()?, None)
    }

    fn batch_value_grad<'py>(&self, x: &Bound<'py, PyAny>) -> PyResult<ValuesAndGrads<'py>> {
        let py = x.py();
        let rows = self.rows(x)?;
        let (m, n) = (rows.shape()[0], rows.shape()[1]);
        // SAFETY: unfilled as in `batch`; `par_rows` writes every value
        // and every gradient component (a zero partial too) before they
        // are returned, and on an error they are dropped unread.
        let (values, grads) = unsafe {
            (
                PyArray1::new(py, m, false),
                PyArray2::new(py, [m, n], false),
            )
        };
        {
            let xs = read_borrow(&rows, "X")?;
            let (mut v, mut g) = (values.readwrite(), grads.readwrite());
            self.par_rows(
                py,
                xs.as_slice()?,
                v.as_slice_mut()?,
                Some(g.as_slice_mut()?),
            )?;
        }
        Ok((values, grads))
    }
}

/// Whether two arrays share memory: their spans of bytes meet. Both are
/// C-contiguous here, so a span is all of an array's elements.
fn overlap(a: &Bound<'_, numpy::PyArrayDyn<f64>>, b: &Bound<'_, PyArray1<f64>>) -> bool {
    let span = |start: *mut f64, len: usize| {
        let start = start as usize;
        (start, start + len * std::mem::size_of::<f64>())
    };
    let (a0, a1) = span(a.data(), a.len());
    let (b0, b1) = span(b.data(), b.len());
    a0 < b1 && b0 < a1
}

/// `out` as the array a batch of `m` values is written into: a
/// C-contiguous, aligned 1-D float64 array of length `m` (whether it can
/// be written is asked when it is borrowed, `write_borrow`); anything else
/// is a `ValueError` (a `TypeError` for what is not a float64 array)
/// naming what is wrong, since a converted copy would not be the caller's
/// array.
fn out_array<'py>(out: Bound<'py, PyAny>, m: usize) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let Ok(array) = out.cast_into::<PyArray1<f64>>() else {
        return Err(PyTypeError::new_err(
            "out must be a 1-D NumPy array of float64",
        ));
    };
    if array.len() != m {
        return Err(PyValueError::new_err(format!(
            "out has {} values; X has {m} rows",
            array.len()
        )));
    }
    if !array.is_contiguous() || !array.is_aligned() {
        return Err(PyValueError::new_err(
            "out must be a C-contiguous, aligned array; pass a new array or out.copy()",
        ));
    }
    Ok(array)
}
