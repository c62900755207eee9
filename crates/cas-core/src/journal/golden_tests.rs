//! The golden fixture of the version 1 entry format.

use cairn_crypto::{KeySet, MasterKey};

use super::*;
use crate::snapshot::{open_doc, seal_doc};
use crate::Error;

fn entry() -> Entry {
    Entry {
        repo: "00112233445566778899aabbccddeeff".into(),
        parents: vec!["ab".repeat(32)],
        seq: 1,
        who: Who {
            key: format!("keys/{}", "cd".repeat(32)),
            host: "golden".into(),
        },
        time: "2026-11-29T00:00:00Z".into(),
        op: Operation::Forget {
            snapshots: vec!["ef".repeat(32)],
        },
        added: BTreeMap::new(),
        removed: counts([("snapshots", 1)]),
    }
}

/// Sealed with the fixed key below by version 1 (bless with
/// `CAIRN_BLESS_FIXTURES=1 cargo test -p cairn-cas-core --lib journal`).
const GOLDEN_ENTRY: &str = "43524e4a0101c13862ea8227adbc42af03c8214c08ecf7b5f0c54fda966411cdc63bd033108064eda9187e5cd7ef747bfc01c4a92b0ee1ce6b25fd51323ed27fcf76c06503b9470ba5d33524864ae06d142cd2ffb733abb630450a410b32f4dc2469858c07921d9dd8e921e3eab57bd85fdab2eea8a515c7a3ca2aff453cc9368041243572784e0474358d8f6f9341043745a3c6f35eaa5f1701bcd34c21345acacba78e6e4bcaf5bf2efe89f49ccf459bccb78ac2d72fc0ab1a31f51f8162364d10c8877498f36573a656e9a7a24576b14615a75ad204c957f0e108f4fcb4e474485077b1d79f927c83ec513b01b3990796993f522c8caa87843243beb82970e967c4e1bb8bc51178cfb3de00f58ae029c4dc9869399c2086d5380a6529cc52d15f7140cd36f114e598566d52f739372137a7428d4a078d726dc15bcb3487edfdd82304f42c98611528313f1f6a0ff0be78314ca07fa4a8c743aeaa92431189b410b50e3b897f2996948683520b0199de9ade4e7ee8ba4f4827f6c9034c73225b689a0f7ebc72ed4b2ebb44719be770e00b58518769725198991c2b6484bf21e715a7cd8761e70038b17214abf5aa4a360ee5a49a8bedb833c8ae65bfb682aa4af44b57e716c4432c";

#[test]
fn version_1_entries_still_decode() {
    let k = KeySet::derive(&MasterKey::from_bytes([42; 32])).journal_key();
    if std::env::var_os("CAIRN_BLESS_FIXTURES").is_some() {
        let bytes = seal_doc(&k, ENTRY_MAGIC, &entry()).unwrap();
        println!("const GOLDEN_ENTRY: &str = \"{}\";", hex::encode(bytes));
        return;
    }
    let bytes = hex::decode(GOLDEN_ENTRY).unwrap();
    let e: Entry = open_doc(&k, ENTRY_MAGIC, "journal/x", &bytes).unwrap();
    assert_eq!(e, entry());
    // Tampering, and the metadata key, are refused naming the object.
    let mut bad = bytes.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    for (key, b) in [
        (k.clone(), &bad),
        (
            KeySet::derive(&MasterKey::from_bytes([42; 32]))
                .metadata_key()
                .clone(),
            &bytes,
        ),
    ] {
        assert!(matches!(
            open_doc::<Entry>(&key, ENTRY_MAGIC, "journal/x", b),
            Err(Error::Authentication { object }) if object == "journal/x"
        ));
    }
}

#[test]
fn an_unknown_operation_decodes_as_other() {
    let json = r#"{"repo":"r","parents":[],"seq":0,"who":{"key":"k","host":"h"},
        "time":"t","op":{"kind":"some_future_operation","tenant":"a"}}"#;
    let e: Entry = serde_json::from_str(json).unwrap();
    assert_eq!(e.op, Operation::Other);
    // `shred` was the example here before shredding existed; it now has
    // its fields.
    let shred = json.replace(
        r#""kind":"some_future_operation","tenant":"a""#,
        r#""kind":"shred","tenant":"a","namespaces":["b"]"#,
    );
    let e: Entry = serde_json::from_str(&shred).unwrap();
    assert_eq!(e.op.kind(), "shred");
}
