//! Canonicalising constructors: the only way nodes enter a [`Graph`].
//!
//! Each constructor folds constants, applies identities (`0+a`, `1*a`, `a^1`,
//! `a^0`, `a-a`, `a/a`), flattens nested sums and products and collects like
//! terms and powers (`2*x + 3*x` → `5*x`, `x*x` → `x^2`). Terms and factors
//! are sorted by a key that depends only on structure, so `x + y` and `y + x`
//! are the same node and `x - x` cancels.
//!
//! Symbolic conventions: `a/a` and `a^0` are 1 and `0*a` is 0 even where `a`
//! would be 0, infinite or NaN, as in every computer algebra system; the
//! graph describes the function away from such removable points. So is
//! cancelling a common factor of powers of one base (`x^2/x` is `x`,
//! `x/x^3` is `x^-2`, `x^0.5/x^0.5` is 1: defined at `x = 0`, and for the
//! root at `x = -1`, where the written quotient is NaN). No other
//! rewrite changes where a formula is defined: `(b^p)^q` becomes `b^(pq)`
//! and powers of one base collect only where the result, but for a
//! cancelled factor, is undefined wherever the written form is
//! (`sqrt(x)^2` is not `x`), and an integer
//! power of a product is distributed only over its constant (and over
//! everything for the power -1), so that `(x/y)^2` does not overflow where
//! `x^2/y^2` would.
//!
//! Invariant: a folded constant is always finite, and never -0 (which the
//! language cannot write). An operation on constants whose result would be
//! NaN or infinite (`ln(-1)`, `1/0`) stays an operation, so evaluation can
//! report where it went wrong. Constants in a product multiply without
//! overflowing or underflowing on the way, and fold into one only if a
//! double holds their product without loss; if it is too large it stays as
//! `m*2^1023*...`, if too small as `m*2^-1022*...`, after the other
//! factors. So `x/1e200/1e200` is not 0 at `x = 1e300`: a folded constant
//! is the exact product rounded once, and `c*x` is the text's value (up to
//! rounding) wherever the text's own steps are normal.
//!
//! The forms are chosen so that printing is a fixed point of print-then-parse
//! (checked by `tests/it/properties.rs` and the `roundtrip` fuzz target).

use rustc_hash::FxHashMap;

use crate::ast::ReduceOp;
use crate::builtins::{self, Func};
use crate::graph::{Graph, Node, NodeId, Reduce};

/// Sums with more terms than this are kept whole inside a larger sum instead
/// of being spliced in, so that a chain of definitions `let s2 = s1 + x2`,
/// `let s3 = s2 + x3`, ... stays linear in size.
const FLATTEN_SUM: usize = 256;

/// Products with more factors than this are kept whole inside a larger
/// product. The chain rule multiplies adjoints level by level: through
/// `sin(sin(...(x)))` the adjoint of level k has k factors, so splicing
/// them would make the gradient quadratic in the depth.
const FLATTEN_PRODUCT: usize = 16;

/// How many times a product is collected again after a power folds into
/// another base or a product, or a sum after a term becomes a sum (see
/// [`Graph::product`], [`Graph::sum`]).
const COLLECT_ROUNDS: usize = 8;

/// Products with more non-constant factors than this are differentiated with
/// prefix and suffix products (linear), not one product per factor (quadratic).
pub(crate) const SMALL_PRODUCT: usize = 3;

mod order;
mod scaled;

use scaled::Scaled;

impl Graph {
    /// A constant. Non-finite values are refused by the callers (literals are
    /// checked by the parser, folds by [`finite`]). A fold that gives -0
    /// (`ceil(-0.5)`) gives 0: the language has no way to write -0, so a
    /// printed -0 would read back as 0 with another meaning (`1/-0`).
    pub fn constant(&mut self, c: f64) -> NodeId {
        debug_assert!(c.is_finite());
        let c = if c == 0.0 { 0.0 } else { c };
        self.intern(Node::Const(c))
    }

    /// The variable number `index`.
    pub fn var(&mut self, index: u32) -> NodeId {
        self.intern(Node::Var(index))
    }

    /// A parameter, loop index or array read (any other node is refused:
    /// they are made by their own constructors).
    pub fn leaf(&mut self, node: Node) -> NodeId {
        debug_assert!(matches!(
            node,
            Node::Param(_) | Node::Index(_) | Node::Read(_)
        ));
        self.intern(node)
    }

    /// A reduction of `body`. Over ranges of fixed numbers, a body that
    /// uses none of its indices (and is not a constant) is folded: the sum
    /// is the count of index tuples times the body, the product the body
    /// to that power
    /// (`sum(i in 1..10^10, x)` took 10¹⁰ additions per evaluation, and
    /// rounded each). Ranges with parameters stay loops, since their
    /// length is known only when parameters are bound.
    pub fn reduce(&mut self, reduce: Reduce, body: NodeId) -> NodeId {
        if self.as_const(body) == Some(0.0) && reduce.op == ReduceOp::Sum {
            return body;
        }
        if self.as_const(body) == Some(1.0) && reduce.op == ReduceOp::Prod {
            return body;
        }
        // A constant body stays a loop: its sum or product, rounded term by
        // term, is the unrolled formula's constant to the bit, and
        // `count*c` or `c^count` need not be.
        if self.meta(body).levels & reduce.own_levels() == 0
            && self.as_const(body).is_none()
            && let Some(count) = fixed_count(&reduce)
        {
            return match reduce.op {
                ReduceOp::Sum => self.scale(count, body),
                ReduceOp::Prod => self.powc(body, count),
            };
        }
        self.intern(Node::Reduce(Box::new(reduce), [body]))
    }

    /// `a + b`.
    pub fn add(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.sum(&[a, b])
    }

    /// `a - b`.
    pub fn sub(&mut self, a: NodeId, b: NodeId) -> NodeId {
        let nb = self.neg(b);
        self.sum(&[a, nb])
    }

    /// `-a`.
    pub fn neg(&mut self, a: NodeId) -> NodeId {
        self.scale(-1.0, a)
    }

    /// `a * b`.
    pub fn mul(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.product(&[a, b])
    }

    /// `a / b`.
    pub fn div(&mut self, a: NodeId, b: NodeId) -> NodeId {
        let inv = self.powc(b, -1.0);
        self.product(&[a, inv])
    }

    /// `c * a`.
    pub fn scale(&mut self, c: f64, a: NodeId) -> NodeId {
        let c = self.constant(c);
        self.product(&[c, a])
    }

    /// `a ^ c` for a constant exponent.
    pub fn powc(&mut self, a: NodeId, c: f64) -> NodeId {
        let c = self.constant(c);
        self.pow(a, c)
    }

    /// The canonical sum of `terms`.
    pub fn sum(&mut self, terms: &[NodeId]) -> NodeId {
        let mut terms = terms.to_vec();
        // Collecting like terms can make a sum a term again (`s/2 + s/2`,
        // `-s/2 - s/2`): it is spliced in as parsing its printed form would.
        // It can also merge a coefficient into overflowing constants, which
        // changes the term's place, and may make it like another.
        let mut round = 1;
        loop {
            let (out, merged) = match self.sum_round(&terms) {
                Ok(id) => return id,
                Err(out) => out,
            };
            let again = merged || out.iter().any(|&t| self.spliced_sum(t).is_some());
            if round == COLLECT_ROUNDS || !again {
                return self.intern(Node::Sum(out.into()));
            }
            terms = out;
            round += 1;
        }
    }

    /// One round of [`Graph::sum`]: the sum's node, or its terms if there
    /// is more than one, and whether a coefficient was merged into
    /// overflowing constants.
    fn sum_round(&mut self, terms: &[NodeId]) -> Result<NodeId, (Vec<NodeId>, bool)> {
        let mut flat = Vec::with_capacity(terms.len());
        for &t in terms {
            match self.spliced_sum(t) {
                Some((false, s)) => flat.extend_from_slice(self.node(s).children()),
                Some((true, s)) => {
                    for t in self.node(s).children().to_vec() {
                        flat.push(self.neg(t));
                    }
                }
                None => flat.push(t),
            }
        }
        let mut constant = 0.0;
        let mut like = Collector::default();
        for &t in &flat {
            match self.split_coefficient(t) {
                (c, None) => constant += c,
                (c, Some(rest)) => like.add(rest, c),
            }
        }
        if !constant.is_finite() || like.items.iter().any(|(_, c)| !c.is_finite()) {
            return Ok(self.uncollected(Node::Sum, flat));
        }
        // 0*a drops out, unless `a` is or has a factor that is an operation
        // on constants that is not finite (`x + 0/0` stays NaN).
        like.items
            .retain(|&(rest, c)| c != 0.0 || self.has_constant_operation(rest));
        like.items.sort_by(|a, b| self.term_order(a.0, b.0));
        let merged = like
            .items
            .iter()
            .any(|&(rest, c)| c.abs() != 1.0 && self.has_overflowing_constants(rest));
        let mut out: Vec<NodeId> = like
            .items
            .iter()
            .map(|&(rest, c)| self.with_coefficient(c, rest))
            .collect();
        if constant != 0.0 || out.is_empty() {
            out.push(self.constant(constant));
        }
        match out.len() {
            1 => Ok(out[0]),
            _ => Err((out, merged)),
        }
    }

    /// A sum whose terms a sum takes in place of `t`, and whether they are
    /// negated: `t` itself, or `s` for `t = -s` (`-(a + b)` is `-a - b`, so
    /// that `s - s` cancels). Sums larger than [`FLATTEN_SUM`] stay whole.
    fn spliced_sum(&self, t: NodeId) -> Option<(bool, NodeId)> {
        let small = |s: NodeId| match self.node(s) {
            Node::Sum(ts) => self.flatten_all || ts.len() <= FLATTEN_SUM,
            _ => false,
        };
        match self.node(t) {
            Node::Sum(_) if small(t) => Some((false, t)),
            Node::Product(fs)
                if fs.len() == 2 && self.as_const(fs[0]) == Some(-1.0) && small(fs[1]) =>
            {
                Some((true, fs[1]))
            }
            _ => None,
        }
    }

    /// The canonical product of `factors`.
    pub fn product(&mut self, factors: &[NodeId]) -> NodeId {
        let mut flat = Vec::with_capacity(factors.len());
        for &f in factors {
            // A product of the other factors of a `prod`, in a graph made
            // for printing, prints as the products it is (`print.rs`).
            let marked = self.flatten_all && self.product_of_others(f).is_some();
            match self.node(f) {
                _ if marked => flat.push(f),
                Node::Product(fs)
                    if self.flatten_all || (fs.len() <= FLATTEN_PRODUCT && !self.is_chain(f)) =>
                {
                    flat.extend_from_slice(fs)
                }
                // One kept whole gives up its coefficient, so that `-(p/2)`
                // is `-0.5*p` and not `-1*(0.5*p)`.
                Node::Product(fs) if !self.is_chain(f) && self.as_const(fs[0]).is_some() => {
                    let (c, rest) = (fs[0], fs[1..].to_vec());
                    flat.push(c);
                    flat.push(self.intern(Node::Product(rest.into())));
                }
                _ => flat.push(f),
            }
        }
        // A power that folds back into a product, as `(x*y)^0.5 * (x*y)^0.5`
        // does, or into a power of another base, is collected once more.
        // Each round removes a level of nesting; deeper ones stay apart.
        for _round in 0..COLLECT_ROUNDS {
            // The constants, multiplied without overflow or underflow: they
            // fold into one only if a double holds their product without
            // loss (see `Scaled::value`).
            let mut constants = Scaled::ONE;
            let mut powers = Collector::default();
            // Non-integer exponents of each base, apart: see `fractions`.
            let mut fractions = Collector::default();
            let mut parts: Vec<(NodeId, f64)> = Vec::new();
            for &f in &flat {
                match *self.node(f) {
                    Node::Const(c) => constants = constants.times(c),
                    Node::Pow([b, e]) if self.as_const(e).is_some_and(|e| e.fract() != 0.0) => {
                        let e = self.as_const(e).unwrap_or(0.5);
                        fractions.add(b, e);
                        parts.push((b, e));
                    }
                    Node::Pow([b, e]) if self.as_const(e).is_some() => {
                        powers.add(b, self.as_const(e).unwrap_or(1.0))
                    }
                    _ => powers.add(f, 1.0),
                }
            }
            if powers.items.iter().any(|(_, e)| !e.is_finite()) {
                return self.uncollected(Node::Product, flat);
            }
            // Powers of a base whose non-integer exponents add up to a
            // non-integer collect into one (`x*x^0.5` is `x^1.5`, defined
            // where they are, for x >= 0). If they add up to 0 they cancel,
            // as `a/a` does. If they add up to another integer they stay
            // apart, `x^0.5*x^0.5` is not `x`, which is defined at x = -1,
            // unless the base is never negative (`sqrt(y^2)*sqrt(y^2)`).
            for &(base, f) in &fractions.items {
                if f.fract() != 0.0 || self.is_nonnegative(base) {
                    powers.add(base, f);
                } else if f != 0.0 {
                    let kept = parts.iter().filter(|&&(b, _)| b == base);
                    powers.items.extend(kept);
                }
            }
            let Some(mut coefficient) = constants.value() else {
                return self.overflowing_product(flat);
            };
            // 0*a is 0, unless `a` is an operation on constants that is not
            // finite (`0/0`): that stays, so that evaluation reports it.
            // It takes the form a sum gives `a - a` (`0*a`, coefficient
            // first), so that it prints and reads back as itself.
            if coefficient == 0.0 {
                if flat.iter().any(|&f| self.is_constant_operation(f)) {
                    let others: Vec<NodeId> = flat
                        .iter()
                        .copied()
                        .filter(|&f| self.as_const(f).is_none())
                        .collect();
                    let rest = self.product(&others);
                    return self.with_coefficient(0.0, rest);
                }
                return self.constant(0.0);
            }
            powers.items.retain(|&(_, e)| e != 0.0);
            powers
                .items
                .sort_by(|a, b| self.factor_order(a.0, b.0).then(a.1.total_cmp(&b.1)));
            let mut out = Vec::with_capacity(powers.items.len() + 1);
            let mut spliced = false;
            for &(base, e) in &powers.items {
                let f = self.powc(base, e);
                match self.node(f) {
                    Node::Const(c) => constants = constants.times(*c),
                    Node::Product(fs) if f != base && !self.is_chain(f) => {
                        out.extend_from_slice(fs);
                        spliced = true;
                    }
                    // `(b^0.5)^-1` is `b^-0.5`, which may collect with
                    // another power of `b`; so may `(b^2)^0.5 * (b^2)^0.5`,
                    // which is `b^2` itself.
                    Node::Pow([b, e])
                        if *b != base && (f != base || self.as_const(*e).is_some()) =>
                    {
                        out.push(f);
                        spliced = true;
                    }
                    _ => out.push(f),
                }
            }
            match constants.value() {
                Some(c) => coefficient = c,
                None => return self.overflowing_product(flat),
            }
            if spliced {
                let c = self.constant(coefficient);
                out.push(c);
                flat = out;
                continue;
            }
            if out.is_empty() {
                return self.constant(coefficient);
            }
            if coefficient != 1.0 {
                out.insert(0, self.constant(coefficient));
            }
            return match out.len() {
                1 => out[0],
                _ => self.intern(Node::Product(out.into())),
            };
        }
        self.uncollected(Node::Product, flat)
    }

    /// `base ^ exponent`.
    pub fn pow(&mut self, base: NodeId, exponent: NodeId) -> NodeId {
        // `e^b` is `exp(b)`, which differentiates to itself. Here, not only
        // in the parser, so that a power of `e` made by a rewrite
        // (`(e*z)^n = e^n*z^n`, kept when it overflows) reads back as itself.
        if self.as_const(base) == Some(std::f64::consts::E) {
            return self.call1(Func::Exp, exponent);
        }
        if let Some(e) = self.as_const(exponent) {
            if e == 0.0 {
                return self.constant(1.0);
            }
            if e == 1.0 {
                return base;
            }
            if let Some(b) = self.as_const(base)
                && let Some(v) = finite(builtins::pow(b, e))
            {
                return self.constant(v);
            }
            // Every negative power of +0 is +infinity: keep one form of it.
            if e < 0.0 && e != -1.0 && self.as_const(base).is_some_and(|b| b.to_bits() == 0) {
                return self.powc(base, -1.0);
            }
            if e.fract() == 0.0
                && let Node::Product(fs) = self.node(base)
                && !self.is_chain(base)
            {
                let fs = fs.clone();
                // (x*y)^-1 = x^-1 * y^-1, so that `1/(x/y)` is `y/x`.
                if e == -1.0 {
                    let powers: Vec<NodeId> = fs.iter().map(|&f| self.powc(f, e)).collect();
                    return self.product(&powers);
                }
                // (c*x*y)^n = c^n * (x*y)^n when c^n is a normal double.
                // The other factors stay under the power: `x^n*y^n`
                // overflows where `(x*y)^n` need not (`(x/y)^2` at
                // x = y = 1e200).
                if let Some(c) = self.as_const(fs[0])
                    && let cn = builtins::pow(c, e)
                    && cn.is_normal()
                {
                    let rest = self.product(&fs[1..]);
                    let p = self.powc(rest, e);
                    let cn = self.constant(cn);
                    return self.product(&[cn, p]);
                }
            }
            // (b^k)^n = b^(k*n) for integer n, where both sides have the
            // same domain: `k` an integer, `k*n` not one, or `b` never
            // negative (`(x^0.5)^2` is not `x`, which is defined at x = -1).
            if let Node::Pow([b, k]) = *self.node(base)
                && let Some(k) = self.as_const(k)
                && e.fract() == 0.0
                && (k * e).is_finite()
                && (k.fract() == 0.0 || (k * e).fract() != 0.0 || self.is_nonnegative(b))
            {
                return self.powc(b, k * e);
            }
        }
        if self.as_const(base) == Some(1.0) {
            return base;
        }
        self.intern(Node::Pow([base, exponent]))
    }

    /// A one-argument function.
    pub fn call1(&mut self, f: Func, a: NodeId) -> NodeId {
        if let Some(c) = self.as_const(a)
            && let Some(v) = finite(f.apply1(c))
        {
            return self.constant(v);
        }
        match (f, self.node(a)) {
            (Func::Ln, &Node::Call1(Func::Exp, [x])) => return x,
            (Func::Abs, Node::Call1(Func::Abs, _)) => return a,
            (Func::Sign | Func::Floor | Func::Ceil, &Node::Call1(g, _)) if g == f => return a,
            _ => {}
        }
        self.intern(Node::Call1(f, [a]))
    }

    /// A two-argument function.
    pub fn call2(&mut self, f: Func, a: NodeId, b: NodeId) -> NodeId {
        if let (Some(x), Some(y)) = (self.as_const(a), self.as_const(b))
            && let Some(v) = finite(f.apply2(x, y))
        {
            return self.constant(v);
        }
        if a == b && matches!(f, Func::Min | Func::Max) {
            return a;
        }
        self.intern(Node::Call2(f, [a, b]))
    }

    /// `id` rebuilt in a new graph by the constructors, with sums and
    /// products flattened however large: the form the printed text of `id`
    /// reads back as. `None` if `id` is already in that form, which it is
    /// unless it holds products nested in products (the prefix and suffix
    /// products of the reverse sweep, large products kept whole) or an
    /// `xlogy`, which reads back as `a*ln(b)`. A product of the other
    /// factors of a `prod` keeps its mark and stays whole: it prints as the
    /// products before and after the factor (`print.rs`).
    ///
    /// Flattening a chain of `n` nested products makes `n` products of up
    /// to `n` factors each, quadratic in `n` (a 10,000-deep `x^x^…^x` took
    /// 945 MB and 13 s before the printer refused the text). So the
    /// rebuild stops with `Err(())` once the text is sure to be longer than
    /// `max_bytes`: when a node made would print longer ([`printed_at_least`],
    /// counting each use of a shared node), or the factors and terms of the
    /// sums and products made number more (each prints at least once).
    /// Both take the node made to be printed, as it is unless constructors
    /// cancel it away (`a - b` where `a` and `b` flatten alike), which a
    /// printed derivative does not meet.
    pub(crate) fn flattened(
        &self,
        id: NodeId,
        max_bytes: usize,
    ) -> std::result::Result<Option<(Graph, NodeId)>, ()> {
        let nodes = crate::graph::reachable(self, &[id]);
        let rewritten = |n: NodeId| matches!(self.node(n), Node::Call2(Func::Xlogy, _));
        if !nodes.iter().any(|&n| self.is_chain(n) || rewritten(n)) {
            return Ok(None);
        }
        let mut entries = 0usize;
        // By node of `g`, the least its text can be.
        let mut sizes: Vec<u64> = Vec::new();
        let mut g = Graph::new();
        g.flatten_all = true;
        let mut map: Vec<Option<NodeId>> = vec![None; id.index() + 1];
        for &n in &nodes {
            let m = |c: &NodeId| map[c.index()].unwrap_or(*c);
            let made_before = g.len();
            let new = match self.node(n) {
                Node::Const(c) => g.constant(*c),
                Node::Var(v) => g.var(*v),
                Node::Sum(ts) => g.sum(&ts.iter().map(m).collect::<Vec<_>>()),
                Node::Product(fs) => g.product(&fs.iter().map(m).collect::<Vec<_>>()),
                Node::Pow([b, e]) => g.pow(m(b), m(e)),
                Node::Call1(f, [a]) => g.call1(*f, m(a)),
                // Printed as the product it equals wherever `ln(b)` is
                // finite (it is also 0 at a = 0, which the text omits).
                Node::Call2(Func::Xlogy, [a, b]) => {
                    let ln = g.call1(Func::Ln, m(b));
                    g.mul(m(a), ln)
                }
                Node::Call2(f, [a, b]) => g.call2(*f, m(a), m(b)),
                Node::Param(_) | Node::Index(_) | Node::Read(_) => g.leaf(self.node(n).clone()),
                Node::Reduce(r, [body]) => g.reduce(r.as_ref().clone(), m(body)),
            };
            if let Some((r, body)) = self.product_of_others(n) {
                g.mark_product_of_others(new, r.clone(), m(body));
            }
            map[n.index()] = Some(new);
            // A node met again (interned before) is counted once.
            if let (true, Node::Sum(list) | Node::Product(list)) =
                (new.index() >= made_before, g.node(new))
            {
                entries += list.len();
            }
            // Children come before parents, so each size is of sizes known.
            for k in sizes.len()..g.len() {
                sizes.push(g.printed_at_least(NodeId(k as u32), &sizes));
            }
            if entries > max_bytes || sizes[new.index()] > max_bytes as u64 {
                return Err(());
            }
        }
        Ok(Some((g, map[id.index()].unwrap_or(id))))
    }

    /// The fewest bytes the printer can write for `id` (in either syntax),
    /// `sizes` holding its children's: each use of a child prints it
    /// whole. A name is at least a byte, a call its name and parentheses
    /// (`e^{}` in LaTeX), a sum one operator between terms, a product one
    /// between its factors that are not numbers; a number may not print at
    /// all (a coefficient of -1, a power's -1 or 0.5), nor may the product
    /// of the other factors of a `prod`, printed another way, count its
    /// factors.
    fn printed_at_least(&self, id: NodeId, sizes: &[u64]) -> u64 {
        let of = |c: &NodeId| sizes[c.index()];
        let add = |cs: &[NodeId]| cs.iter().map(of).fold(0u64, u64::saturating_add);
        match self.node(id) {
            Node::Const(_) => 0,
            _ if self.product_of_others(id).is_some() => 1,
            Node::Var(_) | Node::Param(_) | Node::Index(_) | Node::Read(_) => 1,
            Node::Sum(ts) => add(ts).saturating_add(ts.len().saturating_sub(1) as u64),
            Node::Product(fs) => {
                let names = fs.iter().filter(|f| self.as_const(**f).is_none()).count();
                add(fs).saturating_add(names.saturating_sub(1) as u64)
            }
            Node::Pow(be) => add(be),
            Node::Call1(_, a) => add(a).saturating_add(4),
            Node::Call2(_, ab) => add(ab).saturating_add(4),
            Node::Reduce(_, body) => add(body).saturating_add(4),
        }
    }

    /// Whether `id` is nowhere negative where it is defined: a power with a
    /// non-integer or even exponent, `abs`, `exp`, `cosh`, `hypot`, or a
    /// positive constant. Any power of it is defined where it is.
    fn is_nonnegative(&self, id: NodeId) -> bool {
        match self.node(id) {
            Node::Const(c) => *c >= 0.0,
            Node::Pow([_, e]) => self
                .as_const(*e)
                .is_some_and(|e| e.fract() != 0.0 || e % 2.0 == 0.0),
            Node::Call1(f, _) => matches!(f, Func::Abs | Func::Exp | Func::Cosh),
            Node::Call2(f, _) => *f == Func::Hypot,
            _ => false,
        }
    }

    /// A product of two factors kept as it is, without flattening: the
    /// prefix and suffix products of the reverse sweep, each of constant size.
    pub(crate) fn chain_product(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.intern(Node::Product([a, b].into()))
    }

    /// A product some of whose factors are products, as built by
    /// [`Graph::chain_product`]: it is never spliced into another product.
    pub(crate) fn is_chain(&self, id: NodeId) -> bool {
        match self.node(id) {
            Node::Product(fs) => fs.iter().any(|&f| matches!(self.node(f), Node::Product(_))),
            _ => false,
        }
    }

    /// `c * rest` where `rest` carries no coefficient.
    fn with_coefficient(&mut self, c: f64, rest: NodeId) -> NodeId {
        if c == 1.0 {
            return rest;
        }
        let mut rest = rest;
        if self.has_overflowing_constants(rest) {
            if c != 0.0 {
                let c = self.constant(c);
                return self.product(&[c, rest]);
            }
            // 0 times them is 0: they go.
            let fs = self.node(rest).children().to_vec();
            let others: Vec<NodeId> = fs
                .into_iter()
                .filter(|&f| self.as_const(f).is_none())
                .collect();
            rest = match others.as_slice() {
                [] => return self.constant(0.0),
                [f] => *f,
                _ => self.intern(Node::Product(others.into())),
            };
        }
        let c = self.constant(c);
        let factors: Vec<NodeId> = match self.node(rest) {
            Node::Product(fs) if !self.is_chain(rest) => {
                std::iter::once(c).chain(fs.iter().copied()).collect()
            }
            _ => vec![c, rest],
        };
        self.intern(Node::Product(factors.into()))
    }

    /// A term as `(coefficient, rest)`; `rest` is `None` for a constant.
    fn split_coefficient(&mut self, t: NodeId) -> (f64, Option<NodeId>) {
        // The sign of overflowing constants is the term's, so that `t - t`
        // cancels.
        if self.has_overflowing_constants(t) {
            let mut fs = self.node(t).children().to_vec();
            let negative = fs
                .iter()
                .enumerate()
                .find_map(|(k, &f)| self.as_const(f).filter(|&c| c < 0.0).map(|c| (k, c)));
            return match negative {
                Some((k, c)) => {
                    fs[k] = self.constant(-c);
                    (-1.0, Some(self.intern(Node::Product(fs.into()))))
                }
                None => (1.0, Some(t)),
            };
        }
        match self.node(t) {
            Node::Const(c) => (*c, None),
            Node::Product(fs) => match self.as_const(fs[0]) {
                Some(c) if fs.len() == 2 => (c, Some(fs[1])),
                Some(c) => {
                    let rest: Box<[NodeId]> = fs[1..].into();
                    (c, Some(self.intern(Node::Product(rest))))
                }
                None => (1.0, Some(t)),
            },
            _ => (1.0, Some(t)),
        }
    }

    /// A product whose constant factors multiply beyond the largest double,
    /// or below what a double holds without loss.
    ///
    /// Multiplied in another order they may not: `1e300*1e300*1e-300` folds
    /// to `1e300`. If they do, the other factors are collected as usual and
    /// the constants follow them, as `m*2^1023*...*2^1023` (or
    /// `m*2^-1022*...`: their exact product but for one rounding): a form
    /// that reads back as itself, that evaluates to 0 rather than NaN
    /// (inf*0) where another factor is 0, and to `x*1e-400` rather than 0.
    fn overflowing_product(&mut self, flat: Vec<NodeId>) -> NodeId {
        let (constants, mut others): (Vec<NodeId>, Vec<NodeId>) =
            flat.iter().partition(|&&f| self.as_const(f).is_some());
        if constants.is_empty() {
            return self.uncollected(Node::Product, flat);
        }
        let mut scaled = Scaled::ONE;
        for &c in &constants {
            scaled = scaled.times(self.as_const(c).unwrap_or(1.0));
        }
        let rest = self.product(&others);
        others = match self.node(rest) {
            Node::Product(fs) if !self.is_chain(rest) => fs.to_vec(),
            _ => vec![rest],
        };
        others.retain(|&f| match self.as_const(f) {
            Some(c) => {
                scaled = scaled.times(c);
                false
            }
            None => true,
        });
        if let Some(c) = scaled.value() {
            let c = self.constant(c);
            others.push(c);
            return self.product(&others);
        }
        let constants = scaled.factors().map(|c| self.constant(c));
        others.extend(constants);
        self.intern(Node::Product(others.into()))
    }

    /// An operation on constants that was not folded, because its value is
    /// not finite (`ln(-1)`, `0/0`, `1e200^2`).
    fn is_constant_operation(&self, id: NodeId) -> bool {
        self.meta(id).first_var == u32::MAX && self.as_const(id).is_none()
    }

    /// Whether `id` is a constant operation or a product with one as a factor.
    fn has_constant_operation(&self, id: NodeId) -> bool {
        self.is_constant_operation(id)
            || matches!(self.node(id), Node::Product(fs) if fs.iter().any(|&f| self.is_constant_operation(f)))
    }

    /// A product whose constant factors could not be folded
    /// ([`Graph::overflowing_product`]): its constants come last.
    fn has_overflowing_constants(&self, id: NodeId) -> bool {
        match self.node(id) {
            Node::Product(fs) => {
                fs.len() > 1 && fs.last().is_some_and(|&f| self.as_const(f).is_some())
            }
            _ => false,
        }
    }

    /// The node of operands whose constants would overflow when folded: they
    /// stay apart, and evaluation reports the overflow.
    fn uncollected(&mut self, make: fn(Box<[NodeId]>) -> Node, mut ops: Vec<NodeId>) -> NodeId {
        ops.sort_by(|a, b| self.term_order(*a, *b));
        self.intern(make(ops.into()))
    }
}

/// `Some(v)` if `v` may become a constant.
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Collects like terms (or powers of one base), keeping first-seen order.
#[derive(Default)]
struct Collector {
    items: Vec<(NodeId, f64)>,
    index: FxHashMap<NodeId, usize>,
}

impl Collector {
    fn add(&mut self, key: NodeId, amount: f64) {
        match self.index.get(&key) {
            Some(&i) => self.items[i].1 += amount,
            None => {
                self.index.insert(key, self.items.len());
                self.items.push((key, amount));
            }
        }
    }
}

/// The number of index tuples of a reduction whose ranges are all fixed
/// numbers (none reads a parameter or an enclosing index), exact up to
/// 2⁵³; `None` otherwise.
fn fixed_count(reduce: &Reduce) -> Option<f64> {
    reduce.ranges.iter().try_fold(1.0, |count, range| {
        let (lo, hi) = (range.lo.as_constant()?, range.hi.as_constant()?);
        let length = (i128::from(hi) - i128::from(lo) + 1).max(0);
        Some(count * length as f64)
    })
}

#[cfg(test)]
mod tests;
