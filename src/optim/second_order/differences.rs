//! The Hessian of the Lagrangian by differences of its exact gradient,
//! for the second-order test where no Hessian is compiled.
//!
//! An indexed formula (a `param` line, arrays of variables, sums,
//! families of constraints) interprets its constraints row by row and
//! compiles no second derivatives of them; a node limit can refuse the
//! compiled Hessian of a scalar one. SQP
//! then models the Hessian by damped BFGS and the augmented Lagrangian
//! needs none, but the second-order test still does: without it a maximum
//! or a saddle that passes the KKT test (`-x[1]² - x[2]²` at 0 inside the
//! disk `Σ x[i]² <= 1`, where the gradient vanishes) is reported as a
//! minimum, while the same problem written with scalar variables is left.
//!
//! The gradient of the Lagrangian, `∇f + Σ λᵢ ∇gᵢ`, is exact at every
//! point (the objective's compiled gradient and the rows' Jacobian), so
//! column `j` of its Hessian is a central difference of it along `eⱼ`,
//! with the step `∛ε·max(1, |xⱼ|)` of [`fd`](crate::fd): `2n` evaluations
//! at the end of a converged run, the matrix then symmetrised. Where a
//! side leaves the bounds or gives a value that is not finite, a forward
//! or backward difference (step `√ε·max(1, |xⱼ|)`) into the box stands in.
//! The central difference is exact for a quadratic gradient, so a cubic
//! f's Hessian comes out as the compiled one does (0 for `x³` at 0, which
//! the flat test then asks along: a one-sided difference's `3h` there
//! would make the free, truly flat, neighbour the flattest direction and
//! hide the fall). Its error elsewhere, about `ε^(2/3)` times the fourth
//! derivative, is far inside the test's tolerance (`NEGATIVE`, 10⁻⁶ of
//! the largest entry), so the verdicts are the compiled Hessian's.

use super::KktPoint;
use crate::fd::Scheme;

/// The Hessian of the Lagrangian at `p.x` with the multipliers
/// `p.lambda`, `n × n` row-major, by central differences of its gradient
/// (see the module docs). `eval` gives `∇f` and the dense Jacobian
/// (`m × n`) at a point, one evaluation each (the caller counts them).
/// `None` where a difference cannot be had inside the bounds or is not
/// finite: the point is then left untested.
pub(in crate::optim) fn lagrangian_hessian_by_differences(
    p: &KktPoint<'_>,
    mut eval: impl FnMut(&[f64]) -> (Vec<f64>, Vec<f64>),
) -> Option<Vec<f64>> {
    let n = p.x.len();
    let gradient = |grad: &[f64], jac: &[f64]| -> Vec<f64> {
        let mut g = grad.to_vec();
        for (i, &l) in p.lambda.iter().enumerate() {
            if l != 0.0 {
                for (g, a) in g.iter_mut().zip(&jac[i * n..(i + 1) * n]) {
                    *g += l * a;
                }
            }
        }
        g
    };
    let at = gradient(p.grad, p.jac);
    let inside = |j: usize, v: f64| p.bounds.is_none_or(|b| (b[j].0..=b[j].1).contains(&v));
    let mut hessian = vec![0.0; n * n];
    let mut point = p.x.to_vec();
    let mut at_step = |point: &mut [f64], j: usize, step: f64| -> Option<Vec<f64>> {
        let x = point[j];
        point[j] = x + step;
        let g = inside(j, point[j]).then(|| {
            let (grad, jac) = eval(point);
            gradient(&grad, &jac)
        });
        point[j] = x;
        g.filter(|g| g.iter().all(|v| v.is_finite()))
    };
    for j in 0..n {
        let x = p.x[j];
        // Central where both sides are inside and finite; else forward or
        // backward, with the shorter step their error allows.
        let h = Scheme::Central.step(x);
        let (ahead, behind) = (x + h, x - h);
        let central = at_step(&mut point, j, ahead - x)
            .and_then(|up| Some((up, at_step(&mut point, j, behind - x)?)));
        let column: Vec<f64> = if let Some((up, down)) = central {
            let width = ahead - behind;
            (0..n).map(|i| (up[i] - down[i]) / width).collect()
        } else {
            let h = Scheme::Forward.step(x);
            let (step, g) = [h, (x - h) - x]
                .into_iter()
                .find_map(|step| Some((step, at_step(&mut point, j, step)?)))?;
            (0..n).map(|i| (g[i] - at[i]) / step).collect()
        };
        for i in 0..n {
            hessian[i * n + j] = column[i];
        }
    }
    super::symmetrize(&mut hessian, n);
    hessian.iter().all(|v| v.is_finite()).then_some(hessian)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constraint::ConstraintKind;

    #[test]
    fn the_differences_give_the_hessian_of_the_lagrangian() {
        // f = x³ + x·y, g = x² + y² - 4 <= 0 with λ = 0.5, at (1, 2):
        // ∇²f = [[6x, 1], [1, 0]], λ∇²g = I, so H = [[7, 1], [1, 1]].
        let eval = |x: &[f64]| {
            let grad = vec![3.0 * x[0] * x[0] + x[1], x[0]];
            (grad, vec![2.0 * x[0], 2.0 * x[1]])
        };
        let x = [1.0, 2.0];
        let (grad, jac) = eval(&x);
        let kinds = [ConstraintKind::Inequality];
        let p = KktPoint {
            x: &x,
            grad: &grad,
            c: &[1.0],
            jac: &jac,
            lambda: &[0.5],
            kinds: &kinds,
            bounds: None,
        };
        let h = lagrangian_hessian_by_differences(&p, eval).expect("a Hessian");
        for (got, want) in h.iter().zip([7.0, 1.0, 1.0, 1.0]) {
            assert!((got - want).abs() < 1e-6, "{h:?}");
        }
        // At the upper bound of x the difference is taken backward, and
        // sqrt(1 - x) is finite there only.
        let eval = |x: &[f64]| (vec![-0.5 / (1.0 - x[0]).sqrt()], vec![]);
        let x = [0.75];
        let (grad, _) = eval(&x);
        let bounds = [(0.0, 0.75)];
        let p = KktPoint {
            x: &x,
            grad: &grad,
            c: &[],
            jac: &[],
            lambda: &[],
            kinds: &[],
            bounds: Some(&bounds),
        };
        // d²/dx² sqrt(1 - x) = -0.25 (1 - x)^(-3/2) = -2 at 0.75.
        let h = lagrangian_hessian_by_differences(&p, eval).expect("a Hessian");
        assert!((h[0] + 2.0).abs() < 1e-5, "{h:?}");
    }
}
