//! Parameter validation: bad sizes are typed errors, never panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_chunking::{ChunkerConfig, Chunking, Error, FixedChunker};

#[test]
fn valid_bounds_are_accepted() {
    let c = ChunkerConfig::new(64, 256, 1024).unwrap();
    assert_eq!((c.min_size(), c.avg_size(), c.max_size()), (64, 256, 1024));
    let c = ChunkerConfig::new(1 << 20, 4 << 20, 16 << 20).unwrap();
    assert_eq!(
        (c.min_size(), c.avg_size(), c.max_size()),
        (1 << 20, 4 << 20, 16 << 20)
    );
    // Equal sizes are allowed.
    ChunkerConfig::new(2048, 2048, 2048).unwrap();
    // A non-power-of-two average is a target.
    ChunkerConfig::new(1000, 3000, 9000).unwrap();
}

#[test]
fn invalid_sizes_are_typed_errors() {
    let cases: &[(u32, u32, u32, &str)] = &[
        (0, 0, 0, "min_size"),
        (0, 1024, 4096, "min_size"),
        (62, 1024, 4096, "min_size"),
        ((1 << 20) + 2, 2 << 20, 4 << 20, "min_size"),
        (64, 0, 4096, "avg_size"),
        (64, 255, 4096, "avg_size"),
        (64, (4 << 20) + 1, 16 << 20, "avg_size"),
        (64, 256, 0, "max_size"),
        (64, 256, 1023, "max_size"),
        (64, 256, (16 << 20) + 1, "max_size"),
        (u32::MAX, u32::MAX, u32::MAX, "min_size"),
        (8192, 4096, 65536, "min_size must not exceed avg_size"),
        (1024, 65536, 32768, "avg_size must not exceed max_size"),
        (1001, 4096, 16384, "even"),
    ];
    for &(min, avg, max, why) in cases {
        match ChunkerConfig::new(min, avg, max) {
            Err(Error::InvalidSizes {
                min: m,
                avg: a,
                max: x,
                reason,
            }) => {
                assert_eq!((m, a, x), (min, avg, max));
                assert!(
                    reason.contains(why),
                    "{min}/{avg}/{max}: reason {reason:?} lacks {why:?}"
                );
                let text = Error::InvalidSizes {
                    min,
                    avg,
                    max,
                    reason,
                }
                .to_string();
                assert!(
                    text.contains(&min.to_string()) && text.contains(reason),
                    "{text}"
                );
            }
            other => panic!("{min}/{avg}/{max}: expected InvalidSizes, got {other:?}"),
        }
    }
}

#[test]
fn default_is_the_measured_triple() {
    let c = ChunkerConfig::default();
    assert_eq!(
        (c.min_size(), c.avg_size(), c.max_size()),
        (
            cairn_chunking::DEFAULT_MIN_SIZE,
            cairn_chunking::DEFAULT_AVG_SIZE,
            cairn_chunking::DEFAULT_MAX_SIZE
        )
    );
    assert_eq!(
        c,
        ChunkerConfig::new(c.min_size(), c.avg_size(), c.max_size()).unwrap()
    );
    assert_eq!(Chunking::default(), Chunking::Cdc(c));
}

#[test]
fn fixed_size_validation() {
    for bad in [0, 1, 63, (16 << 20) + 1, u32::MAX] {
        match FixedChunker::new(bad) {
            Err(Error::InvalidFixedSize { size, .. }) => assert_eq!(size, bad),
            other => panic!("{bad}: expected InvalidFixedSize, got {other:?}"),
        }
    }
    assert_eq!(FixedChunker::new(64).unwrap().size(), 64);
    assert_eq!(FixedChunker::new(16 << 20).unwrap().size(), 16 << 20);
}
