//! The independent f32 reference: tract's own ONNX runtime on the same file.

use std::path::Path;

use tract_onnx::prelude::*;

use crate::error::{ModelError, Result};

pub struct TractReference {
    model: std::sync::Arc<TypedSimplePlan>,
    shape: Vec<usize>,
}

impl TractReference {
    pub fn load(path: &Path, input_shape: &[usize]) -> Result<TractReference> {
        let err = |e: TractError| {
            ModelError::Malformed(format!("tract could not load {}: {e}", path.display()))
        };
        Self::from_model(
            tract_onnx::onnx().model_for_path(path).map_err(err)?,
            input_shape,
            &path.display().to_string(),
        )
    }

    /// The reference for a model given as its protobuf (tests build models in memory).
    pub fn from_proto(
        proto: &tract_onnx::pb::ModelProto,
        input_shape: &[usize],
    ) -> Result<TractReference> {
        let err =
            |e: TractError| ModelError::Malformed(format!("tract could not load the model: {e}"));
        Self::from_model(
            tract_onnx::onnx()
                .model_for_proto_model(proto)
                .map_err(err)?,
            input_shape,
            "the model",
        )
    }

    fn from_model(
        model: InferenceModel,
        input_shape: &[usize],
        what: &str,
    ) -> Result<TractReference> {
        let err =
            |e: TractError| ModelError::Malformed(format!("tract could not load {what}: {e}"));
        let model = model
            .with_input_fact(0, f32::fact(input_shape).into())
            .map_err(err)?
            .into_optimized()
            .map_err(err)?
            .into_runnable()
            .map_err(err)?;
        Ok(TractReference {
            model,
            shape: input_shape.to_vec(),
        })
    }

    /// Runs the model in f32 and returns every output, flattened.
    pub fn run(&self, input: &[f64]) -> Result<Vec<Vec<f64>>> {
        let data: Vec<f32> = input.iter().map(|&v| v as f32).collect();
        let t = tract_ndarray::ArrayD::from_shape_vec(self.shape.clone(), data).map_err(|e| {
            ModelError::Input(format!("input does not fit shape {:?}: {e}", self.shape))
        })?;
        let out = self
            .model
            .run(tvec!(Tensor::from(t).into()))
            .map_err(|e| ModelError::Input(format!("tract failed to run: {e}")))?;
        out.iter()
            .map(|o| {
                let o = o
                    .cast_to::<f64>()
                    .map_err(|e| ModelError::Input(format!("{e}")))?;
                Ok(o.to_plain_array_view::<f64>()
                    .map_err(|e| ModelError::Input(format!("{e}")))?
                    .iter()
                    .copied()
                    .collect())
            })
            .collect()
    }
}
