//! The threads a batch runs on: a rayon pool of slope's own, made again in
//! a process forked from one that had it.
//!
//! `fork` copies only the thread that calls it, so a child inherits a pool
//! whose workers do not exist there: work handed to rayon's global pool in
//! such a child waits for ever. `fork` is how `multiprocessing` starts
//! workers on Linux before Python 3.14 (`Pool`, `ProcessPoolExecutor`),
//! and a parent that ran one large batch first is the common case. rayon
//! does not support fork (rayon-rs/rayon#708), so the pool here remembers
//! the process that made it, and a process that finds a pool made by
//! another builds its own; the inherited one is leaked, since dropping it
//! would wait on or signal threads that are gone.

use std::sync::{Arc, Mutex, PoisonError};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

/// The pool and the process it belongs to.
struct Owned {
    pid: u32,
    pool: Arc<ThreadPool>,
}

/// Taken only with the GIL held (see [`pool`]), and never by a worker.
static POOL: Mutex<Option<Owned>> = Mutex::new(None);

/// This process's pool, built on first use (as many threads as rayon's
/// global pool would have: `RAYON_NUM_THREADS`, or one per core).
///
/// The GIL token is the fork safety of the lock: Python forks with the
/// GIL held by the forking thread, and the lock is taken and released
/// here without letting the GIL go, so no other thread can hold it at the
/// moment of a fork, and a child never inherits it locked.
pub(super) fn pool(_py: Python<'_>) -> PyResult<Arc<ThreadPool>> {
    let pid = std::process::id();
    let mut slot = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(owned) = slot.as_ref()
        && owned.pid == pid
    {
        return Ok(Arc::clone(&owned.pool));
    }
    // A pool made before a fork: its threads live in the parent only.
    if let Some(inherited) = slot.take() {
        std::mem::forget(inherited);
    }
    let pool = ThreadPoolBuilder::new()
        .thread_name(|i| format!("slope-batch-{i}"))
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the batch threads: {e}")))?;
    let pool = Arc::new(pool);
    *slot = Some(Owned {
        pid,
        pool: Arc::clone(&pool),
    });
    Ok(pool)
}
