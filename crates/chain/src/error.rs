//! Errors of the chain adapter, and decoding of revert data into the contracts' custom errors.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use alloy::dyn_abi::{DynSolType, DynSolValue, ErrorExt};
use alloy::json_abi::JsonAbi;
use alloy::primitives::{Bytes, B256};
use alloy::transports::{RpcError, TransportError};

/// Everything that can go wrong talking to the chain.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The RPC endpoint could not be reached (connection refused, DNS, HTTP failure, ...).
    #[error("no RPC at {url}: {reason}")]
    NoRpc { url: String, reason: String },

    /// A call or transaction reverted; `revert` carries the decoded custom error.
    #[error("{call} reverted: {revert}")]
    Reverted { call: &'static str, revert: Revert },

    /// The node answered with an error that is not a revert.
    #[error("{call}: RPC error: {message}")]
    Rpc { call: &'static str, message: String },

    /// No receipt within the configured time.
    #[error("{call}: no receipt for {tx} after {secs} s")]
    ReceiptTimeout {
        call: &'static str,
        tx: B256,
        secs: u64,
    },

    /// A receipt lacked an event the call always emits (or a created contract address).
    #[error("{call}: receipt lacks {what}")]
    MissingInReceipt {
        call: &'static str,
        what: &'static str,
    },

    /// The chain answered something the adapter cannot interpret.
    #[error("{what}: {message}")]
    Decode { what: &'static str, message: String },

    /// What was asked for is not on the chain (no such record; an output submitted by its root
    /// only).
    #[error("not on chain: {0}")]
    NotOnChain(String),

    /// Bad configuration (builder, private key, URL, deployment).
    #[error("configuration: {0}")]
    Config(String),

    /// The deployment does not match the chain (other chain id, no code at an address).
    #[error("deployment mismatch: {0}")]
    Deployment(String),

    /// Reading or writing a deployment / cursor file.
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },

    /// A deployment / cursor file is not valid JSON of the expected shape.
    #[error("{path}: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
}

impl ChainError {
    /// The decoded revert, when this is one.
    pub fn revert(&self) -> Option<&Revert> {
        match self {
            ChainError::Reverted { revert, .. } => Some(revert),
            _ => None,
        }
    }

    /// The custom error's name when this is a revert (`"NotYourTurn"`, `"Error"` for
    /// `require(.., "msg")`, `"Panic"`, `""` for empty revert data).
    pub fn revert_name(&self) -> Option<&str> {
        self.revert().map(|r| r.name.as_str())
    }

    /// True for an unreachable endpoint (worth retrying later).
    pub fn is_no_rpc(&self) -> bool {
        matches!(self, ChainError::NoRpc { .. })
    }

    /// Maps a transport-level error. `url` names the endpoint in `NoRpc`.
    pub(crate) fn from_transport(call: &'static str, url: &str, e: TransportError) -> Self {
        match e {
            RpcError::Transport(kind) => ChainError::NoRpc {
                url: url.to_string(),
                reason: kind.to_string(),
            },
            RpcError::ErrorResp(payload) => {
                if let Some(data) = payload.as_revert_data() {
                    ChainError::Reverted {
                        call,
                        revert: Revert::decode(data),
                    }
                } else if payload.message.contains("revert") {
                    // e.g. a bare `revert()` whose data some nodes leave out
                    ChainError::Reverted {
                        call,
                        revert: Revert::decode(Bytes::new()),
                    }
                } else {
                    ChainError::Rpc {
                        call,
                        message: payload.to_string(),
                    }
                }
            }
            other => ChainError::Rpc {
                call,
                message: other.to_string(),
            },
        }
    }

    /// Maps an error of alloy's contract layer.
    pub(crate) fn from_contract(call: &'static str, url: &str, e: alloy::contract::Error) -> Self {
        use alloy::contract::Error as E;
        match e {
            E::TransportError(t) => Self::from_transport(call, url, t),
            E::PendingTransactionError(p) => match p {
                alloy::providers::PendingTransactionError::TransportError(t) => {
                    Self::from_transport(call, url, t)
                }
                other => ChainError::Rpc {
                    call,
                    message: other.to_string(),
                },
            },
            other => ChainError::Decode {
                what: call,
                message: other.to_string(),
            },
        }
    }
}

/// A decoded revert: the custom error's name and arguments, and the raw data.
#[derive(Debug, Clone, PartialEq)]
pub struct Revert {
    /// Custom error name (`"WrongBond"`), `"Error"` for a reason string, `"Panic"` for a panic
    /// code, `""` when the revert carried no data, `"0x<selector>"` for an unknown selector.
    pub name: String,
    /// Decoded arguments (empty when unknown).
    pub args: Vec<DynSolValue>,
    /// The raw revert data.
    pub data: Bytes,
}

impl Revert {
    /// Decodes revert data against the custom errors of all five contracts (and of the libraries
    /// they use), plus `Error(string)` and `Panic(uint256)`.
    pub fn decode(data: Bytes) -> Self {
        if data.len() < 4 {
            return Revert {
                name: String::new(),
                args: vec![],
                data,
            };
        }
        let sel: [u8; 4] = data[..4].try_into().expect("4 bytes");
        match sel {
            // Error(string)
            [0x08, 0xc3, 0x79, 0xa0] => {
                let args = DynSolType::Tuple(vec![DynSolType::String])
                    .abi_decode_params(&data[4..])
                    .map(|v| match v {
                        DynSolValue::Tuple(v) => v,
                        v => vec![v],
                    })
                    .unwrap_or_default();
                return Revert {
                    name: "Error".into(),
                    args,
                    data,
                };
            }
            // Panic(uint256)
            [0x4e, 0x48, 0x7b, 0x71] => {
                let args = DynSolType::Tuple(vec![DynSolType::Uint(256)])
                    .abi_decode_params(&data[4..])
                    .map(|v| match v {
                        DynSolValue::Tuple(v) => v,
                        v => vec![v],
                    })
                    .unwrap_or_default();
                return Revert {
                    name: "Panic".into(),
                    args,
                    data,
                };
            }
            _ => {}
        }
        match error_table().get(&sel) {
            Some(err) => match err.decode_error(&data) {
                Ok(decoded) => Revert {
                    name: err.name.clone(),
                    args: decoded.body,
                    data,
                },
                Err(_) => Revert {
                    name: err.name.clone(),
                    args: vec![],
                    data,
                },
            },
            None => Revert {
                name: format!("0x{}", alloy::hex::encode(sel)),
                args: vec![],
                data,
            },
        }
    }
}

impl fmt::Display for Revert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.is_empty() {
            return write!(f, "(no revert data)");
        }
        write!(f, "{}(", self.name)?;
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write_value(f, a)?;
        }
        write!(f, ")")
    }
}

fn write_value(f: &mut fmt::Formatter<'_>, v: &DynSolValue) -> fmt::Result {
    match v {
        DynSolValue::Uint(u, _) => write!(f, "{u}"),
        DynSolValue::Int(i, _) => write!(f, "{i}"),
        DynSolValue::Bool(b) => write!(f, "{b}"),
        DynSolValue::Address(a) => write!(f, "{a}"),
        DynSolValue::FixedBytes(w, n) => write!(f, "0x{}", alloy::hex::encode(&w[..*n])),
        DynSolValue::Bytes(b) => write!(f, "0x{}", alloy::hex::encode(b)),
        DynSolValue::String(s) => write!(f, "{s:?}"),
        other => write!(f, "{other:?}"),
    }
}

/// The ABI JSON of each artifact (the same files the bindings are generated from).
pub(crate) const ARTIFACTS: [(&str, &str); 5] = [
    (
        "Poseidon5",
        include_str!("../../../contracts/artifacts/Poseidon5.json"),
    ),
    (
        "Groth16Verifier",
        include_str!("../../../contracts/artifacts/Groth16Verifier.json"),
    ),
    (
        "ModelRegistry",
        include_str!("../../../contracts/artifacts/ModelRegistry.json"),
    ),
    (
        "InferenceManager",
        include_str!("../../../contracts/artifacts/InferenceManager.json"),
    ),
    (
        "FaultDisputeGame",
        include_str!("../../../contracts/artifacts/FaultDisputeGame.json"),
    ),
];

/// Selector -> custom error, over all artifacts. The game's reverts may come from the verifier
/// (bubbled up), so one table serves every call.
fn error_table() -> &'static HashMap<[u8; 4], alloy::json_abi::Error> {
    static TABLE: OnceLock<HashMap<[u8; 4], alloy::json_abi::Error>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = HashMap::new();
        for (name, json) in ARTIFACTS {
            let v: serde_json::Value = serde_json::from_str(json)
                .unwrap_or_else(|e| panic!("artifact {name} is not JSON: {e}"));
            let abi: JsonAbi = serde_json::from_value(v["abi"].clone())
                .unwrap_or_else(|e| panic!("artifact {name}: bad ABI: {e}"));
            for e in abi.errors() {
                t.entry(e.selector().0).or_insert_with(|| e.clone());
            }
        }
        t
    })
}

/// Names of all custom errors the contracts can revert with (for documentation and tests).
pub fn known_errors() -> Vec<String> {
    let mut v: Vec<String> = error_table().values().map(|e| e.signature()).collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::{FaultDisputeGame as G, Groth16Verifier as V, InferenceManager as M};
    use alloy::primitives::U256;
    use alloy::sol_types::SolError;

    #[test]
    fn decodes_custom_errors_of_every_contract() {
        let r = Revert::decode(G::NotYourTurn {}.abi_encode().into());
        assert_eq!((r.name.as_str(), r.args.len()), ("NotYourTurn", 0));
        assert_eq!(r.to_string(), "NotYourTurn()");

        let data = M::WrongBond {
            sent: U256::from(1),
            required: U256::from(7),
        }
        .abi_encode();
        let r = Revert::decode(data.into());
        assert_eq!(r.to_string(), "WrongBond(1, 7)");

        // the verifier's errors bubble up through proveStep
        let r = Revert::decode(V::ProofInvalid {}.abi_encode().into());
        assert_eq!(r.name, "ProofInvalid");
        // library errors are in the contracts' ABIs
        assert!(known_errors()
            .iter()
            .any(|e| e == "IndexOutOfRange(uint256,uint256)"));
        assert!(known_errors()
            .iter()
            .any(|e| e == "BadLength(uint256,uint256)"));
    }

    #[test]
    fn decodes_the_boundary_tensor_errors_by_name() {
        // the manager's record and output checks, claim, the books' width
        for (data, name) in [
            (M::WrongRecord {}.abi_encode(), "WrongRecord"),
            (M::BadOutput {}.abi_encode(), "BadOutput"),
            (M::NotSubmitter {}.abi_encode(), "NotSubmitter"),
            (M::AmountTooLarge {}.abi_encode(), "AmountTooLarge"),
            // the game's check of the output chunk's packed bytes
            (G::BadOutputValues {}.abi_encode(), "BadOutputValues"),
        ] {
            let r = Revert::decode(data.into());
            assert_eq!(r.to_string(), format!("{name}()"));
            assert!(known_errors().contains(&format!("{name}()")), "{name}");
        }
    }

    #[test]
    fn decodes_standard_and_unknown_reverts() {
        let mut data = vec![0x08, 0xc3, 0x79, 0xa0];
        data.extend(alloy::sol_types::SolValue::abi_encode_params(&(
            "boom".to_string(),
        )));
        assert_eq!(Revert::decode(data.into()).to_string(), "Error(\"boom\")");
        let r = Revert::decode(Bytes::from(vec![1, 2, 3, 4]));
        assert_eq!(r.name, "0x01020304");
        assert_eq!(Revert::decode(Bytes::new()).to_string(), "(no revert data)");
    }
}
