//! The sparse Hessian of an indexed formula: its pattern read from the
//! gradient's loops, and its entries from a few Hessian-vector products
//! along grouped directions.
//!
//! Pattern: `H[k][l]` can be non-zero only where the partial of `x[k]`
//! reads `x[l]`. Each scatter adds its value to the partial of its target
//! at every index tuple of its loops, so walking its loops once (the cost
//! of one gradient) and evaluating the affine indices of the reads its
//! value makes gives, per iteration, the elements read together with the
//! target: a band for chained bodies (`x[i+1] - x[i]^2`: the target and
//! its neighbours), every element of a range where a sum sits inside a
//! nonlinear function (the value reads the whole inner sum). Reads whose
//! derivative is zero (`sign(x)`) count too: the pattern may hold a few
//! structural zeros, never miss an entry.
//!
//! Entries: two columns that share no row (structurally orthogonal) can
//! be found by one product `H·(e_j + e_k)`, each row's entry read from the
//! one column of the group it has (Curtis, Powell and Reid, 1974). Columns
//! are grouped greedily, in order, each in the first group none of its
//! rows' other columns is in (a distance-2 colouring of the column graph):
//! a tridiagonal Hessian takes 3 products, a band of half-width w at most
//! 2w + 1, whatever n.

use crate::bind::Frame;
use crate::diff::Gradient;
use crate::error::{Error, Limit, Result};
use crate::eval::{Levels, each_tuple};
use crate::graph::{Graph, Node, NodeId, Read, Reduce, Source};

/// A symmetric matrix by its lower triangle, row by row (compressed sparse
/// rows): row `i` holds the columns `cols[starts[i]..starts[i + 1]]`, in
/// increasing order and each at most `i`, with their `values`. Entries
/// outside the pattern are zero.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SparseHessian {
    /// Where each row starts in `cols` and `values`, then their length.
    pub starts: Vec<usize>,
    /// Each entry's column, row by row.
    pub cols: Vec<usize>,
    /// Each entry's value, where `cols` has its column.
    pub values: Vec<f64>,
}

impl SparseHessian {
    /// The matrix's order.
    pub fn n(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// Every stored entry as `(row, column, value)`, row by row, column
    /// at most row.
    pub fn entries(&self) -> impl Iterator<Item = (usize, usize, f64)> + '_ {
        (0..self.n()).flat_map(move |i| {
            (self.starts[i]..self.starts[i + 1]).map(move |k| (i, self.cols[k], self.values[k]))
        })
    }

    /// The whole matrix, row-major (`n*n` values), both triangles.
    pub fn to_dense(&self) -> Vec<f64> {
        let n = self.n();
        let mut out = vec![0.0; n * n];
        for (i, j, v) in self.entries() {
            out[i * n + j] = v;
            out[j * n + i] = v;
        }
        out
    }
}

/// Which elements of `x` a node reads: scalar variables and array
/// elements read at the current loop indices, and those of each inner
/// reduction over its whole range.
#[derive(Debug, Default)]
struct Reads {
    vars: Vec<usize>,
    elements: Vec<Read>,
    reductions: Vec<(Reduce, Reads)>,
}

impl Reads {
    /// What `root` reads, entering the reductions it holds.
    fn of(graph: &Graph, root: NodeId) -> Reads {
        let mut reads = Reads::default();
        let mut seen = rustc_hash::FxHashSet::default();
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            if !seen.insert(id) || graph.meta(id).first_var >= crate::graph::INPUTS {
                continue;
            }
            match graph.node(id) {
                Node::Var(j) => reads.vars.push(*j as usize),
                Node::Read(r) if matches!(r.source, Source::Var(_)) => {
                    reads.elements.push((**r).clone());
                }
                Node::Reduce(r, [body]) => {
                    reads
                        .reductions
                        .push(((**r).clone(), Reads::of(graph, *body)));
                }
                node => stack.extend_from_slice(node.children()),
            }
        }
        reads
    }

    /// Calls `f` with the position in `x` of every element read with the
    /// loop indices `levels`.
    fn visit(&self, frame: &Frame, levels: &mut Levels, f: &mut dyn FnMut(usize)) {
        for &j in &self.vars {
            f(j);
        }
        for r in &self.elements {
            if let Some(p) = position(frame, r, levels) {
                f(p);
            }
        }
        for (r, inner) in &self.reductions {
            let saved = *levels;
            each_tuple(&r.ranges, r.level, frame, levels, |levels| {
                inner.visit(frame, levels, f)
            });
            *levels = saved;
        }
    }
}

/// The position in `x` of the array element `r` reads at `levels`.
fn position(frame: &Frame, r: &Read, levels: &Levels) -> Option<usize> {
    let Source::Var(a) = r.source else {
        return None;
    };
    let index = r.index.iter().map(|i| frame.index(i, levels));
    frame.arrays.get(a as usize)?.position(index)
}

/// The lower triangle of the Hessian's pattern, as sorted rows: `(k, l)`
/// with `l <= k` wherever the partial of `x[k]` or of `x[l]` reads the
/// other. Refused past `max_entries` entries.
pub(crate) fn pattern(
    graph: &Graph,
    gradient: &Gradient,
    frame: &Frame,
    n: usize,
    max_entries: usize,
) -> Result<Vec<Vec<usize>>> {
    let mut rows = Rows {
        rows: vec![Vec::new(); n],
        pushed: 0,
        next_check: max_entries,
        max_entries,
    };
    let mut levels: Levels = [0; crate::bind::MAX_LEVELS];
    for (j, &partial) in gradient.scalars.iter().enumerate() {
        let reads = Reads::of(graph, partial);
        reads.visit(frame, &mut levels, &mut |l| rows.add(j, l));
    }
    for s in &gradient.scatters {
        let reads = Reads::of(graph, s.value);
        let mut over = false;
        walk_loops(&s.loops, frame, &mut levels, &mut |levels| {
            if let (false, Some(k)) = (over, position(frame, &s.target, levels)) {
                let mut at = *levels;
                reads.visit(frame, &mut at, &mut |l| rows.add(k, l));
                over = rows.over();
            }
        });
        if over {
            return Err(too_many_entries(max_entries));
        }
    }
    let entries = rows.dedup();
    if entries > max_entries {
        return Err(too_many_entries(max_entries));
    }
    Ok(rows.rows)
}

/// The pattern's rows while they are collected, with repeats.
struct Rows {
    rows: Vec<Vec<usize>>,
    /// Entries pushed since the rows were last deduplicated, plus those
    /// kept then.
    pushed: usize,
    /// When to deduplicate and count again.
    next_check: usize,
    max_entries: usize,
}

impl Rows {
    /// Entry `(k, l)`, stored in the lower triangle.
    fn add(&mut self, k: usize, l: usize) {
        let (k, l) = if l > k { (l, k) } else { (k, l) };
        if let Some(row) = self.rows.get_mut(k) {
            row.push(l);
            self.pushed += 1;
        }
    }

    /// Whether the distinct entries are over the limit (checked when the
    /// pushes pass the next check, so that a band costs its reads).
    fn over(&mut self) -> bool {
        if self.pushed <= self.next_check {
            return false;
        }
        let kept = self.dedup();
        self.pushed = kept;
        self.next_check = self.max_entries.max(2 * kept);
        kept > self.max_entries
    }

    /// Sorts and deduplicates every row; returns the entries kept.
    fn dedup(&mut self) -> usize {
        self.rows
            .iter_mut()
            .map(|r| {
                r.sort_unstable();
                r.dedup();
                r.len()
            })
            .sum()
    }
}

/// Calls `f` at every index tuple of the nested `loops`.
fn walk_loops(loops: &[Reduce], frame: &Frame, levels: &mut Levels, f: &mut dyn FnMut(&Levels)) {
    match loops.split_first() {
        None => f(levels),
        Some((r, rest)) => each_tuple(&r.ranges, r.level, frame, levels, |levels| {
            walk_loops(rest, frame, levels, f)
        }),
    }
}

fn too_many_entries(max_entries: usize) -> Error {
    Error::over_limit(
        Limit::Nodes,
        max_entries,
        format!(
            "the Hessian has more than {max_entries} entries in its lower triangle, the limit \
             (a sum inside a nonlinear function makes it dense)"
        ),
    )
}

/// Groups of structurally orthogonal columns of the symmetric pattern
/// whose lower triangle is `lower`: `colour[j]` for each column, and the
/// number of groups. Greedy, columns in order.
pub(crate) fn colour_columns(lower: &[Vec<usize>]) -> (Vec<usize>, usize) {
    let n = lower.len();
    // The full pattern, by column (symmetric: columns are rows).
    let mut full: Vec<Vec<usize>> = lower.to_vec();
    for (k, row) in lower.iter().enumerate() {
        for &l in row {
            if l != k {
                full[l].push(k);
            }
        }
    }
    for row in &mut full {
        row.sort_unstable();
        row.dedup();
    }
    let mut colour = vec![usize::MAX; n];
    let mut used = 0;
    // `forbidden[c] == j` while column j is being coloured: group c holds
    // a column sharing a row with j.
    let mut forbidden: Vec<usize> = Vec::new();
    for j in 0..n {
        for &i in &full[j] {
            for &k in &full[i] {
                if colour[k] != usize::MAX {
                    forbidden[colour[k]] = j;
                }
            }
        }
        let c = (0..used).find(|&c| forbidden[c] != j).unwrap_or(used);
        if c == used {
            used += 1;
            forbidden.push(usize::MAX);
        }
        colour[j] = c;
    }
    (colour, used)
}

/// A pattern's entries in compressed sparse rows with the group of each
/// column: what [`from_products`] needs, worked out once per pattern (the
/// colouring costs more than the few products it saves, so a compiled
/// formula keeps it with its pattern rather than colour at every call).
#[derive(Clone, Debug)]
pub(crate) struct Grouping {
    /// The lower triangle's entries, as [`SparseHessian`] holds them.
    starts: Vec<usize>,
    cols: Vec<usize>,
    /// The group of each column.
    colour: Vec<usize>,
    /// How many groups, so how many products.
    groups: usize,
}

impl Grouping {
    /// The grouping of the pattern whose lower triangle is `lower`.
    pub(crate) fn new(lower: &[Vec<usize>]) -> Grouping {
        let (colour, groups) = colour_columns(lower);
        let mut starts = Vec::with_capacity(lower.len() + 1);
        let mut cols = Vec::with_capacity(lower.iter().map(Vec::len).sum());
        starts.push(0);
        for row in lower {
            cols.extend_from_slice(row);
            starts.push(cols.len());
        }
        Grouping {
            starts,
            cols,
            colour,
            groups,
        }
    }

    /// The pattern itself, every value 0.
    pub(crate) fn pattern(&self) -> SparseHessian {
        SparseHessian {
            starts: self.starts.clone(),
            cols: self.cols.clone(),
            values: vec![0.0; self.cols.len()],
        }
    }

    /// The entries of the pattern, in its order, into `values`, from one
    /// product `H·d` per group of columns (`hess_vec(d, out)`), each read
    /// in its row from the one column of its group the row has;
    /// `direction` and `product` are scratch of one value per variable
    /// (so that Newton's method, which calls this at every step,
    /// allocates nothing).
    pub(crate) fn fill(
        &self,
        values: &mut [f64],
        direction: &mut [f64],
        product: &mut [f64],
        mut hess_vec: impl FnMut(&[f64], &mut [f64]) -> Result<()>,
    ) -> Result<()> {
        let Grouping {
            starts,
            cols,
            colour,
            groups,
        } = self;
        let n = colour.len();
        for c in 0..*groups {
            for (d, &k) in direction.iter_mut().zip(colour) {
                *d = if k == c { 1.0 } else { 0.0 };
            }
            hess_vec(direction, product)?;
            for i in 0..n {
                for k in starts[i]..starts[i + 1] {
                    if colour[cols[k]] == c {
                        values[k] = product[i];
                    }
                }
            }
        }
        Ok(())
    }
}

/// The lower triangle of the Hessian with the pattern `grouping` was made
/// from, from one product `H·d` per group of columns (`hess_vec(d, out)`):
/// [`Grouping::fill`] into a new matrix.
pub(crate) fn from_products(
    grouping: &Grouping,
    hess_vec: impl FnMut(&[f64], &mut [f64]) -> Result<()>,
) -> Result<SparseHessian> {
    let mut hessian = grouping.pattern();
    let n = grouping.colour.len();
    let (mut direction, mut product) = (vec![0.0; n], vec![0.0; n]);
    grouping.fill(&mut hessian.values, &mut direction, &mut product, hess_vec)?;
    Ok(hessian)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A band of half-width `w` over `n` rows, lower triangle.
    fn band(n: usize, w: usize) -> Vec<Vec<usize>> {
        (0..n)
            .map(|k| (k.saturating_sub(w)..=k).collect())
            .collect()
    }

    #[test]
    fn a_band_takes_its_width_in_groups_whatever_its_length() {
        for n in [5, 100, 10_000] {
            assert_eq!(colour_columns(&band(n, 1)).1, 3, "tridiagonal, n = {n}");
            assert_eq!(colour_columns(&band(n, 2)).1, 5, "pentadiagonal, n = {n}");
        }
        assert_eq!(colour_columns(&band(6, 0)).1, 1, "diagonal");
    }

    fn pattern_of(text: &str, n: usize) -> Vec<Vec<usize>> {
        let options = crate::Options {
            params: vec![("n".into(), n as f64)],
            ..Default::default()
        };
        crate::Formula::parse_with(text, &options)
            .unwrap()
            .hessian_pattern()
            .unwrap()
    }

    #[test]
    fn rosenbrocks_pattern_is_tridiagonal_and_takes_three_products() {
        let text =
            "param n = 4\nvar x[1..n]\nsum(i in 1..n-1, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)";
        let n = 10_000;
        let lower = pattern_of(text, n);
        assert_eq!(lower, band(n, 1));
        assert_eq!(colour_columns(&lower).1, 3);
    }

    #[test]
    fn a_sum_inside_a_nonlinear_function_makes_the_pattern_dense() {
        let lse = "param n = 4\nvar x[1..n]\nlog(sum(i in 1..n, exp(x[i])))";
        assert_eq!(pattern_of(lse, 6), band(6, 5));
        // Pairs: every element meets every other.
        let pairs =
            "param n = 4\nvar x[1..n]\nsum(i in 1..n-1, j in i+1..n, 1/(1 + (x[i] - x[j])^2))";
        assert_eq!(pattern_of(pairs, 5), band(5, 4));
        // A linear sum has no second derivatives.
        let linear = "param n = 4\nvar x[1..n]\nsum(i in 1..n, i*x[i])";
        assert_eq!(pattern_of(linear, 5), vec![Vec::<usize>::new(); 5]);
    }

    #[test]
    fn columns_of_a_group_share_no_row() {
        let lower = vec![vec![0], vec![0, 1], vec![2], vec![0, 2, 3]];
        let (colour, _) = colour_columns(&lower);
        let mut full = lower.clone();
        for (k, row) in lower.iter().enumerate() {
            for &l in row {
                if l != k {
                    full[l].push(k);
                }
            }
        }
        for row in &full {
            for (a, &j) in row.iter().enumerate() {
                for &k in &row[a + 1..] {
                    assert_ne!(colour[j], colour[k], "columns {j} and {k} share a row");
                }
            }
        }
    }
}
