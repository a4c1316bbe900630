//! Whole circuits.
pub mod relu;
