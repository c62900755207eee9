//! Shards come back from independent, possibly damaged backends: headers and
//! any mix of hostile shards must give a typed error or the right object.
//! The body lives in `cairn_fuzzing::targets`, so the checked-in corpus
//! (`fuzz/corpus/shard_decode`) also runs as a stable regression test.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cairn_fuzzing::targets::shard_decode(data));
