"""The Gradio demo: upload, record or pick a clip (or degrade a clean one), hear and see every branch.

Layout and callbacks only: enhancement is :class:`gapse_core.systems.Enhancer`, distortions are
:func:`gapse_core.data.playground.degrade`, plots are :mod:`figures`, scores :mod:`gapse_core.metrics`.
Every user error becomes a message in the page (``gr.Error``); the server keeps serving.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import gradio as gr
import numpy as np
import torch

from gapse_core import metrics
from gapse_core.audio.io import MAX_RATE, AudioError, duration, load, save
from gapse_core.checkpoints import resolve
from gapse_core.data.playground import CODECS, NOISES, Degradation, degrade
from gapse_core.systems import SYSTEMS, Enhancer, EnhancementResult, pick_device

from .figures import spectrogram_figure
from .listening_tab import build_listening_tab

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
MAX_SECONDS = 60.0  # longer uploads are cut, with a notice
METRIC_SECONDS = 30.0  # metrics on the first 30 s (DNSMOS costs ~0.3 s per 9 s window)
BRANCH_SLOTS = ("predictive", "generative")


def available_systems() -> list[str]:
    """Systems whose checkpoints are all present."""
    out = []
    for name, spec in SYSTEMS.items():
        try:
            for ckpt in spec.checkpoints.values():
                resolve(ckpt)
        except FileNotFoundError:
            continue
        out.append(name)
    return out


class Engine:
    """One ``Enhancer`` per system, loaded on first use and shared by all requests."""

    def __init__(self, device: str = "auto") -> None:
        self.device = device
        self._enhancers: dict[str, Enhancer] = {}
        self._lock = threading.Lock()
        self.work_dir = Path(tempfile.mkdtemp(prefix="gapse-demo-"))

    def enhancer(self, system: str) -> Enhancer:
        with self._lock:
            if system not in self._enhancers:
                self._enhancers[system] = Enhancer(system, device=self.device)
            return self._enhancers[system]

    def loaded(self, system: str) -> bool:
        """Whether ``system``'s models are already in memory (its next call does not load them)."""
        with self._lock:
            return system in self._enhancers

    def device_label(self) -> str:
        dev = pick_device(self.device)
        return f"GPU ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else "CPU"

    def out_path(self, name: str) -> Path:
        folder = Path(tempfile.mkdtemp(dir=self.work_dir))
        return folder / name


def _user_error(err: Exception, path: str | None) -> gr.Error:
    msg = str(err)
    if path:
        msg = msg.replace(str(path), Path(path).name)
    return gr.Error(msg, print_exception=False)


def metrics_table(result: EnhancementResult, reference: np.ndarray | None) -> list[list]:
    n = min(len(result.input), int(METRIC_SECONDS * result.fs))
    rows = []
    signals = [("input", result.input)] + [(f"{k} branch", v) for k, v in result.distinct_branches().items()]
    signals.append((f"final ({result.system})", result.final))
    for name, y in signals:
        s = metrics.score(y[:n], result.fs, None if reference is None else reference[:n])
        rows.append([name] + [round(s.get(k, float("nan")), 3) for k in
                              ("dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "pesq", "estoi", "si_sdr", "lsd")])
    return rows


SECOND_PASS_INFO = ("run the predictive branch again on its own output: less residual noise (on held-out "
                    "sets DNSMOS OVRL +0.05, SI-SDR -0.1 to -0.3 dB), twice the branch's time")


def has_predictive(system: str) -> bool:
    """Whether ``system`` has a predictive branch (the second-pass control applies to it)."""
    return "predictive" in SYSTEMS[system].branches


METRIC_HEADERS = ["signal", "OVRL", "SIG", "BAK", "PESQ-WB", "ESTOI", "SI-SDR (dB)", "LSD (dB)"]  # OVRL..BAK: DNSMOS


def build_app(device: str = "auto", listening_dir: str | Path | None = None) -> gr.Blocks:
    """The page; listening tests live in ``listening_dir`` (default: a temporary folder of this server)."""
    engine = Engine(device)
    listening = Path(listening_dir) if listening_dir else engine.work_dir / "listening"
    listening.mkdir(parents=True, exist_ok=True)
    systems = available_systems()
    if not systems:
        raise RuntimeError("no system has its checkpoints: run from a gapse checkout (checkpoints/)")
    clean_examples = sorted(str(p) for p in EXAMPLES.glob("clean_*.wav"))

    def run(audio_path: str | None, system: str, second_pass: bool, ref: dict | None, progress=gr.Progress()):
        if not audio_path:
            raise gr.Error("Upload or record a clip first, or pick an example.", print_exception=False)
        if system not in systems:
            raise gr.Error(f"Unknown system {system!r}.", print_exception=False)
        notices = []
        try:
            wave, fs = load(audio_path, max_seconds=MAX_SECONDS, truncate=True)
            total = duration(audio_path)
        except AudioError as err:
            raise _user_error(err, audio_path) from None
        if total > MAX_SECONDS:
            notices.append(f"The clip is {total:.0f} s long; the demo enhanced its first {MAX_SECONDS:.0f} s "
                           "(the command line `gapse enhance` takes any length).")
        if float(np.max(np.abs(wave))) < 1e-6:
            notices.append("The clip is silent: nothing to enhance.")
        if fs > MAX_RATE:
            notices.append(f"The clip is at {fs} Hz: the models run at up to {MAX_RATE // 1000} kHz, so it was enhanced "
                           f"at {MAX_RATE} Hz and returned at {fs} Hz (nothing above {MAX_RATE // 2000} kHz is kept).")
        reference = None
        if ref and ref.get("fs") == fs and len(ref["noisy"]) == len(wave) and np.allclose(ref["noisy"], wave, atol=1e-4):
            reference = ref["clean"]
        cold = not engine.loaded(system)
        if cold:
            progress(0, desc=f"loading the models of {system}")
        t = time.perf_counter()
        enhancer = engine.enhancer(system)  # loads the system's models on its first use
        passes = 2 if second_pass and has_predictive(system) else 1
        enhancer = enhancer.with_predictive_passes(passes)  # the same models, asked per request
        load_time = time.perf_counter() - t
        t = time.perf_counter()
        result = enhancer.enhance(wave, fs, progress=lambda stage, done, total: progress(
            (done, total), desc=f"{system}: {stage}", unit="chunks"))
        total_time = time.perf_counter() - t
        final_path = save(engine.out_path("final.wav"), result.final, fs)
        branch_out = []
        shown = result.distinct_branches()
        for slot in BRANCH_SLOTS:
            y = shown.get(slot)
            if y is None:
                branch_out.append(gr.update(value=None, visible=False))
            else:
                branch_out.append(gr.update(value=str(save(engine.out_path(f"{slot}.wav"), y, fs)), visible=True))
        separate_fused = result.fused is not None and result.fused is not result.final  # (a PostNet follows)
        fused = (gr.update(value=str(save(engine.out_path("fused.wav"), result.fused, fs)), visible=True)
                 if separate_fused else gr.update(value=None, visible=False))
        progress(1.0, desc="scoring (DNSMOS) and drawing the spectrograms")
        fig = spectrogram_figure(result, reference)
        table = metrics_table(result, reference)
        stages = ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items())
        info = [f"**{system}** on **{engine.device_label()}** · {len(wave) / fs:.2f} s at {fs} Hz · "
                f"total {total_time:.2f} s (real-time factor {total_time / (len(wave) / fs):.3f}) · stages: {stages}"
                + (" · the predictive branch ran twice (second pass on its own output)" if passes == 2 else "")
                + (f" · first use of {system}: its models loaded in {load_time:.2f} s (not in the total)"
                   if cold else ""),
                "Intrusive metrics use the playground's clean reference." if reference is not None else
                "No clean reference for this clip: only DNSMOS (non-intrusive) is shown. "
                "Make a clip in the playground to see PESQ, ESTOI, SI-SDR and LSD."]
        if result.mask is not None:
            m = result.mask[: enhancer.models["fusion"].low_bins(fs)]
            info.append(f"Fusion mask: mean M {float(m.astype(np.float32).mean()):.2f} below 8 kHz "
                        "(1 = all predictive branch, 0 = all generative; above 8 kHz M = 1).")
        post = enhancer.models.get("postnet")
        if post is not None:
            top = min(post.cfg.restore_hz, fs / 2) / 1000
            info.append(f"PostNet: both branches at 48 kHz, fused and band-extended up to {top:g} kHz"
                        + (" (above it the predictive branch passes)." if post.cfg.restore_hz < fs / 2 else "."))
        info += [f"⚠ {n}" for n in notices]
        return [str(final_path), *branch_out, fused, fig, table, "\n\n".join(info)]

    def make_noisy(clean_path: str | None, noise: str, snr: float, rt60: float, band: str, clip_pct: float,
                   codec: str, quality: float, loss_pct: float, seed: float):
        if not clean_path:
            raise gr.Error("Pick or upload a clean clip first.", print_exception=False)
        try:
            clean, fs = load(clean_path, max_seconds=MAX_SECONDS, truncate=True)
        except AudioError as err:
            raise _user_error(err, clean_path) from None
        d = Degradation(noise=noise, snr_db=float(snr), rt60=float(rt60),
                        band_limit_hz=0 if band == "full band" else int(band.split()[0]),
                        clip_fraction=float(clip_pct) / 100, codec=codec, codec_quality=float(quality),
                        packet_loss=float(loss_pct) / 100, seed=int(seed))
        noisy, target = degrade(clean, fs, d)
        path = save(engine.out_path("noisy.wav"), noisy, fs)  # float WAV: the player holds exactly `noisy`
        return str(path), {"noisy": noisy, "clean": target, "fs": fs}, (
            f"Made {len(noisy) / fs:.1f} s at {fs} Hz: {d.noise} noise at {d.snr_db:g} dB"
            + (f", RT60 {d.rt60:g} s" if d.rt60 else "") + (f", band limited to {band}" if d.band_limit_hz else "")
            + (f", {clip_pct:g}% clipped" if clip_pct else "") + (f", {codec} q={quality:g}" if codec != "none" else "")
            + (f", {loss_pct:g}% packets lost" if loss_pct else "") + ". Now press Enhance.")

    with gr.Blocks(title="gapse demo") as demo:
        gr.Markdown("# gapse: generative-and-predictive speech enhancement\n"
                    "Upload or record a clip (or pick an example, or make one in the degradation playground), "
                    "choose a system and press **Enhance**: hear the input, each branch and the output, and see "
                    f"their spectrograms and DNSMOS. Running on **{engine.device_label()}**. Clips longer than "
                    f"{MAX_SECONDS:.0f} s are cut.")
        with gr.Accordion(f"The {len(systems)} systems", open=False):
            gr.Markdown("\n".join(f"- `{s}`: {SYSTEMS[s].description}" for s in systems), elem_id="system-list")
        with gr.Tab("Enhance"):
            ref_state = gr.State(None)
            with gr.Row():
                with gr.Column(scale=1):
                    audio_in = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Noisy input",
                                        elem_id="input-audio")
                    examples = sorted(str(p) for p in EXAMPLES.glob("noisy_*.wav"))
                    if examples:
                        gr.Examples(examples=[[e] for e in examples], inputs=[audio_in], label="Examples")
                    system = gr.Dropdown(systems, value=systems[0], label="System", elem_id="system",
                                         info=SYSTEMS[systems[0]].description)
                    second_pass = gr.Checkbox(False, label="Second predictive pass", elem_id="second-pass",
                                              visible=has_predictive(systems[0]), info=SECOND_PASS_INFO)
                    go_btn = gr.Button("Enhance", variant="primary", elem_id="enhance-btn")
                    with gr.Accordion("Degradation playground: make a noisy clip from a clean one", open=False):
                        clean_in = gr.Audio(sources=["upload"], type="filepath", label="Clean clip",
                                            value=clean_examples[0] if clean_examples else None)
                        noise = gr.Dropdown(list(NOISES), value="pink", label="Noise")
                        snr = gr.Slider(-5, 30, value=5, step=1, label="SNR (dB)")
                        rt60 = gr.Slider(0, 1.2, value=0, step=0.05, label="Reverb RT60 (s, 0 = dry)")
                        band = gr.Dropdown(["full band", "4000 Hz", "2000 Hz", "1000 Hz"], value="full band",
                                           label="Band limit")
                        clip_pct = gr.Slider(0, 30, value=0, step=1, label="Clipping (% of samples)")
                        codec = gr.Dropdown(list(CODECS), value="none", label="Codec")
                        quality = gr.Slider(0, 0.99, value=0.5, step=0.01, label="Codec compression (0 best)")
                        loss_pct = gr.Slider(0, 30, value=0, step=1, label="Packet loss (% of 20 ms packets)")
                        seed = gr.Number(0, precision=0, label="Seed")
                        make_btn = gr.Button("Make noisy clip", elem_id="make-btn")
                        made = gr.Markdown()
                with gr.Column(scale=2):
                    final_out = gr.Audio(label="Final output", type="filepath", interactive=False,
                                         elem_id="final-audio")
                    with gr.Row():
                        pred_out = gr.Audio(label="Predictive branch", type="filepath", interactive=False,
                                            visible=False)
                        gen_out = gr.Audio(label="Generative branch", type="filepath", interactive=False,
                                           visible=False)
                        fused_out = gr.Audio(label="Fused", type="filepath", interactive=False, visible=False)
                    info = gr.Markdown(elem_id="run-info")
                    table = gr.Dataframe(headers=METRIC_HEADERS, interactive=False, elem_id="metrics",
                                         label="Metrics, first 30 s (OVRL, SIG, BAK: DNSMOS; "
                                               "the others need the clean reference)")
                    plot = gr.Plot(label="Spectrograms (linked axes: zoom one, zoom all)", elem_id="spectrograms")
        system.change(lambda name: (gr.Dropdown(info=SYSTEMS[name].description),
                                    gr.Checkbox(visible=has_predictive(name))),
                      system, [system, second_pass], api_visibility="private", queue=False)
        go_btn.click(run, [audio_in, system, second_pass, ref_state],
                     [final_out, pred_out, gen_out, fused_out, plot, table, info], api_name="enhance")
        make_btn.click(make_noisy, [clean_in, noise, snr, rt60, band, clip_pct, codec, quality, loss_pct, seed],
                       [audio_in, ref_state, made], api_name="degrade")
        with gr.Tab("Listening test") as listening_tab:
            build_listening_tab(listening_tab, systems, listening, EXAMPLES, engine.enhancer)
    demo.queue(default_concurrency_limit=2, max_size=64)
    return demo


def launch(host: str = "127.0.0.1", port: int = 7860, share: bool = False, device: str = "auto",
           block: bool = True, listening_dir: str | Path | None = None) -> gr.Blocks:
    listening = Path(listening_dir).resolve() if listening_dir else None
    demo = build_app(device, listening)
    demo.launch(server_name=host, server_port=port, share=share, prevent_thread_lock=not block, quiet=not block,
                ssr_mode=False, footer_links=["api"], max_file_size="200mb",
                allowed_paths=[str(EXAMPLES)] + ([str(listening)] if listening else []))
    return demo
