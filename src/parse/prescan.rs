//! The pre-scan: one pass over the raw text before pest, for what pest
//! cannot bound or explain well.
//!
//! - **Depth.** pest and the Pratt parser recurse once per level of
//!   nesting, so the depth is measured, and bounded by
//!   [`Limits::max_depth`], before they run; [`parse`](super::parse) runs
//!   deep formulas on a thread with a stack sized for them. The pass stops
//!   at the first token past the limit, and costs constant time per token,
//!   so refusing a 16 MiB nest takes no longer than reading its first
//!   levels. A level is an
//!   open parenthesis (a call's included) or a right-recursive operator
//!   pending at its level: `^`, `**` or a sign; a binary `+ - * /` or a
//!   comma ends the chain of its level.
//! - **Mistakes people make most,** with a hint instead of pest's
//!   "expected ...": two operands side by side (`2x`, `x y`, `(a)(b)`),
//!   symbols pasted from typeset mathematics (`x²`, `×`, `π`), malformed
//!   numbers (`1.2.3`), a `let` without a name or `=`, an unmatched `)` or
//!   unclosed `(`.
//! - **Empty input:** nothing but blanks and comments.
//!
//! The text's length is checked against [`Limits::max_bytes`] before the
//! pass. Anything else is left to pest.

use super::Limits;
use crate::error::{Error, ErrorKind, Limit, Result, Span};

/// Checks `text` against the byte limit, scans it, and checks its depth
/// against the depth limit. Returns the depth, which decides the parser's
/// stack.
pub(super) fn scan(text: &str, limits: &Limits) -> Result<Depth> {
    if text.len() > limits.max_bytes {
        return Err(Error::over_limit(
            Limit::Bytes,
            limits.max_bytes,
            format!(
                "the formula is {} bytes long, over the limit of {} bytes",
                text.len(),
                limits.max_bytes
            ),
        ));
    }
    tokens(text, limits.max_depth)
}

/// The error for nesting deeper than `max_depth`, at the token that went
/// one level past it.
fn too_deep(max_depth: usize, span: Span) -> Error {
    Error::over_limit(
        Limit::Depth,
        max_depth,
        format!("the formula nests deeper than the limit of {max_depth} levels"),
    )
    .with_span(span)
}

/// How deep the formula nests.
#[derive(Copy, Clone, Debug)]
pub(super) struct Depth {
    pub(super) levels: usize,
}

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Token {
    /// Start of the text or of a statement.
    Start,
    /// The keyword `let`, after which a name follows.
    Let,
    /// The keyword `subject` of `subject to`, after which `to` follows.
    Subject,
    Number,
    Name,
    Close,
    Open,
    Operator,
    Comma,
}

/// One pass over the tokens, as the module docs describe. Returns the
/// nesting depth, or stops at the first token that nests deeper than
/// `max_depth`: the pass is linear in the text, and its stacks never grow
/// past the limit.
fn tokens(text: &str, max_depth: usize) -> Result<Depth> {
    let bytes = text.as_bytes();
    // Per open parenthesis: the number of right-recursive operators (`^`,
    // signs) pending at that level; the Pratt parser recurses once for each.
    let mut chains: Vec<usize> = vec![0];
    // The sum of `chains`, kept as they change: summing them per token made
    // the pass quadratic in the depth.
    let mut pending = 0usize;
    // Where each open parenthesis is, for "unclosed '('".
    let mut opens: Vec<usize> = Vec::new();
    // The nesting of the open `(` of a family of constraints, `subject to
    // (i in 1..n) ...`, after whose `)` an expression starts.
    let mut family: Option<usize> = None;
    // After `let`: 1 while a name is due, 2 while `=` is due.
    let mut let_state = 0;
    let mut depth = Depth { levels: 0 };
    let mut prev = Token::Start;
    let mut prev_span = Span::default();
    let mut i = 0;
    let mut any = false;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let token = match c {
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'\n' | b';' => {
                i += 1;
                if chains.len() == 1 && !matches!(prev, Token::Operator | Token::Open) {
                    prev = Token::Start;
                }
                continue;
            }
            b'.' if bytes.get(i + 1) == Some(&b'.') => {
                // `..` in a range.
                i += 2;
                Token::Operator
            }
            b'0'..=b'9' | b'.' => {
                i = number_end(bytes, i);
                let range_follows = bytes.get(i..i + 2) == Some(b"..");
                if i < bytes.len() && (bytes[i] == b'.' || bytes[i] == b'_') && !range_follows {
                    while i < bytes.len()
                        && (bytes[i].is_ascii_alphanumeric() || b"._".contains(&bytes[i]))
                    {
                        i += 1;
                    }
                    return Err(Error::at(
                        ErrorKind::Syntax,
                        Span::new(start, i),
                        format!("malformed number '{}'", &text[start..i]),
                    )
                    .with_hint("numbers are written like 2, 2.5, .5 or 1e-3"));
                }
                Token::Number
            }
            b'A'..=b'Z' | b'a'..=b'z' | b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                match &text[start..i] {
                    "let" if prev == Token::Start => Token::Let,
                    "subject" if prev == Token::Start => Token::Subject,
                    // An expression starts after `subject to`, as after `;`.
                    "to" if prev == Token::Subject => Token::Start,
                    // Declarations start a statement, like its beginning.
                    "param" | "var" | "data" if prev == Token::Start => continue,
                    // `i in 1..n` joins an index to its range.
                    "in" if prev == Token::Name => Token::Operator,
                    _ => Token::Name,
                }
            }
            b'(' | b'[' => {
                i += 1;
                Token::Open
            }
            b')' | b']' => {
                i += 1;
                Token::Close
            }
            b',' => {
                i += 1;
                Token::Comma
            }
            b'+' | b'-' | b'*' | b'/' | b'^' | b'=' => {
                i += 1;
                if c == b'*' && bytes.get(i) == Some(&b'*') {
                    i += 1;
                }
                Token::Operator
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or(' ');
                let span = Span::new(i, i + ch.len_utf8());
                if let Some(hint) = foreign_symbol_hint(ch) {
                    return Err(Error::at(
                        ErrorKind::Syntax,
                        span,
                        format!("unexpected character '{ch}'"),
                    )
                    .with_hint(hint));
                }
                // Anything else is pest's to report.
                i += ch.len_utf8();
                Token::Operator
            }
        };
        any = true;
        let span = Span::new(start, i);
        let token = match token {
            Token::Open
                if c == b'(' && prev == Token::Start && &text[prev_span.range()] == "to" =>
            {
                if starts_binding(&text[i..]) {
                    family = Some(opens.len());
                }
                token
            }
            Token::Close if c == b')' && family.is_some_and(|f| f + 1 == opens.len()) => {
                family = None;
                opens.pop();
                pending -= chains.pop().unwrap_or(0);
                prev = Token::Start;
                prev_span = span;
                continue;
            }
            _ => token,
        };
        let_state = match (let_state, token) {
            (0, Token::Let) => 1,
            (1, Token::Name) => 2,
            // `let r[i, j] = ...`: the indices of an indexed definition.
            (2, Token::Open) if c == b'[' => 3,
            (3, Token::Close) if c == b']' => 2,
            (3, Token::Name | Token::Comma) => 3,
            (2, Token::Operator) if &text[start..i] == "=" => 0,
            (0, _) => 0,
            (1, _) => {
                return Err(
                    Error::at(ErrorKind::Syntax, span, "expected a name after 'let'")
                        .with_hint("a definition is written: let name = expression"),
                );
            }
            _ => {
                let name = &text[prev_span.range()];
                return Err(Error::at(
                    ErrorKind::Syntax,
                    span,
                    format!("expected '=' after 'let {name}'"),
                )
                .with_hint(format!("write: let {name} = expression")));
            }
        };
        if let Some(err) = missing_operator(text, prev, prev_span, token, span) {
            return Err(err);
        }
        // Nesting: parentheses open a level; `^` and signs extend the chain
        // of the current level; a loose binary operator ends it.
        match token {
            Token::Open => {
                chains.push(0);
                opens.push(start);
            }
            Token::Close => {
                let Some(open) = opens.pop() else {
                    let close = c as char;
                    return Err(
                        Error::at(ErrorKind::Syntax, span, format!("unmatched '{close}'"))
                            .with_hint(format!(
                                "remove it, or add the '{}' it closes",
                                if c == b']' { '[' } else { '(' }
                            )),
                    );
                };
                let expected = if bytes[open] == b'[' { b']' } else { b')' };
                if c != expected {
                    return Err(Error::at(
                        ErrorKind::Syntax,
                        span,
                        format!(
                            "'{}' closes the '{}' at byte {open}",
                            c as char, bytes[open] as char
                        ),
                    )
                    .with_hint(format!("write '{}' here", expected as char)));
                }
                pending -= chains.pop().unwrap_or(0);
            }
            Token::Operator => {
                let unary = matches!(
                    prev,
                    Token::Start | Token::Open | Token::Operator | Token::Comma
                );
                let op = &text[start..i];
                let level = chains.len() - 1;
                if unary || op == "^" || op == "**" {
                    chains[level] += 1;
                    pending += 1;
                } else {
                    pending -= std::mem::take(&mut chains[level]);
                }
            }
            Token::Comma => {
                let level = chains.len() - 1;
                pending -= std::mem::take(&mut chains[level]);
            }
            _ => {}
        }
        let levels = chains.len() - 1 + pending;
        if levels > depth.levels {
            if levels > max_depth {
                return Err(too_deep(max_depth, span));
            }
            depth = Depth { levels };
        }
        prev = token;
        prev_span = span;
    }
    if let Some(&open) = opens.last() {
        let (o, c) = if bytes[open] == b'[' {
            ('[', ']')
        } else {
            ('(', ')')
        };
        return Err(Error::at(
            ErrorKind::Syntax,
            Span::new(open, open + 1),
            format!("unclosed '{o}'"),
        )
        .with_hint(format!("add the '{c}' that closes it")));
    }
    if let_state != 0 {
        return Err(
            Error::at(ErrorKind::Syntax, prev_span, "incomplete definition")
                .with_hint("a definition is written: let name = expression"),
        );
    }
    if !any {
        return Err(
            Error::at(ErrorKind::Syntax, Span::new(0, 0), "empty formula")
                .with_hint("write an expression, such as x^2 + y^2"),
        );
    }
    Ok(depth)
}

/// Whether `text` starts with `name in`, as the indices of a family do.
fn starts_binding(text: &str) -> bool {
    let text = text.trim_start();
    let name_end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    let rest = &text[name_end..];
    name_end > 0
        && rest.starts_with(char::is_whitespace)
        && rest
            .trim_start()
            .strip_prefix("in")
            .is_some_and(|r| r.starts_with(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
}

/// The end of a number starting at `i`, as the grammar reads it.
fn number_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    if i < bytes.len() && bytes[i] == b'.' && bytes.get(i + 1) != Some(&b'.') {
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        let mut j = i + 1;
        if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
            j += 1;
        }
        if j < bytes.len() && bytes[j].is_ascii_digit() {
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    i
}

/// An error for two operands side by side (`2x`, `x y`, `(a)(b)`).
fn missing_operator(
    text: &str,
    prev: Token,
    prev_span: Span,
    next: Token,
    span: Span,
) -> Option<Error> {
    let operand_before = matches!(prev, Token::Number | Token::Name | Token::Close);
    let operand_after = matches!(next, Token::Number | Token::Name | Token::Open);
    // `f(` is a call and `x[` a subscript, not a product.
    if !operand_before || !operand_after || (prev == Token::Name && next == Token::Open) {
        return None;
    }
    let (a, b) = (&text[prev_span.range()], &text[span.range()]);
    let b = if next == Token::Open { "(" } else { b };
    let adjacent = prev_span.end == span.start;
    // `np.sin(x)`, `math.exp(x)`: a module prefix, which slope's
    // functions do without.
    let qualified = text[span.start as usize..]
        .strip_prefix('.')
        .and_then(|rest| {
            rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()
        })
        .filter(|name| crate::builtins::callee(name).is_some());
    // `x <= 1 subject to y >= 0`: a constraint on the line of the
    // statement before it.
    let constraint_follows = next == Token::Name && opens_constraint(&text[span.start as usize..]);
    let (message, hint) = if constraint_follows {
        (
            "a statement separator is missing before 'subject to'".to_string(),
            "a constraint is a statement of its own: end the one before with ';' or a new line"
                .to_string(),
        )
    } else if let (Some(name), true, Token::Name) = (qualified, adjacent, prev) {
        (
            format!("'{a}.{name}' is not a function slope knows"),
            format!("write {name}(...): slope's functions need no module prefix"),
        )
    } else if prev == Token::Name && crate::builtins::callee(a).is_some() {
        // `sin x`: a function's argument goes in parentheses.
        (
            format!("'{a}' is a function: its argument goes in parentheses"),
            format!("write {a}({b})"),
        )
    } else if prev == Token::Number && adjacent && next != Token::Open {
        (
            "implicit multiplication is not supported".to_string(),
            format!("write {a}*{b}"),
        )
    } else {
        (
            format!("missing operator between '{a}' and '{b}'"),
            format!("write {a}*{b} to multiply"),
        )
    };
    Some(Error::at(ErrorKind::Syntax, prev_span.to(span), message).with_hint(hint))
}

/// Hints for symbols pasted from typeset mathematics.
fn foreign_symbol_hint(c: char) -> Option<&'static str> {
    Some(match c {
        '²' => "write ^2 for a square",
        '³' => "write ^3 for a cube",
        '×' | '·' | '⋅' | '∙' => "write * to multiply",
        '÷' => "write / to divide",
        '−' | '–' | '—' => "write - (the ASCII minus sign)",
        'π' => "write pi",
        '√' => "write sqrt(...)",
        '≤' => "write <= (in a constraint: subject to ...)",
        '≥' => "write >= (in a constraint: subject to ...)",
        _ => return None,
    })
}

/// Whether `text` begins (after white space) with the words `subject
/// to`: a constraint statement.
pub(super) fn opens_constraint(text: &str) -> bool {
    let word_ends = |r: &str| !r.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
    let Some(rest) = text.trim_start().strip_prefix("subject") else {
        return false;
    };
    word_ends(rest) && rest.trim_start().strip_prefix("to").is_some_and(word_ends)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Detail;

    /// The scan's verdict in one line: `depth N`, or `kind: message at
    /// a..b; hint`.
    fn scanned(text: &str, limits: &Limits) -> String {
        match scan(text, limits) {
            Ok(d) => format!("depth {}", d.levels),
            Err(e) => {
                let mut line = format!("{:?}: {}", e.kind, e.message);
                if let Some(s) = e.span {
                    line += &format!(" at {}..{}", s.start, s.end);
                }
                if let Some(h) = e.hint {
                    line += &format!("; {h}");
                }
                if let Some(Detail::Limit { limit, max }) = e.detail {
                    line += &format!("; over {limit:?} = {max}");
                }
                line
            }
        }
    }

    fn check(text: &str, expect: &str) {
        assert_eq!(scanned(text, &Limits::default()), expect, "{text:?}");
    }

    #[test]
    fn depth_counts_parentheses_and_pending_right_recursive_operators() {
        check("x", "depth 0");
        check("(x)", "depth 1");
        check("((x))", "depth 2");
        check("sin(x)", "depth 1");
        check("x^y^z", "depth 2");
        check("x**2", "depth 1");
        check("--x", "depth 2");
        // A binary operator or a comma ends the chain of its level.
        check("x + y^2", "depth 1");
        check("2^x + 3^y", "depth 1");
        check("f(x^2, y^2)", "depth 2");
        check("f(x, y^2)", "depth 2");
        check("# a comment\n(x)", "depth 1");
    }

    #[test]
    fn each_mistake_is_reported_with_its_span() {
        check(
            "2x",
            "Syntax: implicit multiplication is not supported at 0..2; write 2*x",
        );
        check(
            "2 x",
            "Syntax: missing operator between '2' and 'x' at 0..3; write 2*x to multiply",
        );
        check(
            "x y",
            "Syntax: missing operator between 'x' and 'y' at 0..3; write x*y to multiply",
        );
        check(
            "x <= 1 subject to y >= 0",
            "Syntax: a statement separator is missing before 'subject to' at 5..14; a \
             constraint is a statement of its own: end the one before with ';' or a new line",
        );
        check(
            "(a)(b)",
            "Syntax: missing operator between ')' and '(' at 2..4; write )*( to multiply",
        );
        check(
            "2(x)",
            "Syntax: missing operator between '2' and '(' at 0..2; write 2*( to multiply",
        );
        check(
            "sin x",
            "Syntax: 'sin' is a function: its argument goes in parentheses at 0..5; write sin(x)",
        );
        check(
            "np.sin(x)",
            "Syntax: 'np.sin' is not a function slope knows at 0..3; \
             write sin(...): slope's functions need no module prefix",
        );
        check(
            "x²",
            "Syntax: unexpected character '²' at 1..3; write ^2 for a square",
        );
        check(
            "3 × x",
            "Syntax: unexpected character '×' at 2..4; write * to multiply",
        );
        check(
            "1.2.3",
            "Syntax: malformed number '1.2.3' at 0..5; numbers are written like 2, 2.5, .5 or 1e-3",
        );
        check(
            "1_000",
            "Syntax: malformed number '1_000' at 0..5; numbers are written like 2, 2.5, .5 or 1e-3",
        );
        check(
            "let 2 = 3",
            "Syntax: expected a name after 'let' at 4..5; a definition is written: let name = expression",
        );
        check(
            "let x 3",
            "Syntax: expected '=' after 'let x' at 6..7; write: let x = expression",
        );
        check(
            "let x",
            "Syntax: incomplete definition at 4..5; a definition is written: let name = expression",
        );
        check(
            "x)",
            "Syntax: unmatched ')' at 1..2; remove it, or add the '(' it closes",
        );
        check(
            "f((x)",
            "Syntax: unclosed '(' at 1..2; add the ')' that closes it",
        );
    }

    #[test]
    fn what_pest_explains_well_is_left_to_it() {
        check("sin(x) + 2*x", "depth 1");
        check("x $ y", "depth 0");
        check("x +", "depth 0");
        check("let x = 2\nx", "depth 0");
    }

    #[test]
    fn empty_input_is_refused() {
        let empty = "Syntax: empty formula at 0..0; write an expression, such as x^2 + y^2";
        check("", empty);
        check(" \t\r\n ; ", empty);
        check("# only a comment", empty);
    }

    #[test]
    fn nesting_past_the_limit_is_refused_where_it_goes_past() {
        // 16 MiB of '(' (the default byte limit): refused at the first
        // level past the depth limit, before the rest is read.
        let text = "(".repeat(16 << 20);
        assert_eq!(
            scanned(&text, &Limits::default()),
            "Limit: the formula nests deeper than the limit of 10000 levels \
             at 10000..10001; over Depth = 10000"
        );
        let signs = format!("{}x", "-".repeat(2_000_000));
        assert_eq!(
            scanned(&signs, &Limits::default()),
            "Limit: the formula nests deeper than the limit of 10000 levels \
             at 10000..10001; over Depth = 10000"
        );
    }

    /// With the depth limit out of the way, a million levels of calls,
    /// signs, `^` chains and sums of parentheses are scanned in one linear
    /// pass (summing the pending chains per token made it quadratic: hours
    /// at this size).
    #[test]
    fn deep_nesting_is_scanned_in_linear_time() {
        let limits = Limits {
            max_depth: usize::MAX,
            ..Limits::default()
        };
        let n = 250_000;
        let open = "sin(-x^-(x+(";
        let text = format!("{}x{}", open.repeat(n), ")))".repeat(n));
        // Per repeat, six levels: three parentheses, and the sign, `^` and
        // sign pending inside the call; `x+` ends its level's chain.
        let depth = scan(&text, &limits).expect("scans");
        assert_eq!(depth.levels, 6 * n);
    }

    #[test]
    fn limits_hold_at_the_boundary_and_refuse_just_past_it() {
        let limits = |max_bytes, max_depth| Limits {
            max_bytes,
            max_depth,
            ..Limits::default()
        };
        assert_eq!(scanned("((x))", &limits(5, 2)), "depth 2");
        assert_eq!(
            scanned("((x))", &limits(4, 2)),
            "Limit: the formula is 5 bytes long, over the limit of 4 bytes; \
             over Bytes = 4"
        );
        assert_eq!(
            scanned("((x))", &limits(5, 1)),
            "Limit: the formula nests deeper than the limit of 1 levels at 1..2; \
             over Depth = 1"
        );
        // The byte limit is checked first, before any scanning.
        assert_eq!(
            scanned("2x", &limits(1, 0)),
            "Limit: the formula is 2 bytes long, over the limit of 1 bytes; \
             over Bytes = 1"
        );
    }
}
