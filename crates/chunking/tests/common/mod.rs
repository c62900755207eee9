//! Helpers shared by the integration tests: seeded data and awkward readers.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::pin::Pin;
use std::task::{Context, Poll};

/// SplitMix64: tiny, seeded and stable forever (golden tests depend on its output).
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        for block in out.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            block.copy_from_slice(&v[..block.len()]);
        }
    }
}

/// `len` seeded random bytes.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    Rng(seed).fill(&mut out);
    out
}

const WORDS: &[&str] = &[
    "fn", "let", "mut", "self", "impl", "struct", "pub", "use", "return", "match", "if", "else",
    "for", "in", "while", "loop", "Result", "Option", "Some", "None", "Ok", "Err", "chunk",
    "offset", "len", "data", "buffer", "reader", "config", "error", "index", "pack", "snapshot",
    "{", "}", "(", ")", ";", "=", "->", "&", "::", "0", "1", "42", "\"text\"", "//", "the",
];

/// `len` bytes of source-code-like text: words from a small vocabulary, lines, indentation.
pub fn text_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(len + 64);
    while out.len() < len {
        let indent = rng.below(4) as usize * 4;
        out.extend(std::iter::repeat_n(b' ', indent));
        for _ in 0..1 + rng.below(10) {
            out.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes());
            out.push(b' ');
        }
        out.push(b'\n');
    }
    out.truncate(len);
    out
}

/// A reader returning seeded random short reads (1..=max_read bytes), and `Interrupted`
/// now and then, to shake out buffer-boundary bugs.
pub struct ShortReader<'a> {
    pub data: &'a [u8],
    pub rng: Rng,
    pub max_read: usize,
}

impl Read for ShortReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.rng.below(16) == 0 {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        let n = (1 + self.rng.below(self.max_read as u64) as usize)
            .min(buf.len())
            .min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// An `AsyncRead` with random short reads and random `Pending` (waking itself at once).
pub struct ShortAsyncReader<'a> {
    pub inner: ShortReader<'a>,
}

impl futures::io::AsyncRead for ShortAsyncReader<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.inner.rng.below(4) == 0 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(self.inner.read(buf))
    }
}

/// Asserts the chunking invariants of `cuts` over an input of `len` bytes.
pub fn assert_tiles(cuts: &[(usize, usize)], len: usize, min: usize, max: usize) {
    let mut pos = 0;
    for (i, &(off, l)) in cuts.iter().enumerate() {
        assert_eq!(
            off, pos,
            "chunk {i} does not start where the previous ended"
        );
        assert!(l > 0, "chunk {i} is empty");
        assert!(l <= max, "chunk {i} is {l} bytes, over max {max}");
        if i + 1 < cuts.len() {
            assert!(
                l >= min,
                "chunk {i} (not last) is {l} bytes, under min {min}"
            );
        }
        pos += l;
    }
    assert_eq!(pos, len, "chunks do not cover the input");
}

/// FNV-1a over the (offset, len) list: a compact fingerprint for golden tests.
pub fn fingerprint(cuts: &[(usize, usize)]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &(o, l) in cuts {
        for b in (o as u64)
            .to_le_bytes()
            .into_iter()
            .chain((l as u64).to_le_bytes())
        {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}
