//! [`Compiled`]: native code for graph outputs, the native ABI it is
//! called through, and the scratch each call lends it.

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::sync::OnceLock;

use super::batch::{self, BatchKernel};
use super::chunk::Plan;
use super::codegen::EntryKind;
use super::descent::{self, DescentKernel, Variant};
use super::lower::Program;
use super::region::NativeCode;
use crate::error::Error;
use crate::graph::{Graph, NodeId};

/// Scratch needs up to this many values live on the caller's stack; larger
/// needs use a per-thread buffer.
const STACK_SCRATCH: usize = 512;

/// A length no slice of `f64` has: slices hold at most `isize::MAX` bytes.
const NO_LENGTH: usize = usize::MAX;

/// The lengths of `x` and `rest` with which a call goes straight into
/// code of [`Entry::Rest`] (see [`Compiled::direct_lens`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct DirectLens {
    vars: usize,
    rest: usize,
}

impl DirectLens {
    /// Lengths that no call has, so that every call takes the checked path.
    pub(crate) const NONE: DirectLens = DirectLens {
        vars: NO_LENGTH,
        rest: NO_LENGTH,
    };

    /// `x` and `rest` have these lengths.
    #[inline]
    pub(crate) fn fit(&self, x: &[f64], rest: &[f64]) -> bool {
        x.len() == self.vars && rest.len() == self.rest
    }
}

/// The native entry point, taking what its code reads ([`EntryKind`]):
/// it returns output 0 and writes output `k > 0` to `rest[k - 1]`.
#[derive(Copy, Clone)]
enum Entry {
    Value(unsafe extern "C" fn(*const f64) -> f64),
    Rest(unsafe extern "C" fn(*const f64, *mut f64) -> f64),
    Scratch(unsafe extern "C" fn(*const f64, *mut f64, *mut f64) -> f64),
}

/// Graph outputs compiled to native code.
///
/// `Send` and `Sync` through its `NativeCode` (`region.rs`): calls from
/// several threads at once each pass their own buffers, and the code
/// touches nothing else.
pub struct Compiled {
    n_vars: usize,
    n_outputs: usize,
    /// The lengths of `x` and `rest` with which a call goes straight into
    /// the code: `n_vars` and `n_outputs - 1` for an [`Entry::Rest`],
    /// [`NO_LENGTH`] (which no slice has) otherwise. One comparison each
    /// then both checks a length and chooses the entry, which was chosen
    /// at compile time (see [`Compiled::call_value`]).
    direct_lens: DirectLens,
    /// The length of `x` with which [`Compiled::value`] goes straight into
    /// the code: `n_vars` for an [`Entry::Value`], [`NO_LENGTH`] otherwise.
    value_vars: usize,
    /// The code's entry point, valid while `code` lives.
    entry: Entry,
    /// Values the code passes between its chunks through memory.
    scratch_len: usize,
    /// The code `entry` points into, owned here: freed when `self` is.
    #[expect(dead_code, reason = "held for its memory, entered through `entry`")]
    code: NativeCode,
    /// The lowered instructions, kept when they could become a loop (over
    /// descent steps or over the rows of a batch): code of one chunk.
    program: Option<Program>,
    /// Descent loops compiled so far, by [`Variant::index`].
    kernels: [OnceLock<Option<DescentKernel>>; Variant::COUNT],
    /// The loop over the rows of a batch, compiled on first use.
    batch: OnceLock<Option<BatchKernel>>,
}

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
        super::compile(graph, outputs, n_vars, None)
    }

    /// Takes ownership of `code`, which
    /// [`codegen::generate`](super::codegen::generate) built from `program`
    /// as `plan` cut it (the only code `jit::compile` passes here).
    pub(super) fn new(code: NativeCode, program: Program, plan: &Plan, n_vars: usize) -> Compiled {
        let n_outputs = program.outputs.len();
        let loopable = plan.chunks.len() == 1 && plan.scratch_len == 0;
        let kind = EntryKind::of(plan, n_outputs);
        let address = code.entry();
        // SAFETY: `code` is what `codegen::generate` built from `program`
        // and `plan` (see above): its entry function has the signature
        // `kind` names (one to three pointers, one `f64` result) in the
        // host's default calling convention, which is `extern "C"`.
        let entry = unsafe {
            match kind {
                EntryKind::Value => Entry::Value(std::mem::transmute::<
                    *const u8,
                    unsafe extern "C" fn(*const f64) -> f64,
                >(address)),
                EntryKind::Rest => Entry::Rest(std::mem::transmute::<
                    *const u8,
                    unsafe extern "C" fn(*const f64, *mut f64) -> f64,
                >(address)),
                EntryKind::Scratch => Entry::Scratch(std::mem::transmute::<
                    *const u8,
                    unsafe extern "C" fn(*const f64, *mut f64, *mut f64) -> f64,
                >(address)),
            }
        };
        let direct_lens = match kind {
            EntryKind::Rest => DirectLens {
                vars: n_vars,
                rest: n_outputs - 1,
            },
            _ => DirectLens::NONE,
        };
        let value_vars = match kind {
            EntryKind::Value => n_vars,
            _ => NO_LENGTH,
        };
        Compiled {
            n_vars,
            n_outputs,
            direct_lens,
            value_vars,
            entry,
            scratch_len: plan.scratch_len,
            code,
            program: loopable.then_some(program),
            kernels: Default::default(),
            batch: OnceLock::new(),
        }
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

    /// Evaluates every output at each row of `xs` (rows of `n_vars`
    /// values, one after the other), writing output 0 of row `i` to
    /// `first[i]` and its other outputs to `rest[i*(n_outputs - 1)..]`:
    /// by one native loop over the rows when the code is small enough to
    /// be its body (compiled on first use, see `batch.rs`), else by one
    /// call per row. The numbers are those of [`Compiled::call_split`] on
    /// each row, to the bit.
    ///
    /// Panics if the lengths do not agree on the number of rows.
    pub fn call_rows(&self, xs: &[f64], first: &mut [f64], rest: &mut [f64]) {
        let width = self.n_outputs.saturating_sub(1);
        assert!(
            self.n_outputs > 0
                && xs.len() == first.len() * self.n_vars
                && rest.len() == first.len() * width,
            "Compiled::call_rows: {} values in, room for {} and {} out, for {} variables and \
             {} outputs",
            xs.len(),
            first.len(),
            rest.len(),
            self.n_vars,
            self.n_outputs
        );
        if let Some(kernel) = self.batch_kernel() {
            return kernel.run(xs, first, rest);
        }
        for (i, v) in first.iter_mut().enumerate() {
            let x = &xs[i * self.n_vars..(i + 1) * self.n_vars];
            self.call_split(x, v, &mut rest[i * width..(i + 1) * width]);
        }
    }

    /// The loop over the rows of a batch, compiled on first request;
    /// `None` when the code is too large to be one loop body.
    pub fn batch_kernel(&self) -> Option<&BatchKernel> {
        let program = self.program.as_ref()?;
        self.batch
            .get_or_init(|| batch::compile(program, self.n_vars).ok())
            .as_ref()
    }

    /// Evaluate every output at `x`, writing them to `out`.
    ///
    /// Panics if `x` or `out` has the wrong length: that is a programming
    /// error, and the native code trusts the lengths.
    #[inline]
    pub fn call(&self, x: &[f64], out: &mut [f64]) {
        assert!(
            out.len() == self.n_outputs,
            "Compiled::call: out has room for {} values but the function has {} outputs",
            out.len(),
            self.n_outputs
        );
        match out.split_first_mut() {
            Some((first, rest)) => self.call_split(x, first, rest),
            // No outputs: the code would write nothing.
            None => self.check_vars(x),
        }
    }

    /// Evaluate every output at `x`, writing the first to `first` and the
    /// others to `rest`: a value and its gradient go straight where the
    /// caller keeps them, with no buffer between.
    ///
    /// Panics if `x` or `rest` has the wrong length, as [`Compiled::call`]
    /// does.
    #[inline]
    pub fn call_split(&self, x: &[f64], first: &mut f64, rest: &mut [f64]) {
        *first = self.call_value(x, rest);
    }

    /// Evaluate every output at `x`, returning the first and writing the
    /// others to `rest`: the native code returns output 0 in a register,
    /// as a hand-written function returns its value.
    ///
    /// The common call (code of one chunk without scratch, with more than
    /// one output, and slices of the right lengths) is two comparisons
    /// and the call: the comparisons a hand-written function makes for
    /// its own bounds. Everything else is out of line.
    ///
    /// Panics if `x` or `rest` has the wrong length (or there are no
    /// outputs), as [`Compiled::call`] does.
    #[inline]
    pub fn call_value(&self, x: &[f64], rest: &mut [f64]) -> f64 {
        if self.direct_lens.fit(x, rest) {
            // SAFETY: the lengths fit `direct_lens`.
            return unsafe { self.call_direct(x, rest) };
        }
        self.call_checked(x, rest)
    }

    /// Output 0 alone at `x`, for code with one output: one comparison
    /// and the call for code of one chunk without scratch (the value
    /// code of every formula but the largest), which takes `x` alone.
    ///
    /// Panics if `x` has the wrong length or the code has other outputs.
    #[inline]
    pub fn value(&self, x: &[f64]) -> f64 {
        if x.len() == self.value_vars {
            let Entry::Value(f) = self.entry else {
                // SAFETY: `value_vars` is a length only for `Entry::Value`
                // (see `new`).
                unsafe { std::hint::unreachable_unchecked() }
            };
            // SAFETY: `x` holds `n_vars` values, all the code reads; it
            // has one output, returned, and uses no scratch and no global
            // state. The code stays valid while `self` (its `NativeCode`)
            // lives.
            return unsafe { f(x.as_ptr()) };
        }
        self.call_checked(x, &mut [])
    }

    /// The address of the code's entry point, for tests that read it.
    #[cfg(test)]
    pub(super) fn entry_address(&self) -> *const u8 {
        match self.entry {
            Entry::Value(f) => f as *const u8,
            Entry::Rest(f) => f as *const u8,
            Entry::Scratch(f) => f as *const u8,
        }
    }

    /// The lengths of `x` and `rest` with which [`Compiled::call_direct`]
    /// may be called: [`DirectLens::NONE`] unless the code is one chunk
    /// without scratch with more than one output.
    pub(crate) fn direct_lens(&self) -> DirectLens {
        self.direct_lens
    }

    /// Calls the code with no check at all, for a caller that checked
    /// the lengths against [`Compiled::direct_lens`] (once, where they
    /// are fixed).
    ///
    /// # Safety
    ///
    /// `self.direct_lens().fit(x, rest)` must hold.
    #[inline]
    pub(crate) unsafe fn call_direct(&self, x: &[f64], rest: &mut [f64]) -> f64 {
        debug_assert!(self.direct_lens.fit(x, rest));
        let Entry::Rest(f) = self.entry else {
            // SAFETY: `direct_lens` fit only an `Entry::Rest` (see `new`),
            // and they fit (the caller's contract).
            unsafe { std::hint::unreachable_unchecked() }
        };
        // SAFETY: `x` holds `n_vars` values and `rest` room for
        // `n_outputs - 1` (the lengths fit), which is all the code reads
        // and writes: it uses no scratch and no global state. The code
        // stays valid while `self` (its `NativeCode`) lives.
        unsafe { f(x.as_ptr(), rest.as_mut_ptr()) }
    }

    /// [`Compiled::call_value`] off its common path: checks the lengths
    /// (panicking if they are wrong), then enters the code as it takes
    /// its arguments, lending it scratch if it uses any.
    #[inline(never)]
    fn call_checked(&self, x: &[f64], rest: &mut [f64]) -> f64 {
        self.check_vars(x);
        assert!(
            rest.len() + 1 == self.n_outputs,
            "Compiled::call: room for {} values but the function has {} outputs",
            rest.len() + 1,
            self.n_outputs
        );
        // SAFETY (each call): `x` holds `n_vars` values and `rest` room for
        // `n_outputs - 1` (checked above), which is all the code reads and
        // writes besides its scratch; it uses no global state; an entry
        // that takes no scratch uses none, and one that does is given
        // `scratch_len` values (or none if that is 0). The code stays
        // valid while `self` (its `NativeCode`) lives.
        match self.entry {
            Entry::Value(f) => unsafe { f(x.as_ptr()) },
            Entry::Rest(f) => unsafe { f(x.as_ptr(), rest.as_mut_ptr()) },
            Entry::Scratch(f) if self.scratch_len == 0 => unsafe {
                f(x.as_ptr(), rest.as_mut_ptr(), std::ptr::null_mut())
            },
            Entry::Scratch(f) => self.call_with_scratch(f, x, rest.as_mut_ptr()),
        }
    }

    /// Panics unless `x` has one value per variable.
    #[inline]
    fn check_vars(&self, x: &[f64]) {
        assert!(
            x.len() == self.n_vars,
            "Compiled::call: x has {} values but the function has {} variables",
            x.len(),
            self.n_vars
        );
    }

    /// [`Compiled::call_value`] for code that passes values through a
    /// scratch, entered at `f`: out of line (in `call_checked`), so that
    /// the common call, inlined into its caller, sets up no 4 KiB stack
    /// buffer.
    fn call_with_scratch(
        &self,
        f: unsafe extern "C" fn(*const f64, *mut f64, *mut f64) -> f64,
        x: &[f64],
        rest: *mut f64,
    ) -> f64 {
        let run = |scratch: *mut f64| {
            // SAFETY: `x` holds `n_vars` values and `rest` room for
            // `n_outputs - 1` (checked by `call_checked`), which is all the
            // code reads and writes besides the scratch (it uses no global
            // state), and `scratch` has room for `scratch_len` values and is
            // used by this call alone. The code stays valid while `self`
            // (its `NativeCode`) lives.
            unsafe { f(x.as_ptr(), rest, scratch) }
        };
        if self.scratch_len <= STACK_SCRATCH {
            // Uninitialised is fine: the code writes each slot before reading it.
            let mut buf = [MaybeUninit::<f64>::uninit(); STACK_SCRATCH];
            run(buf.as_mut_ptr().cast())
        } else {
            SCRATCH.with(|cell| match cell.try_borrow_mut() {
                Ok(mut buf) => {
                    if buf.len() < self.scratch_len {
                        buf.resize(self.scratch_len, 0.0);
                    }
                    run(buf.as_mut_ptr())
                }
                // Not reachable (the code never calls back), but harmless.
                Err(_) => run(vec![0.0; self.scratch_len].as_mut_ptr()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtins::Func;
    use crate::eval::Interpreter;
    use crate::jit::testing::{SPECIAL, check, exclusive, rosenbrock};

    #[test]
    #[should_panic(expected = "x has 1 values")]
    fn wrong_length_panics() {
        let _guard = exclusive();
        let mut g = Graph::new();
        let x = g.var(0);
        let c = Compiled::compile(&g, &[x], 2).unwrap();
        c.call(&[1.0], &mut [0.0]);
    }

    #[test]
    #[should_panic(expected = "x has 3 values")]
    fn wrong_length_panics_for_the_value_alone() {
        let _guard = exclusive();
        let (g, outputs) = rosenbrock(2);
        let c = Compiled::compile(&g, &outputs[..1], 2).unwrap();
        c.value(&[1.0, 2.0, 3.0]);
    }

    #[test]
    #[should_panic(expected = "the function has 3 outputs")]
    fn the_value_alone_of_code_with_more_outputs_panics() {
        let _guard = exclusive();
        let (g, outputs) = rosenbrock(2);
        let c = Compiled::compile(&g, &outputs, 2).unwrap();
        c.value(&[1.0, 2.0]);
    }

    /// Each entry the code can have (`EntryKind`: `x` alone, `x` and
    /// `rest`, and with scratch) gives the interpreter's bits through
    /// every call that reaches it.
    #[test]
    fn every_entry_agrees_with_the_interpreter_through_every_call() {
        let _guard = exclusive();
        let bits = |s: &[f64]| s.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        for n in [2, 3000] {
            let (g, value_grad) = rosenbrock(n);
            let x: Vec<f64> = (0..n).map(|i| (i % 5) as f64 * 0.4 - 0.9).collect();
            for outputs in [&value_grad[..1], &value_grad[..]] {
                let c = Compiled::compile(&g, outputs, n).unwrap();
                match (n, outputs.len()) {
                    (2, 1) => assert!(matches!(c.entry, Entry::Value(_))),
                    (2, _) => assert!(matches!(c.entry, Entry::Rest(_))),
                    (_, 3001) => assert!(matches!(c.entry, Entry::Scratch(_))),
                    _ => {}
                }
                let want = Interpreter::new(&g, outputs).eval(&x);
                let mut out = vec![f64::NAN; outputs.len()];
                c.call(&x, &mut out);
                assert_eq!(bits(&out), bits(&want), "n = {n}");
                let mut rest = vec![f64::NAN; outputs.len() - 1];
                let first = c.call_value(&x, &mut rest);
                assert_eq!(first.to_bits(), want[0].to_bits(), "n = {n}");
                assert_eq!(bits(&rest), bits(&want[1..]), "n = {n}");
                if outputs.len() == 1 {
                    assert_eq!(c.value(&x).to_bits(), want[0].to_bits(), "n = {n}");
                }
            }
        }
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

    /// Output 0 comes back in a register from code of one chunk, and
    /// through the driver's stack slot from code of several, whichever
    /// chunk computes it: the value first, or a gradient entry first.
    #[test]
    fn output_zero_is_returned_from_one_chunk_or_several() {
        let _guard = exclusive();
        for n in [3, 3000] {
            let (g, value_grad) = rosenbrock(n);
            let mut grad_value = value_grad.clone();
            grad_value.reverse();
            let x: Vec<f64> = (0..n).map(|i| (i % 7) as f64 * 0.3 - 0.8).collect();
            for outputs in [&value_grad, &grad_value] {
                let c = Compiled::compile(&g, outputs, n).unwrap();
                // Code of one chunk only could become a loop.
                assert_eq!(c.program.is_none(), n == 3000, "{c:?}");
                let want = Interpreter::new(&g, outputs).eval(&x);
                let mut rest = vec![f64::NAN; n];
                let first = c.call_value(&x, &mut rest);
                assert_eq!(first.to_bits(), want[0].to_bits(), "n = {n}");
                for (k, (got, want)) in rest.iter().zip(&want[1..]).enumerate() {
                    assert_eq!(got.to_bits(), want.to_bits(), "n = {n}, output {}", k + 1);
                }
            }
        }
    }

    /// `rows` rows of `n` values by `call_rows` against one `call_split`
    /// per row, bit for bit.
    fn rows_agree(c: &Compiled, n: usize, rows: usize) {
        let xs: Vec<f64> = (0..rows * n)
            .map(|k| ((k * 7919) % 23) as f64 / 5.0 - 2.2)
            .collect();
        rows_agree_at(c, &xs, rows);
    }

    /// The rows of `xs` by `call_rows` against one `call_split` per row,
    /// bit for bit.
    fn rows_agree_at(c: &Compiled, xs: &[f64], rows: usize) {
        let (n, w) = (c.n_vars(), c.n_outputs() - 1);
        let (mut first, mut rest) = (vec![f64::NAN; rows], vec![f64::NAN; rows * w]);
        c.call_rows(xs, &mut first, &mut rest);
        for i in 0..rows {
            let (mut v, mut g) = (0.0, vec![0.0; w]);
            c.call_split(&xs[i * n..(i + 1) * n], &mut v, &mut g);
            assert_eq!(first[i].to_bits(), v.to_bits(), "row {i}");
            let bits = |s: &[f64]| s.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&rest[i * w..(i + 1) * w]), bits(&g), "row {i}");
        }
    }

    #[test]
    fn a_batch_in_one_native_loop_equals_one_call_per_row() {
        let _guard = exclusive();
        // Calls into libm, which clobber every register, in the loop body.
        let mut g = Graph::new();
        let (x, y) = (g.var(0), g.var(1));
        let s = g.call1(Func::Sin, x);
        let p = g.mul(s, y);
        let q = g.powc(p, 3.0);
        let c = Compiled::compile(&g, &[q, p, s], 2).unwrap();
        assert!(c.batch_kernel().is_some());
        for rows in [0, 1, 2, 1000] {
            rows_agree(&c, 2, rows);
        }
        // A value alone (no `rest`), and a value and gradient.
        let (g, outputs) = rosenbrock(5);
        let value = Compiled::compile(&g, &outputs[..1], 5).unwrap();
        let value_grad = Compiled::compile(&g, &outputs, 5).unwrap();
        assert!(value.batch_kernel().is_some() && value_grad.batch_kernel().is_some());
        rows_agree(&value, 5, 300);
        rows_agree(&value_grad, 5, 300);
    }

    /// Every operation the code generator emits, on pairs of rows and on
    /// a last odd row, gives the bits of one call per row: special values
    /// (NaNs, infinities, zeros of both signs) in every combination.
    #[test]
    fn a_batch_by_pairs_of_rows_equals_one_call_per_row_for_every_operation() {
        let _guard = exclusive();
        let mut g = Graph::new();
        let (x, y, z) = (g.var(0), g.var(1), g.var(2));
        let yz = g.mul(y, z);
        let mut outputs = vec![
            g.add(x, yz),
            g.add(x, z),
            yz,
            g.sub(x, y),
            g.div(x, z),
            g.powc(y, 2.0),
            g.powc(x, 0.5),
            g.powc(z, -0.5),
            g.powc(x, 1.7),
            g.pow(x, y),
            g.call2(Func::Atan2, y, z),
        ];
        for f in [Func::Min, Func::Max] {
            outputs.push(g.call2(f, x, z));
        }
        for f in [
            Func::Abs,
            Func::Floor,
            Func::Ceil,
            Func::Sign,
            Func::Sin,
            // With `sin`, one call to `sincos` (per lane for two rows).
            Func::Cos,
            Func::Exp,
        ] {
            outputs.push(g.call1(f, y));
        }
        // And a NaN of the other sign, so that which NaN an operation
        // propagates shows.
        let special: Vec<f64> = SPECIAL.iter().copied().chain([-f64::NAN]).collect();
        let n = special.len();
        let xs: Vec<f64> = (0..n * n * n)
            .flat_map(|k| [special[k % n], special[k / n % n], special[k / n / n]])
            .collect();
        for outputs in [&outputs[..1], &outputs[..]] {
            let c = Compiled::compile(&g, outputs, 3).unwrap();
            assert!(c.batch_kernel().is_some_and(BatchKernel::pairs));
            for rows in [0, 1, 2, 3, 4, 5, n * n * n - 1, n * n * n] {
                rows_agree_at(&c, &xs[..rows * 3], rows);
            }
        }
    }

    #[test]
    fn a_batch_too_large_for_one_loop_is_called_row_by_row() {
        let _guard = exclusive();
        let (g, outputs) = rosenbrock(2000);
        let c = Compiled::compile(&g, &outputs, 2000).unwrap();
        assert!(c.batch_kernel().is_none());
        rows_agree(&c, 2000, 3);
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
}
