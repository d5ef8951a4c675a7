//! The text of `--grad` and `--grad-file`: hand-written derivatives as
//! `name = formula` pairs, before any formula is parsed.

use slope::is_identifier;
use slope::{Error, ErrorKind, Result};

/// Splits `--grad` text into `(name, formula)` pairs: `x=6*x + 2`, or
/// several as `x=2*x,y=cos(y)`, split only at commas outside parentheses
/// that are followed by `name=`.
pub fn split_assignments(text: &str) -> Result<Vec<(String, String)>> {
    let bytes = text.as_bytes();
    let mut cuts = vec![0];
    let mut depth = 0i32;
    for (i, &c) in bytes.iter().enumerate() {
        match c {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b',' if depth == 0 && starts_with_assignment(&text[i + 1..]) => cuts.push(i + 1),
            _ => {}
        }
    }
    cuts.push(text.len() + 1);
    let mut out = Vec::new();
    for w in cuts.windows(2) {
        let part = &text[w[0]..w[1] - 1];
        let Some((name, formula)) = part.split_once('=') else {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("--grad: '{}' is not name=formula", part.trim()),
            )
            .with_hint("write --grad x=\"6*x + 2\""));
        };
        let name = name.trim();
        if !is_identifier(name) {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("--grad: '{name}' is not a variable name"),
            )
            .with_hint("write --grad x=\"6*x + 2\""));
        }
        if formula.trim().is_empty() {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("--grad: no formula after '{name}='"),
            )
            .with_hint(format!("write --grad {name}=\"...\" with the derivative")));
        }
        out.push((name.to_string(), formula.to_string()));
    }
    Ok(out)
}

/// `name =` (not `==`) at the start of `s`, after blanks.
fn starts_with_assignment(s: &str) -> bool {
    let s = s.trim_start();
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    is_identifier(&s[..end]) && s[end..].trim_start().starts_with('=')
}

/// Reads a `--grad-file`: one `name = formula` (or `df/dname = formula`, as
/// `slope diff` prints) a line; blank lines and `#` comments are skipped. Returns `(line number, name, formula)`.
pub fn parse_grad_file(text: &str) -> Result<Vec<(usize, String, String)>> {
    let mut out = Vec::new();
    for (k, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or("");
        if content.trim().is_empty() {
            continue;
        }
        let Some((name, formula)) = content.split_once('=') else {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("line {}: '{}' is not name = formula", k + 1, content.trim()),
            )
            .with_hint("write one derivative a line, as x = 6*x + 2"));
        };
        // `slope diff`'s own lines read back: `df/dx = 2*x`.
        let name = name.trim();
        let name = name.strip_prefix("df/d").unwrap_or(name);
        if name.starts_with("d2f/d") {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("line {}: '{name}' is a second derivative", k + 1),
            )
            .with_hint("give only first derivatives (slope diff without --hessian)"));
        }
        if !is_identifier(name) {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("line {}: '{name}' is not a variable name", k + 1),
            ));
        }
        if formula.trim().is_empty() {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("line {}: no formula after '{name} ='", k + 1),
            ));
        }
        out.push((k + 1, name.to_string(), formula.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grad_arguments_split_at_top_level_commas_before_names() {
        let pairs = split_assignments("x=max(x, y) + 1,y=2*y").unwrap();
        assert_eq!(
            pairs,
            [
                ("x".to_string(), "max(x, y) + 1".to_string()),
                ("y".to_string(), "2*y".to_string())
            ]
        );
        // A comma not followed by name= stays (and fails to parse later).
        assert_eq!(split_assignments("x=1, 2").unwrap().len(), 1);
        assert!(split_assignments("6*x").is_err());
        assert!(split_assignments("x=").is_err());
        assert!(split_assignments("2x=1").is_err());
    }

    #[test]
    fn grad_files_skip_comments_and_blank_lines() {
        let text = "# derivatives\n\nx = 6*x + 2  # by hand\n y=cos(y)\n";
        let lines = parse_grad_file(text).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].0, 3);
        assert_eq!(lines[1].1, "y");
        assert!(parse_grad_file("x 6*x").is_err());
    }
}
