//! What a call costs by where its code lives: the same few instructions
//! (`x*x + x`, the shape of a tiny compiled formula), with and without a
//! frame-pointer prologue, run from this program's code and from copies on
//! pages mapped at growing distances from it, called through a function
//! pointer as slope calls compiled code. It is why `src/jit/near.rs`
//! reserves compiled code near the program and `src/jit/frame.rs` drops
//! the frame of leaf functions.
//!
//! Run: `cargo bench --bench placement` (x86-64 Linux; elsewhere it says
//! so and measures nothing). Group `placement`, benchmarks
//! `{frameless,framed}/{in_program,+64MiB,+16GiB,+64GiB,+512GiB,+4TiB,system}`
//! and `calls_exp/{near_program,near_c_library,system}` (a function that
//! calls the C library's `exp` four times, placed 64 MiB from either):
//! `system` is
//! where `mmap` puts a mapping it is given no address for.

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod bench {
    use std::hint::black_box;
    use std::time::Duration;

    use criterion::Criterion;

    std::arch::global_asm!(
        ".p2align 6",
        "placement_frameless:",
        "nop dword ptr [rax]",
        "vmovsd xmm1, qword ptr [rdi]",
        "vmulsd xmm0, xmm1, xmm1",
        "vaddsd xmm0, xmm0, xmm1",
        "ret",
        "placement_frameless_end:",
        ".p2align 6",
        "placement_framed:",
        "push rbp",
        "mov rbp, rsp",
        "vmovsd xmm1, qword ptr [rdi]",
        "vmulsd xmm0, xmm1, xmm1",
        "vaddsd xmm0, xmm0, xmm1",
        "mov rsp, rbp",
        "pop rbp",
        "ret",
        "placement_framed_end:",
        ".p2align 6",
        "placement_calls_exp:",
        "push rbp",
        "mov rbp, rsp",
        "movsd xmm0, qword ptr [rdi]",
        "movabs rax, 0x1122334455667788",
        "call rax",
        "movabs rax, 0x1122334455667788",
        "call rax",
        "movabs rax, 0x1122334455667788",
        "call rax",
        "movabs rax, 0x1122334455667788",
        "call rax",
        "pop rbp",
        "ret",
        "placement_calls_exp_end:",
    );

    unsafe extern "C" {
        fn placement_frameless(x: *const f64) -> f64;
        static placement_frameless_end: u8;
        fn placement_framed(x: *const f64) -> f64;
        static placement_framed_end: u8;
        fn placement_calls_exp(x: *const f64) -> f64;
        static placement_calls_exp_end: u8;
        fn exp(x: f64) -> f64;
    }

    /// The placeholder in `placement_calls_exp` that each copy replaces
    /// with the address of the C library's `exp`.
    const PLACEHOLDER: u64 = 0x1122_3344_5566_7788;

    type Code = unsafe extern "C" fn(*const f64) -> f64;

    const GIB: usize = 1 << 30;
    const PAGE: usize = 4096;

    /// A page holding a copy of `len` bytes of code at `from`, mapped at
    /// `at` if that address is free (`None`: where the system chooses),
    /// or `None` if the system put it elsewhere.
    fn copy_to_page(from: *const u8, len: usize, at: Option<usize>) -> Option<Code> {
        copy_patched(from, len, at, None)
    }

    /// [`copy_to_page`], with `callee` (if any) written over each of the
    /// copy's [`PLACEHOLDER`]s.
    fn copy_patched(
        from: *const u8,
        len: usize,
        at: Option<usize>,
        callee: Option<usize>,
    ) -> Option<Code> {
        let hint = at.unwrap_or(0) as *mut libc::c_void;
        // SAFETY: without MAP_FIXED the address is a hint and no mapping
        // is replaced; the page is written, then made executable and
        // never unmapped (the process ends with the bench).
        unsafe {
            let page = libc::mmap(
                hint,
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if page == libc::MAP_FAILED || (at.is_some() && page != hint) {
                return None;
            }
            std::ptr::copy_nonoverlapping(from, page.cast::<u8>(), len);
            if let Some(callee) = callee {
                let bytes = std::slice::from_raw_parts_mut(page.cast::<u8>(), len);
                while let Some(at) = bytes
                    .windows(8)
                    .position(|w| w == PLACEHOLDER.to_le_bytes())
                {
                    bytes[at..at + 8].copy_from_slice(&(callee as u64).to_le_bytes());
                }
            }
            if libc::mprotect(page, PAGE, libc::PROT_READ | libc::PROT_EXEC) != 0 {
                return None;
            }
            Some(std::mem::transmute::<*mut libc::c_void, Code>(page))
        }
    }

    pub fn placement(c: &mut Criterion) {
        let here = placement_frameless as *const u8 as usize;
        let distances = [
            ("+64MiB", 64 << 20),
            ("+16GiB", 16 * GIB),
            ("+64GiB", 64 * GIB),
            ("+512GiB", 512 * GIB),
            ("+4TiB", 4096 * GIB),
        ];
        let mut group = c.benchmark_group("placement");
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        // The labels after each function end its bytes.
        let functions: [(&str, Code, *const u8); 2] = [
            (
                "frameless",
                placement_frameless,
                &raw const placement_frameless_end,
            ),
            ("framed", placement_framed, &raw const placement_framed_end),
        ];
        let x = [0.4];
        for (name, code, end) in functions {
            let start = code as *const u8;
            let len = end as usize - start as usize;
            let mut places = vec![("in_program".to_string(), Some(code))];
            for (label, distance) in distances {
                let at = (here + distance).div_ceil(PAGE) * PAGE;
                places.push((label.to_string(), copy_to_page(start, len, Some(at))));
            }
            places.push(("system".to_string(), copy_to_page(start, len, None)));
            for (place, code) in places {
                let Some(code) = code else {
                    eprintln!("placement: no free page at {place}; skipped");
                    continue;
                };
                // SAFETY: the copy is the whole function, which reads one
                // f64 at its argument and touches nothing else.
                assert_eq!(unsafe { code(x.as_ptr()) }, 0.4 * 0.4 + 0.4);
                let code = black_box(code);
                group.bench_function(format!("{name}/{place}"), |b| {
                    // SAFETY: as above.
                    b.iter(|| unsafe { code(black_box(x.as_ptr())) })
                });
            }
        }
        // A function calling the C library's `exp` four times in a row
        // (exp(exp(exp(exp(x))))), placed near the program or near the
        // library (which a dynamically linked program has terabytes away):
        // one far call and return, or four. Measured the same (23.3 and
        // 23.6 ns), so compiled code goes near the program even when it
        // calls the library (`src/jit/near.rs`).
        let start = placement_calls_exp as *const u8;
        let len = &raw const placement_calls_exp_end as usize - start as usize;
        let library = exp as unsafe extern "C" fn(f64) -> f64 as usize;
        let below = |anchor: usize| (anchor - (64 << 20)) / PAGE * PAGE;
        let near_program = if here > 64 << 20 {
            below(here)
        } else {
            here + (64 << 20)
        };
        for (place, at) in [
            ("near_program", Some(near_program)),
            ("near_c_library", Some(below(library))),
            ("system", None),
        ] {
            let Some(code) = copy_patched(start, len, at, Some(library)) else {
                eprintln!("placement: no free page for calls_exp/{place}; skipped");
                continue;
            };
            // SAFETY: the copy calls `exp` on the one f64 at its argument.
            assert_eq!(unsafe { code(x.as_ptr()) }, 0.4f64.exp().exp().exp().exp());
            let code = black_box(code);
            group.bench_function(format!("calls_exp/{place}"), |b| {
                // SAFETY: as above.
                b.iter(|| unsafe { code(black_box(x.as_ptr())) })
            });
        }
        group.finish();
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
criterion::criterion_group!(benches, bench::placement);
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
criterion::criterion_main!(benches);

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn main() {
    eprintln!("placement: x86-64 Linux only");
}
