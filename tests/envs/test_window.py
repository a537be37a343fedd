"""The window's checks before it opens: pygame installed, a display to open it on."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from longplay.envs.window import require_display


class _NoVideo(Exception):
    pass


def _fake_pygame(video_starts: bool, driver: str = "x11") -> SimpleNamespace:
    """A pygame whose SDL starts video (on ``driver``) or fails to start it at all."""
    state = {"quit": False}

    def get_driver() -> str:
        if not video_starts:
            raise _NoVideo("video system not initialized")
        return driver

    def display_init() -> None:
        if not video_starts:
            raise _NoVideo("No available video device")

    display = SimpleNamespace(init=display_init, get_init=lambda: video_starts, get_driver=get_driver)
    return SimpleNamespace(init=lambda: (5, 0 if video_starts else 1), quit=lambda: state.update(quit=True),
                           get_error=lambda: "ALSA: Couldn't open audio device", error=_NoVideo, display=display,
                           state=state)


def test_video_that_cannot_start_is_the_no_display_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """SDL that starts no video driver at all made ``get_driver`` raise pygame's 'video system not initialized',
    a traceback that named neither the display nor ``--text``."""
    pygame = _fake_pygame(video_starts=False)
    monkeypatch.setitem(sys.modules, "pygame", pygame)
    with pytest.raises(RuntimeError, match=r"^no display to open a window on \(SDL cannot start video: "
                                           r"No available video device; set DISPLAY\)$"):
        require_display()
    assert pygame.state["quit"]


def test_a_display_is_pygame(monkeypatch: pytest.MonkeyPatch) -> None:
    pygame = _fake_pygame(video_starts=True)
    monkeypatch.setitem(sys.modules, "pygame", pygame)
    assert require_display() is pygame and not pygame.state["quit"]


def test_an_sdl_video_driver_that_does_not_exist_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    pygame = pytest.importorskip("pygame")
    monkeypatch.setenv("SDL_VIDEODRIVER", "nosuchdriver")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    with pytest.raises(RuntimeError, match=r"^no display to open a window on \(SDL cannot start video: "
                                           r"nosuchdriver not available; set DISPLAY\)$"):
        require_display()
    assert not pygame.display.get_init()


def test_a_human_render_lets_the_window_handle_its_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """``render_mode="human"`` drew frames and never pumped the window's events (only ``longplay play`` read them):
    a desktop marks such a window as not responding a few seconds in."""
    pygame = pytest.importorskip("pygame")
    import gymnasium as gym

    import longplay.envs  # noqa: F401 - registers the ids

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    pumps = []
    monkeypatch.setattr(pygame.event, "pump", lambda: pumps.append(1))
    env = gym.make("longplay/QuestMini-v0", render_mode="human")
    env.reset(seed=0)
    env.step(1)
    env.close()
    assert len(pumps) == 2  # one frame drawn at the reset, one at the step


def test_the_keys_press_the_buttons_the_readme_names(monkeypatch: pytest.MonkeyPatch) -> None:
    # README: arrows, x = A, z = B, enter = START; Esc closes
    pygame = pytest.importorskip("pygame")
    from longplay.envs.game import Button
    from longplay.envs.window import Window

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    window = Window()
    try:
        for key in (pygame.K_UP, pygame.K_RIGHT, pygame.K_x, pygame.K_z, pygame.K_RETURN):
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key))
        assert window.buttons() == ([Button.UP, Button.RIGHT, Button.A, Button.B, Button.START], False)
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE))
        assert window.buttons() == ([], True)
    finally:
        window.close()
        pygame.quit()
