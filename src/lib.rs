//! slope derives the exact gradient of a formula symbolically, compiles
//! value and gradient to native code and minimises it.
//!
//! ```
//! use slope::{Formula, FnObjective, Method, Settings};
//!
//! // Parse a formula; its gradient is derived with it, and prints tidily.
//! let f = Formula::parse("(1-x)^2 + 100*(y-x^2)^2")?;
//! assert_eq!(f.vars(), ["x", "y"]);
//! assert_eq!(f.partial("x")?.to_string(), "-400*x*(y - x^2) - 2*(1 - x)");
//!
//! // Compile value and gradient to native code; wrong shapes are errors.
//! let mut obj = f.compile()?;
//! let (v, g) = obj.value_grad(&[-1.2, 1.0])?;
//! assert!((v - 24.2).abs() < 1e-12 && g.len() == 2);
//! assert!(obj.value_grad(&[1.0]).is_err());
//!
//! // Minimise it: L-BFGS by default.
//! let out = slope::minimize(&mut obj, &[-1.2, 1.0], &Settings::default())?;
//! assert!(out.converged());
//! assert!((out.x[0] - 1.0).abs() < 1e-8 && out.f < 1e-15);
//! println!("{} after {} iterations: {}", out.reason, out.iterations, out.message);
//!
//! // Any Rust closure that fills in a gradient is an objective too, and
//! // each method carries its own parameters.
//! let mut bowl = FnObjective::new(1, |x: &[f64], g: &mut [f64]| {
//!     g[0] = 2.0 * (x[0] - 3.0);
//!     (x[0] - 3.0).powi(2)
//! });
//! let gd = Settings::new(Method::Gd { lr: 0.25, line_search: false });
//! let out = slope::minimize(&mut bowl, &[0.0], &gd)?;
//! assert!((out.x[0] - 3.0).abs() < 1e-8);
//! # Ok::<(), slope::Error>(())
//! ```
//!
//! The front door is at the crate root: [`Formula`] (parse, print and
//! evaluate derivatives), [`CompiledFormula`] (native code), the
//! [`Objective`] trait every optimiser takes, and [`minimize`] with its
//! [`Settings`], [`Method`]s and [`Outcome`]. Around it, [`check`]
//! compares derivatives, [`fd`] gives finite differences, [`bench`](mod@bench)
//! measures gradient sources, [`optim`] runs many starts, [`fit`] fits
//! models to [`data`], and `plot`
//! (feature `plot`) draws functions and descent paths. The `slope`
//! command (feature `cli`, on by default) is a thin layer over the same.
//! With `default-features = false` the library builds without the command
//! line's and the pictures' dependencies.
//!
//! # Bird's-eye view
//!
//! ```text
//! text ──parse──▶ Ast ──lower──▶ Graph (hash-consed, canonical; scalar
//!                                  nodes and reductions over index ranges)
//!      ──diff──▶ gradient and Hessian nodes in the same Graph (a
//!                reduction's body differentiated once: scatters for arrays)
//!      ──bind──▶ Frame (parameters, data, where arrays lie; reads checked)
//!      ──▶ eval (interpreter, the reference)   ──▶ print (slope syntax, LaTeX)
//!      ──▶ jit (Cranelift) ──▶ native fn(x, out), or loops fn(x, out, inputs)
//!      ──▶ objective (compiled | interpreted | finite differences | closure)
//!      ──▶ optim (one loop, eight methods; gd also as a native loop;
//!                 constraints by the augmented Lagrangian) | check | bench | plot
//! ```
//!
//! # Code map
//!
//! - `grammar/slope.pest`: the language, rule by rule.
//! - `parse`: a pre-scan (depth, `2x`-style mistakes, empty input), then
//!   pest and one Pratt parser build the `ast` arena with byte spans.
//!   Deep formulas are parsed on a thread with a stack sized for them.
//! - `lower`: resolves names (definitions, constants, variables,
//!   parameters, arrays, data, loop indices in scope), checks arity, fixes
//!   the variable order and builds the graph one subtree at a time (a sum's
//!   body is lowered with its indices bound; an indexed `let` afresh at
//!   each use: `lower/tree.rs`); declarations of parameters, arrays and
//!   data are read first (`lower/declarations.rs`); indices become affine
//!   forms (`lower/affine.rs`); each
//!   `subject to` statement as one node `g = lhs - rhs` (turned round for
//!   `>=`).
//! - `constraint`: [`Constraint`] and [`ConstraintKind`], the constraints
//!   in standard form (`g <= 0`, `g == 0`) with their gradients (rows of
//!   the Jacobian) from the same reverse sweep; a family's (`subject to (i
//!   in 1..n-1) ...`) body is differentiated once, over its loop levels.
//!   `constraint/rows.rs`: the rows once parameters are bound
//!   ([`ConstraintRow`], one per index tuple of a family), their sparse
//!   Jacobian pattern, and their values by the interpreter.
//! - `graph`: the node arena, its interning map and the facts every pass
//!   reads (which nodes an output needs, denominators); `canon.rs` holds
//!   the canonicalising constructors, the only way nodes are made, with
//!   the structural order of terms and factors (`canon/order.rs`) and
//!   constant products that neither overflow nor underflow
//!   (`canon/scaled.rs`).
//!   `graph/indexed.rs` holds the indexed part: affine indices, reads of
//!   array elements, and reductions, whose loop indices are numbered by
//!   nesting level so that equal bodies are one node.
//! - `bind`: parameters and data bound to a formula (`Frame`), array
//!   extents and offsets, and every read of every loop checked against its
//!   extent before anything runs. `bind/names.rs` names the variables
//!   ([`VarNames`]) from those extents, one name when asked for, so that
//!   binding a million elements makes no million strings.
//! - `diff`: the reverse sweep that adds gradient nodes; the Hessian
//!   sweeps each gradient component again. A reduction's body is swept as
//!   a region of its own: reads of array elements become scatters (loops
//!   adding into the gradient), contributions to nodes outside the loop
//!   sums over its range; an inner reduction is swept inside the outer's
//!   region, so its scatters loop over both. `diff/product.rs`: a
//!   product's factor gets the product of the others, a node marked in
//!   the graph; a loop over the product's own indices computes it by an
//!   exclusive scan (`eval/scan.rs`: the products before and after the
//!   factor, stored per tuple, no division, no overflow the product of
//!   the others does not have), elsewhere it is the product of the non-zero
//!   factors divided by this one (never 0/0 at a zero factor), and the
//!   second sweep differentiates it
//!   by its own rule (four more loops), which never forms the terms that
//!   cancel near a zero factor; `print/others.rs` writes it as the products before
//!   and after the factor (`prod(i in 1..k-1, x[i])*prod(i in k+1..n,
//!   x[i])`). `diff/hess_vec.rs` builds
//!   the Hessian-vector product by reverse over reverse: the gradient of
//!   `∇f·v`, with the direction `v` read where the variables are (a
//!   `Source::Direction` read, a constant of differentiation), so the
//!   product is scalars and scatters like any gradient, of the formula's
//!   size whatever `n` (`formula/hess_vec.rs` runs and compiles it).
//!   `sparse_hessian.rs` reads the Hessian's pattern from the gradient's
//!   scatter loops (the elements each iteration's value reads, beside its
//!   target) and fills it from a few such products along groups of
//!   columns that share no row ([`SparseHessian`]).
//! - `eval`: the interpreter, and the diagnosis of NaN and infinity
//!   (`eval/diagnose.rs`, which names the first operation at fault); it
//!   runs loops and scatters (grouped by `scatter_groups`, whose order the
//!   compiled code shares). A reduction run inside a loop over its own
//!   levels (a scatter over i and j needing `prod(j in 1..i, ...)`) puts
//!   back the indices and body values it moved, in both evaluators.
//!   `eval/scan.rs`: the exclusive scan of a `prod`'s product of the
//!   other factors, in the order both evaluators follow; compiled loops
//!   keep its per-tuple numbers in a buffer of the thread's
//!   (`jit/loops/scan.rs`), and leave out the loops only its other form
//!   needs.
//! - `print`: graph to slope syntax or LaTeX.
//! - `jit`: chosen graph outputs to one native function through
//!   Cranelift (lowering to scalar instructions in the interpreter's exact
//!   operation order, scheduling for short live ranges, chunking large
//!   functions, one file each under `jit/`); `jit/compiled.rs` owns the
//!   code, `jit/descent.rs` runs fixed-step descent as one native loop
//!   with the gradient inlined, `jit/batch.rs` a batch of points as one
//!   native loop over its rows (two rows per iteration, in `f64x2`
//!   lanes, the same bits as one call per row), and `jit/region.rs` keeps each module's
//!   code and data in one reservation, so 32-bit displacements always
//!   reach, placed near the program's own code (`jit/near.rs`: on x86-64
//!   a call to code terabytes away cost three cycles more); `jit/frame.rs`
//!   takes Cranelift's frame-pointer instructions out of functions that
//!   call nothing and keep nothing on the stack. `jit/loops.rs` compiles indexed formulas' value, gradient and
//!   Hessian-vector product (reading their run-time inputs, and the
//!   direction, as `jit/loops/inputs.rs` lays them out)
//!   as loops straight from the graph, fusing reductions over one range
//!   and the scatters that share their loop (`jit/loops/nodes.rs`: one
//!   node's instructions, nested reductions included; `jit/loops/invariant.rs`:
//!   what a loop body uses from outside its loop, hoisted before it and,
//!   around a call, kept in stack slots); `jit/loops/rows.rs` emits,
//!   with the same emitter, a fit model's values and partials as one loop
//!   over a range of data rows. It holds the
//!   crate's only `unsafe`.
//! - [`fd`]: finite-difference gradients (forward, backward, central,
//!   Richardson), the estimates exact gradients are measured against.
//! - [`check`]: exact gradient and Hessian against finite differences
//!   (skipping kinks, `check/kinks.rs`; shorter steps where the usual
//!   ones decide nothing, and "undecided" where none does,
//!   `check/ladder.rs`), an indexed formula's gradient
//!   element by element on a bounded subset (`check/elements.rs`),
//!   hand-written derivatives against exact ones.
//! - `symbolic`: the bounded normaliser behind `check`'s proofs:
//!   rational functions over atoms with exact rational coefficients
//!   (`symbolic/rational.rs`), a few identities between atoms; opt-in
//!   (only `check` calls it), and "not proved" past its bounds.
//! - [`bench`](mod@bench): compile time by stage and the cost of each
//!   gradient source.
//! - `objective`: the one trait every consumer of values and gradients
//!   takes (with, where an objective has them, the dense Hessian and
//!   Hessian-vector products, for Newton and the saddle test), with
//!   implementations for compiled code (`objective/compiled.rs`, its
//!   Hessian and products compiled on first request), the interpreter,
//!   finite differences, closures, and negation (for maximising); the
//!   optimisers call compiled code straight through `objective::Direct`,
//!   which returns the value in a register and writes the gradient where
//!   it is wanted.
//! - `problem`: [`ConstrainedObjective`], what the constrained method
//!   takes, and [`CompiledProblem`]: f, its gradient, the constraints and
//!   the Jacobian's nonzero entries compiled as one native function (for
//!   an indexed formula: the objective compiled, the rows interpreted).
//! - [`optim`]: the minimisation loop (`optim/minimize.rs`, each step
//!   calling the objective through `optim/context.rs`, which counts: stopping
//!   tests, the box, verdicts of divergence and oscillation; what a
//!   stop is told to be, in `optim/verdict.rs`: a failed search's
//!   diagnosis, unboundedness and saddles, the last by
//!   `optim/saddle.rs`: Lanczos on a few
//!   Hessian-vector products, or the dense Hessian where one is ready;
//!   where that curvature cannot vouch for a minimum, a walk, in
//!   `optim/walk.rs`, that asks whether f keeps falling as the point
//!   runs off; where the lowest point these probed shows that the stop
//!   came short, `optim/stopped_short.rs`, the run goes on from it;
//!   where a run stopped for lack of progress at a steep point, a walk
//!   away from it, in `optim/pole.rs`, that asks whether f falls without
//!   bound towards a pole beside it; where f has kinks or steps, a look
//!   either side of a converged point, in `optim/beside.rs`)
//!   and one step per method: `first_order.rs`, `lbfgs.rs` (with
//!   `lbfgsb.rs`, the Cauchy point and subspace step of L-BFGS-B),
//!   `newton.rs` (the Hessian factorised, dense or, where the sparse
//!   one's envelope is narrow, by `profile.rs`'s envelope Cholesky;
//!   projected where bounds hold) and
//!   `newton_cg.rs` (truncated Newton on Hessian-vector products, for
//!   objectives without a dense Hessian or with more than
//!   `DENSE_NEWTON_MAX_VARS` variables), over `line_search.rs`,
//!   `vector.rs` and `dense.rs` (small dense factorisations); constraints by
//!   the augmented Lagrangian around L-BFGS-B (`auglag.rs`,
//!   [`minimize_constrained`], with multipliers and penalty as run-time
//!   numbers; `auglag/measure.rs`: violation, KKT residual, least-squares
//!   multipliers and the infeasibility tests), or by SQP for small problems
//!   (`sqp.rs`, [`minimize_sqp`]: exact Hessian of the Lagrangian from
//!   `problem/lagrangian.rs`, ℓ1-elastic subproblems (`sqp/subproblem.rs`)
//!   solved by the dense interior-point QP of `qp.rs`, ℓ1 merit with
//!   second-order correction, and a second-order test at the KKT point
//!   that reports a saddle, asking the Lagrangian where the Hessian is
//!   flat (`second_order.rs`, which the augmented
//!   Lagrangian's answers pass too, in `auglag/saddle.rs`, which runs
//!   again from a step off a saddle; where no Hessian is compiled, an
//!   indexed formula's, one from differences of the Lagrangian's gradient,
//!   `second_order/differences.rs`); the default chain,
//!   SQP, a step off a saddle and the augmented Lagrangian where SQP
//!   fails, the better verdict of the two reported, in `sqp/chain.rs`,
//!   [`minimize_sqp_or_auglag`]; for a small indexed problem the other
//!   way round, in `auglag/or_sqp.rs`, [`minimize_auglag_or_sqp`]); both measure
//!   each constraint's violation in its own unit (`feasibility.rs`: the
//!   gradient's size where it is small, so `1e-12*x <= 1e-12` is held
//!   like `x <= 1`; and the stop where a value or only a gradient is not
//!   finite) and never call a problem infeasible after a point
//!   within the tolerance was found;
//!   the native branch for plain gd (`native.rs`); many runs from random starts
//!   (`multistart.rs`); a start that is not finite refused where every
//!   entry meets (`start.rs`).
//! - [`fit`]: models fitted to data, `y ~ MODEL` or a formula that is a
//!   sum over the rows of squared residuals (its families recognised in
//!   the lowered graph and rewritten over one row in `fit/squares.rs`):
//!   the model compiled once to one native loop giving its residuals'
//!   values and parameter gradients for each row of a block (read from its text in `fit/model.rs`, fitted in `fit/mod.rs`;
//!   the blocks of weighted residuals in `fit/rows.rs`), Levenberg–Marquardt after MINPACK with bounds
//!   and robust losses, polished by Gauss–Newton steps at the end
//!   (`fit/lm.rs`, Moré's λ search in `fit/lmpar.rs`, the running QR each
//!   pass folds its rows into in `fit/stream.rs`, or the normal
//!   equations in double-double and their Cholesky factor in `fit/gram.rs`,
//!   the pivoted QR and the damped solve in `fit/qr.rs`, the losses in
//!   `fit/loss.rs`; the saddle test of a converged point in
//!   `fit/saddle.rs`), and the statistics from R at the solution
//!   (`fit/stats.rs`; Student's t in `fit/student.rs`); a start the first
//!   pass fails at is diagnosed row by row in `fit/diagnose.rs`.
//! - [`data`]: named columns of numbers, read from CSV text with errors
//!   that name the line and the column.
//! - `random`: SplitMix64 points in a box, for multi-start searches and
//!   checks; written out so that a seed names the same points everywhere.
//! - `formula`: [`Formula`] and [`Expr`], which tie the stages together;
//!   `formula/partials.rs` prints arrays' partials as indexed closed forms,
//!   `formula/unroll.rs` writes an indexed formula out as a scalar one at
//!   its bound parameters ([`Formula::unrolled`], for `diff --expand`).
//! - `plot`: pictures of the function (`plot/function.rs`) with descent
//!   paths over it (`plot/paths.rs`), convergence charts, and Dolan–Moré
//!   performance profiles (`plot/profile.rs`, drawn by `benches/mgh.rs`
//!   from slope's and scipy's runs on the MGH set); SVG or PNG
//!   through plotters (PNG strokes anti-aliased by `plot/stroke.rs`), with
//!   a bundled font.
//! - `builtins`: the functions and constants of the language.
//! - [`testfns`]: standard test functions (Rosenbrock, Ackley, ...) as
//!   generated formula text, shared by tests and benchmarks.
//! - `error`: the crate's one error type, rendered with a caret, with
//!   typed details ([`Detail`]) for callers to phrase in their terms.
//! - `main.rs` and `cli/` (the binary, not the library): the command line,
//!   the only place that prints, names a flag or chooses an exit status
//!   (`cli/mod.rs` the parsing and shared plumbing, `cli/input.rs` where a
//!   formula comes from, one file per subcommand). On Linux `build.rs`
//!   links it statically (when glibc's static archives are installed) and
//!   at a fixed address, so that no dynamic linker runs at start-up.
//! - `python/` (feature `python`, built by maturin from `pyproject.toml`):
//!   the `slope._slope` extension module, a thin layer that turns Python
//!   arguments into library calls and outcomes into scipy's shapes
//!   (`pool.rs`: the batches' threads, a pool made again in a forked
//!   child, where rayon's global one would wait for ever); the Python
//!   side lives in `python/slope/` at the top of the repository.
//!
//! # Invariants
//!
//! - Children precede parents, in the AST and in the graph: evaluation is a
//!   forward loop, differentiation a backward loop. Nothing recurses on the
//!   depth of a formula except pest and the Pratt parser, which run behind a
//!   depth limit on a stack sized for it, and `graph::sum_pairwise`, whose
//!   depth is `⌈log₂⌉` of one sum's number of terms.
//! - Equal subexpressions are one node; constants are always finite.
//! - Hash-map order never reaches output: order comes from vector positions
//!   and the structural sort keys of `canon/order.rs`.
//! - The library never prints, never exits and never names a command-line
//!   flag; input it cannot use is an [`Error`], never a panic.
//! - Compiled code and the interpreter perform the same operations in the
//!   same order, so they agree to the bit (tests allow 4 ulps). One choice
//!   both follow: a sum adds its terms pairwise, as a balanced tree
//!   (`graph::sum_pairwise`), so its rounding error is at most
//!   `γ_d·Σ|tᵢ|` with `d = ⌈log₂ n⌉`, `γ_d = d·u/(1 − d·u)`, `u = 2⁻⁵³`
//!   (a left-to-right chain's is `γ_{n−1}·Σ|tᵢ|`), and its adds overlap
//!   instead of waiting for each other. Reductions over index ranges
//!   (`sum(i in ...)`) still accumulate in index order.
//! - `unsafe` lives only where native code is made and called
//!   (`jit/compiled.rs`, `jit/descent.rs`, `jit/batch.rs`, `jit/loops.rs`,
//!   `jit/loops/rows.rs`, `jit/region.rs`, `jit/near.rs`, `jit/libm.rs`'s C
//!   declarations, `objective.rs`'s unchecked call), in the SIMD kernels of
//!   `fit/gram.rs` and `fit/stream.rs`, in `main.rs`'s entry point, and
//!   in `python/function.rs`'s unfilled batch arrays, each block with a
//!   `SAFETY:` note.
//! - Compiled loops read arrays without bounds checks: binding checked
//!   every read's whole range against its array's extent, and the code
//!   runs only with the frame it was bound with.
//! - No `unwrap` or `expect` outside tests (denied below): input that can
//!   fail becomes an [`Error`], and a panic is a bug.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

// pest's derive, built without pest's `std` feature (Cargo.toml says why),
// names `alloc` for its boxes.
extern crate alloc;

// The front door: what a user of the library needs.
pub use bind::VarNames;
pub use constraint::{Constraint, ConstraintKind, ConstraintRow, ConstraintValues};
pub use error::{Detail, Error, ErrorKind, Limit, Result, Span};
pub use formula::{ArrayTerm, Elements, Entries, Expr, Formula, Options, Written};
pub use graph::NodeId;
pub use objective::{
    CompiledFormula, FiniteDifferences, FnObjective, HessVecFn, InterpretedObjective, Negated,
    Objective,
};
pub use optim::{
    Advice, Auglag, ConstrainedOutcome, Control, Iterate, Method, Outcome, Reason, Settings, Sqp,
    minimize, minimize_auglag_or_sqp, minimize_constrained, minimize_sqp, minimize_sqp_or_auglag,
    minimize_with,
};
pub use parse::Limits;
pub use problem::{CompiledProblem, ConstrainedObjective};
pub use sparse_hessian::SparseHessian;

// Tools built on the front door, each documented as a module.
pub mod bench;
pub mod check;
pub mod data;
pub mod fd;
pub mod fit;
pub mod optim;
#[cfg(feature = "plot")]
pub mod plot;
pub mod testfns;

// The pipeline's stages. Private to users; public but hidden where the
// command line, the tests and the fuzzers reach inside.
#[doc(hidden)]
pub mod ast;
#[doc(hidden)]
pub mod bind;
#[doc(hidden)]
pub mod builtins;
mod canon;
mod constraint;
mod diff;
mod error;
#[doc(hidden)]
pub mod eval;
mod formula;
#[doc(hidden)]
pub mod graph;
#[doc(hidden)]
pub mod jit;
mod lower;
#[doc(hidden)]
pub mod objective;
#[doc(hidden)]
pub mod parse;
#[doc(hidden)]
pub mod print;
mod problem;
#[cfg(feature = "python")]
mod python;
mod random;
mod sparse_hessian;
mod symbolic;

#[doc(hidden)]
pub use formula::quoted_list_capped;
#[doc(hidden)]
pub use graph::{Graph, Node};
pub use lower::{is_identifier, quoted_list};

/// The README's Rust examples, run as doctests so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
