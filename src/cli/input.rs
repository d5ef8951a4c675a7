//! Where a command's formula comes from (its argument, `-f FILE`, a
//! `NAME.slope` file or standard input), how it is read and parsed, and
//! where the command line asks for it to be evaluated (`--at`).

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use slope::parse::Limits;
use slope::{Error, ErrorKind, Formula, Limit, Options, Result};

use super::{Failure, MAX_DATA_BYTES, parse_assignments, usage};

// Where the formula comes from, and how to read it. (Not a doc comment:
// clap would make it the `about` of every subcommand that flattens this,
// over the subcommand's own, because a deferred subcommand's flags are
// added after its `about`.)
#[derive(clap::Args, Debug)]
pub struct Input {
    /// The formula, e.g. "x^2 + 3*y", or a file named NAME.slope to read it
    /// from (or use -f)
    #[arg(
        value_name = "FORMULA",
        allow_hyphen_values = true,
        conflicts_with = "file"
    )]
    pub(crate) formula: Option<String>,
    /// Read the formula from FILE ('-' for standard input)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    /// The variables' order, e.g. --vars y,x (default: order of appearance)
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub(crate) vars: Option<Vec<String>>,
    /// A parameter's value, overriding the formula's (param n = 10): --set n=1000
    #[arg(long = "set", value_name = "NAME=VALUE", allow_hyphen_values = true)]
    pub(crate) set: Vec<String>,
    /// A CSV file whose columns (named in its header row) are the formula's data
    #[arg(long, value_name = "FILE")]
    pub(crate) data: Option<PathBuf>,
    /// Refuse formulas longer than this many bytes
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_bytes, help_heading = "Limits")]
    pub(crate) max_bytes: usize,
    /// Refuse formulas nested deeper than this
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_depth, help_heading = "Limits")]
    pub(crate) max_depth: usize,
    /// Refuse formulas with more variables than this
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_vars, help_heading = "Limits")]
    pub(crate) max_vars: usize,
    /// Refuse formulas whose graph, derivatives and Hessian entries included, needs more nodes
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_nodes, help_heading = "Limits")]
    pub(crate) max_nodes: usize,
}

// A point on the command line, `--at x=1,y=2`: shared by the commands
// that evaluate at one point. (Not a doc comment, as for `Input`.)
#[derive(clap::Args, Debug, Clone, Default)]
pub struct At {
    /// The point, e.g. --at x=1,y=2 (every variable once), or --at @FILE to
    /// read the same text from FILE (for more variables than a command line holds)
    #[arg(long, value_name = "POINT", allow_hyphen_values = true)]
    pub(crate) at: Option<String>,
}

impl At {
    pub(crate) fn is_given(&self) -> bool {
        self.at.is_some()
    }

    /// The `name = value` pairs given, if `--at` was.
    pub(crate) fn assignments(&self) -> Result<Option<Vec<(String, f64)>>> {
        self.at
            .as_deref()
            .map(|text| parse_assignments("--at", text))
            .transpose()
    }

    /// The point for `f`: every variable exactly once. Without `--at`, the
    /// error says to give it (a constant formula needs none).
    pub(crate) fn point(&self, f: &Formula) -> Result<Vec<f64>> {
        let assignments = self.assignments()?.unwrap_or_default();
        f.point(&assignments).map_err(|e| {
            if self.at.is_none() && f.n_vars() > 0 {
                e.with_hint(format!(
                    "give the point with --at {}=1",
                    f.var_names().name(0)
                ))
            } else {
                e
            }
        })
    }
}

/// The formula's text and a name for it in messages.
pub struct Source {
    pub text: String,
    pub origin: String,
}

/// Reads at most `max_bytes` of UTF-8 text from `reader` (named `what` in
/// errors): a longer input is refused once `max_bytes + 1` bytes have been
/// read, so `-f /dev/zero` or an endless pipe ends at once instead of
/// filling memory.
fn read_text(reader: impl Read, max_bytes: usize, what: &str) -> Result<String> {
    let mut bytes = Vec::new();
    let limit = u64::try_from(max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    reader
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| usage(&format!("cannot read {what}: {e}")))?;
    if bytes.len() > max_bytes {
        return Err(Error::over_limit(
            Limit::Bytes,
            max_bytes,
            format!("{what} is longer than the limit of {max_bytes} bytes"),
        ));
    }
    // Bad bytes are bad input (status 2), not a failure to read.
    String::from_utf8(bytes).map_err(|_| usage(&format!("{what} is not UTF-8 text")))
}

/// Whether the formula argument is a file's name (`rosen.slope`) rather
/// than a formula: one word ending in `.slope`, which no formula is (a
/// name followed by `.` does not read), so `slope min rosen.slope` reads
/// the file as `-f rosen.slope` would.
fn names_a_file(argument: &str) -> bool {
    argument.len() > ".slope".len()
        && argument.ends_with(".slope")
        && !argument.contains(char::is_whitespace)
}

/// A file read with [`read_text`]'s bound.
pub(crate) fn read_file(path: &std::path::Path, max_bytes: usize) -> Result<String> {
    let what = format!("'{}'", path.display());
    let file = std::fs::File::open(path).map_err(|e| usage(&format!("cannot read {what}: {e}")))?;
    read_text(file, max_bytes, &what)
}

impl Input {
    pub(crate) fn read(&self) -> Result<Source> {
        let (text, origin) = match (&self.formula, &self.file) {
            (Some(path), _) if names_a_file(path) => {
                (read_file(path.as_ref(), self.max_bytes)?, path.clone())
            }
            (Some(text), _) => (text.clone(), "<arg>".to_string()),
            (None, Some(path)) if path.as_os_str() == "-" => (
                read_text(std::io::stdin(), self.max_bytes, "standard input")?,
                "<stdin>".to_string(),
            ),
            (None, Some(path)) => (read_file(path, self.max_bytes)?, path.display().to_string()),
            (None, None) => {
                // Reading a piped stdin unasked would swallow the input of a
                // script's loop; say how to ask instead.
                let hint = if std::io::stdin().is_terminal() {
                    "pass it as an argument, or with -f FILE"
                } else {
                    "pass it as an argument; to read it from standard input, add -f -"
                };
                return Err(Error::new(ErrorKind::Usage, "no formula given").with_hint(hint));
            }
        };
        Ok(Source { text, origin })
    }

    pub(crate) fn limits(&self) -> Limits {
        Limits {
            max_bytes: self.max_bytes,
            max_depth: self.max_depth,
            max_vars: self.max_vars,
            max_nodes: self.max_nodes,
        }
    }

    /// The columns of `--data`, read within `max_bytes`.
    pub(crate) fn data(&self, max_bytes: usize) -> Result<Option<slope::data::Columns>> {
        let Some(path) = &self.data else {
            return Ok(None);
        };
        let text = read_file(path, max_bytes)?;
        slope::data::Columns::parse_csv(&text, &path.display().to_string()).map(Some)
    }

    pub(crate) fn options(&self) -> Result<Options> {
        let mut params = Vec::new();
        for text in &self.set {
            params.extend(parse_assignments("--set", text)?);
        }
        let data = match self.data(MAX_DATA_BYTES)? {
            Some(columns) => columns
                .as_slices()
                .into_iter()
                .map(|(name, values)| (name.to_string(), values.to_vec()))
                .collect(),
            None => Vec::new(),
        };
        Ok(Options {
            vars: self.vars.clone(),
            limits: self.limits(),
            params,
            data,
        })
    }
}

/// Reads and parses the formula; errors come back rendered against its text.
pub(crate) fn load(input: &Input) -> Result<(Formula, Source), Failure> {
    let source = input.read().map_err(Failure::plain)?;
    let options = input.options().map_err(Failure::plain)?;
    let formula =
        Formula::parse_with(&source.text, &options).map_err(|e| Failure::in_source(e, &source))?;
    Ok((formula, source))
}
