"""Shared neural building blocks; each lives here once and is reused by every branch."""

from .norms import HeadLayerNorm
from .tfgridnet import TFGridNet, TFGridNetBlock, TFGridNetConfig
from .vocos import ConvNeXtBlock, ISTFTHead, VocosBackbone, VocosConfig

__all__ = ["HeadLayerNorm", "TFGridNet", "TFGridNetBlock", "TFGridNetConfig", "ConvNeXtBlock", "ISTFTHead",
           "VocosBackbone", "VocosConfig"]
