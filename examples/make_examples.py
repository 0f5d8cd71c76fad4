"""Re-create the shipped example clips. Every noise is synthesised here; no third-party noise is shipped.

- ``*_allison_*``: real speech, prompts recorded by Allison Smith for Asterisk (CC BY-SA 3.0),
  read from Debian's ``asterisk-core-sounds-en-g722`` package and decoded with PyPI's ``g722``.
  Those clips (clean and noisy) are CC BY-SA 3.0 too.
- ``*_espeak_*``: espeak-ng speech.

Run from the repository root (needs network access to Debian's archive once)::

    pip install g722 && python examples/make_examples.py
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from gapse_core.audio.resample import resample
from gapse_core.data import degrade as D

HERE = Path(__file__).resolve().parent
PROMPTS = {"allison_pink": "conf-onlyperson", "allison_room_wind": "vm-tomakecall"}
ESPEAK_TEXT = "Please call Stella. Ask her to bring these things with her from the store."


def allison(prompt: str) -> np.ndarray:
    """One Asterisk prompt as float32 at 16 kHz."""
    import G722

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", "asterisk-core-sounds-en-g722"], cwd=tmp, check=True,
                       capture_output=True)
        deb = next(Path(tmp).glob("*.deb"))
        subprocess.run(["dpkg", "-x", str(deb), f"{tmp}/x"], check=True)
        data = next(Path(tmp, "x").rglob(f"en_US_f_Allison/{prompt}.g722")).read_bytes()
    y = np.asarray(G722.G722(16000, 64000).decode(data), dtype=np.float32) / 32768.0
    return y


def espeak() -> np.ndarray:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SystemExit("espeak-ng is needed: apt-get install espeak-ng")
    wav = subprocess.run([exe, "-v", "en-us", "-s", "140", "--stdout", ESPEAK_TEXT], check=True,
                         capture_output=True).stdout
    x, fs = sf.read(io.BytesIO(wav), dtype="float32")
    return resample(x, fs, 16000)


def write_pair(name: str, clean: np.ndarray, noisy: np.ndarray) -> None:
    scale = 0.7 / max(np.max(np.abs(noisy)), np.max(np.abs(clean)))
    sf.write(HERE / f"noisy_{name}.wav", noisy * scale, 16000, subtype="PCM_16")
    sf.write(HERE / f"clean_{name}.wav", clean * scale, 16000, subtype="PCM_16")


def main() -> None:
    rng = np.random.default_rng(2026)
    fs = 16000
    speech = np.pad(espeak(), (4000, 4000))
    t = np.arange(len(speech)) / fs
    noise = D.colored_noise(len(speech), 1.0, rng) + 0.5 * np.sin(2 * np.pi * 100 * t).astype(np.float32)
    write_pair("espeak_hum", speech, D.add_noise(speech, noise, 5.0, fs)[0])

    speech = np.pad(allison(PROMPTS["allison_pink"]), (3200, 3200))
    write_pair("allison_pink", speech, D.add_noise(speech, D.colored_noise(len(speech), 1.0, rng), 3.0, fs)[0])

    speech = np.pad(allison(PROMPTS["allison_room_wind"]), (3200, 3200))
    rir, _ = D.simulate_rir(rng, fs, rt60=0.7)
    reverberant, early = D.reverberate(speech, rir, fs)
    write_pair("allison_room_wind", early, D.add_noise(reverberant, D.wind_noise(len(speech), fs, rng), 5.0, fs)[0])


if __name__ == "__main__":
    main()
