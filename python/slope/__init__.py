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

A compiled function works with scipy as it is
(``scipy.optimize.minimize(f.value_and_grad, x0, jac=True, hess=f.hess)``),
pickles (it is compiled again where it is unpickled), and so crosses
process boundaries, to ``multiprocessing`` or Dask workers.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional

from ._slope import METHODS, FormulaError, Function, _minimize, compile

__all__ = ["compile", "minimize", "Function", "FormulaError", "OptimizeResult", "METHODS"]


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
    with an ``OptimizeResult`` holding ``x`` and ``fun``."""
    if callback is None:
        return None
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


def minimize(
    fun: "Function | str",
    x0: Any,
    method: str = "lbfgs",
    bounds: Any = None,
    callback: Optional[Callable[..., Any]] = None,
    options: Optional[dict] = None,
) -> OptimizeResult:
    """Minimise a formula from ``x0``, shaped like ``scipy.optimize.minimize``.

    ``fun`` is a compiled :class:`Function` or formula text (compiled here).
    ``method`` is one of ``slope.METHODS`` (``"lbfgs"`` by default;
    ``"newton"`` uses the exact Hessian). ``bounds`` (pairs ``(low, high)``,
    ``None`` for an open side, or a ``scipy.optimize.Bounds``) hold in every
    method: ``"lbfgs"`` becomes L-BFGS-B, ``"newton"`` a projected Newton
    method, and the fixed-step methods project each iterate.
    ``callback`` is called after each iteration as ``callback(xk)`` or, if
    its parameter is named ``intermediate_result``, with an
    ``OptimizeResult`` of ``x`` and ``fun``; returning ``True`` or raising
    ``StopIteration`` stops the run (``status`` 5).

    ``options``: ``maxiter`` (15,000), ``gtol`` (1e-8, on the largest gradient
    component), ``ftol`` and ``xtol`` (off), and the method's own
    parameters (``lr``, ``momentum``, ``beta1``, ``beta2``, ``epsilon``,
    ``rho``, ``line_search``, ``memory``, ``first_step``); an unknown name
    raises ``ValueError``.

    Returns scipy's ``OptimizeResult`` (a dict-like object of the same
    fields where scipy is not installed): ``x``, ``fun``, ``jac``, ``nit``,
    ``nfev``, ``njev``, ``nhev``, ``success``, ``status`` (0 converged,
    1 out of iterations, 2 stalled, 3 diverged, 4 oscillating, 5 stopped by
    the callback, 6 f unbounded below, 7 a saddle point), ``message`` and
    slope's ``reason``. The run releases the
    GIL unless there is a callback.
    """
    if isinstance(fun, str):
        fun = compile(fun)
    elif not isinstance(fun, Function):
        raise TypeError(
            f"slope.minimize takes formula text or a slope.Function, not {type(fun).__name__}; "
            "for a Python function use scipy.optimize.minimize"
        )
    pairs = _pairs(bounds, len(fun.vars))
    return OptimizeResult(_minimize(fun, x0, method, pairs, _adapt(callback), options))
