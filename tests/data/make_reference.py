"""Writes tests/data/reference.txt: the value, the partials and the second
derivatives of each of the language's functions at points near the ends of
its domain and of the double range, by mpmath at 60 digits, rounded to the
nearest double. `tests/it/reference.rs` compares slope against them, in ulps.

    python tests/data/make_reference.py     # needs mpmath

Each derivative is written here in closed form (not by mpmath's numerical
differentiation, which loses digits at 1e-300), independently of the forms
slope builds. One line per formula and point:

    formula | x | value | partials | second derivatives (upper triangle)

with the variables in the order the formula names them, numbers as Python's
`repr` of the nearest double (`inf`, `nan` where the true value overflows
or is not real).
"""

import math
import pathlib

import mpmath as mp

mp.mp.dps = 60

MAX = 1.7976931348623157e308
TINY = 5e-324
ULP1 = 2.0**-52


def near_one(sign):
    """Points just inside ±1, where 1 - x^2 and 1 - |x| lose digits."""
    pts = [1 - k * 2.0**-53 for k in (1, 2, 3)]
    pts += [1 - 2.0**-30, 0.999999999999, 0.99999, 0.5, 0.49999999999999994]
    return [sign * p for p in pts]


SMALL = [TINY, 1e-300, 1e-160, 1e-20, 1e-8, 0.1]
LARGE = [2.0, 10.0, 1e8, 1e20, 1e154, 1e160, 1e200, 1e300, MAX]
SIGNED = [s * p for p in SMALL + [0.5, 1.0] + LARGE for s in (1, -1)]


def real(v):
    """`v`, or NaN where mpmath gives a complex number (outside the domain)."""
    if isinstance(v, mp.mpc):
        return mp.mpf("nan") if v.imag != 0 else v.real
    return v


def f64(v):
    v = real(v)
    if mp.isnan(v):
        return "nan"
    if mp.isinf(v) or abs(v) > MAX * (1 + 2.0**-54):
        return "inf" if v > 0 else "-inf"
    # Below the normal range: round to the subnormal grid in one step.
    if 0 < abs(v) < 2.0**-1022:
        q = mp.nint(v * mp.mpf(2) ** 1074)
        return repr(math.ldexp(int(q), -1074))
    return repr(float(v))


# Each function: its text, the points, and closed forms of the value, the
# partials and the second derivatives (upper triangle), in mpmath.
def one(text, points, f, d1, d2):
    return [(text, [x], lambda x: [f(x[0])], lambda x: [d1(x[0])], lambda x: [d2(x[0])])
            for x in points]


sech2 = lambda x: 1 / mp.cosh(x) ** 2
CASES = []
CASES += one("atanh(x)", near_one(1) + near_one(-1) + SMALL + [-t for t in SMALL], mp.atanh,
             lambda x: 1 / (1 - x * x), lambda x: 2 * x / (1 - x * x) ** 2)
CASES += one("acosh(x)",
             [1 + k * ULP1 for k in (1, 2, 3)]
             + [1 + 2.0**-30, 1.000000001, 1.5, 1.9999999999999998, 2.0, 2.0000000000000004, 3.0,
                1e10, 268435455.99999997, 268435456.0, 1e20, 1e154, 1e300, MAX, 0.5],
             mp.acosh, lambda x: 1 / mp.sqrt(x * x - 1), lambda x: -x / (x * x - 1) ** 1.5)
CASES += one("tanh(x)",
             [0.0, 1e-300, 1e-8, 0.5, 1.0, 5.0, 10.0, 15.0, 19.0, 20.0, 30.0, 100.0, 300.0, 355.0,
              365.0, 372.0, 375.0, 700.0, 711.0, 1000.0, -19.0, -40.0, -1000.0],
             mp.tanh, sech2, lambda x: -2 * mp.tanh(x) * sech2(x))
CASES += one("asinh(x)", SIGNED, mp.asinh,
             lambda x: 1 / mp.sqrt(1 + x * x), lambda x: -x / (1 + x * x) ** 1.5)
CASES += one("asin(x)", near_one(1) + near_one(-1) + SMALL, mp.asin,
             lambda x: 1 / mp.sqrt(1 - x * x), lambda x: x / (1 - x * x) ** 1.5)
CASES += one("acos(x)", near_one(1) + near_one(-1) + SMALL, mp.acos,
             lambda x: -1 / mp.sqrt(1 - x * x), lambda x: -x / (1 - x * x) ** 1.5)
CASES += one("atan(x)", SIGNED, mp.atan,
             lambda x: 1 / (1 + x * x), lambda x: -2 * x / (1 + x * x) ** 2)
HYPERBOLIC = [0.0, 1e-300, 1e-8, 0.5, 20.0, 354.0, 356.0, 709.0, 709.78, 710.4, 711.0, -20.0, -709.0, -711.0]
CASES += one("sinh(x)", HYPERBOLIC, mp.sinh, mp.cosh, mp.sinh)
CASES += one("cosh(x)", HYPERBOLIC, mp.cosh, mp.sinh, mp.cosh)
CASES += one("exp(x)", [-746.0, -745.0, -708.5, -1.0, 1e-300, 1.0, 354.0, 709.7, 710.0],
             mp.exp, mp.exp, mp.exp)
POSITIVE = [TINY, 1e-300, 1e-160, 0.5, 1 - 2.0**-53, 1.0, 1 + ULP1, 2.0, 1e160, 1e300, MAX]
CASES += one("ln(x)", POSITIVE, mp.log, lambda x: 1 / x, lambda x: -1 / x**2)
CASES += one("log2(x)", POSITIVE, lambda x: mp.log(x, 2),
             lambda x: 1 / (x * mp.log(2)), lambda x: -1 / (x**2 * mp.log(2)))
CASES += one("log10(x)", POSITIVE, mp.log10,
             lambda x: 1 / (x * mp.log(10)), lambda x: -1 / (x**2 * mp.log(10)))
CASES += one("sqrt(x)", POSITIVE, mp.sqrt,
             lambda x: 1 / (2 * mp.sqrt(x)), lambda x: -1 / (4 * x**1.5))
cbrt = lambda x: mp.sign(x) * mp.cbrt(abs(x))
CASES += one("cbrt(x)", [p for p in SIGNED if p != 0], cbrt,
             lambda x: 1 / (3 * cbrt(x) ** 2), lambda x: -2 / (9 * x * cbrt(x) ** 2))
CASES += one("tan(x)", [1e-300, 0.5, 1.5707963267948966, 1.5707963267948963, -1.5707963267948966, 1e22],
             mp.tan, lambda x: 1 / mp.cos(x) ** 2, lambda x: 2 * mp.tan(x) / mp.cos(x) ** 2)
CASES += one("sin(x)", [1e-300, 0.5, 3.141592653589793, 1e22, 1e300], mp.sin, mp.cos, lambda x: -mp.sin(x))
CASES += one("cos(x)", [1e-300, 0.5, 1.5707963267948966, 1e22, 1e300], mp.cos,
             lambda x: -mp.sin(x), lambda x: -mp.cos(x))

PAIRS = [(1e-200, 1e-200), (1e300, 1e-300), (1e-300, 1e300), (1e200, 1e200), (1.0, 1.0), (3.0, -4.0),
         (-2.0, -1e-300), (1e154, 1e154), (1e-160, 1e-160), (TINY, TINY), (1e308, 1e308),
         (-1e-200, 3e-200), (2e-300, -1e-300), (1.0, 1e-8), (1e-8, -1.0), (1e100, 3e90)]


def two(text, f, d1, d2):
    return [(text, [a, b], lambda x: [f(*x)], lambda x: d1(*x), lambda x: d2(*x)) for a, b in PAIRS]


r2 = lambda y, x: x * x + y * y
CASES += two("atan2(y, x)", lambda y, x: mp.atan2(y, x),
             lambda y, x: [x / r2(y, x), -y / r2(y, x)],
             lambda y, x: [-2 * x * y / r2(y, x) ** 2, (y * y - x * x) / r2(y, x) ** 2,
                           2 * x * y / r2(y, x) ** 2])
hyp = lambda x, y: mp.sqrt(x * x + y * y)
CASES += two("hypot(x, y)", hyp,
             lambda x, y: [x / hyp(x, y), y / hyp(x, y)],
             lambda x, y: [y * y / hyp(x, y) ** 3, -x * y / hyp(x, y) ** 3, x * x / hyp(x, y) ** 3])

# x^y with a variable exponent: powf, and its partials y*x^(y-1), x^y*ln(x).
POWERS = [(1e-300, 0.5), (1e300, 0.5), (2.0, 1000.0), (2.0, -1074.0), (0.5, 1074.5), (1e-10, 2.5),
          (1 - 2.0**-53, 1e16), (10.0, 308.0), (1e-300, -1.0), (7.0, 1e-300), (5e-324, 0.5), (1.5, 2.0)]
CASES += [("x^y", [a, b], lambda v: [v[0] ** v[1]],
           lambda v: [v[1] * v[0] ** (v[1] - 1), v[0] ** v[1] * mp.log(v[0])],
           lambda v: [v[1] * (v[1] - 1) * v[0] ** (v[1] - 2),
                      v[0] ** (v[1] - 1) * (1 + v[1] * mp.log(v[0])),
                      v[0] ** v[1] * mp.log(v[0]) ** 2])
          for a, b in POWERS]


def main():
    lines = [
        "# Written by tests/data/make_reference.py (mpmath, 60 digits): do not edit.",
        "# formula | x | value | partials | second derivatives (upper triangle)",
    ]
    for text, x, f, d1, d2 in CASES:
        X = [mp.mpf(v) for v in x]
        cols = [" ".join(repr(v) for v in x)]
        for part in (f(X), d1(X), d2(X)):
            cols.append(" ".join(f64(v) for v in part))
        lines.append(" | ".join([text] + cols))
    out = pathlib.Path(__file__).with_name("reference.txt")
    out.write_text("\n".join(lines) + "\n")
    print(f"{len(lines) - 2} lines to {out}")


if __name__ == "__main__":
    main()
