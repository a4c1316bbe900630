//! Round counts of the dissection game, by the contracts' own rules (docs/protocol.md):
//!
//! - level 1, operators: `FaultDisputeGame._positions` cuts the segment `[lo, hi]` of length
//!   `L` at `lo + floor(t·L/a)`, `t = 1..a-1`, with `a = L` if `L <= N` and `a = min(k, L)`
//!   otherwise; the challenger's first differing root ends the new segment;
//! - the disputed operator: one round (`revealTensor`, `revealCounterTensor`);
//! - level 2, chunks: `_chunkStep` descends `min(floor(log2 k), height)` levels of the chunk
//!   tree per round, from `height = Merkle.ceilLog2(numChunks)` of the disputed slot.
//!
//! A round is one move of each party (two transactions). A game also has the `challenge` that
//! opens it and the final `proveStep`. The counts here are for the game that dissects down to a
//! given (operator, chunk); [`worst_case`] takes the longest over every operator of a model,
//! and [`best_arity`] picks the arity that minimises it. `contracts/test/Rounds.t.sol` checks
//! the contract against the vectors of [`vectors`] (`contracts/test/vectors/rounds.json`).

use serde::Serialize;

/// `ModelRegistry.MAX_ARITY` and `MAX_GROUP`.
pub const MAX_ARITY: u16 = 256;
pub const MAX_GROUP: u16 = 256;

/// Dispute parameters the registry would reject, or an operator the model does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DissectionError {
    #[error("arity k = {0}: the registry accepts 2 <= k <= {MAX_ARITY}")]
    Arity(u16),
    #[error("group size N = {0}: the registry accepts 1 <= N <= {MAX_GROUP}")]
    Group(u16),
    #[error("a model has at least one operator")]
    NoOps,
    #[error("operator {op}: the model has operators 1..={n}")]
    Op { op: u32, n: u32 },
}

fn check(n: u32, arity: u16, max_group: u16) -> Result<(), DissectionError> {
    if !(2..=MAX_ARITY).contains(&arity) {
        return Err(DissectionError::Arity(arity));
    }
    if !(1..=MAX_GROUP).contains(&max_group) {
        return Err(DissectionError::Group(max_group));
    }
    if n == 0 {
        return Err(DissectionError::NoOps);
    }
    Ok(())
}

/// `FaultDisputeGame._positions(lo, hi, arity, maxGroup)`: the intermediate positions of a
/// round on the segment `[lo, hi]` (`lo < hi`).
pub fn positions(lo: u32, hi: u32, arity: u16, max_group: u16) -> Vec<u32> {
    let len = u64::from(hi.saturating_sub(lo));
    let a = if len <= u64::from(max_group) {
        len
    } else {
        u64::from(arity).min(len)
    };
    (1..a).map(|t| lo + (t * len / a) as u32).collect()
}

/// `Merkle.ceilLog2(x)`: the smallest `r` with `2^r >= x` (0 for `x <= 1`).
pub fn ceil_log2(x: u64) -> u32 {
    let mut r = 0;
    while r < 64 && (1u64 << r) < x {
        r += 1;
    }
    r
}

/// `FaultDisputeGame._chunkStep(arity, height)`: `min(floor(log2 k), height)` levels a round.
pub fn chunk_step(arity: u16, height: u32) -> u32 {
    let mut m = 0u32;
    while (2u32 << m) <= u32::from(arity) {
        m += 1;
    }
    m.min(height)
}

/// One level of a game: its rounds and the roots (or nodes) each party posts in them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Level {
    pub rounds: u32,
    pub posted: u32,
}

/// Level 1 of the game over `n` operators that ends on operator `op` (the first slot where
/// the two traces differ): every root at a position `>= op` differs.
pub fn op_level(n: u32, arity: u16, max_group: u16, op: u32) -> Result<Level, DissectionError> {
    check(n, arity, max_group)?;
    if op == 0 || op > n {
        return Err(DissectionError::Op { op, n });
    }
    let (mut lo, mut hi) = (0u32, n);
    let mut l = Level::default();
    while hi - lo > 1 {
        let ps = positions(lo, hi, arity, max_group);
        l.rounds += 1;
        l.posted += ps.len() as u32;
        match ps.iter().position(|&p| p >= op) {
            Some(t) => {
                if t > 0 {
                    lo = ps[t - 1];
                }
                hi = ps[t];
            }
            None => lo = ps.last().copied().unwrap_or(lo),
        }
    }
    debug_assert_eq!(hi, op, "the dissection isolates the first differing slot");
    Ok(l)
}

/// Level 2 in a slot of `num_chunks` chunks (the same for every chunk of it).
pub fn chunk_level(arity: u16, num_chunks: u64) -> Level {
    let mut h = ceil_log2(num_chunks);
    let mut l = Level::default();
    while h > 0 {
        let m = chunk_step(arity, h);
        l.rounds += 1;
        l.posted += 1 << m;
        h -= m;
    }
    l
}

/// The rounds of a game that ends on one operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GameRounds {
    pub op: u32,
    pub ops: Level,
    pub chunks: Level,
}

impl GameRounds {
    /// Operator rounds + the reveal round + chunk rounds.
    pub fn total(&self) -> u32 {
        self.ops.rounds + 1 + self.chunks.rounds
    }
    /// `challenge` + two moves a round + `proveStep`.
    pub fn transactions(&self) -> u32 {
        2 * self.total() + 2
    }
    /// Roots and chunk nodes posted by each party.
    pub fn posted(&self) -> u32 {
        self.ops.posted + self.chunks.posted
    }
}

/// The worst case of a model under (k, N): the longest game over every disputed operator,
/// and each level's own maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WorstCase {
    pub arity: u16,
    pub max_group: u16,
    /// The longest game (most rounds; then most posted roots and nodes; then the last op).
    pub longest: GameRounds,
    /// Level 1's most rounds, over all operators.
    pub max_op_rounds: u32,
    /// Level 2's most rounds, over all operators.
    pub max_chunk_rounds: u32,
}

/// The worst case over every operator of a model whose slot `i` (`i = 1..=n`) has
/// `chunks[i - 1]` chunks.
pub fn worst_case(
    chunks: &[u64],
    arity: u16,
    max_group: u16,
) -> Result<WorstCase, DissectionError> {
    let n = chunks.len() as u32;
    check(n, arity, max_group)?;
    let mut longest: Option<GameRounds> = None;
    let (mut max_op_rounds, mut max_chunk_rounds) = (0, 0);
    for (i, &c) in chunks.iter().enumerate() {
        let op = i as u32 + 1;
        let g = GameRounds {
            op,
            ops: op_level(n, arity, max_group, op)?,
            chunks: chunk_level(arity, c),
        };
        max_op_rounds = max_op_rounds.max(g.ops.rounds);
        max_chunk_rounds = max_chunk_rounds.max(g.chunks.rounds);
        let key = |g: &GameRounds| (g.total(), g.posted(), g.op);
        if longest.is_none_or(|l| key(&g) > key(&l)) {
            longest = Some(g);
        }
    }
    let longest = longest.ok_or(DissectionError::NoOps)?;
    Ok(WorstCase {
        arity,
        max_group,
        longest,
        max_op_rounds,
        max_chunk_rounds,
    })
}

/// The arity `2 <= k <= MAX_ARITY` (group size `max_group`) whose worst case has the fewest
/// rounds: the time a dispute takes when every move may use a response window, and two
/// transactions of base gas a round. Ties go to the fewest roots and nodes posted by each
/// party (calldata and log gas), then to the smallest k.
pub fn best_arity(chunks: &[u64], max_group: u16) -> Result<WorstCase, DissectionError> {
    let mut best: Option<WorstCase> = None;
    for k in 2..=MAX_ARITY {
        let w = worst_case(chunks, k, max_group)?;
        let key = |w: &WorstCase| (w.longest.total(), w.longest.posted());
        if best.is_none_or(|b| key(&w) < key(&b)) {
            best = Some(w);
        }
    }
    best.ok_or(DissectionError::NoOps)
}

/// The vectors of `contracts/test/vectors/rounds.json`, which `contracts/test/Rounds.t.sol`
/// checks against the contract's `_positions`, `_chunkStep` and played games.
pub mod vectors {
    use super::*;

    /// Level 1 for every operator of an `n`-operator model under (k, N).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
    pub struct OpCase {
        pub n: u32,
        pub k: u16,
        #[serde(rename = "N")]
        pub group: u16,
        /// `rounds[op - 1]`, `posted[op - 1]`: level 1 of the game ending on `op`.
        pub rounds: Vec<u32>,
        pub posted: Vec<u32>,
    }

    /// Level 2 in a slot of `chunks` chunks under arity k.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
    pub struct ChunkCase {
        pub k: u16,
        pub chunks: u64,
        pub rounds: u32,
        pub posted: u32,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
    pub struct Vectors {
        pub note: String,
        pub ops: Vec<OpCase>,
        pub chunks: Vec<ChunkCase>,
    }

    /// The cases: small models, the seed's four models' operator counts (ours and ONNX's),
    /// arities around powers of two and the limit, groups of 1 and 3; chunk counts of the
    /// seed's models' slots.
    pub fn generate() -> Result<Vectors, DissectionError> {
        let mut ops = vec![];
        for n in [1u32, 2, 3, 4, 5, 7, 12, 31, 47, 62, 103, 155] {
            for k in [2u16, 3, 4, 5, 8, 16, 256] {
                for group in [1u16, 3] {
                    let mut c = OpCase {
                        n,
                        k,
                        group,
                        rounds: vec![],
                        posted: vec![],
                    };
                    for op in 1..=n {
                        let l = op_level(n, k, group, op)?;
                        c.rounds.push(l.rounds);
                        c.posted.push(l.posted);
                    }
                    ops.push(c);
                }
            }
        }
        let mut chunks = vec![];
        for k in [2u16, 3, 4, 7, 8, 16, 32, 256] {
            for c in [1u64, 2, 3, 4, 5, 16, 28, 32, 33, 1000, 5376] {
                let l = chunk_level(k, c);
                chunks.push(ChunkCase {
                    k,
                    chunks: c,
                    rounds: l.rounds,
                    posted: l.posted,
                });
            }
        }
        Ok(Vectors {
            note: "generated by zkopml-node's dissection::vectors (ZKOPML_WRITE_VECTORS=1 cargo test -p zkopml-node --lib dissection); checked by contracts/test/Rounds.t.sol".into(),
            ops,
            chunks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log2_ceil(n: u32) -> u32 {
        ceil_log2(u64::from(n))
    }

    #[test]
    fn binary_search_takes_ceil_log2_n_rounds() {
        for n in 1..=300u32 {
            let worst = (1..=n)
                .map(|op| op_level(n, 2, 1, op).unwrap().rounds)
                .max()
                .unwrap();
            assert_eq!(worst, log2_ceil(n), "n = {n}");
            // every round of a binary search posts one root
            for op in 1..=n {
                let l = op_level(n, 2, 1, op).unwrap();
                assert_eq!(l.posted, l.rounds);
                assert!(l.rounds >= log2_ceil(n).saturating_sub(1));
            }
        }
    }

    #[test]
    fn k_ary_rounds_are_ceil_log_k_n() {
        for k in [3u16, 4, 5, 8, 16] {
            for n in 1..=200u32 {
                let worst = (1..=n)
                    .map(|op| op_level(n, k, 1, op).unwrap().rounds)
                    .max()
                    .unwrap();
                // the smallest r with k^r >= n
                let mut r = 0;
                while u64::from(k).pow(r) < u64::from(n) {
                    r += 1;
                }
                assert_eq!(worst, r, "n = {n}, k = {k}");
            }
        }
    }

    #[test]
    fn a_group_is_split_into_single_operators_in_one_round() {
        // N >= n or k >= n: one round posting n - 1 roots
        for n in 2..=40u32 {
            for op in 1..=n {
                let by_group = op_level(n, 2, n as u16, op).unwrap();
                let by_arity = op_level(n, n as u16, 1, op).unwrap();
                assert_eq!(
                    by_group,
                    Level {
                        rounds: 1,
                        posted: n - 1
                    }
                );
                assert_eq!(by_arity, by_group);
            }
        }
        // N = 3, n = 12 (contracts/test/Dissection.t.sol, test_groupOfN): 12 -> 6 -> 3 -> 1
        assert_eq!(
            (1..=12)
                .map(|op| op_level(12, 2, 3, op).unwrap().rounds)
                .max(),
            Some(3)
        );
        // one operator: no root round
        assert_eq!(op_level(1, 2, 1, 1).unwrap(), Level::default());
    }

    #[test]
    fn positions_match_the_contract_formula() {
        assert_eq!(positions(0, 12, 2, 1), vec![6]);
        assert_eq!(positions(0, 13, 4, 1), vec![3, 6, 9]);
        assert_eq!(positions(6, 12, 4, 1), vec![7, 9, 10]);
        assert_eq!(positions(0, 3, 2, 3), vec![1, 2]);
        assert_eq!(positions(4, 5, 2, 1), Vec::<u32>::new());
    }

    #[test]
    fn chunk_levels() {
        assert_eq!(chunk_step(2, 5), 1);
        assert_eq!(chunk_step(3, 5), 1);
        assert_eq!(chunk_step(4, 5), 2);
        assert_eq!(chunk_step(8, 5), 3);
        assert_eq!(chunk_step(256, 5), 5);
        assert_eq!(chunk_step(256, 0), 0);
        // one chunk: no chunk round; 28 chunks, height 5: 5 binary rounds, 3 with k = 4
        assert_eq!(chunk_level(2, 1), Level::default());
        assert_eq!(
            chunk_level(2, 28),
            Level {
                rounds: 5,
                posted: 10
            }
        );
        assert_eq!(
            chunk_level(4, 28),
            Level {
                rounds: 3,
                posted: 4 + 4 + 2
            }
        );
        assert_eq!(
            chunk_level(32, 28),
            Level {
                rounds: 1,
                posted: 32
            }
        );
        assert_eq!(ceil_log2(0), 0);
        assert_eq!(ceil_log2(1), 0);
        assert_eq!(ceil_log2(33), 6);
    }

    #[test]
    fn worst_case_and_best_arity() {
        // 12 operators, op 1 with 28 chunks and the rest with one: the worst game ends on op 1
        let mut chunks = vec![1u64; 12];
        chunks[0] = 28;
        let w = worst_case(&chunks, 2, 1).unwrap();
        assert_eq!(w.max_op_rounds, 4);
        assert_eq!(w.max_chunk_rounds, 5);
        assert_eq!(w.longest.op, 1);
        assert_eq!(
            w.longest.ops.rounds, 3,
            "op 1 is isolated in 3 rounds (12 -> 6 -> 3 -> 1)"
        );
        assert_eq!(w.longest.total(), 3 + 1 + 5);
        assert_eq!(w.longest.transactions(), 2 * 9 + 2);
        // the best arity: one root round (k >= 12) and one chunk round (k >= 32)
        let b = best_arity(&chunks, 1).unwrap();
        assert_eq!((b.arity, b.longest.total()), (32, 3));
        // one operator with one chunk: just the reveal round, whatever k
        let b = best_arity(&[1], 1).unwrap();
        assert_eq!((b.arity, b.longest.total()), (2, 1));
    }

    #[test]
    fn bad_parameters_are_errors() {
        assert_eq!(op_level(5, 1, 1, 1), Err(DissectionError::Arity(1)));
        assert_eq!(op_level(5, 257, 1, 1), Err(DissectionError::Arity(257)));
        assert_eq!(op_level(5, 2, 0, 1), Err(DissectionError::Group(0)));
        assert_eq!(
            op_level(5, 2, 1, 6),
            Err(DissectionError::Op { op: 6, n: 5 })
        );
        assert_eq!(
            op_level(5, 2, 1, 0),
            Err(DissectionError::Op { op: 0, n: 5 })
        );
        assert_eq!(worst_case(&[], 2, 1), Err(DissectionError::NoOps));
    }

    /// The vectors file the Foundry test reads is what this module computes
    /// (`ZKOPML_WRITE_VECTORS=1` rewrites it).
    #[test]
    fn contract_vectors_are_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../contracts/test/vectors/rounds.json");
        let v = vectors::generate().unwrap();
        if std::env::var_os("ZKOPML_WRITE_VECTORS").is_some() {
            let mut text = serde_json::to_string(&v).unwrap();
            text.push('\n');
            std::fs::write(&path, text).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let on_disk: vectors::Vectors = serde_json::from_str(&text).unwrap();
        assert_eq!(
            on_disk,
            v,
            "{} is stale: rerun with ZKOPML_WRITE_VECTORS=1",
            path.display()
        );
    }
}
