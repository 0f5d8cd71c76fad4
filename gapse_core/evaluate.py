"""``gapse eval``: score the input, every system/branch and the peers on an evaluation set folder.

``SET_DIR/noisy/*`` (and, for intrusive metrics, ``SET_DIR/clean/*`` with the same names;
``manifest.csv`` groups files by condition), or a plain folder of recordings, which are then
the input and are scored without a reference (DNSMOS and the other non-intrusive metrics).
Each *condition* is ``noisy`` (the input itself), a system's final output (``predictive``),
one of its branches (``gap-urgenet.generative``) or a peer (``deepfilternet3``, see
:mod:`gapse_core.peers`). Every condition is scored on the same files in the same run.
Writes ``per_file.csv``, ``summary.json``, ``summary.md`` and, with ``plots=True``, PNG figures
(:mod:`gapse_core.eval_plots`) into the output folder.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Callable

import numpy as np

from . import metrics
from .audio.io import AUDIO_SUFFIXES, AudioError, audio_files, load

METRIC_ORDER = ("pesq", "estoi", "si_sdr", "lsd", "dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "sqa_ovrl", "speaker_sim",
                "wer")
SPECTROGRAM_FILES = 3  # files kept in memory for the spectrogram grid
MAX_SECONDS = 600.0  # longer files are skipped with a note: every system and metric holds a whole file in memory


def _conditions_of(manifest: Path) -> dict[str, str]:
    if not manifest.exists():
        return {}
    with open(manifest, newline="") as fh:
        return {r["id"]: r.get("condition") or r.get("distortions", "") for r in csv.DictReader(fh)}


def evaluate_set(set_dir: str | Path, systems: list[str], out: str | Path | None = None, *,
                 peers: list[str] = (), device: str = "auto", use_dnsmos: bool = True,
                 use_speaker: bool = False, use_learned_quality: bool = False, asr_model: str | None = None,
                 plots: bool = False, lsd_bands: tuple[tuple[float, float], ...] = (),
                 limit: int | None = None, checkpoints: dict[str, str] | None = None,
                 predictive_passes: int | None = None, progress=print,
                 files_done: Callable[[int, int], None] | None = None) -> dict:
    """Score ``noisy``, each system (with its branches) and each peer; returns the summary dict.

    ``asr_model``: a faster-whisper model folder; word error rate is then measured against the
    transcript of the clean reference (the sets carry no text). Without it WER is skipped and
    the summary's ``notes`` say so. ``predictive_passes``: ``Enhancer``'s (its default when None).
    ``use_learned_quality``: also score ``sqa_ovrl`` (the learned quality predictor); with DNSMOS
    on, the summary's ``sqa_r`` is its Pearson correlation with DNSMOS OVRL over every scored signal.
    A file that cannot be read, or is longer than ``MAX_SECONDS``, is skipped and named in the
    summary's ``notes``. ``progress(message)`` hears each file scored or skipped;
    ``files_done(done, total)`` is called after each file, read or not (for a progress bar).
    """
    from .peers import get_peer
    from .systems import SYSTEMS, Enhancer

    set_dir = Path(set_dir)
    noisy_dir, clean_dir = set_dir / "noisy", set_dir / "clean"
    if noisy_dir.is_dir():
        files = sorted(p for p in noisy_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    else:  # a plain folder of recordings: they are the input, scored without a reference
        files = audio_files(set_dir) if set_dir.is_dir() else []
        if not files:
            raise FileNotFoundError(f"{set_dir}: neither a noisy/ folder nor audio files "
                                    f"({', '.join(sorted(AUDIO_SUFFIXES))}) in it")
    files = files[: limit or None]
    if not (use_dnsmos or use_learned_quality or clean_dir.is_dir()):
        raise ValueError(f"{set_dir}: nothing to score: no clean/ references for intrusive metrics, and DNSMOS "
                         "is off (--no-dnsmos)")
    groups = _conditions_of(set_dir / "manifest.csv")
    checkpoints = checkpoints or {}
    roles = {s: SYSTEMS[s].checkpoints if s in SYSTEMS else {} for s in systems}  # (Enhancer names unknown systems)
    unused = set(checkpoints) - {role for r in roles.values() for role in r}
    if unused:
        raise ValueError(f"no system among {', '.join(systems) or '(none)'} has the checkpoint role(s) "
                         f"{', '.join(sorted(unused))}")
    enhancers = [Enhancer(s, device=device, checkpoints={r: c for r, c in checkpoints.items() if r in roles[s]} or None,
                          predictive_passes=predictive_passes) for s in systems]
    peer_fns = [get_peer(p) for p in peers if p != "noisy"]
    transcribe = None
    notes = []
    if asr_model:
        from .metrics import Transcriber

        transcribe = Transcriber(asr_model)
    else:
        notes.append("word error rate skipped: no ASR model folder given (--asr-model)")
    rows: list[dict] = []
    kept: list[dict] = []  # a few files' signals, for the spectrogram grid
    skipped: list[str] = []
    for i, path in enumerate(files):
        try:
            noisy, fs = load(path, max_seconds=MAX_SECONDS)
        except AudioError as err:
            progress(f"skipped: {err}")
            skipped.append(str(err))
            if files_done is not None:
                files_done(i + 1, len(files))
            continue
        ref = None
        cpath = clean_dir / path.name
        if cpath.exists():
            ref, rfs = load(cpath)
            if rfs != fs:
                raise AudioError(f"{cpath}: rate {rfs} differs from the noisy file's {fs}")
        group = groups.get(path.stem, "all")
        outputs = {"noisy": noisy}
        for enh in enhancers:
            res = enh.enhance(noisy, fs)
            outputs[enh.system] = res.final
            outputs.update({f"{enh.system}.{b}": y for b, y in res.distinct_branches().items()})
        for peer in peer_fns:
            outputs[peer.name] = peer.enhance(noisy, fs)
        ref_text = transcribe(ref, fs) if transcribe is not None and ref is not None else None
        ref_emb = metrics.speaker_embedding(ref, fs) if use_speaker and ref is not None else None  # once per file
        for cond, y in outputs.items():
            row = {"file": path.name, "group": group, "condition": cond, "fs": fs,
                   **metrics.score(y, fs, ref, use_dnsmos=use_dnsmos, use_speaker=use_speaker, ref_embedding=ref_emb,
                                   use_learned_quality=use_learned_quality, lsd_bands=lsd_bands)}
            if ref_text is not None:
                row["wer"] = metrics.word_error_rate(transcribe(y, fs), ref_text)
            rows.append(row)
        if plots and len(kept) < SPECTROGRAM_FILES:
            kept.append({"file": path.name, "fs": fs, "signals": {"clean": ref, **outputs} if ref is not None
                         else outputs})
        progress(f"[{i + 1}/{len(files)}] {path.name}")
        if files_done is not None:
            files_done(i + 1, len(files))
    if skipped:
        if not rows:
            raise AudioError(f"{set_dir}: none of its {len(files)} file(s) could be scored; the first: {skipped[0]}")
        notes.append(f"skipped {len(skipped)} unreadable or too long file(s) of {len(files)}: " + "; ".join(skipped[:3])
                     + ("; ..." if len(skipped) > 3 else ""))
    summary = summarize(rows)
    pairs = np.array([(r["sqa_ovrl"], r["dnsmos_ovrl"]) for r in rows if "sqa_ovrl" in r and "dnsmos_ovrl" in r])
    if len(pairs) > 2:
        summary["sqa_r"] = float(np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1])
        notes.append(f"learned quality (sqa_ovrl) vs DNSMOS OVRL: Pearson r = {summary['sqa_r']:.3f} "
                     f"over {len(pairs)} signals")
    summary["notes"] = notes
    if out is not None:
        write_reports(rows, summary, Path(out))
        if plots and rows:
            from .eval_plots import write_plots

            summary["plots"] = write_plots(summary, kept, Path(out) / "plots")
            (Path(out) / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _mean(vals: list[float]) -> float:
    v = [x for x in vals if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return float(np.mean(v)) if v else float("nan")


def summarize(rows: list[dict]) -> dict:
    """``{"overall": {cond: {metric: mean}}, "by_group": {group: {cond: {...}}}, "n_files": N}``."""
    metrics_present = [m for m in METRIC_ORDER if any(m in r for r in rows)]
    banded = list(dict.fromkeys(k for r in rows for k in r if k.startswith("lsd_")))  # after the full-band LSD
    at = metrics_present.index("lsd") + 1 if "lsd" in metrics_present else len(metrics_present)
    metrics_present[at:at] = banded
    by: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for r in rows:
        for m in metrics_present:
            if m in r:
                by["overall"][r["condition"]][m].append(r[m])
                by[r["group"]][r["condition"]][m].append(r[m])
    conds = list(dict.fromkeys(r["condition"] for r in rows))
    table = {g: {c: {m: _mean(v[c][m]) for m in metrics_present} for c in conds if c in v}
             for g, v in by.items()}
    return {"n_files": len({r["file"] for r in rows}), "metrics": metrics_present,
            "overall": table.pop("overall", {}), "by_group": table}


def markdown_table(table: dict[str, dict[str, float]], metrics_present: list[str]) -> str:
    head = "| condition | " + " | ".join(metrics_present) + " |"
    sep = "|---|" + "---:|" * len(metrics_present)
    lines = [head, sep]
    for cond, vals in table.items():
        lines.append(f"| {cond} | " + " | ".join(f"{vals[m]:.3f}" for m in metrics_present) + " |")
    return "\n".join(lines)


def render(summary: dict) -> str:
    parts = [f"{summary['n_files']} files\n", markdown_table(summary["overall"], summary["metrics"])]
    parts += [f"\n_{n}_" for n in summary.get("notes", [])]
    for g, t in sorted(summary["by_group"].items()):
        if len(summary["by_group"]) > 1:
            parts += [f"\n### {g}\n", markdown_table(t, summary["metrics"])]
    return "\n".join(parts)


def write_reports(rows: list[dict], summary: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    fields: list[str] = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    with open(out / "per_file.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "summary.md").write_text(render(summary) + "\n")
