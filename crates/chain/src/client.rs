//! The `Chain` client: one signer, one deployment, typed calls.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::contract::{CallBuilder, CallDecoder};
use alloy::eips::BlockId;
use alloy::network::{Ethereum, TransactionBuilder};
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;

use crate::bindings::{
    FaultDisputeGame, FaultDisputeGame::FaultDisputeGameInstance, Groth16Verifier,
    InferenceManager, InferenceManager::InferenceManagerInstance, ModelRegistry,
    ModelRegistry::ModelRegistryInstance, Poseidon5Fast,
};
use crate::deployment::Deployment;
use crate::error::ChainError;
use crate::types::*;

/// What a mined transaction cost, and the value it produced (an id, or `()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tx<T = ()> {
    pub hash: B256,
    pub block_number: u64,
    pub gas_used: u64,
    pub value: T,
}

impl<T> Tx<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Tx<U> {
        Tx {
            hash: self.hash,
            block_number: self.block_number,
            gas_used: self.gas_used,
            value: f(self.value),
        }
    }
}

/// Builds a [`Chain`].
#[derive(Debug, Clone, Default)]
pub struct ChainBuilder {
    rpc_url: Option<String>,
    signer: Option<PrivateKeySigner>,
    key_error: Option<String>,
    deployment: Option<Deployment>,
    receipt_timeout: Option<Duration>,
    receipt_poll: Option<Duration>,
    bounds: Option<ParamBounds>,
}

impl ChainBuilder {
    /// The dispute parameters' lower bounds a new deployment's registry enforces (default:
    /// [`ParamBounds::devnet`]).
    pub fn bounds(mut self, b: ParamBounds) -> Self {
        self.bounds = Some(b);
        self
    }

    /// HTTP(S) JSON-RPC endpoint (https needs the crate feature `tls`).
    pub fn rpc_url(mut self, url: impl Into<String>) -> Self {
        self.rpc_url = Some(url.into());
        self
    }

    /// Hex private key (with or without `0x`) of the account that signs every transaction.
    pub fn private_key(mut self, key: &str) -> Self {
        match PrivateKeySigner::from_str(key.trim()) {
            Ok(s) => {
                self.signer = Some(s);
                self.key_error = None;
            }
            Err(e) => self.key_error = Some(format!("bad private key: {e}")),
        }
        self
    }

    /// Signer given directly.
    pub fn signer(mut self, signer: PrivateKeySigner) -> Self {
        self.signer = Some(signer);
        self.key_error = None;
        self
    }

    /// Addresses of the contracts (see [`Deployment`]).
    pub fn deployment(mut self, d: Deployment) -> Self {
        self.deployment = Some(d);
        self
    }

    /// How long to wait for a receipt (default 120 s).
    pub fn receipt_timeout(mut self, d: Duration) -> Self {
        self.receipt_timeout = Some(d);
        self
    }

    /// How often to poll for a receipt (default 50 ms).
    pub fn receipt_poll(mut self, d: Duration) -> Self {
        self.receipt_poll = Some(d);
        self
    }

    fn base(&self) -> Result<(String, PrivateKeySigner, DynProvider), ChainError> {
        let url = self
            .rpc_url
            .clone()
            .ok_or_else(|| ChainError::Config("no RPC URL".into()))?;
        if let Some(e) = &self.key_error {
            return Err(ChainError::Config(e.clone()));
        }
        let signer = self
            .signer
            .clone()
            .ok_or_else(|| ChainError::Config("no private key".into()))?;
        let parsed = url
            .parse()
            .map_err(|e| ChainError::Config(format!("bad RPC URL {url}: {e}")))?;
        // Simple nonce management (the pending nonce, asked each time): alloy's cached nonce
        // manager counts a nonce for a transaction that then fails estimation (a revert), which
        // leaves a gap and the next transaction stuck in the pool.
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .with_simple_nonce_management()
            .fetch_chain_id()
            .wallet(signer.clone())
            .connect_http(parsed)
            .erased();
        Ok((url, signer, provider))
    }

    /// Connects to an existing deployment: checks the endpoint answers, the chain id matches the
    /// deployment's and the three main contracts have code.
    pub async fn connect(self) -> Result<Chain, ChainError> {
        let d = self
            .deployment
            .clone()
            .ok_or_else(|| ChainError::Config("no deployment".into()))?;
        let (url, signer, provider) = self.base()?;
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| ChainError::from_transport("eth_chainId", &url, e))?;
        if chain_id != d.chain_id {
            return Err(ChainError::Deployment(format!(
                "deployment is for chain {}, {url} is chain {chain_id}",
                d.chain_id
            )));
        }
        for (name, a) in [
            ("registry", d.registry),
            ("manager", d.manager),
            ("game", d.game),
        ] {
            let code = provider
                .get_code_at(a)
                .await
                .map_err(|e| ChainError::from_transport("eth_getCode", &url, e))?;
            if code.is_empty() {
                return Err(ChainError::Deployment(format!(
                    "no code for the {name} at {a} on {url}"
                )));
            }
        }
        Ok(Chain::assemble(self, url, signer, provider, d))
    }

    /// Deploys all contracts with this signer (see [`Deployment`]) and returns a client for them.
    pub async fn deploy(self) -> Result<Chain, ChainError> {
        let (url, signer, provider) = self.base()?;
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| ChainError::from_transport("eth_chainId", &url, e))?;
        let ctx = Ctx {
            url: url.clone(),
            provider: provider.clone(),
            timeout: self.receipt_timeout.unwrap_or(DEFAULT_RECEIPT_TIMEOUT),
            poll: self.receipt_poll.unwrap_or(DEFAULT_RECEIPT_POLL),
            send_lock: Default::default(),
        };
        let p = &provider;
        let poseidon = ctx
            .create("deploy Poseidon5Fast", Poseidon5Fast::deploy_builder(p))
            .await?;
        let start_block = poseidon.block_number;
        let verifier = ctx
            .create("deploy Groth16Verifier", Groth16Verifier::deploy_builder(p))
            .await?;
        let registry = ctx
            .create(
                "deploy ModelRegistry",
                ModelRegistry::deploy_builder(
                    p,
                    self.bounds
                        .clone()
                        .unwrap_or_else(ParamBounds::devnet)
                        .to_registry()?,
                ),
            )
            .await?;
        let manager = ctx
            .create(
                "deploy InferenceManager",
                InferenceManager::deploy_builder(p, registry.value),
            )
            .await?;
        let game = ctx
            .create(
                "deploy FaultDisputeGame",
                FaultDisputeGame::deploy_builder(
                    p,
                    manager.value,
                    registry.value,
                    verifier.value,
                    poseidon.value,
                ),
            )
            .await?;
        let m = InferenceManager::new(manager.value, p);
        let wired = ctx.send("setGame", m.setGame(game.value)).await?;
        let gas = [&poseidon, &verifier, &registry, &manager, &game]
            .iter()
            .map(|t| t.gas_used)
            .sum::<u64>()
            + wired.gas_used;
        tracing::info!(gas, "deployed the zkopml contracts");
        let d = Deployment {
            chain_id,
            deployer: signer.address(),
            start_block,
            poseidon: poseidon.value,
            verifier: verifier.value,
            registry: registry.value,
            manager: manager.value,
            game: game.value,
        };
        Ok(Chain::assemble(self, url, signer, provider, d))
    }
}

const DEFAULT_RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);
const DEFAULT_RECEIPT_POLL: Duration = Duration::from_millis(50);

/// Sending and receipts, shared by deployment and the client.
#[derive(Clone)]
struct Ctx {
    url: String,
    provider: DynProvider,
    timeout: Duration,
    poll: Duration,
    /// One transaction in flight per client (and its clones): the nonce is the pending one.
    send_lock: Arc<tokio::sync::Mutex<()>>,
}

impl Ctx {
    /// Sends a transaction, waits for its receipt; a revert (at estimation or mined) is decoded.
    async fn send_raw<P, D>(
        &self,
        call: &'static str,
        b: &CallBuilder<P, D, Ethereum>,
    ) -> Result<TransactionReceipt, ChainError>
    where
        P: Provider<Ethereum>,
        D: CallDecoder,
    {
        let guard = self.send_lock.lock().await;
        let pending = b
            .send()
            .await
            .map_err(|e| ChainError::from_contract(call, &self.url, e))?;
        let hash = *pending.tx_hash();
        let receipt = self.wait_receipt(call, hash).await?;
        drop(guard);
        if !receipt.status() {
            // Mined but reverted (the state changed between estimation and inclusion, e.g. an
            // earlier transaction of the same block): replay it on that block's state to get
            // the revert data.
            let at = receipt.block_number.unwrap_or_default();
            let revert = match b.call_raw().block(BlockId::number(at)).await {
                Err(e) => match ChainError::from_contract(call, &self.url, e) {
                    ChainError::Reverted { revert, .. } => revert,
                    _ => crate::error::Revert::decode(Bytes::new()),
                },
                Ok(_) => crate::error::Revert::decode(Bytes::new()),
            };
            return Err(ChainError::Reverted { call, revert });
        }
        Ok(receipt)
    }

    async fn wait_receipt(
        &self,
        call: &'static str,
        hash: B256,
    ) -> Result<TransactionReceipt, ChainError> {
        let start = Instant::now();
        loop {
            let r = self
                .provider
                .get_transaction_receipt(hash)
                .await
                .map_err(|e| ChainError::from_transport(call, &self.url, e))?;
            if let Some(r) = r {
                return Ok(r);
            }
            if start.elapsed() > self.timeout {
                return Err(ChainError::ReceiptTimeout {
                    call,
                    tx: hash,
                    secs: self.timeout.as_secs(),
                });
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    async fn send<P, D>(
        &self,
        call: &'static str,
        b: CallBuilder<P, D, Ethereum>,
    ) -> Result<Tx, ChainError>
    where
        P: Provider<Ethereum>,
        D: CallDecoder,
    {
        let r = self.send_raw(call, &b).await?;
        Ok(tx_of(&r, ()))
    }

    async fn create<P, D>(
        &self,
        call: &'static str,
        b: CallBuilder<P, D, Ethereum>,
    ) -> Result<Tx<Address>, ChainError>
    where
        P: Provider<Ethereum>,
        D: CallDecoder,
    {
        let r = self.send_raw(call, &b).await?;
        let a = r.contract_address.ok_or(ChainError::MissingInReceipt {
            call,
            what: "a contract address",
        })?;
        Ok(tx_of(&r, a))
    }

    /// Sends and returns the first `E` event the transaction emitted from `from`.
    async fn send_event<P, D, E>(
        &self,
        call: &'static str,
        from: Address,
        b: CallBuilder<P, D, Ethereum>,
    ) -> Result<Tx<E>, ChainError>
    where
        P: Provider<Ethereum>,
        D: CallDecoder,
        E: SolEvent,
    {
        let r = self.send_raw(call, &b).await?;
        let ev = r
            .inner
            .logs()
            .iter()
            .filter(|l| l.address() == from)
            .find_map(|l| E::decode_log_data(&l.inner.data).ok())
            .ok_or(ChainError::MissingInReceipt {
                call,
                what: E::SIGNATURE,
            })?;
        Ok(tx_of(&r, ev))
    }
}

fn tx_of<T>(r: &TransactionReceipt, value: T) -> Tx<T> {
    Tx {
        hash: r.transaction_hash,
        block_number: r.block_number.unwrap_or_default(),
        gas_used: r.gas_used,
        value,
    }
}

fn id_u64(x: U256, what: &'static str) -> Result<u64, ChainError> {
    u64::try_from(x).map_err(|_| ChainError::Decode {
        what,
        message: format!("id {x} does not fit in u64"),
    })
}

/// A client for one deployment, signing with one key. Cheap to clone.
#[derive(Clone)]
pub struct Chain {
    ctx: Ctx,
    signer: PrivateKeySigner,
    deployment: Deployment,
    registry: ModelRegistryInstance<DynProvider>,
    manager: InferenceManagerInstance<DynProvider>,
    game: FaultDisputeGameInstance<DynProvider>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("url", &self.ctx.url)
            .field("account", &self.signer.address())
            .field("deployment", &self.deployment)
            .finish()
    }
}

impl Chain {
    pub fn builder() -> ChainBuilder {
        ChainBuilder::default()
    }

    fn assemble(
        b: ChainBuilder,
        url: String,
        signer: PrivateKeySigner,
        provider: DynProvider,
        d: Deployment,
    ) -> Chain {
        let ctx = Ctx {
            url,
            provider: provider.clone(),
            timeout: b.receipt_timeout.unwrap_or(DEFAULT_RECEIPT_TIMEOUT),
            poll: b.receipt_poll.unwrap_or(DEFAULT_RECEIPT_POLL),
            send_lock: Default::default(),
        };
        Chain {
            registry: ModelRegistry::new(d.registry, provider.clone()),
            manager: InferenceManager::new(d.manager, provider.clone()),
            game: FaultDisputeGame::new(d.game, provider),
            ctx,
            signer,
            deployment: d,
        }
    }

    /// The same deployment and endpoint, signing with another key (no RPC round trip).
    pub fn with_private_key(&self, key: &str) -> Result<Chain, ChainError> {
        let signer = PrivateKeySigner::from_str(key.trim())
            .map_err(|e| ChainError::Config(format!("bad private key: {e}")))?;
        let b = ChainBuilder {
            rpc_url: Some(self.ctx.url.clone()),
            signer: Some(signer),
            key_error: None,
            deployment: Some(self.deployment.clone()),
            receipt_timeout: Some(self.ctx.timeout),
            receipt_poll: Some(self.ctx.poll),
            bounds: None,
        };
        let (url, signer, provider) = b.base()?;
        let d = self.deployment.clone();
        Ok(Chain::assemble(b, url, signer, provider, d))
    }

    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// The signing account.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    pub fn rpc_url(&self) -> &str {
        &self.ctx.url
    }

    /// The underlying alloy provider (with the signer), for anything not wrapped here.
    pub fn provider(&self) -> &DynProvider {
        &self.ctx.provider
    }

    /// An [`EventStream`](crate::EventStream) over this deployment from its start block.
    pub fn events(&self) -> crate::EventStream {
        crate::EventStream::new(&self.ctx.url, &self.deployment)
            .expect("the URL was already parsed by the builder")
    }

    fn rpc(&self, call: &'static str) -> impl FnOnce(alloy::contract::Error) -> ChainError + '_ {
        move |e| ChainError::from_contract(call, &self.ctx.url, e)
    }

    // ================================================================ plain chain helpers

    pub async fn block_number(&self) -> Result<u64, ChainError> {
        self.ctx
            .provider
            .get_block_number()
            .await
            .map_err(|e| ChainError::from_transport("eth_blockNumber", &self.ctx.url, e))
    }

    /// Timestamp of the latest block.
    pub async fn timestamp(&self) -> Result<u64, ChainError> {
        let b = self
            .ctx
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(|e| ChainError::from_transport("eth_getBlockByNumber", &self.ctx.url, e))?
            .ok_or(ChainError::Decode {
                what: "eth_getBlockByNumber",
                message: "no latest block".into(),
            })?;
        Ok(b.header.timestamp)
    }

    pub async fn balance(&self, who: Address) -> Result<U256, ChainError> {
        self.ctx
            .provider
            .get_balance(who)
            .await
            .map_err(|e| ChainError::from_transport("eth_getBalance", &self.ctx.url, e))
    }

    /// Plain ether transfer from the signer (funding test accounts etc.).
    pub async fn transfer(&self, to: Address, value: U256) -> Result<Tx, ChainError> {
        let req = alloy::rpc::types::TransactionRequest::default()
            .with_to(to)
            .with_value(value);
        let guard = self.ctx.send_lock.lock().await;
        let pending = self
            .ctx
            .provider
            .send_transaction(req)
            .await
            .map_err(|e| ChainError::from_transport("transfer", &self.ctx.url, e))?;
        let r = self
            .ctx
            .wait_receipt("transfer", *pending.tx_hash())
            .await?;
        drop(guard);
        Ok(tx_of(&r, ()))
    }

    // ================================================================ ModelRegistry

    /// Registers a model; the value is its id.
    pub async fn register(&self, r: &Registration) -> Result<Tx<u64>, ChainError> {
        let tx = self
            .ctx
            .send_event::<_, _, ModelRegistry::ModelRegistered>(
                "register",
                self.deployment.registry,
                self.registry.register(r.to_registry()?),
            )
            .await?;
        let id = id_u64(tx.value.modelId, "register")?;
        Ok(tx.map(|_| id))
    }

    /// Registers a model whose weights (and shifts) are committed under `weights_root`
    /// (docs/commitments.md "Weights root"); the value is its id.
    pub async fn register_with_weights(
        &self,
        r: &Registration,
        weights_root: B256,
    ) -> Result<Tx<u64>, ChainError> {
        let tx = self
            .ctx
            .send_event::<_, _, ModelRegistry::ModelRegistered>(
                "registerWithWeights",
                self.deployment.registry,
                self.registry
                    .registerWithWeights(r.to_registry()?, weights_root),
            )
            .await?;
        let id = id_u64(tx.value.modelId, "registerWithWeights")?;
        Ok(tx.map(|_| id))
    }

    pub async fn set_active(&self, model_id: u64, active: bool) -> Result<Tx, ChainError> {
        self.ctx
            .send(
                "setActive",
                self.registry.setActive(U256::from(model_id), active),
            )
            .await
    }

    /// Registers a model whose keys still need phase-2 contributions: requests open once the
    /// owner accepted a verified contribution after `window` seconds (docs/zk.md, "On-chain
    /// protocol"). `r.circuit_root` and `transcript_hash` are those of the initial keys.
    pub async fn register_with_ceremony(
        &self,
        r: &Registration,
        transcript_hash: B256,
        window: u64,
    ) -> Result<Tx<u64>, ChainError> {
        let tx = self
            .ctx
            .send_event::<_, _, ModelRegistry::ModelRegistered>(
                "registerWithCeremony",
                self.deployment.registry,
                self.registry
                    .registerWithCeremony(r.to_registry()?, transcript_hash, window),
            )
            .await?;
        let id = id_u64(tx.value.modelId, "registerWithCeremony")?;
        Ok(tx.map(|_| id))
    }

    /// The owner accepts contribution `index` (after verifying it and its chain): its circuit
    /// root becomes the model's and requests open. Only after the window closed.
    pub async fn accept_contribution(&self, model_id: u64, index: u32) -> Result<Tx, ChainError> {
        self.ctx
            .send(
                "acceptContribution",
                self.registry
                    .acceptContribution(U256::from(model_id), index),
            )
            .await
    }

    /// The owner extends a ceremony's window to `closes_at` (unix seconds).
    pub async fn extend_ceremony(&self, model_id: u64, closes_at: u64) -> Result<Tx, ChainError> {
        self.ctx
            .send(
                "extendCeremony",
                self.registry
                    .extendCeremony(U256::from(model_id), closes_at),
            )
            .await
    }

    /// Contribution `index` of a model's ceremony.
    pub async fn get_contribution(
        &self,
        model_id: u64,
        index: u32,
    ) -> Result<ContributionRecord, ChainError> {
        let c = self
            .registry
            .getContribution(U256::from(model_id), U256::from(index))
            .call()
            .await
            .map_err(self.rpc("getContribution"))?;
        Ok(ContributionRecord {
            contributor: c.contributor,
            parent: c.parent,
            transcript_hash: c.transcriptHash,
            circuit_root: c.circuitRoot,
            keys_cid: c.keysCid,
        })
    }

    /// 1 + the index of the contribution the owner accepted (0 while none is).
    pub async fn accepted_contribution(&self, model_id: u64) -> Result<u32, ChainError> {
        self.registry
            .acceptedContribution(U256::from(model_id))
            .call()
            .await
            .map_err(self.rpc("acceptedContribution"))
    }

    /// Records a phase-2 contribution on top of the keys whose transcript hash is `prev` (the
    /// initial keys' or any recorded contribution's).
    pub async fn contribute(
        &self,
        model_id: u64,
        prev: B256,
        transcript_hash: B256,
        circuit_root: B256,
        keys_cid: &str,
    ) -> Result<Tx, ChainError> {
        self.ctx
            .send(
                "contribute",
                self.registry.contribute(
                    U256::from(model_id),
                    prev,
                    transcript_hash,
                    circuit_root,
                    keys_cid.to_string(),
                ),
            )
            .await
    }

    /// `(closesAt, contributions, transcriptHash, done)` of a model's ceremony (`closesAt` 0:
    /// registered without one).
    pub async fn ceremony_info(&self, model_id: u64) -> Result<(u64, u32, B256, bool), ChainError> {
        let r = self
            .registry
            .ceremonyInfo(U256::from(model_id))
            .call()
            .await
            .map_err(self.rpc("ceremonyInfo"))?;
        Ok((r.closesAt, r.contributions, r.transcriptHash, r.done))
    }

    /// Where the keys of a model's ceremony are published: the accepted contribution's once
    /// accepted, before that the latest contribution's, `""` before the first.
    pub async fn ceremony_keys(&self, model_id: u64) -> Result<String, ChainError> {
        self.registry
            .ceremonyKeys(U256::from(model_id))
            .call()
            .await
            .map_err(self.rpc("ceremonyKeys"))
    }

    pub async fn model_count(&self) -> Result<u64, ChainError> {
        let n = self
            .registry
            .modelCount()
            .call()
            .await
            .map_err(self.rpc("modelCount"))?;
        id_u64(n, "modelCount")
    }

    pub async fn get_model(&self, model_id: u64) -> Result<Model, ChainError> {
        let m = self
            .registry
            .getModel(U256::from(model_id))
            .call()
            .await
            .map_err(self.rpc("getModel"))?;
        let weights_root = self
            .registry
            .weightsRoot(U256::from(model_id))
            .call()
            .await
            .map_err(self.rpc("weightsRoot"))?;
        Ok(Model {
            weights_root,
            ..Model::from_registry(m)
        })
    }

    /// `(numOps, stateDepth, params)` of a model.
    pub async fn dispute_info(
        &self,
        model_id: u64,
    ) -> Result<(u32, u8, DisputeParams), ChainError> {
        let r = self
            .registry
            .disputeInfo(U256::from(model_id))
            .call()
            .await
            .map_err(self.rpc("disputeInfo"))?;
        Ok((
            r.numOps,
            r.stateDepth,
            DisputeParams::from_registry(r.params),
        ))
    }

    // ================================================================ InferenceManager

    /// Request with the input inline (`fee` in wei): its values in canonical layout, sent as
    /// packed bytes (docs/commitments.md "Boundary tensors"); the value is the request id.
    pub async fn request_inference(
        &self,
        model_id: u64,
        input: &[i32],
        deadline: u64,
        fee: U256,
    ) -> Result<Tx<u64>, ChainError> {
        let b = self
            .manager
            .requestInference(U256::from(model_id), pack_values(input), deadline)
            .value(fee);
        let tx = self
            .ctx
            .send_event::<_, _, InferenceManager::InferenceRequested>(
                "requestInference",
                self.deployment.manager,
                b,
            )
            .await?;
        let id = id_u64(tx.value.requestId, "requestInference")?;
        Ok(tx.map(|_| id))
    }

    /// Request for an input stored under `input_cid` (its packed bytes) whose boundary chunk
    /// leaves have the root `chunks_root` (the contract computes the tensor root with the
    /// registered geometry).
    pub async fn request_inference_by_root(
        &self,
        model_id: u64,
        chunks_root: B256,
        input_cid: &str,
        deadline: u64,
        fee: U256,
    ) -> Result<Tx<u64>, ChainError> {
        let b = self
            .manager
            .requestInferenceByRoot(
                U256::from(model_id),
                chunks_root,
                input_cid.to_string(),
                deadline,
            )
            .value(fee);
        let tx = self
            .ctx
            .send_event::<_, _, InferenceManager::InferenceRequested>(
                "requestInferenceByRoot",
                self.deployment.manager,
                b,
            )
            .await?;
        let id = id_u64(tx.value.requestId, "requestInferenceByRoot")?;
        Ok(tx.map(|_| id))
    }

    /// Step 1 of answering a request: commits to `final_root` from this sender (it must be mined
    /// in an earlier block than [`Chain::submit_result`]; a result copied from the mempool has
    /// no commitment of its copier's).
    pub async fn commit_result(&self, request_id: u64, final_root: B256) -> Result<Tx, ChainError> {
        let c = self
            .manager
            .resultCommitment(U256::from(request_id), final_root, self.address())
            .call()
            .await
            .map_err(self.rpc("resultCommitment"))?;
        self.ctx
            .send("commitResult", self.manager.commitResult(c))
            .await
    }

    /// Both steps: [`Chain::commit_result`], then [`Chain::submit_result`] once the commitment
    /// is mined; the value is the submit transaction's (the result nonce).
    pub async fn answer(
        &self,
        request_id: u64,
        answer: &Answer,
        bond: U256,
    ) -> Result<Tx<u32>, ChainError> {
        self.commit_result(request_id, answer.final_root).await?;
        self.submit_result(request_id, answer, bond).await
    }

    /// Step 2: answers a request with the submitter bond `bond` (after [`Chain::commit_result`]
    /// was mined); the value is the result nonce.
    pub async fn submit_result(
        &self,
        request_id: u64,
        answer: &Answer,
        bond: U256,
    ) -> Result<Tx<u32>, ChainError> {
        let b = self
            .manager
            .submitResult(
                U256::from(request_id),
                answer.final_root,
                answer.output_root,
                answer.output_path.clone(),
                pack_values(&answer.output),
            )
            .value(bond);
        let tx = self
            .ctx
            .send_event::<_, _, InferenceManager::ResultSubmitted>(
                "submitResult",
                self.deployment.manager,
                b,
            )
            .await?;
        Ok(tx.map(|e| e.resultNonce))
    }

    /// Opens a game against the live result `res` of request `rq`; the value is the game id.
    pub async fn challenge(
        &self,
        request_id: u64,
        rq: &RequestRecord,
        res: &ResultRecord,
        challenger_root: B256,
        bond: U256,
    ) -> Result<Tx<u64>, ChainError> {
        let b = self
            .manager
            .challenge(
                U256::from(request_id),
                rq.to_manager(),
                res.to_manager(),
                challenger_root,
            )
            .value(bond);
        let tx = self
            .ctx
            .send_event::<_, _, InferenceManager::ChallengeOpened>(
                "challenge",
                self.deployment.manager,
                b,
            )
            .await?;
        let id = id_u64(tx.value.gameId, "challenge")?;
        Ok(tx.map(|_| id))
    }

    /// Finalises a result whose window closed with no game running: its submitter is credited.
    pub async fn finalize(
        &self,
        request_id: u64,
        rq: &RequestRecord,
        res: &ResultRecord,
    ) -> Result<Tx, ChainError> {
        self.ctx
            .send(
                "finalize",
                self.manager
                    .finalize(U256::from(request_id), rq.to_manager(), res.to_manager()),
            )
            .await
    }

    /// [`Chain::finalize`] by the submitter itself, paid at once (no credit, no withdraw).
    pub async fn claim(
        &self,
        request_id: u64,
        rq: &RequestRecord,
        res: &ResultRecord,
    ) -> Result<Tx, ChainError> {
        self.ctx
            .send(
                "claim",
                self.manager
                    .claim(U256::from(request_id), rq.to_manager(), res.to_manager()),
            )
            .await
    }

    pub async fn refund(&self, request_id: u64, rq: &RequestRecord) -> Result<Tx, ChainError> {
        self.ctx
            .send(
                "refund",
                self.manager.refund(U256::from(request_id), rq.to_manager()),
            )
            .await
    }

    /// Pulls the signer's credits; the value is the amount paid out.
    pub async fn withdraw(&self) -> Result<Tx<U256>, ChainError> {
        let tx = self
            .ctx
            .send_event::<_, _, InferenceManager::Withdrawn>(
                "withdraw",
                self.deployment.manager,
                self.manager.withdraw(),
            )
            .await?;
        Ok(tx.map(|e| e.amount))
    }

    pub async fn request_count(&self) -> Result<u64, ChainError> {
        let n = self
            .manager
            .requestCount()
            .call()
            .await
            .map_err(self.rpc("requestCount"))?;
        id_u64(n, "requestCount")
    }

    /// The request's mutable state.
    pub async fn get_request(&self, request_id: u64) -> Result<Request, ChainError> {
        let r = self
            .manager
            .getRequest(U256::from(request_id))
            .call()
            .await
            .map_err(self.rpc("getRequest"))?;
        Request::from_manager(r)
    }

    /// The hash of the live (or final) result's record; zero when there is none.
    pub async fn result_hash(&self, request_id: u64) -> Result<B256, ChainError> {
        self.manager
            .resultHash(U256::from(request_id))
            .call()
            .await
            .map_err(self.rpc("resultHash"))
    }

    /// The manager's logs with `topic0` and `topic1`, oldest first, read from the deployment
    /// block to the head in ranges of at most 2,000 blocks (providers cap eth_getLogs).
    async fn manager_logs(
        &self,
        topic0: B256,
        topic1: B256,
    ) -> Result<Vec<alloy::rpc::types::Log>, ChainError> {
        const RANGE: u64 = 2000;
        let head = self.block_number().await?;
        let mut out = Vec::new();
        let mut from = self.deployment.start_block;
        while from <= head {
            let to = head.min(from + RANGE - 1);
            let filter = alloy::rpc::types::Filter::new()
                .address(self.deployment.manager)
                .event_signature(topic0)
                .topic1(topic1)
                .from_block(from)
                .to_block(to);
            out.extend(
                self.ctx
                    .provider
                    .get_logs(&filter)
                    .await
                    .map_err(|e| ChainError::from_transport("eth_getLogs", &self.ctx.url, e))?,
            );
            from = to + 1;
        }
        Ok(out)
    }

    /// The logs of `E` about `request_id` (its first indexed topic), oldest first.
    async fn request_logs<E: SolEvent>(
        &self,
        request_id: u64,
    ) -> Result<Vec<(alloy::rpc::types::Log, E)>, ChainError> {
        let logs = self
            .manager_logs(E::SIGNATURE_HASH, B256::from(U256::from(request_id)))
            .await?;
        logs.into_iter()
            .map(|l| {
                let e = E::decode_log_data(&l.inner.data).map_err(|e| ChainError::Decode {
                    what: E::SIGNATURE,
                    message: e.to_string(),
                })?;
                Ok((l, e))
            })
            .collect()
    }

    /// The record of a request, from its `InferenceRequested` event, checked against the hash
    /// the manager stores.
    pub async fn request_record(&self, request_id: u64) -> Result<RequestRecord, ChainError> {
        let want = self
            .manager
            .requestHash(U256::from(request_id))
            .call()
            .await
            .map_err(self.rpc("requestHash"))?;
        self.request_logs::<InferenceManager::InferenceRequested>(request_id)
            .await?
            .iter()
            .map(|(_, e)| RequestRecord::from_event(e))
            .find(|r| r.hash() == want)
            .ok_or_else(|| {
                ChainError::NotOnChain(format!(
                    "request {request_id}: no InferenceRequested event matches its stored record"
                ))
            })
    }

    /// The record of the live (or final) result of a request, from the latest matching
    /// `ResultSubmitted`; `None` when the request has no result now.
    pub async fn result_record(
        &self,
        request_id: u64,
    ) -> Result<Option<(ResultRecord, u32, Option<B256>)>, ChainError> {
        let want = self.result_hash(request_id).await?;
        if want == B256::ZERO {
            return Ok(None);
        }
        Ok(self
            .request_logs::<InferenceManager::ResultSubmitted>(request_id)
            .await?
            .iter()
            .rev()
            .map(|(l, e)| {
                (
                    ResultRecord::from_event(e),
                    e.resultNonce,
                    l.transaction_hash,
                )
            })
            .find(|(r, _, _)| r.hash() == want))
    }

    /// The transactions of a request's honest path, in order: the request, the live (or
    /// final) result's commitment and submission, and its finalisation (finalize or claim),
    /// each `(function, transaction)`; steps not taken yet are left out.
    pub async fn honest_path_txs(
        &self,
        request_id: u64,
    ) -> Result<Vec<(&'static str, B256)>, ChainError> {
        let mut out = Vec::new();
        if let Some((l, e)) = self
            .request_logs::<InferenceManager::InferenceRequested>(request_id)
            .await?
            .first()
        {
            let f = if e.inputCid.is_empty() {
                "requestInference"
            } else {
                "requestInferenceByRoot"
            };
            out.extend(l.transaction_hash.map(|h| (f, h)));
        }
        let submitted = self
            .request_logs::<InferenceManager::ResultSubmitted>(request_id)
            .await?;
        if let Some((l, e)) = submitted.last() {
            let commitment = self
                .manager
                .resultCommitment(U256::from(request_id), e.finalRoot, e.submitter)
                .call()
                .await
                .map_err(self.rpc("resultCommitment"))?;
            let commits = self
                .manager_logs(
                    InferenceManager::ResultCommitted::SIGNATURE_HASH,
                    commitment,
                )
                .await?;
            out.extend(
                commits
                    .first()
                    .and_then(|c| c.transaction_hash)
                    .map(|h| ("commitResult", h)),
            );
            out.extend(l.transaction_hash.map(|h| ("submitResult", h)));
        }
        if let Some((l, _)) = self
            .request_logs::<InferenceManager::ResultFinalized>(request_id)
            .await?
            .first()
        {
            if let Some(h) = l.transaction_hash {
                let f = match self.manager_call(h).await? {
                    Some(InferenceManager::InferenceManagerCalls::claim(_)) => "claim",
                    _ => "finalize",
                };
                out.push((f, h));
            }
        }
        Ok(out)
    }

    /// The inline input of a request (canonical layout): the `input` argument of its
    /// `requestInference` transaction, or its `InferenceInput` event when a contract made it.
    /// `None` for a request by CID.
    pub async fn inline_input(
        &self,
        request_id: u64,
        tx: Option<B256>,
    ) -> Result<Option<Vec<i32>>, ChainError> {
        if let Some(h) = tx {
            if let Some(InferenceManager::InferenceManagerCalls::requestInference(c)) =
                self.manager_call(h).await?
            {
                return Ok(unpack_values(&c.input));
            }
        }
        let logs = self
            .request_logs::<InferenceManager::InferenceInput>(request_id)
            .await?;
        Ok(logs.last().and_then(|(_, e)| unpack_values(&e.input)))
    }

    /// The inline output of result `nonce` of a request, from its `submitResult` transaction
    /// `tx` or its `ResultOutput` event; `None` if it was submitted by root only.
    pub async fn inline_output(
        &self,
        request_id: u64,
        nonce: u32,
        tx: Option<B256>,
    ) -> Result<Option<Vec<i32>>, ChainError> {
        if let Some(h) = tx {
            if let Some(InferenceManager::InferenceManagerCalls::submitResult(c)) =
                self.manager_call(h).await?
            {
                if !c.output.is_empty() {
                    return Ok(unpack_values(&c.output));
                }
                return Ok(None);
            }
        }
        let logs = self
            .request_logs::<InferenceManager::ResultOutput>(request_id)
            .await?;
        Ok(logs
            .iter()
            .rev()
            .find(|(_, e)| e.resultNonce == nonce)
            .and_then(|(_, e)| unpack_values(&e.output)))
    }

    /// The manager call a transaction made directly (`None` when it called another contract).
    async fn manager_call(
        &self,
        tx: B256,
    ) -> Result<Option<InferenceManager::InferenceManagerCalls>, ChainError> {
        use alloy::consensus::Transaction as _;
        use alloy::sol_types::SolInterface;
        let t = self
            .ctx
            .provider
            .get_transaction_by_hash(tx)
            .await
            .map_err(|e| {
                ChainError::from_transport("eth_getTransactionByHash", &self.ctx.url, e)
            })?;
        let Some(t) = t else { return Ok(None) };
        if t.inner.to() != Some(self.deployment.manager) {
            return Ok(None);
        }
        Ok(InferenceManager::InferenceManagerCalls::abi_decode(t.inner.input()).ok())
    }

    /// Output of a finalised request, checked by the manager's `finalOutput` against the
    /// result's output root. Fails for an output submitted by root only (compute it from the
    /// input with the model, as a challenger does).
    pub async fn final_output(&self, request_id: u64) -> Result<Vec<i32>, ChainError> {
        let (res, nonce, tx) = self
            .result_record(request_id)
            .await?
            .ok_or_else(|| ChainError::NotOnChain(format!("request {request_id} has no result")))?;
        let out = self.inline_output(request_id, nonce, tx).await?.ok_or_else(|| {
            ChainError::NotOnChain(format!(
                "request {request_id}: the output was submitted by its root only; compute it from the input"
            ))
        })?;
        self.manager
            .finalOutput(U256::from(request_id), res.to_manager(), pack_values(&out))
            .call()
            .await
            .map_err(self.rpc("finalOutput"))
    }

    pub async fn is_result_live(
        &self,
        request_id: u64,
        result_nonce: u32,
    ) -> Result<bool, ChainError> {
        self.manager
            .isResultLive(U256::from(request_id), result_nonce)
            .call()
            .await
            .map_err(self.rpc("isResultLive"))
    }

    /// Withdrawable wei of `who`.
    pub async fn credits(&self, who: Address) -> Result<U256, ChainError> {
        self.manager
            .credits(who)
            .call()
            .await
            .map_err(self.rpc("credits"))
    }

    /// `(totalEscrow, totalCredits)`: the manager's balance is their sum (plus what was burned).
    pub async fn totals(&self) -> Result<(U256, U256), ChainError> {
        let e = self
            .manager
            .totalEscrow()
            .call()
            .await
            .map_err(self.rpc("totalEscrow"))?;
        let c = self
            .manager
            .totalCredits()
            .call()
            .await
            .map_err(self.rpc("totalCredits"))?;
        Ok((e, c))
    }

    /// Tensor root of a boundary tensor (input or output) with geometry `meta`, computed by the
    /// contract from the packed values (keccak chunk leaves): a reference for off-chain code.
    pub async fn tensor_root_of(
        &self,
        meta: &TensorMeta,
        values: &[i32],
    ) -> Result<B256, ChainError> {
        self.manager
            .tensorRootOf(meta.to_manager(), pack_values(values))
            .call()
            .await
            .map_err(self.rpc("tensorRootOf"))
    }

    // ================================================================ FaultDisputeGame

    pub async fn post_roots(&self, game_id: u64, roots: &[B256]) -> Result<Tx, ChainError> {
        self.ctx
            .send(
                "postRoots",
                self.game.postRoots(U256::from(game_id), roots.to_vec()),
            )
            .await
    }

    pub async fn post_counter_roots(
        &self,
        game_id: u64,
        defender_roots: &[B256],
        roots: &[B256],
    ) -> Result<Tx, ChainError> {
        self.ctx
            .send(
                "postCounterRoots",
                self.game.postCounterRoots(
                    U256::from(game_id),
                    defender_roots.to_vec(),
                    roots.to_vec(),
                ),
            )
            .await
    }

    pub async fn reveal_tensor(
        &self,
        game_id: u64,
        meta: &TensorMeta,
        chunks_root: B256,
        meta_path: &[B256],
        siblings: &[B256],
    ) -> Result<Tx, ChainError> {
        self.ctx
            .send(
                "revealTensor",
                self.game.revealTensor(
                    U256::from(game_id),
                    meta.to_game(),
                    chunks_root,
                    meta_path.to_vec(),
                    siblings.to_vec(),
                ),
            )
            .await
    }

    pub async fn reveal_counter_tensor(
        &self,
        game_id: u64,
        chunks_root: B256,
        siblings: &[B256],
    ) -> Result<Tx, ChainError> {
        self.ctx
            .send(
                "revealCounterTensor",
                self.game
                    .revealCounterTensor(U256::from(game_id), chunks_root, siblings.to_vec()),
            )
            .await
    }

    pub async fn post_nodes(&self, game_id: u64, nodes: &[B256]) -> Result<Tx, ChainError> {
        self.ctx
            .send(
                "postNodes",
                self.game.postNodes(U256::from(game_id), nodes.to_vec()),
            )
            .await
    }

    pub async fn post_counter_nodes(
        &self,
        game_id: u64,
        defender_nodes: &[B256],
        nodes: &[B256],
    ) -> Result<Tx, ChainError> {
        self.ctx
            .send(
                "postCounterNodes",
                self.game.postCounterNodes(
                    U256::from(game_id),
                    defender_nodes.to_vec(),
                    nodes.to_vec(),
                ),
            )
            .await
    }

    pub async fn prove_step(&self, game_id: u64, proof: &StepProof) -> Result<Tx, ChainError> {
        self.ctx
            .send(
                "proveStep",
                self.game.proveStep(U256::from(game_id), proof.to_game()),
            )
            .await
    }

    pub async fn resolve_padding(&self, game_id: u64) -> Result<Tx, ChainError> {
        self.ctx
            .send(
                "resolvePadding",
                self.game.resolvePadding(U256::from(game_id)),
            )
            .await
    }

    pub async fn claim_timeout(&self, game_id: u64) -> Result<Tx, ChainError> {
        self.ctx
            .send("claimTimeout", self.game.claimTimeout(U256::from(game_id)))
            .await
    }

    pub async fn game_count(&self) -> Result<u64, ChainError> {
        let n = self
            .game
            .gameCount()
            .call()
            .await
            .map_err(self.rpc("gameCount"))?;
        id_u64(n, "gameCount")
    }

    pub async fn get_game(&self, game_id: u64) -> Result<Game, ChainError> {
        let g = self
            .game
            .getGame(U256::from(game_id))
            .call()
            .await
            .map_err(self.rpc("getGame"))?;
        Game::from_words(&g)
    }

    /// Positions of the roots the next `postRoots` / `postCounterRoots` carries.
    pub async fn positions(&self, game_id: u64) -> Result<Vec<u32>, ChainError> {
        self.game
            .positions(U256::from(game_id))
            .call()
            .await
            .map_err(self.rpc("positions"))
    }

    /// Tree levels the next chunk round descends (`2^m` nodes per move).
    pub async fn chunk_step(&self, game_id: u64) -> Result<u8, ChainError> {
        self.game
            .chunkStep(U256::from(game_id))
            .call()
            .await
            .map_err(self.rpc("chunkStep"))
    }

    pub async fn clocks(&self, game_id: u64) -> Result<Clocks, ChainError> {
        let c = self
            .game
            .clocks(U256::from(game_id))
            .call()
            .await
            .map_err(self.rpc("clocks"))?;
        Ok(Clocks {
            defender_left: c.defenderLeft,
            challenger_left: c.challengerLeft,
        })
    }
}
