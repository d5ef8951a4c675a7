//! Native code for indexed formulas: value, and value with gradient, as one
//! Cranelift function with a loop per reduction and per scatter.
//!
//! The straight-line pipeline (lowering, scheduling, chunking) is for
//! formulas whose size is their text's; an indexed formula's size is its
//! body's, whatever the range, so its code is emitted directly from the
//! graph, node by node, in the interpreter's order (`eval.rs`): a sum adds
//! pairwise ([`sum_pairwise`]), a product multiplies its numerator left to right and
//! divides once by its denominator, a reduction accumulates from 0 (or 1)
//! over its index tuples with the last index fastest, and the gradient of
//! an array is zeroed and then added to by each scatter in order. Powers
//! with exponents -3 to 4 repeat [`builtins::powi`]'s multiplications,
//! `^0.5` is `sqrt`, and other powers and the transcendental functions call
//! the same Rust functions the interpreter calls (`libm.rs`). What a body
//! uses from outside its loop is placed before the loop (`invariant.rs`)
//! without changing any operation. So compiled and interpreted values
//! agree to the bit.
//!
//! Sizes, parameters and data are run-time inputs read through [`Inputs`]:
//! changing `n` or the data does not recompile. The code trusts the reads
//! it makes: binding (`bind.rs`) checked every read of every loop against
//! its array's extent, and [`LoopCode::call`] checks the lengths of `x` and
//! the gradient against the frame it was given. The value and the gradient
//! are written where the caller points, so that neither is copied.

use std::collections::HashMap;

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{AbiParam, InstBuilder, MemFlagsData, StackSlot, Value, types};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Module};

mod inputs;
mod invariant;
mod nodes;
mod rows;
mod scan;

pub use inputs::InputBuffers;
use inputs::{Inputs, array_blocks};
use invariant::Held;
pub use rows::RowCode;
use scan::LoopScan;
pub(super) use scan::{SCRATCH_SYMBOL, slope_scratch};

use super::codegen_error;
use super::libm::declare;
use super::lower::Callee;
use super::region::{self, NativeCode};
use crate::ast::ReduceOp;
use crate::bind::MAX_LEVELS;
use crate::builtins::{Func, small_integer};
use crate::diff::Scatter;
use crate::error::Result;
use crate::eval::{ScatterGroup, evaluated_body, reduction_body, scatter_groups};
use crate::graph::{
    Affine, Graph, Node, NodeId, Range, Read, Reduce, Source, SumStep, Symbol, reachable,
    sum_pairwise,
};

/// Native code for an indexed formula's value, or value and gradient.
pub struct LoopCode {
    code: NativeCode,
    gradient: bool,
    /// Whether it reads a direction (the code of a Hessian-vector
    /// product), which only [`LoopCode::call_hess_vec`] passes.
    reads_direction: bool,
}

/// Data columns whose addresses a call passes without allocating.
const FEW_COLUMNS: usize = 16;

/// `(x, value, gradient, inputs)`.
type Entry = unsafe extern "C" fn(*const f64, *mut f64, *mut f64, *const Inputs);

/// What the code computes: the value, then (with `gradient`) the scalar
/// partials, then the arrays' partials by scatters.
pub struct Outputs<'a> {
    pub value: NodeId,
    pub scalars: &'a [NodeId],
    pub scatters: &'a [Scatter],
    pub gradient: bool,
}

impl LoopCode {
    /// Compiles `outputs` of `graph`, whose arrays have `ranks` dimensions
    /// and which has `n_params` parameters.
    pub fn compile(
        graph: &Graph,
        outputs: &Outputs<'_>,
        n_params: usize,
        ranks: &[usize],
    ) -> Result<LoopCode> {
        let code = region::build(
            |module| generate(module, graph, outputs, n_params, ranks),
            1 << 20,
            region::MAX_REGION,
        )?;
        let mut roots = vec![outputs.value];
        roots.extend_from_slice(outputs.scalars);
        roots.extend(outputs.scatters.iter().map(|s| s.value));
        let reads_direction = reachable(graph, &roots).iter().any(|&id| {
            matches!(graph.node(id), Node::Read(r)
                if matches!(r.source, Source::Direction(_) | Source::ScalarDirection(_)))
        });
        Ok(LoopCode {
            code,
            gradient: outputs.gradient,
            reads_direction,
        })
    }

    /// Writes the value to `value` and, for gradient code, the gradient to
    /// `grad` (which value code leaves alone).
    ///
    /// Panics if `x` or `grad` do not fit `inputs` (a programming error: the
    /// code trusts the lengths).
    pub fn call(&self, inputs: &InputBuffers, x: &[f64], value: &mut f64, grad: &mut [f64]) {
        assert!(
            !self.reads_direction,
            "LoopCode::call: this code needs a direction"
        );
        self.call_along(inputs, x, None, value, grad);
    }

    /// [`LoopCode::call`] for the code of a Hessian-vector product, which
    /// reads the direction `v` (laid out as `x`) and writes the product to
    /// `grad`.
    ///
    /// Panics if `v` does not fit `inputs`.
    pub fn call_hess_vec(&self, inputs: &InputBuffers, x: &[f64], v: &[f64], out: &mut [f64]) {
        assert_eq!(
            v.len(),
            inputs.n_vars,
            "LoopCode::call_hess_vec: v has the wrong length"
        );
        let mut unused = 0.0;
        self.call_along(inputs, x, Some(v), &mut unused, out);
    }

    fn call_along(
        &self,
        inputs: &InputBuffers,
        x: &[f64],
        direction: Option<&[f64]>,
        value: &mut f64,
        grad: &mut [f64],
    ) {
        assert_eq!(
            x.len(),
            inputs.n_vars,
            "LoopCode::call: x has the wrong length"
        );
        if self.gradient {
            assert_eq!(
                grad.len(),
                inputs.n_vars,
                "LoopCode::call: the gradient has the wrong length"
            );
        }
        // The gradient code adds into the arrays' partials, which start
        // at 0. Zeroed here (a `memset`, several elements per store)
        // rather than by a scalar loop in the code: that loop was 30% of a
        // value+gradient of the chained Rosenbrock.
        if self.gradient {
            grad.fill(0.0);
        }
        // The columns' addresses, on the stack for a few columns: this is
        // every evaluation's path, which should not allocate.
        let mut few = [std::ptr::null::<f64>(); FEW_COLUMNS];
        let many: Vec<*const f64>;
        let data = if inputs.data.len() <= FEW_COLUMNS {
            for (slot, column) in few.iter_mut().zip(&inputs.data) {
                *slot = column.as_ptr();
            }
            few.as_ptr()
        } else {
            many = inputs.data.iter().map(|c| c.as_ptr()).collect();
            many.as_ptr()
        };
        let abi = Inputs {
            ints: inputs.ints.as_ptr(),
            floats: inputs.floats.as_ptr(),
            data,
            direction: direction.map_or(std::ptr::null(), <[f64]>::as_ptr),
        };
        // SAFETY: the code was generated by `generate` with the `Entry`
        // signature. It reads `x[0..n_vars]` and writes `value` and, for
        // gradient code, `grad[0..n_vars]` (lengths checked above; `n_vars` is `ints[0]`, the same number);
        // every array and data read stays inside `x` and the columns (and
        // a direction read inside `v`, of `x`'s length, which only the
        // code of a Hessian-vector product makes),
        // because binding checked each read's range against the extents
        // recorded in `ints`; `abi`'s buffers live until the call returns.
        // A scan (`scan.rs`) writes and reads only the pairs of its own
        // buffer, which `slope_scratch` made as long as the code asked:
        // two numbers for each tuple it counted, over the same ranges.
        unsafe {
            let entry = std::mem::transmute::<*const u8, Entry>(self.code.entry());
            entry(x.as_ptr(), value, grad.as_mut_ptr(), &abi);
        }
    }
}

fn generate(
    module: &mut JITModule,
    graph: &Graph,
    outputs: &Outputs<'_>,
    n_params: usize,
    ranks: &[usize],
) -> Result<FuncId> {
    let ptr = module.target_config().pointer_type();
    let mut sig = module.make_signature();
    for _ in 0..4 {
        sig.params.push(AbiParam::new(ptr));
    }
    let id = module
        .declare_anonymous_function(&sig)
        .map_err(codegen_error)?;
    let mut ctx = module.make_context();
    ctx.func.signature = sig;
    let mut fctx = FunctionBuilderContext::new();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let params = b.block_params(entry).to_vec();
        let flags = MemFlagsData::trusted();
        let ints = b.ins().load(ptr, flags, params[3], 0);
        let floats = b.ins().load(ptr, flags, params[3], 8);
        let data = b.ins().load(ptr, flags, params[3], 16);
        let direction = b.ins().load(ptr, flags, params[3], 24);
        let levels: Vec<Variable> = (0..MAX_LEVELS).map(|_| b.declare_var(types::I64)).collect();
        // Every integer input, loaded once: sizes and offsets stay in
        // registers (or are rematerialised by the register allocator)
        // instead of being loaded in every iteration.
        let blocks = array_blocks(n_params, ranks);
        let n_ints = 1 + n_params + ranks.iter().map(|r| 1 + 2 * r).sum::<usize>();
        let int_values: Vec<Value> = (0..n_ints)
            .map(|k| b.ins().load(types::I64, flags, ints, (8 * k) as i32))
            .collect();
        let mut e = Emitter {
            graph,
            module,
            b,
            x: params[0],
            value: params[1],
            grad: params[2],
            floats,
            data,
            direction,
            ptr,
            levels,
            values: HashMap::new(),
            imports: HashMap::new(),
            ints: int_values,
            arrays: Vec::new(),
            bodies: HashMap::new(),
            scatters: Vec::new(),
            fused: HashMap::new(),
            siblings: HashMap::new(),
            rows: None,
            mirrors: HashMap::new(),
            columns: HashMap::new(),
            negations: HashMap::new(),
            reload: false,
            spilled: HashMap::new(),
            prefixes: HashMap::new(),
            factors: HashMap::new(),
            scans: HashMap::new(),
            scans_made: 0,
        };
        for (a, &block) in blocks.iter().enumerate() {
            let layout = e.array_layout(block, ranks[a]);
            e.arrays.push(layout);
        }
        e.emit(outputs)?;
        e.b.ins().return_(&[]);
        e.b.seal_all_blocks();
        let config = e.module.target_config();
        e.b.finalize(config);
    }
    let result = module.define_function(id, &mut ctx);
    module.clear_context(&mut ctx);
    result.map_err(codegen_error)?;
    Ok(id)
}

struct Emitter<'a, 'b> {
    graph: &'a Graph,
    module: &'a mut JITModule,
    b: FunctionBuilder<'b>,
    x: Value,
    /// Where the value goes.
    value: Value,
    /// Where the gradient goes, `n_vars` values (unused by value code).
    grad: Value,
    /// The integer inputs (see [`Inputs::ints`]).
    ints: Vec<Value>,
    /// Per array: where element 0 of each index would be in `x` and in the
    /// gradient, and each dimension's stride.
    arrays: Vec<ArrayLayout>,
    floats: Value,
    data: Value,
    /// The direction of a Hessian-vector product, laid out as `x` (null
    /// for other code, which never reads it).
    direction: Value,
    ptr: types::Type,
    /// Each loop level's index.
    levels: Vec<Variable>,
    /// Each node's value where it is in scope (loop bodies remove theirs
    /// when their loop ends).
    values: HashMap<NodeId, Value>,
    imports: HashMap<Callee, FuncId>,
    /// Each reduction's per-iteration nodes.
    bodies: HashMap<NodeId, Vec<NodeId>>,
    /// The gradient's scatters, and the groups of them that run in the
    /// loop of a reduction of the value, by reduction.
    scatters: Vec<Scatter>,
    fused: HashMap<NodeId, ScatterGroup>,
    /// Reductions that run in the loop of an earlier one of the same
    /// range, by that one.
    siblings: HashMap<NodeId, Vec<NodeId>>,
    /// In a loop over data rows (`rows.rs`), the variables read from the
    /// columns at the current row.
    rows: Option<RowVars>,
    /// The products emitted with one constant factor, by [`MirrorKey`],
    /// with that constant: see [`Emitter::mirrored`].
    mirrors: HashMap<MirrorKey, (NodeId, f64)>,
    /// Each data column's address, loaded once at the entry (see
    /// [`Emitter::column`]).
    columns: HashMap<u32, Value>,
    /// Products `-1*y` (or `y*-1`) emitted, to `y`: a sum adding one
    /// subtracts `y` instead (see [`Emitter::add`]).
    negations: HashMap<Value, Value>,
    /// In the body of a loop that calls a function: reads of `x`, data,
    /// parameters and indices are emitted again at each use rather than
    /// kept in a register across the call (see `invariant.rs`).
    reload: bool,
    /// Values computed before such a loop and used in it, each in its own
    /// stack slot, stored once before the loop and loaded at each use.
    spilled: HashMap<NodeId, StackSlot>,
    /// Products in a loop body whose first factors are computed before
    /// the loop: how many, and their product (see `invariant.rs`).
    prefixes: HashMap<NodeId, (usize, Held)>,
    /// For the body of each `prod` whose product of the other factors
    /// the outputs need, the nodes that compute it per index tuple (a
    /// scan's first pass, `scan.rs`).
    factors: HashMap<NodeId, Vec<NodeId>>,
    /// The products of the other factors that the loops being emitted
    /// evaluate by the scan (`scan.rs`).
    scans: HashMap<NodeId, LoopScan>,
    /// How many scans the function has started: each has its buffer.
    scans_made: usize,
}

/// A product's factors with its one constant factor left out (`None` in
/// its place), and that constant's magnitude: the products `c*a/b` and
/// `-c*a/b` have one key.
type MirrorKey = (Vec<Option<NodeId>>, u64);

/// Variables `first..` are data columns, read at row `row`: `Var(first +
/// k)` is `columns[k][row]`.
#[derive(Clone)]
struct RowVars {
    first: usize,
    columns: Vec<Value>,
    row: Variable,
}

/// An array's addressing: element `(i, j, ...)` is at
/// `base + 8*(i*strides[0] + j*strides[1] + ...)`.
struct ArrayLayout {
    x_base: Value,
    grad_base: Value,
    direction_base: Value,
    strides: Vec<Value>,
}

/// Which of the arrays laid out as `x` an address is in.
#[derive(Copy, Clone)]
enum Buffer {
    Point,
    Gradient,
    Direction,
}

fn flags() -> MemFlagsData {
    MemFlagsData::trusted()
}

impl Emitter<'_, '_> {
    fn emit(&mut self, o: &Outputs<'_>) -> Result<()> {
        let mut roots = vec![o.value];
        if o.gradient {
            roots.extend_from_slice(o.scalars);
            roots.extend(o.scatters.iter().map(|s| s.value));
        }
        let all = reachable(self.graph, &roots);
        // The columns' addresses, loaded once here in the entry block,
        // which dominates every loop, rather than in each iteration.
        for &id in &all {
            if let Node::Read(r) = self.graph.node(id)
                && let Source::Data(d) = r.source
                && !self.columns.contains_key(&d)
            {
                let column =
                    self.b
                        .ins()
                        .load(self.ptr, flags(), self.data, (8 * d as usize) as i32);
                self.columns.insert(d, column);
            }
        }
        for &id in &all {
            if let Node::Reduce(r, [body]) = self.graph.node(id) {
                let bound = self.graph.meta(id).levels | r.own_levels();
                self.bodies
                    .insert(id, reduction_body(self.graph, r, *body, bound));
            }
            if let Some((r, body)) = self.graph.product_of_others(id) {
                let bound = self.graph.meta(*body).levels | r.own_levels();
                let nodes = evaluated_body(self.graph, *body, r.own_levels(), bound);
                self.factors.insert(*body, nodes);
            }
        }
        let top: Vec<NodeId> = all
            .iter()
            .copied()
            .filter(|&id| self.graph.meta(id).levels == 0)
            .collect();
        let groups = if o.gradient {
            // The arrays' partials are zeroed first, by the caller
            // (`LoopCode::call_along`): scatters fused with the value's
            // loops add to them as those loops run.
            scatter_groups(self.graph, &top, o.scatters)
        } else {
            Vec::new()
        };
        for g in &groups {
            if let Some(r) = g.fused {
                self.fused.insert(r, g.clone());
            }
        }
        self.scatters = o.scatters.to_vec();
        self.siblings = self.same_range_reductions(&top);
        for &id in &top {
            self.node(id)?;
        }
        let v = self.values[&o.value];
        self.b.ins().store(flags(), v, self.value, 0);
        if !o.gradient {
            return Ok(());
        }
        for (k, s) in o.scalars.iter().enumerate() {
            let v = self.values[s];
            self.b.ins().store(flags(), v, self.grad, (8 * k) as i32);
        }
        for g in groups.iter().filter(|g| g.fused.is_none()) {
            let loops = o.scatters[g.members[0]].loops.clone();
            self.group(g, &loops, 0)?;
        }
        Ok(())
    }

    /// Reductions of the same range that need no loop's result run as one
    /// loop (each keeps its own accumulator, so its sum is the
    /// interpreter's): a fit's value and its partials are one pass over
    /// the rows, sharing `exp(-b*t[i])`. At most one of them carries a
    /// scatter group, so additions into the gradient keep their order.
    /// Returns, by first reduction, the others that run in its loop.
    fn same_range_reductions(&self, top: &[NodeId]) -> HashMap<NodeId, Vec<NodeId>> {
        let g = self.graph;
        let reductions: Vec<NodeId> = top
            .iter()
            .copied()
            .filter(|&id| matches!(g.node(id), Node::Reduce(..)))
            .collect();
        let needs_a_loop = |id: NodeId| {
            reachable(g, g.node(id).children())
                .iter()
                .any(|&n| g.meta(n).levels == 0 && matches!(g.node(n), Node::Reduce(..)))
        };
        let free: Vec<bool> = reductions.iter().map(|&id| !needs_a_loop(id)).collect();
        let range = |id: NodeId| match g.node(id) {
            Node::Reduce(r, _) => Some((r.level, r.ranges.clone())),
            _ => None,
        };
        let mut taken = vec![false; reductions.len()];
        let mut siblings = HashMap::new();
        for a in 0..reductions.len() {
            if taken[a] || !free[a] {
                continue;
            }
            let mut scattered = self.fused.contains_key(&reductions[a]);
            let mut members = Vec::new();
            for b in a + 1..reductions.len() {
                let id = reductions[b];
                let carries = self.fused.contains_key(&id);
                if taken[b]
                    || !free[b]
                    || range(id) != range(reductions[a])
                    || (carries && scattered)
                {
                    continue;
                }
                scattered |= carries;
                taken[b] = true;
                members.push(id);
            }
            if !members.is_empty() {
                siblings.insert(reductions[a], members);
            }
        }
        siblings
    }

    /// The loops of a scatter group from `depth` on, each computing its
    /// stage of the group's nodes, its members' values added innermost.
    fn group(&mut self, g: &ScatterGroup, loops: &[Reduce], depth: usize) -> Result<()> {
        let stage = depth.checked_sub(1).and_then(|d| g.stages.get(d));
        for &n in stage.into_iter().flatten() {
            self.node(n)?;
        }
        match loops.get(depth) {
            None => self.add_members(g)?,
            Some(r) => {
                let r = r.clone();
                let inner = g.stages.get(depth).cloned().unwrap_or_default();
                let started = self.start_scans(&inner, &r)?;
                self.ranges(&r.ranges, r.level, &mut |e| e.group(g, loops, depth + 1))?;
                self.end_scans(started);
            }
        }
        for n in stage.into_iter().flatten() {
            self.values.remove(n);
        }
        Ok(())
    }

    /// `grad[target] += value` for each member of `g`, in order.
    fn add_members(&mut self, g: &ScatterGroup) -> Result<()> {
        for &m in &g.members {
            let s = self.scatters[m].clone();
            let v = self.operand(s.value)?;
            let (addr, offset) = self.address(&s.target, Buffer::Gradient)?;
            let old = self.b.ins().load(types::F64, flags(), addr, offset);
            let sum = self.b.ins().fadd(old, v);
            self.b.ins().store(flags(), sum, addr, offset);
        }
        Ok(())
    }

    /// `for (; var < end; var++) body`, `end` exclusive: tested once
    /// before the loop and then at its bottom, so an iteration runs one
    /// conditional branch and no jump.
    fn counted_loop(
        &mut self,
        var: Variable,
        end: Value,
        mut body: impl FnMut(&mut Self) -> Result<()>,
    ) -> Result<()> {
        let (inner, exit) = (self.b.create_block(), self.b.create_block());
        let at = self.b.use_var(var);
        let done = self.b.ins().icmp(IntCC::SignedGreaterThanOrEqual, at, end);
        self.b.ins().brif(done, exit, &[], inner, &[]);
        self.b.switch_to_block(inner);
        body(self)?;
        let at = self.b.use_var(var);
        let next = self.b.ins().iadd_imm_s(at, 1);
        self.b.def_var(var, next);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, next, end);
        self.b.ins().brif(more, inner, &[], exit, &[]);
        self.b.switch_to_block(exit);
        Ok(())
    }

    /// The nested loops of `ranges` (levels from `level` on), with `body`
    /// run innermost.
    fn ranges(
        &mut self,
        ranges: &[Range],
        level: u32,
        body: &mut dyn FnMut(&mut Self) -> Result<()>,
    ) -> Result<()> {
        let Some((first, rest)) = ranges.split_first() else {
            return body(self);
        };
        let lo = self.affine(&first.lo);
        let hi = self.affine(&first.hi);
        let end = self.b.ins().iadd_imm_s(hi, 1);
        let var = self.levels[level as usize];
        self.b.def_var(var, lo);
        self.counted_loop(var, end, |e| e.ranges(rest, level + 1, body))
    }

    /// The address of element `i` (an i64) of the f64 array at `base`.
    fn element(&mut self, base: Value, i: Value) -> Value {
        let bytes = self.b.ins().ishl_imm_s(i, 3);
        let bytes = if self.ptr == types::I64 {
            bytes
        } else {
            self.b.ins().ireduce(self.ptr, bytes)
        };
        self.b.ins().iadd(base, bytes)
    }

    /// The address of data column `d`: loaded at the entry for the columns
    /// the outputs read, or here (for code emitted by another entry).
    fn column(&mut self, d: u32) -> Value {
        match self.columns.get(&d) {
            Some(&c) => c,
            None => self
                .b
                .ins()
                .load(self.ptr, flags(), self.data, (8 * d as usize) as i32),
        }
    }

    fn int(&mut self, slot: usize) -> Value {
        self.ints[slot]
    }

    fn affine(&mut self, a: &Affine) -> Value {
        match self.affine_terms(a) {
            Some(v) if a.constant == 0 => v,
            Some(v) => self.b.ins().iadd_imm_s(v, a.constant),
            None => self.b.ins().iconst(types::I64, a.constant),
        }
    }

    /// The non-constant part of `a` (`None` if it is a constant): the
    /// constant goes into a load's or store's offset where it can, so an
    /// affine index costs no instruction beyond its terms.
    fn affine_terms(&mut self, a: &Affine) -> Option<Value> {
        let mut acc: Option<Value> = None;
        for (s, k) in a.terms.iter() {
            let v = match s {
                Symbol::Level(l) => self.b.use_var(self.levels[*l as usize]),
                Symbol::Param(p) => self.int(1 + *p as usize),
            };
            let term = if *k == 1 {
                v
            } else {
                self.b.ins().imul_imm_s(v, *k)
            };
            acc = Some(match acc {
                Some(a) => self.b.ins().iadd(a, term),
                None => term,
            });
        }
        acc
    }

    /// `base + 8*i`, with `i`'s constant part in the returned offset
    /// when it fits one (`(address, offset)` for a load or store).
    fn element_at(&mut self, base: Value, i: &Affine, shift: i64) -> (Value, i32) {
        let offset = i
            .constant
            .checked_add(shift)
            .and_then(|c| c.checked_mul(8))
            .and_then(|c| i32::try_from(c).ok());
        match (self.affine_terms(i), offset) {
            (Some(v), Some(offset)) => (self.element(base, v), offset),
            (None, Some(offset)) => (base, offset),
            (terms, None) => {
                let c = self.b.ins().iconst(types::I64, i.constant + shift);
                let at = match terms {
                    Some(v) => self.b.ins().iadd(v, c),
                    None => c,
                };
                (self.element(base, at), 0)
            }
        }
    }

    /// The addressing of the array whose block in `ints` starts at `block`,
    /// computed once at the function's entry.
    fn array_layout(&mut self, block: usize, rank: usize) -> ArrayLayout {
        // strides[d] = len[d+1] * ... * len[rank-1]; the element at the
        // lower corner is at `offset`, so index 0 would be at
        // `offset - Σ lo[d]*strides[d]`.
        let mut strides = vec![self.b.ins().iconst(types::I64, 1); rank];
        for d in (0..rank.saturating_sub(1)).rev() {
            let len = self.int(block + 2 + 2 * (d + 1));
            strides[d] = self.b.ins().imul(strides[d + 1], len);
        }
        let mut zero_at = self.int(block);
        for (d, &stride) in strides.iter().enumerate() {
            let lo = self.int(block + 1 + 2 * d);
            let shift = self.b.ins().imul(lo, stride);
            zero_at = self.b.ins().isub(zero_at, shift);
        }
        let x_base = self.element(self.x, zero_at);
        let grad_base = self.element(self.grad, zero_at);
        let direction_base = self.element(self.direction, zero_at);
        ArrayLayout {
            x_base,
            grad_base,
            direction_base,
            strides,
        }
    }

    /// The address of an array element in `x`, of its partial in the
    /// output, or of its component of the direction, as `(address,
    /// offset)` for a load or store.
    fn address(&mut self, r: &Read, into: Buffer) -> Result<(Value, i32)> {
        let (Source::Var(a) | Source::Direction(a)) = r.source else {
            return Err(codegen_error("a data read has no place in x"));
        };
        let layout = &self.arrays[a as usize];
        let base = match into {
            Buffer::Point => layout.x_base,
            Buffer::Gradient => layout.grad_base,
            Buffer::Direction => layout.direction_base,
        };
        let Some((last, outer)) = r.index.split_last() else {
            return Ok((base, 0));
        };
        // The outer dimensions' linear offset (their strides are run-time
        // values); the last dimension's stride is 1, so its constant can
        // go into the offset.
        let mut linear: Option<Value> = None;
        for (d, index) in outer.iter().enumerate() {
            let i = self.affine(index);
            let stride = self.arrays[a as usize].strides[d];
            let term = self.b.ins().imul(i, stride);
            linear = Some(match linear {
                Some(l) => self.b.ins().iadd(l, term),
                None => term,
            });
        }
        let mut base = base;
        if let Some(l) = linear {
            base = self.element(base, l);
        }
        Ok(self.element_at(base, last, 0))
    }
}
