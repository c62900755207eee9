//! Tenant key objects (versions 1 and 2) parsed, verified and opened from
//! hostile bytes. The body lives in `cairn_fuzzing::targets`, so the
//! checked-in corpus (`fuzz/corpus/tenant_key`) also runs as a stable
//! regression test.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cairn_fuzzing::targets::tenant_key(data));
