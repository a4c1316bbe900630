//! Eight chunk digests at once with AVX-512 IFMA (52-bit multiply-accumulate), for CPUs that
//! have it; the same Poseidon as the parent module, value for value.
//!
//! A field element is five 52-bit limbs in Montgomery form with `R = 2^260`; each limb is one
//! `__m512i` holding that limb of eight independent elements, so one multiplication serves
//! eight chunks. Every value between steps is fully reduced (`< p`, limbs `< 2^52`); that keeps
//! the bounds trivial:
//! - a product of two reduced values, or a sum of up to 6 such products accumulated before one
//!   Montgomery reduction, reduces to `< 6p²/R + p < 2p`, and one conditional subtraction of
//!   `p` makes it `< p`;
//! - each of the ten double-width accumulator limbs receives at most 6·10 product halves plus
//!   the reduction's 10 and a carry, all `< 2^52`: far below 2^64.
//!
//! Constants are converted once from the parent's parameters (ark-ff values) by multiplying
//! with `2^260` in the field, so no big-integer code is written here.

#![cfg(target_arch = "x86_64")]
// limb loops index several arrays at offsets (t[i + j], p[j]), as the arithmetic is written
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;
use std::sync::OnceLock;

use ark_bn254::Fr;
use ark_ff::{BigInt, Field, PrimeField};

use super::{pack7_words, params, FULL, HALF, PARTIAL, T};

const MASK: u64 = (1 << 52) - 1;
/// Lanes: chunks digested together.
pub const LANES: usize = 8;

/// An element in radix-2^52 Montgomery form (`x · 2^260 mod p`), one limb per entry.
type Limbs = [u64; 5];

struct Consts {
    p: Limbs,
    /// `-p^-1 mod 2^52`
    pinv: u64,
    /// `2^520 mod p` as limbs: Montgomery-multiplying a plain integer by it converts it in.
    r2: Limbs,
    full_c: [[Limbs; T]; FULL],
    partial_c: [Limbs; PARTIAL],
    mds: [[Limbs; T]; T],
    pre: [[Limbs; T]; T],
    sparse_row: [[Limbs; T]; PARTIAL],
    sparse_col: [[Limbs; T - 1]; PARTIAL],
}

/// The plain integer in 4 × 64 bits as 5 × 52-bit limbs (it must be below 2^260).
fn split52(w: [u64; 4]) -> Limbs {
    [
        w[0] & MASK,
        (w[0] >> 52 | w[1] << 12) & MASK,
        (w[1] >> 40 | w[2] << 24) & MASK,
        (w[2] >> 28 | w[3] << 36) & MASK,
        w[3] >> 16,
    ]
}

fn join52(l: Limbs) -> [u64; 4] {
    [
        l[0] | l[1] << 52,
        l[1] >> 12 | l[2] << 40,
        l[2] >> 24 | l[3] << 28,
        l[3] >> 36 | l[4] << 16,
    ]
}

fn consts() -> &'static Consts {
    static C: OnceLock<Consts> = OnceLock::new();
    C.get_or_init(|| {
        let r = Fr::from(2u64).pow([260u64]);
        let mont = |x: &Fr| split52((*x * r).into_bigint().0);
        let p = split52(Fr::MODULUS.0);
        // Newton's iteration for the inverse of p modulo 2^64, then negated mod 2^52
        let mut inv = 1u64;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(Fr::MODULUS.0[0].wrapping_mul(inv)));
        }
        let pinv = inv.wrapping_neg() & MASK;
        let q = params();
        let conv_row = |row: &[Fr; T]| -> [Limbs; T] { std::array::from_fn(|i| mont(&row[i])) };
        let conv_mat =
            |m: &[[Fr; T]; T]| -> [[Limbs; T]; T] { std::array::from_fn(|i| conv_row(&m[i])) };
        Consts {
            p,
            pinv,
            r2: mont(&r),
            full_c: std::array::from_fn(|k| conv_row(&q.full_c[k])),
            partial_c: std::array::from_fn(|k| mont(&q.partial_c[k])),
            mds: conv_mat(&q.mds),
            pre: conv_mat(&q.pre),
            sparse_row: std::array::from_fn(|k| conv_row(&q.sparse[k].row)),
            sparse_col: std::array::from_fn(|k| std::array::from_fn(|i| mont(&q.sparse[k].col[i]))),
        }
    })
}

/// Whether this CPU runs the eight-lane form.
pub fn available() -> bool {
    static A: OnceLock<bool> = OnceLock::new();
    *A.get_or_init(|| is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512ifma"))
}

/// Eight elements, limb by limb.
#[derive(Clone, Copy)]
struct Fe([__m512i; 5]);

/// The double-width sum of products before reduction.
struct Wide([__m512i; 10]);

#[inline(always)]
unsafe fn splat(x: u64) -> __m512i {
    _mm512_set1_epi64(x as i64)
}

impl Wide {
    #[inline(always)]
    unsafe fn zero() -> Wide {
        Wide([_mm512_setzero_si512(); 10])
    }

    /// `+= a · b`, `b` the same constant in every lane.
    #[inline(always)]
    unsafe fn add_product_const(&mut self, a: &Fe, b: &Limbs) {
        for j in 0..5 {
            let bj = splat(b[j]);
            for i in 0..5 {
                self.0[i + j] = _mm512_madd52lo_epu64(self.0[i + j], a.0[i], bj);
                self.0[i + j + 1] = _mm512_madd52hi_epu64(self.0[i + j + 1], a.0[i], bj);
            }
        }
    }

    /// `+= a · b`, lane by lane.
    #[inline(always)]
    unsafe fn add_product(&mut self, a: &Fe, b: &Fe) {
        for j in 0..5 {
            for i in 0..5 {
                self.0[i + j] = _mm512_madd52lo_epu64(self.0[i + j], a.0[i], b.0[j]);
                self.0[i + j + 1] = _mm512_madd52hi_epu64(self.0[i + j + 1], a.0[i], b.0[j]);
            }
        }
    }

    /// Montgomery reduction (`/ 2^260 mod p`), fully reduced.
    #[inline(always)]
    unsafe fn reduce(mut self, c: &Consts) -> Fe {
        let (mask, pinv) = (splat(MASK), splat(c.pinv));
        let mut p = [_mm512_setzero_si512(); 5];
        for j in 0..5 {
            p[j] = splat(c.p[j]);
        }
        let t = &mut self.0;
        for i in 0..5 {
            // only t[i] mod 2^52 matters for m, and IFMA reads just the low 52 bits
            let m = _mm512_madd52lo_epu64(_mm512_setzero_si512(), t[i], pinv);
            for j in 0..5 {
                t[i + j] = _mm512_madd52lo_epu64(t[i + j], m, p[j]);
                t[i + j + 1] = _mm512_madd52hi_epu64(t[i + j + 1], m, p[j]);
            }
            // t[i] is now a multiple of 2^52
            t[i + 1] = _mm512_add_epi64(t[i + 1], _mm512_srli_epi64(t[i], 52));
        }
        let mut r = [t[5], t[6], t[7], t[8], t[9]];
        for k in 0..4 {
            r[k + 1] = _mm512_add_epi64(r[k + 1], _mm512_srli_epi64(r[k], 52));
            r[k] = _mm512_and_si512(r[k], mask);
        }
        sub_p_if_ge(Fe(r), c)
    }
}

/// `x - p` where `x >= p`, else `x` (x < 2p, normalised limbs).
#[inline(always)]
unsafe fn sub_p_if_ge(x: Fe, c: &Consts) -> Fe {
    let mask = splat(MASK);
    let mut d = [_mm512_setzero_si512(); 5];
    let mut borrow = _mm512_setzero_si512();
    for k in 0..5 {
        let t = _mm512_add_epi64(_mm512_sub_epi64(x.0[k], splat(c.p[k])), borrow);
        borrow = _mm512_srai_epi64(t, 52);
        d[k] = _mm512_and_si512(t, mask);
    }
    // a final borrow (negative) means x < p: keep x
    let keep = _mm512_cmplt_epi64_mask(borrow, _mm512_setzero_si512());
    for k in 0..5 {
        d[k] = _mm512_mask_blend_epi64(keep, d[k], x.0[k]);
    }
    Fe(d)
}

#[inline(always)]
unsafe fn add(a: &Fe, b: &Fe, c: &Consts) -> Fe {
    let mask = splat(MASK);
    let mut s = [_mm512_setzero_si512(); 5];
    for k in 0..5 {
        s[k] = _mm512_add_epi64(a.0[k], b.0[k]);
    }
    for k in 0..4 {
        s[k + 1] = _mm512_add_epi64(s[k + 1], _mm512_srli_epi64(s[k], 52));
        s[k] = _mm512_and_si512(s[k], mask);
    }
    sub_p_if_ge(Fe(s), c)
}

#[inline(always)]
unsafe fn add_const(a: &Fe, b: &Limbs, c: &Consts) -> Fe {
    let mut v = [_mm512_setzero_si512(); 5];
    for k in 0..5 {
        v[k] = splat(b[k]);
    }
    add(a, &Fe(v), c)
}

#[inline(always)]
unsafe fn mul(a: &Fe, b: &Fe, c: &Consts) -> Fe {
    let mut w = Wide::zero();
    w.add_product(a, b);
    w.reduce(c)
}

#[inline(always)]
unsafe fn mul_const(a: &Fe, b: &Limbs, c: &Consts) -> Fe {
    let mut w = Wide::zero();
    w.add_product_const(a, b);
    w.reduce(c)
}

#[inline(always)]
unsafe fn pow5(x: &Fe, c: &Consts) -> Fe {
    let x2 = mul(x, x, c);
    let x4 = mul(&x2, &x2, c);
    mul(&x4, x, c)
}

/// `m · s`, one reduction per output.
#[inline(always)]
unsafe fn dense(m: &[[Limbs; T]; T], s: &[Fe; T], c: &Consts) -> [Fe; T] {
    let mut out = [s[0]; T];
    for i in 0..T {
        let mut w = Wide::zero();
        for k in 0..T {
            w.add_product_const(&s[k], &m[i][k]);
        }
        out[i] = w.reduce(c);
    }
    out
}

#[inline(always)]
unsafe fn full_sbox(s: &mut [Fe; T], k: &[Limbs; T], c: &Consts) {
    for (x, kc) in s.iter_mut().zip(k) {
        *x = pow5(&add_const(x, kc, c), c);
    }
}

/// The parent's `poseidon5` on eight lanes, inputs and output in Montgomery form.
#[inline(always)]
unsafe fn permute(inputs: [Fe; 5], c: &Consts) -> Fe {
    let zero = Fe([_mm512_setzero_si512(); 5]);
    let mut s = [zero, inputs[0], inputs[1], inputs[2], inputs[3], inputs[4]];
    for r in 0..HALF {
        full_sbox(&mut s, &c.full_c[r], c);
        s = dense(if r + 1 == HALF { &c.pre } else { &c.mds }, &s, c);
    }
    for r in 0..PARTIAL {
        let z0 = pow5(&add_const(&s[0], &c.partial_c[r], c), c);
        s[0] = z0;
        let mut w = Wide::zero();
        for k in 0..T {
            w.add_product_const(&s[k], &c.sparse_row[r][k]);
        }
        for i in 1..T {
            s[i] = add(&s[i], &mul_const(&z0, &c.sparse_col[r][i - 1], c), c);
        }
        s[0] = w.reduce(c);
    }
    for r in HALF..FULL - 1 {
        full_sbox(&mut s, &c.full_c[r], c);
        s = dense(&c.mds, &s, c);
    }
    full_sbox(&mut s, &c.full_c[FULL - 1], c);
    let mut w = Wide::zero();
    for k in 0..T {
        w.add_product_const(&s[k], &c.mds[0][k]);
    }
    w.reduce(c)
}

/// Plain integers (`< 2^260`, one per lane) into Montgomery form.
#[inline(always)]
unsafe fn to_mont(lanes: &[Limbs; LANES], c: &Consts) -> Fe {
    let mut cols = [[0u64; LANES]; 5];
    for (l, x) in lanes.iter().enumerate() {
        for k in 0..5 {
            cols[k][l] = x[k];
        }
    }
    let mut x = [_mm512_setzero_si512(); 5];
    for k in 0..5 {
        x[k] = _mm512_loadu_si512(cols[k].as_ptr().cast());
    }
    let x = Fe(x);
    mul_const(&x, &c.r2, c)
}

/// Out of Montgomery form, one canonical field element per lane.
#[inline(always)]
unsafe fn from_mont(x: &Fe, c: &Consts) -> [Fr; LANES] {
    let one = Fe([
        splat(1),
        _mm512_setzero_si512(),
        _mm512_setzero_si512(),
        _mm512_setzero_si512(),
        _mm512_setzero_si512(),
    ]);
    let y = mul(x, &one, c);
    let mut cols = [[0u64; LANES]; 5];
    for k in 0..5 {
        _mm512_storeu_si512(cols[k].as_mut_ptr().cast(), y.0[k]);
    }
    std::array::from_fn(|l| {
        let v = join52(std::array::from_fn(|k| cols[k][l]));
        Fr::from_bigint(BigInt::new(v)).expect("a reduced value is below the modulus")
    })
}

/// 7 values as the plain integer of the parent's `pack7`, in limbs.
#[inline(always)]
fn pack7_limbs(values: &[i32]) -> Limbs {
    split52(pack7_words(values))
}

/// The chunk digests of eight chunks of `len` values each (`chunks[l]` is lane l).
///
/// # Safety
/// The CPU must have AVX-512F and IFMA ([`available`]).
#[target_feature(enable = "avx512f,avx512ifma")]
pub unsafe fn chunk_digests8(chunks: [&[i32]; LANES]) -> [Fr; LANES] {
    let c = consts();
    let len = chunks[0].len();
    debug_assert!(chunks.iter().all(|ch| ch.len() == len));
    const PER_CALL: usize = 4 * 7;
    let mut h = to_mont(&[split52([len as u64, 0, 0, 0]); LANES], c);
    for lo in (0..len).step_by(PER_CALL) {
        let hi = (lo + PER_CALL).min(len);
        let mut inp = [h; 5];
        for j in 0..4 {
            let g = (lo + 7 * j).min(hi)..(lo + 7 * j + 7).min(hi);
            let lanes: [Limbs; LANES] = std::array::from_fn(|l| pack7_limbs(&chunks[l][g.clone()]));
            inp[1 + j] = to_mont(&lanes, c);
        }
        h = permute(inp, c);
    }
    from_mont(&h, c)
}
