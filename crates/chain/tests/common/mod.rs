//! A real anvil for the tests: `<repo>/.tools/bin/anvil` or `$ZKOPML_ANVIL`.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::{keccak256, B256, U256};
use alloy::providers::Provider;
use zkopml_chain::{Answer, Chain, DisputeParams, Registration, TensorMeta};

/// anvil's first two default accounts (mnemonic "test test ... junk").
pub const KEY0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
pub const KEY1: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

pub fn anvil_path() -> PathBuf {
    if let Ok(p) = std::env::var("ZKOPML_ANVIL") {
        let p = PathBuf::from(p);
        assert!(p.exists(), "ZKOPML_ANVIL={} does not exist", p.display());
        return p;
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/bin/anvil");
    assert!(
        p.exists(),
        "anvil not found at {} (run `bash scripts/install-tools.sh`, or set ZKOPML_ANVIL to an anvil binary)",
        p.display()
    );
    p
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Anvil {
    pub port: u16,
    pub state: Option<PathBuf>,
    child: Option<Child>,
}

impl Anvil {
    pub fn start() -> Anvil {
        Self::start_on(free_port(), None)
    }

    /// `--state <file>`: the chain is dumped on SIGINT and loaded at the next start.
    pub fn start_on(port: u16, state: Option<PathBuf>) -> Anvil {
        let mut a = Anvil {
            port,
            state,
            child: None,
        };
        a.restart();
        a
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "anvil already running");
        let mut cmd = Command::new(anvil_path());
        cmd.args(["--port", &self.port.to_string(), "--silent"]);
        if let Some(s) = &self.state {
            cmd.arg("--state").arg(s);
        }
        cmd.stdout(Stdio::null()).stderr(Stdio::inherit());
        let child = cmd.spawn().expect("spawn anvil");
        self.child = Some(child);
        let t0 = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "anvil did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGINT (anvil dumps `--state` on it) and wait for the exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &c.id().to_string()])
                .status();
            let t0 = Instant::now();
            loop {
                if c.try_wait().unwrap().is_some() {
                    break;
                }
                if t0.elapsed() > Duration::from_secs(10) {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// evm_increaseTime + evm_mine.
pub async fn advance(chain: &Chain, secs: u64) {
    let p = chain.provider();
    let _: serde_json::Value = p
        .raw_request("evm_increaseTime".into(), (secs,))
        .await
        .unwrap();
    let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.unwrap();
}

pub fn hash_pair(l: B256, r: B256) -> B256 {
    let mut b = [0u8; 64];
    b[..32].copy_from_slice(l.as_slice());
    b[32..].copy_from_slice(r.as_slice());
    keccak256(b)
}

/// Tensor root of a boundary tensor (the model's input or output: keccak chunk leaves over the
/// packed bytes, docs/commitments.md "Boundary tensors"), computed off chain by zkopml-exec: an
/// implementation independent of the contract's `tensorRootOf`.
pub fn boundary_root(meta: &TensorMeta, values: &[i32]) -> B256 {
    use zkopml_exec::commit::{Leaves, TensorCommitment};
    let spec = zkopml_model::TensorSpec {
        shape: meta.dims.iter().map(|&d| d as usize).collect(),
        dtype: zkopml_model::DType::Int,
        scale: meta.scale,
        chunk_len: meta.chunk_len as usize,
    };
    assert_eq!(values.len(), spec.shape.iter().product::<usize>(), "numel");
    B256::from(TensorCommitment::from_canonical(&spec, values, Leaves::Keccak).root)
}

/// stateRoot(0) of a state tree of depth `depth` whose only non-zero leaf is the input's root
/// (`Commitments.stateRoot0`).
pub fn state_root0(input_root: B256, depth: u32) -> B256 {
    let (mut node, mut z) = (input_root, B256::ZERO);
    for _ in 0..depth {
        node = hash_pair(node, z);
        z = hash_pair(z, z);
    }
    node
}

/// What a submitter posts: `output` inline (empty: by root only).
pub fn answer_of(final_root: B256, output_root: B256, path: &[B256], output: &[i32]) -> Answer {
    Answer {
        final_root,
        output_root,
        output_path: path.to_vec(),
        output: output.to_vec(),
    }
}

pub fn input_meta() -> TensorMeta {
    TensorMeta {
        dims: vec![4],
        scale: 8,
        chunk_len: 4,
    }
}

pub fn output_meta() -> TensorMeta {
    TensorMeta {
        dims: vec![2],
        scale: 8,
        chunk_len: 4,
    }
}

pub const FEE: u64 = 10_000_000_000_000_000; // 0.01 ether
pub const SUBMITTER_BOND: u64 = 100_000_000_000_000_000; // 0.1 ether: a fee must stay below half of it
pub const CHALLENGER_BOND: u64 = 2_000_000_000_000_000;
pub const WINDOW: u64 = 600;
pub const CLOCK: u64 = 3600;

/// A 1-op model: slot 0 (input, 4 values) and slot 1 (output, 2 values), stateDepth 1, so the
/// meta tree is keccak(metaHash(in) ‖ metaHash(out)) and each path is the other leaf.
pub fn one_op_registration(tag: u8) -> Registration {
    let (i, o) = (input_meta().meta_hash(), output_meta().meta_hash());
    Registration {
        model_hash: B256::repeat_byte(tag),
        manifest_cid: format!("cid-model-{tag}"),
        num_ops: 1,
        circuit_root: B256::repeat_byte(0xc1),
        meta_root: hash_pair(i, o),
        input: input_meta(),
        output: output_meta(),
        input_meta_path: vec![o],
        output_meta_path: vec![i],
        params: DisputeParams {
            arity: 2,
            max_group: 1,
            clock_budget: CLOCK,
            challenge_window: WINDOW,
            submitter_bond: U256::from(SUBMITTER_BOND),
            challenger_bond: U256::from(CHALLENGER_BOND),
        },
    }
}

/// A fresh random account funded with 10 ether by `funder`; returns its key.
pub async fn funded_key(funder: &Chain) -> String {
    let s = alloy::signers::local::PrivateKeySigner::random();
    funder
        .transfer(s.address(), U256::from(10u128 * 10u128.pow(18)))
        .await
        .unwrap();
    format!("0x{}", alloy::hex::encode(s.to_bytes()))
}

/// Root of the boundary chunk leaves of `values` (what `requestInferenceByRoot` takes).
pub fn boundary_chunks_root(meta: &TensorMeta, values: &[i32]) -> B256 {
    use zkopml_exec::commit::{Leaves, TensorCommitment};
    let spec = zkopml_model::TensorSpec {
        shape: meta.dims.iter().map(|&d| d as usize).collect(),
        dtype: zkopml_model::DType::Int,
        scale: meta.scale,
        chunk_len: meta.chunk_len as usize,
    };
    B256::from(
        TensorCommitment::from_canonical(&spec, values, Leaves::Keccak)
            .chunks
            .root(),
    )
}
