//! [`Ast`] → [`Graph`]: resolves names, checks arity, fixes the variable
//! order and builds canonical nodes, recording each node's source span.

use std::collections::{HashMap, HashSet};

use crate::ast::{Ast, AstId, AstKind, Relation, Sign, Statement};
use crate::builtins::{self, Callee, Func};
use crate::error::{Detail, Error, ErrorKind, Result, Span};
use crate::graph::{Graph, NodeId, Origin};

/// A formula as a graph: its variables and the node of its value.
pub struct Lowered {
    pub graph: Graph,
    pub vars: Vec<String>,
    /// `var_nodes[i]` is the node of variable `vars[i]`.
    pub var_nodes: Vec<NodeId>,
    pub value: NodeId,
    /// The constraints, in the order of the text.
    pub constraints: Vec<LoweredConstraint>,
}

/// A constraint as one node: `g(x) <= 0` or `g(x) == 0`, with `g` the
/// left side minus the right (the other way round for `>=`).
#[derive(Copy, Clone, Debug)]
pub struct LoweredConstraint {
    pub equality: bool,
    pub span: Span,
    pub value: NodeId,
}

/// What a name stands for at one place in the text.
#[derive(Copy, Clone)]
enum Meaning {
    Definition(NodeId),
    Constant(f64),
    Variable(u32),
}

/// Lowers a parsed formula. `var_order`, if given, fixes the variables'
/// order and may name variables the formula does not use.
pub fn lower(ast: &Ast, text: &str, var_order: Option<&[String]>) -> Result<Lowered> {
    let definitions = definitions(&ast.statements, text)?;
    check_shape(ast)?;
    let roots: Vec<AstId> = ast.statements.iter().map(statement_root).collect();
    let statement_of = |id: AstId| roots.partition_point(|r| r.index() < id.index());
    let vars = variables(ast, &definitions, &statement_of, var_order)?;
    let mut graph = Graph::new();
    let var_nodes: Vec<NodeId> = (0..vars.len() as u32).map(|i| graph.var(i)).collect();
    let (value, constraints) = build(ast, text, &mut graph, &vars, &var_nodes, false)?;
    Ok(Lowered {
        graph,
        vars,
        var_nodes,
        value,
        constraints,
    })
}

/// Lowers a second formula (such as a hand-written derivative) into the
/// graph of a first one, over its variables `vars` (nodes `var_nodes`), so
/// that equal subexpressions of the two are equal nodes. A name that is not
/// one of `vars` is an error at its span in `text`; nodes added carry spans
/// into `text`.
pub fn lower_into(
    ast: &Ast,
    text: &str,
    graph: &mut Graph,
    vars: &[String],
    var_nodes: &[NodeId],
) -> Result<NodeId> {
    if let Some(span) = ast.statements.iter().find_map(constraint_span) {
        return Err(Error::at(
            ErrorKind::Syntax,
            span,
            "a constraint is not allowed here: this text is one expression",
        )
        .with_hint("leave out the 'subject to' statement"));
    }
    Ok(build(ast, text, graph, vars, var_nodes, true)?.0)
}

/// The graph of `ast` over the given variables: the objective's node and
/// the constraints'. With `fixed`, the variables come from another formula
/// and names outside them are refused.
fn build(
    ast: &Ast,
    text: &str,
    graph: &mut Graph,
    vars: &[String],
    var_nodes: &[NodeId],
    fixed: bool,
) -> Result<(NodeId, Vec<LoweredConstraint>)> {
    let statements = &ast.statements;
    let definitions = definitions(statements, text)?;
    let value_root = check_shape(ast)?;

    // Statement `i` owns the AST nodes after the previous statement's root,
    // up to and including its own root.
    let roots: Vec<AstId> = statements.iter().map(statement_root).collect();
    let statement_of = |id: AstId| roots.partition_point(|r| r.index() < id.index());
    if fixed {
        // The same checks on names as for a formula of its own.
        variables(ast, &definitions, &statement_of, None)?;
    }
    let var_index: HashMap<&str, u32> = vars
        .iter()
        .enumerate()
        .map(|(i, v)| (v.as_str(), i as u32))
        .collect();

    let mut defined: HashMap<&str, NodeId> = HashMap::new();
    let mut values: Vec<Option<NodeId>> = vec![None; ast.nodes.len()];
    let mut next_statement = 0;
    for (i, node) in ast.nodes.iter().enumerate() {
        let id = AstId(i as u32);
        // Definitions become visible once their statement is complete.
        while next_statement < statements.len() && roots[next_statement].index() < i {
            if let Statement::Let { name, value, .. } = &statements[next_statement]
                && let Some(v) = values[value.index()]
            {
                defined.insert(name, v);
            }
            next_statement += 1;
        }
        graph.set_origin(Some(Origin {
            span: node.span,
            in_derivative: false,
        }));
        let v = |a: &AstId| values[a.index()].ok_or_else(|| internal(node.span));
        let out = match &node.kind {
            AstKind::Merged => continue,
            AstKind::Number(c) => graph.constant(*c),
            AstKind::Name(name) => {
                let meaning = if let Some(&n) = defined.get(name.as_str()) {
                    Meaning::Definition(n)
                } else if let Some(c) = builtins::constant(name) {
                    Meaning::Constant(c)
                } else if let Some(&k) = var_index.get(name.as_str()) {
                    Meaning::Variable(k)
                } else if fixed && !definitions.contains_key(name.as_str()) {
                    return Err(Error::at(
                        ErrorKind::Usage,
                        node.span,
                        format!("the formula has no variable '{name}'"),
                    )
                    .with_hint(format!("its variables are {}", quoted_list(vars))));
                } else {
                    return Err(unresolved(name, node.span, &definitions, statement_of(id)));
                };
                match meaning {
                    Meaning::Definition(n) => n,
                    Meaning::Constant(c) => graph.constant(c),
                    Meaning::Variable(k) => var_nodes[k as usize],
                }
            }
            AstKind::Call {
                name,
                name_span,
                args,
            } => {
                let callee = callee(name, *name_span, &definitions, &var_index)?;
                if args.len() != callee.arity() {
                    return Err(arity_error(name, callee.arity(), args.len(), node.span));
                }
                let a = v(&args[0])?;
                match callee {
                    Callee::Sqrt => graph.powc(a, 0.5),
                    Callee::Pow => {
                        let b = v(&args[1])?;
                        graph.pow(a, b)
                    }
                    Callee::Func(f) if f.arity() == 1 => graph.call1(f, a),
                    Callee::Func(f) => {
                        let b = v(&args[1])?;
                        graph.call2(f, a, b)
                    }
                }
            }
            AstKind::Neg(a) => {
                let a = v(a)?;
                graph.neg(a)
            }
            AstKind::Sum(items) => {
                let mut terms = Vec::with_capacity(items.len());
                for (sign, a) in items {
                    let a = v(a)?;
                    terms.push(match sign {
                        Sign::Plus => a,
                        Sign::Minus => graph.neg(a),
                    });
                }
                graph.sum(&terms)
            }
            AstKind::Product(items) => {
                let mut factors = Vec::with_capacity(items.len());
                for (sign, a) in items {
                    let a = v(a)?;
                    factors.push(match sign {
                        Sign::Plus => a,
                        Sign::Minus => graph.powc(a, -1.0),
                    });
                }
                graph.product(&factors)
            }
            AstKind::Pow(a, b) => {
                let (a, b) = (v(a)?, v(b)?);
                graph.pow(a, b)
            }
        };
        values[i] = Some(out);
    }
    let mut constraints = Vec::new();
    for statement in statements {
        let &Statement::Constraint {
            relation,
            lhs,
            rhs,
            span,
        } = statement
        else {
            continue;
        };
        let (lhs, rhs) = (values[lhs.index()], values[rhs.index()]);
        let (Some(lhs), Some(rhs)) = (lhs, rhs) else {
            return Err(internal(span));
        };
        graph.set_origin(Some(Origin {
            span,
            in_derivative: false,
        }));
        let (a, b) = match relation {
            Relation::Le | Relation::Eq => (lhs, rhs),
            Relation::Ge => (rhs, lhs),
        };
        let minus_b = graph.neg(b);
        constraints.push(LoweredConstraint {
            equality: relation == Relation::Eq,
            span,
            value: graph.sum(&[a, minus_b]),
        });
    }
    graph.set_origin(None);
    let value = values[value_root.index()].ok_or_else(|| internal(Span::default()))?;
    Ok((value, constraints))
}

/// The node of a statement with the largest index: every node of the
/// statement comes at or before it.
fn statement_root(s: &Statement) -> AstId {
    match s {
        Statement::Let { value, .. } | Statement::Expr(value) => *value,
        Statement::Constraint { rhs, .. } => *rhs,
    }
}

fn constraint_span(s: &Statement) -> Option<Span> {
    match s {
        Statement::Constraint { span, .. } => Some(*span),
        _ => None,
    }
}

/// Each definition's name, with its statement index and span. Refuses
/// reserved names and names defined twice.
fn definitions<'a>(
    statements: &'a [Statement],
    text: &str,
) -> Result<HashMap<&'a str, (usize, Span)>> {
    let mut defs: HashMap<&str, (usize, Span)> = HashMap::new();
    for (i, s) in statements.iter().enumerate() {
        let Statement::Let {
            name, name_span, ..
        } = s
        else {
            continue;
        };
        if let Some(what) = reserved(name) {
            return Err(Error::at(
                ErrorKind::Name,
                *name_span,
                format!("'{name}' is {what} and cannot be redefined"),
            )
            .with_hint("choose another name"));
        }
        if let Some((_, first)) = defs.get(name.as_str()) {
            return Err(Error::at(
                ErrorKind::Name,
                *name_span,
                format!("'{name}' is defined twice"),
            )
            .with_hint({
                let (line, col) = first.line_col(text);
                format!("it is first defined at {line}:{col}; give this one another name")
            }));
        }
        defs.insert(name, (i, *name_span));
    }
    Ok(defs)
}

/// The objective is the one expression, and it comes after every
/// definition; constraints may come anywhere.
fn check_shape(ast: &Ast) -> Result<AstId> {
    let shaped: Vec<&Statement> = (ast.statements.iter())
        .filter(|s| constraint_span(s).is_none())
        .collect();
    let n = shaped.len();
    let constrained = shaped.len() < ast.statements.len();
    let mut objective = None;
    for (i, s) in shaped.iter().copied().enumerate() {
        match s {
            Statement::Expr(e) if constrained && objective.is_some() => {
                return Err(Error::at(
                    ErrorKind::Syntax,
                    ast.node(*e).span,
                    "a second objective: a formula minimises one expression",
                )
                .with_hint(
                    "make it a constraint with 'subject to ... <= ...', or a definition \
                     with 'let name = ...'",
                ));
            }
            Statement::Expr(e) if constrained && i + 1 < n => objective = Some(*e),
            Statement::Let { name_span, .. } if objective.is_some() => {
                return Err(Error::at(
                    ErrorKind::Syntax,
                    *name_span,
                    "a definition after the objective",
                )
                .with_hint("move the definition above the objective"));
            }
            Statement::Expr(e) if i + 1 < n => {
                return Err(Error::at(
                    ErrorKind::Syntax,
                    ast.node(*e).span,
                    "only the last statement may be an expression",
                )
                .with_hint("name it with 'let name = ...', or join the lines with an operator"));
            }
            Statement::Let {
                name, name_span, ..
            } if i + 1 == n => {
                return Err(Error::at(
                    ErrorKind::Syntax,
                    *name_span,
                    "the formula ends with a definition",
                )
                .with_hint(format!(
                    "add the expression to evaluate on a last line, such as '{name}'"
                )));
            }
            Statement::Expr(e) => return Ok(*e),
            _ => {}
        }
    }
    if constrained {
        let span = ast.statements.iter().find_map(constraint_span);
        return Err(Error::at(
            ErrorKind::Syntax,
            span.unwrap_or_default(),
            "constraints but no objective",
        )
        .with_hint(
            "add the expression to minimise on a line of its own; 0 finds a feasible point",
        ));
    }
    Err(Error::at(
        ErrorKind::Syntax,
        Span::default(),
        "empty formula",
    ))
}

fn reserved(name: &str) -> Option<&'static str> {
    if matches!(name, "let" | "subject" | "to") {
        Some("a keyword")
    } else if builtins::callee(name).is_some() {
        Some("a function")
    } else if builtins::constant(name).is_some() {
        Some("a constant")
    } else {
        None
    }
}

/// The variables: every name that is not a definition or a constant, in
/// order of first appearance, or in `order` when given.
fn variables(
    ast: &Ast,
    definitions: &HashMap<&str, (usize, Span)>,
    statement_of: &dyn Fn(AstId) -> usize,
    order: Option<&[String]>,
) -> Result<Vec<String>> {
    let mut names: Vec<(Span, &str)> = Vec::new();
    for (i, node) in ast.nodes.iter().enumerate() {
        let AstKind::Name(name) = &node.kind else {
            continue;
        };
        match definitions.get(name.as_str()) {
            Some(&(def, _)) if def < statement_of(AstId(i as u32)) => continue,
            Some(_) => return Err(unresolved(name, node.span, definitions, usize::MAX)),
            None => {}
        }
        if builtins::constant(name).is_some() {
            continue;
        }
        if let Some(what) = reserved(name) {
            let hint = if what == "a function" {
                format!("call it, as in {name}(x)")
            } else {
                "choose another name".to_string()
            };
            return Err(Error::at(
                ErrorKind::Name,
                node.span,
                format!("'{name}' is {what}, not a variable"),
            )
            .with_hint(hint));
        }
        names.push((node.span, name));
    }
    names.sort_by_key(|(span, _)| span.start);
    let mut unique: HashSet<&str> = HashSet::new();
    let seen: Vec<String> = names
        .iter()
        .filter(|(_, name)| unique.insert(name))
        .map(|(_, name)| name.to_string())
        .collect();
    let Some(order) = order else {
        return Ok(seen);
    };
    let mut given: HashSet<&str> = HashSet::new();
    for v in order {
        if !is_identifier(v) || reserved(v).is_some() {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("'{v}' in the variable order is not a valid variable name"),
            )
            .with_detail(Detail::VarOrder));
        }
        if !given.insert(v) {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("'{v}' appears twice in the variable order"),
            )
            .with_detail(Detail::VarOrder));
        }
    }
    let missing: Vec<&str> = seen
        .iter()
        .map(String::as_str)
        .filter(|v| !given.contains(v))
        .collect();
    if !missing.is_empty() {
        return Err(Error::new(
            ErrorKind::Usage,
            format!("the variable order leaves out {}", quoted_list(&missing)),
        )
        .with_detail(Detail::VarOrder)
        .with_hint(format!(
            "the formula's variables are {}",
            quoted_list(&seen)
        )));
    }
    Ok(order.to_vec())
}

/// Whether `s` is spelt like a name of the language (reserved words
/// included).
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `'x', 'y' and 'z'`.
pub fn quoted_list<S: AsRef<str>>(names: &[S]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{}'", n.as_ref())).collect();
    match quoted.len() {
        0 => "nothing".to_string(),
        1 => quoted[0].clone(),
        n => format!("{} and {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

/// A name that is a definition used before (or inside) its own statement.
fn unresolved(
    name: &str,
    span: Span,
    definitions: &HashMap<&str, (usize, Span)>,
    here: usize,
) -> Error {
    match definitions.get(name) {
        Some(&(def, _)) if def >= here || here == usize::MAX => Error::at(
            ErrorKind::Name,
            span,
            format!("'{name}' is used before it is defined"),
        )
        .with_hint("move its definition above this line"),
        _ => Error::at(ErrorKind::Name, span, format!("unknown name '{name}'")),
    }
}

fn callee(
    name: &str,
    span: Span,
    definitions: &HashMap<&str, (usize, Span)>,
    var_index: &HashMap<&str, u32>,
) -> Result<Callee> {
    if let Some(c) = builtins::callee(name) {
        return Ok(c);
    }
    let err = Error::at(ErrorKind::Name, span, format!("unknown function '{name}'"));
    if let Some(s) = builtins::suggest(
        name,
        Func::ALL
            .iter()
            .map(|f| f.name())
            .chain(["sqrt", "pow", "log"]),
    ) {
        return Err(err.with_hint(format!("did you mean '{s}'?")));
    }
    if definitions.contains_key(name)
        || var_index.contains_key(name)
        || builtins::constant(name).is_some()
    {
        return Err(
            Error::at(ErrorKind::Name, span, format!("'{name}' is not a function"))
                .with_hint(format!("write {name}*(...) to multiply")),
        );
    }
    Err(err.with_hint("the functions are listed in the README's language reference"))
}

fn arity_error(name: &str, expected: usize, given: usize, span: Span) -> Error {
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    Error::at(
        ErrorKind::Arity,
        span,
        format!(
            "'{name}' takes {expected} {}, but {given} {} given",
            plural(expected),
            if given == 1 { "was" } else { "were" }
        ),
    )
}

/// A lowering step found a node's operand missing: a parser bug, reported
/// instead of panicking.
fn internal(span: Span) -> Error {
    Error::at(
        ErrorKind::Syntax,
        span,
        "internal error: malformed syntax tree",
    )
}
