//! An indexed formula written out at its bound parameters: every `sum` and
//! `prod` expanded term by term, every read of an array element a scalar
//! variable (`x[3]`), parameters, data and loop indices numbers. The
//! result is a scalar [`Formula`], differentiated by the scalar sweep, so
//! its partials are the closed forms of `df/dx[1]`, ..., `df/dx[n]` that
//! `slope diff --expand` prints, and are an independent derivation to test
//! the indexed one against.
//!
//! The walk is iterative (an explicit stack), as every pass over a graph
//! is: a deep body must not overflow the stack. A node is built once per
//! tuple of the loop indices it uses, not once per tuple of all enclosing
//! loops, so a loop-invariant factor is shared by every term.

use rustc_hash::FxHashMap;

use super::*;
use crate::ast::ReduceOp;
use crate::eval::{Levels, each_tuple};
use crate::graph::{Node, Source};
use crate::lower::LoweredConstraint;

/// A node of the indexed graph at given values of the loop indices it
/// uses (the values of its levels, lowest level first).
type Key = (NodeId, Box<[i64]>);

/// Builds nodes of the indexed graph, at index values, in a new graph.
struct Unroller<'f> {
    from: &'f Graph,
    frame: &'f Frame,
    to: Graph,
    built: FxHashMap<Key, NodeId>,
    max_nodes: usize,
}

enum Task {
    Visit(NodeId, Levels),
    Build(NodeId, Levels),
}

impl Formula {
    /// The same function with every sum and product written out at the
    /// bound parameters and data: a scalar formula over the same variables
    /// ([`Formula::vars`], `x[1]`, `x[2]`, ...), with its own gradient
    /// derived by the scalar sweep, and each constraint of a family one
    /// constraint per index tuple. A formula without loops comes back as
    /// it is. Refused with an [`ErrorKind::Limit`] error if the written-out
    /// graph would outgrow the formula's node limit.
    ///
    /// ```
    /// let f = slope::Formula::parse("param n = 3\nvar x[1..n]\nsum(i in 1..n-1, x[i]*x[i+1])")?;
    /// let g = f.unrolled()?;
    /// assert_eq!(g.vars(), ["x[1]", "x[2]", "x[3]"]);
    /// assert_eq!(g.partial("x[2]")?.to_string(), "x[1] + x[3]");
    /// # Ok::<(), slope::Error>(())
    /// ```
    pub fn unrolled(&self) -> Result<Formula> {
        if !self.is_indexed() {
            return Ok(self.clone());
        }
        let mut u = self.unroller();
        let n = self.vars.len();
        let var_nodes: Vec<NodeId> = (0..n).map(|i| u.to.var(i as u32)).collect();
        let zero: Levels = [0; crate::bind::MAX_LEVELS];
        let value = u.node(self.value, &zero)?;
        let mut constraints = Vec::new();
        for c in &self.constraints {
            let equality = c.kind == constraint::ConstraintKind::Equality;
            let mut rows = Vec::new();
            if c.family.is_empty() {
                rows.push(u.node(c.value, &zero)?);
            } else {
                let mut tuples = Vec::new();
                let mut levels = zero;
                each_tuple(&c.family, 0, self.frame(), &mut levels, |l| tuples.push(*l));
                for l in &tuples {
                    rows.push(u.node(c.value, l)?);
                }
            }
            constraints.extend(rows.into_iter().map(|value| LoweredConstraint {
                equality,
                span: c.span,
                value,
                family: Vec::new(),
                names: Vec::new(),
            }));
        }
        let lowered = Lowered {
            graph: u.to,
            vars: self.vars.all().to_vec(),
            var_nodes,
            value,
            indexed: Indexed::default(),
            constraints,
        };
        Formula::derive(&self.source, lowered, &self.limits)
    }

    /// The value alone written out, in a graph of its own (variable `i`
    /// is `vars()[i]`), not differentiated: what `check` needs to find
    /// the kinks inside loops, at a fraction of [`Formula::unrolled`]'s cost.
    pub(crate) fn unrolled_value(&self) -> Result<(Graph, NodeId)> {
        let mut u = self.unroller();
        let value = u.node(self.value, &[0; crate::bind::MAX_LEVELS])?;
        Ok((u.to, value))
    }

    fn unroller(&self) -> Unroller<'_> {
        Unroller {
            from: &self.graph,
            frame: &self.frame,
            to: Graph::new(),
            built: FxHashMap::default(),
            max_nodes: self.limits.max_nodes,
        }
    }
}

impl Unroller<'_> {
    /// The key of `id` at `levels`: only the levels it uses count.
    fn key(&self, id: NodeId, levels: &Levels) -> Key {
        let used = self.from.meta(id).levels;
        let values: Vec<i64> = (0..crate::bind::MAX_LEVELS)
            .filter(|l| used >> l & 1 == 1)
            .map(|l| levels[l])
            .collect();
        (id, values.into())
    }

    /// `id` at `levels`, written out in the new graph.
    fn node(&mut self, id: NodeId, levels: &Levels) -> Result<NodeId> {
        let mut stack = vec![Task::Visit(id, *levels)];
        while let Some(task) = stack.pop() {
            match task {
                Task::Visit(id, levels) => {
                    if self.built.contains_key(&self.key(id, &levels)) {
                        continue;
                    }
                    stack.push(Task::Build(id, levels));
                    match self.from.node(id) {
                        Node::Reduce(r, [body]) => {
                            // One task per term is pushed below: refuse a
                            // sum whose terms alone outgrow the node limit
                            // before they fill memory.
                            let terms = terms_bound(&r.ranges, r.level, self.frame, &levels);
                            if terms > self.max_nodes as f64 {
                                return Err(diff::too_many_nodes(self.max_nodes).with_hint(format!(
                                    "written out term by term, a {} here has up to {terms:.3e} terms: give the parameters smaller values",
                                    r.op.name()
                                )));
                            }
                            let mut at = levels;
                            each_tuple(&r.ranges, r.level, self.frame, &mut at, |l| {
                                stack.push(Task::Visit(*body, *l));
                            });
                        }
                        node => {
                            for &c in node.children() {
                                stack.push(Task::Visit(c, levels));
                            }
                        }
                    }
                }
                Task::Build(id, levels) => {
                    let key = self.key(id, &levels);
                    if self.built.contains_key(&key) {
                        continue;
                    }
                    let new = self.build(id, &levels)?;
                    if self.to.len() > self.max_nodes {
                        return Err(diff::too_many_nodes(self.max_nodes).with_hint(
                            "every sum is written out term by term: give the parameters smaller values with --set",
                        ));
                    }
                    self.built.insert(key, new);
                }
            }
        }
        Ok(self.built[&self.key(id, levels)])
    }

    /// `id` at `levels`, its children already built.
    fn build(&mut self, id: NodeId, levels: &Levels) -> Result<NodeId> {
        let child = |u: &Self, c: &NodeId| u.built[&u.key(*c, levels)];
        self.to.set_origin(self.from.origin(id));
        let g = &self.from;
        let new = match g.node(id) {
            Node::Const(c) => self.to.constant(*c),
            Node::Var(v) => self.to.var(*v),
            Node::Param(p) => {
                let v = self.frame.params.get(*p as usize).copied();
                self.number(v.unwrap_or(f64::NAN), "a parameter")?
            }
            Node::Index(l) => self.to.constant(levels[*l as usize] as f64),
            Node::Read(r) => {
                let value = match r.source {
                    Source::Var(a) => {
                        let index = r.index.iter().map(|i| self.frame.index(i, levels));
                        let p = self.frame.arrays.get(a as usize);
                        match p.and_then(|p| p.position(index)) {
                            Some(i) => Ok(i as u32),
                            None => Err(f64::NAN),
                        }
                    }
                    Source::Data(_) => Err(self.frame.read(r, levels, &[])),
                    // Only the Hessian-vector product's nodes read the
                    // direction, and nothing unrolls them.
                    Source::Direction(_) | Source::ScalarDirection(_) => Err(f64::NAN),
                };
                match value {
                    Ok(i) => self.to.var(i),
                    Err(v) => self.number(v, "an element read")?,
                }
            }
            Node::Sum(ts) => {
                let ts: Vec<NodeId> = ts.iter().map(|c| child(self, c)).collect();
                self.to.sum(&ts)
            }
            Node::Product(fs) => {
                let fs: Vec<NodeId> = fs.iter().map(|c| child(self, c)).collect();
                self.to.product(&fs)
            }
            Node::Pow([b, e]) => {
                let (b, e) = (child(self, b), child(self, e));
                self.to.pow(b, e)
            }
            Node::Call1(f, [a]) => {
                let a = child(self, a);
                self.to.call1(*f, a)
            }
            Node::Call2(f, [a, b]) => {
                let (a, b) = (child(self, a), child(self, b));
                self.to.call2(*f, a, b)
            }
            Node::Reduce(r, [body]) => {
                let mut terms = Vec::new();
                let mut at = *levels;
                each_tuple(&r.ranges, r.level, self.frame, &mut at, |l| {
                    terms.push(self.built[&self.key(*body, l)]);
                });
                match r.op {
                    ReduceOp::Sum if terms.is_empty() => self.to.constant(0.0),
                    ReduceOp::Prod if terms.is_empty() => self.to.constant(1.0),
                    ReduceOp::Sum => self.to.sum(&terms),
                    ReduceOp::Prod => self.to.product(&terms),
                }
            }
        };
        self.to.set_origin(None);
        Ok(new)
    }

    /// A number read from the parameters or data, which binding keeps
    /// finite and inside every extent.
    fn number(&mut self, v: f64, what: &str) -> Result<NodeId> {
        if v.is_finite() {
            Ok(self.to.constant(v))
        } else {
            Err(Error::new(
                ErrorKind::Usage,
                format!("{what} is not a finite number, so the formula cannot be written out"),
            ))
        }
    }
}

/// An upper bound on the number of index tuples of the loop `ranges`
/// (their first at `level`) with the enclosing loops at `levels`: each
/// range's bounds over the intervals of the indices before it, so that
/// counting costs one step per range, not one per tuple.
fn terms_bound(ranges: &[crate::graph::Range], level: u32, frame: &Frame, levels: &Levels) -> f64 {
    let mut intervals: Vec<(i64, i64)> = Vec::with_capacity(ranges.len());
    let mut count = 1.0f64;
    for g in ranges {
        let (lo, _) = interval(&g.lo, level, &intervals, frame, levels);
        let (_, hi) = interval(&g.hi, level, &intervals, frame, levels);
        count *= hi.saturating_sub(lo).saturating_add(1).max(0) as f64;
        intervals.push((lo, hi));
    }
    count
}

/// The smallest and largest value of `a` when the loop indices from
/// `level` on range over `own`, and those before it are at `levels`.
fn interval(
    a: &crate::graph::Affine,
    level: u32,
    own: &[(i64, i64)],
    frame: &Frame,
    levels: &Levels,
) -> (i64, i64) {
    let (mut lo, mut hi) = (a.constant, a.constant);
    for (s, k) in a.terms.iter() {
        let (small, large) = match *s {
            crate::graph::Symbol::Level(l) if l >= level => {
                own.get((l - level) as usize).copied().unwrap_or((0, 0))
            }
            crate::graph::Symbol::Level(l) => {
                let v = levels.get(l as usize).copied().unwrap_or(0);
                (v, v)
            }
            crate::graph::Symbol::Param(p) => {
                let v = frame.int_params.get(p as usize).copied().unwrap_or(0);
                (v, v)
            }
        };
        let (small, large) = if *k >= 0 {
            (small, large)
        } else {
            (large, small)
        };
        lo = lo.saturating_add(k.saturating_mul(small));
        hi = hi.saturating_add(k.saturating_mul(large));
    }
    (lo, hi)
}
