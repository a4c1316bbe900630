//! The weights root of a model whose weights are committed ([`WeightsMode::Committed`],
//! docs/commitments.md "Weights root"): what the registry records so that a step proof's
//! weight block is the registered one.
//!
//! Operator `op`'s weight blocks (one per output chunk, [`crate::circuits::packed_gemm`])
//! form a chunk tree over their digests, exactly as a tensor's chunks do (padded with zero
//! leaves to a power of two; one block: the digest itself). Leaf `op` of the weights tree, a
//! keccak tree of the program's state depth, is that chunk tree's root, and `bytes32(0)` for
//! an operator without committed weights (and for leaf 0). A step proof opens block `j` of op
//! `i` as the input `(slot n + i, chunk j)`: its digest, the path to op `i`'s blocks root, and
//! the path of that root to the weights root.

use rayon::prelude::*;
use zkopml_exec::commit::MerkleTree;
use zkopml_model::Program;

use crate::{
    circuits::chunk::ChunkOp,
    evm::{self, Word},
    native::weight_block_digest,
    table::{has_weight_block, op_chunk_in, WeightsMode},
    ZkError,
};

/// The weight blocks of a program and their root.
#[derive(Clone, Debug)]
pub struct WeightsCommitment {
    /// Per operator (index `op - 1`): its block count and the chunk tree of their digests.
    blocks: Vec<Option<(usize, MerkleTree)>>,
    /// Leaf `op`: the root of op's blocks.
    tree: MerkleTree,
}

/// The opening of one weight block: its digest, its path to the operator's blocks root, and
/// that root's path to the weights root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockOpening {
    /// The block's digest (the public input).
    pub digest: Word,
    /// Siblings up to op's blocks root.
    pub block_path: Vec<Word>,
    /// Siblings of op's blocks root up to the weights root (state depth).
    pub weights_path: Vec<Word>,
}

impl WeightsCommitment {
    /// The weight blocks of every operator of `program` that has them
    /// ([`crate::table::has_weight_block`]), as [`WeightsMode::Committed`] reads them.
    pub fn new(program: &Program) -> Result<Self, ZkError> {
        let blocks = (1..=program.n_ops())
            .map(|op| {
                if !has_weight_block(program, op) {
                    return Ok(None);
                }
                let digests = (0..program.ops[op - 1].out.num_chunks())
                    .into_par_iter()
                    .map(|chunk| {
                        let (c, _) = op_chunk_in(program, op, chunk, WeightsMode::Committed)?;
                        Ok(evm::fr_to_word(&weight_block_digest(&c.block())))
                    })
                    .collect::<Result<Vec<Word>, ZkError>>()?;
                Ok(Some((digests.len(), MerkleTree::new(&digests))))
            })
            .collect::<Result<Vec<_>, ZkError>>()?;
        let leaves: Vec<Word> = std::iter::once([0u8; 32])
            .chain(
                blocks
                    .iter()
                    .map(|b| b.as_ref().map_or([0u8; 32], |(_, t)| t.root())),
            )
            .collect();
        let tree = MerkleTree::with_depth(&leaves, program.state_depth());
        Ok(Self { blocks, tree })
    }

    /// The root the registry records.
    pub fn root(&self) -> Word {
        self.tree.root()
    }

    /// The opening of op `op`'s block `chunk`, or `None` if it has no such block.
    pub fn opening(&self, op: usize, chunk: usize) -> Option<BlockOpening> {
        let (count, blocks) = self.blocks.get(op.checked_sub(1)?)?.as_ref()?;
        (chunk < *count).then(|| BlockOpening {
            digest: blocks.leaf(chunk),
            block_path: blocks.path(chunk),
            weights_path: self.tree.path(op),
        })
    }
}
