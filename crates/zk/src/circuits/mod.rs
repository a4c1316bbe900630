//! Whole circuits: [`chunk::ChunkCircuit`] is the shape every operator circuit shares,
//! [`relu`] the first operator.
pub mod chunk;
pub mod relu;
