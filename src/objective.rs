//! One trait for everything that gives a value and a gradient: compiled
//! code, the interpreter, finite differences, a Rust closure. Optimizers,
//! checks and benchmarks take any of them, so comparisons between gradient
//! sources run through the same loop.

use std::sync::Arc;

use crate::error::Result;
use crate::eval::Interpreter;
use crate::fd::{self, Scheme};
use crate::formula::Formula;
use crate::jit::{Compiled, DescentKernel, Variant};

/// A function to minimise. Methods take `&mut self` so that implementations
/// can keep buffers and count calls; none allocates per call.
pub trait Objective {
    fn n_vars(&self) -> usize;

    /// `f(x)`.
    fn value(&mut self, x: &[f64]) -> f64;

    /// `f(x)`, with `∇f(x)` written to `grad`.
    fn value_grad(&mut self, x: &[f64], grad: &mut [f64]) -> f64;

    /// The Hessian at `x`, row-major into `hessian` (`n*n` values); `false`
    /// if this objective has none.
    fn hessian(&mut self, _x: &[f64], _hessian: &mut [f64]) -> bool {
        false
    }

    /// Evaluations of the underlying function one `value_grad` costs: 1 for
    /// an exact gradient, more for finite differences.
    fn evaluations_per_gradient(&self) -> usize {
        1
    }

    /// Fixed-step descent on this objective as one native loop, if it has
    /// compiled code for one (see [`crate::jit::DescentKernel`]): the cached
    /// loop, or if `compile`, a new one.
    fn descent_kernel(&self, _variant: Variant, _compile: bool) -> Option<&DescentKernel> {
        None
    }
}

/// A formula compiled to native code: value, value+gradient and, when
/// asked for, the Hessian. Cloning shares the code (it is `Send + Sync`),
/// so each thread of a multi-start run has its own buffers.
#[derive(Clone)]
pub struct CompiledObjective {
    value: Arc<Compiled>,
    value_grad: Arc<Compiled>,
    hessian: Option<Arc<Compiled>>,
    out: Vec<f64>,
}

impl CompiledObjective {
    pub fn new(formula: &mut Formula, with_hessian: bool) -> Result<CompiledObjective> {
        let n = formula.vars().len();
        let mut outputs = vec![formula.value()];
        outputs.extend_from_slice(formula.try_gradient()?);
        let value_grad = Compiled::compile(formula.graph(), &outputs, n)?;
        let value = Compiled::compile(formula.graph(), &outputs[..1], n)?;
        let hessian = if with_hessian {
            let entries: Vec<_> = formula.try_hessian()?.iter().flatten().copied().collect();
            Some(Arc::new(Compiled::compile(formula.graph(), &entries, n)?))
        } else {
            None
        };
        Ok(CompiledObjective {
            value: Arc::new(value),
            value_grad: Arc::new(value_grad),
            hessian,
            out: vec![0.0; n + 1],
        })
    }
}

impl Objective for CompiledObjective {
    fn n_vars(&self) -> usize {
        self.out.len() - 1
    }

    fn value(&mut self, x: &[f64]) -> f64 {
        self.value.call(x, &mut self.out[..1]);
        self.out[0]
    }

    fn value_grad(&mut self, x: &[f64], grad: &mut [f64]) -> f64 {
        self.value_grad.call(x, &mut self.out);
        grad.copy_from_slice(&self.out[1..]);
        self.out[0]
    }

    fn hessian(&mut self, x: &[f64], hessian: &mut [f64]) -> bool {
        match &self.hessian {
            Some(h) => {
                h.call(x, hessian);
                true
            }
            None => false,
        }
    }

    fn descent_kernel(&self, variant: Variant, compile: bool) -> Option<&DescentKernel> {
        self.value_grad.descent_kernel(variant, compile)
    }
}

/// A formula evaluated by the interpreter.
pub struct InterpretedObjective<'f> {
    n: usize,
    value: Interpreter<'f>,
    value_grad: Interpreter<'f>,
}

impl<'f> InterpretedObjective<'f> {
    pub fn new(formula: &'f mut Formula) -> InterpretedObjective<'f> {
        let mut outputs = vec![formula.value()];
        outputs.extend_from_slice(formula.gradient());
        let formula: &'f Formula = formula;
        InterpretedObjective {
            n: formula.vars().len(),
            value: Interpreter::new(formula.graph(), &outputs[..1]),
            value_grad: Interpreter::new(formula.graph(), &outputs),
        }
    }
}

impl Objective for InterpretedObjective<'_> {
    fn n_vars(&self) -> usize {
        self.n
    }

    fn value(&mut self, x: &[f64]) -> f64 {
        self.value.eval(x)[0]
    }

    fn value_grad(&mut self, x: &[f64], grad: &mut [f64]) -> f64 {
        let v = self.value_grad.eval(x);
        grad.copy_from_slice(&v[1..]);
        v[0]
    }
}

/// Another objective's values with gradients by finite differences: the
/// seed tutorials' way, for comparison with exact gradients.
pub struct FiniteDifferences<O> {
    pub inner: O,
    pub scheme: Scheme,
    point: Vec<f64>,
}

impl<O: Objective> FiniteDifferences<O> {
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
    fn n_vars(&self) -> usize {
        self.inner.n_vars()
    }

    fn evaluations_per_gradient(&self) -> usize {
        1 + self.scheme.evaluations(self.inner.n_vars())
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

/// A Rust closure `f(x, grad) -> value` (it must fill `grad`).
pub struct FnObjective<F> {
    n: usize,
    f: F,
    scratch: Vec<f64>,
}

impl<F: FnMut(&[f64], &mut [f64]) -> f64> FnObjective<F> {
    pub fn new(n: usize, f: F) -> FnObjective<F> {
        FnObjective {
            n,
            f,
            scratch: vec![0.0; n],
        }
    }
}

impl<F: FnMut(&[f64], &mut [f64]) -> f64> Objective for FnObjective<F> {
    fn n_vars(&self) -> usize {
        self.n
    }

    fn value(&mut self, x: &[f64]) -> f64 {
        (self.f)(x, &mut self.scratch)
    }

    fn value_grad(&mut self, x: &[f64], grad: &mut [f64]) -> f64 {
        (self.f)(x, grad)
    }
}

/// `-f`: maximising `f` is minimising this.
pub struct Negated<O>(pub O);

impl<O: Objective> Objective for Negated<O> {
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

    fn hessian(&mut self, x: &[f64], hessian: &mut [f64]) -> bool {
        let ok = self.0.hessian(x, hessian);
        hessian.iter_mut().for_each(|h| *h = -*h);
        ok
    }

    fn evaluations_per_gradient(&self) -> usize {
        self.0.evaluations_per_gradient()
    }

    fn descent_kernel(&self, variant: Variant, compile: bool) -> Option<&DescentKernel> {
        let negated = Variant {
            negate: !variant.negate,
            ..variant
        };
        self.0.descent_kernel(negated, compile)
    }
}

impl<O: Objective + ?Sized> Objective for Box<O> {
    fn n_vars(&self) -> usize {
        (**self).n_vars()
    }

    fn value(&mut self, x: &[f64]) -> f64 {
        (**self).value(x)
    }

    fn value_grad(&mut self, x: &[f64], grad: &mut [f64]) -> f64 {
        (**self).value_grad(x, grad)
    }

    fn hessian(&mut self, x: &[f64], hessian: &mut [f64]) -> bool {
        (**self).hessian(x, hessian)
    }

    fn evaluations_per_gradient(&self) -> usize {
        (**self).evaluations_per_gradient()
    }

    fn descent_kernel(&self, variant: Variant, compile: bool) -> Option<&DescentKernel> {
        (**self).descent_kernel(variant, compile)
    }
}
