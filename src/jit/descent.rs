//! Fixed-step gradient descent compiled into the same native function as
//! the gradient.
//!
//! On a small formula one gradient costs a few nanoseconds, less than the
//! call that reaches it and the loop around it in Rust. So [`DescentKernel`]
//! is one native loop: the variables stay in registers, the gradient's
//! instructions are inlined in the loop body (emitted by the same
//! [`Generator::items`] as [`Compiled`](super::Compiled) code, so the
//! values are the same to the bit), and each iteration performs exactly the
//! operations of `optim`'s loop for `gd`: the step `x - lr*g`, projection
//! onto the bounds, and the measurements its stopping tests read (step
//! length, reversal of the step, the last values of f).
//!
//! The kernel does not decide why a run stops. It returns to Rust when a
//! stopping test might pass (values not finite, oscillation, `ftol`, `gtol`,
//! a loose `xtol`) or its budget of iterations is spent, with the state
//! Rust needs to take over as if it had run every iteration itself; Rust
//! then applies the exact tests. So a run gives the same result, bit for
//! bit, whichever loop did the iterations.
//!
//! The state crosses in one `f64` buffer (see [`DescentState`]) and two
//! integers: the iteration count, which indexes a ring of the last 8 values
//! of f, and the reversal bits of the last steps, newest lowest.
//!
//! # The rules of `optim::minimize` it repeats
//!
//! `optim::minimize` (`src/optim/mod.rs`) hands plain `gd` runs (no line
//! search, no history, no observer of every iterate) to this loop. Each
//! iteration repeats, operation for operation, what `minimize` does, and
//! each early return is the exact or a loose form of one of its stopping
//! rules, so a change to any rule there must be made here too:
//!
//! - the step: `optim/first_order.rs`'s `x -= lr*g` for `Method::Gd`, then
//!   `Context::project`'s `f64::clamp` into the bounds when projecting
//!   ([`Variant::project`]);
//! - the measurements: `measure`'s `step2 = Σ s²` (its length is
//!   `sqrt(step2)`) and its reversal test `dot(s, previous) < -0.5 *
//!   sqrt(step2 * Σ previous²)`, with the new step becoming `previous`;
//! - not finite (`is_finite(f, grad)`): here `f + Σ g` minus itself is NaN,
//!   which an overflowing sum also makes, returning early;
//! - `gtol` (`projected_norm(x, grad) <= gtol`, leaving out components that
//!   push against an active bound when projecting): here every component
//!   within `[-gtol, gtol]` or held by its bound, the same test;
//! - `ftol` (`decrease > 0 && decrease <= ftol`, or a step of length zero),
//!   exactly ([`Variant::ftol`]);
//! - `xtol` (`step <= xtol`): here `step2 <= xtol² * (1 + 1e-9)`, slightly
//!   loose, so that the loop returns whenever Rust's `sqrt(step2) <= xtol`
//!   could pass ([`Variant::xtol`]);
//! - oscillation (`Recent::oscillating`, over `optim`'s `WINDOW` of 6
//!   iterations): at least `WINDOW - 1` of the last `WINDOW + 1` steps
//!   reversed, and f no lower than `WINDOW` iterations before by more than
//!   `1e-12 * max(|f|, 1e-300)`. Here the same, the cheap count of
//!   reversals first; before a full window, missing iterations count as
//!   not reversed and their ring slots may hold anything, which at worst
//!   returns early;
//! - `max_iter`: the budget `minimize` passes, at most the iterations left
//!   (and at most its `FUSED_BATCH`).
//!
//! The tests run in another order than `minimize`'s; that changes nothing,
//! since the loop only returns and Rust then tests in its own order. The
//! numbers these rules share with `optim` (`WINDOW` below; `-0.5`, `1e-12`
//! and `1e-300` in [`DescentState::new`]) are repeated here, because
//! `optim` keeps them private: they must stay equal.

use std::collections::HashMap;

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{AbiParam, InstBuilder, Value, types};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Module};

use super::chunk::{Plan, plan_chunks};
use super::codegen::{Bases, Generator, Inputs, Outputs, fixed, mem, offset};
use super::lower::Program;
use super::region::NativeCode;
use super::schedule::schedule;
use super::{MAX_INDEX, codegen_error, region};
use crate::error::Error;

/// The native loop: `(state, params, counters, budget) -> iterations done`.
type KernelEntry = unsafe extern "C" fn(*mut f64, *const f64, *mut u64, u64) -> u64;

/// The variants of the loop a run may need: each test a run does not ask
/// for is left out of the loop.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct Variant {
    /// Clamp each iterate into the bounds.
    pub project: bool,
    /// Descend on `-f` (maximising `f`).
    pub negate: bool,
    /// Test `ftol` (and a step of length zero).
    pub ftol: bool,
    /// Test `xtol`.
    pub xtol: bool,
}

impl Variant {
    /// How many variants there are.
    pub(super) const COUNT: usize = 16;

    pub(super) fn index(self) -> usize {
        [self.project, self.negate, self.ftol, self.xtol]
            .iter()
            .enumerate()
            .map(|(i, &on)| usize::from(on) << i)
            .sum()
    }
}

/// `optim`'s `WINDOW`, repeated (keep them equal): the oscillation test
/// compares f with its value this many iterations before, and counts the
/// reversals of the last `WINDOW + 1` steps.
const WINDOW: usize = 6;

/// Iterations the kernel has looked back on: how many values of f the ring
/// holds. A power of two (slots are found by masking) above [`WINDOW`].
const RING: usize = 8;

const _: () = assert!(RING.is_power_of_two() && RING > WINDOW && WINDOW + 1 < 64);

/// The layout of [`DescentState::values`] for `n` variables.
struct Layout {
    n: usize,
}

impl Layout {
    fn x(&self) -> usize {
        0
    }
    fn grad(&self) -> usize {
        self.n
    }
    fn previous_step(&self) -> usize {
        2 * self.n
    }
    fn last_x(&self) -> usize {
        3 * self.n
    }
    fn f(&self) -> usize {
        4 * self.n
    }
    fn last_f(&self) -> usize {
        4 * self.n + 1
    }
    fn ring(&self) -> usize {
        4 * self.n + 2
    }
    fn len(&self) -> usize {
        self.ring() + RING
    }
}

/// Indices into the parameter buffer. The loop loads parameters and
/// constants where it uses them (x86 folds the load into the instruction)
/// rather than keeping them in registers, which the gradient needs.
const LR: usize = 0;
const FTOL: usize = 1;
const GTOL: usize = 2;
const NEG_GTOL: usize = 3;
const XTOL2: usize = 4;
const ZERO: usize = 5;
const NEG_HALF: usize = 6;
const TINY: usize = 7;
const REL: usize = 8;
/// Lower bounds follow, then upper bounds.
const BOUNDS: usize = 9;

/// What a descent loop starts from and leaves behind, in the kernel's
/// layout. Allocated once per run.
pub struct DescentState {
    layout: Layout,
    values: Vec<f64>,
    params: Vec<f64>,
    /// Iterations done, and the reversal bits of the last steps.
    counters: [u64; 2],
}

impl DescentState {
    /// The parameters of a run: `ftol` and `xtol` are off when `None`;
    /// `bounds` are read by projecting kernels.
    pub fn new(
        n: usize,
        lr: f64,
        ftol: Option<f64>,
        gtol: f64,
        xtol: Option<f64>,
        bounds: Option<&[(f64, f64)]>,
    ) -> DescentState {
        let layout = Layout { n };
        let mut params = vec![0.0; BOUNDS + 2 * n];
        params[LR] = lr;
        params[FTOL] = ftol.unwrap_or(f64::NAN);
        params[GTOL] = gtol;
        params[NEG_GTOL] = -gtol;
        // Slightly loose, so that the kernel returns whenever Rust's exact
        // test `sqrt(step2) <= xtol` could pass.
        params[XTOL2] = xtol.map_or(-1.0, |t| (t * t) * (1.0 + 1e-9));
        // The constants of `Recent::oscillating` and `optim::measure`.
        params[NEG_HALF] = -0.5;
        params[TINY] = 1e-300;
        params[REL] = 1e-12;
        if let Some(bounds) = bounds {
            for (i, &(lo, hi)) in bounds.iter().enumerate().take(n) {
                params[BOUNDS + i] = lo;
                params[BOUNDS + n + i] = hi;
            }
        }
        DescentState {
            values: vec![0.0; layout.len()],
            layout,
            params,
            counters: [0; 2],
        }
    }

    /// Sets the point to continue from after `iterations` iterations, with
    /// its value, gradient and the step that led to it.
    pub fn enter(
        &mut self,
        x: &[f64],
        f: f64,
        grad: &[f64],
        previous_step: &[f64],
        iterations: usize,
    ) {
        let l = &self.layout;
        let n = l.n;
        self.values[l.x()..l.x() + n].copy_from_slice(x);
        self.values[l.grad()..l.grad() + n].copy_from_slice(grad);
        self.values[l.previous_step()..l.previous_step() + n].copy_from_slice(previous_step);
        self.values[l.f()] = f;
        self.counters[0] = iterations as u64;
    }

    /// Records that iteration `j` (counting from 1) ended at value `f`, and
    /// whether its step turned back against the one before. Needed for the
    /// last `WINDOW + 1` (7) iterations before [`DescentState::enter`]'s
    /// count.
    pub fn set_history(&mut self, j: usize, f: f64, reversed: bool) {
        let k = self.counters[0] as usize;
        self.values[self.layout.ring() + j % RING] = f;
        if let Some(age) = k.checked_sub(j).filter(|&a| a < 64) {
            let bit = 1u64 << age;
            self.counters[1] = (self.counters[1] & !bit) | if reversed { bit } else { 0 };
        }
    }

    pub fn iterations(&self) -> usize {
        self.counters[0] as usize
    }

    /// The value after iteration `j` and whether its step reversed the one
    /// before, for the last 8 iterations.
    pub fn history(&self, j: usize) -> (f64, bool) {
        let age = self.iterations() - j;
        (
            self.values[self.layout.ring() + j % RING],
            age < 64 && self.counters[1] >> age & 1 == 1,
        )
    }

    pub fn x(&self) -> &[f64] {
        &self.values[..self.layout.n]
    }

    pub fn grad(&self) -> &[f64] {
        let l = &self.layout;
        &self.values[l.grad()..l.grad() + l.n]
    }

    pub fn previous_step(&self) -> &[f64] {
        let l = &self.layout;
        &self.values[l.previous_step()..l.previous_step() + l.n]
    }

    /// The point before the last step.
    pub fn last_x(&self) -> &[f64] {
        let l = &self.layout;
        &self.values[l.last_x()..l.last_x() + l.n]
    }

    pub fn f(&self) -> f64 {
        self.values[self.layout.f()]
    }

    /// The value before the last step.
    pub fn last_f(&self) -> f64 {
        self.values[self.layout.last_f()]
    }
}

/// A compiled descent loop, owning its code (and, through it, `Send` and
/// `Sync`: each call passes its own state).
pub struct DescentKernel {
    n: usize,
    /// The loop, entered through [`DescentKernel::entry`].
    code: NativeCode,
}

impl DescentKernel {
    /// Runs at most `budget` iterations (at least one) from the state and
    /// returns how many it did; the state then describes the last one.
    pub fn run(&self, state: &mut DescentState, budget: usize) -> usize {
        assert!(
            state.layout.n == self.n && budget > 0,
            "DescentKernel::run: a state for {} variables and a budget of {budget}, for a \
             kernel of {} variables",
            state.layout.n,
            self.n
        );
        // SAFETY: the buffers have the layout the code was generated for
        // (checked above through `n`), it reads and writes nothing else (no
        // global state either), and it stays valid while `self` (its
        // `NativeCode`) lives.
        let done = unsafe {
            (self.entry())(
                state.values.as_mut_ptr(),
                state.params.as_ptr(),
                state.counters.as_mut_ptr(),
                budget as u64,
            )
        };
        done as usize
    }

    /// The native loop, valid while `self` lives.
    fn entry(&self) -> KernelEntry {
        // SAFETY: `self.code` is the loop `build` generated (see `compile`),
        // with the `KernelEntry` signature in the host's default calling
        // convention, which is `extern "C"`.
        unsafe { std::mem::transmute::<*const u8, KernelEntry>(self.code.entry()) }
    }
}

/// Compiles the descent loop around the value and gradient that
/// `program` computes (outputs: f, then the gradient, one chunk).
pub(super) fn compile(
    program: &Program,
    n: usize,
    variant: Variant,
) -> Result<DescentKernel, Error> {
    if n == 0 || program.outputs.len() != n + 1 || n > MAX_INDEX / 8 {
        return Err(codegen_error("not a value and gradient"));
    }
    let order = schedule(program);
    let plan = plan_chunks(program, &order)?;
    if plan.chunks.len() != 1 || plan.scratch_len != 0 {
        return Err(codegen_error("too large for one loop"));
    }
    let code = region::build(
        |module| build(module, program, &plan, n, variant),
        region::estimate(program.instrs.len() + program.outputs.len(), 1),
        region::MAX_REGION,
    )?;
    Ok(DescentKernel { n, code })
}

fn build(
    module: &mut JITModule,
    program: &Program,
    plan: &Plan,
    n: usize,
    variant: Variant,
) -> Result<FuncId, Error> {
    let ptr = module.target_config().pointer_type();
    let mut sig = module.make_signature();
    for _ in 0..3 {
        sig.params.push(AbiParam::new(ptr));
    }
    sig.params.push(AbiParam::new(types::I64));
    sig.returns.push(AbiParam::new(types::I64));
    let mut g = Generator::new(module, program, plan)?;
    let id = g
        .module
        .declare_anonymous_function(&sig)
        .map_err(codegen_error)?;
    let mut ctx = g.module.make_context();
    ctx.func.signature = sig;
    let mut fctx = FunctionBuilderContext::new();
    let l = Layout { n };
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let entry = b.create_block();
        let header = b.create_block();
        let exit = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let p = b.block_params(entry).to_vec();
        let (state, params, counters, budget) = (p[0], p[1], p[2], p[3]);
        let load = |b: &mut FunctionBuilder, base: Value, i: usize| {
            b.ins().load(types::F64, mem(), base, offset(i))
        };
        let param = |b: &mut FunctionBuilder, i: usize| {
            b.ins().load(types::F64, fixed(), params, offset(i))
        };
        let declare = |b: &mut FunctionBuilder, from: usize| -> Vec<Variable> {
            (0..n)
                .map(|i| {
                    let var = b.declare_var(types::F64);
                    let v = load(b, state, from + i);
                    b.def_var(var, v);
                    var
                })
                .collect()
        };
        let xs = declare(&mut b, l.x());
        let gs = declare(&mut b, l.grad());
        let ps = declare(&mut b, l.previous_step());
        let fv = b.declare_var(types::F64);
        let f0 = load(&mut b, state, l.f());
        b.def_var(fv, f0);
        let k0 = b.ins().load(types::I64, mem(), counters, 0);
        let mask0 = b.ins().load(types::I64, mem(), counters, 8);
        let kv = b.declare_var(types::I64);
        b.def_var(kv, k0);
        let maskv = b.declare_var(types::I64);
        b.def_var(maskv, mask0);
        // The iteration count at which the budget is spent.
        let end = b.ins().iadd(k0, budget);
        let consts = g.constant_base(&mut b);
        b.ins().jump(header, &[]);

        b.switch_to_block(header);
        let x: Vec<Value> = xs.iter().map(|&v| b.use_var(v)).collect();
        let grad: Vec<Value> = gs.iter().map(|&v| b.use_var(v)).collect();
        let prev: Vec<Value> = ps.iter().map(|&v| b.use_var(v)).collect();
        let f = b.use_var(fv);
        let k = b.use_var(kv);
        let mask = b.use_var(maskv);

        // The step, as `first_order.rs` takes it, and `f64::clamp`.
        let mut bounds = Vec::new();
        let xn: Vec<Value> = (0..n)
            .map(|i| {
                let lr = param(&mut b, LR);
                let t = b.ins().fmul(lr, grad[i]);
                let mut v = b.ins().fsub(x[i], t);
                if variant.project {
                    let lo = param(&mut b, BOUNDS + i);
                    let hi = param(&mut b, BOUNDS + n + i);
                    let below = b.ins().fcmp(FloatCC::LessThan, v, lo);
                    v = b.ins().select(below, lo, v);
                    let above = b.ins().fcmp(FloatCC::GreaterThan, v, hi);
                    v = b.ins().select(above, hi, v);
                    bounds.push((lo, hi));
                }
                v
            })
            .collect();

        // Value and gradient at the new point.
        let mut bases = Bases {
            inputs: Inputs::Registers(xn.clone()),
            // Never read: one chunk has no scratch slots (checked above).
            scratch: state,
            consts,
            recent: Vec::new(),
            pos: 0,
        };
        let mut outs = Outputs::Registers(vec![None; n + 1]);
        let mut local = HashMap::new();
        g.items(&mut b, 0, &mut bases, &mut local, &mut outs)?;
        let Outputs::Registers(outs) = outs else {
            return Err(codegen_error("outputs"));
        };
        let mut outs = outs
            .into_iter()
            .collect::<Option<Vec<Value>>>()
            .ok_or_else(|| codegen_error("an output was not computed"))?;
        if variant.negate {
            for v in &mut outs {
                *v = b.ins().fneg(*v);
            }
        }
        let (fnew, gnew) = (outs[0], &outs[1..]);
        let k = b.ins().iadd_imm_s(k, 1);

        // What `optim::measure` computes. It starts its sums from 0.0,
        // which changes no comparison made here (only the sign of a zero
        // `dot`), so these start from the first term.
        let s: Vec<Value> = (0..n).map(|i| b.ins().fsub(xn[i], x[i])).collect();
        let mut sums: Option<[Value; 3]> = None;
        for i in 0..n {
            let terms = [
                b.ins().fmul(s[i], s[i]),
                b.ins().fmul(s[i], prev[i]),
                b.ins().fmul(prev[i], prev[i]),
            ];
            sums = Some(match sums {
                None => terms,
                Some(acc) => [0, 1, 2].map(|j| b.ins().fadd(acc[j], terms[j])),
            });
        }
        let Some([step2, dot, prev2]) = sums else {
            return Err(codegen_error("no variables"));
        };
        let product = b.ins().fmul(step2, prev2);
        let root = b.ins().sqrt(product);
        let neg_half = param(&mut b, NEG_HALF);
        let threshold = b.ins().fmul(neg_half, root);
        let reversed = b.ins().fcmp(FloatCC::LessThan, dot, threshold);
        let reversed = b.ins().uextend(types::I64, reversed);
        let shifted = b.ins().ishl_imm_u(mask, 1);
        let mask = b.ins().bor(shifted, reversed);
        let ring_slot = |b: &mut FunctionBuilder, j: Value| {
            let slot = b.ins().band_imm_u(j, (RING - 1) as i64);
            let bytes = b.ins().ishl_imm_u(slot, 3);
            b.ins().iadd(state, bytes)
        };
        let here = ring_slot(&mut b, k);
        b.ins().store(mem(), fnew, here, offset(l.ring()));
        for i in 0..n {
            b.def_var(xs[i], xn[i]);
            b.def_var(gs[i], gnew[i]);
            b.def_var(ps[i], s[i]);
        }
        b.def_var(fv, fnew);
        b.def_var(kv, k);
        b.def_var(maskv, mask);

        // Might a stopping test pass? Each test branches to `exit` or on
        // to the next; the usual path takes no branch to `exit`.
        let next = |b: &mut FunctionBuilder, stop: Value| {
            let block = b.create_block();
            b.ins().brif(stop, exit, &[], block, &[]);
            b.switch_to_block(block);
            b.seal_block(block);
        };
        // Not finite: `f + Σ g - itself` is NaN (an overflowing sum only
        // returns early, to Rust's exact test).
        let sum = gnew.iter().fold(fnew, |acc, &gi| b.ins().fadd(acc, gi));
        let nothing = b.ins().fsub(sum, sum);
        let not_finite = b.ins().fcmp(FloatCC::Unordered, nothing, nothing);
        next(&mut b, not_finite);
        // gtol: every component small, or pushing against an active bound.
        let not_small = b.create_block();
        let zero = param(&mut b, ZERO);
        for i in 0..n {
            let gtol = param(&mut b, GTOL);
            let neg_gtol = param(&mut b, NEG_GTOL);
            let below = b.ins().fcmp(FloatCC::LessThanOrEqual, gnew[i], gtol);
            let above = b.ins().fcmp(FloatCC::GreaterThanOrEqual, gnew[i], neg_gtol);
            let mut small = b.ins().band(below, above);
            if let Some(&(lo, hi)) = bounds.get(i) {
                let pos = b.ins().fcmp(FloatCC::GreaterThan, gnew[i], zero);
                let neg = b.ins().fcmp(FloatCC::LessThan, gnew[i], zero);
                let at_lo = b.ins().fcmp(FloatCC::LessThanOrEqual, xn[i], lo);
                let at_hi = b.ins().fcmp(FloatCC::GreaterThanOrEqual, xn[i], hi);
                let push_lo = b.ins().band(at_lo, pos);
                let push_hi = b.ins().band(at_hi, neg);
                let held = b.ins().bor(push_lo, push_hi);
                small = b.ins().bor(small, held);
            }
            let then = if i + 1 == n { exit } else { b.create_block() };
            b.ins().brif(small, then, &[], not_small, &[]);
            if then != exit {
                b.switch_to_block(then);
                b.seal_block(then);
            }
        }
        b.switch_to_block(not_small);
        b.seal_block(not_small);
        if variant.ftol {
            let ftol = param(&mut b, FTOL);
            let decrease = b.ins().fsub(f, fnew);
            let went_down = b.ins().fcmp(FloatCC::GreaterThan, decrease, zero);
            let within = b.ins().fcmp(FloatCC::LessThanOrEqual, decrease, ftol);
            let small_decrease = b.ins().band(went_down, within);
            let stood_still = b.ins().fcmp(FloatCC::Equal, step2, zero);
            let stop = b.ins().bor(small_decrease, stood_still);
            next(&mut b, stop);
        }
        if variant.xtol {
            let xtol2 = param(&mut b, XTOL2);
            let short = b.ins().fcmp(FloatCC::LessThanOrEqual, step2, xtol2);
            next(&mut b, short);
        }
        // Oscillation, `Recent::oscillating`: most steps of the window
        // turned back (cheap, tested first), and f is no lower than at its
        // start. (Before a full window, the bits of missing iterations are
        // 0 and their ring slots may hold anything: at worst the loop
        // returns to Rust's exact test early.)
        let budget_test = b.create_block();
        let recent_bits = b.ins().band_imm_u(mask, (1 << (WINDOW + 1)) - 1);
        let turns = b.ins().popcnt(recent_bits);
        let turning =
            b.ins()
                .icmp_imm_u(IntCC::UnsignedGreaterThanOrEqual, turns, WINDOW as i64 - 1);
        let progress_test = b.create_block();
        b.ins().brif(turning, progress_test, &[], budget_test, &[]);
        b.switch_to_block(progress_test);
        b.seal_block(progress_test);
        let back = b.ins().iadd_imm_s(k, -(WINDOW as i64));
        let there = ring_slot(&mut b, back);
        let first = b.ins().load(types::F64, mem(), there, offset(l.ring()));
        let abs_first = b.ins().fabs(first);
        let tiny = param(&mut b, TINY);
        // `f64::max`, which prefers the number to a NaN.
        let larger = b.ins().fcmp(FloatCC::GreaterThan, abs_first, tiny);
        let scale = b.ins().select(larger, abs_first, tiny);
        let rel = param(&mut b, REL);
        let margin = b.ins().fmul(rel, scale);
        let floor = b.ins().fsub(first, margin);
        let no_progress = b.ins().fcmp(FloatCC::GreaterThanOrEqual, fnew, floor);
        b.ins().brif(no_progress, exit, &[], budget_test, &[]);
        b.switch_to_block(budget_test);
        b.seal_block(budget_test);
        let spent = b.ins().icmp(IntCC::Equal, k, end);
        b.ins().brif(spent, exit, &[], header, &[]);
        b.seal_block(header);

        b.switch_to_block(exit);
        b.seal_block(exit);
        for i in 0..n {
            b.ins().store(mem(), xn[i], state, offset(l.x() + i));
            b.ins().store(mem(), gnew[i], state, offset(l.grad() + i));
            b.ins()
                .store(mem(), s[i], state, offset(l.previous_step() + i));
            b.ins().store(mem(), x[i], state, offset(l.last_x() + i));
        }
        b.ins().store(mem(), fnew, state, offset(l.f()));
        b.ins().store(mem(), f, state, offset(l.last_f()));
        b.ins().store(mem(), k, counters, 0);
        b.ins().store(mem(), mask, counters, 8);
        let done = b.ins().isub(k, k0);
        b.ins().return_(&[done]);
        b.finalize(g.module.target_config());
    }
    let result = g.module.define_function(id, &mut ctx);
    g.module.clear_context(&mut ctx);
    result.map_err(codegen_error)?;
    Ok(id)
}
