//! Key-epoch grants (X25519 + HKDF + AES-GCM) opened from hostile bytes.
//! The body lives in `cairn_fuzzing::targets`, so the checked-in corpus
//! (`fuzz/corpus/epoch_grant`) also runs as a stable regression test.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cairn_fuzzing::targets::epoch_grant(data));
