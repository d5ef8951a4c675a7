//! Minimising many times: runs from many starts in parallel, and the
//! distinct minima they found.

use super::{Outcome, Settings, minimize};
use crate::error::Result;
use crate::objective::Objective;

/// Runs `minimize` from every start, in parallel; `objective` makes each
/// run's own objective (they share compiled code, not buffers). An error,
/// before any run, if a start does not fit the objective.
///
/// The runs go to the rayon pool the caller is in: rayon's global one (a
/// thread per core), or one the caller chose with `ThreadPool::install`.
/// A caller that may run in a forked child must choose one made in that
/// process: `fork` copies only the calling thread, so the global pool a
/// child inherits has no workers and the runs would wait for ever (the
/// Python module's `pool.rs` makes such a pool).
pub fn multi_start<O, F>(
    objective: F,
    starts: &[Vec<f64>],
    settings: &Settings,
) -> Result<Vec<Outcome>>
where
    O: Objective,
    F: Fn() -> O + Sync,
{
    use rayon::prelude::*;
    starts
        .par_iter()
        .map(|start| minimize(&mut objective(), start, settings))
        .collect()
}

/// A distinct minimum found by a multi-start search.
#[derive(Clone, Debug)]
pub struct Minimum {
    /// The best run that ended here.
    pub best: usize,
    /// The runs that ended here.
    pub runs: Vec<usize>,
}

/// Groups converged runs by where they ended: two runs found the same
/// minimum when every coordinate agrees within `1e-4·(1 + |x|)`. Groups
/// come best first.
pub fn distinct_minima(outcomes: &[Outcome]) -> Vec<Minimum> {
    let mut order: Vec<usize> = (0..outcomes.len())
        .filter(|&i| outcomes[i].reason.converged() && outcomes[i].f.is_finite())
        .collect();
    order.sort_by(|&a, &b| outcomes[a].f.total_cmp(&outcomes[b].f).then(a.cmp(&b)));
    let mut minima: Vec<Minimum> = Vec::new();
    for i in order {
        let same = |m: &Minimum| {
            outcomes[m.best]
                .x
                .iter()
                .zip(&outcomes[i].x)
                .all(|(a, b)| (a - b).abs() <= 1e-4 * (1.0 + a.abs().max(b.abs())))
        };
        match minima.iter_mut().find(|m| same(m)) {
            Some(m) => m.runs.push(i),
            None => minima.push(Minimum {
                best: i,
                runs: vec![i],
            }),
        }
    }
    minima
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objective::FnObjective;
    use crate::optim::Method;

    /// Every run happens on a worker of the pool the caller installed,
    /// none on rayon's global pool: what makes the search safe in a
    /// forked child whose caller brings a pool made there.
    #[test]
    fn runs_on_the_pool_the_caller_installed() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .thread_name(|i| format!("installed-{i}"))
            .build()
            .unwrap();
        let threads = std::sync::Mutex::new(Vec::new());
        let starts: Vec<Vec<f64>> = (0..16).map(|k| vec![f64::from(k) - 8.0]).collect();
        let settings = Settings::new(Method::default());
        let outcomes = pool
            .install(|| {
                multi_start(
                    || {
                        let name = std::thread::current().name().map(str::to_owned);
                        threads.lock().unwrap().push(name);
                        FnObjective::new(1, |x: &[f64], g: &mut [f64]| {
                            g[0] = 2.0 * (x[0] - 3.0);
                            (x[0] - 3.0).powi(2)
                        })
                    },
                    &starts,
                    &settings,
                )
            })
            .unwrap();
        assert_eq!(outcomes.len(), starts.len());
        assert!(outcomes.iter().all(|o| (o.x[0] - 3.0).abs() < 1e-8));
        let threads = threads.into_inner().unwrap();
        assert_eq!(threads.len(), starts.len());
        assert!(
            threads
                .iter()
                .all(|t| t.as_deref().is_some_and(|t| t.starts_with("installed-"))),
            "{threads:?}"
        );
    }
}
