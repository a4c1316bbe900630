use thiserror::Error;

/// Everything that can go wrong between an ONNX file and a compiled fixed-point program.
#[derive(Debug, Error)]
pub enum ModelError {
    #[error("cannot read model file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("malformed ONNX model: {0}")]
    Malformed(String),
    #[error("unsupported operator {op_type} (node {node:?}, opset {opset}): {reason}")]
    Unsupported {
        op_type: String,
        node: String,
        opset: i64,
        reason: String,
    },
    #[error("node {node:?} ({op_type}): {reason}")]
    InvalidNode {
        node: String,
        op_type: String,
        reason: String,
    },
    #[error("shape mismatch: {0}")]
    Shape(String),
    #[error("input error: {0}")]
    Input(String),
    #[error("calibration error: {0}")]
    Calibration(String),
    #[error("encoding error: {0}")]
    Encoding(String),
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;

impl ModelError {
    pub(crate) fn node(node: &str, op_type: &str, reason: impl Into<String>) -> Self {
        ModelError::InvalidNode {
            node: node.to_string(),
            op_type: op_type.to_string(),
            reason: reason.into(),
        }
    }
}
