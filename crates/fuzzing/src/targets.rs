//! One function per fuzz target: each takes the fuzzer's bytes and panics
//! only on a bug (a decoder panicking, or a round trip that does not hold).
//!
//! Targets that need keys take the first 32 bytes of the input as the master
//! key, so the corpus can hold real, authenticated objects (a key and the
//! object it opens) and the fuzzer starts past the AEAD.

use bytes::Bytes;
use cairn_crypto::{KeySet, MasterKey, SealingKey};

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target by name, as `fuzz/corpus/<name>/` holds its corpus.
pub const ALL: &[(&str, Target)] = &[
    ("tree_decode", tree_decode),
    ("index_decode", index_decode),
    ("pack_header", pack_header),
    ("key_file", key_file),
    ("sealed_open", sealed_open),
    ("chunk_stream", chunk_stream),
    ("shard_decode", shard_decode),
    ("journal_entry", journal_entry),
    ("epoch_grant", epoch_grant),
    ("hold_decode", hold_decode),
    ("tenant_key", tenant_key),
];

/// Splits a 32-byte master key off the front of `data`.
fn keyed(data: &[u8]) -> Option<(KeySet, &[u8])> {
    let (key, rest) = data.split_first_chunk::<32>()?;
    Some((KeySet::derive(&MasterKey::from_bytes(*key)), rest))
}

/// Tree blobs are read back from storage: decoding hostile bytes must give a
/// typed error, and whatever decodes must survive a round trip (trees are
/// written in the newest format, so an old-format input re-encodes to other
/// bytes that decode to the same tree; a newest-format input re-encodes to
/// itself).
pub fn tree_decode(data: &[u8]) {
    if let Ok(tree) = cairn_cas_core::Tree::decode("fuzz", data) {
        let bytes = tree.encode();
        match cairn_cas_core::Tree::decode("fuzz", &bytes) {
            Ok(again) => assert!(again == tree, "a tree changes in a round trip"),
            Err(e) => panic!("a re-encoded tree does not decode: {e}"),
        }
        if data.get(4) == bytes.get(4) {
            assert_eq!(bytes, data, "a decoded tree re-encodes differently");
        }
    }
}

/// Index objects: key ‖ sealed index, and the same rest sealed as plaintext
/// (so the parser behind the AEAD is reached).
pub fn index_decode(data: &[u8]) {
    let Some((keys, rest)) = keyed(data) else {
        return;
    };
    let _ = cairn_cas_core::format::decode_index(&keys, "fuzz", rest);
    if let Ok(sealed) = keys.metadata_key().seal(rest, b"cairn/index/v1") {
        let _ = cairn_cas_core::format::decode_index(&keys, "fuzz", &sealed);
    }
}

/// Pack headers and trailers: key ‖ pack bytes.
pub fn pack_header(data: &[u8]) {
    let Some((keys, pack)) = keyed(data) else {
        return;
    };
    if let Ok(entries) = cairn_cas_core::format::read_pack_header(&keys, "fuzz", pack) {
        // What authenticates must describe blobs inside the pack.
        for e in entries {
            let end = u64::from(e.offset) + u64::from(e.length);
            assert!(end <= pack.len() as u64, "entry past the pack's end");
        }
    }
    if let Some(trailer) = pack.get(
        pack.len()
            .saturating_sub(cairn_cas_core::format::TRAILER_LEN)..,
    ) {
        let _ = cairn_cas_core::format::parse_trailer("fuzz", trailer);
    }
}

/// Key files (version 1 and 2): whatever parses re-serialises identically;
/// opening is tried only with cheap parameters (a hostile file's KDF cost is
/// bounded by `KdfParams`' limits, not by the fuzzer).
pub fn key_file(data: &[u8]) {
    if let Ok(file) = cairn_crypto::AnyKeyFile::from_bytes(data) {
        assert_eq!(
            file.to_bytes(),
            data,
            "a parsed key file re-serialises differently"
        );
        if file.params().m_cost_kib <= 64 && file.params().t_cost <= 2 {
            let _ = file.open(b"password");
        }
    }
}

/// Sealed messages: 8 bytes of AAD ‖ sealed bytes, opened under a fixed key
/// and under a key holding epochs 0, 1 and 7 (version 2 messages name
/// their epoch).
pub fn sealed_open(data: &[u8]) {
    let key = SealingKey::from_bytes([9; 32]);
    let (aad, sealed) = data.split_at(data.len().min(8));
    let _ = key.open(sealed, aad);
    let _ = SealingKey::sealed_epoch(sealed);
    if let Ok(ring) = SealingKey::from_epochs(7, [(0, [9; 32]), (1, [1; 32]), (7, [7; 32])]) {
        let _ = ring.open(sealed, aad);
    }
}

/// Key-epoch grants: a 32-byte X25519 secret ‖ 81-byte grant ‖ context.
/// Whatever opens must be the root a re-seal to the same key gives back.
pub fn epoch_grant(data: &[u8]) {
    let Some((secret, rest)) = data.split_first_chunk::<32>() else {
        return;
    };
    let secret = cairn_crypto::ExchangeSecret::from_bytes(*secret);
    let (grant, context) = rest.split_at(rest.len().min(cairn_crypto::GRANT_LEN));
    if let Ok(root) = secret.open_grant(grant, context) {
        let Ok(again) = cairn_crypto::seal_grant(&root, &secret.public(), context) else {
            return;
        };
        match secret.open_grant(&again, context) {
            Ok(r) => assert_eq!(r.expose_bytes(), root.expose_bytes(), "a grant round trip"),
            Err(e) => panic!("a re-sealed grant does not open: {e}"),
        }
    }
}

/// Tenant key objects (version 1, and version 2 with generations): a
/// 32-byte master key (whose tenant wrapping key is tried) ‖ the object.
/// Whatever opens must keep its generation and name through a re-seal.
pub fn tenant_key(data: &[u8]) {
    use cairn_crypto::{AdminKey, TenantKeyObject};
    let Some((master, object)) = data.split_first_chunk::<32>() else {
        return;
    };
    let Ok(obj) = TenantKeyObject::from_bytes(object) else {
        return;
    };
    let admin = AdminKey::from_seed(&[0x33; 32]);
    let _ = obj.verify_signature(&admin.public());
    let wrap = KeySet::derive(&MasterKey::from_bytes(*master)).tenant_wrapping_key();
    let Ok((keys, name)) = obj.open(&wrap) else {
        return;
    };
    assert_eq!(keys.generation(), obj.generation(), "the generation field");
    let _ = keys.keys().data_key();
    let (id, ns) = (obj.tenant_id(), obj.namespace());
    let Ok(again) =
        TenantKeyObject::seal_generations(&wrap, obj.epoch(), id, ns, &keys, &name, &admin)
    else {
        return;
    };
    let reopened = TenantKeyObject::from_bytes(&again.to_bytes())
        .and_then(|b| b.verify_signature(&admin.public()).map(|()| b))
        .and_then(|b| b.open(&wrap));
    match reopened {
        Ok((k, n)) => assert_eq!(
            (k.generation(), n),
            (keys.generation(), name),
            "a round trip"
        ),
        Err(e) => panic!("a re-sealed tenant key object does not open: {e}"),
    }
}

/// Streaming chunking equals one-shot chunking on any input.
pub fn chunk_stream(data: &[u8]) {
    let Ok(cfg) = cairn_chunking::ChunkerConfig::new(64, 256, 1024) else {
        return;
    };
    let one_shot: Vec<(usize, usize)> = cairn_chunking::cut_points(&cfg, data).collect();
    let streamed: Result<Vec<(usize, usize)>, _> = cairn_chunking::StreamChunker::new(data, cfg)
        .map(|c| c.map(|c| (c.offset as usize, c.data.len())))
        .collect();
    match streamed {
        Ok(streamed) => assert_eq!(one_shot, streamed, "streaming differs from one-shot"),
        Err(e) => panic!("reading a slice failed: {e}"),
    }
}

/// Erasure shards: header parsing, and decoding six shards cut from the
/// input with some missing.
pub fn shard_decode(data: &[u8]) {
    let _ = cairn_erasure::ShardHeader::parse(data);
    let _ = cairn_erasure::Shard::parse(Bytes::copy_from_slice(data));
    let Ok(codec) = cairn_erasure::Codec::new(4, 2) else {
        return;
    };
    let n = data.len() / 6;
    let shards: Vec<Option<Bytes>> = (0..6)
        .map(|i| {
            let s = &data[i * n..(i + 1) * n];
            (s.first().copied().unwrap_or(0) % 3 != 0).then(|| Bytes::copy_from_slice(s))
        })
        .collect();
    let _ = codec.decode(&shards);
}

/// Audit journal entries: key ‖ entry object, and the rest sealed as an
/// entry's JSON under the journal key (so the parser behind the AEAD is
/// reached). Whatever decodes survives a JSON round trip unchanged.
pub fn journal_entry(data: &[u8]) {
    use cairn_cas_core::journal::{decode_entry, Entry};
    let Some((keys, rest)) = keyed(data) else {
        return;
    };
    let _ = decode_entry(&keys, "fuzz", rest);
    let aad = b"CRNJ\x01";
    let Ok(sealed) = keys.journal_key().seal(rest, aad) else {
        return;
    };
    let mut framed = aad.to_vec();
    framed.extend(sealed);
    if let Ok(entry) = decode_entry(&keys, "fuzz", &framed) {
        let json = match serde_json::to_vec(&entry) {
            Ok(j) => j,
            Err(e) => panic!("a decoded entry does not serialise: {e}"),
        };
        match serde_json::from_slice::<Entry>(&json) {
            Ok(again) => assert!(again == entry, "an entry changes in a round trip"),
            Err(e) => panic!("a re-serialised entry does not decode: {e}"),
        }
    }
}

/// Snapshot holds (`CRHD`, admin-signed): a 32-byte authority seed ‖ a
/// hold object, checked under that authority; then the same bytes as the
/// JSON of a record signed by it (so the parser behind the signature is
/// reached). Whatever decodes survives an encode/decode round trip.
pub fn hold_decode(data: &[u8]) {
    use cairn_cas_core::repo::{decode_hold, encode_hold};
    const REPO: &str = "00112233445566778899aabbccddeeff";
    let Some((seed, rest)) = data.split_first_chunk::<32>() else {
        return;
    };
    let admin = cairn_crypto::AdminKey::from_seed(seed);
    let pk = admin.public();
    let _ = decode_hold(&pk, REPO, "fuzz", rest);
    let mut message = REPO.as_bytes().to_vec();
    message.push(0);
    message.extend_from_slice(rest);
    let mut framed = b"CRHD\x01".to_vec();
    framed.extend(admin.sign(b"cairn/v1/signed/CRHD", &message));
    framed.extend_from_slice(rest);
    if let Ok(hold) = decode_hold(&pk, REPO, "fuzz", &framed) {
        let again = match encode_hold(&admin, REPO, &hold) {
            Ok(b) => b,
            Err(e) => panic!("a decoded hold does not encode: {e}"),
        };
        match decode_hold(&pk, REPO, "fuzz", &again) {
            Ok(back) => assert!(back == hold, "a hold changes in a round trip"),
            Err(e) => panic!("a re-encoded hold does not decode: {e}"),
        }
    }
}
