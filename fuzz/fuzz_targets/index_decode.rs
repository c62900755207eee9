//! Index objects: hostile sealed bytes, and hostile plaintext behind a valid seal.
//! The body lives in `cairn_fuzzing::targets`, so the checked-in corpus
//! (`fuzz/corpus/index_decode`) also runs as a stable regression test.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cairn_fuzzing::targets::index_decode(data));
