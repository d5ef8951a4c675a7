//! Symbolic equality beyond the canonical forms, for `slope check`: is a
//! derivative written by hand the same function as the exact one?
//!
//! **Opt-in.** Only [`check`](crate::check) calls [`proved_equal`]. The
//! canonical constructors of `canon.rs` never do, so parsing,
//! differentiation, printing and compiled code are the same with or without
//! this module; it only reads the caller's graph.
//!
//! **What "proved" means.** `proved_equal(graph, a, b)` is `true` when `a`
//! and `b` are one node, or when the difference of their normal forms is
//! exactly zero. The normal form is `num / Π factorᵏ`: `num` a polynomial
//! with integer (possibly negative) exponents over atoms, each factor a
//! polynomial of more than one term, kept whole and scaled to a fixed form,
//! so that common denominators are found without expanding them
//! (`rational.rs`). Coefficients are exact rationals: every constant of the
//! graph is a double, which is a dyadic rational, and the arithmetic on
//! them never rounds, so a term cancels only when it cancels exactly
//! (`1e15*x*(y+1) - 1e15*x*y - 1e15*x + x` is `x`, however small beside
//! the rest). No number is ever snapped to a nearby one: `x^(1e-13)` is an
//! atom, not `x^0`.
//!
//! Atoms are variables and non-polynomial subterms, identified by their
//! function and the exact normal forms of their arguments, so
//! `sin(x*(x+1))` and `sin(x^2 + x)` are one atom. A function of a
//! constant is folded only where its value is exact (`exp(0) = 1`,
//! `abs`, `floor`, a rational root of a perfect power); otherwise it stays
//! an atom, a symbolic constant. Between atoms these identities are
//! applied, and no others: `sin² = 1 − cos²`, `sinh² = cosh² − 1`,
//! `tan = sin/cos`, the angle sums of `sin(k·u)` and `cos(k·u)` for small
//! whole `k`, `exp(a)·exp(b) = exp(a + b)` and `(b^(1/q))^q = b` (for an
//! exponent whose exact value has the denominator `q`, which for a double
//! is a power of two: `x^0.5`, `x^0.25`, not `x^(1/3)`, whose double is not
//! a third). A proof therefore holds exactly, for the graph's constants as
//! they are, wherever both sides are defined: a cancelled common factor
//! (`x/x = 1`, as in the canonical forms) or a root identity may hide a
//! point where a denominator vanishes, or a whole region where a root of a
//! negative base is NaN (`sqrt(x)^2` is `x` here). So
//! [`check::compare_derivative`](crate::check::compare_derivative) takes a
//! proof only where the hand formula is finite at random points wherever
//! the exact one is.
//!
//! `false` means "not proved", never "different". What is not proved is
//! left to the numeric comparison of
//! [`check::compare_derivative`](crate::check::compare_derivative), which
//! evaluates both sides at points and reports agreement within their
//! rounding (not a proof) or a counterexample.
//!
//! **Bounded.** Every input ends quickly. Some bounds only make a subterm
//! an atom, which loses its identities but may still prove: integer powers
//! above [`MAX_POWER`], fractional exponents whose denominator is over
//! [`MAX_ROOT`], `sin(k·u)` with `|k|` over [`MAX_MULTIPLE`]. The others
//! give up, and giving up proves nothing (`proved_equal` is `false`, and
//! `check` compares at points): a polynomial of more than [`MAX_TERMS`]
//! terms, more than [`MAX_WORK`] term operations in all, a coefficient of
//! more than [`MAX_BITS`] bits, more than [`MAX_REWRITES`] rounds of
//! identities on one value, atoms nested more than [`MAX_NESTING`] deep, or
//! a constant that is not finite. Nodes are normalised in the graph's
//! order, children first, so nothing recurses on the depth of the formula;
//! only rewriting an atom reduces its argument again, which recurses as
//! deep as atoms nest, hence `MAX_NESTING`.

use num_traits::{One, Signed, Zero};
use rustc_hash::FxHashMap;

use crate::builtins::Func;
use crate::graph::reachable;
use crate::graph::{Graph, Node, NodeId};

mod rational;

use rational::{Coef, Mono, Poly, Rat, as_small_int, constant, exact, int, mono_rat, monomial};

/// The most terms a polynomial may have after a multiplication.
const MAX_TERMS: usize = 2_000;
/// The largest integer power expanded (and the largest whole part of a
/// fractional one); larger powers are atoms.
const MAX_POWER: i64 = 16;
/// The most term operations (terms added, pairs multiplied, terms copied)
/// in one proof.
const MAX_WORK: usize = 2_000_000;
/// The most bits in a coefficient (numerator and denominator together):
/// a double needs at most 1,128; this allows products of a few dozen.
const MAX_BITS: u64 = 8_192;
/// The largest denominator `q` of an exponent `n + m/q` written with the
/// root `b^(1/q)`; other fractional powers are atoms.
const MAX_ROOT: i64 = 12;
/// The deepest nesting of reductions (an atom's argument reduced while
/// reducing a value that holds it).
const MAX_NESTING: usize = 64;
/// The largest `k` for which `sin(k·u)` is expanded.
const MAX_MULTIPLE: i64 = 8;
/// The most rounds of identities applied to one value.
const MAX_REWRITES: usize = 64;

/// Whether `a` and `b` are provably the same function (away from the
/// removable points the canonical forms ignore). `false` means not proved.
pub fn proved_equal(graph: &Graph, a: NodeId, b: NodeId) -> bool {
    if a == b {
        return true;
    }
    let mut n = Normaliser {
        graph,
        atoms: Vec::new(),
        atom_index: FxHashMap::default(),
        factors: Vec::new(),
        factor_index: FxHashMap::default(),
        work: 0,
        nesting: 0,
    };
    let mut difference = || -> R<bool> {
        let mut memo = n.walk(&[a, b])?;
        let ra = memo.remove(&a).ok_or(GiveUp)?;
        let rb = memo.get(&b).ok_or(GiveUp)?.clone();
        let minus_b = n.scale(&rb, int(-1))?;
        Ok(n.add(&ra, &minus_b)?.num.is_empty())
    };
    matches!(difference(), Ok(true))
}

/// What an atom is, as far as the identities care.
#[derive(Clone, Debug)]
enum Kind {
    /// No identity applies.
    Plain,
    /// `sin(arg)`: its square is rewritten with `cos(arg)`.
    Sin(Rat),
    /// `sinh(arg)`: its square is rewritten with `cosh(arg)`.
    Sinh(Rat),
    /// `base^(1/q)`.
    Root(Rat, i32),
    /// `exp(arg)`.
    Exp(Rat),
}

/// What identifies an atom: its operation and the exact normal forms of
/// its operands.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Var(u32),
    Call1(Func, Rat),
    Call2(Func, Rat, Rat),
    /// `base^exponent`, the exponent not a constant.
    Pow(Rat, Rat),
    /// `base^c` for a constant `c` that is not a small integer.
    PowC(Rat, Coef),
}

/// The work ran past a bound.
struct GiveUp;

type R<T> = std::result::Result<T, GiveUp>;

/// One proof's state: the atoms and denominator factors met so far, each
/// numbered in the order met, and the work spent.
struct Normaliser<'g> {
    graph: &'g Graph,
    /// Each atom's kind, by number.
    atoms: Vec<Kind>,
    atom_index: FxHashMap<Key, u32>,
    /// Denominator factors: monic, content-free polynomials.
    factors: Vec<Poly>,
    /// A factor's terms to its index.
    factor_index: FxHashMap<Poly, u32>,
    /// Term operations so far, against [`MAX_WORK`].
    work: usize,
    /// Current depth of nested `reduce` calls.
    nesting: usize,
}

/// The value of `f(c)` where it is exact.
fn fold1(f: Func, c: &Coef) -> Option<Coef> {
    let (zero, one) = (c.is_zero(), c.is_one());
    match f {
        Func::Abs => Some(c.abs()),
        Func::Sign => Some(c.signum()),
        Func::Floor => Some(c.floor()),
        Func::Ceil => Some(c.ceil()),
        Func::Sin
        | Func::Tan
        | Func::Asin
        | Func::Atan
        | Func::Sinh
        | Func::Tanh
        | Func::Asinh
        | Func::Atanh
        | Func::Cbrt
            if zero =>
        {
            Some(Coef::zero())
        }
        Func::Cos | Func::Cosh | Func::Exp if zero => Some(Coef::one()),
        Func::Ln | Func::Log2 | Func::Log10 | Func::Acosh | Func::Acos if one => Some(Coef::zero()),
        Func::Cbrt if one => Some(Coef::one()),
        _ => None,
    }
}

/// The value of `f(a, b)` where it is exact.
fn fold2(f: Func, a: &Coef, b: &Coef) -> Option<Coef> {
    match f {
        Func::Min => Some(a.min(b).clone()),
        Func::Max => Some(a.max(b).clone()),
        _ => None,
    }
}

/// `b^e` for constants, where it is exact and small: whole powers, and
/// roots of perfect powers. `Err` where it is nowhere finite (a fractional
/// power of a negative number, a negative power of zero).
fn const_pow(b: &Coef, e: &Coef) -> R<Option<Coef>> {
    if b.is_zero() {
        return if e.is_positive() {
            Ok(Some(Coef::zero()))
        } else if e.is_zero() {
            Ok(Some(Coef::one()))
        } else {
            Err(GiveUp)
        };
    }
    if !e.is_integer() && b.is_negative() {
        return Err(GiveUp);
    }
    let (p, q) = (e.numer(), e.denom());
    let (Ok(p), Ok(q)) = (i32::try_from(p), u32::try_from(q)) else {
        return Ok(None);
    };
    // The result's size, bounded before it is computed.
    let bits = (b.numer().bits() + b.denom().bits()) * u64::from(p.unsigned_abs()) / u64::from(q);
    if bits > MAX_BITS {
        return Ok(None);
    }
    let (rn, rd) = (b.numer().nth_root(q), b.denom().nth_root(q));
    if rn.pow(q) != *b.numer() || rd.pow(q) != *b.denom() {
        return Ok(None);
    }
    let root = Coef::new(rn, rd);
    Ok(Some(num_traits::Pow::pow(root, p)))
}

/// The walk over the graph: each node's normal form from its children's.
impl Normaliser<'_> {
    /// The normal forms of `roots` and of every node they depend on,
    /// computed in increasing order (children first: no recursion).
    fn walk(&mut self, roots: &[NodeId]) -> R<FxHashMap<NodeId, Rat>> {
        let order = reachable(self.graph, roots);
        let mut memo: FxHashMap<NodeId, Rat> = FxHashMap::default();
        for id in order {
            let r = match self.graph.node(id) {
                Node::Const(c) => constant(exact(*c).ok_or(GiveUp)?),
                &Node::Var(v) => monomial(self.atom(Key::Var(v), Kind::Plain), 1),
                // Indexed formulas are compared numerically, not proved.
                Node::Param(_) | Node::Index(_) | Node::Read(_) | Node::Reduce(..) => {
                    return Err(GiveUp);
                }
                Node::Sum(ts) => {
                    let mut acc = constant(Coef::zero());
                    for t in ts.iter() {
                        let r = self.fetch(&memo, t)?;
                        acc = self.add(&acc, &r)?;
                    }
                    acc
                }
                Node::Product(fs) => {
                    let mut acc = constant(Coef::one());
                    for f in fs.iter() {
                        let r = self.fetch(&memo, f)?;
                        acc = self.mul(&acc, &r)?;
                    }
                    acc
                }
                Node::Pow([b, e]) => {
                    let base = self.fetch(&memo, b)?;
                    let exponent = self.fetch(&memo, e)?;
                    match exponent.as_constant() {
                        Some(e) => self.power(&base, &e)?,
                        None => monomial(self.atom(Key::Pow(base, exponent), Kind::Plain), 1),
                    }
                }
                &Node::Call1(f, [a]) => {
                    let arg = self.fetch(&memo, &a)?;
                    self.call1(f, arg)?
                }
                // Equal to `a*ln(b)` wherever that is defined.
                &Node::Call2(Func::Xlogy, [a, b]) => {
                    let (ra, rb) = (self.fetch(&memo, &a)?, self.fetch(&memo, &b)?);
                    let ln = self.call1(Func::Ln, rb)?;
                    self.mul(&ra, &ln)?
                }
                &Node::Call2(f, [a, b]) => {
                    let (ra, rb) = (self.fetch(&memo, &a)?, self.fetch(&memo, &b)?);
                    let folded = match (ra.as_constant(), rb.as_constant()) {
                        (Some(x), Some(y)) => fold2(f, &x, &y),
                        _ => None,
                    };
                    match folded {
                        Some(c) => constant(c),
                        None => monomial(self.atom(Key::Call2(f, ra, rb), Kind::Plain), 1),
                    }
                }
            };
            memo.insert(id, r);
        }
        Ok(memo)
    }

    /// A child's normal form (a copy, counted as work).
    fn fetch(&mut self, memo: &FxHashMap<NodeId, Rat>, n: &NodeId) -> R<Rat> {
        let r = memo.get(n).ok_or(GiveUp)?;
        self.spend(r.num.len() + r.den.len())?;
        Ok(r.clone())
    }

    /// `f(arg)`: folded where exact, else an atom, with the identities
    /// of the trigonometric functions and `exp`.
    fn call1(&mut self, f: Func, arg: Rat) -> R<Rat> {
        if let Some(v) = arg.as_constant().and_then(|c| fold1(f, &c)) {
            return Ok(constant(v));
        }
        Ok(match f {
            Func::Tan => {
                let s = self.atom_of(Func::Sin, &arg);
                let c = self.atom_of(Func::Cos, &arg);
                self.mul(&monomial(s, 1), &monomial(c, -1))?
            }
            Func::Sin | Func::Cos => self.trig(f, &arg)?,
            Func::Sinh | Func::Cosh => monomial(self.atom_of(f, &arg), 1),
            Func::Exp => self.exp(arg),
            // No identity: an atom.
            Func::Asin
            | Func::Acos
            | Func::Atan
            | Func::Tanh
            | Func::Asinh
            | Func::Acosh
            | Func::Atanh
            | Func::Ln
            | Func::Log2
            | Func::Log10
            | Func::Cbrt
            | Func::Abs
            | Func::Sign
            | Func::Floor
            | Func::Ceil
            | Func::Min
            | Func::Max
            | Func::Atan2
            | Func::Hypot
            | Func::Xlogy => monomial(self.atom(Key::Call1(f, arg), Kind::Plain), 1),
        })
    }

    /// `exp(arg)`, `1` for an argument that is exactly zero.
    fn exp(&mut self, arg: Rat) -> Rat {
        if arg.num.is_empty() {
            return constant(Coef::one());
        }
        let kind = Kind::Exp(arg.clone());
        monomial(self.atom(Key::Call1(Func::Exp, arg), kind), 1)
    }

    /// `sin(arg)` or `cos(arg)`. An argument `k·u` with a small whole
    /// `k` (its first coefficient) expands by the angle-sum formulas into
    /// powers of `sin(u)` and `cos(u)`, so that `sin(2*x)` and
    /// `2*sin(x)*cos(x)` meet; the sign of `k` comes out by symmetry.
    fn trig(&mut self, f: Func, arg: &Rat) -> R<Rat> {
        let k = arg
            .num
            .values()
            .next()
            .and_then(|c| as_small_int(c, MAX_MULTIPLE))
            .unwrap_or(1);
        if arg.num.is_empty() || k == 1 || k == 0 {
            return Ok(monomial(self.atom_of(f, arg), 1));
        }
        let u = self.scale(arg, Coef::new(1.into(), k.into()))?;
        let (s1, c1) = (
            monomial(self.atom_of(Func::Sin, &u), 1),
            monomial(self.atom_of(Func::Cos, &u), 1),
        );
        // sin((j+1)u) = sin(ju)cos(u) + cos(ju)sin(u),
        // cos((j+1)u) = cos(ju)cos(u) − sin(ju)sin(u).
        let (mut s, mut c) = (s1.clone(), c1.clone());
        for _ in 1..k.abs() {
            let sc = self.mul(&s, &c1)?;
            let cs = self.mul(&c, &s1)?;
            let cc = self.mul(&c, &c1)?;
            let ss = self.mul(&s, &s1)?;
            let minus_ss = self.scale(&ss, int(-1))?;
            s = self.add(&sc, &cs)?;
            c = self.add(&cc, &minus_ss)?;
        }
        match f {
            Func::Sin if k < 0 => self.scale(&s, int(-1)),
            Func::Sin => Ok(s),
            _ => Ok(c),
        }
    }

    /// `base^e` for a constant `e`: integer powers expand, `b^(n + m/q)`
    /// becomes `b^n · root^m` with the atom `root = b^(1/q)`, anything
    /// else is an atom. Constants are raised exactly, or not at all.
    fn power(&mut self, base: &Rat, e: &Coef) -> R<Rat> {
        if let Some(n) = as_small_int(e, MAX_POWER) {
            return self.pow(base, n);
        }
        if let Some(b) = base.as_constant()
            && let Some(v) = const_pow(&b, e)?
        {
            return Ok(constant(v));
        }
        let whole = e.floor();
        let frac = e - &whole;
        let q = i64::try_from(frac.denom())
            .ok()
            .filter(|&q| q <= MAX_ROOT)
            .filter(|&q| q > 1);
        let whole = as_small_int(&whole, MAX_POWER);
        match (q, whole) {
            (Some(q), Some(whole)) => {
                let m = i64::try_from(frac.numer()).map_err(|_| GiveUp)?;
                let key = Key::PowC(base.clone(), Coef::new(1.into(), q.into()));
                let root = self.atom(key, Kind::Root(base.clone(), q as i32));
                let int_part = self.pow(base, whole)?;
                self.mul(&int_part, &monomial(root, m as i32))
            }
            _ => Ok(monomial(
                self.atom(Key::PowC(base.clone(), e.clone()), Kind::Plain),
                1,
            )),
        }
    }
}

/// Atoms.
impl Normaliser<'_> {
    fn atom(&mut self, key: Key, kind: Kind) -> u32 {
        if let Some(&i) = self.atom_index.get(&key) {
            return i;
        }
        let i = self.atoms.len() as u32;
        self.atoms.push(kind);
        self.atom_index.insert(key, i);
        i
    }

    /// The atom `func(arg)` for the trigonometric kinds.
    fn atom_of(&mut self, func: Func, arg: &Rat) -> u32 {
        let kind = match func {
            Func::Sin => Kind::Sin(arg.clone()),
            Func::Sinh => Kind::Sinh(arg.clone()),
            _ => Kind::Plain,
        };
        self.atom(Key::Call1(func, arg.clone()), kind)
    }
}

/// The identities between atoms.
impl Normaliser<'_> {
    /// Applies the identities between atoms until none applies, and
    /// cancels a numerator equal to a factor of the denominator.
    /// Rewriting an atom can reduce its argument, so this recurses as
    /// deep as atoms nest: bounded, to keep off the stack's end.
    fn reduce(&mut self, r: Rat) -> R<Rat> {
        if self.nesting >= MAX_NESTING {
            return Err(GiveUp);
        }
        self.nesting += 1;
        let out = self.reduce_here(r);
        self.nesting -= 1;
        out
    }

    fn reduce_here(&mut self, mut r: Rat) -> R<Rat> {
        for _round in 0..MAX_REWRITES {
            let mut keep = Poly::new();
            let mut rewritten: Option<Rat> = None;
            let terms = std::mem::take(&mut r.num);
            for (m, c) in terms {
                match self.rewrite(&m)? {
                    None => {
                        keep.insert(m, c);
                    }
                    Some(mut scaled) => {
                        for v in scaled.num.values_mut() {
                            *v *= &c;
                        }
                        rewritten = Some(match rewritten {
                            None => scaled,
                            Some(acc) => self.add_plain(&acc, &scaled)?,
                        });
                    }
                }
            }
            r.num = keep;
            match rewritten {
                None => return Ok(self.cancel(r)),
                Some(mut extra) => {
                    for (&f, &k) in &r.den {
                        *extra.den.entry(f).or_insert(0) += k;
                    }
                    r = self.add_plain(&r, &extra)?;
                }
            }
        }
        Err(GiveUp)
    }

    /// The replacement of a monomial by an identity, if one applies.
    fn rewrite(&mut self, m: &Mono) -> R<Option<Rat>> {
        // Atoms of exp, by index: their arguments are cloned only if the
        // exponentials are merged.
        let mut exps: Vec<(u32, i32)> = Vec::new();
        // Reading the monomial is work too: a long one, read in every
        // round, must not escape the bound.
        self.spend(m.len())?;
        for (pos, &(atom, e)) in m.iter().enumerate() {
            // Decide on a borrow first: cloning every atom's argument (a
            // whole normal form) for every monomial was quadratic in the
            // depth of nested atoms (a power tower took minutes).
            let applies = match &self.atoms[atom as usize] {
                Kind::Sin(_) | Kind::Sinh(_) => e >= 2,
                Kind::Root(_, q) => !(0..*q).contains(&e),
                Kind::Exp(_) => {
                    exps.push((atom, e));
                    false
                }
                _ => false,
            };
            if !applies {
                continue;
            }
            let kind = self.atoms[atom as usize].clone();
            let replacement = match kind {
                // sin^e = sin^(e-2)·(1 − cos²)
                Kind::Sin(arg) if e >= 2 => {
                    let cos = self.atom_of(Func::Cos, &arg);
                    let minus_cos2 = self.scale(&monomial(cos, 2), int(-1))?;
                    let one_minus = self.add(&constant(Coef::one()), &minus_cos2)?;
                    Some(self.mul_plain(&monomial(atom, e - 2), &one_minus)?)
                }
                // sinh^e = sinh^(e-2)·(cosh² − 1)
                Kind::Sinh(arg) if e >= 2 => {
                    let cosh = self.atom_of(Func::Cosh, &arg);
                    let minus_one = self.add(&constant(int(-1)), &monomial(cosh, 2))?;
                    Some(self.mul_plain(&monomial(atom, e - 2), &minus_one)?)
                }
                Kind::Root(base, q) if !(0..q).contains(&e) => {
                    let whole = e.div_euclid(q);
                    let b = self.pow(&base, i64::from(whole))?;
                    Some(self.mul_plain(&monomial(atom, e.rem_euclid(q)), &b)?)
                }
                _ => None,
            };
            if let Some(r) = replacement {
                let mut others = m.clone();
                others.remove(pos);
                return Ok(Some(self.mul_plain(&mono_rat(others), &r)?));
            }
        }
        // exp(a)^j · exp(b)^k = exp(j·a + k·b)
        if exps.len() > 1 || exps.iter().any(|(_, e)| *e != 1) {
            let mut sum = constant(Coef::zero());
            for &(atom, e) in &exps {
                let Kind::Exp(arg) = self.atoms[atom as usize].clone() else {
                    continue;
                };
                let scaled = self.scale(&arg, int(i64::from(e)))?;
                sum = self.add(&sum, &scaled)?;
            }
            let rest: Mono = m
                .iter()
                .copied()
                .filter(|(a, _)| !matches!(self.atoms[*a as usize], Kind::Exp(_)))
                .collect();
            let factor = self.exp(sum);
            return Ok(Some(self.mul_plain(&mono_rat(rest), &factor)?));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formula::Formula;

    fn proved(formula: &str, var: &str, hand: &str) -> bool {
        let mut f = Formula::parse(formula).unwrap();
        let exact = f.partial(var).unwrap().id();
        let yours = f.parse_into(hand, &Default::default()).unwrap();
        proved_equal(f.graph(), exact, yours)
    }

    #[test]
    fn canonical_forms_prove_rearrangements() {
        assert!(proved("3*x^2 + 2*x + 1", "x", "2 + 6*x"));
        assert!(proved("3*x^2 + 2*x + 1", "x", "x*6 + 1 + 1"));
        assert!(proved("sin(x)^2", "x", "2*cos(x)*sin(x)"));
        assert!(proved("x^2*y", "y", "x*x"));
    }

    #[test]
    fn the_normaliser_proves_expansions_and_quotient_rules() {
        // A product over a sum, expanded by hand.
        assert!(proved("(x + 1)^3", "x", "3*x^2 + 6*x + 3"));
        assert!(proved("x^2*y + x*y^2", "x", "y*(2*x + y)"));
        // The quotient rule of x/(1+x), left over two denominators.
        assert!(proved("x/(1 + x)", "x", "1/(1+x) - x/(1+x)^2"));
        assert!(proved("x/(1 + x)", "x", "((1+x) - x)/(1+x)^2"));
        // (x^2+1)/(x-1): quotient rule over a common denominator.
        assert!(proved(
            "(x^2 + 1)/(x - 1)",
            "x",
            "(2*x*(x-1) - (x^2+1))/(x-1)^2"
        ));
        // Multiple angles: sin(2x) = 2 sin(x) cos(x), and by symmetry.
        assert!(proved("sin(x)^2", "x", "sin(2*x)"));
        assert!(proved("cos(2*x)", "x", "-4*sin(x)*cos(x)"));
        assert!(proved("sin(x)*cos(x)", "x", "cos(2*x)"));
        assert!(proved("sin(3*x + 3)", "x", "3*cos(3*(x + 1))"));
        assert!(proved("cos(-x)", "x", "-sin(x)"));
        assert!(!proved("sin(x)^2", "x", "sin(x)*cos(2*x)"));
        // sin² + cos² = 1 and tan = sin/cos.
        assert!(proved("tan(x)", "x", "1 + tan(x)^2"));
        assert!(proved(
            "sin(x)^2 + x",
            "x",
            "2*sin(x)*cos(x) + sin(x)^2 + cos(x)^2"
        ));
        // exp(a)*exp(b) = exp(a + b), and sqrt(u)^2 = u.
        assert!(proved("exp(2*x)", "x", "2*exp(x)^2"));
        assert!(proved("sqrt(x^2 + 1)", "x", "x*sqrt(x^2+1)/(x^2+1)"));
        // Arguments of atoms are normalised too.
        assert!(proved("sin(x*(x+1))", "x", "cos(x^2 + x)*(2*x + 1)"));
    }

    #[test]
    fn wrong_derivatives_are_not_proved() {
        assert!(!proved("3*x^2 + 2*x + 1", "x", "6*x - 2"));
        assert!(!proved("sin(x^2)", "x", "cos(x^2)"));
        assert!(!proved("x/(1 + x)", "x", "1/(1+x) + x/(1+x)^2"));
        assert!(!proved("tan(x)", "x", "tan(x)^2"));
        assert!(!proved("exp(2*x)", "x", "exp(x)^2"));
    }

    #[test]
    fn small_terms_beside_large_ones_are_kept() {
        // Issue 19: 2xy + x is not 2xy, however large the terms that cancel.
        let hand = "2*x*y + 1e15*x*(y+1) - 1e15*x*y - 1e15*x + x";
        assert!(!proved("x^2*y", "x", hand));
        assert!(proved("x^2*y + x^2/2", "x", hand));
        assert!(!proved(
            "x^2",
            "x",
            "2*x + 1e20*x^2 + x - 1e20*x^2*(1 + 1e-10)"
        ));
        // Exact cancellation of large coefficients still proves.
        assert!(proved("x^2", "x", "2*x + 1e300*x^3 - 1e300*x^3"));
        // (Not `2*x + ... - 2e300*x`: the canonical sum collects those two
        // into one rounded coefficient before the normaliser sees them.)
        assert!(proved(
            "x^2*y",
            "x",
            "2*x*y + 1e300*(x+1)^2 - 1e300*x^2 - 2e300*x - 1e300"
        ));
        // Thirds are exact rationals, not rounded doubles.
        assert!(proved("x^2/3", "x", "x/3 + x/3"));
        assert!(proved("(x+1)/(3*x+3)", "x", "0"));
    }

    #[test]
    fn exponents_are_never_snapped() {
        // x^(1e-13) is not x^0 = 1: an atom of its own.
        assert!(!proved("x^2", "x", "2*x + 1e15*(x^(1e-13) - 1)"));
        assert!(!proved("x^2", "x", "2*x + x^(1e-13) - 1"));
        // Nor is x^(0.5 + 1e-13) the square root.
        assert!(!proved("x", "x", "x^(0.5 + 1e-13)*x^0.5 - x + 1"));
        // A double third is not a third: the exponent of d/dx x^(4/3),
        // 4/3 - 1 in doubles, is one ulp from the double of 1/3.
        assert!(!proved("x^(4/3)", "x", "4/3*x^(1/3)"));
        // Exact dyadic roots still are.
        assert!(proved("x^2/2", "x", "(x^0.25)^4"));
        assert!(proved("x^1.5", "x", "1.5*sqrt(x)"));
        // Constants are raised exactly, or kept as they are.
        assert!(proved("x", "x", "4^0.5 - 1"));
        assert!(!proved(
            "x",
            "x",
            "1e16*((x+1)^2 - x^2 - 2*x + 1)^0.5 - 1e16*1.4142135623730951 + 1"
        ));
    }

    #[test]
    fn functions_of_constants_fold_only_when_exact() {
        // exp(x)*exp(-x) is exp(0) = 1, exactly.
        assert!(proved("x", "x", "exp(x)*exp(-x)"));
        assert!(proved("x", "x", "cos(x - x)"));
        // sin(1) is a symbolic constant, not its double.
        assert!(!proved(
            "x",
            "x",
            "1 + 1e17*sin((x+1)^2 - x^2 - 2*x) - 1e17*0.8414709848078965"
        ));
        let one = "((x+1)^2 - x^2 - 2*x)";
        assert!(proved("x", "x", &format!("sin({one})^2 + cos({one})^2")));
    }

    #[test]
    fn the_normaliser_gives_up_on_large_expansions() {
        // True, but the proof would expand a 3,876-term power: not proved,
        // and no hang.
        assert!(!proved(
            "(x+y+z+w+1)^16",
            "x",
            "16*(x+y+z+w+1)^15*((x+1)^2 - x^2 - 2*x)"
        ));
        // The same with a small power is proved.
        assert!(proved(
            "(x+y+1)^3",
            "x",
            "3*(x+y+1)^2*((x+1)^2 - x^2 - 2*x)"
        ));
    }

    #[test]
    fn deep_formulas_are_normalised_without_recursion() {
        // The normaliser walks all 3,000 levels (and gives no proof).
        let limits = crate::parse::Limits::default();
        let mut f = Formula::parse(&crate::testfns::nested_sin(3000)).unwrap();
        let exact = f.partial("x1").unwrap().id();
        let wrong = f.parse_into("cos(x1*x2)*x2", &limits).unwrap();
        assert!(!proved_equal(f.graph(), exact, wrong));
        // The printed derivative of a shallower one reads back as equal,
        // and so does twice it, written as a sum and as a product.
        let mut f = Formula::parse(&crate::testfns::nested_sin(40)).unwrap();
        let exact = f.partial("x1").unwrap().id();
        let printed = f.to_slope(exact).unwrap();
        let same = f.parse_into(&printed, &limits).unwrap();
        assert!(proved_equal(f.graph(), exact, same));
        let doubled = f
            .parse_into(&format!("{printed} + ({printed})*x2/x2"), &limits)
            .unwrap();
        let two = f.parse_into(&format!("2*({printed})"), &limits).unwrap();
        assert!(proved_equal(f.graph(), doubled, two));
    }
}
