//! Deterministic mutations of corpus entries, so the stable test suite
//! explores around every checked-in input the way a fuzzer would start to:
//! truncations, bit flips, byte overwrites with boundary values, and
//! insertions/deletions.

/// A small xorshift generator: seeded, reproducible, dependency-free.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, 0 included).
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        match n {
            0 => 0,
            n => (self.next_u64() % n as u64) as usize,
        }
    }
}

const BOUNDARY: [u8; 6] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];

/// `count` mutants of `input`, the same for the same `seed`.
pub fn mutants(input: &[u8], seed: u64, count: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(count + 8);
    // Every short prefix and a spread of longer ones: truncation is the
    // commonest damage (a torn write, a short read).
    let len = input.len();
    for cut in (0..len.min(64)).chain((64..len).step_by((len / 16).max(1))) {
        out.push(input[..cut].to_vec());
    }
    for _ in 0..count {
        let mut m = input.to_vec();
        match rng.below(4) {
            0 if !m.is_empty() => {
                let i = rng.below(m.len());
                m[i] ^= 1 << rng.below(8);
            }
            1 if !m.is_empty() => {
                let i = rng.below(m.len());
                m[i] = BOUNDARY[rng.below(BOUNDARY.len())];
            }
            2 => {
                let i = rng.below(m.len() + 1);
                let n = 1 + rng.below(8);
                let b = BOUNDARY[rng.below(BOUNDARY.len())];
                m.splice(i..i, std::iter::repeat_n(b, n));
            }
            _ if !m.is_empty() => {
                let i = rng.below(m.len());
                let end = (i + 1 + rng.below(8)).min(m.len());
                m.drain(i..end);
            }
            _ => m.push(rng.next_u64() as u8),
        }
        out.push(m);
    }
    out
}
