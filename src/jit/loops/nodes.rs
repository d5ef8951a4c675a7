//! One node of a loop body as Cranelift instructions: arithmetic, calls,
//! constant powers, negated twins of products, and nested reductions.

use super::invariant::reloadable;
use super::*;

/// Whether the emitter computes `f` with instructions of its own rather
/// than a call (the arms of [`Emitter::node`] for `Call1` and `Call2`):
/// what [`Emitter::calls`] reads to know that a loop body keeps no
/// register across a call.
pub(super) fn inlined(f: Func) -> bool {
    matches!(
        f,
        Func::Abs | Func::Floor | Func::Ceil | Func::Sign | Func::Min | Func::Max
    )
}

/// Whether [`Emitter::pow_const`] calls `powf` for the exponent `e` (it
/// multiplies for a small integer and takes a square root for ±1/2).
pub(super) fn pow_calls(e: f64) -> bool {
    small_integer(e).is_none() && e != 0.5 && e != -0.5
}

impl Emitter<'_, '_> {
    pub(super) fn import(&mut self, callee: Callee) -> Result<cranelift_codegen::ir::FuncRef> {
        let id = match self.imports.get(&callee) {
            Some(&id) => id,
            None => {
                let id = declare(self.module, callee)?;
                self.imports.insert(callee, id);
                id
            }
        };
        Ok(self.module.declare_func_in_func(id, self.b.func))
    }

    pub(super) fn call(&mut self, callee: Callee, args: &[Value]) -> Result<Value> {
        let f = self.import(callee)?;
        let call = self.b.ins().call(f, args);
        Ok(self.b.inst_results(call)[0])
    }

    /// `builtins::pow(b, e)` for a constant `e`, with its operations.
    pub(super) fn pow_const(&mut self, b: Value, e: f64) -> Result<Value> {
        if let Some(n) = small_integer(e) {
            // `builtins::powi`'s binary powering, multiplication by
            // multiplication.
            let mut k = n.unsigned_abs();
            let mut base = match n < 0 {
                true => {
                    let one = self.b.ins().f64const(1.0);
                    self.b.ins().fdiv(one, b)
                }
                false => b,
            };
            let mut acc: Option<Value> = None;
            while k > 0 {
                if k & 1 == 1 {
                    acc = Some(match acc {
                        Some(a) => self.b.ins().fmul(a, base),
                        None => base,
                    });
                }
                k >>= 1;
                if k > 0 {
                    base = self.b.ins().fmul(base, base);
                }
            }
            return Ok(match acc {
                Some(p) => p,
                None => self.b.ins().f64const(1.0),
            });
        }
        if e == 0.5 {
            return Ok(self.b.ins().sqrt(b));
        }
        if e == -0.5 {
            let s = self.b.ins().sqrt(b);
            let one = self.b.ins().f64const(1.0);
            return Ok(self.b.ins().fdiv(one, s));
        }
        let e = self.b.ins().f64const(e);
        self.call(Callee::Powf, &[b, e])
    }

    /// The key of a product with exactly one constant factor, and that
    /// constant.
    pub(super) fn mirror_key(&self, factors: &[NodeId]) -> Option<(MirrorKey, f64)> {
        let mut constant = None;
        let mut key = Vec::with_capacity(factors.len());
        for &f in factors {
            match self.graph.as_const(f) {
                Some(c) if constant.is_none() => {
                    constant = Some(c);
                    key.push(None);
                }
                Some(_) => return None,
                None => key.push(Some(f)),
            }
        }
        let c = constant?;
        Some(((key, c.abs().to_bits()), c))
    }

    /// The product `id`, `c*a*.../(b...)`, as its mirror `-c*a*.../(b...)`
    /// negated, when the mirror's value is in scope (the gradient of a
    /// function of `x[i] - x[j]` has both, one per partial: without this,
    /// each pair paid one more division). Records `id` as a mirror for
    /// later products otherwise.
    ///
    /// Bit for bit the interpreter's product: it multiplies left to right
    /// and divides once, and each of those roundings is symmetric in sign,
    /// so every step is the mirror's step negated, infinities and zeros
    /// included. A NaN is not negated: both products make theirs from the
    /// same operands in the same order (a new NaN does not depend on the
    /// signs, a carried one is the factor's), so they have the same bits.
    pub(super) fn mirrored(&mut self, id: NodeId, factors: &[NodeId]) -> Option<Value> {
        let (key, c) = self.mirror_key(factors)?;
        if let Some(&(other, c_other)) = self.mirrors.get(&key)
            && c_other == -c
            && c != 0.0
            && let Some(&v) = self.values.get(&other)
        {
            let negated = self.b.ins().fneg(v);
            let nan = self.b.ins().fcmp(FloatCC::Unordered, v, v);
            return Some(self.b.ins().select(nan, v, negated));
        }
        self.mirrors.insert(key, (id, c));
        None
    }

    /// `a + b`, as `a - y` when `b` is `-1*y` (or `b - y` when `a` is):
    /// the same number, because IEEE subtraction is the addition of the
    /// negated operand, `-1*y` is that negation exactly, and addition
    /// commutes. The product is then left unused, and Cranelift drops it:
    /// the chained Rosenbrock's `x[i+1] - x[i]^2` and `1 - x[i]` lose a
    /// multiplication each.
    fn add(&mut self, a: Value, b: Value) -> Value {
        if let Some(&y) = self.negations.get(&b) {
            return self.b.ins().fsub(a, y);
        }
        if let Some(&y) = self.negations.get(&a) {
            return self.b.ins().fsub(b, y);
        }
        self.b.ins().fadd(a, b)
    }

    /// A read of `x`, a data column, a parameter or a loop index: what
    /// [`Emitter::operand`] emits again at each use in a loop that calls.
    pub(super) fn leaf(&mut self, id: NodeId) -> Result<Value> {
        Ok(match self.graph.node(id) {
            Node::Var(i) => match &self.rows {
                Some(r) if *i as usize >= r.first => {
                    let column = r.columns[*i as usize - r.first];
                    let row = self.b.use_var(r.row);
                    let addr = self.element(column, row);
                    self.b.ins().load(types::F64, flags(), addr, 0)
                }
                _ => self
                    .b
                    .ins()
                    .load(types::F64, flags(), self.x, (8 * *i as usize) as i32),
            },
            Node::Param(p) => {
                self.b
                    .ins()
                    .load(types::F64, flags(), self.floats, (8 * *p as usize) as i32)
            }
            Node::Index(l) => {
                let i = self.b.use_var(self.levels[*l as usize]);
                self.b.ins().fcvt_from_sint(types::F64, i)
            }
            Node::Read(r) => match r.source {
                Source::Var(_) => {
                    let (addr, offset) = self.address(r, Buffer::Point)?;
                    self.b.ins().load(types::F64, flags(), addr, offset)
                }
                Source::Direction(_) => {
                    let (addr, offset) = self.address(r, Buffer::Direction)?;
                    self.b.ins().load(types::F64, flags(), addr, offset)
                }
                Source::ScalarDirection(j) => {
                    self.b
                        .ins()
                        .load(types::F64, flags(), self.direction, (8 * j as usize) as i32)
                }
                Source::Data(d) => {
                    let column = self.column(d);
                    // Rows count from 1.
                    let (addr, offset) = self.element_at(column, &r.index[0], -1);
                    self.b.ins().load(types::F64, flags(), addr, offset)
                }
            },
            _ => return Err(codegen_error("not a read")),
        })
    }

    /// Emits `id` (its children are emitted already) and records its value.
    pub(super) fn node(&mut self, id: NodeId) -> Result<Value> {
        if let Some(&v) = self.values.get(&id) {
            return Ok(v);
        }
        let g = self.graph;
        if let Some(&scan) = self.scans.get(&id) {
            let value = self.scan_step(scan);
            self.values.insert(id, value);
            return Ok(value);
        }
        if let Node::Product(factors) = g.node(id)
            && let Some(value) = self.mirrored(id, factors)
        {
            self.values.insert(id, value);
            return Ok(value);
        }
        let v = |e: &mut Self, n: &NodeId| e.operand(*n);
        let value = match g.node(id) {
            Node::Const(c) => self.b.ins().f64const(*c),
            Node::Var(_) | Node::Param(_) | Node::Index(_) | Node::Read(_) => self.leaf(id)?,
            Node::Sum(terms) => sum_pairwise(terms, &mut |s| match s {
                SumStep::Term(t) => v(self, &t),
                SumStep::Add(a, b) => Ok(self.add(a, b)),
            })?,
            Node::Product(factors) => {
                // The factors before the loop's first multiplied there
                // (`invariant.rs`), the rest multiplied on here in order.
                let (skip, mut num) = match self.prefixes.get(&id).copied() {
                    Some((k, held)) => (k, Some(self.held(held))),
                    None => (0, None),
                };
                let mut den: Option<Value> = None;
                let mut read: Vec<Value> = Vec::with_capacity(factors.len());
                for f in factors[skip..].iter() {
                    match crate::graph::denominator_exponent(g, *f) {
                        Some((base, e)) => {
                            let base = v(self, &base)?;
                            let p = self.pow_const(base, e)?;
                            den = Some(match den {
                                Some(d) => self.b.ins().fmul(d, p),
                                None => p,
                            });
                        }
                        None => {
                            let f = v(self, f)?;
                            read.push(f);
                            num = Some(match num {
                                Some(n) => self.b.ins().fmul(n, f),
                                None => f,
                            });
                        }
                    }
                }
                // `-1*y` or `y*-1`, with `y`'s value as it was read here.
                if let ([p, q], 0, None, Some(n), &[pv, qv]) =
                    (&factors[..], skip, den, num, &read[..])
                {
                    let y = if g.as_const(*p) == Some(-1.0) {
                        Some(qv)
                    } else if g.as_const(*q) == Some(-1.0) {
                        Some(pv)
                    } else {
                        None
                    };
                    if let Some(y) = y {
                        self.negations.insert(n, y);
                    }
                }
                match (num, den) {
                    (Some(n), Some(d)) => self.b.ins().fdiv(n, d),
                    (Some(n), None) => n,
                    (None, Some(d)) => {
                        let one = self.b.ins().f64const(1.0);
                        self.b.ins().fdiv(one, d)
                    }
                    (None, None) => self.b.ins().f64const(1.0),
                }
            }
            Node::Pow([base, e]) => {
                let bv = v(self, base)?;
                match g.as_const(*e) {
                    Some(c) => self.pow_const(bv, c)?,
                    None => {
                        let ev = v(self, e)?;
                        self.call(Callee::Pow, &[bv, ev])?
                    }
                }
            }
            Node::Call1(f, [a]) => {
                let a = v(self, a)?;
                match f {
                    Func::Abs => self.b.ins().fabs(a),
                    Func::Floor => self.b.ins().floor(a),
                    Func::Ceil => self.b.ins().ceil(a),
                    Func::Sign => {
                        let zero = self.b.ins().f64const(0.0);
                        let one = self.b.ins().f64const(1.0);
                        let minus_one = self.b.ins().f64const(-1.0);
                        let nan = self.b.ins().f64const(f64::NAN);
                        let gt = self.b.ins().fcmp(FloatCC::GreaterThan, a, zero);
                        let lt = self.b.ins().fcmp(FloatCC::LessThan, a, zero);
                        let eq = self.b.ins().fcmp(FloatCC::Equal, a, zero);
                        let r = self.b.ins().select(eq, zero, nan);
                        let r = self.b.ins().select(lt, minus_one, r);
                        self.b.ins().select(gt, one, r)
                    }
                    f => self.call(Callee::F1(*f), &[a])?,
                }
            }
            Node::Call2(f, [a, c]) => {
                let (a, c) = (v(self, a)?, v(self, c)?);
                match f {
                    Func::Min => self.b.ins().fmin(a, c),
                    Func::Max => self.b.ins().fmax(a, c),
                    f => self.call(Callee::F2(*f), &[a, c])?,
                }
            }
            Node::Reduce(r, _) => {
                let r = r.as_ref().clone();
                // This reduction and those that share its loop.
                let mut members = vec![id];
                members.extend(self.siblings.remove(&id).unwrap_or_default());
                let mut list: Vec<NodeId> = Vec::new();
                let mut outside: Vec<NodeId> = Vec::new();
                let mut fused: Option<ScatterGroup> = None;
                for &m in &members {
                    list.extend(self.bodies.get(&m).cloned().unwrap_or_default());
                    outside.extend(g.node(m).children());
                    if let Some(group) = self.fused.remove(&m) {
                        outside.extend(group.members.iter().map(|&k| self.scatters[k].value));
                        list.extend_from_slice(&group.list);
                        fused = Some(group);
                    }
                }
                list.sort_unstable();
                list.dedup();
                // What the loop reads from outside it comes first.
                for n in reachable(g, &outside) {
                    if g.meta(n).levels == 0 && !members.contains(&n) {
                        self.node(n)?;
                    }
                }
                // A reduction inside a loop over the same levels (a
                // gradient's scatter over i and j that needs prod(j in
                // 1..i, ...)) moves those levels' indices and recomputes
                // its body: the surrounding loop's indices and values of
                // body nodes are put back after it, as the interpreter does.
                let nested = g.meta(id).levels != 0;
                let mut saved_values = Vec::new();
                let mut saved_levels = Vec::new();
                if nested {
                    for n in &list {
                        if let Some(v) = self.values.remove(n) {
                            saved_values.push((*n, v));
                        }
                    }
                    for l in r.level..r.level + r.ranges.len() as u32 {
                        let var = self.levels[l as usize];
                        saved_levels.push((var, self.b.use_var(var)));
                    }
                }
                let mut accs = Vec::with_capacity(members.len());
                for &m in &members {
                    let op = match g.node(m) {
                        Node::Reduce(mr, [body]) => (mr.op, *body),
                        _ => return Err(codegen_error("a sibling is not a reduction")),
                    };
                    let acc = self.b.declare_var(types::F64);
                    let start = match op.0 {
                        ReduceOp::Sum => 0.0,
                        ReduceOp::Prod => 1.0,
                    };
                    let start = self.b.ins().f64const(start);
                    self.b.def_var(acc, start);
                    accs.push((acc, op));
                }
                let started = self.start_scans(&list, &r)?;
                let saved = self.enter_loop(&list)?;
                self.ranges(&r.ranges, r.level, &mut |e| {
                    for &n in &list {
                        // Reads are emitted where they are used, in a loop
                        // that calls (`invariant.rs`).
                        if !(e.reload && reloadable(g.node(n))) {
                            e.node(n)?;
                        }
                    }
                    for &(acc, (op, body)) in &accs {
                        let value = e.operand(body)?;
                        let a = e.b.use_var(acc);
                        let next = match op {
                            ReduceOp::Sum => e.b.ins().fadd(a, value),
                            ReduceOp::Prod => e.b.ins().fmul(a, value),
                        };
                        e.b.def_var(acc, next);
                    }
                    if let Some(group) = &fused {
                        e.add_members(group)?;
                    }
                    for n in &list {
                        e.values.remove(n);
                    }
                    Ok(())
                })?;
                self.leave_loop(saved);
                self.end_scans(started);
                for (var, v) in saved_levels {
                    self.b.def_var(var, v);
                }
                self.values.extend(saved_values);
                for (&m, &(acc, _)) in members.iter().zip(&accs).skip(1) {
                    let v = self.b.use_var(acc);
                    self.values.insert(m, v);
                }
                self.b.use_var(accs[0].0)
            }
        };
        self.values.insert(id, value);
        Ok(value)
    }
}
