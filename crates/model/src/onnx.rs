//! Reading an ONNX file with tract-onnx's prost-generated protobuf types into plain Rust
//! values: nodes with their attributes, initializers as tensors, the graph's inputs and outputs.

use std::collections::HashMap;
use std::path::Path;

use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::prelude::Framework;

use crate::error::{ModelError, Result};
use crate::tensor::Tensor;

/// Element type of a value, as far as fixed-point compilation cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DType {
    Float,
    Int,
    Bool,
}

impl DType {
    fn from_onnx(dt: i32) -> Option<DType> {
        let dt = DataType::try_from(dt).ok()?;
        Some(match dt {
            DataType::Float | DataType::Double | DataType::Float16 | DataType::Bfloat16 => {
                DType::Float
            }
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::Uint8
            | DataType::Uint16
            | DataType::Uint32
            | DataType::Uint64 => DType::Int,
            DataType::Bool => DType::Bool,
            _ => return None,
        })
    }
}

/// A constant: values as f64 (exact for every int32 and for int64 shapes), with its ONNX type.
#[derive(Clone, Debug, PartialEq)]
pub struct Const {
    pub dtype: DType,
    pub tensor: Tensor<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Attr {
    Int(i64),
    Float(f32),
    Ints(Vec<i64>),
    Floats(Vec<f32>),
    Str(String),
    Strs(Vec<String>),
    Tensor(Const),
    Other,
}

#[derive(Clone, Debug)]
pub struct RawNode {
    pub name: String,
    pub op_type: String,
    pub domain: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: HashMap<String, Attr>,
}

#[derive(Clone, Debug)]
pub struct RawInput {
    pub name: String,
    pub dtype: DType,
    /// Dimensions; a symbolic dimension (e.g. "batch_size") is `None`.
    pub dims: Vec<Option<usize>>,
    /// The name of each symbolic dimension (its `dim_param`), empty where it has none.
    pub dim_names: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct RawModel {
    pub opset: i64,
    pub inputs: Vec<RawInput>,
    pub outputs: Vec<String>,
    pub initializers: HashMap<String, Const>,
    pub nodes: Vec<RawNode>,
}

impl RawModel {
    pub fn from_path(path: &Path) -> Result<RawModel> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<RawModel> {
        let proto = tract_onnx::onnx()
            .proto_model_for_read(&mut &bytes[..])
            .map_err(|e| ModelError::Malformed(format!("protobuf decoding failed: {e}")))?;
        Self::from_proto(&proto)
    }

    pub fn from_proto(proto: &pb::ModelProto) -> Result<RawModel> {
        let graph = proto
            .graph
            .as_ref()
            .ok_or_else(|| ModelError::Malformed("the model has no graph".into()))?;
        let opset = proto
            .opset_import
            .iter()
            .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map(|o| o.version)
            .ok_or_else(|| {
                ModelError::Malformed("no opset_import for the default ONNX domain".into())
            })?;
        let mut initializers = HashMap::new();
        for t in &graph.initializer {
            initializers.insert(t.name.clone(), load_tensor(t)?);
        }
        let mut inputs = Vec::new();
        for vi in &graph.input {
            if initializers.contains_key(&vi.name) {
                continue;
            }
            let ty = match vi.r#type.as_ref().and_then(|t| t.value.as_ref()) {
                Some(pb::type_proto::Value::TensorType(t)) => t,
                _ => {
                    return Err(ModelError::Malformed(format!(
                        "graph input {:?} is not a tensor",
                        vi.name
                    )))
                }
            };
            let dtype = DType::from_onnx(ty.elem_type).ok_or_else(|| {
                ModelError::Malformed(format!(
                    "graph input {:?} has an unsupported element type {}",
                    vi.name, ty.elem_type
                ))
            })?;
            let shape_dims = &ty
                .shape
                .as_ref()
                .ok_or_else(|| {
                    ModelError::Malformed(format!("graph input {:?} has no shape", vi.name))
                })?
                .dim;
            use pb::tensor_shape_proto::dimension::Value as Dim;
            let dims = shape_dims
                .iter()
                .map(|d| match d.value {
                    Some(Dim::DimValue(v)) if v > 0 => usize::try_from(v).ok(),
                    _ => None,
                })
                .collect();
            let dim_names = shape_dims
                .iter()
                .map(|d| match &d.value {
                    Some(Dim::DimParam(p)) => p.clone(),
                    _ => String::new(),
                })
                .collect();
            inputs.push(RawInput {
                name: vi.name.clone(),
                dtype,
                dims,
                dim_names,
            });
        }
        let nodes = graph
            .node
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let mut attrs = HashMap::new();
                for a in &n.attribute {
                    attrs.insert(a.name.clone(), load_attr(a)?);
                }
                let name = if n.name.is_empty() {
                    format!("{}_{}", n.op_type, i)
                } else {
                    n.name.clone()
                };
                Ok(RawNode {
                    name,
                    op_type: n.op_type.clone(),
                    domain: n.domain.clone(),
                    inputs: n.input.clone(),
                    outputs: n.output.clone(),
                    attrs,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let outputs = graph.output.iter().map(|o| o.name.clone()).collect();
        Ok(RawModel {
            opset,
            inputs,
            outputs,
            initializers,
            nodes,
        })
    }
}

fn load_attr(a: &pb::AttributeProto) -> Result<Attr> {
    use pb::attribute_proto::AttributeType as T;
    Ok(match T::try_from(a.r#type).unwrap_or(T::Undefined) {
        T::Int => Attr::Int(a.i),
        T::Float => Attr::Float(a.f),
        T::Ints => Attr::Ints(a.ints.clone()),
        T::Floats => Attr::Floats(a.floats.clone()),
        T::String => Attr::Str(String::from_utf8_lossy(&a.s).into_owned()),
        T::Strings => Attr::Strs(
            a.strings
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect(),
        ),
        T::Tensor => match &a.t {
            Some(t) => Attr::Tensor(load_tensor(t)?),
            None => {
                return Err(ModelError::Malformed(format!(
                    "attribute {:?} has no tensor",
                    a.name
                )))
            }
        },
        _ => Attr::Other,
    })
}

/// Convert a TensorProto to a constant, for the element types a model can hold as data.
pub fn load_tensor(t: &pb::TensorProto) -> Result<Const> {
    let bad = |why: &str| ModelError::Malformed(format!("tensor {:?}: {why}", t.name));
    if t.data_location == Some(pb::tensor_proto::DataLocation::External as i32) {
        return Err(bad(
            "external data is not supported; embed the weights in the .onnx file",
        ));
    }
    let mut shape = Vec::with_capacity(t.dims.len());
    for &d in &t.dims {
        if d < 0 {
            return Err(bad("negative dimension"));
        }
        shape.push(d as usize);
    }
    let n: usize = shape.iter().product();
    let dt = DataType::try_from(t.data_type).map_err(|_| bad("unknown data type"))?;
    let dtype = DType::from_onnx(t.data_type)
        .ok_or_else(|| bad(&format!("unsupported data type {dt:?}")))?;
    let raw = &t.raw_data;
    fn chunks<const W: usize>(raw: &[u8]) -> impl Iterator<Item = [u8; W]> + '_ {
        raw.chunks_exact(W).map(|c| c.try_into().unwrap())
    }
    let data: Vec<f64> = if !raw.is_empty() {
        let width = match dt {
            DataType::Float | DataType::Int32 | DataType::Uint32 => 4,
            DataType::Double | DataType::Int64 | DataType::Uint64 => 8,
            DataType::Int16 | DataType::Uint16 | DataType::Float16 | DataType::Bfloat16 => 2,
            _ => 1,
        };
        if raw.len() != n * width {
            return Err(bad(&format!(
                "raw data has {} bytes, expected {}",
                raw.len(),
                n * width
            )));
        }
        match dt {
            DataType::Float => chunks::<4>(raw)
                .map(|b| f32::from_le_bytes(b) as f64)
                .collect(),
            DataType::Double => chunks::<8>(raw).map(f64::from_le_bytes).collect(),
            DataType::Int32 => chunks::<4>(raw)
                .map(|b| i32::from_le_bytes(b) as f64)
                .collect(),
            DataType::Uint32 => chunks::<4>(raw)
                .map(|b| u32::from_le_bytes(b) as f64)
                .collect(),
            DataType::Int64 => chunks::<8>(raw)
                .map(|b| i64::from_le_bytes(b) as f64)
                .collect(),
            DataType::Uint64 => chunks::<8>(raw)
                .map(|b| u64::from_le_bytes(b) as f64)
                .collect(),
            DataType::Int16 => chunks::<2>(raw)
                .map(|b| i16::from_le_bytes(b) as f64)
                .collect(),
            DataType::Uint16 => chunks::<2>(raw)
                .map(|b| u16::from_le_bytes(b) as f64)
                .collect(),
            DataType::Int8 => raw.iter().map(|&b| b as i8 as f64).collect(),
            DataType::Uint8 => raw.iter().map(|&b| b as f64).collect(),
            DataType::Bool => raw.iter().map(|&b| (b != 0) as u8 as f64).collect(),
            other => return Err(bad(&format!("raw data of type {other:?} is not supported"))),
        }
    } else {
        match dt {
            DataType::Float => t.float_data.iter().map(|&x| x as f64).collect(),
            DataType::Double => t.double_data.clone(),
            DataType::Int64 => t.int64_data.iter().map(|&x| x as f64).collect(),
            DataType::Uint64 | DataType::Uint32 => {
                t.uint64_data.iter().map(|&x| x as f64).collect()
            }
            DataType::Int32
            | DataType::Int16
            | DataType::Int8
            | DataType::Uint16
            | DataType::Uint8 => t.int32_data.iter().map(|&x| x as f64).collect(),
            DataType::Bool => t
                .int32_data
                .iter()
                .map(|&x| (x != 0) as u8 as f64)
                .collect(),
            other => return Err(bad(&format!("data of type {other:?} is not supported"))),
        }
    };
    if data.len() != n {
        return Err(bad(&format!(
            "holds {} values, its shape {:?} needs {}",
            data.len(),
            shape,
            n
        )));
    }
    if dtype == DType::Float && data.iter().any(|x| !x.is_finite()) {
        return Err(bad("holds a non-finite value"));
    }
    Ok(Const {
        dtype,
        tensor: Tensor::new(shape, data),
    })
}
