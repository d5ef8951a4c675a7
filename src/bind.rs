//! The run-time inputs of an indexed formula: parameter values, where each
//! array of variables lies in the point, and the data columns. A [`Frame`]
//! is made once per set of parameters and data (binding checks every read
//! against its array's extent), and every evaluation reads it.

use crate::error::{Detail, Error, ErrorKind, Limit, Result};
use crate::graph::{Affine, Graph, Node, NodeId, Read, Source, Symbol};
use crate::lower::{Indexed, quoted_list};

mod names;

pub use names::VarNames;

fn params_of(a: &Affine) -> impl Iterator<Item = u32> + '_ {
    a.terms.iter().filter_map(|(s, _)| match s {
        Symbol::Param(p) => Some(*p),
        Symbol::Level(_) => None,
    })
}

/// The largest size of a parameter used in an index, as the literal
/// indices' limit: 2^53, beyond which a double skips integers.
const MAX_PARAM_INDEX: f64 = (1u64 << 53) as f64;

/// Most nesting levels of loop indices (they are bits of a `u64`).
pub const MAX_LEVELS: usize = 63;

/// Where one array of variables lies in the point `x`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Position of its first element in `x`.
    pub offset: usize,
    /// Per dimension, the first index and the number of indices.
    pub dims: Vec<(i64, usize)>,
}

impl Placement {
    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.dims.iter().map(|d| d.1).product()
    }

    /// The position in `x` of the element at `index`, if it is inside.
    pub fn position(&self, index: impl Iterator<Item = i64>) -> Option<usize> {
        let mut linear = 0usize;
        for (k, (lo, len)) in index.zip(&self.dims) {
            let k = usize::try_from(k.checked_sub(*lo)?).ok()?;
            if k >= *len {
                return None;
            }
            linear = linear * len + k;
        }
        Some(self.offset + linear)
    }
}

/// `n` copies of `value`, one per variable, or an error if memory cannot
/// hold them: the count comes from the formula's parameters and indices,
/// and a variable limit raised past the machine's memory must be refused,
/// not abort the process.
pub(crate) fn per_variable<T: Clone>(n: usize, value: T) -> Result<Vec<T>> {
    let mut v = Vec::new();
    if v.try_reserve_exact(n).is_err() {
        let bytes = n as f64 * std::mem::size_of::<T>() as f64;
        return Err(Error::new(
            ErrorKind::Limit,
            format!(
                "{n} variables need {bytes:.3e} bytes, more memory than the system can allocate"
            ),
        )
        .with_hint("give the parameters or the indices smaller values"));
    }
    v.resize(n, value);
    Ok(v)
}

/// Values of a formula's inputs other than its variables.
#[derive(Clone, Debug, Default)]
pub struct Frame {
    /// Each parameter's value, by parameter number.
    pub params: Vec<f64>,
    /// The same values as integers, for indices (0 where not an integer:
    /// binding refuses such a parameter in an index).
    pub int_params: Vec<i64>,
    /// Each array of variables, by array number.
    pub arrays: Vec<Placement>,
    /// Each data column, by data number.
    pub data: Vec<Vec<f64>>,
}

/// A frame for a formula without parameters, arrays or data.
pub static SCALAR: Frame = Frame {
    params: Vec::new(),
    int_params: Vec::new(),
    arrays: Vec::new(),
    data: Vec::new(),
};

impl Frame {
    /// The value of an element read with the loop indices `levels`; NaN
    /// outside the array (binding makes that impossible for a bound formula).
    /// A read of the direction of a Hessian-vector product reads the second
    /// half of `x`, which is then the point followed by the direction.
    pub fn read(&self, r: &Read, levels: &[i64], x: &[f64]) -> f64 {
        let index = r.index.iter().map(|a| a.eval(levels, &self.int_params));
        match r.source {
            Source::Var(a) => self
                .arrays
                .get(a as usize)
                .and_then(|p| p.position(index))
                .and_then(|i| x.get(i))
                .copied()
                .unwrap_or(f64::NAN),
            // The point of a Hessian-vector product is `x` then `v`.
            Source::Direction(a) => self
                .arrays
                .get(a as usize)
                .and_then(|p| p.position(index))
                .and_then(|i| x.get(x.len() / 2 + i))
                .copied()
                .unwrap_or(f64::NAN),
            Source::ScalarDirection(j) => {
                x.get(x.len() / 2 + j as usize).copied().unwrap_or(f64::NAN)
            }
            Source::Data(d) => {
                let column = self.data.get(d as usize).map_or(&[][..], |c| c);
                index
                    .take(1)
                    .next()
                    .and_then(|k| usize::try_from(k.checked_sub(1)?).ok())
                    .and_then(|k| column.get(k))
                    .copied()
                    .unwrap_or(f64::NAN)
            }
        }
    }

    /// The value of an affine index.
    pub fn index(&self, a: &Affine, levels: &[i64]) -> i64 {
        a.eval(levels, &self.int_params)
    }
}

/// Most iterations of one nest of loops per evaluation (the product of
/// its ranges, an upper bound for triangular ones such as `j in i+1..n`):
/// past it a formula is refused when its parameters are bound, instead of
/// running for hours. Ranges written with numbers are bound too.
pub const MAX_ITERATIONS: f64 = 1e10;

/// Binds parameters and data to a lowered formula: the [`Frame`] every
/// evaluation reads, after checking that every read of every loop stays
/// inside its array, and the names of the variables (`x[3]`, made on
/// request from the arrays' placements: see [`VarNames`]).
pub fn bind(
    graph: &Graph,
    outputs: &[NodeId],
    decls: &Indexed,
    scalars: &[String],
    settings: &[(String, f64)],
    data: &[(String, Vec<f64>)],
    max_vars: usize,
) -> Result<(Frame, VarNames)> {
    let mut frame = Frame::default();
    // Data first: `rows` is their length.
    let mut rows = None;
    for (name, span) in &decls.data {
        let Some((_, column)) = data.iter().find(|(n, _)| n == name) else {
            if data.is_empty() {
                return Err(Error::at(
                    ErrorKind::Usage,
                    *span,
                    format!("no data were given for '{name}'"),
                )
                .with_detail(Detail::MissingData));
            }
            let columns: Vec<&str> = data.iter().map(|(n, _)| n.as_str()).collect();
            return Err(Error::at(
                ErrorKind::Usage,
                *span,
                format!("the data have no column '{name}'"),
            )
            .with_hint(format!("the columns are {}", quoted_list(&columns))));
        };
        match rows {
            Some(r) if r != column.len() => {
                return Err(Error::at(
                    ErrorKind::Usage,
                    *span,
                    format!(
                        "'{name}' has {} rows, but the data before it have {r}",
                        column.len()
                    ),
                ));
            }
            _ => rows = Some(column.len()),
        }
        // As `--data` refuses a CSV cell: a NaN or infinite value would
        // make f NaN at every point without a word.
        if let Some(row) = column.iter().position(|v| !v.is_finite()) {
            return Err(Error::at(
                ErrorKind::Usage,
                *span,
                format!(
                    "'{name}' is {} in row {}, not a finite number",
                    crate::print::format_number(column[row]),
                    row + 1
                ),
            )
            .with_hint(
                "every value of the data must be a finite number: drop the rows with missing \
                 values, or fill them",
            ));
        }
        frame.data.push(column.clone());
    }
    for (name, _) in settings {
        if !decls.params.iter().any(|p| &p.name == name) {
            let known: Vec<&str> = decls.params.iter().map(|p| p.name.as_str()).collect();
            return Err(Error::new(
                ErrorKind::Usage,
                format!("the formula has no parameter '{name}'"),
            )
            .with_hint(if known.is_empty() {
                "it declares none: parameters are declared with param n = 10".to_string()
            } else {
                format!("its parameters are {}", quoted_list(&known))
            }));
        }
    }
    for p in &decls.params {
        let given = settings
            .iter()
            .rev()
            .find(|(n, _)| n == &p.name)
            .map(|s| s.1);
        let value = match (p.name.as_str(), given, p.default) {
            (_, Some(v), _) => v,
            ("rows", None, None) => rows.unwrap_or(0) as f64,
            (_, None, Some(v)) => v,
            (_, None, None) => f64::NAN,
        };
        if !value.is_finite() {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("the parameter '{}' has no finite value", p.name),
            ));
        }
        frame.params.push(value);
        let integral = value.fract() == 0.0 && value.abs() <= (1u64 << 53) as f64;
        frame
            .int_params
            .push(if integral { value as i64 } else { 0 });
    }
    let mut walk = Walk {
        graph,
        frame: &frame,
        decls,
        reads: vec![Vec::new(); decls.arrays.len() + decls.data.len()],
        intervals: [(0, 0); MAX_LEVELS],
    };
    walk.check_params()?;
    walk.region(&crate::graph::reachable(graph, outputs), 0, 1.0)?;
    let reads = std::mem::take(&mut walk.reads);
    // Arrays: declared extents, or 1.. the largest index read.
    let mut offset = scalars.len();
    let mut placements = Vec::with_capacity(decls.arrays.len());
    for (a, decl) in decls.arrays.iter().enumerate() {
        let dims: Vec<(i64, i64)> = match &decl.extents {
            Some(ranges) => ranges
                .iter()
                .map(|r| (frame.index(&r.lo, &[]), frame.index(&r.hi, &[])))
                .collect(),
            None => (0..decl.rank)
                .map(|d| (1, reads[a].iter().map(|r| r.hi[d]).max().unwrap_or(0)))
                .collect(),
        };
        for r in &reads[a] {
            for (d, &(lo, hi)) in dims.iter().enumerate() {
                let (got, bad) = if r.lo[d] < lo {
                    (r.lo[d], true)
                } else if r.hi[d] > hi {
                    (r.hi[d], true)
                } else {
                    (0, false)
                };
                if bad && decl.extents.is_none() {
                    let name = &decl.name;
                    let message = format!(
                        "this reads {name}[{got}], but an undeclared array starts at index 1"
                    );
                    let err = match graph.origin(r.node) {
                        Some(o) => Error::at(ErrorKind::Index, o.span, message),
                        None => Error::new(ErrorKind::Index, message),
                    };
                    return Err(
                        err.with_hint(format!("declare its extent, as in var {name}[0..n]"))
                    );
                }
                if bad {
                    return Err(out_of_extent(
                        graph,
                        r,
                        &decl.name,
                        got,
                        d,
                        decl.rank,
                        lo,
                        hi,
                        "its extent",
                        decls,
                    ));
                }
            }
        }
        let dims: Vec<(i64, usize)> = dims
            .into_iter()
            .map(|(lo, hi)| {
                (
                    lo,
                    usize::try_from(hi.saturating_sub(lo).saturating_add(1)).unwrap_or(0),
                )
            })
            .collect();
        let p = Placement { offset, dims };
        offset = offset.saturating_add(p.len());
        if offset > max_vars {
            return Err(Error::over_limit(
                Limit::Vars,
                max_vars,
                format!(
                    "the formula has over {max_vars} variables (the limit) with these parameters"
                ),
            ));
        }
        placements.push(p);
    }
    let n_rows = rows.unwrap_or(0) as i64;
    for (d, (name, _)) in decls.data.iter().enumerate() {
        for r in &reads[decls.arrays.len() + d] {
            if r.lo[0] < 1 || r.hi[0] > n_rows {
                let got = if r.lo[0] < 1 { r.lo[0] } else { r.hi[0] };
                return Err(out_of_extent(
                    graph,
                    r,
                    name,
                    got,
                    0,
                    1,
                    1,
                    n_rows,
                    "the data's rows",
                    decls,
                ));
            }
        }
    }
    let names = VarNames::new(
        scalars.to_vec(),
        decls
            .arrays
            .iter()
            .map(|a| a.name.clone())
            .zip(placements.iter().cloned())
            .collect(),
    );
    frame.arrays = placements;
    Ok((frame, names))
}

/// The range of one read of an array, over every iteration of its loops.
#[derive(Clone, Debug)]
struct ReadRange {
    node: NodeId,
    lo: Vec<i64>,
    hi: Vec<i64>,
    /// The loop indices where the read is largest, for the message.
    at_hi: Vec<(u32, i64)>,
    at_lo: Vec<(u32, i64)>,
}

#[allow(clippy::too_many_arguments)]
fn out_of_extent(
    graph: &Graph,
    r: &ReadRange,
    name: &str,
    got: i64,
    dim: usize,
    rank: usize,
    lo: i64,
    hi: i64,
    what: &str,
    decls: &Indexed,
) -> Error {
    let element = if rank == 1 {
        format!("{name}[{got}]")
    } else {
        format!("{name}[..] at index {got} of dimension {}", dim + 1)
    };
    let at = if got < lo { &r.at_lo } else { &r.at_hi };
    let when: Vec<String> = at
        .iter()
        .map(|(l, v)| {
            let n = decls.levels.get(*l as usize).map_or("?", String::as_str);
            format!("{n} = {v}")
        })
        .collect();
    let message = format!("this reads {element}, outside {what} {lo}..{hi}");
    let err = match graph.origin(r.node) {
        Some(o) => Error::at(ErrorKind::Index, o.span, message),
        None => Error::new(ErrorKind::Index, message),
    };
    if when.is_empty() {
        err
    } else {
        err.with_hint(format!("when {}", when.join(", ")))
    }
}

/// A value of an index and the loop indices where it is reached.
type Extreme = (i64, Vec<(u32, i64)>);

struct Walk<'a> {
    graph: &'a Graph,
    frame: &'a Frame,
    decls: &'a Indexed,
    /// Per array (then per data column), each read's range.
    reads: Vec<Vec<ReadRange>>,
    /// Each bound level's smallest and largest value.
    intervals: [(i64, i64); MAX_LEVELS],
}

impl Walk<'_> {
    /// Parameters used in an index or an extent must be integers.
    fn check_params(&self) -> Result<()> {
        let mut used: Vec<u32> = Vec::new();
        for id in self.graph.ids() {
            match self.graph.node(id) {
                Node::Read(r) => used.extend(r.index.iter().flat_map(params_of)),
                Node::Reduce(r, _) => used.extend(
                    r.ranges
                        .iter()
                        .flat_map(|g| params_of(&g.lo).chain(params_of(&g.hi))),
                ),
                _ => {}
            }
        }
        for a in &self.decls.arrays {
            for g in a.extents.iter().flatten() {
                used.extend(params_of(&g.lo).chain(params_of(&g.hi)));
            }
        }
        for p in used {
            let v = self.frame.params[p as usize];
            let decl = &self.decls.params[p as usize];
            let name = &decl.name;
            // An integer too large for an index is said so, in the short
            // form: `--set n=1e300` printed a 301-digit "integer".
            let err = if v.abs() > MAX_PARAM_INDEX {
                Error::new(
                    ErrorKind::Index,
                    format!("the parameter '{name}' is {v:e}, too large for an index or a range"),
                )
                .with_hint(format!(
                    "an index is an integer of at most 2^53 = {} in size",
                    1u64 << 53
                ))
            } else if v.fract() != 0.0 {
                Error::new(
                    ErrorKind::Index,
                    format!(
                        "the parameter '{name}' is {v}, but it is used in an index or a range, which need integers"
                    ),
                )
            } else {
                continue;
            };
            // `rows` has no definition in the text to point at.
            return Err(match decl.default {
                Some(_) => err.with_span(decl.span),
                None => err,
            });
        }
        Ok(())
    }

    /// The smallest and largest value of `a` over the bound levels, and the
    /// levels' values where each is reached.
    fn extremes(&self, a: &Affine) -> (Extreme, Extreme) {
        let mut lo = self.frame.index(
            &Affine {
                terms: Box::new([]),
                ..a.clone()
            },
            &[],
        );
        let mut hi = lo;
        let (mut at_lo, mut at_hi) = (Vec::new(), Vec::new());
        for (s, k) in a.terms.iter() {
            match s {
                Symbol::Param(p) => {
                    let v = k.saturating_mul(self.frame.int_params[*p as usize]);
                    lo = lo.saturating_add(v);
                    hi = hi.saturating_add(v);
                }
                Symbol::Level(l) => {
                    let (a, b) = self.intervals[*l as usize];
                    let (small, large) = if *k >= 0 { (a, b) } else { (b, a) };
                    lo = lo.saturating_add(k.saturating_mul(small));
                    hi = hi.saturating_add(k.saturating_mul(large));
                    at_lo.push((*l, small));
                    at_hi.push((*l, large));
                }
            }
        }
        ((lo, at_lo), (hi, at_hi))
    }

    /// Checks the nodes of one region (all outside loops, or one loop's
    /// body, which runs `runs` times per evaluation), entering the loops
    /// inside it.
    fn region(&mut self, nodes: &[NodeId], bound: u64, runs: f64) -> Result<()> {
        for &id in nodes {
            let levels = self.graph.meta(id).levels;
            if levels & !bound != 0 {
                continue;
            }
            match self.graph.node(id) {
                Node::Read(r) => {
                    let slot = match r.source {
                        // The direction is read where the array is.
                        Source::Var(a) | Source::Direction(a) => a as usize,
                        Source::Data(d) => self.decls.arrays.len() + d as usize,
                        Source::ScalarDirection(_) => continue,
                    };
                    let mut range = ReadRange {
                        node: id,
                        lo: Vec::new(),
                        hi: Vec::new(),
                        at_hi: Vec::new(),
                        at_lo: Vec::new(),
                    };
                    for a in r.index.iter() {
                        let ((lo, at_lo), (hi, at_hi)) = self.extremes(a);
                        range.lo.push(lo);
                        range.hi.push(hi);
                        range.at_lo.extend(at_lo);
                        range.at_hi.extend(at_hi);
                    }
                    if let Some(list) = self.reads.get_mut(slot) {
                        list.push(range);
                    }
                }
                Node::Reduce(r, [body]) if levels & !bound == 0 => {
                    let saved = self.intervals;
                    // Each run of this region runs the loop in full.
                    let mut count = runs;
                    let mut empty = false;
                    for (k, g) in r.ranges.iter().enumerate() {
                        let ((lo, _), _) = self.extremes(&g.lo);
                        let (_, (hi, _)) = self.extremes(&g.hi);
                        if hi < lo {
                            empty = true;
                        }
                        count *= (hi.saturating_sub(lo).saturating_add(1)).max(0) as f64;
                        self.intervals[r.level as usize + k] = (lo, hi);
                    }
                    if count > MAX_ITERATIONS {
                        let (nest, hint) = if runs > 1.0 {
                            (
                                " with the loops around it",
                                "nested loops multiply: give the ranges, or the parameters in them, smaller values",
                            )
                        } else {
                            (
                                "",
                                "give the range, or the parameters in it, smaller values",
                            )
                        };
                        let message = format!(
                            "this {} runs up to {count:e} iterations{nest}, over the limit of {MAX_ITERATIONS:.0e} per evaluation",
                            r.op.name()
                        );
                        let err = match self.graph.origin(id) {
                            Some(o) => Error::at(ErrorKind::Limit, o.span, message),
                            None => Error::new(ErrorKind::Limit, message),
                        };
                        return Err(err.with_hint(hint));
                    }
                    if !empty {
                        let inner = bound | r.own_levels();
                        let list = crate::eval::loop_body(self.graph, *body, r.own_levels(), inner);
                        self.region(&list, inner, count)?;
                    }
                    self.intervals = saved;
                }
                _ => {}
            }
        }
        Ok(())
    }
}
