"""slope from Python beside SymPy (and JAX, where installed), in one run.

    python benches/python_bench.py            # after `pip install .`

Measures, on Rosenbrock's function (1-x)^2 + 100*(y-x^2)^2:
- the per-call cost of value and gradient at one point, called from Python;
- value on 10^6 points at once (slope's batch, into a new array and into
  one given as out=, against SymPy's lambdify with NumPy and JAX's vmap),
  and the floor memory sets: the same batch of `x + y`, which reads and
  writes as much and computes almost nothing;
- text to a callable value and gradient (slope's compile against SymPy's
  diff + lambdify, and JAX's jit on first call);
- scipy.optimize.minimize(..., jac=True) on the chained Rosenbrock with
  n = 1,000 from x = -1.2, end to end (compiling included), through slope's
  indexed formula and through JAX's jitted value_and_grad.
Each figure is the best of several repeats (20 for the 10^6 points, whose
runs take about a millisecond, so that a shared machine's load shows less).
The figures are for reading;
the one check is that both scipy runs end at the same f.
"""

import timeit

import numpy as np

import slope

TEXT = "(1-x)^2 + 100*(y-x^2)^2"
N_POINTS = 1_000_000
CHAIN = "param n = 1000\nvar x[1..n]\nsum(i in 1..n-1, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)"
CHAIN_N = 1000
# Repeats of the 10^6-point batches (each about a millisecond).
BATCH_REPEATS = 20


def best(stmt, number, repeat=5):
    """Seconds per call, the best of `repeat` runs of `number` calls."""
    return min(timeit.repeat(stmt, number=number, repeat=repeat)) / number


def fmt(seconds):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:8.2f} {unit}"
    return f"{seconds / 1e-9:8.2f} ns"


def sympy_parts():
    import sympy as sp

    x, y = sp.symbols("x y")
    expr = (1 - x) ** 2 + 100 * (y - x**2) ** 2

    def build(module):
        grad = [sp.diff(expr, v) for v in (x, y)]
        return sp.lambdify([x, y], (expr, grad), module), sp.lambdify([x, y], expr, module)

    return build


def jax_parts():
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def rosen(p):
        return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2

    return jax, jnp, rosen


def scipy_end_to_end(make):
    """Seconds for `make()` (text to value_and_grad) and scipy's L-BFGS-B
    on it from x = -1.2, the best of three, and the last result."""
    import scipy.optimize as so

    x0 = np.full(CHAIN_N, -1.2)
    results = []

    def run():
        results.append(so.minimize(make(), x0, jac=True, method="L-BFGS-B"))

    secs = best(run, 1, repeat=3)
    return secs, results[-1]


def main():
    rows = []
    rng = np.random.default_rng(0)
    point = np.array([-1.2, 1.0])
    X = rng.uniform(-2, 2, size=(N_POINTS, 2))

    f = slope.compile(TEXT)
    rows.append(("value_and_grad, one point", "slope (ndarray)", best(lambda: f.value_and_grad(point), 200_000)))
    rows.append(("value_and_grad, one point", "slope (list)", best(lambda: f.value_and_grad([-1.2, 1.0]), 200_000)))
    rows.append(("value, one point", "slope f(x)", best(lambda: f(point), 200_000)))

    build = sympy_parts()
    vg_math, _ = build("math")
    rows.append(("value_and_grad, one point", "sympy lambdify (math)", best(lambda: vg_math(-1.2, 1.0), 200_000)))

    rows.append(("value, 10^6 points", "slope batch", best(lambda: f.batch(X), 3, BATCH_REPEATS)))
    out = np.empty(N_POINTS)
    rows.append(("value, 10^6 points", "slope batch, out=", best(lambda: f.batch(X, out=out), 3, BATCH_REPEATS)))
    # What any code must do for a batch: read the 16 MB of points and
    # write 8 MB of values. A formula with almost no arithmetic, batched
    # the same way, measures that floor on this machine's memory.
    floor = slope.compile("x + y")
    rows.append(("value, 10^6 points", "floor: slope batch of x + y, out=",
                 best(lambda: floor.batch(X, out=out), 3, BATCH_REPEATS)))
    _, v_np = build("numpy")
    xs, ys = X[:, 0].copy(), X[:, 1].copy()
    rows.append(("value, 10^6 points", "sympy lambdify (numpy)", best(lambda: v_np(xs, ys), 3, BATCH_REPEATS)))
    np.testing.assert_allclose(f.batch(X), v_np(xs, ys), rtol=1e-12)

    rows.append(("text to value+grad", "slope compile", best(lambda: slope.compile(TEXT), 200)))
    rows.append(("text to value+grad", "sympy diff+lambdify", best(lambda: build("math"), 5)))

    secs, res = scipy_end_to_end(lambda: slope.compile(CHAIN).value_and_grad)
    rows.append(("scipy minimize, Rosenbrock n = 1000", f"slope ({res.nit} iterations)", secs))
    slope_fun = res.fun

    jx = jax_parts()
    if jx is None:
        print("JAX is not installed: its rows are left out.")
    else:
        jax, jnp, rosen = jx
        vg = jax.jit(jax.value_and_grad(rosen))
        jpoint = jnp.asarray(point)
        vg(jpoint)[1].block_until_ready()
        rows.append(("value_and_grad, one point", "jax jit",
                     best(lambda: vg(jpoint)[1].block_until_ready(), 20_000)))
        batched = jax.jit(jax.vmap(rosen))
        jX = jnp.asarray(X)
        batched(jX).block_until_ready()
        rows.append(("value, 10^6 points", "jax jit(vmap)",
                     best(lambda: batched(jX).block_until_ready(), 3, BATCH_REPEATS)))

        def first_call():
            g = jax.jit(jax.value_and_grad(lambda p: rosen(p) + 0.0))
            g(jpoint)[1].block_until_ready()

        rows.append(("text to value+grad", "jax jit, first call", best(first_call, 3)))

        def chain(p):
            return jnp.sum(100 * (p[1:] - p[:-1] ** 2) ** 2 + (1 - p[:-1]) ** 2)

        def jax_value_and_grad():
            vg = jax.jit(jax.value_and_grad(chain))

            def fun(p):
                v, g = vg(jnp.asarray(p))
                return float(v), np.asarray(g)

            return fun

        secs, res = scipy_end_to_end(jax_value_and_grad)
        rows.append(("scipy minimize, Rosenbrock n = 1000", f"jax jit ({res.nit} iterations)", secs))
        assert abs(res.fun - slope_fun) < 1e-6, (res.fun, slope_fun)

    width = max(len(r[1]) for r in rows)
    task = None
    for what, who, secs in rows:
        if what != task:
            print(f"\n{what}")
            task = what
        print(f"  {who.ljust(width)}  {fmt(secs)}")


if __name__ == "__main__":
    main()
