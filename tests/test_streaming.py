"""A file of any length, block by block (``gapse_core.streaming``): the same enhancement as one call,
one level for the whole file, no partial output when a later block is bad."""

import numpy as np
import pytest
import soundfile as sf

from gapse_core.audio.chunking import Stitcher, chunk_spans
from gapse_core.audio.io import AudioError, load, open_writer
from gapse_core.streaming import enhance_to_files
from gapse_core.systems import PEAK, Enhancer


def overlap_add(spans, outputs, n):
    """The stitched result written into one array: each chunk cross-fades what is already there."""
    out, done = np.zeros(n, np.float32), 0
    for (start, end), y in zip(spans, outputs):
        shared = done - start
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(shared) + 0.5) / shared)
        out[start:done] = out[start:done] * (1 - ramp) + y[:shared] * ramp
        out[done:end] = y[shared:]
        done = end
    return out


def test_the_stitchers_pieces_are_the_whole_cross_faded_signal(rng):
    for _ in range(200):
        chunk = int(rng.integers(50, 3000))
        overlap = int(rng.integers(1, chunk // 2))
        align = int(rng.integers(1, max(2, (chunk - overlap) // 2)))
        n = int(rng.integers(chunk + 1, 20 * chunk))
        spans = chunk_spans(n, chunk, overlap, align)
        outputs = [rng.standard_normal(e - s).astype(np.float32) for s, e in spans]
        stitcher = Stitcher(spans)
        pieces = [stitcher.add(y) for y in outputs]
        # each piece is final when returned: it ends where the next chunk starts
        assert [sum(map(len, pieces[: k + 1])) for k in range(len(spans) - 1)] == [s for s, _ in spans[1:]]
        np.testing.assert_array_equal(np.concatenate(pieces), overlap_add(spans, outputs, n))


@pytest.fixture(scope="module")
def long_noisy(speech16k, tmp_path_factory):
    """18 s of espeak speech (repeated, at three levels) in noise, as a float wav; and its clean speech."""
    rng = np.random.default_rng(5)
    clean = np.concatenate([g * speech16k for g in (1.0, 0.5, 1.5)] * 2)[: 18 * 16000].astype(np.float32)
    noisy = clean + 0.03 * rng.standard_normal(len(clean)).astype(np.float32)
    path = tmp_path_factory.mktemp("long") / "talk.wav"
    sf.write(path, noisy, 16000, subtype="FLOAT")
    return path, noisy, clean


def si_sdr(est, ref):
    t = np.dot(est, ref) / np.dot(ref, ref) * ref
    return 10 * np.log10(np.sum(t**2) / np.sum((est - t) ** 2))


def test_a_file_longer_than_a_block_is_enhanced_as_well_as_in_one_call(long_noisy, tmp_path):
    path, noisy, clean = long_noisy
    enh = Enhancer("predictive")  # the shipped model: a random one would make the comparison meaningless
    whole = enh.enhance(noisy, 16000).final
    targets = {"final": tmp_path / "talk.flac", "predictive": tmp_path / "talk.predictive.wav"}
    calls = []
    assert enhance_to_files(enh, path, targets, progress=lambda *c: calls.append(c), block_seconds=5.0) == (
        len(noisy), 16000)
    # one bar over the whole file: chunks counted across the blocks, ending at its total
    done = [d for _, d, _ in calls]
    assert done == list(range(1, len(calls) + 1)) and calls[-1][1] == calls[-1][2]
    blocks = len(chunk_spans(len(noisy), 5 * 16000, 16000, 320))  # 5 s blocks, 1 s overlap, 20 ms grid
    assert blocks == 5 and calls[0][0] == "predictive, block 1/5" and calls[-1][0] == "predictive, block 5/5"
    blocks = sf.read(targets["final"], dtype="float32")[0]
    assert len(blocks) == len(noisy) and sf.info(targets["predictive"]).frames == len(noisy)
    assert si_sdr(whole, clean) > si_sdr(noisy, clean) + 6
    assert abs(si_sdr(blocks, clean) - si_sdr(whole, clean)) < 0.5
    # one block (the file is shorter): exactly the single call, written as float wav
    enhance_to_files(enh, path, {"final": tmp_path / "one.wav"}, block_seconds=60.0)
    np.testing.assert_array_equal(sf.read(tmp_path / "one.wav", dtype="float32")[0], whole)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.wav", "talk.flac", "talk.predictive.wav"]


def test_a_loud_file_is_scaled_down_as_a_whole_not_block_by_block(long_noisy, tmp_path):
    """A float recording far above full scale only in its last seconds: every block's output keeps its
    level relative to the others, and the whole is scaled to the peak limit once."""
    _, noisy, _ = long_noisy
    loud = noisy.copy()
    loud[-3 * 16000:] *= 20.0  # peak about 10
    sf.write(tmp_path / "loud.wav", loud, 16000, subtype="FLOAT")
    enh = Enhancer("predictive")
    whole = enh.enhance(loud, 16000).final  # scaled down as a whole
    enhance_to_files(enh, tmp_path / "loud.wav", {"final": tmp_path / "out.wav"}, block_seconds=5.0)
    y = sf.read(tmp_path / "out.wav", dtype="float32")[0]
    assert np.max(np.abs(y)) == pytest.approx(PEAK, abs=1e-4)
    first = slice(0, 4 * 16000)  # the first block, far from the loud end
    level = np.sqrt(np.mean(y[first] ** 2) / np.mean(whole[first] ** 2))
    assert 0.9 < level < 1.1, level  # a block-by-block limit would leave this block 10x louder


def test_bad_samples_in_a_later_block_leave_no_output(long_noisy, tiny_checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("GAPSE_CHECKPOINTS", str(tiny_checkpoint.parent))
    _, noisy, _ = long_noisy
    bad = noisy.copy()
    bad[15 * 16000] = np.nan
    sf.write(tmp_path / "bad.wav", bad, 16000, subtype="FLOAT")
    out = tmp_path / "out"
    with pytest.raises(AudioError, match="NaN"):
        enhance_to_files(Enhancer("predictive"), tmp_path / "bad.wav",
                     {"final": out / "bad.wav", "predictive": out / "bad.predictive.wav"}, block_seconds=5.0)
    assert list(out.iterdir()) == []  # neither a target nor a temporary file


def test_a_wav_too_large_for_a_riff_header_is_written_as_rf64(tmp_path):
    with open_writer(tmp_path / "big.wav", 48000, frames=2**30) as write:  # 4 GiB of float samples
        write(np.zeros(480, np.float32))
    assert sf.info(tmp_path / "big.wav").format == "RF64"
    with open_writer(tmp_path / "small.wav", 48000, frames=480) as write:
        write(np.zeros(480, np.float32))
    assert sf.info(tmp_path / "small.wav").format == "WAV"


def test_a_cut_off_mp3_is_enhanced_up_to_where_its_audio_ends(long_noisy, tiny_checkpoint, tmp_path, monkeypatch):
    """An mp3 whose download broke off: its header promises 18 s, its frames hold about 11; the
    blocks stop where the audio does, as reading it whole does, instead of failing."""
    monkeypatch.setenv("GAPSE_CHECKPOINTS", str(tiny_checkpoint.parent))
    _, noisy, _ = long_noisy
    src = tmp_path / "cut.mp3"
    sf.write(src, noisy, 16000)
    src.write_bytes(src.read_bytes()[: int(0.6 * src.stat().st_size)])
    there = len(load(src)[0])
    assert sf.info(src).frames == len(noisy) and 0.5 * len(noisy) < there < 0.7 * len(noisy)
    targets = {"final": tmp_path / "out" / "cut.wav", "predictive": tmp_path / "out" / "cut.predictive.wav"}
    assert enhance_to_files(Enhancer("predictive"), src, targets, block_seconds=4.0) == (there, 16000)
    assert [sf.info(t).frames for t in targets.values()] == [there, there]
