//! Whole circuits: [`chunk::ChunkCircuit`] is the shape every operator circuit shares;
//! [`relu`], [`elementwise`], [`linear`] (Gemm, Conv), [`movement`] (Reshape, Transpose,
//! Concat, …) and [`reduce`] (pools, reductions) are operators of `docs/fixed-point.md`.
pub mod chunk;
pub mod elementwise;
pub mod linear;
pub mod movement;
pub mod reduce;
pub mod relu;
