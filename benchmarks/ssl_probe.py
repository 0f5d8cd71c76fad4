"""Probe what each layer of an SSL encoder encodes (speaker vs content); prints a markdown table.

    python benchmarks/ssl_probe.py ssl-small [--data ../shared/data] [--random]

Speaker probe: 4 crops (different words) of each held-out (validation) speaker of ``--data``.
Content probe: 4 sentences x 4 espeak-ng voices. ``--random`` also probes the same
architecture with random weights (the baseline a trained encoder must differ from).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gapse_core.checkpoints import build, load_model, read  # noqa: E402
from gapse_core.data.corpus import load_corpus  # noqa: E402
from gapse_core.data.synthetic import espeak  # noqa: E402
from gapse_core.probe import probe_layers  # noqa: E402
from gapse_core.audio.resample import resample  # noqa: E402

VOICES = ("en-us", "en-gb-scotland", "en-029", "en-us+f3")
TEXTS = ("The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background.",
         "It is easy to tell the depth of a well.", "Rice is often served in round bowls.")


def speaker_set(data: str, n_speakers: int, per_speaker: int, seconds: float = 3.0) -> list[tuple[str, np.ndarray]]:
    """``per_speaker`` non-overlapping crops (different words) of each held-out speaker's speech.

    The LibriSpeech subset has one utterance per speaker, so crops of it stand for utterances.
    """
    n = int(seconds * 16000)
    out = []
    for clip in sorted(load_corpus(data, "val").speech, key=lambda c: c.name):
        w = resample(clip.wave, clip.fs, 16000)
        if len(w) < per_speaker * n or clip.group in {s for s, _ in out}:
            continue
        out += [(clip.group, w[i * n:(i + 1) * n] / (np.std(w[i * n:(i + 1) * n]) + 1e-9) * 0.1)
                for i in range(per_speaker)]
        if len({s for s, _ in out}) == n_speakers:
            break
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("encoder", help="ssl checkpoint name/path or save_pretrained WavLM folder")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--speakers", type=int, default=10)
    ap.add_argument("--random", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    spk = speaker_set(args.data, args.speakers, 4)
    par = {(v, t): espeak(t, 16000, v) for v in VOICES for t in TEXTS}
    models = {"trained": load_model(args.encoder)[0]}
    if args.random:
        torch.manual_seed(0)
        ck = read(args.encoder)
        models["random"] = build(ck["kind"], ck["config"]).eval()
    print(f"speaker probe: {len({s for s, _ in spk})} held-out speakers x 4 crops (chance "
          f"{1 / len({s for s, _ in spk}):.2f}); content probe: {len(TEXTS)} sentences x {len(VOICES)} voices\n")
    print("| encoder | layer | speaker acc. | content ratio | d(same text) | d(same voice) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, model in models.items():
        for p in probe_layers(model.eval(), spk, par):
            print(f"| {name} | {p.layer} | {p.speaker_accuracy:.2f} | {p.content_ratio:.3f} | "
                  f"{p.d_same_text:.3f} | {p.d_same_voice:.3f} |")


if __name__ == "__main__":
    main()
