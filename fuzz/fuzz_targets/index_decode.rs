//! Index objects: hostile sealed bytes, and hostile plaintext behind a valid seal.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let keys = cairn_crypto::KeySet::derive(&cairn_crypto::MasterKey::from_bytes([7; 32]));
    let _ = cairn_cas_core::decode_index(&keys, "fuzz", data);
    // The same bytes as a plaintext index sealed with the right key.
    if let Ok(sealed) = keys.metadata_key().seal(data, b"cairn/index/v1") {
        let _ = cairn_cas_core::decode_index(&keys, "fuzz", &sealed);
    }
});
