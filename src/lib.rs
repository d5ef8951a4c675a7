//! slope derives the exact gradient of a formula symbolically, compiles value
//! and gradient to native code and minimises it.
//!
//! ```
//! let mut f = slope::Formula::parse("3*x^2 + 2*x + 1")?;
//! let dx = f.gradient()[0];
//! assert_eq!(f.to_slope(dx)?, "6*x + 2");
//! assert_eq!(f.eval_nodes(&[dx], &[1.0]), [8.0]);
//! # Ok::<(), slope::Error>(())
//! ```
//!
//! # Bird's-eye view
//!
//! ```text
//! text ──parse──▶ Ast ──lower──▶ Graph (hash-consed, canonical)
//!      ──diff──▶ gradient and Hessian nodes in the same Graph
//!      ──▶ eval (interpreter, the reference)   ──▶ print (slope syntax, LaTeX)
//!      ──▶ jit (Cranelift) ──▶ Compiled: native fn(x, out)
//!      ──▶ objective (compiled | interpreted | finite differences | closure)
//!      ──▶ optim (one loop, eight methods; gd also as a native loop) | check | bench | plot
//! ```
//!
//! # Code map
//!
//! - `grammar/slope.pest`: the language, rule by rule.
//! - [`parse`]: a pre-scan (depth, `2x`-style mistakes, empty input), then
//!   pest and one Pratt parser build the [`ast`] arena with byte spans.
//!   Deep formulas are parsed on a thread with a stack sized for them.
//! - [`lower`]: resolves names (definitions, constants, variables), checks
//!   arity, fixes the variable order and builds the graph.
//! - [`graph`]: the node arena and its interning map; `canon.rs` holds the
//!   canonicalising constructors, the only way nodes are made.
//! - [`diff`]: the reverse sweep that adds gradient nodes; the Hessian
//!   sweeps each gradient component again.
//! - [`eval`]: the interpreter, and the diagnosis of NaN and infinity.
//! - [`print`](mod@print): graph to slope syntax or LaTeX.
//! - [`jit`]: chosen graph outputs to one native function through
//!   Cranelift: lowering to scalar instructions in the interpreter's exact
//!   operation order, scheduling for short live ranges, chunking large
//!   functions, one file each under `jit/`. [`jit::Compiled`]
//!   (`jit/compiled.rs`) owns its code; with `jit/descent.rs`'s
//!   [`jit::DescentKernel`] (fixed-step descent as one native loop with the
//!   gradient inlined) and `jit/region.rs` (each module's code and data in
//!   one reservation, so 32-bit displacements always reach), it holds the
//!   crate's only `unsafe`.
//! - [`fd`]: finite-difference gradients (forward, backward, central,
//!   Richardson), the estimates exact gradients are measured against.
//! - [`check`]: `slope check`'s logic: exact gradient and Hessian against
//!   finite differences (skipping kinks), hand-written derivatives against
//!   exact ones (proved by a bounded normaliser, else compared at points).
//! - [`bench`](mod@bench): the `slope bench` harness: compile time by stage and the
//!   cost of each gradient source.
//! - [`objective`]: the one trait every consumer of values and gradients
//!   takes, with implementations for compiled code, the interpreter, finite
//!   differences, closures, and negation (for maximising).
//! - [`optim`]: the minimisation loop (stopping, projection, diagnosis of
//!   divergence and oscillation) and one small step per method; line
//!   searches, L-BFGS and Newton in their own files. Long plain `gd` runs
//!   hand batches of iterations to the native descent loop and take over
//!   its state between batches, with the same result.
//! - [`formula`]: [`Formula`], which ties the stages together for callers.
//! - [`plot`]: pictures of the function (line, filled contour map, slice)
//!   with descent paths over it, and convergence charts; SVG or PNG through
//!   plotters, with a bundled font.
//! - [`builtins`]: the functions and constants of the language.
//! - [`testfns`]: standard test functions (Rosenbrock, Ackley, ...) as
//!   generated formula text, shared by tests and benchmarks.
//! - [`error`]: the crate's one error type, rendered with a caret.
//! - `main.rs` and `cli/`: the command line, the only place that prints or
//!   chooses an exit status.
//!
//! # Invariants
//!
//! - Children precede parents, in the AST and in the graph: evaluation is a
//!   forward loop, differentiation a backward loop. Nothing recurses on the
//!   depth of a formula except pest and the Pratt parser, which run behind a
//!   depth limit on a stack sized for it.
//! - Equal subexpressions are one node; constants are always finite.
//! - Hash-map order never reaches output: order comes from vector positions
//!   and the structural sort keys of `canon.rs`.
//! - The library never prints and never exits.
//! - Compiled code and the interpreter perform the same operations in the
//!   same order, so they agree to the bit (tests allow 4 ulps).
//! - `unsafe` lives only in `jit/compiled.rs`, `jit/descent.rs` and
//!   `jit/region.rs`, each block with a `SAFETY:` note.
//! - No `unwrap` or `expect` outside tests (denied below): input that can
//!   fail becomes an [`Error`], and a panic is a bug.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod ast;
pub mod bench;
pub mod builtins;
mod canon;
pub mod check;
pub mod cli;
pub mod diff;
pub mod error;
pub mod eval;
pub mod fd;
pub mod formula;
pub mod graph;
pub mod jit;
pub mod lower;
pub mod objective;
pub mod optim;
pub mod parse;
pub mod plot;
pub mod print;
pub mod testfns;

pub use error::{Error, ErrorKind, Span};
pub use formula::{Formula, Options};
pub use graph::{Graph, Node, NodeId};
pub use parse::Limits;

/// The README's Rust examples, run as doctests so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
