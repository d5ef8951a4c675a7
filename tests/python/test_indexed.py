"""Indexed formulas from Python: params and data in, flattened variables,
binding again, pickling, and the errors of each."""

import pickle

import numpy as np
import pytest

import slope

SQUARES = "param n = 3\nvar x[1..n]\nsum(i in 1..n, (x[i] - i)^2)"
DECAY = "data t, y\nsum(i in 1..rows, (y[i] - a*exp(-b*t[i]))^2)"
T = np.arange(5.0)
Y = 2.0 * np.exp(-0.5 * T)


def test_params_set_the_sizes_and_vars_are_flattened():
    f = slope.compile(SQUARES)
    assert f.vars == ["x[1]", "x[2]", "x[3]"]
    g = slope.compile(SQUARES, params={"n": 2})
    assert g.vars == ["x[1]", "x[2]"]
    assert g.params == {"n": 2.0}
    # sum (x_i - i)^2 at 0 is 1 + 4; the gradient is 2(x_i - i).
    assert g([0, 0]) == 5.0
    np.testing.assert_array_equal(g.grad(np.zeros(2)), [-2.0, -4.0])
    v, grad = g.value_and_grad([1.0, 2.0])
    assert v == 0.0 and np.all(grad == 0.0)
    X = np.array([[0.0, 0.0], [1.0, 2.0], [1.0, 0.0]])
    np.testing.assert_array_equal(g.batch(X), [5.0, 0.0, 4.0])
    np.testing.assert_array_equal(g.batch_grad(X)[2], [0.0, -4.0])
    with pytest.raises(ValueError, match="2"):
        g([0.0, 0.0, 0.0])


def test_data_are_bound_by_name_and_arrays_are_read():
    f = slope.compile(DECAY, data={"t": T, "y": list(Y)})
    assert f.vars == ["a", "b"]
    assert f([2.0, 0.5]) == pytest.approx(0.0, abs=1e-28)
    # d/da sum (y - a e^{-bt})^2 = -2 sum e^{-bt}(y - a e^{-bt}).
    a, b = 1.0, 0.5
    r = Y - a * np.exp(-b * T)
    np.testing.assert_allclose(f.grad([a, b]), [-2 * np.sum(np.exp(-b * T) * r),
                                               2 * np.sum(a * T * np.exp(-b * T) * r)],
                               rtol=1e-13)
    np.testing.assert_array_equal(f.data["t"], T)
    res = slope.minimize(f, [1.0, 1.0])
    assert res.success
    np.testing.assert_allclose(res.x, [2.0, 0.5], rtol=1e-7)


def test_bind_rebinds_without_changing_the_original():
    g = slope.compile(SQUARES, params={"n": 2})
    h = g.bind(params={"n": 4})
    assert h.vars == ["x[1]", "x[2]", "x[3]", "x[4]"]
    np.testing.assert_array_equal(h.grad(np.zeros(4)), [-2.0, -4.0, -6.0, -8.0])
    assert g.vars == ["x[1]", "x[2]"]
    f = slope.compile(DECAY, data={"t": T, "y": Y})
    # Only y is given: t stays bound; a new length of both is fine too.
    f2 = f.bind(data={"y": 2 * Y})
    assert f2([4.0, 0.5]) == pytest.approx(0.0, abs=1e-27)
    f3 = f.bind(data={"t": T[:2], "y": Y[:2]})
    assert f3([1.0, 0.5]) == pytest.approx(np.sum((Y[:2] - np.exp(-0.5 * T[:2])) ** 2))
    with pytest.raises(ValueError, match="rows"):
        f.bind(data={"y": Y[:2]})


def test_data_that_are_not_finite_are_refused_as_on_the_command_line():
    # --data refuses a NaN cell; a NaN column made f NaN everywhere.
    bad = np.array([1.0, np.nan, 2.0, 3.0, 4.0])
    with pytest.raises(slope.FormulaError, match="'y' is NaN in row 2, not a finite number"):
        slope.compile(DECAY, data={"t": T, "y": bad})
    f = slope.compile(DECAY, data={"t": T, "y": Y})
    with pytest.raises(slope.FormulaError, match="'t' is -inf in row 5, not a finite number"):
        f.bind(data={"t": np.array([0.0, 1.0, 2.0, 3.0, -np.inf])})


def test_bind_refuses_a_column_the_formula_does_not_read():
    # The merge keeps t, so a misspelled T would leave the old t in use.
    f = slope.compile(DECAY, data={"t": T, "y": Y})
    with pytest.raises(ValueError, match="the formula reads no data column 'T'; its data are 't' and 'y'"):
        f.bind(data={"T": 2 * T, "y": Y})
    g = slope.compile(SQUARES)
    with pytest.raises(ValueError, match="no data column 't'; it has no data statement"):
        g.bind(data={"t": T})
    # compile still takes extra columns, as --data takes a CSV file's.
    assert slope.compile(DECAY, data={"t": T, "y": Y, "z": T}).vars == ["a", "b"]


def test_pickling_keeps_params_and_data():
    f = slope.compile(DECAY, data={"t": T, "y": Y})
    g = pickle.loads(pickle.dumps(f))
    assert g.vars == f.vars
    np.testing.assert_array_equal(g.data["y"], Y)
    assert g([1.0, 1.0]) == f([1.0, 1.0])
    h = pickle.loads(pickle.dumps(slope.compile(SQUARES, params={"n": 5}).bind(params={"n": 6})))
    assert len(h.vars) == 6 and h.params == {"n": 6.0}


def test_an_unknown_parameter_is_a_value_error():
    with pytest.raises(ValueError, match="no parameter 'm'"):
        slope.compile(SQUARES, params={"m": 2})


def test_a_missing_column_is_a_value_error_that_names_it():
    with pytest.raises(ValueError, match="'y'"):
        slope.compile(DECAY, data={"t": T})


def test_columns_of_different_lengths_are_a_value_error():
    with pytest.raises(ValueError, match="'y' has 2 rows"):
        slope.compile(DECAY, data={"t": T, "y": Y[:2]})


def test_a_column_must_be_one_dimensional():
    with pytest.raises(ValueError, match="1-D"):
        slope.compile(DECAY, data={"t": T, "y": np.ones((5, 2))})
    with pytest.raises(TypeError):
        slope.compile(SQUARES, params={"n": "two"})


def test_an_index_outside_its_extent_is_a_formula_error_with_its_place():
    with pytest.raises(slope.FormulaError) as e:
        slope.compile("param n = 3\nvar x[1..n]\nsum(i in 1..n+1, x[i]^2)")
    assert e.value.kind == "index"
    assert (e.value.line, e.value.column) == (3, 18)
    assert "outside its extent 1..3" in str(e.value)


def test_a_rebound_function_agrees_with_one_compiled_afresh():
    f = slope.compile(DECAY, data={"t": T, "y": Y})
    g = f.bind(data={"t": T[::-1], "y": 3 * Y})
    h = slope.compile(DECAY, data={"t": T[::-1], "y": 3 * Y})
    for point in ([1.0, 1.0], [2.5, 0.1]):
        assert g(point) == h(point)
        np.testing.assert_array_equal(g.grad(point), h.grad(point))
    X = np.array([[1.0, 1.0], [2.0, 0.5]])
    np.testing.assert_array_equal(g.batch(X), h.batch(X))
