//! [`VarNames`]: the names of a formula's variables, made on request.
//!
//! A formula with `var x[1..n]` has `n` variables named `x[1]` … `x[n]`.
//! Binding used to write all of them out, with a map from name to
//! position beside them: at `n = 10^6` that was 157 ms of the 211 ms it
//! took to compile the indexed Rosenbrock, and 55 MiB, for names that a
//! run which prints twenty of them never reads. The names are a function
//! of the declarations (the scalars' names, each array's name, offset and
//! extents), so that is what is kept: [`VarNames::name`] formats one name,
//! [`VarNames::index_of`] computes one position from the indices written,
//! and the whole list is made only when a caller asks for it
//! ([`VarNames::all`], once, then kept).
//!
//! Invariant: `name(k)` for `k < len()` is `all()[k]`, and `index_of`
//! finds exactly the names `name` makes.

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use super::Placement;
use crate::lower::VarIndex;

/// The names of a formula's variables in their order: the scalar variables
/// first, then each array's elements, last index fastest, named as in
/// every output (`x[3]`, `p[2,1]`).
///
/// ```
/// let f = slope::Formula::parse_with(
///     "param n = 3\nvar p[1..n, 0..1]\ny + sum(i in 1..n, p[i, 0] * p[i, 1])",
///     &slope::Options { params: vec![("n".into(), 4e5)], ..Default::default() },
/// )?;
/// let names = f.var_names();
/// assert_eq!(names.len(), 800_001);
/// assert_eq!(names.name(0), "y");
/// assert_eq!(names.name(4), "p[2,1]");
/// assert_eq!(names.index_of("p[400000,1]"), Some(800_000));
/// assert_eq!(names.index_of("p[3,2]"), None);
/// # Ok::<(), slope::Error>(())
/// ```
#[derive(Default)]
pub struct VarNames {
    scalars: Vec<String>,
    /// Each array's name and where its elements lie.
    arrays: Vec<(String, Placement)>,
    len: usize,
    /// The scalars by name, made on the first lookup.
    scalar_index: OnceLock<VarIndex>,
    /// Every name, made when first asked for.
    all: OnceLock<Vec<String>>,
}

impl VarNames {
    /// The names of a formula's scalar variables, and of its arrays'
    /// elements laid out by `arrays` (name and placement, in the order of
    /// their offsets, the first right after the scalars).
    pub(crate) fn new(scalars: Vec<String>, arrays: Vec<(String, Placement)>) -> VarNames {
        let len = arrays
            .last()
            .map_or(scalars.len(), |(_, p)| p.offset + p.len());
        debug_assert!(
            arrays
                .iter()
                .scan(scalars.len(), |at, (_, p)| {
                    let fits = p.offset == *at;
                    *at += p.len();
                    Some(fits)
                })
                .all(|fits| fits),
            "arrays lie one after another after the scalars"
        );
        VarNames {
            scalars,
            arrays,
            len,
            ..VarNames::default()
        }
    }

    /// The number of variables.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none (a constant).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The scalar variables' names (the first of all).
    pub fn scalars(&self) -> &[String] {
        &self.scalars
    }

    /// The name of variable `k`: borrowed for a scalar, formatted for an
    /// array's element. Panics if `k >= len()`, like indexing a slice.
    pub fn name(&self, k: usize) -> Cow<'_, str> {
        if let Some(s) = self.scalars.get(k) {
            return Cow::Borrowed(s);
        }
        if let Some(all) = self.all.get() {
            return Cow::Borrowed(&all[k]);
        }
        let (array, p) = self
            .arrays
            .iter()
            .find(|(_, p)| k < p.offset + p.len())
            .unwrap_or_else(|| panic!("variable {k} of {}", self.len));
        let mut name = String::with_capacity(array.len() + 12);
        write_element(&mut name, array, p, k - p.offset);
        Cow::Owned(name)
    }

    /// The names in order, each made as it is reached.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Cow<'_, str>> + '_ {
        (0..self.len).map(|k| self.name(k))
    }

    /// The position of the variable written `name`, exactly as
    /// [`VarNames::name`] writes it (`x[3]`, `p[2,1]`; not `x[ 3 ]` or
    /// `x[03]`, which [`Formula::elements`](crate::Formula::elements)
    /// reads): computed from the indices, with no table of the elements.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        let element = name.split_once('[').and_then(|(base, rest)| {
            let (_, p) = self.arrays.iter().find(|(a, _)| a == base)?;
            Some((base, rest, p))
        });
        let Some((base, rest, p)) = element else {
            // A scalar, or an element written out as one (`x[2]` of
            // `Formula::unrolled`).
            return self.scalar_index().get(name).map(|k| k as usize);
        };
        let indices = rest.strip_suffix(']')?.split(',');
        // Reading stops at the first index that is no integer; the name
        // made back from the position must then be `name` itself, which
        // refuses too few or too many indices and any other spelling.
        let position = p.position(indices.map_while(|i| i.parse().ok()))?;
        let mut made = String::with_capacity(name.len());
        write_element(&mut made, base, p, position - p.offset);
        (made == name).then_some(position)
    }

    /// Every name, made on the first call (for `n` elements, `n` strings)
    /// and kept: for a caller that wants the list itself, such as JSON
    /// output of every variable.
    pub fn all(&self) -> &[String] {
        self.all.get_or_init(|| {
            let mut all = Vec::with_capacity(self.len);
            all.extend(self.scalars.iter().cloned());
            for (array, p) in &self.arrays {
                for k in 0..p.len() {
                    let mut name = String::with_capacity(array.len() + 12);
                    write_element(&mut name, array, p, k);
                    all.push(name);
                }
            }
            all
        })
    }

    /// The scalars by name (made once).
    pub(crate) fn scalar_index(&self) -> &VarIndex {
        self.scalar_index
            .get_or_init(|| VarIndex::of(&self.scalars))
    }
}

impl Clone for VarNames {
    /// A copy without the names made so far (they are made again on
    /// request); formulas share theirs behind an `Arc` instead.
    fn clone(&self) -> VarNames {
        VarNames::new(self.scalars.clone(), self.arrays.clone())
    }
}

impl fmt::Debug for VarNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VarNames")
            .field("scalars", &self.scalars)
            .field("arrays", &self.arrays)
            .field("len", &self.len)
            .finish()
    }
}

/// `array[i,j]` for the element `k` (counted from 0) of the array at `p`,
/// last index fastest: the inverse of [`Placement::position`].
fn write_element(out: &mut String, array: &str, p: &Placement, k: usize) {
    use fmt::Write;
    out.push_str(array);
    out.push('[');
    for (d, &(lo, _)) in p.dims.iter().enumerate() {
        let stride: usize = p.dims[d + 1..].iter().map(|d| d.1).product();
        let len = p.dims[d].1;
        let i = lo + ((k / stride.max(1)) % len.max(1)) as i64;
        if d > 0 {
            out.push(',');
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{i}");
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placement(offset: usize, dims: &[(i64, usize)]) -> Placement {
        Placement {
            offset,
            dims: dims.to_vec(),
        }
    }

    /// y, z, then x[0..2], then p[1..2, -1..1].
    fn sample() -> VarNames {
        VarNames::new(
            vec!["y".into(), "z".into()],
            vec![
                ("x".into(), placement(2, &[(0, 3)])),
                ("p".into(), placement(5, &[(1, 2), (-1, 3)])),
            ],
        )
    }

    #[test]
    fn names_are_made_in_the_order_of_positions() {
        let names = sample();
        let want = [
            "y", "z", "x[0]", "x[1]", "x[2]", "p[1,-1]", "p[1,0]", "p[1,1]", "p[2,-1]", "p[2,0]",
            "p[2,1]",
        ];
        assert_eq!(names.len(), want.len());
        let one_by_one: Vec<String> = names.iter().map(Cow::into_owned).collect();
        assert_eq!(one_by_one, want);
        assert_eq!(names.all(), want);
        // Once the list is made, a name is borrowed from it.
        assert!(matches!(names.name(7), Cow::Borrowed("p[1,1]")));
    }

    #[test]
    fn index_of_inverts_name() {
        let names = sample();
        for k in 0..names.len() {
            assert_eq!(names.index_of(&names.name(k)), Some(k), "{}", names.name(k));
        }
    }

    #[test]
    fn index_of_refuses_what_name_never_writes() {
        let names = sample();
        for bad in [
            "",
            "w",
            "x",
            "p",
            "y[1]",
            "w[1]",
            "x[3]",
            "x[-1]",
            "x[]",
            "x[1",
            "x1]",
            "x[1]]",
            "x[1,0]",
            "p[1]",
            "p[1,2]",
            "p[0,0]",
            "p[1,0,0]",
            "x[ 1]",
            "x[01]",
            "x[+1]",
            "p[1, 0]",
            "x[1.0]",
            "x[a]",
            "x[99999999999999999999]",
            "X[1]",
            " y",
        ] {
            assert_eq!(names.index_of(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_scalar_formula_and_an_empty_array() {
        let names = VarNames::new(
            vec!["b".into(), "a".into()],
            vec![("x".into(), placement(2, &[(1, 0)]))],
        );
        assert_eq!(names.len(), 2);
        assert_eq!(names.index_of("a"), Some(1));
        assert_eq!(names.index_of("x[1]"), None);
        assert_eq!(names.all(), ["b", "a"]);
        assert!(VarNames::default().is_empty());
    }

    #[test]
    fn elements_written_out_are_scalars() {
        // `Formula::unrolled` names its scalars as the elements they were.
        let names = VarNames::new(vec!["x[1]".into(), "x[2]".into()], Vec::new());
        assert_eq!(names.index_of("x[2]"), Some(1));
        assert_eq!(names.index_of("x[3]"), None);
        assert_eq!(names.name(1), "x[2]");
    }

    #[test]
    fn a_million_names_are_not_made_to_name_one() {
        let names = VarNames::new(
            Vec::new(),
            vec![("x".into(), placement(0, &[(1, 1_000_000)]))],
        );
        assert_eq!(names.name(999_999), "x[1000000]");
        assert_eq!(names.index_of("x[500000]"), Some(499_999));
        assert!(names.all.get().is_none());
    }
}
