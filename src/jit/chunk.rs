//! Chunking: the schedule cut into functions of bounded size, and the
//! scratch slots of the values that cross from one to another.
//!
//! [`plan_chunks`] cuts the schedule into pieces of bounded size
//! ([`CHUNK_WEIGHT`]), each its own Cranelift function, because register
//! allocation time grows faster than linearly with function size. A value
//! used in a later chunk than the one that computes it is stored to a
//! scratch slot and reloaded there; slots are reused once their value is
//! dead. When there are several chunks, a small driver calls them in turn.
//! The scratch is the caller's: on its stack when small, else a per-thread
//! buffer, so concurrent calls never share it.

use super::lower::{Operand, Program};
use super::{MAX_INDEX, too_large};
use crate::error::Error;

/// The size of one chunk function, in rough machine instructions. Register
/// allocation is fast and the code still good at a few thousand.
const CHUNK_WEIGHT: usize = 2048;

/// How the schedule splits into functions, and where values cross.
pub(super) struct Plan {
    /// `order` cut into consecutive chunks.
    pub(super) chunks: Vec<Vec<u32>>,
    /// The chunk computing each instruction (`u32::MAX` if none does).
    pub(super) chunk_of: Vec<u32>,
    /// The scratch slot of each instruction used by a later chunk.
    pub(super) slot: Vec<u32>,
    pub(super) scratch_len: usize,
}

pub(super) fn plan_chunks(p: &Program, order: &[u32]) -> Result<Plan, Error> {
    let n = p.instrs.len();
    let mut chunks: Vec<Vec<u32>> = vec![Vec::new()];
    let mut weight = 0;
    for &v in order {
        let w = p.instrs.get(v as usize).map_or(1, |i| i.op.weight());
        if weight + w > CHUNK_WEIGHT && weight > 0 {
            chunks.push(Vec::new());
            weight = 0;
        }
        weight += w;
        if let Some(last) = chunks.last_mut() {
            last.push(v);
        }
    }
    let mut chunk_of = vec![u32::MAX; n];
    let mut last_use = vec![0u32; n];
    for (c, chunk) in chunks.iter().enumerate() {
        for &v in chunk {
            if let Some(instr) = p.instrs.get(v as usize) {
                chunk_of[v as usize] = c as u32;
                for a in instr.operands() {
                    if let Operand::Instr(j) = *a {
                        last_use[j as usize] = c as u32;
                    }
                }
            } else if let Operand::Instr(j) = p.outputs[v as usize - n] {
                last_use[j as usize] = c as u32;
            }
        }
    }
    // Linear scan over chunks: a slot is free again in the chunk after its
    // value's last use (not in it: a new store there could precede the read).
    let mut slot = vec![u32::MAX; n];
    let mut free: Vec<u32> = Vec::new();
    let mut expire: Vec<Vec<u32>> = vec![Vec::new(); chunks.len() + 1];
    let mut scratch_len = 0usize;
    for (c, chunk) in chunks.iter().enumerate() {
        free.append(&mut expire[c]);
        for &v in chunk {
            let v = v as usize;
            if v < n && last_use[v] as usize > c {
                let s = match free.pop() {
                    Some(s) => s,
                    None => {
                        scratch_len += 1;
                        if scratch_len > MAX_INDEX {
                            return Err(too_large());
                        }
                        (scratch_len - 1) as u32
                    }
                };
                slot[v] = s;
                expire[last_use[v] as usize + 1].push(s);
            }
        }
    }
    Ok(Plan {
        chunks,
        chunk_of,
        slot,
        scratch_len,
    })
}

#[cfg(test)]
mod tests {
    use crate::jit::Compiled;
    use crate::jit::testing::{check, exclusive, rosenbrock};

    #[test]
    fn large_rosenbrock_matches_the_interpreter() {
        let _guard = exclusive();
        let n = 1000;
        let (g, outputs) = rosenbrock(n);
        let point = |k: usize| {
            (0..n)
                .map(|i| ((i * 7 + k) % 13) as f64 * 0.2 - 1.1)
                .collect()
        };
        check(&g, &outputs, n, &[point(0), point(1), vec![1.0; n]]);
        let c = Compiled::compile(&g, &outputs, n).unwrap();
        let mut out = vec![0.0; n + 1];
        c.call(&vec![1.0; n], &mut out);
        assert!(out.iter().all(|&v| v == 0.0), "the minimum is at 1");
    }
}
