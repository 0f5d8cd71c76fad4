import numpy as np
import pytest

from gapse_core.data.degrade import active_rms, rms
from gapse_core.data.playground import Degradation, degrade
from gapse_core.metrics import si_sdr


def test_noise_only_hits_the_snr(speech16k):
    noisy, target = degrade(speech16k, 16000, Degradation(noise="white", snr_db=10.0))
    np.testing.assert_allclose(target / np.max(np.abs(target)), speech16k / np.max(np.abs(speech16k)), atol=1e-5)
    scale = np.max(np.abs(target)) / np.max(np.abs(speech16k))
    noise = noisy - target
    assert 20 * np.log10(active_rms(target, 16000) / rms(noise)) == pytest.approx(10.0, abs=0.05)
    assert scale <= 1.0


def test_everything_on_degrades_more_than_noise_alone(speech16k):
    light = degrade(speech16k, 16000, Degradation(noise="pink", snr_db=20.0))
    heavy = degrade(speech16k, 16000, Degradation(noise="pink", snr_db=20.0, rt60=0.6, band_limit_hz=2000,
                                                  clip_fraction=0.1, codec="mp3", codec_quality=0.9,
                                                  packet_loss=0.2))
    assert si_sdr(heavy[0], heavy[1]) < si_sdr(light[0], light[1]) - 5
    assert np.max(np.abs(heavy[0])) <= 0.9 + 1e-6


def test_unknown_choices_are_refused(speech16k):
    with pytest.raises(ValueError, match="unknown noise"):
        degrade(speech16k, 16000, Degradation(noise="jackhammer"))
