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
/// scratch, or has no outputs.
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
    let code = region::build(
        |module| build(module, program, &plan, n_vars),
        region::estimate(program.instrs.len() + program.outputs.len(), 1),
        region::MAX_REGION,
    )?;
    Ok(BatchKernel {
        n_vars,
        n_outputs,
        code,
    })
}

fn build(
    module: &mut JITModule,
    program: &Program,
    plan: &Plan,
    n_vars: usize,
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
        let entry = b.create_block();
        let body = b.create_block();
        let exit = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let p = b.block_params(entry).to_vec();
        let (x0, first0, rest0, rows) = (p[0], p[1], p[2], p[3]);
        // The pointers to the current row's input and outputs, and the
        // rows left (the caller passes at least one).
        let vars = [x0, first0, rest0, rows].map(|v| {
            let var = b.declare_var(b.func.dfg.value_type(v));
            b.def_var(var, v);
            var
        });
        let consts = g.constant_base(&mut b);
        b.ins().jump(body, &[]);

        b.switch_to_block(body);
        let [x, first, rest, left] = vars.map(|v| b.use_var(v));
        let mut bases = Bases {
            inputs: Inputs::Memory(x),
            // Never read: one chunk has no scratch slots (checked above).
            scratch: x,
            consts,
            recent: Vec::new(),
            pos: 0,
        };
        let mut outs = Outputs::Memory { first, rest };
        let mut local = HashMap::new();
        g.items(&mut b, 0, &mut bases, &mut local, &mut outs)?;
        let next = [
            b.ins().iadd_imm_s(x, x_step),
            b.ins().iadd_imm_s(first, 8),
            b.ins().iadd_imm_s(rest, rest_step),
            b.ins().iadd_imm_s(left, -1),
        ];
        for (&var, &v) in vars.iter().zip(&next) {
            b.def_var(var, v);
        }
        let done = b.ins().icmp_imm_u(IntCC::Equal, next[3], 0);
        b.ins().brif(done, exit, &[], body, &[]);
        b.seal_block(body);

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
