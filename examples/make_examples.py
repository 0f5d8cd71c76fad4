"""Re-create the shipped example clips (gapse makes them itself; no third-party audio).

Speech: espeak-ng. Noise: synthetic pink noise plus a 100 Hz hum. Run from the repository root:
``python examples/make_examples.py``.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from gapse_core.audio.resample import resample
from gapse_core.data import degrade as D

HERE = Path(__file__).resolve().parent
TEXT = "Please call Stella. Ask her to bring these things with her from the store."


def main() -> None:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SystemExit("espeak-ng is needed: apt-get install espeak-ng")
    wav = subprocess.run([exe, "-v", "en-us", "-s", "140", "--stdout", TEXT], check=True, capture_output=True).stdout
    speech, fs = sf.read(io.BytesIO(wav), dtype="float32")
    speech = resample(speech, fs, 16000)
    speech = np.pad(speech, (4000, 4000))
    rng = np.random.default_rng(2026)
    noise = D.colored_noise(len(speech), 1.0, rng)
    t = np.arange(len(speech)) / 16000
    noise = noise + 0.5 * np.sin(2 * np.pi * 100 * t).astype(np.float32)
    noisy, _ = D.add_noise(speech, noise, 5.0, 16000)
    scale = 0.7 / np.max(np.abs(noisy))
    sf.write(HERE / "noisy_example.wav", noisy * scale, 16000, subtype="PCM_16")
    sf.write(HERE / "clean_example.wav", speech * scale, 16000, subtype="PCM_16")


if __name__ == "__main__":
    main()
