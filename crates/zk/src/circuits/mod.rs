//! Whole circuits: [`chunk::ChunkCircuit`] is the shape every operator circuit shares;
//! [`relu`], [`elementwise`], [`linear`] (Gemm, Conv), [`movement`] (Reshape, Transpose,
//! Concat, …), [`reduce`] (pools, reductions), [`pointwise`] (comparisons, Where, Div, casts,
//! piecewise polynomials, …), [`gather`] (dynamic-index Gather), [`lane`] (ArgMax, Softmax)
//! and [`matmul`] are operators of `docs/fixed-point.md`; [`packed_gemm`] is a Gemm whose
//! weights are a witness bound by a digest (issue 22's design (a), not yet in the table).
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
