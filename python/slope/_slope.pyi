"""Type stubs for the compiled module ``slope._slope`` (src/python/)."""

from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

ArrayLike = Union[Sequence[float], npt.ArrayLike]

METHODS: list[str]
"""The names of slope's methods, for ``slope.minimize(method=...)``."""

class FormulaError(ValueError):
    """A formula that does not read. ``str(e)`` is the error rendered with a
    caret under the place."""

    line: Optional[int]
    """1-based line of the place, or None for an error about the whole text."""
    column: Optional[int]
    """1-based column (in characters) of the place, or None."""
    kind: str
    """``"syntax"``, ``"name"``, ``"arity"``, ``"index"``, ``"limit"``,
    ``"usage"`` or ``"shape"``."""
    hint: Optional[str]
    """What to do about it, if slope knows."""
    message: str
    """The error in one line, without the rendering."""

class Function:
    """A formula compiled to native code: value, gradient and Hessian.

    Points have one value per variable, in the order of ``vars``; batches
    are 2-D arrays with one point per row. A wrong shape raises ValueError.
    Pickles as its text, parameters and data (compiled again where it is
    unpickled). Immutable: :meth:`bind` returns a new function.
    """

    @property
    def vars(self) -> list[str]:
        """The variables, in the order points give their values."""
    @property
    def text(self) -> str:
        """The formula's text, as given."""
    @property
    def params(self) -> dict[str, float]:
        """The parameter values given (others keep their values in the text)."""
    @property
    def data(self) -> dict[str, npt.NDArray[np.float64]]:
        """The data columns bound (copies)."""
    @property
    def given_vars(self) -> Optional[list[str]]:
        """The variable order given to :func:`compile` (``vars=``), or None."""
    @property
    def n_constraints(self) -> int:
        """How many ``subject to`` statements the formula has."""
    def bind(
        self,
        params: Optional[Mapping[str, float]] = None,
        data: Optional[Mapping[str, ArrayLike]] = None,
    ) -> Function:
        """A new function from the same formula (not parsed or
        differentiated again) with ``params`` and ``data`` put over those
        bound now; ``vars`` follows the new sizes. Errors as :func:`compile`'s,
        and a ``data`` name the formula's ``data`` statements do not declare
        raises ``ValueError``."""
    def __call__(self, x: ArrayLike) -> float:
        """f(x)."""
    def grad(self, x: ArrayLike) -> npt.NDArray[np.float64]:
        """The gradient at ``x``, shape ``(n,)``."""
    def value_and_grad(self, x: ArrayLike) -> tuple[float, npt.NDArray[np.float64]]:
        """``(f(x), gradient)``, as ``scipy.optimize.minimize(..., jac=True)`` wants."""
    def hess(self, x: ArrayLike, sparse: Optional[bool] = None) -> Any:
        """The Hessian at ``x``, shape ``(n, n)``; compiled on first use.

        A formula with arrays of variables gives by default a
        ``scipy.sparse.csr_array`` (``csr_matrix`` on an older scipy) with
        both triangles, from a few compiled Hessian-vector products; other
        formulas a dense NumPy array. ``sparse=False`` forces the dense array
        (``ValueError`` past the node limit on ``n*n``), ``sparse=True`` the
        sparse one; sparse without scipy raises ``ImportError``. Works as
        ``scipy.optimize.minimize(..., hess=f.hess)``."""
    def hessp(self, x: ArrayLike, p: ArrayLike) -> npt.NDArray[np.float64]:
        """The Hessian at ``x`` times ``p``, shape ``(n,)``, by compiled code of
        the product (no ``n × n`` matrix), as
        ``scipy.optimize.minimize(..., hessp=f.hessp)`` wants; ``ValueError``
        unless ``x`` and ``p`` hold one value per variable."""
    def batch(
        self, X: ArrayLike, out: Optional[npt.NDArray[np.float64]] = None
    ) -> npt.NDArray[np.float64]:
        """f at each row of ``X`` (shape ``(m, n)``): shape ``(m,)``, on all
        cores with the GIL released; written into ``out`` (a writable
        C-contiguous float64 array of ``m`` values) when given, and
        ``out`` returned. An ``out`` sharing memory with ``X`` gets the
        values of a copy of ``X``; an ``X`` or ``out`` that a batch in
        another thread is writing (or, for ``out``, reading) meanwhile is a
        ``ValueError``."""
    def batch_grad(self, X: ArrayLike) -> npt.NDArray[np.float64]:
        """The gradient at each row of ``X``: shape ``(m, n)``."""
    def batch_value_and_grad(
        self, X: ArrayLike
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Values ``(m,)`` and gradients ``(m, n)`` at each row of ``X``."""
    def diff(self) -> dict[str, Union[str, list[tuple[str, Optional[str]]]]]:
        """The partial derivatives in slope syntax, as ``slope diff`` prints
        them: ``{name: text}`` for each scalar variable in the order of
        ``vars``, then for each array of variables ``x`` the key ``"x[k]"``
        (``m`` for ``k`` where the formula uses ``k``) with the terms of
        ``df/dx[k]`` as ``(text, where)`` pairs: ``where`` is the range of
        ``k`` the term holds on (``"k in 1..n-1"``, ``"k = 2"``), or the
        loop that adds it to other elements. An element's partial is the
        sum of the terms whose range holds it."""
    def latex(self) -> str:
        """The formula in LaTeX."""
    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]: ...

def compile(
    text: str,
    params: Optional[Mapping[str, float]] = None,
    data: Optional[Mapping[str, ArrayLike]] = None,
    *,
    vars: Optional[Sequence[str]] = None,
) -> Function:
    """Parse ``text``, derive its gradient exactly and compile both to native
    code. ``vars`` fixes the variables' order. ``params`` (``{name: number}``)
    overrides the text's ``param`` values; ``data`` (``{name: 1-D array}``)
    binds the columns its ``data`` statements name; arrays of variables are
    flattened into ``vars`` (``x[1]``, ``x[2]``, ...). Raises FormulaError
    (a ValueError) for a formula that does not read, an unknown parameter,
    a missing column, columns of different lengths or an index outside its
    extent."""

def _rebuild(
    text: str, params: Optional[Any], data: Optional[Any], vars: Optional[Sequence[str]]
) -> Function: ...
def _minimize(
    f: Function,
    x0: ArrayLike,
    method: str,
    bounds: Optional[Sequence[tuple[Optional[float], Optional[float]]]],
    callback: Optional[Callable[[npt.NDArray[np.float64], float], Any]],
    options: Optional[dict[str, Any]],
) -> dict[str, Any]: ...
def _minimize_constrained(
    f: Function,
    x0: ArrayLike,
    method: str,
    bounds: Optional[Sequence[tuple[Optional[float], Optional[float]]]],
    options: Optional[dict[str, Any]],
) -> dict[str, Any]: ...
def _fit(
    text: str,
    data: Mapping[str, ArrayLike],
    start: Optional[Sequence[float]],
    bounds: Optional[Sequence[tuple[float, float]]],
    sigma: Union[None, float, str],
    absolute_sigma: bool,
    loss: str,
    f_scale: float,
    max_evaluations: Optional[int],
) -> dict[str, Any]: ...
