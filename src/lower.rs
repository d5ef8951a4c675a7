//! [`Ast`] → [`Graph`]: resolves names, checks arity, fixes the variable
//! order and builds canonical nodes, recording each node's source span.

use std::collections::{HashMap, HashSet};

use crate::ast::{Ast, AstId, AstKind, Binding, ReduceOp, Relation, Sign, Statement};
use crate::bind::MAX_LEVELS;
use crate::builtins::{self, Callee, Func};
use crate::error::{Detail, Error, ErrorKind, Result, Span};
use crate::graph::{Affine, Graph, Node, NodeId, Origin, Range, Read, Reduce, Source, Symbol};

mod affine;
mod declarations;
mod tree;

use affine::Scope;
pub use declarations::{Indexed, ParamDecl};
use declarations::{ParamScope, declarations, implicit_arrays};
use tree::{Env, Lowerer};

/// A formula as a graph: its variables and the node of its value.
pub struct Lowered {
    pub graph: Graph,
    pub vars: Vec<String>,
    /// `var_nodes[i]` is the node of variable `vars[i]`.
    pub var_nodes: Vec<NodeId>,
    pub value: NodeId,
    /// Parameters, arrays and data, when the formula has them.
    pub indexed: Indexed,
    /// The constraints, in the order of the text.
    pub constraints: Vec<LoweredConstraint>,
}

/// A constraint as one node: `g(x) <= 0` or `g(x) == 0`, with `g` the
/// left side minus the right (the other way round for `>=`). A family's
/// `g` uses its indices as the loop levels `0..family.len()`, as if a sum
/// over them enclosed it.
#[derive(Clone, Debug)]
pub struct LoweredConstraint {
    pub equality: bool,
    pub span: Span,
    pub value: NodeId,
    /// The family's ranges, outermost first; empty for one constraint.
    pub family: Vec<Range>,
    /// The family's index names, as written.
    pub names: Vec<String>,
}

/// What a name stands for at one place in the text.
#[derive(Clone)]
enum Meaning {
    Definition(NodeId),
    Constant(f64),
    Variable(u32),
    Param(u32),
}

/// Lowers a parsed formula. `var_order`, if given, fixes the scalar
/// variables' order and may name variables the formula does not use.
pub fn lower(ast: &Ast, text: &str, var_order: Option<&[String]>) -> Result<Lowered> {
    let definitions = definitions(&ast.statements, text)?;
    check_shape(ast)?;
    let roots = statement_roots(&ast.statements);
    let statement_of = |id: AstId| roots.partition_point(|r| r.index() < id.index());
    let mut graph = Graph::new();
    let mut indexed = declarations(ast, text)?;
    let vars = variables(ast, &definitions, &statement_of, var_order, &indexed)?;
    implicit_arrays(ast, &definitions, &mut indexed)?;
    scalar_and_array(ast, text, &vars, &indexed)?;
    let var_nodes: Vec<NodeId> = (0..vars.len() as u32).map(|i| graph.var(i)).collect();
    let var_index = VarIndex::of(&vars);
    let Built {
        value, constraints, ..
    } = build(
        ast,
        text,
        &mut graph,
        (&vars, &var_index),
        &var_nodes,
        false,
        &mut indexed,
    )?;
    Ok(Lowered {
        graph,
        vars,
        var_nodes,
        value,
        indexed,
        constraints,
    })
}

/// Lowers a second formula (such as a hand-written derivative) into the
/// graph of a first one, over its variables `vars` (nodes `var_nodes`), so
/// that equal subexpressions of the two are equal nodes. A name that is not
/// one of `vars` is an error at its span in `text`; nodes added carry spans
/// into `text`. Returns the text's node and the node of each operation it
/// writes (see [`Lowerer::steps`]).
pub fn lower_into(
    ast: &Ast,
    text: &str,
    graph: &mut Graph,
    vars: (&[String], &VarIndex),
    var_nodes: &[NodeId],
) -> Result<(NodeId, Vec<NodeId>)> {
    if let Some(span) = ast.statements.iter().find_map(constraint_span) {
        return Err(Error::at(
            ErrorKind::Syntax,
            span,
            "a constraint is not allowed here: this text is one expression",
        )
        .with_hint("leave out the 'subject to' statement"));
    }
    let built = build(
        ast,
        text,
        graph,
        vars,
        var_nodes,
        true,
        &mut Indexed::default(),
    )?;
    Ok((built.value, built.steps))
}

/// Each variable's position by name. A formula keeps the one it was
/// lowered with, so that every text lowered into it later (a hand-written
/// derivative per variable, in `check`) looks names up in constant time
/// rather than rebuilding the map: rebuilding it made 16,000 hand
/// derivatives quadratic.
#[derive(Clone, Debug, Default)]
pub struct VarIndex(rustc_hash::FxHashMap<String, u32>);

impl VarIndex {
    /// The index of `vars`, in their order.
    pub fn of(vars: &[String]) -> VarIndex {
        VarIndex(
            vars.iter()
                .enumerate()
                .map(|(i, v)| (v.clone(), i as u32))
                .collect(),
        )
    }

    /// The position of `name`.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.0.get(name).copied()
    }
}

/// The first AST node of the subtree `root` (subtrees are contiguous:
/// the parser pushes a node's descendants just before it).
fn first_of(ast: &Ast, root: AstId) -> usize {
    let mut first = root.index();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        first = first.min(id.index());
        stack.extend(children(&ast.node(id).kind));
    }
    first
}

/// The AST children of a node.
fn children(kind: &AstKind) -> Vec<AstId> {
    match kind {
        AstKind::Number(_) | AstKind::Name(_) | AstKind::Merged => Vec::new(),
        AstKind::Call { args, .. } | AstKind::Subscript { args, .. } => args.clone(),
        AstKind::Neg(a) => vec![*a],
        AstKind::Sum(items) | AstKind::Product(items) => items.iter().map(|(_, a)| *a).collect(),
        AstKind::Pow(a, b) => vec![*a, *b],
        AstKind::Reduce { bindings, body, .. } => bindings
            .iter()
            .flat_map(|b| [b.lo, b.hi])
            .chain([*body])
            .collect(),
    }
}

/// An indexed definition, `let r[i] = ...`: lowered afresh at each use,
/// with its indices bound to the use's.
struct Template<'a> {
    indices: &'a [(String, Span)],
    value: AstId,
}

/// The graph of `ast` over the given variables: the objective's node and
/// the constraints'. With `fixed`, the variables come from another formula
/// and names outside them are refused.
fn build(
    ast: &Ast,
    text: &str,
    graph: &mut Graph,
    (vars, var_index): (&[String], &VarIndex),
    var_nodes: &[NodeId],
    fixed: bool,
    indexed: &mut Indexed,
) -> Result<Built> {
    let statements = &ast.statements;
    let definitions = definitions(statements, text)?;
    let value_root = check_shape(ast)?;
    // `sum(i, x[i])`: the grammar read a call, since the range is missing.
    for node in &ast.nodes {
        if let AstKind::Call { name, .. } = &node.kind
            && (name == "sum" || name == "prod")
        {
            return Err(Error::at(
                ErrorKind::Syntax,
                node.span,
                format!("'{name}' needs an index and its range"),
            )
            .with_hint(format!("write {name}(i in 1..n, expression)")));
        }
    }
    let roots = statement_roots(statements);
    let statement_of = |id: AstId| roots.partition_point(|r| r.index() < id.index());
    if fixed {
        // The same checks on names as for a formula of its own.
        variables(ast, &definitions, &statement_of, None, indexed)?;
    }
    // Each node's nearest enclosing sum or subscript, whose lowering owns it.
    let mut parent: Vec<Option<AstId>> = vec![None; ast.nodes.len()];
    for (i, node) in ast.nodes.iter().enumerate() {
        for c in children(&node.kind) {
            parent[c.index()] = Some(AstId(i as u32));
        }
    }
    let mut owner: Vec<Option<AstId>> = vec![None; ast.nodes.len()];
    for k in (0..ast.nodes.len()).rev() {
        owner[k] = parent[k].and_then(|p| match ast.node(p).kind {
            AstKind::Reduce { .. } | AstKind::Subscript { .. } => Some(p),
            _ => owner[p.index()],
        });
    }
    let index_names: HashSet<&str> = index_names(ast).into_iter().collect();
    let mut lowerer = Lowerer {
        ast,
        graph,
        vars,
        var_nodes,
        var_index,
        fixed,
        definitions: &definitions,
        defined: HashMap::new(),
        templates: HashMap::new(),
        owner,
        index_names,
        indexed,
        statement_of: &statement_of,
        expansions: 0,
        steps: Vec::new(),
    };
    let mut value = None;
    let mut constraints = Vec::new();
    for s in statements {
        match s {
            Statement::Let {
                name,
                indices,
                value: v,
                ..
            } if !indices.is_empty() => {
                lowerer
                    .templates
                    .insert(name, Template { indices, value: *v });
            }
            Statement::Let { name, value: v, .. } => {
                let node = lowerer.tree(*v, None, &Env::default())?;
                lowerer.defined.insert(name, node);
            }
            Statement::Expr(v) => value = Some(lowerer.tree(*v, None, &Env::default())?),
            Statement::Constraint {
                family,
                relation,
                lhs,
                rhs,
                span,
            } => {
                let (relation, span) = (*relation, *span);
                let (ranges, env) =
                    lowerer.bind_indices(family, &Env::default(), span, "families")?;
                let lhs = lowerer.tree(*lhs, None, &env)?;
                let rhs = lowerer.tree(*rhs, None, &env)?;
                lowerer.graph.set_origin(Some(Origin {
                    span,
                    in_derivative: false,
                }));
                let (a, b) = match relation {
                    Relation::Le | Relation::Eq => (lhs, rhs),
                    Relation::Ge => (rhs, lhs),
                };
                let minus_b = lowerer.graph.neg(b);
                constraints.push(LoweredConstraint {
                    equality: relation == Relation::Eq,
                    span,
                    value: lowerer.graph.sum(&[a, minus_b]),
                    family: ranges,
                    names: family.iter().map(|b| b.name.clone()).collect(),
                });
            }
            Statement::Param { .. } | Statement::Var(_) | Statement::Data(_) => {}
        }
    }
    lowerer.graph.set_origin(None);
    debug_assert!(value.is_some() || value_root.index() == usize::MAX);
    let value = value.ok_or_else(|| internal(Span::default()))?;
    Ok(Built {
        value,
        constraints,
        steps: lowerer.steps,
    })
}

/// What [`build`] lowered.
pub(super) struct Built {
    pub(super) value: NodeId,
    constraints: Vec<LoweredConstraint>,
    /// See [`Lowerer::steps`].
    steps: Vec<NodeId>,
}

fn constraint_span(s: &Statement) -> Option<Span> {
    match s {
        Statement::Constraint { span, .. } => Some(*span),
        _ => None,
    }
}

/// Every name bound as a loop index or as an index of a definition.
fn index_names(ast: &Ast) -> Vec<&str> {
    let mut names = Vec::new();
    for node in &ast.nodes {
        if let AstKind::Reduce { bindings, .. } = &node.kind {
            names.extend(bindings.iter().map(|b| b.name.as_str()));
        }
    }
    for s in &ast.statements {
        match s {
            Statement::Let { indices, .. } => names.extend(indices.iter().map(|(n, _)| n.as_str())),
            Statement::Constraint { family, .. } => {
                names.extend(family.iter().map(|b| b.name.as_str()))
            }
            _ => {}
        }
    }
    names
}

/// Each statement's last AST node (a statement without one takes the
/// previous statement's), so that statement `i` owns the nodes after
/// statement `i-1`'s root up to its own.
fn statement_roots(statements: &[Statement]) -> Vec<AstId> {
    let mut last = AstId(0);
    statements
        .iter()
        .map(|s| {
            let root = match s {
                Statement::Let { value, .. }
                | Statement::Expr(value)
                | Statement::Param { value, .. } => Some(*value),
                Statement::Constraint { rhs, .. } => Some(*rhs),
                Statement::Var(list) => list
                    .iter()
                    .flat_map(|d| d.extents.iter().map(|e| e.1))
                    .max_by_key(|a| a.index()),
                Statement::Data(_) => None,
            };
            last = root.unwrap_or(last);
            last
        })
        .collect()
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
    let shaped: Vec<&Statement> = ast
        .statements
        .iter()
        .filter(|s| matches!(s, Statement::Let { .. } | Statement::Expr(_)))
        .collect();
    let n = shaped.len();
    let constrained = ast.statements.iter().any(|s| constraint_span(s).is_some());
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

pub(crate) fn reserved(name: &str) -> Option<&'static str> {
    if matches!(
        name,
        "let" | "param" | "var" | "data" | "sum" | "prod" | "in" | "subject" | "to"
    ) {
        Some("a keyword")
    } else if builtins::callee(name).is_some() {
        Some("a function")
    } else if builtins::constant(name).is_some() {
        Some("a constant")
    } else {
        None
    }
}

/// Refuses a name used both as a scalar variable and as an array read
/// without a declaration (`x + sum(i in 1..3, x[i])`): the point could
/// never give both a value. The caret is on the later of the two uses.
fn scalar_and_array(ast: &Ast, text: &str, vars: &[String], indexed: &Indexed) -> Result<()> {
    for array in &indexed.arrays {
        if !vars.contains(&array.name) {
            continue;
        }
        let name = array.name.as_str();
        let declared = ast.statements.iter().flat_map(|s| match s {
            Statement::Var(list) => list
                .iter()
                .filter(|d| d.name == name)
                .map(|d| d.span)
                .collect(),
            _ => Vec::new(),
        });
        let used = ast.nodes.iter().filter_map(|n| match &n.kind {
            AstKind::Name(n_name) if n_name == name => Some(n.span),
            _ => None,
        });
        let Some(scalar) = declared.chain(used).min_by_key(|s| s.start) else {
            continue;
        };
        let (first, second, first_is) = if scalar.start < array.span.start {
            (scalar, array.span, "a variable")
        } else {
            (array.span, scalar, "an array")
        };
        let (line, col) = first.line_col(text);
        return Err(Error::at(
            ErrorKind::Name,
            second,
            format!("'{name}' is used both as a variable and as an array"),
        )
        .with_hint(format!(
            "it is {first_is} at {line}:{col}: give the scalar and the array different names"
        )));
    }
    Ok(())
}

/// The variables: every name that is not a definition or a constant, in
/// order of first appearance, or in `order` when given.
fn variables(
    ast: &Ast,
    definitions: &HashMap<&str, (usize, Span)>,
    statement_of: &dyn Fn(AstId) -> usize,
    order: Option<&[String]>,
    indexed: &Indexed,
) -> Result<Vec<String>> {
    let mut names: Vec<(Span, &str)> = Vec::new();
    let indices: HashSet<&str> = index_names(ast).into_iter().collect();
    for s in &ast.statements {
        if let Statement::Var(list) = s {
            names.extend(
                list.iter()
                    .filter(|d| d.extents.is_empty())
                    .map(|d| (d.span, d.name.as_str())),
            );
        }
    }
    for (i, node) in ast.nodes.iter().enumerate() {
        let AstKind::Name(name) = &node.kind else {
            continue;
        };
        if indices.contains(name.as_str())
            || indexed.params.iter().any(|p| &p.name == name)
            || indexed.data.iter().any(|(d, _)| d == name)
            || indexed.arrays.iter().any(|a| &a.name == name)
        {
            continue;
        }
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
    var_index: &VarIndex,
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
        || var_index.get(name).is_some()
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
