//! Minimising many times: runs from many starts in parallel, and the
//! distinct minima they found.

use super::{Outcome, Settings, minimize};
use crate::error::Result;
use crate::objective::Objective;

/// Runs `minimize` from every start, in parallel on all cores; `objective`
/// makes each run's own objective (they share compiled code, not buffers).
/// An error, before any run, if a start does not fit the objective.
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
