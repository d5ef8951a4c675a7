//! The rows of a formula's constraints once its parameters are bound: one
//! per `subject to` statement, or one per index tuple of a family
//! (`subject to (i in 1..n-1) x[i] <= x[i+1]` has n-1), with the sparse
//! pattern of their Jacobian.
//!
//! A family is expanded into rows the way AMPL expands one, but its body
//! is not copied: `g` and its partials are nodes over the family's loop
//! levels, differentiated once, and the interpreter evaluates them at each
//! row's indices. A row costs the size of the family's body (and of the
//! sums inside it), so an evaluation costs rows × body; the Jacobian holds
//! only the entries a row's reads can reach, a few per row for the
//! chained families of practice.

use super::Constraint;
use crate::bind::{Frame, MAX_LEVELS};
use crate::error::{Error, Limit, Result};
use crate::eval::{Interpreter, Levels, each_tuple, loop_body};
use crate::graph::{Graph, NodeId, Reduce, Source};

/// One constraint after binding: statement `statement` of
/// [`Formula::constraints`](crate::Formula::constraints), at the family
/// indices `index` (empty for a statement that is not a family).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConstraintRow {
    /// Which `subject to` statement, in the order of the text.
    pub statement: usize,
    /// The family's index values, outermost first.
    pub index: Vec<i64>,
}

/// Every row of a formula's constraints and where their Jacobian may be
/// nonzero, made for one binding of its parameters.
#[derive(Clone, Debug)]
pub(crate) struct Rows {
    pub rows: Vec<ConstraintRow>,
    /// The columns (variables) of row `r`'s entries are
    /// `columns[starts[r]..starts[r + 1]]`, increasing.
    pub starts: Vec<usize>,
    pub columns: Vec<usize>,
    /// Per statement, the nodes a row computes (those over the family's
    /// levels), children first.
    row_nodes: Vec<Vec<NodeId>>,
    /// Per statement and scatter, the nodes each iteration of the
    /// scatter's own loops computes.
    loop_nodes: Vec<Vec<Vec<NodeId>>>,
}

/// The family's levels (`0..d`) as a bit set.
fn family_levels(c: &Constraint) -> u64 {
    (1u64 << c.family.len()) - 1
}

/// The levels a scatter's own loops bind, as a bit set.
fn loop_levels(loops: &[Reduce]) -> u64 {
    loops.iter().fold(0, |a, r| a | r.own_levels())
}

/// Calls `f` for every index tuple of `loops`, nested outermost first.
fn each_nested(
    loops: &[Reduce],
    frame: &Frame,
    levels: &mut Levels,
    f: &mut impl FnMut(&mut Levels),
) {
    match loops.split_first() {
        None => f(levels),
        Some((r, rest)) => each_tuple(&r.ranges, r.level, frame, levels, |levels| {
            each_nested(rest, frame, levels, f)
        }),
    }
}

/// Calls `f` for each row's indices of `c`: once, with no levels set, for
/// a constraint that is not a family.
fn each_row(c: &Constraint, frame: &Frame, f: &mut impl FnMut(&mut Levels)) {
    let mut levels = [0; MAX_LEVELS];
    if c.family.is_empty() {
        f(&mut levels);
    } else {
        each_tuple(&c.family, 0, frame, &mut levels, |levels| f(levels));
    }
}

/// The nodes `outputs` need that use a level of `own` and none outside
/// `bound`, children first, without repeats.
fn nodes_over(graph: &Graph, outputs: &[NodeId], own: u64, bound: u64) -> Vec<NodeId> {
    let mut list: Vec<NodeId> = outputs
        .iter()
        .flat_map(|&o| loop_body(graph, o, own, bound))
        .collect();
    list.sort_unstable();
    list.dedup();
    list
}

/// How many rows `c` has with the parameters of `frame`, counted without
/// visiting them: the loops outside the innermost range run and the
/// innermost range adds its length, so `(i in 1..n, j in 1..n)` costs n
/// steps for its n² rows. Saturates at `u64::MAX`.
fn row_count(c: &Constraint, frame: &Frame) -> u64 {
    let Some((last, outer)) = c.family.split_last() else {
        return 1;
    };
    let length = |levels: &Levels| -> u64 {
        let (lo, hi) = (frame.index(&last.lo, levels), frame.index(&last.hi, levels));
        u64::try_from(hi.saturating_sub(lo).saturating_add(1)).unwrap_or(0)
    };
    let mut levels = [0; MAX_LEVELS];
    if outer.is_empty() {
        return length(&levels);
    }
    let mut total = 0u64;
    each_tuple(outer, 0, frame, &mut levels, |levels| {
        total = total.saturating_add(length(levels));
    });
    total
}

impl Rows {
    /// The rows of `constraints` with the parameters of `frame`, refused
    /// at once if there would be more than `max_entries` rows (counted
    /// before any is made: a row is stored and evaluated, whatever its
    /// entries), and once the Jacobian's entries would pass `max_entries`.
    pub fn new(
        graph: &Graph,
        constraints: &[Constraint],
        frame: &Frame,
        max_entries: usize,
    ) -> Result<Rows> {
        let count = (constraints.iter()).fold(0u64, |a, c| a.saturating_add(row_count(c, frame)));
        if count > max_entries as u64 {
            return Err(Error::over_limit(
                Limit::Nodes,
                max_entries,
                format!(
                    "the constraints would have {count} rows, over {max_entries} (the node limit)"
                ),
            ));
        }
        let mut rows = Rows {
            rows: Vec::new(),
            starts: vec![0],
            columns: Vec::new(),
            row_nodes: Vec::new(),
            loop_nodes: Vec::new(),
        };
        for (k, c) in constraints.iter().enumerate() {
            let fam = family_levels(c);
            let mut outputs = vec![c.value];
            outputs.extend_from_slice(&c.gradient);
            outputs.extend(c.scatters.iter().map(|s| s.value));
            rows.row_nodes.push(nodes_over(graph, &outputs, fam, fam));
            rows.loop_nodes.push(
                c.scatters
                    .iter()
                    .map(|s| {
                        let own = loop_levels(&s.loops);
                        nodes_over(graph, &[s.value], own, own | fam)
                    })
                    .collect(),
            );
            let scalars: Vec<usize> = (c.gradient.iter().enumerate())
                .filter(|(_, d)| graph.as_const(**d) != Some(0.0))
                .map(|(j, _)| j)
                .collect();
            let mut failed = None;
            each_row(c, frame, &mut |levels| {
                if failed.is_some() {
                    return;
                }
                let start = rows.columns.len();
                rows.columns.extend_from_slice(&scalars);
                for s in &c.scatters {
                    each_nested(&s.loops, frame, levels, &mut |levels| {
                        if let Some(i) = position(frame, &s.target, levels) {
                            rows.columns.push(i);
                        }
                    });
                }
                rows.columns[start..].sort_unstable();
                let kept = dedup_len(&mut rows.columns[start..]);
                rows.columns.truncate(start + kept);
                if rows.columns.len() > max_entries {
                    failed = Some(Error::over_limit(
                        Limit::Nodes,
                        max_entries,
                        format!(
                            "the constraints' Jacobian would have over {max_entries} nonzero entries (the node limit)"
                        ),
                    ));
                    return;
                }
                rows.starts.push(rows.columns.len());
                let index = levels[..c.family.len()].to_vec();
                rows.rows.push(ConstraintRow {
                    statement: k,
                    index,
                });
            });
            if let Some(e) = failed {
                return Err(e);
            }
        }
        Ok(rows)
    }

    /// Each row's `g` at `x` into `values`, and the Jacobian's entries (in
    /// the order of `columns`) into `jacobian`.
    pub fn eval(
        &self,
        graph: &Graph,
        constraints: &[Constraint],
        frame: &Frame,
        x: &[f64],
        values: &mut [f64],
        jacobian: &mut [f64],
    ) {
        let mut outputs = Vec::new();
        for c in constraints {
            outputs.push(c.value);
            outputs.extend_from_slice(&c.gradient);
            outputs.extend(c.scatters.iter().map(|s| s.value));
        }
        let it = Interpreter::with_frame(graph, &outputs, frame);
        let mut v = it.values(x);
        jacobian.fill(0.0);
        let mut r = 0;
        for (k, c) in constraints.iter().enumerate() {
            each_row(c, frame, &mut |levels| {
                for &n in &self.row_nodes[k] {
                    v[n.index()] = it.node(n, &mut v, x, levels);
                }
                values[r] = v[c.value.index()];
                let (lo, hi) = (self.starts[r], self.starts[r + 1]);
                let (columns, entries) = (&self.columns[lo..hi], &mut jacobian[lo..hi]);
                let mut add = |j: usize, d: f64| {
                    if let Ok(slot) = columns.binary_search(&j) {
                        entries[slot] += d;
                    }
                };
                for (j, d) in c.gradient.iter().enumerate() {
                    if graph.as_const(*d) != Some(0.0) {
                        add(j, v[d.index()]);
                    }
                }
                for (s, inner) in c.scatters.iter().zip(&self.loop_nodes[k]) {
                    each_nested(&s.loops, frame, levels, &mut |levels| {
                        for &n in inner {
                            v[n.index()] = it.node(n, &mut v, x, levels);
                        }
                        if let Some(i) = position(frame, &s.target, levels) {
                            add(i, v[s.value.index()]);
                        }
                    });
                }
                r += 1;
            });
        }
    }
}

/// The position in the point of an array element read at `levels`.
fn position(frame: &Frame, target: &crate::graph::Read, levels: &Levels) -> Option<usize> {
    let Source::Var(a) = target.source else {
        return None;
    };
    let at = target.index.iter().map(|i| frame.index(i, levels));
    frame.arrays.get(a as usize)?.position(at)
}

/// Removes repeats from a sorted slice in place, returning the length kept.
fn dedup_len(sorted: &mut [usize]) -> usize {
    let mut kept = 0;
    for i in 0..sorted.len() {
        if kept == 0 || sorted[i] != sorted[kept - 1] {
            sorted[kept] = sorted[i];
            kept += 1;
        }
    }
    kept
}

impl crate::Formula {
    /// The constraints one by one with the parameters bound now: a
    /// statement that is not a family is one row, a family one row per
    /// index tuple, in the order of the text and of the family's loops
    /// (last index fastest). Refused past [`Limits::max_nodes`](crate::Limits)
    /// Jacobian entries.
    ///
    /// ```
    /// let f = slope::Formula::parse(
    ///     "param n = 4\nvar x[1..n]\nsum(i in 1..n, x[i]^2)\nsubject to (i in 1..n-1) x[i] <= x[i+1] - 1",
    /// )?;
    /// let rows = f.constraint_rows()?;
    /// assert_eq!(rows.len(), 3);
    /// assert_eq!(f.constraint_row_label(&rows[2]), "(i=3)");
    /// # Ok::<(), slope::Error>(())
    /// ```
    pub fn constraint_rows(&self) -> Result<Vec<ConstraintRow>> {
        Ok(self.rows()?.rows)
    }

    pub(crate) fn rows(&self) -> Result<Rows> {
        let max = self.limits().max_nodes;
        Rows::new(self.graph(), self.constraints(), self.frame(), max)
    }

    /// Which row of its family `row` is, as `(i=3)` or `(i=2, j=5)` with
    /// the family's index names; empty for a constraint that is not a
    /// family.
    pub fn constraint_row_label(&self, row: &ConstraintRow) -> String {
        if row.index.is_empty() {
            return String::new();
        }
        let names = &self.constraints()[row.statement].names;
        let parts: Vec<String> = (row.index.iter().zip(names))
            .map(|(v, name)| format!("{name}={v}"))
            .collect();
        format!("({})", parts.join(", "))
    }
}

/// Every constraint row's value and its partial derivatives at one point,
/// from [`Formula::constraint_values`](crate::Formula::constraint_values).
#[derive(Clone, Debug)]
pub struct ConstraintValues {
    /// The rows, as [`Formula::constraint_rows`](crate::Formula::constraint_rows) gives them.
    pub rows: Vec<ConstraintRow>,
    /// Each row's `g`, in standard form (`g <= 0` or `g == 0`).
    pub values: Vec<f64>,
    /// Each row's partial derivatives that may be nonzero, as (variable,
    /// value) with increasing variables.
    pub gradients: Vec<Vec<(usize, f64)>>,
}

impl crate::Formula {
    /// The value and the sparse gradient of every constraint row at `x`,
    /// by the interpreter (families, sums and arrays included).
    ///
    /// ```
    /// let f = slope::Formula::parse(
    ///     "var x[1..3]\nsum(i in 1..3, x[i]^2)\nsubject to (i in 1..2) x[i] <= x[i+1] - 1",
    /// )?;
    /// let c = f.constraint_values(&[0.0, 0.5, 3.0])?;
    /// assert_eq!(c.values, [0.5, -1.5]);
    /// assert_eq!(c.gradients[1], [(1, 1.0), (2, -1.0)]);
    /// # Ok::<(), slope::Error>(())
    /// ```
    pub fn constraint_values(&self, x: &[f64]) -> Result<ConstraintValues> {
        crate::objective::check_len("the point", x.len(), self.n_vars())?;
        let rows = self.rows()?;
        let mut values = vec![0.0; rows.rows.len()];
        let mut entries = vec![0.0; rows.columns.len()];
        rows.eval(
            self.graph(),
            self.constraints(),
            self.frame(),
            x,
            &mut values,
            &mut entries,
        );
        let gradients = (0..rows.rows.len())
            .map(|r| {
                let range = rows.starts[r]..rows.starts[r + 1];
                (rows.columns[range.clone()].iter().copied())
                    .zip(entries[range].iter().copied())
                    .collect()
            })
            .collect();
        Ok(ConstraintValues {
            rows: rows.rows,
            values,
            gradients,
        })
    }
}
