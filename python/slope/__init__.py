"""slope: exact gradients of formulas, compiled to native code, and minimisers.

>>> import slope
>>> f = slope.compile("(1-x)^2 + 100*(y-x^2)^2")
>>> f.vars
['x', 'y']
>>> f.value_and_grad([-1.2, 1.0])
(24.199999999999996, array([-215.6,  -88. ]))
>>> f.diff()["x"]
'-400*x*(y - x^2) - 2*(1 - x)'
>>> res = slope.minimize(f, [-1.2, 1.0])
>>> res.success, res.x
(True, array([1., 1.]))

Indexed formulas take parameters and data; constraints are text:

>>> g = slope.compile("param n = 3\\nvar x[1..n]\\nsum(i in 1..n, (x[i] - i)^2)", params={"n": 2})
>>> g.vars
['x[1]', 'x[2]']
>>> slope.minimize("(x-2)^2 + (y-1)^2", [0, 0], constraints="x + y <= 2").x.round(6)
array([1.5, 0.5])
>>> popt, pcov = slope.curve_fit("a*exp(-b*x)", [0, 1, 2], [2.0, 1.0, 0.5], p0=[1, 1])

A compiled function works with scipy as it is
(``scipy.optimize.minimize(f.value_and_grad, x0, jac=True, hess=f.hess)``,
or ``hessp=f.hessp`` for Hessian-vector products; a formula with arrays of
variables gives a sparse ``f.hess``),
pickles (it is compiled again where it is unpickled), and so crosses
process boundaries, to ``multiprocessing`` or Dask workers.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional

from ._slope import (
    METHODS,
    FormulaError,
    Function,
    _fit,
    _minimize,
    _minimize_constrained,
    compile,
)

__all__ = [
    "compile",
    "minimize",
    "curve_fit",
    "fit",
    "Function",
    "FitResult",
    "FormulaError",
    "OptimizeResult",
    "OptimizeWarning",
    "METHODS",
]


class OptimizeWarning(UserWarning):
    """``curve_fit`` could not estimate the covariance (scipy's warning of
    the same name): a parameter the data do not identify, or no degree of
    freedom left."""


class _Result(dict):
    """scipy's ``OptimizeResult`` where scipy is not installed: a dict whose
    keys are also attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __dir__(self):
        return list(self.keys())

    def __repr__(self) -> str:
        width = max(map(len, self), default=0) + 1
        return "\n".join(f"{k.rjust(width)}: {v!r}" for k, v in self.items())


try:
    from scipy.optimize import OptimizeResult
except ImportError:  # scipy is optional
    OptimizeResult = _Result  # type: ignore[misc,assignment]


def _adapt(callback: Optional[Callable[..., Any]]) -> Optional[Callable[..., Any]]:
    """The callback as the Rust loop calls it, ``cb(x, fun)``, from scipy's
    two conventions: ``callback(xk)``, or ``callback(intermediate_result)``
    with an ``OptimizeResult`` holding ``x`` and ``fun``. One that cannot be
    called is a ``TypeError`` here, before the run, not at its first
    iteration."""
    if callback is None:
        return None
    if not callable(callback):
        raise TypeError(f"callback must be callable, not {type(callback).__name__}")
    try:
        params = inspect.signature(callback).parameters
    except (TypeError, ValueError):  # builtins without a signature
        params = {}
    if "intermediate_result" in params:
        return lambda x, fun: callback(intermediate_result=OptimizeResult(x=x, fun=fun))
    return lambda x, fun: callback(x)


def _pairs(bounds: Any, n: int) -> Optional[list]:
    """Bounds as ``(low, high)`` pairs, from pairs or a ``scipy.optimize.Bounds``."""
    if bounds is None:
        return None
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):
        import numpy as np

        lb = np.broadcast_to(np.asarray(bounds.lb, dtype=float), (n,))
        ub = np.broadcast_to(np.asarray(bounds.ub, dtype=float), (n,))
        return [(float(lo), float(hi)) for lo, hi in zip(lb, ub)]
    return [(lo, hi) for lo, hi in bounds]


def _constraint_lines(constraints: Any) -> list:
    """``subject to`` statements from a string or a list of strings, each
    a relation (``"x + y <= 1"``) or a whole statement."""
    if constraints is None:
        return []
    if isinstance(constraints, str):
        constraints = [constraints]
    lines = []
    for c in constraints:
        if not isinstance(c, str):
            raise TypeError(
                "slope.minimize takes constraints as text, such as \"x + y <= 1\", "
                f"not {type(c).__name__}"
            )
        c = c.strip()
        lines.append(c if c.startswith("subject to") else f"subject to {c}")
    return lines


def minimize(
    fun: "Function | str",
    x0: Any,
    method: Optional[str] = None,
    bounds: Any = None,
    constraints: "str | list[str] | None" = None,
    callback: Optional[Callable[..., Any]] = None,
    options: Optional[dict] = None,
) -> OptimizeResult:
    """Minimise a formula from ``x0``, shaped like ``scipy.optimize.minimize``.

    ``fun`` is a compiled :class:`Function` or formula text (compiled here).
    ``method`` is one of ``slope.METHODS`` (``"lbfgs"`` by default;
    ``"newton"`` uses the exact Hessian), or ``"sqp"`` or ``"auglag"``,
    the methods for constraints, which also run a problem with bounds
    alone (as ``slope min --method sqp`` does; the result is then shaped as
    a constrained run's). ``bounds`` (pairs ``(low, high)``,
    ``None`` for an open side, or a ``scipy.optimize.Bounds``) hold in every
    method: ``"lbfgs"`` becomes L-BFGS-B, ``"newton"`` a projected Newton
    method, and the fixed-step methods project each iterate.
    ``callback`` is called after each iteration as ``callback(xk)`` or, if
    its parameter is named ``intermediate_result``, with an
    ``OptimizeResult`` of ``x`` and ``fun``; returning ``True`` or raising
    ``StopIteration`` stops the run (``status`` 5).

    ``constraints`` are text: a string or a list of strings, each a
    relation such as ``"x + y <= 1"``, ``"x*y >= 2"``, ``"x == 2*y"`` (or
    a whole ``subject to`` statement), appended to the formula's text; a
    formula whose text already has ``subject to`` statements is
    constrained too. A constrained problem runs as ``slope min`` runs it:
    by default SQP on the exact Hessian of the Lagrangian when variables
    plus constraint rows number at most 200, handing a run that stalls to
    the augmented Lagrangian with L-BFGS-B inside (for an indexed formula
    of that size, whose Hessian of the Lagrangian is not compiled, the
    augmented Lagrangian first, handing a failed run to SQP on a damped
    BFGS model), and the augmented Lagrangian for larger problems;
    ``method="sqp"`` runs SQP alone and ``"auglag"`` (or ``"lbfgs"``) the
    augmented Lagrangian alone (``bounds`` hold; no ``callback``).
    Its result also has ``method`` (the one whose outcome it is: ``"sqp"``
    or ``"auglag"``), ``constraints`` (each
    ``g_i(x)`` in standard form, ``g <= 0`` or ``g == 0``),
    ``multipliers`` (Lagrange multipliers, in the order of the
    constraints), ``maxcv`` (the largest violation), ``kkt_residual``,
    ``outer_iterations`` and ``penalty``; ``success`` only when the KKT
    conditions hold to tolerance (``reason`` ``"kkt"``), ``status`` 8 when
    the constraints cannot be met.

    ``options``: ``maxiter`` (15,000; at least 1), ``gtol`` (1e-8, on the
    largest gradient component), ``ftol`` and ``xtol`` (off; each zero or
    positive), and the method's own parameters (``lr``, ``momentum``,
    ``beta1``, ``beta2``, ``epsilon``, ``rho``, ``line_search``,
    ``memory``, ``first_step``; for ``"lbfgs"`` and ``"newton"``, ``lr`` is
    the line search's first trial step, ``first_step``, as ``--lr`` is); with
    constraints also ``feasibility_tol`` (1e-8), ``optimality_tol``
    (1e-6), ``max_outer`` (100), ``initial_penalty``, ``max_penalty``
    (1e12) and ``max_multiplier`` (``maxiter`` also caps SQP's
    iterations, 200 when not given); an unknown name raises ``ValueError``.

    Returns scipy's ``OptimizeResult`` (a dict-like object of the same
    fields where scipy is not installed): ``x``, ``fun``, ``jac``, ``nit``,
    ``nfev``, ``njev``, ``nhev``, ``success``, ``status`` (0 converged,
    1 out of iterations, 2 stalled, 3 diverged, 4 oscillating, 5 stopped by
    the callback, 6 f unbounded below, 7 a saddle point, 8 infeasible),
    ``message`` and slope's ``reason``. The run releases the GIL unless
    there is a callback.
    """
    lines = _constraint_lines(constraints)
    if isinstance(fun, str):
        fun = compile("\n".join([fun, *lines]))
    elif not isinstance(fun, Function):
        raise TypeError(
            f"slope.minimize takes formula text or a slope.Function, not {type(fun).__name__}; "
            "for a Python function use scipy.optimize.minimize"
        )
    elif lines:
        fun = compile("\n".join([fun.text, *lines]), fun.params, fun.data, vars=fun.given_vars)
    pairs = _pairs(bounds, len(fun.vars))
    # sqp and auglag take bounds alone too, as `slope min --method sqp` does.
    if fun.n_constraints > 0 or method in ("sqp", "auglag"):
        if callback is not None:
            raise ValueError(
                "slope.minimize takes no callback with constraints or with method 'sqp' or 'auglag'"
            )
        return OptimizeResult(_minimize_constrained(fun, x0, method or "auto", pairs, options))
    return OptimizeResult(_minimize(fun, x0, method or "lbfgs", pairs, _adapt(callback), options))


class FitResult:
    """A model fitted by :func:`slope.fit`: estimates, error bars and
    goodness of fit. Vectors are in the order of ``params``; matrices are
    p×p NumPy arrays.

    Attributes: ``params`` (names, in order of appearance in the model),
    ``x`` (the estimates; also ``estimates``), ``stderr``, ``t_values``,
    ``intervals`` (95% confidence intervals, shape ``(p, 2)``),
    ``t_quantile``, ``covariance``, ``correlation``, ``rss`` (residual sum
    of squares, weighted by σ), ``cost`` (the sum minimised: ``rss`` for
    the linear loss), ``dof``, ``rows``, ``residual_std_error``, ``r2``,
    ``adjusted_r2``, ``rank``, ``at_bound`` (``"free"``, ``"lower"``,
    ``"upper"`` each), ``fitted``, ``residuals`` (``y - model``),
    ``iterations``, ``evaluations``, ``converged``, ``reason``, ``message``,
    ``response`` and ``predictors`` (the columns the model reads).
    ``dict(result)`` gives the estimates by name.
    """

    def __init__(self, fields: dict) -> None:
        self.__dict__.update(fields)

    @property
    def estimates(self) -> Any:
        """The estimates (the same array as ``x``)."""
        return self.x

    def keys(self) -> list:
        return list(self.params)

    def __getitem__(self, name: str) -> float:
        return float(self.x[self.params.index(name)])

    def __repr__(self) -> str:
        width = max(map(len, self.params), default=0)
        lines = [
            f"{'':{width}}  {'estimate':>12} {'stderr':>12} {'t value':>9}  95% interval"
        ]
        for i, name in enumerate(self.params):
            lo, hi = self.intervals[i]
            lines.append(
                f"{name:{width}}  {self.x[i]:12.6g} {self.stderr[i]:12.4g} "
                f"{self.t_values[i]:9.4g}  [{lo:.6g}, {hi:.6g}]"
            )
        lines.append(
            f"rss {self.rss:.6g} on {self.dof} degrees of freedom, r2 {self.r2:.6g}; "
            f"{self.reason} after {self.iterations} iterations ({self.evaluations} evaluations)"
        )
        return "\n".join(lines)


def _model_text(model: str, response: str = "y") -> str:
    """``model`` as ``y ~ MODEL``: the text as it is if it has a ``~``."""
    if "~" in model:
        return model
    return f"{response} ~ {model}"


def _response_name(text: str) -> str:
    return text.split("~", 1)[0].strip()


def _columns(xdata: Any, names: Optional[Any]) -> dict:
    """The predictors as named columns: a dict as it is; a 1-D array as
    ``x``; a 2-D array's rows as ``x1, x2, ...`` (scipy's convention: one
    row per predictor), unless ``names`` names them."""
    import numpy as np

    if isinstance(xdata, dict):
        return dict(xdata)
    x = np.asarray(xdata, dtype=float)
    if x.ndim == 1:
        names = ["x"] if names is None else list(names)
        if len(names) != 1:
            raise ValueError(f"xdata is 1-D: one name for it, not {len(names)}")
        return {names[0]: x}
    if x.ndim == 2:
        if names is None:
            names = [f"x{i + 1}" for i in range(x.shape[0])]
        names = list(names)
        if len(names) != x.shape[0]:
            raise ValueError(
                f"xdata has {x.shape[0]} rows (one per predictor) but {len(names)} names"
            )
        return {name: row for name, row in zip(names, x)}
    raise ValueError(f"xdata must be 1-D, 2-D or a dict of columns, not of shape {x.shape}")


def _fit_bounds(bounds: Any, p: int) -> Optional[list]:
    """scipy's ``(lb, ub)`` (scalars or one per parameter) or a
    ``scipy.optimize.Bounds`` as ``(low, high)`` pairs; None if open."""
    import numpy as np

    if bounds is None:
        return None
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):
        lb, ub = bounds.lb, bounds.ub
    else:
        lb, ub = bounds
    lb = np.broadcast_to(np.asarray(lb, dtype=float), (p,))
    ub = np.broadcast_to(np.asarray(ub, dtype=float), (p,))
    if np.all(np.isneginf(lb)) and np.all(np.isposinf(ub)):
        return None
    return [(float(lo), float(hi)) for lo, hi in zip(lb, ub)]


def _run_fit(
    text: str,
    columns: dict,
    p0: Any,
    sigma: Any,
    absolute_sigma: bool,
    bounds: Any,
    loss: str,
    f_scale: float,
    max_nfev: Optional[int],
    feasible_start: bool = False,
) -> dict:
    import numpy as np

    columns = dict(columns)
    sigma_name = None
    if sigma is not None and not isinstance(sigma, str) and np.ndim(sigma) > 0:
        s = np.asarray(sigma, dtype=float)
        if s.ndim != 1:
            raise ValueError(
                "sigma must be a number or a 1-D array of one sigma per row; "
                "slope does not take a covariance matrix"
            )
        # The column below has an internal name: its errors are said here,
        # of sigma, before the fit would name that column.
        bad = np.flatnonzero(~(np.isfinite(s) & (s > 0)))
        if bad.size:
            raise ValueError(
                f"sigma[{bad[0]}] is {s[bad[0]]}: sigma must be positive and finite in every row"
            )
        rows = np.shape(columns.get(_response_name(text), s))[0]
        if s.shape[0] != rows:
            raise ValueError(f"sigma has {s.shape[0]} values, but the data have {rows} rows")
        sigma_name = "sigma_"
        while sigma_name in columns:
            sigma_name += "_"
        columns[sigma_name] = s
        sigma = sigma_name
    elif sigma is not None and not isinstance(sigma, str):
        sigma = float(sigma)
    start = None if p0 is None else [float(v) for v in np.atleast_1d(np.asarray(p0, dtype=float))]
    if bounds is not None:
        # The parameters' number, for scalar bounds: a first look at the model.
        probe = _fit(text, columns, start, None, sigma, absolute_sigma, loss, f_scale, 1)
        params = probe["params"]
        bounds = _fit_bounds(bounds, len(params))
        if feasible_start and bounds is not None and start is not None:
            # scipy's least_squares refuses such a start ("x0 is
            # infeasible") rather than moving it.
            for name, v, (lo, hi) in zip(params, start, bounds):
                if not lo <= v <= hi:
                    raise ValueError(
                        f"p0 is infeasible: the start of '{name}' is {v}, outside its "
                        f"bounds [{lo}, {hi}]"
                    )
    return _fit(text, columns, start, bounds, sigma, absolute_sigma, loss, f_scale, max_nfev)


def fit(
    model: str,
    data: dict,
    p0: Any = None,
    sigma: Any = None,
    absolute_sigma: bool = False,
    bounds: Any = None,
    loss: str = "linear",
    f_scale: float = 1.0,
    max_nfev: Optional[int] = None,
) -> FitResult:
    """Fit ``model`` to the named columns of ``data`` by Levenberg–Marquardt
    (after MINPACK, with bounds), with the model's exact parameter
    gradient compiled to native code; returns the full table as a
    :class:`FitResult`.

    ``model`` is ``"y ~ a*exp(-b*t) + c"``: the left side names the
    response column; in the model, names that are columns of ``data`` are
    per-row values and every other name is a parameter, in order of
    appearance (``FitResult.params``). Without ``~`` the response is
    ``y``. ``data`` is ``{name: 1-D array}`` (a pandas DataFrame's columns
    work as ``dict(df)``). ``p0``: the start, in the order of the
    parameters (1 for each by default). ``sigma``: one σ per row (a 1-D
    array or the name of a column) or one for all; the residuals are
    ``(y - model)/sigma``; ``absolute_sigma`` as scipy's. ``bounds``:
    ``(lb, ub)`` as scipy's (scalars or one per parameter). ``loss``:
    ``"linear"``, ``"huber"``, ``"soft_l1"``, ``"cauchy"`` or ``"arctan"``,
    with residual scale ``f_scale``. ``max_nfev``: the most passes over
    the data.

    A model that does not read raises :class:`slope.FormulaError`; a
    missing column, a column named as a constant or function (``e``,
    ``pi``, ``exp``: the model would read the constant), a value of the
    data that is NaN or infinite, columns of different lengths, fewer rows
    than parameters, bounds that are not intervals (``low > high`` or NaN)
    or a start where the model is not finite raise ``ValueError``. A start
    outside the bounds is moved to the nearest point inside them. A run that does not converge is not an error: see
    ``converged`` and ``reason``.

    >>> r = slope.fit("y ~ a*exp(-b*t)", {"t": [0, 1, 2], "y": [2.0, 1.0, 0.5]})
    >>> r.params, r.converged
    (['a', 'b'], True)
    """
    text = _model_text(model)
    return FitResult(
        _run_fit(text, data, p0, sigma, absolute_sigma, bounds, loss, f_scale, max_nfev)
    )


def curve_fit(
    model: str,
    xdata: Any,
    ydata: Any,
    p0: Any = None,
    sigma: Any = None,
    absolute_sigma: bool = False,
    bounds: Any = (-float("inf"), float("inf")),
    *,
    names: Optional[Any] = None,
    full_output: bool = False,
    loss: str = "linear",
    f_scale: float = 1.0,
    max_nfev: Optional[int] = None,
) -> Any:
    """``scipy.optimize.curve_fit`` for a model written as text: returns
    ``(popt, pcov)``.

    ``model`` is slope text in the predictors and the parameters, such as
    ``"a*exp(-b*x) + c"`` (or ``"y ~ a*exp(-b*x) + c"``). The predictors
    are named ``x`` when ``xdata`` is 1-D, ``x1, x2, ...`` when it is 2-D
    with one row per predictor (scipy's convention: ``xdata[0]`` is
    ``x1``), or by the keys of ``xdata`` when it is a dict of columns;
    ``names`` renames them (``names=["t"]`` for ``"a*exp(-b*t)"``). Every
    other name in the model is a parameter, in order of appearance: the
    order of ``p0``, ``popt`` and ``pcov`` (``slope.fit`` gives the
    names). ``sigma`` (one per row or a scalar; not a covariance matrix),
    ``absolute_sigma`` and ``bounds`` as scipy's (a ``p0`` outside the
    bounds raises ``ValueError``, as scipy's does). ``full_output=True``
    returns scipy's five items, ``(popt, pcov, infodict, mesg, ier)``:
    ``infodict`` holds ``nfev`` (passes over the data), ``fvec`` (the
    residuals as scipy defines them, ``(model - y)/sigma``) and slope's
    ``result``, the :class:`FitResult`; ``mesg`` says why the run stopped;
    ``ier`` is MINPACK's flag (1 ftol, 2 xtol, 4 gtol).

    A covariance that cannot be estimated (a parameter the data do not
    identify: NaN; no degree of freedom left: inf) warns with
    :class:`slope.OptimizeWarning`, as scipy's does. A run that does not
    converge raises ``RuntimeError``, as scipy's does;
    a predictor the model does not read (``"a*exp(-b*t)"`` with 1-D
    ``xdata`` and no ``names``) raises ``ValueError``.

    >>> popt, pcov = slope.curve_fit("a*exp(-b*x)", [0, 1, 2], [2.0, 1.0, 0.5], p0=[1, 1])
    >>> popt
    array([2. , 0.69314718])
    """
    import numpy as np

    columns = _columns(xdata, names)
    text = _model_text(model)
    response = _response_name(text)
    if response in columns:
        raise ValueError(f"the response '{response}' is also the name of a predictor")
    columns[response] = np.asarray(ydata, dtype=float)
    result = FitResult(
        _run_fit(
            text, columns, p0, sigma, absolute_sigma, bounds, loss, f_scale, max_nfev,
            feasible_start=True,
        )
    )
    unread = [name for name in columns if name != response and name not in result.predictors]
    if unread:
        raise ValueError(
            f"the model does not read the predictor {', '.join(map(repr, unread))}: "
            "every other name in it is a parameter; write the predictors as "
            "x (xdata 1-D) or x1, x2, ... (xdata 2-D), or name them with names=[...]"
        )
    if not result.converged:
        raise RuntimeError(f"Optimal parameters not found: {result.message}")
    if not np.all(np.isfinite(result.covariance)):
        import warnings

        why = (
            "no degree of freedom is left"
            if result.dof == 0
            else f"the Jacobian has rank {result.rank} of {len(result.params)}"
        )
        warnings.warn(
            f"Covariance of the parameters could not be estimated: {why}",
            OptimizeWarning,
            stacklevel=2,
        )
    if full_output:
        # scipy's (popt, pcov, infodict, mesg, ier); its fvec is
        # (model - y)/sigma, and slope's residuals are y - model.
        if sigma is None:
            scale = 1.0
        elif isinstance(sigma, str):
            scale = np.asarray(columns[sigma], dtype=float)
        else:
            scale = np.asarray(sigma, dtype=float)
        infodict = {
            "nfev": result.evaluations,
            "fvec": -np.asarray(result.residuals) / scale,
            "result": result,
        }
        ier = {"ftol": 1, "xtol": 2, "gtol": 4}.get(result.reason, 1)
        return result.x, result.covariance, infodict, result.message, ier
    return result.x, result.covariance
