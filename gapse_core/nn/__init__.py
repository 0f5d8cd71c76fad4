"""Shared neural building blocks; each lives here once and is reused by every branch."""

from .norms import HeadLayerNorm
from .tfgridnet import TFGridNet, TFGridNetBlock, TFGridNetConfig

__all__ = ["TFGridNet", "TFGridNetBlock", "TFGridNetConfig"]
