"""A live demo server on a free local port, using a tiny random-weight checkpoint."""

import os
import socket

import pytest

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="package")
def server(tiny_checkpoint, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("GAPSE_CHECKPOINTS", str(tiny_checkpoint.parent))
    from gapse_demo.app import launch

    port = free_port()
    demo = launch("127.0.0.1", port, block=False, device="cpu", listening_dir=tmp_path_factory.mktemp("listening"))
    yield f"http://127.0.0.1:{port}/"
    demo.close()
    mp.undo()
