//! Whole circuits: [`chunk::ChunkCircuit`] is the shape every operator circuit shares;
//! [`relu`], [`elementwise`], [`linear`] (Gemm, Conv), [`movement`] (Reshape, Transpose,
//! Concat, …), [`reduce`] (pools, reductions), [`pointwise`] (comparisons, Where, Div, casts,
//! piecewise polynomials, …), [`gather`] (dynamic-index Gather), [`lane`] (ArgMax, Softmax)
//! and [`matmul`] are operators of `docs/fixed-point.md`; [`packed_gemm`] is a Gemm whose
//! weights are a witness bound by a digest, [`elementwise::CommittedAffine`] an elementwise
//! map with constants so bound (committed weights, docs/zk.md "Weights as witnesses").
pub mod chunk;
pub mod elementwise;
pub mod gather;
pub mod lane;
pub mod linear;
pub mod matmul;
pub mod movement;
pub mod packed_gemm;
pub mod pointwise;
pub mod reduce;
pub mod relu;

/// Shifts rounded up to a multiple of this are a committed-weights circuit's own: the layer's
/// shift `s` becomes a multiplier `2^(class - s)` in its weight block, so layers of one shape
/// whose shifts share a class share a circuit.
pub const SHIFT_CLASS: i32 = 16;

/// The shift class of a layer's shift `s`: 0 for `s <= 0`, else `s` rounded up to a multiple
/// of [`SHIFT_CLASS`] (at most `SHIFT_CLASS - 1` bits of rescale more than `s`).
pub fn shift_class(s: i32) -> i32 {
    if s <= 0 {
        0
    } else {
        (s + SHIFT_CLASS - 1) / SHIFT_CLASS * SHIFT_CLASS
    }
}
