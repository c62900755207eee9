//! Fixed-size chunking for block images.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Cursor;

use bytes::Bytes;
use cairn_chunking::{Chunking, FixedChunker};
use common::{assert_tiles, random_bytes};

#[test]
fn fixed_boundary_lengths() {
    let size = 4096usize;
    let fixed = FixedChunker::new(size as u32).unwrap();
    for len in [
        0,
        1,
        size - 1,
        size,
        size + 1,
        3 * size,
        3 * size + 5,
        4 << 20,
        (4 << 20) + 1,
    ] {
        let data = random_bytes(len as u64, len);
        let cuts: Vec<_> = fixed.cut_points(&data).collect();
        assert_tiles(&cuts, len, size, size);
        assert_eq!(cuts.len(), len.div_ceil(size), "len {len}");
        assert!(cuts.iter().all(|&(o, _)| o % size == 0));

        let streamed: Vec<_> = fixed
            .stream(Cursor::new(&data))
            .map(|c| c.map(|c| (c.offset as usize, c.len(), c.data)))
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        assert_eq!(
            streamed.iter().map(|&(o, l, _)| (o, l)).collect::<Vec<_>>(),
            cuts
        );
        for (o, l, d) in &streamed {
            assert_eq!(&d[..], &data[*o..o + l]);
        }

        let async_cuts: Vec<_> =
            futures::executor::block_on(futures::StreamExt::collect::<Vec<_>>(
                fixed.stream_async(futures::io::Cursor::new(&data)),
            ))
            .into_iter()
            .map(|c| c.map(|c| (c.offset as usize, c.len())).unwrap())
            .collect();
        assert_eq!(async_cuts, cuts);

        let bytes: Vec<_> = fixed.chunk_bytes(Bytes::from(data.clone())).collect();
        assert_eq!(
            bytes
                .iter()
                .map(|c| (c.offset as usize, c.len()))
                .collect::<Vec<_>>(),
            cuts
        );
    }
}

/// In-place overwrites (how block images change) touch only the blocks they hit.
#[test]
fn fixed_overwrite_changes_only_touched_blocks() {
    let fixed = FixedChunker::new(65536).unwrap();
    let original = random_bytes(11, 1 << 20);
    let mut edited = original.clone();
    edited[100_000] ^= 1; // block 1
    edited[65536 * 5 - 1] ^= 1; // last byte of block 4
    let changed: Vec<usize> = fixed
        .cut_points(&original)
        .zip(fixed.cut_points(&edited))
        .enumerate()
        .filter(|(_, ((o, l), _))| original[*o..o + l] != edited[*o..o + l])
        .map(|(i, _)| i)
        .collect();
    assert_eq!(changed, [1, 4]);
}

#[test]
fn chunking_enum_dispatches() {
    let data = random_bytes(5, 100_000);
    let fixed = FixedChunker::new(1000).unwrap();
    let via_enum: Vec<_> = Chunking::from(fixed).cut_points(&data).collect();
    assert_eq!(via_enum, fixed.cut_points(&data).collect::<Vec<_>>());
    assert_eq!(Chunking::from(fixed).max_chunk_size(), 1000);
}
