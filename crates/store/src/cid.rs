//! Content identifiers: CIDv1 (base32 lowercase, multibase prefix `b`) and, for comparison with
//! Kubo's default output, CIDv0 (base58btc `Qm...`). Only sha2-256 multihashes are supported,
//! which is all that `ipfs add` produces with default settings.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// Multicodec of a raw block (the file's bytes themselves).
pub const CODEC_RAW: u64 = 0x55;
/// Multicodec of a dag-pb (UnixFS) block.
pub const CODEC_DAG_PB: u64 = 0x70;
/// Multihash code of sha2-256.
pub const MH_SHA2_256: u64 = 0x12;

/// A content identifier with a sha2-256 multihash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cid {
    version: u8,
    codec: u64,
    digest: [u8; 32],
}

impl Cid {
    /// A CIDv1 with the given codec and sha2-256 digest.
    pub fn v1(codec: u64, digest: [u8; 32]) -> Self {
        Cid {
            version: 1,
            codec,
            digest,
        }
    }

    /// A CIDv0 (always dag-pb, sha2-256).
    pub fn v0(digest: [u8; 32]) -> Self {
        Cid {
            version: 0,
            codec: CODEC_DAG_PB,
            digest,
        }
    }

    pub fn version(&self) -> u8 {
        self.version
    }

    pub fn codec(&self) -> u64 {
        self.codec
    }

    /// The sha2-256 digest of the root block.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }

    /// The binary form (as written inside dag-pb links).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(36);
        if self.version == 1 {
            put_varint(&mut out, 1);
            put_varint(&mut out, self.codec);
        }
        put_varint(&mut out, MH_SHA2_256);
        put_varint(&mut out, 32);
        out.extend_from_slice(&self.digest);
        out
    }

    /// Parses the binary form.
    pub fn from_bytes(b: &[u8]) -> Result<Self, Error> {
        let bad = |why: &str| Error::InvalidCid {
            input: hex_string(b),
            reason: why.to_string(),
        };
        // CIDv0 is a bare sha2-256 multihash (34 bytes starting 0x12 0x20).
        if b.len() == 34 && b[0] == 0x12 && b[1] == 0x20 {
            let mut d = [0u8; 32];
            d.copy_from_slice(&b[2..]);
            return Ok(Cid::v0(d));
        }
        let mut pos = 0;
        let version = get_varint(b, &mut pos).ok_or_else(|| bad("truncated version"))?;
        if version != 1 {
            return Err(bad(&format!("unsupported CID version {version}")));
        }
        let codec = get_varint(b, &mut pos).ok_or_else(|| bad("truncated codec"))?;
        if codec != CODEC_RAW && codec != CODEC_DAG_PB {
            return Err(bad(&format!(
                "unsupported codec 0x{codec:x} (only raw 0x55 and dag-pb 0x70)"
            )));
        }
        let mh = get_varint(b, &mut pos).ok_or_else(|| bad("truncated multihash code"))?;
        if mh != MH_SHA2_256 {
            return Err(bad(&format!(
                "unsupported multihash 0x{mh:x} (only sha2-256 0x12)"
            )));
        }
        let len = get_varint(b, &mut pos).ok_or_else(|| bad("truncated digest length"))?;
        if len != 32 || b.len() - pos != 32 {
            return Err(bad("sha2-256 digest must be exactly 32 bytes"));
        }
        let mut d = [0u8; 32];
        d.copy_from_slice(&b[pos..]);
        Ok(Cid::v1(codec, d))
    }
}

impl fmt::Display for Cid {
    /// CIDv1: `b` + RFC 4648 base32, lowercase, unpadded. CIDv0: base58btc.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.version == 0 {
            f.write_str(&base58_encode(&self.to_bytes()))
        } else {
            write!(f, "b{}", base32_encode(&self.to_bytes()))
        }
    }
}

impl fmt::Debug for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cid({self})")
    }
}

impl FromStr for Cid {
    type Err = Error;

    /// Accepts a CIDv1 in base32 lowercase (`b...`) or a CIDv0 (`Qm...`, 46 characters).
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |why: String| Error::InvalidCid {
            input: s.to_string(),
            reason: why,
        };
        if s.len() == 46 && s.starts_with("Qm") {
            let b = base58_decode(s).ok_or_else(|| bad("invalid base58btc character".into()))?;
            return Cid::from_bytes(&b).map_err(|e| match e {
                Error::InvalidCid { reason, .. } => bad(reason),
                other => other,
            });
        }
        let Some(rest) = s.strip_prefix('b') else {
            return Err(bad(
                "expected a CIDv1 in base32 lowercase (multibase prefix 'b') or a CIDv0 ('Qm...')"
                    .into(),
            ));
        };
        let b = base32_decode(rest)
            .ok_or_else(|| bad("invalid base32 (expected lowercase a-z, 2-7, unpadded)".into()))?;
        let cid = Cid::from_bytes(&b).map_err(|e| match e {
            Error::InvalidCid { reason, .. } => bad(reason),
            other => other,
        })?;
        if cid.version != 1 {
            return Err(bad("a base32 CID must be version 1".into()));
        }
        // Reject non-canonical encodings (trailing bits) so that parse/print round-trips.
        if cid.to_string() != s {
            return Err(bad("non-canonical base32 encoding".into()));
        }
        Ok(cid)
    }
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

const B32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

fn base32_encode(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len().div_ceil(5) * 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &x in b {
        acc = (acc << 8) | u32::from(x);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(B32[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(B32[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'a'..=b'z' => c - b'a',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    Some(out)
}

const B58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

fn base58_encode(b: &[u8]) -> String {
    let zeros = b.iter().take_while(|&&x| x == 0).count();
    let mut digits: Vec<u8> = Vec::new(); // little-endian base-58 digits
    for &x in &b[zeros..] {
        let mut carry = u32::from(x);
        for d in digits.iter_mut() {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let mut s = "1".repeat(zeros);
    s.extend(digits.iter().rev().map(|&d| B58[d as usize] as char));
    s
}

fn base58_decode(s: &str) -> Option<Vec<u8>> {
    let zeros = s.bytes().take_while(|&c| c == b'1').count();
    let mut bytes: Vec<u8> = Vec::new(); // little-endian base-256
    for c in s.bytes().skip(zeros) {
        let mut carry = B58.iter().position(|&x| x == c)? as u32;
        for b in bytes.iter_mut() {
            carry += u32::from(*b) * 58;
            *b = carry as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.push(carry as u8);
            carry >>= 8;
        }
    }
    let mut out = vec![0u8; zeros];
    out.extend(bytes.iter().rev());
    Some(out)
}

fn hex_string(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_round_trip() {
        for n in 0..40u8 {
            let v: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37).wrapping_add(n)).collect();
            assert_eq!(base32_decode(&base32_encode(&v)).unwrap(), v);
        }
        assert_eq!(base32_encode(b"foobar"), "mzxw6ytboi");
    }

    #[test]
    fn base58_round_trip() {
        assert_eq!(base58_encode(b"hello world"), "StV1DL6CwTryKyV");
        let v = [0u8, 0, 1, 2, 255];
        assert_eq!(base58_decode(&base58_encode(&v)).unwrap(), v);
    }

    #[test]
    fn parse_print_round_trip() {
        let c = Cid::v1(CODEC_DAG_PB, [7u8; 32]);
        assert_eq!(c.to_string().parse::<Cid>().unwrap(), c);
        let c = Cid::v1(CODEC_RAW, [0xa5u8; 32]);
        assert_eq!(c.to_string().parse::<Cid>().unwrap(), c);
        let c = Cid::v0([9u8; 32]);
        assert!(c.to_string().starts_with("Qm"));
        assert_eq!(c.to_string().parse::<Cid>().unwrap(), c);
    }

    #[test]
    fn malformed_rejected() {
        let good = Cid::v1(CODEC_RAW, [1u8; 32]).to_string();
        let cases = [
            String::new(),
            "b".to_string(),
            "hello".to_string(),
            good.to_uppercase(),        // base32 upper is another multibase
            format!("z{}", &good[1..]), // base58 multibase not accepted
            good[..good.len() - 1].to_string(), // truncated
            format!("{good}a"),         // trailing garbage
            good.replace('a', "1"),     // '1' is not base32
            format!("b{}", base32_encode(&[1, 0x71, 0x12, 0x20])), // short digest
            format!(
                "b{}",
                base32_encode(&{
                    let mut v = vec![1, 0x55, 0x13, 0x40];
                    v.extend([0u8; 64]);
                    v
                })
            ), // sha2-512
            "Qm".to_string() + &"0".repeat(44), // '0' not base58
        ];
        for s in cases {
            let err = s.parse::<Cid>().unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("invalid CID"), "{s:?}: {msg}");
        }
    }
}
