"""A multi-start search spread over Dask worker processes returns the same
minima as the same starts run here: compiled functions pickle (they are
compiled again in each worker), and so do the results."""

import numpy as np
import pytest

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


def test_multistart_over_worker_processes_matches_a_local_run():
    f = slope.compile(HIMMELBLAU)
    starts = np.random.default_rng(3).uniform(-5, 5, size=(16, 2))
    local = [slope.minimize(f, s) for s in starts]

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
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
