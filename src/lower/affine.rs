//! Index expressions: `i+1`, `2*i-1`, `n+1-i`, lowered to [`Affine`] forms
//! in loop indices and parameters; a power of integers (`10^6`) is the
//! integer it is. Anything else in an index is refused
//! with a caret under it: indices must be affine, so that every read's
//! range is known before a loop runs.

use crate::ast::{Ast, AstId, AstKind, Sign};
use crate::error::{Error, ErrorKind, Result, Span};
use crate::graph::Affine;

/// What a name in an index can stand for.
pub(super) trait Scope {
    /// The affine form of `name`, if it is a loop index or a parameter.
    fn index_symbol(&self, name: &str) -> Option<Affine>;
}

/// The affine form of the subtree `root`, whose nodes are `first..=root`.
pub(super) fn affine(ast: &Ast, first: usize, root: AstId, scope: &dyn Scope) -> Result<Affine> {
    let mut values: Vec<Option<Affine>> = vec![None; root.index() + 1 - first];
    for k in first..=root.index() {
        let node = &ast.nodes[k];
        let get = |a: &AstId| -> Result<&Affine> {
            a.index()
                .checked_sub(first)
                .and_then(|i| values.get(i))
                .and_then(Option::as_ref)
                .ok_or_else(|| not_affine(node.span))
        };
        let out = match &node.kind {
            AstKind::Merged => continue,
            AstKind::Number(c) => {
                if c.fract() != 0.0 {
                    return Err(Error::at(
                        ErrorKind::Index,
                        node.span,
                        format!("the index {c} is not an integer"),
                    )
                    .with_hint("indices are integers"));
                }
                if c.abs() > MAX_INDEX as f64 {
                    return Err(Error::at(
                        ErrorKind::Index,
                        node.span,
                        format!("the index {c:e} is out of the range of indices"),
                    )
                    .with_hint(format!(
                        "an index is an integer of at most 2^53 = {MAX_INDEX} in size"
                    )));
                }
                Affine::constant(*c as i64)
            }
            AstKind::Pow(base, exponent) => {
                let (b, e) = (get(base)?.as_constant(), get(exponent)?.as_constant());
                let (Some(b), Some(e)) = (b, e) else {
                    return Err(not_affine(node.span));
                };
                let e = u32::try_from(e).map_err(|_| {
                    not_affine(node.span)
                        .with_hint("a power in an index needs an exponent of 0 or more")
                })?;
                Affine::constant(b.checked_pow(e).ok_or_else(|| overflow(node.span))?)
            }
            AstKind::Name(name) => scope.index_symbol(name).ok_or_else(|| {
                let hint = match name.as_str() {
                    // `rows` exists once data columns are declared.
                    "rows" => "`rows` is the number of rows of the data, which a `data` line \
                               declares first, as `data t, y`"
                        .to_string(),
                    _ => format!(
                        "a parameter is declared first, as `param {name} = 10`; --set {name}=… \
                         then overrides it"
                    ),
                };
                Error::at(
                    ErrorKind::Index,
                    node.span,
                    format!("'{name}' in an index is neither a loop index nor a parameter"),
                )
                .with_hint(hint)
            })?,
            AstKind::Neg(a) => get(a)?
                .combine(-1, &Affine::default(), 0)
                .ok_or_else(|| overflow(node.span))?,
            AstKind::Sum(items) => {
                let mut acc = Affine::default();
                for (sign, a) in items {
                    let s = if *sign == Sign::Plus { 1 } else { -1 };
                    acc = acc
                        .combine(1, get(a)?, s)
                        .ok_or_else(|| overflow(node.span))?;
                }
                acc
            }
            AstKind::Product(items) => {
                let mut acc = Affine::constant(1);
                for (sign, a) in items {
                    let a = get(a)?;
                    if *sign == Sign::Minus {
                        return Err(not_affine(node.span).with_hint(
                            "an index cannot divide: write the range so that it need not",
                        ));
                    }
                    acc = match (acc.as_constant(), a.as_constant()) {
                        (Some(c), _) => a.combine(c, &Affine::default(), 0),
                        (_, Some(c)) => acc.combine(c, &Affine::default(), 0),
                        _ => return Err(not_affine(node.span)),
                    }
                    .ok_or_else(|| overflow(node.span))?;
                }
                acc
            }
            _ => return Err(not_affine(node.span)),
        };
        values[k - first] = Some(out);
    }
    values
        .pop()
        .flatten()
        .ok_or_else(|| not_affine(ast.node(root).span))
}

/// The largest index in size: every integer up to it is a double.
const MAX_INDEX: i64 = 1 << 53;

fn not_affine(span: Span) -> Error {
    Error::at(
        ErrorKind::Index,
        span,
        "an index must be affine: a sum of integer multiples of loop indices and parameters",
    )
    .with_hint("such as x[i+1], x[2*i-1] or x[n+1-i]")
}

fn overflow(span: Span) -> Error {
    Error::at(
        ErrorKind::Index,
        span,
        "the index overflows a 64-bit integer",
    )
}
