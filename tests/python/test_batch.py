"""Batches (``f.batch``, ``f.batch_grad``, ``f.batch_value_and_grad``) on
arrays of every layout, against one call per row to the bit, and the sparse
Hessian called again at other points (its grouping is kept from the first
call)."""

import numpy as np
import pytest

import slope

SMALL = "sin(x)*exp(y) + z^2*x - log(1 + y^2)"
# Large enough that its code is more than one loop body: called row by row.
LARGE = " + ".join(f"sin({k}*x + y)*cos(z - {k})" for k in range(1, 400))
INDEXED = "param n = 3\nvar x[1..n]\nsum(i in 1..n-1, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)"


def one_by_one(f, X):
    values = np.array([f(row) for row in X])
    grads = np.array([f.grad(row) for row in X]).reshape(len(X), len(f.vars))
    return values, grads


def bits(a):
    return np.ascontiguousarray(a).view(np.uint64)


@pytest.mark.parametrize("text", [SMALL, LARGE, INDEXED])
def test_every_layout_gives_the_numbers_of_one_call_per_row(text):
    f = slope.compile(text)
    rng = np.random.default_rng(18)
    wide = rng.uniform(-2, 2, size=(4_501, 7))
    layouts = {
        "C order": np.ascontiguousarray(wide[:, :3]),
        "Fortran order": np.asfortranarray(wide[:, :3]),
        "every other row": wide[::2, :3],
        "every other column": wide[:, ::2][:, :3],
        "rows reversed": wide[::-1, 1:4],
        "a list": wide[:5, :3].tolist(),
    }
    for name, X in layouts.items():
        values, grads = one_by_one(f, np.asarray(X))
        np.testing.assert_array_equal(bits(f.batch(X)), bits(values), err_msg=name)
        np.testing.assert_array_equal(bits(f.batch_grad(X)), bits(grads), err_msg=name)
        v, g = f.batch_value_and_grad(X)
        assert v.shape == (len(values),) and g.shape == (len(values), 3), name
        np.testing.assert_array_equal(bits(v), bits(values), err_msg=name)
        np.testing.assert_array_equal(bits(g), bits(grads), err_msg=name)


def test_the_input_is_left_as_it_was_and_the_outputs_are_new_arrays():
    f = slope.compile(SMALL)
    X = np.random.default_rng(1).uniform(-1, 1, size=(100, 3))
    before = X.copy()
    v, g = f.batch_value_and_grad(X)
    np.testing.assert_array_equal(X, before)
    assert v.flags.owndata or v.base is not X
    assert not np.shares_memory(g, X)


@pytest.mark.parametrize("text", ["var x, y\nx^2", INDEXED.replace("n = 3", "n = 2")])
def test_new_outputs_are_written_everywhere_even_over_freed_garbage(text):
    # The outputs start unfilled (as numpy.empty). Arrays of their sizes
    # full of NaN, freed just before, are what they get from the second
    # round on (numpy.empty in place of the batch sees 99.99% NaN), so an
    # element the batch did not write, such as y's partial, zero everywhere
    # in the first formula, would show.
    f = slope.compile(text)
    m = 200_000
    X = np.random.default_rng(2).uniform(-1, 1, size=(m, 2))
    for _ in range(4):
        garbage = np.full(m, np.nan), np.full((m, 2), np.nan)
        del garbage
        v, g = f.batch_value_and_grad(X)
        assert not np.isnan(v).any() and not np.isnan(g).any()
        del v, g
        garbage = np.full(m, np.nan)
        del garbage
        assert not np.isnan(f.batch(X)).any()
    values, grads = one_by_one(f, X[:50])
    np.testing.assert_array_equal(f.batch(X)[:50], values)
    np.testing.assert_array_equal(f.batch_grad(X)[:50], grads)


@pytest.mark.parametrize(
    "X, shape",
    [
        (np.zeros(3), "(3,)"),
        (np.zeros((4, 2)), "(4, 2)"),
        (np.zeros((4, 4)), "(4, 4)"),
        (np.zeros((2, 3, 1)), "(2, 3, 1)"),
        (np.zeros((3, 6))[:, ::3], "(3, 2)"),
    ],
)
@pytest.mark.parametrize("method", ["batch", "batch_grad", "batch_value_and_grad"])
def test_a_batch_of_the_wrong_shape_is_a_value_error(method, X, shape):
    f = slope.compile(SMALL)
    with pytest.raises(ValueError, match=r"3 columns \(one per variable\), not one of shape " + shape.replace("(", r"\(").replace(")", r"\)")):
        getattr(f, method)(X)


@pytest.mark.parametrize("text", [SMALL, LARGE])
def test_out_receives_the_values_of_a_new_array(text):
    f = slope.compile(text)
    X = np.random.default_rng(2).uniform(-1, 1, size=(1_001, 3))
    out = np.full(len(X), np.nan)
    assert f.batch(X, out=out) is out
    np.testing.assert_array_equal(bits(out), bits(f.batch(X)))


@pytest.mark.parametrize(
    "out, error, message",
    [
        (np.zeros(9), ValueError, "out has 9 values; X has 10 rows"),
        (np.zeros(20)[::2], ValueError, "C-contiguous"),
        (np.zeros(10, dtype=np.float32), TypeError, "float64"),
        (np.zeros((10, 1)), TypeError, "1-D"),
        ([0.0] * 10, TypeError, "NumPy array"),
    ],
)
def test_an_out_that_cannot_take_the_values_is_refused(out, error, message):
    f = slope.compile(SMALL)
    with pytest.raises(error, match=message):
        f.batch(np.zeros((10, 3)), out=out)
    frozen = np.zeros(10)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        f.batch(np.zeros((10, 3)), out=frozen)


def test_a_batch_of_text_is_a_type_error():
    with pytest.raises(TypeError, match="the batch is not an array of numbers"):
        slope.compile(SMALL).batch([["a", "b", "c"]])


def test_the_sparse_hessian_at_new_points_equals_the_dense_one():
    pytest.importorskip("scipy.sparse")
    f = slope.compile(INDEXED, params={"n": 50})
    rng = np.random.default_rng(5)
    for _ in range(3):
        x = rng.uniform(-2, 2, 50)
        h = f.hess(x)
        assert h.nnz == 3 * 50 - 2
        np.testing.assert_array_equal(h.toarray(), f.hess(x, sparse=False))
        # Column by column, as Hessian-vector products give it.
        e = np.zeros(50)
        for j in (0, 17, 49):
            e[:] = 0.0
            e[j] = 1.0
            np.testing.assert_allclose(h.toarray()[:, j], f.hessp(x, e), rtol=1e-14)
