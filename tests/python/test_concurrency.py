"""Batches in forked children and in threads sharing arrays: a child of a
process that ran a batch finishes its own (rayon's global pool would hang
it), and arrays in use by another thread's batch, or an ``out=`` over the
batch's own rows, give numbers or a ValueError, never a Rust panic."""

import multiprocessing as mp
import sys
import threading

import numpy as np
import pytest

import slope

ROSENBROCK = "param n = 8\nvar x[1..n]\nsum(i in 1..n-1, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)"
# Rows enough to take many tasks of the pool (4096 rows each).
ROWS = 200_000


def _child_batches(f, X, queue):
    queue.put((f.batch(X), f.batch_value_and_grad(X)))


@pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX")
def test_a_forked_child_runs_batches_after_the_parent_ran_one():
    f = slope.compile("(1-x)^2 + 100*(y-x^2)^2")
    X = np.random.default_rng(3).uniform(-2, 2, size=(ROWS, 2))
    values = f.batch(X)  # the parent's pool starts
    values_grads = f.batch_value_and_grad(X)
    context = mp.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child_batches, args=(f, X, queue))
    child.start()
    try:
        got_values, (got_v, got_g) = queue.get(timeout=60)
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0
    np.testing.assert_array_equal(got_values, values)
    np.testing.assert_array_equal(got_v, values_grads[0])
    np.testing.assert_array_equal(got_g, values_grads[1])


@pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX")
def test_a_fork_pool_maps_batches_after_the_parent_ran_one():
    f = slope.compile("x + y")
    X = np.random.default_rng(4).uniform(size=(ROWS, 2))
    f.batch(X)
    # Leaving the block terminates the workers, hung or not.
    with mp.get_context("fork").Pool(2) as pool:
        parts = pool.map_async(f.batch, [X[:ROWS // 2], X[ROWS // 2:]]).get(timeout=60)
    np.testing.assert_array_equal(np.concatenate(parts), X[:, 0] + X[:, 1])


@pytest.mark.parametrize("start", [0, 7])
def test_an_out_over_the_rows_themselves_gets_the_values_of_a_copy(start):
    f = slope.compile("x + 10*y")
    X = np.arange(14.0).reshape(7, 2)
    expected = f.batch(X.copy())
    out = X.ravel()[start:start + 7]
    assert f.batch(X, out=out) is out
    np.testing.assert_array_equal(out, expected)


def _while_a_batch_writes(buf_out, calls):
    """Runs each of `calls` over and over while another thread writes
    batches into `buf_out`; the outcomes, by kind."""
    f = slope.compile(ROSENBROCK)
    X = np.random.default_rng(5).uniform(size=(len(buf_out), 8))
    done = threading.Event()

    def writer():
        try:
            for _ in range(20):
                f.batch(X, out=buf_out)
        finally:
            done.set()

    outcomes = []
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while not done.is_set():
            for call in calls:
                try:
                    call(f)
                    outcomes.append("ok")
                except BaseException as e:  # a PanicException is no Exception
                    outcomes.append(f"{type(e).__name__}: {e}")
    finally:
        thread.join()
    return outcomes


def test_reading_an_array_another_thread_writes_is_a_value_error():
    buf = np.zeros(400_000)
    outcomes = _while_a_batch_writes(
        buf,
        [
            lambda f: f(buf[:16:2]),  # strided: read through a borrow
            lambda f: f.hessp(buf[:8], buf[:8]),
            lambda f: f.batch(buf[:80_000].reshape(-1, 8)),
            lambda f: f.batch_grad(buf[:80_000].reshape(-1, 8)),
            lambda f: slope.compile("data t\nsum(i in 1..rows, t[i]*a)", data={"t": buf[:10]}),
        ],
    )
    refused = [o for o in outcomes if o != "ok"]
    assert refused, "no call met the writer: the test proves nothing"
    for o in refused:
        assert o.startswith("ValueError: ") and "being written meanwhile" in o, o


def test_two_threads_writing_one_out_is_a_value_error():
    buf = np.zeros(400_000)
    X = np.random.default_rng(6).uniform(size=(len(buf), 8))
    outcomes = _while_a_batch_writes(buf, [lambda f: f.batch(X, out=buf)])
    refused = [o for o in outcomes if o != "ok"]
    assert refused, "no call met the writer: the test proves nothing"
    for o in refused:
        assert o.startswith("ValueError: out is in use"), o


def _minimum_from(start):
    return slope.minimize("(1-x)^2 + 100*(y-x^2)^2", start).x


@pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX")
def test_a_fork_pool_minimizes_from_many_starts_after_the_parent_ran_a_batch():
    # Python's many starts are many calls of slope.minimize, mapped over
    # processes; none may wait on a pool the fork left without threads.
    f = slope.compile("(1-x)^2 + 100*(y-x^2)^2")
    f.batch(np.random.default_rng(6).uniform(-2, 2, size=(ROWS, 2)))
    starts = [[-1.2, 1.0], [2.0, -1.0], [0.0, 0.0], [-2.0, 3.0]]
    with mp.get_context("fork").Pool(2) as pool:
        minima = pool.map_async(_minimum_from, starts).get(timeout=60)
    np.testing.assert_allclose(minima, [[1.0, 1.0]] * len(starts), atol=1e-8)
