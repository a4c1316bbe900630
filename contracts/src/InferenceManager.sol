// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Commitments, TensorMeta} from "./lib/Commitments.sol";
import {Merkle} from "./lib/Merkle.sol";
import {IPoseidon5} from "./interfaces/IPoseidon5.sol";
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

    struct Request {
        address requester;
        uint64 deadline; // last second at which a result may be submitted (a rejection may extend it, up to deadlineCap)
        Status status;
        uint128 fee;
        uint64 modelId;
        uint32 resultNonce; // counts results; a game refers to (requestId, nonce)
        bytes32 inputRoot; // tensor root of slot 0
        bytes32 stateRoot0; // state root with only slot 0 set: the agreed start of every dispute
        uint64 deadlineCap; // the requester's deadline + the challenge window: no result after it, whatever is rejected
        uint64 reopenedBlock; // block of the last rejection: no result in that block
    }

    struct Result {
        address submitter;
        uint64 challengeDeadline; // last second at which the result may be challenged
        uint32 activeGames; // games running against it
        uint96 bond;
        bytes32 finalRoot; // stateRoot(n) claimed by the submitter
        int32[] output; // output values; their tensor root is leaf n under finalRoot
    }

    /// A result rejected while other games ran against it: each of them, when it ends, pays its
    /// challenger `share` (on top of its bond) if the challenger won.
    struct Rejection {
        uint32 gamesLeft;
        uint96 share;
    }

    ModelRegistry public immutable registry;
    IPoseidon5 public immutable poseidon;
    address public immutable deployer;
    IFaultDisputeGame public game;

    Request[] internal requests;
    mapping(uint256 => Result) internal results;
    mapping(uint256 => mapping(uint32 => Rejection)) public rejections;
    /// request -> submitter -> whether a result of this submitter was rejected (it may not answer again)
    mapping(uint256 => mapping(address => bool)) public rejectedSubmitter;
    /// result commitment -> block it was first made in (docs/protocol.md "Commit, then submit")
    mapping(bytes32 => uint256) public commitBlock;
    mapping(address => uint256) public credits;
    uint256 public totalEscrow;
    uint256 public totalCredits;
    uint256 public totalBurned;
    uint256 private locked = 1;

    event InferenceRequested(
        uint256 indexed requestId,
        uint256 indexed modelId,
        address indexed requester,
        uint256 fee,
        uint64 deadline,
        bytes32 inputRoot,
        bytes32 stateRoot0,
        int32[] input,
        string inputCid
    );
    event ResultSubmitted(
        uint256 indexed requestId,
        address indexed submitter,
        uint32 resultNonce,
        bytes32 finalRoot,
        uint64 challengeDeadline,
        int32[] output
    );
    event ChallengeOpened(
        uint256 indexed requestId, uint256 indexed gameId, address indexed challenger, uint32 resultNonce, bytes32 challengerRoot
    );
    event ResultCommitted(bytes32 indexed commitment, address indexed sender);
    event GameSettled(
        uint256 indexed requestId, uint32 resultNonce, address indexed challenger, bool defenderWon, uint256 challengerPaid
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

    modifier nonReentrant() {
        if (locked != 1) revert Reentrancy();
        locked = 2;
        _;
        locked = 1;
    }

    constructor(ModelRegistry registry_, IPoseidon5 poseidon_) {
        registry = registry_;
        poseidon = poseidon_;
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

    /// Request with the input inline: the contract computes the input's tensor root itself.
    function requestInference(uint256 modelId, int32[] calldata input, uint64 deadline)
        external
        payable
        returns (uint256 requestId)
    {
        (bool active, uint8 depth, DisputeParams memory p, TensorMeta memory meta) = registry.requestInfo(modelId);
        bytes32 inputRoot = this.tensorRootOf(meta, input);
        requestId = _newRequest(modelId, active, depth, p, inputRoot, deadline);
        _emitRequested(requestId, modelId, deadline, input, "");
    }

    /// Request for a large input stored off-chain under `inputCid`; `chunksRoot` is the root of its
    /// chunk digests (the requester's commitment: the dispute starts from it). The tensor root is
    /// computed here with the model's registered input geometry, so a stored input cannot come
    /// with another shape, scale or chunking.
    function requestInferenceByRoot(uint256 modelId, bytes32 chunksRoot, string calldata inputCid, uint64 deadline)
        external
        payable
        returns (uint256 requestId)
    {
        (bool active, uint8 depth, DisputeParams memory p, TensorMeta memory meta) = registry.requestInfo(modelId);
        bytes32 inputRoot = this.tensorRootOfChunks(meta, chunksRoot);
        requestId = _newRequest(modelId, active, depth, p, inputRoot, deadline);
        _emitRequested(requestId, modelId, deadline, new int32[](0), inputCid);
    }

    function _emitRequested(
        uint256 requestId,
        uint256 modelId,
        uint64 deadline,
        int32[] memory input,
        string memory inputCid
    ) internal {
        Request storage rq = requests[requestId];
        emit InferenceRequested(
            requestId, modelId, msg.sender, msg.value, deadline, rq.inputRoot, rq.stateRoot0, input, inputCid
        );
    }

    /// The fee must stay below the burned share of the submitter bond: a party that forces a
    /// reopening by losing its own garbage answer on purpose (to displace an honest reveal and
    /// answer with a copy of it) burns more than any fee it could earn (docs/protocol.md).
    function _newRequest(
        uint256 modelId,
        bool active,
        uint8 depth,
        DisputeParams memory p,
        bytes32 inputRoot,
        uint64 deadline
    ) internal returns (uint256 requestId) {
        if (!active) revert ModelInactive();
        uint64 challengeWindow = p.challengeWindow;
        if (deadline <= block.timestamp || deadline > type(uint64).max - challengeWindow) revert BadDeadline();
        if (msg.value >= maxFeeOf(p.submitterBond)) revert FeeTooLarge();
        requestId = requests.length;
        requests.push(
            Request({
                requester: msg.sender,
                deadline: deadline,
                status: Status.Open,
                fee: uint128(msg.value),
                modelId: uint64(modelId),
                resultNonce: 0,
                inputRoot: inputRoot,
                stateRoot0: Commitments.stateRoot0(inputRoot, depth),
                deadlineCap: deadline + challengeWindow,
                reopenedBlock: 0
            })
        );
        totalEscrow += msg.value;
    }

    /// A request's fee must be below this: the part of the submitter bond a rejection burns.
    function maxFeeOf(uint96 submitterBond) public pure returns (uint256) {
        return (uint256(submitterBond) * BURN_BPS) / 10_000;
    }

    /// Tensor root of the chunk digests under `chunksRoot` with geometry `meta` (which it checks).
    function tensorRootOfChunks(TensorMeta calldata meta, bytes32 chunksRoot) external pure returns (bytes32) {
        Commitments.checkMeta(meta);
        return Commitments.tensorRootOf(Commitments.metaHash(meta), chunksRoot);
    }

    /// Tensor root of `values` with geometry `meta` (external so that memory metas can be passed
    /// as calldata; also handy off-chain).
    function tensorRootOf(TensorMeta calldata meta, int32[] calldata values) external view returns (bytes32) {
        return Commitments.tensorRoot(poseidon, meta, values);
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

    /// Step 2: answer an open request (commitResult in an earlier block). `output` are the values
    /// of slot n; `outputPath` the stateDepth siblings of leaf n under `finalRoot`. msg.value must
    /// be the model's submitter bond. A submitter whose result on this request was rejected may
    /// not answer it again, and nobody may answer in the block of a rejection.
    function submitResult(uint256 requestId, int32[] calldata output, bytes32 finalRoot, bytes32[] calldata outputPath)
        external
        payable
    {
        Request storage rq = _request(requestId);
        if (rq.status != Status.Open) revert WrongStatus(rq.status);
        if (block.timestamp > rq.deadline) revert DeadlinePassed();
        if (rq.reopenedBlock == block.number) revert ReopenedThisBlock();
        if (rejectedSubmitter[requestId][msg.sender]) revert SubmitterRejected();
        bytes32 commitment = resultCommitment(requestId, finalRoot, msg.sender);
        uint256 at = commitBlock[commitment];
        if (at == 0 || at >= block.number) revert NoCommitment();
        delete commitBlock[commitment];
        (uint96 bond, uint64 window) = _checkOutput(rq.modelId, output, finalRoot, outputPath);
        if (msg.value != bond) revert WrongBond(msg.value, bond);

        _storeResult(requestId, rq, output, finalRoot, window);
    }

    function _storeResult(
        uint256 requestId,
        Request storage rq,
        int32[] calldata output,
        bytes32 finalRoot,
        uint64 window
    ) internal {
        uint32 nonce = rq.resultNonce + 1;
        rq.resultNonce = nonce;
        rq.status = Status.Submitted;
        Result storage res = results[requestId];
        res.submitter = msg.sender;
        uint64 challengeDeadline = uint64(block.timestamp) + window;
        res.challengeDeadline = challengeDeadline;
        res.bond = uint96(msg.value);
        res.finalRoot = finalRoot;
        res.output = output;
        totalEscrow += msg.value;
        emit ResultSubmitted(requestId, msg.sender, nonce, finalRoot, challengeDeadline, output);
    }

    function _checkOutput(uint256 modelId, int32[] calldata output, bytes32 finalRoot, bytes32[] calldata outputPath)
        internal
        view
        returns (uint96 bond, uint64 window)
    {
        (uint32 numOps, uint8 depth, DisputeParams memory p, TensorMeta memory meta) = registry.resultInfo(modelId);
        bytes32 outRoot = this.tensorRootOf(meta, output);
        if (outputPath.length != depth || Merkle.rootFromPath(outRoot, numOps, outputPath) != finalRoot) {
            revert BadOutputPath();
        }
        return (p.submitterBond, p.challengeWindow);
    }

    /// Dispute the live result of `requestId` by claiming a different final state root.
    function challenge(uint256 requestId, bytes32 challengerRoot) external payable returns (uint256 gameId) {
        Request storage rq = _request(requestId);
        if (rq.status != Status.Submitted) revert WrongStatus(rq.status);
        Result storage res = results[requestId];
        if (block.timestamp > res.challengeDeadline) revert DeadlinePassed();
        if (challengerRoot == res.finalRoot) revert SameRoot();
        (,, DisputeParams memory p) = registry.disputeInfo(rq.modelId);
        if (msg.value != p.challengerBond) revert WrongBond(msg.value, p.challengerBond);
        res.activeGames += 1;
        totalEscrow += msg.value;
        uint32 nonce = rq.resultNonce;
        gameId = game.createGame(
            requestId,
            nonce,
            rq.modelId,
            res.submitter,
            msg.sender,
            uint96(msg.value),
            rq.stateRoot0,
            res.finalRoot,
            challengerRoot
        );
        emit ChallengeOpened(requestId, gameId, msg.sender, nonce, challengerRoot);
    }

    /// After the challenge window, with no game running: the result is final, the submitter is
    /// paid the fee and gets its bond back. Anyone may call.
    function finalize(uint256 requestId) external {
        Request storage rq = _request(requestId);
        if (rq.status != Status.Submitted) revert WrongStatus(rq.status);
        Result storage res = results[requestId];
        if (block.timestamp <= res.challengeDeadline) revert TooEarly();
        if (res.activeGames != 0) revert GamesRunning();
        rq.status = Status.Finalized;
        uint256 amount = uint256(rq.fee) + res.bond;
        totalEscrow -= amount;
        _credit(res.submitter, amount);
        emit ResultFinalized(requestId, res.submitter, res.finalRoot);
    }

    /// Open and past its deadline: the requester gets the fee back. Anyone may call.
    function refund(uint256 requestId) external {
        Request storage rq = _request(requestId);
        if (rq.status != Status.Open) revert WrongStatus(rq.status);
        if (block.timestamp <= rq.deadline) revert TooEarly();
        rq.status = Status.Refunded;
        totalEscrow -= rq.fee;
        _credit(rq.requester, rq.fee);
        emit RequestRefunded(requestId, rq.requester, rq.fee);
    }

    // ------------------------------------------------------------------ game callback

    /// @inheritdoc IInferenceManager
    function onGameResolved(
        uint256 requestId,
        uint32 resultNonce,
        address challenger,
        uint256 challengerBond,
        bool defenderWon
    ) external {
        if (msg.sender != address(game)) revert NotGame();
        Request storage rq = requests[requestId];
        totalEscrow -= challengerBond;
        uint256 paid;
        if (rq.status == Status.Submitted && rq.resultNonce == resultNonce) {
            Result storage res = results[requestId];
            if (defenderWon) {
                res.activeGames -= 1;
                _credit(res.submitter, challengerBond);
            } else {
                paid = challengerBond + _reject(requestId, rq, res, resultNonce, challenger);
                _credit(challenger, paid);
            }
        } else {
            // A game on a result that is no longer live: that result was rejected (a final result
            // has no games), and this game was running then. Its share of the bond waits here.
            Rejection storage rj = rejections[requestId][resultNonce];
            uint256 share = rj.share;
            totalEscrow -= share;
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
    function _reject(uint256 requestId, Request storage rq, Result storage res, uint32 resultNonce, address challenger)
        internal
        returns (uint256 share)
    {
        uint256 games = res.activeGames;
        uint256 bond = res.bond;
        uint256 pool = bond - (bond * BURN_BPS) / 10_000;
        share = pool / games;
        totalEscrow -= bond;
        _burn(requestId, resultNonce, bond - share * games); // the burned part and the rounding dust
        if (games > 1) {
            totalEscrow += share * (games - 1);
            rejections[requestId][resultNonce] = Rejection(uint32(games - 1), uint96(share));
        }
        rejectedSubmitter[requestId][res.submitter] = true;
        delete results[requestId];
        rq.status = Status.Open;
        rq.reopenedBlock = uint64(block.number);
        (,, DisputeParams memory p) = registry.disputeInfo(rq.modelId);
        uint64 reopenUntil = uint64(block.timestamp) + p.challengeWindow;
        if (reopenUntil > rq.deadlineCap) reopenUntil = rq.deadlineCap;
        if (rq.deadline < reopenUntil) rq.deadline = reopenUntil;
        emit ResultRejected(requestId, resultNonce, challenger);
        emit RequestReopened(requestId, rq.deadline);
    }

    // ------------------------------------------------------------------ money

    function withdraw() external nonReentrant {
        uint256 amount = credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        credits[msg.sender] = 0;
        totalCredits -= amount;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    function _burn(uint256 requestId, uint32 resultNonce, uint256 amount) internal {
        if (amount == 0) return;
        totalBurned += amount;
        emit Burned(requestId, resultNonce, amount);
    }

    function _credit(address account, uint256 amount) internal {
        if (amount == 0) return;
        credits[account] += amount;
        totalCredits += amount;
        emit Credited(account, amount);
    }

    // ------------------------------------------------------------------ views

    function requestCount() external view returns (uint256) {
        return requests.length;
    }

    function getRequest(uint256 requestId) external view returns (Request memory) {
        return _request(requestId);
    }

    /// The live (or final) result of a request; zero fields when there is none.
    function getResult(uint256 requestId) external view returns (Result memory) {
        _request(requestId);
        return results[requestId];
    }

    /// The final output of a request; reverts unless the request is Finalized.
    function finalOutput(uint256 requestId) external view returns (int32[] memory) {
        if (_request(requestId).status != Status.Finalized) revert NotFinal();
        return results[requestId].output;
    }

    /// @inheritdoc IInferenceManager
    function isResultLive(uint256 requestId, uint32 resultNonce) external view returns (bool) {
        if (requestId >= requests.length) return false;
        Request storage rq = requests[requestId];
        return rq.status == Status.Submitted && rq.resultNonce == resultNonce;
    }

    function _request(uint256 requestId) internal view returns (Request storage) {
        if (requestId >= requests.length) revert UnknownRequest(requestId);
        return requests[requestId];
    }
}
