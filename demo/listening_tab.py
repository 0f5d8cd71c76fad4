"""The demo's "Listening test" tab: make a blind test, rate it, see the MOS beside DNSMOS.

Layout and callbacks only; the test itself (blinding, storage, statistics) is
:mod:`gapse_core.listening`. A test made here is a folder under the demo's listening folder
(``gapse demo --listening-dir DIR``), so several listeners can take the same test, one after
another or at once, and ``gapse listen summary DIR/NAME`` reads the same ratings.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path

import gradio as gr

from gapse_core.audio.io import AudioError
from gapse_core.listening import (ACR_SCALE, RATINGS, ListeningError, ListeningTest, create_test, list_tests,
                                  listener_name)

MAX_CLIPS = 20
CLIP_SECONDS = 15.0
CHOICES = [f"{k} {v}" for k, v in ACR_SCALE.items()]


def default_clips(examples: Path) -> tuple[list[str], list[str | None]]:
    """The shipped noisy examples and, where one exists, their clean counterparts (``noisy_X`` -> ``clean_X``)."""
    clips = sorted(examples.glob("noisy_*.wav"))
    refs = [examples / p.name.replace("noisy_", "clean_", 1) for p in clips]
    return [str(p) for p in clips], [str(r) if r.exists() else None for r in refs]


def build_listening_tab(tab: gr.Tab, systems: list[str], folder: Path, examples: Path, enhancer: Callable) -> None:
    """Add the tab's components and callbacks inside ``tab`` (its list of tests is re-read when it is opened)."""
    n_slots = min(len(systems) + 2, 12)  # every system, the input and the hidden clean reference
    gr.Markdown(
        "A **blind test**: each clip is enhanced by the systems you pick; you hear the versions of one clip "
        "at a time in a shuffled order, labelled A, B, C, and rate each on the absolute category scale "
        "(1 bad, 2 poor, 3 fair, 4 good, 5 excellent: the scale DNSMOS imitates). Every version is played "
        "at the same loudness. With the shipped examples the clean recording is hidden among them too. "
        f"Tests and ratings are kept in `{folder}`; several listeners can take the same test.")
    with gr.Row():
        with gr.Column():
            gr.Markdown("### 1. Make a test")
            clips = gr.File(file_count="multiple", file_types=["audio"], type="filepath", elem_id="lt-clips",
                            label=f"Noisy clips (none: the shipped examples; at most {MAX_CLIPS}, "
                                  f"first {CLIP_SECONDS:g} s of each)")
            picked = gr.CheckboxGroup(systems, value=systems[:1], label="Systems", elem_id="lt-systems")
            with_input = gr.Checkbox(True, label="Include the unprocessed input (a low anchor)")
            with_dnsmos = gr.Checkbox(True, label="Score every sample with DNSMOS too (about 1-3 s each)")
            make_btn = gr.Button("Make test", elem_id="lt-make")
            made = gr.Markdown(elem_id="lt-made")
        with gr.Column():
            gr.Markdown("### 2. Take a test")
            test_name = gr.Dropdown(list_tests(folder), value=None, label="Test", elem_id="lt-test")
            listener = gr.Textbox(label="Your name or initials", max_length=64, elem_id="lt-listener")
            start_btn = gr.Button("Start or continue", variant="primary", elem_id="lt-start")
    session = gr.State(None)  # {"test": name, "listener": name, "trial": index}
    trial_info = gr.Markdown(elem_id="lt-trial")
    rows, players, rates = [], [], []
    for label in ListeningTest.labels(n_slots):
        with gr.Row(visible=False) as row:
            rows.append(row)
            players.append(gr.Audio(label=f"Sample {label}", type="filepath", interactive=False,
                                    elem_id=f"lt-audio-{label}"))
            rates.append(gr.Radio(CHOICES, label=f"Your rating of {label}", elem_id=f"lt-rate-{label}"))
    submit_btn = gr.Button("Submit ratings and go on", variant="primary", visible=False, elem_id="lt-submit")
    gr.Markdown("### 3. Results")
    results_btn = gr.Button("Show results of the selected test", elem_id="lt-results-btn")
    results = gr.Markdown(elem_id="lt-results")
    ratings_file = gr.File(label="All ratings (CSV)", interactive=False, visible=False)

    def refresh(current: str | None = None):
        names = list_tests(folder)
        return gr.update(choices=names, value=current if current in names else (names[0] if names else None))

    def open_test(name: str | None) -> ListeningTest:
        if not name:
            raise gr.Error("Pick a test first (or make one).", print_exception=False)
        if name not in list_tests(folder):
            raise gr.Error(f"No test named {name!r} here.", print_exception=False)
        return ListeningTest.open(folder / name)

    def view(test: ListeningTest, who: str, trial: int | None) -> list:
        """Updates for trial_info, the sample rows, players and ratings, and the submit button."""
        order = [] if trial is None else test.order(who, trial)
        shown = [gr.update(visible=i < len(order)) for i in range(n_slots)]
        audio = [gr.update(value=str(test.root / order[i].path) if i < len(order) else None)
                 for i in range(n_slots)]
        radio = [gr.update(value=None) for _ in range(n_slots)]
        if trial is None:
            text = (f"**{who}**, you have rated all {len(test.trials)} trial(s) of `{test.name}`. Thank you! "
                    "Press *Show results* below.")
        else:
            t = test.trials[trial]
            text = (f"**Trial {trial + 1} of {len(test.trials)}** (`{t.clip}`, {t.seconds:.1f} s): listen to "
                    "every sample, then rate each one.")
        return [text, *shown, *audio, *radio, gr.update(visible=trial is not None)]

    def make(files: list[str] | None, chosen: list[str], include_input: bool, dnsmos: bool):
        chosen = [s for s in (chosen or []) if s in systems]
        if not chosen:
            raise gr.Error("Pick at least one system.", print_exception=False)
        if files:
            paths, refs = [str(f) for f in files], None
        else:
            paths, refs = default_clips(examples)
        if len(paths) > MAX_CLIPS:
            raise gr.Error(f"{len(paths)} clips: at most {MAX_CLIPS} per test here "
                           "(`gapse listen create` takes any number).", print_exception=False)
        name = f"test-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
        t0 = time.perf_counter()
        try:
            test = create_test(folder / name, paths, chosen, references=refs, include_input=include_input,
                               max_seconds=CLIP_SECONDS, dnsmos=dnsmos, enhancer=enhancer)
        except (ListeningError, AudioError) as err:
            msg = str(err)
            for p in paths:  # name uploads by their file name, not the server's temporary path
                msg = msg.replace(str(Path(p).parent) + "/", "")
            raise gr.Error(msg, print_exception=False) from None
        text = (f"Made **{test.name}**: {len(test.trials)} clip(s) x {len(test.conditions)} versions "
                f"({', '.join(test.conditions)}) in {time.perf_counter() - t0:.1f} s. Enter your name and start.")
        return text, gr.update(choices=list_tests(folder), value=test.name)

    def start(name: str | None, who: str):
        test = open_test(name)
        try:
            who = listener_name(who)
            trial = test.next_trial(who)
        except ListeningError as err:
            raise gr.Error(str(err), print_exception=False) from None
        state = {"test": test.name, "listener": who, "trial": trial}
        return [state, *view(test, state["listener"], trial)]

    def submit(state: dict | None, *scores):
        if not state or state.get("trial") is None:
            raise gr.Error("Start a test first.", print_exception=False)
        test = open_test(state["test"])
        labels = ListeningTest.labels(len(test.conditions))
        try:
            test.record(state["listener"], state["trial"], dict(zip(labels, scores)))
            trial = test.next_trial(state["listener"])
        except ListeningError as err:
            raise gr.Error(str(err), print_exception=False) from None
        state = {**state, "trial": trial}
        return [state, *view(test, state["listener"], trial)]

    def show_results(name: str | None):
        test = open_test(name)
        csv_path = test.root / RATINGS
        return (f"**{test.name}**\n\n{test.summary_markdown()}",
                gr.update(value=str(csv_path), visible=True) if csv_path.exists() else gr.update(visible=False))

    trial_outputs = [trial_info, *rows, *players, *rates, submit_btn]
    tab.select(refresh, [test_name], [test_name], api_name=False)
    make_btn.click(make, [clips, picked, with_input, with_dnsmos], [made, test_name], api_name="listening_make")
    start_btn.click(start, [test_name, listener], [session, *trial_outputs], api_name="listening_start")
    submit_btn.click(submit, [session, *rates], [session, *trial_outputs], api_name="listening_submit")
    results_btn.click(show_results, [test_name], [results, ratings_file], api_name="listening_results")
