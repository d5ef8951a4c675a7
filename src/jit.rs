//! Native code for graph outputs, through Cranelift's JIT.
//!
//! [`Compiled::compile`] turns chosen outputs of a [`Graph`] into machine code
//! that writes `outputs[i]` to `out[i]`, in four passes:
//!
//! 1. **Lowering** turns the nodes the outputs need (`graph::reachable`) into a
//!    flat list of scalar instructions that performs exactly the operations of
//!    `eval.rs`, in the same order: a sum is a left-to-right chain of adds; a
//!    product multiplies its numerator left to right, its denominator powers
//!    (`b^e`, constant `e < 0`, computed as `b^-e`) left to right and divides
//!    once; a constant integer power is the multiplication sequence of
//!    [`builtins::powi`]; `^0.5` is `sqrt`, `^-0.5` is `1/sqrt`, other constant
//!    exponents call `powf`, and variable exponents call [`builtins::pow`]. So
//!    compiled and interpreted results agree to the bit (NaN payloads aside).
//!    The one rewrite, `a + (-1*q)` to `a - q`, is exact in IEEE 754.
//!    Instructions are hash-consed, so shared work (a node, or `y*y` in both
//!    `y^2` and `y^3`) is computed once. Variables and constants are not
//!    instructions: they are loaded where they are used (constants from a
//!    read-only table), which keeps them out of registers between distant
//!    uses; x86 often folds the load into the arithmetic.
//! 2. **Scheduling** orders the instructions to keep few values live at once,
//!    because a value live across much code is spilled by the register
//!    allocator (or, between chunks, goes through memory). The base order is a
//!    depth-first post-order from the outputs, in output order, so each value
//!    is computed just before its first use. On top of that, completion is
//!    eager: after each step, an instruction whose operands are all computed,
//!    or are small expressions of the inputs (computed on demand), is computed
//!    at once, those needing only tiny extra work first. So a gradient
//!    component is finished and stored while its pieces are still in
//!    registers, instead of after the whole value sum has kept them all live.
//!    Eagerly computed values waiting for a use are capped ([`EAGER_LIMIT`]),
//!    so a value with many consumers cannot make them all live at once; past
//!    the cap, an item that is the last use of an operand is still completed,
//!    since it ends a live range as it starts one. (For `x1*...*x100` each
//!    partial, prefix times suffix, ends its prefix product, so partials are
//!    stored as the suffix chain descends; without the exception every
//!    suffix product stayed live beside the prefix products, about 200
//!    values, and the register allocator put the product chains themselves
//!    through the stack.) The walks use explicit stacks: graphs may be far
//!    deeper than a thread stack.
//! 3. **Chunking** cuts the schedule into pieces of bounded size
//!    ([`CHUNK_WEIGHT`]), each its own Cranelift function, because register
//!    allocation time grows faster than linearly with function size. A value
//!    used in a later chunk than the one that computes it is stored to a
//!    scratch slot and reloaded there; slots are reused once their value is
//!    dead. When there are several chunks, a small driver calls them in turn.
//!    The scratch is the caller's: on its stack when small, else a per-thread
//!    buffer, so concurrent calls never share it.
//! 4. **Code generation** builds each chunk as one basic block in schedule
//!    order, using native instructions for arithmetic, `sqrt`, `abs`,
//!    `floor`, `ceil` (one instruction with SSE4.1), `min`/`max` (Cranelift's
//!    `fmin`/`fmax` propagate NaN and order `-0 < +0`, like
//!    [`builtins::min`]/[`builtins::max`]) and `sign` (compares and selects),
//!    and calls to `extern "C"` wrappers around Rust's own `f64` methods for
//!    the transcendental functions, so both evaluators share one libm.
//!    A variable used again within [`RECENT_WINDOW`] items reuses the
//!    register of its last load (for at most [`RECENT_VARS`] variables at
//!    once, and never across a call, which clobbers every float register).
//!    Folding does not make that load free: Cranelift folds a load into an
//!    instruction only if the load is used once and the instruction's own
//!    result is too (transitively), so loads feeding any shared value are
//!    separate instructions, 9 bytes each at large offsets. Reuse cut
//!    Rosenbrock's code from 105 to 81 bytes per term, which matters when
//!    the code is larger than the L2 cache and each call fetches it anew.
//!    Cranelift runs with `opt_level=none`: at `speed` its e-graph pass
//!    re-places every pure instruction just before its first side-effecting
//!    use, which undoes the schedule (the whole value sum lands before its
//!    final store, with every gradient piece live across it: measured 2-3x
//!    slower code and 3x slower compilation on Rosenbrock). Its other gains
//!    (value numbering, constant folding) the lowering already has, and
//!    instruction selection and register allocation are the same.
//!
//! Invariants: the native entry point is
//! `extern "C" fn(x: *const f64, out: *mut f64, scratch: *mut f64)`; it reads
//! `x[0..n_vars]`, writes every `out[0..n_outputs]`, and writes each scratch
//! slot before reading it (so the scratch may be uninitialised); it has no
//! other side effects and keeps no state. Variables with an index at or beyond
//! `n_vars` read as NaN, as in the interpreter. The code lives as long as the
//! [`Compiled`] that owns its module, which frees it on drop. A module's
//! code and data share one reservation of address space (`region.rs`), so
//! the PC-relative references between them always reach.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::mem::MaybeUninit;
use std::sync::OnceLock;

use cranelift_codegen::Context;
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::immediates::Ieee64;
use cranelift_codegen::ir::{
    AbiParam, FuncRef, InstBuilder, LibCall, MemFlagsData, Signature, Value, types,
};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{DataDescription, DataId, FuncId, Linkage, Module, default_libcall_names};

use crate::builtins::{self, Func};
use crate::error::{Error, ErrorKind};
use crate::graph::{Graph, Node, NodeId, denominator_exponent, reachable};

mod descent;
mod region;
pub use descent::{DescentKernel, DescentState, Variant};

/// Eagerly computed values that may wait for their next use at one time.
/// Beyond this, ready instructions wait for the depth-first walk instead.
const EAGER_LIMIT: usize = 32;

/// Variables kept in registers after a load, for reuse by nearby items.
const RECENT_VARS: usize = 4;

/// How many items apart two uses of a variable may be to share one load.
const RECENT_WINDOW: usize = 16;

/// The size of one chunk function, in rough machine instructions. Register
/// allocation is fast and the code still good at a few thousand.
const CHUNK_WEIGHT: usize = 2048;

/// Scratch needs up to this many values live on the caller's stack; larger
/// needs use a per-thread buffer.
const STACK_SCRATCH: usize = 512;

/// The largest index of a variable, output or scratch slot: their byte
/// offsets must fit Cranelift's 32-bit load and store offsets.
const MAX_INDEX: usize = (i32::MAX / 8) as usize;

/// The native entry point: `(x, out, scratch)`.
type Entry = unsafe extern "C" fn(*const f64, *mut f64, *mut f64);

/// Graph outputs compiled to native code.
pub struct Compiled {
    entry: Entry,
    n_vars: usize,
    n_outputs: usize,
    /// Values the code passes between its chunks through memory.
    scratch_len: usize,
    /// Owns the code `entry` points into; `None` only during drop.
    module: Option<JITModule>,
    /// The lowered instructions, kept when they could become a descent
    /// loop: a value and gradient small enough for one chunk.
    program: Option<Program>,
    /// Descent loops compiled so far, by [`Variant::index`].
    kernels: [OnceLock<Option<DescentKernel>>; Variant::COUNT],
}

// SAFETY: after `finalize_definitions` the code and its constants are
// immutable, and the function is pure: it reads `x`, writes `out` and its own
// scratch (which every call provides separately), and touches no global
// state, so calling it from several threads at once is sound. The module's
// interior mutability (`RefCell` symbol cache) is used only while compiling,
// before a `Compiled` exists, and by `free_memory` in `drop`, which has
// exclusive access.
unsafe impl Send for Compiled {}
// SAFETY: see `Send` above; `&Compiled` only allows calling the finished code.
unsafe impl Sync for Compiled {}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("n_vars", &self.n_vars)
            .field("n_outputs", &self.n_outputs)
            .field("scratch_len", &self.scratch_len)
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// Scratch for functions needing more than [`STACK_SCRATCH`] values: one
    /// buffer per thread, so calls from several threads never share it.
    static SCRATCH: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

impl Compiled {
    /// Compile the given outputs of `graph` into one native function
    /// writing `outputs[i]` to `out[i]`, reading variables `0..n_vars`.
    pub fn compile(graph: &Graph, outputs: &[NodeId], n_vars: usize) -> Result<Compiled, Error> {
        Self::compile_reserving(graph, outputs, n_vars, None)
    }

    /// [`Compiled::compile`], with the first and the largest reservation of
    /// address space for the code given (tests shrink them), or estimated.
    fn compile_reserving(
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
        let program = lower(graph, outputs, n_vars)?;
        let order = schedule(&program);
        let plan = plan_chunks(&program, &order)?;
        let (first, max) = reserve.unwrap_or_else(|| {
            let items = program.instrs.len() + program.outputs.len();
            (
                region::estimate(items, plan.chunks.len() + 1),
                region::MAX_REGION,
            )
        });
        let (module, code) = region::build(|module| generate(module, &program, &plan), first, max)?;
        // SAFETY: `code` is the finalized entry function, built with the
        // `Entry` signature (three pointers, no results) in the host's
        // default calling convention, which is `extern "C"`.
        let entry = unsafe { std::mem::transmute::<*const u8, Entry>(code) };
        let loopable = plan.chunks.len() == 1 && outputs.len() == n_vars + 1;
        Ok(Compiled {
            entry,
            n_vars,
            n_outputs: outputs.len(),
            scratch_len: plan.scratch_len,
            module: Some(module),
            program: loopable.then_some(program),
            kernels: Default::default(),
        })
    }

    pub fn n_vars(&self) -> usize {
        self.n_vars
    }

    pub fn n_outputs(&self) -> usize {
        self.n_outputs
    }

    /// Fixed-step descent on this code's value and gradient (outputs f,
    /// then the gradient) as one native loop: the cached one, or, if
    /// `compile`, a new one. `None` when the code is too large to be one
    /// loop body, or is not a value and gradient.
    pub fn descent_kernel(&self, variant: Variant, compile: bool) -> Option<&DescentKernel> {
        let program = self.program.as_ref()?;
        let cell = &self.kernels[variant.index()];
        if !compile {
            return cell.get()?.as_ref();
        }
        cell.get_or_init(|| descent::compile(program, self.n_vars, variant).ok())
            .as_ref()
    }

    /// Evaluate every output at `x`, writing them to `out`.
    ///
    /// Panics if `x` or `out` has the wrong length: that is a programming
    /// error, and the native code trusts the lengths.
    #[inline]
    pub fn call(&self, x: &[f64], out: &mut [f64]) {
        assert!(
            x.len() == self.n_vars,
            "Compiled::call: x has {} values but the function has {} variables",
            x.len(),
            self.n_vars
        );
        assert!(
            out.len() == self.n_outputs,
            "Compiled::call: out has room for {} values but the function has {} outputs",
            out.len(),
            self.n_outputs
        );
        if self.scratch_len == 0 {
            // SAFETY: `x` holds `n_vars` values and `out` `n_outputs` (checked
            // above), which is all the code reads and writes: it uses no
            // scratch. The code stays valid while `self` lives.
            unsafe { (self.entry)(x.as_ptr(), out.as_mut_ptr(), std::ptr::null_mut()) }
        } else {
            self.call_with_scratch(x, out);
        }
    }

    /// [`Compiled::call`] for code that passes values through a scratch:
    /// out of line, so that the common call, inlined into its caller, sets
    /// up no 4 KiB stack buffer.
    #[inline(never)]
    fn call_with_scratch(&self, x: &[f64], out: &mut [f64]) {
        let mut run = |scratch: *mut f64| {
            // SAFETY: `x` holds `n_vars` values and `out` `n_outputs` (checked
            // by `call`), which is all the code reads and writes besides the
            // scratch, and `scratch` has room for `scratch_len` values and is
            // used by this call alone. The code stays valid while `self` lives.
            unsafe { (self.entry)(x.as_ptr(), out.as_mut_ptr(), scratch) }
        };
        if self.scratch_len <= STACK_SCRATCH {
            // Uninitialised is fine: the code writes each slot before reading it.
            let mut buf = [MaybeUninit::<f64>::uninit(); STACK_SCRATCH];
            run(buf.as_mut_ptr().cast());
        } else {
            SCRATCH.with(|cell| match cell.try_borrow_mut() {
                Ok(mut buf) => {
                    if buf.len() < self.scratch_len {
                        buf.resize(self.scratch_len, 0.0);
                    }
                    run(buf.as_mut_ptr());
                }
                // Not reachable (the code never calls back), but harmless.
                Err(_) => run(vec![0.0; self.scratch_len].as_mut_ptr()),
            });
        }
    }
}

impl Drop for Compiled {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            // SAFETY: `&mut self` means no call is running, and `entry`, the
            // only pointer into the module, dies with `self`.
            unsafe { module.free_memory() };
        }
    }
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

// ---------------------------------------------------------------------------
// Lowering

/// What an instruction reads. Variables and constants are rematerialised at
/// each use instead of being kept in registers.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
enum Operand {
    Var(u32),
    /// The bit pattern of an `f64`.
    Const(u64),
    Instr(u32),
}

impl Operand {
    fn constant(c: f64) -> Operand {
        Operand::Const(c.to_bits())
    }
}

#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
enum Op {
    Add,
    /// `a - b`, for `a + (-1*b)`, which IEEE 754 defines to be the same.
    Sub,
    Mul,
    Div,
    Min,
    Max,
    Sqrt,
    Abs,
    Floor,
    Ceil,
    Sign,
    Call(Callee),
}

/// A function the code calls.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
enum Callee {
    /// A one-argument [`Func`] through [`Func::apply1`].
    F1(Func),
    /// A two-argument [`Func`] through [`Func::apply2`].
    F2(Func),
    /// [`builtins::pow`], for exponents known only at run time.
    Pow,
    /// `f64::powf`, for constant exponents that are not special.
    Powf,
}

impl Op {
    fn arity(self) -> usize {
        match self {
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Min | Op::Max => 2,
            Op::Call(Callee::F2(_) | Callee::Pow | Callee::Powf) => 2,
            _ => 1,
        }
    }

    /// Rough machine instructions, to size chunks. A call also costs the
    /// spills of every live value (all float registers are caller-saved).
    fn weight(self) -> usize {
        match self {
            Op::Call(_) => 8,
            Op::Sign => 6,
            Op::Min | Op::Max => 4,
            _ => 1,
        }
    }
}

#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
struct Instr {
    op: Op,
    /// The second is unused (a zero constant) for one-argument operations.
    args: [Operand; 2],
}

impl Instr {
    fn operands(&self) -> &[Operand] {
        &self.args[..self.op.arity()]
    }
}

/// The lowered outputs: instructions, each after its operands.
struct Program {
    instrs: Vec<Instr>,
    outputs: Vec<Operand>,
}

struct Lowering {
    instrs: Vec<Instr>,
    interned: FastMap<Instr, u32>,
}

/// FxHash's multiply-rotate: hashing instructions is a large part of
/// lowering, and the keys are not attacker-controlled in a way that matters
/// (a bad formula only slows its own compilation).
#[derive(Default)]
struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_isize(&mut self, n: isize) {
        self.write_u64(n as u64);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    /// Folds the high bits down: the table indexes by the low bits, and
    /// constants' bit patterns differ mostly in their high bits.
    fn finish(&self) -> u64 {
        let h = self.0 ^ (self.0 >> 32);
        h.wrapping_mul(0x9e_37_79_b9_7f_4a_7c_15) ^ (h >> 29)
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

impl Lowering {
    fn push(&mut self, op: Op, args: [Operand; 2]) -> Result<Operand, Error> {
        let instr = Instr { op, args };
        let next = u32::try_from(self.instrs.len()).map_err(|_| too_large())?;
        let i = *self.interned.entry(instr).or_insert(next);
        if i == next {
            self.instrs.push(instr);
        }
        Ok(Operand::Instr(i))
    }

    fn bin(&mut self, op: Op, a: Operand, b: Operand) -> Result<Operand, Error> {
        self.push(op, [a, b])
    }

    /// `a + b`, as `a - q` or `b - q` when the other is `-1*q`: IEEE 754
    /// defines subtraction as adding the negation, and `-1*q` is `-q`
    /// exactly (NaN payloads aside), so this saves a multiplication.
    fn add(&mut self, a: Operand, b: Operand) -> Result<Operand, Error> {
        match (self.negated(b), self.negated(a)) {
            (Some(q), _) => self.bin(Op::Sub, a, q),
            (None, Some(q)) => self.bin(Op::Sub, b, q),
            (None, None) => self.bin(Op::Add, a, b),
        }
    }

    /// `q` if `a` is the instruction `-1*q`.
    fn negated(&self, a: Operand) -> Option<Operand> {
        let Operand::Instr(i) = a else { return None };
        match self.instrs[i as usize] {
            Instr {
                op: Op::Mul,
                args: [Operand::Const(c), q],
            } if c == (-1.0f64).to_bits() => Some(q),
            _ => None,
        }
    }

    fn un(&mut self, op: Op, a: Operand) -> Result<Operand, Error> {
        self.push(op, [a, Operand::constant(0.0)])
    }

    /// `b^e` for a constant `e`, as [`builtins::pow`] computes it.
    fn pow_const(&mut self, b: Operand, e: f64) -> Result<Operand, Error> {
        if let Some(n) = builtins::small_integer(e) {
            self.powi(b, n)
        } else if e == 0.5 {
            self.un(Op::Sqrt, b)
        } else if e == -0.5 {
            let s = self.un(Op::Sqrt, b)?;
            self.bin(Op::Div, Operand::constant(1.0), s)
        } else {
            self.bin(Op::Call(Callee::Powf), b, Operand::constant(e))
        }
    }

    /// The multiplications of [`builtins::powi`], one for one.
    fn powi(&mut self, x: Operand, n: i64) -> Result<Operand, Error> {
        let mut k = n.unsigned_abs();
        let mut base = x;
        let mut acc: Option<Operand> = None;
        while k > 0 {
            if k & 1 == 1 {
                acc = Some(match acc {
                    Some(a) => self.bin(Op::Mul, a, base)?,
                    None => base,
                });
            }
            k >>= 1;
            if k > 0 {
                base = self.bin(Op::Mul, base, base)?;
            }
        }
        let p = acc.unwrap_or(Operand::constant(1.0));
        if n < 0 {
            self.bin(Op::Div, Operand::constant(1.0), p)
        } else {
            Ok(p)
        }
    }
}

/// Instructions computing `outputs` the way `eval.rs` does.
fn lower(graph: &Graph, outputs: &[NodeId], n_vars: usize) -> Result<Program, Error> {
    let order = reachable(graph, outputs);
    let mut l = Lowering {
        instrs: Vec::with_capacity(order.len() * 2),
        interned: FastMap::with_capacity_and_hasher(order.len() * 2, Default::default()),
    };
    let mut value = vec![Operand::constant(0.0); order.last().map_or(0, |id| id.index() + 1)];
    let nan = Operand::constant(f64::NAN);
    for &id in &order {
        let v = |n: NodeId| value[n.index()];
        let lowered = match graph.node(id) {
            Node::Const(c) => Operand::constant(*c),
            Node::Var(i) if (*i as usize) < n_vars => Operand::Var(*i),
            Node::Var(_) => nan,
            Node::Sum(terms) => {
                let mut acc: Option<Operand> = None;
                for &t in terms.iter() {
                    acc = Some(match acc {
                        Some(a) => l.add(a, v(t))?,
                        None => v(t),
                    });
                }
                acc.unwrap_or(Operand::constant(0.0))
            }
            Node::Product(factors) => {
                let mut num: Option<Operand> = None;
                let mut den: Option<Operand> = None;
                for &f in factors.iter() {
                    match denominator_exponent(graph, f) {
                        Some((b, e)) => {
                            let p = l.pow_const(v(b), e)?;
                            den = Some(match den {
                                Some(d) => l.bin(Op::Mul, d, p)?,
                                None => p,
                            });
                        }
                        None => {
                            num = Some(match num {
                                Some(n) => l.bin(Op::Mul, n, v(f))?,
                                None => v(f),
                            })
                        }
                    }
                }
                match (num, den) {
                    (Some(n), Some(d)) => l.bin(Op::Div, n, d)?,
                    (Some(n), None) => n,
                    (None, Some(d)) => l.bin(Op::Div, Operand::constant(1.0), d)?,
                    (None, None) => Operand::constant(1.0),
                }
            }
            Node::Pow([b, e]) => match graph.as_const(*e) {
                Some(e) => l.pow_const(v(*b), e)?,
                None => l.bin(Op::Call(Callee::Pow), v(*b), v(*e))?,
            },
            Node::Call1(f, [a]) => {
                let a = v(*a);
                match f {
                    Func::Abs => l.un(Op::Abs, a)?,
                    Func::Sign => l.un(Op::Sign, a)?,
                    Func::Floor => l.un(Op::Floor, a)?,
                    Func::Ceil => l.un(Op::Ceil, a)?,
                    // `apply1` of a two-argument function is NaN.
                    _ if f.arity() != 1 => nan,
                    _ => l.un(Op::Call(Callee::F1(*f)), a)?,
                }
            }
            Node::Call2(f, [a, b]) => {
                let (a, b) = (v(*a), v(*b));
                match f {
                    Func::Min => l.bin(Op::Min, a, b)?,
                    Func::Max => l.bin(Op::Max, a, b)?,
                    // `apply2` of a one-argument function is NaN.
                    _ if f.arity() != 2 => nan,
                    _ => l.bin(Op::Call(Callee::F2(*f)), a, b)?,
                }
            }
        };
        value[id.index()] = lowered;
    }
    Ok(Program {
        instrs: l.instrs,
        outputs: outputs.iter().map(|o| value[o.index()]).collect(),
    })
}

// ---------------------------------------------------------------------------
// Scheduling

/// The order to compute instructions and store outputs in. Items `0..n` are
/// instructions, `n + k` is the store of output `k`. Dead instructions (left
/// over from lowering, such as a denominator's `1/b` node) are absent.
fn schedule(p: &Program) -> Vec<u32> {
    Scheduler::new(p).run()
}

struct Scheduler<'p> {
    p: &'p Program,
    n: usize,
    /// A small expression of the inputs alone (at most [`SMALL`]
    /// instructions as a tree): cheap to compute whenever a user wants it.
    small: Vec<bool>,
    /// Uses not yet computed.
    remaining: Vec<u32>,
    user_start: Vec<u32>,
    users: Vec<u32>,
    done: Vec<bool>,
    /// Computed eagerly and counted in `eager_live` until its last use.
    eager: Vec<bool>,
    eager_live: usize,
    /// Items whose operands are all computed or small, most recent last:
    /// those whose missing operands are tiny (`finish`) and those that must
    /// start bigger computations first (`open`).
    finish: Vec<u32>,
    open: Vec<u32>,
    size: Vec<u32>,
    stack: Vec<(u32, u8)>,
    order: Vec<u32>,
}

/// The size up to which an expression of the inputs counts as small.
const SMALL: u32 = 8;

/// The size up to which an expression of the inputs is computed on demand
/// as readily as a finished value: it hardly lengthens any live range.
const TINY: u32 = 2;

impl<'p> Scheduler<'p> {
    fn new(p: &'p Program) -> Scheduler<'p> {
        let n = p.instrs.len();
        let total = n + p.outputs.len();
        let mut live = vec![false; n];
        for o in &p.outputs {
            if let Operand::Instr(j) = *o {
                live[j as usize] = true;
            }
        }
        for i in (0..n).rev() {
            if live[i] {
                for a in p.instrs[i].operands() {
                    if let Operand::Instr(j) = *a {
                        live[j as usize] = true;
                    }
                }
            }
        }
        let mut s = Scheduler {
            p,
            n,
            small: vec![false; n],
            remaining: vec![0; n],
            user_start: vec![0; n + 1],
            users: Vec::new(),
            done: vec![false; total],
            eager: vec![false; n],
            eager_live: 0,
            finish: Vec::new(),
            open: Vec::new(),
            size: Vec::new(),
            stack: Vec::new(),
            order: Vec::with_capacity(total),
        };
        let mut size = vec![0u32; n];
        for i in 0..n {
            let (deps, k) = s.deps(i as u32);
            let deps = &deps[..k];
            if deps.iter().all(|&j| s.small[j as usize]) {
                size[i] = 1 + deps.iter().map(|&j| size[j as usize]).sum::<u32>();
                s.small[i] = size[i] <= SMALL;
            } else {
                size[i] = u32::MAX;
            }
        }
        s.size = size;
        // Users, as compressed rows: count, prefix-sum, fill.
        let is_live = |v: usize| v >= n || live[v];
        for v in (0..total).filter(|&v| is_live(v)) {
            let (deps, k) = s.deps(v as u32);
            for &j in &deps[..k] {
                s.user_start[j as usize + 1] += 1;
                s.remaining[j as usize] += 1;
            }
        }
        for i in 0..n {
            s.user_start[i + 1] += s.user_start[i];
        }
        s.users = vec![0; s.user_start[n] as usize];
        let mut fill = s.user_start.clone();
        for v in (0..total).filter(|&v| is_live(v)) {
            let (deps, k) = s.deps(v as u32);
            for &j in &deps[..k] {
                s.users[fill[j as usize] as usize] = v as u32;
                fill[j as usize] += 1;
            }
        }
        s
    }

    /// The distinct instructions item `v` reads, in operand order.
    fn deps(&self, v: u32) -> ([u32; 2], usize) {
        let ops: &[Operand] = match self.p.instrs.get(v as usize) {
            Some(instr) => instr.operands(),
            None => std::slice::from_ref(&self.p.outputs[v as usize - self.n]),
        };
        let mut out = [0; 2];
        let mut k = 0;
        for a in ops {
            if let Operand::Instr(j) = *a
                && !out[..k].contains(&j)
            {
                out[k] = j;
                k += 1;
            }
        }
        (out, k)
    }

    fn run(mut self) -> Vec<u32> {
        for k in 0..self.p.outputs.len() {
            self.visit((self.n + k) as u32, true);
        }
        self.order
    }

    /// Computes `root` after whatever it needs, depth first. The main walk
    /// (`main`) completes ready items after each step; the walks that
    /// completion starts (`!main`) compute eagerly.
    fn visit(&mut self, root: u32, main: bool) {
        if self.done[root as usize] {
            return;
        }
        let base = self.stack.len();
        self.stack.push((root, 0));
        while self.stack.len() > base {
            let top = self.stack.len() - 1;
            let (v, next) = self.stack[top];
            if self.done[v as usize] {
                self.stack.pop();
                continue;
            }
            let (deps, k) = self.deps(v);
            if usize::from(next) < k {
                self.stack[top].1 += 1;
                let j = deps[usize::from(next)];
                if !self.done[j as usize] {
                    self.stack.push((j, 0));
                }
                continue;
            }
            self.stack.pop();
            self.emit(v, !main);
            if main {
                self.complete_ready();
            }
        }
    }

    fn emit(&mut self, v: u32, eager: bool) {
        self.order.push(v);
        self.done[v as usize] = true;
        let (deps, k) = self.deps(v);
        for &j in &deps[..k] {
            let j = j as usize;
            self.remaining[j] -= 1;
            if self.remaining[j] == 0 && self.eager[j] {
                self.eager_live -= 1;
            }
        }
        let v = v as usize;
        if v >= self.n {
            return;
        }
        if eager && self.remaining[v] > 0 {
            self.eager[v] = true;
            self.eager_live += 1;
        }
        for u in self.user_start[v]..self.user_start[v + 1] {
            let u = self.users[u as usize];
            if self.done[u as usize] {
                continue;
            }
            let (deps, k) = self.deps(u);
            let missing = deps[..k].iter().filter(|&&j| !self.done[j as usize]);
            let mut largest = 0;
            for &j in missing {
                if !self.small[j as usize] {
                    largest = u32::MAX;
                    break;
                }
                largest = largest.max(self.size[j as usize]);
            }
            if largest <= TINY {
                self.finish.push(u);
            } else if largest <= SMALL {
                self.open.push(u);
            }
        }
    }

    /// Computes, most recent first, the items whose operands are ready,
    /// while few eager values wait for their uses. Past that limit, an item
    /// is still computed if it is the last use of one of its operands: it
    /// ends a live range as it starts one, so it adds no pressure (the
    /// partials of a long product end the prefix products' ranges).
    fn complete_ready(&mut self) {
        while let Some(u) = self.finish.pop().or_else(|| self.open.pop()) {
            let is_store = u as usize >= self.n;
            if self.done[u as usize]
                || (!is_store && self.eager_live >= EAGER_LIMIT && !self.ends_a_range(u))
            {
                continue;
            }
            self.visit(u, false);
        }
    }

    /// Item `u` is the last use of one of its computed operands.
    fn ends_a_range(&self, u: u32) -> bool {
        let (deps, k) = self.deps(u);
        deps[..k]
            .iter()
            .any(|&j| self.done[j as usize] && self.remaining[j as usize] == 1)
    }
}

// ---------------------------------------------------------------------------
// Chunking

/// How the schedule splits into functions, and where values cross.
struct Plan {
    /// `order` cut into consecutive chunks.
    chunks: Vec<Vec<u32>>,
    /// The chunk computing each instruction (`u32::MAX` if none does).
    chunk_of: Vec<u32>,
    /// The scratch slot of each instruction used by a later chunk.
    slot: Vec<u32>,
    scratch_len: usize,
}

fn plan_chunks(p: &Program, order: &[u32]) -> Result<Plan, Error> {
    let n = p.instrs.len();
    let mut chunks: Vec<Vec<u32>> = vec![Vec::new()];
    let mut weight = 0;
    for &v in order {
        let w = p.instrs.get(v as usize).map_or(1, |i| i.op.weight());
        if weight + w > CHUNK_WEIGHT && weight > 0 {
            chunks.push(Vec::new());
            weight = 0;
        }
        weight += w;
        if let Some(last) = chunks.last_mut() {
            last.push(v);
        }
    }
    let mut chunk_of = vec![u32::MAX; n];
    let mut last_use = vec![0u32; n];
    for (c, chunk) in chunks.iter().enumerate() {
        for &v in chunk {
            if let Some(instr) = p.instrs.get(v as usize) {
                chunk_of[v as usize] = c as u32;
                for a in instr.operands() {
                    if let Operand::Instr(j) = *a {
                        last_use[j as usize] = c as u32;
                    }
                }
            } else if let Operand::Instr(j) = p.outputs[v as usize - n] {
                last_use[j as usize] = c as u32;
            }
        }
    }
    // Linear scan over chunks: a slot is free again in the chunk after its
    // value's last use (not in it: a new store there could precede the read).
    let mut slot = vec![u32::MAX; n];
    let mut free: Vec<u32> = Vec::new();
    let mut expire: Vec<Vec<u32>> = vec![Vec::new(); chunks.len() + 1];
    let mut scratch_len = 0usize;
    for (c, chunk) in chunks.iter().enumerate() {
        free.append(&mut expire[c]);
        for &v in chunk {
            let v = v as usize;
            if v < n && last_use[v] as usize > c {
                let s = match free.pop() {
                    Some(s) => s,
                    None => {
                        scratch_len += 1;
                        if scratch_len > MAX_INDEX {
                            return Err(too_large());
                        }
                        (scratch_len - 1) as u32
                    }
                };
                slot[v] = s;
                expire[last_use[v] as usize + 1].push(s);
            }
        }
    }
    Ok(Plan {
        chunks,
        chunk_of,
        slot,
        scratch_len,
    })
}

// ---------------------------------------------------------------------------
// Code generation

/// The Cranelift target for this machine, built once: `opt_level=none`
/// (see the module documentation) and every feature the CPU has (SSE4.1 makes `floor`/`ceil` one
/// instruction; without it Cranelift calls [`slope_floor`]/[`slope_ceil`]).
fn host_isa() -> Result<OwnedTargetIsa, Error> {
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

/// Settings and symbols for a module; [`region::build`] adds its memory.
fn module_builder(isa: &OwnedTargetIsa) -> JITBuilder {
    let default_names = default_libcall_names();
    let names = move |call: LibCall| match call {
        LibCall::FloorF64 => "slope_floor".to_string(),
        LibCall::CeilF64 => "slope_ceil".to_string(),
        other => default_names(other),
    };
    let mut builder = JITBuilder::with_isa(isa.clone(), Box::new(names));
    for f in Func::ALL {
        if let Some((name, ptr)) = wrapper(Callee::F1(f)).or(wrapper(Callee::F2(f))) {
            builder.symbol(name, ptr);
        }
    }
    for callee in [Callee::Pow, Callee::Powf] {
        if let Some((name, ptr)) = wrapper(callee) {
            builder.symbol(name, ptr);
        }
    }
    builder.symbol(
        "slope_floor",
        slope_floor as extern "C" fn(f64) -> f64 as *const u8,
    );
    builder.symbol(
        "slope_ceil",
        slope_ceil as extern "C" fn(f64) -> f64 as *const u8,
    );
    builder
}

/// Emits the chunks (and a driver if there are several) and returns the
/// entry function.
fn generate(module: &mut JITModule, p: &Program, plan: &Plan) -> Result<FuncId, Error> {
    let ptr = module.target_config().pointer_type();
    let mut sig = module.make_signature();
    for _ in 0..3 {
        sig.params.push(AbiParam::new(ptr));
    }
    let (constants, const_data) = constant_table(module, p)?;
    let mut g = Generator {
        module,
        p,
        plan,
        sig,
        constants,
        const_data,
        ctx: None,
        fctx: FunctionBuilderContext::new(),
        imports: HashMap::new(),
        values: vec![None; p.instrs.len()],
    };
    let mut ids = Vec::with_capacity(plan.chunks.len());
    for c in 0..plan.chunks.len() {
        ids.push(g.chunk(c)?);
    }
    match ids[..] {
        [only] => Ok(only),
        _ => g.driver(&ids),
    }
}

struct Generator<'a> {
    module: &'a mut JITModule,
    p: &'a Program,
    plan: &'a Plan,
    sig: Signature,
    /// The index of each constant in the module's constant table.
    constants: HashMap<u64, u32>,
    const_data: Option<DataId>,
    ctx: Option<Context>,
    fctx: FunctionBuilderContext,
    /// Wrapper functions declared in the module so far.
    imports: HashMap<Callee, FuncId>,
    /// The value of each instruction of the current chunk.
    values: Vec<Option<Value>>,
}

/// Loads and stores of `x`, `out` and the scratch: aligned, in bounds, and
/// never trapping.
fn mem() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Loads of `x` and of the constant table, which nothing writes while the
/// code runs: Cranelift may fold such a load into the instruction using it
/// wherever that is.
fn fixed() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly()
}

/// The byte offset of element `i` (below [`MAX_INDEX`], so it fits).
fn offset(i: usize) -> i32 {
    (i * 8) as i32
}

impl Generator<'_> {
    /// Defines one chunk function and returns its id.
    fn chunk(&mut self, c: usize) -> Result<FuncId, Error> {
        let id = self
            .module
            .declare_anonymous_function(&self.sig)
            .map_err(codegen_error)?;
        let mut ctx = self
            .ctx
            .take()
            .unwrap_or_else(|| self.module.make_context());
        ctx.func.signature = self.sig.clone();
        let mut local: HashMap<Callee, FuncRef> = HashMap::new();
        let mut fctx = std::mem::take(&mut self.fctx);
        {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
            let block = b.create_block();
            b.append_block_params_for_function_params(block);
            b.switch_to_block(block);
            b.seal_block(block);
            let params = b.block_params(block);
            let (x, out, scratch) = (params[0], params[1], params[2]);
            let consts = self.const_data.map(|d| {
                let gv = self.module.declare_data_in_func(d, b.func);
                let ptr = self.module.target_config().pointer_type();
                b.ins().symbol_value(ptr, gv)
            });
            let mut bases = Bases {
                inputs: Inputs::Memory(x),
                scratch,
                consts,
                recent: Vec::with_capacity(RECENT_VARS),
                pos: 0,
            };
            self.items(&mut b, c, &mut bases, &mut local, &mut Outputs::Memory(out))?;
            b.ins().return_(&[]);
            b.finalize(self.module.target_config());
        }
        self.fctx = fctx;
        let result = self.module.define_function(id, &mut ctx);
        self.module.clear_context(&mut ctx);
        self.ctx = Some(ctx);
        result.map_err(codegen_error)?;
        Ok(id)
    }

    /// Emits chunk `c`'s instructions and outputs into the current block.
    fn items(
        &mut self,
        b: &mut FunctionBuilder,
        c: usize,
        bases: &mut Bases,
        local: &mut HashMap<Callee, FuncRef>,
        outputs: &mut Outputs,
    ) -> Result<(), Error> {
        let n = self.p.instrs.len();
        for (pos, &v) in self.plan.chunks[c].iter().enumerate() {
            bases.pos = pos;
            let v = v as usize;
            let Some(instr) = self.p.instrs.get(v) else {
                let k = v - n;
                let val = self.operand(b, c, bases, self.p.outputs[k]);
                match outputs {
                    Outputs::Memory(out) => {
                        b.ins().store(mem(), val, *out, offset(k));
                    }
                    Outputs::Registers(values) => values[k] = Some(val),
                }
                continue;
            };
            let [mut first, mut second] = instr.args;
            // x86 can read the second operand from memory: put a loaded
            // one there (sums and products commute exactly in IEEE 754).
            if matches!(instr.op, Op::Add | Op::Mul)
                && self.is_loaded(c, bases, first)
                && !self.is_loaded(c, bases, second)
            {
                std::mem::swap(&mut first, &mut second);
            }
            let a = self.operand(b, c, bases, first);
            let arg2 = if instr.op.arity() == 2 && second != first {
                self.operand(b, c, bases, second)
            } else {
                a
            };
            let r = match instr.op {
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
                    let [zero, one, minus_one, nan] = [0.0, 1.0, -1.0, f64::NAN]
                        .map(|v| self.operand(b, c, bases, Operand::constant(v)));
                    let gt = b.ins().fcmp(FloatCC::GreaterThan, a, zero);
                    let lt = b.ins().fcmp(FloatCC::LessThan, a, zero);
                    let eq = b.ins().fcmp(FloatCC::Equal, a, zero);
                    let r = b.ins().select(eq, zero, nan);
                    let r = b.ins().select(lt, minus_one, r);
                    b.ins().select(gt, one, r)
                }
                Op::Call(callee) => {
                    let f = match local.get(&callee) {
                        Some(&f) => f,
                        None => {
                            let fid = self.import(callee)?;
                            let f = self.module.declare_func_in_func(fid, b.func);
                            local.insert(callee, f);
                            f
                        }
                    };
                    let args = [a, arg2];
                    let call = b.ins().call(f, &args[..instr.op.arity()]);
                    // A call clobbers every float register: reload
                    // variables after it rather than spill them.
                    bases.recent.clear();
                    b.inst_results(call)[0]
                }
            };
            self.values[v] = Some(r);
            if let Some(&s) = self.plan.slot.get(v).filter(|&&s| s != u32::MAX) {
                b.ins().store(mem(), r, bases.scratch, offset(s as usize));
            }
        }
        Ok(())
    }

    /// An operand's value in chunk `c`: loaded from `x` or the scratch, a
    /// constant, or computed earlier in the chunk.
    fn operand(&self, b: &mut FunctionBuilder, c: usize, bases: &mut Bases, a: Operand) -> Value {
        match a {
            Operand::Var(i) => {
                let x = match &bases.inputs {
                    Inputs::Memory(x) => *x,
                    Inputs::Registers(values) => return values[i as usize],
                };
                if let Some(v) = bases.recent_var(i) {
                    return v;
                }
                let v = b.ins().load(types::F64, fixed(), x, offset(i as usize));
                bases.remember_var(i, v);
                v
            }
            Operand::Const(bits) => match (bases.consts, self.constants.get(&bits)) {
                (Some(base), Some(&k)) => {
                    b.ins().load(types::F64, fixed(), base, offset(k as usize))
                }
                // Not reached: the table holds every constant.
                _ => b.ins().f64const(Ieee64::with_bits(bits)),
            },
            Operand::Instr(j) => {
                let j = j as usize;
                match self.values[j] {
                    Some(v) if self.plan.chunk_of[j] as usize == c => v,
                    _ => {
                        let s = self.plan.slot[j] as usize;
                        b.ins().load(types::F64, mem(), bases.scratch, offset(s))
                    }
                }
            }
        }
    }

    /// The operand is read from memory in chunk `c`, not computed in it
    /// or loaded just before.
    fn is_loaded(&self, c: usize, bases: &Bases, a: Operand) -> bool {
        match a {
            Operand::Var(i) => {
                matches!(bases.inputs, Inputs::Memory(_)) && bases.peek_var(i).is_none()
            }
            Operand::Const(_) => true,
            Operand::Instr(j) => self.plan.chunk_of[j as usize] as usize != c,
        }
    }

    fn import(&mut self, callee: Callee) -> Result<FuncId, Error> {
        if let Some(&id) = self.imports.get(&callee) {
            return Ok(id);
        }
        let (name, _) = wrapper(callee).ok_or_else(|| codegen_error("no wrapper"))?;
        let mut sig = self.module.make_signature();
        let arity = Op::Call(callee).arity();
        sig.params
            .extend(std::iter::repeat_n(AbiParam::new(types::F64), arity));
        sig.returns.push(AbiParam::new(types::F64));
        let id = self
            .module
            .declare_function(name, Linkage::Import, &sig)
            .map_err(codegen_error)?;
        self.imports.insert(callee, id);
        Ok(id)
    }

    /// A function calling the chunks in order with its own arguments.
    fn driver(&mut self, chunks: &[FuncId]) -> Result<FuncId, Error> {
        let id = self
            .module
            .declare_anonymous_function(&self.sig)
            .map_err(codegen_error)?;
        let mut ctx = self
            .ctx
            .take()
            .unwrap_or_else(|| self.module.make_context());
        ctx.func.signature = self.sig.clone();
        {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut self.fctx);
            let block = b.create_block();
            b.append_block_params_for_function_params(block);
            b.switch_to_block(block);
            b.seal_block(block);
            let params = b.block_params(block).to_vec();
            for &chunk in chunks {
                let f = self.module.declare_func_in_func(chunk, b.func);
                b.ins().call(f, &params);
            }
            b.ins().return_(&[]);
            b.finalize(self.module.target_config());
        }
        let result = self.module.define_function(id, &mut ctx);
        self.module.clear_context(&mut ctx);
        result.map_err(codegen_error)?;
        Ok(id)
    }
}

/// Where a chunk reads the variables.
enum Inputs {
    /// From `x` in memory, the entry point's first argument.
    Memory(Value),
    /// Already in SSA values (the descent kernel's loop).
    Registers(Vec<Value>),
}

/// Where a chunk puts its outputs.
enum Outputs {
    /// Stored to `out` in memory.
    Memory(Value),
    /// Left in SSA values, by output index.
    Registers(Vec<Option<Value>>),
}

/// Where a chunk's operands live.
struct Bases {
    inputs: Inputs,
    scratch: Value,
    /// The constant table, if there are constants.
    consts: Option<Value>,
    /// Variables loaded lately: `(index, value, position of last use)`.
    recent: Vec<(u32, Value, usize)>,
    /// The position in the chunk of the item being generated.
    pos: usize,
}

impl Bases {
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
    let id = module
        .declare_anonymous_data(false, false)
        .map_err(codegen_error)?;
    let mut data = DataDescription::new();
    data.define(bytes.into_boxed_slice());
    data.set_align(8);
    module.define_data(id, &data).map_err(codegen_error)?;
    Ok((index, Some(id)))
}

// ---------------------------------------------------------------------------
// Wrappers the code calls: Rust's own functions, so the interpreter and the
// compiled code use the same libm.

macro_rules! wrappers1 {
    ($($func:ident => $name:ident),* $(,)?) => {
        $(
            extern "C" fn $name(x: f64) -> f64 {
                Func::$func.apply1(x)
            }
        )*
        /// The symbol and address of a one-argument wrapper.
        fn wrapper1(f: Func) -> Option<(&'static str, *const u8)> {
            match f {
                $(Func::$func => Some((stringify!($name), $name as extern "C" fn(f64) -> f64 as *const u8)),)*
                _ => None,
            }
        }
    };
}

wrappers1! {
    Sin => slope_sin, Cos => slope_cos, Tan => slope_tan,
    Asin => slope_asin, Acos => slope_acos, Atan => slope_atan,
    Sinh => slope_sinh, Cosh => slope_cosh, Tanh => slope_tanh,
    Asinh => slope_asinh, Acosh => slope_acosh, Atanh => slope_atanh,
    Exp => slope_exp, Ln => slope_ln, Log2 => slope_log2, Log10 => slope_log10,
    Cbrt => slope_cbrt,
}

extern "C" fn slope_atan2(a: f64, b: f64) -> f64 {
    Func::Atan2.apply2(a, b)
}

extern "C" fn slope_hypot(a: f64, b: f64) -> f64 {
    Func::Hypot.apply2(a, b)
}

extern "C" fn slope_pow(x: f64, y: f64) -> f64 {
    builtins::pow(x, y)
}

extern "C" fn slope_powf(x: f64, y: f64) -> f64 {
    x.powf(y)
}

/// Cranelift's `floor` without SSE4.1.
extern "C" fn slope_floor(x: f64) -> f64 {
    x.floor()
}

/// Cranelift's `ceil` without SSE4.1.
extern "C" fn slope_ceil(x: f64) -> f64 {
    x.ceil()
}

/// The symbol and address of the function a call instruction calls.
fn wrapper(callee: Callee) -> Option<(&'static str, *const u8)> {
    type F2 = extern "C" fn(f64, f64) -> f64;
    match callee {
        Callee::F1(f) => wrapper1(f),
        Callee::F2(Func::Atan2) => Some(("slope_atan2", slope_atan2 as F2 as *const u8)),
        Callee::F2(Func::Hypot) => Some(("slope_hypot", slope_hypot as F2 as *const u8)),
        Callee::F2(_) => None,
        Callee::Pow => Some(("slope_pow", slope_pow as F2 as *const u8)),
        Callee::Powf => Some(("slope_powf", slope_powf as F2 as *const u8)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::Interpreter;

    /// Held by the tests that use much memory, so that the leak test's
    /// measurement sees only its own.
    static MEMORY: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn exclusive() -> std::sync::MutexGuard<'static, ()> {
        MEMORY.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Distance in units in the last place; NaN matches only NaN.
    fn ulps(a: f64, b: f64) -> u64 {
        if a.is_nan() || b.is_nan() {
            return if a.is_nan() && b.is_nan() {
                0
            } else {
                u64::MAX
            };
        }
        let key = |v: f64| {
            let bits = v.to_bits() as i64;
            if bits < 0 { i64::MIN - bits } else { bits }
        };
        key(a).abs_diff(key(b))
    }

    /// Compiles `outputs` and checks them against the interpreter at each point.
    fn check(g: &Graph, outputs: &[NodeId], n_vars: usize, points: &[Vec<f64>]) {
        let compiled = Compiled::compile(g, outputs, n_vars).expect("compiles");
        let interpreter = Interpreter::new(g, outputs);
        let mut out = vec![0.0; outputs.len()];
        for x in points {
            compiled.call(x, &mut out);
            let want = interpreter.eval(x);
            for (k, (&got, &want)) in out.iter().zip(&want).enumerate() {
                assert!(
                    ulps(got, want) <= 4,
                    "output {k} at {x:?}: compiled {got:e}, interpreter {want:e}"
                );
            }
        }
    }

    const SPECIAL: [f64; 17] = [
        -3.5,
        -1.0,
        -0.75,
        -0.5,
        -0.0,
        0.0,
        0.25,
        0.5,
        1.0,
        1.5,
        2.0,
        7.25,
        1e-300,
        1e300,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];

    fn pairs() -> Vec<Vec<f64>> {
        let mut points = Vec::new();
        for &a in &SPECIAL {
            for &b in &SPECIAL {
                points.push(vec![a, b]);
            }
        }
        points
    }

    #[test]
    fn every_function_matches_the_interpreter() {
        let _guard = exclusive();
        let mut g = Graph::new();
        let x = g.var(0);
        let y = g.var(1);
        let outputs: Vec<NodeId> = Func::ALL
            .iter()
            .map(|&f| match f.arity() {
                1 => g.call1(f, x),
                _ => g.call2(f, x, y),
            })
            .collect();
        check(&g, &outputs, 2, &pairs());
        // One function per compilation too, so that each is its own chunk.
        for &o in &outputs {
            check(&g, &[o], 2, &pairs());
        }
    }

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

    #[test]
    fn sums_products_and_powers_match_the_interpreter() {
        let _guard = exclusive();
        let mut g = Graph::new();
        let x = g.var(0);
        let y = g.var(1);
        let z = g.var(2);
        let mut outputs = Vec::new();
        for e in [
            2.0,
            3.0,
            5.0,
            7.0,
            16.0,
            1023.0,
            1024.0,
            1025.0,
            -1.0,
            -2.0,
            -3.0,
            -5.0,
            -1024.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            1.0 / 3.0,
            2.75,
            -0.25,
            1e6,
        ] {
            outputs.push(g.powc(x, e));
            let p = g.powc(y, e);
            outputs.push(g.mul(x, p));
        }
        let s = g.sum(&[x, y, z]);
        outputs.push(s);
        let s3 = g.powc(s, 3.0);
        outputs.push(s3);
        outputs.push(g.pow(x, y));
        outputs.push(g.pow(s, z));
        let two = g.constant(2.0);
        outputs.push(g.pow(two, x));
        let xy = g.mul(x, y);
        outputs.push(g.div(xy, z));
        outputs.push(g.div(x, y));
        let one = g.constant(1.0);
        outputs.push(g.div(one, x));
        let y2 = g.powc(y, 2.0);
        let zh = g.powc(z, 0.5);
        let den = g.mul(y2, zh);
        outputs.push(g.div(x, den));
        let three = g.constant(3.0);
        let x3 = g.mul(three, x);
        outputs.push(g.sub(x3, y));
        let d = g.sub(x, y);
        outputs.push(g.div(s, d));
        let zm = g.powc(z, -1.5);
        outputs.push(g.mul(xy, zm));
        let mut points = Vec::new();
        for &a in &SPECIAL {
            for &b in &[-2.0, -0.5, 0.0, 0.75, 3.0, f64::NAN] {
                points.push(vec![a, b, 1.25]);
                points.push(vec![b, a, -0.0]);
                points.push(vec![a, a, a]);
            }
        }
        check(&g, &outputs, 3, &points);
    }

    #[test]
    fn non_finite_results_propagate() {
        let _guard = exclusive();
        let mut g = Graph::new();
        let x = g.var(0);
        let m1 = g.constant(-1.0);
        let ln = g.call1(Func::Ln, m1);
        let zero = g.constant(0.0);
        let one = g.constant(1.0);
        let inv = g.div(one, zero);
        let lx = g.call1(Func::Ln, x);
        let big = g.constant(1e300);
        let bx = g.mul(big, x);
        let sq = g.powc(bx, 2.0);
        let c = Compiled::compile(&g, &[ln, inv, lx, sq], 1).unwrap();
        let mut out = [0.0; 4];
        c.call(&[-2.0], &mut out);
        assert!(out[0].is_nan());
        assert_eq!(out[1], f64::INFINITY);
        assert!(out[2].is_nan());
        assert_eq!(out[3], f64::INFINITY);
        c.call(&[0.0], &mut out);
        assert_eq!(out[2], f64::NEG_INFINITY);
        check(
            &g,
            &[ln, inv, lx, sq],
            1,
            &[vec![-2.0], vec![0.0], vec![1e-10]],
        );
    }

    #[test]
    fn leaves_as_outputs_and_missing_variables() {
        let _guard = exclusive();
        let mut g = Graph::new();
        let x = g.var(0);
        let far = g.var(5);
        let c = g.constant(2.5);
        let s = g.add(x, far);
        let compiled = Compiled::compile(&g, &[x, c, far, s, x], 1).unwrap();
        assert_eq!((compiled.n_vars(), compiled.n_outputs()), (1, 5));
        let mut out = [0.0; 5];
        compiled.call(&[4.0], &mut out);
        assert_eq!(out[..2], [4.0, 2.5]);
        assert!(out[2].is_nan() && out[3].is_nan());
        assert_eq!(out[4], 4.0);
        let none = Compiled::compile(&g, &[], 0).unwrap();
        none.call(&[], &mut []);
    }

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

    #[test]
    #[should_panic(expected = "x has 1 values")]
    fn wrong_length_panics() {
        let _guard = exclusive();
        let mut g = Graph::new();
        let x = g.var(0);
        let c = Compiled::compile(&g, &[x], 2).unwrap();
        c.call(&[1.0], &mut [0.0]);
    }

    /// Expanded Rosenbrock: the value and its gradient.
    fn rosenbrock(n: usize) -> (Graph, Vec<NodeId>) {
        let mut g = Graph::new();
        let xs: Vec<NodeId> = (0..n as u32).map(|i| g.var(i)).collect();
        let one = g.constant(1.0);
        let mut terms = Vec::new();
        for i in 0..n - 1 {
            let x2 = g.powc(xs[i], 2.0);
            let d = g.sub(xs[i + 1], x2);
            let d2 = g.powc(d, 2.0);
            terms.push(g.scale(100.0, d2));
            let e = g.sub(one, xs[i]);
            terms.push(g.powc(e, 2.0));
        }
        let f = g.sum(&terms);
        let mut outputs = vec![f];
        outputs.extend(crate::diff::gradient(&mut g, f, &xs));
        (g, outputs)
    }

    #[test]
    fn large_rosenbrock_matches_the_interpreter() {
        let _guard = exclusive();
        let n = 1000;
        let (g, outputs) = rosenbrock(n);
        let point = |k: usize| {
            (0..n)
                .map(|i| ((i * 7 + k) % 13) as f64 * 0.2 - 1.1)
                .collect()
        };
        check(&g, &outputs, n, &[point(0), point(1), vec![1.0; n]]);
        let c = Compiled::compile(&g, &outputs, n).unwrap();
        let mut out = vec![0.0; n + 1];
        c.call(&vec![1.0; n], &mut out);
        assert!(out.iter().all(|&v| v == 0.0), "the minimum is at 1");
    }

    #[test]
    fn code_outgrowing_its_reservation_is_rebuilt_in_a_larger_one() {
        let _guard = exclusive();
        let n = 1000;
        let (g, outputs) = rosenbrock(n);
        let page = 4096;
        let retried =
            Compiled::compile_reserving(&g, &outputs, n, Some((page, region::MAX_REGION))).unwrap();
        let usual = Compiled::compile(&g, &outputs, n).unwrap();
        let x: Vec<f64> = (0..n).map(|i| (i % 7) as f64 * 0.3 - 0.9).collect();
        let (mut a, mut b) = (vec![0.0; n + 1], vec![0.0; n + 1]);
        retried.call(&x, &mut a);
        usual.call(&x, &mut b);
        assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()));
        // Code that cannot fit the largest reservation is a limit, not a crash.
        let capped = Compiled::compile_reserving(&g, &outputs, n, Some((page, 4 * page)));
        assert_eq!(capped.unwrap_err().kind, ErrorKind::Limit);
    }

    /// Long products: the prefix products of the gradient share the value's
    /// multiplications (with a coefficient too), and the schedule stores
    /// each partial as soon as its suffix product is ready.
    #[test]
    fn long_product_gradients_match_the_interpreter() {
        let _guard = exclusive();
        let mut g = Graph::new();
        let xs: Vec<NodeId> = (0..40).map(|i| g.var(i)).collect();
        let p = g.product(&xs);
        let mut factors = vec![g.constant(-2.5)];
        factors.extend_from_slice(&xs);
        let scaled = g.product(&factors);
        let few = g.product(&xs[..6]);
        let quotient = g.div(few, xs[6]);
        let mut outputs = Vec::new();
        for f in [p, scaled, quotient] {
            outputs.push(f);
            outputs.extend(crate::diff::gradient(&mut g, f, &xs));
        }
        let point = |k: usize| -> Vec<f64> {
            (0..40)
                .map(|i| [0.5, -1.25, 2.0, 0.75, -0.0, 1.5][(i + k) % 6] + (i as f64) / 64.0)
                .collect()
        };
        check(
            &g,
            &outputs,
            40,
            &[point(0), point(1), point(4), vec![1.0; 40]],
        );
        // The value's 39 multiplications are the prefix products.
        let compiled = lower(&g, &outputs[..41], 40).unwrap();
        let muls = compiled.instrs.iter().filter(|i| i.op == Op::Mul).count();
        assert_eq!(muls, 39 + 38 + 38, "value, suffix products, partials");
        let compiled = lower(&g, &outputs[41..82], 40).unwrap();
        let muls = compiled.instrs.iter().filter(|i| i.op == Op::Mul).count();
        // One more: the partial of x1 is `c*(x1*suffix)`, since the sum that
        // makes an adjoint keeps a term's coefficient apart.
        assert_eq!(muls, 40 + 38 + 39 + 1, "the same with the coefficient");
    }

    #[test]
    fn deep_graphs_compile_without_recursion() {
        let _guard = exclusive();
        let mut g = Graph::new();
        let x = g.var(0);
        let mut v = x;
        for i in 0..20_000 {
            v = if i % 2 == 0 {
                g.call1(Func::Sin, v)
            } else {
                g.add(v, x)
            };
        }
        let c = Compiled::compile(&g, &[v], 1).unwrap();
        let mut out = [0.0];
        c.call(&[0.5], &mut out);
        assert_eq!(out[0], Interpreter::new(&g, &[v]).eval(&[0.5])[0]);
    }

    #[test]
    fn calls_from_many_threads_agree() {
        let _guard = exclusive();
        let (g, outputs) = rosenbrock(300);
        let c = Compiled::compile(&g, &outputs, 300).unwrap();
        let point =
            |k: usize| -> Vec<f64> { (0..300).map(|i| ((i + k) % 5) as f64 - 2.0).collect() };
        let expected: Vec<Vec<f64>> = (0..8)
            .map(|k| {
                let mut out = vec![0.0; outputs.len()];
                c.call(&point(k), &mut out);
                out
            })
            .collect();
        std::thread::scope(|s| {
            for t in 0..4 {
                let (c, expected) = (&c, &expected);
                s.spawn(move || {
                    let mut out = vec![0.0; expected[0].len()];
                    for round in 0..200 {
                        let k = (t + round) % 8;
                        c.call(&point(k), &mut out);
                        assert_eq!(out, expected[k]);
                    }
                });
            }
        });
    }

    /// Resident memory in pages, from `/proc/self/statm` (Linux only).
    fn resident_pages() -> Option<u64> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        statm.split_whitespace().nth(1)?.parse().ok()
    }

    #[test]
    fn compiling_and_dropping_does_not_leak() {
        let _guard = exclusive();
        let mut g = Graph::new();
        let x = g.var(0);
        let y = g.var(1);
        let s = g.call1(Func::Sin, x);
        let p = g.mul(s, y);
        let q = g.powc(p, 3.0);
        let run = |times: usize| {
            for _ in 0..times {
                let c = Compiled::compile(&g, &[q, p], 2).unwrap();
                let mut out = [0.0; 2];
                c.call(&[0.5, 2.0], &mut out);
                assert_eq!(out[1], 0.5f64.sin() * 2.0);
            }
        };
        // The allocator's arena for this thread grows for a while first.
        run(1000);
        let Some(before) = resident_pages() else {
            return;
        };
        run(10_000);
        let after = resident_pages().unwrap_or(before);
        // Leaking the code (at least a page per compilation) would add
        // 10,000 pages; so would leaking 8 KB of compiler state.
        assert!(
            after < before + 1000,
            "resident pages grew from {before} to {after}"
        );
    }

    #[test]
    fn scratch_on_the_heap_is_per_thread() {
        let _guard = exclusive();
        // Enough values crossing chunks to need the per-thread buffer: many
        // terms all used again at the end.
        let mut g = Graph::new();
        let xs: Vec<NodeId> = (0..3000u32).map(|i| g.var(i)).collect();
        let sins: Vec<NodeId> = xs.iter().map(|&x| g.call1(Func::Sin, x)).collect();
        let total = g.sum(&sins);
        let outputs: Vec<NodeId> = sins.iter().map(|&s| g.mul(s, total)).collect();
        let c = Compiled::compile(&g, &outputs, 3000).unwrap();
        assert!(c.scratch_len > STACK_SCRATCH, "{c:?}");
        let x: Vec<f64> = (0..3000).map(|i| i as f64 * 0.001).collect();
        check(&g, &outputs, 3000, std::slice::from_ref(&x));
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    let mut out = vec![0.0; 3000];
                    let want = Interpreter::new(&g, &outputs).eval(&x);
                    for _ in 0..20 {
                        c.call(&x, &mut out);
                        assert_eq!(out, want);
                    }
                });
            }
        });
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
