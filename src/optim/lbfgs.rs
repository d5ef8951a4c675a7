//! Limited-memory BFGS: the two-loop recursion over the last `memory`
//! corrections, with a strong Wolfe line search that keeps the curvature
//! information valid. With bounds it is L-BFGS-B: the direction comes from
//! the Cauchy point and subspace step of `lbfgsb.rs`, and the line search
//! stays inside the box.

use std::mem::swap;

use super::lbfgsb::{self, Pairs, Scratch};
use super::line_search::{Found, strong_wolfe};
use super::minimize::Path;
use super::vector::{Measure, gradient_pass, projected_norm, step_pass};
use super::{Context, StepResult, dot};

pub(crate) struct Lbfgs {
    /// Corrections `s = x_{k+1} - x_k` and `y = g_{k+1} - g_k`, a ring of
    /// `memory` slots, oldest at `start`.
    s: Vec<Vec<f64>>,
    y: Vec<Vec<f64>>,
    rho: Vec<f64>,
    /// `y·y` by slot, for the initial Hessian's scale.
    yy: Vec<f64>,
    alpha: Vec<f64>,
    start: usize,
    len: usize,
    direction: Vec<f64>,
    /// The newest pair, built as a step is taken and swapped into the ring
    /// only when kept: when the memory is full, the slot it takes is the
    /// oldest pair's, still in use until then.
    s_new: Vec<f64>,
    y_new: Vec<f64>,
    /// The newest pair's `s·s` and `y·y`, measured as it was formed.
    ss_new: f64,
    yy_new: f64,
    /// Where the last step is: the ring slot it was kept in, or `s_new`
    /// when its pair was not kept. The stopping tests compare each step
    /// with it.
    previous: Option<usize>,
    /// The last step's `s·s` (0 before the first).
    previous_ss: f64,
    /// The line search's trial point and its gradient; once a step is
    /// taken, scratch (they are swapped with the run's point).
    trial: Vec<f64>,
    trial_grad: Vec<f64>,
    /// With bounds: the Gram matrices `s_i·s_j` and `s_i·y_j` by slot, the
    /// slots oldest first, and the compact form's buffers.
    bounded: Option<Bounded>,
    /// How far the first step moves x at most, times `--lr`: 1 from a
    /// start; from a lower point the end-of-run tests found (`minimize.rs`)
    /// the length of the move there, the scale they found f falling over
    /// (from x = 2e19 on `(x - 1e20)^2` a step of 1 changes f = 6.4e39 by
    /// less than its rounding).
    pub first_move: f64,
}

struct Bounded {
    ss: Vec<f64>,
    sy: Vec<f64>,
    order: Vec<usize>,
    scratch: Scratch,
}

impl Lbfgs {
    /// L-BFGS over `n` variables keeping `memory` corrections; L-BFGS-B
    /// when `bounded`.
    pub fn new(n: usize, memory: usize, bounded: bool) -> Lbfgs {
        let m = memory.max(1);
        Lbfgs {
            bounded: bounded.then(|| Bounded {
                ss: vec![0.0; m * m],
                sy: vec![0.0; m * m],
                order: Vec::with_capacity(m),
                scratch: Scratch::new(n, m),
            }),
            s: vec![vec![0.0; n]; m],
            y: vec![vec![0.0; n]; m],
            rho: vec![0.0; m],
            yy: vec![0.0; m],
            alpha: vec![0.0; m],
            first_move: 1.0,
            start: 0,
            len: 0,
            direction: vec![0.0; n],
            s_new: vec![0.0; n],
            y_new: vec![0.0; n],
            ss_new: 0.0,
            yy_new: 0.0,
            previous: None,
            previous_ss: 0.0,
            trial: vec![0.0; n],
            trial_grad: vec![0.0; n],
        }
    }

    /// `direction = -H grad`, with `H` the L-BFGS inverse Hessian estimate.
    /// The recursion is linear in `q`, so it starts from `-grad` (negation
    /// is exact: the same bits as negating at the end, one pass fewer).
    fn compute_direction(&mut self, grad: &[f64]) {
        let m = self.s.len();
        let q = &mut self.direction;
        for (q, g) in q.iter_mut().zip(grad) {
            *q = -g;
        }
        for k in (0..self.len).rev() {
            let i = (self.start + k) % m;
            let alpha = self.rho[i] * dot(&self.s[i], q);
            self.alpha[i] = alpha;
            for (qj, yj) in q.iter_mut().zip(&self.y[i]) {
                *qj -= alpha * yj;
            }
        }
        // Scale by s·y / y·y of the newest pair: the usual initial Hessian.
        if self.len > 0 {
            let i = (self.start + self.len - 1) % m;
            let gamma = 1.0 / (self.rho[i] * self.yy[i]);
            q.iter_mut().for_each(|v| *v *= gamma);
        }
        for k in 0..self.len {
            let i = (self.start + k) % m;
            let beta = self.rho[i] * dot(&self.y[i], q);
            let a = self.alpha[i] - beta;
            for (qj, sj) in q.iter_mut().zip(&self.s[i]) {
                *qj += a * sj;
            }
        }
    }

    /// Moves the run to the point the line search left in the trial
    /// buffers by swapping them with the run's point and gradient, and the
    /// old point into `path.last_x`: no copies (the loop's last point is
    /// the one the step started from, as it would be had it copied it).
    fn take(&mut self, path: &mut Path, ft: f64) {
        swap(&mut path.x, &mut self.trial);
        swap(&mut path.grad, &mut self.trial_grad);
        swap(&mut path.last_x, &mut self.trial);
        path.f = ft;
    }

    /// Forms the pair `s = x - last_x`, `y = grad - g_last` (the old
    /// gradient, in `trial_grad` since [`Lbfgs::take`]) and, with the two
    /// passes that form it and the step's dot product with the last step,
    /// what the stopping tests read of the step: the measurements
    /// [`measure`](super::vector::measure) makes, to the bit, without its
    /// pass over the variables, and whether the step turned back.
    fn form_pair(&mut self, path: &Path, settings: &super::Settings) -> (Measure, bool) {
        let previous = match self.previous {
            Some(i) => &self.s[i],
            None => &self.s_new,
        };
        // Into the spare trial buffer: `s_new` may hold the last step.
        let step = step_pass(&path.x, &path.last_x, previous, &mut self.trial);
        swap(&mut self.s_new, &mut self.trial);
        let gradient = gradient_pass(&path.grad, &self.trial_grad, &mut self.y_new);
        (self.ss_new, self.yy_new) = (step.step2, gradient.yy);
        let reversed = step.turn < -0.5 * (step.step2 * self.previous_ss).sqrt();
        self.previous_ss = step.step2;
        let measure = Measure {
            step: step.step2.sqrt(),
            grad_norm: match settings.constraints() {
                None => gradient.largest_g,
                Some(_) => projected_norm(settings, &path.x, &path.grad),
            },
            largest_x: step.largest_x,
            finite: path.f.is_finite() && gradient.largest_g.is_finite(),
        };
        (measure, reversed)
    }

    /// Adds the pair [`Lbfgs::form_pair`] formed, unless its curvature is
    /// not positive.
    fn remember(&mut self) {
        let (s, y) = (&self.s_new, &self.y_new);
        let sy = dot(s, y);
        // Only a pair with positive curvature keeps the estimate positive
        // definite; others are skipped.
        let threshold = 1e-12 * self.ss_new.sqrt() * self.yy_new.sqrt();
        self.previous = None;
        if sy.is_nan() || sy <= threshold {
            return;
        }
        let m = self.s.len();
        let i = (self.start + self.len) % m;
        swap(&mut self.s[i], &mut self.s_new);
        swap(&mut self.y[i], &mut self.y_new);
        self.previous = Some(i);
        self.rho[i] = 1.0 / sy;
        self.yy[i] = self.yy_new;
        if self.len < m {
            self.len += 1;
        } else {
            self.start = (self.start + 1) % m;
        }
        if let Some(b) = &mut self.bounded {
            for k in 0..self.len {
                let j = (self.start + k) % m;
                let ss = dot(&self.s[i], &self.s[j]);
                b.ss[i * m + j] = ss;
                b.ss[j * m + i] = ss;
                b.sy[i * m + j] = dot(&self.s[i], &self.y[j]);
                b.sy[j * m + i] = dot(&self.s[j], &self.y[i]);
            }
        }
    }

    /// L-BFGS-B's direction from `x` into `direction`, and the longest
    /// step along it that stays in the box; `None` if the compact matrix
    /// could not be formed.
    fn bounded_direction(&mut self, x: &[f64], grad: &[f64], bounds: &[(f64, f64)]) -> Option<f64> {
        let m = self.s.len();
        let b = self.bounded.as_mut()?;
        b.order.clear();
        b.order.extend((0..self.len).map(|k| (self.start + k) % m));
        let theta = match b.order.last() {
            Some(&i) => self.yy[i] * self.rho[i],
            None => 1.0,
        };
        let pairs = Pairs {
            s: &self.s,
            y: &self.y,
            order: &b.order,
            ss: &b.ss,
            sy: &b.sy,
            memory: m,
        };
        if !lbfgsb::propose(&pairs, theta, x, grad, bounds, &mut b.scratch) {
            return None;
        }
        // Without curvature information the Cauchy point is a gradient
        // step, which may not move x at all (`x` from 1e25, gradient 1):
        // then one as long as `first_move`, the scale of the move that
        // resumed the run.
        let lost = |xcp: &[f64]| xcp.iter().zip(x).all(|(p, x)| p == x);
        if self.len == 0 && self.first_move > 1.0 && lost(&b.scratch.xcp) {
            let theta = 1.0 / self.first_move;
            if !lbfgsb::propose(&pairs, theta, x, grad, bounds, &mut b.scratch) {
                return None;
            }
        }
        let mut t_max = f64::INFINITY;
        for (i, (d, (p, xi))) in self
            .direction
            .iter_mut()
            .zip(b.scratch.xcp.iter().zip(x))
            .enumerate()
        {
            *d = p - xi;
            let (lo, hi) = bounds[i];
            let room = if *d > 0.0 {
                (hi - xi) / *d
            } else if *d < 0.0 {
                (lo - xi) / *d
            } else {
                f64::INFINITY
            };
            t_max = t_max.min(room);
        }
        // The proposed point is in the box: a full step is always allowed.
        Some(t_max.max(1.0))
    }
}

impl Lbfgs {
    /// One iteration from the run's point in `path`: on a step, `path`
    /// holds the new point and the old one in `last_x` (swapped, not
    /// copied), and the measurements the stopping tests read come back
    /// with it, with whether the step turned back; `last_f` is the
    /// caller's.
    pub fn iterate(
        &mut self,
        ctx: &mut Context<'_>,
        path: &mut Path,
    ) -> (StepResult, Option<(Measure, bool)>) {
        let bounds = ctx.bounds();
        for attempt in 0..2 {
            let t_max = match bounds {
                Some(bounds) => match self.bounded_direction(&path.x, &path.grad, bounds) {
                    Some(t_max) => t_max,
                    None if attempt == 0 && self.len > 0 => {
                        self.len = 0;
                        continue;
                    }
                    None => break,
                },
                None => {
                    self.compute_direction(&path.grad);
                    f64::INFINITY
                }
            };
            // Without curvature information, the first step is scaled so
            // that it moves x by at most --lr times `first_move`, or by
            // that much where a shorter step would not move x at all (`x`
            // from 1e25, gradient 1, resumed after a move of 1e19).
            let t0 = if self.len == 0 {
                let norm = dot(&self.direction, &self.direction).sqrt();
                let lr = ctx.settings.method.lr();
                let t = lr * self.first_move / norm.max(self.first_move);
                let lost = (path.x.iter().zip(&self.direction)).all(|(x, d)| x + t * d == *x);
                if lost { lr * self.first_move / norm } else { t }
            } else {
                ctx.settings.method.lr()
            };
            let (trial, trial_grad) = (&mut self.trial, &mut self.trial_grad);
            match strong_wolfe(
                ctx,
                &path.x,
                path.f,
                &path.grad,
                &self.direction,
                t0,
                t_max,
                trial,
                trial_grad,
            ) {
                Found::Step(ft, t) => {
                    // Without curvature information the full step is the
                    // one that moves x by 1 (`t0` at lr 1).
                    ctx.step_fraction = match self.len {
                        0 => {
                            let norm = dot(&self.direction, &self.direction).sqrt();
                            t * norm.max(self.first_move) / self.first_move
                        }
                        _ => t,
                    };
                    self.take(path, ft);
                    let measured = self.form_pair(path, ctx.settings);
                    self.remember();
                    let moved = match attempt {
                        0 => StepResult::Moved,
                        _ => StepResult::Restarted,
                    };
                    return (moved, Some(measured));
                }
                Found::Unbounded(ft) => {
                    self.take(path, ft);
                    return (StepResult::Unbounded, None);
                }
                Found::Nothing => {}
            }
            // Forget the curvature estimate and try steepest descent once.
            if attempt == 0 && self.len > 0 {
                self.len = 0;
                continue;
            }
            break;
        }
        (StepResult::Failed, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the step from `from` to `to` (value, gradient) as a pair.
    fn step(l: &mut Lbfgs, from: (f64, f64), to: (f64, f64)) {
        let mut path = Path::new(vec![from.0], 0.0, vec![from.1]);
        (l.trial[0], l.trial_grad[0]) = to;
        l.take(&mut path, 1.0);
        let moved = (path.x[0], path.grad[0], path.f, path.last_x[0]);
        assert_eq!(moved, (to.0, to.1, 1.0, from.0));
        l.form_pair(&path, &crate::Settings::default());
        l.remember();
    }

    /// L-BFGS-B where no bound is near proposes the two-loop recursion's
    /// step: the same model, minimised over every variable. Pairs of a
    /// badly scaled quadratic (curvatures 1e10 to 1e-3, steps 10 to 1e-8
    /// long, as on Meyer's function) made Gaussian elimination of the
    /// compact form's 2m × 2m matrix call it singular or miss the step by
    /// up to 100%.
    #[test]
    fn far_from_its_bounds_lbfgsb_steps_as_lbfgs() {
        let n = 3;
        // A = R diag(1e10, 1, 1e-3) Rᵀ, R a rotation mixing all three.
        let (c, s) = (0.6f64, 0.8f64);
        let r = [[c, -s, 0.0], [s * c, c * c, -s], [s * s, c * s, c]];
        let eig = [1e10, 1.0, 1e-3];
        let gradient = |x: &[f64]| -> Vec<f64> {
            (0..n)
                .map(|i| {
                    (0..n)
                        .map(|j| (0..n).map(|k| r[i][k] * eig[k] * r[j][k]).sum::<f64>() * x[j])
                        .sum()
                })
                .collect()
        };
        let mut free = Lbfgs::new(n, 5, false);
        let mut boxed = Lbfgs::new(n, 5, true);
        let mut x = vec![1.0, -2.0, 0.5];
        let lengths = [10.0, 1e-8, 1.0, 1e-5, 0.3, 1e-7, 2.0];
        for (k, len) in lengths.iter().enumerate() {
            let dir = [(k as f64 + 1.0).sin(), (2.0 * k as f64 + 0.5).cos(), 0.7];
            let next: Vec<f64> = x.iter().zip(dir).map(|(xi, d)| xi + len * d).collect();
            for l in [&mut free, &mut boxed] {
                let mut path = Path::new(x.clone(), 0.0, gradient(&x));
                l.trial.copy_from_slice(&next);
                l.trial_grad.copy_from_slice(&gradient(&next));
                l.take(&mut path, 0.0);
                l.form_pair(&path, &crate::Settings::default());
                l.remember();
            }
            x = next;
        }
        assert_eq!((free.len, boxed.len), (5, 5));
        let g = gradient(&x);
        free.compute_direction(&g);
        let bounds = vec![(f64::NEG_INFINITY, f64::INFINITY); n];
        assert!(boxed.bounded_direction(&x, &g, &bounds).is_some());
        let (a, b) = (&free.direction, &boxed.direction);
        let diff = a.iter().zip(b).map(|(p, q)| (p - q).powi(2)).sum::<f64>();
        let size = a.iter().map(|p| p * p).sum::<f64>();
        assert!(diff.sqrt() <= 1e-6 * size.sqrt(), "{a:?} {b:?}");
    }

    #[test]
    fn a_rejected_pair_leaves_a_full_memory_alone() {
        let mut l = Lbfgs::new(1, 2, false);
        step(&mut l, (0.0, 0.0), (1.0, 2.0));
        step(&mut l, (1.0, 2.0), (2.0, 5.0));
        assert_eq!((l.len, l.start), (2, 0));
        // The gradient went down as x went up: negative curvature.
        step(&mut l, (2.0, 5.0), (3.0, 1.0));
        assert_eq!((l.len, l.start), (2, 0));
        assert_eq!((l.s[0][0], l.y[0][0], l.rho[0]), (1.0, 2.0, 0.5));
        assert_eq!((l.s[1][0], l.y[1][0]), (1.0, 3.0));
        // A good pair replaces the oldest.
        step(&mut l, (3.0, 1.0), (4.0, 5.0));
        assert_eq!((l.len, l.start), (2, 1));
        assert_eq!((l.s[0][0], l.y[0][0], l.rho[0]), (1.0, 4.0, 0.25));
    }
}
