//! The indexed part of the graph: affine index expressions, reads of array
//! elements and reductions (`sum`, `prod`) over index ranges.
//!
//! A reduction's body is a node of the same graph, built over the loop
//! indices it binds. Loop indices are numbered by nesting level (de Bruijn
//! levels): the outermost index of a formula is level 0 whatever its name,
//! so `sum(i in 1..n, x[i]^2)` and `sum(k in 1..n, x[k]^2)` are one node, and
//! a body that does not use an index is shared with the same expression
//! outside the loop. [`Meta::levels`](super::Meta) says which levels a node
//! uses; a node that uses none of a reduction's levels is loop-invariant
//! and is computed once, outside the loop.

use crate::ast::ReduceOp;

/// A level or a parameter, the symbols of an [`Affine`] index.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Symbol {
    /// The loop index at this nesting level.
    Level(u32),
    /// The parameter with this number (its value must be an integer).
    Param(u32),
}

/// `c + a1*s1 + a2*s2 + ...`: an integer index, affine in loop indices and
/// parameters. Terms are sorted by symbol, with no zero coefficients.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Affine {
    pub constant: i64,
    pub terms: Box<[(Symbol, i64)]>,
}

impl Affine {
    pub fn constant(c: i64) -> Affine {
        Affine {
            constant: c,
            terms: Box::new([]),
        }
    }

    pub fn symbol(s: Symbol) -> Affine {
        Affine {
            constant: 0,
            terms: Box::new([(s, 1)]),
        }
    }

    /// `a*self + b*other`, or `None` on integer overflow.
    pub fn combine(&self, a: i64, other: &Affine, b: i64) -> Option<Affine> {
        let mut terms: Vec<(Symbol, i64)> = Vec::new();
        for (s, k) in self.terms.iter() {
            terms.push((*s, k.checked_mul(a)?));
        }
        for (s, k) in other.terms.iter() {
            let k = k.checked_mul(b)?;
            match terms.iter_mut().find(|(t, _)| t == s) {
                Some((_, c)) => *c = c.checked_add(k)?,
                None => terms.push((*s, k)),
            }
        }
        terms.retain(|(_, k)| *k != 0);
        terms.sort();
        let constant = self
            .constant
            .checked_mul(a)?
            .checked_add(other.constant.checked_mul(b)?)?;
        Some(Affine {
            constant,
            terms: terms.into(),
        })
    }

    /// The integer this is, if it has no symbols.
    pub fn as_constant(&self) -> Option<i64> {
        self.terms.is_empty().then_some(self.constant)
    }

    /// The levels it uses, as a bit set.
    pub fn levels(&self) -> u64 {
        self.terms
            .iter()
            .map(|(s, _)| match s {
                Symbol::Level(l) => 1u64 << l,
                Symbol::Param(_) => 0,
            })
            .fold(0, |a, b| a | b)
    }

    /// Its value, given the loop indices by level and the integer
    /// parameters (saturating: a range that large is refused before it runs).
    pub fn eval(&self, levels: &[i64], params: &[i64]) -> i64 {
        self.terms.iter().fold(self.constant, |acc, (s, k)| {
            let v = match s {
                Symbol::Level(l) => levels.get(*l as usize).copied().unwrap_or(0),
                Symbol::Param(p) => params.get(*p as usize).copied().unwrap_or(0),
            };
            acc.saturating_add(k.saturating_mul(v))
        })
    }
}

/// What an indexed read reads.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Source {
    /// An array of variables, by its number among the formula's arrays.
    Var(u32),
    /// A data column, by its number among the formula's data names.
    Data(u32),
    /// The direction `v` of a Hessian-vector product at this array's
    /// element: `v` has the point's layout, and is a constant of
    /// differentiation (`diff/hess_vec.rs`).
    Direction(u32),
    /// The direction `v` at the scalar variable with this number; its
    /// read has no index.
    ScalarDirection(u32),
}

/// `x[i+1]`, `p[i, 3]`, `t[i]`: one element of an array.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Read {
    pub source: Source,
    pub index: Box<[Affine]>,
}

impl Read {
    pub fn levels(&self) -> u64 {
        self.index.iter().fold(0, |a, i| a | i.levels())
    }
}

/// One index of a reduction and its range, both ends included. The range
/// may use the levels of enclosing indices (`j in i+1..n`).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Range {
    pub lo: Affine,
    pub hi: Affine,
}

/// `sum(i in a..b, j in c..d, body)`: the body's values combined over every
/// index tuple, in lexicographic order (the last index fastest), starting
/// from 0 (sum) or 1 (prod).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Reduce {
    pub op: ReduceOp,
    /// The level of the first index; the others follow.
    pub level: u32,
    pub ranges: Box<[Range]>,
}

impl Reduce {
    /// The levels this reduction binds, as a bit set.
    pub fn own_levels(&self) -> u64 {
        let n = self.ranges.len() as u32;
        ((1u64 << n) - 1) << self.level
    }

    /// The levels its ranges read from enclosing reductions.
    pub fn range_levels(&self) -> u64 {
        self.ranges
            .iter()
            .fold(0, |a, r| a | r.lo.levels() | r.hi.levels())
            & !self.own_levels()
    }
}
