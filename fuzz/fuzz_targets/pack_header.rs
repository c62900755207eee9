//! Whole packs as downloaded: trailer, header length, sealed header, entries.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let keys = cairn_crypto::KeySet::derive(&cairn_crypto::MasterKey::from_bytes([7; 32]));
    let _ = cairn_cas_core::read_pack_header(&keys, "fuzz", data);
    if data.len() >= cairn_cas_core::TRAILER_LEN {
        let _ = cairn_cas_core::parse_trailer("fuzz", &data[..cairn_cas_core::TRAILER_LEN]);
    }
});
