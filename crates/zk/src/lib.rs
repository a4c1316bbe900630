//! Placeholder: the zk crate is being built.
