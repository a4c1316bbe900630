//! zkopml-exec: the deterministic fixed-point executor, its trace, and the commitments
//! (chunk digests, tensor roots, state roots) that the dispute game and circuits open.

pub mod accuracy;
pub mod commit;
pub mod error;
pub mod kernels;
mod par;
pub mod poseidon;
pub mod run;

pub use error::{ExecError, Result};
pub use par::with_team;
pub use run::{dequantise, quantise_input, run, run_op, Engine, Trace};
