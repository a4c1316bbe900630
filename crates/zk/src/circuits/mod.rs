//! Whole circuits: [`chunk::ChunkCircuit`] is the shape every operator circuit shares;
//! [`relu`] and [`elementwise`] are operators of `docs/fixed-point.md`.
pub mod chunk;
pub mod elementwise;
pub mod relu;
