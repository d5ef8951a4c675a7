"""scipy's SLSQP and trust-constr on the Hock–Schittkowski problems of
tests/data/hock_schittkowski.txt, under the rule slope's test applies, so
that the counts can be set side by side.

    python benches/hs_scipy.py > benches/data/hs_scipy.txt

Each line of the data file is translated to Python: `^` becomes `**`, `ln`
becomes `log`, a `let` a local name, each `subject to` a scipy constraint.
scipy gets no derivatives (it differences the values, by its default
two-point scheme): the evaluation counts (`nfev`) include those differences,
so they are not comparable with slope's exact-gradient counts; the solved
counts are. A problem is solved when the point returned violates no
constraint or bound by more than 1e-6 and f is within 1e-6·max(1, |f*|) of
f*, the rule of `tests/it/constraints.rs`.

SLSQP is also run a second time with exact gradients of f and of every
constraint (sympy differentiates the same translated text): its `nfev`
then counts values only and `njev` gradients, which is what slope's
evaluations (one value with its gradient each) compare with. Needs sympy.
"""

import math
import pathlib
import re
import time
import warnings

import numpy as np
import scipy
import sympy
from scipy.optimize import minimize

DATA = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "hock_schittkowski.txt"
NAMES = {"ln": np.log, "log": np.log, "exp": np.exp, "sqrt": np.sqrt, "sin": np.sin,
         "cos": np.cos, "pi": math.pi, "e": math.e}
RELATIONS = ("<=", ">=", "==")


def number(text):
    return {"inf": math.inf, "-inf": -math.inf}.get(text.strip(), None) or float(text)


def pairs(text):
    if text.strip() == "-":
        return []
    return [tuple(p.split("=", 1)) for p in text.split(",")]


def python(expr):
    return re.sub(r"\^", "**", expr.strip())


def problem(line):
    name, fstar, start, bounds, formula = [c.strip() for c in line.split("|")]
    names = [k.strip() for k, _ in pairs(start)]
    x0 = np.array([number(v) for _, v in pairs(start)])
    box = {k.strip(): tuple(number(t) for t in v.split(":")) for k, v in pairs(bounds)}
    lets, objective, constraints = [], None, []
    for statement in (s.strip() for s in formula.split(";")):
        if statement.startswith("let "):
            left, right = statement[4:].split("=", 1)
            lets.append((left.strip(), compile(python(right), name, "eval")))
        elif statement.startswith("subject to "):
            body = statement[len("subject to "):]
            rel = next(r for r in RELATIONS if r in body)
            lhs, rhs = body.split(rel)
            # g = lhs - rhs, turned round for >=: g <= 0 (or == 0).
            g = f"({python(lhs)}) - ({python(rhs)})" if rel != ">=" else f"({python(rhs)}) - ({python(lhs)})"
            constraints.append((rel == "==", compile(g, name, "eval")))
        else:
            objective = compile(python(statement), name, "eval")

    # The same text, symbolically, for exact gradients.
    symbols = sympy.symbols(names) if len(names) > 1 else [sympy.Symbol(names[0])]
    sym_env = {"ln": sympy.log, "log": sympy.log, "exp": sympy.exp, "sqrt": sympy.sqrt,
               "sin": sympy.sin, "cos": sympy.cos, "pi": sympy.pi, "e": sympy.E}
    sym_env.update(zip(names, symbols))
    for left, code in lets:
        sym_env[left] = eval(code, dict(sym_env))

    def symbolic(code):
        return sympy.sympify(eval(code, dict(sym_env)))

    def exact(code):
        expr = symbolic(code)
        value = sympy.lambdify(symbols, expr, "math")
        grad = sympy.lambdify(symbols, [sympy.diff(expr, v) for v in symbols], "math")
        return (lambda x: float(value(*x)),
                lambda x: np.array(grad(*x), dtype=float))

    def scope(x):
        env = dict(NAMES)
        env.update(zip(names, x))
        for left, code in lets:
            env[left] = eval(code, env)
        return env

    def f(x):
        return float(eval(objective, scope(x)))

    def g(code):
        return lambda x: float(eval(code, scope(x)))

    lo = [box.get(n, (-math.inf, math.inf))[0] for n in names]
    hi = [box.get(n, (-math.inf, math.inf))[1] for n in names]
    return dict(name=name, fstar=number(fstar), x0=x0, f=f, lo=lo, hi=hi,
                cons=[(eq, g(code)) for eq, code in constraints],
                exact_f=exact(objective),
                exact_cons=[(eq, *exact(code)) for eq, code in constraints],
                # The expressions themselves, for solvers that want more than
                # gradients (benches/hs_ipopt.py builds exact Hessians).
                symbols=symbols, sym_f=symbolic(objective),
                sym_cons=[(eq, symbolic(code)) for eq, code in constraints])


def violation(p, x):
    worst = 0.0
    for eq, g in p["cons"]:
        v = g(x)
        worst = max(worst, abs(v) if eq else max(v, 0.0))
    for xi, lo, hi in zip(x, p["lo"], p["hi"]):
        worst = max(worst, lo - xi, xi - hi, 0.0)
    return worst


def run(p, method, exact=False):
    # scipy's sign convention: ineq means fun(x) >= 0, so pass -g.
    if exact:
        cons = [{"type": "eq" if eq else "ineq",
                 "fun": (g if eq else (lambda x, g=g: -g(x))),
                 "jac": (dg if eq else (lambda x, dg=dg: -dg(x)))}
                for eq, g, dg in p["exact_cons"]]
        fun, jac = p["exact_f"]
    else:
        cons = [{"type": "eq" if eq else "ineq", "fun": (g if eq else (lambda x, g=g: -g(x)))}
                for eq, g in p["cons"]]
        fun, jac = p["f"], None
    bounds = list(zip(p["lo"], p["hi"])) if any(map(math.isfinite, p["lo"] + p["hi"])) else None
    options = {"SLSQP": {"ftol": 1e-10, "maxiter": 1000},
               "trust-constr": {"gtol": 1e-8, "xtol": 1e-10, "maxiter": 5000}}[method]
    clock = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = minimize(fun, p["x0"], method=method, jac=jac, bounds=bounds,
                           constraints=cons, options=options)
        except Exception as e:  # a failed run counts as not solved
            return dict(f=math.nan, viol=math.nan, nfev=0, njev=0, ok=False,
                        note=type(e).__name__, seconds=0.0)
    seconds = time.perf_counter() - clock
    f, viol = float(out.fun), violation(p, out.x)
    ok = viol <= 1e-6 and abs(f - p["fstar"]) <= 1e-6 * max(1.0, abs(p["fstar"]))
    return dict(f=f, viol=viol, nfev=int(out.nfev), njev=int(getattr(out, "njev", 0)), ok=ok,
                note="", seconds=seconds)


def main():
    problems = [problem(l) for l in DATA.read_text().splitlines()
                if l.strip() and not l.startswith("#")]
    print(f"# scipy {scipy.__version__}, numpy {np.__version__}; rule: violation <= 1e-6, "
          "|f - f*| <= 1e-6 max(1, |f*|)")
    print(f"{'problem':<8} {'f*':>20} {'SLSQP f':>20} {'viol':>8} {'nfev':>6} ok  "
          f"{'trust-constr f':>20} {'viol':>8} {'nfev':>6} ok  "
          f"{'SLSQP exact f':>20} {'viol':>8} {'nfev':>6} {'njev':>6} ok")
    solved = {"SLSQP": 0, "trust-constr": 0, "exact": 0}
    for p in problems:
        a, b, c = run(p, "SLSQP"), run(p, "trust-constr"), run(p, "SLSQP", exact=True)
        solved["SLSQP"] += a["ok"]
        solved["trust-constr"] += b["ok"]
        solved["exact"] += c["ok"]
        print(f"{p['name']:<8} {p['fstar']:>20.10g} {a['f']:>20.10g} {a['viol']:>8.1e} {a['nfev']:>6} "
              f"{'yes' if a['ok'] else 'NO ':<3} {b['f']:>20.10g} {b['viol']:>8.1e} {b['nfev']:>6} "
              f"{'yes' if b['ok'] else 'NO ':<3} {c['f']:>20.10g} {c['viol']:>8.1e} {c['nfev']:>6} "
              f"{c['njev']:>6} {'yes' if c['ok'] else 'NO'}")
    print(f"solved: SLSQP {solved['SLSQP']} of {len(problems)}, "
          f"trust-constr {solved['trust-constr']} of {len(problems)}, "
          f"SLSQP with exact gradients {solved['exact']} of {len(problems)}")


if __name__ == "__main__":
    main()
