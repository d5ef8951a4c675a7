//! Fitting a model to data: nonlinear least squares with the exact
//! Jacobian, compiled once, and the error bars a scientist reports.
//!
//! ```
//! use slope::fit::{Model, Options};
//!
//! let t = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
//! let y = [5.1, 3.0, 1.9, 1.1, 0.72, 0.4];
//! let data = [("t", &t[..]), ("y", &y[..])];
//! // Names that are columns are data; every other name is a parameter.
//! let model = Model::new("y ~ a*exp(-b*t)", &["t", "y"])?;
//! assert_eq!(model.params(), ["a", "b"]);
//! let fit = model.fit(&data, &Options::default())?;
//! assert!(fit.converged());
//! assert!((fit.x[1] - 0.5).abs() < 0.05 && fit.stderr[1] < 0.05);
//! // Refitting to new data reuses the compiled code.
//! let y2 = [10.0, 6.1, 3.7, 2.2, 1.4, 0.8];
//! let again = model.fit(&[("t", &t[..]), ("y", &y2[..])], &Options::default())?;
//! assert!((again.x[0] - 10.0).abs() < 0.2);
//! # Ok::<(), slope::Error>(())
//! ```
//!
//! The model `y ~ MODEL` is parsed with the formula machinery under an
//! explicit variable order, parameters first and then the predictors (the
//! columns it reads), and one native loop over the rows is compiled that
//! writes, for each row of a range, the model's value and its partial
//! derivatives with respect to the parameters (`jit::RowCode`; the data
//! are run-time inputs, so new data need no compilation). A model written
//! as a sum of squares over the rows is lowered whole, its squared
//! residual families are found in the graph and rewritten over one row
//! with the same variable order (`squares.rs`), and the loop writes each
//! family's value and partials. A pass calls it once per block of rows,
//! folding the weighted residuals (`(yᵢ − m(rowᵢ))/σᵢ`, or each family's
//! `rₖ(rowᵢ)/σᵢ` in turn) and the rows of the Jacobian into a running QR
//! (`stream.rs`) while the block is in the cache, so the Jacobian is never
//! stored; the solver is Levenberg–Marquardt after MINPACK (`lm.rs`,
//! `lmpar.rs`, `qr.rs`), with bounds and robust losses (`loss.rs`), a
//! saddle test at a converged point (`saddle.rs`), and the
//! statistics come from the R at the solution (`stats.rs`, `student.rs`).
//! A start where the first pass fails is diagnosed row by row
//! (`diagnose.rs`).

use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result, Span};
use crate::formula::{Formula, Options as FormulaOptions};
use crate::graph::NodeId;
use crate::jit::RowCode;
use crate::lower::{Lowered, is_identifier, quoted_list};
use crate::optim::{Bound, Reason, check_interval};
use crate::parse::Limits;

mod diagnose;
mod gram;
mod lm;
mod lmpar;
mod loss;
mod model;
mod qr;
mod rows;
mod saddle;
mod squares;
mod stats;
mod stream;
mod student;

pub use loss::Loss;
pub use student::{t_cdf, t_quantile};

use lm::{Control, Residuals, levenberg_marquardt};
use rows::{BLOCK, RowEval, Rows, fed_order};
use squares::{Family, Squares};
use stream::Store;

/// A model (`y ~ MODEL`, or a sum of squares over the rows: see
/// [`Model::new`]), parsed, differentiated and compiled: fit it to
/// any data with the columns it reads, as often as needed, without
/// compiling again. Cloning shares the code.
#[derive(Clone)]
pub struct Model {
    form: Form,
    params: Vec<String>,
    predictors: Vec<String>,
    formula: Formula,
    /// The nodes of `formula` that `code` computes, in its order.
    outputs: Vec<NodeId>,
    /// One loop over a block of rows, writing `outputs` (see [`Form`]).
    code: Arc<RowCode>,
}

/// How the model gives its residuals, and what its compiled loop writes
/// per row.
#[derive(Clone, Debug)]
enum Form {
    /// `y ~ MODEL`, with `y` the column named: the loop writes the model's
    /// value, then ∂m/∂pⱼ for each parameter; the residual is `y − m`.
    Response(String),
    /// A sum of squares over the rows: with K families, the loop writes
    /// their values, their magnitudes, their weights for R² (1 where
    /// there is no response) and then, family by family, the partials.
    Squares(Vec<Family>),
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("form", &self.form)
            .field("params", &self.params)
            .field("predictors", &self.predictors)
            .finish_non_exhaustive()
    }
}

/// How the residuals are weighted: `rᵢ = (yᵢ − mᵢ)/σᵢ`.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Sigma {
    /// σ = 1 for every row.
    #[default]
    None,
    /// One σ for every row.
    Constant(f64),
    /// σᵢ from the column of that name.
    Column(String),
}

/// How to fit. Vectors are in the order of [`Model::params`].
#[derive(Clone, Debug)]
pub struct Options {
    /// The start; `None` starts every parameter at 1. A start outside
    /// `bounds` is moved to the nearest point inside.
    pub start: Option<Vec<f64>>,
    /// Bounds `(low, high)` per parameter, infinite ends allowed; the
    /// iterates never leave the box.
    pub bounds: Option<Vec<(f64, f64)>>,
    /// The residuals' weights.
    pub sigma: Sigma,
    /// Take σ as absolute: the covariance is (JᵀJ)⁻¹, not scaled by the
    /// residual variance s² (scipy's `absolute_sigma`).
    pub absolute_sigma: bool,
    /// The loss applied to each residual.
    pub loss: Loss,
    /// The residual scale `C` of a robust loss: residuals well below it
    /// count as squares.
    pub f_scale: f64,
    /// Stop when an iteration reduces the cost by at most this fraction,
    /// and predicts no more.
    pub ftol: f64,
    /// Stop when the trust region is this small relative to ‖D x‖.
    pub xtol: f64,
    /// Stop when the cosine of the angle between the residuals and every
    /// column of the Jacobian is at most this.
    pub gtol: f64,
    /// Stop after this many passes over the data; `None`: 200·(p + 1).
    pub max_evaluations: Option<usize>,
    /// How each pass turns its rows into the factor R the trust region
    /// reads.
    pub factorization: Factorization,
}

/// How each pass over the rows builds the R of the Jacobian (`J = QR`)
/// that the trust region, the polishing and the statistics read.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Factorization {
    /// Householder reflections folded over each block of rows: orthogonal
    /// throughout, for any conditioning and any range.
    #[default]
    Householder,
    /// `JᵀJ` and `Jᵀf` summed in double-double (about 106 bits), R their
    /// Cholesky factor in double-double, rounded: as accurate as the QR
    /// for a Jacobian's condition number below about 10¹⁶ (scaled by
    /// columns); the NIST test reads the same digits from both. Not the
    /// default: it measured slower than the reflections (`benches/fit.rs`,
    /// `fit_whole/normal_equations`). A block of rows whose squares would
    /// leave the double range (entries beyond about 1e±135) goes through
    /// the reflections.
    NormalEquations,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            start: None,
            bounds: None,
            sigma: Sigma::None,
            absolute_sigma: false,
            loss: Loss::Linear,
            f_scale: 1.0,
            ftol: 1e-15,
            xtol: 1e-15,
            gtol: 1e-15,
            max_evaluations: None,
            factorization: Factorization::default(),
        }
    }
}

/// A fitted model: estimates, error bars, goodness of fit and how the run
/// went. Vectors are in the order of [`Fit::params`]; matrices are
/// row-major p×p.
#[derive(Clone, Debug)]
pub struct Fit {
    /// The parameters' names.
    pub params: Vec<String>,
    /// The estimates.
    pub x: Vec<f64>,
    /// Standard errors, the square roots of the covariance's diagonal (NaN
    /// for a parameter the data do not identify).
    pub stderr: Vec<f64>,
    /// The covariance s²(JᵀJ)⁻¹ (without s² if σ is absolute), with J the
    /// Jacobian of the weighted residuals at the estimates and s² the
    /// minimised sum over the degrees of freedom. Under a robust loss, J
    /// and the sum are the rescaled ones (as scipy's `curve_fit` does with
    /// `least_squares`' Jacobian): an approximation, good where few
    /// residuals are outliers.
    pub covariance: Vec<f64>,
    /// Estimate / standard error.
    pub t_values: Vec<f64>,
    /// 95% confidence intervals, estimate ± t₀.₉₇₅(dof)·stderr.
    pub intervals: Vec<(f64, f64)>,
    /// The t quantile the intervals use.
    pub t_quantile: f64,
    /// The sum the fit minimised: the residual sum of squares Σrᵢ² for the
    /// linear loss, ΣC²ρ((rᵢ/C)²) for a robust one.
    pub f: f64,
    /// The residual sum of squares Σ((yᵢ − mᵢ)/σᵢ)².
    pub rss: f64,
    /// Residuals minus the parameters the data determine (minus
    /// [`Fit::rank`]: the number of parameters when the Jacobian has full
    /// rank). With none left, σ not absolute, every variance is infinite.
    pub dof: usize,
    /// The number of data rows.
    pub rows: usize,
    /// Residuals per row: 1 for `y ~ MODEL`, the number of squared
    /// families for a sum of squares. There are `rows·residuals_per_row`
    /// residuals, and as many less the rank degrees of freedom.
    pub residuals_per_row: usize,
    /// √(RSS/dof).
    pub residual_std_error: f64,
    /// 1 − RSS/TSS (weighted as the residuals are). For a sum of squares
    /// whose every family is `w·(y − m)` with `y` a column, TSS adds each
    /// response's about its own weighted mean; NaN if a family has no
    /// response (an implicit model such as `x²/a² + y²/b² − 1`).
    pub r2: f64,
    /// R² adjusted for the number of parameters.
    pub adjusted_r2: f64,
    /// The numerical rank of the Jacobian at the solution, over the
    /// parameters estimated (not [`Fit::fixed`]), decided on its columns
    /// scaled to unit norm: below their number, some are not identifiable.
    pub rank: usize,
    /// Which parameters their bounds fix (low = high): not estimated, with
    /// NaN for their standard error and covariance, and no degree of
    /// freedom taken.
    pub fixed: Vec<bool>,
    /// Where each estimate sits relative to its bounds.
    pub at_bound: Vec<Bound>,
    /// The model's value at each row, at the estimates (empty for a sum
    /// of squares, whose residuals need not be `y − m`).
    pub fitted: Vec<f64>,
    /// `yᵢ − mᵢ` at each row, not weighted by σ; for a sum of squares,
    /// each family's residuals as the formula writes them (with its
    /// weights but without σ), all rows of the first family first.
    pub residuals: Vec<f64>,
    /// Levenberg–Marquardt iterations (Jacobian factorisations).
    pub iterations: usize,
    /// Passes over the data (each gives residuals and Jacobian).
    pub evaluations: usize,
    /// Why the run stopped.
    pub reason: Reason,
}

impl Fit {
    /// Whether the run stopped on a tolerance.
    pub fn converged(&self) -> bool {
        self.reason.converged()
    }

    /// What [`Fit::reason`] means for a fit, in a sentence: its limit is
    /// on passes over the data, not iterations, and `raise` says how the
    /// caller raises it (`"raise --max-evaluations"`, `"raise max_nfev"`).
    pub fn explanation(&self, raise: &str) -> String {
        match self.reason {
            Reason::MaxIter => format!(
                "the run used its {} passes over the data ({raise})",
                self.evaluations
            ),
            Reason::Ftol => "the last iteration reduced the sum by at most ftol, relative".into(),
            Reason::Xtol => "the trust region shrank to xtol of the scaled estimates".into(),
            Reason::Gtol => {
                "the residuals are orthogonal to the Jacobian's columns within gtol".into()
            }
            Reason::Stalled => "the trust region collapsed where a Gauss-Newton step still \
                                promised to lower the sum by more than 1e-4 of it, and \
                                starting it again there did not help: not a minimum"
                .into(),
            Reason::Saddle => "the gradient of the sum of squares vanishes, but it falls \
                               along a direction: a saddle or a maximum, not a minimum"
                .into(),
            other => other.explanation().into(),
        }
    }

    /// The correlation matrix, row-major p×p.
    pub fn correlation(&self) -> Vec<f64> {
        let n = self.x.len();
        let mut c = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                c[i * n + j] = self.covariance[i * n + j] / (self.stderr[i] * self.stderr[j]);
            }
        }
        c
    }

    /// The parameters the data do not identify: those not fixed whose
    /// standard error is NaN (an infinite one is a variance not estimated:
    /// no degree of freedom left).
    pub fn unidentified(&self) -> Vec<&str> {
        (0..self.params.len())
            .filter(|&i| self.stderr[i].is_nan() && !self.fixed[i])
            .map(|i| self.params[i].as_str())
            .collect()
    }

    /// The parameters whose bounds fix them, not estimated.
    pub fn fixed_params(&self) -> Vec<&str> {
        (0..self.params.len())
            .filter(|&i| self.fixed[i])
            .map(|i| self.params[i].as_str())
            .collect()
    }
}

impl Model {
    /// The residual families of a model written as a sum of squares (1 for
    /// `y ~ MODEL`): each row gives this many residuals.
    pub fn residuals_per_row(&self) -> usize {
        match &self.form {
            Form::Response(_) => 1,
            Form::Squares(families) => families.len(),
        }
    }

    /// The response column: the left side of `~`, or `""` for a model
    /// written as a sum of squares (whose residuals need not have one).
    pub fn response(&self) -> &str {
        match &self.form {
            Form::Response(y) => y,
            Form::Squares(_) => "",
        }
    }

    /// The parameters to fit, in order of appearance.
    pub fn params(&self) -> &[String] {
        &self.params
    }

    /// The columns the model reads, in order of appearance.
    pub fn predictors(&self) -> &[String] {
        &self.predictors
    }

    /// The model's formula, over the parameters and then the predictors:
    /// for `y ~ MODEL` the model, for a sum of squares one row's sum
    /// Σₖ rₖ², with each data column read as a variable.
    pub fn formula(&self) -> &Formula {
        &self.formula
    }

    /// The model's value for each row of `data`, at `params` (a model
    /// written as a sum of squares has none: an error).
    pub fn predict(&self, params: &[f64], data: &[(&str, &[f64])]) -> Result<Vec<f64>> {
        if let Form::Squares(_) = self.form {
            return Err(Error::new(
                ErrorKind::Usage,
                "a model written as a sum of squares has no predicted values: its residuals \
                 need not be y - m",
            )
            .with_hint("write it as y ~ MODEL to predict the response"));
        }
        check_per_parameter("the parameters", params.len(), self.params.len())?;
        let (columns, rows) = self.columns(data, &self.predictors)?;
        let mut eval = RowEval::new(self, &columns, rows);
        let mut values = Vec::with_capacity(rows);
        for lo in (0..rows).step_by(BLOCK) {
            let hi = (lo + BLOCK).min(rows);
            eval.block(params, lo..hi);
            values.extend_from_slice(&eval.block[..hi - lo]);
        }
        Ok(values)
    }

    /// The columns a pass reads: the response of `y ~ MODEL` (first), the
    /// predictors, and the σ column if there is one.
    fn column_names(&self, sigma: &Sigma) -> Vec<String> {
        let mut names: Vec<String> = match &self.form {
            Form::Response(y) => vec![y.clone()],
            Form::Squares(_) => Vec::new(),
        };
        names.extend(self.predictors.iter().cloned());
        if let Sigma::Column(c) = sigma {
            names.push(c.clone());
        }
        names
    }

    /// The residuals of the model on `columns` (as [`Model::column_names`]
    /// lists them), weighted by `w`.
    fn rows<'d>(&'d self, columns: &[&'d [f64]], rows: usize, w: Option<&'d [f64]>) -> Rows<'d> {
        let (y, predictors) = match &self.form {
            Form::Response(_) => (Some(columns[0]), &columns[1..=self.predictors.len()]),
            Form::Squares(_) => (None, &columns[..self.predictors.len()]),
        };
        let scales = match &self.form {
            Form::Response(_) => vec![1.0],
            Form::Squares(families) => families.iter().map(|f| f.scale).collect(),
        };
        Rows {
            eval: RowEval::new(self, predictors, rows),
            y,
            scales,
            w,
            rounding: 0.0,
        }
    }

    /// One pass over the rows, as each Levenberg–Marquardt iteration makes
    /// it: the residuals (`yᵢ − m(rowᵢ)`, or each family's in turn for a sum
    /// of squares, all of the first family's rows first) into `residuals`
    /// and the Jacobian ∂rᵢ/∂pⱼ into `jacobian`, column-major (entry (i, j)
    /// at `jacobian[i + j*m]` for m residuals), at `params`. Returns whether
    /// every value is finite.
    pub fn residuals_and_jacobian(
        &self,
        params: &[f64],
        data: &[(&str, &[f64])],
        residuals: &mut [f64],
        jacobian: &mut [f64],
    ) -> Result<bool> {
        let p = self.params.len();
        check_per_parameter("the parameters", params.len(), p)?;
        let (columns, rows) = self.columns(data, &self.column_names(&Sigma::None))?;
        let m = rows * self.residuals_per_row();
        if residuals.len() != m || jacobian.len() != m * p {
            return Err(Error::new(
                ErrorKind::Shape,
                format!(
                    "{m} residuals and {p} parameters need {m} residuals and {} Jacobian \
                     entries, not {} and {}",
                    m * p,
                    residuals.len(),
                    jacobian.len()
                ),
            ));
        }
        let mut problem = self.rows(&columns, rows, None);
        if self.residuals_per_row() == 1 {
            let mut store = Store {
                f: residuals,
                jac: jacobian,
                i: 0,
            };
            return Ok(problem.eval(params, &mut store));
        }
        // Fed block by block; stored family by family.
        let (mut f, mut jac) = (vec![0.0; m], vec![0.0; m * p]);
        let mut store = Store {
            f: &mut f,
            jac: &mut jac,
            i: 0,
        };
        let finite = problem.eval(params, &mut store);
        let order = fed_order(rows, self.residuals_per_row());
        for (i, &at) in order.iter().enumerate() {
            residuals[i] = f[at];
            for j in 0..p {
                jacobian[i + j * m] = jac[at + j * m];
            }
        }
        Ok(finite)
    }

    /// Fits the model to `data` (columns by name; extra columns are
    /// ignored). Errors: a column missing or of another length, fewer
    /// residuals than parameters, a bad option, a start where the model is
    /// not finite. A run that does not converge is not an error: see
    /// [`Fit::reason`].
    pub fn fit(&self, data: &[(&str, &[f64])], options: &Options) -> Result<Fit> {
        let p = self.params.len();
        let per_row = self.residuals_per_row();
        let (columns, rows) = self.columns(data, &self.column_names(&options.sigma))?;
        let m = rows * per_row;
        if m < p {
            let what = match per_row {
                1 => format!("{rows} rows cannot determine {p} parameters"),
                k => format!("{rows} rows of {k} residuals cannot determine {p} parameters"),
            };
            return Err(Error::new(ErrorKind::Usage, what));
        }
        let names = self.column_names(&options.sigma);
        for (name, column) in names.iter().zip(&columns) {
            if let Some(i) = column.iter().position(|v| !v.is_finite()) {
                return Err(Error::new(
                    ErrorKind::Usage,
                    format!("the column '{name}' is {} in row {}", column[i], i + 1),
                )
                .with_hint(
                    "every value the fit reads must be finite: drop the rows with missing \
                     values, or fill them",
                ));
            }
        }
        let sigma_column = match options.sigma {
            Sigma::Column(_) => columns.last().copied(),
            _ => None,
        };
        let weights = weights(&options.sigma, sigma_column, rows)?;
        let bounds = match &options.bounds {
            Some(b) => {
                check_per_parameter("the bounds", b.len(), p)?;
                self.check_bounds(b)?;
                b.clone()
            }
            None => vec![(f64::NEG_INFINITY, f64::INFINITY); p],
        };
        let start: Vec<f64> = match &options.start {
            Some(s) => {
                check_per_parameter("the start", s.len(), p)?;
                s.clone()
            }
            None => vec![1.0; p],
        };
        if let Some(i) = start.iter().position(|v| !v.is_finite()) {
            return Err(Error::new(
                ErrorKind::Usage,
                format!(
                    "the start of '{}' is {}, not finite",
                    self.params[i], start[i]
                ),
            ));
        }
        let start: Vec<f64> = start
            .iter()
            .zip(&bounds)
            .map(|(&v, &(lo, hi))| v.clamp(lo, hi))
            .collect();
        if !(options.f_scale > 0.0 && options.f_scale.is_finite()) {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("the loss scale must be positive, not {}", options.f_scale),
            ));
        }
        let control = Control {
            ftol: options.ftol,
            xtol: options.xtol,
            gtol: options.gtol,
            max_evaluations: options.max_evaluations.unwrap_or(max_evaluations(p)),
            loss: options.loss,
            f_scale: options.f_scale,
            factorization: options.factorization,
        };
        let mut problem = self.rows(&columns, rows, weights.as_deref());
        let mut stop = match levenberg_marquardt(&mut problem, &start, &bounds, &control) {
            Ok(stop) => stop,
            Err(_) => return Err(self.not_finite_at(&start, &problem)),
        };
        // The statistics, from the last pass at the solution.
        let x = stop.x;
        if let Some(error) = underflow(&stop.at.kept) {
            return Err(error);
        }
        // The last pass's residuals, taken: the fit hands them back.
        let kept = std::mem::take(&mut stop.at.kept);
        let f = &kept;
        // Under the linear loss the cost is Σ rᵢ² already, summed in the
        // same order: the same bits without another sweep.
        let rss: f64 = match options.loss {
            Loss::Linear => stop.at.cost2,
            _ => f.iter().map(|r| r * r).sum(),
        };
        let objective = stop.at.cost2;
        // A parameter its bounds fix (low = high) is not estimated: its
        // column leaves J, it has no variance, and it takes no degree of
        // freedom.
        let fixed: Vec<bool> = bounds.iter().map(|&(lo, hi)| lo == hi).collect();
        let estimated: Vec<usize> = (0..p).filter(|&j| !fixed[j]).collect();
        let k = estimated.len();
        let all = stop.at.r();
        let columns: Vec<f64> = estimated
            .iter()
            .flat_map(|&j| all[j * p..(j + 1) * p].iter().copied())
            .collect();
        let (within, rank) = stats::unscaled_covariance(&columns, p, m, k);
        let mut unscaled = vec![f64::NAN; p * p];
        for (a, &i) in estimated.iter().enumerate() {
            for (b, &j) in estimated.iter().enumerate() {
                unscaled[i + j * p] = within[a + b * k];
            }
        }
        // The residuals less the parameters the data determine: a
        // parameter that moves with another adds no fit (R's `lm` counts
        // so; scipy's curve_fit takes m − p whatever the rank).
        let dof = m - rank;
        // With no degree of freedom left, the residual variance is not
        // estimated: every variance is infinite (scipy's curve_fit fills
        // pcov with inf), not 0/0.
        let s2 = match (options.absolute_sigma, dof) {
            (true, _) => 1.0,
            (false, 0) => f64::INFINITY,
            (false, _) => objective / dof as f64,
        };
        // Column-major and symmetric: the same row-major. (NaN stays NaN:
        // a parameter not identified.)
        let covariance: Vec<f64> = unscaled
            .iter()
            .map(|&c| match s2.is_infinite() && !c.is_nan() {
                true => f64::INFINITY,
                false => c * s2,
            })
            .collect();
        let table = stats::table(&x, &covariance, dof);
        // rᵢ/σᵢ was fed: the residuals without σ, family by family (one
        // family: in the order fed; σ = 1: as fed).
        let residuals: Vec<f64> = match (per_row, &weights) {
            (1, None) => kept,
            (1, Some(w)) => f.iter().zip(w).map(|(r, w)| r / w).collect(),
            _ => fed_order(rows, per_row)
                .iter()
                .enumerate()
                .map(|(i, &at)| f[at] / weights.as_ref().map_or(1.0, |w| w[i % rows]))
                .collect(),
        };
        let (fitted, tss) = match problem.y {
            Some(y) => (
                y.iter().zip(&residuals).map(|(a, b)| a - b).collect(),
                stats::total_sum_of_squares(y, weights.as_deref()),
            ),
            None => (Vec::new(), self.total_sum_of_squares(&x, &mut problem)),
        };
        let r2 = 1.0 - rss / tss;
        let adjusted_r2 = 1.0 - (1.0 - r2) * (m as f64 - 1.0) / dof as f64;
        let at_bound = x
            .iter()
            .zip(&bounds)
            .map(|(&v, &b)| Bound::of(v, b))
            .collect();
        Ok(Fit {
            params: self.params.clone(),
            x,
            stderr: table.stderr,
            covariance,
            t_values: table.t_values,
            intervals: table.intervals,
            t_quantile: table.t_quantile,
            f: objective,
            rss,
            dof,
            rows,
            residuals_per_row: per_row,
            residual_std_error: (rss / dof as f64).sqrt(),
            r2,
            adjusted_r2,
            rank,
            fixed,
            at_bound,
            fitted,
            residuals,
            iterations: stop.iterations,
            evaluations: stop.evaluations,
            reason: stop.reason,
        })
    }

    /// The total sum of squares of a sum-of-squares model whose every
    /// family is `w·(y − m)`: each response's about its own weighted mean,
    /// added. NaN if a family has no response.
    fn total_sum_of_squares(&self, x: &[f64], problem: &mut Rows) -> f64 {
        let Form::Squares(families) = &self.form else {
            return f64::NAN;
        };
        let Some(responses) = families
            .iter()
            .map(|f| f.response)
            .collect::<Option<Vec<_>>>()
        else {
            return f64::NAN;
        };
        let (k, rows) = (families.len(), problem.eval.rows);
        let mut weights = vec![Vec::with_capacity(rows); k];
        for lo in (0..rows).step_by(BLOCK) {
            let hi = (lo + BLOCK).min(rows);
            problem.eval.block(x, lo..hi);
            for (f, w) in weights.iter_mut().enumerate() {
                let column = &problem.eval.block[(2 * k + f) * BLOCK..][..hi - lo];
                let sigma = problem.w.map_or(&[][..], |w| &w[lo..hi]);
                w.extend(
                    column.iter().enumerate().map(|(i, wi)| {
                        families[f].scale * wi * sigma.get(i).copied().unwrap_or(1.0)
                    }),
                );
            }
        }
        responses
            .iter()
            .zip(&weights)
            .map(|(&(y, _), w)| stats::total_sum_of_squares(problem.eval.predictors[y], Some(w)))
            .sum()
    }

    /// An error unless every parameter's bounds are an interval that holds
    /// a finite value (the minimisers' check).
    fn check_bounds(&self, bounds: &[(f64, f64)]) -> Result<()> {
        for (name, &(lo, hi)) in self.params.iter().zip(bounds) {
            check_interval(&format!("'{name}'"), lo, hi)?;
        }
        Ok(())
    }

    /// The columns `names` of `data`, and their common length.
    fn columns<'d>(
        &self,
        data: &[(&str, &'d [f64])],
        names: &[String],
    ) -> Result<(Vec<&'d [f64]>, usize)> {
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let column = data
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, c)| *c)
                .ok_or_else(|| {
                    let have: Vec<&str> = data.iter().map(|(n, _)| *n).collect();
                    Error::new(
                        ErrorKind::Usage,
                        format!("the data have no column '{name}'"),
                    )
                    .with_hint(format!("its columns are {}", quoted_list(&have)))
                })?;
            out.push(column);
        }
        let rows = out.first().map_or(0, |c| c.len());
        if let Some(i) = out.iter().position(|c| c.len() != rows) {
            return Err(Error::new(
                ErrorKind::Shape,
                format!(
                    "the column '{}' has {} values, but '{}' has {rows}",
                    names[i],
                    out[i].len(),
                    names[0]
                ),
            ));
        }
        Ok((out, rows))
    }
}

/// Parses and fits in one call: [`Model::new`] over the columns of `data`,
/// then [`Model::fit`].
pub fn fit(text: &str, data: &[(&str, &[f64])], options: &Options) -> Result<Fit> {
    let names: Vec<&str> = data.iter().map(|(n, _)| *n).collect();
    Model::new(text, &names)?.fit(data, options)
}

/// The default limit on passes over the data for `p` parameters:
/// 200·(p + 1), twice MINPACK's, since a pass here serves both the
/// residuals and the Jacobian.
pub fn max_evaluations(p: usize) -> usize {
    200 * (p + 1)
}

/// An error if the squares of the (weighted) residuals at the end leave
/// the normal range of a double: below `MIN_POSITIVE/ε` (about 1e-292)
/// a square has lost digits or is 0, and the tests of the trust region,
/// which read the sum, read rounding (data of size 1e-200 "converged" at
/// the start with a sum of 0). `kept` are the residuals fed, weighted by
/// 1/σ already.
fn underflow(kept: &[f64]) -> Option<Error> {
    let largest = kept.iter().fold(0.0_f64, |m, r| m.max(r.abs()));
    if largest == 0.0 || largest * largest >= f64::MIN_POSITIVE / f64::EPSILON {
        return None;
    }
    Some(
        Error::new(
            ErrorKind::NotFinite,
            format!(
                "the sum of squared residuals underflows: the largest residual is {largest:e}, \
                 and its square is below the normal range of a double (about 2.2e-308 at the \
                 least, with digits lost below 1e-292), so the fit cannot tell one point \
                 from another"
            ),
        )
        .with_hint(
            "scale the data: multiply the response (and the model) by a power of ten, so \
             that the residuals are well above 1e-140",
        ),
    )
}

/// 1/σ for each row; `None` for σ = 1 (a pass then multiplies by
/// nothing).
fn weights(sigma: &Sigma, column: Option<&[f64]>, rows: usize) -> Result<Option<Vec<f64>>> {
    let bad = |what: String| {
        Error::new(ErrorKind::Usage, what).with_hint("σ must be positive and finite in every row")
    };
    match (sigma, column) {
        (Sigma::None, _) => Ok(None),
        (Sigma::Constant(s), _) => match *s > 0.0 && s.is_finite() {
            true => Ok(Some(vec![1.0 / s; rows])),
            false => Err(bad(format!("σ is {s}"))),
        },
        (Sigma::Column(name), Some(c)) => c
            .iter()
            .enumerate()
            .map(|(i, &s)| match s > 0.0 && s.is_finite() {
                true => Ok(1.0 / s),
                false => Err(bad(format!("σ is {s} in row {} of '{name}'", i + 1))),
            })
            .collect::<Result<_>>()
            .map(Some),
        (Sigma::Column(name), None) => Err(Error::new(
            ErrorKind::Internal,
            format!("the column '{name}' was not looked up"),
        )),
    }
}

/// An error unless an array of the caller's has one value per parameter
/// of the model: "the start has 1 value, but the model has 2 parameters".
fn check_per_parameter(what: &str, len: usize, parameters: usize) -> Result<()> {
    crate::objective::check_count(what, len, parameters, "the model has", "parameter")
}
