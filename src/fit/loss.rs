//! Robust losses, as scipy's `least_squares` defines them: the fit
//! minimises `½·C²·Σ ρ((rᵢ/C)²)` for the scale `C` (`f_scale`), and each
//! step solves a least-squares problem on residuals and Jacobian rows
//! rescaled so that its gradient and (to first order) its curvature are
//! those of the robust cost (Triggs et al., "Bundle adjustment — a modern
//! synthesis", 2000, §4.3; scipy's `scale_for_robust_loss_function`).

/// A loss ρ(z) of the squared, scaled residual `z = (r/C)²`.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Default)]
pub enum Loss {
    /// ρ(z) = z: ordinary least squares.
    #[default]
    Linear,
    /// ρ(z) = z for z ≤ 1, 2√z − 1 beyond: quadratic near zero, linear in
    /// the tails.
    Huber,
    /// ρ(z) = 2(√(1+z) − 1): a smooth Huber.
    SoftL1,
    /// ρ(z) = ln(1 + z): outliers weigh little.
    Cauchy,
    /// ρ(z) = arctan(z): outliers weigh (almost) nothing.
    Arctan,
}

impl Loss {
    /// Every loss, for option parsers.
    pub const ALL: [Loss; 5] = [
        Loss::Linear,
        Loss::Huber,
        Loss::SoftL1,
        Loss::Cauchy,
        Loss::Arctan,
    ];

    /// The loss's name, as scipy spells it (`"soft_l1"`).
    pub fn name(self) -> &'static str {
        match self {
            Loss::Linear => "linear",
            Loss::Huber => "huber",
            Loss::SoftL1 => "soft_l1",
            Loss::Cauchy => "cauchy",
            Loss::Arctan => "arctan",
        }
    }

    /// The loss named `name`.
    pub fn from_name(name: &str) -> Option<Loss> {
        Loss::ALL.into_iter().find(|l| l.name() == name)
    }

    /// ρ(z), ρ'(z) and ρ''(z).
    pub fn rho(self, z: f64) -> [f64; 3] {
        match self {
            Loss::Linear => [z, 1.0, 0.0],
            Loss::Huber if z <= 1.0 => [z, 1.0, 0.0],
            Loss::Huber => {
                let s = z.sqrt();
                [2.0 * s - 1.0, 1.0 / s, -0.5 / (z * s)]
            }
            Loss::SoftL1 => {
                let t = 1.0 + z;
                let s = t.sqrt();
                [2.0 * (s - 1.0), 1.0 / s, -0.5 / (t * s)]
            }
            Loss::Cauchy => {
                let t = 1.0 + z;
                [z.ln_1p(), 1.0 / t, -1.0 / (t * t)]
            }
            Loss::Arctan => {
                let t = 1.0 + z * z;
                [z.atan(), 1.0 / t, -2.0 * z / (t * t)]
            }
        }
    }

    /// For residual `r` at scale `c`: the row's contribution to `2·cost`
    /// (`C²·ρ((r/C)²)`), and the factors by which the residual and its
    /// Jacobian row are multiplied for the step.
    #[inline]
    pub fn scale(self, r: f64, c: f64) -> (f64, f64, f64) {
        if self == Loss::Linear {
            return (r * r, 1.0, 1.0);
        }
        let z = (r / c) * (r / c);
        let [rho0, rho1, rho2] = self.rho(z);
        // scipy: rho[0] *= C², rho[2] /= C²; J_scale = rho1 + 2 rho2 r².
        let j_scale = (rho1 + 2.0 * (rho2 / (c * c)) * r * r)
            .max(f64::EPSILON)
            .sqrt();
        (c * c * rho0, rho1 / j_scale, j_scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ρ' and ρ'' against central differences of ρ.
    #[test]
    fn derivatives_match_differences() {
        for loss in Loss::ALL {
            for z in [0.3, 0.9, 2.5, 10.0] {
                let h = 1e-5;
                let [_, d1, d2] = loss.rho(z);
                let fd1 = (loss.rho(z + h)[0] - loss.rho(z - h)[0]) / (2.0 * h);
                let fd2 = (loss.rho(z + h)[1] - loss.rho(z - h)[1]) / (2.0 * h);
                assert!((d1 - fd1).abs() < 1e-7, "{loss:?} {z}");
                assert!((d2 - fd2).abs() < 1e-7, "{loss:?} {z}");
            }
            assert_eq!(Loss::from_name(loss.name()), Some(loss));
        }
    }
}
