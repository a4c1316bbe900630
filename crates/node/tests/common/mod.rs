//! Helpers shared by the node's anvil tests (e2e.rs, ceremony.rs).

#![allow(dead_code)]

use std::time::Duration;

use zkopml_chain::{Event, Outcome, Reason};
use zkopml_node::ActorSummary;

/// Waits for an actor task (`once`) to return its summary.
pub async fn join(
    h: tokio::task::JoinHandle<anyhow::Result<ActorSummary>>,
    what: &str,
) -> ActorSummary {
    tokio::time::timeout(Duration::from_secs(400), h)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish"))
        .unwrap()
        .unwrap()
}

/// (outcome, reason) of every resolved game, in order.
pub fn resolved(evs: &[Event]) -> Vec<(Outcome, Reason)> {
    evs.iter()
        .filter_map(|e| match e {
            Event::GameResolved(r) => Some((
                Outcome::try_from(r.outcome).unwrap(),
                Reason::try_from(r.reason).unwrap(),
            )),
            _ => None,
        })
        .collect()
}
