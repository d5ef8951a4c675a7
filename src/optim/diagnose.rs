//! The diagnosis of runs that go wrong, from the last few values of f:
//! oscillation, divergence, and how f was moving when the iterations ran
//! out. The native descent loop keeps the same ring of values
//! (`jit/descent.rs`) and hands it back, so both diagnose alike.

use super::outcome::{Advice, Reason};

/// How many iterations the oscillation and progress diagnoses look back.
pub(super) const WINDOW: usize = 6;

/// The last few values of f and whether each step reversed the one before,
/// in a fixed ring (no shifting, no allocation per iteration).
#[derive(Default)]
pub(super) struct Recent {
    values: [f64; WINDOW + 1],
    reversals: [bool; WINDOW + 1],
    /// Entries pushed so far (the ring holds the last `WINDOW + 1`).
    pushed: usize,
}

impl Recent {
    pub(super) fn push(&mut self, f: f64, reversed: bool) {
        let slot = self.pushed % (WINDOW + 1);
        self.values[slot] = f;
        self.reversals[slot] = reversed;
        self.pushed += 1;
    }

    pub(super) fn len(&self) -> usize {
        self.pushed.min(WINDOW + 1)
    }

    /// The `k`-th value held, oldest first.
    fn value(&self, k: usize) -> f64 {
        let oldest = self.pushed - self.len();
        self.values[(oldest + k) % (WINDOW + 1)]
    }

    /// The value and reversal `age` pushes ago (0: the last).
    pub(super) fn aged(&self, age: usize) -> (f64, bool) {
        let slot = (self.pushed - 1 - age) % (WINDOW + 1);
        (self.values[slot], self.reversals[slot])
    }

    /// f no lower than a window ago while nearly every step turned back.
    pub(super) fn oscillating(&self) -> bool {
        if self.len() <= WINDOW {
            return false;
        }
        let (first, last) = (self.value(0), self.value(WINDOW));
        let no_progress = last >= first - 1e-12 * first.abs().max(1e-300);
        let turns = self.reversals.iter().filter(|r| **r).count();
        no_progress && turns >= WINDOW - 1
    }

    /// Whether f went down at every step held.
    fn always_down(&self) -> bool {
        (1..self.len()).all(|k| self.value(k) < self.value(k - 1))
    }

    /// How f was moving over the last window.
    fn progress(&self) -> Progress {
        if self.len() <= WINDOW || !self.always_down() {
            return Progress::Erratic;
        }
        // The distance still to go is unknown: compare the decrease per
        // step with the size of f and with its own trend.
        let (first, last) = (self.value(0), self.value(WINDOW));
        let per_step = (first - last) / WINDOW as f64;
        let first_step = self.value(0) - self.value(1);
        let last_step = self.value(WINDOW - 1) - self.value(WINDOW);
        let tiny = per_step < 1e-3 * first.abs().max(f64::MIN_POSITIVE);
        // Steps that do not shrink mean the iterates are far from a minimum
        // and crawl towards it.
        let not_shrinking = last_step > 0.9 * first_step;
        if tiny || not_shrinking {
            Progress::Slow
        } else {
            Progress::Fast
        }
    }
}

enum Progress {
    Slow,
    Fast,
    Erratic,
}

/// The diagnosis of a run that hit `max_iter`: what f was doing, and what
/// to change. `fixed_step` is the step of a method that does not search for
/// its own (a larger one may help a slow run); a line search already chose
/// its steps, so a slow run of one needs more iterations.
pub(super) fn out_of_iterations(
    recent: &Recent,
    fixed_step: Option<f64>,
    max_iter: usize,
) -> (String, Option<Advice>) {
    match recent.progress() {
        Progress::Slow => (
            "f was still going down, but slowly".to_string(),
            Some(match fixed_step {
                Some(lr) => Advice::LargerStep { lr },
                None => Advice::MoreIterations { max_iter },
            }),
        ),
        Progress::Fast => (
            "f was still going down quickly".to_string(),
            Some(Advice::MoreIterations { max_iter }),
        ),
        Progress::Erratic => (format!("no convergence within {max_iter} iterations"), None),
    }
}

/// The diagnosis of a run whose value or gradient stopped being finite
/// after `last_f`: overflow from too large a step, or a step out of the
/// formula's domain.
pub(super) fn diverged(recent: &Recent, last_f: f64, lr: f64) -> (String, Option<Advice>) {
    let held = recent.len();
    let growing = held >= 3 && (1..held).all(|k| recent.value(k).abs() > recent.value(k - 1).abs());
    if growing || last_f.abs() > 1e100 {
        (
            "f grew until it overflowed, so the step is too large".to_string(),
            Some(Advice::SmallerStep { lr }),
        )
    } else {
        ("a step left the formula's domain".to_string(), None)
    }
}

/// The diagnosis of oscillating iterates.
pub(super) fn oscillating(lr: f64) -> (String, Option<Advice>) {
    (
        Reason::Oscillating.explanation().to_string(),
        Some(Advice::SmallerStep { lr }),
    )
}
