"""Execute the teaching notebooks headless (scripts/notebooks calls this).

Every notebook given is first checked to have no stored outputs (they are
committed stripped), then executed with nbclient, cell by cell, with a
per-cell timeout; a failing cell fails the run. `--strip` instead removes
outputs and execution counts in place (run it before committing a notebook).
"""

import sys
import time

import nbformat
from nbclient import NotebookClient

CELL_TIMEOUT_S = 120


def has_outputs(nb):
    return [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))
    ]


def strip(path):
    nb = nbformat.read(path, as_version=4)
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs = []
            c.execution_count = None
    nbformat.write(nb, path)
    print(f"stripped {path}")


def execute(path):
    nb = nbformat.read(path, as_version=4)
    dirty = has_outputs(nb)
    if dirty:
        print(f"{path}: cells {dirty} have stored outputs; run `scripts/notebooks --strip`")
        return False
    t0 = time.monotonic()
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": "notebooks"}},
    )
    try:
        client.execute()
    except Exception as e:  # CellExecutionError, timeouts, a dead kernel
        print(f"{path}: FAILED after {time.monotonic() - t0:.1f} s\n{e}")
        return False
    print(f"{path}: ok ({len(nb.cells)} cells, {time.monotonic() - t0:.1f} s)")
    return True


def main(args):
    if args and args[0] == "--strip":
        for p in args[1:]:
            strip(p)
        return 0
    if not args:
        print("no notebooks given")
        return 2
    results = [execute(p) for p in args]
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
