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
/// live results, bonds of running challenges) or credited to an account that can withdraw it:
///   address(this).balance == totalEscrow + totalCredits
/// Payouts are pulled with withdraw() (checks-effects-interactions and a re-entrancy lock).
/// See docs/protocol.md for the state machine.
contract InferenceManager is IInferenceManager {
    enum Status {
        None,
        Open, // waiting for a result (until `deadline`)
        Submitted, // a result is live: challengeable until its challengeDeadline
        Finalized, // the result stands; the submitter was paid
        Refunded // nobody answered (rightly) in time; the requester got the fee back
    }

    struct Request {
        address requester;
        uint64 deadline; // last second at which a result may be submitted
        Status status;
        uint128 fee;
        uint64 modelId;
        uint32 resultNonce; // counts results; a game refers to (requestId, nonce)
        bytes32 inputRoot; // tensor root of slot 0
        bytes32 stateRoot0; // state root with only slot 0 set: the agreed start of every dispute
    }

    struct Result {
        address submitter;
        uint64 challengeDeadline; // last second at which the result may be challenged
        uint32 activeGames; // games running against it
        uint96 bond;
        bytes32 finalRoot; // stateRoot(n) claimed by the submitter
        int32[] output; // output values; their tensor root is leaf n under finalRoot
    }

    ModelRegistry public immutable registry;
    IPoseidon5 public immutable poseidon;
    address public immutable deployer;
    IFaultDisputeGame public game;

    Request[] internal requests;
    mapping(uint256 => Result) internal results;
    mapping(address => uint256) public credits;
    uint256 public totalEscrow;
    uint256 public totalCredits;
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
    event GameSettled(uint256 indexed requestId, uint32 resultNonce, address indexed challenger, bool defenderWon, bool counted);
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
        (bool active, uint8 depth,, TensorMeta memory meta) = registry.requestInfo(modelId);
        bytes32 inputRoot = this.tensorRootOf(meta, input);
        requestId = _newRequest(modelId, active, depth, inputRoot, deadline);
        emit InferenceRequested(
            requestId, modelId, msg.sender, msg.value, deadline, inputRoot, requests[requestId].stateRoot0, input, ""
        );
    }

    /// Request for a large input stored off-chain under `inputCid`; `inputRoot` is its tensor root
    /// (the requester's commitment: the dispute starts from it).
    function requestInferenceByRoot(uint256 modelId, bytes32 inputRoot, string calldata inputCid, uint64 deadline)
        external
        payable
        returns (uint256 requestId)
    {
        (bool active, uint8 depth,,) = registry.requestInfo(modelId);
        requestId = _newRequest(modelId, active, depth, inputRoot, deadline);
        emit InferenceRequested(
            requestId,
            modelId,
            msg.sender,
            msg.value,
            deadline,
            inputRoot,
            requests[requestId].stateRoot0,
            new int32[](0),
            inputCid
        );
    }

    function _newRequest(uint256 modelId, bool active, uint8 depth, bytes32 inputRoot, uint64 deadline)
        internal
        returns (uint256 requestId)
    {
        if (!active) revert ModelInactive();
        if (deadline <= block.timestamp) revert BadDeadline();
        if (msg.value > type(uint128).max) revert FeeTooLarge();
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
                stateRoot0: Commitments.stateRoot0(inputRoot, depth)
            })
        );
        totalEscrow += msg.value;
    }

    /// Tensor root of `values` with geometry `meta` (external so that memory metas can be passed
    /// as calldata; also handy off-chain).
    function tensorRootOf(TensorMeta calldata meta, int32[] calldata values) external view returns (bytes32) {
        return Commitments.tensorRoot(poseidon, meta, values);
    }

    // ------------------------------------------------------------------ results

    /// Answer an open request. `output` are the values of slot n; `outputPath` the stateDepth
    /// siblings of leaf n under `finalRoot`. msg.value must be the model's submitter bond.
    function submitResult(uint256 requestId, int32[] calldata output, bytes32 finalRoot, bytes32[] calldata outputPath)
        external
        payable
    {
        Request storage rq = _request(requestId);
        if (rq.status != Status.Open) revert WrongStatus(rq.status);
        if (block.timestamp > rq.deadline) revert DeadlinePassed();
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
    ) external returns (bool counted) {
        if (msg.sender != address(game)) revert NotGame();
        Request storage rq = requests[requestId];
        Result storage res = results[requestId];
        totalEscrow -= challengerBond;
        counted = rq.status == Status.Submitted && rq.resultNonce == resultNonce;
        if (!counted) {
            // the result this game was about was already rejected: the game is void
            _credit(challenger, challengerBond);
        } else if (defenderWon) {
            res.activeGames -= 1;
            _credit(res.submitter, challengerBond);
        } else {
            // the result is rejected: the challenger takes the submitter's bond, the request reopens
            uint256 bond = res.bond;
            totalEscrow -= bond;
            _credit(challenger, challengerBond + bond);
            delete results[requestId];
            rq.status = Status.Open;
            (,, DisputeParams memory p) = registry.disputeInfo(rq.modelId);
            uint64 reopenUntil = uint64(block.timestamp) + p.challengeWindow;
            if (rq.deadline < reopenUntil) rq.deadline = reopenUntil;
            emit ResultRejected(requestId, resultNonce, challenger);
            emit RequestReopened(requestId, rq.deadline);
        }
        emit GameSettled(requestId, resultNonce, challenger, defenderWon, counted);
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
