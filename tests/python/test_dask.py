"""slope on Dask worker processes, composed as a Dask user would:

- a multi-start search spread over the workers returns the same minima as
  the same starts run here: compiled functions pickle (they are compiled
  again in each worker), and so do the results;
- a data-parallel fit: each worker holds the model bound to its shard of
  the rows, the shards' values and gradients summed over the workers equal
  the whole data's, and a minimisation driven by those sums finds the
  whole data's fit."""

import operator

import numpy as np
import pytest
import scipy.optimize

import slope

distributed = pytest.importorskip("distributed")

# Himmelblau's function has four minima, all of value 0.
HIMMELBLAU = "(x^2 + y - 11)^2 + (x + y^2 - 7)^2"
MINIMA = np.array([
    [3.0, 2.0],
    [-2.805118086952745, 3.131312518250573],
    [-3.779310253377747, -3.283185991286170],
    [3.584428340330492, -1.848126526964404],
])


DECAY = """data t, y
sum(i in 1..rows, (y[i] - a*exp(-b*t[i]) - c)^2)"""


def cluster():
    return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                    host="127.0.0.1", dashboard_address=None)


def test_multistart_over_worker_processes_matches_a_local_run():
    f = slope.compile(HIMMELBLAU)
    starts = np.random.default_rng(3).uniform(-5, 5, size=(16, 2))
    local = [slope.minimize(f, s) for s in starts]

    with cluster() as c, distributed.Client(c) as client:
        futures = client.map(slope.minimize, [f] * len(starts), list(starts), pure=False)
        remote = client.gather(futures)
        # The work ran in other processes.
        pids = client.run(lambda: __import__("os").getpid())
    assert len(pids) == 2 and __import__("os").getpid() not in pids.values()

    for here, there in zip(local, remote):
        assert there.success and here.success
        np.testing.assert_array_equal(there.x, here.x)
        assert there.fun == here.fun and there.nit == here.nit
    found = {int(np.argmin(np.linalg.norm(MINIMA - r.x, axis=1))) for r in remote}
    assert found == {0, 1, 2, 3}
    for r in remote:
        assert np.min(np.linalg.norm(MINIMA - r.x, axis=1)) < 1e-8


def test_a_fit_over_data_shards_on_workers_equals_the_whole_data_fit():
    rng = np.random.default_rng(7)
    t = np.linspace(0.0, 10.0, 6000)
    y = 5.0 * np.exp(-0.4 * t) + 0.5 + 0.01 * rng.standard_normal(t.size)
    whole = slope.compile(DECAY, data={"t": t, "y": y})
    # Uneven shards: `rows` is each shard's own.
    cuts = [0, 1000, 2500, 6000]
    shards = [whole.bind(data={"t": t[a:b], "y": y[a:b]}) for a, b in zip(cuts, cuts[1:])]
    assert [s.data["t"].size for s in shards] == [1000, 1500, 3500]

    with cluster() as c, distributed.Client(c) as client:
        # Sent once; each worker compiles its shards' model once, and every
        # evaluation after that sends only the point.
        held = client.scatter(shards)
        assert len({w for f in held for w in client.who_has(f)[f.key]}) == 2

        def value_and_grad(p):
            parts = client.gather(client.map(operator.methodcaller("value_and_grad", p), held,
                                             pure=False))
            return sum(v for v, _ in parts), sum(g for _, g in parts)

        for p in ([1.0, 0.1, 0.0], [5.0, 0.4, 0.5], [-2.0, 3.0, 7.0]):
            v, g = value_and_grad(np.array(p))
            wv, wg = whole.value_and_grad(p)
            # The same terms added in another order: equal to the rounding
            # of a sum of 6000 non-negative terms, relative to its size.
            assert abs(v - wv) <= 1e-12 * wv
            # The gradient's terms have both signs: relative to the sum of
            # their sizes, which each shard's own gradient bounds.
            scale = sum(np.abs(s.grad(p)) for s in shards)
            np.testing.assert_allclose(g, wg, rtol=0, atol=1e-12 * scale.max())

        options = {"ftol": 1e-15, "gtol": 1e-9, "maxiter": 1000}
        spread = scipy.optimize.minimize(value_and_grad, [1.0, 0.1, 0.0], jac=True,
                                         method="L-BFGS-B", options=options)
    here = scipy.optimize.minimize(whole.value_and_grad, [1.0, 0.1, 0.0], jac=True,
                                   method="L-BFGS-B", options=options)
    assert spread.success and here.success
    np.testing.assert_allclose(spread.x, here.x, rtol=1e-8)
    np.testing.assert_allclose(spread.x, [5.0, 0.4, 0.5], rtol=1e-2)
