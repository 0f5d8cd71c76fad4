"""Data: corpora with speaker splits, URGENT-style distortions, on-the-fly mixing, evaluation sets."""
