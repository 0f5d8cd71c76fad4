"""Plotly figures of an :class:`~gapse_core.systems.EnhancementResult`, shared by the demo and notebooks.

Spectrograms of the input, every branch, the final output (and the clean reference when one
exists) are drawn one above the other with linked time and frequency axes, so zooming one
zooms all. Systems with mask fusion add the mask M as a heatmap on the same axes; systems with
a generative and a predictive branch add where the two disagree (a simple hallucination map).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from gapse_core.audio.spectrogram import log_spectrogram, pool
from gapse_core.audio.stft import SFISTFT
from gapse_core.systems import EnhancementResult

def panels_of(result: EnhancementResult, reference: np.ndarray | None = None) -> list[tuple[str, np.ndarray]]:
    """The signals to draw, in order: input, branches (when they differ from the final), final, reference."""
    out = [("Input", result.input)]
    out += [(f"{name.capitalize()} branch", y) for name, y in result.distinct_branches().items()]
    if result.fused is not None and not np.array_equal(result.fused, result.final):
        out.append(("Fused", result.fused))
    out.append((f"Final ({result.system})", result.final))
    if reference is not None:
        out.append(("Clean reference", reference))
    return out


def spectrogram_figure(result: EnhancementResult, reference: np.ndarray | None = None) -> go.Figure:
    """All spectrograms (+ mask, + disagreement map) with shared, linked axes."""
    panels = [(name, *log_spectrogram(w, result.fs)) for name, w in panels_of(result, reference)]
    extra: list[tuple[str, np.ndarray, str]] = []
    if result.mask is not None:
        mask = result.mask.astype(np.float32)
        n_bins = SFISTFT(32.0, 16.0).n_bins(result.fs)
        if mask.shape[0] < n_bins:  # an input above 48 kHz, fused at 48 kHz: no mask above 24 kHz (drawn blank)
            mask = np.pad(mask, ((0, n_bins - mask.shape[0]), (0, 0)), constant_values=np.nan)
        # pooled like the spectrograms (same number of bins), so its rows lie on their frequencies
        extra.append(("Fusion mask M (1 = predictive, 0 = generative)", pool(mask, "avg"), "Viridis"))
    top = max(float(np.max(p[3])) for p in panels)
    if "generative" in result.branches and "predictive" in result.branches:
        g = log_spectrogram(result.branches["generative"], result.fs)[2]
        p = log_spectrogram(result.branches["predictive"], result.fs)[2]
        # only where either branch is within the spectrograms' 80 dB of display range: two near-silent
        # bins differ by many dB of nothing, which would paint silence as disagreement
        departs = np.where(np.maximum(g, p) > top - 80, np.abs(g - p), 0.0)
        extra.append(("Where generative departs from predictive (|dB difference|)", departs, "Reds"))
    rows = len(panels) + len(extra)
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        subplot_titles=[p[0] for p in panels] + [e[0] for e in extra])
    times, freqs = panels[0][1], panels[0][2]
    for i, (name, t, f, db) in enumerate(panels, start=1):
        fig.add_trace(go.Heatmap(x=t, y=f, z=db, zmin=top - 80, zmax=top, colorscale="Magma", showscale=i == 1,
                                 colorbar=dict(title="dB", len=0.3, y=1.0, yanchor="top"),
                                 hovertemplate="%{x:.2f} s, %{y:.0f} Hz: %{z:.1f} dB<extra>" + name + "</extra>"),
                      row=i, col=1)
    for j, (name, z, scale) in enumerate(extra, start=len(panels) + 1):
        fig.add_trace(go.Heatmap(x=times[: z.shape[1]], y=freqs[: z.shape[0]], z=z, colorscale=scale, showscale=False,
                                 hovertemplate="%{x:.2f} s, %{y:.0f} Hz: %{z:.2f}<extra>" + name + "</extra>"),
                      row=j, col=1)
    fig.update_yaxes(title_text="Hz", matches="y")  # one frequency axis for all rows (zoom one, zoom all)
    fig.update_xaxes(title_text="time (s)", row=rows, col=1)
    fig.update_layout(height=190 * rows + 60, margin=dict(l=60, r=20, t=40, b=40), template="plotly_white")
    return fig
