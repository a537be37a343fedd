"""Species and moves of the quest game: original creatures and attacks, as data.

Indices are stable: worlds, saves and replays refer to species and moves by index, so new entries are
only ever appended.
"""

from __future__ import annotations

from longplay.envs.quest.constants import Type
from longplay.envs.quest.state import Move, Species

T = Type

MOVES: tuple[Move, ...] = (
    Move("Bump", T.NORMAL, 40, 100, 35),
    Move("Scratch Claw", T.NORMAL, 45, 95, 30),
    Move("Cinder", T.FIRE, 40, 100, 25),
    Move("Splash Jet", T.WATER, 40, 100, 25),
    Move("Leaf Flick", T.PLANT, 40, 100, 25),
    Move("Pebble Toss", T.STONE, 50, 90, 20),
)

SPECIES: tuple[Species, ...] = (
    Species("Embercub", (T.FIRE, T.FIRE), 39, 52, 43, 65, 45, 62, ((1, 0), (1, 2))),
    Species("Puddlet", (T.WATER, T.WATER), 44, 48, 65, 43, 45, 63, ((1, 0), (1, 3))),
    Species("Sproutling", (T.PLANT, T.PLANT), 45, 49, 49, 45, 45, 64, ((1, 0), (1, 4))),
    Species("Burrowbit", (T.NORMAL, T.NORMAL), 30, 56, 35, 72, 255, 51, ((1, 1), (7, 5))),
)
