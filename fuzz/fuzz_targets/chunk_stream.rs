//! Streaming chunking must equal one-shot chunking for any input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cfg = cairn_chunking::ChunkerConfig::new(64, 256, 1024).expect("valid sizes");
    let one_shot: Vec<(usize, usize)> = cairn_chunking::cut_points(&cfg, data).collect();
    let streamed: Vec<(usize, usize)> = cairn_chunking::StreamChunker::new(data, cfg)
        .map(|c| c.map(|c| (c.offset as usize, c.data.len())))
        .collect::<Result<_, _>>()
        .expect("reading a slice cannot fail");
    assert_eq!(one_shot, streamed);
});
