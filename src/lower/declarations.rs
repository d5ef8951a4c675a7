//! Declarations: parameters (`param n = 10`), arrays of variables with
//! their extents (`var x[1..n]`), data columns (`data t, y`), and arrays
//! read without a declaration.

use super::*;

/// The declarations of an indexed formula, numbered as the graph's
/// [`Node::Param`](crate::graph::Node), [`Source::Var`] and
/// [`Source::Data`] number them.
#[derive(Clone, Debug, Default)]
pub struct Indexed {
    pub params: Vec<ParamDecl>,
    pub arrays: Vec<ArrayDecl>,
    pub data: Vec<(String, Span)>,
    /// The name each loop level's index prints as.
    pub levels: Vec<String>,
    /// The levels whose indices have more than one name in the text
    /// (`sum(i in ...) + sum(j in ...)`), as a bit set: a message that
    /// names an index value there cannot tell which name the user sees.
    pub renamed: u64,
}

impl Indexed {
    pub fn is_empty(&self) -> bool {
        self.params.is_empty() && self.arrays.is_empty() && self.data.is_empty()
    }
}

/// `param n = 1000`; `rows` is a parameter bound to the data's length.
#[derive(Clone, Debug)]
pub struct ParamDecl {
    pub name: String,
    pub span: Span,
    /// The value in the text (`None` for `rows`, which the data give).
    pub default: Option<f64>,
}

/// `var x[1..n]`, or an array used without a declaration.
#[derive(Clone, Debug)]
pub struct ArrayDecl {
    pub name: String,
    pub span: Span,
    /// Per dimension, the declared range; `None` when undeclared: then the
    /// extent is `1..` the largest index read.
    pub extents: Option<Vec<Range>>,
    pub rank: usize,
}

/// The parameters, declared arrays and data of a formula, in the order of
/// their statements.
pub(super) fn declarations<'a>(ast: &'a Ast, text: &str) -> Result<Indexed> {
    let mut indexed = Indexed::default();
    let mut seen: HashMap<&str, Span> = HashMap::new();
    let declare = |seen: &mut HashMap<&'a str, Span>, name: &'a str, span: Span| -> Result<()> {
        if let Some(what) = reserved(name) {
            return Err(Error::at(
                ErrorKind::Name,
                span,
                format!("'{name}' is {what} and cannot be declared"),
            )
            .with_hint("choose another name"));
        }
        if let Some(first) = seen.get(name) {
            let (line, col) = first.line_col(text);
            return Err(
                Error::at(ErrorKind::Name, span, format!("'{name}' is declared twice"))
                    .with_hint(format!("it is first declared at {line}:{col}")),
            );
        }
        seen.insert(name, span);
        Ok(())
    };
    for s in &ast.statements {
        match s {
            Statement::Param {
                name,
                name_span,
                value,
            } => {
                declare(&mut seen, name, *name_span)?;
                let node = tree_constant(ast, *value)?;
                indexed.params.push(ParamDecl {
                    name: name.clone(),
                    span: *name_span,
                    default: Some(node),
                });
            }
            Statement::Data(names) => {
                for (name, span) in names {
                    declare(&mut seen, name, *span)?;
                    indexed.data.push((name.clone(), *span));
                }
            }
            Statement::Var(list) => {
                for d in list.iter().filter(|d| !d.extents.is_empty()) {
                    declare(&mut seen, &d.name, d.span)?;
                }
            }
            _ => {}
        }
    }
    if !indexed.data.is_empty() && !indexed.params.iter().any(|p| p.name == "rows") {
        indexed.params.push(ParamDecl {
            name: "rows".to_string(),
            span: Span::default(),
            default: None,
        });
    }
    // Extents, in parameters only.
    let params = ParamScope(&indexed.params);
    let mut arrays = Vec::new();
    for s in &ast.statements {
        let Statement::Var(list) = s else { continue };
        for d in list.iter().filter(|d| !d.extents.is_empty()) {
            let mut ranges = Vec::new();
            for &(lo, hi) in &d.extents {
                ranges.push(Range {
                    lo: affine::affine(ast, first_of(ast, lo), lo, &params)?,
                    hi: affine::affine(ast, first_of(ast, hi), hi, &params)?,
                });
            }
            arrays.push(ArrayDecl {
                name: d.name.clone(),
                span: d.span,
                rank: ranges.len(),
                extents: Some(ranges),
            });
        }
    }
    indexed.arrays = arrays;
    Ok(indexed)
}

pub(super) struct ParamScope<'a>(pub(super) &'a [ParamDecl]);

impl Scope for ParamScope<'_> {
    fn index_symbol(&self, name: &str) -> Option<Affine> {
        let p = self.0.iter().position(|p| p.name == name)?;
        Some(Affine::symbol(Symbol::Param(p as u32)))
    }
}

/// The value of a parameter's expression, which may use numbers and
/// constants only.
fn tree_constant(ast: &Ast, root: AstId) -> Result<f64> {
    let span = ast.node(root).span;
    let sub = Ast {
        nodes: ast.nodes[..=root.index()].to_vec(),
        statements: vec![Statement::Expr(root)],
    };
    for node in &sub.nodes[first_of(ast, root)..] {
        if let AstKind::Name(name) = &node.kind
            && builtins::constant(name).is_none()
        {
            return Err(Error::at(
                ErrorKind::Index,
                node.span,
                format!("a parameter's value is a number, and '{name}' is not one"),
            )
            .with_hint("write a number or an expression of numbers, such as 1000 or 2^10"));
        }
    }
    let mut scratch = Graph::new();
    let id = build(
        &sub,
        "",
        &mut scratch,
        (&[], &super::VarIndex::default()),
        &[],
        true,
        &mut Indexed::default(),
    )?
    .value;
    scratch.as_const(id).ok_or_else(|| {
        Error::at(
            ErrorKind::Index,
            span,
            "a parameter's value must be a finite number",
        )
    })
}

/// Arrays read with a subscript but never declared: their extent is
/// `1..` the largest index read, found when parameters are bound.
pub(super) fn implicit_arrays(
    ast: &Ast,
    definitions: &HashMap<&str, (usize, Span)>,
    indexed: &mut Indexed,
) -> Result<()> {
    for node in &ast.nodes {
        let AstKind::Subscript {
            name,
            name_span,
            args,
        } = &node.kind
        else {
            continue;
        };
        if definitions.contains_key(name.as_str())
            || indexed.data.iter().any(|(d, _)| d == name)
            || indexed.params.iter().any(|p| &p.name == name)
        {
            continue;
        }
        match indexed.arrays.iter().find(|a| &a.name == name) {
            Some(a) if a.rank != args.len() => {
                return Err(Error::at(
                    ErrorKind::Index,
                    node.span,
                    format!(
                        "'{name}' has {} {}, but {} {} given",
                        a.rank,
                        if a.rank == 1 { "index" } else { "indices" },
                        args.len(),
                        if args.len() == 1 { "is" } else { "are" }
                    ),
                ));
            }
            Some(_) => {}
            None => {
                if let Some(what) = reserved(name) {
                    return Err(Error::at(
                        ErrorKind::Name,
                        *name_span,
                        format!("'{name}' is {what}, not an array"),
                    ));
                }
                indexed.arrays.push(ArrayDecl {
                    name: name.clone(),
                    span: *name_span,
                    extents: None,
                    rank: args.len(),
                })
            }
        }
    }
    Ok(())
}
