"""The command line: runs, lists, and one-line errors for bad input."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from longplay.agents.cli import main, parse_kwargs
from longplay.envs.window import HEADLESS_DRIVERS


@pytest.fixture
def no_env_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """``longplay run`` fails the test if it builds an env: for input refused before anything is built."""
    import longplay.agents.cli as cli

    def built(*args, **kwargs):
        raise AssertionError("the env was built")

    monkeypatch.setattr(cli, "make_env", built)


def test_envs_lists_ids(capsys) -> None:
    assert main(["envs"]) == 0
    out = capsys.readouterr().out
    assert "longplay/QuestMini-v0" in out and "longplay/QuestCanon-v0" in out


@pytest.mark.parametrize("agent", ["random", "explorer"])
def test_run_baseline(agent: str, capsys) -> None:
    assert main(["run", "--env", "QuestMini-v0", "--agent", agent, "--steps", "300", "--no-record",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "reached" in out and "milestones in 300 steps" in out


def test_a_run_of_one_step_says_one_step(capsys) -> None:
    assert main(["run", "--env", "QuestMini-v0", "--agent", "random", "--steps", "1", "--no-record", "--quiet"]) == 0
    assert "milestones in 1 step (" in capsys.readouterr().out  # it said "in 1 steps"


def test_a_run_with_no_record_writes_no_replay(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)  # the default runs/ too
    runs = tmp_path / "elsewhere"
    assert main(["run", "--env", "QuestMini-v0", "--agent", "random", "--steps", "5", "--no-record", "--quiet",
                 "--runs-dir", str(runs)]) == 0
    assert "replay:" not in capsys.readouterr().out
    assert sorted(tmp_path.iterdir()) == []


def test_a_run_plays_and_records_the_seed_it_is_given(tmp_path, capsys) -> None:
    from longplay.replays.reader import ReplayReader

    assert main(["run", "--env", "QuestMini-v0", "--agent", "random", "--steps", "5", "--seed", "7", "--quiet",
                 "--runs-dir", str(tmp_path)]) == 0
    assert "(seed 7)" in capsys.readouterr().out
    (replay,) = tmp_path.glob("*.lpr")
    assert replay.name.endswith("__seed7.lpr")
    with ReplayReader(replay) as reader:
        assert [e.seed for e in reader.episodes()] == [7]


def test_a_run_of_episodes_in_different_worlds_counts_each_against_its_own_catalog(capsys) -> None:
    """longplay/Quest-v0 plays a world per reset seed: the table printed every milestone id reached in any episode
    (at its first step in the run) against the last episode's catalog, so the first world's route and badge were
    missing, the last world's route showed a step another world reached, and the count mixed the worlds."""
    import gymnasium as gym

    from longplay.agents.base import make_agent
    from longplay.agents.runner import run

    def alone(seed: int) -> tuple[dict[str, int], dict[str, str]]:  # one episode of one world, by itself
        env = gym.make("longplay/Quest-v0", size="mini", max_steps=200, obs_mode="symbolic")
        result = run(env, make_agent("oracle"), 200, seed=seed, progress=False)
        return result.milestones, {m.id: m.name for m in env.unwrapped.catalog}

    assert main(["run", "--env", "Quest-v0", "--agent", "oracle", "--set", "size=mini", "--set", "max_steps=200",
                 "--steps", "600", "--no-record", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("episode 1 of 3 (seed 0):")
    first, names = alone(0)
    assert len(names) == 7 and "reached_kelglen_lane" in names  # the first world's own route
    for row in lines[start + 2:start + 9]:
        _, _, step, name = row.split(maxsplit=3)
        milestone = next(i for i, n in names.items() if n == name)
        assert step == str(first.get(milestone, "-")), row
    assert lines[start + 9] == f"reached {len(first)}/7 milestones in 200 steps"
    for seed in (1, 2):
        reached, names = alone(seed)
        latest = max(reached, key=reached.__getitem__)
        assert lines[start + 9 + seed] == (f"episode {seed + 1} (seed {seed}): reached {len(reached)}/7 milestones in "
                                          f"200 steps; latest: {names[latest]} (step {reached[latest]})")
    assert lines[start + 12].startswith("600 steps in 3 episodes (") and "its own catalog" in lines[start + 12]


@pytest.mark.parametrize("argv, fragment", [
    (["run", "--env", "Nope-v0"], "unknown env 'Nope-v0'; valid envs: "),
    (["run", "--agent", "wizard"], "unknown agent 'wizard'; valid agents: "),
    (["run", "--env", "QuestMini-v0", "--set", "size=huge"], "valid sizes: mini, small, standard"),
    (["run", "--env", "QuestMini-v0", "--obs-mode", "smell"], "valid modes"),
    (["run", "--env", "QuestMini-v0", "--set", "novalue"], "use KEY=VALUE"),
    (["run", "--env", "QuestMini-v0", "--steps", "0"], "invalid --steps"),
    (["run", "--env", "QuestMini-v0", "--set", "palette=1"], "four RGB triples"),
])
def test_bad_input_one_line(argv: list[str], fragment: str, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("flags, fragment", [
    (["--steps", "0"], "invalid --steps 0; must be >= 1"),
    (["--steps", "-5", "--agent", "explorer"], "invalid --steps -5; must be >= 1"),
    (["--steps", "0", "--agent", "ppo", "--checkpoint", "missing.pt"], "invalid --steps 0; must be >= 1"),
    (["--agent", "lm", "--steps", "0"], "invalid --max-steps/--steps 0; must be >= 1"),
    (["--agent", "lm", "--max-turns", "0"], "invalid --max-turns 0; must be >= 1"),
    (["--agent", "lm", "--max-dollars", "-1"], "invalid --max-dollars -1.0; must be > 0"),
    (["--agent", "lm", "--max-retries", "-1"], "--max-retries must be >= 0"),
    (["--agent", "lm", "--checkpoint-every", "-1"], "--checkpoint-every must be >= 0"),
    (["--agent", "lm", "--timeout", "nan"], "--timeout must be positive"),
    (["--agent", "lm", "--temperature", "-1"], "invalid --temperature -1.0; must be a number >= 0"),
    (["--agent", "lm", "--temperature", "nan"], "invalid --temperature nan; must be a number >= 0"),
])
def test_bad_numbers_are_refused_before_anything_is_built(flags: list[str], fragment: str, tmp_path, no_env_built,
                                                           capsys) -> None:
    """``--steps 0`` was refused only after the env was built (and a ppo agent's checkpoint read: a missing one
    was the error shown); a negative or NaN ``--temperature`` went to the endpoint (NaN as invalid JSON)."""
    assert main(["run", "--env", "QuestMini-v0", "--runs-dir", str(tmp_path / "runs"), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"longplay: error: {fragment}" or (fragment in err and len(err.splitlines()) == 1), err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("command", [["run", "--no-record"], ["play", "--text"], ["milestones"]])
def test_an_unknown_render_mode_is_one_line_without_gymnasiums_warning(command: list[str], capsys,
                                                                      recwarn: pytest.WarningsRecorder) -> None:
    assert main([*command, "--env", "QuestMini-v0", "--set", "render_mode=x"]) == 2
    assert capsys.readouterr().err.strip() == "longplay: error: invalid render_mode 'x'; valid: rgb_array, human, ansi"
    assert not recwarn.list


@pytest.mark.parametrize("command", [["run", "--no-record"], ["play", "--text"], ["milestones"]])
def test_an_unknown_env_option_names_the_valid_ones(command: list[str], capsys) -> None:
    # a typo in --set (max_step for max_steps) printed gymnasium's TypeError with the whole kwargs dict
    assert main([*command, "--env", "QuestMini-v0", "--set", "max_step=100"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("longplay: error: invalid env option 'max_step' for longplay/QuestMini-v0; valid options: ")
    assert "max_steps" in err and "world_seed" in err and "environment creator" not in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("command", ["run", "play", "milestones"])
def test_help_names_the_default_env(command: str, capsys) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "(default longplay/QuestCanon-v0)" in " ".join(capsys.readouterr().out.split())


def test_milestones_prints_a_game_boy_catalog_without_its_rom(capsys, monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path) -> None:
    """A Game Boy env's catalog is its pack's data, but the command made the env, so Pokemon Red's needed the ROM
    ("no ROM for Pokemon Red (US): pass rom=PATH ..."). A ROM named is still checked."""
    from longplay.envs.gameboy.packs.pokemon_red import MILESTONES, RED_SHA1

    monkeypatch.delenv("LONGPLAY_ROMS", raising=False)
    assert main(["milestones", "--env", "PokemonRed-v0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(MILESTONES) and lines[0].split()[:4] == ["1", "tier", "0", MILESTONES[0].id]
    assert lines[-1].split()[:4] == [str(len(MILESTONES)), "tier", "9", MILESTONES[-1].id]
    assert main(["milestones", "--env", "PokemonRed-v0", "--rom", str(tmp_path / "red.gb")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("longplay: error: ROM file not found: ") and RED_SHA1 in err and err.count("\n") == 1
    assert main(["milestones", "--env", "PokemonRed-v0", "--set", "pack=zelda"]) == 2
    assert "unknown game pack 'zelda'" in capsys.readouterr().err
    assert main(["milestones", "--env", "TestCart-v0", "--set", "frameskp=4"]) == 2
    assert "invalid env option 'frameskp' for longplay/TestCart-v0" in capsys.readouterr().err


def test_milestones_help_says_which_envs_the_seed_matters_for(capsys) -> None:
    """``--seed`` said "reset seed", as if every env's catalog could depend on it: only a world drawn from the seed
    (longplay/Quest-v0) does."""
    with pytest.raises(SystemExit):
        main(["milestones", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert ("--seed SEED the world seed, for an env that draws its world from the reset seed (longplay/Quest-v0; "
            "default 0): no other env's catalog depends on it") in out


def test_parse_kwargs() -> None:
    assert parse_kwargs(["a=1", "b=null", "c=mini", "d=[1,2]"]) == {"a": 1, "b": None, "c": "mini", "d": [1, 2]}
    # Python spellings, as the env docs write them: "False" was the string "False", which is true
    assert parse_kwargs(["a=None", "b=False", "c=True", "d=(0, 10)", "e=auto"]) == {
        "a": None, "b": False, "c": True, "d": (0, 10), "e": "auto"}


@pytest.mark.parametrize("command", ["run", "play", "milestones"])
def test_a_negative_seed_is_one_line(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--env", "QuestMini-v0", "--seed", "-1"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid seed -1" in err and "Traceback" not in err and err.count("\n") == 1, err


@pytest.mark.parametrize("argv, fragment", [
    (["run", "--steps", "x"], "longplay run: error: argument --steps: invalid int value: 'x'"),
    (["run", "--seed", "x"], "longplay run: error: argument --seed: invalid seed 'x'"),
    (["serve", "--port", "x"], "longplay serve: error: argument --port: invalid int value: 'x'"),
    (["play", "--seed", "1.5"], "longplay play: error: argument --seed: invalid seed '1.5'"),
    (["train", "--num-envs", "x"], "longplay train: error: argument --num-envs: invalid int value: 'x'"),
    (["train", "--seed", "-1e3"], "longplay train: error: argument --seed: invalid int value: '-1e3'"),
    (["run", "--agent"], "longplay run: error: argument --agent: expected one argument"),
    (["run", "--bogus"], "longplay: error: unrecognized arguments: --bogus"),
    (["verify"], "longplay verify: error: the following arguments are required: REPLAY"),
    (["nope"], "longplay: error: argument COMMAND: invalid choice: 'nope'"),
])
def test_a_bad_option_is_one_line_naming_the_option_and_value(argv: list[str], fragment: str, capsys) -> None:
    # argparse printed its usage (40 lines for train) above the error line, where every other bad input is one line.
    if argv[0] == "train":
        pytest.importorskip("longplay.agents.rl.cli")
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith(fragment) and err.count("\n") == 1, err


@pytest.mark.parametrize("module, argv, fragment", [
    ("longplay.replays.cli", ["verify"], "longplay verify: error: the following arguments are required: REPLAY"),
    ("longplay.agents.lm.cli", ["--steps", "x"], "python -m longplay.agents.lm.cli: error: argument --steps"),
    ("longplay.agents.sweep.cli", ["g.toml", "--max-tokens", "x"], "longplay sweep: error: argument --max-tokens"),
])
def test_the_python_m_entry_points_give_a_bad_option_one_line(module: str, argv: list[str], fragment: str,
                                                              capsys) -> None:
    # python -m longplay.replays.cli (and the LM and sweep ones) still printed argparse's usage above the error.
    with pytest.raises(SystemExit) as exit_info:
        importlib.import_module(module).main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith(fragment) and err.count("\n") == 1, err


def test_help_still_shows_the_usage(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--help"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.startswith("usage: longplay run [-h]")


@pytest.mark.parametrize("argv, fragment", [
    (["--agent", "explorer", "--obs-mode", "pixels"], "the explorer reads the built-in quest game's symbolic view"),
    (["--agent", "explorer", "--obs-mode", "symbolic+text"], "the explorer reads"),
])
def test_an_agent_that_cannot_play_the_env_is_one_line_and_leaves_no_replay(argv: list[str], fragment: str,
                                                                            tmp_path, capsys) -> None:
    assert main(["run", "--env", "QuestMini-v0", "--runs-dir", str(tmp_path), "--quiet", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1
    assert not list(tmp_path.iterdir())  # refused before its first step: no empty replay


@pytest.mark.parametrize("command", [["run", "--agent", "random"], ["run", "--agent", "explorer"],
                                     ["run", "--agent", "oracle"], ["run", "--agent", "lm"], ["serve", "--port", "0"]])
def test_fingerprint_spacing_with_no_record_is_refused(command: list[str], capsys) -> None:
    # --fingerprint-every spaces a replay's fingerprints: with --no-record there is none, and the run (or the
    # server) went on as if the flag had been read
    steps = ["--steps", "5", "--quiet"] if command[0] == "run" else []
    assert main([*command, "--env", "QuestMini-v0", *steps, "--no-record", "--fingerprint-every", "4"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--fingerprint-every applies to a recorded run" in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("agent", ["random", "lm"])
@pytest.mark.parametrize("where", ["a-file", "a-file/sub"])
def test_a_runs_dir_that_cannot_be_a_folder_is_one_line(agent: str, where: str, tmp_path, capsys) -> None:
    """--runs-dir naming a file (or a folder under one) ended in mkdir's FileExistsError traceback, exit code 1."""
    (tmp_path / "a-file").write_text("not a folder")
    assert main(["run", "--env", "QuestMini-v0", "--agent", agent, "--steps", "20", "--quiet",
                 "--runs-dir", str(tmp_path / where)]) == 2
    err = capsys.readouterr().err.strip()
    assert "invalid --runs-dir" in err and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("agent, message", [("oracle", "the oracle plays only the built-in quest game"),
                                            ("explorer", "the explorer reads the built-in quest game's symbolic")])
def test_a_quest_only_agent_on_a_game_boy_env_is_refused_before_the_run_starts(agent: str, message: str, tmp_path,
                                                                              capsys) -> None:
    """Refused in one line before the run's header line is printed and its replay file made (it printed that the
    run began, made the replay and deleted it again)."""
    pytest.importorskip("pyboy")
    assert main(["run", "--env", "TestCart-v0", "--agent", agent, "--quiet", "--runs-dir", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert message in err and len(err.strip().splitlines()) == 1
    assert "longplay:" not in out and not any(tmp_path.iterdir()), (out, list(tmp_path.iterdir()))


def test_play_text_from_stdin() -> None:
    result = subprocess.run([sys.executable, "-m", "longplay.agents.cli", "play", "--text", "--env", "QuestMini-v0"],
                            input="sssj\nq\n", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "keys:" in result.stdout


def test_play_text_shows_the_screen_the_episode_ended_on_and_closes_the_env(monkeypatch, capsys) -> None:
    """An episode that ended mid-line printed "episode over" without the screen it ended on, and the env was never
    closed."""
    import io

    from longplay.envs.env import LongplayEnv

    closed, real_close = [], LongplayEnv.close
    monkeypatch.setattr(LongplayEnv, "close", lambda self: (closed.append(self), real_close(self)))
    monkeypatch.setattr(sys, "stdin", io.StringIO("....\nq\n"))
    assert main(["play", "--text", "--env", "QuestMini-v0", "--set", "max_episode_steps=3"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("episode over") and closed, out[-500:]
    assert out.count("Legend:") == 2  # the first screen and the one the episode ended on (the line ended it)


def test_play_text_names_keys_it_ignores_and_takes_capitals(monkeypatch, capsys) -> None:
    """A key that is no button was dropped without a word (the screen came back unchanged, as if the game had
    ignored it), and capitals (caps lock) were such keys: 'S' pressed nothing."""
    import io

    from longplay.envs.env import LongplayEnv

    steps, real_step = [], LongplayEnv.step

    def step(self, action):  # type: ignore[no-untyped-def]
        steps.append(action)
        return real_step(self, action)

    monkeypatch.setattr(LongplayEnv, "step", step)
    monkeypatch.setattr(sys, "stdin", io.StringIO("sS x.?\nq\n"))
    assert main(["play", "--text", "--env", "QuestMini-v0"]) == 0
    out = capsys.readouterr().out
    assert steps == [1, 1, 8]  # down, down (S), no button (.)
    assert ". = no button" in out.splitlines()[0]
    ignored = [line for line in out.splitlines() if line.startswith("ignored")]
    assert ignored == ["ignored 'x', '?': not keys (w/a/s/d move, j = A, k = B, m = START, n = SELECT, . = no button)"]


def _play_window(monkeypatch, argv: list[str], keys: int) -> tuple[int, list[int]]:
    """``longplay play`` in a pygame window (SDL's dummy driver): ``keys`` presses of down, then QUIT.
    Returns the exit code and the steps the env took."""
    pygame = pytest.importorskip("pygame")
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    import time

    from longplay.envs.env import LongplayEnv

    frames, steps, real_step = [0], [], LongplayEnv.step

    def step(self, action):  # type: ignore[no-untyped-def]
        steps.append(action)
        return real_step(self, action)

    def tick(seconds: float) -> None:  # the loop's frame wait: the "person" acts here
        frames[0] += 1
        if frames[0] <= keys:
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_DOWN))
        elif frames[0] == keys + 1:
            pygame.event.post(pygame.event.Event(pygame.QUIT))
        else:
            raise AssertionError("the window did not close")

    monkeypatch.setattr(LongplayEnv, "step", step)
    monkeypatch.setattr(time, "sleep", tick)
    return main(["play", "--env", "QuestMini-v0", *argv]), steps


def test_play_window_presses_keys_and_quits(monkeypatch, capsys) -> None:
    code, steps = _play_window(monkeypatch, [], keys=3)
    assert code == 0 and steps == [1, 1, 1]  # down, three times
    assert "esc quits" in capsys.readouterr().out


def test_play_window_ends_with_the_episode(monkeypatch, capsys) -> None:
    code, steps = _play_window(monkeypatch, ["--set", "max_episode_steps=2"], keys=5)
    assert code == 0 and len(steps) == 2  # no press after the episode was over
    assert "episode over" in capsys.readouterr().out


@pytest.fixture
def no_display(monkeypatch) -> object:
    """A machine with no display (ssh, a container), where SDL falls back to a window nobody can see: pygame."""
    pygame = pytest.importorskip("pygame")
    for name in ("SDL_VIDEODRIVER", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    pygame.display.init()
    driver = pygame.display.get_driver()
    pygame.display.quit()
    if driver not in HEADLESS_DRIVERS:
        pytest.skip(f"SDL finds a display here ({driver})")
    return pygame


def test_play_window_without_a_display_is_one_line(no_display, monkeypatch, capsys) -> None:
    import time

    def tick(seconds: float) -> None:
        raise AssertionError("play waited for keys from a window no one can see")

    monkeypatch.setattr(time, "sleep", tick)
    assert main(["play", "--env", "QuestMini-v0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no display" in err and "--text" in err and len(err.splitlines()) == 1
    assert not no_display.display.get_init()


def test_render_mode_human_without_a_display_is_one_line_before_the_run(no_display, tmp_path, capsys) -> None:
    assert main(["run", "--env", "QuestMini-v0", "--set", "render_mode=human", "--steps", "5", "--quiet",
                 "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "no display" in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # no replay started


def test_a_closed_pipe_ends_the_command_quietly() -> None:
    # longplay sweep --dry-run | head: the reader leaves while the command still prints
    import subprocess
    import sys

    code = ("import sys\nfrom longplay.agents.cli import run_command\n"
            "def flood(args):\n    for _ in range(100_000):\n        print('x' * 100)\n"
            "sys.exit(run_command(flood, None))\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline() == b"x" * 100 + b"\n"
    proc.stdout.close()
    assert proc.wait(timeout=60) == 141
    assert proc.stderr.read() == b""  # no traceback, no "Exception ignored" at exit


def test_a_replay_that_cannot_be_written_is_one_line_and_exit_1(capsys) -> None:
    from longplay.agents.cli import run_command
    from longplay.replays.schema import ReplayWriteError

    def full(args: object) -> int:
        raise ReplayWriteError("cannot write the replay r.lpr: database or disk is full (its first 64 steps ...)")

    assert run_command(full, None) == 1
    assert capsys.readouterr().err == ("longplay: error: cannot write the replay r.lpr: database or disk is full "
                                       "(its first 64 steps ...)\n")


def test_a_full_disk_is_one_line_and_exit_1_and_other_os_errors_are_not_hidden(capsys) -> None:
    import errno

    from longplay.agents.cli import run_command

    def full(args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device", "runs/train/x/checkpoints/.partial-step_1.zip")

    assert run_command(full, None) == 1
    assert capsys.readouterr().err == ("longplay: error: No space left on device (writing "
                                       "runs/train/x/checkpoints/.partial-step_1.zip)\n")

    def denied(args: object) -> int:
        raise PermissionError(errno.EACCES, "Permission denied")

    with pytest.raises(PermissionError):
        run_command(denied, None)


@pytest.mark.parametrize("flag, expected", [([], 64), (["--fingerprint-every", "1"], 1),
                                            (["--fingerprint-every", "500"], 500)])
def test_fingerprint_spacing_of_a_recorded_run(flag: list[str], expected: int, tmp_path, capsys) -> None:
    from longplay.replays.reader import ReplayReader
    from longplay.replays.verify import verify

    assert main(["run", "--env", "QuestMini-v0", "--agent", "explorer", "--steps", "700", "--runs-dir",
                 str(tmp_path), "--quiet", *flag]) == 0
    (path,) = tmp_path.glob("*.lpr")
    with ReplayReader(path) as replay:
        assert replay.fingerprint_every == expected
        assert len(replay.fingerprints()) == 700 // expected
    assert verify(path).ok


def test_a_fingerprint_spacing_below_one_is_one_line(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--env", "QuestMini-v0", "--fingerprint-every", "0"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid --fingerprint-every 0; use an int >= 1" in err and "Traceback" not in err


def _interrupted_after_20_steps(env, agent, steps, seed, progress, options=None):
    """A stand-in for ``runner.run`` that plays 20 steps and is then stopped by Ctrl+C."""
    env.reset(seed=seed)
    for _ in range(20):
        env.step(0)
    raise KeyboardInterrupt


def test_ctrl_c_names_the_replay_it_kept(tmp_path, monkeypatch, capsys) -> None:
    """The replay's path was printed only after a run to its end; after Ctrl+C a user had to look for it."""
    import longplay.agents.runner as runner
    from longplay.replays.verify import verify

    monkeypatch.setattr(runner, "run", _interrupted_after_20_steps)
    code = main(["run", "--env", "QuestMini-v0", "--agent", "random", "--runs-dir", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 130 and "longplay: interrupted" in err
    kept = [line for line in err.splitlines() if line.startswith("replay: ")]
    assert len(kept) == 1 and kept[0].endswith(" (up to the interrupt)")
    path = kept[0].removeprefix("replay: ").removesuffix(" (up to the interrupt)")
    assert verify(path).ok


def test_a_run_records_its_budget_so_compare_tells_one_stopped_by_ctrl_c(tmp_path, monkeypatch, capsys) -> None:
    """A run stopped by Ctrl+C closes its replay as a run that used its budget does: the replay did not say what the
    budget was, so compare and the viewer could not tell the two apart."""
    import longplay.agents.runner as runner
    from longplay.replays.compare import read_runs
    from longplay.replays.reader import ReplayReader

    assert main(["run", "--env", "QuestMini-v0", "--agent", "random", "--steps", "40", "--runs-dir",
                 str(tmp_path / "full"), "--quiet"]) == 0
    (full,) = (tmp_path / "full").glob("*.lpr")
    with ReplayReader(full) as replay:
        assert replay.header["budget"] == {"steps": 40}
    assert [r.stopped_early for r in read_runs(full)] == [False]

    monkeypatch.setattr(runner, "run", _interrupted_after_20_steps)
    assert main(["run", "--env", "QuestMini-v0", "--agent", "random", "--runs-dir", str(tmp_path / "cut"),
                 "--quiet"]) == 130
    (cut,) = (tmp_path / "cut").glob("*.lpr")
    with ReplayReader(cut) as replay:
        assert replay.header["budget"] == {"steps": 3000}
    assert [(r.complete, r.stopped_early) for r in read_runs(cut)] == [(True, True)]


@pytest.mark.parametrize("flags, named", [
    (["--agent", "random", "--max-turns", "0", "--temperature", "-3"], "--temperature, --max-turns"),
    (["--agent", "explorer", "--no-prompt-cache"], "--no-prompt-cache"),
    (["--max-dollars", "none"], "--max-dollars"),
    (["--agent", "random", "--temperature", "0"], "--temperature"),
])
def test_lm_options_with_another_agent_are_refused_before_anything_is_built(flags: list[str], named: str, tmp_path,
                                                                              no_env_built, capsys) -> None:
    """``--agent random --max-turns 0 --temperature -3`` ran without a word: the LM options were ignored."""
    assert main(["run", "--env", "QuestMini-v0", "--runs-dir", str(tmp_path / "runs"), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"longplay: error: {named} apply to --agent lm only" or (
        err == f"longplay: error: {named} applies to --agent lm only"), err
    assert not (tmp_path / "runs").exists()


def test_a_run_of_another_agent_without_lm_options_is_not_refused(tmp_path, capsys) -> None:
    assert main(["run", "--env", "QuestMini-v0", "--agent", "random", "--steps", "3", "--quiet", "--no-record"]) == 0


@pytest.mark.parametrize("flag", ["--max-dollars", "--max-seconds"])
@pytest.mark.parametrize("value", ["inf", "Infinity", "1e999"])
def test_an_infinite_budget_is_refused_with_a_pointer_to_none(flag: str, value: str, capsys) -> None:
    """``--max-dollars inf`` was taken as a limit never reached (``none``'s meaning, which the integer budgets
    spell only as ``none``), and wrote ``Infinity``, which is not JSON, into the replay header."""
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--agent", "lm", flag, value])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err == (f"longplay run: error: argument {flag}: invalid budget {value!r}; "
                                                 "use none for no budget\n"), err


@pytest.mark.parametrize("flags", [["--agent", "lm"], ["--agent", "random"], ["--agent", "oracle"],
                                   ["--resume", "some-run"]])
def test_a_checkpoint_for_an_agent_that_takes_none_is_refused_before_anything_is_built(flags: list[str], tmp_path,
                                                                                      no_env_built, capsys) -> None:
    """``--agent lm --checkpoint x.pt`` (or random, oracle, a resumed LM run) played on and ignored the checkpoint:
    the user believed a policy played."""
    argv = ["run", "--env", "QuestMini-v0", "--runs-dir", str(tmp_path / "runs"), "--checkpoint", "x.pt", *flags]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("longplay: error: --checkpoint applies to --agent ppo only") and len(err.splitlines()) == 1
    assert not (tmp_path / "runs").exists()
