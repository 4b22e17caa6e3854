"""Executes the notebooks headless, as Jupyter would, in the Rust kernel.

    python3 notebooks/execute.py [--out DIR | --in-place] [NAME ...]

Needs the evcxr kernel (`cargo install --locked evcxr_jupyter`, then
`evcxr_jupyter --install`) and Jupyter's execution tools (`pip install -r
notebooks/requirements.txt`). Runs every notebook of this folder (or the NAMEs
given, without `.ipynb`) in a fresh kernel whose working directory is this
folder, stops at the first cell that raises, and writes the executed copies
to DIR (default `target/notebooks`, where `tests/notebooks.rs` compares them
with the committed ones), or back over the committed notebooks with
`--in-place`. The data root is `KINDLING_DATA` (made relative to this folder,
so that no path of the machine ends up in a notebook), else `notebooks/data`.
Prints each cell's time, and writes them to DIR/timings.json.
"""
import argparse
import json
import os
import shutil
import sys
import time

import nbformat
from nbclient import NotebookClient

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*")
    p.add_argument("--out", default=os.path.join(REPO, "target", "notebooks"))
    p.add_argument("--in-place", action="store_true")
    args = p.parse_args()
    names = args.names or sorted(f[:-6] for f in os.listdir(HERE) if f.endswith(".ipynb"))
    if "KINDLING_DATA" in os.environ:
        root = os.path.abspath(os.path.join(os.getcwd(), os.environ["KINDLING_DATA"]))
        os.environ["KINDLING_DATA"] = os.path.relpath(root, HERE)
    os.makedirs(args.out, exist_ok=True)
    # evcxr's compilation cache (`:cache` in the notebooks) keys kindling's
    # build by its command line, not its source: a cache of its own, emptied
    # here, so that every run compiles the kindling of this checkout once.
    cache = os.path.join(REPO, "target", "notebook-cache")
    shutil.rmtree(cache, ignore_errors=True)
    os.environ["XDG_CACHE_HOME"] = cache
    timings = {}
    for name in names:
        path = os.path.join(HERE, name + ".ipynb")
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(
            nb,
            kernel_name="rust",
            timeout=1800,
            startup_timeout=120,
            allow_errors=False,
            record_timing=False,
            coalesce_streams=True,
            resources={"metadata": {"path": HERE}},
        )
        cells = []
        start = time.time()
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                t = time.time()
                try:
                    client.execute_cell(cell, index)
                except Exception:
                    print(f"{name} [{index}] failed; its outputs:", file=sys.stderr)
                    print(json.dumps(cell.outputs, indent=1), file=sys.stderr)
                    raise
                seconds = time.time() - t
                first = cell.source.splitlines()[0] if cell.source else ""
                print(f"{name} [{index:2}] {seconds:7.2f} s  {first}", flush=True)
                cells.append({"cell": index, "first_line": first, "seconds": round(seconds, 2)})
        total = time.time() - start
        print(f"{name}: {total:.1f} s in all", flush=True)
        timings[name] = {"seconds": round(total, 1), "cells": cells}
        for cell in nb.cells:
            cell.metadata.pop("execution", None)
        target = path if args.in_place else os.path.join(args.out, name + ".ipynb")
        nbformat.write(nb, target)
    with open(os.path.join(args.out, "timings.json"), "w") as f:
        json.dump(timings, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
