import pytest
import torch

from gapse_core.models.predictor import Predictor, PredictorConfig
from gapse_core.nn.tfgridnet import TFGridNetConfig


@pytest.mark.parametrize("output,passes_input", [("mask", True), ("mapping", False)])
def test_only_the_mask_output_starts_as_identity(output, passes_input):
    torch.manual_seed(0)
    cfg = PredictorConfig(output=output, net=TFGridNetConfig(emb_dim=8, lstm_hidden=8, n_layers=1))
    model = Predictor(cfg).eval()
    x = torch.randn(1, 16000)
    with torch.no_grad():
        similarity = torch.nn.functional.cosine_similarity(x, model(x, 16000)).item()
    # the untrained mask model passes its input through (up to small random head weights);
    # the mapping model starts from an unrelated spectrum
    assert (similarity > 0.9) if passes_input else (abs(similarity) < 0.5)


def test_unknown_output_is_refused():
    with pytest.raises(ValueError, match="output must be"):
        Predictor(PredictorConfig(output="residual"))
