//! One path's calls on a tiny formula in a loop, for counting: under
//! `valgrind --tool=callgrind` the instructions per call (load-independent:
//! the total over `N` calls, less about 0.1 M of start-up, divided by `N`),
//! under `perf stat -e task-clock` the time per call. Criterion's medians
//! on a shared machine move by more than the few instructions a cut on
//! the call path saves; these counts do not.
//!
//! Each iteration is what criterion's loop in `gradients.rs` does: the
//! point through `black_box`, one call, the result through `black_box`,
//! with no dependency from one call to the next.
//!
//! Run: `cargo bench --bench call_counts --no-run`, then
//! `valgrind --tool=callgrind target/release/deps/call_counts-HASH parabola value 1000000`
//! for `parabola`, `sphere`, `gaussian` or `nested_sin` (50 levels) and the paths `value` (compiled value alone,
//! as `CompiledFormula::value` calls it), `hand_value`, `optimiser`
//! (`objective::Direct`) and `hand` (hand-written value and gradient).

use std::hint::black_box;

use slope::Formula;
use slope::jit::Compiled;
use slope::objective::Direct;
use slope::testfns;

mod baselines;

use baselines::formulas::{
    gaussian, gaussian_value, nested_sin50 as nested_sin, nested_sin50_value as nested_sin_value,
    parabola, parabola_value, sphere, sphere_value,
};

type HandValue = fn(&[f64]) -> f64;
type Hand = fn(&[f64], &mut [f64]);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` runs every bench with `--bench`: nothing to count then.
    let [function, path, calls] = &args[..] else {
        eprintln!(
            "usage: call_counts parabola|sphere|gaussian|nested_sin value|hand_value|optimiser|hand CALLS"
        );
        return;
    };
    let calls: usize = calls.parse().expect("CALLS is a number");
    let nested = testfns::nested_sin(50);
    let (text, hand_value, hand): (&str, HandValue, Hand) = match function.as_str() {
        "parabola" => (testfns::PARABOLA, parabola_value, parabola),
        "sphere" => (testfns::SPHERE, sphere_value, sphere),
        "gaussian" => (testfns::GAUSSIAN, gaussian_value, gaussian),
        "nested_sin" => (&nested, nested_sin_value, nested_sin),
        other => panic!("no function {other}"),
    };
    let f = Formula::parse(text).expect("parses");
    let n = f.vars().len();
    let x = vec![0.4; n];
    let value = Compiled::compile(f.graph(), &[f.value()], n).expect("compiles");
    let objective = f.compile().expect("compiles");
    let direct = Direct::of(&objective).expect("compiled code");
    let (mut grad, mut out) = (vec![0.0; n], vec![0.0; n + 1]);
    let (hand_value, hand) = (black_box(hand_value), black_box(hand));
    match path.as_str() {
        "value" => (0..calls).for_each(|_| {
            black_box(value.value(black_box(&x)));
        }),
        "hand_value" => (0..calls).for_each(|_| {
            black_box(hand_value(black_box(&x)));
        }),
        "optimiser" => (0..calls).for_each(|_| {
            black_box(black_box(&direct).value_grad(black_box(&x), &mut grad));
        }),
        "hand" => (0..calls).for_each(|_| {
            hand(black_box(&x), &mut out);
            black_box(out[0]);
        }),
        other => panic!("no path {other}"),
    }
}
