//! Named columns of numbers, and reading them from CSV text: the data a
//! model is fitted to (and the arrays an indexed formula reads).
//!
//! The library does no I/O: the caller reads the file (the command line
//! reads it with a byte limit) and hands the text here, with the name to
//! use in errors. Errors name that origin, the line and the column.
//!
//! The CSV dialect: a header row of names, comma-separated cells, blank
//! lines and lines starting with `#` skipped, spaces around cells ignored.
//! Every cell must be a number (`1`, `-2.5e3`, `inf`, `nan`); a missing,
//! empty or textual cell is an error, never a silent zero.

use crate::error::{Error, ErrorKind, Result};
use crate::lower::quoted_list;

/// Columns of numbers of one length, looked up by name.
///
/// ```
/// let data = slope::data::Columns::parse_csv("t,y\n0,1\n1,0.5\n", "<data>")?;
/// assert_eq!(data.names(), ["t", "y"]);
/// assert_eq!(data.rows(), 2);
/// assert_eq!(data.get("y")?, [1.0, 0.5]);
/// assert!(data.get("z").is_err());
/// # Ok::<(), slope::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Columns {
    names: Vec<String>,
    values: Vec<Vec<f64>>,
    origin: String,
}

impl Columns {
    /// Columns from names and values: the names distinct, the columns of
    /// one length. `origin` names the data in errors (a file name).
    pub fn new(names: Vec<String>, values: Vec<Vec<f64>>, origin: &str) -> Result<Columns> {
        if names.len() != values.len() {
            return Err(Error::new(
                ErrorKind::Shape,
                format!(
                    "{origin}: {} names for {} columns",
                    names.len(),
                    values.len()
                ),
            ));
        }
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return Err(Error::new(
                    ErrorKind::Usage,
                    format!("{origin}: the column '{name}' appears twice"),
                ));
            }
        }
        if let Some(first) = values.first()
            && let Some(i) = values.iter().position(|c| c.len() != first.len())
        {
            return Err(Error::new(
                ErrorKind::Shape,
                format!(
                    "{origin}: the column '{}' has {} values, but '{}' has {}",
                    names[i],
                    values[i].len(),
                    names[0],
                    first.len()
                ),
            ));
        }
        Ok(Columns {
            names,
            values,
            origin: origin.to_string(),
        })
    }

    /// Parses CSV text with a header row (see the module docs for the
    /// dialect). `origin` names the text in errors, which give the line and
    /// the column of a bad cell.
    pub fn parse_csv(text: &str, origin: &str) -> Result<Columns> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .trim(csv::Trim::All)
            .comment(Some(b'#'))
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut names: Option<Vec<String>> = None;
        let mut values: Vec<Vec<f64>> = Vec::new();
        let mut record = csv::StringRecord::new();
        loop {
            let more = reader
                .read_record(&mut record)
                .map_err(|e| csv_error(origin, &e))?;
            if !more {
                break;
            }
            let line = record.position().map_or(0, |p| p.line());
            if record.iter().all(str::is_empty) {
                continue;
            }
            let Some(header) = &names else {
                let header: Vec<String> = record.iter().map(str::to_string).collect();
                for (j, name) in header.iter().enumerate() {
                    if name.is_empty() {
                        return Err(at(origin, line, j + 1, "the header names no column"));
                    }
                    if header[..j].contains(name) {
                        return Err(at(
                            origin,
                            line,
                            j + 1,
                            &format!("the column '{name}' appears twice in the header"),
                        ));
                    }
                }
                values = vec![Vec::new(); header.len()];
                names = Some(header);
                continue;
            };
            if record.len() != header.len() {
                return Err(at(
                    origin,
                    line,
                    record.len().min(header.len()) + 1,
                    &format!(
                        "{} cells in a row, but the header names {} columns",
                        record.len(),
                        header.len()
                    ),
                ));
            }
            for (j, cell) in record.iter().enumerate() {
                let value = parse_number(cell).ok_or_else(|| {
                    let what = match cell.is_empty() {
                        true => "an empty cell".to_string(),
                        false => format!("'{cell}' is not a number"),
                    };
                    at(
                        origin,
                        line,
                        j + 1,
                        &format!("{what} (column '{}')", header[j]),
                    )
                })?;
                values[j].push(value);
            }
        }
        let Some(names) = names else {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("{origin}: no header row: the file is empty"),
            )
            .with_hint("the first line names the columns, e.g. t,y"));
        };
        Columns::new(names, values, origin)
    }

    /// The column names, in the file's order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.values.first().map_or(0, Vec::len)
    }

    /// The column `name`, if there is one.
    pub fn column(&self, name: &str) -> Option<&[f64]> {
        let i = self.names.iter().position(|n| n == name)?;
        Some(&self.values[i])
    }

    /// The column `name`, or an error naming the data and its columns.
    pub fn get(&self, name: &str) -> Result<&[f64]> {
        self.column(name).ok_or_else(|| {
            Error::new(
                ErrorKind::Usage,
                format!("{}: no column '{name}'", self.origin),
            )
            .with_hint(format!("its columns are {}", quoted_list(&self.names)))
        })
    }

    /// Every column as `(name, values)`, the shape the fitting API takes.
    pub fn as_slices(&self) -> Vec<(&str, &[f64])> {
        self.names
            .iter()
            .zip(&self.values)
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect()
    }

    /// The name the data goes by in errors.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// A number as a cell holds it: Rust's float syntax (which takes `inf` and
/// `nan` in any case), nothing else.
fn parse_number(cell: &str) -> Option<f64> {
    if cell.is_empty() {
        return None;
    }
    cell.parse().ok()
}

fn at(origin: &str, line: u64, column: usize, message: &str) -> Error {
    Error::new(
        ErrorKind::Usage,
        format!("{origin}:{line}:{column}: {message}"),
    )
}

fn csv_error(origin: &str, e: &csv::Error) -> Error {
    let line = e.position().map_or(0, |p| p.line());
    let message = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "the file is not UTF-8 text".to_string(),
        _ => format!("cannot read the CSV: {e}"),
    };
    Error::new(ErrorKind::Usage, format!("{origin}:{line}: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_comments_blank_lines_and_spaces() {
        let c = Columns::parse_csv("# a comment\n t , y\n\n1, 2\n 3 ,4e1\n", "d.csv").unwrap();
        assert_eq!(c.names(), ["t", "y"]);
        assert_eq!(c.get("y").unwrap(), [2.0, 40.0]);
    }

    #[test]
    fn bad_cells_name_line_and_column() {
        let e = Columns::parse_csv("t,y\n1,2\n3,x\n", "d.csv").unwrap_err();
        assert_eq!(e.message, "d.csv:3:2: 'x' is not a number (column 'y')");
        let e = Columns::parse_csv("t,y\n1,\n", "d.csv").unwrap_err();
        assert_eq!(e.message, "d.csv:2:2: an empty cell (column 'y')");
        let e = Columns::parse_csv("t,y\n1,2,3\n", "d.csv").unwrap_err();
        assert_eq!(
            e.message,
            "d.csv:2:3: 3 cells in a row, but the header names 2 columns"
        );
        let e = Columns::parse_csv("t,t\n1,2\n", "d.csv").unwrap_err();
        assert_eq!(
            e.message,
            "d.csv:1:2: the column 't' appears twice in the header"
        );
        assert!(Columns::parse_csv("", "d.csv").is_err());
    }

    #[test]
    fn a_missing_column_lists_the_columns() {
        let c = Columns::parse_csv("t,y\n1,2\n", "d.csv").unwrap();
        let e = c.get("x").unwrap_err();
        assert_eq!(e.message, "d.csv: no column 'x'");
        assert_eq!(e.hint.as_deref(), Some("its columns are 't' and 'y'"));
    }
}
