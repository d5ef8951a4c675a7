//! The Python module `slope._slope` (feature `python`), built by maturin
//! from `pyproject.toml`; `python/slope/__init__.py` wraps it as the
//! package `slope`. It speaks only through the front door (`slope::…`):
//!
//! - `function.rs`: `Function`, a compiled formula as Python sees it
//!   (call, gradient, Hessian, batches on all cores, printing, pickling);
//! - `minimize.rs`: a run of [`crate::minimize`] (or, for a formula with
//!   `subject to` statements, [`crate::minimize_constrained`]) from
//!   Python's arguments, its outcome as a dict for the package to wrap;
//! - `fit.rs`: a run of [`crate::fit`] on named columns, its table as a
//!   dict for `slope.fit` and `slope.curve_fit`;
//! - here: the module, errors as exceptions, arrays in and out.
//!
//! Invariant: nothing reaches Python as a panic. Every library error
//! becomes an exception ([`to_py`]): a formula that does not read is a
//! `FormulaError` (a `ValueError`) carrying the caret rendering and the
//! line, column, kind and hint; a wrong shape or option is a `ValueError`.

mod fit;
mod function;
mod minimize;

use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{
    PyFloatingPointError, PyOSError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::{Error, ErrorKind};

pyo3::create_exception!(
    slope,
    FormulaError,
    PyValueError,
    "A formula that does not read: its message is the error rendered with a caret \
     under the place, and `line`, `column` (1-based, or None), `kind` (\"syntax\", \
     \"name\", \"arity\", \"index\", \"limit\", \"usage\", \"shape\"), `hint` (or None) and `message` (one \
     line) say the same for programs."
);

/// The name Python sees for an error kind.
fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Syntax => "syntax",
        ErrorKind::Name => "name",
        ErrorKind::Arity => "arity",
        ErrorKind::Index => "index",
        ErrorKind::Limit => "limit",
        ErrorKind::Usage => "usage",
        ErrorKind::Shape => "shape",
        ErrorKind::NotFinite => "not-finite",
        ErrorKind::Io => "io",
        ErrorKind::Internal => "internal",
    }
}

/// An error from reading the formula `source`: a `FormulaError` with the
/// caret rendering as its message, unless it is a bug (`RuntimeError`).
fn formula_error(py: Python<'_>, err: &Error, source: &str) -> PyErr {
    if err.kind == ErrorKind::Internal {
        return to_py(err);
    }
    let rendered = err.render(source, "<formula>");
    let exc = FormulaError::new_err(rendered.trim_end().to_string());
    let value = exc.value(py);
    let (line, column) = match err.span {
        Some(span) => {
            let (line, column) = span.line_col(source);
            (Some(line), Some(column))
        }
        None => (None, None),
    };
    let set = || -> PyResult<()> {
        value.setattr("line", line)?;
        value.setattr("column", column)?;
        value.setattr("kind", kind_name(err.kind))?;
        value.setattr("hint", err.hint.as_deref())?;
        value.setattr("message", err.message.as_str())
    };
    if let Err(e) = set() {
        return e;
    }
    exc
}

/// Any other library error as the Python exception that fits its kind.
fn to_py(err: &Error) -> PyErr {
    let text = err.to_string();
    match err.kind {
        ErrorKind::Shape
        | ErrorKind::Index
        | ErrorKind::Usage
        | ErrorKind::Syntax
        | ErrorKind::Name
        | ErrorKind::Arity
        | ErrorKind::Limit => PyValueError::new_err(text),
        ErrorKind::NotFinite => PyFloatingPointError::new_err(text),
        ErrorKind::Io => PyOSError::new_err(text),
        ErrorKind::Internal => PyRuntimeError::new_err(text),
    }
}

/// The shape of an array as Python prints it: `(2, 3)`.
fn shape_text(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(ToString::to_string).collect();
            format!("({})", parts.join(", "))
        }
    }
}

/// `x` as an aligned array of float64 in C order: NumPy's
/// `ascontiguousarray`, so an array that already is one is not copied, and
/// anything NumPy reads (lists, tuples, integer arrays, scalars) is
/// converted; an unaligned one (as a pickled array can arrive) is copied.
/// An error names `what`.
fn float_array<'py>(x: &Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let py = x.py();
    let np = py.import("numpy")?;
    let converted = np
        .getattr("ascontiguousarray")?
        .call1((x, np.getattr("float64")?))
        .map_err(|e| PyTypeError::new_err(format!("{what} is not an array of numbers: {e}")))?
        .cast_into::<PyArrayDyn<f64>>()?;
    if converted.is_aligned() {
        Ok(converted)
    } else {
        Ok(converted
            .call_method0("copy")?
            .cast_into::<PyArrayDyn<f64>>()?)
    }
}

/// A point: one value per variable, from a list, a tuple or a 1-D array.
/// The common cases (a float64 array, a list or tuple of numbers) are read
/// without NumPy's conversion, which costs more than a compiled call.
fn read_point(x: &Bound<'_, PyAny>) -> PyResult<Vec<f64>> {
    // An unaligned array (as a pickled one can arrive, in a Dask worker)
    // takes the slow path, which copies it into aligned memory.
    if let Ok(array) = x.cast::<PyArray1<f64>>()
        && array.is_aligned()
    {
        // A copy straight from contiguous memory skips the borrow
        // bookkeeping of `readonly`, a third of the call's cost.
        return match array.to_vec() {
            Ok(values) => Ok(values),
            Err(_) => Ok(array.readonly().as_array().to_vec()),
        };
    }
    if (x.is_instance_of::<PyList>() || x.is_instance_of::<PyTuple>())
        && let Ok(values) = x.extract::<Vec<f64>>()
    {
        return Ok(values);
    }
    let array = float_array(x, "the point")?;
    if array.ndim() != 1 {
        return Err(PyValueError::new_err(format!(
            "the point must be a 1-D array, not one of shape {}",
            shape_text(array.shape())
        )));
    }
    Ok(array.readonly().as_array().iter().copied().collect())
}

/// The Python module `slope._slope`.
#[pymodule]
#[pyo3(name = "_slope")]
fn slope_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("FormulaError", m.py().get_type::<FormulaError>())?;
    m.add_class::<function::Function>()?;
    m.add_function(wrap_pyfunction!(function::compile, m)?)?;
    m.add_function(wrap_pyfunction!(function::rebuild, m)?)?;
    m.add_function(wrap_pyfunction!(minimize::minimize, m)?)?;
    m.add_function(wrap_pyfunction!(minimize::minimize_constrained, m)?)?;
    m.add_function(wrap_pyfunction!(fit::fit, m)?)?;
    m.add("METHODS", crate::Method::NAMES.to_vec())?;
    Ok(())
}
