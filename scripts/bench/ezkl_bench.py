"""EZKL's whole-model setup and proof of one model: the baseline of the circuits benchmark
(crates/zk/benches/circuits.rs). Run from the project's .venv (scripts/bench/setup.sh):

    .venv/bin/python scripts/bench/ezkl_bench.py testdata/models/lenet_5 [--mem-gib 20] [--timeout 900]

Steps, each in its own child process (so its wall time and peak RSS are its own), on the
model's network.onnx and input.json: gen_settings + calibrate_settings ("resources") +
compile_circuit, gen_srs (generated locally with the settings' logrows: nothing is
downloaded; kept in ~/.cache/zkopml/ezkl-srs/ and reused by later runs), setup, gen_witness, prove, verify. Every child runs under an address-space
limit (RLIMIT_AS, --mem-gib) and a wall-clock limit (--timeout); a step that fails or hits
a limit is reported as "failed: <reason>" and the later steps are skipped. Prints one JSON
object on the last line of stdout; never exits non-zero because a step failed.
"""
import argparse
import asyncio
import inspect
import json
import os
import resource
import shutil
import signal
import sys
import tempfile
import time

STEPS = ["compile", "srs", "setup", "witness", "prove", "verify"]


def srs_cache(logrows):
    """A locally generated SRS is kept for reuse (generating 2^20 points takes ~15 min here)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "zkopml", "ezkl-srs", f"kzg{logrows}.srs")


def _await(x):
    """Some ezkl releases return awaitables from some calls; run them to completion."""
    if inspect.isawaitable(x):
        return asyncio.run(_wrap(x))
    return x


async def _wrap(x):
    return await x


def run_step(step, model_dir, work):
    """Runs one step in this (child) process. Raises on failure."""
    import ezkl

    onnx = os.path.join(model_dir, "network.onnx")
    data = os.path.join(model_dir, "input.json")
    p = lambda name: os.path.join(work, name)  # noqa: E731
    if step == "compile":
        args = ezkl.PyRunArgs()
        ok = _await(ezkl.gen_settings(onnx, p("settings.json"), py_run_args=args))
        if ok is False:
            raise RuntimeError("gen_settings returned false")
        ok = _await(ezkl.calibrate_settings(data, onnx, p("settings.json"), "resources"))
        if ok is False:
            raise RuntimeError("calibrate_settings returned false")
        ok = _await(ezkl.compile_circuit(onnx, p("network.ezkl"), p("settings.json")))
        if ok is False:
            raise RuntimeError("compile_circuit returned false")
    elif step == "srs":
        logrows = json.load(open(p("settings.json")))["run_args"]["logrows"]
        cached = srs_cache(logrows)
        if os.path.exists(cached):
            os.symlink(cached, p("kzg.srs"))
        else:
            _await(ezkl.gen_srs(p("kzg.srs"), logrows))
            os.makedirs(os.path.dirname(cached), exist_ok=True)
            shutil.copyfile(p("kzg.srs"), cached + ".tmp")
            os.replace(cached + ".tmp", cached)
    elif step == "setup":
        ok = _await(ezkl.setup(p("network.ezkl"), p("vk.key"), p("pk.key"), srs_path=p("kzg.srs")))
        if ok is False:
            raise RuntimeError("setup returned false")
    elif step == "witness":
        _await(ezkl.gen_witness(data, p("network.ezkl"), p("witness.json"), vk_path=p("vk.key"), srs_path=p("kzg.srs")))
    elif step == "prove":
        _await(ezkl.prove(p("witness.json"), p("network.ezkl"), p("pk.key"), p("proof.json"), srs_path=p("kzg.srs")))
    elif step == "verify":
        ok = _await(ezkl.verify(p("proof.json"), p("settings.json"), p("vk.key"), srs_path=p("kzg.srs")))
        if ok is not True:
            raise RuntimeError(f"verify returned {ok!r}")
    else:
        raise ValueError(step)


def child(step, model_dir, work, mem_bytes, timeout):
    """Forks a child for one step; returns (seconds, peak RSS in KiB, error or None)."""
    err_r, err_w = os.pipe()
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.close(err_r)
        try:
            resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)  # ezkl's progress output stays out of the JSON
            run_step(step, model_dir, work)
            os._exit(0)
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            msg = f"{type(e).__name__}: {e}".replace("\n", " ")[:300]
            os.write(err_w, msg.encode())
            os._exit(1)
    os.close(err_w)
    deadline = t + timeout
    while True:
        wpid, status, ru = os.wait4(pid, os.WNOHANG)
        if wpid == pid:
            break
        if time.perf_counter() > deadline:
            os.kill(pid, signal.SIGKILL)
            _, status, ru = os.wait4(pid, 0)
            os.close(err_r)
            return time.perf_counter() - t, ru.ru_maxrss, f"timed out after {timeout:.0f} s"
        time.sleep(0.05)
    secs = time.perf_counter() - t
    msg = b""
    while True:
        b = os.read(err_r, 4096)
        if not b:
            break
        msg += b
    os.close(err_r)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        why = f"killed by signal {signal.Signals(sig).name}"
        if sig in (signal.SIGABRT, signal.SIGSEGV, signal.SIGKILL):
            why += f" (likely out of memory under the {mem_bytes / 2**30:.0f} GiB limit)"
        return secs, ru.ru_maxrss, why
    if os.WEXITSTATUS(status) != 0:
        text = msg.decode(errors="replace") or f"exit status {os.WEXITSTATUS(status)}"
        if "memory" in text.lower() or "alloc" in text.lower():
            text += f" (under the {mem_bytes / 2**30:.0f} GiB limit)"
        return secs, ru.ru_maxrss, text
    return secs, ru.ru_maxrss, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--mem-gib", type=float, default=20.0)
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per step")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    a = ap.parse_args()
    # ezkl is imported only in the children (it may start threads; the parent forks).
    try:
        from importlib.metadata import version as _version

        version = _version("ezkl")
    except Exception as e:  # noqa: BLE001
        print(json.dumps({"error": f"ezkl not installed: {e} (run scripts/bench/setup.sh)"}))
        return
    work = tempfile.mkdtemp(prefix="zkopml-ezkl-")
    out = {"ezkl": version, "model": os.path.basename(os.path.normpath(a.model_dir)),
           "mem_limit_gib": a.mem_gib, "timeout_s": a.timeout, "steps": {}}
    failed = None
    for step in STEPS:
        if failed:
            out["steps"][step] = {"skipped": f"after {failed}"}
            continue
        secs, kib, err = child(step, a.model_dir, work, int(a.mem_gib * 2**30), a.timeout)
        r = {"seconds": round(secs, 2), "peak_rss_mib": round(kib / 1024, 1)}
        if step == "srs" and os.path.islink(os.path.join(work, "kzg.srs")):
            r["cached"] = os.readlink(os.path.join(work, "kzg.srs"))
        if err:
            r["failed"] = err
            failed = step
        out["steps"][step] = r
        print(f"ezkl {step}: {r}", file=sys.stderr, flush=True)
    try:
        s = json.load(open(os.path.join(work, "settings.json")))
        out["logrows"] = s["run_args"]["logrows"]
        for k in ("num_rows", "total_assignments", "total_const_size"):
            if k in s:
                out[k] = s[k]
        pk = os.path.join(work, "pk.key")
        if os.path.exists(pk):
            out["pk_mib"] = round(os.path.getsize(pk) / 2**20, 1)
    except Exception:  # noqa: BLE001 - settings absent when compile failed
        pass
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        out["work"] = work
    print(json.dumps(out))


if __name__ == "__main__":
    main()
