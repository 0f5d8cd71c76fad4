"""The ``gapse`` command: enhance | eval | simulate | listen | train | export-encoder | demo.

User errors (bad files, unknown names) print one line, ``gapse: error: ...``, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import time
from pathlib import Path

import yaml


def _parse_overrides(items: list[str]) -> dict:
    out = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"gapse: --set expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k] = yaml.safe_load(v)
    return out


WRITABLE = {".wav", ".flac", ".ogg", ".mp3"}
UNWRITABLE_AUDIO = {".opus", ".m4a", ".aac", ".wma"}  # an -o with these means a file gapse cannot write


def _say_error(msg: str) -> None:
    print(f"gapse: error: {msg}", file=sys.stderr, flush=True)


def expand_inputs(items: list[str], out: Path) -> tuple[list[Path], dict[Path, Path], list[str]]:
    """``gapse enhance``'s arguments -> ``(files, where, errors)``.

    A file stays as given (``where[file]`` is its name). A folder gives every audio file under
    it (``audio.io.audio_files``, recursive; anything under ``out`` left out when ``out`` is a
    sub-folder of it, so enhancing a folder into ``FOLDER/enhanced`` twice never enhances its
    own output), and ``where[file]`` is the path relative to that folder, which the output
    keeps. A file reached twice is enhanced once. ``errors`` has one line per folder with no
    audio in it.
    """
    from .audio.io import AUDIO_SUFFIXES, audio_files

    out_resolved = out.resolve()
    files: list[Path] = []
    where: dict[Path, Path] = {}
    errors: list[str] = []
    seen: set[Path] = set()

    def add(f: Path, rel: Path) -> None:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            files.append(f)
            where[f] = rel

    for item in map(Path, items):
        if not item.is_dir():
            add(item, Path(item.name))
            continue
        skip_out = out_resolved != item.resolve() and out_resolved.is_relative_to(item.resolve())
        found = [f for f in audio_files(item, recursive=True)
                 if not (skip_out and f.resolve().is_relative_to(out_resolved))]
        if not found:
            errors.append(f"{item}: a folder with no audio files ({', '.join(sorted(AUDIO_SUFFIXES))}) in it")
        for f in found:
            add(f, f.relative_to(item))
    return files, where, errors


def output_paths(inputs: list[Path], out: Path, branches: list[str],
                 where: dict[Path, Path] | None = None) -> dict[Path, dict[str, Path]]:
    """Where each input's final and branch outputs go; never onto any input file.

    ``out`` is a folder: ``NAME.EXT`` -> ``OUT/NAME.EXT`` (``.wav`` when the format cannot be
    written) and ``OUT/NAME.BRANCH.wav``; an input found in a folder keeps its sub-path there
    (``where[input]`` from ``expand_inputs``: ``OUT/SUB/NAME.EXT``). With one input, ``out``
    may instead name the file itself (a writable audio suffix and not an existing folder):
    ``OUT`` and ``OUT_STEM.BRANCH.wav`` beside it. A target that is an input itself gets
    ``.enhanced`` before the suffix. Raises ValueError for a file name with several inputs, or
    one of a format gapse cannot write (``.opus``, ``.m4a``, ...), or for a new ``out`` whose
    suffix is letters but not audio (``out.txt``, ``clean.wva``): gapse makes no such folder.
    """
    taken = {p.resolve() for p in inputs if p.exists()}
    if out.suffix.lower() in UNWRITABLE_AUDIO and not out.is_dir():
        raise ValueError(f"-o {out}: gapse writes {', '.join(sorted(WRITABLE))} files, not {out.suffix}")
    if out.suffix[1:].isalpha() and out.suffix.lower() not in WRITABLE and not out.exists():
        # ``-o out.txt`` or a typo (``-o clean.wva``) names a file gapse cannot write; a new folder of
        # that name would surprise (a folder named ``v1.2`` is still made, and an existing one is used)
        raise ValueError(f"-o {out}: not an audio file name (gapse writes {', '.join(sorted(WRITABLE))}); "
                         f"to write into a folder of that name, make the folder first")
    as_file = out.suffix.lower() in WRITABLE and not out.is_dir()
    if as_file and len(inputs) != 1:
        raise ValueError(f"-o {out} names one file, but {len(inputs)} input files were given: give a folder")
    outdir = out.parent if as_file else out

    def free(folder: Path, stem: str, tail: str) -> Path:
        target = folder / f"{stem}{tail}"
        while target.resolve() in taken:
            stem += ".enhanced"
            target = folder / f"{stem}{tail}"
        taken.add(target.resolve())
        return target

    plan: dict[Path, dict[str, Path]] = {}
    for p in inputs:
        stem, ext = (out.stem, out.suffix.lower()) if as_file else (p.stem, p.suffix.lower())
        ext = ext if ext in WRITABLE else ".wav"
        folder = outdir if as_file else outdir / (where or {}).get(p, Path(p.name)).parent
        plan[p] = {"final": free(folder, stem, ext), **{b: free(folder, stem, f".{b}.wav") for b in branches}}
    return plan


def _checkpoint_overrides(items: list[str] | None) -> dict[str, str] | None:
    """``["ROLE=PATH", ...]`` (``--checkpoint``) -> ``{role: path}``, or None when none is given."""
    overrides = {}
    for item in items or []:
        role, sep, path = item.partition("=")
        if not sep or not role or not path:
            raise ValueError(f"--checkpoint expects ROLE=PATH (e.g. predictor=runs/x/best.pt), got {item!r}")
        overrides[role] = path
    return overrides or None


PROGRESS_SECONDS = 60.0  # inputs at least this long show a progress bar on stderr (when it is a terminal)


@contextlib.contextmanager
def _terminal_bar(desc: str, unit: str, **options):
    """A tqdm bar on stderr that clears itself when done; ``None`` when stderr is not a terminal
    (a log file or a pipe gets no bar)."""
    if not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    with tqdm(desc=desc, unit=unit, leave=False, dynamic_ncols=True, file=sys.stderr, **options) as bar:
        yield bar


@contextlib.contextmanager
def _progress_bar(name: str, seconds: float):
    """A ``progress(stage, done, total)`` for ``Enhancer.enhance`` that draws a bar of chunks on
    stderr for inputs of ``PROGRESS_SECONDS`` or more; ``None`` for shorter ones, and when stderr
    is not a terminal."""
    with _terminal_bar(f"{name} ({seconds / 60:.1f} min)", "chunk",
                       disable=seconds < PROGRESS_SECONDS) as bar:
        if bar is None or bar.disable:
            yield None
            return

        def progress(stage: str, done: int, total: int) -> None:
            bar.total = total
            bar.set_postfix_str(stage, refresh=False)
            bar.update(done - bar.n)

        yield progress


def cmd_enhance(args: argparse.Namespace) -> int:
    from .audio.io import AudioError, probe
    from .streaming import enhance_to_files
    from .systems import Enhancer

    try:
        enh = Enhancer(args.system, device=args.device, checkpoints=_checkpoint_overrides(args.checkpoint),
                       predictive_passes=args.predictive_passes)
    except (ValueError, RuntimeError, FileNotFoundError) as err:
        _say_error(str(err))
        return 2
    inputs, where, empty_folders = expand_inputs(args.inputs, Path(args.out))
    for line in empty_folders:
        _say_error(line)
    try:
        plan = output_paths(inputs, Path(args.out), list(enh.spec.branches) if args.save_branches else [], where)
    except ValueError as err:
        _say_error(str(err))
        return 2
    failed = len(empty_folders)
    for p in inputs:
        try:
            frames, fs = probe(p)
            t = time.perf_counter()
            with _progress_bar(p.name, frames / fs) as progress:
                frames, fs = enhance_to_files(enh, p, plan[p], progress=progress, header=(frames, fs))
            dt = time.perf_counter() - t
        except AudioError as err:
            _say_error(str(err))
            failed += 1
            continue
        except Exception as err:  # writing (disk full, a format that cannot hold this rate) or a model failure
            reason = getattr(err, "strerror", None) or (str(err).strip().splitlines() or [type(err).__name__])[-1]
            _say_error(f"{p}: could not enhance or write it ({reason})")
            failed += 1
            continue
        dur = frames / fs
        print(f"{p} -> {', '.join(str(w) for w in plan[p].values())}  ({dur:.2f} s at {fs} Hz, {args.system} on "
              f"{enh.device}, {dt:.2f} s, RTF {dt / dur:.3f})", flush=True)
    if failed:
        print(f"gapse: {failed} of {len(inputs) + len(empty_folders)} input(s) failed", file=sys.stderr)
    return 1 if failed else 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from .data.evalset import simulate

    try:
        rates = tuple(int(r) for r in args.rates.split(","))
        manifest = simulate(args.data, args.out, n=args.n, seed=args.seed, preset=args.preset, rates=rates,
                            seconds=args.seconds, split=args.split)
    except (FileNotFoundError, ValueError) as err:
        _say_error(str(err))
        return 2
    print(f"wrote {args.n} pairs to {args.out} (preset {args.preset}, rates {args.rates}); manifest {manifest}")
    return 0


def _listening_inputs(inputs: list[str], references: str | None, limit: int | None):
    """Clips and their clean references: files (references from ``--references DIR``, same name) or
    evaluation-set folders (``noisy/`` with ``clean/`` beside it, as ``gapse simulate`` writes)."""
    from .audio.io import audio_files

    clips: list[Path] = []
    refs: list[Path | None] = []
    for item in map(Path, inputs):
        if item.is_dir():
            noisy = item / "noisy" if (item / "noisy").is_dir() else item
            found = audio_files(noisy)
            if not found:
                raise ValueError(f"{item}: no audio files in it")
            ref_dir = Path(references) if references else noisy.parent / "clean"
            clips += found
            refs += [ref_dir / p.name if (ref_dir / p.name).exists() else None for p in found]
        elif item.exists():
            clips.append(item)
            refs.append(Path(references) / item.name if references and (Path(references) / item.name).exists() else None)
        else:
            raise ValueError(f"{item}: no such file")
    if limit:
        clips, refs = clips[:limit], refs[:limit]
    return clips, refs


@contextlib.contextmanager
def _steps_bar(desc: str, total: int, unit: str):
    """A ``say(message)`` that draws a bar of ``total`` steps on stderr, each message starting the
    next step (shown beside the bar); ``None`` when stderr is not a terminal."""
    # every step is a whole enhancement: redraw at each (mininterval 0), however quick the steps
    with _terminal_bar(desc, unit, total=total, mininterval=0) as bar:
        if bar is None:
            yield None
            return
        started = 0

        def say(message: str) -> None:
            nonlocal started
            bar.set_postfix_str(message, refresh=False)
            bar.update(started - bar.n)  # the steps before this one are done
            started += 1

        yield say


def cmd_listen(args: argparse.Namespace) -> int:
    from .audio.io import AudioError
    from .listening import ListeningError, ListeningTest, create_test

    try:
        if args.action == "summary":
            test = ListeningTest.open(args.test)
            print(f"# Listening test {test.name}\n\n{test.summary_markdown()}")
            return 0
        clips, refs = _listening_inputs(args.inputs, args.references, args.limit)
        systems = [s.strip() for s in args.systems.split(",") if s.strip()]
        t0 = time.perf_counter()
        steps = len(clips) * len(set(systems))  # one enhancement each; -v prints them instead
        with _steps_bar("gapse listen create", steps, "run") as bar:
            test = create_test(args.out, clips, systems, references=refs, include_input=not args.no_input,
                               level_match=not args.no_level_match, max_seconds=args.seconds, seed=args.seed,
                               dnsmos=not args.no_dnsmos, device=args.device,
                               progress=(lambda m: print(m, flush=True)) if args.verbose else bar)
    except (ListeningError, AudioError, ValueError, RuntimeError) as err:
        _say_error(str(err))
        return 2
    print(f"made listening test {test.root}: {len(test.trials)} trial(s) x {len(test.conditions)} conditions "
          f"({', '.join(test.conditions)}) in {time.perf_counter() - t0:.1f} s"
          + (f"; cut: {'; '.join(test.notes)}" if test.notes else "")
          + f"\nrate it in the demo's 'Listening test' tab: gapse demo --listening-dir {test.root.parent}"
          + f"\nresults: gapse listen summary {test.root}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .audio.io import AudioError
    from .evaluate import evaluate_set, render
    from .metrics import parse_band
    from .peers import PeerUnavailable

    systems = [s for s in args.systems.split(",") if s] if args.systems else []
    peers = [s for s in args.peers.split(",") if s] if args.peers else []
    out = Path(args.out) if args.out else Path(args.set_dir) / "results"
    from tqdm import tqdm

    # without -v and on a terminal, a bar of files on stderr (a set of 36 files and 8 systems takes
    # half an hour on 2 cores), drawn from the first file on
    bar = None

    def files_done(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(desc="gapse eval", total=total, unit="file", leave=False, dynamic_ncols=True, file=sys.stderr,
                       disable=args.verbose or not sys.stderr.isatty())
        bar.update(done - bar.n)

    try:
        summary = evaluate_set(args.set_dir, systems, out, peers=peers, device=args.device,
                               use_dnsmos=not args.no_dnsmos, use_speaker=args.speaker,
                               use_learned_quality=args.learned_quality, asr_model=args.asr_model,
                               plots=args.plots, lsd_bands=tuple(parse_band(b) for b in args.lsd_band or ()),
                               limit=args.limit, checkpoints=_checkpoint_overrides(args.checkpoint),
                               predictive_passes=args.predictive_passes,
                               progress=(lambda m: print(m, file=sys.stderr)) if args.verbose else (lambda m: None),
                               files_done=files_done)
    except (AudioError, FileNotFoundError, ValueError, PeerUnavailable, RuntimeError) as err:
        if bar is not None:
            bar.close()
        _say_error(str(err))
        return 2
    if bar is not None:
        bar.close()
    print(render(summary))
    print(f"\nwrote {out}/per_file.csv, summary.json, summary.md" + (", plots/" if args.plots else ""))
    return 0


def _cannot_listen(host: str, port: int) -> str | None:
    """Why a TCP server could not listen on ``host:port`` (e.g. the port is taken), or None."""
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            # as Gradio and uvicorn do: a port left in TIME_WAIT by a demo just stopped is free
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as err:  # socket.gaierror included: a host name that does not resolve
        return err.strerror or str(err)
    return None


def cmd_demo(args: argparse.Namespace) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        from gapse_demo.app import launch
    except ImportError as err:
        _say_error(f"the demo needs the 'demo' extra (pip install -e '.[demo]'): {err}")
        return 2
    problem = _cannot_listen(args.host, args.port)
    if problem:  # before the app is built, and in the operating system's words (Gradio's are misleading)
        _say_error(f"could not serve the demo on {args.host}:{args.port} ({problem})")
        return 2
    print(f"gapse demo on http://{args.host}:{args.port} (Ctrl+C stops it)", flush=True)
    try:
        launch(args.host, args.port, args.share, args.device, listening_dir=args.listening_dir)
    except OSError as err:  # the port is taken, or the host is no address of this machine
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0].split(". ")[0]
        _say_error(f"could not serve the demo on {args.host}:{args.port} ({reason})")
        return 2
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .train.run import corpus_key, run

    overrides = _parse_overrides(args.set)
    if args.data:
        overrides[corpus_key(args.stage)] = args.data
    if args.steps:
        overrides["trainer.steps"] = args.steps
    from .config import ConfigError

    try:
        val = run(args.stage, args.config, args.out, overrides, device=args.device)
    except (ConfigError, FileNotFoundError) as err:
        _say_error(str(err))
        return 2
    if val:
        print("final validation: " + ", ".join(f"{k} {v:.3f}" for k, v in val.items()))
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # A torchrun child whose files are written and whose process group is destroyed. Leave
        # without the interpreter's finalisation: there gloo's worker threads now and then abort
        # the process ("terminate called without an active exception", SIGABRT; 2 runs in 8 of
        # tests/test_train.py::test_ddp_two_cpu_processes on a loaded 2-core machine).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def cmd_export_encoder(args: argparse.Namespace) -> int:
    from .train.ssl_pretrain import export_encoder

    try:
        path = export_encoder(args.checkpoint, args.out)
    except (FileNotFoundError, ValueError) as err:
        _say_error(str(err))
        return 2
    print(f"wrote {path}")
    return 0


def _positive(kind: type):
    """An argparse type: a number of ``kind`` (int or float) above zero."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'a whole number' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if not (value > 0 and math.isfinite(value)):  # also refuses nan and inf
            raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _port(text: str) -> int:
    """An argparse type: a TCP port, 1-65535."""
    port = _positive(int)(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"a port is 1-65535, got {text}")
    return port


def build_parser() -> argparse.ArgumentParser:
    from .systems import PREDICTIVE_PASSES, SYSTEMS

    passes_help = (f"run the predictive branch N times, each pass on the last one's output (default {PREDICTIVE_PASSES}); "
                   "2 leaves less residual noise (DNSMOS OVRL +0.05 on held-out sets) for twice the branch's computation")
    p = argparse.ArgumentParser(prog="gapse", description="Generative-and-predictive speech enhancement.")
    sub = p.add_subparsers(dest="command", required=True)

    e = sub.add_parser("enhance", help="enhance audio files")
    e.add_argument("inputs", nargs="+", help="audio files (wav, flac, ogg, opus, mp3; 8-48 kHz, or up to 192 kHz, "
                   "enhanced at 48 kHz; multichannel is downmixed) or folders of them (searched recursively; "
                   "sub-folders are kept under the output folder)")
    e.add_argument("-o", "--out", required=True, help="output folder, or with one input the output file (e.g. clean.wav); "
                   "inputs are never overwritten")
    e.add_argument("--system", default="predictive", choices=sorted(SYSTEMS))
    e.add_argument("--save-branches", action="store_true", help="also write NAME.BRANCH.wav for every branch")
    e.add_argument("--device", default="auto", help="auto | cpu | cuda")
    e.add_argument("--checkpoint", action="append", metavar="ROLE=PATH", help="use another checkpoint, e.g. predictor=runs/x/best.pt")
    e.add_argument("--predictive-passes", type=_positive(int), metavar="N", help=passes_help)
    e.set_defaults(func=cmd_enhance)

    v = sub.add_parser("eval", help="score noisy input and systems on a set (clean/ + noisy/, noisy/ alone, "
                         "or a folder of recordings, scored without a reference; files over 10 min are skipped)")
    v.add_argument("set_dir")
    v.add_argument("--systems", default="predictive", help="comma-separated systems ('' for the input only)")
    v.add_argument("--out", help="report folder (default SET_DIR/results)")
    v.add_argument("--device", default="auto")
    v.add_argument("--limit", type=_positive(int), help="first N files only")
    v.add_argument("--peers", default="", help="comma-separated peers: noisereduce,rnnoise,deepfilternet3 "
                   "(pip install 'gapse[peers]')")
    v.add_argument("--speaker", action="store_true", help="also score speaker similarity (Resemblyzer d-vectors)")
    v.add_argument("--asr-model", metavar="DIR", help="faster-whisper model folder: also score word error rate")
    v.add_argument("--plots", action="store_true", help="write PNG figures into OUT/plots")
    v.add_argument("--no-dnsmos", action="store_true", help="skip DNSMOS (faster)")
    v.add_argument("--learned-quality", action="store_true",
                   help="also score sqa_ovrl, the learned DNSMOS imitation (and its correlation with DNSMOS)")
    v.add_argument("--lsd-band", action="append", metavar="LOW-HIGH",
                   help="also report LSD over this band in Hz (repeatable), e.g. 4000-8000: the band a 4 kHz limit removed")
    v.add_argument("-v", "--verbose", action="store_true", help="print progress per file")
    v.add_argument("--checkpoint", action="append", metavar="ROLE=PATH",
                   help="use another checkpoint in every system that has ROLE, e.g. hybrid=runs/x/model.pt")
    v.add_argument("--predictive-passes", type=_positive(int), metavar="N", help=passes_help)
    v.set_defaults(func=cmd_eval)

    s = sub.add_parser("simulate", help="write a seeded evaluation set (clean/, noisy/, manifest.csv)")
    s.add_argument("--data", default="../shared/data", help="folder with speech/, noise/, rir/")
    s.add_argument("--out", required=True)
    s.add_argument("--n", type=_positive(int), default=40, help="number of examples (default 40)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--preset", default="urgent", help="urgent | denoise | each | packet_loss | bandwidth4k")
    s.add_argument("--rates", default="16000", help="comma-separated sampling rates, cycled")
    s.add_argument("--seconds", type=_positive(float), default=4.0, help="length of each example (default 4)")
    s.add_argument("--split", default="val", help="val (held-out speakers/noises) or train")
    s.set_defaults(func=cmd_simulate)

    li = sub.add_parser("listen", help="blind listening tests: make one (rated in the demo) or summarise its ratings")
    lsub = li.add_subparsers(dest="action", required=True)
    lc = lsub.add_parser("create", help="enhance clips with each system into a new blind test folder")
    lc.add_argument("inputs", nargs="+", help="degraded audio files, or evaluation-set folders (noisy/ + clean/)")
    lc.add_argument("--systems", required=True, help="comma-separated systems, e.g. predictive,paragse-fusion")
    lc.add_argument("--out", required=True, help="new test folder (must not exist)")
    lc.add_argument("--references", metavar="DIR", help="clean references with the same file names "
                    "(adds the hidden 'clean' condition)")
    lc.add_argument("--limit", type=_positive(int), help="first N clips only")
    lc.add_argument("--seconds", type=_positive(float), default=15.0,
                    help="cut each clip to its first SECONDS (default 15)")
    lc.add_argument("--seed", type=int, default=0)
    lc.add_argument("--no-input", action="store_true", help="leave the unprocessed input out")
    lc.add_argument("--no-level-match", action="store_true", help="keep each output's own level")
    lc.add_argument("--no-dnsmos", action="store_true", help="skip the DNSMOS score of each stimulus")
    lc.add_argument("--device", default="auto")
    lc.add_argument("-v", "--verbose", action="store_true")
    ls = lsub.add_parser("summary", help="MOS per condition with 95%% confidence intervals, beside DNSMOS OVRL")
    ls.add_argument("test", help="a test folder")
    li.set_defaults(func=cmd_listen)

    d = sub.add_parser("demo", help="start the Gradio demo")
    d.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    d.add_argument("--port", type=_port, default=7860)
    d.add_argument("--share", action="store_true", help="also open a public Gradio share link")
    d.add_argument("--device", default="auto", help="auto | cpu | cuda")
    d.add_argument("--listening-dir", default="out/listening",
                   help="folder of listening tests made and rated in the demo (default out/listening)")
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser("train", help="run a training stage (resumes from OUT/last.pt)")
    from .train import STAGES

    t.add_argument("stage", help="one of: " + ", ".join(STAGES))
    t.add_argument("--config", help="YAML config (configs/STAGE/*.yaml)")
    t.add_argument("--out", required=True, help="run folder: checkpoints and log.csv")
    t.add_argument("--data", help="data folder (default: the config's data.path)")
    t.add_argument("--steps", type=_positive(int), help="total steps (overrides the config)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value, e.g. optim.lr=1e-3")
    t.add_argument("--device", default="auto", help="auto | cpu | cuda")
    t.set_defaults(func=cmd_train)

    x = sub.add_parser("export-encoder", help="write the SSL encoder of an ssl_pretrain checkpoint as an 'ssl' "
                       "checkpoint (the teacher of the vocoder, dewavlm and adapter stages)")
    x.add_argument("checkpoint", help="ssl_pretrain checkpoint, e.g. runs/ssl/best.pt")
    x.add_argument("out", help="output file, e.g. checkpoints/ssl-small.pt")
    x.set_defaults(func=cmd_export_encoder)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        _say_error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
