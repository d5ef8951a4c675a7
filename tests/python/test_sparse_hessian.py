"""Sparse Hessians (``f.hess``) and Hessian-vector products (``f.hessp``)
of indexed formulas, checked against a hand-written Rosenbrock Hessian and
used by scipy's Newton-type methods."""

import sys

import numpy as np
import pytest

import slope

sparse = pytest.importorskip("scipy.sparse")
so = pytest.importorskip("scipy.optimize")

ROSEN = """param n = 4
var x[1..n]
sum(i in 1..n-1, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)"""
SCALAR = "(1-x)^2 + 100*(y-x^2)^2"


def rosen(n):
    return slope.compile(ROSEN, params={"n": n})


def rosen_hessian(x):
    """Extended Rosenbrock's Hessian by hand: tridiagonal, dense array."""
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n - 1):
        # Term i, 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2.
        h[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        h[i, i + 1] += -400 * x[i]
        h[i + 1, i] += -400 * x[i]
        h[i + 1, i + 1] += 200
    return h


def test_an_indexed_hessian_is_sparse_and_equals_the_dense_one():
    f = rosen(5)
    x = np.array([-1.2, 1.0, 0.5, -0.3, 2.0])
    h = f.hess(x)
    assert sparse.issparse(h) and h.shape == (5, 5)
    dense = f.hess(x, sparse=False)
    assert isinstance(dense, np.ndarray)
    np.testing.assert_allclose(h.toarray(), dense, rtol=1e-13)
    np.testing.assert_allclose(dense, rosen_hessian(x), rtol=1e-13)
    np.testing.assert_allclose(dense, so.rosen_hess(x), rtol=1e-13)


def test_a_thousand_variables_give_a_tridiagonal_matrix_with_3n_minus_2_entries():
    n = 1000
    x = np.random.default_rng(18).uniform(-2, 2, n)
    h = rosen(n).hess(x)
    assert h.nnz == 3 * n - 2
    # scipy's own check: rows sorted, no duplicates.
    assert h.has_canonical_format
    np.testing.assert_allclose(h.toarray(), rosen_hessian(x), rtol=1e-12)


def test_a_scalar_formula_keeps_its_dense_hessian_unless_sparse_is_asked():
    f = slope.compile(SCALAR)
    dense = f.hess([1.0, 1.0])
    assert isinstance(dense, np.ndarray)
    np.testing.assert_allclose(dense, [[802.0, -400.0], [-400.0, 200.0]])
    h = f.hess([1.0, 1.0], sparse=True)
    assert sparse.issparse(h)
    np.testing.assert_allclose(h.toarray(), dense)


def test_past_the_node_limit_only_the_sparse_hessian_is_given():
    n = 4000  # n*n = 1.6e7 entries, over the limit of 1e7 nodes
    f = rosen(n)
    x = np.full(n, 0.5)
    with pytest.raises(ValueError, match="sparse=True"):
        f.hess(x, sparse=False)
    assert f.hess(x).nnz == 3 * n - 2


def test_without_scipy_a_sparse_hessian_says_what_to_do(monkeypatch):
    f = rosen(3)
    monkeypatch.setitem(sys.modules, "scipy.sparse", None)
    with pytest.raises(ImportError, match="pip install scipy"):
        f.hess([0.0, 0.0, 0.0])
    assert f.hess([0.0, 0.0, 0.0], sparse=False).shape == (3, 3)


@pytest.mark.parametrize("n", [2, 1000])
def test_hessp_is_the_hessian_times_p(n):
    rng = np.random.default_rng(n)
    f = slope.compile(SCALAR) if n == 2 else rosen(n)
    x, p = rng.normal(size=n), rng.normal(size=n)
    hp = f.hessp(x, p)
    assert hp.shape == (n,)
    h = f.hess(x)
    np.testing.assert_allclose(hp, h @ p, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(hp, rosen_hessian(x) @ p, rtol=1e-12, atol=1e-9)


def test_bad_shapes_are_value_errors():
    f = rosen(3)
    with pytest.raises(ValueError, match="3 variables"):
        f.hessp([0.0, 0.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="3 variables"):
        f.hessp([0.0, 0.0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="1-D"):
        f.hessp([0.0, 0.0, 0.0], np.ones((3, 1)))
    with pytest.raises(ValueError, match="3 variables"):
        f.hess([0.0, 0.0])
    with pytest.raises(ValueError, match="3 variables"):
        f.hess([0.0, 0.0], sparse=False)


@pytest.mark.parametrize("method", ["trust-krylov", "Newton-CG"])
def test_scipy_minimises_rosen_of_a_thousand_variables_with_hessp(method):
    n = 1000
    f = rosen(n)
    x0 = np.full(n, 1.1)
    # Newton-CG's default xtol (1e-5 on the step) stops it at f = 6e-3
    # with scipy's own rosen_hess_prod as well.
    options = {"xtol": 1e-10} if method == "Newton-CG" else {}
    res = so.minimize(
        f.value_and_grad, x0, jac=True, hessp=f.hessp, method=method, options=options
    )
    assert res.success, res.message
    np.testing.assert_allclose(res.x, np.ones(n), atol=1e-5)
    assert res.fun < 1e-10
    # The same iterates as with scipy's hand-written products.
    ref = so.minimize(
        so.rosen, x0, jac=so.rosen_der, hessp=so.rosen_hess_prod, method=method,
        options=options,
    )
    assert res.nit == ref.nit
    np.testing.assert_allclose(res.x, ref.x, rtol=1e-8)


def test_scipy_trust_constr_takes_the_sparse_hessian():
    n = 10
    f = rosen(n)
    x0 = np.linspace(-1.0, 1.5, n)
    assert sparse.issparse(f.hess(x0))
    res = so.minimize(
        f.value_and_grad, x0, jac=True, hess=f.hess, method="trust-constr",
        options={"gtol": 1e-10, "xtol": 1e-12},
    )
    assert res.success, res.message
    np.testing.assert_allclose(res.x, np.ones(n), atol=1e-6)
