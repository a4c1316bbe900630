// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Commitments, TensorMeta} from "./lib/Commitments.sol";
import {Merkle} from "./lib/Merkle.sol";
import {ModelRegistry, DisputeParams} from "./ModelRegistry.sol";
import {Groth16Verifier} from "./Groth16Verifier.sol";
import {IInferenceManager} from "./interfaces/IInferenceManager.sol";
import {IPoseidon5} from "./interfaces/IPoseidon5.sol";
import {IFaultDisputeGame} from "./interfaces/IFaultDisputeGame.sol";

/// @title FaultDisputeGame: two-level k-ary dissection settled by one Groth16 proof.
/// Defender = the result's submitter; challenger = whoever opened the game through
/// InferenceManager.challenge. Level 1 narrows the operator sequence to one operator i whose
/// pre-state root(i-1) both sides agree on and whose post-state root(i) they do not; level 2
/// narrows the chunk tree of op i's output tensor to one chunk j. The defender must then prove
/// its digest of chunk j with the Groth16 proof of the circuit registered for (i, j); a valid
/// proof of any other digest, posted by anyone, makes it lose; a party whose clock runs out loses.
/// This contract holds no money: the InferenceManager pays according to onGameResolved.
/// docs/protocol.md has the state machine and the argument.
contract FaultDisputeGame is IFaultDisputeGame {
    enum Phase {
        None,
        DefenderRoots, // defender posts the intermediate state roots of the segment [lo, hi]
        ChallengerRoots, // challenger posts its own roots at the same positions
        DefenderReveal, // defender reveals its tensor root of slot hi (= op i) with an update proof
        ChallengerReveal, // challenger reveals its own
        DefenderNodes, // defender posts the chunk-tree nodes below the disputed node
        ChallengerNodes, // challenger posts its own
        DefenderProof, // the disputed chunk is fixed: the defender must prove its digest
        Resolved
    }

    enum Outcome {
        Undecided,
        DefenderWon,
        ChallengerWon
    }

    /// Why a game ended (events and views).
    enum Reason {
        None,
        DefenderTimeout,
        ChallengerTimeout,
        DefenderProved,
        OtherDigestProved,
        PaddingLeaf
    }

    struct Game {
        // slot 0
        address defender;
        uint64 lastMoveAt;
        Phase phase;
        Outcome outcome;
        uint8 stateDepth;
        uint8 height; // chunk level: height of the disputed node (0 = a leaf)
        // slot 1
        address challenger;
        uint32 lo; // operator level: agreed slot; chunk level: lo = i - 1
        uint32 hi; // operator level: disputed slot; chunk level: hi = i (the disputed op)
        uint32 index; // chunk level: index of the disputed node at its height
        // slot 2
        uint64 defenderClock; // seconds used
        uint64 challengerClock;
        uint64 requestId;
        uint32 resultNonce;
        uint32 modelId;
        // slot 3
        uint96 bond; // challenger's bond (held by the manager)
        uint32 numChunks; // chunk count of op i's output (set at the defender's reveal)
        uint16 arity;
        uint16 maxGroup;
        uint64 clockBudget;
        uint32 numOps;
        // slots 4..7
        bytes32 agreedRoot; // state root at lo (both agree)
        bytes32 defenderRoot; // operator level: defender's root at hi; chunk level: its node
        bytes32 challengerRoot; // same for the challenger
        bytes32 pending; // keccak of the defender's last posted roots / nodes; metaHash at reveal
    }

    /// One input chunk of the final step, opened against the agreed state root(i-1).
    struct InputOpening {
        TensorMeta meta; // geometry of the input slot's tensor (fixes the chunk path's length)
        uint256 digest; // the chunk's digest (a public input of the proof)
        bytes values; // slot 0 only (a boundary tensor): the chunk's packed bytes, whose keccak is the leaf and whose Poseidon digest must be `digest`
        bytes32[] chunkPath; // siblings from the chunk up to the slot's chunksRoot
        bytes32[] statePath; // stateDepth siblings from the slot's tensorRoot up to root(i-1)
    }

    /// The final step: the circuit-table leaf of (op i, chunk j), the openings of its input
    /// chunks, the claimed output digest and the Groth16 proof.
    struct StepProof {
        bytes vk; // abi-encoded verifying key; vkHash = keccak(vk)
        uint256[] inputSlots;
        uint256[] inputChunks;
        uint256 leafIndex; // position of the leaf in the circuit table
        bytes32[] circuitPath; // siblings up to the model's circuitRoot
        InputOpening[] inputs;
        uint256 outputDigest;
        bytes outputValues; // op n only (the output is a boundary tensor): the chunk's packed bytes, whose Poseidon digest must be `outputDigest`; their keccak is the leaf compared with the defender's
        uint256[8] proof;
    }

    IInferenceManager public immutable manager;
    ModelRegistry public immutable registry;
    Groth16Verifier public immutable verifier;
    IPoseidon5 public immutable poseidon;

    Game[] internal games;

    event GameCreated(
        uint256 indexed gameId,
        uint256 indexed requestId,
        address indexed challenger,
        address defender,
        uint32 resultNonce,
        bytes32 agreedRoot,
        bytes32 defenderRoot,
        bytes32 challengerRoot,
        uint32 numOps
    );
    /// Intermediate state roots at `positions` of segment [lo, hi].
    event RootsPosted(
        uint256 indexed gameId, bool indexed byDefender, uint32 lo, uint32 hi, uint32[] positions, bytes32[] roots
    );
    event SegmentNarrowed(
        uint256 indexed gameId, uint32 lo, uint32 hi, bytes32 agreedRoot, bytes32 defenderRoot, bytes32 challengerRoot
    );
    event TensorRevealed(
        uint256 indexed gameId,
        bool indexed byDefender,
        uint32 op,
        bytes32 metaHash,
        bytes32 chunksRoot,
        bytes32 tensorRoot
    );
    /// Nodes 2^m of the chunk tree below node (height, index).
    event NodesPosted(uint256 indexed gameId, bool indexed byDefender, uint8 height, uint32 index, bytes32[] nodes);
    event ChunkNarrowed(
        uint256 indexed gameId, uint8 height, uint32 index, bytes32 defenderNode, bytes32 challengerNode
    );
    event StepProven(uint256 indexed gameId, uint32 op, uint32 chunk, uint256 outputDigest, address prover);
    event GameResolved(uint256 indexed gameId, Outcome outcome, Reason reason);

    error NotManager();
    error UnknownGame(uint256 gameId);
    error WrongPhase(Phase phase);
    error NotYourTurn();
    error ClockExpired();
    error NotExpired();
    error BadLength();
    error RootsMismatch();
    error NoDisagreement();
    error BadMetaProof();
    error BadUpdateProof();
    error SameTensor();
    error BadNodes();
    error BadCircuitLeaf();
    error BadInputOpening(uint256 k);
    error NotPadding();
    error IsPadding();
    error BadOutputValues();

    constructor(IInferenceManager manager_, ModelRegistry registry_, Groth16Verifier verifier_, IPoseidon5 poseidon_) {
        manager = manager_;
        registry = registry_;
        verifier = verifier_;
        poseidon = poseidon_;
    }

    // =================================================================== creation

    /// @inheritdoc IFaultDisputeGame
    function createGame(
        uint256 requestId,
        uint32 resultNonce,
        uint256 modelId,
        address defender,
        address challenger,
        uint96 challengerBond,
        bytes32 agreedRoot,
        bytes32 defenderRoot,
        bytes32 challengerRoot
    ) external returns (uint256 gameId) {
        if (msg.sender != address(manager)) revert NotManager();
        (uint32 numOps, uint8 depth, DisputeParams memory p) = registry.disputeInfo(modelId);
        gameId = games.length;
        Game storage g = games.push();
        g.defender = defender;
        g.lastMoveAt = uint64(block.timestamp);
        g.phase = numOps == 1 ? Phase.DefenderReveal : Phase.DefenderRoots;
        g.stateDepth = depth;
        g.challenger = challenger;
        g.lo = 0;
        g.hi = numOps;
        g.requestId = uint64(requestId);
        g.resultNonce = resultNonce;
        g.modelId = uint32(modelId);
        g.bond = challengerBond;
        g.arity = p.arity;
        g.maxGroup = p.maxGroup;
        g.clockBudget = p.clockBudget;
        g.numOps = numOps;
        g.agreedRoot = agreedRoot;
        g.defenderRoot = defenderRoot;
        g.challengerRoot = challengerRoot;
        _emitCreated(gameId, g);
    }

    function _emitCreated(uint256 gameId, Game storage g) internal {
        emit GameCreated(
            gameId,
            g.requestId,
            g.challenger,
            g.defender,
            g.resultNonce,
            g.agreedRoot,
            g.defenderRoot,
            g.challengerRoot,
            g.numOps
        );
    }

    // =================================================================== level 1: operators

    /// Positions of the intermediate roots of the current segment: lo < p_1 < ... < p_{a-1} < hi.
    function positions(uint256 gameId) public view returns (uint32[] memory ps) {
        Game storage g = _game(gameId);
        return _positions(g.lo, g.hi, g.arity, g.maxGroup);
    }

    function _positions(uint32 lo, uint32 hi, uint16 arity, uint16 maxGroup)
        internal
        pure
        returns (uint32[] memory ps)
    {
        uint256 len = hi - lo;
        uint256 a = len <= maxGroup ? len : (arity < len ? arity : len);
        ps = new uint32[](a - 1);
        for (uint256 t = 1; t < a; ++t) {
            ps[t - 1] = uint32(lo + (t * len) / a);
        }
    }

    /// Defender: its state roots at positions(gameId), in order.
    function postRoots(uint256 gameId, bytes32[] calldata roots) external {
        Game storage g = _game(gameId);
        _move(g, Phase.DefenderRoots, true);
        uint32[] memory ps = _positions(g.lo, g.hi, g.arity, g.maxGroup);
        if (roots.length != ps.length) revert BadLength();
        g.pending = keccak256(abi.encodePacked(roots));
        g.phase = Phase.ChallengerRoots;
        emit RootsPosted(gameId, true, g.lo, g.hi, ps, roots);
    }

    /// Challenger: the defender's roots (as posted) and its own roots at the same positions.
    /// The first position where they differ ends the new segment.
    function postCounterRoots(uint256 gameId, bytes32[] calldata defenderRoots, bytes32[] calldata roots) external {
        Game storage g = _game(gameId);
        _move(g, Phase.ChallengerRoots, false);
        uint32[] memory ps = _positions(g.lo, g.hi, g.arity, g.maxGroup);
        if (roots.length != ps.length || defenderRoots.length != ps.length) revert BadLength();
        if (keccak256(abi.encodePacked(defenderRoots)) != g.pending) revert RootsMismatch();
        emit RootsPosted(gameId, false, g.lo, g.hi, ps, roots);

        uint256 n = ps.length;
        uint256 t = 0;
        while (t < n && defenderRoots[t] == roots[t]) ++t;
        if (t < n) {
            // first disagreement at position t: new segment [p_{t-1}, p_t]
            if (t > 0) {
                g.lo = ps[t - 1];
                g.agreedRoot = roots[t - 1];
            }
            g.hi = ps[t];
            g.defenderRoot = defenderRoots[t];
            g.challengerRoot = roots[t];
        } else {
            // agreement everywhere: the disagreement is in the last part [p_{n-1}, hi]
            g.lo = ps[n - 1];
            g.agreedRoot = roots[n - 1];
        }
        g.phase = g.hi - g.lo == 1 ? Phase.DefenderReveal : Phase.DefenderRoots;
        emit SegmentNarrowed(gameId, g.lo, g.hi, g.agreedRoot, g.defenderRoot, g.challengerRoot);
    }

    // =================================================================== the disputed operator

    /// Defender: its tensor root of slot i = hi, as (geometry, chunksRoot), with
    ///  - metaPath: stateDepth siblings of metaHash(meta) at leaf i under the model's metaRoot;
    ///  - siblings: stateDepth siblings of leaf i, the same under root(i-1) (where leaf i is 0)
    ///    and under the defender's root(i) (where it is the tensor root).
    function revealTensor(
        uint256 gameId,
        TensorMeta calldata meta,
        bytes32 chunksRoot,
        bytes32[] calldata metaPath,
        bytes32[] calldata siblings
    ) external {
        Game storage g = _game(gameId);
        _move(g, Phase.DefenderReveal, true);
        uint32 op = g.hi;
        (, uint256 numChunks) = Commitments.checkMeta(meta);
        bytes32 mh = Commitments.metaHash(meta);
        if (metaPath.length != g.stateDepth || Merkle.rootFromPath(mh, op, metaPath) != registry.metaRoot(g.modelId)) {
            revert BadMetaProof();
        }
        bytes32 tr = Commitments.tensorRootOf(mh, chunksRoot);
        _checkUpdate(g, op, tr, g.defenderRoot, siblings);
        g.pending = mh;
        g.numChunks = uint32(numChunks);
        g.height = uint8(Merkle.ceilLog2(numChunks));
        g.defenderRoot = chunksRoot;
        g.phase = Phase.ChallengerReveal;
        emit TensorRevealed(gameId, true, op, mh, chunksRoot, tr);
    }

    /// Challenger: its own chunksRoot of slot i (same geometry), with the update siblings.
    function revealCounterTensor(uint256 gameId, bytes32 chunksRoot, bytes32[] calldata siblings) external {
        Game storage g = _game(gameId);
        _move(g, Phase.ChallengerReveal, false);
        uint32 op = g.hi;
        bytes32 mh = g.pending;
        bytes32 tr = Commitments.tensorRootOf(mh, chunksRoot);
        _checkUpdate(g, op, tr, g.challengerRoot, siblings);
        if (chunksRoot == g.defenderRoot) revert SameTensor();
        g.challengerRoot = chunksRoot;
        g.index = 0;
        g.phase = g.height == 0 ? Phase.DefenderProof : Phase.DefenderNodes;
        emit TensorRevealed(gameId, false, op, mh, chunksRoot, tr);
    }

    /// leaf `op` is empty under the agreed root(op-1) and holds `tensorRoot` under `post`.
    function _checkUpdate(Game storage g, uint32 op, bytes32 tensorRoot, bytes32 post, bytes32[] calldata siblings)
        internal
        view
    {
        if (
            siblings.length != g.stateDepth || Merkle.rootFromPath(bytes32(0), op, siblings) != g.agreedRoot
                || Merkle.rootFromPath(tensorRoot, op, siblings) != post
        ) revert BadUpdateProof();
    }

    // =================================================================== level 2: chunks

    /// Number of tree levels a chunk round descends: min(floor(log2 k), height).
    function chunkStep(uint256 gameId) public view returns (uint8 m) {
        Game storage g = _game(gameId);
        return _chunkStep(g.arity, g.height);
    }

    function _chunkStep(uint16 arity, uint8 height) internal pure returns (uint8 m) {
        while ((uint256(2) << m) <= arity) ++m;
        if (m > height) m = height;
    }

    /// Defender: the 2^m nodes m levels below the disputed node (left to right).
    function postNodes(uint256 gameId, bytes32[] calldata nodes) external {
        Game storage g = _game(gameId);
        _move(g, Phase.DefenderNodes, true);
        uint8 m = _chunkStep(g.arity, g.height);
        if (nodes.length != (uint256(1) << m)) revert BadLength();
        if (Merkle.reduce(nodes) != g.defenderRoot) revert BadNodes();
        g.pending = keccak256(abi.encodePacked(nodes));
        g.phase = Phase.ChallengerNodes;
        emit NodesPosted(gameId, true, g.height, g.index, nodes);
    }

    /// Challenger: the defender's nodes (as posted) and its own; the first differing node is the
    /// new disputed node.
    function postCounterNodes(uint256 gameId, bytes32[] calldata defenderNodes, bytes32[] calldata nodes) external {
        Game storage g = _game(gameId);
        _move(g, Phase.ChallengerNodes, false);
        uint8 m = _chunkStep(g.arity, g.height);
        uint256 w = uint256(1) << m;
        if (nodes.length != w || defenderNodes.length != w) revert BadLength();
        if (keccak256(abi.encodePacked(defenderNodes)) != g.pending) revert RootsMismatch();
        if (Merkle.reduce(nodes) != g.challengerRoot) revert BadNodes();
        emit NodesPosted(gameId, false, g.height, g.index, nodes);
        uint256 t = 0;
        while (t < w && defenderNodes[t] == nodes[t]) ++t;
        if (t == w) revert NoDisagreement(); // impossible: the two sets hash to different nodes
        uint8 h = g.height - m;
        uint32 idx = uint32((uint256(g.index) << m) + t);
        g.height = h;
        g.index = idx;
        g.defenderRoot = defenderNodes[t];
        g.challengerRoot = nodes[t];
        g.phase = h == 0 ? Phase.DefenderProof : Phase.DefenderNodes;
        emit ChunkNarrowed(gameId, h, idx, defenderNodes[t], nodes[t]);
    }

    // =================================================================== final step

    /// Settles the disputed chunk (op i, chunk j) with a Groth16 proof. Anyone may call.
    /// If the proven digest is the defender's, the defender wins (only while its clock runs);
    /// if it is any other digest, the defender loses.
    function proveStep(uint256 gameId, StepProof calldata sp) external {
        Game storage g = _game(gameId);
        if (g.phase != Phase.DefenderProof) revert WrongPhase(g.phase);
        uint32 op = g.hi;
        uint32 chunk = g.index;
        if (chunk >= g.numChunks) revert IsPadding();

        // the circuit of (op, chunk) and what it reads, from the model's circuit table
        bytes32 leaf =
            keccak256(abi.encode(uint256(op), uint256(chunk), keccak256(sp.vk), sp.inputSlots, sp.inputChunks));
        if (Merkle.rootFromPath(leaf, sp.leafIndex, sp.circuitPath) != registry.circuitRoot(g.modelId)) {
            revert BadCircuitLeaf();
        }

        // public inputs: the input chunks' digests, opened against the agreed root(i-1), then the output digest
        uint256 r = sp.inputSlots.length;
        if (sp.inputChunks.length != r || sp.inputs.length != r) revert BadLength();
        uint256[] memory pub = new uint256[](r + 1);
        bytes32 agreed = g.agreedRoot;
        uint8 depth = g.stateDepth;
        uint32 numOps = g.numOps;
        for (uint256 k = 0; k < r; ++k) {
            uint256 slot = sp.inputSlots[k];
            pub[k] = slot > numOps
                ? _openWeights(g, sp.inputs[k], slot, sp.inputChunks[k], k, r)
                : _openInput(sp.inputs[k], slot, sp.inputChunks[k], agreed, depth, k);
        }
        pub[r] = sp.outputDigest;

        verifier.verifyProof(sp.vk, sp.proof, pub); // reverts unless valid

        emit StepProven(gameId, op, chunk, sp.outputDigest, msg.sender);
        if (_outputLeaf(g, sp, chunk) == g.defenderRoot) {
            // the defender's move: it counts only while the defender's clock runs
            if (_expired(g, true)) revert ClockExpired();
            _resolve(gameId, g, true, Reason.DefenderProved);
        } else {
            _resolve(gameId, g, false, Reason.OtherDigestProved);
        }
    }

    /// The chunk-tree leaf of the proven output chunk: its digest, except for the output of the
    /// model (op n, a boundary tensor) whose leaf is the keccak of the chunk's packed bytes; those
    /// bytes must have the proven digest (so they are the one true chunk).
    function _outputLeaf(Game storage g, StepProof calldata sp, uint32 chunk) internal view returns (bytes32) {
        if (g.hi != g.numOps) {
            if (sp.outputValues.length != 0) revert BadOutputValues();
            return bytes32(sp.outputDigest);
        }
        (, uint32 numel, uint32 chunkLen) = registry.outputInfo(g.modelId);
        if (
            sp.outputValues.length != 4 * _chunkLength(numel, chunkLen, chunk)
                || uint256(Commitments.chunkDigest(poseidon, sp.outputValues)) != sp.outputDigest
        ) revert BadOutputValues();
        return Commitments.boundaryLeaf(sp.outputValues);
    }

    /// Values in chunk `chunk` of a tensor of `numel` values cut every `chunkLen`.
    function _chunkLength(uint256 numel, uint256 chunkLen, uint256 chunk) internal pure returns (uint256) {
        uint256 lo = chunk * chunkLen;
        return lo + chunkLen <= numel ? chunkLen : numel - lo;
    }

    /// The chunk path must be exactly as long as the slot's chunk tree is high and the chunk a
    /// real one, so that only a leaf, never an inner node, is an input. A chunk of the input
    /// (slot 0, a boundary tensor) comes with its packed bytes: their keccak is the leaf and
    /// their Poseidon digest, computed here, must be the opening's digest.
    function _openInput(InputOpening calldata o, uint256 slot, uint256 chunk, bytes32 agreed, uint8 depth, uint256 k)
        internal
        view
        returns (uint256)
    {
        (uint256 numel, uint256 numChunks) = Commitments.checkMeta(o.meta);
        if (chunk >= numChunks || o.chunkPath.length != Merkle.ceilLog2(numChunks)) revert BadInputOpening(k);
        bytes32 leaf;
        if (slot == 0) {
            if (
                o.values.length != 4 * _chunkLength(numel, o.meta.chunkLen, chunk)
                    || uint256(Commitments.chunkDigest(poseidon, o.values)) != o.digest
            ) revert BadInputOpening(k);
            leaf = Commitments.boundaryLeaf(o.values);
        } else {
            if (o.values.length != 0) revert BadInputOpening(k);
            leaf = bytes32(o.digest);
        }
        bytes32 chunksRoot = Merkle.rootFromPath(leaf, chunk, o.chunkPath);
        bytes32 tr = Commitments.tensorRootOf(Commitments.metaHash(o.meta), chunksRoot);
        if (o.statePath.length != depth || Merkle.rootFromPath(tr, slot, o.statePath) != agreed) {
            revert BadInputOpening(k);
        }
        return o.digest;
    }

    /// A weight block read (docs/commitments.md "Weights root"): only the disputed op's own
    /// block of the disputed chunk (`slot = numOps + op`, `chunk = j`), as the last input, and
    /// only in a model registered with a weights root. The digest opens to op's blocks root
    /// (a path as long as op's chunk tree is high), which opens at leaf `op` under the root.
    /// A zero digest is refused: it is the leaf of every op without committed weights.
    function _openWeights(Game storage g, InputOpening calldata o, uint256 slot, uint256 chunk, uint256 k, uint256 r)
        internal
        view
        returns (uint256)
    {
        uint32 op = g.hi;
        bytes32 root = registry.weightsRoot(g.modelId);
        if (
            root == bytes32(0) || o.digest == 0 || slot != uint256(g.numOps) + op || chunk != g.index
                || k + 1 != r || o.values.length != 0 || o.chunkPath.length != Merkle.ceilLog2(g.numChunks)
                || o.statePath.length != g.stateDepth
        ) revert BadInputOpening(k);
        bytes32 blocksRoot = Merkle.rootFromPath(bytes32(o.digest), chunk, o.chunkPath);
        if (Merkle.rootFromPath(blocksRoot, op, o.statePath) != root) revert BadInputOpening(k);
        return o.digest;
    }

    /// The disputed chunk lies in the zero padding of the chunk tree (j >= numChunks): its
    /// digest is bytes32(0) by definition, so no proof is needed. Anyone may call.
    function resolvePadding(uint256 gameId) external {
        Game storage g = _game(gameId);
        if (g.phase != Phase.DefenderProof) revert WrongPhase(g.phase);
        if (g.index < g.numChunks) revert NotPadding();
        bool defenderRight = g.defenderRoot == bytes32(0);
        if (defenderRight && _expired(g, true)) revert ClockExpired();
        _resolve(gameId, g, defenderRight, Reason.PaddingLeaf);
    }

    // =================================================================== clocks and endings

    /// The party to move has used up its clock: it loses. Anyone may call.
    function claimTimeout(uint256 gameId) external {
        Game storage g = _game(gameId);
        Phase ph = g.phase;
        if (ph == Phase.None || ph == Phase.Resolved) revert WrongPhase(ph);
        bool defenderToMove = _defenderToMove(ph);
        if (!_expired(g, defenderToMove)) revert NotExpired();
        _resolve(gameId, g, !defenderToMove, defenderToMove ? Reason.DefenderTimeout : Reason.ChallengerTimeout);
    }

    function _resolve(uint256 gameId, Game storage g, bool defenderWon, Reason reason) internal {
        g.phase = Phase.Resolved;
        Outcome o = defenderWon ? Outcome.DefenderWon : Outcome.ChallengerWon;
        g.outcome = o;
        manager.onGameResolved(g.requestId, g.resultNonce, g.defender, g.challenger, g.bond, defenderWon);
        emit GameResolved(gameId, o, reason);
    }

    function _defenderToMove(Phase ph) internal pure returns (bool) {
        return ph == Phase.DefenderRoots || ph == Phase.DefenderReveal || ph == Phase.DefenderNodes
            || ph == Phase.DefenderProof;
    }

    function _expired(Game storage g, bool defender) internal view returns (bool) {
        uint256 used = (defender ? g.defenderClock : g.challengerClock) + (block.timestamp - g.lastMoveAt);
        return used > g.clockBudget;
    }

    /// Checks phase, mover and clock, and charges the mover's clock.
    function _move(Game storage g, Phase expected, bool byDefender) internal {
        if (g.phase != expected) revert WrongPhase(g.phase);
        if (msg.sender != (byDefender ? g.defender : g.challenger)) revert NotYourTurn();
        uint64 elapsed = uint64(block.timestamp) - g.lastMoveAt;
        if (byDefender) {
            uint64 used = g.defenderClock + elapsed;
            if (used > g.clockBudget) revert ClockExpired();
            g.defenderClock = used;
        } else {
            uint64 used = g.challengerClock + elapsed;
            if (used > g.clockBudget) revert ClockExpired();
            g.challengerClock = used;
        }
        g.lastMoveAt = uint64(block.timestamp);
    }

    // =================================================================== views

    function gameCount() external view returns (uint256) {
        return games.length;
    }

    function getGame(uint256 gameId) external view returns (Game memory) {
        return _game(gameId);
    }

    /// Seconds left on each clock now.
    function clocks(uint256 gameId) external view returns (uint64 defenderLeft, uint64 challengerLeft) {
        Game storage g = _game(gameId);
        uint64 d = g.defenderClock;
        uint64 c = g.challengerClock;
        if (g.phase != Phase.Resolved) {
            uint64 elapsed = uint64(block.timestamp) - g.lastMoveAt;
            if (_defenderToMove(g.phase)) d += elapsed;
            else c += elapsed;
        }
        defenderLeft = d >= g.clockBudget ? 0 : g.clockBudget - d;
        challengerLeft = c >= g.clockBudget ? 0 : g.clockBudget - c;
    }

    function _game(uint256 gameId) internal view returns (Game storage) {
        if (gameId >= games.length) revert UnknownGame(gameId);
        return games[gameId];
    }
}
