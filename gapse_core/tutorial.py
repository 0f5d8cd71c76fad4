"""What the tutorial notebooks share: QUICK mode, where the data and examples are, inline audio.

``GAPSE_QUICK=1`` (CI) makes every notebook use tiny configs, few steps and gapse's own
miniature corpus; without it they use ``../shared/data`` (or ``$GAPSE_DATA``) and the shipped
checkpoints.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def quick() -> bool:
    """True when ``GAPSE_QUICK=1``: tiny configs, few steps, the miniature corpus."""
    return os.environ.get("GAPSE_QUICK", "0") not in ("", "0", "false", "False")


def examples_dir() -> Path:
    """The repository's ``examples/`` (noisy/clean pairs gapse made itself)."""
    return REPO / "examples"


_MINI: Path | None = None


def data_dir() -> Path:
    """Real data (``$GAPSE_DATA`` or ``../shared/data``) unless QUICK or absent; else the miniature corpus."""
    global _MINI
    real = Path(os.environ.get("GAPSE_DATA", REPO.parent / "shared" / "data"))
    if not quick() and (real / "speech").is_dir():
        return real
    if _MINI is None:
        from .data.synthetic import make_corpus

        _MINI = make_corpus(Path(tempfile.mkdtemp(prefix="gapse-mini-")))
    return _MINI


def play(wave: np.ndarray, fs: int, label: str | None = None):
    """An inline audio player (IPython), optionally captioned; not normalised, so levels compare."""
    from IPython.display import HTML, Audio, display

    if label:
        display(HTML(f"<b>{label}</b>"))
    wave = np.asarray(wave, np.float32)
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    if peak > 1.0:
        wave = wave / peak
    return display(Audio(wave, rate=fs, normalize=False))


def spectrograms(signals: dict[str, np.ndarray], fs: int, height: int = 150):
    """A plotly figure: one log spectrogram row per named signal ``[n]``, on shared axes."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from .audio.spectrogram import log_spectrogram

    fig = make_subplots(rows=len(signals), cols=1, shared_xaxes=True, subplot_titles=list(signals),
                        vertical_spacing=0.06)
    for i, w in enumerate(signals.values(), start=1):
        t, f, db = log_spectrogram(w, fs)
        fig.add_trace(go.Heatmap(x=t, y=f, z=db, zmin=db.max() - 80, zmax=db.max(), colorscale="Magma",
                                 showscale=False), row=i, col=1)
    fig.update_layout(height=height * len(signals) + 40, margin=dict(l=40, r=10, t=30, b=30))
    return fig
