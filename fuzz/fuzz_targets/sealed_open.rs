//! Every sealed object passes through `open`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = cairn_crypto::SealingKey::from_bytes([9; 32]);
    let (aad, sealed) = data.split_at(data.len().min(8));
    assert!(key.open(sealed, aad).is_err() || !sealed.is_empty());
});
