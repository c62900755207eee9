//! Chunking parameters: content-defined ([`ChunkerConfig`]), fixed-size ([`FixedChunker`]),
//! and the [`Chunking`] strategy that the slice and stream entry points share.

use fastcdc::v2020 as cdc;

use crate::error::{Error, Result};

/// Parameters of the FastCDC (2020) content-defined chunker.
///
/// Built with [`ChunkerConfig::new`], which validates the sizes; [`Default`] is the size
/// triple measured in the crate docs. Chunking uses fastcdc's normalization level 1 and its
/// original (unseeded) gear table, so cut points are stable across versions of this crate:
/// changing them would break deduplication against existing repositories (the golden test
/// pins them).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkerConfig {
    min_size: u32,
    avg_size: u32,
    max_size: u32,
    // Derived from `avg_size` once, so the hot loop does no table look-ups per chunk.
    mask_s: u64,
    mask_l: u64,
}

/// Default minimum chunk size (see the measurement in the crate docs).
pub const DEFAULT_MIN_SIZE: u32 = 128 * 1024;
/// Default average chunk size (see the measurement in the crate docs).
pub const DEFAULT_AVG_SIZE: u32 = 512 * 1024;
/// Default maximum chunk size (see the measurement in the crate docs).
pub const DEFAULT_MAX_SIZE: u32 = 2 * 1024 * 1024;

impl ChunkerConfig {
    /// Validates and builds a configuration.
    ///
    /// Rules (fastcdc's own limits, which it only checks with `assert!`):
    /// `min_size` in `64..=1 MiB` and even, `avg_size` in `256..=4 MiB`,
    /// `max_size` in `1 KiB..=16 MiB`, and `min_size <= avg_size <= max_size`.
    /// `min_size` must be even because fastcdc scans two bytes per step starting at
    /// `min_size / 2 * 2`, so an odd minimum would yield chunks one byte short of it.
    /// The average is a target: fastcdc rounds its base-2 logarithm to pick the cut masks.
    ///
    /// # Errors
    /// [`Error::InvalidSizes`] naming the three sizes and the broken rule.
    pub fn new(min_size: u32, avg_size: u32, max_size: u32) -> Result<Self> {
        let fail = |reason| Error::InvalidSizes {
            min: min_size,
            avg: avg_size,
            max: max_size,
            reason,
        };
        if !(cdc::MINIMUM_MIN..=cdc::MINIMUM_MAX).contains(&min_size) {
            return Err(fail("min_size must be within 64..=1048576"));
        }
        if !(cdc::AVERAGE_MIN..=cdc::AVERAGE_MAX).contains(&avg_size) {
            return Err(fail("avg_size must be within 256..=4194304"));
        }
        if !(cdc::MAXIMUM_MIN..=cdc::MAXIMUM_MAX).contains(&max_size) {
            return Err(fail("max_size must be within 1024..=16777216"));
        }
        if min_size > avg_size {
            return Err(fail("min_size must not exceed avg_size"));
        }
        if avg_size > max_size {
            return Err(fail("avg_size must not exceed max_size"));
        }
        if !min_size.is_multiple_of(2) {
            return Err(fail("min_size must be even"));
        }
        // Normalization level 1: a stricter mask (one more bit) before the average size and
        // a looser one after it, as fastcdc's `FastCDC::new` does. `bits` is 8..=22 given
        // the checks above, so both indices are within MASKS (26 entries).
        let bits = cdc::logarithm2(avg_size) as usize;
        let (mask_s, mask_l) = match (cdc::MASKS.get(bits + 1), cdc::MASKS.get(bits - 1)) {
            (Some(s), Some(l)) => (*s, *l),
            _ => return Err(fail("avg_size has no fastcdc mask")),
        };
        Ok(Self {
            min_size,
            avg_size,
            max_size,
            mask_s,
            mask_l,
        })
    }

    /// The minimum chunk size in bytes; only the last chunk of a stream may be shorter.
    pub fn min_size(&self) -> u32 {
        self.min_size
    }

    /// The target average chunk size in bytes.
    pub fn avg_size(&self) -> u32 {
        self.avg_size
    }

    /// The maximum chunk size in bytes; no chunk is longer.
    pub fn max_size(&self) -> u32 {
        self.max_size
    }

    /// Length of the chunk starting at `window[0]`.
    ///
    /// The caller guarantees `window` is non-empty and either holds at least `max_size`
    /// bytes or is the whole rest of the stream: fastcdc's `cut` looks at most `max_size`
    /// bytes ahead, but when given fewer than `avg_size` bytes it moves its normalization
    /// point, so a shorter window that is not the end of input could cut differently.
    pub(crate) fn cut(&self, window: &[u8]) -> usize {
        let (_hash, len) = cdc::cut(
            window,
            self.min_size as usize,
            self.avg_size as usize,
            self.max_size as usize,
            self.mask_s,
            self.mask_l,
            self.mask_s << 1,
            self.mask_l << 1,
        );
        len
    }
}

impl Default for ChunkerConfig {
    fn default() -> Self {
        // The constants satisfy every rule of `new`; the fallback is unreachable but keeps
        // this free of `expect`.
        Self::new(DEFAULT_MIN_SIZE, DEFAULT_AVG_SIZE, DEFAULT_MAX_SIZE).unwrap_or(Self {
            min_size: DEFAULT_MIN_SIZE,
            avg_size: DEFAULT_AVG_SIZE,
            max_size: DEFAULT_MAX_SIZE,
            mask_s: cdc::MASKS[DEFAULT_AVG_SIZE.trailing_zeros() as usize + 1],
            mask_l: cdc::MASKS[DEFAULT_AVG_SIZE.trailing_zeros() as usize - 1],
        })
    }
}

/// Fixed-size chunking for block images (disk and VM images, database pages): every chunk
/// is `size` bytes except a shorter last one.
///
/// Content-defined chunking finds shifted data again after insertions; block images are
/// edited in place, so fixed blocks dedup them as well at a fraction of the CPU cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedChunker {
    size: u32,
}

/// Smallest accepted [`FixedChunker`] block size.
pub const FIXED_MIN_SIZE: u32 = 64;
/// Largest accepted [`FixedChunker`] block size (fastcdc's maximum chunk size).
pub const FIXED_MAX_SIZE: u32 = cdc::MAXIMUM_MAX;

impl FixedChunker {
    /// A chunker cutting every `size` bytes.
    ///
    /// # Errors
    /// [`Error::InvalidFixedSize`] unless `64 <= size <= 16 MiB`.
    pub fn new(size: u32) -> Result<Self> {
        if !(FIXED_MIN_SIZE..=FIXED_MAX_SIZE).contains(&size) {
            return Err(Error::InvalidFixedSize {
                size,
                reason: "size must be within 64..=16777216",
            });
        }
        Ok(Self { size })
    }

    /// The block size in bytes.
    pub fn size(&self) -> u32 {
        self.size
    }
}

/// A chunking strategy: what [`StreamChunker`](crate::StreamChunker),
/// [`AsyncStreamChunker`](crate::AsyncStreamChunker) and [`Chunking::cut_points`] run.
///
/// Both [`ChunkerConfig`] and [`FixedChunker`] convert into it, so every entry point that
/// takes `impl Into<Chunking>` accepts either.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunking {
    /// Content-defined chunking (FastCDC 2020).
    Cdc(ChunkerConfig),
    /// Fixed-size blocks.
    Fixed(FixedChunker),
}

impl Default for Chunking {
    fn default() -> Self {
        Self::Cdc(ChunkerConfig::default())
    }
}

impl From<ChunkerConfig> for Chunking {
    fn from(config: ChunkerConfig) -> Self {
        Self::Cdc(config)
    }
}

impl From<FixedChunker> for Chunking {
    fn from(fixed: FixedChunker) -> Self {
        Self::Fixed(fixed)
    }
}

impl Chunking {
    /// The longest chunk this strategy produces; streaming needs this much look-ahead
    /// before a cut is final.
    pub fn max_chunk_size(&self) -> u32 {
        match self {
            Self::Cdc(c) => c.max_size,
            Self::Fixed(f) => f.size,
        }
    }

    /// Length of the next chunk at the start of `window` (same contract as
    /// [`ChunkerConfig::cut`]: non-empty, and at least `max_chunk_size` bytes or the rest
    /// of the input).
    #[inline]
    pub(crate) fn next_len(&self, window: &[u8]) -> usize {
        match self {
            Self::Cdc(c) => c.cut(window),
            Self::Fixed(f) => window.len().min(f.size as usize),
        }
    }
}
