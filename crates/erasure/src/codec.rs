//! The `k + m` Reed-Solomon codec over whole objects.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use reed_solomon_erasure::galois_8::ReedSolomon;

use crate::format::{
    payload_len, write_header, write_v2, Shard, ShardFormat, ShardHeader, BLOCK_SHIFT,
    CODEC_RS_GF8, FORMAT_V1, FORMAT_V2, HEADER_LEN,
};
use crate::{Error, Result};

/// Splits objects into `k` data shards plus `m` parity shards, any `k` of
/// which give the object back; each shard carries a self-describing header
/// (see [`format`](mod@crate::format)).
///
/// ```
/// use bytes::Bytes;
/// use cairn_erasure::Codec;
/// let codec = Codec::new(4, 2)?;
/// let data = Bytes::from(vec![7u8; 1000]);
/// let mut shards: Vec<Option<Bytes>> = codec.encode(&data)?.into_iter().map(Some).collect();
/// shards[0] = None;
/// shards[5] = None;
/// assert_eq!(codec.decode(&shards)?, data);
/// # Ok::<(), cairn_erasure::Error>(())
/// ```
#[derive(Clone)]
pub struct Codec {
    k: usize,
    m: usize,
    rs: Arc<ReedSolomon>,
}

impl fmt::Debug for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Codec")
            .field("k", &self.k)
            .field("m", &self.m)
            .finish()
    }
}

/// Objects at least this large are encoded on two threads (hash and
/// parity side by side, parity in two halves, block checksums of half the
/// shards each); smaller ones are not worth a thread.
pub(crate) const PARALLEL_MIN: usize = 1 << 20;

fn rs_error(e: reed_solomon_erasure::Error) -> Error {
    Error::Codec {
        key: String::new(),
        reason: e.to_string(),
    }
}

impl Codec {
    /// A codec of `k` data and `m` parity shards: `k >= 1`, `m >= 1`,
    /// `k + m <= 255` (the size of GF(2^8)), else [`Error::InvalidParameters`].
    pub fn new(k: usize, m: usize) -> Result<Codec> {
        let refuse = |reason| Err(Error::InvalidParameters { k, m, reason });
        if k == 0 {
            return refuse("k must be at least 1");
        }
        if m == 0 {
            return refuse("m must be at least 1");
        }
        if k.checked_add(m).is_none_or(|n| n > 255) {
            return refuse("k + m must be at most 255");
        }
        let rs = ReedSolomon::new(k, m).map_err(rs_error)?;
        Ok(Codec {
            k,
            m,
            rs: Arc::new(rs),
        })
    }

    /// Data shards per object.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Parity shards per object.
    pub fn m(&self) -> usize {
        self.m
    }

    /// Shards per object, `k + m`.
    pub fn total(&self) -> usize {
        self.k + self.m
    }

    /// Encodes `data` into `k + m` shards, index order (data shards first),
    /// in the current shard format (version 2). All shards share one
    /// allocation; each is header + block table + payload.
    pub fn encode(&self, data: &Bytes) -> Result<Vec<Bytes>> {
        self.encode_format(data, ShardFormat::V2)
    }

    /// [`encode`](Self::encode) in a chosen shard format (version 1 for
    /// fixtures and compatibility tests).
    pub fn encode_format(&self, data: &Bytes, format: ShardFormat) -> Result<Vec<Bytes>> {
        let mut buf = Vec::new();
        let stride = self.encode_into(data, format, &mut buf)?;
        let all = Bytes::from(buf);
        Ok((0..self.total())
            .map(|i| all.slice(i * stride..(i + 1) * stride))
            .collect())
    }

    /// Encodes `data` into `buf` (cleared first, then exactly `k + m`
    /// shards of the returned stride, back to back). Taking the buffer lets
    /// the backend reuse a few large ones instead of allocating and freeing
    /// `1.5 ×` a pack per put, which glibc turns into retained arena memory
    /// (see `ErasureConfig::encode_buffers`).
    pub(crate) fn encode_into(
        &self,
        data: &[u8],
        format: ShardFormat,
        buf: &mut Vec<u8>,
    ) -> Result<usize> {
        let (k, total) = (self.k, self.total());
        let len = data.len();
        let too_big = || Error::Codec {
            key: String::new(),
            reason: "object too large to encode in memory".into(),
        };
        // k + m <= 255 was checked in `new`, so these narrowings are exact.
        let (version, block_shift) = match format {
            ShardFormat::V1 => (FORMAT_V1, 0),
            ShardFormat::V2 => (FORMAT_V2, BLOCK_SHIFT),
        };
        let template = ShardHeader {
            version,
            block_shift,
            codec: CODEC_RS_GF8,
            k: k as u8,
            m: self.m as u8,
            index: 0,
            object_len: len as u64,
            // Hashed beside the parity computation, below.
            object_checksum: [0; 32],
            shard_checksum: [0; 32],
        };
        let p = payload_len(len as u64, k).ok_or_else(too_big)?;
        let off = template.payload_offset().ok_or_else(too_big)?;
        let stride = off.checked_add(p).ok_or_else(too_big)?;
        buf.clear();
        buf.resize(total.checked_mul(stride).ok_or_else(too_big)?, 0);
        for (i, piece) in data.chunks(p).enumerate() {
            let at = i * stride + off;
            buf[at..at + piece.len()].copy_from_slice(piece);
        }
        let hash = || *blake3::hash(data).as_bytes();
        let (parity, object_checksum) = std::thread::scope(|scope| {
            // The object checksum on another thread while this one
            // computes parity: on a 16 MiB pack each is several ms of one
            // core, and a put waits for both.
            let sum = (len >= PARALLEL_MIN).then(|| scope.spawn(hash));
            let parity = self.encode_parity(buf, stride, off, p);
            let sum = match sum {
                Some(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
                None => hash(),
            };
            (parity, sum)
        });
        parity?;
        let template = ShardHeader {
            object_checksum,
            ..template
        };
        match format {
            ShardFormat::V1 => {
                for (i, shard) in buf.chunks_mut(stride).enumerate() {
                    let (head, payload) = shard.split_at_mut(HEADER_LEN);
                    write_header(
                        head,
                        payload,
                        template.k,
                        template.m,
                        i as u8,
                        len as u64,
                        &object_checksum,
                    );
                }
            }
            ShardFormat::V2 => write_v2(buf, stride, template),
        }
        Ok(stride)
    }

    /// Computes the parity payloads in `buf` (shards of `stride` bytes,
    /// payloads of `p` bytes at `off`) from the data payloads. Parity is
    /// column-wise, so a large object's payload columns are split into two
    /// halves (64-byte aligned) encoded on two threads.
    fn encode_parity(&self, buf: &mut [u8], stride: usize, off: usize, p: usize) -> Result<()> {
        let k = self.k;
        let (data_part, parity_part) = buf.split_at_mut(k * stride);
        let data: Vec<&[u8]> = data_part.chunks(stride).map(|c| &c[off..]).collect();
        let mut parity: Vec<&mut [u8]> = parity_part
            .chunks_mut(stride)
            .map(|c| &mut c[off..])
            .collect();
        let half = (p / 2) & !63;
        if p * k < PARALLEL_MIN || half == 0 {
            return self.rs.encode_sep(&data, &mut parity).map_err(rs_error);
        }
        let (d_lo, d_hi): (Vec<&[u8]>, Vec<&[u8]>) = data.iter().map(|d| d.split_at(half)).unzip();
        let (mut p_lo, mut p_hi): (Vec<&mut [u8]>, Vec<&mut [u8]>) =
            parity.iter_mut().map(|q| q.split_at_mut(half)).unzip();
        std::thread::scope(|scope| {
            let hi = scope.spawn(|| self.rs.encode_sep(&d_hi, &mut p_hi));
            let lo = self.rs.encode_sep(&d_lo, &mut p_lo);
            // A panic there (none is known) goes on here, as it would
            // have on one thread.
            let hi = hi.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            lo.and(hi)
        })
        .map_err(rs_error)
    }

    /// Decodes an object from its shards, `shards[i]` being shard `i` or
    /// `None` (exactly `k + m` slots). Shards that fail to parse, fail their
    /// checksum, sit in the wrong slot or belong to another code are skipped;
    /// among the rest, the version of the object with the most shards is
    /// decoded and checked against its object checksum. Fewer than `k` good
    /// shards of one version is [`Error::NotEnoughShards`].
    pub fn decode(&self, shards: &[Option<Bytes>]) -> Result<Bytes> {
        if shards.len() != self.total() {
            return Err(Error::InvalidParameters {
                k: self.k,
                m: self.m,
                reason: "decode needs exactly k + m shard slots",
            });
        }
        // Verify in index order (data shards first, which need no solving)
        // and stop once one version has k verified shards: checksumming the
        // spare parity shards would cost m/k more hashing for nothing.
        let mut good = Vec::with_capacity(self.total());
        let mut counts: HashMap<[u8; 32], usize> = HashMap::new();
        for (i, slot) in shards.iter().enumerate() {
            let Some(bytes) = slot else { continue };
            let Ok(shard) = Shard::parse(bytes.clone()) else {
                continue;
            };
            if self.check(&shard, i).is_err() {
                continue;
            }
            let n = counts.entry(shard.header.object_checksum).or_default();
            *n += 1;
            let enough = *n >= self.k;
            good.push(shard);
            if enough {
                break;
            }
        }
        self.decode_shards(good)
    }

    /// Checks that a parsed shard belongs to this code and to slot `index`.
    pub fn check(&self, shard: &Shard, index: usize) -> Result<()> {
        let h = &shard.header;
        let reason = if usize::from(h.k) != self.k || usize::from(h.m) != self.m {
            "shard of a different k + m code"
        } else if usize::from(h.index) != index {
            "shard stored in the wrong slot"
        } else {
            return Ok(());
        };
        Err(Error::BadShard {
            key: String::new(),
            index: Some(index),
            reason,
        })
    }

    /// Decodes from verified shards (as [`Shard::parse`] and [`Codec::check`]
    /// accept them), choosing the version with the most shards.
    pub fn decode_shards(&self, shards: Vec<Shard>) -> Result<Bytes> {
        let mut versions: HashMap<([u8; 32], u64), Vec<Option<Shard>>> = HashMap::new();
        for s in shards {
            // Shard's fields are public: re-check what the arithmetic below
            // relies on rather than trust the caller.
            let idx = usize::from(s.header.index);
            let fits = usize::from(s.header.k) == self.k
                && usize::from(s.header.m) == self.m
                && payload_len(s.header.object_len, self.k) == Some(s.payload.len());
            if idx >= self.total() || !fits {
                continue;
            }
            let slots = versions
                .entry((s.header.object_checksum, s.header.object_len))
                .or_insert_with(|| vec![None; self.total()]);
            slots[idx].get_or_insert(s);
        }
        let count = |v: &Vec<Option<Shard>>| v.iter().flatten().count();
        let best = versions.into_values().max_by_key(count);
        let have = best.as_ref().map_or(0, count);
        match best {
            Some(slots) if have >= self.k => self.reconstruct(&slots),
            _ => Err(Error::NotEnoughShards {
                key: String::new(),
                have,
                need: self.k,
            }),
        }
    }

    /// Rebuilds the object from `k` or more shards of one version.
    fn reconstruct(&self, slots: &[Option<Shard>]) -> Result<Bytes> {
        let Some(first) = slots.iter().flatten().next() else {
            return Err(Error::NotEnoughShards {
                key: String::new(),
                have: 0,
                need: self.k,
            });
        };
        let header = first.header;
        let p = first.payload.len();
        // Shard::parse checked p == payload_len(object_len, k), so the object
        // fits in k * p bytes of memory.
        let len = usize::try_from(header.object_len).unwrap_or(usize::MAX);
        if len > p.saturating_mul(self.k) {
            return Err(Error::BadShard {
                key: String::new(),
                index: None,
                reason: "object length disagrees with shard size",
            });
        }
        let out = match &slots[0] {
            // The whole object is in shard 0: no copy at all.
            Some(s0) if len <= p => s0.payload.slice(..len),
            _ if slots[..self.k].iter().all(Option::is_some) => {
                let mut out = Vec::with_capacity(len);
                for s in slots[..self.k].iter().flatten() {
                    let take = (len - out.len()).min(p);
                    out.extend_from_slice(&s.payload[..take]);
                }
                Bytes::from(out)
            }
            _ => self.solve(slots, p, len)?,
        };
        if blake3::hash(&out).as_bytes() != &header.object_checksum {
            return Err(Error::ObjectChecksum { key: String::new() });
        }
        Ok(out)
    }

    /// Rebuilds the missing data columns of one stripe in place: `cols[i]`
    /// is the same byte range of shard `i`'s payload, or `None`; at least
    /// `k` must be present, all of one length. The code works column-wise,
    /// so any byte range of the shards is a stripe of its own.
    pub(crate) fn reconstruct_stripe(&self, cols: &mut [Option<Vec<u8>>]) -> Result<()> {
        self.rs.reconstruct_data(cols).map_err(rs_error)
    }

    /// Reed-Solomon reconstruction of missing data shards, written straight
    /// into the output buffer.
    fn solve(&self, slots: &[Option<Shard>], p: usize, len: usize) -> Result<Bytes> {
        let k = self.k;
        let missing = slots[..k].iter().filter(|s| s.is_none()).count();
        let mut out = vec![0u8; k * p];
        for (chunk, s) in out.chunks_mut(p).zip(&slots[..k]) {
            if let Some(s) = s {
                chunk.copy_from_slice(&s.payload);
            }
        }
        // Only as many parity shards as data shards are missing are needed.
        let parity: Vec<&Shard> = slots[k..].iter().flatten().take(missing).collect();
        let mut pbuf = vec![0u8; parity.len() * p];
        for (chunk, s) in pbuf.chunks_mut(p).zip(&parity) {
            chunk.copy_from_slice(&s.payload);
        }
        let mut pchunks = pbuf.chunks_mut(p);
        let mut used = 0;
        let mut work: Vec<(&mut [u8], bool)> = Vec::with_capacity(self.total());
        for (chunk, s) in out.chunks_mut(p).zip(&slots[..k]) {
            work.push((chunk, s.is_some()));
        }
        for s in &slots[k..] {
            let take = s.is_some() && used < missing;
            match if take { pchunks.next() } else { None } {
                Some(chunk) => {
                    used += 1;
                    work.push((chunk, true));
                }
                None => work.push((Default::default(), false)),
            }
        }
        self.rs.reconstruct_data(&mut work).map_err(rs_error)?;
        drop(work);
        out.truncate(len);
        Ok(Bytes::from(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_validated() {
        for (k, m) in [(0, 1), (1, 0), (0, 0), (200, 56), (255, 1), (1, usize::MAX)] {
            assert!(
                matches!(Codec::new(k, m), Err(Error::InvalidParameters { .. })),
                "{k}+{m}"
            );
        }
        for (k, m) in [(1, 1), (4, 2), (254, 1), (1, 254), (200, 55)] {
            assert!(Codec::new(k, m).is_ok(), "{k}+{m}");
        }
    }

    #[test]
    fn round_trip_boundary_lengths() {
        let codec = Codec::new(3, 2).unwrap();
        for len in [0usize, 1, 2, 3, 4, 5, 6, 7, 299, 300, 301] {
            let data = Bytes::from((0..len).map(|i| (i * 7 + 3) as u8).collect::<Vec<_>>());
            let shards = codec.encode(&data).unwrap();
            assert_eq!(shards.len(), 5);
            for lost in [[0, 1], [0, 4], [2, 3], [3, 4], [1, 2]] {
                let mut slots: Vec<_> = shards.iter().cloned().map(Some).collect();
                for l in lost {
                    slots[l] = None;
                }
                assert_eq!(
                    codec.decode(&slots).unwrap(),
                    data,
                    "len {len} lost {lost:?}"
                );
            }
        }
    }

    /// Large objects are encoded on two threads; the shards must be the
    /// very bytes one thread makes: parity as a one-shot `encode_sep` over
    /// the whole payloads, the object checksum, and shards that verify and
    /// decode with any two missing. Sizes around the threshold and odd
    /// payload lengths (halves that are not equal).
    #[test]
    fn parallel_encoding_equals_one_thread() {
        let codec = Codec::new(4, 2).unwrap();
        for len in [PARALLEL_MIN - 1, PARALLEL_MIN, 3 * PARALLEL_MIN + 12_345] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let shards = codec.encode(&Bytes::from(data.clone())).unwrap();
            let parsed: Vec<Shard> = shards
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let shard = Shard::parse(s.clone()).unwrap();
                    codec.check(&shard, i).unwrap();
                    shard
                })
                .collect();
            assert_eq!(
                parsed[0].header.object_checksum,
                *blake3::hash(&data).as_bytes(),
                "{len}"
            );
            let p = parsed[0].payload.len();
            let data_payloads: Vec<&[u8]> = parsed[..4].iter().map(|s| &s.payload[..]).collect();
            let mut parity = vec![vec![0u8; p]; 2];
            let mut refs: Vec<&mut [u8]> = parity.iter_mut().map(|v| &mut v[..]).collect();
            codec.rs.encode_sep(&data_payloads, &mut refs).unwrap();
            for j in 0..2 {
                assert_eq!(
                    &parsed[4 + j].payload[..],
                    &parity[j][..],
                    "{len}: parity {j}"
                );
            }
            let mut slots: Vec<Option<Bytes>> = shards.into_iter().map(Some).collect();
            slots[1] = None;
            slots[4] = None;
            assert_eq!(codec.decode(&slots).unwrap(), data, "{len}");
        }
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    /// Not a test: prints the median time to encode a 16 MiB pack in 4+2
    /// (`cargo test -p cairn-erasure --lib encode_16mib -- --ignored --nocapture`).
    #[test]
    #[ignore = "a measurement"]
    fn encode_16mib_median() {
        let codec = Codec::new(4, 2).unwrap();
        let data = Bytes::from(
            (0..16usize << 20)
                .map(|i| (i * 31 % 251) as u8)
                .collect::<Vec<u8>>(),
        );
        let mut buf = Vec::new();
        let mut times: Vec<f64> = (0..21)
            .map(|_| {
                let t = std::time::Instant::now();
                codec.encode_into(&data, ShardFormat::V2, &mut buf).unwrap();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        eprintln!(
            "encode 16 MiB 4+2: median {:.1} ms (min {:.1})",
            times[10], times[0]
        );
    }
}
