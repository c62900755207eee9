//! Key files are the first thing read from an untrusted repository.
//! The body lives in `cairn_fuzzing::targets`, so the checked-in corpus
//! (`fuzz/corpus/key_file`) also runs as a stable regression test.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cairn_fuzzing::targets::key_file(data));
