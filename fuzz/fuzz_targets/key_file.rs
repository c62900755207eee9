//! Key files are the first thing read from an untrusted repository.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = cairn_crypto::KeyFile::from_bytes(data) {
        assert_eq!(file.to_bytes(), data);
        // Opening is only attempted with cheap parameters: the KDF cost of a
        // hostile file is bounded by KdfParams' limits, not by the fuzzer.
        if file.params().m_cost_kib <= 64 && file.params().t_cost <= 2 {
            let _ = file.open(b"password");
        }
    }
});
