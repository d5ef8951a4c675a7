//! Code on two rows of a batch at once ([`Inputs::Pairs`]): every value an
//! `f64x2`, one row per lane. The batch loop takes two rows per iteration
//! this way (Cranelift's x86 back end has no wider vectors); what has no
//! lane-wise form with the scalar bits runs lane by lane ([`lane_wise`]).

use cranelift_codegen::ir::Endianness;
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Value, types};
use cranelift_frontend::FunctionBuilder;
use cranelift_module::Module;

use super::{Bases, Generator, Inputs, Outputs, RECENT_WINDOW, define_table, fixed, mem, offset};
use crate::error::Error;
use crate::jit::lower::Op;

/// Stores of two rows' values at once, 8-byte aligned but not 16-byte
/// aligned: in bounds and never trapping.
pub(super) fn unaligned() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// 16-byte loads of two values of a row, which nothing writes while the
/// code runs, 8-byte aligned only: not marked aligned, since Cranelift
/// would then let an SSE instruction (which needs 16) read them in place.
fn rows_fixed() -> MemFlagsData {
    MemFlagsData::new().with_notrap().with_readonly()
}

impl Generator<'_> {
    /// The address of a table holding each constant twice, as an `f64x2`
    /// at 16 bytes times its index, in the function `b` builds, if there
    /// are constants: code on pairs of rows loads a constant into both
    /// lanes with one load, where splatting a loaded `f64` takes a load
    /// and a shuffle (Cranelift merges the load into a `movddup` only if
    /// the value is used once, transitively).
    pub(in crate::jit) fn pair_constant_base(
        &mut self,
        b: &mut FunctionBuilder,
    ) -> Result<Option<Value>, Error> {
        if self.constants.is_empty() {
            return Ok(None);
        }
        let id = match self.pair_data {
            Some(id) => id,
            None => {
                let mut bytes = vec![0u8; 16 * self.constants.len()];
                for (&bits, &k) in &self.constants {
                    let at = 16 * k as usize;
                    bytes[at..at + 8].copy_from_slice(&bits.to_ne_bytes());
                    bytes[at + 8..at + 16].copy_from_slice(&bits.to_ne_bytes());
                }
                let id = define_table(self.module, bytes, 16)?;
                self.pair_data = Some(id);
                id
            }
        };
        let gv = self.module.declare_data_in_func(id, b.func);
        let ptr = self.module.target_config().pointer_type();
        Ok(Some(b.ins().symbol_value(ptr, gv)))
    }

    /// Variable `i` of both rows of [`Inputs::Pairs`], one in each lane,
    /// or its recent value. Variables `2j` and `2j + 1` come together: 16
    /// bytes from each row and two shuffles (`punpcklqdq`, `punpckhqdq`)
    /// give both, where one alone takes the same two loads and a
    /// `movlhps` (16 bytes from the first row, in bounds as the second
    /// row follows, the upper lane replaced by the second row's value).
    ///
    /// The other variable of the two is kept aside (`spare`), not among
    /// the recent variables: those must evolve as in the scalar code, which
    /// orders operands by them ([`Generator::is_loaded`]), so that NaNs
    /// propagate the same way.
    pub(super) fn gather(&self, b: &mut FunctionBuilder, bases: &mut Bases, i: u32) -> Value {
        if let Some(v) = bases.recent_var(i) {
            return v;
        }
        let pos = bases.pos;
        let Inputs::Pairs {
            rows,
            n_vars,
            ref mut spare,
            ..
        } = bases.inputs
        else {
            unreachable!("gather reads pairs of rows");
        };
        let v = match spare.take() {
            Some((k, v, at)) if k == i && at + RECENT_WINDOW >= pos => v,
            _ if (i | 1) >= n_vars => {
                let lo = b
                    .ins()
                    .load(types::F64X2, rows_fixed(), rows[0], offset(i as usize));
                let hi = b
                    .ins()
                    .load(types::F64, fixed(), rows[1], offset(i as usize));
                b.ins().insertlane(lo, hi, 1)
            }
            _ => {
                let j = i & !1;
                let [first, second] = rows.map(|x| {
                    b.ins()
                        .load(types::F64X2, rows_fixed(), x, offset(j as usize))
                });
                let both = [false, true].map(|high| interleave(b, first, second, high));
                *spare = Some((i ^ 1, both[((i ^ 1) - j) as usize], pos));
                both[(i - j) as usize]
            }
        };
        bases.remember_var(i, v);
        v
    }
}

/// Stores the output [`Outputs::Pairs`] holds back, if any: the chunk's
/// last.
pub(super) fn release_output(b: &mut FunctionBuilder, outputs: &mut Outputs) {
    if let Outputs::Pairs { rest, held, .. } = outputs
        && let Some((r, v)) = held.take()
    {
        store_lanes(b, *rest, r, v);
    }
}

/// Stores lane `l` of `v` to `rest[l][r]`.
pub(super) fn store_lanes(b: &mut FunctionBuilder, rest: [Value; 2], r: usize, v: Value) {
    for (lane, &rest) in rest.iter().enumerate() {
        let v = b.ins().extractlane(v, lane as u8);
        b.ins().store(mem(), v, rest, offset(r));
    }
}

/// Stores lane `l` of `v` and of `w` to `rest[l][r]` and `rest[l][r + 1]`.
pub(super) fn store_side_by_side(
    b: &mut FunctionBuilder,
    rest: [Value; 2],
    r: usize,
    v: Value,
    w: Value,
) {
    for (lane, &rest) in rest.iter().enumerate() {
        let both = interleave(b, v, w, lane == 1);
        b.ins().store(unaligned(), both, rest, offset(r));
    }
}

/// The low lanes of `v` and `w` as one `f64x2` (`punpcklqdq`), or their
/// high lanes (`punpckhqdq`).
pub(super) fn interleave(b: &mut FunctionBuilder, v: Value, w: Value, high: bool) -> Value {
    let little = MemFlagsData::new().with_endianness(Endianness::Little);
    let [v, w] = [v, w].map(|x| b.ins().bitcast(types::I8X16, little, x));
    let start: u8 = if high { 8 } else { 0 };
    let lanes: Vec<u8> = (start..start + 8).chain(start + 16..start + 24).collect();
    let mask = b.func.dfg.immediates.push(lanes.into());
    let r = b.ins().shuffle(v, w, mask);
    b.ins().bitcast(types::F64X2, little, r)
}

/// One `f64x2` of two scalars, `lanes[0]` in lane 0: what code done one
/// lane at a time gives back to the pairs' code.
pub(super) fn join_lanes(b: &mut FunctionBuilder, lanes: [Value; 2]) -> Value {
    let r = b.ins().scalar_to_vector(types::F64X2, lanes[0]);
    b.ins().insertlane(r, lanes[1], 1)
}

/// The operations [`Inputs::Pairs`] code does on both lanes at once; the
/// others it does one lane at a time as scalar code does them, so that
/// both give the same bits: calls (to the same scalar functions),
/// `min`/`max` (Cranelift's vector `fmin`/`fmax` give a NaN of another
/// sign and payload than its scalar ones) and `sign` (rare, and its
/// scalar `select`s have no vector form).
pub(super) fn lane_wise(op: Op) -> bool {
    matches!(
        op,
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Sqrt | Op::Abs | Op::Floor | Op::Ceil
    )
}
