//! The tree lowering: one subtree of the AST at a time, with the loop
//! indices in scope. A sum's body is lowered when its sum is reached, with
//! its indices bound; an indexed `let` is lowered afresh at each use with
//! its indices bound to the use's; indices become affine forms.

use super::*;

/// Loop indices in scope, and how many levels enclose this place.
#[derive(Clone, Default)]
pub(super) struct Env {
    pub(super) indices: Vec<(String, Affine)>,
    pub(super) depth: u32,
    /// Within an indexed definition, its outermost use (`r[i+1]`): the
    /// place its array reads are reported at, since the index that leaves
    /// an extent is the use's, in the loops around the use.
    pub(super) use_site: Option<Span>,
}

impl Env {
    fn lookup(&self, name: &str) -> Option<&Affine> {
        self.indices
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a)
    }
}

pub(super) struct Lowerer<'a> {
    pub(super) ast: &'a Ast,
    pub(super) graph: &'a mut Graph,
    pub(super) vars: &'a [String],
    pub(super) var_nodes: &'a [NodeId],
    pub(super) var_index: &'a super::VarIndex,
    pub(super) fixed: bool,
    pub(super) definitions: &'a HashMap<&'a str, (usize, Span)>,
    pub(super) defined: HashMap<&'a str, NodeId>,
    pub(super) templates: HashMap<&'a str, Template<'a>>,
    pub(super) owner: Vec<Option<AstId>>,
    pub(super) index_names: HashSet<&'a str>,
    pub(super) indexed: &'a mut Indexed,
    pub(super) statement_of: &'a dyn Fn(AstId) -> usize,
    /// Uses of indexed definitions lowered so far (each costs its size).
    pub(super) expansions: usize,
    /// The node of every operation lowered, in order: what the text
    /// writes step by step, before the canonical form folded any of it
    /// (`sqrt(x)/sqrt(x)` folds to 1, but its step `sqrt(x)` is here).
    pub(super) steps: Vec<NodeId>,
}

/// Most uses of indexed definitions, lowered afresh each: bounds the work
/// of definitions that use each other many times over.
const MAX_EXPANSIONS: usize = 100_000;

struct EnvScope<'e, 'p> {
    env: &'e Env,
    params: &'p [ParamDecl],
}

impl Scope for EnvScope<'_, '_> {
    fn index_symbol(&self, name: &str) -> Option<Affine> {
        self.env
            .lookup(name)
            .cloned()
            .or_else(|| ParamScope(self.params).index_symbol(name))
    }
}

impl<'a> Lowerer<'a> {
    /// The graph node of the subtree `root`, lowering the nodes `owner`
    /// owns (the insides of nested sums and subscripts are lowered when
    /// their sum or subscript is reached).
    pub(super) fn tree(&mut self, root: AstId, owner: Option<AstId>, env: &Env) -> Result<NodeId> {
        let first = first_of(self.ast, root);
        let mut values: Vec<Option<NodeId>> = vec![None; root.index() + 1 - first];
        for k in first..=root.index() {
            if self.owner[k] != owner {
                continue;
            }
            let id = AstId(k as u32);
            let node = &self.ast.nodes[k];
            self.graph.set_origin(Some(Origin {
                span: node.span,
                in_derivative: false,
            }));
            let v = |a: &AstId| -> Result<NodeId> {
                a.index()
                    .checked_sub(first)
                    .and_then(|i| values.get(i).copied().flatten())
                    .ok_or_else(|| internal(node.span))
            };
            let out = match &node.kind {
                AstKind::Merged => continue,
                AstKind::Number(c) => self.graph.constant(*c),
                AstKind::Name(name) => self.name(name, id, env)?,
                AstKind::Call {
                    name,
                    name_span,
                    args,
                } => {
                    let callee = callee(name, *name_span, self.definitions, self.var_index)?;
                    if args.len() != callee.arity() {
                        return Err(arity_error(name, callee.arity(), args.len(), node.span));
                    }
                    let a = v(&args[0])?;
                    match callee {
                        Callee::Sqrt => self.graph.powc(a, 0.5),
                        Callee::Pow => {
                            let b = v(&args[1])?;
                            self.graph.pow(a, b)
                        }
                        Callee::Func(f) if f.arity() == 1 => self.graph.call1(f, a),
                        Callee::Func(f) => {
                            let b = v(&args[1])?;
                            self.graph.call2(f, a, b)
                        }
                    }
                }
                AstKind::Neg(a) => {
                    let a = v(a)?;
                    self.graph.neg(a)
                }
                AstKind::Sum(items) => {
                    let mut terms = Vec::with_capacity(items.len());
                    for (sign, a) in items {
                        let a = v(a)?;
                        terms.push(match sign {
                            Sign::Plus => a,
                            Sign::Minus => self.graph.neg(a),
                        });
                    }
                    self.graph.sum(&terms)
                }
                AstKind::Product(items) => {
                    let mut factors = Vec::with_capacity(items.len());
                    for (sign, a) in items {
                        let a = v(a)?;
                        factors.push(match sign {
                            Sign::Plus => a,
                            Sign::Minus => self.graph.powc(a, -1.0),
                        });
                    }
                    self.graph.product(&factors)
                }
                AstKind::Pow(a, b) => {
                    let (a, b) = (v(a)?, v(b)?);
                    self.graph.pow(a, b)
                }
                AstKind::Subscript {
                    name,
                    name_span,
                    args,
                } => self.subscript(id, name, *name_span, args, env)?,
                AstKind::Reduce { op, bindings, body } => {
                    self.reduce(id, *op, bindings, *body, env)?
                }
            };
            values[k - first] = Some(out);
            self.steps.push(out);
        }
        values
            .pop()
            .flatten()
            .ok_or_else(|| internal(self.ast.node(root).span))
    }

    fn name(&mut self, name: &str, id: AstId, env: &Env) -> Result<NodeId> {
        let span = self.ast.node(id).span;
        if let Some(a) = env.lookup(name) {
            let a = a.clone();
            return Ok(self.affine_value(&a));
        }
        let meaning = if let Some(&n) = self.defined.get(name) {
            Meaning::Definition(n)
        } else if let Some(c) = builtins::constant(name) {
            Meaning::Constant(c)
        } else if let Some(p) = self.indexed.params.iter().position(|p| p.name == name) {
            Meaning::Param(p as u32)
        } else if let Some(k) = self.var_index.get(name) {
            Meaning::Variable(k)
        } else if self.index_names.contains(name) {
            return Err(Error::at(
                ErrorKind::Index,
                span,
                format!("'{name}' is a loop index, used here outside its sum"),
            )
            .with_hint("a loop index exists only inside the sum, family of constraints or definition that binds it"));
        } else if self.is_array(name) {
            return Err(Error::at(
                ErrorKind::Index,
                span,
                format!("'{name}' is an array: read one element, as {name}[i]"),
            ));
        } else if self.fixed && !self.definitions.contains_key(name) {
            return Err(Error::at(
                ErrorKind::Usage,
                span,
                format!("the formula has no variable '{name}'"),
            )
            .with_hint(format!("its variables are {}", quoted_list(self.vars))));
        } else {
            return Err(unresolved(
                name,
                span,
                self.definitions,
                (self.statement_of)(id),
            ));
        };
        Ok(match meaning {
            Meaning::Definition(n) => n,
            Meaning::Constant(c) => self.graph.constant(c),
            Meaning::Variable(k) => self.var_nodes[k as usize],
            Meaning::Param(p) => self.graph.leaf(Node::Param(p)),
        })
    }

    fn is_array(&self, name: &str) -> bool {
        self.indexed.arrays.iter().any(|a| a.name == name)
            || self.indexed.data.iter().any(|(d, _)| d == name)
            || self.templates.contains_key(name)
    }

    /// An index used as a number: `i`, or `i+1` through a definition.
    fn affine_value(&mut self, a: &Affine) -> NodeId {
        let mut terms = Vec::new();
        for (s, k) in a.terms.iter() {
            let leaf = match s {
                Symbol::Level(l) => self.graph.leaf(Node::Index(*l)),
                Symbol::Param(p) => self.graph.leaf(Node::Param(*p)),
            };
            terms.push(self.graph.scale(*k as f64, leaf));
        }
        let c = self.graph.constant(a.constant as f64);
        terms.push(c);
        self.graph.sum(&terms)
    }

    fn affine(&self, root: AstId, env: &Env) -> Result<Affine> {
        let scope = EnvScope {
            env,
            params: &self.indexed.params,
        };
        affine::affine(self.ast, first_of(self.ast, root), root, &scope)
    }

    fn subscript(
        &mut self,
        id: AstId,
        name: &str,
        name_span: Span,
        args: &[AstId],
        env: &Env,
    ) -> Result<NodeId> {
        let span = self.ast.node(id).span;
        let index = args
            .iter()
            .map(|&a| self.affine(a, env))
            .collect::<Result<Vec<_>>>()?;
        if let Some(t) = self.templates.get(name) {
            let (t_indices, t_value) = (t.indices, t.value);
            if t_indices.len() != index.len() {
                return Err(rank_error(name, t_indices.len(), index.len(), span));
            }
            self.expansions += 1;
            if self.expansions > MAX_EXPANSIONS {
                return Err(Error::at(
                    ErrorKind::Limit,
                    span,
                    format!("indexed definitions are used more than {MAX_EXPANSIONS} times"),
                ));
            }
            let inner = Env {
                indices: t_indices
                    .iter()
                    .map(|(n, _)| n.clone())
                    .zip(index)
                    .collect(),
                depth: env.depth,
                use_site: env.use_site.or(Some(span)),
            };
            return self.tree(t_value, None, &inner);
        }
        let source = if let Some(a) = self.indexed.arrays.iter().position(|a| a.name == name) {
            let rank = self.indexed.arrays[a].rank;
            if rank != index.len() {
                return Err(rank_error(name, rank, index.len(), span));
            }
            Source::Var(a as u32)
        } else if let Some(d) = self.indexed.data.iter().position(|(d, _)| d == name) {
            if index.len() != 1 {
                return Err(rank_error(name, 1, index.len(), span));
            }
            Source::Data(d as u32)
        } else {
            return Err(Error::at(
                ErrorKind::Index,
                name_span,
                format!("'{name}' is not an array"),
            )
            .with_hint("arrays are declared with var or data, or defined with let r[i] = ..."));
        };
        if let Some(site) = env.use_site {
            self.graph.set_origin(Some(Origin {
                span: site,
                in_derivative: false,
            }));
        }
        let read = self.graph.leaf(Node::Read(Box::new(Read {
            source,
            index: index.into(),
        })));
        self.graph.set_origin(Some(Origin {
            span,
            in_derivative: false,
        }));
        Ok(read)
    }

    fn reduce(
        &mut self,
        id: AstId,
        op: ReduceOp,
        bindings: &[Binding],
        body: AstId,
        env: &Env,
    ) -> Result<NodeId> {
        let span = self.ast.node(id).span;
        let level = env.depth;
        let (ranges, inner) = self.bind_indices(bindings, env, span, "sums")?;
        let body = self.tree(body, Some(id), &inner)?;
        self.graph.set_origin(Some(Origin {
            span,
            in_derivative: false,
        }));
        let node = self.graph.reduce(
            Reduce {
                op,
                level,
                ranges: ranges.into(),
            },
            body,
        );
        Ok(node)
    }

    /// The ranges of `bindings` (a sum's, or a family of constraints') and
    /// the scope inside them: each index takes the next level after
    /// `env`'s, and a range may use the indices before it.
    pub(super) fn bind_indices(
        &mut self,
        bindings: &[Binding],
        env: &Env,
        span: Span,
        what: &str,
    ) -> Result<(Vec<Range>, Env)> {
        let level = env.depth;
        if level as usize + bindings.len() > MAX_LEVELS {
            return Err(Error::at(
                ErrorKind::Limit,
                span,
                format!("{what} nest more than {MAX_LEVELS} indices deep"),
            ));
        }
        let mut inner = env.clone();
        let mut ranges = Vec::with_capacity(bindings.len());
        for (k, b) in bindings.iter().enumerate() {
            if reserved(&b.name).is_some() || builtins::constant(&b.name).is_some() {
                return Err(Error::at(
                    ErrorKind::Name,
                    b.span,
                    format!("'{}' is a reserved name and cannot be a loop index", b.name),
                ));
            }
            ranges.push(Range {
                lo: self.affine(b.lo, &inner)?,
                hi: self.affine(b.hi, &inner)?,
            });
            let l = level + k as u32;
            inner
                .indices
                .push((b.name.clone(), Affine::symbol(Symbol::Level(l))));
            if self.indexed.levels.len() <= l as usize {
                self.indexed.levels.resize(l as usize + 1, String::new());
            }
            let name = &mut self.indexed.levels[l as usize];
            if name.is_empty() {
                *name = b.name.clone();
            } else if *name != b.name {
                self.indexed.renamed |= 1 << l;
            }
        }
        inner.depth = level + bindings.len() as u32;
        Ok((ranges, inner))
    }
}

fn rank_error(name: &str, rank: usize, given: usize, span: Span) -> Error {
    Error::at(
        ErrorKind::Index,
        span,
        format!(
            "'{name}' has {rank} {}, but {given} {} given",
            if rank == 1 { "index" } else { "indices" },
            if given == 1 { "is" } else { "are" }
        ),
    )
}
