"""slope.minimize with constraints as text: the augmented Lagrangian's
answer, its multipliers and verdicts."""

import numpy as np
import pytest

import slope


def test_a_constraint_as_text_moves_the_minimum_and_gives_its_multiplier():
    # min (x-2)^2 + (y-1)^2 with x + y <= 2: at (1.5, 0.5), lambda = 1.
    res = slope.minimize("(x-2)^2 + (y-1)^2", [0, 0], constraints="x + y <= 2")
    assert res.success and res.status == 0 and res.reason == "kkt"
    np.testing.assert_allclose(res.x, [1.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(res.multipliers, [1.0], atol=1e-5)
    assert res.maxcv <= 1e-8 and res.kkt_residual <= 1e-6
    assert res.constraints.shape == (1,) and res.outer_iterations > 0


def test_a_list_of_constraints_and_a_function_with_them():
    f = slope.compile("x^2 + y^2")
    res = slope.minimize(f, [3.0, 3.0], constraints=["x + y == 2", "subject to x >= 1.5"])
    assert res.success
    np.testing.assert_allclose(res.x, [1.5, 0.5], atol=1e-6)
    assert len(res.multipliers) == 2


def test_a_text_with_subject_to_is_constrained_and_bounds_hold():
    res = slope.minimize("(x-3)^2 + (y-3)^2\nsubject to x*y <= 4", [1.0, 1.0],
                         bounds=[(0, 1.5), (0, None)])
    assert res.success
    np.testing.assert_allclose(res.x, [1.5, 4 / 1.5], atol=1e-6)


def test_a_function_keeps_its_variable_order_when_constraints_are_added():
    f = slope.compile("(x-2)^2 + (y-1)^2", vars=["y", "x"])
    res = slope.minimize(f, [0, 0], constraints="x + y <= 2")
    np.testing.assert_allclose(res.x, [0.5, 1.5], atol=1e-6)


def test_constraints_on_indexed_formulas_move_the_minimum():
    # min sum (x[i] - i)^2 with x[1] + x[2] + x[3] <= 3: x = (0, 1, 2),
    # every partial -2, so lambda = 2.
    f = slope.compile("param n = 3\nvar x[1..n]\nsum(i in 1..n, (x[i] - i)^2)", params={"n": 3})
    res = slope.minimize(f, np.zeros(3), constraints="x[1] + x[2] + x[3] <= 3")
    assert res.success and res.reason == "kkt"
    np.testing.assert_allclose(res.x, [0.0, 1.0, 2.0], atol=1e-6)
    np.testing.assert_allclose(res.multipliers, [2.0], atol=1e-5)
    # A sum over a parameter's range, with a scalar variable: a = 1, and
    # the partial sum(2*(1 - i)) = -6 is balanced by lambda = 6.
    g = slope.compile("param n = 3\nsum(i in 1..n, (a - i)^2)")
    res = slope.minimize(g, np.zeros(1), constraints="a <= 1")
    assert res.success
    np.testing.assert_allclose(res.x, [1.0], atol=1e-6)
    np.testing.assert_allclose(res.multipliers, [6.0], atol=1e-5)


def test_infeasible_constraints_do_not_succeed():
    res = slope.minimize("x^2", [3.0], constraints=["x >= 1", "x <= 0"])
    assert not res.success and res.reason == "infeasible" and res.status == 8
    assert res.maxcv > 0.1


def test_errors():
    with pytest.raises(ValueError, match="cannot take constraints"):
        slope.minimize("x^2", [1.0], method="adam", constraints="x >= 1")
    with pytest.raises(ValueError, match="cannot take constraints"):
        slope.minimize("x^2", [1.0], method="newton", constraints="x >= 1")
    with pytest.raises(ValueError, match="callback"):
        slope.minimize("x^2", [1.0], constraints="x >= 1", callback=lambda x: None)
    with pytest.raises(TypeError, match="text"):
        slope.minimize("x^2", [1.0], constraints=[{"type": "ineq"}])
    with pytest.raises(slope.FormulaError):
        slope.minimize("x^2", [1.0], constraints="x >=")
    with pytest.raises(ValueError, match="unknown option"):
        slope.minimize("x^2", [1.0], constraints="x >= 1", options={"nope": 1})
    res = slope.minimize("x^2", [3.0], constraints="x >= 1", options={"feasibility_tol": 1e-10})
    assert res.success and abs(res.x[0] - 1.0) < 1e-8


HS71 = "x1*x4*(x1 + x2 + x3) + x3\nsubject to x1*x2*x3*x4 >= 25\nsubject to x1^2 + x2^2 + x3^2 + x4^2 == 40"
HS71_X = [1.0, 4.74299963, 3.82114998, 1.37940829]  # Hock and Schittkowski's solution


@pytest.mark.parametrize("method", [None, "sqp", "auglag", "lbfgs"])
def test_every_constrained_method_solves_hs71(method):
    f = slope.compile(HS71, vars=["x1", "x2", "x3", "x4"])
    res = slope.minimize(f, [1, 5, 5, 1], method=method, bounds=[(1, 5)] * 4)
    assert res.success and res.reason == "kkt"
    assert abs(res.fun - 17.0140173) < 1e-6
    np.testing.assert_allclose(res.x, HS71_X, atol=1e-6)
    assert res.method == ("sqp" if method in (None, "sqp") else "auglag")


def test_sqp_uses_fewer_evaluations_than_the_augmented_lagrangian():
    f = slope.compile(HS71, vars=["x1", "x2", "x3", "x4"])
    runs = {m: slope.minimize(f, [1, 5, 5, 1], method=m, bounds=[(1, 5)] * 4) for m in ("sqp", "auglag")}
    assert runs["sqp"].nfev * 5 < runs["auglag"].nfev
    # SQP steps with the Hessian of the Lagrangian; the augmented Lagrangian
    # evaluates it once, for the second-order test at its answer.
    assert runs["sqp"].nhev > 1 and runs["auglag"].nhev == 1


def test_sqp_alone_reports_infeasible_constraints():
    res = slope.minimize("x^2", [3.0], method="sqp", constraints=["x >= 1", "x <= 0"])
    assert not res.success and res.status == 8 and res.method == "sqp"


def test_the_default_hands_a_failed_indexed_run_to_sqp_as_slope_min_does():
    # sum x[i]^3 with x[i] >= -1: x^3 falls faster than the augmented
    # Lagrangian's penalty grows, so it stalls alone; SQP then finds the
    # minimum -3 at x = -1 (it was the stall, "auglag", by default).
    f = "param n = 3\nvar x[1..n]\nsum(i in 1..n, x[i]^3)\nsubject to (i in 1..n) x[i] >= -1"
    res = slope.minimize(f, np.full(3, -0.5))
    assert res.success and res.reason == "kkt" and res.method == "sqp"
    np.testing.assert_allclose(res.x, [-1.0, -1.0, -1.0], atol=1e-8)
    np.testing.assert_allclose(res.fun, -3.0, atol=1e-8)
