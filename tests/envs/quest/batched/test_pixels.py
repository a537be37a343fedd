"""Batched pixel frames against the reference renderer on every screen: the overworld, text boxes with every
page template, the menus and every battle phase (``render.render_frame`` of each env's state, pixel for pixel).
"""

from __future__ import annotations

import collections
import copy

import numpy as np
import pytest
import torch

from longplay.envs.quest import render, worldgen
from longplay.envs.quest.batched.engine import BatchedQuest
from longplay.envs.quest.batched.parity import fuzz_actions, scenario_states
from longplay.envs.quest.battle import MESSAGE_ARGS, Arg, BattleMsg
from longplay.envs.quest.constants import ABILITY_NAMES, NUM_ITEMS, BattleKind, BattlePhase, MenuKind
from longplay.envs.quest.content import MOVES, SPECIES
from longplay.envs.quest.dialog import MESSAGES, Msg
from longplay.envs.quest.state import QuestState, World

N = 48


@pytest.fixture(scope="module")
def small():
    return worldgen.build_world("small", 0)


def screen_kind(s: QuestState) -> str:
    """What a frame shows: ``battle <phase>``, ``menu <kind>`` (``+ text`` with a text box over it), ``text``
    or ``world``."""
    if s.battle.kind != BattleKind.NONE:
        return f"battle {BattlePhase(s.battle.phase).name}"
    kind = f"menu {MenuKind(s.menu).name}" if s.menu else ""
    if s.dialog:
        kind = f"{kind} + text" if kind else "text"
    return kind or "world"


def _number(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 10 ** int(rng.integers(1, 8))))


def _arg(kind: str, world: World, rng: np.random.Generator) -> int:
    sizes = {"species": len(SPECIES), "move": len(MOVES), "item": NUM_ITEMS, "trainer": len(world.trainers),
             "text": len(world.texts), "badge": len(world.badge_names), "ability": len(ABILITY_NAMES)}
    return _number(rng) if kind == "number" else int(rng.integers(sizes[kind])) if kind in sizes else 0


def _dialog_pages(world: World, rng: np.random.Generator, count: int) -> list[tuple[int, int, int]]:
    """Generated pages of every template (and world text pages), with random arguments."""
    pages = []
    for msg in Msg:
        template = MESSAGES[msg]
        for _ in range(count):
            if msg == Msg.TEXT:
                pages.append((int(msg), _arg("text", world, rng), 0))
            elif msg == Msg.USED_ITEM:
                pages.append((int(msg), _arg("item", world, rng), _arg("species", world, rng)))
            else:
                first = next((kind for mark, kind in (("{s}", "species"), ("{i}", "item"), ("{n}", "number"),
                                                       ("{b}", "badge"), ("{a}", "ability")) if mark in template), "")
                pages.append((int(msg), _arg(first, world, rng), _arg("number" if "{m}" in template else "", world,
                                                                                rng)))
    return pages


def _battle_messages(world: World, rng: np.random.Generator, count: int) -> list[tuple[int, int, int]]:
    names = {Arg.NONE: "", Arg.SPECIES: "species", Arg.MOVE: "move", Arg.ITEM: "item", Arg.NUMBER: "number",
             Arg.TRAINER: "trainer", Arg.TEXT: "text"}
    return [(int(m), _arg(names[MESSAGE_ARGS[m][0]], world, rng), _arg(names[MESSAGE_ARGS[m][1]], world, rng))
            for m in BattleMsg for _ in range(count)]


def screen_states(world: World, seed: int) -> list[QuestState]:
    """Reference states that show every screen: each dialog template and battle message (with random
    arguments, one page or more), each menu with its cursors (some under a text box), each battle phase with
    its cursors."""
    rng = np.random.default_rng(seed)
    pool = scenario_states(world, 96, seed=seed)
    fighting = [s for s in pool if s.battle.kind]
    walking = [s for s in pool if not s.battle.kind]
    out = []

    def pick(states: list[QuestState]) -> QuestState:
        s = copy.deepcopy(states[int(rng.integers(len(states)))])
        s.dialog = []
        return s

    for page in _dialog_pages(world, rng, 3):
        s = pick(walking)
        s.menu = 0
        s.dialog = [page] + [(int(Msg.HEALED), 0, 0)] * int(rng.integers(0, 2))  # the MORE arrow, or not
        out.append(s)
    for message in _battle_messages(world, rng, 3):
        s = pick(fighting)
        s.battle.phase = BattlePhase.MESSAGE
        s.battle.messages = [message] + [(int(BattleMsg.CRITICAL), 0, 0)] * int(rng.integers(0, 2))
        out.append(s)
    for phase in (BattlePhase.MAIN, BattlePhase.FIGHT, BattlePhase.BAG, BattlePhase.PARTY, BattlePhase.FORCED_SWITCH):
        for cursor in range(-1, 7):
            s = pick(fighting)
            s.battle.phase, s.battle.cursor, s.battle.messages = int(phase), cursor, []
            if rng.random() < 0.5:
                s.bag = [int(rng.integers(0, 3)) for _ in s.bag]
            out.append(s)
    for kind in MenuKind:
        if kind == MenuKind.NONE or (kind == MenuKind.SHOP and not world.shops):
            continue
        for cursor in range(-1, 10):
            s = pick(walking)
            s.menu, s.menu_cursor = int(kind), cursor
            s.menu_choice = int(rng.integers(len(world.shops))) if kind == MenuKind.SHOP else int(
                rng.integers(-1, NUM_ITEMS + 1))
            if rng.random() < 0.5:
                s.bag = [int(rng.integers(0, 3)) for _ in s.bag]
            if rng.random() < 0.3:
                s.dialog = [_dialog_pages(world, rng, 1)[int(rng.integers(len(Msg)))]]
            out.append(s)
    return out


def check_frames(b: BatchedQuest, world: World, envs: list[int], counts: collections.Counter,
                 palette: object = None, where: str = "") -> None:
    """The engine's frames of ``envs`` now, each against ``render_frame`` of its state; counts the screens."""
    frames = b._observe()["pixels"].numpy()
    for i in envs:
        s = b.state_of(i)
        assert np.array_equal(frames[i], render.render_frame(world, s, palette)), \
            f"{where}env {i}: {screen_kind(s)}, dialog {s.dialog[:1]}, messages {s.battle.messages[:1]}, menu " \
            f"{s.menu} cursor {s.menu_cursor}/{s.battle.cursor}"
        counts[screen_kind(s)] += 1


def compare(b: BatchedQuest, world: World, states: list[QuestState], counts: collections.Counter,
            palette: object = None, envs: list[int] | None = None) -> None:
    """Loads ``states`` into ``envs`` (all by default), as many at a time as there are, and checks every
    frame against the reference."""
    envs = list(range(b.num_envs)) if envs is None else envs
    for first in range(0, len(states), len(envs)):
        chunk = states[first:first + len(envs)]
        b.load_states(envs[:len(chunk)], chunk)
        check_frames(b, world, envs[:len(chunk)], counts, palette)


def _assert_every_screen(counts: collections.Counter, at_least: int) -> None:
    kinds = ["text", "battle MESSAGE", "battle MAIN", "battle FIGHT", "battle BAG", "battle PARTY",
             "battle FORCED_SWITCH", "menu START", "menu PARTY", "menu BAG", "menu BAG_TARGET", "menu SHOP",
             "menu BAG + text"]
    assert all(counts[k] >= at_least for k in kinds), counts


def test_every_screen_matches_the_reference(small) -> None:
    """Every dialog template and battle message (three random argument sets each), every menu and battle phase
    with every cursor: the batched frame is ``render_frame``'s."""
    b = BatchedQuest(N, worlds=[small], obs_mode="pixels")
    b.reset(seed=0)
    counts: collections.Counter = collections.Counter()
    states = screen_states(small, seed=3)
    compare(b, small, states, counts)
    assert sum(counts.values()) == len(states) > 250
    assert counts["text"] >= 3 * len(Msg) and counts["battle MESSAGE"] >= 3 * len(BattleMsg)
    _assert_every_screen(counts, 3)


def test_frames_match_the_reference_while_playing(small) -> None:
    """Scenario states (battles, menus, text boxes) stepped with random presses: every frame on every step."""
    b = BatchedQuest(N, worlds=[small], obs_mode="pixels")
    b.reset(seed=0)
    b.load_states(list(range(N)), scenario_states(small, N, seed=5))
    gen = np.random.default_rng(1)
    counts: collections.Counter = collections.Counter()
    for _ in range(8):
        check_frames(b, small, list(range(N)), counts)
        b.step(torch.as_tensor(fuzz_actions(gen, N, a_bias=0.3)))
    assert counts["world"] > 50 and counts["text"] > 20 and counts["battle MESSAGE"] > 20, counts
    assert sum(v for k, v in counts.items() if k.startswith("battle") and k != "battle MESSAGE") > 20, counts
    assert sum(v for k, v in counts.items() if k.startswith("menu")) > 20, counts


def test_a_pool_of_worlds_and_a_named_palette() -> None:
    """Each env's pages come from its own world (texts, trainers, badges), in the palette asked for."""
    worlds = [worldgen.build_world("mini", seed) for seed in (0, 1)]
    b = BatchedQuest(N, worlds=worlds, obs_mode="pixels", palette="sepia")
    b.reset(seed=0)
    counts: collections.Counter = collections.Counter()
    for w, world in enumerate(worlds):
        compare(b, world, screen_states(world, seed=7 + w), counts, "sepia",
                envs=[i for i in range(N) if b.world_of[i] == w])
    _assert_every_screen(counts, 6)


@pytest.mark.slow
def test_compiled_frames_match_the_reference(small) -> None:
    """The same screens through inductor, as one graph (``fullgraph``: no host synchronisation, no
    data-dependent shape)."""
    b = BatchedQuest(N, worlds=[small], obs_mode="pixels")
    b.reset(seed=0)
    b._observe = torch.compile(b._observe, dynamic=False, fullgraph=True)
    counts: collections.Counter = collections.Counter()
    compare(b, small, screen_states(small, seed=11), counts)
    _assert_every_screen(counts, 3)


def _replay(b: BatchedQuest, world: World, scripts: list[tuple[QuestState, list[int]]],
            counts: collections.Counter) -> None:
    """Loads each start state into its own env, presses its script (then A), and checks every frame."""
    for first in range(0, len(scripts), b.num_envs):
        chunk = scripts[first:first + b.num_envs]
        b.load_states(list(range(len(chunk))), [state for state, _ in chunk])
        for t in range(max(len(presses) for _, presses in chunk) + 4):
            check_frames(b, world, list(range(len(chunk))), counts, where=f"step {t}, ")
            actions = np.full(b.num_envs, 4)
            for i, (_, presses) in enumerate(chunk):
                actions[i] = presses[t] if t < len(presses) else 4
            b.step(torch.as_tensor(actions))


def test_frames_match_the_reference_in_rare_situations_and_the_oracles_games(small) -> None:
    """The parity suite's hand-set situations (catching, a full box, levelling up and learning, losing, a
    badge and its abilities, the final win, chopping, swimming, the bag and the shop) and pieces of the
    oracle's games, pressed step by step: every frame on every step."""
    from longplay.envs.quest.batched.parity import oracle_chunks, targeted_states

    b = BatchedQuest(N, worlds=[small], obs_mode="pixels")
    b.reset(seed=0)
    counts: collections.Counter = collections.Counter()
    scripts = [(state, list(presses)) for state, presses in targeted_states(small, seed=2)]
    scripts += [(state, list(presses)) for state, presses in oracle_chunks(small, [0, 1], 400, 40)]
    _replay(b, small, scripts, counts)
    assert counts["text"] > 100 and counts["battle MESSAGE"] > 200, counts
    assert counts["battle MAIN"] > 20 and counts["battle FIGHT"] > 20 and counts["world"] > 100, counts
