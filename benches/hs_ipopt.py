"""Ipopt on the Hock–Schittkowski problems of tests/data/hock_schittkowski.txt,
under the rule slope's test applies, beside benches/hs_scipy.py's SLSQP and
trust-constr.

    python benches/hs_ipopt.py > benches/data/hs_ipopt.txt

Needs cyipopt (`pip install cyipopt-wheels` brings a wheel with Ipopt
inside) and sympy. The problems are read and translated by hs_scipy.py's
own `problem` (imported, not copied), so the starts, bounds, constraints and
the solved rule are the same: violation of every constraint and bound at
most 1e-6, and |f - f*| <= 1e-6·max(1, |f*|).

Ipopt is given what it asks for by default: exact first derivatives (sympy
differentiates the translated text, as for SLSQP exact) and the exact
Hessian of the Lagrangian (sympy again; Ipopt's default
`hessian_approximation` is `exact`). Every option is Ipopt's default
(`tol` 1e-8, `max_iter` 3000, MUMPS) except `print_level` 0 and `sb` yes,
which only silence it. An evaluation that fails in Python (log of a
negative number, overflow) returns NaN, which Ipopt treats as a failed
trial point and steps back from, as it does in C.

Of Ipopt's defaults, `bound_relax_factor` (1e-8) matters here: Ipopt
relaxes every bound and inequality by that much (relative), which stays
inside the rule's 1e-6 violation but moves f by more than 1e-6 on HS95 and
HS97 (set to 0, Ipopt solves both; `tol` 1e-10 does not help). The data
file keeps the defaults, as a user would run it.

Columns: `nf` counts objective values, `ng` objective gradients, `nh`
Hessians of the Lagrangian (counted in the callbacks), `iter` Ipopt's
iterations, `status` its exit message, shortened.
"""

import math
import pathlib
import sys
import warnings

import numpy as np
import sympy

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from hs_scipy import DATA, problem, violation  # noqa: E402

import cyipopt  # noqa: E402

# Ipopt reads any bound beyond ±1e19 as absent (nlp_lower/upper_bound_inf).
NONE = 2e19


def guarded(fn):
    """A callback that answers NaN instead of raising, so that Ipopt sees a
    failed evaluation (and backtracks) rather than cyipopt aborting."""
    def call(*args):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return fn(*args)
        except (ValueError, OverflowError, ZeroDivisionError, TypeError):
            return math.nan
    return call


class Model:
    """The callbacks cyipopt.Problem asks for, built from the sympy
    expressions of one problem, counting every call."""

    def __init__(self, p):
        xs = p["symbols"]
        n = len(xs)
        self.n = n
        self.m = len(p["sym_cons"])
        exprs = [p["sym_f"]] + [e for _, e in p["sym_cons"]]
        lam = lambda e: sympy.lambdify(xs, e, "math")  # noqa: E731
        self.values = [guarded(lam(e)) for e in exprs]
        self.grads = [guarded(lam([sympy.diff(e, v) for v in xs])) for e in exprs]
        # Lower triangle of each Hessian, as Ipopt stores the Lagrangian's.
        self.rows, self.cols = np.tril_indices(n)
        tri = list(zip(self.rows.tolist(), self.cols.tolist()))
        self.hessians = [guarded(lam([sympy.diff(e, xs[i], xs[j]) for i, j in tri]))
                         for e in exprs]
        self.nf = self.ng = self.nh = self.iter = 0

    # The `* np.ones(...)` below broadcasts the single NaN of a failed
    # evaluation to the length Ipopt expects.

    def objective(self, x):
        self.nf += 1
        return float(self.values[0](*x))

    def gradient(self, x):
        self.ng += 1
        return np.array(self.grads[0](*x), dtype=float) * np.ones(self.n)

    def constraints(self, x):
        return np.array([float(v(*x)) for v in self.values[1:]], dtype=float)

    def jacobian(self, x):
        if self.m == 0:
            return np.zeros(0)
        return np.concatenate([np.array(g(*x), dtype=float) * np.ones(self.n)
                               for g in self.grads[1:]])

    def hessianstructure(self):
        return self.rows, self.cols

    def hessian(self, x, multipliers, obj_factor):
        self.nh += 1
        size = len(self.rows)
        h = obj_factor * np.array(self.hessians[0](*x), dtype=float) * np.ones(size)
        for y, hess in zip(multipliers, self.hessians[1:]):
            h = h + y * np.array(hess(*x), dtype=float) * np.ones(size)
        return h

    def intermediate(self, alg_mod, iter_count, *rest):
        self.iter = iter_count
        return True


def run(p):
    model = Model(p)
    # Every constraint was turned into g(x) <= 0 or g(x) == 0 by problem().
    cl = [0.0 if eq else -NONE for eq, _ in p["sym_cons"]]
    cu = [0.0] * model.m
    lb = [lo if math.isfinite(lo) else -NONE for lo in p["lo"]]
    ub = [hi if math.isfinite(hi) else NONE for hi in p["hi"]]
    nlp = cyipopt.Problem(n=model.n, m=model.m, problem_obj=model, lb=lb, ub=ub, cl=cl, cu=cu)
    nlp.add_option("print_level", 0)
    nlp.add_option("sb", "yes")
    try:
        x, info = nlp.solve(np.array(p["x0"], dtype=float))
    except Exception as e:  # a failed run counts as not solved
        return dict(f=math.nan, viol=math.nan, nf=model.nf, ng=model.ng, nh=model.nh,
                    iter=0, ok=False, status=type(e).__name__)
    f = float(p["f"](x))
    viol = violation(p, x)
    ok = viol <= 1e-6 and abs(f - p["fstar"]) <= 1e-6 * max(1.0, abs(p["fstar"]))
    status = info["status_msg"].decode() if isinstance(info["status_msg"], bytes) else info["status_msg"]
    return dict(f=f, viol=viol, nf=model.nf, ng=model.ng, nh=model.nh,
                iter=model.iter,
                ok=ok, status=short(status, info["status"]))


def short(message, code):
    """Ipopt's exit message cut to its first clause, with its status code."""
    text = message.split("(")[0].split(",")[0].strip().rstrip(".")
    return f"{code}: {text}"


def main():
    problems = [problem(l) for l in DATA.read_text().splitlines()
                if l.strip() and not l.startswith("#")]
    major, minor, release = cyipopt.IPOPT_VERSION
    print(f"# Ipopt {major}.{minor}.{release} (cyipopt {cyipopt.__version__}), numpy {np.__version__}, "
          f"sympy {sympy.__version__}; exact gradients and exact Hessian of the Lagrangian (sympy), "
          "Ipopt's default options; rule: violation <= 1e-6, |f - f*| <= 1e-6 max(1, |f*|)")
    print(f"{'problem':<8} {'f*':>20} {'Ipopt f':>20} {'viol':>8} {'nf':>5} {'ng':>5} {'nh':>5} "
          f"{'iter':>5} ok  status")
    solved = 0
    for p in problems:
        r = run(p)
        solved += r["ok"]
        print(f"{p['name']:<8} {p['fstar']:>20.10g} {r['f']:>20.10g} {r['viol']:>8.1e} "
              f"{r['nf']:>5} {r['ng']:>5} {r['nh']:>5} {r['iter']:>5} "
              f"{'yes' if r['ok'] else 'NO ':<3} {r['status']}")
    print(f"solved: Ipopt {solved} of {len(problems)}")


if __name__ == "__main__":
    main()
