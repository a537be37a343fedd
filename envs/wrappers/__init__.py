"""Opt-in wrappers for longplay envs, split by concern.

* :mod:`longplay.envs.wrappers.shaping`: dense reward shaping terms (novelty, levels, healing, events,
  badges), each logged apart from the milestone reward. The env's own reward stays sparse.
* :mod:`longplay.envs.wrappers.pixels`: grayscale, downsampling and frame stacking for pixel policies.
"""

from longplay.envs.wrappers.pixels import FrameStacker, PixelPreprocess, StackFrames, preprocess_pixels
from longplay.envs.wrappers.shaping import PRESETS, RewardShaping, ShapingWeights, parse_shaping

__all__ = [
    "PRESETS", "FrameStacker", "PixelPreprocess", "RewardShaping", "ShapingWeights", "StackFrames",
    "parse_shaping", "preprocess_pixels",
]
