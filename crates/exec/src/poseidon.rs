//! A fast native Poseidon with circomlib's parameters for 5 inputs (width t = 6, x^5 S-box,
//! 8 full rounds, 60 partial rounds): the `Poseidon5` of docs/commitments.md.
//!
//! The round constants and the MDS matrix are light-poseidon's (`bn254_x5`, the parameters
//! behind `Poseidon::<Fr>::new_circom(5)`); the permutation is rewritten into the equivalent
//! optimised form of the Poseidon paper (appendix B), computed once at first use:
//! - the round constants of the partial rounds are reduced to their first component, the rest
//!   being pushed forward through the MDS matrix into the next round's constants;
//! - each partial round's dense matrix is factored as `M'' · M'`, `M' = diag(1, B)` commuting
//!   with the partial S-box, so `M'` moves into the previous round's matrix and every partial
//!   round only multiplies by a sparse `M''` (first row dense, then the first column plus the
//!   identity): 11 multiplications instead of 36.
//!
//! Every step is an identity over the field, so the output is exactly light-poseidon's (tests
//! below compare both on random inputs and against circomlibjs' vectors).

#[cfg(target_arch = "x86_64")]
pub mod ifma;

use std::sync::OnceLock;

use ark_bn254::Fr;
use ark_ff::{BigInt, Field, PrimeField, Zero};

/// Width, full and partial rounds of circomlib's Poseidon with 5 inputs.
pub const T: usize = 6;
const FULL: usize = 8;
const PARTIAL: usize = 60;
const HALF: usize = FULL / 2;

/// A partial round's sparse matrix `[[a00, w], [v, I]]`: `y_0 = row · z`, `y_i = z_i + v_i z_0`.
#[derive(Clone, Copy)]
struct Sparse {
    row: [Fr; T],
    col: [Fr; T - 1],
}

struct Params {
    /// Constants of the full rounds (the first full round after the partial ones carries the
    /// pushed-forward remainder of the partial rounds' constants).
    full_c: [[Fr; T]; FULL],
    /// First components of the partial rounds' constants.
    partial_c: [Fr; PARTIAL],
    mds: [[Fr; T]; T],
    /// The matrix of the last full round before the partial rounds: `M'_first · M`.
    pre: [[Fr; T]; T],
    sparse: [Sparse; PARTIAL],
}

fn params() -> &'static Params {
    static P: OnceLock<Params> = OnceLock::new();
    P.get_or_init(build)
}

type Mat = Vec<Vec<Fr>>;

fn mat_mul(a: &Mat, b: &Mat) -> Mat {
    let n = a.len();
    (0..n)
        .map(|i| {
            (0..n)
                .map(|j| (0..n).map(|k| a[i][k] * b[k][j]).sum())
                .collect()
        })
        .collect()
}

fn mat_vec(a: &Mat, v: &[Fr]) -> Vec<Fr> {
    a.iter()
        .map(|row| row.iter().zip(v).map(|(x, y)| *x * y).sum())
        .collect()
}

/// Gauss-Jordan inverse over the field (the matrices here are sub-matrices of an MDS matrix,
/// hence invertible).
fn mat_inv(a: &Mat) -> Mat {
    let n = a.len();
    let mut m: Mat = a
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut r = r.clone();
            r.extend((0..n).map(|j| if i == j { Fr::from(1u64) } else { Fr::zero() }));
            r
        })
        .collect();
    for col in 0..n {
        let piv = (col..n)
            .find(|&r| !m[r][col].is_zero())
            .expect("an MDS sub-matrix is invertible");
        m.swap(col, piv);
        let inv = m[col][col].inverse().unwrap();
        for x in m[col].iter_mut() {
            *x *= inv;
        }
        for r in 0..n {
            if r != col && !m[r][col].is_zero() {
                let f = m[r][col];
                let pivot_row = m[col].clone();
                for (x, p) in m[r].iter_mut().zip(&pivot_row) {
                    *x -= f * p;
                }
            }
        }
    }
    m.into_iter().map(|r| r[n..].to_vec()).collect()
}

fn arr(v: &[Fr]) -> [Fr; T] {
    v.try_into().expect("width 6")
}

/// circomlib's Poseidon of any width in the optimised form above, as vectors: the fast
/// `poseidon5` and the circuits' Poseidon gadget (`zkopml-zk`) both start from it.
#[derive(Clone, Debug)]
pub struct Optimized {
    /// State width `t` (inputs + 1).
    pub width: usize,
    /// Constants of the full rounds, first half then second half (the first full round after
    /// the partial ones carries the pushed-forward remainder of the partial rounds' constants).
    pub full_c: Vec<Vec<Fr>>,
    /// First components of the partial rounds' constants.
    pub partial_c: Vec<Fr>,
    /// The MDS matrix.
    pub mds: Vec<Vec<Fr>>,
    /// The matrix of the last full round before the partial rounds: `M'_first · M`.
    pub pre: Vec<Vec<Fr>>,
    /// Per partial round, the sparse matrix's dense first row (`t` entries)...
    pub sparse_row: Vec<Vec<Fr>>,
    /// ... and its first column below the diagonal (`t - 1` entries).
    pub sparse_col: Vec<Vec<Fr>>,
}

/// The optimised form of circomlib's Poseidon of width `t` (2..=13), built once per width.
pub fn optimized(t: usize) -> &'static Optimized {
    static CACHE: [OnceLock<Optimized>; 14] = [const { OnceLock::new() }; 14];
    assert!(
        (2..=13).contains(&t),
        "circomlib Poseidon widths are 2..=13, not {t}"
    );
    CACHE[t].get_or_init(|| build_optimized(t))
}

fn build_optimized(t: usize) -> Optimized {
    let p = light_poseidon::parameters::bn254_x5::get_poseidon_parameters::<Fr>(t as u8)
        .expect("circom parameters for widths 2..=13");
    assert_eq!((p.width, p.alpha), (t, 5), "circomlib's x^5 Poseidon");
    let (full, partial) = (p.full_rounds, p.partial_rounds);
    let half = full / 2;
    let m: Mat = p.mds.clone();
    let mut c: Vec<Vec<Fr>> = p.ark.chunks(t).map(|r| r.to_vec()).collect();
    assert_eq!(c.len(), full + partial);

    // 1. partial rounds keep only their first constant: S0(x + c) = S0(x + c_0 e_0) + (c - c_0 e_0),
    //    and M (c - c_0 e_0) is added to the next round's constants
    for r in half..half + partial {
        let mut rest = c[r].clone();
        rest[0] = Fr::zero();
        let pushed = mat_vec(&m, &rest);
        for (x, y) in c[r + 1].iter_mut().zip(pushed) {
            *x += y;
        }
    }

    // 2. sparse factorisation, from the last partial round back: A = M'' · M' with
    //    M' = diag(1, B), B = A[1.., 1..]; M'' = [[A00, A[0,1..] B^-1], [A[1..,0], I]]
    let mut a = m.clone();
    let (mut sparse_row, mut sparse_col) =
        (Vec::with_capacity(partial), Vec::with_capacity(partial));
    for _ in 0..partial {
        let b: Mat = a[1..].iter().map(|r| r[1..].to_vec()).collect();
        let binv = mat_inv(&b);
        let row: Vec<Fr> = std::iter::once(a[0][0])
            .chain((0..t - 1).map(|j| (0..t - 1).map(|k| a[0][k + 1] * binv[k][j]).sum()))
            .collect();
        sparse_row.push(row);
        sparse_col.push((1..t).map(|i| a[i][0]).collect());
        // the previous round's matrix becomes M' · M
        let mut mp: Mat = vec![vec![Fr::zero(); t]; t];
        mp[0][0] = Fr::from(1u64);
        for i in 1..t {
            mp[i][1..].copy_from_slice(&b[i - 1]);
        }
        a = mat_mul(&mp, &m);
    }
    sparse_row.reverse();
    sparse_col.reverse();
    let full_c = (0..half)
        .map(|r| c[r].clone())
        .chain((0..half).map(|r| c[half + partial + r].clone()))
        .collect();
    Optimized {
        width: t,
        full_c,
        partial_c: (0..partial).map(|r| c[half + r][0]).collect(),
        mds: m,
        pre: a,
        sparse_row,
        sparse_col,
    }
}

fn build() -> Params {
    let o = optimized(T);
    assert_eq!(
        (o.full_c.len(), o.partial_c.len()),
        (FULL, PARTIAL),
        "circomlib's Poseidon for 5 inputs"
    );
    let square = |m: &Mat| -> [[Fr; T]; T] {
        m.iter()
            .map(|r| arr(r))
            .collect::<Vec<_>>()
            .try_into()
            .unwrap_or_else(|_| unreachable!())
    };
    Params {
        full_c: o
            .full_c
            .iter()
            .map(|r| arr(r))
            .collect::<Vec<_>>()
            .try_into()
            .unwrap_or_else(|_| unreachable!()),
        partial_c: o
            .partial_c
            .clone()
            .try_into()
            .unwrap_or_else(|_| unreachable!()),
        mds: square(&o.mds),
        pre: square(&o.pre),
        sparse: o
            .sparse_row
            .iter()
            .zip(&o.sparse_col)
            .map(|(row, col)| Sparse {
                row: arr(row),
                col: col.as_slice().try_into().expect("t - 1"),
            })
            .collect::<Vec<_>>()
            .try_into()
            .unwrap_or_else(|_| unreachable!()),
    }
}

#[inline(always)]
fn pow5(x: Fr) -> Fr {
    let x2 = x.square();
    x2.square() * x
}

#[inline(always)]
fn dense(m: &[[Fr; T]; T], s: &[Fr; T]) -> [Fr; T] {
    std::array::from_fn(|i| Fr::sum_of_products(&m[i], s))
}

#[inline(always)]
fn full_sbox(s: &mut [Fr; T], c: &[Fr; T]) {
    for (x, k) in s.iter_mut().zip(c) {
        *x = pow5(*x + k);
    }
}

/// circomlib's Poseidon of 5 inputs (light-poseidon's `new_circom(5)`, domain tag 0).
pub fn poseidon5(inputs: &[Fr; 5]) -> Fr {
    let p = params();
    let mut s = [
        Fr::zero(),
        inputs[0],
        inputs[1],
        inputs[2],
        inputs[3],
        inputs[4],
    ];
    for r in 0..HALF {
        full_sbox(&mut s, &p.full_c[r]);
        s = dense(if r + 1 == HALF { &p.pre } else { &p.mds }, &s);
    }
    for (sp, c) in p.sparse.iter().zip(&p.partial_c) {
        let z0 = pow5(s[0] + c);
        s[0] = z0;
        let y0 = Fr::sum_of_products(&sp.row, &s);
        for i in 1..T {
            s[i] += sp.col[i - 1] * z0;
        }
        s[0] = y0;
    }
    for r in HALF..FULL - 1 {
        full_sbox(&mut s, &p.full_c[r]);
        s = dense(&p.mds, &s);
    }
    full_sbox(&mut s, &p.full_c[FULL - 1]);
    Fr::sum_of_products(&p.mds[0], &s)
}

/// 7 values offset by 2^31, 32 bits each, little-endian within one field element (the
/// packing of docs/commitments.md); `values.len() <= 7`.
#[inline]
pub fn pack7(values: &[i32]) -> Fr {
    Fr::from_bigint(BigInt::new(pack7_words(values))).expect("224 bits are below the modulus")
}

/// [`pack7`]'s integer as four little-endian 64-bit words.
#[inline]
fn pack7_words(values: &[i32]) -> [u64; 4] {
    debug_assert!(values.len() <= 7);
    let mut u = [0u64; 8];
    for (k, &v) in values.iter().enumerate() {
        u[k] = (v as u32 ^ 0x8000_0000) as u64;
    }
    [
        u[0] | u[1] << 32,
        u[2] | u[3] << 32,
        u[4] | u[5] << 32,
        u[6],
    ]
}

/// The chunk digest of docs/commitments.md as a field element.
pub fn chunk_digest(values: &[i32]) -> Fr {
    const PER_CALL: usize = 4 * 7;
    let mut h = Fr::from(values.len() as u64);
    for block in values.chunks(PER_CALL) {
        let mut inp = [h, Fr::zero(), Fr::zero(), Fr::zero(), Fr::zero()];
        for (j, group) in block.chunks(7).enumerate() {
            inp[1 + j] = pack7(group);
        }
        h = poseidon5(&inp);
    }
    h
}

/// Chunks hashed at once by [`chunk_digests`] on this CPU: 8 with AVX-512 IFMA, else 1.
pub fn batched_lanes() -> usize {
    #[cfg(target_arch = "x86_64")]
    if ifma::available() {
        return ifma::LANES;
    }
    1
}

/// The chunk digests of `values` cut into chunks of `chunk_len` values (the last may be
/// shorter): eight chunks at a time where the CPU has AVX-512 IFMA, one by one otherwise.
pub fn chunk_digests(values: &[i32], chunk_len: usize) -> Vec<Fr> {
    assert!(chunk_len > 0, "chunks hold at least one value");
    let mut out = Vec::with_capacity(values.len().div_ceil(chunk_len));
    #[allow(unused_mut)]
    let mut rest = values;
    #[cfg(target_arch = "x86_64")]
    if ifma::available() {
        // groups of up to eight whole chunks; a group of fewer repeats its first chunk in the
        // spare lanes (two chunks in one eight-lane call still beat two scalar ones)
        loop {
            let whole = (rest.len() / chunk_len).min(ifma::LANES);
            if whole < 2 {
                break;
            }
            let (group, tail) = rest.split_at(whole * chunk_len);
            let lanes = std::array::from_fn(|l| {
                let l = if l < whole { l } else { 0 };
                &group[l * chunk_len..(l + 1) * chunk_len]
            });
            // SAFETY: `available` checked AVX-512F and IFMA
            let digests = unsafe { ifma::chunk_digests8(lanes) };
            out.extend_from_slice(&digests[..whole]);
            rest = tail;
        }
    }
    out.extend(rest.chunks(chunk_len).map(chunk_digest));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use light_poseidon::{Poseidon, PoseidonHasher};

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            let mut g = zkopml_model::input::SplitMix(self.0);
            let v = g.next_u64();
            self.0 = g.0;
            v
        }
        fn fr(&mut self) -> Fr {
            match self.next() % 4 {
                0 => Fr::from(self.next() % 5),
                1 => -Fr::from(self.next() % 5),
                _ => Fr::from_le_bytes_mod_order(
                    &(0..4)
                        .flat_map(|_| self.next().to_le_bytes())
                        .collect::<Vec<_>>(),
                ),
            }
        }
    }

    #[test]
    fn matches_light_poseidon() {
        let mut reference = Poseidon::<Fr>::new_circom(5).unwrap();
        let mut rng = Rng(0x9e3779b97f4a7c15);
        for _ in 0..500 {
            let inp: [Fr; 5] = std::array::from_fn(|_| rng.fr());
            assert_eq!(poseidon5(&inp), reference.hash(&inp).unwrap(), "{inp:?}");
        }
    }

    #[test]
    fn matches_circomlibjs() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/vectors/poseidon-circomlibjs.json");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let dec = |s: &serde_json::Value| Fr::from_le_bytes_mod_order(&num_le(s.as_str().unwrap()));
        let p5 = v["poseidon5"].as_array().unwrap();
        assert!(!p5.is_empty());
        for case in p5 {
            let inp: Vec<Fr> = case["inputs"].as_array().unwrap().iter().map(dec).collect();
            assert_eq!(poseidon5(&inp.try_into().unwrap()), dec(&case["output"]));
        }
        let chunks = v["chunks"].as_array().unwrap();
        assert!(!chunks.is_empty());
        for case in chunks {
            let values: Vec<i32> = case["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_i64().unwrap() as i32)
                .collect();
            let want =
                hex::decode(case["digest"].as_str().unwrap().trim_start_matches("0x")).unwrap();
            assert_eq!(
                crate::commit::fr_to_bytes(&chunk_digest(&values)).to_vec(),
                want,
                "{} values",
                values.len()
            );
        }
    }

    /// A decimal string as little-endian bytes (32 of them).
    fn num_le(s: &str) -> Vec<u8> {
        let mut out = vec![0u8; 32];
        for d in s.bytes() {
            let mut carry = (d - b'0') as u32;
            for b in out.iter_mut() {
                let x = *b as u32 * 10 + carry;
                *b = x as u8;
                carry = x >> 8;
            }
        }
        out
    }

    #[test]
    fn pack7_matches_pack_chunk() {
        let mut rng = Rng(7);
        for len in 0..=7 {
            for _ in 0..50 {
                let vals: Vec<i32> = (0..len)
                    .map(|k| match rng.next() % 3 {
                        0 => [i32::MIN, i32::MAX, 0, -1][k % 4],
                        _ => rng.next() as i32,
                    })
                    .collect();
                let want = crate::commit::pack_chunk(&vals);
                assert_eq!(pack7(&vals), want.first().copied().unwrap_or(Fr::zero()));
            }
        }
    }

    /// The batched digests (eight IFMA lanes where the CPU has them) are the one-by-one ones:
    /// whole groups, groups with spare lanes, a short last chunk, extreme values.
    #[test]
    fn chunk_digests_match_one_by_one() {
        #[cfg(target_arch = "x86_64")]
        eprintln!("IFMA lanes: {}", ifma::available());
        let mut rng = Rng(13);
        for (chunk_len, total) in [
            (1usize, 9usize),
            (7, 7),
            (28, 57),
            (29, 8 * 29),
            (30, 17 * 30 + 11),
            (64, 3 * 64),
            (100, 800),
            (2048, 8 * 2048 + 5),
        ] {
            for extreme in [false, true] {
                let vals: Vec<i32> = (0..total)
                    .map(|k| {
                        if extreme {
                            [i32::MIN, i32::MAX, -1, 0][(k + (rng.next() as usize)) % 4]
                        } else {
                            rng.next() as i32
                        }
                    })
                    .collect();
                let want: Vec<Fr> = vals.chunks(chunk_len).map(chunk_digest).collect();
                assert_eq!(
                    chunk_digests(&vals, chunk_len),
                    want,
                    "chunk_len {chunk_len}, {total} values"
                );
            }
        }
        assert!(chunk_digests(&[], 5).is_empty());
    }

    /// The eight-lane field arithmetic against ark-ff on values at the edges of its bounds.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn ifma_lanes_differ_and_match() {
        if !ifma::available() {
            eprintln!("no AVX-512 IFMA on this CPU: the one-by-one digests are the only path");
            return;
        }
        // eight different chunks, one of them all i32::MAX (the largest packed integers)
        let mut rng = Rng(17);
        let len = 2048;
        let data: Vec<Vec<i32>> = (0..8)
            .map(|l| {
                (0..len)
                    .map(|_| if l == 3 { i32::MAX } else { rng.next() as i32 })
                    .collect()
            })
            .collect();
        let lanes: [&[i32]; 8] = std::array::from_fn(|l| &data[l][..]);
        // SAFETY: checked above
        let got = unsafe { ifma::chunk_digests8(lanes) };
        for l in 0..8 {
            assert_eq!(got[l], chunk_digest(&data[l]), "lane {l}");
        }
    }

    #[test]
    fn chunk_digest_matches_generic() {
        let mut rng = Rng(11);
        for len in [1usize, 6, 7, 8, 27, 28, 29, 56, 57, 100, 333] {
            let vals: Vec<i32> = (0..len).map(|_| rng.next() as i32).collect();
            let elems = crate::commit::pack_chunk(&vals);
            let mut reference = Poseidon::<Fr>::new_circom(5).unwrap();
            let mut h = Fr::from(len as u64);
            for block in elems.chunks(4) {
                let mut inp = [Fr::zero(); 5];
                inp[0] = h;
                inp[1..1 + block.len()].copy_from_slice(block);
                h = reference.hash(&inp).unwrap();
            }
            assert_eq!(chunk_digest(&vals), h, "{len}");
        }
    }
}
