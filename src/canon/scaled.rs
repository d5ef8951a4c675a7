//! Products of constants that neither overflow nor underflow on the way:
//! each factor is split into mantissa and exponent, so
//! `1e300*1e300*1e-300` folds to `1e300`, and a product too large or too
//! small for a double to hold without loss stays as normal factors.

/// A product of constants as `mantissa * 2^exponent`, with `|mantissa|` in
/// [0.5, 1) (or 0), so that it cannot overflow on the way.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Scaled {
    mantissa: f64,
    exponent: i64,
}

impl Scaled {
    pub(super) const ONE: Scaled = Scaled {
        mantissa: 0.5,
        exponent: 1,
    };
    /// The largest power of two a double holds.
    const TOP: i64 = 1023;
    /// The smallest power of two a normal double holds is `2^-BOTTOM`.
    const BOTTOM: i64 = 1022;

    pub(super) fn times(self, c: f64) -> Scaled {
        let (m, e) = frexp(c);
        let (mantissa, k) = frexp(self.mantissa * m);
        Scaled {
            mantissa,
            exponent: if mantissa == 0.0 {
                0
            } else {
                self.exponent + e + k
            },
        }
    }

    /// The product as a double, if a double holds it without loss: finite,
    /// and normal or a subnormal that loses no bit (`1e-200*1e-200` is
    /// not 0, `1e-300*1e-10` not a subnormal rounded to fewer bits, but
    /// `2^-1000*2^-60` is `2^-1060`). So a folded constant times a value is
    /// the product of the real numbers, rounded as usual.
    pub(super) fn value(self) -> Option<f64> {
        if self.mantissa == 0.0 {
            return Some(0.0);
        }
        if self.exponent > Self::TOP + 1 {
            return None;
        }
        let v = ldexp(self.mantissa, self.exponent);
        (v.is_finite() && frexp(v) == (self.mantissa, self.exponent)).then_some(v)
    }

    /// Normal factors whose product this is: one with the mantissa, then
    /// as few `2^1023` (or `2^-1022`, for a product too small) as it takes.
    /// The first is at most 1 in size when the others are `2^-1022`, so
    /// that `x*first` does not overflow where `x` is finite.
    pub(super) fn factors(self) -> impl Iterator<Item = f64> {
        let (q, step) = if self.exponent <= -Self::BOTTOM {
            // The fewest q with exponent + BOTTOM*q >= 1 - BOTTOM.
            ((-self.exponent).div_euclid(Self::BOTTOM), -Self::BOTTOM)
        } else {
            ((self.exponent - 2).div_euclid(Self::TOP).max(0), Self::TOP)
        };
        let first = ldexp(self.mantissa, self.exponent - q * step);
        let power = if step > 0 {
            ldexp(0.5, Self::TOP + 1)
        } else {
            ldexp(1.0, step)
        };
        std::iter::once(first).chain((0..q).map(move |_| power))
    }
}

/// `m * 2^e`, in steps that do not overflow on the way.
fn ldexp(mut m: f64, mut e: i64) -> f64 {
    while e != 0 {
        let step = e.clamp(-1000, 1000);
        m *= 2f64.powi(step as i32);
        e -= step;
    }
    m
}

/// `x` as `(m, e)` with `x = m * 2^e` and `|m|` in [0.5, 1), or `(x, 0)`
/// for zero and non-finite `x`.
fn frexp(x: f64) -> (f64, i64) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i64;
    if biased == 0 {
        // Subnormal: scale into the normal range first.
        let (m, e) = frexp(x * 2f64.powi(64));
        return (m, e - 64);
    }
    let m = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (m, biased - 1022)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frexp_and_ldexp_are_inverse() {
        for x in [
            1.0,
            -3.5,
            1e300,
            -1e-300,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
        ] {
            let (m, e) = frexp(x);
            assert!((0.5..1.0).contains(&m.abs()), "{x}: mantissa {m}");
            assert_eq!(ldexp(m, e), x);
        }
        assert_eq!(frexp(0.0), (0.0, 0));
    }

    fn product(cs: &[f64]) -> Scaled {
        cs.iter().fold(Scaled::ONE, |s, &c| s.times(c))
    }

    #[test]
    fn products_fold_only_without_loss() {
        assert_eq!(
            product(&[1e300, 1e300, 1e-300]).value(),
            Some(1.0000000000000002e300)
        );
        assert_eq!(product(&[3.0, 0.0, 1e300]).value(), Some(0.0));
        // Exact subnormals fold; rounded ones and zeros from nonzero
        // factors do not.
        let exact = product(&[2f64.powi(-1000), 2f64.powi(-60)]).value();
        assert_eq!(exact, Some(2f64.powi(-1000) * 2f64.powi(-60)));
        assert_eq!(product(&[5e-324]).value(), Some(5e-324));
        assert_eq!(product(&[1e-200, 1e-200]).value(), None);
        assert_eq!(product(&[1e-300, 1e-10]).value(), None);
        assert_eq!(product(&[1e200, 1e200]).value(), None);
    }

    #[test]
    fn factors_are_normal_and_multiply_back_in_order() {
        for cs in [
            &[1e-200, 1e-200][..],
            &[-1e-300, 1e-10],
            &[1e-300, 1e-300, 1e-300, 1e-300, 1e-300, 1e-300, 1e-300, 3.0],
            &[1e200, -1e200],
            &[f64::MAX, f64::MAX, f64::MAX],
        ] {
            let fs: Vec<f64> = product(cs).factors().collect();
            assert!(fs.iter().all(|f| f.is_normal()), "{cs:?}: {fs:?}");
            // Times a normal value whose product with all of cs is a
            // normal double, in order: that product, within an ulp.
            let s = product(cs);
            let target = if s.exponent > 0 { 1000 } else { -1000 };
            let x = ldexp(0.75, target - s.exponent);
            if x.is_normal() {
                let want = ldexp(0.75 * s.mantissa, target);
                let got = fs.iter().fold(x, |acc, f| acc * f);
                assert!(
                    (got - want).abs() <= want.abs() * f64::EPSILON,
                    "{cs:?}: {got} {want}"
                );
            }
            if fs.len() > 1 && fs[1] < 1.0 {
                assert!(fs[0].abs() <= 1.0, "{cs:?}: {fs:?}");
            }
        }
    }
}
