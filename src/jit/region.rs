//! Where a module's code and data live: one reserved stretch of address
//! space per module, owned by a [`NativeCode`] until it is dropped.
//!
//! Inside a module, calls between chunks and loads from the constant table
//! are PC-relative, with 32-bit displacements. Cranelift's default memory
//! provider maps code, read-only data and writable data separately, and the
//! system may place those mappings anywhere: in a large process (a fuzzer
//! under AddressSanitizer, at 500 MB resident) they landed more than 2 GiB
//! apart, and Cranelift panicked while patching a displacement. A
//! [`Region`] keeps the whole module inside one reservation of at most
//! [`MAX_REGION`] bytes, so every displacement fits. References out of the
//! module (libm wrappers, `slope_floor`) are absolute 64-bit addresses,
//! because imports are not colocated and `use_colocated_libcalls` is off.
//!
//! The reservation is address space, not memory: pages are committed only
//! as code is written. Its size is estimated from the program; if code
//! outgrows it, [`build`] starts again with four times the room, up to the
//! cap.
//!
//! [`Compiled`](super::Compiled) and [`DescentKernel`](super::DescentKernel)
//! each own their code through a [`NativeCode`], which frees it when
//! dropped; with the memory provider below, it holds this file's `unsafe`.

use std::io;
use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cranelift_jit::{BranchProtection, JITMemoryKind, JITMemoryProvider, JITModule};
use cranelift_module::{FuncId, ModuleResult};

use super::codegen::host_isa;
use super::libm::module_builder;
use super::{codegen_error, too_large};
use crate::error::Error;

/// The largest reservation: any two addresses inside it are less than
/// 2^31 bytes apart, the reach of a 32-bit displacement.
pub(super) const MAX_REGION: usize = 1 << 31;

/// The smallest reservation, so small modules never need a second try.
const MIN_REGION: usize = 1 << 20;

/// Reservation per lowered instruction or output. Measured code ran 5 to
/// 20 bytes per item (sums, products, calls, `min`/`sign`/`floor`); the
/// constant table adds at most 16. The slack costs address space only.
const BYTES_PER_ITEM: usize = 128;

/// Reservation per function, for the page each new segment may start on.
const BYTES_PER_FUNCTION: usize = 64 << 10;

/// Bytes to reserve for a module of `items` instructions and outputs in
/// `functions` functions.
pub(super) fn estimate(items: usize, functions: usize) -> usize {
    items
        .saturating_mul(BYTES_PER_ITEM)
        .saturating_add(functions.saturating_mul(BYTES_PER_FUNCTION))
        .clamp(MIN_REGION, MAX_REGION)
}

/// One reservation, near the program's code where calls to it are faster
/// (`near.rs`).
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
type Arena = super::near::NearArena;
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
type Arena = cranelift_jit::ArenaMemoryProvider;

/// A Cranelift memory provider over one reservation, which reports when it
/// runs out (the module that owns it is out of reach once built).
struct Region {
    arena: Arena,
    exhausted: Arc<AtomicBool>,
}

impl JITMemoryProvider for Region {
    fn allocate(&mut self, size: usize, align: u64, kind: JITMemoryKind) -> io::Result<*mut u8> {
        let result = self.arena.allocate(size, align, kind);
        if result.is_err() {
            self.exhausted.store(true, Ordering::Relaxed);
        }
        result
    }

    unsafe fn free_memory(&mut self) {
        // SAFETY: forwarded; the caller upholds the arena's contract.
        unsafe { self.arena.free_memory() }
    }

    fn finalize(&mut self, branch_protection: BranchProtection) -> ModuleResult<()> {
        self.arena.finalize(branch_protection)
    }
}

/// Native code that lives until dropped: a finalized module, which owns the
/// memory of its code and data, and the address of its entry function. Its
/// owner casts that address to its entry point's type to call it, and lets
/// no copy out.
pub(super) struct NativeCode {
    /// Used only while building, then by `free_memory` in `drop`.
    module: ManuallyDrop<JITModule>,
    /// The finalized entry function (null until [`build`] sets it).
    entry: *const u8,
}

// SAFETY: after `finalize_definitions` the code and its data are
// immutable, and the module is not used again except by `free_memory` in
// `drop`, which has exclusive access: its interior mutability (the
// `RefCell` symbol cache) and raw pointers serve only while building,
// before `build` returns. So a thread other than the builder's may own it
// and free it.
unsafe impl Send for NativeCode {}
// SAFETY: `&NativeCode` gives only the entry's address. The owners call the
// code through it, and their `SAFETY:` notes show that it reads and writes
// only the buffers each call passes and touches no global state, so calls
// from several threads at once are sound.
unsafe impl Sync for NativeCode {}

impl NativeCode {
    /// The finalized entry function.
    pub(super) fn entry(&self) -> *const u8 {
        self.entry
    }
}

impl Drop for NativeCode {
    fn drop(&mut self) {
        // SAFETY: `self.module` is not used again after `take`. Freeing its
        // memory is sound: `&mut self` means no call into the code is
        // running (the owners call it through `&self`), and no pointer into
        // it is used again: only the owner, now being dropped, reads
        // `entry`, and a module `build` gives up on has let no pointer out.
        unsafe { ManuallyDrop::take(&mut self.module).free_memory() }
    }
}

/// Builds a module in a fresh region: `define` declares and defines its
/// functions and data and returns the entry function, which comes back
/// finalized in the [`NativeCode`] that owns the module. `reserve` is the
/// first reservation's size; a module that outgrows it is rebuilt in a
/// larger one, up to `max_reserve`, past which the formula is too large.
pub(super) fn build(
    mut define: impl FnMut(&mut JITModule) -> Result<FuncId, Error>,
    reserve: usize,
    max_reserve: usize,
) -> Result<NativeCode, Error> {
    let isa = host_isa()?;
    let mut reserve = reserve.min(max_reserve);
    loop {
        let exhausted = Arc::new(AtomicBool::new(false));
        let arena = Arena::new_with_size(reserve).map_err(|e| {
            codegen_error(format!(
                "cannot reserve {reserve} bytes of address space: {e}"
            ))
        })?;
        let mut builder = module_builder(&isa);
        builder.memory_provider(Box::new(Region {
            arena,
            exhausted: Arc::clone(&exhausted),
        }));
        let mut code = NativeCode {
            module: ManuallyDrop::new(JITModule::new(builder)),
            entry: std::ptr::null(),
        };
        let built = define(&mut code.module).and_then(|id| {
            code.module.finalize_definitions().map_err(codegen_error)?;
            Ok(code.module.get_finalized_function(id))
        });
        match built {
            Ok(entry) => {
                code.entry = entry;
                return Ok(code);
            }
            Err(e) => {
                // Frees the module's memory before reserving more.
                drop(code);
                if !exhausted.load(Ordering::Relaxed) {
                    return Err(e);
                }
                if reserve >= max_reserve {
                    return Err(too_large());
                }
                reserve = reserve.saturating_mul(4).min(max_reserve);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::jit::Compiled;
    use crate::jit::testing::{exclusive, rosenbrock};

    #[test]
    fn code_outgrowing_its_reservation_is_rebuilt_in_a_larger_one() {
        let _guard = exclusive();
        let n = 1000;
        let (g, outputs) = rosenbrock(n);
        let page = 4096;
        let retried = crate::jit::compile(&g, &outputs, n, Some((page, MAX_REGION))).unwrap();
        let usual = Compiled::compile(&g, &outputs, n).unwrap();
        let x: Vec<f64> = (0..n).map(|i| (i % 7) as f64 * 0.3 - 0.9).collect();
        let (mut a, mut b) = (vec![0.0; n + 1], vec![0.0; n + 1]);
        retried.call(&x, &mut a);
        usual.call(&x, &mut b);
        assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()));
        // Code that cannot fit the largest reservation is a limit, not a crash.
        let capped = crate::jit::compile(&g, &outputs, n, Some((page, 4 * page)));
        assert_eq!(capped.unwrap_err().kind, ErrorKind::Limit);
    }
}
