//! The independent f32 reference: tract's own ONNX runtime on the same file.

use std::path::Path;

use tract_onnx::prelude::*;

use crate::error::{ModelError, Result};
use crate::onnx::DType;
use crate::program::InputPart;

pub struct TractReference {
    model: std::sync::Arc<TypedSimplePlan>,
    /// the graph inputs, in the order of slot 0 (one f32 input of the given shape by default)
    parts: Vec<InputPart>,
}

/// One f32 input of this shape.
fn one_input(shape: &[usize]) -> Vec<InputPart> {
    vec![InputPart {
        name: "input".into(),
        shape: shape.to_vec(),
        dtype: DType::Float,
        offset: 0,
    }]
}

impl TractReference {
    pub fn load(path: &Path, input_shape: &[usize]) -> Result<TractReference> {
        Self::load_inputs(path, &one_input(input_shape))
    }

    /// The reference for a model with these graph inputs (`Program::input_parts`): `run` takes
    /// slot 0's values and gives each input its part, as an f32, i64 or bool tensor.
    pub fn load_inputs(path: &Path, parts: &[InputPart]) -> Result<TractReference> {
        let err = |e: TractError| {
            ModelError::Malformed(format!("tract could not load {}: {e}", path.display()))
        };
        Self::from_model(
            tract_onnx::onnx().model_for_path(path).map_err(err)?,
            parts,
            &path.display().to_string(),
        )
    }

    /// The reference for a model given as its protobuf (tests build models in memory).
    pub fn from_proto(
        proto: &tract_onnx::pb::ModelProto,
        input_shape: &[usize],
    ) -> Result<TractReference> {
        Self::from_proto_inputs(proto, &one_input(input_shape))
    }

    /// [`Self::from_proto`] for a model with several graph inputs.
    pub fn from_proto_inputs(
        proto: &tract_onnx::pb::ModelProto,
        parts: &[InputPart],
    ) -> Result<TractReference> {
        let err =
            |e: TractError| ModelError::Malformed(format!("tract could not load the model: {e}"));
        Self::from_model(
            tract_onnx::onnx()
                .model_for_proto_model(proto)
                .map_err(err)?,
            parts,
            "the model",
        )
    }

    fn from_model(
        mut model: InferenceModel,
        parts: &[InputPart],
        what: &str,
    ) -> Result<TractReference> {
        let err =
            |e: TractError| ModelError::Malformed(format!("tract could not load {what}: {e}"));
        for (i, p) in parts.iter().enumerate() {
            let fact = match p.dtype {
                DType::Float => f32::fact(&p.shape),
                DType::Int => i64::fact(&p.shape),
                DType::Bool => bool::fact(&p.shape),
            };
            model = model.with_input_fact(i, fact.into()).map_err(err)?;
        }
        let model = model
            .into_optimized()
            .map_err(err)?
            .into_runnable()
            .map_err(err)?;
        Ok(TractReference {
            model,
            parts: parts.to_vec(),
        })
    }

    /// Runs the model in f32 on slot 0's values (each graph input its part) and returns every
    /// output, flattened.
    pub fn run(&self, input: &[f64]) -> Result<Vec<Vec<f64>>> {
        let total: usize = self.parts.iter().map(InputPart::numel).sum();
        if input.len() != total {
            return Err(ModelError::Input(format!(
                "the input has {} values, the model's inputs {total}",
                input.len()
            )));
        }
        let mut tensors: TVec<TValue> = tvec!();
        for p in &self.parts {
            let v = &input[p.offset..p.offset + p.numel()];
            let shape_err = |e: tract_ndarray::ShapeError| {
                ModelError::Input(format!(
                    "input {} does not fit shape {:?}: {e}",
                    p.name, p.shape
                ))
            };
            let t: Tensor = match p.dtype {
                DType::Float => tract_ndarray::ArrayD::from_shape_vec(
                    p.shape.clone(),
                    v.iter().map(|&x| x as f32).collect(),
                )
                .map_err(shape_err)?
                .into(),
                DType::Int => tract_ndarray::ArrayD::from_shape_vec(
                    p.shape.clone(),
                    v.iter().map(|&x| x as i64).collect(),
                )
                .map_err(shape_err)?
                .into(),
                DType::Bool => tract_ndarray::ArrayD::from_shape_vec(
                    p.shape.clone(),
                    v.iter().map(|&x| x != 0.0).collect(),
                )
                .map_err(shape_err)?
                .into(),
            };
            tensors.push(t.into());
        }
        let out = self
            .model
            .run(tensors)
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
