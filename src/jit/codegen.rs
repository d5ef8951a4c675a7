//! Code generation: each chunk of the schedule as one Cranelift function.
//!
//! [`generate`] builds each chunk as one basic block in schedule order,
//! using native instructions for arithmetic, `sqrt`, `abs`, `floor`, `ceil`
//! (one instruction with SSE4.1), `min`/`max` (Cranelift's `fmin`/`fmax`
//! propagate NaN and order `-0 < +0`, like
//! [`builtins::min`](crate::builtins::min)/[`builtins::max`](crate::builtins::max))
//! and `sign` (compares and selects), and calls to `extern "C"` wrappers
//! around Rust's own `f64` methods (`libm.rs`) for the transcendental
//! functions, so both evaluators share one libm. A `sin` and a `cos` of
//! one operand in one chunk are one call to the C library's `sincos`
//! (which gives their bits: `libm.rs`), as LLVM makes them in
//! hand-written Rust; nested `sin`'s gradient needs both at every level.
//!
//! The same items serve the batch loop's two rows at once
//! ([`Inputs::Pairs`]): every value is then an `f64x2`, one row per lane,
//! and the operations without a lane-wise form that gives the scalar bits
//! (see [`lane_wise`]) run lane by lane through the scalar instructions.
//!
//! A variable used again within [`RECENT_WINDOW`] items reuses the register
//! of its last load (for at most [`RECENT_VARS`] variables at once, and
//! never across a call, which clobbers every float register). Folding does
//! not make that load free: Cranelift folds a load into an instruction only
//! if the load is used once and the instruction's own result is too
//! (transitively), so loads feeding any shared value are separate
//! instructions, 9 bytes each at large offsets. Reuse cut Rosenbrock's code
//! from 105 to 81 bytes per term, which matters when the code is larger
//! than the L2 cache and each call fetches it anew.
//!
//! Cranelift runs with `opt_level=none`: at `speed` its e-graph pass
//! re-places every pure instruction just before its first side-effecting
//! use, which undoes the schedule (the whole value sum lands before its
//! final store, with every gradient piece live across it: measured 2-3x
//! slower code and 3x slower compilation on Rosenbrock). Its other gains
//! (value numbering, constant folding) the lowering already has, and
//! instruction selection and register allocation are the same.

use std::collections::HashMap;
use std::sync::OnceLock;

use cranelift_codegen::Context;
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::immediates::Ieee64;
use cranelift_codegen::ir::{
    AbiParam, FuncRef, InstBuilder, MemFlagsData, Signature, StackSlotData, StackSlotKind, Value,
    types,
};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::JITModule;
use cranelift_module::{DataDescription, DataId, FuncId, Module};

mod pairs;

use super::chunk::Plan;
use super::frame;
use super::libm::{HAS_SINCOS, declare};
use super::lower::{Callee, Op, Operand, Program};
use super::{MAX_INDEX, codegen_error, too_large};
use crate::builtins::Func;
use crate::error::Error;
use pairs::{join_lanes, lane_wise, release_output, store_lanes, store_side_by_side, unaligned};

/// Variables kept in registers after a load, for reuse by nearby items.
const RECENT_VARS: usize = 4;

/// How many items apart two uses of a variable may be to share one load.
const RECENT_WINDOW: usize = 16;

/// A chunk with at most this many uses of constants takes them from
/// Cranelift's constant pool, addressed from the instruction pointer,
/// rather than from the module's table, whose address costs an
/// instruction and a register in each chunk: that instruction was one of
/// the parabola's 12. The pool holds 16 bytes per use (Cranelift shares
/// no entries), so large chunks keep the table, 8 bytes per constant.
const POOL_CONSTANT_USES: usize = 32;

/// The Cranelift target for this machine, built once: `opt_level=none`
/// (see this module's documentation) and every feature the CPU has (SSE4.1 makes `floor`/`ceil` one
/// instruction; without it Cranelift calls `libm.rs`'s `slope_floor`/`slope_ceil`).
pub(super) fn host_isa() -> Result<OwnedTargetIsa, Error> {
    static ISA: OnceLock<Result<OwnedTargetIsa, String>> = OnceLock::new();
    ISA.get_or_init(|| {
        let mut flags = settings::builder();
        let verify = if cfg!(debug_assertions) {
            "true"
        } else {
            "false"
        };
        for (name, value) in [
            // Not `speed`: its e-graph pass would reorder the schedule.
            ("opt_level", "none"),
            ("is_pic", "false"),
            ("use_colocated_libcalls", "false"),
            ("enable_verifier", verify),
            // Loads of constants and inputs must stay one per use (see
            // `Generator::operand`); merging them lengthens live ranges.
            ("enable_alias_analysis", "false"),
        ] {
            flags.set(name, value).map_err(|e| e.to_string())?;
        }
        let isa = cranelift_native::builder()?;
        isa.finish(settings::Flags::new(flags))
            .map_err(|e| e.to_string())
    })
    .clone()
    .map_err(codegen_error)
}

/// What the entry function takes: only what its code reads, so that a
/// caller passes no argument the code ignores (on the tiniest formulas
/// each is an instruction of a call that costs about 20).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum EntryKind {
    /// `(x) -> f64`: one chunk, no scratch, one output (or none).
    Value,
    /// `(x, rest) -> f64`: one chunk, no scratch.
    Rest,
    /// `(x, rest, scratch) -> f64`: several chunks, or scratch.
    Scratch,
}

impl EntryKind {
    /// The entry [`generate`] makes for code of `n_outputs` outputs cut
    /// as `plan` cuts it.
    pub(super) fn of(plan: &Plan, n_outputs: usize) -> EntryKind {
        match (plan.chunks.len(), plan.scratch_len, n_outputs) {
            (1, 0, 0 | 1) => EntryKind::Value,
            (1, 0, _) => EntryKind::Rest,
            _ => EntryKind::Scratch,
        }
    }

    fn n_params(self) -> usize {
        match self {
            EntryKind::Value => 1,
            EntryKind::Rest => 2,
            EntryKind::Scratch => 3,
        }
    }
}

/// Emits the chunks (and a driver if there are several) and returns the
/// entry function, of the signature [`EntryKind::of`] gives: output 0
/// comes back in a register, as a hand-written function returns its value,
/// rather than through memory the caller then reads. One chunk is the
/// entry itself; several chunks take `(x, first, rest, scratch)`, and the
/// driver lends them a stack slot for output 0 and returns what it holds.
pub(super) fn generate(module: &mut JITModule, p: &Program, plan: &Plan) -> Result<FuncId, Error> {
    let ptr = module.target_config().pointer_type();
    let kind = EntryKind::of(plan, p.outputs.len());
    let mut entry = module.make_signature();
    for _ in 0..kind.n_params() {
        entry.params.push(AbiParam::new(ptr));
    }
    entry.returns.push(AbiParam::new(types::F64));
    let mut g = Generator::new(module, p, plan)?;
    if plan.chunks.len() == 1 {
        return g.chunk(0, &entry, true);
    }
    let mut part = g.module.make_signature();
    for _ in 0..4 {
        part.params.push(AbiParam::new(ptr));
    }
    let mut ids = Vec::with_capacity(plan.chunks.len());
    for c in 0..plan.chunks.len() {
        ids.push(g.chunk(c, &part, false)?);
    }
    g.driver(&ids, &entry)
}

/// Builds the functions of one module from one program and plan.
pub(super) struct Generator<'a> {
    pub(super) module: &'a mut JITModule,
    p: &'a Program,
    plan: &'a Plan,
    /// The index of each constant in the module's constant table.
    constants: HashMap<u64, u32>,
    const_data: Option<DataId>,
    /// The constants twice each, for code on pairs of rows (defined by
    /// [`Generator::pair_constant_base`]).
    pair_data: Option<DataId>,
    ctx: Option<Context>,
    fctx: FunctionBuilderContext,
    /// Wrapper functions declared in the module so far.
    imports: HashMap<Callee, FuncId>,
    /// The value of each instruction of the current chunk.
    values: Vec<Option<Value>>,
    /// For a call to `sin` or `cos`, the call to the other of one operand
    /// (`u32::MAX` if none, or if the C library has no `sincos`).
    partner: Vec<u32>,
}

/// Loads and stores of `x`, `out` and the scratch: aligned, in bounds, and
/// never trapping.
pub(super) fn mem() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Loads of `x` and of the constant table, which nothing writes while the
/// code runs: Cranelift may fold such a load into the instruction using it
/// wherever that is.
pub(super) fn fixed() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly()
}

/// The byte offset of element `i` (below [`MAX_INDEX`], so it fits).
pub(super) fn offset(i: usize) -> i32 {
    (i * 8) as i32
}

impl<'a> Generator<'a> {
    /// A generator for `p` as `plan` cuts it, its constant table defined in
    /// `module`.
    pub(super) fn new(
        module: &'a mut JITModule,
        p: &'a Program,
        plan: &'a Plan,
    ) -> Result<Generator<'a>, Error> {
        let (constants, const_data) = constant_table(module, p)?;
        Ok(Generator {
            module,
            p,
            plan,
            constants,
            const_data,
            pair_data: None,
            ctx: None,
            fctx: FunctionBuilderContext::new(),
            imports: HashMap::new(),
            values: vec![None; p.instrs.len()],
            partner: sin_cos_partners(p),
        })
    }

    /// The address of the constant table in the function `b` builds, if
    /// there are constants.
    pub(super) fn constant_base(&mut self, b: &mut FunctionBuilder) -> Option<Value> {
        let d = self.const_data?;
        let gv = self.module.declare_data_in_func(d, b.func);
        let ptr = self.module.target_config().pointer_type();
        Some(b.ins().symbol_value(ptr, gv))
    }

    /// Defines one chunk function of signature `sig` and returns its id:
    /// an entry (see [`EntryKind`]) returning output 0 if `returns`, else
    /// `(x, first, rest, scratch)` storing it to `first[0]`.
    fn chunk(&mut self, c: usize, sig: &Signature, returns: bool) -> Result<FuncId, Error> {
        self.define(sig, |this, b, params| {
            // An entry leaves out what its code never reads (`EntryKind`):
            // `x` stands in for it, and is never used in its place.
            let (x, first, rest, scratch) = match *params {
                [x] => (x, x, x, x),
                [x, rest] => (x, x, rest, x),
                [x, rest, scratch] => (x, x, rest, scratch),
                [x, first, rest, scratch] => (x, first, rest, scratch),
                _ => unreachable!("chunks take one to four pointers"),
            };
            let consts = match this.constant_uses(c) <= POOL_CONSTANT_USES {
                true => None,
                false => this.constant_base(b),
            };
            let mut bases = Bases {
                inputs: Inputs::Memory(x),
                scratch,
                consts,
                recent: Vec::with_capacity(RECENT_VARS),
                pos: 0,
            };
            let mut local: HashMap<Callee, FuncRef> = HashMap::new();
            let mut outputs = match returns {
                true => Outputs::Return { first: None, rest },
                false => Outputs::Memory { first, rest },
            };
            this.items(b, c, &mut bases, &mut local, &mut outputs)?;
            Ok(match outputs {
                // No outputs: nothing to return, but the signature has a
                // value (callers never call code without outputs).
                Outputs::Return { first, .. } => {
                    Some(first.unwrap_or_else(|| b.ins().f64const(f64::NAN)))
                }
                _ => None,
            })
        })
    }

    /// Emits chunk `c`'s instructions and outputs into the current block.
    pub(super) fn items(
        &mut self,
        b: &mut FunctionBuilder,
        c: usize,
        bases: &mut Bases,
        local: &mut HashMap<Callee, FuncRef>,
        outputs: &mut Outputs,
    ) -> Result<(), Error> {
        let n = self.p.instrs.len();
        // Results of `sincos` calls for the later of each pair.
        let mut fused: Vec<(usize, Value)> = Vec::new();
        for (pos, &v) in self.plan.chunks[c].iter().enumerate() {
            bases.pos = pos;
            let v = v as usize;
            let Some(instr) = self.p.instrs.get(v) else {
                let k = v - n;
                let val = self.operand(b, c, bases, self.p.outputs[k]);
                store_output(b, outputs, k, val);
                continue;
            };
            if let Some(k) = fused.iter().position(|&(i, _)| i == v) {
                let (_, r) = fused.swap_remove(k);
                self.computed(b, bases, v, r);
                continue;
            }
            let [mut first, mut second] = instr.args;
            // x86 can read the second operand from memory: put a loaded
            // one there (sums and products commute exactly in IEEE 754).
            if matches!(instr.op, Op::Add | Op::Mul)
                && self.is_loaded(c, bases, first)
                && !self.is_loaded(c, bases, second)
            {
                std::mem::swap(&mut first, &mut second);
            }
            let (a, arg2) = if instr.op.arity() == 1 || second == first {
                let a = self.operand(b, c, bases, first);
                (a, a)
            } else if bases.pairs() && matches!(first, Operand::Const(_)) {
                // A constant's load goes into the `movddup` that splats
                // it only if no other load comes between: load it last.
                let arg2 = self.operand(b, c, bases, second);
                (self.operand(b, c, bases, first), arg2)
            } else {
                let a = self.operand(b, c, bases, first);
                (a, self.operand(b, c, bases, second))
            };
            let partner = self.partner[v] as usize;
            let r = if partner != u32::MAX as usize && self.plan.chunk_of[partner] as usize == c {
                // The first of a `sin` and a `cos` of one operand in this
                // chunk (the second would have found itself in `fused`);
                // for two rows, one call per lane.
                let [sin, cos] = if bases.pairs() {
                    let (mut sin, mut cos) = ([a; 2], [a; 2]);
                    for (lane, (s_lane, c_lane)) in sin.iter_mut().zip(&mut cos).enumerate() {
                        let x = b.ins().extractlane(a, lane as u8);
                        [*s_lane, *c_lane] = self.sin_cos(b, bases, local, x)?;
                    }
                    [sin, cos].map(|lanes| join_lanes(b, lanes))
                } else {
                    self.sin_cos(b, bases, local, a)?
                };
                let (mine, other) = match instr.op {
                    Op::Call(Callee::F1(Func::Sin)) => (sin, cos),
                    _ => (cos, sin),
                };
                fused.push((partner, other));
                mine
            } else if bases.pairs() && !lane_wise(instr.op) {
                // One lane at a time, as the scalar code does it.
                let mut lanes = [a; 2];
                for (lane, r) in lanes.iter_mut().enumerate() {
                    let lane = lane as u8;
                    let a = b.ins().extractlane(a, lane);
                    let arg2 = b.ins().extractlane(arg2, lane);
                    *r = self.apply(b, bases, local, instr.op, a, arg2)?;
                }
                join_lanes(b, lanes)
            } else {
                self.apply(b, bases, local, instr.op, a, arg2)?
            };
            self.computed(b, bases, v, r);
        }
        release_output(b, outputs);
        Ok(())
    }

    /// Records `r` as instruction `v`'s value, and stores it to its
    /// scratch slot if a later chunk uses it.
    fn computed(&mut self, b: &mut FunctionBuilder, bases: &Bases, v: usize, r: Value) {
        self.values[v] = Some(r);
        if let Some(&s) = self.plan.slot.get(v).filter(|&&s| s != u32::MAX) {
            b.ins().store(mem(), r, bases.scratch, offset(s as usize));
        }
    }

    /// `[sin(a), cos(a)]` from one call to the C library's `sincos`, which
    /// writes them to a stack slot: the bits of the two calls it replaces
    /// for about the price of one.
    fn sin_cos(
        &mut self,
        b: &mut FunctionBuilder,
        bases: &mut Bases,
        local: &mut HashMap<Callee, FuncRef>,
        a: Value,
    ) -> Result<[Value; 2], Error> {
        let f = self.func_ref(b, local, Callee::SinCos)?;
        let slot =
            b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 16, 3));
        let ptr = self.module.target_config().pointer_type();
        let sin = b.ins().stack_addr(ptr, slot, 0);
        let cos = b.ins().stack_addr(ptr, slot, 8);
        b.ins().call(f, &[a, sin, cos]);
        bases.recent.clear();
        Ok([0, 8].map(|at| b.ins().stack_load(ptr, types::F64, slot, at)))
    }

    /// The function `callee` calls, declared in the function `b` builds.
    fn func_ref(
        &mut self,
        b: &mut FunctionBuilder,
        local: &mut HashMap<Callee, FuncRef>,
        callee: Callee,
    ) -> Result<FuncRef, Error> {
        if let Some(&f) = local.get(&callee) {
            return Ok(f);
        }
        let fid = self.import(callee)?;
        let f = self.module.declare_func_in_func(fid, b.func);
        local.insert(callee, f);
        Ok(f)
    }

    /// `op` on `a` (and `arg2`, for two arguments), of type `f64`, or
    /// `f64x2` for the operations [`lane_wise`] lists.
    fn apply(
        &mut self,
        b: &mut FunctionBuilder,
        bases: &mut Bases,
        local: &mut HashMap<Callee, FuncRef>,
        op: Op,
        a: Value,
        arg2: Value,
    ) -> Result<Value, Error> {
        Ok(match op {
            Op::Add => b.ins().fadd(a, arg2),
            Op::Sub => b.ins().fsub(a, arg2),
            Op::Mul => b.ins().fmul(a, arg2),
            Op::Div => b.ins().fdiv(a, arg2),
            Op::Min => b.ins().fmin(a, arg2),
            Op::Max => b.ins().fmax(a, arg2),
            Op::Sqrt => b.ins().sqrt(a),
            Op::Abs => b.ins().fabs(a),
            Op::Floor => b.ins().floor(a),
            Op::Ceil => b.ins().ceil(a),
            Op::Sign => {
                let [zero, one, minus_one, nan] =
                    [0.0, 1.0, -1.0, f64::NAN].map(|v| self.constant(b, bases, v.to_bits()));
                let gt = b.ins().fcmp(FloatCC::GreaterThan, a, zero);
                let lt = b.ins().fcmp(FloatCC::LessThan, a, zero);
                let eq = b.ins().fcmp(FloatCC::Equal, a, zero);
                let r = b.ins().select(eq, zero, nan);
                let r = b.ins().select(lt, minus_one, r);
                b.ins().select(gt, one, r)
            }
            Op::Call(callee) => {
                let f = self.func_ref(b, local, callee)?;
                let args = [a, arg2];
                let call = b.ins().call(f, &args[..op.arity()]);
                // A call clobbers every float register: reload
                // variables after it rather than spill them.
                bases.recent.clear();
                b.inst_results(call)[0]
            }
        })
    }

    /// An operand's value in chunk `c`: loaded from `x` or the scratch, a
    /// constant, or computed earlier in the chunk. Two rows' values in the
    /// lanes of an `f64x2` where [`Bases::pairs`].
    fn operand(&self, b: &mut FunctionBuilder, c: usize, bases: &mut Bases, a: Operand) -> Value {
        match a {
            Operand::Var(i) => {
                let x = match &bases.inputs {
                    Inputs::Memory(x) => *x,
                    Inputs::Registers(values) => return values[i as usize],
                    Inputs::Pairs { .. } => return self.gather(b, bases, i),
                };
                if let Some(v) = bases.recent_var(i) {
                    return v;
                }
                let v = b.ins().load(types::F64, fixed(), x, offset(i as usize));
                bases.remember_var(i, v);
                v
            }
            Operand::Const(bits) => match (&bases.inputs, self.constants.get(&bits)) {
                (
                    Inputs::Pairs {
                        consts: Some(base), ..
                    },
                    Some(&k),
                ) => {
                    let at = 2 * offset(k as usize);
                    b.ins().load(types::F64X2, fixed(), *base, at)
                }
                (Inputs::Pairs { .. }, _) => {
                    // Not reached: code on pairs of rows has the table.
                    let v = self.constant(b, bases, bits);
                    b.ins().splat(types::F64X2, v)
                }
                _ => self.constant(b, bases, bits),
            },
            Operand::Instr(j) => {
                let j = j as usize;
                match self.values[j] {
                    Some(v) if self.plan.chunk_of[j] as usize == c => v,
                    // Code of one chunk (all that `Pairs` is used for)
                    // has no scratch.
                    _ => {
                        let s = self.plan.slot[j] as usize;
                        b.ins().load(types::F64, mem(), bases.scratch, offset(s))
                    }
                }
            }
        }
    }

    /// The constant of bit pattern `bits`, as an `f64`.
    fn constant(&self, b: &mut FunctionBuilder, bases: &Bases, bits: u64) -> Value {
        match (bases.consts, self.constants.get(&bits)) {
            (Some(base), Some(&k)) => b.ins().load(types::F64, fixed(), base, offset(k as usize)),
            // A small chunk, which uses Cranelift's constant pool
            // ([`POOL_CONSTANT_USES`]; the table holds every constant).
            _ => b.ins().f64const(Ieee64::with_bits(bits)),
        }
    }

    /// How many times chunk `c` reads a constant (a `sign` reads four).
    fn constant_uses(&self, c: usize) -> usize {
        let n = self.p.instrs.len();
        let is_const = |a: &Operand| matches!(a, Operand::Const(_));
        self.plan.chunks[c]
            .iter()
            .map(|&v| match self.p.instrs.get(v as usize) {
                Some(instr) if instr.op == Op::Sign => 4,
                Some(instr) => instr.operands().iter().filter(|a| is_const(a)).count(),
                None => usize::from(is_const(&self.p.outputs[v as usize - n])),
            })
            .sum()
    }

    /// The operand is read from memory in chunk `c`, not computed in it
    /// or loaded just before.
    fn is_loaded(&self, c: usize, bases: &Bases, a: Operand) -> bool {
        match a {
            // A pair of rows counts as loaded (though it is gathered into
            // a register) so that its code orders operands as the scalar
            // code does: NaNs propagate the same way.
            Operand::Var(i) => {
                matches!(bases.inputs, Inputs::Memory(_) | Inputs::Pairs { .. })
                    && bases.peek_var(i).is_none()
            }
            Operand::Const(_) => true,
            Operand::Instr(j) => self.plan.chunk_of[j as usize] as usize != c,
        }
    }

    fn import(&mut self, callee: Callee) -> Result<FuncId, Error> {
        if let Some(&id) = self.imports.get(&callee) {
            return Ok(id);
        }
        let id = declare(self.module, callee)?;
        self.imports.insert(callee, id);
        Ok(id)
    }

    /// The entry of signature `sig`, `(x, rest, scratch) -> f64`, calling
    /// the chunks in order with its arguments and, for `first`, a stack
    /// slot, whose value it returns.
    fn driver(&mut self, chunks: &[FuncId], sig: &Signature) -> Result<FuncId, Error> {
        self.define(sig, |this, b, params| {
            let slot =
                b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 8, 3));
            let ptr = this.module.target_config().pointer_type();
            let first = b.ins().stack_addr(ptr, slot, 0);
            let args = [params[0], first, params[1], params[2]];
            for &chunk in chunks {
                let f = this.module.declare_func_in_func(chunk, b.func);
                b.ins().call(f, &args);
            }
            Ok(Some(b.ins().load(types::F64, mem(), first, 0)))
        })
    }

    /// Declares a function of signature `sig`, builds its one block with
    /// `body` (given the builder and the block's parameters), returns from
    /// it what `body` gives, and defines it. The Cranelift contexts are
    /// reused from one function to the next.
    fn define(
        &mut self,
        sig: &Signature,
        body: impl FnOnce(&mut Self, &mut FunctionBuilder, &[Value]) -> Result<Option<Value>, Error>,
    ) -> Result<FuncId, Error> {
        let id = self
            .module
            .declare_anonymous_function(sig)
            .map_err(codegen_error)?;
        let mut ctx = self
            .ctx
            .take()
            .unwrap_or_else(|| self.module.make_context());
        ctx.func.signature = sig.clone();
        let mut fctx = std::mem::take(&mut self.fctx);
        {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
            let block = b.create_block();
            b.append_block_params_for_function_params(block);
            b.switch_to_block(block);
            b.seal_block(block);
            let params = b.block_params(block).to_vec();
            let returned = body(self, &mut b, &params)?;
            b.set_srcloc(frame::return_mark());
            b.ins().return_(returned.as_slice());
            b.finalize(self.module.target_config());
        }
        self.fctx = fctx;
        let result = frame::define(self.module, id, &mut ctx);
        self.module.clear_context(&mut ctx);
        self.ctx = Some(ctx);
        result?;
        Ok(id)
    }
}

/// Where a chunk reads the variables.
pub(super) enum Inputs {
    /// From `x` in memory, the entry point's first argument.
    Memory(Value),
    /// Already in SSA values (the descent kernel's loop).
    Registers(Vec<Value>),
    /// From two rows of a batch at once (the batch kernel's vector loop),
    /// starting at these addresses: every value of the chunk is then an
    /// `f64x2` holding the first row's number in lane 0 and the second's
    /// in lane 1.
    ///
    /// `consts` is [`Generator::pair_constant_base`]; a row holds `n_vars`
    /// values; `spare` is the variable gathered with the last one, `(index,
    /// value, position)` (start with `None`).
    Pairs {
        rows: [Value; 2],
        consts: Option<Value>,
        n_vars: u32,
        spare: Option<(u32, Value, usize)>,
    },
}

/// Where a chunk puts its outputs.
pub(super) enum Outputs {
    /// Stored to memory: output 0 to `first[0]`, output `k > 0` to
    /// `rest[k - 1]`, so that a value and its gradient go straight where
    /// the caller keeps them.
    Memory { first: Value, rest: Value },
    /// Output 0 kept in its SSA value (`None` until generated), to be
    /// returned; the others stored to `rest` as in `Memory`.
    Return { first: Option<Value>, rest: Value },
    /// Left in SSA values, by output index.
    Registers(Vec<Option<Value>>),
    /// Two rows' outputs (with [`Inputs::Pairs`]): output 0 of both to
    /// `first[0..2]` in one store, output `k > 0` of row `r` to
    /// `rest[r][k - 1]`. `held` is an output `(k - 1, value)` not stored
    /// yet, in case its neighbour comes next (start with `None`).
    Pairs {
        first: Value,
        rest: [Value; 2],
        held: Option<(usize, Value)>,
    },
}

/// Stores (or keeps) output `k`, of value `val`, where `outputs` says.
fn store_output(b: &mut FunctionBuilder, outputs: &mut Outputs, k: usize, val: Value) {
    match (outputs, k.checked_sub(1)) {
        (Outputs::Memory { first, .. }, None) => {
            b.ins().store(mem(), val, *first, 0);
        }
        (Outputs::Return { first, .. }, None) => *first = Some(val),
        (Outputs::Memory { rest, .. } | Outputs::Return { rest, .. }, Some(r)) => {
            b.ins().store(mem(), val, *rest, offset(r));
        }
        (Outputs::Registers(values), _) => values[k] = Some(val),
        (Outputs::Pairs { first, .. }, None) => {
            b.ins().store(unaligned(), val, *first, 0);
        }
        (Outputs::Pairs { rest, held, .. }, Some(r)) => match held.take() {
            // Outputs `k - 1` and `k`, or `k` and `k + 1`: side by side in
            // each row, stored with one shuffle and one store per row.
            Some((h, v)) if h + 1 == r => store_side_by_side(b, *rest, h, v, val),
            Some((h, v)) if h == r + 1 => store_side_by_side(b, *rest, r, val, v),
            other => {
                if let Some((h, v)) = other {
                    store_lanes(b, *rest, h, v);
                }
                *held = Some((r, val));
            }
        },
    }
}

/// Where a chunk's operands live.
pub(super) struct Bases {
    pub(super) inputs: Inputs,
    pub(super) scratch: Value,
    /// The constant table, if there are constants.
    pub(super) consts: Option<Value>,
    /// Variables loaded lately: `(index, value, position of last use)`.
    pub(super) recent: Vec<(u32, Value, usize)>,
    /// The position in the chunk of the item being generated.
    pub(super) pos: usize,
}

impl Bases {
    /// The chunk works on two rows at once, in `f64x2` values.
    pub(super) fn pairs(&self) -> bool {
        matches!(self.inputs, Inputs::Pairs { .. })
    }

    /// The loaded value of variable `i`, if it was used within the last
    /// [`RECENT_WINDOW`] items.
    fn peek_var(&self, i: u32) -> Option<Value> {
        self.recent
            .iter()
            .find(|&&(k, _, at)| k == i && at + RECENT_WINDOW >= self.pos)
            .map(|&(_, v, _)| v)
    }

    fn recent_var(&mut self, i: u32) -> Option<Value> {
        let pos = self.pos;
        let entry = self
            .recent
            .iter_mut()
            .find(|(k, _, at)| *k == i && *at + RECENT_WINDOW >= pos)?;
        entry.2 = pos;
        Some(entry.1)
    }

    /// Keeps `v`, the value of variable `i`, in place of the least recently
    /// used variable.
    fn remember_var(&mut self, i: u32, v: Value) {
        let entry = (i, v, self.pos);
        if let Some(old) = self.recent.iter_mut().find(|(k, _, _)| *k == i) {
            *old = entry;
        } else if self.recent.len() < RECENT_VARS {
            self.recent.push(entry);
        } else if let Some(oldest) = self.recent.iter_mut().min_by_key(|(_, _, at)| *at) {
            *oldest = entry;
        }
    }
}

/// The constants as a read-only table in the module. Code loads a constant
/// at each use rather than materialising it: Cranelift merges equal
/// constants into one value, which would then stay live (in a register or
/// spilled) across the whole chunk, and costs the register allocator dearly.
/// Small chunks use Cranelift's constant pool instead, one `f64const` per
/// use ([`POOL_CONSTANT_USES`]), which each instruction reads in place.
fn constant_table(
    module: &mut JITModule,
    p: &Program,
) -> Result<(HashMap<u64, u32>, Option<DataId>), Error> {
    let mut index: HashMap<u64, u32> = HashMap::new();
    let mut bytes: Vec<u8> = Vec::new();
    let mut add = |bits: u64| {
        index.entry(bits).or_insert_with(|| {
            bytes.extend_from_slice(&bits.to_ne_bytes());
            (bytes.len() / 8 - 1) as u32
        });
    };
    for instr in &p.instrs {
        for a in instr.operands() {
            if let Operand::Const(bits) = *a {
                add(bits);
            }
        }
        if instr.op == Op::Sign {
            // `sign` selects between these.
            for v in [0.0, 1.0, -1.0, f64::NAN] {
                add(f64::to_bits(v));
            }
        }
    }
    for o in &p.outputs {
        if let Operand::Const(bits) = *o {
            add(bits);
        }
    }
    if bytes.is_empty() {
        return Ok((index, None));
    }
    if index.len() > MAX_INDEX {
        return Err(too_large());
    }
    Ok((index, Some(define_table(module, bytes, 8)?)))
}

/// Defines `bytes` as read-only data in `module`, aligned to `align`.
fn define_table(module: &mut JITModule, bytes: Vec<u8>, align: u64) -> Result<DataId, Error> {
    let id = module
        .declare_anonymous_data(false, false)
        .map_err(codegen_error)?;
    let mut data = DataDescription::new();
    data.define(bytes.into_boxed_slice());
    data.set_align(align);
    module.define_data(id, &data).map_err(codegen_error)?;
    Ok(id)
}

/// For each call to `sin` or `cos` in `p`, the call to the other of the
/// same operand, if there is one and [`HAS_SINCOS`]: the two become one call
/// to `sincos` where they fall in one chunk. Nested `sin` needs both at
/// each level (the value's `sin`, the gradient's `cos`), as do rotations;
/// hand-written Rust gets the same fusion from LLVM.
pub(super) fn sin_cos_partners(p: &Program) -> Vec<u32> {
    let mut partner = vec![u32::MAX; p.instrs.len()];
    if !HAS_SINCOS {
        return partner;
    }
    let mut sin_of: HashMap<Operand, u32> = HashMap::new();
    for (i, instr) in p.instrs.iter().enumerate() {
        if instr.op == Op::Call(Callee::F1(Func::Sin)) {
            sin_of.insert(instr.args[0], i as u32);
        }
    }
    if sin_of.is_empty() {
        return partner;
    }
    for (i, instr) in p.instrs.iter().enumerate() {
        if instr.op == Op::Call(Callee::F1(Func::Cos))
            && let Some(&s) = sin_of.get(&instr.args[0])
        {
            partner[i] = s;
            partner[s as usize] = i as u32;
        }
    }
    partner
}

#[cfg(test)]
mod tests {
    use crate::builtins::{self, Func};
    use crate::graph::Graph;
    use crate::jit::Compiled;
    use crate::jit::testing::{SPECIAL, exclusive};

    #[test]
    fn min_max_propagate_nan_and_order_zeros() {
        let _guard = exclusive();
        let mut g = Graph::new();
        let x = g.var(0);
        let y = g.var(1);
        let lo = g.call2(Func::Min, x, y);
        let hi = g.call2(Func::Max, x, y);
        let c = Compiled::compile(&g, &[lo, hi], 2).unwrap();
        let mut out = [0.0; 2];
        c.call(&[f64::NAN, 1.0], &mut out);
        assert!(out[0].is_nan() && out[1].is_nan());
        c.call(&[1.0, f64::NAN], &mut out);
        assert!(out[0].is_nan() && out[1].is_nan());
        c.call(&[0.0, -0.0], &mut out);
        assert!(out[0] == 0.0 && out[0].is_sign_negative());
        assert!(out[1] == 0.0 && out[1].is_sign_positive());
        c.call(&[-0.0, 0.0], &mut out);
        assert!(out[0].is_sign_negative() && out[1].is_sign_positive());
    }

    #[test]
    fn sign_is_exact() {
        let _guard = exclusive();
        let mut g = Graph::new();
        let x = g.var(0);
        let s = g.call1(Func::Sign, x);
        let c = Compiled::compile(&g, &[s], 1).unwrap();
        let mut out = [0.0];
        for v in SPECIAL {
            c.call(&[v], &mut out);
            let want = builtins::sign(v);
            assert!(
                out[0].to_bits() == want.to_bits() || (want.is_nan() && out[0].is_nan()),
                "sign({v}) = {}",
                out[0]
            );
        }
    }
}
