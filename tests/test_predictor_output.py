import torch

from gapse_core.models.predictor import Predictor, PredictorConfig
from gapse_core.nn.tfgridnet import TFGridNetConfig


def test_mask_output_starts_close_to_identity():
    torch.manual_seed(0)
    model = Predictor(PredictorConfig(output="mask", net=TFGridNetConfig(emb_dim=8, lstm_hidden=8, n_layers=1))).eval()
    x = torch.randn(1, 16000)
    with torch.no_grad():
        y = model(x, 16000)
    # the untrained mask model passes its input through (up to the small random head weights)
    assert torch.nn.functional.cosine_similarity(x, y).item() > 0.9


def test_mapping_output_starts_far_from_identity():
    torch.manual_seed(0)
    model = Predictor(PredictorConfig(output="mapping", net=TFGridNetConfig(emb_dim=8, lstm_hidden=8, n_layers=1))).eval()
    x = torch.randn(1, 16000)
    with torch.no_grad():
        y = model(x, 16000)
    assert abs(torch.nn.functional.cosine_similarity(x, y).item()) < 0.5
