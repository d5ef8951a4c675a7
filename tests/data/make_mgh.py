"""Writes tests/data/mgh.txt: the 35 problems of Moré, Garbow & Hillstrom,
"Testing unconstrained optimization software", ACM TOMS 7(1), 17-41, 1981,
as explicit formulas in slope's language, one problem a line.

    python tests/data/make_mgh.py     # writes tests/data/mgh.txt and mgh_bounds.txt

Each problem is written here as the paper states it: its residuals f_i
(the objective is their sum of squares), its standard start, its
dimensions. The residuals are spelled out term by term (no `sum`), so
every method, Newton included, accepts them and a plain Python `eval`
reads them (benches/mgh_scipy.py). Data sets (Bard, Gaussian, Meyer,
Kowalik-Osborne, Osborne 1 and 2) are the paper's tables.

The known minima (f*) and the boxes of the bound-constrained variants
are data below, with where each comes from; see the header this script
writes.
"""

import pathlib


def num(v):
    """A number as slope and Python both read it: integers as integers, the
    rest to 15 significant digits (exact for the paper's data)."""
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(float(f"{v:.15g}"))


def squares(residuals):
    """The sum of squares of residual expressions."""
    return " + ".join(f"({r})^2" for r in residuals)


def xs(n):
    return [f"x{j}" for j in range(1, n + 1)]


def rosenbrock():
    return 2, [-1.2, 1], [], squares(["10*(x2 - x1^2)", "1 - x1"])


def freudenstein_roth():
    return 2, [0.5, -2], [], squares(["-13 + x1 + ((5 - x2)*x2 - 2)*x2",
                                      "-29 + x1 + ((x2 + 1)*x2 - 14)*x2"])


def powell_badly_scaled():
    return 2, [0, 1], [], squares(["10000*x1*x2 - 1", "exp(-x1) + exp(-x2) - 1.0001"])


def brown_badly_scaled():
    return 2, [1, 1], [], squares(["x1 - 1000000", "x2 - 0.000002", "x1*x2 - 2"])


def beale():
    return 2, [1, 1], [], squares([f"{y} - x1*(1 - x2^{i})" for i, y in [(1, 1.5), (2, 2.25), (3, 2.625)]])


def jennrich_sampson():
    return 2, [0.3, 0.4], [], squares([f"{2 + 2 * i} - (exp({i}*x1) + exp({i}*x2))" for i in range(1, 11)])


def helical_valley():
    # theta = arctan(x2/x1)/(2 pi), plus 1/2 when x1 < 0 (undefined at x1 = 0).
    lets = ["let theta = atan(x2/x1)/(2*pi) + 0.25*(1 - sign(x1))"]
    return 3, [-1, 0, 0], lets, squares(["10*(x3 - 10*theta)", "10*(sqrt(x1^2 + x2^2) - 1)", "x3"])


BARD_Y = [0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96, 1.34, 2.10, 4.39]


def bard():
    r = []
    for i, y in enumerate(BARD_Y, 1):
        u, v = i, 16 - i
        w = min(u, v)
        r.append(f"{num(y)} - (x1 + {u}/({v}*x2 + {w}*x3))")
    return 3, [1, 1, 1], [], squares(r)


GAUSSIAN_Y = [0.0009, 0.0044, 0.0175, 0.0540, 0.1295, 0.2420, 0.3521, 0.3989,
              0.3521, 0.2420, 0.1295, 0.0540, 0.0175, 0.0044, 0.0009]


def gaussian():
    r = [f"x1*exp(-x2*({num((8 - i) / 2)} - x3)^2/2) - {num(y)}" for i, y in enumerate(GAUSSIAN_Y, 1)]
    return 3, [0.4, 1, 0], [], squares(r)


MEYER_Y = [34780, 28610, 23650, 19630, 16370, 13720, 11540, 9744, 8261, 7030,
           6005, 5147, 4427, 3820, 3307, 2872]


def meyer():
    r = [f"x1*exp(x2/({45 + 5 * i} + x3)) - {y}" for i, y in enumerate(MEYER_Y, 1)]
    return 3, [0.02, 4000, 250], [], squares(r)


def gulf():
    # m = 99 (the paper allows n <= m <= 100), t_i = i/100,
    # y_i = 25 + (-50 ln t_i)^(2/3).
    r = [f"exp(-abs(25 + (-50*ln({num(i / 100)}))^(2/3) - x2)^x3/x1) - {num(i / 100)}" for i in range(1, 100)]
    return 3, [5, 2.5, 0.15], [], squares(r)


def box_3d():
    # m = 10, t_i = i/10.
    r = [f"exp(-{num(i / 10)}*x1) - exp(-{num(i / 10)}*x2) - x3*(exp(-{num(i / 10)}) - exp(-{i}))"
         for i in range(1, 11)]
    return 3, [0, 10, 20], [], squares(r)


def powell_singular():
    return 4, [3, -1, 0, 1], [], squares(["x1 + 10*x2", "sqrt(5)*(x3 - x4)", "(x2 - 2*x3)^2",
                                          "sqrt(10)*(x1 - x4)^2"])


def wood():
    return 4, [-3, -1, -3, -1], [], squares(["10*(x2 - x1^2)", "1 - x1", "sqrt(90)*(x4 - x3^2)", "1 - x3",
                                             "sqrt(10)*(x2 + x4 - 2)", "(x2 - x4)/sqrt(10)"])


KOWALIK_Y = [0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627, 0.0456, 0.0342, 0.0323, 0.0235, 0.0246]
KOWALIK_U = [4, 2, 1, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714, 0.0625]


def kowalik_osborne():
    r = [f"{num(y)} - x1*({num(u * u)} + {num(u)}*x2)/({num(u * u)} + {num(u)}*x3 + x4)"
         for y, u in zip(KOWALIK_Y, KOWALIK_U)]
    return 4, [0.25, 0.39, 0.415, 0.39], [], squares(r)


def brown_dennis():
    # m = 20, t_i = i/5.
    r = [f"(x1 + {num(i / 5)}*x2 - exp({num(i / 5)}))^2 + (x3 + x4*sin({num(i / 5)}) - cos({num(i / 5)}))^2"
         for i in range(1, 21)]
    return 4, [25, 5, -5, -1], [], squares(r)


OSBORNE1_Y = [0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.850, 0.818, 0.784, 0.751,
              0.718, 0.685, 0.658, 0.628, 0.603, 0.580, 0.558, 0.538, 0.522, 0.506, 0.490,
              0.478, 0.467, 0.457, 0.448, 0.438, 0.431, 0.424, 0.420, 0.414, 0.411, 0.406]


def osborne1():
    r = [f"{num(y)} - (x1 + x2*exp({-10 * (i - 1)}*x4) + x3*exp({-10 * (i - 1)}*x5))"
         for i, y in enumerate(OSBORNE1_Y, 1)]
    return 5, [0.5, 1.5, -1, 0.01, 0.02], [], squares(r)


def biggs_exp6():
    # m = 13, t_i = i/10, y_i = exp(-t_i) - 5 exp(-10 t_i) + 3 exp(-4 t_i).
    r = []
    for i in range(1, 14):
        t = num(i / 10)
        r.append(f"x3*exp(-{t}*x1) - x4*exp(-{t}*x2) + x6*exp(-{t}*x5)"
                 f" - (exp(-{t}) - 5*exp(-{i}) + 3*exp(-{num(4 * i / 10)}))")
    return 6, [1, 2, 1, 1, 1, 1], [], squares(r)


OSBORNE2_Y = [1.366, 1.191, 1.112, 1.013, 0.991, 0.885, 0.831, 0.847, 0.786, 0.725, 0.746,
              0.679, 0.608, 0.655, 0.616, 0.606, 0.602, 0.626, 0.651, 0.724, 0.649, 0.649,
              0.694, 0.644, 0.624, 0.661, 0.612, 0.558, 0.533, 0.495, 0.500, 0.423, 0.395,
              0.375, 0.372, 0.391, 0.396, 0.405, 0.428, 0.429, 0.523, 0.562, 0.607, 0.653,
              0.672, 0.708, 0.633, 0.668, 0.645, 0.632, 0.591, 0.559, 0.597, 0.625, 0.739,
              0.710, 0.729, 0.720, 0.636, 0.581, 0.428, 0.292, 0.162, 0.098, 0.054]


def osborne2():
    r = []
    for i, y in enumerate(OSBORNE2_Y, 1):
        t = num((i - 1) / 10)
        r.append(f"{num(y)} - (x1*exp(-{t}*x5) + x2*exp(-({t} - x9)^2*x6)"
                 f" + x3*exp(-({t} - x10)^2*x7) + x4*exp(-({t} - x11)^2*x8))")
    return 11, [1.3, 0.65, 0.65, 0.7, 0.6, 3, 5, 7, 2, 4.5, 5.5], [], squares(r)


def watson(n=9):
    # t_i = i/29, 1 <= i <= 29; f_30 = x1, f_31 = x2 - x1^2 - 1.
    r = []
    for i in range(1, 30):
        t = f"({i}/29)"
        first = " + ".join(f"{j - 1}*x{j}*{t}^{j - 2}" for j in range(2, n + 1))
        second = " + ".join(f"x{j}*{t}^{j - 1}" for j in range(1, n + 1))
        r.append(f"{first} - ({second})^2 - 1")
    r += ["x1", "x2 - x1^2 - 1"]
    return n, [0] * n, [], squares(r)


def extended_rosenbrock(n=10):
    r = []
    for i in range(1, n // 2 + 1):
        r += [f"10*(x{2 * i} - x{2 * i - 1}^2)", f"1 - x{2 * i - 1}"]
    return n, [-1.2, 1] * (n // 2), [], squares(r)


def extended_powell(n=12):
    r = []
    for i in range(1, n // 4 + 1):
        a, b, c, d = (f"x{4 * i - k}" for k in (3, 2, 1, 0))
        r += [f"{a} + 10*{b}", f"sqrt(5)*({c} - {d})", f"({b} - 2*{c})^2", f"sqrt(10)*({a} - {d})^2"]
    return n, [3, -1, 0, 1] * (n // 4), [], squares(r)


def penalty1(n=10):
    r = [f"sqrt(0.00001)*(x{j} - 1)" for j in range(1, n + 1)]
    r.append(" + ".join(f"x{j}^2" for j in range(1, n + 1)) + " - 0.25")
    return n, list(range(1, n + 1)), [], squares(r)


def penalty2(n=10):
    r = ["x1 - 0.2"]
    r += [f"sqrt(0.00001)*(exp(x{i}/10) + exp(x{i - 1}/10) - (exp({num(i / 10)}) + exp({num((i - 1) / 10)})))"
          for i in range(2, n + 1)]
    r += [f"sqrt(0.00001)*(exp(x{i - n + 1}/10) - exp(-0.1))" for i in range(n + 1, 2 * n)]
    r.append(" + ".join(f"{n - j + 1}*x{j}^2" for j in range(1, n + 1)) + " - 1")
    return n, [0.5] * n, [], squares(r)


def variably_dimensioned(n=10):
    s = " + ".join(f"{j}*(x{j} - 1)" for j in range(1, n + 1))
    r = [f"x{j} - 1" for j in range(1, n + 1)] + [s, f"({s})^2"]
    return n, [1 - j / n for j in range(1, n + 1)], [], squares(r)


def trigonometric(n=10):
    lets = ["let c = " + " + ".join(f"cos(x{j})" for j in range(1, n + 1))]
    r = [f"{n} - c + {i}*(1 - cos(x{i})) - sin(x{i})" for i in range(1, n + 1)]
    return n, [1 / n] * n, lets, squares(r)


def brown_almost_linear(n=10):
    lets = ["let s = " + " + ".join(xs(n))]
    r = [f"x{i} + s - {n + 1}" for i in range(1, n)] + ["*".join(xs(n)) + " - 1"]
    return n, [0.5] * n, lets, squares(r)


def boundary_start(n):
    h = 1 / (n + 1)
    return [(j * h) * (j * h - 1) for j in range(1, n + 1)]


def discrete_boundary_value(n=10):
    # h = 1/(n+1), t_i = i h, x_0 = x_(n+1) = 0.
    r = []
    for i in range(1, n + 1):
        left = f" - x{i - 1}" if i > 1 else ""
        right = f" - x{i + 1}" if i < n else ""
        r.append(f"2*x{i}{left}{right} + (x{i} + {i}/{n + 1} + 1)^3/(2*{(n + 1) ** 2})")
    return n, boundary_start(n), [], squares(r)


def discrete_integral_equation(n=10):
    lets = [f"let c{j} = (x{j} + {j}/{n + 1} + 1)^3" for j in range(1, n + 1)]
    r = []
    for i in range(1, n + 1):
        below = " + ".join(f"{j}/{n + 1}*c{j}" for j in range(1, i + 1))
        above = " + ".join(f"(1 - {j}/{n + 1})*c{j}" for j in range(i + 1, n + 1)) or "0"
        r.append(f"x{i} + ((1 - {i}/{n + 1})*({below}) + {i}/{n + 1}*({above}))/(2*{n + 1})")
    return n, boundary_start(n), lets, squares(r)


def broyden_tridiagonal(n=10):
    r = []
    for i in range(1, n + 1):
        left = f" - x{i - 1}" if i > 1 else ""
        right = f" - 2*x{i + 1}" if i < n else ""
        r.append(f"(3 - 2*x{i})*x{i}{left}{right} + 1")
    return n, [-1] * n, [], squares(r)


def broyden_banded(n=10):
    # J_i = {j != i : max(1, i - 5) <= j <= min(n, i + 1)}.
    r = []
    for i in range(1, n + 1):
        band = [j for j in range(max(1, i - 5), min(n, i + 1) + 1) if j != i]
        r.append(f"x{i}*(2 + 5*x{i}^2) + 1 - (" + " + ".join(f"x{j}*(1 + x{j})" for j in band) + ")")
    return n, [-1] * n, [], squares(r)


def linear_full_rank(n=10, m=20):
    lets = ["let s = " + " + ".join(xs(n))]
    r = [f"x{i} - 2*s/{m} - 1" for i in range(1, n + 1)] + [f"-2*s/{m} - 1"] * (m - n)
    return n, [1] * n, lets, squares(r)


def linear_rank1(n=10, m=20):
    lets = ["let s = " + " + ".join(f"{j}*x{j}" for j in range(1, n + 1))]
    return n, [1] * n, lets, squares([f"{i}*s - 1" for i in range(1, m + 1)])


def linear_rank1_zero(n=10, m=20):
    lets = ["let s = " + " + ".join(f"{j}*x{j}" for j in range(2, n))]
    r = ["-1"] + [f"{i - 1}*s - 1" for i in range(2, m)] + ["-1"]
    return n, [1] * n, lets, squares(r)


def chebyquad(n=8):
    # m = n; T_i shifted to [0, 1] by y = 2x - 1; the integral of T_i over
    # [0, 1] is 0 for odd i and -1/(i^2 - 1) for even i.
    lets = []
    for j in range(1, n + 1):
        lets.append(f"let t1_{j} = 2*x{j} - 1")
        lets.append(f"let t2_{j} = 2*t1_{j}^2 - 1")
        for i in range(3, n + 1):
            lets.append(f"let t{i}_{j} = 2*t1_{j}*t{i - 1}_{j} - t{i - 2}_{j}")
    r = []
    for i in range(1, n + 1):
        mean = "(" + " + ".join(f"t{i}_{j}" for j in range(1, n + 1)) + f")/{n}"
        r.append(mean + (f" + 1/{i * i - 1}" if i % 2 == 0 else ""))
    return n, [j / (n + 1) for j in range(1, n + 1)], lets, squares(r)


# (the paper's number, name, the function writing the problem).
PROBLEMS = [
    (1, "rosenbrock", rosenbrock),
    (2, "freudenstein_roth", freudenstein_roth),
    (3, "powell_badly_scaled", powell_badly_scaled),
    (4, "brown_badly_scaled", brown_badly_scaled),
    (5, "beale", beale),
    (6, "jennrich_sampson", jennrich_sampson),
    (7, "helical_valley", helical_valley),
    (8, "bard", bard),
    (9, "gaussian", gaussian),
    (10, "meyer", meyer),
    (11, "gulf", gulf),
    (12, "box_3d", box_3d),
    (13, "powell_singular", powell_singular),
    (14, "wood", wood),
    (15, "kowalik_osborne", kowalik_osborne),
    (16, "brown_dennis", brown_dennis),
    (17, "osborne1", osborne1),
    (18, "biggs_exp6", biggs_exp6),
    (19, "osborne2", osborne2),
    (20, "watson", watson),
    (21, "extended_rosenbrock", extended_rosenbrock),
    (22, "extended_powell", extended_powell),
    (23, "penalty1", penalty1),
    (24, "penalty2", penalty2),
    (25, "variably_dimensioned", variably_dimensioned),
    (26, "trigonometric", trigonometric),
    (27, "brown_almost_linear", brown_almost_linear),
    (28, "discrete_boundary_value", discrete_boundary_value),
    (29, "discrete_integral_equation", discrete_integral_equation),
    (30, "broyden_tridiagonal", broyden_tridiagonal),
    (31, "broyden_banded", broyden_banded),
    (32, "linear_full_rank", linear_full_rank),
    (33, "linear_rank1", linear_rank1),
    (34, "linear_rank1_zero", linear_rank1_zero),
    (35, "chebyquad", chebyquad),
]

HEADER = """\
# The Moré–Garbow–Hillstrom test set (J. J. Moré, B. S. Garbow and K. E.
# Hillstrom, "Testing unconstrained optimization software", ACM TOMS 7(1),
# 17-41, 1981): all 35 problems, the paper's standard starts, one a line:
#
#   name | f* (known minima, global first) | start | bounds | formula
#
# Written by tests/data/make_mgh.py (edit that, not this). Each objective is
# the sum of squares of the paper's residuals, spelled out term by term,
# after `var x1, ..., xn` (linear rank 1 with zero columns never reads x1
# and xn, which are variables all the same).
# Dimensions where the paper lets them vary: Jennrich-Sampson m = 10, Gulf
# m = 99, Box 3D m = 10, Brown-Dennis m = 20, Biggs EXP6 m = 13, Watson
# n = 9, extended Rosenbrock n = 10, extended Powell n = 12, penalty I and
# II, variably dimensioned, trigonometric, Brown almost-linear, discrete
# boundary value and integral equation, Broyden tridiagonal and banded
# n = 10; the three linear functions n = 10, m = 20; Chebyquad n = m = 8.
#
# Checked: every objective against a second transcription written from
# jlmelville/funconstrain (R/01_rosen.R ... R/35_chebyquad.R), equal to
# 1e-15 relative at the start and at two perturbed points; the starts,
# dimensions and minima against funconstrain's and
# JuliaSmoothOptimizers/NLSProblems.jl's (src/mgh01.jl ... mgh34.jl).
# They differ from the paper, which is followed here, in three places:
# funconstrain starts Brown-Dennis at x4 = +1 (the paper and NLSProblems:
# -1); NLSProblems' Gulf keeps the paper's misprint |y_i m i x2| (here, as
# in funconstrain and CUTEst's GULF, |y_i - x2|) and its penalty II pairs
# exp(x_(i+1)/10) + exp(x_i/10) with y_i instead of y_(i+1).
#
# f*: the paper's values (6 digits), given to 10 where a tight run (scipy's
# L-BFGS-B, or least_squares for Jennrich-Sampson and Meyer) or a closed
# form (linear functions: m - n, m(m-1)/(2(2m+1)), (m^2+3m-6)/(2(2m-3)))
# agrees with every printed digit. Second values are local minima: those
# the paper lists (Freudenstein-Roth 48.98425, Biggs EXP6 with m = 13
# 5.65565e-3, Brown almost-linear 1) and the trigonometric function's
# 2.79506e-5 at n = 10, where the standard start leads. The paper also
# lists minima at infinity, which no finite run reaches to 1e-6: Bard
# 17.4286 (x2, x3 -> -inf) and Kowalik-Osborne 1.02734e-3 (x1 -> +inf).
"""

BOUNDS_HEADER = """\
# Bound-constrained variants of the Moré–Garbow–Hillstrom problems of
# tests/data/mgh.txt: the same objectives and starts, in a box. Written by
# tests/data/make_mgh.py; same format.
#
# The rule (this project's own; no published boxes were transcribed): take
# the minimiser x* a run from the standard start x0 finds (listed in
# make_mgh.py); for each odd-numbered variable whose x*_j differs from x0_j
# by more than 1e-3 max(1, |x*_j|), bound it halfway between them on x*'s
# side ((x0_j + x*_j)/2 rounded to 3 significant digits: an upper bound if
# x*_j > x0_j, else a lower one); if no odd-numbered variable qualifies,
# apply the rule to the even-numbered ones. The start is inside the box and
# the unconstrained minimiser outside it, so a bound is active at the
# constrained minimum on most problems: on 30 of the 31 here at the
# reference points below, all but linear rank 1 with zero columns (its
# minimisers form an affine subspace that meets the box).
#
# Left out, as the rule makes them ill-posed: helical valley (the box
# x1 <= 0 ends where the paper's theta is undefined, x1 = 0), and Bard, Box
# 3D and Biggs EXP6, which have no finite minimum in their boxes (f keeps
# falling along a valley to infinity: Bard's x2 -> +inf, x3 -> -inf; Box
# 3D's x2 -> +inf; Biggs' x6 = -x3 -> +inf as x1 -> x5).
#
# f*: no paper lists these minima; each is where a tight run of scipy's
# L-BFGS-B (ftol = 0, gtol = 1e-13) from x0 ends (benches/mgh_scipy.py
# --reference tests/data/mgh_bounds.txt), to 10 digits, a local minimum.
"""


# Known minima, global first. The paper prints 6 digits; the values here
# have 10 where a tight run (scipy's L-BFGS-B, `benches/mgh_scipy.py
# --reference`, or least_squares for 6 and 10) or a closed form agrees with
# every digit the paper prints. Second values are local minima the paper
# lists (2, 18 with m = 13, 27) or the one the standard start leads to (26).
FSTARS = {
    1: ["0"], 2: ["0", "48.98425368"], 3: ["0"], 4: ["0"], 5: ["0"],
    6: ["124.3621824"], 7: ["0"], 8: ["8.214877307e-3"], 9: ["1.12793277e-8"],
    10: ["87.94585517"], 11: ["0"], 12: ["0"], 13: ["0"], 14: ["0"],
    15: ["3.075056038e-4"], 16: ["85822.20163"], 17: ["5.464894697e-5"],
    18: ["0", "5.655649926e-3"], 19: ["4.013773629e-2"], 20: ["1.399760138e-6"],
    21: ["0"], 22: ["0"], 23: ["7.087651467e-5"], 24: ["2.936605375e-4"], 25: ["0"],
    26: ["0", "2.795056122e-5"], 27: ["0", "1"], 28: ["0"], 29: ["0"], 30: ["0"],
    31: ["0"], 32: ["10"], 33: ["4.634146341"], 34: ["6.135135135"],
    35: ["3.516873726e-3"],
}

# The minimiser the bound-constrained variants cut off: where a tight run of
# scipy's L-BFGS-B from the standard start ends (benches/mgh_scipy.py
# --reference, 10 digits), except 3, 6 and 10, where that run stops short and
# scipy's least_squares (method 'lm', tolerances 1e-15) gives the paper's minimum.
X_STAR = {
    1: [1, 1],
    2: [11.41277899, -0.8968052533],
    3: [1.09815933e-05, 9.10614674],
    4: [1000000, 2e-06],
    5: [3, 0.5],
    6: [0.2578252136, 0.2578252136],
    7: [1, -5.276152621e-15, -8.297086285e-15],
    8: [0.08241055975, 1.133036092, 2.343695179],
    9: [0.3989561378, 1.000019084, 2.705733035e-21],
    10: [0.005609636902, 6181.346275, 345.2236323],
    11: [50, 25, 1.5],
    12: [1, 10, 1],
    13: [1.984733993e-07, -1.984734027e-08, -8.259941266e-08, -8.259941459e-08],
    14: [1, 1, 1, 1],
    15: [0.1928069346, 0.1912823287, 0.1230565069, 0.1360623307],
    16: [-11.5944399, 13.20363005, -0.4034394886, 0.2367787738],
    17: [0.3754100521, 1.935846914, -1.464687138, 0.01286753464, 0.02212269965],
    18: [1.711415994, 17.68319819, 1.163143661, 5.186561555, 1.711415994, 1.163143661],
    19: [1.309977155, 0.431553795, 0.6336616989, 0.5994305346, 0.7541832278, 0.9042885768, 1.365811835, 4.823698804, 2.398684865, 4.568874597, 5.675341471],
    20: [-1.530955262e-05, 0.9997897029, 0.01476399878, 0.1463420464, 1.000822004, -2.617732629, 4.104404473, -3.143612852, 1.052626501],
    21: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    22: [-1.779903208e-06, 1.779903209e-07, 3.988733098e-06, 3.988733097e-06, -1.779903208e-06, 1.779903209e-07, 3.988733098e-06, 3.988733097e-06, 2.230192893e-06, -2.230192892e-07, -5.032688988e-06, -5.032688987e-06],
    23: [0.1581223038, 0.1581223032, 0.1581223026, 0.158122302, 0.1581223014, 0.1581223008, 0.1581223002, 0.1581222996, 0.158122299, 0.1581222984],
    24: [0.1999836051, 0.01035048949, 0.01960481795, 0.03208886777, 0.04993372614, 0.07651445936, 0.1186230188, 0.1921444777, 0.347321108, 0.3691642441],
    25: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    26: [0.05515090473, 0.05684061707, 0.05876400228, 0.0609906092, 0.06362621146, 0.06684317566, 0.2081615151, 0.1643631057, 0.08500689158, 0.09143144434],
    27: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    28: [-0.04316498252, -0.08157715654, -0.1144857144, -0.1409735769, -0.1599086962, -0.1698772023, -0.1690899838, -0.1552495352, -0.1253558917, -0.07541653369],
    29: [-0.04316498252, -0.08157715654, -0.1144857144, -0.1409735769, -0.1599086962, -0.1698772023, -0.1690899838, -0.1552495352, -0.1253558917, -0.07541653369],
    30: [-0.570722132, -0.68180695, -0.702210076, -0.7055106299, -0.7049061557, -0.701496607, -0.6918893224, -0.6657965144, -0.596035109, -0.4164122575],
    31: [-0.4283028636, -0.4765964244, -0.5196524636, -0.5580993248, -0.5925061568, -0.6245036822, -0.6232394714, -0.6213938418, -0.6204535967, -0.5864692707],
    32: [-1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    33: [0.857332911, 0.714665822, 0.571998733, 0.429331644, 0.286664555, 0.1439974659, 0.00133037694, -0.1413367121, -0.2840038011, -0.4266708901],
    34: [1, 0.6907118386, 0.5360677579, 0.3814236772, 0.2267795965, 0.0721355158, -0.0825085649, -0.2371526456, -0.3917967263, 1],
    35: [0.04315276015, 0.1930908404, 0.2663287069, 0.5, 0.5, 0.7336712931, 0.8069091596, 0.9568472398],
}


# The bound-constrained variants' minima: where a tight run of scipy's L-BFGS-B
# from the standard start ends (benches/mgh_scipy.py --reference
# tests/data/mgh_bounds.txt), to 10 digits. No paper lists them.
BOUNDED_FSTARS = {
    1: ["1.21"],
    2: ["61.00157317"],
    3: ["3.955820851e-05"],
    4: ["2.5e+11"],
    5: ["0.523344836"],
    6: ["126.7471277"],
    7: ["215.5623877"],
    8: ["1.474199291"],
    9: ["1.582602251e-08"],
    10: ["31190.23941"],
    11: ["0.3423318915"],
    12: ["136.6960254"],
    13: ["3.193307045"],
    14: ["8"],
    15: ["0.0006943877316"],
    16: ["449259.7648"],
    17: ["0.03771158515"],
    18: ["0.006964873684"],
    19: ["0.2189753369"],
    20: ["5.595387178e-06"],
    21: ["6.05"],
    22: ["9.579921134"],
    23: ["1851.653552"],
    24: ["3.8684171"],
    25: ["0.7204770444"],
    26: ["0.0006782113276"],
    27: ["0.3251132177"],
    28: ["0.0001659857029"],
    29: ["0.006250800191"],
    30: ["2.848302758"],
    31: ["19.78065871"],
    32: ["15"],
    33: ["4.634146342"],
    34: ["6.135135135"],
    35: ["0.00537045442"],
}


# Variants the rule makes ill-posed, left out of mgh_bounds.txt.
LEFT_OUT = {
    7: "the box x1 <= 0 ends where the paper's theta is undefined (x1 = 0)",
    8: "no finite minimum: f falls towards x2 = +inf, x3 = -inf with x2 + x3 fixed",
    12: "no finite minimum: f falls towards x2 = +inf",
    18: "no finite minimum: f falls as x1 -> x5 with x6 = -x3 -> +inf",
}


def cut(x0, xstar):
    """The box of a bound-constrained variant: for each odd-numbered
    variable whose minimiser x* differs from the start x0 (by more than
    1e-3 max(1, |x*|)), a bound halfway between them, on x*'s side, rounded
    to 3 significant digits (more if rounding would reach x0): the start is
    inside, the unconstrained minimiser outside. Even-numbered variables
    stay free, unless no odd-numbered one differs (then they take the rule
    instead)."""
    box = {}
    for j in list(range(1, len(x0) + 1, 2)) + list(range(2, len(x0) + 1, 2)):
        if box and j % 2 == 0:
            break
        a, b = x0[j - 1], xstar[j - 1]
        if abs(b - a) <= 1e-3 * max(1.0, abs(b)):
            continue
        mid = (a + b) / 2
        for digits in range(3, 16):
            bound = float(f"{mid:.{digits}g}")
            if min(a, b) < bound < max(a, b):
                break
        box[j] = ("-inf", num(bound)) if b > a else (num(bound), "inf")
    return box


def line(name, x0, lets, body, fstars, box):
    start = ",".join(f"x{j}={num(v)}" for j, v in enumerate(x0, 1))
    bounds = ",".join(f"x{j}={lo}:{hi}" for j, (lo, hi) in sorted(box.items())) or "-"
    declare = "var " + ", ".join(xs(len(x0)))
    return " | ".join([name, ", ".join(fstars), start, bounds, "; ".join([declare] + lets + [body])])


def main():
    here = pathlib.Path(__file__).resolve().parent
    free, bounded = [], []
    for number, name, writer in PROBLEMS:
        n, x0, lets, body = writer()
        assert len(x0) == n == len(X_STAR[number])
        free.append(line(f"mgh{number:02}_{name}", x0, lets, body, FSTARS[number], {}))
        if number in LEFT_OUT:
            continue
        box = cut(x0, X_STAR[number])
        bounded.append(line(f"mgh{number:02}b_{name}", x0, lets, body, BOUNDED_FSTARS[number], box))
    (here / "mgh.txt").write_text(HEADER + "\n".join(free) + "\n")
    (here / "mgh_bounds.txt").write_text(BOUNDS_HEADER + "\n".join(bounded) + "\n")


if __name__ == "__main__":
    main()
