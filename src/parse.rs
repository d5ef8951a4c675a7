//! Text → [`Ast`]: a scan for what pest cannot explain well, then pest and
//! one Pratt parser.
//!
//! The scan runs first over the raw text. It measures the nesting depth (pest
//! and the Pratt parser recurse once per level, so depth is bounded before
//! they run, and deep formulas are parsed on a thread with a stack sized for
//! them), refuses empty formulas, and catches the mistakes people make most
//! (`2x`, `x y`, `x²`) with a hint instead of pest's "expected ...".

use std::cell::RefCell;

use pest::Parser as _;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};

use crate::ast::{Ast, AstId, AstKind, Sign, Statement};
use crate::error::{Error, ErrorKind, Limit, Result, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/slope.pest"]
struct Grammar;

/// Size limits checked while parsing.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest formula text, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of parentheses, calls, `^` chains and signs.
    pub max_depth: usize,
    /// Most variables (checked when the formula is lowered).
    pub max_vars: usize,
    /// Most graph nodes, derivatives included (checked by
    /// [`Formula::try_gradient`](crate::Formula::try_gradient) and
    /// [`Formula::try_hessian`](crate::Formula::try_hessian), which also
    /// count each Hessian entry), so that memory stays bounded.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bytes: 16 << 20,
            max_depth: 10_000,
            max_vars: 1_000_000,
            max_nodes: 10_000_000,
        }
    }
}

/// Below this depth pest runs on the caller's thread.
const SHALLOW: usize = 256;
/// Stack bytes per level of nesting (measured need is a few hundred bytes in
/// release builds and a few KiB in debug builds; this leaves a wide margin).
const STACK_PER_LEVEL: usize = 16 << 10;

/// Parses a whole formula.
pub fn parse(text: &str, limits: &Limits) -> Result<Ast> {
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
    let depth = scan(text)?;
    if depth.levels > limits.max_depth {
        return Err(Error::over_limit(
            Limit::Depth,
            limits.max_depth,
            format!(
                "the formula nests {} levels deep, over the limit of {}",
                depth.levels, limits.max_depth
            ),
        )
        .with_span(depth.span));
    }
    if depth.levels < SHALLOW {
        return parse_pest(text);
    }
    let stack = (1 << 20) + depth.levels * STACK_PER_LEVEL;
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("slope-parse".into())
            .stack_size(stack)
            .spawn_scoped(s, || parse_pest(text))
            .map_err(|e| Error::new(ErrorKind::Limit, format!("cannot start the parser: {e}")))?
            .join()
            .unwrap_or_else(|_| Err(Error::new(ErrorKind::Limit, "the parser failed")))
    })
}

/// How deep the formula nests, and where it is deepest.
#[derive(Copy, Clone, Debug)]
struct Depth {
    levels: usize,
    span: Span,
}

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Token {
    /// Start of the text or of a statement.
    Start,
    /// The keyword `let`, after which a name follows.
    Let,
    Number,
    Name,
    Close,
    Open,
    Operator,
    Comma,
}

/// The pre-scan described in the module docs. Returns the nesting depth.
fn scan(text: &str) -> Result<Depth> {
    let bytes = text.as_bytes();
    // Per open parenthesis: the number of right-recursive operators (`^`,
    // signs) pending at that level; the Pratt parser recurses once for each.
    let mut chains: Vec<usize> = vec![0];
    // Where each open parenthesis is, for "unclosed '('".
    let mut opens: Vec<usize> = Vec::new();
    // After `let`: 1 while a name is due, 2 while `=` is due.
    let mut let_state = 0;
    let mut depth = Depth {
        levels: 0,
        span: Span::default(),
    };
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
            b'0'..=b'9' | b'.' => {
                i = number_end(bytes, i);
                if i < bytes.len() && (bytes[i] == b'.' || bytes[i] == b'_') {
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
                if &text[start..i] == "let" && prev == Token::Start {
                    Token::Let
                } else {
                    Token::Name
                }
            }
            b'(' => {
                i += 1;
                Token::Open
            }
            b')' => {
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
        let_state = match (let_state, token) {
            (0, Token::Let) => 1,
            (1, Token::Name) => 2,
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
                if opens.pop().is_none() {
                    return Err(Error::at(ErrorKind::Syntax, span, "unmatched ')'")
                        .with_hint("remove it, or add the '(' it closes"));
                }
                chains.pop();
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
                } else {
                    chains[level] = 0;
                }
            }
            Token::Comma => {
                let level = chains.len() - 1;
                chains[level] = 0;
            }
            _ => {}
        }
        let levels = chains.len() - 1 + chains.iter().sum::<usize>();
        if levels > depth.levels {
            depth = Depth { levels, span };
        }
        prev = token;
        prev_span = span;
    }
    if let Some(&open) = opens.last() {
        return Err(
            Error::at(ErrorKind::Syntax, Span::new(open, open + 1), "unclosed '('")
                .with_hint("add the ')' that closes it"),
        );
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

/// The end of a number starting at `i`, as the grammar reads it.
fn number_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    if i < bytes.len() && bytes[i] == b'.' {
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
    // `f(` is a call, not a product.
    if !operand_before || !operand_after || (prev == Token::Name && next == Token::Open) {
        return None;
    }
    let (a, b) = (&text[prev_span.range()], &text[span.range()]);
    let b = if next == Token::Open { "(" } else { b };
    let adjacent = prev_span.end == span.start;
    let (message, hint) = if prev == Token::Number && adjacent && next != Token::Open {
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
        _ => return None,
    })
}

fn pratt() -> PrattParser<Rule> {
    PrattParser::new()
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left) | Op::infix(Rule::div, Assoc::Left))
        .op(Op::prefix(Rule::neg) | Op::prefix(Rule::pos))
        .op(Op::infix(Rule::pow, Assoc::Right))
}

fn parse_pest(text: &str) -> Result<Ast> {
    let mut pairs = Grammar::parse(Rule::formula, text).map_err(|e| syntax_error(text, e))?;
    let builder = Builder {
        ast: RefCell::new(Ast::default()),
        pratt: pratt(),
    };
    let formula = pairs.next().map(|p| p.into_inner()).into_iter().flatten();
    for pair in formula {
        match pair.as_rule() {
            Rule::definition => {
                let span = span_of(&pair);
                let mut inner = pair.into_inner();
                let (Some(_), Some(name), Some(value)) = (inner.next(), inner.next(), inner.next())
                else {
                    return Err(Error::at(ErrorKind::Syntax, span, "incomplete definition"));
                };
                let value = builder.expr(value.into_inner())?;
                builder.ast.borrow_mut().statements.push(Statement::Let {
                    name: name.as_str().to_string(),
                    name_span: span_of(&name),
                    value,
                });
            }
            Rule::expr => {
                let value = builder.expr(pair.into_inner())?;
                builder
                    .ast
                    .borrow_mut()
                    .statements
                    .push(Statement::Expr(value));
            }
            _ => {}
        }
    }
    Ok(builder.ast.into_inner())
}

struct Builder {
    ast: RefCell<Ast>,
    pratt: PrattParser<Rule>,
}

impl Builder {
    fn push(&self, kind: AstKind, span: Span) -> AstId {
        self.ast.borrow_mut().push(kind, span)
    }

    fn span(&self, id: AstId) -> Span {
        self.ast.borrow().node(id).span
    }

    fn expr(&self, pairs: Pairs<'_, Rule>) -> Result<AstId> {
        self.pratt
            .map_primary(|p| self.primary(p))
            .map_prefix(|op, operand| {
                let operand = operand?;
                let span = span_of(&op).to(self.span(operand));
                Ok(match op.as_rule() {
                    Rule::neg => self.push(AstKind::Neg(operand), span),
                    _ => operand,
                })
            })
            .map_infix(|lhs, op, rhs| {
                let (lhs, rhs) = (lhs?, rhs?);
                let span = self.span(lhs).to(self.span(rhs));
                Ok(match op.as_rule() {
                    Rule::add => self.chain(lhs, Sign::Plus, rhs, span, true),
                    Rule::sub => self.chain(lhs, Sign::Minus, rhs, span, true),
                    Rule::mul => self.chain(lhs, Sign::Plus, rhs, span, false),
                    Rule::div => self.chain(lhs, Sign::Minus, rhs, span, false),
                    _ => self.push(AstKind::Pow(lhs, rhs), span),
                })
            })
            .parse(pairs)
    }

    /// Extends a sum (or product) chain on the left with one more operand.
    fn chain(&self, lhs: AstId, sign: Sign, rhs: AstId, span: Span, sum: bool) -> AstId {
        let mut ast = self.ast.borrow_mut();
        let node = &mut ast.nodes[lhs.index()];
        let mut items = match (&mut node.kind, sum) {
            (AstKind::Sum(items), true) | (AstKind::Product(items), false) => {
                let items = std::mem::take(items);
                node.kind = AstKind::Merged;
                items
            }
            _ => vec![(Sign::Plus, lhs)],
        };
        items.push((sign, rhs));
        let kind = if sum {
            AstKind::Sum(items)
        } else {
            AstKind::Product(items)
        };
        ast.push(kind, span)
    }

    fn primary(&self, pair: Pair<'_, Rule>) -> Result<AstId> {
        let span = span_of(&pair);
        match pair.as_rule() {
            Rule::number => {
                let value: f64 = pair.as_str().parse().map_err(|_| {
                    Error::at(
                        ErrorKind::Syntax,
                        span,
                        format!("malformed number '{}'", pair.as_str()),
                    )
                })?;
                if !value.is_finite() {
                    return Err(Error::at(
                        ErrorKind::Syntax,
                        span,
                        format!("the number {} is too large for a double", pair.as_str()),
                    )
                    .with_hint("the largest double is about 1.8e308"));
                }
                Ok(self.push(AstKind::Number(value), span))
            }
            Rule::ident => Ok(self.push(AstKind::Name(pair.as_str().to_string()), span)),
            Rule::call => {
                let mut inner = pair.into_inner();
                let Some(name) = inner.next() else {
                    return Err(Error::at(ErrorKind::Syntax, span, "malformed call"));
                };
                let args = inner
                    .map(|a| self.expr(a.into_inner()))
                    .collect::<Result<Vec<_>>>()?;
                Ok(self.push(
                    AstKind::Call {
                        name: name.as_str().to_string(),
                        name_span: span_of(&name),
                        args,
                    },
                    span,
                ))
            }
            Rule::paren => {
                let Some(inner) = pair.into_inner().next() else {
                    return Err(Error::at(ErrorKind::Syntax, span, "empty parentheses"));
                };
                let id = self.expr(inner.into_inner())?;
                // The node's span covers its parentheses, so that a caret
                // under `(x - 2)^0.5` underlines all of it.
                self.ast.borrow_mut().nodes[id.index()].span = span;
                Ok(id)
            }
            _ => Err(Error::at(ErrorKind::Syntax, span, "unexpected input")),
        }
    }
}

fn span_of(pair: &Pair<'_, Rule>) -> Span {
    let s = pair.as_span();
    Span::new(s.start(), s.end())
}

/// Pest's error, in words: what was found, and what could have come there.
fn syntax_error(text: &str, e: pest::error::Error<Rule>) -> Error {
    let pos = match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let found = text[pos.min(text.len())..].chars().next();
    let (message, width) = match found {
        None => ("unexpected end of the formula".to_string(), 0),
        Some('\n') => ("unexpected end of the line".to_string(), 0),
        Some(c) => (format!("unexpected '{c}'"), c.len_utf8()),
    };
    let mut expected: Vec<&str> = Vec::new();
    if let pest::error::ErrorVariant::ParsingError { positives, .. } = &e.variant {
        for rule in positives {
            let word = match rule {
                Rule::number
                | Rule::ident
                | Rule::call
                | Rule::neg
                | Rule::pos
                | Rule::expr
                | Rule::inner
                | Rule::paren => "a number, a name or '('",
                Rule::add | Rule::sub | Rule::mul | Rule::div | Rule::pow => "an operator",
                Rule::EOI => "the end of the statement",
                Rule::definition | Rule::let_kw => "a definition",
                _ => continue,
            };
            if !expected.contains(&word) {
                expected.push(word);
            }
        }
    }
    let mut err = Error::at(ErrorKind::Syntax, Span::new(pos, pos + width), message);
    if found == Some('=') && text[pos..].starts_with("==") {
        err = err.with_hint("slope has no comparisons: a formula is a number");
    } else if found == Some('=') {
        err = err.with_hint("a definition is written: let name = expression");
    } else if !expected.is_empty() {
        err = err.with_hint(format!("expected {}", expected.join(" or ")));
    }
    err
}
