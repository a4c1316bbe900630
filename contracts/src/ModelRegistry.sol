// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Commitments, TensorMeta} from "./lib/Commitments.sol";
import {Merkle} from "./lib/Merkle.sol";

/// Dispute parameters of a model (docs/protocol.md).
struct DisputeParams {
    uint16 arity; // k >= 2: k-ary dissection (2 = binary search); chunk level uses floor(log2 k) tree levels per round
    uint16 maxGroup; // N >= 1: a segment of <= N operators is split into single operators in one round
    uint64 clockBudget; // seconds each party may spend on its moves, in total, per game (chess clock)
    uint64 challengeWindow; // seconds after a result during which it can be challenged
    uint96 submitterBond; // exact bond of a result (wei)
    uint96 challengerBond; // exact bond of a challenge (wei)
}

/// @title ModelRegistry: the commitments of registered models. Ids count up from 0.
contract ModelRegistry {
    uint16 public constant MAX_ARITY = 256;
    uint16 public constant MAX_GROUP = 256;

    struct Registration {
        bytes32 modelHash; // hash of the compiled model's canonical encoding
        string[] artifactCids; // content ids of the artifacts (compiled model, keys, ...)
        uint32 numOps; // n: operators 1..n, slots 0..n
        bytes32 circuitRoot; // docs/commitments.md "Circuit table"
        bytes32 metaRoot; // docs/commitments.md "Meta root": metaHash of every slot
        TensorMeta input; // geometry of slot 0
        TensorMeta output; // geometry of slot n
        bytes32[] inputMetaPath; // path of metaHash(input) at leaf 0 under metaRoot
        bytes32[] outputMetaPath; // path of metaHash(output) at leaf n under metaRoot
        DisputeParams params;
    }

    struct Model {
        address owner;
        bool active;
        uint32 numOps;
        uint8 stateDepth;
        bytes32 modelHash;
        bytes32 circuitRoot;
        bytes32 metaRoot;
        DisputeParams params;
        TensorMeta input;
        TensorMeta output;
        string[] artifactCids;
    }

    Model[] internal models;

    /// Phase 2 of a model's Groth16 setup (docs/zk.md "Trusted setup"), for models registered
    /// with `registerWithCeremony`. Contributions are verified off-chain (`zkopml ceremony
    /// verify`, or `snarkjs zkey verify`); the chain orders them, records the transcript hash
    /// of the keys after each, and holds requests back until the window has closed with at
    /// least one contribution.
    struct Ceremony {
        uint64 closesAt; // requests open from this time on (0: no ceremony)
        uint32 contributions; // contributions recorded
        bytes32 transcriptHash; // transcript hash of the current keys (docs/zk.md)
        string keysCid; // where the current keys are published ("" before the first contribution)
    }

    mapping(uint256 => Ceremony) internal ceremonies;

    event ModelRegistered(
        uint256 indexed modelId,
        address indexed owner,
        bytes32 modelHash,
        bytes32 circuitRoot,
        bytes32 metaRoot,
        uint32 numOps,
        uint8 stateDepth,
        string[] artifactCids
    );
    event ModelParams(
        uint256 indexed modelId,
        uint16 arity,
        uint16 maxGroup,
        uint64 clockBudget,
        uint64 challengeWindow,
        uint96 submitterBond,
        uint96 challengerBond
    );
    event ModelActiveSet(uint256 indexed modelId, bool active);
    event CeremonyOpened(uint256 indexed modelId, uint64 closesAt, bytes32 transcriptHash);
    event Contributed(
        uint256 indexed modelId,
        address indexed contributor,
        uint32 index,
        bytes32 transcriptHash,
        bytes32 circuitRoot,
        string keysCid
    );

    error BadParams();
    error BadMetaPath();
    error NotOwner();
    error UnknownModel(uint256 modelId);
    error NoCeremony(uint256 modelId);
    error CeremonyClosed(uint256 modelId);
    error StaleTranscript(bytes32 current);

    /// Registers a model whose keys come from a trusted local setup: requests open at once.
    function register(Registration calldata r) external returns (uint256 modelId) {
        return _register(r);
    }

    /// Registers a model whose keys are derived from a Powers-of-Tau file and still need phase-2
    /// contributions: `r.circuitRoot` is the root of the initial keys, `transcriptHash` their
    /// transcript hash. Anyone may contribute for `window` seconds; requests open after that.
    function registerWithCeremony(Registration calldata r, bytes32 transcriptHash, uint64 window)
        external
        returns (uint256 modelId)
    {
        if (window == 0) revert BadParams();
        modelId = _register(r);
        uint64 closesAt = uint64(block.timestamp) + window;
        ceremonies[modelId] = Ceremony(closesAt, 0, transcriptHash, "");
        emit CeremonyOpened(modelId, closesAt, transcriptHash);
    }

    /// Records a contribution on top of the current keys (`prevTranscript` must be the current
    /// transcript hash, so two contributors cannot both build on the same keys). The new keys
    /// are published at `keysCid`; `circuitRoot` is the root of their circuit table.
    function contribute(
        uint256 modelId,
        bytes32 prevTranscript,
        bytes32 transcriptHash,
        bytes32 newCircuitRoot,
        string calldata keysCid
    ) external {
        Model storage m = _model(modelId);
        Ceremony storage c = ceremonies[modelId];
        if (c.closesAt == 0) revert NoCeremony(modelId);
        if (block.timestamp >= c.closesAt) revert CeremonyClosed(modelId);
        if (prevTranscript != c.transcriptHash) revert StaleTranscript(c.transcriptHash);
        c.transcriptHash = transcriptHash;
        uint32 index = c.contributions++;
        c.keysCid = keysCid;
        m.circuitRoot = newCircuitRoot;
        emit Contributed(modelId, msg.sender, index, transcriptHash, newCircuitRoot, keysCid);
    }

    /// The ceremony of a model: `closesAt` 0 when it was registered without one.
    function ceremonyInfo(uint256 modelId)
        external
        view
        returns (uint64 closesAt, uint32 contributions, bytes32 transcriptHash, bool done)
    {
        _model(modelId);
        Ceremony storage c = ceremonies[modelId];
        return (c.closesAt, c.contributions, c.transcriptHash, _ceremonyDone(c));
    }

    /// Where the current keys of a model's ceremony are published: the `keysCid` of the last
    /// contribution, "" before the first (the initial keys are among the registration's artifacts).
    function ceremonyKeys(uint256 modelId) external view returns (string memory) {
        _model(modelId);
        return ceremonies[modelId].keysCid;
    }

    function _ceremonyDone(Ceremony storage c) internal view returns (bool) {
        return c.closesAt == 0 || (block.timestamp >= c.closesAt && c.contributions > 0);
    }

    function _register(Registration calldata r) internal returns (uint256 modelId) {
        DisputeParams calldata p = r.params;
        if (
            r.numOps == 0 || p.arity < 2 || p.arity > MAX_ARITY || p.maxGroup == 0 || p.maxGroup > MAX_GROUP
                || p.clockBudget == 0 || p.challengeWindow == 0
        ) revert BadParams();
        Commitments.checkMeta(r.input);
        Commitments.checkMeta(r.output);
        uint256 depth = Commitments.stateDepth(r.numOps);
        if (r.inputMetaPath.length != depth || r.outputMetaPath.length != depth) revert BadMetaPath();
        if (Merkle.rootFromPath(Commitments.metaHash(r.input), 0, r.inputMetaPath) != r.metaRoot) revert BadMetaPath();
        if (Merkle.rootFromPath(Commitments.metaHash(r.output), r.numOps, r.outputMetaPath) != r.metaRoot) {
            revert BadMetaPath();
        }

        modelId = models.length;
        Model storage m = models.push();
        m.owner = msg.sender;
        m.active = true;
        m.numOps = r.numOps;
        m.stateDepth = uint8(depth);
        m.modelHash = r.modelHash;
        m.circuitRoot = r.circuitRoot;
        m.metaRoot = r.metaRoot;
        m.params = p;
        m.input = r.input;
        m.output = r.output;
        for (uint256 i = 0; i < r.artifactCids.length; ++i) m.artifactCids.push(r.artifactCids[i]);

        emit ModelRegistered(
            modelId, msg.sender, r.modelHash, r.circuitRoot, r.metaRoot, r.numOps, uint8(depth), r.artifactCids
        );
        emit ModelParams(
            modelId, p.arity, p.maxGroup, p.clockBudget, p.challengeWindow, p.submitterBond, p.challengerBond
        );
    }

    /// The owner may stop (and resume) new requests for its model. Requests already made are unaffected.
    function setActive(uint256 modelId, bool active) external {
        Model storage m = _model(modelId);
        if (msg.sender != m.owner) revert NotOwner();
        m.active = active;
        emit ModelActiveSet(modelId, active);
    }

    // ---------------------------------------------------------------- views

    function modelCount() external view returns (uint256) {
        return models.length;
    }

    function getModel(uint256 modelId) external view returns (Model memory) {
        return _model(modelId);
    }

    /// What a dispute needs, in one call.
    function disputeInfo(uint256 modelId)
        external
        view
        returns (uint32 numOps, uint8 stateDepth, DisputeParams memory params)
    {
        Model storage m = _model(modelId);
        return (m.numOps, m.stateDepth, m.params);
    }

    /// What a request needs, in one call. A model in its ceremony (or whose window closed with
    /// no contribution) is not active.
    function requestInfo(uint256 modelId)
        external
        view
        returns (bool active, uint8 stateDepth, DisputeParams memory params, TensorMeta memory input)
    {
        Model storage m = _model(modelId);
        return (m.active && _ceremonyDone(ceremonies[modelId]), m.stateDepth, m.params, m.input);
    }

    /// What a result needs, in one call.
    function resultInfo(uint256 modelId)
        external
        view
        returns (uint32 numOps, uint8 stateDepth, DisputeParams memory params, TensorMeta memory output)
    {
        Model storage m = _model(modelId);
        return (m.numOps, m.stateDepth, m.params, m.output);
    }

    function circuitRoot(uint256 modelId) external view returns (bytes32) {
        return _model(modelId).circuitRoot;
    }

    function metaRoot(uint256 modelId) external view returns (bytes32) {
        return _model(modelId).metaRoot;
    }

    function _model(uint256 modelId) internal view returns (Model storage) {
        if (modelId >= models.length) revert UnknownModel(modelId);
        return models[modelId];
    }
}
