//! The Python module `slope._slope` (feature `python`), built by maturin
//! from `pyproject.toml`; `python/slope/__init__.py` wraps it as the
//! package `slope`. It speaks only through the front door (`slope::…`):
//!
//! - `function.rs`: `Function`, a compiled formula as Python sees it
//!   (call, gradient, Hessian, batches on all cores, printing, pickling);
//! - `minimize.rs`: a run of [`crate::minimize`] (or, for a formula with
//!   `subject to` statements, [`crate::minimize_constrained`]) from
//!   Python's arguments, its outcome as a dict for the package to wrap;
//! - `pool.rs`: the threads batches run on, a pool made again in a
//!   forked child (rayon's global pool hangs there);
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
mod pool;

use numpy::ndarray::Dimension;
use numpy::{
    BorrowError, PyArray, PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArray, PyReadwriteArray,
    PyUntypedArrayMethods,
};
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
    let err = &for_python(err);
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
    let text = for_python(err).to_string();
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

/// `err` with the command line's spellings in its message and hint put as
/// Python spells them: the library's errors serve `slope` the command
/// too, whose hints say `--set n=100`, `--data FILE.csv`, `--bounds`.
fn for_python(err: &Error) -> Error {
    let mut err = err.clone();
    err.message = python_spelling(&err.message);
    err.hint = err.hint.as_deref().map(python_spelling);
    err
}

/// `text` with `--set NAME=VALUE` as `params={'NAME': VALUE}`, a bare
/// `--set` as `params=`, `--data FILE.csv` as `data={name: column}`,
/// `--bounds` as `bounds=` and `slope min` as `slope.minimize`.
fn python_spelling(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("--") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let token_end = |s: &str| {
            s.find(|c: char| c.is_whitespace() || matches!(c, ')' | ',' | ';'))
                .unwrap_or(s.len())
        };
        if let Some(arg) = after.strip_prefix("--set") {
            let token = arg.strip_prefix(' ').map(|t| &t[..token_end(t)]);
            match token.and_then(|t| t.split_once('=')) {
                Some((name, value)) => {
                    out.push_str(&format!("params={{'{name}': {value}}}"));
                    rest = &arg[1 + token.map_or(0, str::len)..];
                }
                // A bare `--set`, as in "the parameters given by --set".
                None => {
                    out.push_str("params=");
                    rest = arg;
                }
            }
        } else if let Some(arg) = after.strip_prefix("--data ") {
            out.push_str("data={name: column}");
            rest = &arg[token_end(arg)..];
        } else if let Some(arg) = after.strip_prefix("--bounds") {
            out.push_str("bounds=");
            rest = arg;
        } else {
            out.push_str("--");
            rest = &after[2..];
        }
    }
    out.push_str(rest);
    out.replace("slope min", "slope.minimize")
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

/// `x` as an aligned array of float64 in C order: NumPy's `asarray(x,
/// float64, order="C")`, so an array that already is one is not copied,
/// and anything NumPy reads (lists, tuples, integer arrays, scalars) is
/// converted, keeping its shape (a scalar stays 0-D, so that an error
/// names the shape given, where `ascontiguousarray` would make it `(1,)`);
/// an unaligned one (as a pickled array can arrive) is copied. An error
/// names `what`.
fn float_array<'py>(x: &Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let py = x.py();
    if x.is_none() {
        return Err(PyTypeError::new_err(format!(
            "{what} is None, not an array of numbers"
        )));
    }
    let np = py.import("numpy")?;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("dtype", np.getattr("float64")?)?;
    kwargs.set_item("order", "C")?;
    let converted = np
        .getattr("asarray")?
        .call((x,), Some(&kwargs))
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

/// A read-only view of `array`, or a `ValueError` saying that `what` is
/// being written meanwhile: a batch running in another thread has it (or
/// an array sharing its memory) as its `out=`. The numpy crate tracks
/// these borrows across threads; its `readonly` panics on a conflict.
fn read_borrow<'py, D: Dimension>(
    array: &Bound<'py, PyArray<f64, D>>,
    what: &str,
) -> PyResult<PyReadonlyArray<'py, f64, D>> {
    array.try_readonly().map_err(|_| {
        PyValueError::new_err(format!(
            "{what} is being written meanwhile: a batch in another thread has it, or an \
             array sharing its memory, as out=; pass a copy, or wait for that batch"
        ))
    })
}

/// A writable view of `array`, `out=` of a batch, or a `ValueError`
/// saying why not: it is read-only, or another call is reading or
/// writing it (a batch in another thread with it as `X` or `out=`).
fn write_borrow<'py, D: Dimension>(
    array: &Bound<'py, PyArray<f64, D>>,
) -> PyResult<PyReadwriteArray<'py, f64, D>> {
    array.try_readwrite().map_err(|e| {
        PyValueError::new_err(match e {
            BorrowError::NotWriteable => {
                "out is read-only; pass a writable array, or out.copy()".to_string()
            }
            _ => "out is in use: a batch in another thread reads or writes it (as X or \
                  out=); give each thread its own out= array"
                .to_string(),
        })
    })
}

/// A point: one value per variable, from a list, a tuple or a 1-D array
/// (a scalar is one value). The common cases (a float64 array, a list or
/// tuple of numbers) are read without NumPy's conversion, which costs
/// more than a compiled call.
fn read_point(x: &Bound<'_, PyAny>) -> PyResult<Vec<f64>> {
    read_values(x, "the point")
}

/// One value per variable, as [`read_point`] reads them; errors name
/// `what`.
fn read_values(x: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<f64>> {
    // An unaligned array (as a pickled one can arrive, in a Dask worker)
    // takes the slow path, which copies it into aligned memory.
    if let Ok(array) = x.cast::<PyArray1<f64>>()
        && array.is_aligned()
    {
        // A copy straight from contiguous memory skips the borrow
        // bookkeeping of `readonly`, a third of the call's cost.
        return match array.to_vec() {
            Ok(values) => Ok(values),
            Err(_) => Ok(read_borrow(array, what)?.as_array().to_vec()),
        };
    }
    if (x.is_instance_of::<PyList>() || x.is_instance_of::<PyTuple>())
        && let Ok(values) = x.extract::<Vec<f64>>()
    {
        return Ok(values);
    }
    let array = float_array(x, what)?;
    if array.ndim() > 1 {
        return Err(PyValueError::new_err(format!(
            "{what} must be a 1-D array, not one of shape {}",
            shape_text(array.shape())
        )));
    }
    Ok(read_borrow(&array, what)?
        .as_array()
        .iter()
        .copied()
        .collect())
}

/// The Python module `slope._slope`.
#[pymodule]
#[pyo3(name = "_slope")]
fn slope_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let formula_error = m.py().get_type::<FormulaError>();
    // Defaults for one made by hand (`slope.FormulaError("...")`); slope's
    // own set them on the instance.
    for attribute in ["line", "column", "kind", "hint", "message"] {
        formula_error.setattr(attribute, m.py().None())?;
    }
    m.add("FormulaError", formula_error)?;
    m.add_class::<function::Function>()?;
    m.add_function(wrap_pyfunction!(function::compile, m)?)?;
    m.add_function(wrap_pyfunction!(function::rebuild, m)?)?;
    m.add_function(wrap_pyfunction!(minimize::minimize, m)?)?;
    m.add_function(wrap_pyfunction!(minimize::minimize_constrained, m)?)?;
    m.add_function(wrap_pyfunction!(fit::fit, m)?)?;
    m.add("METHODS", crate::Method::NAMES.to_vec())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::python_spelling;

    #[test]
    fn command_line_spellings_become_pythons() {
        let cases = [
            (
                "set it with --set n=VALUE",
                "set it with params={'n': VALUE}",
            ),
            (
                "check it at a smaller size, e.g. with --set n=100",
                "check it at a smaller size, e.g. with params={'n': 100}",
            ),
            (
                "an index must lie in the array's extent, with the parameters given by --set",
                "an index must lie in the array's extent, with the parameters given by params=",
            ),
            (
                "a parameter is declared first, as `param n = 10`; --set n=… then overrides it",
                "a parameter is declared first, as `param n = 10`; params={'n': …} then overrides it",
            ),
            (
                "give the data with --data FILE.csv",
                "give the data with data={name: column}",
            ),
            (
                "bound parameters with --bounds, or minimise the formula with slope min",
                "bound parameters with bounds=, or minimise the formula with slope.minimize",
            ),
            ("x--y and --z stay", "x--y and --z stay"),
        ];
        for (cli, python) in cases {
            assert_eq!(python_spelling(cli), python, "{cli}");
        }
    }
}
