//! The stateful target: random sequences of repository operations (backup,
//! restore, reopen, check, injected backend failures, damaged and lost
//! objects) over a fault-injecting backend, checked against a model. See
//! `cairn_fuzzing::repo_ops`; `cargo test -p cairn-fuzzing --test stateful`
//! runs the same code from proptest on stable.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cairn_fuzzing::repo_ops::run(data);
});
