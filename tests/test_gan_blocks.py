import pytest
import torch

from gapse_core.losses import (discriminator_loss, feature_matching_loss, generator_adversarial_loss,
                               multi_resolution_stft_loss, multi_scale_mel_loss, phase_derivative_loss)
from gapse_core.nn.discriminators import MultiPeriodDiscriminator, MultiResolutionSTFTDiscriminator


@pytest.mark.parametrize("disc", [MultiPeriodDiscriminator(channels=4), MultiResolutionSTFTDiscriminator(channels=4)])
def test_discriminators_score_every_sub_band_and_give_features(disc):
    x = torch.randn(2, 4001)
    logits, feats = disc(x)
    assert len(logits) == len(feats) == len(disc.discs)
    assert all(l.shape[0] == 2 for l in logits) and all(len(f) == 6 for f in feats)


def test_gan_losses_have_the_right_optimum():
    ones, zeros = [torch.ones(3, 5)], [torch.zeros(3, 5)]
    assert discriminator_loss(ones, zeros).item() == 0.0  # perfect discriminator (LSGAN: real 1, fake 0)
    assert generator_adversarial_loss(ones).item() == 0.0
    assert discriminator_loss(ones, [-torch.ones(3, 5)], "hinge").item() == 0.0
    feats = [[torch.randn(2, 3), torch.randn(2, 4)]]
    assert feature_matching_loss(feats, feats).item() == 0.0


def test_mel_loss_is_zero_for_identical_and_grows_with_distortion():
    torch.manual_seed(0)
    x = torch.randn(1, 16000)
    assert multi_scale_mel_loss(x, x, 16000).item() == pytest.approx(0.0, abs=1e-6)
    small = multi_scale_mel_loss(x + 0.01 * torch.randn_like(x), x, 16000)
    big = multi_scale_mel_loss(x + 1.0 * torch.randn_like(x), x, 16000)
    assert 0 < small < big


def test_mrstft_loss_ranks_distortions_and_survives_a_silent_reference_in_the_batch():
    torch.manual_seed(0)
    x = torch.randn(3, 16000) * 0.1
    assert multi_resolution_stft_loss(x, x).item() == pytest.approx(0.0, abs=1e-6)
    small = multi_resolution_stft_loss(x + 0.01 * torch.randn_like(x), x)
    big = multi_resolution_stft_loss(x + 0.1 * torch.randn_like(x), x)
    assert 0 < small < big
    ref = x.clone()
    ref[1] = 0  # a crop with no speech in it: the per-example spectral convergence would be ~1e8
    est = x + 0.01 * torch.randn_like(x)
    assert multi_resolution_stft_loss(est, ref).item() < 20.0


def test_mrstft_log_magnitude_half_prefers_other_quiet_noise_to_a_clean_hole():
    """A loud tone over quiet noise: removing the noise leaves a hole that the log-magnitude
    half punishes (every bin counts alike), while other noise three times louder pleases it,
    though it is further from the reference. Without that half (``log_weight=0``) the order
    flips."""
    torch.manual_seed(0)
    t = torch.arange(16000) / 16000
    tone = torch.sin(2 * torch.pi * 440 * t)[None]
    ref = tone + 1e-3 * torch.randn(1, 16000)
    hole, other_noise = tone, tone + 3e-3 * torch.randn(1, 16000)
    assert multi_resolution_stft_loss(other_noise, ref) < multi_resolution_stft_loss(hole, ref)
    assert (multi_resolution_stft_loss(hole, ref, log_weight=0)
            < multi_resolution_stft_loss(other_noise, ref, log_weight=0))
    full, sc = multi_resolution_stft_loss(hole, ref), multi_resolution_stft_loss(hole, ref, log_weight=0)
    assert multi_resolution_stft_loss(hole, ref, log_weight=0.5).item() == pytest.approx(
        (sc + 0.5 * (full - sc)).item(), rel=1e-5)


def test_phase_derivative_loss_ignores_a_shift_punishes_a_scrambled_phase_and_keeps_finite_gradients():
    torch.manual_seed(0)
    t = torch.arange(16000) / 16000
    x = sum(torch.sin(2 * torch.pi * f * t + p) / k for k, (f, p) in enumerate([(200, 0.3), (400, 1.0), (600, 2.0)], 1))
    x = (x * (1 + 0.5 * torch.sin(2 * torch.pi * 3 * t)))[None]  # a harmonic, amplitude-modulated tone [1, n]
    gd, inst = phase_derivative_loss(x, x)
    assert gd.item() == pytest.approx(0.0, abs=1e-5) and inst.item() == pytest.approx(0.0, abs=1e-5)
    # a 5-sample delay changes every absolute phase but hardly the derivatives
    gd_shift, if_shift = phase_derivative_loss(torch.roll(x, 5, dims=1), x)
    # the same magnitudes with random phases (what a mel loss alone allows)
    spec = torch.stft(x, 512, 128, window=torch.hann_window(512), return_complex=True)
    scrambled = torch.istft(spec.abs() * torch.exp(2j * torch.pi * torch.rand(spec.shape)), 512, 128,
                            window=torch.hann_window(512), length=x.shape[1])
    gd_rand, if_rand = phase_derivative_loss(scrambled, x)
    assert gd_shift < 0.15 and if_shift < 0.15
    assert gd_rand > 0.5 and if_rand > 0.5
    est = scrambled.clone()
    est[:, 4000:8000] = 0  # bins the estimate has silenced: the phase's gradient 1/|est| must not blow up
    est.requires_grad_(True)
    sum(phase_derivative_loss(est, x)).backward()
    assert torch.isfinite(est.grad).all() and est.grad.abs().max() < 1e3


def test_vocoder_and_codec_share_the_resynthesis_loss_and_add_phase_terms_only_when_weighted():
    from gapse_core.train.codec import CodecStage, CodecStageConfig
    from gapse_core.train.vocoder import VocoderStage, VocoderStageConfig

    torch.manual_seed(0)
    t = torch.arange(8000) / 16000
    real = (torch.sin(2 * torch.pi * 220 * t) + 0.5 * torch.sin(2 * torch.pi * 660 * t + 1.0))[None]
    fake = real + 0.3 * torch.randn_like(real)
    for stage in (VocoderStage(VocoderStageConfig()), CodecStage(CodecStageConfig())):
        stage.cfg.loss.w_phase = 0.0
        base, logs = stage.resynthesis_loss(fake, real, 16000)
        assert "gd" not in logs and base.item() == pytest.approx(45.0 * logs["mel"], rel=1e-5)
        stage.cfg.loss.w_phase = 2.0
        loss, logs = stage.resynthesis_loss(fake, real, 16000)
        assert logs["gd"] > 0.05 and logs["inst_freq"] > 0.05  # the noise moved the phase
        assert loss.item() == pytest.approx(base.item() + 2.0 * (logs["gd"] + logs["inst_freq"]), rel=1e-5)
        stage.cfg.loss.w_phase, stage.cfg.loss.w_stft = 0.0, 3.0
        with_stft, logs = stage.resynthesis_loss(fake, real, 16000)
        assert logs["stft"] == pytest.approx(multi_resolution_stft_loss(fake, real, (512, 1024, 2048)).item(), rel=1e-6)
        assert logs["stft"] > 0.1 and with_stft.item() == pytest.approx(base.item() + 3.0 * logs["stft"], rel=1e-5)
        stage.cfg.loss.w_phase, stage.cfg.loss.w_stft = 2.0, 0.0
    commit = torch.tensor(0.25)  # the codec adds its commitment term on top
    total, logs = stage.reconstruction({"fake": fake, "real": real, "commit": commit})
    assert total.item() == pytest.approx(loss.item() + 0.25, rel=1e-5) and logs["commit"] == 0.25
