//! What a run is asked to do: the [`Method`] with its own parameters, and
//! the [`Settings`] every method shares (stopping tests, bounds, what the
//! observer sees).

use crate::error::{Error, ErrorKind, Result};

/// An optimisation method with its parameters. [`Method::by_name`] and the
/// constructors ([`Method::lbfgs`], [`Method::gd`], ...) give the defaults;
/// [`Method::with_lr`] changes the step.
///
/// ```
/// use slope::Method;
/// let m = Method::Adam { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
/// assert_eq!(m.name(), "adam");
/// assert_eq!(m, Method::adam().with_lr(0.01));
/// assert_eq!(Method::by_name("lbfgs"), Some(Method::lbfgs()));
/// ```
#[derive(Copy, Clone, PartialEq, Debug)]
pub enum Method {
    /// Gradient descent with a fixed step `lr`, or with a backtracking
    /// (Armijo) line search starting from `lr` when `line_search`.
    Gd {
        /// The step.
        lr: f64,
        /// Backtrack from `lr` until f decreases enough.
        line_search: bool,
    },
    /// Heavy-ball momentum.
    Momentum {
        /// The step.
        lr: f64,
        /// The velocity's decay.
        momentum: f64,
    },
    /// Nesterov's accelerated gradient.
    Nesterov {
        /// The step.
        lr: f64,
        /// The velocity's decay.
        momentum: f64,
    },
    /// AdaGrad: steps scaled by the root of the summed squared gradients.
    Adagrad {
        /// The step.
        lr: f64,
        /// Added to denominators.
        epsilon: f64,
    },
    /// RMSProp: steps scaled by a decaying average of squared gradients.
    Rmsprop {
        /// The step.
        lr: f64,
        /// The average's decay.
        rho: f64,
        /// Added to denominators.
        epsilon: f64,
    },
    /// Adam: bias-corrected first and second moments.
    Adam {
        /// The step.
        lr: f64,
        /// The first moment's decay.
        beta1: f64,
        /// The second moment's decay.
        beta2: f64,
        /// Added to denominators.
        epsilon: f64,
    },
    /// Limited-memory BFGS with a strong Wolfe line search.
    Lbfgs {
        /// Corrections kept.
        memory: usize,
        /// The line search's first trial step.
        first_step: f64,
    },
    /// Newton's method on the exact Hessian, with a backtracking line
    /// search. Where the objective has a sparse Hessian
    /// ([`Objective::prepare_sparse_hessian`](crate::Objective::prepare_sparse_hessian))
    /// with a narrow envelope (a band, as in chained functions), each
    /// step factorises that envelope, at any number of variables. Else,
    /// where the objective has a dense Hessian
    /// ([`Objective::prepare_hessian`](crate::Objective::prepare_hessian))
    /// and at most [`DENSE_NEWTON_MAX_VARS`](crate::optim::DENSE_NEWTON_MAX_VARS)
    /// variables, each step solves with it, shifted where it is not
    /// positive definite. Otherwise each step is truncated conjugate
    /// gradients (Newton-CG) on Hessian-vector products: the objective's
    /// own ([`Objective::hess_vec`](crate::Objective::hess_vec)) where it
    /// has them, else forward differences of its exact gradient (one
    /// gradient each). An objective with neither a Hessian, products nor
    /// an exact gradient is refused.
    Newton {
        /// The line search's first trial step.
        first_step: f64,
    },
}

impl Method {
    /// Every method's name, in the order of the enum.
    pub const NAMES: [&'static str; 8] = [
        "gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "lbfgs", "newton",
    ];

    /// `gd` with a step of 0.1.
    pub fn gd() -> Method {
        Method::Gd {
            lr: 0.1,
            line_search: false,
        }
    }

    /// `momentum` with a step of 0.1 and momentum 0.9.
    pub fn momentum() -> Method {
        Method::Momentum {
            lr: 0.1,
            momentum: 0.9,
        }
    }

    /// `nesterov` with a step of 0.1 and momentum 0.9.
    pub fn nesterov() -> Method {
        Method::Nesterov {
            lr: 0.1,
            momentum: 0.9,
        }
    }

    /// `adagrad` with a step of 0.1.
    pub fn adagrad() -> Method {
        Method::Adagrad {
            lr: 0.1,
            epsilon: 1e-8,
        }
    }

    /// `rmsprop` with a step of 0.1 and decay 0.9.
    pub fn rmsprop() -> Method {
        Method::Rmsprop {
            lr: 0.1,
            rho: 0.9,
            epsilon: 1e-8,
        }
    }

    /// `adam` with a step of 0.1 and the usual decays 0.9 and 0.999.
    pub fn adam() -> Method {
        Method::Adam {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        }
    }

    /// `lbfgs` keeping 10 corrections, first trial step 1.
    pub fn lbfgs() -> Method {
        Method::Lbfgs {
            memory: 10,
            first_step: 1.0,
        }
    }

    /// `newton`, first trial step 1.
    pub fn newton() -> Method {
        Method::Newton { first_step: 1.0 }
    }

    /// The method called `name` (one of [`Method::NAMES`]), with its
    /// default parameters.
    pub fn by_name(name: &str) -> Option<Method> {
        Some(match name {
            "gd" => Method::gd(),
            "momentum" => Method::momentum(),
            "nesterov" => Method::nesterov(),
            "adagrad" => Method::adagrad(),
            "rmsprop" => Method::rmsprop(),
            "adam" => Method::adam(),
            "lbfgs" => Method::lbfgs(),
            "newton" => Method::newton(),
            _ => return None,
        })
    }

    /// The method's name, as [`Method::by_name`] takes it.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Gd { .. } => "gd",
            Method::Momentum { .. } => "momentum",
            Method::Nesterov { .. } => "nesterov",
            Method::Adagrad { .. } => "adagrad",
            Method::Rmsprop { .. } => "rmsprop",
            Method::Adam { .. } => "adam",
            Method::Lbfgs { .. } => "lbfgs",
            Method::Newton { .. } => "newton",
        }
    }

    /// The step of a first-order method, or the first trial step of a line
    /// search.
    pub fn lr(&self) -> f64 {
        match *self {
            Method::Gd { lr, .. }
            | Method::Momentum { lr, .. }
            | Method::Nesterov { lr, .. }
            | Method::Adagrad { lr, .. }
            | Method::Rmsprop { lr, .. }
            | Method::Adam { lr, .. } => lr,
            Method::Lbfgs { first_step, .. } | Method::Newton { first_step } => first_step,
        }
    }

    /// The same method with the step (or first trial step) `lr`.
    pub fn with_lr(mut self, new: f64) -> Method {
        match &mut self {
            Method::Gd { lr, .. }
            | Method::Momentum { lr, .. }
            | Method::Nesterov { lr, .. }
            | Method::Adagrad { lr, .. }
            | Method::Rmsprop { lr, .. }
            | Method::Adam { lr, .. } => *lr = new,
            Method::Lbfgs { first_step, .. } | Method::Newton { first_step } => *first_step = new,
        }
        self
    }

    /// Whether the method moves by a fixed rule from the gradient (not
    /// L-BFGS or Newton).
    pub fn is_first_order(&self) -> bool {
        !matches!(self, Method::Lbfgs { .. } | Method::Newton { .. })
    }

    /// Whether the method searches along a line for each step.
    pub fn has_line_search(&self) -> bool {
        match self {
            Method::Gd { line_search, .. } => *line_search,
            Method::Lbfgs { .. } | Method::Newton { .. } => true,
            _ => false,
        }
    }

    /// An error naming the first parameter out of its range.
    pub(crate) fn validate(&self) -> Result<()> {
        // Numbers as the reports print them: 1e308, not its 309 digits.
        let number = crate::print::format_number;
        let lr = self.lr();
        if !(lr.is_finite() && lr > 0.0) {
            return Err(bad(format!(
                "the step lr must be positive, not {}",
                number(lr)
            )));
        }
        let unit = |name: &str, v: f64| match (0.0..1.0).contains(&v) {
            true => Ok(()),
            false => Err(bad(format!("{name} must be in [0, 1), not {}", number(v)))),
        };
        let positive = |name: &str, v: f64| match v.is_finite() && v > 0.0 {
            true => Ok(()),
            false => Err(bad(format!("{name} must be positive, not {}", number(v)))),
        };
        match *self {
            Method::Gd { .. } | Method::Newton { .. } => Ok(()),
            Method::Momentum { momentum, .. } | Method::Nesterov { momentum, .. } => {
                unit("momentum", momentum)
            }
            Method::Adagrad { epsilon, .. } => positive("epsilon", epsilon),
            Method::Rmsprop { rho, epsilon, .. } => {
                unit("rho", rho)?;
                positive("epsilon", epsilon)
            }
            Method::Adam {
                beta1,
                beta2,
                epsilon,
                ..
            } => {
                unit("beta1", beta1)?;
                unit("beta2", beta2)?;
                positive("epsilon", epsilon)
            }
            Method::Lbfgs { memory, .. } => match memory {
                0 => Err(bad("lbfgs must keep at least one correction".to_string())),
                m if m > Method::MAX_MEMORY => Err(bad(format!(
                    "lbfgs keeps at most {} corrections, not {m}",
                    Method::MAX_MEMORY
                ))),
                _ => Ok(()),
            },
        }
    }
}

impl Method {
    /// The most corrections L-BFGS may keep. Its memory and the work of
    /// L-BFGS-B's compact form grow as the square of this; past a few
    /// dozen, more corrections rarely help.
    pub const MAX_MEMORY: usize = 1_000;
}

impl Default for Method {
    /// L-BFGS.
    fn default() -> Method {
        Method::lbfgs()
    }
}

fn bad(message: String) -> Error {
    Error::new(ErrorKind::Usage, message)
}

/// Everything that controls a run besides the method's own parameters.
/// `Settings::default()` is L-BFGS with the default stopping tests.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The method and its parameters.
    pub method: Method,
    /// Most iterations (default 15,000, as scipy's L-BFGS-B).
    pub max_iter: usize,
    /// Stop when f changes by at most this between iterations (off by
    /// default).
    pub ftol: Option<f64>,
    /// Stop when f falls by at most this relative to its size,
    /// `(f_k - f_{k+1}) / max(|f_k|, |f_{k+1}|) <= ftol_rel`, in each of
    /// two iterations in a row. This is scipy's `ftol` without its floor
    /// of 1 under the denominator, which would stop a run towards a
    /// minimum of 0 at about f = 2e-9, and asked twice: once stopped L-BFGS
    /// after a single short step on Wood's function (at its saddle) and
    /// on Meyer's (at f = 1.1e5, the minimum being 87.9). On by
    /// default at [`Settings::FTOL_REL`] for L-BFGS and Newton, so that a run that reaches a minimum ends even when the
    /// gradient cannot be brought below `gtol`; off by default for the
    /// first-order methods, where a small decrease per step means a small
    /// step, not a minimum (gd with step 0.05 on a quadratic stopped 7e-5
    /// away from its minimum).
    pub ftol_rel: Option<f64>,
    /// Stop when no gradient component exceeds this in magnitude (the
    /// projected gradient when bounds hold: components pushing against an
    /// active bound are left out).
    pub gtol: f64,
    /// Stop when a step is at most this long.
    pub xtol: Option<f64>,
    /// Per variable `(low, high)` (either may be infinite): the box every
    /// method keeps its iterates in (see `project`). A start outside it is
    /// moved onto it ([`Outcome::moved_start`](crate::Outcome::moved_start)).
    /// L-BFGS becomes L-BFGS-B, Newton a projected Newton method, and the
    /// first-order methods project each iterate onto the box.
    pub bounds: Option<Vec<(f64, f64)>>,
    /// Whether `bounds` constrain the run: `true` by default. `false` keeps
    /// the box only as a description of where to draw random starts
    /// ([`random_start`](crate::optim::random_start)) and runs
    /// unconstrained.
    pub project: bool,
    /// Keep every iterate in [`Outcome::history`](crate::Outcome::history).
    pub keep_history: bool,
    /// The observer must see every iterate (for a trace). When `false`,
    /// fixed-step `gd` on compiled code may run many iterations at a time
    /// in one native loop and show the observer only the last of each
    /// batch (often enough for a progress bar); the outcome is the same.
    /// The native loop does not know the relative-reduction test, so it is
    /// used only when `ftol_rel` is off.
    pub observe_every_iterate: bool,
}

impl Settings {
    /// The default relative-reduction tolerance: scipy's L-BFGS-B default
    /// (`factr = 1e7` times the machine epsilon).
    pub const FTOL_REL: f64 = 1e7 * f64::EPSILON;

    /// An error where the method's parameters, a tolerance (negative or
    /// NaN) or `max_iter` (0) is out of range: what `slope min` refuses,
    /// refused by the library too.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.max_iter == 0 {
            return Err(bad("max_iter must be at least 1".to_string()));
        }
        let tolerances = [
            ("gtol", Some(self.gtol)),
            ("ftol", self.ftol),
            ("ftol_rel", self.ftol_rel),
            ("xtol", self.xtol),
        ];
        for (name, tol) in tolerances {
            if let Some(v) = tol.filter(|v| v.is_nan() || *v < 0.0) {
                let v = crate::print::format_number(v);
                return Err(bad(format!("{name} must be zero or positive, not {v}")));
            }
        }
        self.method.validate()
    }

    /// The default stopping tests for `method`: at most 15,000 iterations,
    /// gradient components at most 1e-8, relative reduction at most
    /// [`Settings::FTOL_REL`] for L-BFGS and Newton; `ftol` and `xtol` off.
    pub fn new(method: Method) -> Settings {
        Settings {
            method,
            max_iter: 15_000,
            ftol: None,
            ftol_rel: (!method.is_first_order()).then_some(Settings::FTOL_REL),
            gtol: 1e-8,
            xtol: None,
            bounds: None,
            project: true,
            keep_history: false,
            observe_every_iterate: true,
        }
    }

    /// The box the run is held in: `bounds` when `project`.
    pub fn constraints(&self) -> Option<&[(f64, f64)]> {
        self.bounds.as_deref().filter(|_| self.project)
    }
}

impl Default for Settings {
    fn default() -> Settings {
        Settings::new(Method::default())
    }
}
