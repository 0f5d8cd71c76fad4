"""Quick blind listening tests: absolute category ratings of hidden conditions.

A test is one folder, made once by :func:`create_test` and never rewritten afterwards:

``test.json``
    the plan: the conditions (``input``, each system, ``clean`` when every clip has a
    reference), one trial per clip with one stimulus per condition, the seed.
``stimuli/``
    one WAV per (trial, condition), named by a random token so that the folder does not give
    the condition away; by default every stimulus is brought to the same RMS level
    (``LISTENING_LEVEL``), so that listeners judge quality and not loudness.
``ratings.csv``
    appended, one row per rating: listener, trial, label, condition, score, time.

Each listener hears a trial's stimuli in an order of their own (seeded by the test's seed, the
listener and the trial), labelled A, B, C, ..., and rates each on the absolute category rating
scale of ITU-T P.800 (1 bad, 2 poor, 3 fair, 4 good, 5 excellent). That is the scale DNSMOS
was trained to imitate (P.808 crowd ratings), so :meth:`ListeningTest.summary` puts each
condition's mean opinion score (MOS, with a 95 % confidence interval) beside its DNSMOS OVRL.
The CLI (``gapse listen create | summary``) and the demo's "Listening test" tab both call this
module.
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .audio.io import AudioError, duration, load, save
from .audio.level import level_gain
from .audio.resample import resample

ACR_SCALE = {1: "bad", 2: "poor", 3: "fair", 4: "good", 5: "excellent"}
LISTENING_LEVEL = 0.05  # RMS of every stimulus when levels are matched (about -26 dBFS)
INPUT, CLEAN = "input", "clean"
PLAN, RATINGS, STIMULI = "test.json", "ratings.csv", "stimuli"
RATING_FIELDS = ["listener", "trial", "label", "condition", "score", "time"]
_append_lock = threading.Lock()


class ListeningError(ValueError):
    """A listening test cannot be made, read or rated as asked; ``str(err)`` is one line for the user."""


@dataclass
class Stimulus:
    """One condition of one trial: ``path`` is relative to the test folder."""

    condition: str
    path: str
    dnsmos_ovrl: float | None = None


@dataclass
class Trial:
    """One clip heard under every condition."""

    clip: str
    fs: int
    seconds: float
    stimuli: list[Stimulus]


@dataclass
class ConditionScore:
    """One condition's ratings: ``mos`` +- ``ci95`` (half-width of the t interval; NaN below 2 ratings)."""

    condition: str
    n: int
    mos: float
    ci95: float
    dnsmos_ovrl: float | None


@dataclass
class ListeningTest:
    """A test folder (see the module docstring). Make one with :func:`create_test`, open one with :meth:`open`."""

    root: Path
    name: str
    conditions: list[str]
    trials: list[Trial]
    seed: int = 0
    level_matched: bool = True
    created: str = ""
    notes: list[str] = field(default_factory=list)

    # ----- reading -----
    @classmethod
    def open(cls, root: str | os.PathLike) -> ListeningTest:
        root = Path(root)
        try:
            plan = json.loads((root / PLAN).read_text())
            trials = [Trial(t["clip"], int(t["fs"]), float(t["seconds"]), [Stimulus(**s) for s in t["stimuli"]])
                      for t in plan["trials"]]
            for t in trials:
                for s in t.stimuli:  # stimuli live inside the test folder, nowhere else
                    if Path(s.path).is_absolute() or ".." in Path(s.path).parts:
                        raise ValueError(f"stimulus path {s.path!r} leaves the test folder")
            return cls(root, plan["name"], list(plan["conditions"]), trials, int(plan["seed"]),
                       bool(plan["level_matched"]), plan.get("created", ""), list(plan.get("notes", [])))
        except FileNotFoundError:
            raise ListeningError(f"{root}: not a listening test (no {PLAN})") from None
        except (KeyError, TypeError, ValueError) as err:
            raise ListeningError(f"{root / PLAN}: not a valid listening-test plan ({err})") from None

    def stimulus_path(self, trial: int, condition: str) -> Path:
        for s in self.trials[trial].stimuli:
            if s.condition == condition:
                return self.root / s.path
        raise KeyError(condition)

    # ----- blinding -----
    def order(self, listener: str, trial: int) -> list[Stimulus]:
        """The stimuli of ``trial`` in the order ``listener`` hears them (labels A, B, ... in this order).

        The same listener always gets the same order for a trial; the order differs across trials
        and listeners, so a position in the page says nothing about the condition.
        """
        self._check_trial(trial)
        stimuli = list(self.trials[trial].stimuli)
        random.Random(f"{self.seed}:{listener}:{trial}").shuffle(stimuli)
        return stimuli

    @staticmethod
    def labels(n: int) -> list[str]:
        return [chr(ord("A") + i) for i in range(n)]

    # ----- rating -----
    def record(self, listener: str, trial: int, scores: Mapping[str, int]) -> None:
        """Append ``listener``'s ratings of ``trial``: ``{label: score}`` with every label and scores 1-5.

        Rating a trial again appends new rows; :meth:`ratings` keeps the latest per stimulus.
        """
        listener = listener_name(listener)
        order = self.order(listener, trial)
        labels = self.labels(len(order))
        missing = [lab for lab in labels if scores.get(lab) in (None, "")]
        if missing:
            raise ListeningError(f"rate every sample before going on (missing: {', '.join(missing)})")
        extra = sorted(set(scores) - set(labels))
        if extra:
            raise ListeningError(f"trial {trial + 1} has no sample {', '.join(extra)}")
        rows = []
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        for lab, stim in zip(labels, order):
            score = _parse_score(scores[lab])
            rows.append({"listener": listener, "trial": trial, "label": lab, "condition": stim.condition,
                         "score": score, "time": stamp})
        path = self.root / RATINGS
        with _append_lock:
            new = not path.exists() or path.stat().st_size == 0
            with open(path, "a", newline="") as f:
                w = csv.DictWriter(f, fieldnames=RATING_FIELDS)
                if new:
                    w.writeheader()
                w.writerows(rows)
                f.flush()
                os.fsync(f.fileno())

    def ratings(self) -> list[dict]:
        """Every rating, the latest per (listener, trial, condition): dicts with ``RATING_FIELDS``."""
        path = self.root / RATINGS
        if not path.exists():
            return []
        latest: dict[tuple, dict] = {}
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                try:
                    row["trial"], row["score"] = int(row["trial"]), int(row["score"])
                except (TypeError, ValueError):
                    continue  # a torn line (a crash while appending) is skipped, not fatal
                if row["condition"] in self.conditions and 0 <= row["trial"] < len(self.trials):
                    latest[(row["listener"], row["trial"], row["condition"])] = row
        return list(latest.values())

    def next_trial(self, listener: str) -> int | None:
        """The first trial ``listener`` has not rated, or None when all are rated."""
        listener = listener_name(listener)
        done = {r["trial"] for r in self.ratings() if r["listener"] == listener}
        return next((i for i in range(len(self.trials)) if i not in done), None)

    # ----- results -----
    def summary(self) -> list[ConditionScore]:
        """Per condition, in plan order: ratings, MOS, 95 % CI half-width and mean DNSMOS OVRL."""
        from scipy import stats

        rows = self.ratings()
        out = []
        for cond in self.conditions:
            s = np.array([r["score"] for r in rows if r["condition"] == cond], dtype=np.float64)
            n = len(s)
            mos = float(s.mean()) if n else float("nan")
            ci = float(stats.t.ppf(0.975, n - 1) * s.std(ddof=1) / np.sqrt(n)) if n >= 2 else float("nan")
            ovrl = [st.dnsmos_ovrl for t in self.trials for st in t.stimuli
                    if st.condition == cond and st.dnsmos_ovrl is not None]
            out.append(ConditionScore(cond, n, mos, ci, float(np.mean(ovrl)) if ovrl else None))
        return out

    def dnsmos_agreement(self) -> tuple[float, int] | None:
        """Pearson r between each rated stimulus's mean score and its DNSMOS OVRL, and how many stimuli.

        None with fewer than 3 rated stimuli that have DNSMOS scores (or no spread in either).
        """
        per: dict[tuple[int, str], list[int]] = {}
        for r in self.ratings():
            per.setdefault((r["trial"], r["condition"]), []).append(r["score"])
        pairs = []
        for (t, cond), scores in per.items():
            ovrl = next(s.dnsmos_ovrl for s in self.trials[t].stimuli if s.condition == cond)
            if ovrl is not None:
                pairs.append((float(np.mean(scores)), ovrl))
        if len(pairs) < 3:
            return None
        a = np.array(pairs)
        if a[:, 0].std() == 0 or a[:, 1].std() == 0:
            return None
        return float(np.corrcoef(a[:, 0], a[:, 1])[0, 1]), len(pairs)

    def listeners(self) -> list[str]:
        return sorted({r["listener"] for r in self.ratings()})

    def summary_markdown(self) -> str:
        """The summary as a Markdown table plus one line on listeners and DNSMOS agreement."""
        lines = ["| condition | ratings | MOS | 95 % CI | DNSMOS OVRL |", "|---|---:|---:|---:|---:|"]
        for c in self.summary():
            mos = "–" if c.n == 0 else f"{c.mos:.2f}"
            ci = "–" if np.isnan(c.ci95) else f"± {c.ci95:.2f}"
            ovrl = "–" if c.dnsmos_ovrl is None else f"{c.dnsmos_ovrl:.2f}"
            lines.append(f"| {c.condition} | {c.n} | {mos} | {ci} | {ovrl} |")
        who = self.listeners()
        tail = f"\n\n{len(who)} listener(s), {len(self.trials)} trial(s), {len(self.conditions)} conditions"
        agree = self.dnsmos_agreement()
        if agree is not None:
            tail += f"; per-sample MOS vs DNSMOS OVRL: r = {agree[0]:.2f} over {agree[1]} samples"
        return "\n".join(lines) + tail + "."

    def _check_trial(self, trial: int) -> None:
        if not 0 <= int(trial) < len(self.trials):
            raise ListeningError(f"trial {int(trial) + 1} does not exist (the test has {len(self.trials)})")


def listener_name(listener: str) -> str:
    """A listener's name as ratings store it (whitespace collapsed); empty or over 64 characters is refused."""
    name = " ".join(str(listener or "").split())
    if not name:
        raise ListeningError("enter a listener name first (any name or initials)")
    if len(name) > 64:
        raise ListeningError("the listener name is longer than 64 characters")
    return name


def _parse_score(value) -> int:
    """1-5, or a choice label such as ``"4 good"``."""
    text = str(value).strip().split(" ", 1)[0]
    try:
        score = int(float(text))
    except (ValueError, OverflowError):
        raise ListeningError(f"a rating must be 1-5, got {value!r}") from None
    if score not in ACR_SCALE or float(text) != score:
        raise ListeningError(f"a rating must be 1-5, got {value!r}")
    return score


def create_test(root: str | os.PathLike, clips: Sequence[str | os.PathLike], systems: Sequence[str], *,
                references: Sequence[str | os.PathLike | None] | None = None, include_input: bool = True,
                level_match: bool = True, max_seconds: float = 15.0, seed: int = 0, dnsmos: bool = True,
                enhancer: Callable[[str], object] | None = None, device: str = "auto",
                progress: Callable[[str], None] | None = None) -> ListeningTest:
    """Enhance every clip with every system and write a new test folder at ``root``.

    Args:
        root: the test folder; it must not exist yet (or be an empty folder): nothing is overwritten.
            The folder appears complete or not at all (it is assembled beside ``root`` and renamed).
        clips: degraded audio files, one trial each (cut to their first ``max_seconds``).
        systems: names from :data:`gapse_core.systems.SYSTEMS`, one condition each.
        references: optional clean file per clip (None where there is none); a ``clean``
            condition (the hidden reference) is added only when every clip has one.
        include_input: add the unprocessed clip as the ``input`` condition (the low anchor).
        level_match: scale every stimulus to RMS ``LISTENING_LEVEL`` (peaks kept below 0.99).
        dnsmos: score every stimulus with DNSMOS OVRL (stored in the plan; about 1-3 s per stimulus).
        enhancer: ``system -> Enhancer``; default: a new :class:`~gapse_core.systems.Enhancer` per system.
    """
    from . import metrics
    from .systems import SYSTEMS, Enhancer

    root = Path(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ListeningError(f"{root} already exists and is not empty: choose a new folder for the test")
    if not clips:
        raise ListeningError("a listening test needs at least one clip")
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise ListeningError(f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(sorted(SYSTEMS))}")
    systems = list(dict.fromkeys(systems))
    if references is not None and len(references) != len(clips):
        raise ListeningError(f"{len(references)} references for {len(clips)} clips")
    with_clean = references is not None and all(r is not None for r in references)
    conditions = ([INPUT] if include_input else []) + systems + ([CLEAN] if with_clean else [])
    if len(conditions) < 2:
        raise ListeningError("a listening test compares at least two conditions: pick a system and keep the "
                             "input, or pick two systems")
    say = progress or (lambda _msg: None)
    loaded: dict[str, object] = {}

    def get(system: str):
        if enhancer is not None:
            return enhancer(system)
        if system not in loaded:
            loaded[system] = Enhancer(system, device=device)
        return loaded[system]

    rng = random.Random(seed)
    root.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    notes: list[str] = []
    try:
        (work / STIMULI).mkdir()
        trials = []
        for i, clip in enumerate(clips):
            name = Path(clip).name
            try:
                x, fs = load(clip, max_seconds=max_seconds, truncate=True)
            except AudioError as err:
                raise ListeningError(str(err)) from None
            if duration(clip) > max_seconds + 1e-3:
                notes.append(f"{name}: its first {max_seconds:g} s")
            if float(np.sqrt(np.mean(x**2))) < 1e-5:
                raise ListeningError(f"{name}: the clip is silent; a listening test needs speech")
            if len(x) < int(0.5 * fs):
                raise ListeningError(f"{name}: the clip is shorter than 0.5 s, too short to judge")
            signals: dict[str, np.ndarray] = {INPUT: x} if include_input else {}
            for system in systems:
                say(f"clip {i + 1}/{len(clips)}: {system}")
                signals[system] = np.asarray(get(system).enhance(x, fs).final, dtype=np.float32)
            if with_clean:
                signals[CLEAN] = _reference(references[i], fs, len(x))
            stimuli = []
            for cond in conditions:
                y = signals[cond]
                if level_match:
                    y = _match_level(y)
                rel = f"{STIMULI}/{rng.getrandbits(48):012x}.wav"
                save(work / rel, y, fs)
                ovrl = round(metrics.dnsmos(y, fs)["ovrl"], 4) if dnsmos else None
                stimuli.append(Stimulus(cond, rel, ovrl))
            trials.append(Trial(name, fs, round(len(x) / fs, 3), stimuli))
        test = ListeningTest(root, root.name, conditions, trials, seed, level_match,
                             time.strftime("%Y-%m-%dT%H:%M:%S"), notes)
        plan = {k: v for k, v in asdict(test).items() if k != "root"}
        (work / PLAN).write_text(json.dumps(plan, indent=1))
        if root.exists():
            root.rmdir()  # empty (checked above)
        os.replace(work, root)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return test


def _match_level(y: np.ndarray) -> np.ndarray:
    g = level_gain(y, LISTENING_LEVEL)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak * g > 0.99:
        g = 0.99 / peak
    return (y * g).astype(np.float32)


def _reference(path: str | os.PathLike, fs: int, n: int) -> np.ndarray:
    try:
        ref, fs_ref = load(path)
    except AudioError as err:
        raise ListeningError(str(err)) from None
    if fs_ref != fs:
        ref = resample(ref, fs_ref, fs)
    return np.pad(ref[:n], (0, max(0, n - len(ref)))).astype(np.float32)


def list_tests(folder: str | os.PathLike) -> list[str]:
    """Names of the test folders directly inside ``folder`` (newest first)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    tests = [p for p in folder.iterdir() if p.is_dir() and (p / PLAN).exists()]
    return [p.name for p in sorted(tests, key=lambda p: p.stat().st_mtime, reverse=True)]
