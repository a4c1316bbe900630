// Writes testdata/store/cidv1-vectors.txt: the CIDs that ipfs-unixfs-importer (the JavaScript
// UnixFS importer used by Helia/js-ipfs; an implementation independent of Kubo and of
// crates/store) gives the test inputs of crates/store/tests/kubo_reference.rs with the settings
// of Kubo's `ipfs add --cid-version=1`. It also prints the CIDv0 (Kubo's default settings) of
// the same inputs, which the Rust test compares with Kubo itself, so that this tool is seen to
// agree with Kubo where Kubo can be run here.
//
//   cd scripts/store/js && npm ci && node cidv1_vectors.mjs ../../../testdata/store/cidv1-vectors.txt
import { writeFileSync } from 'node:fs'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'

const CHUNK = 262144
const LINKS = 174
const SIZES = [0, 1, 1000, CHUNK, CHUNK + 1, 5 << 20, LINKS * CHUNK, LINKS * CHUNK + 1]

// Same generator as data() in kubo_reference.rs: splitmix64 seeded with the size.
function data (size) {
  const M = (1n << 64n) - 1n
  let s = (BigInt(size) ^ 0x5eed0f2a7f0d1en) & M
  const out = new Uint8Array(size + 8)
  const view = new DataView(out.buffer)
  for (let off = 0; off < size; off += 8) {
    s = (s + 0x9e3779b97f4a7c15n) & M
    let z = s
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M
    view.setBigUint64(off, z ^ (z >> 31n), true)
  }
  return out.subarray(0, size)
}

const blockstore = { put: async (cid) => cid, get: async () => { throw new Error('unused') }, has: async () => false }

async function cid (bytes, v1) {
  const opts = {
    cidVersion: v1 ? 1 : 0,
    rawLeaves: v1,
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: CHUNK }),
    layout: balanced({ maxChildrenPerNode: LINKS })
  }
  let last
  for await (const entry of importer([{ content: bytes }], blockstore, opts)) last = entry
  return last.cid.toString()
}

const lines = ['# <size> <CIDv1 of `ipfs add --cid-version=1`>, made by scripts/store/js/cidv1_vectors.mjs']
for (const size of SIZES) {
  const bytes = data(size)
  const [v1, v0] = [await cid(bytes, true), await cid(bytes, false)]
  console.log(size, v1, v0)
  lines.push(`${size} ${v1}`)
}
if (process.argv[2]) writeFileSync(process.argv[2], lines.join('\n') + '\n')
