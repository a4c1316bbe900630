//! Whole circuits: [`chunk::ChunkCircuit`] is the shape every operator circuit shares;
//! [`relu`], [`elementwise`] and [`linear`] (Gemm, Conv) are operators of `docs/fixed-point.md`.
pub mod chunk;
pub mod elementwise;
pub mod linear;
pub mod relu;
