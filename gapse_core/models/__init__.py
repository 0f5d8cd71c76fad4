"""One module per paper component, built from the shared blocks in ``gapse_core.nn``."""

from .predictor import Predictor, PredictorConfig
from .ssl import SSLConfig, SSLEncoder

__all__ = ["Predictor", "PredictorConfig", "SSLConfig", "SSLEncoder"]
