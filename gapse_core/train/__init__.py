"""Training: ``trainer.py`` holds the loop; one module per stage holds its data and loss wiring."""

STAGES = {"predictor": "gapse_core.train.predictor"}
