"""slope.minimize against known minima, its options and callback, and
slope's functions inside scipy.optimize."""

import numpy as np
import pytest

import slope

ROSENBROCK = "(1-x)^2 + 100*(y-x^2)^2"  # minimum 0 at (1, 1)


@pytest.mark.parametrize("method", ["lbfgs", "newton"])
def test_finds_rosenbrocks_minimum(method):
    res = slope.minimize(ROSENBROCK, [-1.2, 1.0], method=method)
    assert res.success and res.status == 0 and res.reason == "gtol"
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-8)
    assert res.fun < 1e-15
    assert np.max(np.abs(res.jac)) <= 1e-8
    assert res.nit > 0 and res.nfev >= res.nit and res.njev >= res.nit
    # Newton evaluates Hessians as it goes; a converged run of any method
    # pays for the test that its point is not a saddle: the dense Hessian
    # if one is ready, else Lanczos on Hessian-vector products (at most n).
    assert res.nhev > 1 if method == "newton" else 1 <= res.nhev <= 2
    assert res.message == "no gradient component is larger than gtol"


def test_returns_scipys_optimize_result():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    res = slope.minimize(slope.compile("(x-3)^2"), [0.0])
    assert isinstance(res, scipy_optimize.OptimizeResult)
    assert set(res) >= {"x", "fun", "jac", "nit", "nfev", "njev", "success", "status", "message"}


def test_the_fallback_result_reads_like_scipys():
    res = slope._Result(x=np.array([1.0]), fun=0.0)
    assert res.x[0] == 1.0 and res["fun"] == 0.0
    res.nit = 3
    assert res["nit"] == 3
    with pytest.raises(AttributeError):
        res.missing


def test_options_reach_the_method():
    res = slope.minimize(ROSENBROCK, [-1.2, 1.0], options={"maxiter": 5})
    assert (res.success, res.status, res.reason, res.nit) == (False, 1, "max-iter", 5)
    # A fixed step of 0.25 on (x-3)^2 halves the distance each step:
    # x_k = 3 - 3/2^k, so gtol 1e-3 needs 2*3/2^k <= 1e-3: k = 13.
    res = slope.minimize("(x-3)^2", [0.0], method="gd", options={"lr": 0.25, "gtol": 1e-3})
    assert res.success and res.nit == 13


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": "bfgs"}, "unknown method 'bfgs'; slope has gd, momentum"),
        ({"options": {"momentum": 0.9}}, "unknown option 'momentum' for 'lbfgs'; it takes maxiter, gtol, ftol, xtol, memory, lr, first_step"),
        # What slope min refuses (--gtol -1, --max-iter 0, --bounds x=inf:inf).
        ({"options": {"gtol": -1}}, "gtol must be zero or positive, not -1"),
        ({"options": {"ftol": float("nan")}}, "ftol must be zero or positive, not NaN"),
        ({"method": "newton", "options": {"xtol": -1e-3}}, "xtol must be zero or positive, not -0.001"),
        ({"options": {"maxiter": 0}}, "maxiter must be at least 1, not 0"),
        ({"constraints": "x + y <= 1", "options": {"maxiter": 0}}, "maxiter must be at least 1, not 0"),
        ({"bounds": [(0, 1), (float("inf"), float("inf"))]}, "the bounds of variable 1 hold no finite value: low inf, high inf"),
        ({"method": "sqp", "bounds": [(None, float("-inf")), (0, 1)]}, "the bounds of variable 0 hold no finite value: low -inf, high -inf"),
        ({"method": "adam", "options": {"beta1": 1.5}}, "beta1 must be in [0, 1), not 1.5"),
        # The minimisers' own check, in their words (optim::check_interval).
        ({"method": "gd", "bounds": [(2, 0), (0, 2)]}, "the bounds of variable 0 are not an interval: low 2, high 0 (the low end must not be above the high end, and neither NaN)"),
        ({"bounds": [(0, 2), (float("nan"), None)]}, "the bounds of variable 1 are not an interval: low NaN, high inf"),
        ({"constraints": "x + y <= 1", "bounds": [(2, 0), (0, 2)]}, "the bounds of variable 0 are not an interval: low 2, high 0"),
        ({"constraints": "x + y <= 1", "method": "auglag", "bounds": [(2, 0), (0, 2)]}, "the bounds of variable 0 are not an interval: low 2, high 0"),
        ({"method": "gd", "bounds": [(0, 2)]}, "the bounds have 1 value, but the formula has 2 variables"),
        ({"x0": [1.0]}, "the start point has 1 value, but the formula has 2 variables"),
        # A start that is not finite is no start (it ran to "diverged", or
        # was said to lie outside the bounds): every method refuses it.
        ({"x0": [float("nan"), 0.0]}, "the start of 'x' is NaN, not finite"),
        ({"x0": np.array([0.0, np.inf])}, "the start of 'y' is inf, not finite"),
        ({"x0": [float("nan"), 0.0], "bounds": [(0, 1), (0, 1)]}, "the start of 'x' is NaN, not finite"),
        ({"x0": [float("nan"), 0.0], "method": "sqp"}, "the start of 'x' is NaN, not finite"),
        ({"x0": [float("nan"), 0.0], "constraints": "x + y <= 1"}, "the start of 'x' is NaN, not finite"),
    ],
)
def test_bad_arguments_are_value_errors(kwargs, message):
    kwargs.setdefault("x0", [0.0, 0.0])
    with pytest.raises(ValueError) as e:
        slope.minimize(ROSENBROCK, **kwargs)
    assert message in str(e.value)


def test_lr_is_the_line_searchs_first_step_as_on_the_command_line():
    for method in ["lbfgs", "newton"]:
        by_lr = slope.minimize(ROSENBROCK, [-1.2, 1.0], method=method, options={"lr": 0.25})
        by_name = slope.minimize(ROSENBROCK, [-1.2, 1.0], method=method, options={"first_step": 0.25})
        default = slope.minimize(ROSENBROCK, [-1.2, 1.0], method=method)
        assert by_lr.success and by_lr.nfev == by_name.nfev and by_lr.nfev != default.nfev
        np.testing.assert_array_equal(by_lr.x, by_name.x)


@pytest.mark.parametrize("method", ["sqp", "auglag"])
def test_the_constrained_methods_run_with_bounds_alone(method):
    # As slope min --method sqp does: x ends on its upper bound, y on its lower.
    res = slope.minimize("(x-3)^2 + (y+1)^2", [0.0, 0.0], method=method, bounds=[(0, 1), (0, None)])
    assert res.success and res.reason == "kkt" and res.method == method
    np.testing.assert_allclose(res.x, [1.0, 0.0], atol=1e-8)
    assert len(res.multipliers) == 0
    with pytest.raises(ValueError, match="no callback with constraints or with method 'sqp' or 'auglag'"):
        slope.minimize("(x-3)^2", [0.0], method=method, callback=lambda x: None)


def test_a_formula_error_reaches_the_caller():
    with pytest.raises(slope.FormulaError):
        slope.minimize("x +", [0.0])
    with pytest.raises(TypeError, match="formula text or a slope.Function"):
        slope.minimize(lambda x: x[0] ** 2, [0.0])


@pytest.mark.parametrize("method", ["lbfgs", "newton", "gd"])
def test_bounds_hold_in_every_method(method):
    # The free minimum (0, 0) lies outside x >= 0.5.
    scipy_optimize = pytest.importorskip("scipy.optimize")
    for bounds in ([(0.5, None), (None, None)], scipy_optimize.Bounds([0.5, -np.inf], [np.inf, np.inf])):
        res = slope.minimize("x^2 + y^2", [2.0, 1.0], method=method, bounds=bounds)
        assert res.success, res.message
        np.testing.assert_allclose(res.x, [0.5, 0.0], atol=1e-6)


def test_unbounded_and_saddle_are_not_successes():
    res = slope.minimize("x + y^2", [0.0, 1.0])
    assert (res.success, res.status, res.reason) == (False, 6, "unbounded")
    res = slope.minimize("x^2 - y^2", [0.0, 0.0])
    assert (res.success, res.status, res.reason) == (False, 7, "saddle")


def test_the_callback_sees_each_iterate_and_can_stop_the_run():
    seen = []

    def callback(xk):
        seen.append(xk.copy())
        return len(seen) == 3

    res = slope.minimize(ROSENBROCK, [-1.2, 1.0], callback=callback)
    assert (res.success, res.status, res.reason, res.nit) == (False, 5, "interrupted", 3)
    assert res.message == "the callback stopped the run"
    np.testing.assert_array_equal(seen[-1], res.x)

    results = []

    def new_style(intermediate_result):
        results.append(intermediate_result.fun)
        if len(results) == 2:
            raise StopIteration

    res = slope.minimize(ROSENBROCK, [-1.2, 1.0], callback=new_style)
    assert res.nit == 2 and res.fun == results[-1] and results[0] < 24.2


def test_an_exception_in_the_callback_is_raised_again():
    def callback(xk):
        raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        slope.minimize(ROSENBROCK, [-1.2, 1.0], callback=callback)


@pytest.mark.parametrize("callback", ["print", 3])
def test_a_callback_that_cannot_be_called_is_refused_before_the_run(callback):
    with pytest.raises(TypeError, match="callback must be callable"):
        slope.minimize(ROSENBROCK, [-1.2, 1.0], callback=callback)
    f = slope.compile(ROSENBROCK)
    with pytest.raises(TypeError, match="callback must be callable"):
        slope._slope._minimize(f, [-1.2, 1.0], "lbfgs", None, callback, None)


def test_scipy_minimize_takes_value_and_grad_and_hess():
    so = pytest.importorskip("scipy.optimize")
    f = slope.compile(ROSENBROCK)
    res = so.minimize(f.value_and_grad, [-1.2, 1.0], jac=True, method="BFGS", options={"gtol": 1e-10})
    assert res.success
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-7)
    res = so.minimize(f, [-1.2, 1.0], jac=f.grad, hess=f.hess, method="trust-exact")
    assert res.success
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-8)


def test_scipy_on_a_large_rosenbrock_matches_scipys_own():
    so = pytest.importorskip("scipy.optimize")
    n = 50
    text = " + ".join(f"100*(x{i+1} - x{i}^2)^2 + (1 - x{i})^2" for i in range(n - 1))
    f = slope.compile(text, vars=[f"x{i}" for i in range(n)])
    x = np.linspace(-1.0, 1.5, n)
    v, g = f.value_and_grad(x)
    assert v == pytest.approx(so.rosen(x), rel=1e-13)
    np.testing.assert_allclose(g, so.rosen_der(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(f.hess(x), so.rosen_hess(x), rtol=1e-12, atol=1e-12)
    res = so.minimize(f.value_and_grad, np.zeros(n), jac=True, method="BFGS")
    np.testing.assert_allclose(res.x, np.ones(n), atol=1e-4)
