//! Snapshot hold records (admin-signed `CRHD`) decoded from hostile bytes.
//! The body lives in `cairn_fuzzing::targets`, so the checked-in corpus
//! (`fuzz/corpus/hold_decode`) also runs as a stable regression test.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cairn_fuzzing::targets::hold_decode(data));
