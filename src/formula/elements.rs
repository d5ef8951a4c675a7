//! Names of variables as a user writes them outside a formula (`--at`,
//! `--start`, `--bounds`, Python's `start=`): `y` for a scalar, `x` for
//! every element of an array, `x[3]` or `p[2,1]` for one element. Resolved
//! from each array's placement, so that naming one element of a million
//! needs no table of a million names.

use std::collections::HashSet;
use std::ops::Range;

use super::*;
use crate::lower::VarIndex;

/// Resolves written names to positions in a [`Formula`]'s point, reading
/// the scalars by the formula's index of them and an element's position
/// from its indices.
pub struct Elements<'f> {
    formula: &'f Formula,
    scalars: &'f VarIndex,
}

impl Formula {
    /// A resolver of written names (`y`, `x`, `x[3]`) to positions in
    /// [`Formula::vars`].
    ///
    /// ```
    /// let f = slope::Formula::parse("var x[1..3]\nsum(i in 1..3, x[i]^2) + y")?;
    /// let names = f.elements();
    /// assert_eq!(names.resolve("y")?, 0..1);
    /// assert_eq!(names.resolve("x")?, 1..4);
    /// assert_eq!(names.resolve("x[ 2 ]")?, 2..3);
    /// assert!(names.resolve("x[4]").is_err());
    /// # Ok::<(), slope::Error>(())
    /// ```
    pub fn elements(&self) -> Elements<'_> {
        Elements {
            formula: self,
            scalars: self.vars.scalar_index(),
        }
    }
}

impl Elements<'_> {
    /// The positions `name` stands for: one for a scalar or an element,
    /// every element of an array (possibly none) for the array's name.
    /// A name the formula does not have, an index outside the extent, the
    /// wrong number of indices and an index on a scalar are usage errors
    /// that say what would be right.
    pub fn resolve(&self, name: &str) -> Result<Range<usize>> {
        let f = self.formula;
        let name = name.trim();
        let (base, index) = match name.split_once('[') {
            Some((base, rest)) => (base.trim(), Some(rest)),
            None => (name, None),
        };
        if let Some(a) = f.array_names.iter().position(|a| a == base) {
            let p = &f.frame.arrays[a];
            return match index {
                None => Ok(p.offset..p.offset + p.len()),
                Some(rest) => {
                    let index = parse_index(name, rest)?;
                    element(base, p, &index).map(|i| i..i + 1)
                }
            };
        }
        if let Some(i) = self.scalars.get(base) {
            let i = i as usize;
            return match index {
                None => Ok(i..i + 1),
                Some(_) => Err(Error::new(
                    ErrorKind::Usage,
                    format!("'{base}' is a scalar variable: '{name}' gives it an index"),
                )
                .with_hint(format!("write {base}=1"))),
            };
        }
        if f.param_names.iter().any(|p| p == base) {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("'{base}' is a parameter, not a variable"),
            )
            .with_hint(format!("set it with --set {base}=VALUE")));
        }
        if f.data_names.iter().any(|d| d == base) {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("'{base}' is a data column, not a variable"),
            )
            .with_hint("give the data with --data FILE.csv"));
        }
        Err(f.unknown_variable(name))
    }
}

/// The integers of `x[2, 1]` after the `[`: `rest` is `2, 1]`.
fn parse_index(name: &str, rest: &str) -> Result<Vec<i64>> {
    let malformed = || {
        Error::new(
            ErrorKind::Usage,
            format!("'{name}' is not an element: write an array's name and integer indices"),
        )
        .with_hint("write x[3] or p[2,1]")
    };
    let inside = rest.strip_suffix(']').ok_or_else(malformed)?;
    inside
        .split(',')
        .map(|k| k.trim().parse::<i64>().map_err(|_| malformed()))
        .collect()
}

/// The one rule for a list of written entries that name a variable more
/// than once (`--at`, `--start`, `--bounds`): an element's entry (`x[2]`)
/// overrides its array's (`x`) whichever is written first, as the more
/// particular of the two; the same scalar, array or element written twice
/// is refused as a likely slip. Letting the later entry win instead made
/// `x[2]=0:1,x=0:2` drop the bound on `x[2]` without a word.
///
/// ```
/// let f = slope::Formula::parse("var x[1..3]\nsum(i in 1..3, x[i]^2) + y")?;
/// let names = f.elements();
/// let mut entries = slope::Entries::new(f.n_vars())?;
/// let mut x = vec![f64::NAN; f.n_vars()];
/// for (name, value) in [("x[2]", 5.0), ("x", 1.0), ("y", 0.0)] {
///     entries.set(name, names.resolve(name)?, |k| x[k] = value)?;
/// }
/// assert_eq!(x, [0.0, 1.0, 5.0, 1.0]);
/// let twice = entries.set(" x ", names.resolve("x")?, |k| x[k] = 2.0);
/// assert_eq!(twice.unwrap_err().message, "'x' is given twice");
/// # Ok::<(), slope::Error>(())
/// ```
pub struct Entries {
    /// Whether an element's own entry has set each position.
    by_element: Vec<bool>,
    /// The names of the scalars and whole arrays given so far.
    whole: HashSet<String>,
}

impl Entries {
    /// The rule's record for a point of `n` variables, none given yet.
    pub fn new(n: usize) -> Result<Entries> {
        Ok(Entries {
            by_element: crate::bind::per_variable(n, false)?,
            whole: HashSet::new(),
        })
    }

    /// Calls `write` with each position the entry `name`, standing for
    /// the positions `range`, sets: every one for an element or a scalar,
    /// and for an array's name those that no element's entry has set. An
    /// element is written with its indices (`x[2]`); an entry given a
    /// second time is an error naming it.
    pub fn set(
        &mut self,
        name: &str,
        range: Range<usize>,
        mut write: impl FnMut(usize),
    ) -> Result<()> {
        let name = name.trim();
        let twice = || Error::new(ErrorKind::Usage, format!("'{name}' is given twice"));
        if name.contains('[') {
            for k in range {
                if std::mem::replace(&mut self.by_element[k], true) {
                    return Err(twice());
                }
                write(k);
            }
        } else {
            if !self.whole.insert(name.to_string()) {
                return Err(twice());
            }
            range.filter(|&k| !self.by_element[k]).for_each(write);
        }
        Ok(())
    }
}

/// The position of `array[index]` in the point, or an error naming the
/// extent the index is outside of or the rank it should have.
fn element(array: &str, p: &crate::bind::Placement, index: &[i64]) -> Result<usize> {
    let extent: Vec<String> = p
        .dims
        .iter()
        .map(|(lo, len)| format!("{lo}..{}", lo + *len as i64 - 1))
        .collect();
    let declared = format!("{array}[{}]", extent.join(", "));
    if index.len() != p.dims.len() {
        let example: Vec<String> = p.dims.iter().map(|d| d.0.to_string()).collect();
        return Err(Error::new(
            ErrorKind::Usage,
            format!(
                "'{array}' takes {} ({declared}), and {} given",
                count(p.dims.len(), "index", "indices"),
                count(index.len(), "index was", "indices were"),
            ),
        )
        .with_hint(format!("write {array}[{}]", example.join(","))));
    }
    p.position(index.iter().copied()).ok_or_else(|| {
        let written: Vec<String> = index.iter().map(i64::to_string).collect();
        Error::new(
            ErrorKind::Usage,
            format!("{array}[{}] is outside {declared}", written.join(",")),
        )
        .with_hint("an index must lie in the array's extent, with the parameters given by --set")
    })
}

fn count(n: usize, one: &str, many: &str) -> String {
    match n {
        1 => format!("1 {one}"),
        _ => format!("{n} {many}"),
    }
}
