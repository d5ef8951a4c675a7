//! One trait for everything that gives a value and a gradient: compiled
//! code, the interpreter, finite differences, a Rust closure. Optimizers,
//! checks and benchmarks take any of them, so comparisons between gradient
//! sources run through the same loop.

use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::eval::Interpreter;
use crate::fd::{self, Scheme};
use crate::formula::Formula;
use crate::graph::{Graph, NodeId};
use crate::jit::{Compiled, DescentKernel, DirectLens, Variant};
use crate::sparse_hessian::SparseHessian;

mod compiled;

pub use compiled::CompiledFormula;

/// A function to minimise: anything that gives a value and a gradient.
/// Methods take `&mut self` so that implementations can keep buffers and
/// count calls; none allocates per call. Lengths are the caller's to get
/// right (`x` has [`Objective::n_vars`] values, `grad` as many): the entry
/// points that take user input, such as [`minimize`](crate::minimize) and
/// [`CompiledFormula`]'s own methods, check them first.
pub trait Objective {
    /// The number of variables.
    fn n_vars(&self) -> usize;

    /// `f(x)`.
    fn value(&mut self, x: &[f64]) -> f64;

    /// `f(x)`, with `∇f(x)` written to `grad`.
    fn value_grad(&mut self, x: &[f64], grad: &mut [f64]) -> f64;

    /// Makes the Hessian available if this objective can have one (a
    /// compiled formula compiles it on first request): `Ok(false)` if it
    /// has none, an error if building it failed (over a size limit).
    fn prepare_hessian(&mut self) -> Result<bool> {
        Ok(false)
    }

    /// The Hessian at `x`, row-major into `hessian` (`n*n` values); `false`
    /// if this objective has none (call [`Objective::prepare_hessian`]
    /// first).
    fn hessian(&mut self, _x: &[f64], _hessian: &mut [f64]) -> bool {
        false
    }

    /// Makes Hessian-vector products available if this objective can have
    /// them (a compiled formula compiles what they need on first request):
    /// `Ok(false)` if it has none, an error if building them failed.
    fn prepare_hess_vec(&mut self) -> Result<bool> {
        Ok(false)
    }

    /// `H(x)·v`, the Hessian at `x` times `v`, into `out` (`n` values
    /// each); `false` if this objective has none (call
    /// [`Objective::prepare_hess_vec`] first). Newton's method for large
    /// `n` and the saddle test take a few of these instead of the `n × n`
    /// Hessian.
    fn hess_vec(&mut self, _x: &[f64], _v: &[f64], _out: &mut [f64]) -> bool {
        false
    }

    /// The pattern of this objective's sparse Hessian (its lower
    /// triangle, every value 0), making the Hessian available in that
    /// form: `Ok(None)` if it has none (a formula without arrays), an error
    /// if building it failed (a pattern over the node limit). Newton's
    /// method factorises it where its profile is narrow (a band).
    fn prepare_sparse_hessian(&mut self) -> Result<Option<SparseHessian>> {
        Ok(None)
    }

    /// The entries of the sparse Hessian at `x` into `values`, in the
    /// order of the pattern [`Objective::prepare_sparse_hessian`] gave;
    /// `false` if this objective has none (call that first).
    fn sparse_hessian_values(&mut self, _x: &[f64], _values: &mut [f64]) -> bool {
        false
    }

    /// Evaluations of the underlying function one `value_grad` costs: 1 for
    /// an exact gradient, more for finite differences.
    fn evaluations_per_gradient(&self) -> usize {
        1
    }

    /// The number of constraints (`subject to` statements) of the formula
    /// behind this objective, which its values leave out: 0 except for a
    /// formula with constraints. [`minimize`](crate::minimize) refuses an
    /// objective with constraints rather than ignore them;
    /// [`minimize_constrained`](crate::minimize_constrained) solves it.
    fn n_constraints(&self) -> usize {
        0
    }

    /// Whether f has kinks or steps (`abs`, `max`, `floor`, ...), where
    /// the gradient and curvature at a point say nothing of f beside it:
    /// the end of a run then looks there (`optim/beside.rs`).
    fn has_kinks(&self) -> bool {
        false
    }

    /// The compiled code behind this objective, if any, so that plain
    /// gradient descent can run as one native loop and the optimisers can
    /// call the code without going through this trait ([`Direct`]).
    /// Implementations other than slope's own keep the default.
    #[doc(hidden)]
    fn native(&self) -> Option<Native<'_>> {
        None
    }
}

/// Compiled value-and-gradient code an objective runs on, and whether the
/// objective negates it (for maximising): what the native descent loop
/// and [`Direct`] need. An objective that has it computes exactly what the
/// code computes. Opaque outside the crate.
#[doc(hidden)]
#[derive(Copy, Clone)]
pub struct Native<'a> {
    code: &'a Arc<Compiled>,
    negate: bool,
}

/// An objective's value and gradient called straight into its compiled
/// code, which returns the value in a register and writes the gradient
/// where the caller wants it: one call through
/// a function pointer, not a call through `dyn Objective` and then one
/// into the code. The optimisers' loop calls objectives through this when
/// it can ([`Direct::of`]); public (hidden) for the benchmark of that path.
///
/// Its common call (code without scratch, not negated, slices of the
/// right lengths) is two comparisons and the call, with the lengths kept
/// in `Direct` itself: the decisions about scratch and negation were
/// taken when it was built, once per run.
#[doc(hidden)]
#[derive(Clone)]
pub struct Direct {
    /// The lengths of `x` and `grad` with which a call goes straight
    /// into the code: the code's own, or none if it needs scratch or the
    /// objective negates it.
    lens: DirectLens,
    code: Arc<Compiled>,
    negate: bool,
}

impl Direct {
    /// The direct call into `objective`'s compiled code, if it has any.
    pub fn of(objective: &dyn Objective) -> Option<Direct> {
        let native = objective.native()?;
        let lens = match native.negate {
            false => native.code.direct_lens(),
            true => DirectLens::NONE,
        };
        Some(Direct {
            lens,
            code: Arc::clone(native.code),
            negate: native.negate,
        })
    }

    /// `f(x)`, with `∇f(x)` written to `grad`: what the objective's
    /// [`Objective::value_grad`] returns. Panics if a length is wrong.
    #[inline]
    pub fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        if self.lens.fit(x, grad) {
            // SAFETY: `lens` are the code's direct lengths (see `of`).
            return unsafe { self.code.call_direct(x, grad) };
        }
        self.value_grad_checked(x, grad)
    }

    /// [`Direct::value_grad`] off its common path: through the checked
    /// call, then negated if the objective is.
    #[inline(never)]
    fn value_grad_checked(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let v = self.code.call_value(x, grad);
        if self.negate {
            grad.iter_mut().for_each(|g| *g = -*g);
            return -v;
        }
        v
    }
}

impl Native<'_> {
    /// The native descent loop for `variant` (negated as this objective
    /// is): the cached one, or, if `compile`, a new one.
    pub(crate) fn descent_kernel(&self, variant: Variant, compile: bool) -> Option<&DescentKernel> {
        let variant = Variant {
            negate: variant.negate != self.negate,
            ..variant
        };
        self.code.descent_kernel(variant, compile)
    }
}

/// An error unless an array the caller passed has the length required,
/// one value per variable. `what` names it, and a name ending in `s` is
/// plural: "the bounds have", "the start point has".
pub(crate) fn check_len(what: &str, len: usize, want: usize) -> Result<()> {
    check_count(what, len, want, "the formula has", "variable")
}

/// As [`check_len`], one value per `unit` of `owner` ("the model has",
/// "parameter"): a fit's start has one value per parameter.
pub(crate) fn check_count(
    what: &str,
    len: usize,
    want: usize,
    owner: &str,
    unit: &str,
) -> Result<()> {
    if len == want {
        return Ok(());
    }
    let plural = |k: usize| if k == 1 { "" } else { "s" };
    Err(Error::new(
        ErrorKind::Shape,
        format!(
            "{what} {} {len} value{}, but {owner} {want} {unit}{}",
            if what.ends_with('s') { "have" } else { "has" },
            plural(len),
            plural(want),
        ),
    ))
}

/// A formula evaluated by the interpreter: the reference the compiled code
/// is measured against.
pub struct InterpretedObjective {
    n: usize,
    graph: Arc<Graph>,
    /// The value, then the gradient.
    outputs: Vec<NodeId>,
    n_constraints: usize,
}

impl InterpretedObjective {
    /// The interpreter on `formula`'s value and gradient.
    pub fn new(formula: &Formula) -> InterpretedObjective {
        let mut outputs = vec![formula.value()];
        outputs.extend_from_slice(formula.gradient());
        InterpretedObjective {
            n: formula.n_vars(),
            graph: Arc::new(formula.graph().clone()),
            outputs,
            n_constraints: formula.constraints().len(),
        }
    }
}

impl Objective for InterpretedObjective {
    fn has_kinks(&self) -> bool {
        self.graph.has_kinks()
    }

    fn n_vars(&self) -> usize {
        self.n
    }

    fn n_constraints(&self) -> usize {
        self.n_constraints
    }

    fn value(&mut self, x: &[f64]) -> f64 {
        Interpreter::new(&self.graph, &self.outputs[..1]).eval(x)[0]
    }

    fn value_grad(&mut self, x: &[f64], grad: &mut [f64]) -> f64 {
        let v = Interpreter::new(&self.graph, &self.outputs).eval(x);
        grad.copy_from_slice(&v[1..]);
        v[0]
    }
}

/// Another objective's values with gradients by finite differences, for
/// comparison with exact gradients.
pub struct FiniteDifferences<O> {
    /// The objective whose values are differenced.
    pub inner: O,
    /// How the differences are taken.
    pub scheme: Scheme,
    point: Vec<f64>,
}

impl<O: Objective> FiniteDifferences<O> {
    /// Gradients of `inner` by `scheme`.
    pub fn new(inner: O, scheme: Scheme) -> FiniteDifferences<O> {
        let n = inner.n_vars();
        FiniteDifferences {
            inner,
            scheme,
            point: vec![0.0; n],
        }
    }
}

impl<O: Objective> Objective for FiniteDifferences<O> {
    fn has_kinks(&self) -> bool {
        self.inner.has_kinks()
    }

    fn n_vars(&self) -> usize {
        self.inner.n_vars()
    }

    fn evaluations_per_gradient(&self) -> usize {
        1 + self.scheme.evaluations(self.inner.n_vars())
    }

    fn n_constraints(&self) -> usize {
        self.inner.n_constraints()
    }

    fn value(&mut self, x: &[f64]) -> f64 {
        self.inner.value(x)
    }

    fn value_grad(&mut self, x: &[f64], grad: &mut [f64]) -> f64 {
        let fx = self.inner.value(x);
        self.point.copy_from_slice(x);
        let inner = &mut self.inner;
        fd::gradient(
            &mut |p: &[f64]| inner.value(p),
            &mut self.point,
            fx,
            self.scheme,
            grad,
        );
        fx
    }
}

/// A Rust closure `f(x, grad) -> value` as an objective: it must fill
/// `grad` with the gradient at `x` (when only the value is wanted, `grad`
/// is scratch). [`FnObjective::with_hess_vec`] adds a closure for
/// Hessian-vector products, which Newton's method needs.
///
/// ```
/// use slope::{FnObjective, Settings};
/// // (x - 3)^2 + (y + 1)^2, with its gradient written by hand.
/// let mut obj = FnObjective::new(2, |x: &[f64], g: &mut [f64]| {
///     g[0] = 2.0 * (x[0] - 3.0);
///     g[1] = 2.0 * (x[1] + 1.0);
///     (x[0] - 3.0).powi(2) + (x[1] + 1.0).powi(2)
/// });
/// let out = slope::minimize(&mut obj, &[0.0, 0.0], &Settings::default())?;
/// assert!(out.converged());
/// assert!((out.x[0] - 3.0).abs() < 1e-6 && (out.x[1] + 1.0).abs() < 1e-6);
/// # Ok::<(), slope::Error>(())
/// ```
pub struct FnObjective<F, H = HessVecFn> {
    n: usize,
    f: F,
    hess_vec: Option<H>,
    scratch: Vec<f64>,
}

/// The type of [`FnObjective`]'s Hessian-vector closure before
/// [`FnObjective::with_hess_vec`] gives it one.
pub type HessVecFn = fn(&[f64], &[f64], &mut [f64]);

impl<F: FnMut(&[f64], &mut [f64]) -> f64> FnObjective<F> {
    /// The closure `f` over `n` variables.
    pub fn new(n: usize, f: F) -> FnObjective<F> {
        FnObjective {
            n,
            f,
            hess_vec: None,
            scratch: vec![0.0; n],
        }
    }
}

impl<F: FnMut(&[f64], &mut [f64]) -> f64, H> FnObjective<F, H> {
    /// The same objective with Hessian-vector products: `hv(x, v, out)`
    /// must write `H(x)·v` to `out`. Newton's method then runs on them
    /// (by conjugate gradients), and the saddle test at the end of a run
    /// uses them rather than differences of the gradient.
    ///
    /// ```
    /// use slope::{FnObjective, Method, Objective, Settings};
    /// // x^2 + 10 y^2, with gradient and Hessian-vector product by hand.
    /// let mut obj = FnObjective::new(2, |x: &[f64], g: &mut [f64]| {
    ///     g[0] = 2.0 * x[0];
    ///     g[1] = 20.0 * x[1];
    ///     x[0] * x[0] + 10.0 * x[1] * x[1]
    /// })
    /// .with_hess_vec(|_x: &[f64], v: &[f64], out: &mut [f64]| {
    ///     out[0] = 2.0 * v[0];
    ///     out[1] = 20.0 * v[1];
    /// });
    /// let mut hv = [0.0; 2];
    /// assert!(obj.hess_vec(&[1.0, 1.0], &[1.0, -1.0], &mut hv));
    /// assert_eq!(hv, [2.0, -20.0]);
    /// // Newton runs on the products (by conjugate gradients).
    /// let out = slope::minimize(&mut obj, &[1.0, 1.0], &Settings::new(Method::newton()))?;
    /// assert!(out.converged() && out.f < 1e-16 && out.hessian_evaluations > 0);
    /// # Ok::<(), slope::Error>(())
    /// ```
    pub fn with_hess_vec<G>(self, hv: G) -> FnObjective<F, G>
    where
        G: FnMut(&[f64], &[f64], &mut [f64]),
    {
        FnObjective {
            n: self.n,
            f: self.f,
            hess_vec: Some(hv),
            scratch: self.scratch,
        }
    }
}

impl<F, H> Objective for FnObjective<F, H>
where
    F: FnMut(&[f64], &mut [f64]) -> f64,
    H: FnMut(&[f64], &[f64], &mut [f64]),
{
    fn n_vars(&self) -> usize {
        self.n
    }

    fn value(&mut self, x: &[f64]) -> f64 {
        (self.f)(x, &mut self.scratch)
    }

    fn value_grad(&mut self, x: &[f64], grad: &mut [f64]) -> f64 {
        (self.f)(x, grad)
    }

    fn prepare_hess_vec(&mut self) -> Result<bool> {
        Ok(self.hess_vec.is_some())
    }

    fn hess_vec(&mut self, x: &[f64], v: &[f64], out: &mut [f64]) -> bool {
        match &mut self.hess_vec {
            Some(hv) => {
                hv(x, v, out);
                true
            }
            None => false,
        }
    }
}

/// `-f`: maximising `f` is minimising this.
pub struct Negated<O>(pub O);

impl<O: Objective> Objective for Negated<O> {
    fn has_kinks(&self) -> bool {
        self.0.has_kinks()
    }

    fn n_vars(&self) -> usize {
        self.0.n_vars()
    }

    fn value(&mut self, x: &[f64]) -> f64 {
        -self.0.value(x)
    }

    fn value_grad(&mut self, x: &[f64], grad: &mut [f64]) -> f64 {
        let v = self.0.value_grad(x, grad);
        grad.iter_mut().for_each(|g| *g = -*g);
        -v
    }

    fn prepare_hessian(&mut self) -> Result<bool> {
        self.0.prepare_hessian()
    }

    fn hessian(&mut self, x: &[f64], hessian: &mut [f64]) -> bool {
        let ok = self.0.hessian(x, hessian);
        hessian.iter_mut().for_each(|h| *h = -*h);
        ok
    }

    fn prepare_hess_vec(&mut self) -> Result<bool> {
        self.0.prepare_hess_vec()
    }

    fn hess_vec(&mut self, x: &[f64], v: &[f64], out: &mut [f64]) -> bool {
        let ok = self.0.hess_vec(x, v, out);
        out.iter_mut().for_each(|h| *h = -*h);
        ok
    }

    fn prepare_sparse_hessian(&mut self) -> Result<Option<SparseHessian>> {
        self.0.prepare_sparse_hessian()
    }

    fn sparse_hessian_values(&mut self, x: &[f64], values: &mut [f64]) -> bool {
        let ok = self.0.sparse_hessian_values(x, values);
        values.iter_mut().for_each(|h| *h = -*h);
        ok
    }

    fn evaluations_per_gradient(&self) -> usize {
        self.0.evaluations_per_gradient()
    }

    fn n_constraints(&self) -> usize {
        self.0.n_constraints()
    }

    fn native(&self) -> Option<Native<'_>> {
        let inner = self.0.native()?;
        Some(Native {
            negate: !inner.negate,
            ..inner
        })
    }
}

impl<O: Objective + ?Sized> Objective for Box<O> {
    fn has_kinks(&self) -> bool {
        (**self).has_kinks()
    }

    fn n_vars(&self) -> usize {
        (**self).n_vars()
    }

    fn value(&mut self, x: &[f64]) -> f64 {
        (**self).value(x)
    }

    fn value_grad(&mut self, x: &[f64], grad: &mut [f64]) -> f64 {
        (**self).value_grad(x, grad)
    }

    fn prepare_hessian(&mut self) -> Result<bool> {
        (**self).prepare_hessian()
    }

    fn hessian(&mut self, x: &[f64], hessian: &mut [f64]) -> bool {
        (**self).hessian(x, hessian)
    }

    fn prepare_hess_vec(&mut self) -> Result<bool> {
        (**self).prepare_hess_vec()
    }

    fn hess_vec(&mut self, x: &[f64], v: &[f64], out: &mut [f64]) -> bool {
        (**self).hess_vec(x, v, out)
    }

    fn prepare_sparse_hessian(&mut self) -> Result<Option<SparseHessian>> {
        (**self).prepare_sparse_hessian()
    }

    fn sparse_hessian_values(&mut self, x: &[f64], values: &mut [f64]) -> bool {
        (**self).sparse_hessian_values(x, values)
    }

    fn evaluations_per_gradient(&self) -> usize {
        (**self).evaluations_per_gradient()
    }

    fn n_constraints(&self) -> usize {
        (**self).n_constraints()
    }

    fn native(&self) -> Option<Native<'_>> {
        (**self).native()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct call gives what the objective's own `value_grad` gives,
    /// to the bit: straight into the code, and negated (for maximising)
    /// off its common path.
    #[test]
    fn direct_calls_equal_the_objectives_own() {
        let f = Formula::parse("(1-x)^2 + 100*(y-x^2)^2 + sin(x*y)").unwrap();
        let x = [0.3, -1.7];
        let mut plain = f.compile().unwrap();
        let mut negated = Negated(f.compile().unwrap());
        for objective in [&mut plain as &mut dyn Objective, &mut negated] {
            let direct = Direct::of(objective).expect("compiled code");
            let (mut got, mut want) = ([f64::NAN; 2], [f64::NAN; 2]);
            let v = direct.value_grad(&x, &mut got);
            let w = objective.value_grad(&x, &mut want);
            assert_eq!(v.to_bits(), w.to_bits());
            assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits));
        }
        assert!(Direct::of(&negated).unwrap().value_grad(&x, &mut [0.0; 2]) < 0.0);
    }

    #[test]
    fn a_wrong_length_is_said_in_agreement_with_its_subject() {
        // User probe: "the bounds has 1 value".
        let f = Formula::parse("x^2 + y^2").unwrap();
        let settings = crate::Settings {
            bounds: Some(vec![(0.0, 1.0)]),
            ..crate::Settings::default()
        };
        let err = crate::minimize(&mut f.compile().unwrap(), &[0.5, 0.5], &settings).unwrap_err();
        assert_eq!(
            err.message,
            "the bounds have 1 value, but the formula has 2 variables"
        );
        let err = crate::minimize(&mut f.compile().unwrap(), &[0.5; 3], &Default::default());
        let message = err.unwrap_err().message;
        assert_eq!(
            message,
            "the start point has 3 values, but the formula has 2 variables"
        );
    }

    #[test]
    fn a_fits_wrong_length_counts_the_models_parameters() {
        // A fit's start has one value per parameter, not per variable.
        let (t, y) = ([1.0, 2.0, 3.0], [2.0, 4.1, 5.9]);
        let options = crate::fit::Options {
            start: Some(vec![1.0]),
            ..Default::default()
        };
        let err = crate::fit::fit("y ~ a + b*t", &[("t", &t), ("y", &y)], &options).unwrap_err();
        assert_eq!(
            err.message,
            "the start has 1 value, but the model has 2 parameters"
        );
    }

    #[test]
    #[should_panic(expected = "room for 2 values but the function has 3 outputs")]
    fn a_direct_call_with_the_wrong_gradient_length_panics() {
        let f = Formula::parse("x^2 + y^2").unwrap();
        let direct = Direct::of(&f.compile().unwrap()).expect("compiled code");
        direct.value_grad(&[1.0, 2.0], &mut [0.0]);
    }
}
