"""Creature arithmetic: stats at a level, new creatures, experience and levelling, healing.

All integer arithmetic, in a fixed order, so the batched engine reproduces it exactly.
"""

from __future__ import annotations

from longplay.envs.quest.constants import MAX_LEVEL, MOVE_SLOTS
from longplay.envs.quest.content import MOVES, SPECIES
from longplay.envs.quest.state import Mon


def stats_at(species: int, level: int) -> tuple[int, int, int, int]:
    """(max_hp, attack, defense, speed) of ``species`` at ``level``."""
    s = SPECIES[species]
    max_hp = s.base_hp * 2 * level // 100 + level + 10
    attack = s.base_attack * 2 * level // 100 + 5
    defense = s.base_defense * 2 * level // 100 + 5
    speed = s.base_speed * 2 * level // 100 + 5
    return max_hp, attack, defense, speed


def exp_for_level(level: int) -> int:
    """Total experience needed to be at ``level`` (a cubic curve)."""
    return level * level * level


def default_moves(species: int, level: int) -> list[int]:
    """The last MOVE_SLOTS distinct moves learned up to ``level``, padded with -1."""
    learned: list[int] = []
    for at, move in SPECIES[species].learnset:
        if at <= level and move not in learned:
            learned.append(move)
    learned = learned[-MOVE_SLOTS:]
    return learned + [-1] * (MOVE_SLOTS - len(learned))


def make_mon(species: int, level: int) -> Mon:
    """A healthy creature of ``species`` at ``level`` with its default moves and full PP."""
    max_hp, attack, defense, speed = stats_at(species, level)
    moves = default_moves(species, level)
    pp = [MOVES[m].pp if m >= 0 else 0 for m in moves]
    return Mon(species, level, exp_for_level(level), max_hp, max_hp, attack, defense, speed, moves, pp)


def heal(mon: Mon) -> None:
    """Full HP and PP."""
    mon.hp = mon.max_hp
    mon.pp = [MOVES[m].pp if m >= 0 else 0 for m in mon.moves]


def heal_party(party: list[Mon]) -> None:
    for mon in party:
        heal(mon)


def first_able(party: list[Mon]) -> int:
    """Index of the first creature that can fight, or -1 when all have fainted."""
    for i, mon in enumerate(party):
        if mon.hp > 0:
            return i
    return -1


def learn(mon: Mon, move: int) -> None:
    """Learns ``move``: into the first empty slot, else replacing the slot of lowest power (first on ties)."""
    if move in mon.moves:
        return
    if -1 in mon.moves:
        slot = mon.moves.index(-1)
    else:
        powers = [MOVES[m].power for m in mon.moves]
        slot = powers.index(min(powers))
    mon.moves[slot] = move
    mon.pp[slot] = MOVES[move].pp


def gain_exp(mon: Mon, amount: int) -> list[int]:
    """Adds experience, levels up as far as it reaches, learns moves; returns the levels reached."""
    levels: list[int] = []
    mon.exp += amount
    while mon.level < MAX_LEVEL and mon.exp >= exp_for_level(mon.level + 1):
        mon.level += 1
        max_hp, mon.attack, mon.defense, mon.speed = stats_at(mon.species, mon.level)
        if mon.hp > 0:
            mon.hp += max_hp - mon.max_hp
        mon.max_hp = max_hp
        for at, move in SPECIES[mon.species].learnset:
            if at == mon.level:
                learn(mon, move)
        levels.append(mon.level)
    return levels
