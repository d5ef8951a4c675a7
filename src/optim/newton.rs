//! Newton's method on the exact Hessian. Where the Hessian is not positive
//! definite (a saddle, a maximum), a multiple of the identity is added until
//! it is, so the step is always a descent direction; a backtracking line
//! search from the full step keeps each step decreasing f.

use super::line_search::backtrack;
use super::{Context, Step, StepResult};

pub(crate) struct Newton {
    n: usize,
    hessian: Vec<f64>,
    factor: Vec<f64>,
    direction: Vec<f64>,
    trial: Vec<f64>,
    trial_grad: Vec<f64>,
}

impl Newton {
    pub fn new(n: usize) -> Newton {
        Newton {
            n,
            hessian: vec![0.0; n * n],
            factor: vec![0.0; n * n],
            direction: vec![0.0; n],
            trial: vec![0.0; n],
            trial_grad: vec![0.0; n],
        }
    }

    /// Cholesky factor of `hessian + shift*I` into `factor`; `false` if that
    /// matrix is not (numerically) positive definite.
    fn cholesky(&mut self, shift: f64) -> bool {
        let n = self.n;
        for i in 0..n {
            for j in 0..=i {
                let mut sum = self.hessian[i * n + j] + if i == j { shift } else { 0.0 };
                for k in 0..j {
                    sum -= self.factor[i * n + k] * self.factor[j * n + k];
                }
                if i == j {
                    if sum.is_nan() || sum <= 0.0 {
                        return false;
                    }
                    self.factor[i * n + i] = sum.sqrt();
                } else {
                    self.factor[i * n + j] = sum / self.factor[j * n + j];
                }
            }
        }
        true
    }

    /// Solves `L Lᵀ d = -grad` into `direction`.
    fn solve(&mut self, grad: &[f64]) {
        let n = self.n;
        let l = &self.factor;
        let d = &mut self.direction;
        for i in 0..n {
            let (solved, rest) = d.split_at_mut(i);
            let row = &l[i * n..i * n + i];
            let sum = -grad[i]
                - row
                    .iter()
                    .zip(solved.iter())
                    .map(|(a, b)| a * b)
                    .sum::<f64>();
            rest[0] = sum / l[i * n + i];
        }
        for i in (0..n).rev() {
            let (head, solved) = d.split_at_mut(i + 1);
            let column = solved
                .iter()
                .enumerate()
                .map(|(j, dk)| l[(i + 1 + j) * n + i] * dk);
            head[i] = (head[i] - column.sum::<f64>()) / l[i * n + i];
        }
    }
}

impl Step for Newton {
    fn step(
        &mut self,
        ctx: &mut Context<'_>,
        x: &mut [f64],
        f: &mut f64,
        grad: &mut [f64],
    ) -> StepResult {
        if !ctx.hessian(x, &mut self.hessian) || self.hessian.iter().any(|h| !h.is_finite()) {
            return StepResult::Failed;
        }
        // The smallest shift that makes the matrix positive definite, found
        // by growing it tenfold from a scale set by the diagonal.
        let scale = (0..self.n)
            .map(|i| self.hessian[i * self.n + i].abs())
            .fold(0.0, f64::max)
            .max(1e-12);
        let mut shift = 0.0;
        while !self.cholesky(shift) {
            shift = if shift == 0.0 {
                1e-8 * scale
            } else {
                shift * 10.0
            };
            if !shift.is_finite() || shift > 1e300 {
                return StepResult::Failed;
            }
        }
        self.solve(grad);
        let mut t = ctx.settings.method.lr();
        backtrack(
            ctx,
            x,
            f,
            grad,
            &self.direction,
            &mut t,
            &mut self.trial,
            &mut self.trial_grad,
        )
    }
}
