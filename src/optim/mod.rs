//! Minimisation: one loop, many methods.
//!
//! [`minimize`] (in `minimize.rs`) runs the loop and owns the stopping
//! tests and the diagnoses; what a stop is told to be, a failed search's
//! verdict and the end of a run's tests (the saddle test in `saddle.rs`,
//! and the others `verdict.rs` names), is in `verdict.rs`; a method is one small step (`first_order.rs`,
//! `lbfgs.rs`, `newton.rs` on the dense Hessian, `newton_cg.rs` on
//! Hessian-vector products, with the line searches in `line_search.rs`).
//! Around the loop: what a run is asked ([`Method`] with its parameters,
//! [`Settings`]) and what it reports ([`Outcome`], in `outcome.rs`); the
//! diagnosis of runs that go wrong (`diagnose.rs`); what a start must be
//! (`start.rs`, checked where every entry meets); the vector work of each
//! iteration (`vector.rs`); the native branch that hands plain `gd` to a
//! compiled loop (`native.rs`); and many runs from random starts
//! (`multistart.rs`).

mod auglag;
mod beside;
mod context;
mod dense;
mod diagnose;
mod feasibility;
mod first_order;
mod lbfgs;
mod lbfgsb;
mod line_search;
mod method;
mod minimize;
mod multistart;
mod native;
mod newton;
mod newton_cg;
mod outcome;
mod pole;
mod profile;
mod qp;
mod saddle;
mod second_order;
mod sqp;
mod start;
mod stopped_short;
#[cfg(test)]
mod tests;
mod vector;
mod verdict;
mod walk;

pub use crate::random::{random_start, start_of_run};
pub use auglag::{Auglag, ConstrainedOutcome, minimize_auglag_or_sqp, minimize_constrained};
pub use method::{Method, Settings};
pub use minimize::{UNBOUNDED_X, minimize, minimize_with};
pub use multistart::{Minimum, distinct_minima, multi_start};
pub use newton::DENSE_NEWTON_MAX_VARS;
pub use outcome::{Advice, Bound, Control, Iterate, Outcome, Reason};
pub use saddle::SADDLE_PRODUCTS;
pub use sqp::{SQP_MAX_SIZE, Sqp, minimize_sqp, minimize_sqp_or_auglag};

pub(crate) use context::Context;
pub(crate) use minimize::{Step, StepResult, check_interval};
#[cfg(feature = "python")]
pub(crate) use start::check_start_finite;
pub(crate) use vector::dot;
