//! One run of [`crate::fit`] from Python's arguments: the model's text,
//! named columns, start, bounds and weights in; the fit's table out as a
//! dict, which `slope.fit` wraps in a `FitResult` and `slope.curve_fit`
//! reads `(popt, pcov)` from.

use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::function::read_column;
use super::{formula_error, to_py};
use crate::error::ErrorKind;
use crate::fit::{Loss, Model, Options, Sigma};
use crate::optim::Bound as AtBound;

/// Fits ``y ~ MODEL`` (``text``) to the columns of ``data``
/// (``{name: 1-D array}``). ``sigma`` is None, a number (one σ for every
/// row) or the name of a column of ``data``. Returns the fit as a dict;
/// see ``slope.fit``.
#[pyfunction]
#[pyo3(name = "_fit", signature = (text, data, start, bounds, sigma, absolute_sigma, loss, f_scale, max_evaluations))]
#[allow(clippy::too_many_arguments)]
pub fn fit<'py>(
    py: Python<'py>,
    text: &str,
    data: &Bound<'py, PyDict>,
    start: Option<Vec<f64>>,
    bounds: Option<Vec<(f64, f64)>>,
    sigma: Option<&Bound<'py, PyAny>>,
    absolute_sigma: bool,
    loss: &str,
    f_scale: f64,
    max_evaluations: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut columns: Vec<(String, Vec<f64>)> = Vec::with_capacity(data.len());
    for (key, value) in data.iter() {
        let name: String = key.extract()?;
        let column = read_column(&value, &name)?;
        columns.push((name, column));
    }
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let model = Model::new(text, &names).map_err(|e| formula_error(py, &e, text))?;
    let sigma = match sigma {
        None => Sigma::None,
        Some(s) if s.is_none() => Sigma::None,
        Some(s) => match s.extract::<f64>() {
            Ok(v) => Sigma::Constant(v),
            Err(_) => Sigma::Column(s.extract()?),
        },
    };
    let Some(loss) = Loss::from_name(loss) else {
        return Err(PyValueError::new_err(format!(
            "unknown loss '{loss}'; slope has linear, huber, soft_l1, cauchy, arctan"
        )));
    };
    let options = Options {
        start,
        bounds,
        sigma,
        absolute_sigma,
        loss,
        f_scale,
        max_evaluations,
        ..Options::default()
    };
    let rows: Vec<(&str, &[f64])> = columns
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_slice()))
        .collect();
    // A start where the model is not finite, or a sum that overflows, is
    // a ValueError here (as the docstring says, and as scipy raises for
    // such input), not the FloatingPointError of a NaN result.
    let fit = py
        .detach(|| model.fit(&rows, &options))
        .map_err(|e| match e.kind {
            ErrorKind::NotFinite => PyValueError::new_err(e.to_string()),
            _ => to_py(&e),
        })?;
    let p = fit.params.len();
    let matrix = |values: Vec<f64>| PyArray1::from_vec(py, values).reshape([p, p]);
    let d = PyDict::new(py);
    d.set_item("params", fit.params.clone())?;
    d.set_item("response", model.response())?;
    d.set_item("predictors", model.predictors().to_vec())?;
    d.set_item("x", PyArray1::from_slice(py, &fit.x))?;
    d.set_item("stderr", PyArray1::from_slice(py, &fit.stderr))?;
    d.set_item("covariance", matrix(fit.covariance.clone())?)?;
    d.set_item("correlation", matrix(fit.correlation())?)?;
    d.set_item("t_values", PyArray1::from_slice(py, &fit.t_values))?;
    let flat: Vec<f64> = fit.intervals.iter().flat_map(|&(a, b)| [a, b]).collect();
    d.set_item("intervals", PyArray1::from_vec(py, flat).reshape([p, 2])?)?;
    d.set_item("t_quantile", fit.t_quantile)?;
    d.set_item("cost", fit.f)?;
    d.set_item("rss", fit.rss)?;
    d.set_item("dof", fit.dof)?;
    d.set_item("rows", fit.rows)?;
    d.set_item("residual_std_error", fit.residual_std_error)?;
    d.set_item("r2", fit.r2)?;
    d.set_item("adjusted_r2", fit.adjusted_r2)?;
    d.set_item("rank", fit.rank)?;
    let at_bound: Vec<&str> = fit
        .at_bound
        .iter()
        .map(|b| match b {
            AtBound::Free => "free",
            AtBound::Lower => "lower",
            AtBound::Upper => "upper",
        })
        .collect();
    d.set_item("at_bound", at_bound)?;
    d.set_item("fitted", PyArray1::from_slice(py, &fit.fitted))?;
    d.set_item("residuals", PyArray1::from_slice(py, &fit.residuals))?;
    d.set_item("iterations", fit.iterations)?;
    d.set_item("evaluations", fit.evaluations)?;
    d.set_item("converged", fit.converged())?;
    d.set_item("reason", fit.reason.name())?;
    d.set_item("message", fit.explanation("raise max_nfev"))?;
    Ok(d)
}
