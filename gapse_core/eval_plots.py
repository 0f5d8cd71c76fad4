"""PNG figures of an evaluation (``gapse eval --plots``), drawn with matplotlib's Agg backend.

- ``metrics.png``: one bar chart per metric, mean over all files, one bar per condition.
- ``by_group_METRIC.png``: the per-distortion breakdown, grouped bars (distortion x condition).
- ``spectrograms_FILE.png``: a grid of log spectrograms of a few files (clean, noisy, each
  condition), one shared colour scale per file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .audio.spectrogram import log_spectrogram

HIGHER_IS_BETTER = {"pesq": True, "estoi": True, "si_sdr": True, "lsd": False, "dnsmos_ovrl": True,
                    "dnsmos_sig": True, "dnsmos_bak": True, "speaker_sim": True, "wer": False}
LABELS = {"pesq": "PESQ-WB", "estoi": "ESTOI", "si_sdr": "SI-SDR (dB)", "lsd": "LSD (dB)",
          "dnsmos_ovrl": "DNSMOS OVRL", "dnsmos_sig": "DNSMOS SIG", "dnsmos_bak": "DNSMOS BAK",
          "speaker_sim": "speaker similarity", "wer": "WER"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _title(metric: str) -> str:
    if metric.startswith("lsd_"):  # lsd_4000-8000: LSD over a band
        return f"LSD {metric[4:]} Hz (dB) (lower is better)"
    arrow = "higher is better" if HIGHER_IS_BETTER.get(metric, True) else "lower is better"
    return f"{LABELS.get(metric, metric)} ({arrow})"


def metric_bars(summary: dict, path: Path) -> Path:
    """One subplot per metric: the mean of each condition over all files."""
    plt = _plt()
    conds, mets = list(summary["overall"]), summary["metrics"]
    cols = min(4, len(mets))
    rows = int(np.ceil(len(mets) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.9 * rows), squeeze=False)
    colors = plt.cm.tab10(np.arange(len(conds)) % 10)
    for ax, m in zip(axes.flat, mets):
        vals = [summary["overall"][c][m] for c in conds]
        ax.bar(range(len(conds)), vals, color=colors)
        ax.set_xticks(range(len(conds)), conds, rotation=40, ha="right", fontsize=7)
        ax.set_title(_title(m), fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(mets):]:
        ax.axis("off")
    fig.suptitle(f"{summary['n_files']} files, mean per condition", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def group_bars(summary: dict, metric: str, path: Path) -> Path:
    """Grouped bars: x = distortion group, one bar per condition."""
    plt = _plt()
    groups = sorted(summary["by_group"])
    conds = list(summary["overall"])
    width = 0.8 / len(conds)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(groups) * max(1, len(conds) / 3)), 3.4))
    for i, c in enumerate(conds):
        vals = [summary["by_group"][g].get(c, {}).get(metric, np.nan) for g in groups]
        ax.bar(np.arange(len(groups)) + (i - (len(conds) - 1) / 2) * width, vals, width, label=c)
    ax.set_xticks(range(len(groups)), groups, rotation=20, ha="right", fontsize=8)
    ax.set_title(_title(metric) + " per distortion", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncol=min(6, len(conds)), loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=90, bbox_inches="tight")  # keeps the legend below the axis
    plt.close(fig)
    return path


def spectrogram_grid(item: dict, path: Path) -> Path:
    """``item = {"file", "fs", "signals": {name: wave [n]}}`` -> one row of spectrograms per signal."""
    plt = _plt()
    specs = {name: log_spectrogram(w, item["fs"]) for name, w in item["signals"].items()}
    top = max(float(np.max(s[2])) for s in specs.values())
    fig, axes = plt.subplots(len(specs), 1, figsize=(7.5, 1.5 * len(specs) + 0.6), sharex=True, squeeze=False)
    for ax, (name, (t, f, db)) in zip(axes[:, 0], specs.items()):
        ax.pcolormesh(t, f / 1000, db, vmin=top - 80, vmax=top, cmap="magma", shading="auto")
        ax.set_ylabel("kHz", fontsize=7)
        ax.set_title(name, fontsize=8, loc="left")
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("time (s)", fontsize=8)
    fig.suptitle(f"{item['file']} ({item['fs']} Hz)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def write_plots(summary: dict, kept: list[dict], out: Path) -> list[str]:
    """All figures for one evaluation; returns the written file names (relative to ``out``)."""
    out.mkdir(parents=True, exist_ok=True)
    written = [metric_bars(summary, out / "metrics.png")]
    if len(summary["by_group"]) > 1:
        for m in summary["metrics"]:
            written.append(group_bars(summary, m, out / f"by_group_{m}.png"))
    for item in kept:
        written.append(spectrogram_grid(item, out / f"spectrograms_{Path(item['file']).stem}.png"))
    return [p.name for p in written]
