"""Execute one jupytext notebook with nbclient in QUICK mode; exit 0 when every cell ran without error.

Run in its own process by tests/test_notebooks.py (stdin closed, own stdout), so the kernel
never shares pytest's captured file descriptors:  python tests/notebook_runner.py notebooks/NN_x.py
"""

import json
import sys
import time
from pathlib import Path

import jupytext
from nbclient import NotebookClient


def main(path: str) -> int:
    nb = jupytext.read(path)
    start = time.time()
    client = NotebookClient(nb, timeout=600, kernel_name=nb.metadata["kernelspec"]["name"],
                            shutdown_kernel="immediate", extra_arguments=["--HistoryManager.enabled=False"],
                            resources={"metadata": {"path": str(Path(path).resolve().parent)}})
    client.on_cell_executed = lambda cell_index, **_: print(f"cell {cell_index} done at {time.time() - start:.1f} s",
                                                            flush=True)
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    print("OUTPUT_KINDS " + json.dumps(sorted({k for o in outputs for k in o.get("data", {})})))
    errors = [o for o in outputs if o.get("output_type") == "error"]
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
