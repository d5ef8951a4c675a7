"""slope.compile and the compiled Function: values against known results,
shapes, printing, errors and pickling."""

import pickle

import numpy as np
import pytest

import slope

ROSENBROCK = "(1-x)^2 + 100*(y-x^2)^2"


@pytest.fixture(scope="module")
def rosen():
    return slope.compile(ROSENBROCK)


def test_values_gradient_and_hessian_are_rosenbrocks(rosen):
    assert rosen.vars == ["x", "y"]
    assert rosen.text == ROSENBROCK
    # f(-1.2, 1) = 2.2^2 + 100*0.44^2 = 24.2; the gradient by hand:
    # (-2(1-x) - 400x(y-x^2), 200(y-x^2)).
    assert rosen([-1.2, 1.0]) == pytest.approx(24.2, rel=1e-15)
    v, g = rosen.value_and_grad(np.array([-1.2, 1.0]))
    assert isinstance(v, float) and v == pytest.approx(24.2, rel=1e-15)
    assert isinstance(g, np.ndarray) and g.dtype == np.float64 and g.shape == (2,)
    np.testing.assert_allclose(g, [-215.6, -88.0], rtol=1e-14)
    np.testing.assert_allclose(rosen.grad((-1.2, 1)), g, rtol=0)
    h = rosen.hess([1.0, 1.0])
    assert h.shape == (2, 2)
    np.testing.assert_array_equal(h, [[802.0, -400.0], [-400.0, 200.0]])


def test_points_come_as_lists_tuples_ints_and_any_array():
    f = slope.compile("3*x^2 + 2*y")
    for point in ([2, 5], (2.0, 5.0), np.array([2, 5], dtype=np.int32),
                  np.array([2.0, 9.0, 5.0])[::2], np.array([2.0, 5.0], dtype=np.float32)):
        assert f(point) == 22.0
        np.testing.assert_array_equal(f.grad(point), [12.0, 2.0])


def test_diff_prints_each_partial_in_order(rosen):
    d = rosen.diff()
    assert list(d) == ["x", "y"]
    assert d == {"x": "-400*x*(y - x^2) - 2*(1 - x)", "y": "200*(y - x^2)"}
    assert slope.compile("3*x^2 + 2*x + 1").diff() == {"x": "6*x + 2"}


def test_diff_gives_arrays_their_indexed_partials_as_slope_diff_does():
    chain = "param n = 3\nvar x[1..n]\nsum(i in 1..n-1, 100*(x[i+1]-x[i]^2)^2)"
    assert slope.compile(chain).diff() == {
        "x[k]": [("-400*x[k]*(x[k+1] - x[k]^2)", "k in 1..n-1"),
                 ("200*(x[k] - x[k-1]^2)", "k in 2..n")],
    }
    assert slope.compile("x[1]^2 + x[2]*y").diff() == {
        "y": "x[2]",
        "x[k]": [("y", "k = 2"), ("2*x[1]", "k = 1")],
    }
    # `k` names a variable here: the index is `m`; `z` has no partials.
    d = slope.compile("param n = 3\nvar x[1..n]\nvar z[1..2]\nvar k\nsum(i in 1..n, x[i]*k)").diff()
    assert d == {"k": "sum(i in 1..n, x[i])", "x[m]": [("k", "m in 1..n")], "z[m]": []}


def test_latex():
    assert slope.compile("3*x^2 + 2*x + 1").latex() == "3 x^{2} + 2 x + 1"


def test_vars_fixes_the_order():
    f = slope.compile("x - 2*y", vars=["y", "x", "z"])
    assert f.vars == ["y", "x", "z"]
    assert f([1.0, 10.0, 0.0]) == 8.0
    np.testing.assert_array_equal(f.grad([1.0, 10.0, 0.0]), [-2.0, 1.0, 0.0])
    with pytest.raises(slope.FormulaError):
        slope.compile("x - 2*y", vars=["x"])


def test_unaligned_arrays_are_read(rosen):
    # A float64 array at an odd byte offset, as a pickled one can arrive in
    # another process: read by copying, not refused or misread.
    raw = np.zeros(8 * 8 + 1, dtype=np.uint8)
    x = raw[1:17].view(np.float64)
    x[:] = [-1.2, 1.0]
    assert not x.flags.aligned
    assert rosen(x) == rosen([-1.2, 1.0])
    np.testing.assert_array_equal(rosen.grad(x), rosen.grad([-1.2, 1.0]))
    X = raw[1:33].view(np.float64).reshape(2, 2)
    X[:] = [[-1.2, 1.0], [1.0, 1.0]]
    assert not X.flags.aligned
    np.testing.assert_array_equal(rosen.batch(X), [rosen([-1.2, 1.0]), 0.0])
    res = slope.minimize(rosen, x)
    assert res.success


def test_batch_equals_one_call_per_row():
    f = slope.compile("sin(x)*exp(y) + z^2*x - log(1 + y^2)")
    rng = np.random.default_rng(7)
    # More rows than one parallel task takes, and not a multiple of it.
    X = rng.uniform(-2, 2, size=(10_001, 3))
    values = f.batch(X)
    assert values.shape == (10_001,)
    one_by_one = np.array([f(row) for row in X])
    np.testing.assert_array_equal(values, one_by_one)
    grads = f.batch_grad(X)
    assert grads.shape == (10_001, 3)
    np.testing.assert_array_equal(grads, np.array([f.grad(row) for row in X]))
    v2, g2 = f.batch_value_and_grad(X)
    np.testing.assert_array_equal(v2, values)
    np.testing.assert_array_equal(g2, grads)
    # Fortran order and lists are converted.
    np.testing.assert_array_equal(f.batch(np.asfortranarray(X[:5])), values[:5])
    np.testing.assert_array_equal(f.batch(X[:5].tolist()), values[:5])
    assert f.batch(np.empty((0, 3))).shape == (0,)


def test_a_formula_without_variables():
    f = slope.compile("2^10")
    assert f.vars == [] and f([]) == 1024.0
    np.testing.assert_array_equal(f.batch(np.empty((3, 0))), [1024.0] * 3)
    assert f.grad([]).shape == (0,)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda f: f([1.0, 2.0, 3.0]), "the point has 3 values, but the formula has 2 variables"),
        (lambda f: f.grad([1.0]), "the point has 1 value, but the formula has 2 variables"),
        (lambda f: f.hess([[1.0, 2.0]]), "the point must be a 1-D array, not one of shape (1, 2)"),
        # NumPy reads a scalar as a point of one value.
        (lambda f: f(np.float64(1.0)), "the point has 1 value, but the formula has 2 variables"),
        (lambda f: f.batch([1.0, 2.0]), "not one of shape (2,)"),
        (lambda f: f.batch(np.zeros((4, 3))), "2 columns (one per variable), not one of shape (4, 3)"),
        (lambda f: f.batch_grad(np.zeros((2, 2, 2))), "not one of shape (2, 2, 2)"),
    ],
)
def test_shape_errors_are_value_errors(rosen, call, message):
    with pytest.raises(ValueError) as e:
        call(rosen)
    assert message in str(e.value)
    assert not isinstance(e.value, slope.FormulaError)


def test_a_point_that_is_not_numbers_is_a_type_error(rosen):
    with pytest.raises(TypeError, match="the point is not an array of numbers"):
        rosen(["a", "b"])
    with pytest.raises(TypeError, match="the point is None"):
        rosen(None)
    with pytest.raises(TypeError, match="the batch is None"):
        rosen.batch(None)


def test_a_batch_of_one_number_names_its_own_shape(rosen):
    with pytest.raises(ValueError, match=r"not one of shape \(\)$"):
        rosen.batch(np.array(1.0))
    with pytest.raises(ValueError, match=r"the column 't' must be a 1-D array, not one of shape \(\)"):
        slope.compile("data t\nsum(i in 1..rows, t[i]*a)", data={"t": 2.0})


def test_a_formula_error_made_by_hand_has_the_attributes_unset():
    e = slope.FormulaError("mine")
    assert str(e) == "mine"
    assert (e.line, e.column, e.kind, e.hint, e.message) == (None,) * 5


def test_hints_spell_options_as_python_does():
    with pytest.raises(slope.FormulaError) as e:
        slope.compile("var x[1..n]\nsum(i in 1..n, x[i])")
    assert e.value.hint == "a parameter is declared first, as `param n = 10`; params={'n': …} then overrides it"
    assert "--set" not in str(e.value)


def test_a_dense_hessian_over_the_limit_names_the_python_ways_around():
    f = slope.compile("param n = 3\nvar x[1..n]\nsum(i in 1..n, x[i]^2)", params={"n": 4000})
    with pytest.raises(ValueError) as e:
        f.hess(np.ones(4000), sparse=False)
    text = str(e.value)
    assert text.startswith("the dense Hessian of 4000 variables has 16000000 entries")
    assert "ValueError" not in text and "::" not in text
    assert "f.hess(x, sparse=True)" in text and "f.hessp(x, p)" in text


@pytest.mark.parametrize(
    "text, line, column, kind, message, hint, rendered",
    [
        ("2 * sinn(x)", 1, 5, "name", "unknown function 'sinn'", "did you mean 'sin'?",
         "error: unknown function 'sinn'\n --> <formula>:1:5\n  |\n1 | 2 * sinn(x)\n"
         "  |     ^^^^ did you mean 'sin'?"),
        ("x +", 1, 4, "syntax", "unexpected end of the formula", "expected a number, a name or '('",
         None),
        ("sin(x, y)", 1, 1, "arity", "'sin' takes 1 argument, but 2 were given", None, None),
        ("let a = x\n  a + b +* 2", 2, 10, "syntax", "unexpected '*'",
         "expected a number, a name or '('", None),
    ],
)
def test_formula_errors_carry_the_caret_and_the_place(text, line, column, kind, message, hint,
                                                      rendered):
    with pytest.raises(slope.FormulaError) as e:
        slope.compile(text)
    err = e.value
    assert isinstance(err, ValueError)
    assert (err.line, err.column, err.kind) == (line, column, kind)
    if message is not None:
        assert err.message == message
    assert err.hint == hint
    if rendered is not None:
        assert str(err) == rendered
    # The caret sits under the column the attributes give.
    lines = str(err).splitlines()
    assert lines[0] == f"error: {err.message}"
    caret = lines[-1].split("| ", 1)[1]
    assert caret.index("^") == column - 1


def test_an_empty_formula_is_a_formula_error():
    with pytest.raises(slope.FormulaError) as e:
        slope.compile("   ")
    assert e.value.kind == "syntax"


def test_a_scalar_formula_refuses_params_and_data():
    assert slope.compile("x^2", params=None, data={}).vars == ["x"]
    with pytest.raises(ValueError, match="no parameter 'a'"):
        slope.compile("a*x", params={"a": 2.0})
    with pytest.raises(ValueError, match="declares no data"):
        slope.compile("a*x", data={"t": [1.0, 2.0]})


def test_pickle_compiles_again_with_the_same_options(rosen):
    for f in (rosen, slope.compile("x - 2*y", vars=["y", "x"])):
        g = pickle.loads(pickle.dumps(f))
        assert isinstance(g, slope.Function)
        assert g.vars == f.vars and g.text == f.text and repr(g) == repr(f)
        point = [0.3, -0.7]
        assert g(point) == f(point)
        np.testing.assert_array_equal(g.grad(point), f.grad(point))


def test_formula_errors_pickle_with_their_attributes():
    with pytest.raises(slope.FormulaError) as e:
        slope.compile("2 * sinn(x)")
    back = pickle.loads(pickle.dumps(e.value))
    assert type(back) is slope.FormulaError
    assert str(back) == str(e.value)
    assert (back.line, back.column, back.kind, back.hint) == (1, 5, "name", "did you mean 'sin'?")
