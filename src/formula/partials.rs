//! The partials of arrays of variables as indexed closed forms: one term
//! per scatter, its loop index written in `k`.

use super::*;
use crate::graph::{Affine, Range, Source, Symbol};

impl Formula {
    /// The partial derivatives with respect to each array's elements, as
    /// indexed closed forms: per array, its terms, each with the range of
    /// `k` where it adds to `df/dx[k]` (`-400*x[k]*(x[k+1] - x[k]^2) - 2*(1 -
    /// x[k])` for `k in 1..n-1`, `200*(x[k] - x[k-1]^2)` for `k in 2..n`).
    /// A term whose element is not `k` plus a constant, in one loop, is
    /// given as the loop that adds it (`for i in 1..n: x[2*i] += ...`).
    pub fn array_partials(&self, latex: bool) -> Result<Vec<(String, Vec<ArrayTerm>)>> {
        self.partials_of(&self.scatters, latex)
    }

    /// [`Formula::array_partials`] of the constraint numbered `c` (in
    /// [`Formula::constraints`]); a family's partials are its row's, in
    /// the family's index (`dg/dx[k] = 1 for k = i`).
    pub fn constraint_array_partials(
        &self,
        c: usize,
        latex: bool,
    ) -> Result<Vec<(String, Vec<ArrayTerm>)>> {
        self.partials_of(&self.constraints[c].scatters, latex)
    }

    fn partials_of(
        &self,
        scatters: &[Scatter],
        latex: bool,
    ) -> Result<Vec<(String, Vec<ArrayTerm>)>> {
        let mut out: Vec<(String, Vec<ArrayTerm>)> = self
            .array_names
            .iter()
            .map(|a| (a.clone(), Vec::new()))
            .collect();
        let k_level = crate::bind::MAX_LEVELS as u32;
        let mut levels = self.indexed.levels.clone();
        levels.resize(k_level as usize + 1, String::new());
        let k = self.partial_index();
        levels[k_level as usize] = k.clone();
        let syntax = if latex {
            print::Syntax::Latex
        } else {
            print::Syntax::Slope
        };
        for s in scatters {
            let Source::Var(a) = s.target.source else {
                continue;
            };
            let closed = closed_form(s, k_level);
            let mut names = self.names();
            names.levels = &levels;
            let term = match &closed {
                Some(c) => {
                    names.subst = Some((c.level, &c.by));
                    let value = print::print(&self.graph, s.value, names, syntax)?;
                    let ends: Vec<(&str, String, String)> = c
                        .remaining
                        .iter()
                        .map(|(l, r)| {
                            let p = print::affine_text(names, syntax, &r.lo);
                            let q = print::affine_text(names, syntax, &r.hi);
                            (levels[*l as usize].as_str(), p, q)
                        })
                        .collect();
                    let text = if ends.is_empty() {
                        value
                    } else if latex {
                        // As the printer writes a sum: `\sum_{i=1,j=i}^{k-1,n}`.
                        let (from, to): (Vec<String>, Vec<String>) = ends
                            .iter()
                            .map(|(i, p, q)| (format!("{i}={p}"), q.clone()))
                            .unzip();
                        format!(
                            "\\sum_{{{}}}^{{{}}} \\left({value}\\right)",
                            from.join(","),
                            to.join(",")
                        )
                    } else {
                        let sums: Vec<String> = ends
                            .iter()
                            .map(|(i, p, q)| format!("{i} in {p}..{q}"))
                            .collect();
                        format!("sum({}, {value})", sums.join(", "))
                    };
                    let (lo, hi) = (
                        print::affine_text(names, syntax, &c.lo),
                        print::affine_text(names, syntax, &c.hi),
                    );
                    let range = if c.lo == c.hi {
                        format!("{k} = {lo}")
                    } else {
                        format!("{k} in {lo}..{hi}")
                    };
                    ArrayTerm {
                        text,
                        range: Some(range),
                    }
                }
                None => {
                    let value = print::print(&self.graph, s.value, names, syntax)?;
                    let loops: Vec<String> = indices(&s.loops)
                        .into_iter()
                        .map(|(l, g)| {
                            format!(
                                "{} in {}..{}",
                                levels[l as usize],
                                print::affine_text(names, syntax, &g.lo),
                                print::affine_text(names, syntax, &g.hi)
                            )
                        })
                        .collect();
                    let index: Vec<String> = s
                        .target
                        .index
                        .iter()
                        .map(|i| print::affine_text(names, syntax, i))
                        .collect();
                    let element = format!(
                        "the element {}[{}]",
                        self.array_names[a as usize],
                        index.join(",")
                    );
                    // A family's row reads its elements outside any loop,
                    // at indices in the family's (`k = i+1`).
                    let range = match (loops.is_empty(), &index[..]) {
                        (true, [one]) => format!("{k} = {one}"),
                        (true, _) => element,
                        (false, _) => format!("{element}, for {}", loops.join(", ")),
                    };
                    ArrayTerm {
                        text: value,
                        range: Some(range),
                    }
                }
            };
            out[a as usize].1.push(term);
        }
        Ok(out)
    }
}

impl Formula {
    /// The name [`Formula::array_partials`] gives the index of an array's
    /// element, `df/dx[k]`: `k`, or the first of `m`, `kk`, `k_` that the
    /// formula does not use for something else.
    pub fn partial_index(&self) -> String {
        let taken = |name: &str| {
            self.indexed.levels.iter().any(|l| l == name)
                || self.vars.scalars().iter().any(|v| v == name)
                || self.param_names.iter().any(|p| p == name)
                || self.array_names.iter().any(|a| a == name)
                || self.data_names.iter().any(|d| d == name)
        };
        ["k", "m", "kk"]
            .into_iter()
            .find(|n| !taken(n))
            .unwrap_or("k_")
            .to_string()
    }
}

/// One term of the partial derivative of an array's element: what it
/// adds, and for which elements.
#[derive(Clone, Debug, PartialEq)]
pub struct ArrayTerm {
    /// The term, in slope syntax or LaTeX.
    pub text: String,
    /// Where it holds: `k in 1..n-1`, or the element and loops that add it.
    pub range: Option<String>,
}

/// A scatter as a closed form in `k`: the loop level that `k` replaces,
/// what the level is in terms of `k`, the range of `k`, and the loops that
/// remain as a sum.
struct ClosedForm {
    level: u32,
    by: Affine,
    lo: Affine,
    hi: Affine,
    remaining: Vec<(u32, Range)>,
}

/// The closed form of a scatter whose target is `k = ±level + rest`, one
/// dimension, with the level's range free of other levels.
fn closed_form(s: &Scatter, k_level: u32) -> Option<ClosedForm> {
    let [target] = &s.target.index[..] else {
        return None;
    };
    let levels: Vec<(u32, i64)> = target
        .terms
        .iter()
        .filter_map(|(sym, c)| match sym {
            Symbol::Level(l) => Some((*l, *c)),
            Symbol::Param(_) => None,
        })
        .collect();
    if levels.is_empty() {
        // One element, outside loops: `k` is the index itself.
        return Some(ClosedForm {
            level: k_level,
            by: Affine::symbol(Symbol::Level(k_level)),
            lo: target.clone(),
            hi: target.clone(),
            remaining: indices(&s.loops),
        });
    }
    let [(level, coef)] = levels[..] else {
        return None;
    };
    if coef.abs() != 1 {
        return None;
    }
    let mut all = indices(&s.loops);
    let (_, range) = all.iter().find(|(l, _)| *l == level)?.clone();
    let range = if range.lo.levels() != 0 || range.hi.levels() != 0 {
        let (range, outer, outer_range) = exchanged(&all, level, &range)?;
        all.iter_mut().find(|(l, _)| *l == outer)?.1 = outer_range;
        range
    } else {
        range
    };
    let rest = Affine {
        constant: target.constant,
        terms: target
            .terms
            .iter()
            .filter(|(sym, _)| *sym != Symbol::Level(level))
            .copied()
            .collect(),
    };
    // k = coef*level + rest, so level = coef*(k - rest).
    let k = Affine::symbol(Symbol::Level(k_level));
    let by = k.combine(coef, &rest, -coef)?;
    let (lo, hi) = if coef == 1 {
        (
            range.lo.combine(1, &rest, 1)?,
            range.hi.combine(1, &rest, 1)?,
        )
    } else {
        (
            rest.combine(1, &range.hi, -1)?,
            rest.combine(1, &range.lo, -1)?,
        )
    };
    Some(ClosedForm {
        level,
        by,
        lo,
        hi,
        remaining: all.into_iter().filter(|(l, _)| *l != level).collect(),
    })
}

/// The order of two triangular loops exchanged, so that `level` (the
/// target's index) runs over a range free of other indices: `i in a..b, j
/// in i+c..d` adds to x[j] for `j in a+c..d`, each from `i in a..j-c`,
/// when `b + c >= d` (no `i` is left without a `j`, as in `i in 1..n-1, j
/// in i+1..n`); `i in a..b, j in c..i+d` for `j in c..b+d` from `i in
/// j-d..b` when `a + d <= c`. Returns `level`'s new range, the outer index
/// and its new range (in terms of `level`); `None` where the exchange would
/// split a range in two, or the bounds are not of these shapes.
fn exchanged(all: &[(u32, Range)], level: u32, range: &Range) -> Option<(Range, u32, Range)> {
    let outer_of = |end: &Affine| match end.terms[..] {
        [(Symbol::Level(i), 1)] if i != level => Some(i),
        _ => None,
    };
    let free = |a: &Affine| a.levels() == 0;
    let at_least_zero = |a: &Affine| a.as_constant().is_some_and(|c| c >= 0);
    let (lower, outer) = match (outer_of(&range.lo), outer_of(&range.hi)) {
        (Some(i), None) if free(&range.hi) => (true, i),
        (None, Some(i)) if free(&range.lo) => (false, i),
        _ => return None,
    };
    let (_, o) = all.iter().find(|(l, _)| *l == outer)?;
    if !free(&o.lo) || !free(&o.hi) {
        return None;
    }
    let j = Affine::symbol(Symbol::Level(level));
    let i = Affine::symbol(Symbol::Level(outer));
    if lower {
        // range.lo = i + c.
        let c = range.lo.combine(1, &i, -1)?;
        if !at_least_zero(&o.hi.combine(1, &c, 1)?.combine(1, &range.hi, -1)?) {
            return None;
        }
        let new = Range {
            lo: o.lo.combine(1, &c, 1)?,
            hi: range.hi.clone(),
        };
        let outer_range = Range {
            lo: o.lo.clone(),
            hi: j.combine(1, &c, -1)?,
        };
        Some((new, outer, outer_range))
    } else {
        // range.hi = i + d.
        let d = range.hi.combine(1, &i, -1)?;
        if !at_least_zero(&range.lo.combine(1, &o.lo, -1)?.combine(1, &d, -1)?) {
            return None;
        }
        let new = Range {
            lo: range.lo.clone(),
            hi: o.hi.combine(1, &d, 1)?,
        };
        let outer_range = Range {
            lo: j.combine(1, &d, -1)?,
            hi: o.hi.clone(),
        };
        Some((new, outer, outer_range))
    }
}

/// Every index of a nest of loops, outermost first: its level and range.
fn indices(loops: &[crate::graph::Reduce]) -> Vec<(u32, Range)> {
    loops
        .iter()
        .flat_map(|r| {
            r.ranges
                .iter()
                .enumerate()
                .map(move |(j, g)| (r.level + j as u32, g.clone()))
        })
        .collect()
}
