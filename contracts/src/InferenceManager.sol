// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Commitments, TensorMeta} from "./lib/Commitments.sol";
import {Merkle} from "./lib/Merkle.sol";
import {IInferenceManager} from "./interfaces/IInferenceManager.sol";
import {IFaultDisputeGame} from "./interfaces/IFaultDisputeGame.sol";
import {ModelRegistry, DisputeParams} from "./ModelRegistry.sol";

/// @title InferenceManager: requests, results, challenges, and all the money.
/// Every wei this contract holds is either escrowed (fees of open or answered requests, bonds of
/// live results, bonds of running challenges, the shares of a rejected result's bond that wait
/// for their games to end), credited to an account that can withdraw it, or burned (locked here
/// for ever):
///   address(this).balance == totalEscrow + totalCredits + totalBurned
/// Payouts are pulled with withdraw() (checks-effects-interactions and a re-entrancy lock).
/// See docs/protocol.md for the state machine and the bond rule.
///
/// Storage is kept to what the honest path must have (docs/gas.md "Honest path"): per request one
/// slot of mutable state and the hash of its immutable record, per result the hash of its record.
/// The records themselves are in the events; calls that need them take them as arguments and
/// check them against the hashes.
contract InferenceManager is IInferenceManager {
    enum Status {
        None,
        Open, // waiting for a result (until `deadline`)
        Submitted, // a result is live: challengeable until its challengeDeadline
        Finalized, // the result stands; the submitter was paid
        Refunded // nobody answered (rightly) in time; the requester got the fee back
    }

    /// Share of a rejected result's bond that is burned (basis points); the rest is split
    /// equally among the games that were running against it when it was rejected.
    uint256 public constant BURN_BPS = 5000;

    /// The mutable state of a request and of its live result, in one slot.
    struct RequestState {
        Status status;
        uint32 modelId;
        uint32 resultNonce; // counts results; a game refers to (requestId, nonce)
        uint40 deadline; // last second at which a result may be submitted (a rejection may extend it, up to deadlineCap)
        uint40 deadlineCap; // the requester's deadline + the challenge window: no result after it, whatever is rejected
        uint40 challengeDeadline; // of the live result: last second at which it may be challenged
        uint32 activeGames; // games running against the live result
        uint32 reopenedBlock; // low 32 bits of the block of the last rejection: no result in that block
    }

    /// What a request fixes for good; its hash is stored (`requestHash`), the record is in
    /// InferenceRequested.
    struct RequestRecord {
        address requester;
        uint256 fee;
        bytes32 inputRoot; // tensor root of slot 0 (docs/commitments.md "Boundary tensors")
    }

    /// What a result fixes; its hash is stored (`resultHash`), the record is in ResultSubmitted.
    struct ResultRecord {
        address submitter;
        uint256 bond;
        bytes32 finalRoot; // stateRoot(n) claimed by the submitter
        bytes32 outputRoot; // tensor root of slot n: leaf n under finalRoot
    }

    /// A result rejected while other games ran against it: each of them, when it ends, pays its
    /// challenger `share` (on top of its bond) if the challenger won.
    struct Rejection {
        uint32 gamesLeft;
        uint96 share;
    }

    ModelRegistry public immutable registry;
    address public immutable deployer;
    IFaultDisputeGame public game;

    /// The request counter and the two totals of the books share one slot: the request, the
    /// submission and the payout each update it with one write, and the slot is never zero again
    /// after the first request (no 20k zero-to-non-zero write when the system runs idle).
    struct Books {
        uint64 requests;
        uint96 escrow;
        uint96 credits;
    }

    Books internal books;
    mapping(uint256 => RequestState) internal states;
    mapping(uint256 => bytes32) public requestHash;
    mapping(uint256 => bytes32) public resultHash;
    mapping(uint256 => mapping(uint32 => Rejection)) public rejections;
    /// request -> submitter -> whether a result of this submitter was rejected (it may not answer again)
    mapping(uint256 => mapping(address => bool)) public rejectedSubmitter;
    /// result commitment -> block it was first made in (docs/protocol.md "Commit, then submit")
    mapping(bytes32 => uint256) public commitBlock;
    mapping(address => uint256) public credits;
    uint256 public totalBurned;
    uint256 private locked = 1;

    /// `inputCid` is "" for an inline input: its packed bytes are the `input` argument of the
    /// requestInference call (or, for a call made by a contract, in InferenceInput).
    event InferenceRequested(
        uint256 indexed requestId,
        uint256 indexed modelId,
        address indexed requester,
        uint256 fee,
        uint64 deadline,
        bytes32 inputRoot,
        string inputCid
    );
    /// The inline input of a request made by a contract (an externally owned account's is in its
    /// transaction's calldata, already on chain and paid for: a log would be a second copy at 8
    /// gas a byte).
    event InferenceInput(uint256 indexed requestId, bytes input);
    event ResultSubmitted(
        uint256 indexed requestId,
        address indexed submitter,
        uint32 resultNonce,
        uint256 bond,
        bytes32 finalRoot,
        bytes32 outputRoot,
        uint64 challengeDeadline
    );
    /// The inline output of a result submitted by a contract (see InferenceInput).
    event ResultOutput(uint256 indexed requestId, uint32 resultNonce, bytes output);
    event ChallengeOpened(
        uint256 indexed requestId,
        uint256 indexed gameId,
        address indexed challenger,
        uint32 resultNonce,
        bytes32 challengerRoot
    );
    event ResultCommitted(bytes32 indexed commitment, address indexed sender);
    event GameSettled(
        uint256 indexed requestId,
        uint32 resultNonce,
        address indexed challenger,
        bool defenderWon,
        uint256 challengerPaid
    );
    event Burned(uint256 indexed requestId, uint32 resultNonce, uint256 amount);
    event ResultFinalized(uint256 indexed requestId, address indexed submitter, bytes32 finalRoot);
    event ResultRejected(uint256 indexed requestId, uint32 resultNonce, address indexed challenger);
    event RequestReopened(uint256 indexed requestId, uint64 deadline);
    event RequestRefunded(uint256 indexed requestId, address indexed requester, uint256 fee);
    event Credited(address indexed account, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);
    event GameSet(address game);

    error NotDeployer();
    error GameAlreadySet();
    error NotGame();
    error ModelInactive();
    error BadDeadline();
    error WrongStatus(Status status);
    error DeadlinePassed();
    error TooEarly();
    error WrongBond(uint256 sent, uint256 required);
    error BadOutputPath();
    error BadOutput();
    error SameRoot();
    error GamesRunning();
    error FeeTooLarge();
    error NothingToWithdraw();
    error TransferFailed();
    error Reentrancy();
    error UnknownRequest(uint256 requestId);
    error NotFinal();
    error NoCommitment();
    error SubmitterRejected();
    error ReopenedThisBlock();
    error WrongRecord();
    error NotSubmitter();
    error AmountTooLarge();
    error NoInputCid();

    modifier nonReentrant() {
        if (locked != 1) revert Reentrancy();
        locked = 2;
        _;
        locked = 1;
    }

    constructor(ModelRegistry registry_) {
        registry = registry_;
        deployer = msg.sender;
    }

    /// One-time wiring of the dispute game (the two contracts refer to each other).
    function setGame(IFaultDisputeGame game_) external {
        if (msg.sender != deployer) revert NotDeployer();
        if (address(game) != address(0)) revert GameAlreadySet();
        game = game_;
        emit GameSet(address(game_));
    }

    // ------------------------------------------------------------------ requests

    /// Request with the input inline: `input` is its packed bytes (4 bytes a value, int32
    /// big-endian, canonical layout); the contract computes its tensor root with keccak.
    function requestInference(uint256 modelId, bytes calldata input, uint64 deadline)
        external
        payable
        returns (uint256 requestId)
    {
        (bool open,, uint64 window, uint96 bond, bytes32 metaHash, uint32 numel, uint32 chunkLen) =
            registry.requestInfo(modelId);
        bytes32 inputRoot = Commitments.tensorRootOf(metaHash, Commitments.boundaryChunksRoot(input, numel, chunkLen));
        requestId = _newRequest(modelId, open, window, bond, inputRoot, deadline, "");
        // an account's calldata is the input's record; a contract's call is not in any calldata
        if (msg.sender != tx.origin) emit InferenceInput(requestId, input);
    }

    /// Request for a large input stored off-chain under `inputCid` (its packed bytes);
    /// `chunksRoot` is the root of its boundary chunk leaves (the requester's commitment: the
    /// dispute starts from it, and actors check the stored bytes against it). The tensor root is
    /// computed here with the model's registered input geometry, so a stored input cannot come
    /// with another shape, scale or chunking.
    function requestInferenceByRoot(uint256 modelId, bytes32 chunksRoot, string calldata inputCid, uint64 deadline)
        external
        payable
        returns (uint256 requestId)
    {
        if (bytes(inputCid).length == 0) revert NoInputCid();
        (bool open,, uint64 window, uint96 bond, bytes32 metaHash,,) = registry.requestInfo(modelId);
        requestId = _newRequest(
            modelId, open, window, bond, Commitments.tensorRootOf(metaHash, chunksRoot), deadline, inputCid
        );
    }

    /// The fee must stay below the burned share of the submitter bond: a party that forces a
    /// reopening by losing its own garbage answer on purpose (to displace an honest reveal and
    /// answer with a copy of it) burns more than any fee it could earn (docs/protocol.md).
    function _newRequest(
        uint256 modelId,
        bool open,
        uint64 window,
        uint96 bond,
        bytes32 inputRoot,
        uint64 deadline,
        string memory inputCid
    ) internal returns (uint256 requestId) {
        if (!open) revert ModelInactive();
        if (deadline <= block.timestamp || deadline > type(uint40).max - window) revert BadDeadline();
        if (msg.value >= maxFeeOf(bond)) revert FeeTooLarge();
        requestId = books.requests++;
        states[requestId] = RequestState({
            status: Status.Open,
            modelId: uint32(modelId),
            resultNonce: 0,
            deadline: uint40(deadline),
            deadlineCap: uint40(deadline + window),
            challengeDeadline: 0,
            activeGames: 0,
            reopenedBlock: 0
        });
        requestHash[requestId] = keccak256(abi.encode(RequestRecord(msg.sender, msg.value, inputRoot)));
        books.escrow += _u96(msg.value);
        emit InferenceRequested(requestId, modelId, msg.sender, msg.value, deadline, inputRoot, inputCid);
    }

    /// A request's fee must be below this: the part of the submitter bond a rejection burns.
    function maxFeeOf(uint96 submitterBond) public pure returns (uint256) {
        return (uint256(submitterBond) * BURN_BPS) / 10_000;
    }

    /// Tensor root of a boundary tensor's chunks root with geometry `meta` (which it checks).
    function tensorRootOfChunks(TensorMeta calldata meta, bytes32 chunksRoot) external pure returns (bytes32) {
        Commitments.checkMeta(meta);
        return Commitments.tensorRootOf(Commitments.metaHash(meta), chunksRoot);
    }

    /// Tensor root of a boundary tensor (slot 0 or n) given as packed bytes with geometry `meta`.
    function tensorRootOf(TensorMeta calldata meta, bytes calldata packed) external pure returns (bytes32) {
        (uint256 n,) = Commitments.checkMeta(meta);
        return
            Commitments.tensorRootOf(
                Commitments.metaHash(meta), Commitments.boundaryChunksRoot(packed, n, meta.chunkLen)
            );
    }

    // ------------------------------------------------------------------ results

    /// The commitment a submitter makes, in an earlier block than its submitResult, to the final
    /// root it will submit: bound to the sender, so a result copied from the mempool (whose
    /// copier made no commitment in time) is refused.
    function resultCommitment(uint256 requestId, bytes32 finalRoot, address submitter) public pure returns (bytes32) {
        return keccak256(abi.encode(requestId, finalRoot, submitter));
    }

    /// Step 1 of answering: record `commitment` = resultCommitment(requestId, finalRoot, msg.sender).
    /// It reveals nothing of the result.
    function commitResult(bytes32 commitment) external {
        if (commitBlock[commitment] == 0) commitBlock[commitment] = block.number;
        emit ResultCommitted(commitment, msg.sender);
    }

    /// Step 2: answer an open request (commitResult in an earlier block). `outputRoot` is the
    /// tensor root of slot n, `outputPath` its stateDepth siblings under `finalRoot`; `output` is
    /// either empty or the output's packed bytes, which must then have that root (a consumer
    /// contract reads them with finalOutput). msg.value must be the model's submitter bond. A
    /// submitter whose result on this request was rejected may not answer it again, and nobody
    /// may answer in the block of a rejection.
    function submitResult(
        uint256 requestId,
        bytes32 finalRoot,
        bytes32 outputRoot,
        bytes32[] calldata outputPath,
        bytes calldata output
    ) external payable {
        RequestState memory s = _state(requestId);
        if (s.status != Status.Open) revert WrongStatus(s.status);
        if (block.timestamp > s.deadline) revert DeadlinePassed();
        if (s.reopenedBlock == uint32(block.number)) revert ReopenedThisBlock();
        if (rejectedSubmitter[requestId][msg.sender]) revert SubmitterRejected();
        bytes32 commitment = resultCommitment(requestId, finalRoot, msg.sender);
        uint256 at = commitBlock[commitment];
        if (at == 0 || at >= block.number) revert NoCommitment();
        delete commitBlock[commitment];
        uint64 window = _checkOutput(s.modelId, finalRoot, outputRoot, outputPath, output);
        uint32 nonce = _storeResult(requestId, s, finalRoot, outputRoot, window);
        if (output.length != 0 && msg.sender != tx.origin) emit ResultOutput(requestId, nonce, output);
    }

    function _storeResult(
        uint256 requestId,
        RequestState memory s,
        bytes32 finalRoot,
        bytes32 outputRoot,
        uint64 window
    ) internal returns (uint32 nonce) {
        nonce = s.resultNonce + 1;
        uint64 challengeDeadline = uint64(block.timestamp) + window;
        s.status = Status.Submitted;
        s.resultNonce = nonce;
        s.challengeDeadline = uint40(challengeDeadline);
        s.activeGames = 0;
        states[requestId] = s;
        resultHash[requestId] = keccak256(abi.encode(ResultRecord(msg.sender, msg.value, finalRoot, outputRoot)));
        books.escrow += _u96(msg.value);
        emit ResultSubmitted(requestId, msg.sender, nonce, msg.value, finalRoot, outputRoot, challengeDeadline);
    }

    /// Checks that `outputRoot` is leaf n under `finalRoot`, that `output` (if given) has that
    /// root, and the bond; returns the challenge window.
    function _checkOutput(
        uint256 modelId,
        bytes32 finalRoot,
        bytes32 outputRoot,
        bytes32[] calldata outputPath,
        bytes calldata output
    ) internal view returns (uint64) {
        (uint32 numOps, uint8 depth, uint64 window, uint96 bond) = registry.resultInfo(modelId);
        if (outputPath.length != depth || Merkle.rootFromPath(outputRoot, numOps, outputPath) != finalRoot) {
            revert BadOutputPath();
        }
        if (output.length != 0 && _outputRoot(modelId, output) != outputRoot) revert BadOutput();
        if (msg.value != bond) revert WrongBond(msg.value, bond);
        return window;
    }

    function _outputRoot(uint256 modelId, bytes calldata output) internal view returns (bytes32) {
        (bytes32 metaHash, uint32 numel, uint32 chunkLen) = registry.outputInfo(modelId);
        return Commitments.tensorRootOf(metaHash, Commitments.boundaryChunksRoot(output, numel, chunkLen));
    }

    /// Dispute the live result of `requestId` by claiming a different final state root.
    function challenge(uint256 requestId, RequestRecord calldata rq, ResultRecord calldata res, bytes32 challengerRoot)
        external
        payable
        returns (uint256 gameId)
    {
        RequestState storage st = _state(requestId);
        if (st.status != Status.Submitted) revert WrongStatus(st.status);
        _checkRecords(requestId, rq, res);
        if (block.timestamp > st.challengeDeadline) revert DeadlinePassed();
        if (challengerRoot == res.finalRoot) revert SameRoot();
        (, uint8 depth, DisputeParams memory p) = registry.disputeInfo(st.modelId);
        if (msg.value != p.challengerBond) revert WrongBond(msg.value, p.challengerBond);
        st.activeGames += 1;
        books.escrow += _u96(msg.value);
        uint32 nonce = st.resultNonce;
        gameId = _createGame(
            requestId, st, res.submitter, Commitments.stateRoot0(rq.inputRoot, depth), res.finalRoot, challengerRoot
        );
        emit ChallengeOpened(requestId, gameId, msg.sender, nonce, challengerRoot);
    }

    function _createGame(
        uint256 requestId,
        RequestState storage st,
        address submitter,
        bytes32 stateRoot0,
        bytes32 finalRoot,
        bytes32 challengerRoot
    ) internal returns (uint256) {
        return game.createGame(
            requestId,
            st.resultNonce,
            st.modelId,
            submitter,
            msg.sender,
            uint96(msg.value),
            stateRoot0,
            finalRoot,
            challengerRoot
        );
    }

    /// After the challenge window, with no game running: the result is final, the submitter is
    /// credited the fee and its bond. Anyone may call.
    function finalize(uint256 requestId, RequestRecord calldata rq, ResultRecord calldata res) external {
        _credit(res.submitter, _finalize(requestId, rq, res));
    }

    /// finalize for the submitter itself, paid at once instead of credited (one transaction and
    /// no credit slot: the cheap end of the honest path). A transfer that fails reverts the whole
    /// call, which only the submitter can make.
    function claim(uint256 requestId, RequestRecord calldata rq, ResultRecord calldata res) external nonReentrant {
        if (msg.sender != res.submitter) revert NotSubmitter();
        uint256 amount = _finalize(requestId, rq, res);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    function _finalize(uint256 requestId, RequestRecord calldata rq, ResultRecord calldata res)
        internal
        returns (uint256 amount)
    {
        RequestState storage st = _state(requestId);
        if (st.status != Status.Submitted) revert WrongStatus(st.status);
        _checkRecords(requestId, rq, res);
        if (block.timestamp <= st.challengeDeadline) revert TooEarly();
        if (st.activeGames != 0) revert GamesRunning();
        st.status = Status.Finalized;
        amount = rq.fee + res.bond;
        books.escrow -= _u96(amount);
        emit ResultFinalized(requestId, res.submitter, res.finalRoot);
    }

    /// Open and past its deadline: the requester gets the fee back. Anyone may call.
    function refund(uint256 requestId, RequestRecord calldata rq) external {
        RequestState storage st = _state(requestId);
        if (st.status != Status.Open) revert WrongStatus(st.status);
        if (keccak256(abi.encode(rq)) != requestHash[requestId]) revert WrongRecord();
        if (block.timestamp <= st.deadline) revert TooEarly();
        st.status = Status.Refunded;
        books.escrow -= _u96(rq.fee);
        _credit(rq.requester, rq.fee);
        emit RequestRefunded(requestId, rq.requester, rq.fee);
    }

    function _checkRecords(uint256 requestId, RequestRecord calldata rq, ResultRecord calldata res) internal view {
        if (keccak256(abi.encode(rq)) != requestHash[requestId] || keccak256(abi.encode(res)) != resultHash[requestId]) revert WrongRecord();
    }

    // ------------------------------------------------------------------ game callback

    /// @inheritdoc IInferenceManager
    function onGameResolved(
        uint256 requestId,
        uint32 resultNonce,
        address defender,
        address challenger,
        uint256 challengerBond,
        bool defenderWon
    ) external {
        if (msg.sender != address(game)) revert NotGame();
        RequestState storage st = states[requestId];
        books.escrow -= _u96(challengerBond);
        uint256 paid;
        if (st.status == Status.Submitted && st.resultNonce == resultNonce) {
            if (defenderWon) {
                st.activeGames -= 1;
                _credit(defender, challengerBond);
            } else {
                paid = challengerBond + _reject(requestId, st, resultNonce, defender, challenger);
                _credit(challenger, paid);
            }
        } else {
            // A game on a result that is no longer live: that result was rejected (a final result
            // has no games), and this game was running then. Its share of the bond waits here.
            Rejection storage rj = rejections[requestId][resultNonce];
            uint256 share = rj.share;
            books.escrow -= _u96(share);
            if (--rj.gamesLeft == 0) delete rejections[requestId][resultNonce];
            if (defenderWon) {
                // the challenger lost too: its bond and its share are burned (nothing flows back
                // to a rejected submitter)
                _burn(requestId, resultNonce, challengerBond + share);
            } else {
                paid = challengerBond + share;
                _credit(challenger, paid);
            }
        }
        emit GameSettled(requestId, resultNonce, challenger, defenderWon, paid);
    }

    /// The live result lost a game: BURN_BPS of its bond is burned, the rest is split equally
    /// among the games running against it (this one included; the others are paid when they
    /// end), its submitter may not answer this request again, and the request reopens. Returns
    /// this game's share.
    function _reject(
        uint256 requestId,
        RequestState storage st,
        uint32 resultNonce,
        address submitter,
        address challenger
    ) internal returns (uint256 share) {
        uint256 games = st.activeGames;
        (,, uint64 window, uint96 bond96) = registry.resultInfo(st.modelId);
        uint256 bond = bond96;
        uint256 pool = bond - (bond * BURN_BPS) / 10_000;
        share = pool / games;
        books.escrow -= _u96(bond);
        _burn(requestId, resultNonce, bond - share * games); // the burned part and the rounding dust
        if (games > 1) {
            books.escrow += _u96(share * (games - 1));
            rejections[requestId][resultNonce] = Rejection(uint32(games - 1), uint96(share));
        }
        rejectedSubmitter[requestId][submitter] = true;
        delete resultHash[requestId];
        st.status = Status.Open;
        st.activeGames = 0;
        st.challengeDeadline = 0;
        st.reopenedBlock = uint32(block.number);
        uint64 reopenUntil = uint64(block.timestamp) + window;
        if (reopenUntil > st.deadlineCap) reopenUntil = st.deadlineCap;
        if (st.deadline < reopenUntil) st.deadline = uint40(reopenUntil);
        emit ResultRejected(requestId, resultNonce, challenger);
        emit RequestReopened(requestId, st.deadline);
    }

    // ------------------------------------------------------------------ money

    function withdraw() external nonReentrant {
        uint256 amount = credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        credits[msg.sender] = 0;
        books.credits -= _u96(amount);
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    /// Amounts in the books are below 2^96 wei (bonds are uint96, fees below half a bond): a
    /// larger one is refused, never truncated.
    function _u96(uint256 x) internal pure returns (uint96) {
        if (x > type(uint96).max) revert AmountTooLarge();
        return uint96(x);
    }

    function _burn(uint256 requestId, uint32 resultNonce, uint256 amount) internal {
        if (amount == 0) return;
        totalBurned += amount;
        emit Burned(requestId, resultNonce, amount);
    }

    function _credit(address account, uint256 amount) internal {
        if (amount == 0) return;
        credits[account] += amount;
        books.credits += _u96(amount);
        emit Credited(account, amount);
    }

    // ------------------------------------------------------------------ views

    function requestCount() external view returns (uint256) {
        return books.requests;
    }

    /// Fees, bonds and rejection shares held for requests, results and games not settled yet.
    function totalEscrow() external view returns (uint256) {
        return books.escrow;
    }

    /// Credited to accounts and not withdrawn yet.
    function totalCredits() external view returns (uint256) {
        return books.credits;
    }

    function getRequest(uint256 requestId) external view returns (RequestState memory) {
        return _state(requestId);
    }

    /// The final output of a request, from its packed bytes (the `output` of submitResult, or
    /// computed by anyone from the input) and its result record (ResultSubmitted): reverts unless
    /// the request is Finalized and the bytes have the output root the submitter defended.
    function finalOutput(uint256 requestId, ResultRecord calldata res, bytes calldata output)
        external
        view
        returns (int32[] memory values)
    {
        RequestState storage st = _state(requestId);
        if (st.status != Status.Finalized) revert NotFinal();
        if (keccak256(abi.encode(res)) != resultHash[requestId]) revert WrongRecord();
        if (_outputRoot(st.modelId, output) != res.outputRoot) revert BadOutput();
        values = new int32[](output.length / 4);
        for (uint256 i = 0; i < values.length; ++i) {
            values[i] = int32(uint32(bytes4(output[4 * i:4 * i + 4])));
        }
    }

    /// @inheritdoc IInferenceManager
    function isResultLive(uint256 requestId, uint32 resultNonce) external view returns (bool) {
        if (requestId >= books.requests) return false;
        RequestState storage st = states[requestId];
        return st.status == Status.Submitted && st.resultNonce == resultNonce;
    }

    function _state(uint256 requestId) internal view returns (RequestState storage) {
        if (requestId >= books.requests) revert UnknownRequest(requestId);
        return states[requestId];
    }
}
