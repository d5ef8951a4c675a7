//! The native branch of the loop: plain `gd` on compiled code hands batches
//! of iterations to one Cranelift loop (`jit/descent.rs`), which performs
//! the step, the projection and the measurements the stopping tests read,
//! and keeps the ring of recent values the diagnoses use. Between batches
//! the loop takes its state back, so the run continues exactly as if every
//! iteration had been done here: the iterates, counts and reasons are the
//! same to the bit (the tests in `optim/tests.rs` check it).

use super::context::Context;
use super::diagnose::WINDOW;
use super::minimize::Path;
use super::vector::{Measure, distance, is_finite, largest, projected_norm};
use super::{Method, Settings};
use crate::jit::{DescentState, Variant};

/// Iterations after which a run compiles its native descent loop, if it may
/// use one: about what compiling costs, so that a short run never pays much
/// more than it would have spent, and a long run gains the rest.
const FUSE_AFTER: usize = 4096;

/// Iterations the native loop runs between returns to the observer.
pub(super) const FUSED_BATCH: usize = 1 << 16;

/// The native loop of a run, once it has one.
pub(super) struct Fused {
    variant: Variant,
    state: Option<DescentState>,
}

impl Fused {
    /// The native branch for a run with `settings`, if it may take it:
    /// plain fixed-step `gd`, with no history kept, no observer that
    /// must see every iterate, and no relative-reduction test (the native
    /// loop does not make it).
    pub fn new(settings: &Settings) -> Option<Fused> {
        let plain = matches!(
            settings.method,
            Method::Gd {
                line_search: false,
                ..
            }
        );
        let unmirrored = settings.ftol_rel.is_some();
        if !plain || settings.keep_history || settings.observe_every_iterate || unmirrored {
            return None;
        }
        Some(Fused {
            variant: Variant {
                project: settings.constraints().is_some(),
                negate: false,
                ftol: settings.ftol.is_some(),
                xtol: settings.xtol.is_some(),
            },
            state: None,
        })
    }

    /// Runs one batch of iterations natively, if the objective has compiled
    /// code for it (compiled once the run is long enough to pay for it),
    /// updating `path` as the Rust loop would have; `false` if it did not.
    pub fn batch(&mut self, ctx: &mut Context<'_>, path: &mut Path) -> Option<Measure> {
        let native = ctx.objective.native()?;
        let kernel = native.descent_kernel(self.variant, path.iterations >= FUSE_AFTER)?;
        let settings = ctx.settings;
        let n = path.x.len();
        let state = self.state.get_or_insert_with(|| {
            DescentState::new(
                n,
                settings.method.lr(),
                settings.ftol,
                settings.gtol,
                settings.xtol,
                settings.bounds.as_deref(),
            )
        });
        let iterations = path.iterations;
        state.enter(&path.x, path.f, &path.grad, &path.previous_step, iterations);
        for age in 0..path.recent.len() {
            let (value, reversed) = path.recent.aged(age);
            state.set_history(iterations - age, value, reversed);
        }
        let done = kernel.run(state, (settings.max_iter - iterations).min(FUSED_BATCH));
        path.iterations += done;
        ctx.count_gradients(done);
        path.x.copy_from_slice(state.x());
        path.grad.copy_from_slice(state.grad());
        path.previous_step.copy_from_slice(state.previous_step());
        path.last_x.copy_from_slice(state.last_x());
        (path.f, path.last_f) = (state.f(), state.last_f());
        for j in path.iterations + 1 - done.min(WINDOW + 1)..=path.iterations {
            let (value, reversed) = state.history(j);
            path.recent.push(value, reversed);
        }
        Some(Measure {
            step: distance(&path.x, &path.last_x),
            grad_norm: projected_norm(settings, &path.x, &path.grad),
            largest_x: largest(&path.x),
            finite: is_finite(path.f, &path.grad),
        })
    }
}
