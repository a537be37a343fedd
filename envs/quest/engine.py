"""The quest engine: a new episode's state, and one button press as a chain of functions over the state.

``step`` routes the button to whatever has the player's attention, in priority order: a battle, an open
text box, an open menu, else the overworld. Every rule lives in the module that owns that screen.
"""

from __future__ import annotations

from longplay.envs.game import Mode
from longplay.envs.quest import battle, dialog, menus, overworld
from longplay.envs.quest.constants import NUM_ITEMS, BattleKind, Effect, MenuKind
from longplay.envs.quest.rng import episode_key
from longplay.envs.quest.state import Battle, QuestState, World


def new_state(world: World, seed: int) -> QuestState:
    """The start of an episode in ``world``: in the first house, no partner, an empty bag."""
    start_map, x, y, facing = world.start
    n = len(world.entities)
    state = QuestState(
        key=episode_key(seed), tick=0, map=start_map, x=x, y=y, facing=facing, surfing=False,
        party=[], box=[], bag=[0] * NUM_ITEMS, money=3000, events=0, done=bytearray(n),
        entity_x=bytearray(e.x for e in world.entities), entity_y=bytearray(e.y for e in world.entities),
        respawn=world.respawn, ward_steps=0, dialog=[], dialog_effect=Effect.NONE, dialog_arg=0,
        menu=MenuKind.NONE, menu_cursor=0, menu_choice=0, battle=Battle(),
    )
    state.set_event(world.maps[start_map].enter_event)
    return state


def step(state: QuestState, world: World, button: int | None) -> None:
    """Advances the game by one button press (``None``: no input, time still passes)."""
    state.tick += 1
    if button is None or state.finished:
        return
    if state.battle.kind != BattleKind.NONE:
        battle.press(state, world, button)
    elif state.dialog:
        dialog.press(state, world, button)
    elif state.menu != MenuKind.NONE:
        menus.press(state, world, button)
    else:
        overworld.press(state, world, button)


def mode(state: QuestState) -> Mode:
    """What has the player's attention (the same priority as :func:`step`)."""
    if state.battle.kind != BattleKind.NONE:
        return Mode.BATTLE
    if state.dialog:
        return Mode.DIALOG
    if state.menu != MenuKind.NONE:
        return Mode.MENU
    return Mode.OVERWORLD
