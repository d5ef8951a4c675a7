//! Links the `slope` executable position-dependent (`-no-pie`) on Linux
//! with the GNU toolchain. A position-independent executable is relocated
//! by the dynamic linker at every start: about 10,700 relative relocations
//! for this binary, each a write into a page that then becomes the
//! process's own copy. Linked at a fixed address there are none, which
//! cuts `slope min "x^2"`'s instructions by 8% and its page faults by 20
//! (see README, "Goals and where they stand"). The cost is that the
//! executable's own code and data are not moved by address-space layout
//! randomisation (shared libraries, heap and stack still are).
//!
//! Only executables: the Python extension (a `cdylib`), the tests and the
//! benches are linked as before, and the library's code is compiled the
//! same way for all of them (position-independent code links into a
//! fixed-address executable unchanged).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
