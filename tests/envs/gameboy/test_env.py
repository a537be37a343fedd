"""The Game Boy env on the test cartridge: checker, determinism, save states, milestones, ROM errors."""

from __future__ import annotations

import copy
import hashlib
import pickle
import sqlite3
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import longplay.envs  # noqa: F401  (registers the ids)
from longplay.envs.game import NOOP, Button, Game, GameError, Mode
from longplay.envs.gameboy import cartridge
from longplay.envs.gameboy.core import STATE_MAGIC, GameBoyEnv, GameBoyGame
from longplay.envs.gameboy.packs import Pack, get_pack, pack_for_rom
from longplay.envs.gameboy.packs.pokemon_red import RED_SHA1
from longplay.envs.gameboy.packs.testcart import TestCartPack
from longplay.envs.gameboy.roms import find_in_folder, header_checksum

U, D, L, R, A = Button.UP, Button.DOWN, Button.LEFT, Button.RIGHT, Button.A
#: From the start (2, 2) to the key at (15, 3): through the gap at (5, 5), along row 7, up column 16.
TO_KEY = [R] * 3 + [D] * 5 + [R] * 11 + [U] * 4 + [L]
#: From the key to the door at (12, 9), after closing the text box with A.
TO_DOOR = [A, R] + [D] * 6 + [L] * 4


@pytest.fixture(scope="module")
def game() -> GameBoyGame:
    g = GameBoyGame(pack="testcart")
    yield g
    g.close()


def run(g: GameBoyGame, buttons: list[Button | None]) -> None:
    for b in buttons:
        g.press(b)


@pytest.mark.parametrize("obs_mode", ["symbolic", "pixels", "text", "pixels+symbolic+text"])
def test_check_env(obs_mode: str) -> None:
    env = gym.make("longplay/TestCart-v0", obs_mode=obs_mode)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


def test_game_protocol_and_identity(game: GameBoyGame) -> None:
    assert isinstance(game, Game)
    ident = game.identity()
    assert ident["backend"] == "gameboy" and ident["pack"] == "testcart"
    assert ident["rom_sha1"] == cartridge.rom_sha1()
    assert (ident["frameskip"], ident["release_after"]) == (24, 8)
    assert [m.id for m in game.milestones()] == ["got_key", "opened_door"]


def test_walls_block_and_steps_move_one_tile(game: GameBoyGame) -> None:
    game.reset(0)
    s = game.state()
    assert (s.x, s.y, s.mode) == (2, 2, Mode.OVERWORLD)
    run(game, [U])  # wall above row 1? no: row 1 is floor, row 0 the wall
    run(game, [U, U])
    s = game.state()
    assert (s.x, s.y, s.facing) == (2, 1, "up")
    assert game.press(None) == 24 and game.state().y == 1
    run(game, [L, L])
    assert game.state().x == 1


def test_the_text_view_counts_steps_past_255_and_draws_the_player(game: GameBoyGame) -> None:
    # wSteps is 16 bits: a reader of its low byte alone went back to 0 at the 256th tile walked
    game.reset(0)
    run(game, [R, L] * 130)
    assert game.state().extra["steps"] == 260 and (game.state().x, game.state().y) == (2, 2)
    text = game.text()
    assert "steps walked: 260" in text
    room = text.split("y grows down):\n", 1)[1].splitlines()
    assert room[2][2] == "@" and sum(row.count("@") for row in room) == 1


def test_the_frame_after_a_press_shows_the_move(game: GameBoyGame) -> None:
    # a press renders its last frame: a pixel agent saw the start screen for ever when no tick of a press rendered
    game.reset(0)
    start = game.frame()
    game.press(R)
    moved = game.frame()
    assert game.state().x == 3 and (moved != start).any()
    game.press(L)
    assert game.state().x == 2 and (game.frame() != moved).any()


def test_milestones_by_the_d_pad() -> None:
    env = gym.make("longplay/TestCart-v0", obs_mode="text")
    obs, info = env.reset(seed=1)
    assert info["milestones"] == {} and "Key found: no" in obs and env.unwrapped.game.state().bag == ()
    rewards = []
    for b in TO_KEY:
        obs, reward, terminated, truncated, info = env.step(b)
        rewards.append(reward)
    assert rewards[-1] == 1.0 and sum(rewards) == 1.0 and not terminated
    assert info["new_milestones"] == ("got_key",) and info["milestones"] == {"got_key": len(TO_KEY)}
    assert "Dialog (press A to close): YOU FOUND THE / SILVER KEY!" in obs
    game = env.unwrapped.game
    assert game.state().mode == Mode.DIALOG and game.state().dialog == "YOU FOUND THE\nSILVER KEY!"
    assert game.state().bag == (("SILVER KEY", 1),)
    env.step(R)  # the d-pad does nothing while the box is open
    assert game.state().x == 15
    for b in TO_DOOR:
        obs, reward, terminated, truncated, info = env.step(b)
    assert reward == 1.0 and terminated and info["progress"] == 1.0
    assert list(info["milestones"]) == ["got_key", "opened_door"]
    assert game.state().dialog == "YOU OPENED THE\nGOLDEN DOOR!"
    env.close()


def test_locked_door_needs_the_key(game: GameBoyGame) -> None:
    game.reset(0)
    path = [R] * 3 + [D] * 5 + [R] * 7 + [D, D]  # to (12, 9)'s neighbour (12, 8)... via row 7
    run(game, path)
    s = game.state()
    assert (s.x, s.y) == (12, 8) and s.mode == Mode.DIALOG
    assert s.dialog == "THE DOOR IS LOCKED\nFIND THE KEY FIRST" and game.milestone_mask() == 0
    run(game, [A, D])
    assert game.state().y == 8  # still shut


@pytest.mark.parametrize("button", [-1, -8, 8, 99, 2.5, "a", True])
def test_the_game_refuses_a_button_that_does_not_exist(game: GameBoyGame, button: Any) -> None:
    """``press(-1)`` indexed the button names from the end and pressed SELECT without a word, 8 raised an
    IndexError and 2.5 a TypeError; now each is the quest game's one line and the game is left as it was."""
    from longplay.envs.quest.game import QuestGame

    game.reset(0)
    before = game.state_hash()
    with pytest.raises(ValueError) as refused:
        game.press(button)
    assert game.state_hash() == before and "\n" not in str(refused.value)
    with pytest.raises(ValueError) as quest_refused:
        QuestGame().press(button)
    assert str(refused.value) == str(quest_refused.value)
    game.press(None)  # no button still advances
    assert game.state_hash() != before


def test_the_env_refuses_an_action_that_does_not_exist_as_quest_does() -> None:
    messages = []
    for env_id in ("longplay/TestCart-v0", "longplay/QuestMini-v0"):
        env = gym.make(env_id)
        env.reset(seed=0)
        with pytest.raises(ValueError) as refused:
            env.step(-1)
        messages.append(str(refused.value))
        env.close()
    assert messages[0] == messages[1] == "invalid action -1; valid: 0..7"


def test_same_buttons_same_bytes() -> None:
    rng = np.random.default_rng(0)
    buttons = [Button(int(b)) for b in rng.integers(0, 8, size=60)]
    a, b = GameBoyGame(pack="testcart"), GameBoyGame(pack="testcart")
    for g in (a, b):
        g.reset(0)
        run(g, buttons)
    assert a.state_hash() == b.state_hash()
    assert np.array_equal(a.frame(), b.frame()) and np.array_equal(a.ram(), b.ram())
    assert a.save_state() == b.save_state()
    a.press(Button.RIGHT)
    assert a.state_hash() != b.state_hash()
    a.close()
    b.close()


def test_save_load_round_trip(game: GameBoyGame) -> None:
    game.reset(0)
    run(game, TO_KEY[:10])
    saved = game.save_state()
    assert saved.startswith(STATE_MAGIC)
    rest = TO_KEY[10:] + TO_DOOR
    run(game, rest)
    end = (game.state_hash(), game.frame(), game.milestone_mask())
    game.load_state(saved)
    assert (game.state().x, game.state().y) == (7, 7)
    run(game, rest)
    assert game.state_hash() == end[0] and np.array_equal(game.frame(), end[1]) and end[2] == 0b11
    # A raw PyBoy state of the same ROM loads too.
    game.load_state(saved[len(STATE_MAGIC) + 36:])
    assert game.state().x == 7


def test_reset_restores_the_start_without_rebooting(game: GameBoyGame) -> None:
    game.reset(0)
    start = game.state_hash()
    run(game, TO_KEY)
    game.reset(123)
    assert game.state_hash() == start and game.milestone_mask() == 0


def test_corrupt_and_foreign_states_raise_game_error(game: GameBoyGame) -> None:
    game.reset(0)
    run(game, [R])
    good = game.save_state()
    corrupt = bytearray(good)
    corrupt[len(corrupt) // 2] ^= 0xFF
    foreign = STATE_MAGIC + bytes.fromhex(RED_SHA1) + good[len(STATE_MAGIC) + 20:]
    for bad, match in [(bytes(corrupt), "corrupt"), (foreign, RED_SHA1), (b"LPGB\x09junk", "version"),
                       (b"not a state at all", "could not load"), (good[:1000], "corrupt")]:
        with pytest.raises(GameError, match=match) as info:
            game.load_state(bad)
        assert "\n" not in str(info.value)
    # another ROM's state names both ROMs: the one it was saved on and the one this game runs
    with pytest.raises(GameError) as info:
        game.load_state(foreign)
    assert str(info.value) == (f"the state was saved on the ROM with SHA-1 {RED_SHA1}, but this game runs "
                               f"{cartridge.rom_sha1()} ({cartridge.TITLE})")
    # as it was, after the raw load PyBoy refused too (it put the game back at its start)
    assert game.save_state() == good
    run(game, [R])  # and still usable
    assert game.state().x == 4


def _other_cartridge(cartridge_type: int, ram_size: int, rom_size: int = 0) -> bytes:
    """The test cartridge retitled as another game with another mapper and cartridge RAM (header checksum fixed);
    ``rom_size`` (the $0148 code) > 0 adds ROM banks, bank ``k`` filled with ``k``."""
    rom = bytearray(cartridge.build_rom())
    rom += b"".join(bytes([bank]) * 0x4000 for bank in range(2, 2 << rom_size))
    rom[0x134:0x139] = b"OTHER"
    rom[0x147], rom[0x148], rom[0x149] = cartridge_type, rom_size, ram_size
    rom[0x14D] = header_checksum(bytes(rom))
    return bytes(rom)


def test_a_raw_state_of_another_cartridge_is_refused(game: GameBoyGame) -> None:
    """PyBoy read the part of another cartridge's raw state it expected and ignored the rest (its cartridge RAM), so
    an MBC3+RAM game's state loaded silently into the test cartridge: the bytes PyBoy leaves unread refuse it."""
    other = GameBoyGame(rom=_other_cartridge(0x13, 0x03), pack="generic")  # MBC3+RAM+BATTERY, 32 KiB of RAM
    other.press(R)
    foreign = other.save_emulator_state()
    other.close()
    game.reset(0)
    run(game, [D])
    message = r"PyBoy could not load the state \(24576 bytes past the end of its state:"
    with pytest.raises(GameError, match=message) as info:
        game.load_state(foreign)
    assert "\n" not in str(info.value)
    assert (game.state().x, game.state().y) == (2, 3)  # as it was (it was put back at its start)
    raw = game.save_emulator_state()
    with pytest.raises(GameError, match="3 bytes past the end"):
        game.load_state(raw + b"end")
    game.load_state(raw)  # its own raw state still loads


@pytest.mark.parametrize(("before", "change"), [
    pytest.param({}, {(0, 0xA010): 7}, id="cartridge RAM, disabled"),
    pytest.param({}, {(3, 0xBFFF): 7}, id="cartridge RAM, another bank"),
    pytest.param({}, {0x2000: 5}, id="ROM bank register"),
    pytest.param({}, {0x0000: 0x0A}, id="RAM enable register"),
    pytest.param({(2, 0xA000): 7, 0x0000: 0x0A}, {0x4000: 2}, id="RAM bank register"),
    pytest.param({}, {0xFEA0: 7}, id="$FEA0-$FEFF"),
    pytest.param({0xFFFF: 0x01}, {0xFFFF: 0x05}, id="IE"),
    pytest.param({}, {0xFF04: 0}, id="DIV"),
    pytest.param({0xFF06: 0}, {0xFF06: 0x55}, id="TMA"),
    pytest.param({0xFF07: 0}, {0xFF07: 0x04}, id="TAC"),
])
def test_the_state_hash_covers_the_cartridge_ram_mapper_and_registers(before: dict, change: dict) -> None:
    """Two states that differ only in cartridge RAM or the mapper's bank registers hashed equal, so verify could miss
    a divergence there (a game's save file lives in cartridge RAM) and pass an edited keyframe."""
    game = GameBoyGame(rom=_other_cartridge(0x13, 0x03, rom_size=2), pack="generic")  # MBC3+RAM+BATTERY, 8 banks
    game.press(R)
    for address, value in before.items():
        game.memory[address] = value
    start, saved = game.state_hash(), game.save_state()
    for address, value in change.items():
        game.memory[address] = value
    assert game.save_state() != saved  # a difference in the machine state
    assert game.state_hash() != start
    game.load_state(saved)
    assert game.state_hash() == start
    game.close()


def _cart_replay(path: Path, *statements: str, **env_kwargs: Any) -> Path:
    """A replay of the test cartridge (four steps), then edited by the SQL ``statements``."""
    from longplay.replays.recorder import Recorder

    with Recorder(gym.make("longplay/TestCart-v0", obs_mode="symbolic", **env_kwargs), path, agent="scripted") as rec:
        rec.reset(seed=0)
        for button in TO_KEY[:4]:
            rec.step(int(button))
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()
    return path


def test_a_replay_recorded_before_state_hash_versions_verifies(tmp_path: Path) -> None:
    """Replays recorded before the state hash covered cartridge RAM hold version 1 hashes and no state_hash_version:
    verify failed every one of them ("state_hash_version recorded None, rebuilt 2"); it rebuilds their game hashing
    as they did."""
    from longplay.replays.reader import ReplayReader
    from longplay.replays.verify import verify

    # as an older longplay wrote it: version 1 hashes, and no state_hash_version option or identity entry
    path = _cart_replay(tmp_path / "old.lpr",
                        "UPDATE header SET value = json_remove(value, '$.state_hash_version') WHERE key = 'env_kwargs'",
                        state_hash_version=1)
    with ReplayReader(path) as replay:
        assert "state_hash_version" not in replay.header["env_kwargs"]
        assert "state_hash_version" not in replay.header["identity"]
        assert "state_hash_version" not in replay.episode(0).identity
        recorded = replay.checkpoints(0)[-1]
        assert replay.seek(recorded.step).state_hash() == recorded.hash  # the viewer's game hashes as recorded
    newest = GameBoyEnv(pack="testcart")
    newest.reset(seed=0)
    with ReplayReader(path) as replay:
        assert newest.game.state_hash() != replay.episode(0).start_hash  # version 1 hashes: not today's
    newest.close()
    report = verify(path)
    assert report.ok and report.hashes >= 2, report.summary()


def test_a_replay_of_a_newer_state_hash_fails_verify_naming_it(tmp_path: Path) -> None:
    """A replay whose hashes a newer longplay computed (a version this one does not know) fails verify in one line
    naming the version, not with "start state hash differs"."""
    from longplay.replays.verify import verify

    path = _cart_replay(tmp_path / "new.lpr",
                        "UPDATE header SET value = json_set(value, '$.state_hash_version', 3) WHERE key = 'identity'",
                        "UPDATE episodes SET identity = json_set(identity, '$.state_hash_version', 3)")
    report = verify(path)
    assert not report.ok
    assert "(state_hash_version recorded 3, rebuilt 2)" in report.problems[0], report.problems
    assert "\n" not in report.summary()


def test_a_game_hashing_as_version_1_has_the_identity_version_1_recorded() -> None:
    """Version 1 hashes what longplay hashed before cartridge RAM (another digest than version 2's), and its identity
    is the one replays of then recorded: no state_hash_version, which rebuilds it."""
    old, new = GameBoyGame(pack="testcart", state_hash_version=1), GameBoyGame(pack="testcart")
    assert old.state_hash() != new.state_hash()
    assert old.identity() == {k: v for k, v in new.identity().items() if k != "state_hash_version"}
    assert new.identity()["state_hash_version"] == 2
    assert GameBoyEnv.options_from_identity(old.identity()) == {"state_hash_version": 1}
    assert GameBoyEnv.options_from_identity(new.identity()) == {"state_hash_version": 2}
    assert GameBoyEnv.options_from_identity({"state_hash_version": 3}) == {}  # left to verify's identity check
    twin = pickle.loads(pickle.dumps(old))
    assert twin.state_hash() == old.state_hash() and twin.identity() == old.identity()
    for game in (old, new, twin):
        game.close()


def test_ram_slice_noop_and_pixels() -> None:
    env = GameBoyEnv(pack="testcart", obs_mode="symbolic+pixels", ram_slice=(0xC000, 0xC010), noop=True,
                     grayscale=True, downsample=2)
    obs, _ = env.reset(seed=0)
    assert obs["symbolic"]["ram"].shape == (16,) and obs["symbolic"]["ram"][0] == 2  # wPlayerX
    assert obs["pixels"].shape == (72, 80, 1)
    assert list(obs["symbolic"]["state"]) == [2, 2, 0, 0, 0]
    obs, *_ = env.step(NOOP)
    assert obs["symbolic"]["ram"][0] == 2 and env.action_space.n == 9
    env.close()


def test_numpy_integer_options_are_taken() -> None:
    game = GameBoyGame(pack="testcart", frameskip=np.int64(12), release_after=np.uint8(4),
                       random_start_frames=np.int32(3), ram_slice=(np.int64(0xC000), np.int64(0xC004)))
    assert game.press(Button.A) == 12 and type(game.frameskip) is int
    assert game.identity()["ram_slice"] == [0xC000, 0xC004] and game.ram().shape == (4,)
    game.close()


@pytest.mark.parametrize(("frameskip", "release_after"), [(24, 8), (2, 1), (12, 11)])
def test_a_step_runs_frameskip_frames_and_a_one_frame_press_counts(frameskip: int, release_after: int) -> None:
    """docs/gameboy.md: a step holds the button for ``release_after`` frames of a ``frameskip``-frame window. The
    cartridge's own frame counter (wFrames) advances by the window, with a button or without; a press held for a
    single frame (``release_after=1``) is seen by the game as any other."""
    game = GameBoyGame(pack="testcart", frameskip=frameskip, release_after=release_after)
    game.reset(0)
    memory = game.memory
    before = memory[cartridge.W_FRAMES]
    assert game.press(R) == frameskip
    assert (memory[cartridge.W_FRAMES] - before) % 256 == frameskip
    assert (game.state().x, game.state().facing) == (3, "right")
    before = memory[cartridge.W_FRAMES]
    game.press(None)
    assert (memory[cartridge.W_FRAMES] - before) % 256 == frameskip
    game.close()


def test_random_start_frames_vary_with_the_seed() -> None:
    g = GameBoyGame(pack="testcart", random_start_frames=30)
    hashes = set()
    for seed in range(4):
        g.reset(seed)
        hashes.add(g.state_hash())
    g.reset(2)
    again = g.state_hash()
    g.reset(2)
    assert g.state_hash() == again and len(hashes) > 1
    g.close()


def test_pickle_round_trip(game: GameBoyGame) -> None:
    game.reset(0)
    run(game, TO_KEY[:5])
    clone = pickle.loads(pickle.dumps(game))
    assert clone.state_hash() == game.state_hash()
    clone.reset(0)
    game.reset(0)
    assert clone.state_hash() == game.state_hash()
    clone.close()


def test_a_bytes_start_state_survives_the_spec_round_trip(game: GameBoyGame) -> None:
    """``gym.make(id, start_state=<bytes>)`` recorded the bytes in ``env.spec``, so ``env.spec.to_json()`` raised
    TypeError: the spec records them as base64 text (as StartFromState does) and makes the same env again."""
    game.reset(0)
    run(game, TO_KEY[:5])
    state = game.save_state()
    env = gym.make("longplay/TestCart-v0", start_state=state, obs_mode="text")
    env.reset(seed=0)
    for spec in (env.spec, gym.envs.registration.EnvSpec.from_json(env.spec.to_json())):
        assert "start_state" not in spec.kwargs
        again = gym.make(spec)
        again.reset(seed=0)
        assert again.unwrapped.game.state_hash() == env.unwrapped.game.state_hash() == game.state_hash()
        again.close()
    env.close()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"start_state_base64": "not base64!"}, "start_state_base64 is not base64 text"),
    ({"start_state_base64": b"AAAA"}, r"start_state_base64 is not base64 text \(got bytes\)"),
    ({"start_state_base64": "AAAA", "start_state": b"\0\0\0"}, "give start_state or start_state_base64"),
])
def test_a_bad_start_state_base64_is_one_line(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        GameBoyEnv(pack="testcart", **kwargs)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("clone", [pickle.dumps, copy.deepcopy], ids=["pickle", "deepcopy"])
def test_a_closed_env_refuses_to_pickle_in_one_line(clone: Callable[[Any], Any]) -> None:
    """Pickling a closed env raised AttributeError ('NoneType' object has no attribute 'save_state'): its stopped
    emulator has no state to save, and a copy of a closed env would only raise, so it is refused, saying so."""
    env = gym.make("longplay/TestCart-v0")
    env.reset(seed=0)
    env.close()
    with pytest.raises(gym.error.ClosedEnvironmentError, match="cannot pickle a closed Game Boy game") as refused:
        clone(env)
    assert "\n" not in str(refused.value)


class SignedPack(TestCartPack):
    """A pack of one's own, registered nowhere: the test cartridge with its text view signed."""

    __test__ = False
    name = "signed"

    def text(self, memory: Any, rom: Any) -> str:
        return "signed\n" + super().text(memory, rom)


class UnnamedPack(TestCartPack):
    """A pack of one's own that keeps the name of the pack it extends."""

    __test__ = False

    def text(self, memory: Any, rom: Any) -> str:
        return "unnamed"


@pytest.mark.parametrize("pack", [SignedPack, UnnamedPack])
@pytest.mark.parametrize("clone", [lambda env: pickle.loads(pickle.dumps(env)), copy.deepcopy],
                         ids=["pickle", "deepcopy"])
def test_an_env_with_a_pack_of_ones_own_pickles_with_it(pack: type[Pack], clone: Callable[[Any], Any]) -> None:
    """Pickling kept the pack's name only: a pack registered nowhere failed to unpickle ("unknown game pack
    'signed'", as SubprocVecEnv or deepcopy would), and one that kept its base's name came back as the base."""
    env = GameBoyEnv(pack=pack(), obs_mode="text")
    env.reset(seed=0)
    env.step(int(R))
    twin = clone(env)
    assert type(twin.game.pack) is pack and twin.game.text() == env.game.text()
    assert twin.game.state_hash() == env.game.state_hash()
    twin.close()
    env.close()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"frameskip": 0}, "frameskip"),
    # --set frameskip=true was frameskip 1 ("invalid release_after 8 ... (frameskip is True)"), and
    # random_start_frames=true one frame that never idled; a huge count was an OverflowError traceback at the first
    # step or reset, past PyBoy's C int
    ({"frameskip": True}, "invalid frameskip True: must be an integer from 2 to 216000"),
    # "invalid release_after 8: must be an integer in 1..frameskip-1 (frameskip is 1)", where none is, and the
    # frameskip message said "from 1"
    ({"frameskip": 1, "release_after": 1}, r"invalid frameskip 1: must be an integer from 2 to 216000 \(a step "),
    ({"release_after": True}, "invalid release_after True"),
    ({"random_start_frames": True}, "invalid random_start_frames True: must be an integer from 0 to 216000"),
    ({"frameskip": 2**40, "release_after": 1}, "invalid frameskip 1099511627776: must be an integer from 2 to"),
    ({"random_start_frames": 2**40}, "invalid random_start_frames 1099511627776"),
    ({"release_after": 24}, "release_after"),
    ({"ram_slice": (0xE000, 0xC000)}, "ram_slice"),
    # not a pair (--set ram_slice=5, =[49152]): a TypeError from gymnasium.make quoting every kwarg, or Python's
    # "not enough values to unpack (expected 2, got 1)"
    ({"ram_slice": 5}, r"invalid ram_slice 5: expected \(start, end\)"),
    ({"ram_slice": [0xC000]}, r"invalid ram_slice \[49152\]: expected \(start, end\)"),
    ({"ram_slice": (0xC000, 0xC010, 1)}, "invalid ram_slice"),
    ({"ram_slice": (True, 0xC010)}, "invalid ram_slice"),
    ({"pack": "zelda"}, "unknown game pack 'zelda'; valid packs: generic, pokemon_blue"),
    # a TypeError ("unhashable type: 'list'") where the command line's --set pack=[1] gave a list
    ({"pack": ["testcart"]}, r"unknown game pack \['testcart'\]; valid packs: generic, pokemon_blue"),
    ({"state_hash_version": 3}, "invalid state_hash_version 3: this longplay hashes Game Boy states as version 1 or 2"),
    ({"state_hash_version": True}, "invalid state_hash_version True"),
    ({"state_hash_version": "2"}, "invalid state_hash_version '2'"),
])
def test_bad_config_is_one_line(kwargs: dict, match: str) -> None:
    with pytest.raises(GameError, match=match) as info:
        GameBoyGame(**{"pack": "testcart", **kwargs})
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------------------------------ ROM errors
def _one_line_error(**kwargs: object) -> str:
    with pytest.raises(GameError) as info:
        GameBoyGame(**kwargs)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.mark.parametrize(("kwargs", "message"), [
    # --set rom=5 was gymnasium's TypeError quoting every kwarg ("expected str, bytes or os.PathLike object, not
    # int"); --set start_state=5 ran bytes(5), five zero bytes that PyBoy refused as "No data"
    ({"rom": 5}, "invalid rom 5: expected a path to a ROM file or the ROM bytes, not int"),
    ({"rom": True, "pack": "pokemon_red"},
     "invalid rom True: expected a path to a ROM file or the ROM bytes, not bool"),
    ({"start_state": 5}, "invalid start_state 5: expected a path to a state file or the state bytes, not int"),
    ({"start_state": True}, "invalid start_state True: expected a path to a state file or the state bytes, not bool"),
    # an empty path (--set rom=$UNSET) was the current folder: "ROM path is not a file: .", and for start_state
    # "invalid start_state .: it is a folder, not a state file"
    ({"rom": "", "pack": "generic"}, "invalid rom '': an empty path"),
    ({"rom": "", "pack": "pokemon_red"},
     f"invalid rom '': an empty path; the game needs Pokemon Red (US) SHA-1 {RED_SHA1}"),
    ({"start_state": ""}, "invalid start_state '': an empty path"),
])
def test_rom_and_start_state_of_another_type(kwargs: dict, message: str) -> None:
    assert _one_line_error(**{"pack": "testcart", **kwargs}) == message


@pytest.mark.parametrize("env_id", ["longplay/PokemonRed-v0", "longplay/TestCart-v0"])
def test_without_pyboy_the_missing_extra_is_said_first(env_id: str, tmp_path: Path, capsys: pytest.CaptureFixture,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the gameboy extra, ``--env longplay/PokemonRed-v0`` asked for the ROM (pass rom=PATH...) and only
    once one was found said that PyBoy is missing: the extra is said first, in one line."""
    from longplay.agents.cli import main

    monkeypatch.setitem(sys.modules, "pyboy", None)  # import pyboy raises ImportError, as without the extra
    monkeypatch.delenv("LONGPLAY_ROMS", raising=False)
    with pytest.raises(GameError, match=r"needs PyBoy: pip install 'longplay\[gameboy\]'"):
        gym.make(env_id)
    runs = tmp_path / "runs"
    assert main(["run", "--env", env_id, "--steps", "3", "--runs-dir", str(runs), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "longplay[gameboy]" in err and "ROM" not in err and err.count("\n") == 1, err
    assert not list(runs.glob("*.lpr"))


def test_missing_rom_file(tmp_path: Path) -> None:
    assert _one_line_error(rom=tmp_path / "nope.gb") == f"ROM file not found: {tmp_path / 'nope.gb'}"


def test_a_rom_path_too_long_for_a_path_is_a_short_error() -> None:
    """A spec that kept ``rom`` bytes went into replay headers as hex; rebuilding read it as a path and raised
    OSError "File name too long" with the whole ROM in the message."""
    message = _one_line_error(rom=cartridge.build_rom().hex())
    assert message.startswith("invalid rom path 0000") and "characters): File name too long" in message
    assert len(message) < 200


def test_an_unreadable_rom_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ROM file the user may not read (or a failing disk) was a PermissionError traceback, and one such file in
    $LONGPLAY_ROMS stopped the search for the right one. (Mocked: the tests may run as root, who reads anything.)"""
    path = tmp_path / "locked.gb"
    path.write_bytes(cartridge.build_rom())
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "locked.gb":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    assert _one_line_error(rom=path) == f"cannot read the ROM file {path}: Permission denied"
    assert _one_line_error(rom=path, pack="pokemon_red").startswith(f"cannot read the ROM file {path}: Permission")
    (tmp_path / "mine.gb").write_bytes(cartridge.build_rom())  # sorted after locked.gb
    assert find_in_folder(tmp_path, {cartridge.rom_sha1(): "test"}) == tmp_path / "mine.gb"


def test_not_a_rom(tmp_path: Path) -> None:
    path = tmp_path / "notes.gb"
    path.write_text("hello")
    assert "is not a Game Boy ROM: found 5 bytes" in _one_line_error(rom=path)
    assert "not a valid Game Boy ROM: header checksum" in _one_line_error(rom=bytes(0x8000))


def test_bad_header_checksum(tmp_path: Path) -> None:
    rom = bytearray(cartridge.build_rom())
    rom[0x14D] ^= 0xFF
    path = tmp_path / "bad.gb"
    path.write_bytes(bytes(rom))
    message = _one_line_error(rom=path)
    assert f"header checksum at $014D is ${rom[0x14D]:02X}" in message and str(path) in message


def _with_header(rom: bytes, **fields: int) -> bytes:
    """``rom`` with header bytes changed (``at_0x148=2``) and its header checksum fixed."""
    data = bytearray(rom)
    for name, value in fields.items():
        data[int(name.removeprefix("at_"), 16)] = value
    data[0x14D] = header_checksum(bytes(data))
    return bytes(data)


def test_a_truncated_rom_is_refused(tmp_path: Path) -> None:
    """A dump cut short at a bank boundary passed every check, and PyBoy mirrors the banks it lacks (a bank number
    is taken modulo the banks in the file): the game ran on whatever those banks held, with the generic pack or,
    titled POKEMON RED, the Pokemon pack and a warning about an unknown revision."""
    rom = _with_header(cartridge.build_rom(), at_0x147=0x03, at_0x148=0x02)  # MBC1+RAM+BATTERY, 128 KiB
    path = tmp_path / "cut.gb"
    path.write_bytes(rom)
    message = _one_line_error(rom=path)
    assert message == (f"{path} is truncated: its header ($0148) gives a ROM of 131072 bytes, the file holds 32768 "
                       "(a dump cut short?)")
    assert "truncated" in _one_line_error(rom=rom, pack="generic")
    # a file longer than its header says (an overdump, padding) still runs, as PyBoy runs it
    GameBoyGame(rom=_with_header(cartridge.build_rom() + bytes(0x8000)), pack="generic").close()


def test_a_rom_cut_short_of_the_largest_header_size_is_refused() -> None:
    # $0148 = $08, 8 MiB: the largest size the check knows, and the one a cut dump of a big ROM declares
    rom = _with_header(cartridge.build_rom(), at_0x147=0x19, at_0x148=0x08)  # MBC5
    assert _one_line_error(rom=rom) == ("the ROM bytes is truncated: its header ($0148) gives a ROM of 8388608 bytes, "
                                        "the file holds 32768 (a dump cut short?)")


def test_the_rom_folder_is_searched_with_its_subfolders(tmp_path: Path) -> None:
    # docs/gameboy.md: LONGPLAY_ROMS is searched "(and its subfolders)", e.g. a folder per console
    (tmp_path / "gb").mkdir()
    (tmp_path / "gb" / "mine.gb").write_bytes(cartridge.build_rom())
    assert find_in_folder(tmp_path, {cartridge.rom_sha1(): "test"}) == tmp_path / "gb" / "mine.gb"


@pytest.mark.parametrize("content", [None, b"", b"hello", bytes(0x8000)])
def test_no_rom_for_a_pack_names_the_sha1_it_expects(content: bytes | None, tmp_path: Path) -> None:
    path = tmp_path / "pokered.gb"
    if content is not None:
        path.write_bytes(content)
    message = _one_line_error(rom=path, pack="pokemon_red")
    assert str(path) in message and message.endswith(f"; the game needs Pokemon Red (US) SHA-1 {RED_SHA1}")


def test_wrong_rom_for_the_pack(tmp_path: Path) -> None:
    path = tmp_path / "red.gb"
    path.write_bytes(cartridge.build_rom())
    message = _one_line_error(rom=path, pack="pokemon_red")
    assert f"SHA-1 {cartridge.rom_sha1()}" in message
    assert f"expected Pokemon Red (US) SHA-1 {RED_SHA1}" in message


def test_rom_from_the_folder_and_missing_from_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LONGPLAY_ROMS", raising=False)
    assert "set LONGPLAY_ROMS to a folder" in _one_line_error(pack="pokemon_red")
    monkeypatch.setenv("LONGPLAY_ROMS", str(tmp_path))
    (tmp_path / "other.gb").write_bytes(cartridge.build_rom())
    message = _one_line_error(pack="pokemon_blue")
    assert f"no ROM for Pokemon Blue (US) in LONGPLAY_ROMS={tmp_path}" in message and "d7037c83" in message
    with pytest.raises(GameError, match="no ROM for Pokemon Red"):
        gym.make("longplay/PokemonRed-v0")
    # Each registered id asks for its own game (docs/gameboy.md's table of ids and SHA-1s)
    with pytest.raises(GameError, match=r"no ROM for Pokemon Blue \(US\) .*d7037c83e1ae5b39bde3c30787637ba1d4c48ce2"):
        gym.make("longplay/PokemonBlue-v0")


def test_pack_chosen_by_sha1_and_generic_fallback(tmp_path: Path) -> None:
    assert pack_for_rom(cartridge.rom_sha1(), "").name == "testcart"
    assert pack_for_rom("0" * 40, "SOME GAME").name == "generic"
    with pytest.warns(UserWarning, match="not a known release of Pokemon Red"):
        assert pack_for_rom("0" * 40, "POKEMON RED").name == "pokemon_red"
    game = GameBoyGame(rom=cartridge.build_rom())  # pack="auto"
    assert game.pack.name == "testcart"
    game.close()
    generic = GameBoyGame(rom=cartridge.build_rom(), pack="generic")
    assert generic.milestones() == () and "no game pack" in generic.text()
    generic.press(Button.A)
    generic.close()
    assert get_pack("pokemon_blue").sha1s == {"d7037c83e1ae5b39bde3c30787637ba1d4c48ce2": "Pokemon Blue (US)"}


def test_start_state_from_a_file(game: GameBoyGame, tmp_path: Path) -> None:
    game.reset(0)
    run(game, [R, R])
    path = tmp_path / "two_right.state"
    path.write_bytes(game.save_state())
    other = GameBoyGame(pack="testcart", start_state=path)
    other.reset(5)
    assert other.state().x == 4
    assert other.identity()["start_state_sha1"] != game.identity()["start_state_sha1"]
    other.close()
    assert "start state file not found" in _one_line_error(pack="testcart", start_state=tmp_path / "none")
    assert "could not load the state" in _one_line_error(pack="testcart", start_state=b"garbage")


def test_an_unreadable_start_state_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was a PermissionError traceback (mocked: the tests may run as root)."""
    path = tmp_path / "locked.state"
    path.write_bytes(b"x")

    def read_bytes(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    assert _one_line_error(pack="testcart", start_state=path) == (
        f"cannot read the start state file {path}: Permission denied")


def test_a_start_state_folder_is_named_a_folder(tmp_path: Path) -> None:
    """``start_state=`` naming a folder said 'start state file not found', though the path is there."""
    assert _one_line_error(pack="testcart", start_state=tmp_path) == (
        f"invalid start_state {tmp_path}: it is a folder, not a state file")


def test_a_reset_without_a_seed_idles_as_seed_0(game: GameBoyGame) -> None:
    """``reset()`` with no seed never ran ``random_start_frames``: it is seed 0 now, as in every game (the env
    always passes one)."""
    g = GameBoyGame(pack="testcart", random_start_frames=30)
    g.reset(0)
    seeded = g.state_hash()
    g.reset(3)
    g.reset()
    assert g.state_hash() == seeded
    game.reset()
    assert game.state_hash() != seeded  # seed 0 idles 25 frames: the start itself is another state
    g.close()


def _older(state: bytes, by: int) -> bytes:
    """A raw PyBoy state with its version byte (the first) lowered ``by``."""
    return bytes([state[0] - by]) + state[1:]


def test_a_state_from_an_older_pyboy_warns_naming_its_version(game: GameBoyGame) -> None:
    """PyBoy's own 'older version' warning was hidden (log_level ERROR): an old state loaded without a word."""
    raw = game.save_emulator_state()
    version = raw[0]
    with pytest.warns(UserWarning, match=rf"PyBoy state version {version - 1}, from a PyBoy older than this one "
                                         rf"\(state version {version}"):
        older = GameBoyGame(pack="testcart", start_state=_older(raw, 1))
    with pytest.warns(UserWarning, match=rf"state version {version - 1}"):
        older.load_state(_older(raw, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # this PyBoy's states, and every reset, say nothing
        older.reset(0)
        older.load_state(raw)
        older.load_state(game.save_state())
        GameBoyGame(pack="testcart", start_state=raw).close()
    older.close()


def test_a_state_an_older_pyboy_saved_that_does_not_load_says_so(game: GameBoyGame) -> None:
    raw = game.save_emulator_state()
    with pytest.raises(GameError, match=rf"state version {raw[0] - 2}, from a PyBoy older than this one"):
        GameBoyGame(pack="testcart", start_state=_older(raw, 2))


def _wrapped(game: GameBoyGame, raw: bytes) -> bytes:
    """``raw`` under longplay's header for ``game``'s ROM, its checksum right."""
    return STATE_MAGIC + bytes.fromhex(game.rom.sha1) + hashlib.blake2b(raw, digest_size=16).digest() + raw


def test_a_longplay_state_pyboy_refuses_after_its_checks_leaves_the_game_as_it_was_or_says_so(game: GameBoyGame
                                                                                            ) -> None:
    """A longplay state of this ROM, this PyBoy's version and size loads with nothing kept to put back; others are
    tried with the emulator saved first. Only bytes made to pass the checksum can fail the first way."""
    game.reset(0)
    run(game, [R, D])
    before = game.save_state()
    raw = game.save_emulator_state()
    with pytest.raises(GameError, match=rf"state version {raw[0] - 2}, from a PyBoy older"):
        game.load_state(_wrapped(game, _older(raw, 2)))
    assert game.save_state() == before
    with pytest.warns(UserWarning, match=rf"state version {raw[0] - 1}"):
        game.load_state(_wrapped(game, _older(raw, 1)))
    game.load_state(before)
    cgb = bytearray(raw)
    cgb[5] = 1  # the CGB-mode byte (after the version, boot ROM, KEY0, KEY1 and double speed bytes)
    with pytest.raises(GameError, match=r"\*is\* CGB-mode.*; the game was put back at its start state$"):
        game.load_state(_wrapped(game, bytes(cgb)))
    assert (game.state().x, game.state().y) == (2, 2)


def test_rom_bytes_stay_out_of_the_spec_and_the_replay(tmp_path: Path) -> None:
    """``gym.make(id, rom=<bytes>)`` kept the ROM in ``env.spec``: ``to_json()`` raised TypeError, and a recording
    wrote the whole ROM into its header as hex, which the rebuild read as a path ("File name too long"), so the
    replay never verified. The spec names the ROM by its SHA-1, and the rebuild finds it from that."""
    from longplay.replays.reader import ReplayReader
    from longplay.replays.verify import verify

    rom = cartridge.build_rom()
    path = _cart_replay(tmp_path / "bytes.lpr", rom=rom)
    with ReplayReader(path) as replay:
        header = replay.header
    assert "rom" not in header["env_kwargs"] and header["env_kwargs"]["rom_sha1"] == cartridge.rom_sha1()
    assert rom.hex()[:4096] not in path.read_bytes().hex() and rom[:4096] not in path.read_bytes()
    report = verify(path)
    assert report.ok and report.hashes >= 2, report.summary()
    env = gym.make("longplay/TestCart-v0", rom=bytearray(rom))
    again = gym.make(gym.envs.registration.EnvSpec.from_json(env.spec.to_json()))
    assert again.unwrapped.game.rom.data == rom
    again.close()
    env.close()


def _as_recorded_with_rom_hex(path: Path, rom: bytes) -> Path:
    """Rewrites a replay's header as longplay wrote it before its env spec named a bytes ROM by SHA-1: the whole ROM as
    hex text in ``env_kwargs["rom"]``, and no ``rom_sha1`` there."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE header SET value = json_set(json_remove(value, '$.rom_sha1'), '$.rom', ?) "
                     "WHERE key = 'env_kwargs'", (rom.hex(),))
    conn.close()
    return path


def test_a_replay_recorded_with_the_rom_as_hex_verifies(tmp_path: Path) -> None:
    """Replays recorded with ``rom=<bytes>`` before the spec named the ROM by SHA-1 hold the ROM as hex in their
    header: the rebuild read it as a path and verify, export and the viewer failed ("invalid rom path ...: File name
    too long"). The rebuild decodes it, checked against the identity's ROM SHA-1."""
    from longplay.replays.reader import ReplayReader
    from longplay.replays.verify import verify

    rom = cartridge.build_rom()
    path = _as_recorded_with_rom_hex(_cart_replay(tmp_path / "hex.lpr", rom=rom), rom)
    with ReplayReader(path) as replay:
        assert replay.header["env_kwargs"]["rom"] == rom.hex() and "rom_sha1" not in replay.header["env_kwargs"]
        recorded = replay.checkpoints(0)[-1]
        assert replay.seek(recorded.step).state_hash() == recorded.hash  # what the viewer and export rebuild
    report = verify(path)
    assert report.ok and report.hashes >= 2, report.summary()

    other = bytearray(rom)
    other[0x7FFF] ^= 0xFF
    other_sha1 = hashlib.sha1(other).hexdigest()
    path = _as_recorded_with_rom_hex(_cart_replay(tmp_path / "other.lpr", rom=rom), bytes(other))
    with ReplayReader(path) as replay, pytest.raises(Exception, match=f"SHA-1 {other_sha1}.*SHA-1 "
                                                                      f"{cartridge.rom_sha1()}") as refused:
        replay.seek(0)
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 400


def test_a_replay_recorded_with_the_start_state_as_hex_verifies(tmp_path: Path, game: GameBoyGame) -> None:
    """``start_state=<bytes>`` went into headers as hex text too before ``start_state_base64``: the rebuild read it as
    a path (File name too long). It is decoded as the ROM is."""
    from longplay.replays.verify import verify

    game.reset(0)
    run(game, [R, R])
    start = game.save_state()
    path = _cart_replay(tmp_path / "start.lpr", start_state=start)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE header SET value = json_set(json_remove(value, '$.start_state_base64'), '$.start_state', "
                     "?) WHERE key = 'env_kwargs'", (start.hex(),))
    conn.close()
    report = verify(path)
    assert report.ok and report.hashes >= 2, report.summary()


def test_a_rom_sha1_found_nowhere_says_which_and_how_to_provide_it(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    rom = bytearray(cartridge.build_rom())
    rom[0x7FFF] ^= 0xFF  # another ROM, which no pack builds
    sha1 = __import__("hashlib").sha1(rom).hexdigest()
    monkeypatch.delenv("LONGPLAY_ROMS", raising=False)
    with pytest.raises(GameError, match=f"no ROM with SHA-1 {sha1}: .*LONGPLAY_ROMS") as refused:
        GameBoyEnv(rom_sha1=sha1)
    assert "\n" not in str(refused.value)
    (tmp_path / "other.gb").write_bytes(rom)
    monkeypatch.setenv("LONGPLAY_ROMS", str(tmp_path))
    found = GameBoyEnv(rom_sha1=sha1, pack="generic")
    assert found.game.rom.sha1 == sha1
    found.close()
    with pytest.raises(GameError, match=f"expected the ROM with SHA-1 {sha1}"):
        GameBoyEnv(rom=cartridge.build_rom(), rom_sha1=sha1)
    with pytest.raises(GameError, match="invalid rom_sha1 'abc'"):
        GameBoyEnv(rom_sha1="abc")
