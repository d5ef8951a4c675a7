//! Named columns of numbers, and reading them from CSV text: the data a
//! model is fitted to (and the arrays an indexed formula reads).
//!
//! The library does no I/O: the caller reads the file (the command line
//! reads it with a byte limit) and hands the text here, with the name to
//! use in errors. Errors name that origin, the line and the column.
//!
//! The CSV dialect: a header row of names, then at least one row,
//! comma-separated cells, blank lines and lines starting with `#`
//! skipped, spaces around cells ignored.
//! Every cell must be a finite number (`1`, `-2.5e3`); a missing, empty,
//! textual or non-finite cell (`nan`, `inf`, `1e309`) is an error, never
//! a silent zero or a silent NaN: data are constants of a formula, and a
//! NaN among them would surface far away as a NaN result. A name the
//! language reserves (`e`, `pi`, `exp`, `sum`, …) cannot name a column:
//! a formula reads such a name as the constant, function or keyword, so
//! the column could never be read (and `y ~ a*e` would silently fit the
//! constant e).

use std::borrow::Cow;

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
    /// Columns from names and values: the names distinct and not reserved
    /// by the language, the columns of one length. `origin` names the data in errors (a file name).
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
            if let Some(e) = reserved_column(name) {
                return Err(Error::new(e.kind, format!("{origin}: {}", e.message))
                    .with_hint(e.hint.unwrap_or_default()));
            }
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
        // Comment lines are blanked here, not skipped by the reader, and
        // lines are counted in the text from a record's byte offset: the
        // reader's own count leaves out comment and blank lines, which put
        // every error after one a line too early.
        // A file without comments is read where it lies: a copy of 200 MB
        // is 200 MB more memory.
        let blanked: Cow<str> = match text.starts_with('#') || text.contains("\n#") {
            true => text
                .split_inclusive('\n')
                .map(|line| match line.starts_with('#') {
                    true => &line[line.trim_end_matches(['\n', '\r']).len()..],
                    false => line,
                })
                .collect(),
            false => Cow::Borrowed(text),
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .trim(csv::Trim::All)
            .flexible(true)
            .from_reader(blanked.as_bytes());
        let mut names: Option<Vec<String>> = None;
        let mut values: Vec<Vec<f64>> = Vec::new();
        let mut record = csv::StringRecord::new();
        let mut lines = LineCounter::new(&blanked);
        loop {
            let more = reader
                .read_record(&mut record)
                .map_err(|e| csv_error(origin, &blanked, &e))?;
            if !more {
                break;
            }
            let line = record.position().map_or(0, |p| lines.line_at(p));
            if record.iter().all(str::is_empty) {
                continue;
            }
            let Some(header) = &names else {
                let header: Vec<String> = record.iter().map(str::to_string).collect();
                for (j, name) in header.iter().enumerate() {
                    if name.is_empty() {
                        return Err(at(origin, line, j + 1, "the header names no column"));
                    }
                    if let Some(e) = reserved_column(name) {
                        return Err(Error::new(
                            e.kind,
                            format!("{origin}:{line}:{}: {}", j + 1, e.message),
                        )
                        .with_hint(e.hint.unwrap_or_default()));
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
                let e = at(
                    origin,
                    line,
                    record.len().min(header.len()) + 1,
                    &format!(
                        "{} cells in a row, but the header names {} columns",
                        record.len(),
                        header.len()
                    ),
                );
                return Err(with_separator_hint(e, header));
            }
            for (j, cell) in record.iter().enumerate() {
                let value = parse_number(cell).map_err(|what| {
                    let e = at(
                        origin,
                        line,
                        j + 1,
                        &format!("{what} (column '{}')", header[j]),
                    );
                    match what {
                        Unreadable::NotFinite(_) => e.with_hint(
                            "every cell must be a finite number: drop the rows with missing \
                             values, or fill them",
                        ),
                        _ => with_separator_hint(e, header),
                    }
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
        if values.first().is_some_and(Vec::is_empty) {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("{origin}: no data rows: the file has only its header"),
            )
            .with_hint("each line after the header is one row of numbers, e.g. 0,1.5"));
        }
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

/// Why a cell is not a value of the data.
enum Unreadable<'a> {
    Empty,
    NotANumber(&'a str),
    /// Read as NaN or ±∞: written so (`nan`, `inf`), or beyond the range of
    /// a double (`1e309`).
    NotFinite(&'a str),
}

impl std::fmt::Display for Unreadable<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreadable::Empty => write!(f, "an empty cell"),
            Unreadable::NotANumber(cell) => write!(f, "'{cell}' is not a number"),
            Unreadable::NotFinite(cell) => match cell.parse::<f64>() {
                Ok(v) if v.is_nan() => write!(f, "'{cell}' is NaN, not a finite number"),
                _ if cell.trim_start_matches(['+', '-']).starts_with(['i', 'I']) => {
                    write!(f, "'{cell}' is infinite, not a finite number")
                }
                _ => write!(f, "'{cell}' is beyond the range of a double"),
            },
        }
    }
}

/// A number as a cell holds it: Rust's float syntax, finite.
fn parse_number(cell: &str) -> std::result::Result<f64, Unreadable<'_>> {
    if cell.is_empty() {
        return Err(Unreadable::Empty);
    }
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(Unreadable::NotFinite(cell)),
        Err(_) => Err(Unreadable::NotANumber(cell)),
    }
}

/// The error for a column named `name`, if the language reserves the name
/// (a constant, a function or a keyword): no formula could read the
/// column, and `y ~ a*e` would read the constant. Shared by the CSV
/// reader, which places it in the header, and by the fit, which takes
/// columns from any caller.
pub(crate) fn reserved_column(name: &str) -> Option<Error> {
    let what = crate::lower::reserved(name)?;
    let meaning = match crate::builtins::constant(name) {
        Some(_) => format!("a formula reads '{name}' as the constant {name}"),
        None => format!("a formula reads '{name}' as {what}"),
    };
    Some(
        Error::new(
            ErrorKind::Name,
            format!("the column '{name}' has a reserved name: {meaning}, never as the column"),
        )
        .with_hint(format!(
            "rename the column, e.g. to '{name}_', and write that name in the formula"
        )),
    )
}

/// `e` with a hint that cells are separated by commas, if a header name
/// holds a ';' or a tab: then the file is written with another separator,
/// and each line reads as one cell (`'1;2' is not a number`).
fn with_separator_hint(e: Error, header: &[String]) -> Error {
    let other = header.iter().find_map(|name| {
        name.chars()
            .find(|c| matches!(c, ';' | '\t'))
            .map(|c| (name, c))
    });
    match other {
        Some((name, c)) => {
            let c = if c == '\t' { "a tab" } else { "';'" };
            e.with_hint(format!(
                "cells are separated by ',', and the header's '{name}' holds {c}: write the \
                 file with commas"
            ))
        }
        None => e,
    }
}

fn at(origin: &str, line: u64, column: usize, message: &str) -> Error {
    Error::new(
        ErrorKind::Usage,
        format!("{origin}:{line}:{column}: {message}"),
    )
}

/// Lines of a text, counted from where the last question left off: the
/// reader asks for records in order, so counting from byte 0 for each
/// would make reading quadratic in the file's size (10^5 rows took
/// half a minute).
struct LineCounter<'a> {
    bytes: &'a [u8],
    /// A byte offset, and the number of '\n' before it.
    counted: (usize, u64),
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> LineCounter<'a> {
        LineCounter {
            bytes: text.as_bytes(),
            counted: (0, 0),
        }
    }

    /// The line where the record at `position` starts: the reader places
    /// a record where it began to read it, before the blank lines it
    /// skipped, so those are skipped here too.
    fn line_at(&mut self, position: &csv::Position) -> u64 {
        let bytes = self.bytes;
        let mut byte = (position.byte() as usize).min(bytes.len());
        while byte < bytes.len() && matches!(bytes[byte], b'\n' | b'\r') {
            byte += 1;
        }
        if byte < self.counted.0 {
            self.counted = (0, 0);
        }
        let (from, before) = self.counted;
        let newlines = bytes[from..byte].iter().filter(|&&b| b == b'\n').count();
        self.counted = (byte, before + newlines as u64);
        1 + self.counted.1
    }
}

fn csv_error(origin: &str, text: &str, e: &csv::Error) -> Error {
    let line = e
        .position()
        .map_or(0, |p| LineCounter::new(text).line_at(p));
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

    /// Lines are counted in the text, comment lines included.
    #[test]
    fn lines_after_comments_are_counted() {
        let e = Columns::parse_csv("# c\n# d\nt,y\n\n1,x\n", "d.csv").unwrap_err();
        assert_eq!(e.message, "d.csv:5:2: 'x' is not a number (column 'y')");
        let e = Columns::parse_csv("t,y\n# c\n1,2\n\"3,4\n", "d.csv").unwrap_err();
        assert!(e.message.starts_with("d.csv:4:"), "{}", e.message);
    }

    /// Lines are counted as the reader goes: a bad cell in the last of
    /// 2·10^5 rows is placed on its line. Counting from byte 0 for every
    /// row took about two minutes here; now it takes milliseconds.
    #[test]
    fn long_files_are_read_in_linear_time() {
        let mut text = String::from("# made by a test\nt,y\n");
        for i in 0..200_000 {
            text.push_str(&format!("{i},{}\r\n", i % 7));
        }
        text.push_str("\"1\n\",x\n");
        let e = Columns::parse_csv(&text, "d.csv").unwrap_err();
        assert_eq!(
            e.message,
            "d.csv:200003:2: 'x' is not a number (column 'y')"
        );
        text.truncate(text.len() - "\"1\n\",x\n".len());
        assert_eq!(Columns::parse_csv(&text, "d.csv").unwrap().rows(), 200_000);
    }

    /// CRLF line ends, a cell quoted across lines and blank lines keep
    /// every later line's number.
    #[test]
    fn quoted_cells_and_crlf_keep_line_numbers() {
        let text = "t,y\r\n\"1\n\",2\r\n\r\n\n3,4\r\n5,x\r\n";
        let e = Columns::parse_csv(text, "d.csv").unwrap_err();
        assert_eq!(e.message, "d.csv:7:2: 'x' is not a number (column 'y')");
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

    /// NaN, infinities and numbers beyond the range of a double are
    /// refused where they stand, not read as values.
    #[test]
    fn non_finite_cells_name_line_and_column() {
        for (cell, what) in [
            ("NaN", "'NaN' is NaN, not a finite number"),
            ("nan", "'nan' is NaN, not a finite number"),
            ("-inf", "'-inf' is infinite, not a finite number"),
            ("Infinity", "'Infinity' is infinite, not a finite number"),
            ("1e309", "'1e309' is beyond the range of a double"),
            ("-2e400", "'-2e400' is beyond the range of a double"),
        ] {
            let e = Columns::parse_csv(&format!("t,y\n1,2\n2,{cell}\n"), "d.csv").unwrap_err();
            assert_eq!(e.message, format!("d.csv:3:2: {what} (column 'y')"));
            assert_eq!(e.kind, ErrorKind::Usage);
            assert!(e.hint.unwrap().contains("finite number"));
        }
        // The largest double and the smallest subnormal are values.
        let c = Columns::parse_csv("t\n1.7976931348623157e308\n5e-324\n", "d.csv").unwrap();
        assert_eq!(c.get("t").unwrap(), [f64::MAX, 5e-324]);
    }

    /// A column named as a constant, a function or a keyword is refused
    /// at its place in the header: `y ~ a*e` would fit the constant e.
    #[test]
    fn reserved_names_cannot_name_columns() {
        for (header, col, what) in [
            ("e,y", 1, "a formula reads 'e' as the constant e"),
            ("y,pi", 2, "a formula reads 'pi' as the constant pi"),
            ("t,exp", 2, "a formula reads 'exp' as a function"),
            ("sum,y", 1, "a formula reads 'sum' as a keyword"),
        ] {
            let e = Columns::parse_csv(&format!("# data\n{header}\n1,2\n"), "d.csv").unwrap_err();
            let name = header.split(',').nth(col - 1).unwrap();
            assert_eq!(
                e.message,
                format!(
                    "d.csv:2:{col}: the column '{name}' has a reserved name: {what}, never as \
                     the column"
                )
            );
            assert_eq!(e.kind, ErrorKind::Name);
            assert!(e.hint.unwrap().starts_with("rename the column"));
        }
        let e = Columns::new(vec!["e".into()], vec![vec![1.0]], "<data>").unwrap_err();
        assert!(
            e.message
                .starts_with("<data>: the column 'e' has a reserved name")
        );
        // Names that merely contain one are fine.
        assert!(Columns::parse_csv("e1,pi_,expo\n1,2,3\n", "d.csv").is_ok());
    }

    /// A file written with ';' or tabs fails on its first row, with a
    /// hint that names the separator; a header alone is no data.
    #[test]
    fn separators_and_empty_files_are_named() {
        let e = Columns::parse_csv("t;y\n1;2\n", "d.csv").unwrap_err();
        assert_eq!(e.message, "d.csv:2:1: '1;2' is not a number (column 't;y')");
        assert_eq!(
            e.hint.as_deref(),
            Some(
                "cells are separated by ',', and the header's 't;y' holds ';': write the file with commas"
            )
        );
        let e = Columns::parse_csv("t\ty\n1\t2\n", "d.csv").unwrap_err();
        assert!(e.hint.unwrap().contains("holds a tab"));
        // A header with a comma has no such hint.
        let e = Columns::parse_csv("t,y\n1,x\n", "d.csv").unwrap_err();
        assert_eq!(e.hint, None);
        let e = Columns::parse_csv("t,y\n\n# later\n", "d.csv").unwrap_err();
        assert_eq!(
            e.message,
            "d.csv: no data rows: the file has only its header"
        );
        assert_eq!(e.kind, ErrorKind::Usage);
    }

    #[test]
    fn a_missing_column_lists_the_columns() {
        let c = Columns::parse_csv("t,y\n1,2\n", "d.csv").unwrap();
        let e = c.get("x").unwrap_err();
        assert_eq!(e.message, "d.csv: no column 'x'");
        assert_eq!(e.hint.as_deref(), Some("its columns are 't' and 'y'"));
    }
}
