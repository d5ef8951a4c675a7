//! Leaf functions without a frame: the four instructions Cranelift spends
//! on `rbp` in every x86-64 function are taken out where nothing needs them.
//!
//! Cranelift 0.135 gives every x86-64 function the frame-pointer prologue
//! `push rbp; mov rbp, rsp` and the epilogue `mov rsp, rbp; pop rbp`
//! before its `ret`, whatever its flags (`x64/abi.rs`,
//! `gen_prologue_frame_setup`). On a tiny formula that is a third of the
//! code: the parabola's value is 12 instructions, 4 of them the frame,
//! which LLVM leaves out of a hand-written Rust function, and
//! `cargo bench --bench placement` times five instructions near the
//! program at 1.49 ns a call without it and 1.80 ns with it (far away
//! the distance hides it: `near.rs`). A function that calls nothing and keeps
//! nothing on the stack never reads `rbp` (Cranelift does not allocate it
//! while frame pointers are on) nor needs `rsp` aligned, so [`define`]
//! replaces its prologue with a four-byte no-op and its epilogue with a
//! bare `ret`, byte for byte in place: every other offset, and so every
//! PC-relative reference to the constant pool, stays as it was.
//!
//! Which bytes are the prologue and the epilogue is not guessed from their
//! contents: Cranelift records the code range of each source location, the
//! prologue's at offset 0 and the return's, which covers its epilogue, under
//! [`return_mark`] (set by the builder on the return instruction). The code is
//! changed only when those two ranges are exactly the four-instruction
//! frame — a function with spill slots or saved registers has more in its
//! prologue — and the function has no relocations, so calls nothing (every
//! call in a module needs one: to a function, a libm wrapper or a Cranelift
//! library routine). A function that loses its frame is invisible to a
//! frame-pointer unwinder, as a frameless function from LLVM is; nothing
//! unwinds through it, since it calls nothing.

use cranelift_codegen::Context;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::SourceLoc;
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Module, ModuleReloc};

use super::codegen_error;
use crate::error::Error;

/// The source location the builder gives the return instruction, so that
/// its epilogue can be found in the code.
pub(super) fn return_mark() -> SourceLoc {
    SourceLoc::new(1)
}

/// `push rbp; mov rbp, rsp`.
const PROLOGUE: [u8; 4] = [0x55, 0x48, 0x89, 0xe5];

/// `mov rsp, rbp; pop rbp; ret`.
const EPILOGUE: [u8; 5] = [0x48, 0x89, 0xec, 0x5d, 0xc3];

/// The four-byte no-op (`nop dword [rax + 0]`) in the prologue's place.
const NOP4: [u8; 4] = [0x0f, 0x1f, 0x40, 0x00];

/// `ret` and three `int3` in the epilogue's place (never reached).
const RET: [u8; 5] = [0xc3, 0xcc, 0xcc, 0xcc, 0xcc];

/// Compiles `ctx`'s function and defines it as `id` in `module`, without
/// its frame where this module's documentation says it is safe. `ctx` keeps
/// the compiled code, as with [`Module::define_function`].
pub(super) fn define(module: &mut JITModule, id: FuncId, ctx: &mut Context) -> Result<(), Error> {
    ctx.compile(module.isa(), &mut ControlPlane::default())
        .map_err(|e| codegen_error(format!("{:?}", e.inner)))?;
    let compiled = ctx
        .compiled_code()
        .ok_or_else(|| codegen_error("Cranelift kept no code"))?;
    let relocs: Vec<ModuleReloc> = compiled
        .buffer
        .relocs()
        .iter()
        .map(|reloc| ModuleReloc::from_mach_reloc(reloc, &ctx.func, id))
        .collect();
    let mut code = compiled.code_buffer().to_vec();
    let alignment = u64::from(compiled.buffer.alignment);
    if relocs.is_empty() && cfg!(target_arch = "x86_64") {
        let ranges = compiled
            .buffer
            .get_srclocs_sorted()
            .iter()
            .map(|s| (s.start as usize..s.end as usize, s.loc));
        drop_frame(&mut code, ranges);
    }
    module
        .define_function_bytes(id, alignment, &code, &relocs)
        .map_err(codegen_error)
}

/// Replaces the frame in `code`, whose source-location ranges are
/// `ranges`, if the prologue (the default location's range at offset 0) and
/// every range of [`return_mark`] are exactly the frame's instructions; returns
/// whether it did.
fn drop_frame(
    code: &mut [u8],
    ranges: impl Iterator<Item = (std::ops::Range<usize>, SourceLoc)>,
) -> bool {
    let mut prologue = None;
    let mut epilogues = Vec::new();
    for (range, loc) in ranges {
        if loc == return_mark() {
            epilogues.push(range);
        } else if range.start == 0 && loc.is_default() {
            prologue = Some(range);
        }
    }
    let Some(prologue) = prologue else {
        return false;
    };
    let is = |range: &std::ops::Range<usize>, bytes: &[u8]| code.get(range.clone()) == Some(bytes);
    if epilogues.is_empty()
        || !is(&prologue, &PROLOGUE)
        || !epilogues.iter().all(|e| is(e, &EPILOGUE))
    {
        return false;
    }
    code[prologue].copy_from_slice(&NOP4);
    for e in epilogues {
        code[e].copy_from_slice(&RET);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Formula;
    use crate::jit::Compiled;
    use crate::jit::testing::check;

    /// A function of `body` between the frame's prologue and epilogue,
    /// with Cranelift's source-location ranges for it.
    fn framed(body: &[u8]) -> (Vec<u8>, Vec<(std::ops::Range<usize>, SourceLoc)>) {
        let code = [&PROLOGUE[..], body, &EPILOGUE].concat();
        let end = 4 + body.len();
        let ranges = vec![
            (0..4, SourceLoc::default()),
            (4..end, SourceLoc::default()),
            (end..end + 5, return_mark()),
        ];
        (code, ranges)
    }

    /// Asserts that `drop_frame` leaves `code` as it is.
    fn assert_kept(mut code: Vec<u8>, ranges: Vec<(std::ops::Range<usize>, SourceLoc)>) {
        let before = code.clone();
        assert!(!drop_frame(&mut code, ranges.into_iter()));
        assert_eq!(code, before);
    }

    /// `vmovsd xmm0, [rdi]`
    const LOAD: [u8; 4] = [0xc5, 0xfb, 0x10, 0x07];

    #[test]
    fn the_frame_becomes_a_nop_and_a_bare_ret_in_place() {
        let (mut code, ranges) = framed(&LOAD);
        assert!(drop_frame(&mut code, ranges.into_iter()));
        assert_eq!(code, [&NOP4[..], &LOAD, &RET].concat());
    }

    #[test]
    fn a_prologue_that_also_makes_room_on_the_stack_is_kept() {
        // `sub rsp, 16` after the frame pointer: spill slots.
        let (code, mut ranges) = framed(&[0x48, 0x83, 0xec, 0x10]);
        ranges[0].0 = 0..8;
        ranges[1].0 = 8..8;
        assert_kept(code, ranges);
    }

    #[test]
    fn an_epilogue_that_restores_more_is_kept() {
        let (code, mut ranges) = framed(&LOAD);
        // The return's range starts one byte early, taking in a byte of
        // the body: not the bare epilogue.
        ranges[2].0.start -= 1;
        assert_kept(code, ranges);
    }

    #[test]
    fn without_the_return_marked_nothing_changes() {
        let (code, mut ranges) = framed(&LOAD);
        ranges.pop();
        assert_kept(code, ranges);
    }

    /// The first bytes of a formula's compiled value.
    fn entry_bytes(text: &str) -> [u8; 4] {
        let f = Formula::parse(text).unwrap();
        let compiled = Compiled::compile(f.graph(), &[f.value()], f.vars().len()).unwrap();
        // SAFETY: the entry is the start of at least four bytes of code,
        // mapped readable while `compiled` lives.
        unsafe { *compiled.entry_address().cast::<[u8; 4]>() }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn tiny_arithmetic_loses_its_frame_and_calls_keep_theirs() {
        assert_eq!(entry_bytes("3*x^2 + 2*x + 1"), NOP4);
        // A call needs `rsp` aligned, which the push gave.
        assert_eq!(entry_bytes("exp(x) + 1"), PROLOGUE);
    }

    #[test]
    fn frameless_code_computes_what_the_interpreter_does() {
        let points: Vec<Vec<f64>> = [-2.5, -0.0, 0.5, 3.0, 1e300, f64::NAN]
            .iter()
            .map(|&v| vec![v, 1.0 - v, 0.25 * v])
            .collect();
        for text in [
            "3*x^2 + 2*x + 1",
            "(x-1.5)^2 + (y-2.5)^2 + (z-0.5)^2",
            "abs(x) * y - z",
        ] {
            let f = Formula::parse(text).unwrap();
            let mut outputs = vec![f.value()];
            outputs.extend_from_slice(f.gradient());
            check(f.graph(), &outputs[..1], 3, &points);
            check(f.graph(), &outputs, 3, &points);
        }
    }
}
