//! The iden3 binary container of `.r1cs`, `.wtns`, `.ptau` and `.zkey` files:
//! a 4-byte magic, a `u32` version, a `u32` section count, then sections, each a `u32` type,
//! a `u64` byte length and the bytes (all integers little-endian).

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::{format, CeremonyError};

/// A section table over a file, read on demand (`.ptau` files can be many GiB).
pub struct BinReader {
    file: File,
    kind: &'static str,
    /// Version field of the header.
    pub version: u32,
    sections: HashMap<u32, (u64, u64)>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CeremonyError + '_ {
    move |source| CeremonyError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl BinReader {
    /// Opens `path`, checks its magic and reads the section table.
    pub fn open(path: &Path, kind: &'static str) -> Result<Self, CeremonyError> {
        let mut file = File::open(path).map_err(io(path))?;
        let len = file.metadata().map_err(io(path))?.len();
        let mut head = [0u8; 12];
        file.read_exact(&mut head)
            .map_err(|_| format(kind, "shorter than its header"))?;
        if &head[..4] != kind.as_bytes() {
            return Err(format(kind, format!("not a .{kind} file (bad magic)")));
        }
        let version = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes"));
        let n = u32::from_le_bytes(head[8..12].try_into().expect("4 bytes"));
        let mut sections = HashMap::new();
        let mut pos = 12u64;
        for _ in 0..n {
            let mut h = [0u8; 12];
            file.seek(SeekFrom::Start(pos)).map_err(io(path))?;
            file.read_exact(&mut h)
                .map_err(|_| format(kind, "truncated section table"))?;
            let id = u32::from_le_bytes(h[..4].try_into().expect("4 bytes"));
            let size = u64::from_le_bytes(h[4..].try_into().expect("8 bytes"));
            let start = pos + 12;
            if start.checked_add(size).is_none_or(|end| end > len) {
                return Err(format(
                    kind,
                    format!("section {id} runs past the end of the file"),
                ));
            }
            if sections.insert(id, (start, size)).is_some() {
                return Err(format(kind, format!("section {id} appears twice")));
            }
            pos = start + size;
        }
        Ok(Self {
            file,
            kind,
            version,
            sections,
        })
    }

    /// Whether section `id` is present.
    pub fn has(&self, id: u32) -> bool {
        self.sections.contains_key(&id)
    }

    /// Byte length of section `id`.
    pub fn size(&self, id: u32) -> Result<u64, CeremonyError> {
        self.sections
            .get(&id)
            .map(|s| s.1)
            .ok_or_else(|| format(self.kind, format!("section {id} is missing")))
    }

    /// `len` bytes of section `id` from `offset`.
    pub fn read(&mut self, id: u32, offset: u64, len: u64) -> Result<Vec<u8>, CeremonyError> {
        let (start, size) = *self
            .sections
            .get(&id)
            .ok_or_else(|| format(self.kind, format!("section {id} is missing")))?;
        if offset.checked_add(len).is_none_or(|end| end > size) {
            return Err(format(
                self.kind,
                format!("section {id} holds {size} bytes, {len} bytes from {offset} were needed"),
            ));
        }
        let kind = self.kind;
        let mut buf = vec![0u8; len as usize];
        self.file
            .seek(SeekFrom::Start(start + offset))
            .and_then(|_| self.file.read_exact(&mut buf))
            .map_err(|e| format(kind, format!("reading section {id}: {e}")))?;
        Ok(buf)
    }

    /// The whole of section `id`.
    pub fn section(&mut self, id: u32) -> Result<Vec<u8>, CeremonyError> {
        let size = self.size(id)?;
        self.read(id, 0, size)
    }
}

/// Writes a container: `magic`, `version`, then `sections` in the order given.
pub fn write_bin(magic: &[u8; 4], version: u32, sections: &[(u32, &[u8])]) -> Vec<u8> {
    let total: usize = sections.iter().map(|s| 12 + s.1.len()).sum();
    let mut out = Vec::with_capacity(12 + total);
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    for (id, bytes) in sections {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

/// A little-endian cursor over a section's bytes.
pub struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    kind: &'static str,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `bytes`.
    pub fn new(bytes: &'a [u8], kind: &'static str) -> Self {
        Self {
            bytes,
            pos: 0,
            kind,
        }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], CeremonyError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| format(self.kind, "a section is shorter than its contents"))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// A `u32`.
    pub fn u32(&mut self) -> Result<u32, CeremonyError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    /// A `u64`.
    pub fn u64(&mut self) -> Result<u64, CeremonyError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }
}

/// All sections of an in-memory container: `(id, bytes)` in file order.
pub fn parse_all<'a>(
    bytes: &'a [u8],
    kind: &'static str,
) -> Result<Vec<(u32, &'a [u8])>, CeremonyError> {
    let mut c = Cursor::new(bytes, kind);
    if c.take(4)? != kind.as_bytes() {
        return Err(format(kind, format!("not a .{kind} file (bad magic)")));
    }
    let _version = c.u32()?;
    let n = c.u32()?;
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let id = c.u32()?;
        let size = c.u64()?;
        let size = usize::try_from(size).map_err(|_| format(kind, "a section is too large"))?;
        out.push((id, c.take(size)?));
    }
    if c.remaining() != 0 {
        return Err(format(kind, "trailing bytes after the last section"));
    }
    Ok(out)
}
