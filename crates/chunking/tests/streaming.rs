//! Streaming (`Read`, `AsyncRead`) and `Bytes` chunking equal one-shot `cut_points`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Cursor;

use bytes::Bytes;
use cairn_chunking::{
    chunk_bytes, cut_points, AsyncStreamChunker, Chunk, ChunkerConfig, Chunking, FixedChunker,
    StreamChunker,
};
use common::{assert_tiles, random_bytes, Rng, ShortAsyncReader, ShortReader};
use futures::StreamExt;
use proptest::prelude::*;

fn offsets(chunks: &[Chunk]) -> Vec<(usize, usize)> {
    chunks
        .iter()
        .map(|c| (c.offset as usize, c.len()))
        .collect()
}

/// Checks that chunk bytes are the input's bytes at the stated offsets.
fn assert_data(chunks: &[Chunk], data: &[u8]) {
    for c in chunks {
        let o = c.offset as usize;
        assert_eq!(&c.data[..], &data[o..o + c.len()], "chunk at {o}");
    }
}

fn stream_sync(
    data: &[u8],
    chunking: Chunking,
    seed: u64,
    max_read: usize,
    read_size: usize,
) -> Vec<Chunk> {
    let reader = ShortReader {
        data,
        rng: Rng(seed),
        max_read,
    };
    StreamChunker::new(reader, chunking)
        .with_read_size(read_size)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

fn stream_async(
    data: &[u8],
    chunking: Chunking,
    seed: u64,
    max_read: usize,
    read_size: usize,
) -> Vec<Chunk> {
    let reader = ShortAsyncReader {
        inner: ShortReader {
            data,
            rng: Rng(seed),
            max_read,
        },
    };
    let chunker = AsyncStreamChunker::new(reader, chunking)
        .with_read_size(read_size)
        .unwrap();
    futures::executor::block_on(chunker.collect::<Vec<_>>())
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

/// Any valid config with small sizes, so that short inputs span many chunks.
fn config_strategy() -> impl Strategy<Value = ChunkerConfig> {
    (32u32..=1024, 0u32..=8192, 0u32..=32768).prop_map(|(half_min, extra_avg, extra_max)| {
        let min = half_min * 2;
        let avg = min.max(256) + extra_avg;
        let max = avg.max(1024) + extra_max;
        ChunkerConfig::new(min, avg, max).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn read_stream_equals_one_shot(
        config in config_strategy(),
        len in 0usize..200_000,
        seed in any::<u64>(),
        max_read in 1usize..70_000,
        read_size in 1usize..100_000,
        zeros in 0usize..4,
    ) {
        let mut data = random_bytes(seed, len);
        // Sometimes a run of zeros (no content cut points: forced max-size cuts).
        if zeros == 0 && len > 10 {
            let start = len / 3;
            data[start..start + len / 3].fill(0);
        }
        let expected: Vec<_> = cut_points(&config, &data).collect();
        assert_tiles(&expected, len, config.min_size() as usize, config.max_size() as usize);
        // Differential: fastcdc's own iterator with the same sizes.
        let reference: Vec<_> = fastcdc::v2020::FastCDC::new(&data, config.min_size(), config.avg_size(), config.max_size())
            .map(|c| (c.offset, c.length))
            .collect();
        prop_assert_eq!(&expected, &reference);

        let chunks = stream_sync(&data, config.into(), seed, max_read, read_size);
        prop_assert_eq!(offsets(&chunks), expected.clone());
        assert_data(&chunks, &data);

        let bytes: Vec<_> = chunk_bytes(&config, Bytes::from(data.clone())).collect();
        prop_assert_eq!(offsets(&bytes), expected);
        assert_data(&bytes, &data);
    }

    #[test]
    fn async_stream_equals_one_shot(
        config in config_strategy(),
        len in 0usize..200_000,
        seed in any::<u64>(),
        max_read in 1usize..70_000,
        read_size in 1usize..100_000,
    ) {
        let data = random_bytes(seed ^ 0x55, len);
        let expected: Vec<_> = cut_points(&config, &data).collect();
        let chunks = stream_async(&data, config.into(), seed, max_read, read_size);
        prop_assert_eq!(offsets(&chunks), expected);
        assert_data(&chunks, &data);
    }

    #[test]
    fn fixed_stream_equals_one_shot(
        size in 64u32..20_000,
        len in 0usize..100_000,
        seed in any::<u64>(),
        max_read in 1usize..30_000,
    ) {
        let fixed = FixedChunker::new(size).unwrap();
        let data = random_bytes(seed, len);
        let expected: Vec<_> = fixed.cut_points(&data).collect();
        assert_tiles(&expected, len, size as usize, size as usize);
        prop_assert_eq!(offsets(&stream_sync(&data, fixed.into(), seed, max_read, 4096)), expected.clone());
        prop_assert_eq!(offsets(&stream_async(&data, fixed.into(), seed, max_read, 4096)), expected);
    }
}

/// Default buffering (large reads from a `Cursor`) over inputs longer than one read block.
#[test]
fn default_buffering_equals_one_shot() {
    let config = ChunkerConfig::new(4096, 16384, 65536).unwrap();
    // 4 MiB default block: cover several blocks plus a tail.
    let data = random_bytes(3, 9 * (1 << 20) + 777);
    let expected: Vec<_> = cut_points(&config, &data).collect();
    let chunks: Vec<_> = StreamChunker::new(Cursor::new(&data), config)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    assert_eq!(offsets(&chunks), expected);
    assert_data(&chunks, &data);
}

#[test]
fn boundary_lengths() {
    let (min, avg, max) = (4096usize, 16384usize, 65536usize);
    let config = ChunkerConfig::new(min as u32, avg as u32, max as u32).unwrap();
    let read_size = 4 * max;
    let lengths = [
        0,
        1,
        min - 1,
        min,
        min + 1,
        avg,
        max - 1,
        max,
        max + 1,
        2 * max,
        3 * max + 7,
        read_size,
        3 * read_size,
        read_size - 1,
        read_size + 1,
    ];
    for len in lengths {
        for (name, data) in [
            ("random", random_bytes(len as u64, len)),
            ("zeros", vec![0u8; len]),
        ] {
            let expected: Vec<_> = cut_points(&config, &data).collect();
            assert_tiles(&expected, len, min, max);
            if len == 0 {
                assert!(expected.is_empty(), "empty input yields no chunks");
            }
            if len <= min {
                assert!(
                    expected.len() <= 1,
                    "{name} len {len}: input within min is one chunk"
                );
            }
            // A Cursor fills the whole requested block at once: reads end exactly on
            // multiples of `read_size`.
            let chunks: Vec<_> = StreamChunker::new(Cursor::new(&data), config)
                .with_read_size(read_size)
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            assert_eq!(offsets(&chunks), expected, "{name} len {len}");
            assert_data(&chunks, &data);
            let concat: Vec<u8> = chunks.iter().flat_map(|c| c.data.iter().copied()).collect();
            assert_eq!(concat, data, "{name} len {len}: concatenation");
        }
    }
}

/// An I/O error surfaces once as `Error::Io`, then the chunker is finished.
#[test]
fn io_error_is_reported_then_fused() {
    struct Failing(usize);
    impl std::io::Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(1);
            self.0 -= n;
            Ok(n)
        }
    }
    let config = ChunkerConfig::new(64, 256, 1024).unwrap();
    let mut chunker = StreamChunker::new(Failing(10_000), config)
        .with_read_size(4096)
        .unwrap();
    let mut ok = 0;
    let err = loop {
        match chunker.next().expect("error before end") {
            Ok(c) => ok += c.len(),
            Err(e) => break e,
        }
    };
    assert!(ok <= 10_000);
    assert!(matches!(err, cairn_chunking::Error::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("disk on fire"));
    assert!(chunker.next().is_none());
}

#[test]
fn read_size_is_validated() {
    let config = ChunkerConfig::default();
    for bad in [0, cairn_chunking::MAX_READ_SIZE + 1, usize::MAX] {
        let err = StreamChunker::new(Cursor::new(&[][..]), config)
            .with_read_size(bad)
            .unwrap_err();
        assert!(
            matches!(err, cairn_chunking::Error::InvalidReadSize { bytes, .. } if bytes == bad),
            "{err:?}"
        );
        let err = AsyncStreamChunker::new(futures::io::Cursor::new(&[][..]), config)
            .with_read_size(bad)
            .unwrap_err();
        assert!(
            matches!(err, cairn_chunking::Error::InvalidReadSize { bytes, .. } if bytes == bad),
            "{err:?}"
        );
    }
    // An empty input yields no chunks, whatever the read size.
    let mut one = StreamChunker::new(Cursor::new(&[][..]), config)
        .with_read_size(1)
        .unwrap();
    assert!(one.next().is_none());
}

/// Chunks dropped as soon as they are seen let the chunker reuse its block in place (the
/// tail moves to the front); the bytes must still be right.
#[test]
fn dropping_chunks_reuses_the_block_correctly() {
    let config = ChunkerConfig::new(1024, 4096, 16384).unwrap();
    let data = random_bytes(77, 3 << 20);
    let expected: Vec<_> = cut_points(&config, &data).collect();
    let mut got = Vec::new();
    let chunker = StreamChunker::new(Cursor::new(&data), config)
        .with_read_size(65536)
        .unwrap();
    for chunk in chunker {
        let chunk = chunk.unwrap();
        let o = chunk.offset as usize;
        assert_eq!(&chunk.data[..], &data[o..o + chunk.len()], "chunk at {o}");
        got.push((o, chunk.len()));
    }
    assert_eq!(got, expected);
}
