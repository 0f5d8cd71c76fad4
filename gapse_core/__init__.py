"""gapse_core: generative-and-predictive speech enhancement.

The one data flow (see README "Architecture"):
audio.io.load -> systems.Enhancer(system) -> branches -> fusion/postnet -> EnhancementResult.
"""

__version__ = "0.1.0"
