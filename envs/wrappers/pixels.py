"""Pixel preprocessing for RL policies: grayscale, downsampling and frame stacking (channels last).

One implementation serves training (as wrappers inside each worker) and playing a trained policy (the
``ppo`` agent applies :func:`preprocess_pixels` and :class:`FrameStacker` to the raw screen itself), so the
policy always sees exactly the observations it was trained on.

>>> import numpy as np
>>> frame = np.zeros((144, 160, 3), np.uint8)
>>> preprocess_pixels(frame, grayscale=True, downsample=2).shape
(72, 80, 1)
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from longplay.envs.checks import check_downsample, check_flag, is_int
from longplay.envs.env import downsample_frame, grayscale_frame


def preprocess_pixels(frame: np.ndarray, grayscale: bool = True, downsample: int = 2) -> np.ndarray:
    """Grayscale (ITU-R 601 luma in integers, as ``LongplayEnv(grayscale=True)``) then block-mean downsample.

    Args:
        frame: ``uint8`` (H, W, C) screen.
        grayscale: Reduce RGB to one channel.
        downsample: Divide both sides by this factor (must divide H and W).
    """
    if grayscale and frame.shape[-1] == 3:
        frame = grayscale_frame(frame)
    check_downsample(downsample, frame.shape)
    return downsample_frame(frame, downsample) if downsample > 1 else frame


def preprocessed_shape(shape: tuple[int, ...], grayscale: bool, downsample: int) -> tuple[int, int, int]:
    """The shape :func:`preprocess_pixels` gives for a frame of ``shape`` (H, W, C)."""
    check_downsample(downsample, shape)
    h, w, c = shape
    return h // downsample, w // downsample, 1 if grayscale and c == 3 else c


class PixelPreprocess(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Applies :func:`preprocess_pixels` to a ``pixels`` observation (a bare Box or the ``pixels`` key)."""

    def __init__(self, env: gym.Env, grayscale: bool = True, downsample: int = 2) -> None:
        check_flag("grayscale", grayscale)
        gym.utils.RecordConstructorArgs.__init__(self, grayscale=grayscale, downsample=downsample)
        gym.ObservationWrapper.__init__(self, env)
        self.grayscale, self.downsample = grayscale, downsample
        self.observation_space = _map_pixels_space(
            env.observation_space,
            lambda s: spaces.Box(0, 255, preprocessed_shape(s.shape, grayscale, downsample), np.uint8))

    def observation(self, observation: Any) -> Any:
        """The preprocessed observation."""
        return _map_pixels(observation, lambda f: preprocess_pixels(f, self.grayscale, self.downsample))


class FrameStacker:
    """Keeps the last ``k`` frames and joins them along the channel axis (oldest first).

    At the start of an episode the first frame fills every slot.
    """

    def __init__(self, k: int) -> None:
        if not is_int(k) or k < 1:
            raise ValueError(f"invalid frame stack {k!r}; must be an integer >= 1")
        self.k = k
        self._stack: np.ndarray | None = None
        self._channels = 0

    def reset(self, frame: np.ndarray) -> np.ndarray:
        """Starts a new episode at ``frame``; returns the stacked observation."""
        self._channels = frame.shape[-1]
        self._stack = np.concatenate([frame] * self.k, axis=-1)
        return self._stack.copy()

    def push(self, frame: np.ndarray) -> np.ndarray:
        """Adds ``frame``; returns the stacked observation."""
        if self._stack is None:
            return self.reset(frame)
        c = self._channels
        self._stack[..., :-c] = self._stack[..., c:]
        self._stack[..., -c:] = frame
        return self._stack.copy()


class StackFrames(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Stacks the last ``k`` pixel observations along the channel axis (a bare Box or the ``pixels`` key)."""

    def __init__(self, env: gym.Env, k: int = 3) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, k=k)
        gym.Wrapper.__init__(self, env)
        self.stacker = FrameStacker(k)
        # The input's bounds and dtype, repeated along the channel axis (a float Box stays a float Box).
        self.observation_space = _map_pixels_space(
            env.observation_space,
            lambda s: spaces.Box(np.concatenate([s.low] * k, axis=-1), np.concatenate([s.high] * k, axis=-1),
                                 dtype=s.dtype))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        """Resets the env and fills the stack with the first frame."""
        obs, info = self.env.reset(seed=seed, options=options)
        return _map_pixels(obs, self.stacker.reset), info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """Steps the env and pushes the new frame."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        return _map_pixels(obs, self.stacker.push), reward, terminated, truncated, info


def _map_pixels_space(space: spaces.Space, fn: Any) -> spaces.Space:
    if isinstance(space, spaces.Dict):
        if "pixels" not in space.spaces:
            raise ValueError("pixel wrappers need a 'pixels' observation")
        return spaces.Dict({k: fn(v) if k == "pixels" else v for k, v in space.spaces.items()})
    if not isinstance(space, spaces.Box) or len(space.shape) != 3:
        raise ValueError(f"pixel wrappers need an (H, W, C) Box observation; got {space}")
    return fn(space)


def _map_pixels(obs: Any, fn: Any) -> Any:
    if isinstance(obs, dict):
        return {k: fn(v) if k == "pixels" else v for k, v in obs.items()}
    return fn(obs)
