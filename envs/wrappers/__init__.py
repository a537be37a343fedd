"""Opt-in wrappers for longplay envs, split by concern.

* :mod:`longplay.envs.wrappers.shaping`: dense reward shaping terms (novelty, levels, healing, events,
  badges), each logged apart from the milestone reward. The env's own reward stays sparse.
* :mod:`longplay.envs.wrappers.pixels`: grayscale, downsampling and frame stacking for pixel policies.
* :mod:`longplay.envs.wrappers.buttons`: the policy presses a subset of the buttons.
* :mod:`longplay.envs.wrappers.stagger`: the first episode ends after a random number of steps, so the envs
  of a vector do not stay in lockstep.
* :mod:`longplay.envs.wrappers.start`: every episode starts from one save state (vector envs reset without
  options).

Like Gymnasium's own wrappers, each records its arguments in ``env.spec``: ``gym.make(env.spec)`` rebuilds the
whole stack and ``check_env`` can check a wrapped env with its render check. One exception by design: shaping with
``novelty_decay`` or ``map_decay`` (the ``quest`` preset) keeps its visit counts across resets, so one env pays a
second episode of the same seed less than the first, and ``check_env``'s same-seed step check fails on a step
that reaches a tile the first episode reached (it does on ``TestCart-v0``); a fresh env pays the same.
"""

from longplay.envs.wrappers.buttons import BUTTON_IDS, ButtonSubset, parse_buttons
from longplay.envs.wrappers.pixels import FrameStacker, PixelPreprocess, StackFrames, preprocess_pixels
from longplay.envs.wrappers.shaping import PRESETS, RewardShaping, ShapingWeights, parse_shaping
from longplay.envs.wrappers.stagger import StaggerFirstEpisode
from longplay.envs.wrappers.start import StartFromState

__all__ = [
    "BUTTON_IDS", "PRESETS", "ButtonSubset", "FrameStacker", "PixelPreprocess", "RewardShaping", "ShapingWeights",
    "StackFrames", "StaggerFirstEpisode", "StartFromState", "parse_buttons", "parse_shaping", "preprocess_pixels",
]
