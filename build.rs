//! Links the `slope` executable statically on Linux with the GNU toolchain,
//! when the C library's static archives are installed (Debian's and
//! Ubuntu's `libc6-dev`, which any Rust program needs there to link, for
//! its `crt1.o` and `libc.so`; Fedora's `glibc-static`), and at a fixed address (`-no-pie`) either way.
//!
//! Why: a short command such as `slope min "x^2"` is mostly process
//! start-up. Linked dynamically, the kernel maps the dynamic linker, which
//! opens and maps libc, libm and libgcc_s and resolves about a hundred
//! symbols before `main`: linked statically, `slope min "x^2"` runs 0.61 M
//! instructions instead of 0.81 M and has 146 page faults instead of 195
//! (README, "Goals and where they stand"). A position-independent
//! executable is also relocated at every start (about 10,700 relative
//! relocations, each a write into a page that then becomes the process's
//! own copy); linked at a fixed address there are none. The cost of the
//! fixed address is that the executable's code and data are not moved by
//! address-space layout randomisation (the heap, the stack and the JIT's
//! memory still are).
//!
//! How: Rust links a static executable by itself only with `-C
//! target-feature=+crt-static`, which cannot be given to one target of a
//! package (in `RUSTFLAGS` it also reaches the proc-macro crates, which
//! then fail to build, and the Python extension). So this script passes
//! `-static` to the C compiler driver that links, for the executables only
//! (`rustc-link-arg-bins`). That is not enough alone: the standard library
//! asks for its system libraries as `-Wl,-Bdynamic -lgcc_s -lutil -lrt
//! -lpthread -lm -ldl -lc`, and the linker, told `-Bdynamic` after
//! `-static`, would take the shared libraries and produce a broken hybrid
//! (a static start-up calling a shared libc that nothing loads: it crashes
//! at once). The linker looks for `libNAME.so` in each `-L` directory
//! before the system's, so this script writes, into a directory only the
//! executables search, one `libNAME.so` per library that is a linker script
//! naming the static archive (`libgcc_s` becomes libgcc's static unwinder,
//! `libgcc_eh.a`, and `libc` also brings `libgcc.a`, as `+crt-static` links
//! them). The result is what `+crt-static` makes; the integration test
//! `cli_conventions::the_executable_is_linked_as_the_build_said` checks
//! that the executable has no dynamic section when this script says it is
//! static.
//!
//! A static executable carries its copy of glibc, so a fix to glibc reaches
//! `slope` only when it is rebuilt. What static glibc cannot do (loading
//! NSS modules for `getpwnam` or `getaddrinfo`, `dlopen`) `slope` does not
//! use; `dlsym`, which cranelift-jit keeps as a last resort for symbols it
//! cannot find otherwise, is never reached, since `src/jit/libm.rs`
//! supplies every symbol the compiled code calls.
//!
//! When the static archives are missing, or when building for another
//! machine, or with `SLOPE_LINK=dynamic` in the environment, the executable
//! is linked dynamically as before, with a warning for the first. The
//! Python extension (a `cdylib`), the tests and the benches are linked as
//! before, and the library's code is compiled the same way for all of them
//! (position-independent code links into a fixed-address executable
//! unchanged).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The libraries the standard library names on Linux with glibc, with the
/// static archives that stand in for each.
const LIBRARIES: [(&str, &[&str]); 7] = [
    ("gcc_s", &["libgcc_eh.a"]),
    ("util", &["libutil.a"]),
    ("rt", &["librt.a"]),
    ("pthread", &["libpthread.a"]),
    ("m", &["libm.a"]),
    ("dl", &["libdl.a"]),
    // As `cc -static` links them, in a group: libc and libgcc refer to
    // each other (a linker that reads archives once, GNU ld, needs this).
    ("c", &["libc.a", "libgcc.a", "libgcc_eh.a"]),
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SLOPE_LINK");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let linux_gnu = var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu";
    if linux_gnu {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    // The C compiler is asked where the archives are, which is only right
    // for the machine it runs on.
    let native = var("HOST") == var("TARGET");
    let linked = if !linux_gnu || !native || var("SLOPE_LINK") == "dynamic" {
        "dynamic"
    } else {
        let shims = PathBuf::from(var("OUT_DIR")).join("static-libs");
        match write_shims(&shims) {
            Ok(()) => {
                println!("cargo:rustc-link-arg-bins=-static");
                println!("cargo:rustc-link-arg-bins=-L{}", shims.display());
                "static"
            }
            Err(why) => {
                println!(
                    "cargo:warning=slope is linked dynamically (it starts about 0.5 ms slower): {why}"
                );
                "dynamic"
            }
        }
    };
    // For the test that checks the executable against it.
    println!("cargo:rustc-env=SLOPE_LINKED={linked}");
}

/// Writes into `dir` a linker script `libNAME.so` for each of
/// [`LIBRARIES`], naming its static archives by absolute path.
fn write_shims(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (name, archives) in LIBRARIES {
        let paths = archives
            .iter()
            .map(|archive| archive_path(archive))
            .collect::<Result<Vec<_>, _>>()?;
        let script = format!("GROUP ( {} )\n", paths.join(" "));
        let file = dir.join(format!("lib{name}.so"));
        std::fs::write(&file, script).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    Ok(())
}

/// The absolute path of a static archive, as the C compiler that links
/// finds it (`cc -print-file-name`, which answers the bare name when it
/// finds nothing).
fn archive_path(archive: &str) -> Result<String, String> {
    let linker = std::env::var("RUSTC_LINKER").unwrap_or_else(|_| "cc".to_string());
    let out = Command::new(&linker)
        .arg(format!("-print-file-name={archive}"))
        .output()
        .map_err(|e| format!("cannot run {linker}: {e}"))?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || !Path::new(&path).is_absolute() {
        return Err(format!(
            "{linker} finds no {archive} (install the C library's static archives, \
             libc6-dev or glibc-static)"
        ));
    }
    if path.contains([' ', '(', ')', '"']) {
        return Err(format!("{path}: a path a linker script cannot name"));
    }
    Ok(path)
}
