//! Symbolic equality beyond the canonical forms, for `slope check`: is a
//! derivative written by hand the same function as the exact one?
//!
//! **Opt-in.** Only [`check`](crate::check) calls [`proved_equal`]. The
//! canonical constructors of `canon.rs` never do, so parsing,
//! differentiation, printing and compiled code are the same with or without
//! this module; it works on a copy of the graph and leaves the caller's as
//! it was.
//!
//! **What "proved" means.** `proved_equal(graph, a, b)` is `true` when `a`
//! and `b` are one node, when the canonical difference `a − b` folds to the
//! constant 0, or when that difference normalises to a rational function
//! whose numerator cancels. The normal form is `num / Π factorᵏ`: `num` a
//! polynomial with integer (possibly negative) exponents over atoms, each
//! factor a polynomial of more than one term, kept whole and scaled to a
//! fixed form, so that common denominators are found without expanding
//! them (`rational.rs`). Atoms are variables and non-polynomial subterms
//! rebuilt from their normalised arguments, so `sin(x*(x+1))` and
//! `sin(x^2 + x)` are one atom. Between atoms these identities are
//! applied, and no others: `sin² = 1 − cos²`, `sinh² = cosh² − 1`,
//! `tan = sin/cos`, the angle sums of `sin(k·u)` and `cos(k·u)` for small
//! whole `k`, `exp(a)·exp(b) = exp(a + b)` and `(b^(1/q))^q = b`. A proof
//! therefore holds
//!
//! - where both sides are defined: a cancelled common factor (`x/x = 1`, as
//!   in the canonical forms) or a root identity may hide a removable point
//!   where a denominator vanishes or a root of a negative base is NaN;
//! - up to the rounding of coefficients, which are doubles: a coefficient
//!   within `32·ε` of the magnitudes summed into it counts as cancelled.
//!
//! `false` means "not proved", never "different". What is not proved is
//! left to the numeric comparison of
//! [`check::compare_derivative`](crate::check::compare_derivative), which
//! evaluates both sides at random points and reports agreement (not a
//! proof) or a counterexample.
//!
//! **Bounded.** Every input ends quickly. Some bounds only make a subterm
//! an atom, which loses its identities but may still prove: integer powers
//! above [`MAX_POWER`], fractional exponents whose denominator is over
//! [`MAX_ROOT`], `sin(k·u)` with `|k|` over [`MAX_MULTIPLE`]. The others
//! give up, and giving up proves nothing (`proved_equal` is `false`, and
//! `check` compares at points): a polynomial of more than [`MAX_TERMS`]
//! terms, more than [`MAX_WORK`] term operations in all, more than
//! [`MAX_REWRITES`] rounds of identities on one value, atoms nested more
//! than [`MAX_NESTING`] deep, or a coefficient that overflows. Nodes are
//! normalised in the graph's order, children first, so nothing recurses on
//! the depth of the formula; only rewriting an atom reduces its argument
//! again, which recurses as deep as atoms nest, hence `MAX_NESTING`.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::builtins::Func;
use crate::graph::reachable;
use crate::graph::{Graph, Node, NodeId};

mod rational;

use rational::{Coef, Mono, Poly, Rat, constant, monomial};

/// The most terms a polynomial may have after a multiplication.
const MAX_TERMS: usize = 2_000;
/// The largest integer power expanded (and the largest whole part of a
/// fractional one); larger powers are atoms.
const MAX_POWER: f64 = 16.0;
/// The most term operations (terms added, pairs multiplied, terms copied)
/// in one proof.
const MAX_WORK: usize = 2_000_000;
/// The largest denominator `q` of an exponent `n + m/q` written with the
/// root `b^(1/q)`; other fractional powers are atoms.
const MAX_ROOT: i32 = 12;
/// The deepest nesting of reductions (an atom's argument reduced while
/// reducing a value that holds it).
const MAX_NESTING: usize = 64;
/// The largest `k` for which `sin(k·u)` is expanded.
const MAX_MULTIPLE: f64 = 8.0;
/// The most rounds of identities applied to one value.
const MAX_REWRITES: usize = 64;

/// Whether `a` and `b` are provably the same function (away from the
/// removable points the canonical forms ignore). `false` means not proved.
pub fn proved_equal(graph: &Graph, a: NodeId, b: NodeId) -> bool {
    if a == b {
        return true;
    }
    let mut g = graph.clone();
    let d = g.sub(a, b);
    if g.as_const(d) == Some(0.0) {
        return true;
    }
    is_zero(&mut g, d)
}

/// What an atom is, as far as the identities care.
#[derive(Clone, Debug)]
enum Kind {
    /// No identity applies.
    Plain,
    /// `sin(arg)`: its square is rewritten with `cos(arg)`.
    Sin(NodeId),
    /// `sinh(arg)`: its square is rewritten with `cosh(arg)`.
    Sinh(NodeId),
    /// `base^(1/q)`.
    Root(Rat, i32),
    /// `exp(arg)`.
    Exp(Rat),
}

/// A subterm the normal form treats as a variable.
struct Atom {
    /// The subterm, rebuilt from its normalised arguments.
    node: NodeId,
    kind: Kind,
}

/// The work ran past a bound.
struct GiveUp;

type R<T> = std::result::Result<T, GiveUp>;

/// One proof's state: the atoms and denominator factors met so far, each
/// numbered in the order met, and the work spent.
struct Normaliser<'g> {
    /// A copy of the caller's graph, which atoms and factors are added to.
    graph: &'g mut Graph,
    atoms: Vec<Atom>,
    atom_index: FxHashMap<NodeId, u32>,
    /// Denominator factors: monic, content-free polynomials.
    factors: Vec<Poly>,
    factor_nodes: Vec<NodeId>,
    /// A factor's terms, coefficients by bit pattern, to its index.
    factor_index: FxHashMap<Vec<(Mono, u64)>, u32>,
    /// Term operations so far, against [`MAX_WORK`].
    work: usize,
    /// Current depth of nested `reduce` calls.
    nesting: usize,
}

/// Whether `d` normalises to zero.
fn is_zero(graph: &mut Graph, d: NodeId) -> bool {
    let mut n = Normaliser {
        graph,
        atoms: Vec::new(),
        atom_index: FxHashMap::default(),
        factors: Vec::new(),
        factor_nodes: Vec::new(),
        factor_index: FxHashMap::default(),
        work: 0,
        nesting: 0,
    };
    matches!(n.node(d), Ok(r) if r.num.is_empty())
}

/// The walk over the graph: each node's normal form from its children's.
impl Normaliser<'_> {
    /// The normal form of `root`, computed for each node it depends on
    /// in increasing order (children first: no recursion).
    fn node(&mut self, root: NodeId) -> R<Rat> {
        let order = reachable(self.graph, &[root]);
        let mut memo: FxHashMap<NodeId, Rat> = FxHashMap::default();
        for id in order {
            let node = self.graph.node(id).clone();
            let r = match node {
                Node::Const(c) => constant(c),
                Node::Var(_) => monomial(self.atom(id, Kind::Plain), 1),
                Node::Sum(ts) => {
                    let mut acc = constant(0.0);
                    for t in ts.iter() {
                        let r = self.fetch(&memo, t)?;
                        acc = self.add(&acc, &r)?;
                    }
                    acc
                }
                Node::Product(fs) => {
                    let mut acc = constant(1.0);
                    for f in fs.iter() {
                        let r = self.fetch(&memo, f)?;
                        acc = self.mul(&acc, &r)?;
                    }
                    acc
                }
                Node::Pow([b, e]) => {
                    let base = self.fetch(&memo, &b)?;
                    match self.graph.as_const(e) {
                        Some(e) => self.power(&base, e)?,
                        None => {
                            let exponent = self.fetch(&memo, &e)?;
                            let (b, e) = (self.rat_node(&base), self.rat_node(&exponent));
                            let node = self.graph.pow(b, e);
                            monomial(self.atom(node, Kind::Plain), 1)
                        }
                    }
                }
                Node::Call1(f, [a]) => {
                    let arg = self.fetch(&memo, &a)?;
                    let a = self.rat_node(&arg);
                    match f {
                        Func::Tan => {
                            let s = self.atom_of(Func::Sin, a);
                            let c = self.atom_of(Func::Cos, a);
                            self.mul(&monomial(s, 1), &monomial(c, -1))?
                        }
                        Func::Sin | Func::Cos => self.trig(f, &arg, a)?,
                        Func::Sinh | Func::Cosh => monomial(self.atom_of(f, a), 1),
                        Func::Exp => {
                            let node = self.graph.call1(Func::Exp, a);
                            match self.graph.as_const(node) {
                                Some(c) => constant(c),
                                None => monomial(self.atom(node, Kind::Exp(arg)), 1),
                            }
                        }
                        // No identity: an atom, or a constant.
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
                        | Func::Hypot => {
                            let node = self.graph.call1(f, a);
                            match self.graph.as_const(node) {
                                Some(c) => constant(c),
                                None => monomial(self.atom(node, Kind::Plain), 1),
                            }
                        }
                    }
                }
                Node::Call2(f, [a, b]) => {
                    let (ra, rb) = (self.fetch(&memo, &a)?, self.fetch(&memo, &b)?);
                    let (a, b) = (self.rat_node(&ra), self.rat_node(&rb));
                    let node = self.graph.call2(f, a, b);
                    match self.graph.as_const(node) {
                        Some(c) => constant(c),
                        None => monomial(self.atom(node, Kind::Plain), 1),
                    }
                }
            };
            memo.insert(id, r);
        }
        memo.remove(&root).ok_or(GiveUp)
    }

    /// A child's normal form (a copy, counted as work).
    fn fetch(&mut self, memo: &FxHashMap<NodeId, Rat>, n: &NodeId) -> R<Rat> {
        let r = memo.get(n).ok_or(GiveUp)?;
        self.spend(r.num.len() + r.den.len())?;
        Ok(r.clone())
    }

    /// `sin(arg)` or `cos(arg)` (`a` is the node of `arg`). An argument
    /// `k·u` with a small whole `k` (its first coefficient) expands by
    /// the angle-sum formulas into powers of `sin(u)` and `cos(u)`, so
    /// that `sin(2*x)` and `2*sin(x)*cos(x)` meet; the sign of `k` comes
    /// out by symmetry.
    fn trig(&mut self, f: Func, arg: &Rat, a: NodeId) -> R<Rat> {
        let k = arg.num.values().next().map_or(1.0, |c| c.c);
        if arg.num.is_empty() || k == 1.0 || k.fract() != 0.0 || k.abs() > MAX_MULTIPLE {
            return Ok(monomial(self.atom_of(f, a), 1));
        }
        let u = self.mul(arg, &constant(1.0 / k))?;
        let u = self.rat_node(&u);
        let (s1, c1) = (
            monomial(self.atom_of(Func::Sin, u), 1),
            monomial(self.atom_of(Func::Cos, u), 1),
        );
        // sin((j+1)u) = sin(ju)cos(u) + cos(ju)sin(u),
        // cos((j+1)u) = cos(ju)cos(u) − sin(ju)sin(u).
        let (mut s, mut c) = (s1.clone(), c1.clone());
        for _ in 1..k.abs() as i32 {
            let sc = self.mul(&s, &c1)?;
            let cs = self.mul(&c, &s1)?;
            let cc = self.mul(&c, &c1)?;
            let ss = self.mul(&s, &s1)?;
            let minus_ss = self.mul(&ss, &constant(-1.0))?;
            s = self.add(&sc, &cs)?;
            c = self.add(&cc, &minus_ss)?;
        }
        match f {
            Func::Sin if k < 0.0 => self.mul(&s, &constant(-1.0)),
            Func::Sin => Ok(s),
            _ => Ok(c),
        }
    }

    /// `base^e` for a constant `e`: integer powers expand, `b^(n + m/q)`
    /// becomes `b^n · root^m` with the atom `root = b^(1/q)`, anything
    /// else is an atom.
    fn power(&mut self, base: &Rat, e: f64) -> R<Rat> {
        if e.fract() == 0.0 && e.abs() <= MAX_POWER {
            return self.pow(base, e as i64);
        }
        let whole = e.floor();
        let frac = e - whole;
        let q = (2..=MAX_ROOT).find(|&q| {
            let m = frac * f64::from(q);
            (m - m.round()).abs() < 1e-12
        });
        let b = self.rat_node(base);
        if self.graph.as_const(b).is_some() {
            let node = self.graph.powc(b, e);
            if let Some(v) = self.graph.as_const(node) {
                return Ok(constant(v));
            }
        }
        match q {
            Some(q) if whole.abs() <= MAX_POWER => {
                let m = (frac * f64::from(q)).round() as i32;
                let node = self.graph.powc(b, 1.0 / f64::from(q));
                let root = self.atom(node, Kind::Root(base.clone(), q));
                let int_part = self.pow(base, whole as i64)?;
                self.mul(&int_part, &monomial(root, m))
            }
            _ => {
                let node = self.graph.powc(b, e);
                Ok(monomial(self.atom(node, Kind::Plain), 1))
            }
        }
    }
}

/// Atoms, and normal forms back as nodes.
impl Normaliser<'_> {
    fn atom(&mut self, node: NodeId, kind: Kind) -> u32 {
        if let Some(&i) = self.atom_index.get(&node) {
            return i;
        }
        let i = self.atoms.len() as u32;
        self.atoms.push(Atom { node, kind });
        self.atom_index.insert(node, i);
        i
    }

    /// The atom `func(arg)` for the trigonometric kinds.
    fn atom_of(&mut self, func: Func, arg: NodeId) -> u32 {
        let node = self.graph.call1(func, arg);
        let kind = match func {
            Func::Sin => Kind::Sin(arg),
            Func::Sinh => Kind::Sinh(arg),
            _ => Kind::Plain,
        };
        self.atom(node, kind)
    }

    /// A normal form back as a canonical node.
    fn rat_node(&mut self, r: &Rat) -> NodeId {
        let mut factors = vec![self.poly_node(&r.num)];
        for (&f, &k) in &r.den {
            let node = self.factor_nodes[f as usize];
            factors.push(self.graph.powc(node, -f64::from(k)));
        }
        self.graph.product(&factors)
    }

    fn poly_node(&mut self, p: &Poly) -> NodeId {
        let mut terms = Vec::with_capacity(p.len());
        for (m, c) in p {
            let mut factors = vec![self.graph.constant(c.c)];
            for &(atom, e) in m {
                let node = self.atoms[atom as usize].node;
                factors.push(self.graph.powc(node, f64::from(e)));
            }
            terms.push(self.graph.product(&factors));
        }
        self.graph.sum(&terms)
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
                    Some(replacement) => {
                        let mut scaled = replacement;
                        for v in scaled.num.values_mut() {
                            v.c *= c.c;
                            v.mag *= c.mag;
                        }
                        let with_den = Rat {
                            num: scaled.num,
                            den: scaled.den,
                        };
                        rewritten = Some(match rewritten {
                            None => with_den,
                            Some(acc) => self.add_plain(&acc, &with_den)?,
                        });
                    }
                }
            }
            r.num = keep;
            match rewritten {
                None => return Ok(self.cancel(r)),
                Some(extra) => {
                    let extra = Rat {
                        num: extra.num,
                        den: {
                            let mut d = extra.den;
                            for (&f, &k) in &r.den {
                                *d.entry(f).or_insert(0) += k;
                            }
                            d
                        },
                    };
                    r = self.add_plain(&r, &extra)?;
                }
            }
        }
        Err(GiveUp)
    }

    /// The replacement of a monomial by an identity, if one applies.
    fn rewrite(&mut self, m: &Mono) -> R<Option<Rat>> {
        let mut exps: Vec<(Rat, i32)> = Vec::new();
        let mut exp_count = 0;
        for (pos, &(atom, e)) in m.iter().enumerate() {
            let others = || -> Mono {
                let mut r = m.clone();
                r.remove(pos);
                r
            };
            let kind = self.atoms[atom as usize].kind.clone();
            let replacement = match kind {
                // sin^e = sin^(e-2)·(1 − cos²)
                Kind::Sin(arg) if e >= 2 => {
                    let cos = self.atom_of(Func::Cos, arg);
                    let one_minus = self.add(&constant(1.0), &{
                        let mut r = monomial(cos, 2);
                        r.num.values_mut().for_each(|v| v.c = -1.0);
                        r
                    })?;
                    Some(self.mul_plain(&monomial(atom, e - 2), &one_minus)?)
                }
                // sinh^e = sinh^(e-2)·(cosh² − 1)
                Kind::Sinh(arg) if e >= 2 => {
                    let cosh = self.atom_of(Func::Cosh, arg);
                    let minus_one = self.add(&constant(-1.0), &monomial(cosh, 2))?;
                    Some(self.mul_plain(&monomial(atom, e - 2), &minus_one)?)
                }
                Kind::Root(base, q) if !(0..q).contains(&e) => {
                    let whole = e.div_euclid(q);
                    let b = self.pow(&base, i64::from(whole))?;
                    Some(self.mul_plain(&monomial(atom, e.rem_euclid(q)), &b)?)
                }
                Kind::Exp(arg) => {
                    exps.push((arg, e));
                    exp_count += 1;
                    None
                }
                _ => None,
            };
            if let Some(r) = replacement {
                let rest = Rat {
                    num: {
                        let mut p = Poly::new();
                        p.insert(others(), Coef { c: 1.0, mag: 1.0 });
                        p
                    },
                    den: BTreeMap::new(),
                };
                return Ok(Some(self.mul_plain(&rest, &r)?));
            }
        }
        // exp(a)^j · exp(b)^k = exp(j·a + k·b)
        if exp_count > 1 || exps.iter().any(|(_, e)| *e != 1) {
            let mut sum = constant(0.0);
            for (arg, e) in &exps {
                let scaled = self.mul(arg, &constant(f64::from(*e)))?;
                sum = self.add(&sum, &scaled)?;
            }
            let rest: Mono = m
                .iter()
                .copied()
                .filter(|(a, _)| !matches!(self.atoms[*a as usize].kind, Kind::Exp(_)))
                .collect();
            let mut r = Rat {
                num: {
                    let mut p = Poly::new();
                    p.insert(rest, Coef { c: 1.0, mag: 1.0 });
                    p
                },
                den: BTreeMap::new(),
            };
            if !sum.num.is_empty() {
                let arg = self.rat_node(&sum);
                let node = self.graph.call1(Func::Exp, arg);
                let factor = match self.graph.as_const(node) {
                    Some(c) => constant(c),
                    None => monomial(self.atom(node, Kind::Exp(sum)), 1),
                };
                r = self.mul_plain(&r, &factor)?;
            }
            return Ok(Some(r));
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
