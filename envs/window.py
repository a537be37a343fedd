"""A desktop window that shows frames (for ``render_mode="human"`` and ``longplay play``); needs pygame."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

#: pygame key name -> Button value, for people playing from the keyboard.
KEYMAP = {"up": 0, "down": 1, "left": 2, "right": 3, "x": 4, "z": 5, "return": 6, "backspace": 7}

#: SDL video drivers that show nothing: chosen when there is no display, unless SDL_VIDEODRIVER asks for one.
HEADLESS_DRIVERS = ("offscreen", "dummy")


def require_pygame() -> Any:
    """The ``pygame`` module; ``RuntimeError`` with one line naming the extra when it is not installed."""
    try:
        import pygame
    except ImportError:
        raise RuntimeError("a window needs pygame: pip install 'longplay[play]'") from None
    return pygame


def require_display() -> Any:
    """The ``pygame`` module, initialised with a display to open a window on; ``RuntimeError`` with one line
    when pygame is not installed or there is no display."""
    pygame = require_pygame()
    pygame.init()
    if not pygame.display.get_init():  # SDL started no video driver (get_driver would raise, naming no display)
        try:  # alone again, for SDL's reason: pygame.get_error holds the last module's (often the audio's)
            pygame.display.init()
        except pygame.error as exc:
            reason = str(exc) or "no video driver"
        else:
            reason = "no video driver"
        pygame.quit()
        raise RuntimeError(f"no display to open a window on (SDL cannot start video: {reason}; set DISPLAY)")
    driver = pygame.display.get_driver()
    if driver in HEADLESS_DRIVERS and not os.environ.get("SDL_VIDEODRIVER"):
        # SDL found no display and fell back to a window no one can see, which would wait for keys forever
        pygame.quit()
        raise RuntimeError(f"no display to open a window on (SDL fell back to its {driver!r} driver; set "
                           f"DISPLAY, or SDL_VIDEODRIVER={driver} for a window no one sees)")
    return pygame


class Window:
    """A pygame window scaled up from the 160x144 screen."""

    def __init__(self, title: str = "longplay", scale: int = 4) -> None:
        pygame = require_display()
        self._pg = pygame
        self.scale = scale
        self.surface = pygame.display.set_mode((160 * scale, 144 * scale))
        pygame.display.set_caption(title)

    def show(self, frame: np.ndarray) -> None:
        """Draws one (144, 160, 3) frame and lets the window handle its events."""
        pg = self._pg
        # An env with render_mode="human" draws and never reads the window's events: without a pump the desktop
        # marks the window as not responding (as Gymnasium's own envs do, pumped on every frame drawn).
        pg.event.pump()
        image = pg.surfarray.make_surface(np.ascontiguousarray(frame.transpose(1, 0, 2)))
        self.surface.blit(pg.transform.scale(image, self.surface.get_size()), (0, 0))
        pg.display.flip()

    def buttons(self) -> tuple[list[int], bool]:
        """Button values pressed since the last call, and whether the window was closed (or Esc pressed)."""
        pg = self._pg
        pressed: list[int] = []
        closed = False
        for event in pg.event.get():
            if event.type == pg.QUIT:
                closed = True
            elif event.type == pg.KEYDOWN:
                name = pg.key.name(event.key)
                if name == "escape":
                    closed = True
                elif name in KEYMAP:
                    pressed.append(KEYMAP[name])
        return pressed, closed

    def close(self) -> None:
        self._pg.display.quit()
