//! Tree blobs are read back from storage: decoding hostile bytes must give a
//! typed error, and whatever decodes must re-encode to the same bytes.
//! The body lives in `cairn_fuzzing::targets`, so the checked-in corpus
//! (`fuzz/corpus/tree_decode`) also runs as a stable regression test.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cairn_fuzzing::targets::tree_decode(data));
