"""slope.curve_fit against scipy's, and slope.fit's table."""

import numpy as np
import pytest

import slope


@pytest.fixture(scope="module")
def decay():
    rng = np.random.default_rng(18)
    x = np.linspace(0.0, 4.0, 50)
    y = 2.5 * np.exp(-1.3 * x) + 0.5 + 0.02 * rng.standard_normal(x.size)
    return x, y


def test_curve_fit_agrees_with_scipys(decay):
    so = pytest.importorskip("scipy.optimize")
    x, y = decay
    popt, pcov = slope.curve_fit("a*exp(-b*x) + c", x, y, p0=[1, 1, 0])
    ref, refcov = so.curve_fit(lambda x, a, b, c: a * np.exp(-b * x) + c, x, y, p0=[1, 1, 0],
                               xtol=1e-15, ftol=1e-15, gtol=1e-15)
    np.testing.assert_allclose(popt, ref, rtol=1e-6)
    np.testing.assert_allclose(pcov, refcov, rtol=1e-4)
    assert pcov.shape == (3, 3)


def test_curve_fit_with_sigma_and_bounds_agrees_with_scipys(decay):
    so = pytest.importorskip("scipy.optimize")
    x, y = decay
    sigma = 0.01 + 0.01 * x
    model = lambda x, a, b, c: a * np.exp(-b * x) + c  # noqa: E731
    for absolute in (False, True):
        popt, pcov = slope.curve_fit("y ~ a*exp(-b*x) + c", x, y, p0=[1, 1, 0], sigma=sigma,
                                     absolute_sigma=absolute)
        ref, refcov = so.curve_fit(model, x, y, p0=[1, 1, 0], sigma=sigma,
                                   absolute_sigma=absolute, xtol=1e-15, ftol=1e-15, gtol=1e-15)
        np.testing.assert_allclose(popt, ref, rtol=1e-6)
        np.testing.assert_allclose(pcov, refcov, rtol=1e-4)
    # c held at or below 0.4: the bound is active.
    popt, _ = slope.curve_fit("a*exp(-b*x) + c", x, y, p0=[1, 1, 0], bounds=([0, 0, 0], [10, 10, 0.4]))
    assert popt[2] == pytest.approx(0.4)


def test_full_output_gives_scipys_five_items(decay):
    so = pytest.importorskip("scipy.optimize")
    x, y = decay
    sigma = 0.01 + 0.01 * x
    model = lambda x, a, b, c: a * np.exp(-b * x) + c  # noqa: E731
    ref = so.curve_fit(model, x, y, p0=[1, 1, 0], sigma=sigma, full_output=True,
                       xtol=1e-15, ftol=1e-15, gtol=1e-15)
    out = slope.curve_fit("a*exp(-b*x) + c", x, y, p0=[1, 1, 0], sigma=sigma, full_output=True)
    assert len(out) == len(ref) == 5
    popt, pcov, infodict, mesg, ier = out
    np.testing.assert_allclose(popt, ref[0], rtol=1e-6)
    # scipy's fvec is (model - y)/sigma at the estimates.
    np.testing.assert_allclose(infodict["fvec"], ref[2]["fvec"], atol=1e-6)
    assert infodict["nfev"] == infodict["result"].evaluations > 0
    assert mesg == infodict["result"].message and ier in (1, 2, 3, 4)


def test_a_bad_sigma_is_named_sigma(decay):
    x, y = decay
    for bad, message in [(0.0, r"sigma\[7\] is 0.0"), (np.nan, r"sigma\[7\] is nan"), (-1.0, r"sigma\[7\] is -1.0")]:
        sigma = np.ones_like(x)
        sigma[7] = bad
        with pytest.raises(ValueError, match=message + ": sigma must be positive and finite in every row"):
            slope.curve_fit("a*exp(-b*x) + c", x, y, p0=[1, 1, 0], sigma=sigma)
    with pytest.raises(ValueError, match="sigma has 3 values, but the data have 50 rows"):
        slope.curve_fit("a*exp(-b*x) + c", x, y, p0=[1, 1, 0], sigma=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="sigma\\[0\\] is 0.0"):
        slope.fit("y ~ a*exp(-b*t) + c", {"t": x, "y": y}, p0=[1, 1, 0], sigma=np.zeros_like(x))


def test_several_predictors_are_rows_x1_x2_or_named_columns():
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 1, (2, 40))
    y = 1.5 * X[0] - 0.5 * X[1] + 2.0
    popt, _ = slope.curve_fit("a*x1 + b*x2 + c", X, y)
    np.testing.assert_allclose(popt, [1.5, -0.5, 2.0], rtol=1e-10)
    popt, _ = slope.curve_fit("a*u + b*v + c", {"u": X[0], "v": X[1]}, y)
    np.testing.assert_allclose(popt, [1.5, -0.5, 2.0], rtol=1e-10)
    popt, _ = slope.curve_fit("a*exp(-b*t)", [0, 1, 2], [2.0, 1.0, 0.5], names=["t"])
    np.testing.assert_allclose(popt, [2.0, np.log(2)], rtol=1e-10)


def test_fit_gives_the_whole_table(decay):
    x, y = decay
    r = slope.fit("y ~ a*exp(-b*t) + c", {"t": x, "y": y}, p0=[1, 1, 0])
    assert r.params == ["a", "b", "c"] and r.predictors == ["t"] and r.response == "y"
    assert r.converged and isinstance(r.reason, str)
    np.testing.assert_allclose(r.x, [2.5, 1.3, 0.5], rtol=0.05)
    assert r.dof == 47 and r.rows == 50
    np.testing.assert_allclose(r.stderr, np.sqrt(np.diag(r.covariance)))
    np.testing.assert_allclose(r.t_values, r.x / r.stderr)
    np.testing.assert_allclose(np.diag(r.correlation), 1.0)
    assert r.intervals.shape == (3, 2) and np.all(r.intervals[:, 0] < r.x)
    assert r.rss == pytest.approx(np.sum(r.residuals ** 2))
    np.testing.assert_allclose(r.fitted + r.residuals, y)
    assert 0.99 < r.r2 <= 1 and r.iterations > 0 and r.evaluations >= r.iterations
    assert r["b"] == r.x[1] and dict(r) == dict(zip(r.params, r.x))
    assert "estimate" in repr(r)


def test_fit_errors():
    with pytest.raises(slope.FormulaError):
        slope.fit("y ~ a*exp(", {"t": [1.0], "y": [1.0]})
    with pytest.raises(ValueError, match="'y'"):
        slope.fit("y ~ a*t", {"t": [1.0, 2.0]})
    with pytest.raises(ValueError):
        slope.fit("y ~ a*t", {"t": [1.0, 2.0], "y": [1.0]})
    with pytest.raises(ValueError, match="covariance"):
        slope.curve_fit("a*x", [1.0, 2.0], [1.0, 2.0], sigma=np.eye(2))
    with pytest.raises(ValueError, match="does not read the predictor 'x'"):
        slope.curve_fit("a*exp(-b*t)", [0, 1, 2], [2.0, 1.0, 0.5])
    with pytest.raises(ValueError, match="loss"):
        slope.fit("y ~ a*t", {"t": [1.0, 2.0], "y": [1.0, 2.0]}, loss="nope")


def test_a_column_named_as_a_constant_is_refused_not_replaced():
    # y ~ a*e read the constant e, and fitted it without a word.
    for name in ("e", "pi", "exp"):
        with pytest.raises(ValueError, match=f"the column '{name}' has a reserved name"):
            slope.fit(f"y ~ a*{name}_", {name: [1.0, 2.0, 3.0], "y": [2.0, 4.1, 5.9]})
    with pytest.raises(ValueError, match="reserved name"):
        slope.curve_fit("a*e", [1.0, 2.0, 3.0], [2.0, 4.1, 5.9], names=["e"])


def test_bad_bounds_are_a_value_error_naming_the_parameter():
    x = np.linspace(0, 4, 20)
    y = 2 * np.exp(-x) + 0.5
    # These panicked in Rust (PanicException: min > max, or either was NaN).
    with pytest.raises(ValueError, match="the bounds of 'a' are not an interval: low 0, high -1"):
        slope.curve_fit("a*exp(-b*x)+c", x, y, bounds=([0, 0, 0], [-1, 1, 1]))
    with pytest.raises(ValueError, match="the bounds of 'b' are not an interval"):
        slope.fit("y ~ a*exp(-b*x)+c", {"x": x, "y": y}, bounds=([0, np.nan, 0], [9, 9, 9]))
    with pytest.raises(ValueError, match="the bounds of 'a' hold no finite value"):
        slope.curve_fit("a*exp(-b*x)+c", x, y, bounds=([np.inf] * 3, [np.inf] * 3))


def test_nan_data_and_undefined_starts_are_value_errors():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    y = np.array([2.0, np.nan, 6.0, 8.0])
    with pytest.raises(ValueError, match="the column 'y' is NaN in row 2") as info:
        slope.fit("y ~ a*x", {"x": x, "y": y})
    assert "start from values" not in str(info.value)
    with pytest.raises(ValueError, match="the column 'x' is inf in row 1"):
        slope.curve_fit("a*x", [np.inf, 1.0, 2.0], [1.0, 2.0, 3.0])
    # The model undefined at the start: the data are fine, the start is not.
    with pytest.raises(ValueError, match="the model is NaN at the start in row 1"):
        slope.fit("y ~ a*ln(x - b)", {"x": x, "y": [1.0, 2.0, 3.0, 4.0]}, p0=[1, 5])


def test_curve_fit_refuses_a_start_outside_the_bounds_as_scipy_does():
    x = np.linspace(0, 4, 20)
    y = 2 * np.exp(-x) + 0.5
    with pytest.raises(ValueError, match="p0 is infeasible: the start of 'c' is 2.0"):
        slope.curve_fit("a*exp(-b*x)+c", x, y, p0=[1, 1, 2], bounds=([0, 0, 0], [5, 5, 1]))
    so = pytest.importorskip("scipy.optimize")
    with pytest.raises(ValueError):
        so.curve_fit(lambda x, a, b, c: a * np.exp(-b * x) + c, x, y, p0=[1, 1, 2],
                     bounds=([0, 0, 0], [5, 5, 1]))
    # slope.fit moves such a start inside, as documented.
    r = slope.fit("y ~ a*exp(-b*x)+c", {"x": x, "y": y}, p0=[1, 1, 2], bounds=([0, 0, 0], [5, 5, 1]))
    assert r.converged


def test_running_out_of_passes_names_max_nfev():
    x = np.linspace(0, 4, 20)
    y = 2 * np.exp(-1.3 * x) + 0.5
    r = slope.fit("y ~ a*exp(-b*x)+c", {"x": x, "y": y}, max_nfev=2)
    assert not r.converged
    assert r.message == "the run used its 2 passes over the data (raise max_nfev)"
    with pytest.raises(RuntimeError, match="max_nfev"):
        slope.curve_fit("a*exp(-b*x)+c", x, y, max_nfev=2)


def test_rank_deficient_and_exact_fits_report_what_they_cannot_estimate():
    x = np.arange(1.0, 11.0)
    y = 6 * x + 0.1 * np.sin(x)
    # Only a*b is fitted: neither a nor b has an error bar (b had one), c
    # keeps its own, and the degrees of freedom count the rank.
    r = slope.fit("y ~ a*b*x + c", {"x": x, "y": y}, p0=[2, 2, 0])
    assert r.rank == 2 and r.dof == 8
    assert np.isnan(r.stderr[0]) and np.isnan(r.stderr[1]) and np.isfinite(r.stderr[2])
    with pytest.warns(slope.OptimizeWarning, match="rank 2 of 3"):
        slope.curve_fit("a*b*x + c", x, y, p0=[2, 2, 0])
    # Two points, two parameters: scipy gives pcov of inf, and warns.
    so = pytest.importorskip("scipy.optimize")
    with pytest.warns(slope.OptimizeWarning, match="no degree of freedom"):
        popt, pcov = slope.curve_fit("a*x + b", [1.0, 2.0], [2.0, 3.9])
    with pytest.warns(so.OptimizeWarning):
        ref, refcov = so.curve_fit(lambda x, a, b: a * x + b, [1.0, 2.0], [2.0, 3.9])
    np.testing.assert_allclose(popt, ref)
    assert np.all(np.isposinf(pcov)) and np.all(np.isposinf(refcov))
    # A well-posed fit does not warn.
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        slope.curve_fit("a*x + b", x, y)
