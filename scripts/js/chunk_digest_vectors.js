#!/usr/bin/env node
// Poseidon cross-check vectors made with circomlibjs, for the chunk digest of
// docs/commitments.md ("Chunk digest"):
//   u_k = v_k + 2^31;  e_j = sum_{k=0..6} u_{7j+k} * 2^(32k)  (a position >= L adds nothing);
//   h_0 = L;  h_{b+1} = Poseidon5(h_b, e_{4b}, e_{4b+1}, e_{4b+2}, e_{4b+3})  (missing e_j = 0);
//   digest = the last h, as a 32-byte big-endian word.
// Poseidon5 is circomlib's Poseidon with 5 inputs (t = 6). Every hash is computed twice, with
// circomlibjs' optimised wasm Poseidon (buildPoseidon) and with its reference implementation
// (buildPoseidonReference), and the script fails unless they agree.
//
// Usage: node chunk_digest_vectors.js OUT.json          write the vectors
//        node chunk_digest_vectors.js OUT.json --check  fail unless OUT.json holds exactly them
"use strict";

const fs = require("fs");
const path = require("path");
const { buildPoseidon, buildPoseidonReference } = require("circomlibjs");

const TWO31 = 2n ** 31n;
const MIN = -(2 ** 31);
const MAX = 2 ** 31 - 1;
const R = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

// A 32-bit linear congruential generator (Numerical Recipes constants), so the chunks are
// reproducible anywhere: s <- (1664525 * s + 1013904223) mod 2^32.
function lcg(seed) {
  let s = BigInt(seed) & 0xffffffffn;
  return () => {
    s = (1664525n * s + 1013904223n) & 0xffffffffn;
    return s;
  };
}

// "Mixed" chunk of length L: each value is, by the top 3 bits of the LCG's next output r
// (r >> 29; an LCG's low bits have short periods):
// 0 -> -2^31, 1 -> 2^31-1, 2 -> 0, 3 -> -1, 4..6 -> a small int in [-256, 256]
// (from the next output: (r' >> 16) mod 513 - 256), 7 -> a full-range int (r' - 2^31).
function mixedChunk(length, seed) {
  const next = lcg(seed);
  const out = [];
  for (let i = 0; i < length; i++) {
    const kind = Number(next() >> 29n);
    if (kind === 0) out.push(MIN);
    else if (kind === 1) out.push(MAX);
    else if (kind === 2) out.push(0);
    else if (kind === 3) out.push(-1);
    else if (kind <= 6) out.push(Number((next() >> 16n) % 513n) - 256);
    else out.push(Number(next() - TWO31));
  }
  return out;
}

function packElements(values) {
  const m = Math.ceil(values.length / 7);
  const elems = [];
  for (let j = 0; j < m; j++) {
    let e = 0n;
    for (let k = 0; k < 7; k++) {
      const idx = 7 * j + k;
      if (idx >= values.length) break;
      const v = values[idx];
      if (!Number.isInteger(v) || v < MIN || v > MAX) throw new Error(`value out of range: ${v}`);
      e += (BigInt(v) + TWO31) << BigInt(32 * k);
    }
    elems.push(e);
  }
  return elems;
}

function chunkDigest(hash5, values) {
  if (values.length === 0) throw new Error("empty chunk");
  const elems = packElements(values);
  let h = BigInt(values.length);
  for (let b = 0; b < elems.length; b += 4) {
    const block = [0, 1, 2, 3].map((i) => (b + i < elems.length ? elems[b + i] : 0n));
    h = hash5([h, ...block]);
  }
  return h;
}

function hex32(x) {
  if (x < 0n || x >= R) throw new Error("not a field element");
  return "0x" + x.toString(16).padStart(64, "0");
}

function chunkSet() {
  const chunks = [];
  // Single values: the extremes and the values around zero.
  for (const v of [MIN, MAX, 0, -1]) chunks.push([v]);
  // Mixed chunks (LCG seed 1000 + L) at lengths around the packing (7 per element) and absorption (4 elements,
  // i.e. 28 values, per Poseidon call) boundaries, and two long ones.
  for (const len of [1, 3, 7, 8, 28, 29, 100, 1000]) chunks.push(mixedChunk(len, 1000 + len));
  // Constant chunks: all -2^31 packs to all-zero elements, so only h_0 = L tells them apart.
  chunks.push(new Array(7).fill(MAX));
  chunks.push(new Array(8).fill(0));
  chunks.push(new Array(28).fill(MIN));
  chunks.push(new Array(29).fill(MIN));
  chunks.push(new Array(100).fill(-1));
  return chunks;
}

function formatJson(doc) {
  // One poseidon5 entry and one chunk per line: diffable, and still plain JSON.
  const lines = [];
  lines.push("{");
  lines.push(`  "description": ${JSON.stringify(doc.description)},`);
  lines.push(`  "poseidon5": [`);
  doc.poseidon5.forEach((p, i) => {
    const comma = i + 1 < doc.poseidon5.length ? "," : "";
    lines.push(`    ${JSON.stringify(p)}${comma}`);
  });
  lines.push("  ],");
  lines.push(`  "chunks": [`);
  doc.chunks.forEach((c, i) => {
    const comma = i + 1 < doc.chunks.length ? "," : "";
    lines.push(`    {"values": ${JSON.stringify(c.values)}, "digest": ${JSON.stringify(c.digest)}}${comma}`);
  });
  lines.push("  ]");
  lines.push("}");
  return lines.join("\n") + "\n";
}

async function main() {
  const args = process.argv.slice(2);
  const check = args.includes("--check");
  const outPath = args.find((a) => !a.startsWith("--"));
  if (!outPath) throw new Error("usage: node chunk_digest_vectors.js OUT.json [--check]");

  const poseidon = await buildPoseidon();
  const poseidonRef = await buildPoseidonReference();
  const hash5 = (inputs) => {
    if (inputs.length !== 5) throw new Error("Poseidon5 takes 5 inputs");
    const a = poseidon.F.toObject(poseidon(inputs));
    const b = poseidonRef.F.toObject(poseidonRef(inputs));
    if (a !== b) throw new Error(`circomlibjs implementations disagree on ${inputs}`);
    return a;
  };

  const p5inputs = [
    [1n, 2n, 3n, 4n, 5n],
    [0n, 0n, 0n, 0n, 0n],
    // The largest packed element (seven times 2^32-1), in every position.
    [7n, 2n ** 224n - 1n, 2n ** 224n - 1n, 2n ** 224n - 1n, 2n ** 224n - 1n],
  ];
  const poseidon5 = p5inputs.map((inputs) => ({
    inputs: inputs.map((x) => x.toString()),
    output: hash5(inputs).toString(),
  }));

  const chunks = chunkSet().map((values) => ({ values, digest: hex32(chunkDigest(hash5, values)) }));
  const digests = new Set(chunks.map((c) => c.digest));
  if (digests.size !== chunks.length) throw new Error("two chunks share a digest");

  const doc = {
    description:
      "Chunk digests as defined in docs/commitments.md (section 'Chunk digest'), computed with " +
      "circomlibjs 0.1.7 (buildPoseidon, checked against buildPoseidonReference): each value v " +
      "is offset to v + 2^31, 7 values are packed per field element at 32 bits each, little-" +
      "endian within the element, h_0 = L (the chunk length) and h_{b+1} = Poseidon5(h_b, " +
      "e_{4b}, .., e_{4b+3}) with missing elements 0; digest = the last h as a 32-byte big-" +
      "endian hex word. 'poseidon5' lists raw circomlib Poseidon outputs for 5 inputs (decimal). " +
      "The chunks' values come from a 32-bit LCG (see scripts/js/chunk_digest_vectors.js). " +
      "Regenerate with scripts/js/gen.sh.",
    poseidon5,
    chunks,
  };
  const text = formatJson(doc);
  JSON.parse(text); // well-formed

  if (check) {
    const old = fs.existsSync(outPath) ? fs.readFileSync(outPath, "utf8") : null;
    if (old !== text) {
      console.error(`${outPath} differs from a fresh generation`);
      process.exit(1);
    }
    console.log(`${outPath}: same`);
  } else {
    fs.mkdirSync(path.dirname(outPath), { recursive: true });
    fs.writeFileSync(outPath, text);
    console.log(`wrote ${outPath}: ${poseidon5.length} Poseidon5 vectors, ${chunks.length} chunks`);
  }
  for (const p of poseidon5) console.log(`Poseidon5(${p.inputs.join(", ")}) = ${p.output}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  }
);
