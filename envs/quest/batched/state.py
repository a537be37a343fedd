"""The dynamic state of N quest games as one tensor per field, and conversions to and from reference states.

Every field of :class:`~longplay.envs.quest.state.QuestState` has a tensor with a leading env dimension.
Lists become fixed arrays with counts, and each array that is written at a data-dependent index has one extra
*scratch* slot at the end: a masked-off write goes there instead of being a branch (party, box, enemy team,
bag, boulders, battle messages). Queues:

* **Dialog.** Every interaction queues a run of world text pages followed by at most :data:`EXTRA_PAGES`
  generated pages, always into an empty queue (the reference only queues pages while no text box is open).
  So the queue is ``text run (first, count)`` + ``extra pages`` + a read head, and its pages are
  ``[(TEXT, first + k, 0) for k < count] + extras[:extra_count]`` from ``head`` on.
* **Battle messages** are written, whole, into an empty queue by one press and then paged with a head; see
  :mod:`~longplay.envs.quest.batched.battle` for the fixed layout they are compacted from.

Creature records (party, box, enemy team) are int32 rows of :data:`MON_WIDTH` columns:
``species, level, exp, hp, max_hp, attack, defense, speed, moves[4], pp[4]``.
"""

from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from longplay.envs.quest.batched.tables import WIN_PAGES, WorldTables, pack_page, unpack_page
from longplay.envs.quest.cache import IdentityCache
from longplay.envs.quest.constants import BOX_SIZE, NUM_ITEMS, PARTY_SIZE
from longplay.envs.quest.dialog import Msg
from longplay.envs.quest.state import Battle, Mon, QuestState

MON_WIDTH = 16
SPECIES, LEVEL, EXP, HP, MAX_HP, ATTACK, DEFENSE, SPEED = range(8)
MOVES = slice(8, 12)
PP = slice(12, 16)
EXTRA_PAGES = WIN_PAGES  # the most generated pages one event queues (a gym leader's win)
#: The fields whose last slot along dim 1 is scratch (the module docstring; the events' is column NE + 2). A
#: masked-off write lands there, often several at once (every env's, or every unwritten candidate's), and on
#: CUDA which of those stays is not defined. Nothing reads it, and it is no part of the game's state.
SCRATCH_FIELDS = ("party", "box", "bag", "events", "boulder_xy", "enemy", "messages")


@dataclass
class BatchedState:
    """N games' dynamic state (see the module docstring for the layouts). All tensors share one device."""

    key: torch.Tensor  # int64 [N] episode key
    tick: torch.Tensor  # int64 [N]
    map: torch.Tensor  # int32 [N]
    x: torch.Tensor
    y: torch.Tensor
    facing: torch.Tensor
    surfing: torch.Tensor  # bool
    party_count: torch.Tensor  # int32
    party: torch.Tensor  # int32 [N, PARTY_SIZE + 1, MON_WIDTH]
    box_count: torch.Tensor
    box: torch.Tensor  # int32 [N, BOX_SIZE + 1, MON_WIDTH]
    bag: torch.Tensor  # int32 [N, NUM_ITEMS + 1]
    money: torch.Tensor
    events: torch.Tensor  # bool [N, NE + 3]
    done: torch.Tensor  # bool [N, E + 1]
    boulder_xy: torch.Tensor  # int32 [N, B + 1, 2]
    respawn: torch.Tensor  # int32 [N, 3]
    ward_steps: torch.Tensor
    dialog_first: torch.Tensor  # text run: first world text page
    dialog_texts: torch.Tensor  # text run: page count
    dialog_extra: torch.Tensor  # int64 [N, EXTRA_PAGES] packed pages
    dialog_extras: torch.Tensor  # extra page count
    dialog_head: torch.Tensor  # pages already dismissed
    dialog_effect: torch.Tensor
    dialog_arg: torch.Tensor
    menu: torch.Tensor
    menu_cursor: torch.Tensor
    menu_choice: torch.Tensor
    battle_kind: torch.Tensor
    battle_trainer: torch.Tensor
    battle_entity: torch.Tensor
    enemy_count: torch.Tensor
    enemy: torch.Tensor  # int32 [N, TS + 1, MON_WIDTH]
    enemy_active: torch.Tensor
    player_active: torch.Tensor
    battle_phase: torch.Tensor
    battle_cursor: torch.Tensor
    messages: torch.Tensor  # int64 [N, C + 1] packed battle messages (the last slot is scratch)
    message_count: torch.Tensor
    message_head: torch.Tensor
    outcome: torch.Tensor
    turns: torch.Tensor
    finished: torch.Tensor  # bool
    overflow: torch.Tensor  # bool: a fixed bound was exceeded (never, if the bounds hold)

    @property
    def num_envs(self) -> int:
        return self.key.shape[0]

    def tensors(self) -> dict[str, torch.Tensor]:
        """Field name -> tensor."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def difference(self, other: BatchedState) -> str | None:
        """The name of the first field that differs from ``other``'s (``None`` when none does), scratch slots
        (:data:`SCRATCH_FIELDS`) left out."""
        for name, t in self.tensors().items():
            u = getattr(other, name)
            if name in SCRATCH_FIELDS:
                t, u = t[:, :-1], u[:, :-1]
            if not torch.equal(t, u):
                return name
        return None

    def nbytes_per_env(self) -> int:
        """Bytes of dynamic state per env (the shared world tables excluded)."""
        return sum(t.element_size() * t[0].numel() for t in self.tensors().values())

    def clone(self) -> BatchedState:
        return BatchedState(**{k: v.clone() for k, v in self.tensors().items()})


def empty_state(num_envs: int, tables: WorldTables, message_capacity: int, device: torch.device) -> BatchedState:
    """Zeroed state of the right shapes (call :func:`reset_envs` to start episodes)."""
    n = num_envs
    i32 = dict(dtype=torch.int32, device=device)

    def z(*shape: int, dtype: torch.dtype = torch.int32) -> torch.Tensor:
        return torch.zeros((n, *shape), dtype=dtype, device=device)

    def mons(slots: int) -> torch.Tensor:
        t = z(slots, MON_WIDTH)
        t[:, :, MOVES] = -1
        return t

    return BatchedState(
        key=z(dtype=torch.int64), tick=z(dtype=torch.int64), map=z(), x=z(), y=z(), facing=z(),
        surfing=z(dtype=torch.bool), party_count=z(), party=mons(PARTY_SIZE + 1), box_count=z(),
        box=mons(BOX_SIZE + 1), bag=z(NUM_ITEMS + 1), money=z(),
        events=z(tables.num_events + 3, dtype=torch.bool), done=z(tables.num_entities + 1, dtype=torch.bool),
        boulder_xy=z(tables.num_boulders + 1, 2), respawn=z(3), ward_steps=z(), dialog_first=z(),
        dialog_texts=z(), dialog_extra=z(EXTRA_PAGES, dtype=torch.int64), dialog_extras=z(), dialog_head=z(),
        dialog_effect=z(), dialog_arg=z(), menu=z(), menu_cursor=z(), menu_choice=z(), battle_kind=z(),
        battle_trainer=torch.full((n,), -1, **i32), battle_entity=torch.full((n,), -1, **i32), enemy_count=z(),
        enemy=mons(tables.team_size + 1), enemy_active=z(), player_active=z(), battle_phase=z(),
        battle_cursor=z(), messages=z(message_capacity + 1, dtype=torch.int64), message_count=z(), message_head=z(),
        outcome=z(), turns=z(), finished=z(dtype=torch.bool), overflow=z(dtype=torch.bool),
    )


# ============================================================================================ to reference


def _mon_list(rows: list[list[int]]) -> list[list]:
    return [r[:8] + [r[8:12], r[12:16]] for r in rows]


def dialog_pages(first: int, texts: int, extra: list[int], extras: int, head: int) -> list[tuple[int, int, int]]:
    """The reference dialog queue of one env's dialog fields."""
    pages = [(int(Msg.TEXT), first + k, 0) for k in range(texts)]
    pages += [unpack_page(int(v)) for v in extra[:extras]]
    return pages[head:]


def documents(state: BatchedState, tables: WorldTables, world_of: np.ndarray,
              envs: list[int] | None = None) -> list[dict[str, Any]]:
    """``savestate.state_document`` of each env (all envs by default), built from one copy to the host.

    The documents hash exactly like the reference's: equal documents are equal states.
    """
    arr = {k: v.detach().cpu().numpy() for k, v in state.tensors().items()}
    statics = _statics(tables)
    out = []
    chosen = list(range(state.num_envs)) if envs is None else list(envs)
    # Python lists of the arrays, once (far faster than converting element by element)
    lists = {k: arr[k][chosen].tolist() for k in ("party", "enemy", "bag", "respawn", "messages", "dialog_extra")}
    scal = {k: arr[k][chosen].tolist() for k, v in arr.items() if v.ndim == 1}
    for j, i in enumerate(chosen):
        w = int(world_of[i])
        n_ent, n_ev, ex0, ey0, boulders = statics[w]
        if boulders:
            ex, ey = bytearray(ex0), bytearray(ey0)
            for slot, e in boulders:
                ex[e] = int(arr["boulder_xy"][i, slot, 0]) & 255
                ey[e] = int(arr["boulder_xy"][i, slot, 1]) & 255
            ex_hex, ey_hex = ex.hex(), ey.hex()
        else:
            ex_hex, ey_hex = ex0.hex(), ey0.hex()
        events = int.from_bytes(np.packbits(arr["events"][i, :n_ev], bitorder="little").tobytes(), "little")
        v = {k: col[j] for k, col in scal.items()}
        messages = [list(unpack_page(m)) for m in lists["messages"][j][v["message_head"]:v["message_count"]]]
        doc: dict[str, Any] = {
            "key": v["key"], "tick": v["tick"], "map": v["map"], "x": v["x"], "y": v["y"], "facing": v["facing"],
            "surfing": bool(v["surfing"]), "money": v["money"], "events": events, "ward_steps": v["ward_steps"],
            "dialog_effect": v["dialog_effect"], "dialog_arg": v["dialog_arg"], "menu": v["menu"],
            "menu_cursor": v["menu_cursor"], "menu_choice": v["menu_choice"], "finished": bool(v["finished"]),
            "party": _mon_list(lists["party"][j][:v["party_count"]]),
            "box": _mon_list(arr["box"][i, :v["box_count"]].tolist()),
            "bag": lists["bag"][j][:NUM_ITEMS],
            "done": arr["done"][i, :n_ent].astype(np.uint8).tobytes().hex(),
            "entity_x": ex_hex, "entity_y": ey_hex,
            "respawn": lists["respawn"][j],
            "dialog": [list(p) for p in dialog_pages(v["dialog_first"], v["dialog_texts"], lists["dialog_extra"][j],
                                                     v["dialog_extras"], v["dialog_head"])],
            "battle": {
                "kind": v["battle_kind"], "trainer": v["battle_trainer"], "entity": v["battle_entity"],
                "enemy_active": v["enemy_active"], "player_active": v["player_active"], "phase": v["battle_phase"],
                "cursor": v["battle_cursor"], "outcome": v["outcome"], "turns": v["turns"],
                "enemy": _mon_list(lists["enemy"][j][:v["enemy_count"]]),
                "messages": messages,
            },
        }
        out.append(doc)
    return out


_STATICS: IdentityCache[list] = IdentityCache(16)


def _statics(tables: WorldTables) -> list:
    """Per world: entity and event counts, the entities' start positions, and (boulder slot, entity) pairs."""

    def build() -> list:
        per_world = []
        for w, world in enumerate(tables.worlds):
            ex = bytearray(e.x for e in world.entities)
            ey = bytearray(e.y for e in world.entities)
            boulders = [(j, int(e)) for j, e in enumerate(tables.boulders[w].tolist()) if e < len(world.entities)]
            per_world.append((len(world.entities), len(world.events), ex, ey, boulders))
        return per_world

    return _STATICS.get(tables, build)


def quest_state(doc: dict[str, Any]) -> QuestState:
    """A reference :class:`QuestState` from a state document."""
    def mon(raw: list) -> Mon:
        return Mon(*raw[:8], list(raw[8]), list(raw[9]))

    b = doc["battle"]
    battle = Battle(kind=b["kind"], trainer=b["trainer"], entity=b["entity"], enemy=[mon(m) for m in b["enemy"]],
                    enemy_active=b["enemy_active"], player_active=b["player_active"], phase=b["phase"],
                    cursor=b["cursor"], messages=[tuple(m) for m in b["messages"]], outcome=b["outcome"],
                    turns=b["turns"])
    return QuestState(
        key=doc["key"], tick=doc["tick"], map=doc["map"], x=doc["x"], y=doc["y"], facing=doc["facing"],
        surfing=doc["surfing"], party=[mon(m) for m in doc["party"]], box=[mon(m) for m in doc["box"]],
        bag=list(doc["bag"]), money=doc["money"], events=doc["events"], done=bytearray.fromhex(doc["done"]),
        entity_x=bytearray.fromhex(doc["entity_x"]), entity_y=bytearray.fromhex(doc["entity_y"]),
        respawn=tuple(doc["respawn"]), ward_steps=doc["ward_steps"],  # type: ignore[arg-type]
        dialog=[tuple(p) for p in doc["dialog"]], dialog_effect=doc["dialog_effect"],  # type: ignore[misc]
        dialog_arg=doc["dialog_arg"], menu=doc["menu"], menu_cursor=doc["menu_cursor"],
        menu_choice=doc["menu_choice"], battle=battle, finished=doc["finished"],
    )


# ============================================================================================ from reference


class BoundError(ValueError):
    """A reference state does not fit the batched engine's fixed bounds."""


def _split_dialog(pages: list[tuple[int, int, int]]) -> tuple[int, int, list[int]]:
    """(first, count, extra packed pages) of a reference dialog queue."""
    count = 0
    while count < len(pages) and pages[count][0] == Msg.TEXT and pages[count][1] == pages[0][1] + count:
        count += 1
    first = pages[0][1] if count else 0
    extras = [pack_page(*p) for p in pages[count:]]
    if any(unpack_page(v)[0] == Msg.TEXT for v in extras) or len(extras) > EXTRA_PAGES:
        raise BoundError(f"dialog queue {pages} does not fit a text run plus {EXTRA_PAGES} pages")
    return first, count, extras


def _mon_row(m: Mon) -> list[int]:
    return [m.species, m.level, m.exp, m.hp, m.max_hp, m.attack, m.defense, m.speed, *m.moves, *m.pp]


def is_env_index(i: Any, num_envs: int) -> bool:
    """Whether ``i`` indexes one of ``num_envs`` envs (an int, numpy's or a 0-d tensor's too, not a bool)."""
    try:
        return not isinstance(i, bool) and -num_envs <= operator.index(i) < num_envs
    except TypeError:
        return False


def load_states(state: BatchedState, tables: WorldTables, world_of: np.ndarray, envs: list[int],
                states: list[QuestState]) -> None:
    """Writes reference states into env slots ``envs`` (each must belong to that env's world).

    Every entry is checked before any is written, so a bad one leaves every env as it was.

    Raises:
        BoundError: a state exceeds a fixed bound (party, box, team size, queue capacities), or is of
            another world than its env's.
        IndexError: an env is not an int naming one of the envs.
        ValueError: an env is named twice.
        TypeError: a state is not a :class:`QuestState`.
    """
    cap = state.messages.shape[1] - 1  # the last slot is scratch
    dialogs = []
    seen: set[int] = set()
    for i, s in zip(envs, states, strict=True):  # every state checked before any is written
        if not is_env_index(i, len(world_of)):
            raise IndexError(f"load_states: no env {i!r}; envs are ints in 0..{len(world_of) - 1}")
        if (slot := operator.index(i) % len(world_of)) in seen:  # it would keep its last state without a word
            raise ValueError(f"load_states: env {slot} is named twice in {list(envs)}")
        seen.add(slot)
        if not isinstance(s, QuestState):  # savestate's bytes, say: failed below on a missing .party
            raise TypeError(f"load_states: the state for env {i!r} is a {type(s).__name__}, not a QuestState "
                            "(savestate.load(data, world) reads one from a save)")
        world = tables.worlds[int(world_of[i])]
        if len(s.party) > PARTY_SIZE or len(s.box) > BOX_SIZE or len(s.battle.enemy) > tables.team_size \
                or len(s.battle.messages) > cap:
            raise BoundError(f"state of env {i} exceeds a bound (party {len(s.party)}, box {len(s.box)}, "
                             f"enemy team {len(s.battle.enemy)}, messages {len(s.battle.messages)})")
        if len(s.done) != len(world.entities):
            raise BoundError(f"state of env {i} is from another world")
        dialogs.append(_split_dialog(s.dialog) if s.dialog else (0, 0, []))
    for i, s, (first, count, extras) in zip(envs, states, dialogs, strict=True):
        w = int(world_of[i])
        world = tables.worlds[w]
        dev = state.key.device
        scalars = dict(key=s.key, tick=s.tick, map=s.map, x=s.x, y=s.y, facing=s.facing, surfing=s.surfing,
                       party_count=len(s.party), box_count=len(s.box), money=s.money, ward_steps=s.ward_steps,
                       dialog_effect=s.dialog_effect, dialog_arg=s.dialog_arg, menu=s.menu,
                       menu_cursor=s.menu_cursor, menu_choice=s.menu_choice, battle_kind=s.battle.kind,
                       battle_trainer=s.battle.trainer, battle_entity=s.battle.entity,
                       enemy_count=len(s.battle.enemy), enemy_active=s.battle.enemy_active,
                       player_active=s.battle.player_active, battle_phase=s.battle.phase,
                       battle_cursor=s.battle.cursor, message_count=len(s.battle.messages), message_head=0,
                       outcome=s.battle.outcome, turns=s.battle.turns, finished=s.finished, overflow=False)
        scalars.update(dialog_first=first, dialog_texts=count, dialog_extras=len(extras), dialog_head=0)
        for name, value in scalars.items():
            getattr(state, name)[i] = value
        for arr, mons in ((state.party, s.party), (state.box, s.box), (state.enemy, s.battle.enemy)):
            arr[i] = 0
            arr[i, :, MOVES] = -1
            if mons:
                arr[i, :len(mons)] = torch.tensor([_mon_row(m) for m in mons], dtype=torch.int32, device=dev)
        state.bag[i] = 0
        state.bag[i, :NUM_ITEMS] = torch.tensor(s.bag, dtype=torch.int32, device=dev)
        ev = torch.zeros(tables.num_events + 3, dtype=torch.bool)
        ev[tables.col_true] = True
        for b in range(len(world.events)):
            ev[b] = bool(s.events >> b & 1)
        state.events[i] = ev.to(dev)
        done = torch.zeros(tables.num_entities + 1, dtype=torch.bool)
        done[:len(s.done)] = torch.tensor(list(s.done), dtype=torch.bool)
        state.done[i] = done.to(dev)
        for j in range(tables.num_boulders):
            e = int(tables.boulders[w, j])
            if e < len(world.entities):
                state.boulder_xy[i, j, 0] = s.entity_x[e]
                state.boulder_xy[i, j, 1] = s.entity_y[e]
        state.respawn[i] = torch.tensor(list(s.respawn), dtype=torch.int32, device=dev)
        state.dialog_extra[i] = 0
        if extras:
            state.dialog_extra[i, :len(extras)] = torch.tensor(extras, dtype=torch.int64, device=dev)
        state.messages[i] = 0
        if s.battle.messages:
            state.messages[i, :len(s.battle.messages)] = torch.tensor(
                [pack_page(*m) for m in s.battle.messages], dtype=torch.int64, device=dev)


__all__ = ["BatchedState", "BoundError", "documents", "empty_state", "is_env_index", "load_states", "quest_state"]
