//! Methods that move by a fixed rule from the gradient: gradient descent
//! (optionally with a backtracking line search), momentum, Nesterov,
//! AdaGrad, RMSProp and Adam. Each keeps at most two vectors of state.

use super::line_search::backtrack;
use super::{Context, Method, Step, StepResult};

pub(crate) struct FirstOrder {
    method: Method,
    /// Velocity (momentum, Nesterov), squared-gradient sum or average
    /// (AdaGrad, RMSProp), first moment (Adam).
    a: Vec<f64>,
    /// Adam's second moment.
    b: Vec<f64>,
    /// Adam's step count, for bias correction.
    t: i32,
    /// The step the line search accepted last time.
    last_step: f64,
    /// Scratch for the line search: trial point and gradient, direction.
    trial: Vec<f64>,
    trial_grad: Vec<f64>,
    direction: Vec<f64>,
}

impl FirstOrder {
    pub fn new(method: Method, n: usize) -> FirstOrder {
        let scratch = if method.has_line_search() { n } else { 0 };
        let adam = matches!(method, Method::Adam { .. });
        FirstOrder {
            method,
            a: vec![0.0; n],
            b: vec![0.0; if adam { n } else { 0 }],
            t: 0,
            last_step: method.lr(),
            trial: vec![0.0; scratch],
            trial_grad: vec![0.0; scratch],
            direction: vec![0.0; scratch],
        }
    }
}

impl Step for FirstOrder {
    fn step(
        &mut self,
        ctx: &mut Context<'_>,
        x: &mut [f64],
        f: &mut f64,
        grad: &mut [f64],
    ) -> StepResult {
        let lr = self.method.lr();
        if self.method.has_line_search() {
            for (d, g) in self.direction.iter_mut().zip(grad.iter()) {
                *d = -g;
            }
            // Start from twice the last accepted step (at most --lr): after
            // the first iterations that is close to what will be accepted.
            let mut t = (2.0 * self.last_step).min(lr);
            let (trial, trial_grad) = (&mut self.trial, &mut self.trial_grad);
            let result = backtrack(ctx, x, f, grad, &self.direction, &mut t, trial, trial_grad);
            self.last_step = t;
            return result;
        }
        match self.method {
            Method::Gd { .. } => {
                for (xi, g) in x.iter_mut().zip(grad.iter()) {
                    *xi -= lr * g;
                }
            }
            Method::Momentum { momentum, .. } => {
                for ((xi, v), g) in x.iter_mut().zip(&mut self.a).zip(grad.iter()) {
                    *v = momentum * *v + g;
                    *xi -= lr * *v;
                }
            }
            // Nesterov's look-ahead, in the form that needs only the
            // gradient at the current point.
            Method::Nesterov { momentum, .. } => {
                for ((xi, v), g) in x.iter_mut().zip(&mut self.a).zip(grad.iter()) {
                    *v = momentum * *v + g;
                    *xi -= lr * (g + momentum * *v);
                }
            }
            Method::Adagrad { epsilon, .. } => {
                for ((xi, sum), g) in x.iter_mut().zip(&mut self.a).zip(grad.iter()) {
                    *sum += g * g;
                    *xi -= lr * g / (sum.sqrt() + epsilon);
                }
            }
            Method::Rmsprop { rho, epsilon, .. } => {
                for ((xi, avg), g) in x.iter_mut().zip(&mut self.a).zip(grad.iter()) {
                    *avg = rho * *avg + (1.0 - rho) * g * g;
                    *xi -= lr * g / (avg.sqrt() + epsilon);
                }
            }
            Method::Adam {
                beta1,
                beta2,
                epsilon,
                ..
            } => {
                self.t += 1;
                let c1 = 1.0 - beta1.powi(self.t);
                let c2 = 1.0 - beta2.powi(self.t);
                for (((xi, m), v), g) in x
                    .iter_mut()
                    .zip(&mut self.a)
                    .zip(&mut self.b)
                    .zip(grad.iter())
                {
                    *m = beta1 * *m + (1.0 - beta1) * g;
                    *v = beta2 * *v + (1.0 - beta2) * g * g;
                    *xi -= lr * (*m / c1) / ((*v / c2).sqrt() + epsilon);
                }
            }
            Method::Lbfgs { .. } | Method::Newton { .. } => return StepResult::Failed,
        }
        ctx.project(x);
        *f = ctx.value_grad(x, grad);
        StepResult::Moved
    }
}
