//! Tree blobs are read back from storage: decoding hostile bytes must give a
//! typed error, and whatever decodes must re-encode to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tree) = cairn_cas_core::Tree::decode("fuzz", data) {
        assert_eq!(tree.encode(), data);
    }
});
