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

/// Per-deployment lower bounds of the dispute parameters (docs/protocol.md "Parameter bounds").
struct ParamBounds {
    uint64 minMoveSeconds; // the longest a party may need to land one move on this chain (block interval, inclusion delay)
    uint64 minChallengeWindow; // seconds
    uint96 minSubmitterBond; // wei (at least 1)
    uint96 minChallengerBond; // wei (at least 1)
}

/// @title ModelRegistry: the commitments of registered models. Ids count up from 0.
contract ModelRegistry {
    uint16 public constant MAX_ARITY = 256;
    uint16 public constant MAX_GROUP = 256;
    /// Every game ends within 2 * clockBudget: at most two weeks.
    uint64 public constant MAX_CLOCK_BUDGET = 7 days;
    uint64 public constant MAX_CHALLENGE_WINDOW = 30 days;
    uint64 public constant MAX_CEREMONY_WINDOW = 90 days;
    /// A chunk index is a uint32: a chunk tree is at most 32 levels high.
    uint256 internal constant MAX_CHUNK_HEIGHT = 32;

    uint64 public immutable minMoveSeconds;
    uint64 public immutable minChallengeWindow;
    uint96 public immutable minSubmitterBond;
    uint96 public immutable minChallengerBond;

    struct Registration {
        bytes32 modelHash; // hash of the compiled model's canonical encoding
        string manifestCid; // content id of the artifact manifest (compiled model, circuit table, keys: docs/node.md)
        uint32 numOps; // n: operators 1..n, slots 0..n
        bytes32 circuitRoot; // docs/commitments.md "Circuit table"
        bytes32 metaRoot; // docs/commitments.md "Meta root": metaHash of every slot
        TensorMeta input; // geometry of slot 0
        TensorMeta output; // geometry of slot n
        bytes32[] inputMetaPath; // path of metaHash(input) at leaf 0 under metaRoot
        bytes32[] outputMetaPath; // path of metaHash(output) at leaf n under metaRoot
        DisputeParams params;
    }

    /// The first four slots are what a request and a result read (docs/gas.md): the honest path
    /// touches nothing else here.
    struct Model {
        address owner;
        bool active; // the owner's switch
        bool ceremonyPending; // registered with a ceremony whose contribution is not accepted yet
        uint32 numOps;
        uint8 stateDepth;
        DisputeParams params;
        uint32 inputNumel;
        uint32 inputChunkLen;
        uint32 outputNumel;
        uint32 outputChunkLen;
        bytes32 inputMetaHash;
        bytes32 outputMetaHash;
        bytes32 modelHash;
        bytes32 circuitRoot;
        bytes32 metaRoot;
        string manifestCid;
    }

    Model[] internal models;

    /// Phase 2 of a model's Groth16 setup (docs/zk.md "Trusted setup"), for models registered
    /// with `registerWithCeremony`. Every contribution is kept (each names the keys it builds
    /// on, so two contributors on the same keys are both recorded); contributions are verified
    /// off-chain (`zkopml ceremony verify`, or `snarkjs zkey verify`), and the model becomes
    /// active only when its owner, after the window closed, accepts one whose whole chain of
    /// contributions verifies (`acceptContribution`). The owner is already trusted for the
    /// model's roots; no contributor can pick the keys.
    struct Ceremony {
        uint64 closesAt; // contributions until this time (0: no ceremony); the owner may extend it
        uint32 contributions; // contributions recorded
        uint32 accepted; // 1 + index of the accepted contribution; 0 while none is
        bytes32 initialTranscript; // transcript hash of the initial keys (from the Powers of Tau)
        bytes32 transcriptHash; // the latest contribution's (initial keys' before any); the accepted one's after acceptance
        string keysCid; // where those keys are published ("" for the initial keys)
    }

    /// One recorded contribution.
    struct Contribution {
        address contributor;
        uint32 parent; // 0: built on the initial keys; i + 1: on contribution i (the first recorded with that transcript)
        bytes32 transcriptHash;
        bytes32 circuitRoot;
        string keysCid;
    }

    mapping(uint256 => Ceremony) internal ceremonies;
    /// docs/commitments.md "Weights root": zero unless registered with committed weights.
    mapping(uint256 => bytes32) internal _weightsRoot;
    mapping(uint256 => Contribution[]) internal contributionsOf;
    /// model -> transcript hash -> 1 + index of the contribution that produced it
    mapping(uint256 => mapping(bytes32 => uint32)) internal contributionOf;

    event ModelRegistered(
        uint256 indexed modelId,
        address indexed owner,
        bytes32 modelHash,
        bytes32 circuitRoot,
        bytes32 metaRoot,
        uint32 numOps,
        uint8 stateDepth,
        string manifestCid
    );
    /// The input's and the output's full geometry (the model stores their meta hashes, value
    /// counts and chunk lengths).
    event ModelGeometry(uint256 indexed modelId, TensorMeta input, TensorMeta output);
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
    event CeremonyExtended(uint256 indexed modelId, uint64 closesAt);
    event WeightsRoot(uint256 indexed modelId, bytes32 weightsRoot);
    event ContributionAccepted(uint256 indexed modelId, uint32 index, bytes32 transcriptHash, bytes32 circuitRoot);

    error BadParams();
    error BadMetaPath();
    error NotOwner();
    error UnknownModel(uint256 modelId);
    error NoCeremony(uint256 modelId);
    error CeremonyClosed(uint256 modelId);
    error UnknownTranscript(bytes32 transcriptHash);
    error CeremonyOpen(uint256 modelId);
    error AlreadyAccepted(uint256 modelId);
    error UnknownContribution(uint256 modelId, uint256 index);
    error BadBounds();

    constructor(ParamBounds memory b) {
        if (b.minMoveSeconds == 0 || b.minMoveSeconds > MAX_CLOCK_BUDGET || b.minChallengeWindow > MAX_CHALLENGE_WINDOW)
        {
            revert BadBounds();
        }
        minMoveSeconds = b.minMoveSeconds;
        minChallengeWindow = b.minChallengeWindow == 0 ? 1 : b.minChallengeWindow;
        minSubmitterBond = b.minSubmitterBond == 0 ? 1 : b.minSubmitterBond;
        minChallengerBond = b.minChallengerBond == 0 ? 1 : b.minChallengerBond;
    }

    /// Registers a model whose keys come from a trusted local setup: requests open at once.
    function register(Registration calldata r) external returns (uint256 modelId) {
        return _register(r);
    }

    /// Registers a model whose Gemm weights are committed, not baked into its circuits
    /// (docs/commitments.md "Weights root"): a step proof that reads a weight block opens it
    /// under `weightsRoot_`, fixed here for good. Requests open at once.
    function registerWithWeights(Registration calldata r, bytes32 weightsRoot_) external returns (uint256 modelId) {
        if (weightsRoot_ == bytes32(0)) revert BadParams();
        modelId = _register(r);
        _weightsRoot[modelId] = weightsRoot_;
        emit WeightsRoot(modelId, weightsRoot_);
    }

    /// The model's weights root; zero for a model whose weights are all baked into its circuits.
    function weightsRoot(uint256 modelId) external view returns (bytes32) {
        _model(modelId);
        return _weightsRoot[modelId];
    }

    /// Registers a model whose keys are derived from a Powers-of-Tau file and still need phase-2
    /// contributions: `r.circuitRoot` is the root of the initial keys, `transcriptHash` their
    /// transcript hash. Anyone may contribute for `window` seconds; requests open after that.
    function registerWithCeremony(Registration calldata r, bytes32 transcriptHash, uint64 window)
        external
        returns (uint256 modelId)
    {
        if (window == 0 || window > MAX_CEREMONY_WINDOW) revert BadParams();
        modelId = _register(r);
        models[modelId].ceremonyPending = true;
        uint64 closesAt = uint64(block.timestamp) + window;
        ceremonies[modelId] = Ceremony(closesAt, 0, 0, transcriptHash, transcriptHash, "");
        emit CeremonyOpened(modelId, closesAt, transcriptHash);
    }

    /// Records a contribution on top of the keys whose transcript hash is `prevTranscript`: the
    /// initial keys or any recorded contribution (so a contribution front-run by another on the
    /// same keys is still kept). The new keys are published at `keysCid`; `circuitRoot` is the
    /// root of their circuit table. Recording does not make them the model's keys: see
    /// `acceptContribution`.
    function contribute(
        uint256 modelId,
        bytes32 prevTranscript,
        bytes32 transcriptHash,
        bytes32 newCircuitRoot,
        string calldata keysCid
    ) external {
        _model(modelId);
        Ceremony storage c = ceremonies[modelId];
        if (c.closesAt == 0) revert NoCeremony(modelId);
        if (block.timestamp >= c.closesAt || c.accepted != 0) revert CeremonyClosed(modelId);
        uint32 parent = contributionOf[modelId][prevTranscript];
        if (parent == 0 && prevTranscript != c.initialTranscript) revert UnknownTranscript(prevTranscript);
        uint32 index = c.contributions++;
        // A transcript hash recorded twice (e.g. a squatter front-running an honest contribution
        // with the same hash and keys of its own) is kept twice: `parent` names the first entry
        // with that hash, and the owner verifies the keys themselves, whose file holds the chain.
        if (contributionOf[modelId][transcriptHash] == 0) contributionOf[modelId][transcriptHash] = index + 1;
        contributionsOf[modelId].push(Contribution(msg.sender, parent, transcriptHash, newCircuitRoot, keysCid));
        c.transcriptHash = transcriptHash;
        c.keysCid = keysCid;
        emit Contributed(modelId, msg.sender, index, transcriptHash, newCircuitRoot, keysCid);
    }

    /// The owner extends the contribution window (before it accepted a contribution).
    function extendCeremony(uint256 modelId, uint64 closesAt) external {
        (, Ceremony storage c) = _pendingCeremonyOfOwner(modelId);
        if (closesAt <= c.closesAt || closesAt > block.timestamp + MAX_CEREMONY_WINDOW) revert BadParams();
        c.closesAt = closesAt;
        emit CeremonyExtended(modelId, closesAt);
    }

    /// The owner, after the window closed, accepts contribution `index`, having verified its
    /// keys and their whole chain of contributions against the Powers of Tau (`zkopml ceremony
    /// accept` does both): its circuit root becomes the model's and requests open.
    function acceptContribution(uint256 modelId, uint32 index) external {
        (Model storage m, Ceremony storage c) = _pendingCeremonyOfOwner(modelId);
        if (block.timestamp < c.closesAt) revert CeremonyOpen(modelId);
        if (index >= c.contributions) revert UnknownContribution(modelId, index);
        Contribution storage k = contributionsOf[modelId][index];
        c.accepted = index + 1;
        c.transcriptHash = k.transcriptHash;
        c.keysCid = k.keysCid;
        m.circuitRoot = k.circuitRoot;
        m.ceremonyPending = false;
        emit ContributionAccepted(modelId, index, k.transcriptHash, k.circuitRoot);
    }

    /// The model and its ceremony, for its owner, while no contribution is accepted.
    function _pendingCeremonyOfOwner(uint256 modelId) internal view returns (Model storage m, Ceremony storage c) {
        m = _model(modelId);
        if (msg.sender != m.owner) revert NotOwner();
        c = ceremonies[modelId];
        if (c.closesAt == 0) revert NoCeremony(modelId);
        if (c.accepted != 0) revert AlreadyAccepted(modelId);
    }

    /// Contribution `index` of a model's ceremony.
    function getContribution(uint256 modelId, uint256 index) external view returns (Contribution memory) {
        _model(modelId);
        if (index >= contributionsOf[modelId].length) revert UnknownContribution(modelId, index);
        return contributionsOf[modelId][index];
    }

    /// 1 + the index of the accepted contribution (0 while none is).
    function acceptedContribution(uint256 modelId) external view returns (uint32) {
        _model(modelId);
        return ceremonies[modelId].accepted;
    }

    /// The ceremony of a model: `closesAt` 0 when it was registered without one; `transcriptHash`
    /// the latest contribution's (the accepted one's once accepted); `done` once accepted.
    function ceremonyInfo(uint256 modelId)
        external
        view
        returns (uint64 closesAt, uint32 contributions, bytes32 transcriptHash, bool done)
    {
        _model(modelId);
        Ceremony storage c = ceremonies[modelId];
        return (c.closesAt, c.contributions, c.transcriptHash, _ceremonyDone(c));
    }

    /// Where the keys of a model's ceremony are published: the accepted contribution's once
    /// accepted, before that the latest contribution's, "" before the first (the initial keys
    /// are among the registration's artifacts).
    function ceremonyKeys(uint256 modelId) external view returns (string memory) {
        _model(modelId);
        return ceremonies[modelId].keysCid;
    }

    function _ceremonyDone(Ceremony storage c) internal view returns (bool) {
        return c.closesAt == 0 || c.accepted != 0;
    }

    function _register(Registration calldata r) internal returns (uint256 modelId) {
        DisputeParams calldata p = r.params;
        if (
            r.numOps == 0 || p.arity < 2 || p.arity > MAX_ARITY || p.maxGroup == 0 || p.maxGroup > MAX_GROUP
                || p.clockBudget < minClockBudget(r.numOps, p.arity, p.maxGroup) || p.clockBudget > MAX_CLOCK_BUDGET
                || p.challengeWindow < minChallengeWindow || p.challengeWindow > MAX_CHALLENGE_WINDOW
                || p.submitterBond < minSubmitterBond || p.challengerBond < minChallengerBond
        ) revert BadParams();
        uint256 depth = Commitments.stateDepth(r.numOps);
        if (r.inputMetaPath.length != depth || r.outputMetaPath.length != depth) revert BadMetaPath();
        modelId = models.length;
        Model storage m = models.push();
        _storeGeometry(m, r);
        m.owner = msg.sender;
        m.active = true;
        m.numOps = r.numOps;
        m.stateDepth = uint8(depth);
        m.modelHash = r.modelHash;
        m.circuitRoot = r.circuitRoot;
        m.metaRoot = r.metaRoot;
        m.params = p;
        m.manifestCid = r.manifestCid;

        emit ModelRegistered(
            modelId, msg.sender, r.modelHash, r.circuitRoot, r.metaRoot, r.numOps, uint8(depth), r.manifestCid
        );
        emit ModelGeometry(modelId, r.input, r.output);
        emit ModelParams(
            modelId, p.arity, p.maxGroup, p.clockBudget, p.challengeWindow, p.submitterBond, p.challengerBond
        );
    }

    /// Checks the input's and the output's geometry against the meta root and stores them, with
    /// the compact copy (meta hash, value count, chunk length) a request and a result read.
    function _storeGeometry(Model storage m, Registration calldata r) internal {
        (uint256 inputNumel,) = Commitments.checkMeta(r.input);
        (uint256 outputNumel,) = Commitments.checkMeta(r.output);
        bytes32 inputMeta = Commitments.metaHash(r.input);
        bytes32 outputMeta = Commitments.metaHash(r.output);
        if (Merkle.rootFromPath(inputMeta, 0, r.inputMetaPath) != r.metaRoot) revert BadMetaPath();
        if (Merkle.rootFromPath(outputMeta, r.numOps, r.outputMetaPath) != r.metaRoot) revert BadMetaPath();
        m.inputNumel = uint32(inputNumel);
        m.inputChunkLen = r.input.chunkLen;
        m.outputNumel = uint32(outputNumel);
        m.outputChunkLen = r.output.chunkLen;
        m.inputMetaHash = inputMeta;
        m.outputMetaHash = outputMeta;
    }

    /// The smallest clock budget a model may have: `minMoveSeconds` for every move one party
    /// makes in the longest game (operator rounds, the reveal, chunk rounds down a tree of
    /// MAX_CHUNK_HEIGHT levels, the proof), so that no honest party can lose on time however
    /// slowly the chain includes its transactions (up to `minMoveSeconds` per move).
    function minClockBudget(uint32 numOps, uint16 arity, uint16 maxGroup) public view returns (uint64) {
        if (arity < 2 || maxGroup == 0) return type(uint64).max;
        uint256 moves = 2; // the reveal and the proof
        // operator rounds, as FaultDisputeGame cuts a segment: the longest part of each round
        for (uint256 len = numOps; len > 1; ++moves) {
            uint256 a = len <= maxGroup ? len : (arity < len ? arity : len);
            len = (len + a - 1) / a;
        }
        uint256 step = 0;
        while ((uint256(2) << step) <= arity) ++step;
        moves += (MAX_CHUNK_HEIGHT + step - 1) / step;
        return uint64(moves * minMoveSeconds);
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

    /// What a request needs, in one call (two storage slots besides the model's first three).
    /// A model in its ceremony (or whose window closed with no accepted contribution) is not open.
    function requestInfo(uint256 modelId)
        external
        view
        returns (
            bool open,
            uint8 stateDepth,
            uint64 challengeWindow,
            uint96 submitterBond,
            bytes32 inputMetaHash,
            uint32 inputNumel,
            uint32 inputChunkLen
        )
    {
        Model storage m = _model(modelId);
        return (
            m.active && !m.ceremonyPending,
            m.stateDepth,
            m.params.challengeWindow,
            m.params.submitterBond,
            m.inputMetaHash,
            m.inputNumel,
            m.inputChunkLen
        );
    }

    /// What a result needs, in one call.
    function resultInfo(uint256 modelId)
        external
        view
        returns (uint32 numOps, uint8 stateDepth, uint64 challengeWindow, uint96 submitterBond)
    {
        Model storage m = _model(modelId);
        return (m.numOps, m.stateDepth, m.params.challengeWindow, m.params.submitterBond);
    }

    /// The output's geometry, as a boundary tensor's root needs it.
    function outputInfo(uint256 modelId)
        external
        view
        returns (bytes32 outputMetaHash, uint32 outputNumel, uint32 outputChunkLen)
    {
        Model storage m = _model(modelId);
        return (m.outputMetaHash, m.outputNumel, m.outputChunkLen);
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
