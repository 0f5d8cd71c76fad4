"""Masked-prediction pretraining of the SSL encoder: features, k-means, masks, utterance mixing, a short run."""

import csv
from pathlib import Path

import numpy as np
import torch

from gapse_core.models.ssl import frames
from gapse_core.train import ssl_pretrain as S

ROOT = Path(__file__).resolve().parent.parent


def test_mfcc_frames_align_with_the_encoder_frames():
    t = torch.arange(16000) / 16000
    tone = torch.sin(2 * torch.pi * 300 * t)[None]
    f = S.mfcc_frames(tone)
    assert f.shape == (1, frames(16000), 39)
    assert f[0, :, 13:].abs().mean() < 0.05 * f[0, :, :13].abs().mean()  # a steady tone: deltas near zero


def test_kmeans_recovers_separated_clusters():
    g = torch.Generator().manual_seed(0)
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = torch.cat([c + 0.3 * torch.randn(200, 2, generator=g) for c in centers])
    found = S.kmeans(x, 3)
    d = torch.cdist(found, centers)
    assert d.min(1).values.max() < 0.2 and len(set(d.argmin(1).tolist())) == 3


def test_span_mask_fraction_and_spans():
    gen = torch.Generator().manual_seed(0)
    m = S.span_mask(64, 200, 0.08, 10, gen)
    frac = m.float().mean().item()
    assert 0.4 < frac < 0.65  # HuBERT's setting masks about half the frames
    empty = S.span_mask(4, 50, 0.0, 10, gen)
    assert empty.sum(1).tolist() == [10, 10, 10, 10]  # never an utterance without a masked span


def test_utterance_mixing_adds_a_quieter_or_louder_crop_of_another_utterance():
    rng = np.random.default_rng(0)
    wave = torch.stack([torch.zeros(16000), torch.ones(16000)])
    wave[0, :] = 0.1
    mixed = S.mix_utterances(wave, 1.0, rng)
    changed = (mixed[0] != wave[0]).sum().item()
    assert 1600 <= changed <= 8000  # between a tenth and half of the length


def test_the_encoder_can_fit_masked_targets_from_context():
    """Plumbing check: on one fixed batch of speech, masked-frame accuracy climbs far above the class prior."""
    from conftest import espeak

    torch.manual_seed(0)
    cfg = S.MaskedPredictionConfig(encoder=S.SSLConfig(hidden_size=48, num_layers=2, num_heads=2, intermediate_size=96,
                                                       conv_dim=48, conv_pos_kernel=8, conv_pos_groups=4), n_clusters=12)
    model = S.MaskedPrediction(cfg)
    texts = ["masked prediction learns from context", "the encoder hears the words around the gap",
             "clusters of cepstra are the first targets", "wavlm mixes utterances while it learns"]
    waves = [espeak(t)[:24000] for t in texts]
    waves = [np.pad(w, (0, 24000 - len(w))) for w in waves]
    model.fit_targets(waves)
    wave = torch.from_numpy(np.stack(waves))
    target = model.targets(wave)
    mask = S.span_mask(4, target.shape[1], 0.08, 5, torch.Generator().manual_seed(1))
    majority = torch.bincount(target[mask]).max().item() / mask.sum().item()
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    for _ in range(80):
        loss = torch.nn.functional.cross_entropy(model(wave, mask)[mask], target[mask])
        opt.zero_grad()
        loss.backward()
        opt.step()
    acc = (model(wave, mask).argmax(-1) == target)[mask].float().mean().item()
    assert acc > majority + 0.3, (acc, majority)


def test_short_pretraining_run_through_the_trainer(data_dir, tmp_path):
    from gapse_core.checkpoints import load_model
    from gapse_core.train.run import run

    out = tmp_path / "run"
    final = run("ssl_pretrain", ROOT / "configs" / "ssl_pretrain" / "tiny.yaml", out,
                {"data.path": str(data_dir), "trainer.steps": 40, "trainer.val_every": 20}, device="cpu")
    rows = list(csv.DictReader(open(out / "log.csv")))
    losses = [float(r["loss"]) for r in rows if r["loss"]]
    assert losses[-1] < losses[0]
    assert 0.0 <= final["acc_masked"] <= 1.0 and 0.0 < final["majority"] <= 1.0
    model, _ = load_model(out / "model.pt")
    enc_path = S.export_encoder(out / "model.pt", tmp_path / "ssl.pt")
    enc, _ = load_model(enc_path)
    wave = torch.randn(1, 16000)
    with torch.no_grad():
        torch.testing.assert_close(enc(wave).phonetic, model.encoder(wave).phonetic)
