//! The product of the other factors of a `prod` (the partial derivative
//! of a `prod`, marked in the graph by `diff/product.rs`), printed as a
//! person writes it: the products before and after the current factor.

use super::*;

impl Printer<'_> {
    /// How many products [`Printer::others_factors`] writes `id` as, if it
    /// is the product of the other factors of a `prod` that prints so.
    pub(super) fn others_count(&self, id: NodeId) -> Option<usize> {
        let (r, body) = self.graph.product_of_others(id)?;
        let indices = r.ranges.len();
        if self.graph.meta(*body).levels & r.own_levels() != 0 {
            Some(2 * indices)
        } else {
            (indices == 1).then_some(1)
        }
    }

    /// The product of the factors of a `prod` other than the one at the
    /// current index tuple, as a person writes it rather than as the
    /// gradient computes it (`Q/b` guarded at zero factors,
    /// `diff/product.rs`): the products over the tuples before the current
    /// one and after it, `prod(i in 1..k-1, x[i])*prod(i in k+1..n, x[i])`.
    /// With several indices, the tuples are split as the `prod` runs them,
    /// lexicographically: for each index, the tuples whose earlier indices
    /// are the current ones and whose index is below (above) its current
    /// value, the later indices over their whole ranges. That is two
    /// products per index, each an ordinary `prod` that parses back; a
    /// form with fewer (one product over all tuples but one) is not in
    /// the language. A body that does not use the indices (`prod(i in
    /// 1..n, y)`) is a power of it: one product over a range one shorter,
    /// for one index; with several, `None`, and it prints as the product
    /// it is.
    pub(super) fn others_factors(&self, id: NodeId) -> Option<Vec<String>> {
        let count = self.others_count(id)?;
        let (r, body) = self.graph.product_of_others(id)?;
        if count == 1 {
            let range = &r.ranges[0];
            let lo = range.lo.combine(1, &Affine::constant(1), 1)?;
            let name = name_of(self.names.levels, r.level, false);
            let bounds = [(name, self.affine(&lo), self.affine(&range.hi))];
            return Some(vec![self.reduction_text(&bounds, *body, self)]);
        }
        let (level, indices) = (r.level, r.ranges.len() as u32);
        let subst_level = self.names.subst.map(|(l, _)| l);
        let width = self.names.levels.len().max((level + indices) as usize);
        let mut names: Vec<String> = self.names.levels.to_vec();
        names.resize(width, "?".to_string());
        // The loop indices' names where the current index is not printed
        // by name (a partial's `k`) are free inside the products.
        let mut taken: Vec<&str> = (self.names.vars.iter())
            .chain(self.names.params)
            .chain(self.names.arrays)
            .chain(self.names.data)
            .map(String::as_str)
            .collect();
        taken.extend(
            (self.names.levels.iter().enumerate())
                .filter(|&(l, _)| Some(l as u32) != subst_level)
                .map(|(_, n)| n.as_str()),
        );
        let mut fresh: Vec<String> = Vec::new();
        for q in 0..indices {
            let base = &names[(level + q) as usize];
            let name = std::iter::once(base.clone())
                .chain((2..).map(|m| format!("{base}{m}")))
                .find(|n| !taken.contains(&n.as_str()) && !fresh.contains(n))?;
            fresh.push(name);
        }
        let mut factors = Vec::with_capacity(2 * indices as usize);
        for p in 0..indices {
            let mut inner_names = names.clone();
            for q in p..indices {
                inner_names[(level + q) as usize] = fresh[q as usize].clone();
            }
            let renamed = |l: u32| (level + p..level + indices).contains(&l);
            let inner = Printer {
                graph: self.graph,
                names: Names {
                    levels: &inner_names,
                    subst: self.names.subst.filter(|(l, _)| !renamed(*l)),
                    ..self.names
                },
                syntax: self.syntax,
            };
            let current = Affine::symbol(Symbol::Level(level + p));
            let one = Affine::constant(1);
            let (below, above) = (current.combine(1, &one, -1)?, current.combine(1, &one, 1)?);
            for before in [true, false] {
                let range = &r.ranges[p as usize];
                let mut bounds = vec![if before {
                    (
                        fresh[p as usize].clone(),
                        inner.affine(&range.lo),
                        self.affine(&below),
                    )
                } else {
                    (
                        fresh[p as usize].clone(),
                        self.affine(&above),
                        inner.affine(&range.hi),
                    )
                }];
                for q in p + 1..indices {
                    let range = &r.ranges[q as usize];
                    bounds.push((
                        fresh[q as usize].clone(),
                        inner.affine(&range.lo),
                        inner.affine(&range.hi),
                    ));
                }
                factors.push(self.reduction_text(&bounds, *body, &inner));
            }
        }
        // Before and after the current tuple, the products run in index order.
        let (befores, afters): (Vec<_>, Vec<_>) = factors
            .into_iter()
            .enumerate()
            .partition(|(k, _)| k % 2 == 0);
        Some(
            (befores.into_iter().map(|(_, f)| f))
                .chain(afters.into_iter().rev().map(|(_, f)| f))
                .collect(),
        )
    }

    /// `prod(i in lo..hi, ..., body)` with `body` printed by `inner`.
    fn reduction_text(
        &self,
        bounds: &[(String, String, String)],
        body: NodeId,
        inner: &Printer<'_>,
    ) -> String {
        let body = inner
            .print(body)
            .unwrap_or_else(|_| "<too large>".to_string());
        if self.latex() {
            let (from, to): (Vec<String>, Vec<String>) = (bounds.iter())
                .map(|(i, lo, hi)| (format!("{}={lo}", latex_name(i)), hi.clone()))
                .unzip();
            format!(
                "\\prod_{{{}}}^{{{}}} \\left({body}\\right)",
                from.join(","),
                to.join(",")
            )
        } else {
            let ranges: Vec<String> = (bounds.iter())
                .map(|(i, lo, hi)| format!("{i} in {lo}..{hi}"))
                .collect();
            format!("prod({}, {body})", ranges.join(", "))
        }
    }
}
