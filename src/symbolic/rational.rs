//! The normal form's arithmetic: polynomials over atoms with integer
//! exponents, and rational functions whose denominators are powers of
//! whole factors, so that a common denominator is found without expanding
//! it. Every operation counts its work and gives up past the bounds of the
//! parent module.

use std::collections::BTreeMap;

use super::{GiveUp, MAX_TERMS, MAX_WORK, Normaliser, R};

/// Exponents by atom, sorted by atom, none zero.
pub(super) type Mono = Vec<(u32, i32)>;

/// A coefficient, with what it takes to tell whether it has cancelled.
#[derive(Clone, Copy, Debug)]
pub(super) struct Coef {
    pub(super) c: f64,
    /// The sum of the magnitudes that went into `c`: a coefficient
    /// below its rounding (`32·ε·mag`) has cancelled.
    pub(super) mag: f64,
}

/// Coefficients by monomial, none zero; a `BTreeMap`, so that terms come
/// in a fixed order.
pub(super) type Poly = BTreeMap<Mono, Coef>;

/// `num / Π factorᵏ`, the factors held by the [`Normaliser`].
#[derive(Clone, Debug)]
pub(super) struct Rat {
    pub(super) num: Poly,
    /// Factor index to its exponent (> 0).
    pub(super) den: BTreeMap<u32, u32>,
}

/// The constant `c`.
pub(super) fn constant(c: f64) -> Rat {
    let mut num = Poly::new();
    if c != 0.0 {
        num.insert(Vec::new(), Coef { c, mag: c.abs() });
    }
    Rat {
        num,
        den: BTreeMap::new(),
    }
}

/// `atom^e`.
pub(super) fn monomial(atom: u32, e: i32) -> Rat {
    if e == 0 {
        return constant(1.0);
    }
    let mut num = Poly::new();
    num.insert(vec![(atom, e)], Coef { c: 1.0, mag: 1.0 });
    Rat {
        num,
        den: BTreeMap::new(),
    }
}

/// The product of two monomials.
fn mono_mul(a: &Mono, b: &Mono) -> Mono {
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

/// Adds `c` to the coefficient of `m`, dropping it if it cancels.
fn accumulate(p: &mut Poly, m: Mono, c: Coef) {
    match p.get_mut(&m) {
        Some(old) => {
            old.c += c.c;
            old.mag += c.mag;
            if old.c.abs() <= 32.0 * f64::EPSILON * old.mag {
                p.remove(&m);
            }
        }
        None => {
            if c.c != 0.0 {
                p.insert(m, c);
            }
        }
    }
}

/// `p` as `c · m · rest`: `c` the coefficient of its first term, `m`
/// the smallest power of each atom over its terms, `rest` monic.
fn content(p: &Poly) -> (f64, Mono, Poly) {
    let c = p.values().next().map_or(1.0, |v| v.c);
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
        .map(|(mono, v)| {
            (
                mono_mul(mono, &inv_m),
                Coef {
                    c: v.c / c,
                    mag: v.mag / c.abs(),
                },
            )
        })
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
            accumulate(&mut out, m.clone(), *c);
        }
        Ok(out)
    }

    fn poly_mul(&mut self, a: &Poly, b: &Poly) -> R<Poly> {
        self.spend(a.len() * b.len())?;
        let mut out = Poly::new();
        for (ma, ca) in a {
            for (mb, cb) in b {
                let c = Coef {
                    c: ca.c * cb.c,
                    mag: ca.mag * cb.mag,
                };
                if !c.c.is_finite() || !c.mag.is_finite() {
                    return Err(GiveUp);
                }
                accumulate(&mut out, mono_mul(ma, mb), c);
            }
        }
        if out.len() > MAX_TERMS {
            return Err(GiveUp);
        }
        Ok(out)
    }

    fn poly_pow(&mut self, p: &Poly, k: u32) -> R<Poly> {
        let mut out = constant(1.0).num;
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
        let mut den = a.den.clone();
        for (&f, &k) in &b.den {
            let e = den.entry(f).or_insert(0);
            *e = (*e).max(k);
        }
        let na = self.lift(a, &den)?;
        let nb = self.lift(b, &den)?;
        let num = self.poly_add(&na, &nb)?;
        self.reduce(Rat { num, den })
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
        let num = self.poly_mul(&a.num, &b.num)?;
        if num.is_empty() {
            return Ok(constant(0.0));
        }
        let mut den = a.den.clone();
        for (&f, &k) in &b.den {
            *den.entry(f).or_insert(0) += k;
        }
        self.reduce(Rat { num, den })
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

    fn inverse(&mut self, a: &Rat) -> R<Rat> {
        if a.num.is_empty() {
            return Err(GiveUp);
        }
        let (c, m, p) = content(&a.num);
        let mut num = Poly::new();
        let inv_m: Mono = m.iter().map(|&(atom, e)| (atom, -e)).collect();
        num.insert(
            inv_m,
            Coef {
                c: 1.0 / c,
                mag: 1.0 / c.abs(),
            },
        );
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
        let mut out = constant(1.0);
        for _ in 0..k {
            out = self.mul(&out, a)?;
        }
        Ok(out)
    }

    /// The index of a (monic, content-free) factor polynomial.
    fn factor(&mut self, p: Poly) -> u32 {
        let key: Vec<(Mono, u64)> = p.iter().map(|(m, c)| (m.clone(), c.c.to_bits())).collect();
        if let Some(&i) = self.factor_index.get(&key) {
            return i;
        }
        let i = self.factors.len() as u32;
        let node = self.poly_node(&p);
        self.factors.push(p);
        self.factor_nodes.push(node);
        self.factor_index.insert(key, i);
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
            let key: Vec<(Mono, u64)> = p.iter().map(|(m, c)| (m.clone(), c.c.to_bits())).collect();
            let Some(&f) = self.factor_index.get(&key) else {
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
            num.insert(m, Coef { c, mag: c.abs() });
            r.num = num;
        }
    }
}
