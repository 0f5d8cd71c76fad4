"""Training: ``trainer.py`` holds the loop; one module per stage holds its data and loss wiring."""

STAGES = {
    "predictor": "gapse_core.train.predictor",  # predictive branch (TF-GridNet)
    "ssl_pretrain": "gapse_core.train.ssl_pretrain",  # generative branch 1: the SSL teacher
    "vocoder": "gapse_core.train.vocoder",  # 2a: teacher acoustic representations -> clean speech
    "dewavlm": "gapse_core.train.dewavlm",  # 2b: DeWavLM-Omni distillation (student sees degraded speech)
    "adapter": "gapse_core.train.adapter",  # 3: enhanced phonetic + noisy acoustic -> enhanced acoustic
    "codec": "gapse_core.train.codec",  # token branches: the speech codec (group or residual VQ)
    "paragse": "gapse_core.train.paragse",  # ParaGSE: clean tokens of a frozen group-VQ codec, in parallel
    "paragse_decoder": "gapse_core.train.paragse_decoder",  # the codec's decoder adapted to ParaGSE's tokens
    "hybrid": "gapse_core.train.hybrid",  # hybrid generative branch: SSL-prefixed token LM + DPRNN mask
    "quality": "gapse_core.train.quality",  # learned DNSMOS imitation (the fusion's SQA loss, and a metric)
    "fusion": "gapse_core.train.fusion",  # mask fusion of a frozen predictive and a frozen generative branch
    "postnet": "gapse_core.train.postnet",  # GAP-URGENet's 48 kHz PostNet over the two frozen branches
}
