//! One run of [`crate::minimize`] from Python's arguments. The package's
//! `slope.minimize` (python/slope/__init__.py) compiles text, adapts the
//! callback and wraps the dict returned here in scipy's `OptimizeResult`.

use numpy::PyArray1;
use pyo3::exceptions::{PyStopIteration, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::function::Function;
use super::{read_point, to_py};
use crate::optim::{
    SQP_MAX_SIZE, Sqp, check_start_finite, minimize_auglag_or_sqp, minimize_sqp,
    minimize_sqp_or_auglag,
};
use crate::{Auglag, ConstrainedObjective, Control, Iterate, Method, Outcome, Reason, Settings};

/// The options every method takes, besides its own parameters.
const COMMON: [&str; 4] = ["maxiter", "gtol", "ftol", "xtol"];

/// The parameters of `method`, by the names `options` gives them.
fn param_names(method: &Method) -> &'static [&'static str] {
    match method {
        Method::Gd { .. } => &["lr", "line_search"],
        Method::Momentum { .. } | Method::Nesterov { .. } => &["lr", "momentum"],
        Method::Adagrad { .. } => &["lr", "epsilon"],
        Method::Rmsprop { .. } => &["lr", "rho", "epsilon"],
        Method::Adam { .. } => &["lr", "beta1", "beta2", "epsilon"],
        Method::Lbfgs { .. } => &["memory", "lr", "first_step"],
        Method::Newton { .. } => &["lr", "first_step"],
    }
}

/// Sets the parameter `key` of `method` to `value`; `false` if the method
/// has no such parameter.
fn set_param(method: &mut Method, key: &str, value: &Bound<'_, PyAny>) -> PyResult<bool> {
    let slot: &mut f64 = match (method, key) {
        (Method::Gd { line_search, .. }, "line_search") => {
            *line_search = value.extract()?;
            return Ok(true);
        }
        (Method::Lbfgs { memory, .. }, "memory") => {
            *memory = value.extract()?;
            return Ok(true);
        }
        (
            Method::Gd { lr, .. }
            | Method::Momentum { lr, .. }
            | Method::Nesterov { lr, .. }
            | Method::Adagrad { lr, .. }
            | Method::Rmsprop { lr, .. }
            | Method::Adam { lr, .. },
            "lr",
        ) => lr,
        (Method::Momentum { momentum, .. } | Method::Nesterov { momentum, .. }, "momentum") => {
            momentum
        }
        (
            Method::Adagrad { epsilon, .. }
            | Method::Rmsprop { epsilon, .. }
            | Method::Adam { epsilon, .. },
            "epsilon",
        ) => epsilon,
        (Method::Rmsprop { rho, .. }, "rho") => rho,
        (Method::Adam { beta1, .. }, "beta1") => beta1,
        (Method::Adam { beta2, .. }, "beta2") => beta2,
        // `lr` is the line search's first trial step, as `--lr` is.
        (Method::Lbfgs { first_step, .. } | Method::Newton { first_step }, "first_step" | "lr") => {
            first_step
        }
        _ => return Ok(false),
    };
    *slot = value.extract()?;
    Ok(true)
}

/// The settings of a run: the method by name with its parameters and the
/// stopping tests from `options`, and `bounds` (None for an open side).
fn settings(
    method: &str,
    bounds: Option<Vec<(Option<f64>, Option<f64>)>>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Settings> {
    let Some(mut m) = Method::by_name(method) else {
        return Err(PyValueError::new_err(format!(
            "unknown method '{method}'; slope has {}, and sqp and auglag (for constraints, \
             and bounds alone)",
            Method::NAMES.join(", ")
        )));
    };
    let mut common: Vec<(String, Bound<'_, PyAny>)> = Vec::new();
    for (key, value) in options.into_iter().flat_map(|d| d.iter()) {
        let key: String = key.extract()?;
        if COMMON.contains(&key.as_str()) {
            common.push((key, value));
        } else if !set_param(&mut m, &key, &value)? {
            return Err(PyValueError::new_err(format!(
                "unknown option '{key}' for '{method}'; it takes {}, {}",
                COMMON.join(", "),
                param_names(&m).join(", ")
            )));
        }
    }
    let mut s = Settings::new(m);
    for (key, value) in common {
        match key.as_str() {
            "maxiter" => s.max_iter = value.extract()?,
            "gtol" => s.gtol = value.extract()?,
            "ftol" => s.ftol = value.extract()?,
            _ => s.xtol = value.extract()?,
        }
    }
    check_stops(&s)?;
    // Each minimiser checks that the pairs are intervals before it runs
    // (`optim::check_interval`), so Python's error is the library's.
    s.bounds = bounds.map(|bounds| {
        let open = |(lo, hi): (Option<f64>, Option<f64>)| {
            (lo.unwrap_or(f64::NEG_INFINITY), hi.unwrap_or(f64::INFINITY))
        };
        bounds.into_iter().map(open).collect()
    });
    Ok(s)
}

/// An error for the stopping tests `slope min` refuses (`--max-iter 0`,
/// `--gtol -1`), in the names of scipy's options (`maxiter`): the library
/// refuses them too ([`Settings`]' check), in its own names.
fn check_stops(s: &Settings) -> PyResult<()> {
    let number = crate::print::format_number;
    if s.max_iter == 0 {
        return Err(PyValueError::new_err("maxiter must be at least 1, not 0"));
    }
    let tolerances = [("gtol", Some(s.gtol)), ("ftol", s.ftol), ("xtol", s.xtol)];
    for (name, v) in tolerances {
        if let Some(v) = v
            && !(v.is_finite() && v >= 0.0)
        {
            return Err(PyValueError::new_err(format!(
                "{name} must be zero or positive, not {}",
                number(v)
            )));
        }
    }
    Ok(())
}

/// scipy's `status`: 0 for a run that converged, then one number per way
/// a run can stop without converging.
fn status(reason: Reason) -> u8 {
    match reason {
        Reason::Gtol | Reason::Ftol | Reason::FtolRel | Reason::Xtol => 0,
        Reason::MaxIter => 1,
        Reason::Stalled => 2,
        Reason::Diverged => 3,
        Reason::Oscillating => 4,
        Reason::Interrupted => 5,
        Reason::Unbounded => 6,
        Reason::Saddle => 7,
        Reason::Kkt => 0,
        Reason::Infeasible => 8,
    }
}

/// The outcome as the fields of scipy's `OptimizeResult`, plus slope's
/// `reason` and `nhev`.
fn outcome_dict<'py>(py: Python<'py>, out: Outcome) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("success", out.converged())?;
    d.set_item("status", status(out.reason))?;
    let message = match out.reason {
        // The library's observer is the callback here.
        Reason::Interrupted => "the callback stopped the run".to_string(),
        _ => out.summary(),
    };
    d.set_item("message", message)?;
    d.set_item("reason", out.reason.name())?;
    d.set_item("fun", out.f)?;
    d.set_item("nit", out.iterations)?;
    d.set_item("nfev", out.evaluations)?;
    d.set_item("njev", out.gradient_evaluations)?;
    d.set_item("nhev", out.hessian_evaluations)?;
    d.set_item("x", PyArray1::from_vec(py, out.x))?;
    d.set_item("jac", PyArray1::from_vec(py, out.gradient))?;
    Ok(d)
}

/// Minimises the compiled ``f`` from ``x0``; see ``slope.minimize``.
/// ``callback(x, fun)`` is called after each iteration and stops the run
/// by returning a true value or raising ``StopIteration``; any other
/// exception stops the run and is raised again.
#[pyfunction]
#[pyo3(name = "_minimize", signature = (f, x0, method, bounds, callback, options))]
pub fn minimize<'py>(
    py: Python<'py>,
    f: &Bound<'py, Function>,
    x0: &Bound<'py, PyAny>,
    method: &str,
    bounds: Option<Vec<(Option<f64>, Option<f64>)>>,
    callback: Option<Bound<'py, PyAny>>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    if let Some(callback) = &callback
        && !callback.is_callable()
    {
        return Err(PyTypeError::new_err(format!(
            "callback must be callable, not {}",
            callback.get_type().name()?
        )));
    }
    let start = read_point(x0)?;
    check_start(f, &start)?;
    let settings = settings(method, bounds, options)?;
    let mut objective = f.get().compiled().clone();
    let out = match callback {
        None => py.detach(|| crate::minimize(&mut objective, &start, &settings)),
        Some(callback) => {
            let mut raised: Option<PyErr> = None;
            let out = crate::minimize_with(&mut objective, &start, &settings, |it: &Iterate| {
                if it.iteration == 0 {
                    return Control::Continue;
                }
                let x = PyArray1::from_slice(py, it.x);
                match callback.call1((x, it.f)).and_then(|r| r.is_truthy()) {
                    Ok(false) => Control::Continue,
                    Ok(true) => Control::Stop,
                    Err(e) => {
                        if !e.is_instance_of::<PyStopIteration>(py) {
                            raised = Some(e);
                        }
                        Control::Stop
                    }
                }
            });
            if let Some(e) = raised {
                return Err(e);
            }
            out
        }
    };
    outcome_dict(py, out.map_err(|e| to_py(&e))?)
}

/// A `ValueError` unless `start` is finite, naming the variable as the
/// formula does (`'x'`); the library checks it too, naming it by index.
fn check_start(f: &Bound<'_, Function>, start: &[f64]) -> PyResult<()> {
    let vars = f.get().formula().vars();
    let name = |i: usize| match vars.get(i) {
        Some(v) => format!("'{v}'"),
        None => format!("variable {i}"),
    };
    check_start_finite(start, name).map_err(|e| to_py(&e))
}

/// The augmented-Lagrangian parameters from `options`' keys
/// `feasibility_tol`, `optimality_tol`, `max_outer`, `initial_penalty`,
/// `max_penalty` and `max_multiplier`, taken out of the dict so that the
/// rest goes to the inner L-BFGS-B.
fn auglag(options: Option<&Bound<'_, PyDict>>) -> PyResult<Auglag> {
    let mut a = Auglag::default();
    let Some(options) = options else {
        return Ok(a);
    };
    for key in AUGLAG {
        let Some(value) = options.get_item(key)? else {
            continue;
        };
        match key {
            "feasibility_tol" => a.feasibility_tol = value.extract()?,
            "optimality_tol" => a.optimality_tol = value.extract()?,
            "max_outer" => a.max_outer = value.extract()?,
            "initial_penalty" => a.initial_penalty = value.extract()?,
            "max_penalty" => a.max_penalty = value.extract()?,
            _ => a.max_multiplier = value.extract()?,
        }
        options.del_item(key)?;
    }
    Ok(a)
}

/// The options of the augmented-Lagrangian method itself.
const AUGLAG: [&str; 6] = [
    "feasibility_tol",
    "optimality_tol",
    "max_outer",
    "initial_penalty",
    "max_penalty",
    "max_multiplier",
];

/// Minimises the compiled ``f`` from ``x0`` subject to its ``subject to``
/// statements; see ``slope.minimize``. ``method`` is ``"auto"`` (what
/// ``slope min`` does: SQP on the exact Hessian of the Lagrangian for at
/// most [`SQP_MAX_SIZE`] variables and constraint rows, handing a stalled
/// run to the augmented Lagrangian; where that Hessian is not compiled (an
/// indexed formula), the augmented Lagrangian, handing a failed run to
/// SQP on damped BFGS; the augmented Lagrangian alone for larger
/// problems), ``"sqp"`` (SQP alone) or ``"auglag"``/``"lbfgs"`` (the
/// augmented Lagrangian with L-BFGS-B inside). The dict holds scipy's
/// fields and the constrained run's: ``method`` (the one whose outcome
/// it is), ``constraints`` (each gᵢ(x) in standard form, ``<= 0`` or
/// ``== 0``), ``multipliers``, ``maxcv`` (the largest violation),
/// ``kkt_residual``, ``outer_iterations`` and ``penalty``.
#[pyfunction]
#[pyo3(name = "_minimize_constrained", signature = (f, x0, method, bounds, options))]
pub fn minimize_constrained<'py>(
    py: Python<'py>,
    f: &Bound<'py, Function>,
    x0: &Bound<'py, PyAny>,
    method: &str,
    bounds: Option<Vec<(Option<f64>, Option<f64>)>>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    if !["auto", "sqp", "auglag", "lbfgs"].contains(&method) {
        return Err(PyValueError::new_err(format!(
            "the method '{method}' cannot take constraints; with constraints slope has \
             auto (the default), sqp and auglag (or lbfgs, the augmented Lagrangian's inner method)"
        )));
    }
    let start = read_point(x0)?;
    check_start(f, &start)?;
    let options = options.map(|d| d.copy()).transpose()?;
    let auglag = auglag(options.as_ref())?;
    let settings = settings("lbfgs", bounds, options.as_ref())?;
    let sqp = Sqp {
        feasibility_tol: auglag.feasibility_tol,
        optimality_tol: auglag.optimality_tol,
        max_iter: match options
            .as_ref()
            .map(|d| d.get_item("maxiter"))
            .transpose()?
        {
            Some(Some(_)) => settings.max_iter,
            _ => Sqp::default().max_iter,
        },
        ..Sqp::default()
    };
    let mut problem = f.get().formula().compile_problem().map_err(|e| to_py(&e))?;
    let size = problem.n_vars() + problem.kinds().len();
    let (out, used) = py
        .detach(|| match method {
            "sqp" => minimize_sqp(&mut problem, &start, &settings, &sqp).map(|out| (out, "sqp")),
            "auglag" | "lbfgs" => {
                crate::minimize_constrained(&mut problem, &start, &settings, &auglag)
                    .map(|out| (out, "auglag"))
            }
            _ if size <= SQP_MAX_SIZE && problem.prepare_lagrangian_hessian().unwrap_or(false) => {
                minimize_sqp_or_auglag(&mut problem, &start, &settings, &sqp, &auglag)
                    .map(|(out, handed)| (out, if handed { "auglag" } else { "sqp" }))
            }
            _ if size <= SQP_MAX_SIZE => {
                minimize_auglag_or_sqp(&mut problem, &start, &settings, &auglag, &sqp)
                    .map(|(out, handed)| (out, if handed { "sqp" } else { "auglag" }))
            }
            _ => crate::minimize_constrained(&mut problem, &start, &settings, &auglag)
                .map(|out| (out, "auglag")),
        })
        .map_err(|e| to_py(&e))?;
    let d = outcome_dict(py, out.outcome)?;
    d.set_item("method", used)?;
    d.set_item("constraints", PyArray1::from_vec(py, out.constraints))?;
    d.set_item("multipliers", PyArray1::from_vec(py, out.multipliers))?;
    d.set_item("maxcv", out.max_violation)?;
    d.set_item("kkt_residual", out.kkt_residual)?;
    d.set_item("outer_iterations", out.outer_iterations)?;
    d.set_item("penalty", out.penalty)?;
    Ok(d)
}
