use thiserror::Error;

#[derive(Debug, Error)]
pub enum ExecError {
    #[error("input error: {0}")]
    Input(String),
    #[error(
        "op {op} ({name}, {kind}): value {value} is outside the 32-bit range of stored values"
    )]
    Overflow {
        op: usize,
        name: String,
        kind: &'static str,
        value: i64,
    },
    #[error("op {op} ({name}, {kind}): {reason}")]
    Arithmetic {
        op: usize,
        name: String,
        kind: &'static str,
        reason: String,
    },
    #[error(transparent)]
    Model(#[from] zkopml_model::ModelError),
    #[error("commitment error: {0}")]
    Commitment(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

pub type Result<T, E = ExecError> = std::result::Result<T, E>;
