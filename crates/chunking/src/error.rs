//! The crate's error type.
//!
//! Rules: one `#[non_exhaustive]` enum; parameters are validated at
//! construction and refused with the values given and the rule broken
//! (never a `debug_assert!`); a reader's I/O error is kept as `source()`.

/// Errors returned by `cairn-chunking`.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The content-defined chunk sizes given to [`ChunkerConfig::new`](crate::ChunkerConfig::new)
    /// are out of range or inconsistent.
    #[error("invalid chunk sizes min={min} avg={avg} max={max}: {reason}")]
    InvalidSizes {
        /// The requested minimum chunk size in bytes.
        min: u32,
        /// The requested average (target) chunk size in bytes.
        avg: u32,
        /// The requested maximum chunk size in bytes.
        max: u32,
        /// Which rule the sizes break.
        reason: &'static str,
    },
    /// The block size given to [`FixedChunker::new`](crate::FixedChunker::new) is out of range.
    #[error("invalid fixed chunk size {size}: {reason}")]
    InvalidFixedSize {
        /// The requested block size in bytes.
        size: u32,
        /// Which rule the size breaks.
        reason: &'static str,
    },
    /// The read block size given to `with_read_size` of a stream chunker is out of range.
    #[error("invalid read size {bytes}: {reason}")]
    InvalidReadSize {
        /// The requested read size in bytes.
        bytes: usize,
        /// Which rule the size breaks.
        reason: &'static str,
    },
    /// Reading the input stream failed. The chunker yields no further chunks afterwards.
    #[error("reading the input to chunk failed: {source}")]
    Io {
        /// The error returned by the reader.
        #[from]
        source: std::io::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
