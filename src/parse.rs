//! Text → [`Ast`]: a pre-scan for what pest cannot bound or explain well
//! (`parse/prescan.rs`), then pest and one Pratt parser.
//!
//! The pre-scan measures the nesting depth before pest and the Pratt
//! parser, which recurse once per level, run: the depth is bounded, and
//! deep formulas are parsed on a thread with a stack sized for them. It
//! also refuses empty formulas and catches the mistakes people make most
//! (`2x`, `x y`, `x²`) with a hint instead of pest's "expected ...".

use std::cell::RefCell;

use pest::Parser as _;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};

use crate::ast::{Ast, AstId, AstKind, Binding, Declared, ReduceOp, Relation, Sign, Statement};
use crate::error::{Error, ErrorKind, Result, Span};

mod prescan;

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
    /// Most graph nodes, derivatives included (checked when the formula
    /// and its gradient are built, and by
    /// [`Formula::hessian`](crate::Formula::hessian), which also counts
    /// each Hessian entry), so that memory stays bounded.
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
    let depth = prescan::scan(text, limits)?;
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
                let mut inner = pair.into_inner().skip(1);
                let Some(name) = inner.next() else {
                    return Err(Error::at(ErrorKind::Syntax, span, "incomplete definition"));
                };
                let mut indices = Vec::new();
                let mut value = inner.next();
                if let Some(list) = value.take_if(|p| p.as_rule() == Rule::indices) {
                    indices = list
                        .into_inner()
                        .map(|i| (i.as_str().to_string(), span_of(&i)))
                        .collect();
                    value = inner.next();
                }
                let Some(value) = value else {
                    return Err(Error::at(ErrorKind::Syntax, span, "incomplete definition"));
                };
                let value = builder.expr(value.into_inner())?;
                builder.ast.borrow_mut().statements.push(Statement::Let {
                    name: name.as_str().to_string(),
                    name_span: span_of(&name),
                    indices,
                    value,
                });
            }
            Rule::param => {
                let span = span_of(&pair);
                let mut inner = pair.into_inner().skip(1);
                let (Some(name), Some(value)) = (inner.next(), inner.next()) else {
                    return Err(Error::at(ErrorKind::Syntax, span, "incomplete parameter"));
                };
                let value = builder.expr(value.into_inner())?;
                builder.ast.borrow_mut().statements.push(Statement::Param {
                    name: name.as_str().to_string(),
                    name_span: span_of(&name),
                    value,
                });
            }
            Rule::declaration => {
                let mut declared = Vec::new();
                for d in pair.into_inner().skip(1) {
                    let mut inner = d.into_inner();
                    let Some(name) = inner.next() else { continue };
                    let extents = inner
                        .map(|r| builder.range(r))
                        .collect::<Result<Vec<_>>>()?;
                    declared.push(Declared {
                        name: name.as_str().to_string(),
                        span: span_of(&name),
                        extents,
                    });
                }
                builder
                    .ast
                    .borrow_mut()
                    .statements
                    .push(Statement::Var(declared));
            }
            Rule::data => {
                let names = pair
                    .into_inner()
                    .skip(1)
                    .map(|n| (n.as_str().to_string(), span_of(&n)))
                    .collect();
                builder
                    .ast
                    .borrow_mut()
                    .statements
                    .push(Statement::Data(names));
            }
            Rule::expr => {
                let value = builder.expr(pair.into_inner())?;
                builder
                    .ast
                    .borrow_mut()
                    .statements
                    .push(Statement::Expr(value));
            }
            Rule::constraint => {
                let statement = builder.constraint(pair)?;
                builder.ast.borrow_mut().statements.push(statement);
            }
            Rule::comparison => return Err(stray_comparison(&builder, &pair)),
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

    /// `lo..hi`.
    fn range(&self, pair: Pair<'_, Rule>) -> Result<(AstId, AstId)> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let (Some(lo), Some(hi)) = (inner.next(), inner.next()) else {
            return Err(Error::at(ErrorKind::Syntax, span, "malformed range"));
        };
        Ok((self.expr(lo.into_inner())?, self.expr(hi.into_inner())?))
    }

    /// `i in lo..hi`, of a sum or a family (`span` is theirs, for errors).
    fn binding(&self, pair: Pair<'_, Rule>, span: Span) -> Result<Binding> {
        let mut b = pair.into_inner();
        let (Some(name), Some(_), Some(range)) = (b.next(), b.next(), b.next()) else {
            return Err(Error::at(ErrorKind::Syntax, span, "malformed range"));
        };
        let (lo, hi) = self.range(range)?;
        Ok(Binding {
            name: name.as_str().to_string(),
            span: span_of(&name),
            lo,
            hi,
        })
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

    /// `subject to lhs <= rhs`; a constraint without its comparison is
    /// refused here, with a hint.
    fn constraint(&self, pair: Pair<'_, Rule>) -> Result<Statement> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner().skip(2).peekable();
        let mut family = Vec::new();
        if let Some(p) = inner.next_if(|p| p.as_rule() == Rule::family) {
            for b in p.into_inner() {
                family.push(self.binding(b, span)?);
            }
        }
        let (Some(lhs), comparison) = (inner.next(), inner.next()) else {
            return Err(Error::at(ErrorKind::Syntax, span, "incomplete constraint"));
        };
        let lhs = self.expr(lhs.into_inner())?;
        let Some(comparison) = comparison else {
            return Err(Error::at(
                ErrorKind::Syntax,
                span,
                "a constraint needs a comparison: <=, >= or ==",
            )
            .with_hint("write it as 'subject to x + y <= 1'"));
        };
        let mut parts = comparison.into_inner();
        let (Some(relation), Some(rhs)) = (parts.next(), parts.next()) else {
            return Err(Error::at(ErrorKind::Syntax, span, "incomplete constraint"));
        };
        let relation = match relation.as_str() {
            "<=" => Relation::Le,
            ">=" => Relation::Ge,
            _ => Relation::Eq,
        };
        let rhs = self.expr(rhs.into_inner())?;
        Ok(Statement::Constraint {
            family,
            relation,
            lhs,
            rhs,
            span,
        })
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
            Rule::subscript => {
                let mut inner = pair.into_inner();
                let Some(name) = inner.next() else {
                    return Err(Error::at(ErrorKind::Syntax, span, "malformed subscript"));
                };
                let args = inner
                    .map(|a| self.expr(a.into_inner()))
                    .collect::<Result<Vec<_>>>()?;
                Ok(self.push(
                    AstKind::Subscript {
                        name: name.as_str().to_string(),
                        name_span: span_of(&name),
                        args,
                    },
                    span,
                ))
            }
            Rule::reduction => {
                let mut inner = pair.into_inner();
                let op = match inner.next().map(|k| k.as_str()) {
                    Some("prod") => ReduceOp::Prod,
                    _ => ReduceOp::Sum,
                };
                let mut bindings = Vec::new();
                let mut body = None;
                for p in inner {
                    if p.as_rule() == Rule::binding {
                        bindings.push(self.binding(p, span)?);
                    } else {
                        body = Some(self.expr(p.into_inner())?);
                    }
                }
                let Some(body) = body else {
                    return Err(Error::at(ErrorKind::Syntax, span, "a sum needs a body"));
                };
                Ok(self.push(AstKind::Reduce { op, bindings, body }, span))
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

/// A comparison after an expression or a definition that is not a
/// constraint: the caret runs from the statement's start to the end of the
/// comparison.
fn stray_comparison(builder: &Builder, comparison: &Pair<'_, Rule>) -> Error {
    let end = span_of(comparison);
    let ast = builder.ast.borrow();
    let start = match ast.statements.last() {
        Some(Statement::Expr(e)) => ast.node(*e).span,
        Some(Statement::Let { name_span, .. }) => *name_span,
        _ => end,
    };
    Error::at(
        ErrorKind::Syntax,
        start.to(end),
        "a comparison is only allowed in a constraint",
    )
    .with_hint(format!(
        "write 'subject to {}' to constrain the minimisation",
        ast_text(comparison, start.to(end))
    ))
}

/// The source text of `span`, from the text `pair` was parsed from.
fn ast_text(pair: &Pair<'_, Rule>, span: Span) -> String {
    let text = pair.as_span().get_input();
    let s = text.get(span.range()).unwrap_or_default();
    // A long statement would make a long hint.
    match s.len() > 60 || s.contains('\n') {
        true => "...".to_string(),
        false => s.to_string(),
    }
}

/// The error for a comparison where the grammar has none, at byte `pos`
/// of `text`: inside a definition or a call (`let a = x <= 1`, `sin(x >=
/// 1)`), which the statement-level [`stray_comparison`] does not see; a
/// strict `<` or `>`; a second comparison in a constraint (`0 <= x <=
/// 1`); and `=` in a constraint. `None` where `pos` holds none of them.
fn misplaced_comparison(text: &str, pos: usize) -> Option<Error> {
    let rest = &text[pos..];
    let op = ["<=", ">=", "==", "<", ">", "="]
        .into_iter()
        .find(|op| rest.starts_with(op))?;
    // The statement so far: from the last separator (a `;` or a new line).
    let statement = text[..pos].rsplit([';', '\n']).next().unwrap_or_default();
    let in_constraint = prescan::opens_constraint(statement);
    let span = Span::new(pos, pos + op.len());
    let (message, hint) = match op {
        "=" if !in_constraint => return None,
        "=" => (
            "a constraint compares with ==, not =".to_string(),
            "did you mean ==? an equality constraint is written: subject to lhs == rhs".to_string(),
        ),
        "<" | ">" => (
            format!("strict comparisons ('{op}') are not supported"),
            match in_constraint {
                true => format!("write {op}= (a constraint holds on its boundary)"),
                false => format!("write {op}= in a constraint: subject to ..."),
            },
        ),
        _ if in_constraint && ["<=", ">=", "=="].iter().any(|c| statement.contains(c)) => (
            "chained comparisons are not supported".to_string(),
            "write two constraints ('subject to 0 <= x; subject to x <= 1'), or for a \
             variable's range give it bounds"
                .to_string(),
        ),
        _ => (
            "a comparison is only allowed in a constraint".to_string(),
            format!("a constraint is a statement of its own: subject to lhs {op} rhs"),
        ),
    };
    Some(Error::at(ErrorKind::Syntax, span, message).with_hint(hint))
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
        // A control character (a NUL byte, an escape) shows as its escape.
        Some(c) if c.is_control() => (format!("unexpected '{}'", c.escape_debug()), c.len_utf8()),
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
                Rule::reduction | Rule::subscript => "a number, a name or '('",
                Rule::in_kw => "'in'",
                _ => continue,
            };
            if !expected.contains(&word) {
                expected.push(word);
            }
        }
    }
    let mut err = Error::at(ErrorKind::Syntax, Span::new(pos, pos + width), message);
    if found.is_some_and(|c| !c.is_ascii()) {
        // Outside comments a formula is ASCII; `café`, `x₁` or an emoji
        // is most often a name written with a letter it cannot have.
        err = err.with_hint(
            "names are ASCII letters, digits and '_'; other characters may appear only in comments",
        );
    } else if let Some(comparison) = misplaced_comparison(text, pos) {
        err = comparison;
    } else if found == Some('=') {
        err = err.with_hint("a definition is written: let name = expression");
    } else if !expected.is_empty() {
        err = err.with_hint(format!("expected {}", expected.join(" or ")));
    }
    err
}
