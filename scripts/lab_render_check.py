"""Open every tutorial notebook in a real JupyterLab, run all its cells there, and report what rendered.

Issue #9's check "every notebook opens and renders in JupyterLab with its widgets", done in
Debian's chromium driven by playwright (the same browser setup as the demo's browser test):

    GAPSE_QUICK=1 python scripts/lab_render_check.py --out /tmp/lab        # all notebooks
    python scripts/lab_render_check.py --out /tmp/lab 00_tour 07_fusion   # full mode, two of them

For each notebook it converts the jupytext ``.py`` to a (git-ignored) ``.ipynb`` beside it,
starts JupyterLab on ``notebooks/`` (no token, a private settings folder that turns cell
windowing off so every output is in the page), clicks Run > Run All Cells, waits until no cell
is queued or running, then counts in the page: code cells and their execution counts,
error outputs, rendered ipywidgets (and any "Error displaying widget"), plotly figures, audio
players and images; where there is an ``interactive`` widget it moves its first slider one step
with the keyboard and checks that the widget's output changes (the live kernel re-ran it).
It writes screenshots, scrolling through the notebook, to ``--out`` and prints one JSON line
per notebook. Exit status 1 when a notebook has an error output, a cell that never ran, a
widget that failed to render, or a slider whose move changed nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import jupytext

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

COUNT_JS = """() => {
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!nb) return {code_cells: 0, executed: 0, pending: 0, errors: [], widget_failures: 0, kernel: ''};
  const q = (s) => nb.querySelectorAll(s).length;
  const prompts = [...nb.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent.trim());
  const errs = [...nb.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
      .map(e => e.textContent).filter(t => /Traceback|Error/.test(t)).map(t => t.slice(0, 300));
  const body = nb.innerText;
  return {
    code_cells: q('.jp-CodeCell'),
    executed: prompts.filter(p => /\\[\\d+\\]/.test(p)).length,
    pending: prompts.filter(p => p.includes('*')).length,
    errors: errs,
    widgets: q('.jp-OutputArea-output .jupyter-widgets.widget-container, '
               + '.jp-OutputArea-output .widget-inline-hbox, .jp-OutputArea-output .widget-slider'),
    widget_failures: (body.match(/Error displaying widget|Loading widget\\.\\.\\./g) || []).length,
    plotly: q('.jp-OutputArea-output .js-plotly-plot, .jp-OutputArea-output .plot-container'),
    audio: q('.jp-OutputArea-output audio'),
    images: q('.jp-OutputArea-output img'),
    mime_types: [...new Set([...nb.querySelectorAll('.jp-OutputArea-output[data-mime-type]')]
        .map(e => e.getAttribute('data-mime-type')))].sort(),
    kernel: nb.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status') || '',
  };
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(port: int, settings: Path) -> subprocess.Popen:
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True, exist_ok=True)
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none", "scrollPastEnd": False}))
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True, exist_ok=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--IdentityProvider.token=",
           "--allow-root", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
           f"--ServerApp.root_dir={NOTEBOOKS}",
           f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={settings / 'ws'}"]
    lab = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2)
            return lab
        except OSError:
            time.sleep(1)
    lab.kill()
    raise SystemExit("JupyterLab did not start in 120 s")


def shutdown_kernels(port: int) -> None:
    """Stop every kernel through the server's REST API (each notebook starts with a fresh one)."""
    api = f"http://127.0.0.1:{port}/api/kernels"
    for kernel in json.load(urllib.request.urlopen(api, timeout=10)):
        urllib.request.urlopen(urllib.request.Request(f"{api}/{kernel['id']}", method="DELETE"), timeout=30)


def move_first_slider(page, timeout_s: float = 120) -> bool | None:
    """Press the right arrow key on the first slider of an ``interactive`` widget; True when the
    widget's output then changes (the kernel re-ran the function with the new value), None when
    the notebook shows no such widget (e.g. only progress bars)."""
    box = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .widget-interact").first
    if not box.count():
        return None
    output = box.locator(".widget-output")
    before = output.inner_text()
    box.locator(".noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        page.wait_for_timeout(1000)
        after = output.inner_text()
        if after and after != before:
            return True
    return False


def check(page, name: str, port: int, out: Path, timeout_s: float) -> dict:
    # a workspace of its own, reset: only this notebook is open
    page.goto(f"http://127.0.0.1:{port}/lab/workspaces/{name.replace('_', '-')}/tree/{name}.ipynb?reset")
    page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell", timeout=120_000)
    page.wait_for_timeout(3000)
    if page.locator(".jp-Dialog").count():  # "Select Kernel" for a notebook opened the first time
        page.locator(".jp-Dialog").get_by_role("button", name="Select", exact=True).click()
    page.wait_for_function("() => document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) "
                           ".jp-Notebook-ExecutionIndicator')"
                           "?.getAttribute('data-status') === 'idle'", timeout=120_000)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    start = time.time()
    page.wait_for_timeout(3000)
    while time.time() - start < timeout_s:
        c = page.evaluate(COUNT_JS)
        if c["pending"] == 0 and c["kernel"] == "idle":
            break
        page.wait_for_timeout(2000)
    page.wait_for_timeout(3000)  # let widget views and plotly finish drawing
    c = page.evaluate(COUNT_JS)
    c["notebook"], c["seconds"] = name, round(time.time() - start, 1)
    c["slider_moved_output"] = move_first_slider(page)
    scroller = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer"
    page.evaluate(f"() => document.querySelector('{scroller}').scrollTo(0, 0)")
    shots, k = [], 0
    while True:
        path = out / f"{name}.{k:02d}.png"
        page.screenshot(path=str(path))
        shots.append(path.name)
        done = page.evaluate(f"""() => {{ const e = document.querySelector('{scroller}');
            const before = e.scrollTop; e.scrollBy(0, e.clientHeight * 0.9); return e.scrollTop === before; }}""")
        k += 1
        if done or k >= 40:
            break
        page.wait_for_timeout(400)
    c["screenshots"] = len(shots)
    return c


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="notebook stems (default: every notebooks/NN_*.py)")
    ap.add_argument("--out", default="out/lab", help="folder for the screenshots")
    ap.add_argument("--timeout", type=float, default=900, help="seconds to wait for one notebook's cells")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    names = args.names or sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.py"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        jupytext.write(jupytext.read(NOTEBOOKS / f"{name}.py"), NOTEBOOKS / f"{name}.ipynb")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    port = free_port()
    failed = False
    with tempfile.TemporaryDirectory() as settings:
        lab = start_lab(port, Path(settings))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                for name in names:
                    c = check(page, name, port, out, args.timeout)
                    bad = (c["errors"] or c["executed"] < c["code_cells"] or c["widget_failures"]
                           or c["slider_moved_output"] is False)
                    failed |= bool(bad)
                    print(json.dumps(c), flush=True)
                    shutdown_kernels(port)
                browser.close()
        finally:
            lab.terminate()
            lab.wait(30)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
