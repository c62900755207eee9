//! Shards come back from independent, possibly damaged backends: headers and
//! any mix of hostile shards must give a typed error or the right object.
#![no_main]
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cairn_erasure::ShardHeader::parse(data);
    let Ok(codec) = cairn_erasure::Codec::new(4, 2) else { return };
    // Six shards cut from the input, some missing.
    let n = data.len() / 6;
    let shards: Vec<Option<Bytes>> = (0..6)
        .map(|i| {
            let s = &data[i * n..(i + 1) * n];
            (s.first().copied().unwrap_or(0) % 3 != 0).then(|| Bytes::copy_from_slice(s))
        })
        .collect();
    let _ = codec.decode(&shards);
});
