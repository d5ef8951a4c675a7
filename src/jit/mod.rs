//! Native code for graph outputs, through Cranelift's JIT.
//!
//! [`Compiled::compile`] turns chosen outputs of a [`Graph`] into machine code
//! that writes `outputs[i]` to `out[i]`, in four passes, one file each (each
//! file's documentation gives its pass in full, with the measurements behind
//! it):
//!
//! 1. **Lowering** (`lower.rs`) turns the nodes the outputs need
//!    ([`reachable`](crate::graph::reachable)) into a flat list of scalar
//!    instructions that performs exactly the operations of `eval.rs`, in the
//!    same order, so compiled and interpreted results agree to the bit (NaN
//!    payloads aside). Shared work is computed once.
//! 2. **Scheduling** (`schedule.rs`) orders the instructions to keep few
//!    values live at once, because a value live across much code is spilled
//!    by the register allocator (or, between chunks, goes through memory).
//! 3. **Chunking** (`chunk.rs`) cuts the schedule into pieces of bounded
//!    size, each its own Cranelift function, because register allocation
//!    time grows faster than linearly with function size. Values crossing
//!    chunks go through a scratch buffer that is the caller's.
//! 4. **Code generation** (`codegen.rs`) builds each chunk as one basic
//!    block in schedule order: native instructions for arithmetic, `sqrt`,
//!    `abs`, `floor`, `ceil`, `min`/`max` and `sign`, and calls to `extern
//!    "C"` wrappers around Rust's own `f64` methods (`libm.rs`) for the
//!    transcendental functions, so both evaluators share one libm.
//!    Cranelift runs with `opt_level=none`, because `speed` undoes the
//!    schedule.
//!
//! The module is finalized in one reservation of address space
//! (`region.rs`), which a [`Compiled`] (`compiled.rs`) owns until it is
//! dropped. [`DescentKernel`] (`descent.rs`) reuses the passes to compile
//! fixed-step gradient descent as one native loop around the gradient, and
//! [`BatchKernel`] (`batch.rs`) one loop over the rows of a batch of points,
//! two rows per iteration in `f64x2` lanes (`codegen/pairs.rs`).
//!
//! Invariants: the native entry point is
//! `extern "C" fn(x: *const f64, rest: *mut f64, scratch: *mut f64) -> f64`,
//! less the trailing arguments its code never reads (`codegen::EntryKind`:
//! `(x)` for one chunk with one output and no scratch, `(x, rest)` for one
//! chunk without scratch), so that a call on a tiny formula passes nothing
//! it does not need; it reads `x[0..n_vars]`, returns output 0 (in a register, as a
//! hand-written function returns its value) and writes every other
//! output `k` to `rest[k - 1]` (a gradient straight into the caller's
//! buffer, with no copy), and writes each scratch
//! slot before reading it (so the scratch may be uninitialised); it has no
//! other side effects and keeps no state. Variables with an index at or beyond
//! `n_vars` read as NaN, as in the interpreter. The code lives as long as the
//! [`Compiled`] that owns its module, which frees it on drop. A module's
//! code and data share one reservation of address space (`region.rs`), so
//! the PC-relative references between them always reach.

mod batch;
mod chunk;
mod codegen;
mod compiled;
mod descent;
mod frame;
mod libm;
mod loops;
mod lower;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod near;
mod region;
mod schedule;
#[cfg(test)]
mod testing;

pub use batch::BatchKernel;
pub use compiled::Compiled;
pub(crate) use compiled::DirectLens;
pub use descent::{DescentKernel, DescentState, Variant};
pub use loops::{InputBuffers, LoopCode, Outputs, RowCode};

use crate::error::{Error, ErrorKind};
use crate::graph::{Graph, NodeId};

/// The largest index of a variable, output or scratch slot: their byte
/// offsets must fit Cranelift's 32-bit load and store offsets.
const MAX_INDEX: usize = (i32::MAX / 8) as usize;

/// The pipeline: `outputs` of `graph`, reading variables `0..n_vars`, to
/// native code. `reserve` is the first and the largest reservation of
/// address space for the code (tests shrink them), or `None` to estimate.
fn compile(
    graph: &Graph,
    outputs: &[NodeId],
    n_vars: usize,
    reserve: Option<(usize, usize)>,
) -> Result<Compiled, Error> {
    if outputs.iter().any(|o| o.index() >= graph.len()) {
        return Err(Error::new(
            ErrorKind::Usage,
            "an output to compile is not a node of the graph",
        ));
    }
    if n_vars > MAX_INDEX || outputs.len() > MAX_INDEX {
        return Err(too_large());
    }
    // Lower to scalar instructions that repeat the interpreter's operations
    // one for one, so that both agree to the bit.
    let program = lower::lower(graph, outputs, n_vars)?;
    // Order them so that values die soon after they are made: a value live
    // across much code is spilled.
    let order = schedule::schedule(&program);
    // Cut the order into functions of bounded size: register allocation
    // time grows faster than linearly with function size.
    let plan = chunk::plan_chunks(&program, &order)?;
    // Generate the functions and finalize them in one reservation of
    // address space, so that their PC-relative references reach; a module
    // that outgrows the estimate is generated again in a larger one.
    let (first, max) = reserve.unwrap_or_else(|| {
        let items = program.instrs.len() + program.outputs.len();
        (
            region::estimate(items, plan.chunks.len() + 1),
            region::MAX_REGION,
        )
    });
    let code = region::build(
        |module| codegen::generate(module, &program, &plan),
        first,
        max,
    )?;
    // Own the code, and keep the instructions if they could become a
    // descent loop later.
    Ok(Compiled::new(code, program, &plan, n_vars))
}

/// Cranelift failures are internal errors: the graph was valid.
fn codegen_error(e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Internal,
        format!("native code generation failed: {e}"),
    )
}

fn too_large() -> Error {
    Error::new(
        ErrorKind::Limit,
        "the formula is too large to compile to native code",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtins::Func;
    use crate::eval::Interpreter;
    use crate::jit::testing::{exclusive, ulps};

    #[test]
    fn foreign_output_is_an_error() {
        let _guard = exclusive();
        let mut big = Graph::new();
        let x = big.var(0);
        let y = big.var(1);
        let s = big.add(x, y);
        let small = Graph::new();
        assert!(Compiled::compile(&small, &[s], 2).is_err());
    }

    mod random {
        use super::*;
        use proptest::prelude::*;

        /// A random expression in three variables from a list of choices,
        /// built bottom-up (no recursion).
        fn build(g: &mut Graph, choices: &[(u8, u8, u8, f64)]) -> Vec<NodeId> {
            let mut nodes: Vec<NodeId> = (0..3).map(|i| g.var(i)).collect();
            for &(op, a, b, c) in choices {
                let a = nodes[a as usize % nodes.len()];
                let b = nodes[b as usize % nodes.len()];
                let node = match op % 10 {
                    0 => g.add(a, b),
                    1 => g.sub(a, b),
                    2 => g.mul(a, b),
                    3 => g.div(a, b),
                    4 => g.powc(a, (c * 8.0).round() / 2.0),
                    5 => g.pow(a, b),
                    6 => g.scale(c, a),
                    7 => {
                        let k = g.constant(c);
                        g.add(a, k)
                    }
                    8 => g.call1(Func::ALL[(c.abs() * 100.0) as usize % 23], a),
                    _ => g.call2(Func::ALL[21 + (c.abs() * 100.0) as usize % 4], a, b),
                };
                nodes.push(node);
            }
            nodes
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            #[test]
            fn compiled_matches_interpreter(
                choices in prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>(), -4.0..4.0f64), 1..40),
                x in prop::collection::vec(-3.0..3.0f64, 3),
            ) {
                let _guard = exclusive();
                let mut g = Graph::new();
                let nodes = build(&mut g, &choices);
                let outputs = &nodes[3..];
                let compiled = Compiled::compile(&g, outputs, 3).unwrap();
                let mut out = vec![0.0; outputs.len()];
                compiled.call(&x, &mut out);
                let want = Interpreter::new(&g, outputs).eval(&x);
                for (got, want) in out.iter().zip(&want) {
                    prop_assert!(ulps(*got, *want) <= 4, "compiled {got:e}, interpreter {want:e}");
                }
            }
        }
    }
}
