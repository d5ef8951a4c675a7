//! The normal form's arithmetic: polynomials over atoms with integer
//! exponents and exact rational coefficients, and rational functions whose
//! denominators are powers of whole factors, so that a common denominator
//! is found without expanding it. Every operation counts its work and
//! gives up past the bounds of the parent module.
//!
//! Coefficients are [`BigRational`]s: a double is a dyadic rational, so
//! every constant of a formula is one exactly, and sums, products and
//! quotients of them are computed without rounding. A coefficient is zero
//! only when it is exactly zero; nothing is ever dropped for being small.

use std::collections::BTreeMap;

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Zero};

use super::{GiveUp, MAX_BITS, MAX_TERMS, MAX_WORK, Normaliser, R};

/// Exponents by atom, sorted by atom, none zero.
pub(super) type Mono = Vec<(u32, i32)>;

/// An exact coefficient.
pub(super) type Coef = BigRational;

/// Coefficients by monomial, none zero; a `BTreeMap`, so that terms come
/// in a fixed order.
pub(super) type Poly = BTreeMap<Mono, Coef>;

/// `num / Π factorᵏ`, the factors held by the [`Normaliser`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Rat {
    pub(super) num: Poly,
    /// Factor index to its exponent (> 0).
    pub(super) den: BTreeMap<u32, u32>,
}

impl Rat {
    /// The value, if this is a constant (zero included).
    pub(super) fn as_constant(&self) -> Option<Coef> {
        if !self.den.is_empty() {
            return None;
        }
        match self.num.len() {
            0 => Some(Coef::zero()),
            1 => self.num.get(&Vec::new()).cloned(),
            _ => None,
        }
    }
}

/// The constant `c`.
pub(super) fn constant(c: Coef) -> Rat {
    let mut num = Poly::new();
    if !c.is_zero() {
        num.insert(Vec::new(), c);
    }
    Rat {
        num,
        den: BTreeMap::new(),
    }
}

/// The small integer `k` as a coefficient.
pub(super) fn int(k: i64) -> Coef {
    Coef::from_integer(BigInt::from(k))
}

/// A finite double, exactly; `None` for infinities and NaN.
pub(super) fn exact(c: f64) -> Option<Coef> {
    BigRational::from_float(c)
}

/// `atom^e`.
pub(super) fn monomial(atom: u32, e: i32) -> Rat {
    if e == 0 {
        return constant(Coef::one());
    }
    let mut num = Poly::new();
    num.insert(vec![(atom, e)], Coef::one());
    Rat {
        num,
        den: BTreeMap::new(),
    }
}

/// `m` alone, with coefficient 1.
pub(super) fn mono_rat(m: Mono) -> Rat {
    let mut num = Poly::new();
    num.insert(m, Coef::one());
    Rat {
        num,
        den: BTreeMap::new(),
    }
}

/// The product of two monomials.
pub(super) fn mono_mul(a: &Mono, b: &Mono) -> Mono {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if j == b.len() || (i < a.len() && a[i].0 < b[j].0) {
            out.push(a[i]);
            i += 1;
        } else if i == a.len() || b[j].0 < a[i].0 {
            out.push(b[j]);
            j += 1;
        } else {
            let e = a[i].1 + b[j].1;
            if e != 0 {
                out.push((a[i].0, e));
            }
            i += 1;
            j += 1;
        }
    }
    out
}

/// Whether a coefficient is within [`MAX_BITS`].
fn small(c: &Coef) -> bool {
    c.numer().bits() + c.denom().bits() <= MAX_BITS
}

/// Adds `c` to the coefficient of `m`, dropping it if it is exactly zero.
fn accumulate(p: &mut Poly, m: Mono, c: Coef) -> R<()> {
    if !small(&c) {
        return Err(GiveUp);
    }
    match p.get_mut(&m) {
        Some(old) => {
            *old += c;
            if old.is_zero() {
                p.remove(&m);
            } else if !small(old) {
                return Err(GiveUp);
            }
        }
        None => {
            if !c.is_zero() {
                p.insert(m, c);
            }
        }
    }
    Ok(())
}

/// `p` as `c · m · rest`: `c` the coefficient of its first term, `m`
/// the smallest power of each atom over its terms, `rest` monic.
fn content(p: &Poly) -> (Coef, Mono, Poly) {
    let c = p.values().next().cloned().unwrap_or_else(Coef::one);
    let mut atoms: Vec<u32> = p.keys().flatten().map(|&(a, _)| a).collect();
    atoms.sort_unstable();
    atoms.dedup();
    let m: Mono = atoms
        .into_iter()
        .filter_map(|a| {
            let least = p
                .keys()
                .map(|mono| mono.iter().find(|(b, _)| *b == a).map_or(0, |&(_, e)| e))
                .min()
                .unwrap_or(0);
            (least != 0).then_some((a, least))
        })
        .collect();
    let inv_m: Mono = m.iter().map(|&(a, e)| (a, -e)).collect();
    let rest = p
        .iter()
        .map(|(mono, v)| (mono_mul(mono, &inv_m), v / &c))
        .collect();
    (c, m, rest)
}

impl Normaliser<'_> {
    pub(super) fn spend(&mut self, amount: usize) -> R<()> {
        self.work += amount;
        if self.work > MAX_WORK {
            Err(GiveUp)
        } else {
            Ok(())
        }
    }

    fn poly_add(&mut self, a: &Poly, b: &Poly) -> R<Poly> {
        self.spend(a.len() + b.len())?;
        let mut out = a.clone();
        for (m, c) in b {
            accumulate(&mut out, m.clone(), c.clone())?;
        }
        Ok(out)
    }

    fn poly_mul(&mut self, a: &Poly, b: &Poly) -> R<Poly> {
        self.spend(a.len() * b.len())?;
        let mut out = Poly::new();
        for (ma, ca) in a {
            for (mb, cb) in b {
                accumulate(&mut out, mono_mul(ma, mb), ca * cb)?;
            }
        }
        if out.len() > MAX_TERMS {
            return Err(GiveUp);
        }
        Ok(out)
    }

    fn poly_pow(&mut self, p: &Poly, k: u32) -> R<Poly> {
        let mut out = constant(Coef::one()).num;
        for _ in 0..k {
            out = self.poly_mul(&out, p)?;
        }
        Ok(out)
    }

    pub(super) fn add(&mut self, a: &Rat, b: &Rat) -> R<Rat> {
        if a.num.is_empty() {
            return Ok(b.clone());
        }
        if b.num.is_empty() {
            return Ok(a.clone());
        }
        let r = self.add_plain(a, b)?;
        self.reduce(r)
    }

    /// [`Normaliser::add`] without reducing (used by `reduce`).
    pub(super) fn add_plain(&mut self, a: &Rat, b: &Rat) -> R<Rat> {
        let mut den = a.den.clone();
        for (&f, &k) in &b.den {
            let e = den.entry(f).or_insert(0);
            *e = (*e).max(k);
        }
        let na = self.lift(a, &den)?;
        let nb = self.lift(b, &den)?;
        let num = self.poly_add(&na, &nb)?;
        Ok(Rat { num, den })
    }

    /// `a.num` over the larger denominator `den`.
    fn lift(&mut self, a: &Rat, den: &BTreeMap<u32, u32>) -> R<Poly> {
        let mut num = a.num.clone();
        for (&f, &k) in den {
            let missing = k - a.den.get(&f).copied().unwrap_or(0);
            if missing > 0 {
                let p = self.factors[f as usize].clone();
                let p = self.poly_pow(&p, missing)?;
                num = self.poly_mul(&num, &p)?;
            }
        }
        Ok(num)
    }

    pub(super) fn mul(&mut self, a: &Rat, b: &Rat) -> R<Rat> {
        let r = self.mul_plain(a, b)?;
        if r.num.is_empty() {
            return Ok(constant(Coef::zero()));
        }
        self.reduce(r)
    }

    /// [`Normaliser::mul`] without reducing (used by `rewrite`).
    pub(super) fn mul_plain(&mut self, a: &Rat, b: &Rat) -> R<Rat> {
        let num = self.poly_mul(&a.num, &b.num)?;
        let mut den = a.den.clone();
        for (&f, &k) in &b.den {
            *den.entry(f).or_insert(0) += k;
        }
        Ok(Rat { num, den })
    }

    /// `a` times the constant `c`.
    pub(super) fn scale(&mut self, a: &Rat, c: Coef) -> R<Rat> {
        self.mul(a, &constant(c))
    }

    fn inverse(&mut self, a: &Rat) -> R<Rat> {
        if a.num.is_empty() {
            return Err(GiveUp);
        }
        let (c, m, p) = content(&a.num);
        let mut num = Poly::new();
        let inv_m: Mono = m.iter().map(|&(atom, e)| (atom, -e)).collect();
        num.insert(inv_m, c.recip());
        let mut den = BTreeMap::new();
        if p.len() > 1 {
            den.insert(self.factor(p), 1);
        }
        for (&f, &k) in &a.den {
            let q = self.factors[f as usize].clone();
            let q = self.poly_pow(&q, k)?;
            num = self.poly_mul(&num, &q)?;
        }
        self.reduce(Rat { num, den })
    }

    pub(super) fn pow(&mut self, a: &Rat, k: i64) -> R<Rat> {
        if k < 0 {
            let inv = self.inverse(a)?;
            return self.pow(&inv, -k);
        }
        let mut out = constant(Coef::one());
        for _ in 0..k {
            out = self.mul(&out, a)?;
        }
        Ok(out)
    }

    /// The index of a (monic, content-free) factor polynomial.
    fn factor(&mut self, p: Poly) -> u32 {
        if let Some(&i) = self.factor_index.get(&p) {
            return i;
        }
        let i = self.factors.len() as u32;
        self.factors.push(p.clone());
        self.factor_index.insert(p, i);
        i
    }

    /// Cancels one power of a denominator factor that the numerator is
    /// a multiple of by a monomial, and drops the denominator of zero.
    pub(super) fn cancel(&mut self, mut r: Rat) -> Rat {
        if r.num.is_empty() {
            r.den.clear();
            return r;
        }
        loop {
            if r.den.is_empty() || r.num.len() < 2 {
                return r;
            }
            let (c, m, p) = content(&r.num);
            let Some(&f) = self.factor_index.get(&p) else {
                return r;
            };
            let Some(k) = r.den.get_mut(&f) else {
                return r;
            };
            *k -= 1;
            if *k == 0 {
                r.den.remove(&f);
            }
            let mut num = Poly::new();
            num.insert(m, c);
            r.num = num;
        }
    }
}

/// `c` as a small integer, if it is one.
pub(super) fn as_small_int(c: &Coef, limit: i64) -> Option<i64> {
    if !c.is_integer() {
        return None;
    }
    let k: i64 = c.to_integer().try_into().ok()?;
    (k.abs() <= limit).then_some(k)
}
