"""Save states of the quest game: a versioned, compressed JSON document (no pickle: safe to open).

Layout: ``b"LPQS"`` magic, one format-version byte, then zlib-compressed UTF-8 JSON
``{"world": [size, seed, digest], "state": {...}}``. Loading checks the magic, version, world and every
field, and raises :class:`~longplay.envs.game.GameError` with one line on anything wrong.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from typing import Any

from longplay.envs.game import GameError
from longplay.envs.quest.battle import MESSAGE_ARGS, Arg, BattleMsg
from longplay.envs.quest.cache import IdentityCache
from longplay.envs.quest.constants import (
    BOX_SIZE,
    MAX_ITEM_COUNT,
    MAX_LEVEL,
    MAX_MONEY,
    NUM_ABILITIES,
    NUM_ITEMS,
    PARTY_SIZE,
    WARD_STEPS,
    BattleKind,
    BattlePhase,
    Direction,
    Effect,
    MenuKind,
)
from longplay.envs.quest.content import MOVES, SPECIES
from longplay.envs.quest.dialog import MESSAGES, Msg
from longplay.envs.quest.state import Battle, Mon, QuestState, World

MAGIC = b"LPQS"
VERSION = 1

_MON_FIELDS = ("species", "level", "exp", "hp", "max_hp", "attack", "defense", "speed", "moves", "pp")
_BATTLE_SCALARS = ("kind", "trainer", "entity", "enemy_active", "player_active", "phase", "cursor", "outcome",
                   "turns")
_STATE_SCALARS = ("key", "tick", "map", "x", "y", "facing", "surfing", "money", "events", "ward_steps",
                  "dialog_effect", "dialog_arg", "menu", "menu_cursor", "menu_choice", "finished")


def _mon(m: Mon) -> list:
    return [m.species, m.level, m.exp, m.hp, m.max_hp, m.attack, m.defense, m.speed, m.moves, m.pp]


def state_document(state: QuestState) -> dict[str, Any]:
    """The state as plain JSON-able data (also what state hashes are computed from)."""
    doc: dict[str, Any] = {k: getattr(state, k) for k in _STATE_SCALARS}
    doc["party"] = [_mon(m) for m in state.party]
    doc["box"] = [_mon(m) for m in state.box]
    doc["bag"] = state.bag
    doc["done"] = state.done.hex()
    doc["entity_x"] = state.entity_x.hex()
    doc["entity_y"] = state.entity_y.hex()
    doc["respawn"] = list(state.respawn)
    doc["dialog"] = [list(p) for p in state.dialog]
    b = state.battle
    doc["battle"] = {k: getattr(b, k) for k in _BATTLE_SCALARS}
    doc["battle"]["enemy"] = [_mon(m) for m in b.enemy]
    doc["battle"]["messages"] = [list(p) for p in b.messages]
    return doc


def encode_document(doc: dict[str, Any]) -> bytes:
    """Canonical JSON bytes (sorted keys, no spaces): equal states give equal bytes."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


_DIGESTS: IdentityCache[str] = IdentityCache(64)


def world_id(world: World) -> list:
    """[size, seed, digest] naming the world a state belongs to."""
    return [world.size, world.seed, _DIGESTS.get(world, lambda: _world_digest(world))]


def _world_digest(world: World) -> str:
    h = hashlib.blake2b(digest_size=8)
    h.update(repr((world.size, world.seed, world.name, len(world.maps), len(world.entities),
                   len(world.trainers), len(world.events))).encode())
    for m in world.maps:
        h.update(m.tiles)
    h.update(repr([(e.kind, e.map, e.x, e.y) for e in world.entities]).encode())
    return h.hexdigest()


def save(state: QuestState, world: World) -> bytes:
    """Serialises ``state`` (of ``world``) to bytes."""
    doc = {"world": world_id(world), "state": state_document(state)}
    return MAGIC + bytes([VERSION]) + zlib.compress(encode_document(doc), 6)


def state_hash(state: QuestState) -> bytes:
    """A 16-byte digest of the dynamic state."""
    return hashlib.blake2b(encode_document(state_document(state)), digest_size=16).digest()


def load(data: bytes, world: World) -> QuestState:
    """Restores a state saved by :func:`save` for the same world; raises ``GameError`` otherwise."""
    return load_document(decode(data), world)


#: The most bytes a save state's document may inflate to: a standard world's state is about 2 KB (the box
#: holds at most BOX_SIZE creatures), so this is room to spare, and bounds what a hostile file costs.
MAX_DOCUMENT_BYTES = 1 << 20


def decode(data: bytes) -> dict[str, Any]:
    """The document inside a save state (``{"world": ..., "state": ...}``), its fields not yet checked; raises
    ``GameError`` for bytes that are not a quest save state of this version."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise GameError(f"a quest save state must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if data[:4] != MAGIC:
        raise GameError("not a quest save state (bad magic bytes)")
    if len(data) < 5 or data[4] != VERSION:
        found = data[4] if len(data) > 4 else "none"
        raise GameError(f"unsupported quest save state version {found} (this longplay reads {VERSION})")
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(data[5:], MAX_DOCUMENT_BYTES + 1)
        if len(text) > MAX_DOCUMENT_BYTES:  # a few KB of zeros can inflate to gigabytes
            raise GameError(f"corrupt quest save state (its document inflates past {MAX_DOCUMENT_BYTES:,} bytes)")
        if not inflater.eof:
            raise GameError("corrupt quest save state (incomplete or truncated stream)")
        doc = json.loads(text)
    except (zlib.error, ValueError) as exc:
        raise GameError(f"corrupt quest save state ({exc})") from None
    except RecursionError:  # JSON nested deeper than Python's recursion limit: never a state save() wrote
        raise GameError("corrupt quest save state (nested too deep)") from None
    if not isinstance(doc, dict):
        raise GameError("corrupt quest save state (not a document)")
    return doc


def load_document(doc: dict[str, Any], world: World) -> QuestState:
    """Restores the state of a :func:`decode`-d document of ``world``; raises ``GameError`` otherwise."""
    if doc.get("world") != world_id(world):
        found = doc.get("world")
        raise GameError(f"save state is from another world {found}, this game's world is {world_id(world)}")
    try:
        return _state_from(doc["state"], world)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise GameError(f"corrupt quest save state (bad field: {exc})") from None


def _mon_from(raw: list) -> Mon:
    if len(raw) != len(_MON_FIELDS):
        raise ValueError("creature record has the wrong length")
    mon = Mon(*(int(v) for v in raw[:8]), [int(v) for v in raw[8]], [int(v) for v in raw[9]])
    if len(mon.moves) != 4 or len(mon.pp) != 4:
        raise ValueError("creature moves")
    return mon


def _state_from(doc: dict[str, Any], world: World) -> QuestState:
    n = len(world.entities)
    done, ex, ey = (bytearray.fromhex(doc[k]) for k in ("done", "entity_x", "entity_y"))
    if not len(done) == len(ex) == len(ey) == n:
        raise ValueError("entity tables do not match the world")
    bag = [int(v) for v in doc["bag"]]
    if len(bag) != NUM_ITEMS:
        raise ValueError("bag size")
    party = [_mon_from(m) for m in doc["party"]]
    if len(party) > PARTY_SIZE:
        raise ValueError("party size")
    raw_battle = doc["battle"]
    battle = Battle(**{k: int(raw_battle[k]) for k in _BATTLE_SCALARS})
    battle.enemy = [_mon_from(m) for m in raw_battle["enemy"]]
    battle.messages = [(int(a), int(b), int(c)) for a, b, c in raw_battle["messages"]]
    scalars = {k: int(doc[k]) for k in _STATE_SCALARS}
    scalars["surfing"] = bool(scalars["surfing"])
    scalars["finished"] = bool(scalars["finished"])
    if not 0 <= scalars["map"] < len(world.maps):
        raise ValueError("map index")
    respawn = tuple(int(v) for v in doc["respawn"])
    if len(respawn) != 3:
        raise ValueError("respawn")
    state = QuestState(
        **scalars, party=party, box=[_mon_from(m) for m in doc["box"]], bag=bag, done=done,
        entity_x=ex, entity_y=ey, respawn=respawn,  # type: ignore[arg-type]
        dialog=[(int(a), int(b), int(c)) for a, b, c in doc["dialog"]], battle=battle,
    )
    _check_ranges(state, world)
    return state


def _within(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} {value} outside {low}..{high}")


def _check_mon(where: str, mon: Mon) -> None:
    _within(f"{where} species", mon.species, 0, len(SPECIES) - 1)
    _within(f"{where} level", mon.level, 1, MAX_LEVEL)
    _within(f"{where} max_hp", mon.max_hp, 1, 1 << 30)  # stats_at gives at least 11 (catching divides by it)
    _within(f"{where} hp", mon.hp, 0, mon.max_hp)
    for move, pp in zip(mon.moves, mon.pp, strict=True):
        _within(f"{where} move", move, -1, len(MOVES) - 1)
        _within(f"{where} pp", pp, 0, 255)


def _check_ranges(state: QuestState, world: World) -> None:
    """Values the rules never produce (a hand-edited save): refused here, not played on."""
    area = world.maps[state.map]
    _within("x", state.x, 0, area.width - 1)
    _within("y", state.y, 0, area.height - 1)
    _within("facing", state.facing, 0, len(Direction) - 1)
    _within("money", state.money, 0, MAX_MONEY)
    _within("ward_steps", state.ward_steps, 0, WARD_STEPS)
    _within("events", state.events, 0, 2 ** len(world.events) - 1)
    _within("menu", state.menu, 0, max(MenuKind))
    _within("dialog_effect", state.dialog_effect, 0, max(Effect))
    _within("respawn map", state.respawn[0], 0, len(world.maps) - 1)
    _within("box size", len(state.box), 0, BOX_SIZE)
    for item, count in enumerate(state.bag):
        _within(f"bag item {item}", count, 0, MAX_ITEM_COUNT)
    for i, mon in enumerate(state.party):
        _check_mon(f"party {i}", mon)
    for i, mon in enumerate(state.box):
        _check_mon(f"box {i}", mon)
    b = state.battle
    _within("battle kind", b.kind, 0, max(BattleKind))
    _within("battle phase", b.phase, 0, max(BattlePhase))
    for i, mon in enumerate(b.enemy):
        _check_mon(f"enemy {i}", mon)
    _within("respawn x", state.respawn[1], 0, world.maps[state.respawn[0]].width - 1)
    _within("respawn y", state.respawn[2], 0, world.maps[state.respawn[0]].height - 1)
    if state.menu == MenuKind.SHOP:
        _within("shop", state.menu_choice, 0, len(world.shops) - 1)
    elif state.menu == MenuKind.BAG_TARGET:
        _within("bag item chosen", state.menu_choice, 0, NUM_ITEMS - 1)
    if state.dialog_effect == Effect.TRAINER_BATTLE:
        _within("challenging trainer", state.dialog_arg, 0, len(world.entities) - 1)
        _within("challenging trainer's team", world.entities[state.dialog_arg].trainer, 0, len(world.trainers) - 1)
    elif state.dialog_effect == Effect.OPEN_SHOP:
        _within("shop to open", state.dialog_arg, 0, len(world.shops) - 1)
    for page in state.dialog:
        _check_page(page, world)
    if b.kind != BattleKind.NONE:  # the engine indexes both sides and reads every queued message
        _within("battle party size", len(state.party), 1, PARTY_SIZE)
        _within("battle player_active", b.player_active, 0, len(state.party) - 1)
        _within("battle enemy team size", len(b.enemy), 1, 1 << 30)
        _within("battle enemy_active", b.enemy_active, 0, len(b.enemy) - 1)
        if b.kind == BattleKind.TRAINER:
            _within("battle trainer", b.trainer, 0, len(world.trainers) - 1)
            _within("battle trainer entity", b.entity, -1, len(world.entities) - 1)
        for msg in b.messages:
            _check_battle_message(msg, world)


def _check_page(page: tuple[int, int, int], world: World) -> None:
    """A text-box page names a template and arguments that exist (what ``dialog.message_text`` reads)."""
    msg, arg0, arg1 = page
    _within("dialog page", msg, 0, max(Msg))
    if msg == Msg.TEXT:
        _within("dialog text", arg0, 0, len(world.texts) - 1)
        return
    template = MESSAGES[msg]
    if msg == Msg.USED_ITEM:
        _within("dialog item", arg0, 0, NUM_ITEMS - 1)
        _within("dialog species", arg1, 0, len(SPECIES) - 1)
        return
    for mark, name, high in (("{s}", "species", len(SPECIES)), ("{i}", "item", NUM_ITEMS),
                             ("{b}", "badge", len(world.badge_names)), ("{a}", "ability", NUM_ABILITIES)):
        if mark in template:
            _within(f"dialog {name}", arg0, 0, high - 1)


def _check_battle_message(msg: tuple[int, int, int], world: World) -> None:
    """A battle message names a template and arguments that exist (what ``battle_message_text`` reads)."""
    kind = msg[0]
    _within("battle message", kind, 0, max(BattleMsg))
    highs = {Arg.SPECIES: len(SPECIES), Arg.MOVE: len(MOVES), Arg.ITEM: NUM_ITEMS, Arg.TRAINER: len(world.trainers),
             Arg.TEXT: len(world.texts)}
    for arg_kind, value in zip(MESSAGE_ARGS[kind], msg[1:], strict=True):
        if arg_kind in highs:
            _within(f"battle message {Arg(arg_kind).name.lower()}", value, 0, highs[arg_kind] - 1)
