//! The UnixFS file DAG that Kubo's `ipfs add` builds, and its root CID.
//!
//! Default settings of `ipfs add`: fixed-size chunker of 262144 bytes, balanced layout with at
//! most 174 links per node, sha2-256. With `--cid-version=1` the leaves are raw blocks (codec
//! 0x55) and the CIDs are version 1; with the default version 0 the leaves are dag-pb UnixFS
//! `File` nodes holding the chunk. A file of one chunk (and the empty file) is its leaf alone.
//!
//! The two protobuf messages are encoded by hand, in the canonical dag-pb form that Kubo writes:
//!
//! ```text
//! PBNode { repeated PBLink Links = 2; optional bytes Data = 1; }   // Links are written first
//! PBLink { optional bytes Hash = 1; optional string Name = 2; optional uint64 Tsize = 3; }
//! Data   { Type = 1 (File = 2); optional bytes Data = 2; optional uint64 filesize = 3;
//!          repeated uint64 blocksizes = 4 (not packed); }
//! ```
//!
//! Kubo writes `Name` as present and empty (`12 00`) in every link; `Tsize` is the cumulative
//! size of the child's DAG (its block plus the `Tsize` of all its links; a raw leaf's length).

use sha2::{Digest, Sha256};

use crate::cid::{put_varint, Cid, CODEC_DAG_PB, CODEC_RAW};

/// Kubo's default chunk size (`size-262144`).
pub const CHUNK_SIZE: usize = 262_144;
/// Kubo's default maximum number of links per UnixFS file node.
pub const MAX_LINKS: usize = 174;

/// Which `ipfs add` settings to reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `ipfs add --cid-version=1` (raw leaves): the store's addressing.
    V1RawLeaves,
    /// `ipfs add` with no flags (CIDv0, dag-pb leaves): Kubo's historical default, kept
    /// because it is what the test reference (Kubo as a library) computes.
    V0,
}

struct Child {
    cid: Cid,
    /// Cumulative size of the child's encoded DAG (dag-pb `Tsize`).
    tsize: u64,
    /// Number of file bytes below the child (UnixFS `blocksizes` entry).
    filesize: u64,
}

/// The root CID of `data` added with the given settings.
pub fn cid_of(data: &[u8], layout: Layout) -> Cid {
    build(data, layout, |_, _| {})
}

/// Builds the DAG of `data`, handing every block (CID, encoded bytes) to `sink` children first,
/// and returns the root CID.
pub fn build(data: &[u8], layout: Layout, mut sink: impl FnMut(&Cid, &[u8])) -> Cid {
    let mut level: Vec<Child> = if data.is_empty() {
        vec![leaf(&[], layout, &mut sink)]
    } else {
        data.chunks(CHUNK_SIZE)
            .map(|c| leaf(c, layout, &mut sink))
            .collect()
    };
    // Grouping bottom-up, all groups full but the last, gives the same tree as Kubo's top-down
    // balanced builder (which fills every node to MAX_LINKS before starting the next one).
    while level.len() > 1 {
        level = level
            .chunks(MAX_LINKS)
            .map(|group| node(group, layout, &mut sink))
            .collect();
    }
    level.pop().expect("at least one block").cid
}

fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

fn block_cid(block: &[u8], codec: u64, layout: Layout) -> Cid {
    match layout {
        Layout::V1RawLeaves => Cid::v1(codec, sha256(block)),
        Layout::V0 => Cid::v0(sha256(block)),
    }
}

fn leaf(chunk: &[u8], layout: Layout, sink: &mut impl FnMut(&Cid, &[u8])) -> Child {
    let len = chunk.len() as u64;
    match layout {
        Layout::V1RawLeaves => {
            let cid = block_cid(chunk, CODEC_RAW, layout);
            sink(&cid, chunk);
            Child {
                cid,
                tsize: len,
                filesize: len,
            }
        }
        Layout::V0 => {
            // An empty chunk leaves UnixFS `Data` unset (Kubo hands the builder a nil slice).
            let data = (!chunk.is_empty()).then_some(chunk);
            let block = encode_pbnode(&[], &encode_unixfs_file(data, len, &[]));
            let cid = block_cid(&block, CODEC_DAG_PB, layout);
            sink(&cid, &block);
            Child {
                cid,
                tsize: block.len() as u64,
                filesize: len,
            }
        }
    }
}

fn node(children: &[Child], layout: Layout, sink: &mut impl FnMut(&Cid, &[u8])) -> Child {
    let filesize: u64 = children.iter().map(|c| c.filesize).sum();
    let sizes: Vec<u64> = children.iter().map(|c| c.filesize).collect();
    let unixfs = encode_unixfs_file(None, filesize, &sizes);
    let block = encode_pbnode(children, &unixfs);
    let cid = block_cid(&block, CODEC_DAG_PB, layout);
    sink(&cid, &block);
    let tsize = block.len() as u64 + children.iter().map(|c| c.tsize).sum::<u64>();
    Child {
        cid,
        tsize,
        filesize,
    }
}

fn put_key(out: &mut Vec<u8>, field: u64, wire: u64) {
    put_varint(out, (field << 3) | wire);
}

fn put_bytes(out: &mut Vec<u8>, field: u64, b: &[u8]) {
    put_key(out, field, 2);
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_uint(out: &mut Vec<u8>, field: u64, v: u64) {
    put_key(out, field, 0);
    put_varint(out, v);
}

/// UnixFS `Data` message of a file node.
fn encode_unixfs_file(data: Option<&[u8]>, filesize: u64, blocksizes: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + data.map_or(0, <[u8]>::len) + 5 * blocksizes.len());
    put_uint(&mut out, 1, 2); // Type = File
    if let Some(d) = data {
        put_bytes(&mut out, 2, d);
    }
    put_uint(&mut out, 3, filesize);
    for &s in blocksizes {
        put_uint(&mut out, 4, s);
    }
    out
}

/// dag-pb `PBNode`, canonical order: Links (field 2) then Data (field 1).
fn encode_pbnode(links: &[Child], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 8 + 48 * links.len());
    let mut link = Vec::with_capacity(48);
    for l in links {
        link.clear();
        put_bytes(&mut link, 1, &l.cid.to_bytes()); // Hash
        put_bytes(&mut link, 2, b""); // Name: present and empty, as Kubo writes it
        put_uint(&mut link, 3, l.tsize); // Tsize
        put_bytes(&mut out, 2, &link);
    }
    put_bytes(&mut out, 1, data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Public, well-known values of `ipfs add --cid-version=1` (and of plain `ipfs add`); the
    /// reference test (tests/kubo_reference.rs) checks the CIDv0 ones against Kubo itself.
    #[test]
    fn well_known_cids() {
        assert_eq!(
            cid_of(b"", Layout::V1RawLeaves).to_string(),
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        );
        assert_eq!(
            cid_of(b"hello world\n", Layout::V1RawLeaves).to_string(),
            "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"
        );
        assert_eq!(
            cid_of(b"", Layout::V0).to_string(),
            "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
        );
        assert_eq!(
            cid_of(b"hello world\n", Layout::V0).to_string(),
            "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
        );
    }

    #[test]
    fn tree_shape() {
        // One chunk: the raw leaf alone. Two chunks: one dag-pb node with two links.
        let one = vec![1u8; CHUNK_SIZE];
        assert_eq!(cid_of(&one, Layout::V1RawLeaves).codec(), CODEC_RAW);
        let two = vec![1u8; CHUNK_SIZE + 1];
        let mut blocks = Vec::new();
        let root = build(&two, Layout::V1RawLeaves, |c, b| {
            blocks.push((*c, b.to_vec()))
        });
        assert_eq!(root.codec(), CODEC_DAG_PB);
        assert_eq!(blocks.len(), 3);
        let (rc, rb) = blocks.last().unwrap();
        assert_eq!(*rc, root);
        // Links first (0x12), each: Hash (0x0a, 36 bytes), Name (0x12 0x00), Tsize (0x18).
        assert_eq!(&rb[..2], &[0x12, 0x2c]);
        assert_eq!(&rb[2..4], &[0x0a, 0x24]);
        assert_eq!(&rb[40..42], &[0x12, 0x00]);
        assert_eq!(&rb[42..46], &[0x18, 0x80, 0x80, 0x10]); // 262144
                                                            // Data last: Type=File, filesize, blocksizes.
        let tail = [
            0x0a, 0x0c, 0x08, 0x02, 0x18, 0x81, 0x80, 0x10, 0x20, 0x80, 0x80, 0x10, 0x20, 0x01,
        ];
        assert_eq!(&rb[rb.len() - tail.len()..], &tail);
        // 174 chunks fit under one node; one more adds a level.
        let mut depth_blocks = 0;
        build(
            &vec![0u8; MAX_LINKS * CHUNK_SIZE],
            Layout::V1RawLeaves,
            |_, _| depth_blocks += 1,
        );
        assert_eq!(depth_blocks, MAX_LINKS + 1);
        depth_blocks = 0;
        build(
            &vec![0u8; MAX_LINKS * CHUNK_SIZE + 1],
            Layout::V1RawLeaves,
            |_, _| depth_blocks += 1,
        );
        assert_eq!(depth_blocks, MAX_LINKS + 1 + 2 + 1);
    }
}
