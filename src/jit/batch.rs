//! A batch of points as one native loop over its rows.
//!
//! On a small formula one evaluation costs a few nanoseconds, about as much
//! as the call that reaches it from Rust (the entry point, the length
//! checks, the loop around it): evaluating a million points one call at a
//! time spent more time calling than computing. [`BatchKernel`] is one
//! native function that walks the rows itself: each row's instructions are
//! emitted by the same [`Generator::items`] as [`Compiled`](super::Compiled)
//! code, reading the row where it lies in the caller's array and storing
//! each output straight where the caller keeps it, so the numbers are those
//! of one call per row, to the bit.
//!
//! The loop takes two rows per iteration, each value an `f64x2` with the
//! first row's number in one lane and the second's in the other (SSE2 is
//! part of x86-64, NEON of aarch64; Cranelift's x86 back end has no wider
//! vectors). Arithmetic, `sqrt`, `abs`, `floor` and `ceil` work on both
//! lanes in one instruction, which give each lane the bits the scalar
//! instruction gives; calls, `min`/`max` and `sign` work lane by lane
//! through the scalar code (see `codegen.rs`'s `lane_wise`). Variables
//! come two at a time (16 bytes from each row, two shuffles), output 0 of
//! both rows is one store and two neighbouring outputs two (a shuffle and
//! a store per row); constants come from a table holding each one twice,
//! one load for both lanes. The loop counts by output 0's pointer. An odd
//! last row runs through the scalar body. On Rosenbrock's value this cut
//! the instructions per row from 17.1 to 8.6, on its value and gradient
//! from 24.1 to 15.1, and on `x + y` from 9.0 to 5.0 (callgrind, `cargo
//! bench --bench batch`, 4,096 rows). If Cranelift cannot build the pairs
//! (a target without some vector instruction), the loop takes one row at a
//! time.
//!
//! Only code of one chunk with no scratch becomes a loop (as for the
//! descent loop): a larger formula costs far more per row than the call,
//! and is called row by row.

use std::collections::HashMap;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{AbiParam, InstBuilder, types};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Module};

use super::chunk::{Plan, plan_chunks};
use super::codegen::{Bases, Generator, Inputs, Outputs};
use super::lower::Program;
use super::region::NativeCode;
use super::schedule::schedule;
use super::{MAX_INDEX, codegen_error, region};
use crate::error::Error;

/// The native loop: `(x, first, rest, rows)`, row `i` read from
/// `x[i*n_vars..]`, its output 0 written to `first[i]` and its output
/// `k > 0` to `rest[i*(n_outputs - 1) + k - 1]`.
type BatchEntry = unsafe extern "C" fn(*const f64, *mut f64, *mut f64, u64);

/// A compiled loop over the rows of a batch, owning its code (and, through
/// it, `Send` and `Sync`: each call passes its own buffers).
pub struct BatchKernel {
    n_vars: usize,
    n_outputs: usize,
    /// The loop takes two rows per iteration (see [`compile`]).
    pairs: bool,
    /// The loop, entered through [`BatchKernel::entry`].
    code: NativeCode,
}

impl BatchKernel {
    /// Evaluates every row of `xs` (rows of `n_vars` values, one after the
    /// other), writing output 0 of row `i` to `first[i]` and its other
    /// outputs to `rest[i*(n_outputs - 1)..]`.
    ///
    /// Panics if the lengths do not agree on the number of rows.
    pub fn run(&self, xs: &[f64], first: &mut [f64], rest: &mut [f64]) {
        let rows = first.len();
        assert!(
            xs.len() == rows * self.n_vars && rest.len() == rows * (self.n_outputs - 1),
            "BatchKernel::run: {} values in, room for {} and {} out, for {rows} rows of {} \
             variables and {} outputs",
            xs.len(),
            first.len(),
            rest.len(),
            self.n_vars,
            self.n_outputs
        );
        if rows == 0 {
            return;
        }
        // SAFETY: `xs` holds `rows` rows of `n_vars` values, `first` one
        // value per row and `rest` `n_outputs - 1` (checked above), which
        // is all the loop reads and writes (it uses no scratch and no
        // global state). The code stays valid while `self` (its
        // `NativeCode`) lives.
        unsafe {
            (self.entry())(
                xs.as_ptr(),
                first.as_mut_ptr(),
                rest.as_mut_ptr(),
                rows as u64,
            );
        }
    }

    /// The loop takes two rows per iteration, in `f64x2` lanes.
    pub fn pairs(&self) -> bool {
        self.pairs
    }

    /// The native loop, valid while `self` lives.
    fn entry(&self) -> BatchEntry {
        // SAFETY: `self.code` is the loop `build` generated (see `compile`),
        // with the `BatchEntry` signature in the host's default calling
        // convention, which is `extern "C"`.
        unsafe { std::mem::transmute::<*const u8, BatchEntry>(self.code.entry()) }
    }
}

/// Compiles the loop over rows around `program` (reading `n_vars`
/// variables); an error if the program is more than one chunk, needs a
/// scratch, or has no outputs. The loop takes two rows at a time in
/// `f64x2` lanes, and the last row alone if their number is odd; if
/// Cranelift cannot build the pairs, one row at a time.
pub(super) fn compile(program: &Program, n_vars: usize) -> Result<BatchKernel, Error> {
    let n_outputs = program.outputs.len();
    if n_outputs == 0 || n_vars > MAX_INDEX / 8 || n_outputs > MAX_INDEX / 8 {
        return Err(codegen_error("not a batch"));
    }
    let order = schedule(program);
    let plan = plan_chunks(program, &order)?;
    if plan.chunks.len() != 1 || plan.scratch_len != 0 {
        return Err(codegen_error("too large for one loop"));
    }
    let size = region::estimate(3 * (program.instrs.len() + program.outputs.len()), 1);
    let build_with = |pairs| {
        region::build(
            |module| build(module, program, &plan, n_vars, pairs),
            size,
            region::MAX_REGION,
        )
    };
    let (pairs, code) = match build_with(true) {
        Ok(code) => (true, code),
        Err(_) => (false, build_with(false)?),
    };
    Ok(BatchKernel {
        n_vars,
        n_outputs,
        pairs,
        code,
    })
}

/// The loop's blocks: `entry` goes to `two` (two rows per iteration,
/// while two are left; only if `pairs` is asked for) or to `tail`, which
/// returns if no row is left, else runs `one` (one row per iteration) to
/// the end. The loops count by the address of the row's output 0, so an
/// iteration costs the pointers' steps (none for `rest` when there is no
/// output beyond the first), a compare and a branch.
fn build(
    module: &mut JITModule,
    program: &Program,
    plan: &Plan,
    n_vars: usize,
    pairs: bool,
) -> Result<FuncId, Error> {
    let ptr = module.target_config().pointer_type();
    let mut sig = module.make_signature();
    for _ in 0..3 {
        sig.params.push(AbiParam::new(ptr));
    }
    sig.params.push(AbiParam::new(types::I64));
    let mut g = Generator::new(module, program, plan)?;
    let id = g
        .module
        .declare_anonymous_function(&sig)
        .map_err(codegen_error)?;
    let mut ctx = g.module.make_context();
    ctx.func.signature = sig;
    let mut fctx = FunctionBuilderContext::new();
    // Bytes from one row to the next, in `x` and in `rest`.
    let x_step = (n_vars * 8) as i64;
    let rest_step = ((program.outputs.len() - 1) * 8) as i64;
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let [entry, two, tail, one, exit] = [(); 5].map(|_| b.create_block());
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let p = b.block_params(entry).to_vec();
        let (x0, first0, rest0, rows) = (p[0], p[1], p[2], p[3]);
        // The pointers to the current row's input and outputs.
        let vars = [x0, first0, rest0].map(|v| {
            let var = b.declare_var(ptr);
            b.def_var(var, v);
            var
        });
        // Where output 0 of the rows ends, and of the rows taken in pairs.
        let bytes = b.ins().ishl_imm_u(rows, 3);
        let end = b.ins().iadd(first0, bytes);
        let paired = b.ins().band_imm_s(bytes, -16);
        let pairs_end = b.ins().iadd(first0, paired);
        let consts = g.constant_base(&mut b);
        let pair_consts = match pairs {
            true => g.pair_constant_base(&mut b)?,
            false => None,
        };
        let mut local = HashMap::new();
        // Advances the pointers by `n` rows and jumps to `again` until
        // output 0's pointer reaches `stop`, then to `next`.
        let step = |b: &mut FunctionBuilder, n: i64, again, stop, next| {
            let [x, first, rest] = vars.map(|v| b.use_var(v));
            let x = b.ins().iadd_imm_s(x, n * x_step);
            b.def_var(vars[0], x);
            let first = b.ins().iadd_imm_s(first, n * 8);
            b.def_var(vars[1], first);
            if rest_step != 0 {
                let rest = b.ins().iadd_imm_s(rest, n * rest_step);
                b.def_var(vars[2], rest);
            }
            let more = b.ins().icmp(IntCC::NotEqual, first, stop);
            b.ins().brif(more, again, &[], next, &[]);
        };

        if pairs {
            b.ins().brif(paired, two, &[], tail, &[]);
            b.switch_to_block(two);
            let [x, first, rest] = vars.map(|v| b.use_var(v));
            let x1 = b.ins().iadd_imm_s(x, x_step);
            let rest1 = b.ins().iadd_imm_s(rest, rest_step);
            let mut bases = Bases {
                inputs: Inputs::Pairs {
                    rows: [x, x1],
                    consts: pair_consts,
                    n_vars: n_vars as u32,
                    spare: None,
                },
                // Never read: one chunk has no scratch slots (checked above).
                scratch: x,
                consts,
                recent: Vec::new(),
                pos: 0,
            };
            let mut outs = Outputs::Pairs {
                first,
                rest: [rest, rest1],
                held: None,
            };
            g.items(&mut b, 0, &mut bases, &mut local, &mut outs)?;
            step(&mut b, 2, two, pairs_end, tail);
            b.seal_block(two);
        } else {
            b.ins().jump(tail, &[]);
        }

        b.switch_to_block(tail);
        let first = b.use_var(vars[1]);
        let more = b.ins().icmp(IntCC::NotEqual, first, end);
        b.ins().brif(more, one, &[], exit, &[]);

        b.switch_to_block(one);
        let [x, first, rest] = vars.map(|v| b.use_var(v));
        let mut bases = Bases {
            inputs: Inputs::Memory(x),
            scratch: x,
            consts,
            recent: Vec::new(),
            pos: 0,
        };
        let mut outs = Outputs::Memory { first, rest };
        g.items(&mut b, 0, &mut bases, &mut local, &mut outs)?;
        step(&mut b, 1, one, end, exit);
        b.seal_block(one);
        b.seal_block(tail);

        b.switch_to_block(exit);
        b.seal_block(exit);
        b.ins().return_(&[]);
        b.finalize(g.module.target_config());
    }
    let result = g.module.define_function(id, &mut ctx);
    g.module.clear_context(&mut ctx);
    result.map_err(codegen_error)?;
    Ok(id)
}
