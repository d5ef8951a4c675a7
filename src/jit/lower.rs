//! Lowering: the nodes the outputs need to a flat list of scalar
//! instructions.
//!
//! [`lower`] turns the nodes the outputs need ([`reachable`]) into a flat
//! list of scalar instructions that performs exactly the operations of
//! `eval.rs`, in the same order: a sum adds pairwise
//! ([`sum_pairwise`](crate::graph::sum_pairwise)); a
//! product multiplies its numerator left to right, its denominator powers
//! (`b^e`, constant `e < 0`, computed as `b^-e`) left to right and divides
//! once; a constant integer power from -3 to 4 is the multiplication sequence
//! of [`builtins::powi`]; `^0.5` is `sqrt`, `^-0.5` is `1/sqrt`, other constant
//! exponents call `powf`, and variable exponents call [`builtins::pow`]. So
//! compiled and interpreted results agree to the bit (NaN payloads aside).
//! The one rewrite, `a + (-1*q)` to `a - q`, is exact in IEEE 754.
//! Instructions are hash-consed, so shared work (a node, or `y*y` in both
//! `y^2` and `y^3`) is computed once. Variables and constants are not
//! instructions: they are loaded where they are used (constants from a
//! read-only table), which keeps them out of registers between distant
//! uses; x86 often folds the load into the arithmetic.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::too_large;
use crate::builtins::{self, Func};
use crate::error::{Error, ErrorKind};
use crate::graph::{Graph, Node, NodeId, SumStep, denominator_exponent, reachable, sum_pairwise};

/// What an instruction reads. Variables and constants are rematerialised at
/// each use instead of being kept in registers.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub(super) enum Operand {
    Var(u32),
    /// The bit pattern of an `f64`.
    Const(u64),
    Instr(u32),
}

impl Operand {
    pub(super) fn constant(c: f64) -> Operand {
        Operand::Const(c.to_bits())
    }
}

#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub(super) enum Op {
    Add,
    /// `a - b`, for `a + (-1*b)`, which IEEE 754 defines to be the same.
    Sub,
    Mul,
    Div,
    Min,
    Max,
    Sqrt,
    Abs,
    Floor,
    Ceil,
    Sign,
    Call(Callee),
}

/// A function the code calls.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub(super) enum Callee {
    /// A one-argument [`Func`] through [`Func::apply1`].
    F1(Func),
    /// A two-argument [`Func`] through [`Func::apply2`].
    F2(Func),
    /// [`builtins::pow`], for exponents known only at run time.
    Pow,
    /// `f64::powf`, for constant exponents that are not special.
    Powf,
    /// The C library's `sincos`, for a `sin` and a `cos` of one operand
    /// (never in a [`Program`]: code generation fuses the pair, see
    /// `codegen.rs`).
    SinCos,
}

impl Op {
    pub(super) fn arity(self) -> usize {
        match self {
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Min | Op::Max => 2,
            Op::Call(Callee::F2(_) | Callee::Pow | Callee::Powf) => 2,
            _ => 1,
        }
    }

    /// Rough machine instructions, to size chunks. A call also costs the
    /// spills of every live value (all float registers are caller-saved).
    pub(super) fn weight(self) -> usize {
        match self {
            Op::Call(_) => 8,
            Op::Sign => 6,
            Op::Min | Op::Max => 4,
            _ => 1,
        }
    }
}

#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub(super) struct Instr {
    pub(super) op: Op,
    /// The second is unused (a zero constant) for one-argument operations.
    pub(super) args: [Operand; 2],
}

impl Instr {
    pub(super) fn operands(&self) -> &[Operand] {
        &self.args[..self.op.arity()]
    }
}

/// The lowered outputs: instructions, each after its operands.
pub(super) struct Program {
    pub(super) instrs: Vec<Instr>,
    pub(super) outputs: Vec<Operand>,
}

struct Lowering {
    instrs: Vec<Instr>,
    interned: FastMap<Instr, u32>,
}

/// FxHash's multiply-rotate: hashing instructions is a large part of
/// lowering, and the keys are not attacker-controlled in a way that matters
/// (a bad formula only slows its own compilation).
#[derive(Default)]
struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_isize(&mut self, n: isize) {
        self.write_u64(n as u64);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    /// Folds the high bits down: the table indexes by the low bits, and
    /// constants' bit patterns differ mostly in their high bits.
    fn finish(&self) -> u64 {
        let h = self.0 ^ (self.0 >> 32);
        h.wrapping_mul(0x9e_37_79_b9_7f_4a_7c_15) ^ (h >> 29)
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

impl Lowering {
    fn push(&mut self, op: Op, args: [Operand; 2]) -> Result<Operand, Error> {
        let instr = Instr { op, args };
        let next = u32::try_from(self.instrs.len()).map_err(|_| too_large())?;
        let i = *self.interned.entry(instr).or_insert(next);
        if i == next {
            self.instrs.push(instr);
        }
        Ok(Operand::Instr(i))
    }

    fn bin(&mut self, op: Op, a: Operand, b: Operand) -> Result<Operand, Error> {
        self.push(op, [a, b])
    }

    /// `a + b`, as `a - q` or `b - q` when the other is `-1*q`: IEEE 754
    /// defines subtraction as adding the negation, and `-1*q` is `-q`
    /// exactly (NaN payloads aside), so this saves a multiplication.
    fn add(&mut self, a: Operand, b: Operand) -> Result<Operand, Error> {
        match (self.negated(b), self.negated(a)) {
            (Some(q), _) => self.bin(Op::Sub, a, q),
            (None, Some(q)) => self.bin(Op::Sub, b, q),
            (None, None) => self.bin(Op::Add, a, b),
        }
    }

    /// `q` if `a` is the instruction `-1*q`.
    fn negated(&self, a: Operand) -> Option<Operand> {
        let Operand::Instr(i) = a else { return None };
        match self.instrs[i as usize] {
            Instr {
                op: Op::Mul,
                args: [Operand::Const(c), q],
            } if c == (-1.0f64).to_bits() => Some(q),
            _ => None,
        }
    }

    fn un(&mut self, op: Op, a: Operand) -> Result<Operand, Error> {
        self.push(op, [a, Operand::constant(0.0)])
    }

    /// `b^e` for a constant `e`, as [`builtins::pow`] computes it.
    fn pow_const(&mut self, b: Operand, e: f64) -> Result<Operand, Error> {
        if let Some(n) = builtins::small_integer(e) {
            self.powi(b, n)
        } else if e == 0.5 {
            self.un(Op::Sqrt, b)
        } else if e == -0.5 {
            let s = self.un(Op::Sqrt, b)?;
            self.bin(Op::Div, Operand::constant(1.0), s)
        } else {
            self.bin(Op::Call(Callee::Powf), b, Operand::constant(e))
        }
    }

    /// The multiplications of [`builtins::powi`], one for one.
    fn powi(&mut self, x: Operand, n: i64) -> Result<Operand, Error> {
        let mut k = n.unsigned_abs();
        let mut base = match n < 0 {
            true => self.bin(Op::Div, Operand::constant(1.0), x)?,
            false => x,
        };
        let mut acc: Option<Operand> = None;
        while k > 0 {
            if k & 1 == 1 {
                acc = Some(match acc {
                    Some(a) => self.bin(Op::Mul, a, base)?,
                    None => base,
                });
            }
            k >>= 1;
            if k > 0 {
                base = self.bin(Op::Mul, base, base)?;
            }
        }
        Ok(acc.unwrap_or(Operand::constant(1.0)))
    }
}

/// Instructions computing `outputs` the way `eval.rs` does.
pub(super) fn lower(graph: &Graph, outputs: &[NodeId], n_vars: usize) -> Result<Program, Error> {
    let order = reachable(graph, outputs);
    let mut l = Lowering {
        instrs: Vec::with_capacity(order.len() * 2),
        interned: FastMap::with_capacity_and_hasher(order.len() * 2, Default::default()),
    };
    let mut value = vec![Operand::constant(0.0); order.last().map_or(0, |id| id.index() + 1)];
    let nan = Operand::constant(f64::NAN);
    for &id in &order {
        let v = |n: NodeId| value[n.index()];
        let lowered = match graph.node(id) {
            Node::Const(c) => Operand::constant(*c),
            Node::Var(i) if (*i as usize) < n_vars => Operand::Var(*i),
            Node::Var(_) => nan,
            Node::Param(_) | Node::Index(_) | Node::Read(_) | Node::Reduce(..) => {
                return Err(Error::new(
                    ErrorKind::Usage,
                    "for formulas with sums, parameters or data, only value and gradient are compiled yet (not the Hessian, check or bench of single outputs)",
                ));
            }
            Node::Sum(terms) if terms.is_empty() => Operand::constant(0.0),
            Node::Sum(terms) => sum_pairwise(terms, &mut |s| match s {
                SumStep::Term(t) => Ok(v(t)),
                SumStep::Add(a, b) => l.add(a, b),
            })?,
            Node::Product(factors) => {
                let mut num: Option<Operand> = None;
                let mut den: Option<Operand> = None;
                for &f in factors.iter() {
                    match denominator_exponent(graph, f) {
                        Some((b, e)) => {
                            let p = l.pow_const(v(b), e)?;
                            den = Some(match den {
                                Some(d) => l.bin(Op::Mul, d, p)?,
                                None => p,
                            });
                        }
                        None => {
                            num = Some(match num {
                                Some(n) => l.bin(Op::Mul, n, v(f))?,
                                None => v(f),
                            })
                        }
                    }
                }
                match (num, den) {
                    (Some(n), Some(d)) => l.bin(Op::Div, n, d)?,
                    (Some(n), None) => n,
                    (None, Some(d)) => l.bin(Op::Div, Operand::constant(1.0), d)?,
                    (None, None) => Operand::constant(1.0),
                }
            }
            Node::Pow([b, e]) => match graph.as_const(*e) {
                Some(e) => l.pow_const(v(*b), e)?,
                None => l.bin(Op::Call(Callee::Pow), v(*b), v(*e))?,
            },
            Node::Call1(f, [a]) => {
                let a = v(*a);
                match f {
                    Func::Abs => l.un(Op::Abs, a)?,
                    Func::Sign => l.un(Op::Sign, a)?,
                    Func::Floor => l.un(Op::Floor, a)?,
                    Func::Ceil => l.un(Op::Ceil, a)?,
                    // `apply1` of a two-argument function is NaN.
                    _ if f.arity() != 1 => nan,
                    _ => l.un(Op::Call(Callee::F1(*f)), a)?,
                }
            }
            Node::Call2(f, [a, b]) => {
                let (a, b) = (v(*a), v(*b));
                match f {
                    Func::Min => l.bin(Op::Min, a, b)?,
                    Func::Max => l.bin(Op::Max, a, b)?,
                    // `apply2` of a one-argument function is NaN.
                    _ if f.arity() != 2 => nan,
                    _ => l.bin(Op::Call(Callee::F2(*f)), a, b)?,
                }
            }
        };
        value[id.index()] = lowered;
    }
    Ok(Program {
        instrs: l.instrs,
        outputs: outputs.iter().map(|o| value[o.index()]).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jit::Compiled;
    use crate::jit::testing::{SPECIAL, check, exclusive};

    #[test]
    fn sums_products_and_powers_match_the_interpreter() {
        let _guard = exclusive();
        let mut g = Graph::new();
        let x = g.var(0);
        let y = g.var(1);
        let z = g.var(2);
        let mut outputs = Vec::new();
        for e in [
            2.0,
            3.0,
            5.0,
            7.0,
            16.0,
            1023.0,
            1024.0,
            1025.0,
            -1.0,
            -2.0,
            -3.0,
            -5.0,
            -1024.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            1.0 / 3.0,
            2.75,
            -0.25,
            1e6,
        ] {
            outputs.push(g.powc(x, e));
            let p = g.powc(y, e);
            outputs.push(g.mul(x, p));
        }
        let s = g.sum(&[x, y, z]);
        outputs.push(s);
        let s3 = g.powc(s, 3.0);
        outputs.push(s3);
        outputs.push(g.pow(x, y));
        outputs.push(g.pow(s, z));
        let two = g.constant(2.0);
        outputs.push(g.pow(two, x));
        let xy = g.mul(x, y);
        outputs.push(g.div(xy, z));
        outputs.push(g.div(x, y));
        let one = g.constant(1.0);
        outputs.push(g.div(one, x));
        let y2 = g.powc(y, 2.0);
        let zh = g.powc(z, 0.5);
        let den = g.mul(y2, zh);
        outputs.push(g.div(x, den));
        let three = g.constant(3.0);
        let x3 = g.mul(three, x);
        outputs.push(g.sub(x3, y));
        let d = g.sub(x, y);
        outputs.push(g.div(s, d));
        let zm = g.powc(z, -1.5);
        outputs.push(g.mul(xy, zm));
        let mut points = Vec::new();
        for &a in &SPECIAL {
            for &b in &[-2.0, -0.5, 0.0, 0.75, 3.0, f64::NAN] {
                points.push(vec![a, b, 1.25]);
                points.push(vec![b, a, -0.0]);
                points.push(vec![a, a, a]);
            }
        }
        check(&g, &outputs, 3, &points);
    }

    #[test]
    fn non_finite_results_propagate() {
        let _guard = exclusive();
        let mut g = Graph::new();
        let x = g.var(0);
        let m1 = g.constant(-1.0);
        let ln = g.call1(Func::Ln, m1);
        let zero = g.constant(0.0);
        let one = g.constant(1.0);
        let inv = g.div(one, zero);
        let lx = g.call1(Func::Ln, x);
        let big = g.constant(1e300);
        let bx = g.mul(big, x);
        let sq = g.powc(bx, 2.0);
        let c = Compiled::compile(&g, &[ln, inv, lx, sq], 1).unwrap();
        let mut out = [0.0; 4];
        c.call(&[-2.0], &mut out);
        assert!(out[0].is_nan());
        assert_eq!(out[1], f64::INFINITY);
        assert!(out[2].is_nan());
        assert_eq!(out[3], f64::INFINITY);
        c.call(&[0.0], &mut out);
        assert_eq!(out[2], f64::NEG_INFINITY);
        check(
            &g,
            &[ln, inv, lx, sq],
            1,
            &[vec![-2.0], vec![0.0], vec![1e-10]],
        );
    }

    #[test]
    fn leaves_as_outputs_and_missing_variables() {
        let _guard = exclusive();
        let mut g = Graph::new();
        let x = g.var(0);
        let far = g.var(5);
        let c = g.constant(2.5);
        let s = g.add(x, far);
        let compiled = Compiled::compile(&g, &[x, c, far, s, x], 1).unwrap();
        assert_eq!((compiled.n_vars(), compiled.n_outputs()), (1, 5));
        let mut out = [0.0; 5];
        compiled.call(&[4.0], &mut out);
        assert_eq!(out[..2], [4.0, 2.5]);
        assert!(out[2].is_nan() && out[3].is_nan());
        assert_eq!(out[4], 4.0);
        let none = Compiled::compile(&g, &[], 0).unwrap();
        none.call(&[], &mut []);
    }

    /// Long products: the prefix products of the gradient share the value's
    /// multiplications (with a coefficient too), and the schedule stores
    /// each partial as soon as its suffix product is ready.
    #[test]
    fn long_product_gradients_match_the_interpreter() {
        let _guard = exclusive();
        let mut g = Graph::new();
        let xs: Vec<NodeId> = (0..40).map(|i| g.var(i)).collect();
        let p = g.product(&xs);
        let mut factors = vec![g.constant(-2.5)];
        factors.extend_from_slice(&xs);
        let scaled = g.product(&factors);
        let few = g.product(&xs[..6]);
        let quotient = g.div(few, xs[6]);
        let mut outputs = Vec::new();
        for f in [p, scaled, quotient] {
            outputs.push(f);
            outputs.extend(crate::diff::gradient(&mut g, f, &xs));
        }
        let point = |k: usize| -> Vec<f64> {
            (0..40)
                .map(|i| [0.5, -1.25, 2.0, 0.75, -0.0, 1.5][(i + k) % 6] + (i as f64) / 64.0)
                .collect()
        };
        check(
            &g,
            &outputs,
            40,
            &[point(0), point(1), point(4), vec![1.0; 40]],
        );
        // The value's 39 multiplications are the prefix products.
        let compiled = lower(&g, &outputs[..41], 40).unwrap();
        let muls = compiled.instrs.iter().filter(|i| i.op == Op::Mul).count();
        assert_eq!(muls, 39 + 38 + 38, "value, suffix products, partials");
        let compiled = lower(&g, &outputs[41..82], 40).unwrap();
        let muls = compiled.instrs.iter().filter(|i| i.op == Op::Mul).count();
        // One more: the partial of x1 is `c*(x1*suffix)`, since the sum that
        // makes an adjoint keeps a term's coefficient apart.
        assert_eq!(muls, 40 + 38 + 39 + 1, "the same with the coefficient");
    }
}
