"""Audio foundation: file I/O with clear errors, resampling, the SFI STFT, chunked processing."""

from .chunking import process_in_chunks
from .io import MAX_INPUT_RATE, MAX_RATE, MIN_RATE, AudioError, load, save
from .resample import resample
from .stft import SFISTFT

__all__ = ["AudioError", "load", "save", "resample", "SFISTFT", "process_in_chunks", "MIN_RATE", "MAX_RATE",
           "MAX_INPUT_RATE"]
