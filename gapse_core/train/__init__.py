"""Training: ``trainer.py`` holds the loop; one module per stage holds its data and loss wiring."""

STAGES = {"predictor": "gapse_core.train.predictor", "ssl_pretrain": "gapse_core.train.ssl_pretrain"}
