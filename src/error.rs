//! One error type for the crate: a kind, a message, a source span and a hint,
//! rendered the way compilers do (line, column, the source line, a caret).

use std::fmt;

/// A byte range in the formula's text.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Span {
    /// The first byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// The bytes `start..end` (an empty span if `end < start`).
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end.max(start) as u32,
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The span as a range of byte offsets.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// 1-based line and column (in characters) of the span's start.
    pub fn line_col(self, source: &str) -> (usize, usize) {
        let start = (self.start as usize).min(source.len());
        let before = source.get(..start).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }
}

/// What went wrong, so callers can react without parsing messages.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum ErrorKind {
    /// The text is not a formula: a stray character, a missing operand, an
    /// unbalanced parenthesis, a number too large for a double.
    Syntax,
    /// A name that is neither a function, a constant, a definition nor a
    /// variable in that place (`sinn(x)`, `pi = 3`, a definition used early).
    Name,
    /// A function called with the wrong number of arguments.
    Arity,
    /// An array read outside its extent, an index that is not affine, a
    /// loop index used outside its sum, a parameter or data column that
    /// does not fit its use.
    Index,
    /// The formula exceeds a size limit (text length, nesting depth, nodes).
    Limit,
    /// A value given with the formula is wrong: a point missing a
    /// variable, a bad number, an option that does not fit the method.
    Usage,
    /// An array passed to the library has the wrong length (a start point
    /// with one value too few).
    Shape,
    /// A result is NaN or infinite; the message names the operation.
    NotFinite,
    /// Reading standard input or writing output failed.
    Io,
    /// A stage failed on valid input (a bug): native code generation.
    Internal,
}

/// Which size limit of [`Limits`](crate::Limits) an input went over, so that
/// a caller can say how to raise it in its own terms (the command line names
/// its flag; the library never does).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Limit {
    /// [`Limits::max_bytes`](crate::Limits::max_bytes): the formula's text.
    Bytes,
    /// [`Limits::max_depth`](crate::Limits::max_depth): nesting.
    Depth,
    /// [`Limits::max_vars`](crate::Limits::max_vars): variables.
    Vars,
    /// [`Limits::max_nodes`](crate::Limits::max_nodes): graph nodes,
    /// derivatives and Hessian entries included.
    Nodes,
}

/// What an error is about, beyond its kind, where a caller may want to act
/// on it: the limit that was exceeded, or the option that was wrong.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Detail {
    /// Over a size limit.
    Limit {
        /// Which limit.
        limit: Limit,
        /// Its value.
        max: usize,
    },
    /// The variable order given in [`Options::vars`](crate::Options::vars)
    /// is wrong; the message calls it "the variable order".
    VarOrder,
    /// A formula declares a data column (`data t`), and none was given.
    MissingData,
}

/// A slope error. Everything user-facing goes through [`Error::render`].
#[derive(Clone, PartialEq, Debug)]
pub struct Error {
    /// What went wrong, for callers that react to it.
    pub kind: ErrorKind,
    /// One lowercase sentence naming the thing in quotes.
    pub message: String,
    /// Where in the formula's text, when the error is about the text.
    pub span: Option<Span>,
    /// What to do about it, kept apart from the message.
    pub hint: Option<String>,
    /// Typed facts about the error (which limit, which option).
    pub detail: Option<Detail>,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with `message`, no span and no hint.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            span: None,
            hint: None,
            detail: None,
        }
    }

    /// An input over `limit`, whose value is `max`.
    pub fn over_limit(limit: Limit, max: usize, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Limit, message).with_detail(Detail::Limit { limit, max })
    }

    /// The same error with typed facts attached.
    pub fn with_detail(mut self, detail: Detail) -> Error {
        self.detail = Some(detail);
        self
    }

    /// An error about the text at `span`.
    pub fn at(kind: ErrorKind, span: Span, message: impl Into<String>) -> Error {
        Error::new(kind, message).with_span(span)
    }

    /// The same error, pointing at `span`.
    pub fn with_span(mut self, span: Span) -> Error {
        self.span = Some(span);
        self
    }

    /// The same error, with advice on what to do.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(hint.into());
        self
    }

    /// The process exit status the command line uses for this error:
    /// 2 for bad input, 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            ErrorKind::Syntax
            | ErrorKind::Name
            | ErrorKind::Arity
            | ErrorKind::Index
            | ErrorKind::Limit
            | ErrorKind::Usage
            | ErrorKind::Shape => 2,
            ErrorKind::NotFinite | ErrorKind::Io | ErrorKind::Internal => 1,
        }
    }

    /// The error as a compiler shows it, with the offending source line and a
    /// caret under the span when there is one:
    ///
    /// ```text
    /// error: unknown function 'sinn'
    ///  --> <arg>:1:5
    ///   |
    /// 1 | 2 * sinn(x)
    ///   |     ^^^^ did you mean 'sin'?
    /// ```
    pub fn render(&self, source: &str, origin: &str) -> String {
        let mut out = format!("error: {}\n", self.message);
        let Some(span) = self.span else {
            if let Some(hint) = &self.hint {
                out.push_str(&format!("  = hint: {hint}\n"));
            }
            return out;
        };
        let (line, col) = span.line_col(source);
        let start = (span.start as usize).min(source.len());
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let text = source[line_start..line_end].trim_end_matches('\r');
        let num = line.to_string();
        let pad = " ".repeat(num.len());
        let end = (span.end as usize).clamp(start, line_end);
        let width = source[start..end].chars().count().max(1);
        let (shown, caret) = window(text, col - 1, width);
        out.push_str(&format!("{pad}--> {origin}:{line}:{col}\n"));
        out.push_str(&format!("{pad} |\n"));
        out.push_str(&format!("{num} | {shown}\n"));
        out.push_str(&format!(
            "{pad} | {}{}",
            " ".repeat(caret.0),
            "^".repeat(caret.1)
        ));
        if let Some(hint) = &self.hint {
            out.push(' ');
            out.push_str(hint);
        }
        out.push('\n');
        out
    }
}

/// Most characters of a source line shown under an error: a longer line
/// (a 16 MiB formula on one line) is cut to a window around the caret.
const SHOWN: usize = 100;

/// The part of `line` shown, and the caret's column and width in it, for
/// a caret at character `col` (0-based) `width` characters wide: all of
/// the line up to [`SHOWN`] characters, else [`SHOWN`] of them from a
/// little before the caret, with `...` where the line goes on.
fn window(line: &str, col: usize, width: usize) -> (String, (usize, usize)) {
    let len = line.chars().count();
    if len <= SHOWN {
        return (printable(line), (col, width));
    }
    let from = col.saturating_sub(SHOWN / 3).min(len.saturating_sub(SHOWN));
    let to = (from + SHOWN).min(len);
    let mut shown = String::new();
    if from > 0 {
        shown.push_str("...");
    }
    shown.push_str(&printable(
        &line.chars().skip(from).take(to - from).collect::<String>(),
    ));
    if to < len {
        shown.push_str("...");
    }
    let caret = col - from + if from > 0 { 3 } else { 0 };
    (shown, (caret, width.min(to.saturating_sub(col)).max(1)))
}

/// Tabs and control characters would misalign the caret: show them as spaces.
fn printable(line: &str) -> String {
    line.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let src = "let a = 1\nlet é = 2\n  x + y";
        assert_eq!(Span::new(0, 1).line_col(src), (1, 1));
        assert_eq!(Span::new(10, 13).line_col(src), (2, 1));
        let y = src.rfind('y').unwrap();
        assert_eq!(Span::new(y, y + 1).line_col(src), (3, 7));
    }

    #[test]
    fn a_long_line_is_shown_around_the_caret() {
        let line = format!("{}x{}", "(".repeat(10_000), ")".repeat(10_000));
        let e = Error::at(ErrorKind::Syntax, Span::new(10_000, 10_001), "deep");
        let shown = format!("...{}x{}...", "(".repeat(33), ")".repeat(66));
        let caret = format!("{}^", " ".repeat(36));
        assert_eq!(
            e.render(&line, "<arg>"),
            format!("error: deep\n --> <arg>:1:10001\n  |\n1 | {shown}\n  | {caret}\n")
        );
        // The end of a long line: the window ends there.
        let e = Error::at(ErrorKind::Syntax, Span::new(20_000, 20_001), "end");
        let rendered = e.render(&line, "<arg>");
        assert!(
            rendered.ends_with(&format!(
                "| ...{}\n  | {}^\n",
                ")".repeat(100),
                " ".repeat(102)
            )),
            "{rendered}"
        );
    }

    #[test]
    fn render_points_a_caret_at_the_span() {
        let e = Error::at(ErrorKind::Name, Span::new(4, 8), "unknown function 'sinn'")
            .with_hint("did you mean 'sin'?");
        assert_eq!(
            e.render("2 * sinn(x)", "<arg>"),
            "error: unknown function 'sinn'\n --> <arg>:1:5\n  |\n1 | 2 * sinn(x)\n  |     ^^^^ did you mean 'sin'?\n"
        );
    }
}
