//! What a run reports: each iterate to the observer as it goes, and the
//! [`Outcome`] at the end, with the [`Reason`] it stopped and, for a run
//! that went wrong, typed [`Advice`].

use std::fmt;

/// Why a run stopped.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Reason {
    /// f changed by at most `ftol`.
    Ftol,
    /// f fell by at most `ftol_rel` relative to its size in each of the
    /// last two iterations: the run reached
    /// a minimum as closely as the relative-reduction test asks, even if
    /// the gradient could not be brought below `gtol`.
    FtolRel,
    /// The gradient is at most `gtol` in every component.
    Gtol,
    /// The step was at most `xtol` long.
    Xtol,
    /// `max_iter` iterations were done.
    MaxIter,
    /// A value or gradient was not finite.
    Diverged,
    /// The iterates bounce back and forth without f decreasing.
    Oscillating,
    /// The line search found no point that decreases f: usually the limit of
    /// floating-point precision near a minimum.
    Stalled,
    /// The observer asked the run to stop.
    Interrupted,
    /// f decreases without bound, or keeps falling as the point runs off
    /// to infinity, so that no minimum is attained: it reached -∞, the
    /// iterates grew past [`UNBOUNDED_X`](crate::optim::UNBOUNDED_X), a
    /// line search found f still falling at the longest step it tries, or,
    /// at a point where the run converged with curvature too flat or too
    /// small to vouch for a minimum, a walk down the gradient found f
    /// falling, never rising, out past `UNBOUNDED_X` (`exp(-x)`, whose
    /// floor of 0 is never reached).
    Unbounded,
    /// The point is stationary, but the Hessian there (over the variables
    /// no bound holds) has a negative eigenvalue, or is flat along a
    /// direction along which f falls at higher order: a saddle or a
    /// maximum, not a minimum. (The outcome's message says which.)
    Saddle,
    /// A constrained run ([`minimize_constrained`](crate::minimize_constrained))
    /// found a point where the constraints hold within the feasibility
    /// tolerance and the projected gradient of the Lagrangian (the KKT
    /// residual) and the complementarity within the optimality tolerance.
    Kkt,
    /// A constrained run could not drive the violation of the constraints
    /// down: the penalty grew to its limit, or the point found is
    /// stationary for the violation itself, with the constraints still
    /// violated. A local verdict: they may have no common point, or hold
    /// only away from where the run searched.
    Infeasible,
}

impl Reason {
    /// The reason's short name (`"gtol"`, `"max-iter"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Reason::Ftol => "ftol",
            Reason::FtolRel => "ftol-rel",
            Reason::Gtol => "gtol",
            Reason::Xtol => "xtol",
            Reason::MaxIter => "max-iter",
            Reason::Diverged => "diverged",
            Reason::Oscillating => "oscillating",
            Reason::Stalled => "stalled",
            Reason::Interrupted => "interrupted",
            Reason::Unbounded => "unbounded",
            Reason::Saddle => "saddle",
            Reason::Kkt => "kkt",
            Reason::Infeasible => "infeasible",
        }
    }

    /// Whether the run reached a point it can vouch for.
    pub fn converged(self) -> bool {
        matches!(
            self,
            Reason::Ftol | Reason::FtolRel | Reason::Gtol | Reason::Xtol | Reason::Kkt
        )
    }

    /// One line that says what the reason means.
    pub fn explanation(self) -> &'static str {
        match self {
            Reason::Ftol => "f changed by at most ftol in the last iteration",
            Reason::FtolRel => {
                "f fell by at most ftol_rel, relative to its size, in each of the last two \
                 iterations"
            }
            Reason::Gtol => "no gradient component is larger than gtol",
            Reason::Xtol => "the last step was at most xtol long",
            Reason::MaxIter => "the run used its max_iter iterations",
            Reason::Diverged => "a value or gradient stopped being finite",
            Reason::Oscillating => "the iterates bounce back and forth without lowering f",
            Reason::Stalled => "no step along the search direction lowers f",
            Reason::Interrupted => "the observer stopped the run",
            Reason::Unbounded => {
                "f decreases without bound, or keeps falling as the point runs off to infinity: \
                 no minimum is attained"
            }
            Reason::Saddle => {
                "the gradient vanishes but the Hessian has a negative eigenvalue: a saddle \
                 or a maximum, not a minimum"
            }
            Reason::Kkt => {
                "the constraints hold and the KKT conditions are met within their tolerances"
            }
            Reason::Infeasible => "the violation of the constraints cannot be driven down",
        }
    }
}

impl Reason {
    /// Every reason, in the order of the enum.
    pub const ALL: [Reason; 13] = [
        Reason::Ftol,
        Reason::FtolRel,
        Reason::Gtol,
        Reason::Xtol,
        Reason::MaxIter,
        Reason::Diverged,
        Reason::Oscillating,
        Reason::Stalled,
        Reason::Interrupted,
        Reason::Unbounded,
        Reason::Saddle,
        Reason::Kkt,
        Reason::Infeasible,
    ];
}

/// Where a variable ends relative to its bounds.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Bound {
    /// Strictly inside its bounds (or unbounded).
    Free,
    /// At its lower bound.
    Lower,
    /// At its upper bound.
    Upper,
}

impl Bound {
    /// Where `x` is in `[lo, hi]`.
    pub fn of(x: f64, (lo, hi): (f64, f64)) -> Bound {
        if x <= lo {
            Bound::Lower
        } else if x >= hi {
            Bound::Upper
        } else {
            Bound::Free
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What to change when a run went wrong, for the caller to phrase in its
/// own terms (the command line names its flags).
#[derive(Copy, Clone, PartialEq, Debug)]
pub enum Advice {
    /// A smaller step: the run overflowed or oscillated with this one.
    SmallerStep {
        /// The step used.
        lr: f64,
    },
    /// A larger step: f fell steadily but slowly with this one.
    LargerStep {
        /// The step used.
        lr: f64,
    },
    /// More iterations: f was still falling quickly at the end.
    MoreIterations {
        /// The limit that stopped the run.
        max_iter: usize,
    },
}

impl fmt::Display for Advice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = crate::print::format_number;
        match *self {
            Advice::SmallerStep { lr } => write!(f, "try a smaller step (now lr = {})", number(lr)),
            Advice::LargerStep { lr } => {
                write!(f, "the step may be too small (lr = {})", number(lr))
            }
            Advice::MoreIterations { max_iter } => {
                write!(f, "allow more iterations than max_iter = {max_iter}")
            }
        }
    }
}

/// One iterate, as observers see it.
#[derive(Debug)]
pub struct Iterate<'a> {
    /// 0 for the start.
    pub iteration: usize,
    /// The point.
    pub x: &'a [f64],
    /// The value there.
    pub f: f64,
    /// The gradient there.
    pub grad: &'a [f64],
    /// The largest gradient component (leaving out those held by a bound).
    pub grad_norm: f64,
    /// Length of the step that led here (0 at the start).
    pub step: f64,
}

/// What an observer tells the run after each iterate it sees.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Default)]
pub enum Control {
    /// Go on.
    #[default]
    Continue,
    /// Stop now, with [`Reason::Interrupted`].
    Stop,
}

impl From<()> for Control {
    /// An observer that returns nothing lets the run go on.
    fn from(_: ()) -> Control {
        Control::Continue
    }
}

/// The result of a run: what scipy's `OptimizeResult` holds, and the
/// diagnosis of a run that went wrong.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The last point with a finite value.
    pub x: Vec<f64>,
    /// The value at `x`.
    pub f: f64,
    /// The gradient at `x`.
    pub gradient: Vec<f64>,
    /// The largest gradient component at `x` (leaving out those held by a
    /// bound when projecting).
    pub grad_norm: f64,
    /// Iterations done: each a method's step, or a move to a lower point
    /// the end-of-run tests found where a stop came short of the minimum
    /// (the run goes on from there).
    pub iterations: usize,
    /// Evaluations of the function: a value+gradient counts once, or as
    /// many function values as finite differences spent; a Hessian once.
    pub evaluations: usize,
    /// Gradients computed (each with its value).
    pub gradient_evaluations: usize,
    /// Hessians and Hessian-vector products computed: Newton's (dense
    /// Hessians, or the products of its conjugate-gradient steps) and the
    /// saddle test's at the end of a converged run (one dense Hessian, or
    /// up to [`SADDLE_PRODUCTS`](crate::optim::SADDLE_PRODUCTS) products).
    /// The objective's own Hessians and products count in `evaluations`
    /// too, once each; a product taken by differences of the gradient
    /// counts its gradients there and in `gradient_evaluations`.
    pub hessian_evaluations: usize,
    /// Why the run stopped.
    pub reason: Reason,
    /// What happened, in one line: the reason's explanation, or the
    /// diagnosis of a run that went wrong.
    pub message: String,
    /// What to change, for runs that went wrong in a way a setting can fix.
    pub advice: Option<Advice>,
    /// Where the value or gradient stopped being finite (for `Diverged`).
    pub bad_point: Option<Vec<f64>>,
    /// Every iterate's point and value, if [`Settings::keep_history`](crate::Settings::keep_history).
    pub history: Vec<(Vec<f64>, f64)>,
    /// Per variable, whether it ends at a bound ([`Bound::Free`] for
    /// every variable when the run had no bounds).
    pub active: Vec<Bound>,
    /// The variables (by index) whose start lay outside its bounds and was
    /// moved onto the nearest bound before the first evaluation.
    pub moved_start: Vec<usize>,
    /// Wall-clock time of the run.
    pub seconds: f64,
}

impl Outcome {
    /// Whether the run reached a point it can vouch for (see
    /// [`Reason::converged`]).
    pub fn converged(&self) -> bool {
        self.reason.converged()
    }

    /// The message with the advice, if any, in the library's words, and a
    /// note when the start was moved into the bounds.
    pub fn summary(&self) -> String {
        let mut text = match &self.advice {
            Some(advice) => format!("{}: {advice}", self.message),
            None => self.message.clone(),
        };
        if !self.moved_start.is_empty() {
            text.push_str("; the start lay outside the bounds and was moved onto them");
        }
        text
    }

    /// Adds the evaluations, iterations, Hessians and time of an `earlier`
    /// run to this one's: a method that runs again from where a run ended
    /// (off a saddle, or after another method) reports the work of both.
    pub(super) fn add_counts(&mut self, earlier: &Outcome) {
        self.evaluations += earlier.evaluations;
        self.gradient_evaluations += earlier.gradient_evaluations;
        self.hessian_evaluations += earlier.hessian_evaluations;
        self.iterations += earlier.iterations;
        self.seconds += earlier.seconds;
    }
}
