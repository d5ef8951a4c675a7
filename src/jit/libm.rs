//! The functions the code calls: `extern "C"` wrappers around Rust's own
//! `f64` methods, so the interpreter and the compiled code use the same
//! libm, and the symbols through which a module finds them.

use cranelift_codegen::ir::LibCall;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_jit::JITBuilder;
use cranelift_module::default_libcall_names;

use cranelift_codegen::ir::{AbiParam, types};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Linkage, Module};

use super::codegen_error;
use super::lower::{Callee, Op};
use crate::builtins::{self, Func};
use crate::error::Error;

/// Settings and symbols for a module; [`region::build`](super::region::build) adds its memory.
///
/// The wrappers are found by [`symbol`] when a module links a call to
/// one, not entered in the builder's table beforehand: the table costs a
/// hashed `String` per wrapper and module (about 1,000 instructions each,
/// 50,000 for `slope min "x^2"`), for the few a formula calls.
pub(super) fn module_builder(isa: &OwnedTargetIsa) -> JITBuilder {
    let default_names = default_libcall_names();
    let names = move |call: LibCall| match call {
        LibCall::FloorF64 => "slope_floor".to_string(),
        LibCall::CeilF64 => "slope_ceil".to_string(),
        other => default_names(other),
    };
    let mut builder = JITBuilder::with_isa(isa.clone(), Box::new(names));
    builder.symbol_lookup_fn(Box::new(symbol));
    builder
}

/// The address of the wrapper named `name`, if there is one.
fn symbol(name: &str) -> Option<*const u8> {
    let floor_ceil = [
        (
            "slope_floor",
            slope_floor as extern "C" fn(f64) -> f64 as *const u8,
        ),
        (
            "slope_ceil",
            slope_ceil as extern "C" fn(f64) -> f64 as *const u8,
        ),
    ];
    Func::ALL
        .iter()
        .flat_map(|&f| [Callee::F1(f), Callee::F2(f)])
        // `xlogy` (an internal function of the derivatives) is not in `Func::ALL`.
        .chain([
            Callee::F2(Func::Xlogy),
            Callee::Pow,
            Callee::Powf,
            Callee::SinCos,
        ])
        .filter_map(wrapper)
        .chain(floor_ceil)
        .chain([(
            super::loops::SCRATCH_SYMBOL,
            super::loops::slope_scratch as extern "C" fn(i64, i64) -> *mut f64 as *const u8,
        )])
        .find_map(|(n, ptr)| (n == name).then_some(ptr))
}

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

/// The C library's `exp`, `sin`, `cos` and `log`, the functions
/// `f64::exp`, `sin`, `cos` and `ln` call on Linux (LLVM lowers them to
/// calls to these symbols): the code calls them directly rather than
/// through `slope_exp` and the others, which only jumped to them. One
/// indirect jump less per call (per row of a data sum like
/// `a*exp(-b*t[i])`, two per level of nested `sin`), with the same bits.
#[cfg(target_os = "linux")]
mod c {
    unsafe extern "C" {
        pub(super) fn exp(x: f64) -> f64;
        pub(super) fn sin(x: f64) -> f64;
        pub(super) fn cos(x: f64) -> f64;
        pub(super) fn log(x: f64) -> f64;
    }
}

/// glibc's `sincos`, which gives the bits of its `sin` and `cos` (the
/// same kernels, the same argument reduction: `sin_cos_matches_sin_and_cos`
/// checks it) for the price of about one of them. Hand-written Rust gets it
/// too: LLVM turns `x.sin()` and `x.cos()` into one call.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod gnu {
    unsafe extern "C" {
        pub(super) fn sincos(x: f64, sin: *mut f64, cos: *mut f64);
    }
}

/// Whether calls to `sin` and `cos` of one operand can be one call to
/// `sincos` ([`Callee::SinCos`]).
pub(super) const HAS_SINCOS: bool = cfg!(all(target_os = "linux", target_env = "gnu"));

extern "C" fn slope_atan2(a: f64, b: f64) -> f64 {
    Func::Atan2.apply2(a, b)
}

extern "C" fn slope_hypot(a: f64, b: f64) -> f64 {
    Func::Hypot.apply2(a, b)
}

extern "C" fn slope_xlogy(a: f64, b: f64) -> f64 {
    Func::Xlogy.apply2(a, b)
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

/// Declares in `module` the wrapper a call to `callee` calls: its symbol,
/// with one `f64` parameter per argument and an `f64` result; `sincos`
/// with its own, `(f64, *mut f64, *mut f64)` and no result.
pub(super) fn declare(module: &mut JITModule, callee: Callee) -> Result<FuncId, Error> {
    let (name, _) = wrapper(callee).ok_or_else(|| codegen_error("no wrapper"))?;
    let mut sig = module.make_signature();
    if callee == Callee::SinCos {
        let ptr = AbiParam::new(module.target_config().pointer_type());
        sig.params.extend([AbiParam::new(types::F64), ptr, ptr]);
    } else {
        let arity = Op::Call(callee).arity();
        sig.params
            .extend(std::iter::repeat_n(AbiParam::new(types::F64), arity));
        sig.returns.push(AbiParam::new(types::F64));
    }
    module
        .declare_function(name, Linkage::Import, &sig)
        .map_err(codegen_error)
}

/// The symbol and address of the function a call instruction calls.
pub(super) fn wrapper(callee: Callee) -> Option<(&'static str, *const u8)> {
    type F2 = extern "C" fn(f64, f64) -> f64;
    type C1 = unsafe extern "C" fn(f64) -> f64;
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    type SinCos = unsafe extern "C" fn(f64, *mut f64, *mut f64);
    match callee {
        #[cfg(target_os = "linux")]
        Callee::F1(Func::Exp) => Some(("slope_exp", c::exp as C1 as *const u8)),
        #[cfg(target_os = "linux")]
        Callee::F1(Func::Sin) => Some(("slope_sin", c::sin as C1 as *const u8)),
        #[cfg(target_os = "linux")]
        Callee::F1(Func::Cos) => Some(("slope_cos", c::cos as C1 as *const u8)),
        #[cfg(target_os = "linux")]
        Callee::F1(Func::Ln) => Some(("slope_ln", c::log as C1 as *const u8)),
        Callee::F1(f) => wrapper1(f),
        Callee::F2(Func::Atan2) => Some(("slope_atan2", slope_atan2 as F2 as *const u8)),
        Callee::F2(Func::Hypot) => Some(("slope_hypot", slope_hypot as F2 as *const u8)),
        Callee::F2(Func::Xlogy) => Some(("slope_xlogy", slope_xlogy as F2 as *const u8)),
        Callee::F2(_) => None,
        Callee::Pow => Some(("slope_pow", slope_pow as F2 as *const u8)),
        Callee::Powf => Some(("slope_powf", slope_powf as F2 as *const u8)),
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        Callee::SinCos => Some(("slope_sincos", gnu::sincos as SinCos as *const u8)),
        #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
        Callee::SinCos => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Graph, NodeId};
    use crate::jit::testing::{SPECIAL, check, exclusive, pairs};

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

    /// A `sin` and a `cos` of one operand are one call to `sincos`, whose
    /// bits are `f64::sin`'s and `f64::cos`'s (the interpreter's): at
    /// special values, tiny and huge arguments (the slow reduction) and
    /// pseudo-random bit patterns, beside a `sin` without a partner.
    #[test]
    fn sin_cos_matches_sin_and_cos() {
        let _guard = exclusive();
        let mut g = Graph::new();
        let x = g.var(0);
        let y = g.var(1);
        let sin = g.call1(Func::Sin, x);
        let cos = g.call1(Func::Cos, x);
        let both = g.mul(sin, cos);
        let alone = g.call1(Func::Sin, y);
        let outputs = [sin, cos, both, alone];
        let program = crate::jit::lower::lower(&g, &outputs, 2).unwrap();
        let fused = crate::jit::codegen::sin_cos_partners(&program)
            .iter()
            .filter(|&&p| p != u32::MAX)
            .count();
        assert_eq!(fused, if HAS_SINCOS { 2 } else { 0 });
        let compiled = crate::jit::Compiled::compile(&g, &outputs, 2).unwrap();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let z = (state ^ (state >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let mut points: Vec<f64> = SPECIAL.to_vec();
        points.extend([
            1e-9,
            0.8554,
            2.4e9,
            1.1e22,
            f64::MAX,
            f64::MIN_POSITIVE / 4.0,
        ]);
        for k in 0..20_000 {
            let bits = next();
            points.push(match k % 2 {
                0 => f64::from_bits(bits),
                _ => ((bits >> 11) as f64 / 2f64.powi(53) - 0.5) * 10f64.powi(k % 30 - 8),
            });
        }
        let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        let mut out = [0.0; 4];
        for (i, &a) in points.iter().enumerate() {
            let b = points[(i + 1) % points.len()];
            compiled.call(&[a, b], &mut out);
            let want = [a.sin(), a.cos(), a.sin() * a.cos(), b.sin()];
            for (k, (&got, &want)) in out.iter().zip(&want).enumerate() {
                assert!(
                    same(got, want),
                    "output {k} at {a:e}: {got:e}, not {want:e}"
                );
            }
        }
    }
}
