//! A module's reservation of address space placed near this program's own
//! code, because on this machine a call to code far away costs more.
//!
//! The system maps memory, and so Cranelift's default reservations, near
//! the top of the address space, tens of terabytes from a program's own
//! code. On this host's AMD EPYC (Zen 4), `cargo bench --bench placement`
//! calls one function of five instructions (`x*x + x`) through a pointer:
//! 1.49 ns in the program's code, 1.59–1.61 ns copied to a page 64 MiB to
//! 64 GiB from it, and 2.33 ns at 512 GiB, 2.62 ns at 4 TiB, 2.37 ns where
//! `mmap` puts the page unasked: the same bytes. That difference, three
//! cycles a call, was most of what separated a tiny compiled formula from
//! its hand-written twin; the frame's four instructions (`frame.rs`) cost
//! their 0.3 ns only near (1.80 against 1.49 ns). Code that calls the C
//! library goes near the program too: in a dynamically linked program the
//! library is as far away, but the same bench's function calling `exp`
//! four times took 23.3 ns near the program and 23.6 ns near the library.
//!
//! [`NearArena`] reserves each module's stretch at an address the program
//! asks for ([`hint`]): from 4 GiB above its own code (room for a heap
//! that grows up from the end of it) to 32 GiB above, taking the next
//! stretch each time. The system gives the address asked for when it is
//! free and another when not; then the stretch is returned and the next
//! one tried, and after a few tries the reservation goes where the system
//! puts it, which is correct, only slower to call. The arena then hands out
//! pages of it as Cranelift's default arena does: each allocation in a
//! segment of its protection, read-write until [`JITMemoryProvider::finalize`]
//! gives it its final one. x86-64 only, where instruction fetch sees stores
//! without a cache flush; elsewhere `region.rs` uses Cranelift's arena.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

use cranelift_jit::{BranchProtection, JITMemoryKind, JITMemoryProvider};
use cranelift_module::{ModuleError, ModuleResult};

const GIB: usize = 1 << 30;

/// The first stretch tried is this far above the program's code.
const FIRST: usize = 4 * GIB;

/// Stretches are tried up to this far above the program's code, then again
/// from [`FIRST`] (the calls were as fast up to 64 GiB away).
const LAST: usize = 32 * GIB;

/// Addresses asked for, per reservation, before taking the system's.
const TRIES: usize = 8;

/// Where the next reservation is asked for, as an offset above the
/// program's code (shared by all threads; a stale read only costs a try).
static NEXT: AtomicUsize = AtomicUsize::new(FIRST);

/// The address of this program's code, in whichever binary or library
/// holds this crate.
fn anchor() -> usize {
    anchor as fn() -> usize as usize
}

/// The offset a reservation of `size` bytes starts at if [`NEXT`] is
/// `next`: back to [`FIRST`] when it would end past [`LAST`].
fn wrapped(next: usize, size: usize) -> usize {
    if next + size > LAST { FIRST } else { next }
}

/// The address to ask for a reservation of `size` bytes at, page-aligned,
/// moving [`NEXT`] past it.
fn hint(size: usize) -> Option<usize> {
    let next = NEXT
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |next| {
            Some(wrapped(next, size) + size)
        })
        .ok()?;
    let offset = wrapped(next, size);
    let page = page_size();
    anchor()
        .checked_add(offset)
        .map(|address| address.div_ceil(page) * page)
}

fn page_size() -> usize {
    // SAFETY: `sysconf` reads a constant of the system.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

/// Maps `size` bytes of inaccessible address space at `at` if free
/// (anywhere for `None`, or if taken), returning where they are.
fn map(at: Option<usize>, size: usize) -> io::Result<*mut u8> {
    let at = at.unwrap_or(0) as *mut libc::c_void;
    // SAFETY: without MAP_FIXED the system never replaces an existing
    // mapping: the address is only a hint.
    let ptr = unsafe {
        libc::mmap(
            at,
            size,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        Err(io::Error::last_os_error())
    } else {
        Ok(ptr.cast())
    }
}

/// Reserves `size` bytes, near the program's code if it can.
fn reserve(size: usize) -> io::Result<*mut u8> {
    for _ in 0..TRIES {
        let Some(want) = hint(size) else { break };
        let got = map(Some(want), size)?;
        if got as usize == want {
            return Ok(got);
        }
        // SAFETY: `got` is the mapping just made, of `size` bytes, which
        // nothing has seen.
        unsafe { libc::munmap(got.cast(), size) };
    }
    map(None, size)
}

fn protect(ptr: *mut u8, len: usize, prot: libc::c_int) -> io::Result<()> {
    // SAFETY: callers pass pages of the arena's own reservation.
    if unsafe { libc::mprotect(ptr.cast(), len, prot) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Pages of the reservation given one protection, handed out in order.
struct Segment {
    start: usize,
    /// Bytes of pages, all read-write until finalized.
    len: usize,
    used: usize,
    prot: libc::c_int,
    finalized: bool,
}

impl Segment {
    fn room(&self, size: usize, align: usize) -> Option<usize> {
        let at = self.used.checked_next_multiple_of(align)?;
        (!self.finalized && at.checked_add(size)? <= self.len).then_some(at)
    }
}

/// Cranelift's memory for one module: one reservation near the program's
/// code, freed by [`JITMemoryProvider::free_memory`].
pub(super) struct NearArena {
    base: *mut u8,
    size: usize,
    /// Bytes of the reservation given to segments.
    position: usize,
    segments: Vec<Segment>,
}

// SAFETY: the arena owns its reservation; nothing else refers to it until
// the module is finalized, after which only `free_memory` touches it.
unsafe impl Send for NearArena {}

impl NearArena {
    /// Reserves `size` bytes (rounded up to pages) of address space.
    pub(super) fn new_with_size(size: usize) -> io::Result<NearArena> {
        let page = page_size();
        let size = size.max(1).div_ceil(page) * page;
        Ok(NearArena {
            base: reserve(size)?,
            size,
            position: 0,
            segments: Vec::new(),
        })
    }

    /// Makes the next `bytes` (whole pages) of the reservation read-write
    /// for allocations of protection `prot`: the last segment's, which
    /// ends where they begin, if it has that protection and is not
    /// finalized, else a new segment's. Returns that segment's index.
    fn commit(&mut self, bytes: usize, prot: libc::c_int) -> io::Result<usize> {
        if self.position + bytes > self.size {
            return Err(io::Error::other("jit memory region exhausted"));
        }
        protect(
            self.base.wrapping_add(self.position),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
        )?;
        match self.segments.last_mut() {
            Some(last) if last.prot == prot && !last.finalized => last.len += bytes,
            _ => self.segments.push(Segment {
                start: self.position,
                len: bytes,
                used: 0,
                prot,
                finalized: false,
            }),
        }
        self.position += bytes;
        Ok(self.segments.len() - 1)
    }
}

impl JITMemoryProvider for NearArena {
    fn allocate(&mut self, size: usize, align: u64, kind: JITMemoryKind) -> io::Result<*mut u8> {
        let align = usize::try_from(align).unwrap_or(usize::MAX).max(1);
        let page = page_size();
        if align > page {
            return Err(io::Error::other("alignment beyond a page"));
        }
        let prot = match kind {
            JITMemoryKind::Executable => libc::PROT_READ | libc::PROT_EXEC,
            JITMemoryKind::Writable => libc::PROT_READ | libc::PROT_WRITE,
            JITMemoryKind::ReadOnly => libc::PROT_READ,
        };
        let fits = self
            .segments
            .iter()
            .position(|s| s.prot == prot && s.room(size, align).is_some());
        let index = match fits {
            Some(index) => index,
            // Committing whole pages for `size` leaves room for it: the
            // segment's used bytes end at most at its old, page-aligned
            // length, and `align` is at most a page.
            None => self.commit(size.div_ceil(page) * page, prot)?,
        };
        let segment = &mut self.segments[index];
        let at = segment
            .room(size, align)
            .ok_or_else(|| io::Error::other("jit memory segment has no room"))?;
        segment.used = at + size;
        Ok(self.base.wrapping_add(segment.start + at))
    }

    unsafe fn free_memory(&mut self) {
        if self.base.is_null() {
            return;
        }
        // SAFETY: the reservation is this arena's; the caller guarantees no
        // pointer into it is used again.
        unsafe { libc::munmap(self.base.cast(), self.size) };
        self.base = std::ptr::null_mut();
        self.segments.clear();
    }

    fn finalize(&mut self, _: BranchProtection) -> ModuleResult<()> {
        for segment in self.segments.iter_mut().filter(|s| !s.finalized) {
            protect(
                self.base.wrapping_add(segment.start),
                segment.len,
                segment.prot,
            )
            .map_err(|e| ModuleError::Backend(e.into()))?;
            segment.finalized = true;
        }
        Ok(())
    }
}

impl Drop for NearArena {
    fn drop(&mut self) {
        // Like Cranelift's arena: a reservation with finalized code may
        // still be called, so only one never finalized is freed here.
        if self.segments.iter().all(|s| !s.finalized) {
            // SAFETY: no code in it was finalized, so no pointer into it
            // was handed out for calling.
            unsafe { self.free_memory() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_land_within_reach_of_the_program_code() {
        let arenas: Vec<NearArena> = (0..4)
            .map(|_| NearArena::new_with_size(1 << 20).unwrap())
            .collect();
        for arena in &arenas {
            let distance = (arena.base as usize).abs_diff(anchor());
            assert!(
                (FIRST..=LAST + (1 << 20)).contains(&distance),
                "reserved {distance:#x} bytes from the code"
            );
        }
    }

    #[test]
    fn allocations_are_aligned_inside_and_segments_keep_one_protection() {
        let mut arena = NearArena::new_with_size(1 << 20).unwrap();
        let base = arena.base as usize;
        let mut seen = Vec::new();
        for i in 0..40 {
            let kind = match i % 4 {
                0 | 2 => JITMemoryKind::Executable,
                1 => JITMemoryKind::ReadOnly,
                _ => JITMemoryKind::Writable,
            };
            let (size, align) = (1 + i * 37 % 900, 1u64 << (i % 7));
            let ptr = arena.allocate(size, align, kind).unwrap() as usize;
            assert_eq!(ptr % align as usize, 0);
            assert!(ptr >= base && ptr + size <= base + (1 << 20));
            // Writable until finalized.
            // SAFETY: the allocation is `size` bytes of this arena.
            unsafe { std::ptr::write_bytes(ptr as *mut u8, 0xcc, size) };
            seen.push((ptr, size));
        }
        seen.sort();
        for pair in seen.windows(2) {
            assert!(pair[0].0 + pair[0].1 <= pair[1].0, "overlap: {pair:?}");
        }
        arena.finalize(BranchProtection::None).unwrap();
        // SAFETY: the arena is not used again.
        unsafe { arena.free_memory() };
    }

    #[test]
    fn a_full_reservation_says_so() {
        let mut arena = NearArena::new_with_size(1 << 16).unwrap();
        arena
            .allocate(60_000, 16, JITMemoryKind::Executable)
            .unwrap();
        assert!(
            arena
                .allocate(10_000, 16, JITMemoryKind::Executable)
                .is_err()
        );
        // SAFETY: the arena is not used again.
        unsafe { arena.free_memory() };
    }
}
