"""What an SSL encoder's layers encode: speaker identity versus spoken content, layer by layer.

Two probes on the hidden states of every layer (CNN projection = layer 0, then each
transformer layer), each frame layer-normed:

* **speaker**: utterances of several speakers are mean-pooled over time; leave-one-out
  nearest-centroid classification (cosine) gives the speaker accuracy of each layer.
* **content**: the same sentences spoken by several voices; frames are aligned by DTW
  (cosine distance) and the mean aligned distance is compared between pairs that share the
  text but not the voice and pairs that share the voice but not the text. ``content_ratio`` =
  d(other text, same voice) / d(same text, other voice): above 1 the layer groups frames by
  what is said more than by who says it.

WavLM's published analyses find speaker information peaking in the lower layers and content
in the upper ones; these probes let gapse check its own small encoders the same way.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class LayerProbe:
    layer: int
    speaker_accuracy: float
    content_ratio: float
    d_same_text: float  # mean DTW-aligned cosine distance, same sentence, other voice
    d_same_voice: float  # same voice, other sentence


@torch.no_grad()
def layer_states(encoder, wave: np.ndarray) -> list[np.ndarray]:
    """Every layer's layer-normed frames ``[T, D]`` for a 16 kHz utterance ``[n]``."""
    hidden = encoder(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None]).hidden
    return [F.layer_norm(h[0], (h.shape[-1],)).numpy() for h in hidden]


def speaker_accuracy(pooled: np.ndarray, speakers: list[str]) -> float:
    """Leave-one-out nearest-centroid (cosine) accuracy of ``pooled [N, D]`` utterance vectors."""
    x = pooled / (np.linalg.norm(pooled, axis=1, keepdims=True) + 1e-9)
    labels = np.asarray(speakers)
    hits = 0
    for i in range(len(x)):
        keep = np.arange(len(x)) != i
        names = sorted(set(labels[keep]))
        cent = np.stack([x[keep & (labels == s)].mean(0) for s in names])
        cent /= np.linalg.norm(cent, axis=1, keepdims=True) + 1e-9
        hits += names[int(np.argmax(cent @ x[i]))] == labels[i]
    return hits / len(x)


def dtw_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean cosine distance along the DTW path between ``a [Ta, D]`` and ``b [Tb, D]``."""
    import librosa

    an = a / (np.linalg.norm(a, axis=1, keepdims=True) + 1e-9)
    bn = b / (np.linalg.norm(b, axis=1, keepdims=True) + 1e-9)
    cost = 1.0 - an @ bn.T
    _, path = librosa.sequence.dtw(C=cost)
    return float(cost[path[:, 0], path[:, 1]].mean())


def probe_layers(encoder, speaker_utterances: list[tuple[str, np.ndarray]],
                 parallel: dict[tuple[str, str], np.ndarray]) -> list[LayerProbe]:
    """Run both probes.

    Args:
        encoder: an :class:`~gapse_core.models.ssl.SSLEncoder` (eval mode).
        speaker_utterances: ``(speaker, wave [n] @ 16 kHz)``, several per speaker.
        parallel: ``(voice, text) -> wave``: every voice speaking every text.
    """
    spk_states = [layer_states(encoder, w) for _, w in speaker_utterances]
    n_layers = len(spk_states[0])
    speakers = [s for s, _ in speaker_utterances]
    par_states = {k: layer_states(encoder, w) for k, w in parallel.items()}
    voices = sorted({v for v, _ in parallel})
    texts = sorted({t for _, t in parallel})
    out = []
    for layer in range(n_layers):
        pooled = np.stack([s[layer].mean(0) for s in spk_states])
        same_text = [dtw_distance(par_states[(v1, t)][layer], par_states[(v2, t)][layer])
                     for t in texts for v1, v2 in itertools.combinations(voices, 2)]
        same_voice = [dtw_distance(par_states[(v, t1)][layer], par_states[(v, t2)][layer])
                      for v in voices for t1, t2 in itertools.combinations(texts, 2)]
        d_t, d_v = float(np.mean(same_text)), float(np.mean(same_voice))
        out.append(LayerProbe(layer, speaker_accuracy(pooled, speakers), d_v / d_t, d_t, d_v))
    return out
