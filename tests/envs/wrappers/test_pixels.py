"""Pixel preprocessing: the same arithmetic as the env's own grayscale/downsample, and frame stacking."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from gymnasium import spaces

from longplay.envs.env import LongplayEnv
from longplay.envs.game import GameState, Milestone, Mode
from longplay.envs.wrappers.pixels import FrameStacker, PixelPreprocess, StackFrames, preprocess_pixels


class NoiseGame:
    """A game whose frame is fresh noise after every press (seeded), to exercise the pixel arithmetic."""

    backend = "noise"

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)
        self.presses = 0
        self._frame = self.rng.integers(0, 256, (144, 160, 3), dtype=np.uint8)

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)
        self.presses = 0
        self._frame = self.rng.integers(0, 256, (144, 160, 3), dtype=np.uint8)

    def press(self, button: Any) -> int:
        self.presses += 1
        self._frame = self.rng.integers(0, 256, (144, 160, 3), dtype=np.uint8)
        return 1

    def state(self) -> GameState:
        return GameState(0, "m", 0, 0, "down", Mode.OVERWORLD)

    def frame(self) -> np.ndarray:
        return self._frame

    def text(self) -> str:
        return ""

    def symbolic(self) -> dict[str, np.ndarray]:
        return {"n": np.array([self.presses], np.int32)}

    def symbolic_space(self) -> spaces.Dict:
        return spaces.Dict({"n": spaces.Box(0, 10**6, (1,), np.int32)})

    def save_state(self) -> bytes:
        return b""

    def load_state(self, data: bytes) -> None:
        pass

    def milestones(self) -> tuple[Milestone, ...]:
        return (Milestone("never", "never"),)

    def milestone_mask(self) -> int:
        return 0

    def finished(self) -> bool:
        return False

    def state_hash(self) -> bytes:
        return b""

    def identity(self) -> dict[str, Any]:
        return {"backend": self.backend}


@pytest.mark.parametrize("grayscale,downsample", [(True, 2), (True, 4), (False, 2), (True, 1)])
def test_preprocess_matches_the_env(grayscale: bool, downsample: int) -> None:
    raw = LongplayEnv(NoiseGame(), obs_mode="pixels")
    ours = LongplayEnv(NoiseGame(), obs_mode="pixels", grayscale=grayscale, downsample=downsample)
    a, _ = raw.reset(seed=3)
    b, _ = ours.reset(seed=3)
    for _ in range(3):
        assert np.array_equal(preprocess_pixels(a, grayscale, downsample), b)
        a, b = raw.step(0)[0], ours.step(0)[0]


@pytest.mark.parametrize("grayscale,downsample", [(True, 1), (True, 4), (False, 2), (False, 16)])
def test_preprocess_is_integer_luma_then_truncated_block_mean(grayscale: bool, downsample: int) -> None:
    """The env and the wrappers share one grayscale and one downsample; this pins their arithmetic (frames and
    the policies trained on them must not drift) against a plain integer statement of it, on noise and white."""
    rng = np.random.default_rng(7)
    for frame in (rng.integers(0, 256, (144, 160, 3), dtype=np.uint8), np.full((144, 160, 3), 255, np.uint8)):
        want = frame.astype(np.int64)
        if grayscale:
            want = (77 * want[..., :1] + 150 * want[..., 1:2] + 29 * want[..., 2:]) // 256
        k = downsample
        want = want.reshape(144 // k, k, 160 // k, k, -1).sum(axis=(1, 3)) // (k * k)
        assert np.array_equal(preprocess_pixels(frame, grayscale, downsample), want.astype(np.uint8))


def test_wrappers_stack_frames_channels_last() -> None:
    env = StackFrames(PixelPreprocess(LongplayEnv(NoiseGame(), obs_mode="pixels"), True, 2), 3)
    assert env.observation_space.shape == (72, 80, 3)
    first, _ = env.reset(seed=1)
    # The first frame fills the stack.
    assert all(np.array_equal(first[..., 0], first[..., i]) for i in range(3))
    second = env.step(0)[0]
    third = env.step(0)[0]
    assert np.array_equal(second[..., 2], third[..., 1]) and np.array_equal(first[..., 0], third[..., 0])
    assert env.observation_space.contains(third)


def test_frame_stacker_and_dict_pixels() -> None:
    stacker = FrameStacker(2)
    a = np.full((2, 2, 1), 1, np.uint8)
    b = np.full((2, 2, 1), 2, np.uint8)
    assert stacker.reset(a)[..., 1].max() == 1
    assert stacker.push(b)[0, 0].tolist() == [1, 2]
    env = PixelPreprocess(LongplayEnv(NoiseGame(), obs_mode="pixels+symbolic"), True, 4)
    obs, _ = env.reset(seed=0)
    assert obs["pixels"].shape == (36, 40, 1) and "symbolic" in obs
    with pytest.raises(ValueError):
        FrameStacker(0)
    with pytest.raises(ValueError, match="downsample"):
        preprocess_pixels(np.zeros((10, 10, 3), np.uint8), True, 3)


@pytest.mark.parametrize("downsample", [7, 0, -2, 2.0, True])
def test_a_bad_downsample_is_refused_when_the_wrapper_is_made(downsample: Any) -> None:
    """7 (not dividing 144x160) used to give a (20, 22, 1) space and fail only at reset; 0 was a
    ZeroDivisionError, -2 a numpy error, 2.0 a Box error, True a silent 1."""
    env = LongplayEnv(NoiseGame(), obs_mode="pixels")
    divisors = r"valid: 1, 2, 4, 8, 16 \(the integers that divide the frame size 144x160\)$"
    with pytest.raises(ValueError, match=r"^invalid downsample .*; " + divisors):
        PixelPreprocess(env, True, downsample)
    with pytest.raises(ValueError, match="invalid downsample"):
        preprocess_pixels(np.zeros((144, 160, 3), np.uint8), True, downsample)


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_a_bad_frame_stack_is_refused(k: Any) -> None:
    """2.5 used to be a Box error, True a silent stack of 1."""
    with pytest.raises(ValueError, match=r"invalid frame stack .*; must be an integer >= 1"):
        StackFrames(LongplayEnv(NoiseGame(), obs_mode="pixels"), k)


def test_stacked_space_keeps_the_input_dtype_and_bounds() -> None:
    """The stacked space was always uint8 0..255: over a float Box its observations were not in it."""
    import gymnasium as gym

    env = StackFrames(gym.wrappers.DtypeObservation(LongplayEnv(NoiseGame(), obs_mode="pixels"), np.float32), 2)
    assert env.observation_space.dtype == np.float32 and env.observation_space.shape == (144, 160, 6)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs) and env.observation_space.contains(env.step(0)[0])
    plain = StackFrames(LongplayEnv(NoiseGame(), obs_mode="pixels"), 2).observation_space
    assert plain == spaces.Box(0, 255, (144, 160, 6), np.uint8)


@pytest.mark.parametrize("grayscale", ["off", "false", 0, None])
def test_pixel_preprocess_refuses_a_grayscale_that_is_not_a_bool(grayscale: object) -> None:
    """``grayscale="off"`` turned grayscale on (a non-empty string is true), which the env itself refuses."""
    with pytest.raises(ValueError, match=f"^invalid grayscale {grayscale!r}; valid: True, False$"):
        PixelPreprocess(LongplayEnv(NoiseGame(), obs_mode="pixels"), grayscale, 2)  # type: ignore[arg-type]


def test_grayscale_preprocessing_keeps_an_env_that_is_grayscale_already() -> None:
    # LongplayEnv(grayscale=True) under PixelPreprocess(grayscale=True): the one channel is luma already
    env = LongplayEnv(NoiseGame(), obs_mode="pixels", grayscale=True)
    wrapped = PixelPreprocess(env, grayscale=True, downsample=2)
    obs, _ = wrapped.reset(seed=4)
    assert obs.shape == (72, 80, 1) and wrapped.observation_space.contains(obs)
    assert np.array_equal(obs, preprocess_pixels(env.game.frame(), grayscale=True, downsample=2))
