//! `EventStream`: every event of the three contracts, in chain order, exactly once, by polling
//! `eth_getLogs` from a serialisable cursor (docs/chain.md, "Event cursor").

use std::collections::VecDeque;
use std::path::Path;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEvent;
use serde::{Deserialize, Serialize};

use crate::bindings::{FaultDisputeGame as G, InferenceManager as M, ModelRegistry as R};
use crate::deployment::{write_atomic, Deployment};
use crate::error::ChainError;

/// Which contract emitted an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Source {
    Registry,
    Manager,
    Game,
}

macro_rules! events {
    ($( $src:ident $m:ident :: $ev:ident ),* $(,)?) => {
        /// An event of one of the three contracts (the payload is alloy's generated struct, with
        /// the Solidity field names).
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum Event {
            $( $ev($m::$ev), )*
        }

        impl Event {
            /// The Solidity event name.
            pub fn name(&self) -> &'static str {
                match self { $( Event::$ev(_) => stringify!($ev), )* }
            }

            /// The contract that emits this event.
            pub fn source(&self) -> Source {
                match self { $( Event::$ev(_) => Source::$src, )* }
            }

            /// Decodes a log emitted by `src`; `None` for a log none of the known events matches.
            fn decode(src: Source, log: &Log) -> Option<Result<Event, ChainError>> {
                let topic0 = *log.topic0()?;
                $(
                    if src == Source::$src && topic0 == $m::$ev::SIGNATURE_HASH {
                        return Some(
                            $m::$ev::decode_log_data(&log.inner.data)
                                .map(Event::$ev)
                                .map_err(|e| ChainError::Decode {
                                    what: stringify!($ev),
                                    message: e.to_string(),
                                }),
                        );
                    }
                )*
                None
            }
        }
    };
}

events!(
    Registry R::ModelRegistered,
    Registry R::ModelGeometry,
    Registry R::ModelParams,
    Registry R::ModelActiveSet,
    Registry R::CeremonyOpened,
    Registry R::Contributed,
    Registry R::CeremonyExtended,
    Registry R::ContributionAccepted,
    Manager M::InferenceRequested,
    Manager M::InferenceInput,
    Manager M::ResultOutput,
    Manager M::ResultCommitted,
    Manager M::ResultSubmitted,
    Manager M::ChallengeOpened,
    Manager M::GameSettled,
    Manager M::ResultFinalized,
    Manager M::ResultRejected,
    Manager M::RequestReopened,
    Manager M::RequestRefunded,
    Manager M::Credited,
    Manager M::Withdrawn,
    Manager M::GameSet,
    Manager M::Burned,
    Game G::GameCreated,
    Game G::RootsPosted,
    Game G::SegmentNarrowed,
    Game G::TensorRevealed,
    Game G::NodesPosted,
    Game G::ChunkNarrowed,
    Game G::StepProven,
    Game G::GameResolved,
);

impl Event {
    /// The model id the event is about, if any.
    pub fn model_id(&self) -> Option<U256> {
        Some(match self {
            Event::ModelRegistered(e) => e.modelId,
            Event::ModelGeometry(e) => e.modelId,
            Event::ModelParams(e) => e.modelId,
            Event::ModelActiveSet(e) => e.modelId,
            Event::CeremonyOpened(e) => e.modelId,
            Event::Contributed(e) => e.modelId,
            Event::CeremonyExtended(e) => e.modelId,
            Event::ContributionAccepted(e) => e.modelId,
            Event::InferenceRequested(e) => e.modelId,
            _ => return None,
        })
    }

    /// The request id the event is about, if any.
    pub fn request_id(&self) -> Option<U256> {
        Some(match self {
            Event::InferenceRequested(e) => e.requestId,
            Event::InferenceInput(e) => e.requestId,
            Event::ResultOutput(e) => e.requestId,
            Event::ResultSubmitted(e) => e.requestId,
            Event::ChallengeOpened(e) => e.requestId,
            Event::GameSettled(e) => e.requestId,
            Event::ResultFinalized(e) => e.requestId,
            Event::ResultRejected(e) => e.requestId,
            Event::RequestReopened(e) => e.requestId,
            Event::RequestRefunded(e) => e.requestId,
            Event::Burned(e) => e.requestId,
            Event::GameCreated(e) => e.requestId,
            _ => return None,
        })
    }

    /// The game id the event is about, if any.
    pub fn game_id(&self) -> Option<U256> {
        Some(match self {
            Event::ChallengeOpened(e) => e.gameId,
            Event::GameCreated(e) => e.gameId,
            Event::RootsPosted(e) => e.gameId,
            Event::SegmentNarrowed(e) => e.gameId,
            Event::TensorRevealed(e) => e.gameId,
            Event::NodesPosted(e) => e.gameId,
            Event::ChunkNarrowed(e) => e.gameId,
            Event::StepProven(e) => e.gameId,
            Event::GameResolved(e) => e.gameId,
            _ => return None,
        })
    }
}

/// An event with where it sits in the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub block_number: u64,
    pub block_hash: Option<B256>,
    pub log_index: u64,
    pub tx_hash: Option<B256>,
    pub event: Event,
}

impl EventRecord {
    /// The cursor that points just after this event.
    pub fn cursor_after(&self) -> Cursor {
        Cursor {
            block: self.block_number,
            after_log_index: Some(self.log_index),
        }
    }
}

/// Where a stream stands: every event before position `(block, after_log_index]` inclusive has
/// been delivered. The next event delivered is the first log with
/// `(block_number, log_index) > (block, after_log_index)`, where `None` means "nothing in
/// `block` yet". Save it after handling an event and a restarted process resumes exactly there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cursor {
    pub block: u64,
    pub after_log_index: Option<u64>,
}

impl Cursor {
    /// Start at the first event of `block`.
    pub fn at_block(block: u64) -> Cursor {
        Cursor {
            block,
            after_log_index: None,
        }
    }

    fn is_before(&self, block: u64, log_index: u64) -> bool {
        block > self.block
            || (block == self.block && self.after_log_index.is_none_or(|i| log_index > i))
    }

    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ChainError> {
        let json = serde_json::to_string_pretty(self).expect("a cursor serialises");
        write_atomic(path.as_ref(), json.as_bytes())
    }

    pub fn load(path: impl AsRef<Path>) -> Result<Cursor, ChainError> {
        let path = path.as_ref();
        let s = std::fs::read_to_string(path).map_err(|source| ChainError::Io {
            path: path.display().to_string(),
            source,
        })?;
        serde_json::from_str(&s).map_err(|source| ChainError::Json {
            path: path.display().to_string(),
            source,
        })
    }
}

/// Tuning of an [`EventStream`].
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// Most blocks per `eth_getLogs` (halved on a node's "too many results" answer). Default 2000.
    pub max_block_range: u64,
    /// Only blocks at least this deep are read (reorg safety on a real chain). Default 0.
    pub confirmations: u64,
    /// Sleep between polls when caught up. Default 200 ms.
    pub poll_interval: Duration,
    /// First retry delay after a failed RPC call; doubles up to `max_backoff`. Default 100 ms.
    pub initial_backoff: Duration,
    /// Default 5 s.
    pub max_backoff: Duration,
    /// Give up (return `NoRpc`) after the endpoint was unreachable this long; `None` (the
    /// default) retries forever.
    pub give_up_after: Option<Duration>,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            max_block_range: 2000,
            confirmations: 0,
            poll_interval: Duration::from_millis(200),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            give_up_after: None,
        }
    }
}

/// Counters for monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// RPC calls that failed and were retried.
    pub retries: u64,
    /// Times the endpoint went from reachable to unreachable.
    pub outages: u64,
    /// `eth_getLogs` calls that succeeded.
    pub log_queries: u64,
    /// Events delivered.
    pub delivered: u64,
}

/// Polls the three contracts' logs from a [`Cursor`] (see the module docs).
pub struct EventStream {
    url: String,
    provider: DynProvider,
    registry: Address,
    manager: Address,
    game: Address,
    cursor: Cursor,
    /// Events fetched but not yet delivered, in chain order.
    buffer: VecDeque<EventRecord>,
    /// Last block whose logs are all in `buffer` or delivered.
    scanned_to: Option<u64>,
    range: u64,
    cfg: StreamConfig,
    stats: StreamStats,
    down_since: Option<Instant>,
}

impl EventStream {
    /// A stream over `deployment` starting at its `start_block`.
    pub fn new(rpc_url: &str, deployment: &Deployment) -> Result<EventStream, ChainError> {
        let parsed = rpc_url
            .parse()
            .map_err(|e| ChainError::Config(format!("bad RPC URL {rpc_url}: {e}")))?;
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_http(parsed)
            .erased();
        let cfg = StreamConfig::default();
        Ok(EventStream {
            url: rpc_url.to_string(),
            provider,
            registry: deployment.registry,
            manager: deployment.manager,
            game: deployment.game,
            cursor: Cursor::at_block(deployment.start_block),
            buffer: VecDeque::new(),
            scanned_to: None,
            range: cfg.max_block_range.max(1),
            cfg,
            stats: StreamStats::default(),
            down_since: None,
        })
    }

    /// Resume from a saved cursor.
    pub fn from_cursor(mut self, cursor: Cursor) -> Self {
        self.cursor = cursor;
        self.buffer.clear();
        self.scanned_to = None;
        self
    }

    pub fn with_config(mut self, cfg: StreamConfig) -> Self {
        self.range = cfg.max_block_range.max(1);
        self.cfg = cfg;
        self
    }

    /// Position after the last delivered event (what to save).
    pub fn cursor(&self) -> Cursor {
        self.cursor
    }

    pub fn stats(&self) -> StreamStats {
        self.stats
    }

    /// The next event; waits (polling) until there is one. RPC failures are retried with backoff
    /// (forever unless `give_up_after` is set); decode errors and non-transient RPC errors are
    /// returned. After an error the stream can be polled again: nothing was skipped.
    pub async fn next(&mut self) -> Result<EventRecord, ChainError> {
        loop {
            if let Some(ev) = self.pop() {
                return Ok(ev);
            }
            if !self.fetch().await? {
                tokio::time::sleep(self.cfg.poll_interval).await;
            }
        }
    }

    /// Every event available now, up to the current head (minus `confirmations`); does not wait
    /// for new blocks, but does retry through an outage like `next`. The cursor ends after the
    /// last returned event (and after all scanned blocks).
    pub async fn poll(&mut self) -> Result<Vec<EventRecord>, ChainError> {
        let mut out = Vec::new();
        loop {
            while let Some(ev) = self.pop() {
                out.push(ev);
            }
            match self.fetch().await {
                Ok(true) => {}
                Ok(false) => return Ok(out),
                // the delivered events stand (the cursor is past them); the error comes back on
                // the next call
                Err(_) if !out.is_empty() => return Ok(out),
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits until an event arrives or `timeout` passes.
    pub async fn next_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<EventRecord>, ChainError> {
        match tokio::time::timeout(timeout, self.next()).await {
            Ok(r) => r.map(Some),
            Err(_) => Ok(None),
        }
    }

    fn pop(&mut self) -> Option<EventRecord> {
        let ev = self.buffer.pop_front()?;
        self.cursor = ev.cursor_after();
        if self.buffer.is_empty() {
            if let Some(to) = self.scanned_to {
                self.cursor = Cursor::at_block(to + 1);
            }
        }
        self.stats.delivered += 1;
        Some(ev)
    }

    /// Reads the next block range into the buffer. False when there is nothing new to read.
    async fn fetch(&mut self) -> Result<bool, ChainError> {
        debug_assert!(self.buffer.is_empty());
        let head = self
            .retry(
                "eth_blockNumber",
                |p| async move { p.get_block_number().await },
            )
            .await?;
        let safe = head.saturating_sub(self.cfg.confirmations);
        let from = self.cursor.block;
        if from > safe {
            return Ok(false);
        }
        loop {
            let to = safe.min(from.saturating_add(self.range - 1));
            let filter = Filter::new()
                .address(vec![self.registry, self.manager, self.game])
                .from_block(from)
                .to_block(to);
            let res = self
                .retry_resp("eth_getLogs", |p| {
                    let f = filter.clone();
                    async move { p.get_logs(&f).await }
                })
                .await?;
            let logs = match res {
                Ok(logs) => logs,
                Err(message) => {
                    if self.range > 1 {
                        // e.g. "query returned more than 10000 results": ask for less
                        self.range = (self.range / 2).max(1);
                        tracing::debug!(range = self.range, %message, "eth_getLogs refused; narrowing");
                        continue;
                    }
                    return Err(ChainError::Rpc {
                        call: "eth_getLogs",
                        message,
                    });
                }
            };
            self.stats.log_queries += 1;
            let mut recs = Vec::with_capacity(logs.len());
            for log in logs {
                if log.removed {
                    continue;
                }
                let (Some(bn), Some(li)) = (log.block_number, log.log_index) else {
                    continue; // pending logs carry no position
                };
                if bn < from || bn > to || !self.cursor.is_before(bn, li) {
                    continue;
                }
                let src = if log.address() == self.registry {
                    Source::Registry
                } else if log.address() == self.manager {
                    Source::Manager
                } else if log.address() == self.game {
                    Source::Game
                } else {
                    continue;
                };
                match Event::decode(src, &log) {
                    Some(ev) => recs.push(EventRecord {
                        block_number: bn,
                        block_hash: log.block_hash,
                        log_index: li,
                        tx_hash: log.transaction_hash,
                        event: ev?,
                    }),
                    None => tracing::warn!(block = bn, log_index = li, "unknown event skipped"),
                }
            }
            recs.sort_by_key(|r| (r.block_number, r.log_index));
            recs.dedup_by_key(|r| (r.block_number, r.log_index));
            self.buffer.extend(recs);
            self.scanned_to = Some(to);
            if self.buffer.is_empty() {
                self.cursor = Cursor::at_block(to + 1);
            }
            // widen again slowly after a narrowing
            self.range = (self.range * 2).min(self.cfg.max_block_range.max(1));
            return Ok(true);
        }
    }

    /// Runs an RPC call, retrying transport failures with backoff.
    async fn retry<T, F, Fut>(&mut self, call: &'static str, f: F) -> Result<T, ChainError>
    where
        F: Fn(DynProvider) -> Fut,
        Fut: std::future::Future<Output = alloy::transports::TransportResult<T>>,
    {
        match self.retry_resp(call, f).await? {
            Ok(v) => Ok(v),
            Err(message) => Err(ChainError::Rpc { call, message }),
        }
    }

    /// Like `retry`, but an error *response* of the node is handed back as `Ok(Err(message))`.
    async fn retry_resp<T, F, Fut>(
        &mut self,
        call: &'static str,
        f: F,
    ) -> Result<Result<T, String>, ChainError>
    where
        F: Fn(DynProvider) -> Fut,
        Fut: std::future::Future<Output = alloy::transports::TransportResult<T>>,
    {
        let mut backoff = self.cfg.initial_backoff;
        loop {
            match f(self.provider.clone()).await {
                Ok(v) => {
                    if self.down_since.take().is_some() {
                        tracing::info!(url = %self.url, "RPC reachable again; catching up");
                    }
                    return Ok(Ok(v));
                }
                Err(alloy::transports::RpcError::ErrorResp(p)) => return Ok(Err(p.to_string())),
                Err(e) => {
                    let err = ChainError::from_transport(call, &self.url, e);
                    let since = *self.down_since.get_or_insert_with(|| {
                        self.stats.outages += 1;
                        Instant::now()
                    });
                    if let Some(limit) = self.cfg.give_up_after {
                        if since.elapsed() >= limit {
                            return Err(err);
                        }
                    }
                    self.stats.retries += 1;
                    tracing::warn!(url = %self.url, error = %err, ?backoff, "RPC failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.cfg.max_backoff);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_order_and_json() {
        let c = Cursor {
            block: 5,
            after_log_index: Some(2),
        };
        assert!(!c.is_before(5, 2) && c.is_before(5, 3) && c.is_before(6, 0) && !c.is_before(4, 9));
        assert!(Cursor::at_block(5).is_before(5, 0));
        let j = serde_json::to_string(&c).unwrap();
        assert_eq!(j, r#"{"block":5,"afterLogIndex":2}"#);
        assert_eq!(serde_json::from_str::<Cursor>(&j).unwrap(), c);
    }
}
