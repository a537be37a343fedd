"""``longplay run --agent lm`` (through the LM command-line module): runs, replays, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from longplay.agents.lm.cli import main
from longplay.agents.lm.stubserver import Fault, Reply, StubServer
from longplay.replays.reader import ReplayReader


def one_replay(folder: Path) -> Path:
    (path,) = folder.glob("*.lpr")
    return path


def test_offline_run_records_a_replay_with_the_scaffold_card(tmp_path: Path, capsys) -> None:
    assert (
        main(["--scaffold", "notes,goals", "--max-turns", "12", "--runs-dir", str(tmp_path), "--quiet"]) == 0
    )
    out = capsys.readouterr().out
    assert "stopped: turns: turn budget reached (12 turns)" in out and "Left the house" in out
    # the resume it advises raises the budget the run stopped on (as given, a resume stopped at once)
    assert f"--resume {one_replay(tmp_path)} --max-turns N, a larger budget)" in out, out
    with ReplayReader(one_replay(tmp_path)) as replay:
        header = replay.header
        assert header["agent"] == "lm" and header["model"] == "offline-explorer"
        assert [c["name"] for c in header["scaffold_card"]] == ["window", "notes", "goals"]
        assert (
            header["config"]["budget"]["max_turns"] == 12
            and header["config"]["scaffold"][0]["name"] == "window"
        )
        assert header["lm"]["provider"] == "offline" and header["lm"]["prompt_version"]
        assert len(replay.turns()) == 12 and {m.name for m in replay.memory()} == {"notes", "goals"}
        assert header["budget"] == {"steps": 3000, "turns": 12, "tokens": None, "dollars": None, "seconds": None}
    assert (tmp_path / (one_replay(tmp_path).stem + ".ckpt")).exists()
    from longplay.replays.compare import read_runs

    assert [r.stopped_early for r in read_runs(one_replay(tmp_path))] == [False]  # its turn budget was used


def test_openai_compatible_endpoint_through_the_cli(tmp_path: Path, dummy_keys, capsys) -> None:
    script = [Reply("Walking.", [("press_buttons", '{"buttons": ["down", "down"]}')])]
    with StubServer("openai", script) as server:
        url = server.base_url
        code = main(
            [
                "--provider",
                "openai",
                "--base-url",
                server.base_url,
                "--model",
                "qwen-local",
                "--price",
                "local",
                "--max-turns",
                "3",
                "--observe",
                "both",
                "--runs-dir",
                str(tmp_path),
                "--quiet",
            ]
        )
    assert code == 0, capsys.readouterr().err
    assert len(server.requests) == 3
    content = server.requests[0]["messages"][1]["content"]
    assert content[0]["type"] == "image_url" and "Screen (text)" in content[1]["text"]
    path = one_replay(tmp_path)
    with ReplayReader(path) as replay:
        assert replay.header["lm"]["base_url"] == url
        assert replay.num_steps() == 6 and all(t.tokens_in > 0 and t.cost_usd == 0 for t in replay.turns())
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert dummy_keys["OPENAI_API_KEY"].encode() not in blob


def test_a_model_without_a_price_says_its_dollars_are_not_counted(tmp_path: Path, dummy_keys, capsys) -> None:
    """A model the price table lacks (a new one, a typo) ran with its spend shown as $0.0000, without a word."""
    with StubServer("openai", [Reply(tool_calls=[("press_buttons", '{"buttons": ["a"]}')])]) as server:
        argv = ["--provider", "openai", "--base-url", server.base_url, "--max-turns", "1", "--runs-dir", str(tmp_path),
                "--quiet"]
        assert main([*argv, "--model", "gpt-9-typo"]) == 0
        out = capsys.readouterr().out
        assert "no price for 'gpt-9-typo' in the price table, so dollars are not counted" in out
        assert "| dollars not counted |" in out and "$0.0000" not in out
        # the progress bar too (it showed $0.000 beside the note)
        assert main([*argv[:-1], "--model", "gpt-9-typo"]) == 0
        bar = capsys.readouterr().err
        assert "turn 1 |" in bar and "| dollars not counted" in bar and "$0.000" not in bar, bar
        assert main([*argv[:-1], "--model", "gpt-9-typo", "--price", "local"]) == 0
        out, bar = capsys.readouterr()
        assert "no price" not in out and "| $0.0000 |" in out and "| $0.000" in bar


def test_a_resumed_run_s_progress_bar_starts_at_its_steps(tmp_path: Path, dummy_keys, capsys) -> None:
    """A resumed run's bar started at 0 and counted the earlier sessions' steps as done in its first instant
    (334,720 steps/s, no time left)."""
    walk = Reply(tool_calls=[("press_buttons", '{"buttons": ["down", "down", "down"]}')])
    with StubServer("openai", [walk]) as server:
        argv = ["--provider", "openai", "--base-url", server.base_url, "--model", "m", "--price", "local"]
        assert main([*argv, "--max-turns", "2", "--runs-dir", str(tmp_path), "--quiet"]) == 0
        capsys.readouterr()
        assert main(["--resume", str(one_replay(tmp_path)), "--max-turns", "3"]) == 0
    bar = capsys.readouterr().err
    assert "6/3000" in bar and "9/3000" in bar and "0/3000" not in bar, bar


def test_the_summary_names_the_last_failure(tmp_path: Path, dummy_keys, capsys) -> None:
    """A run that ended on its budget after a failed turn said only '(1 failed)': why was in the replay alone."""
    too_long = ("This model's maximum context length is 4096 tokens. However, you requested 5210 tokens (4186 in "
                "the messages, 1024 in the completion). Please reduce the length of the messages or completion.")
    walk = Reply(tool_calls=[("press_buttons", '{"buttons": ["down"]}')])
    with StubServer("openai", [walk, Fault("400", message=too_long), walk]) as server:
        argv = ["--provider", "openai", "--base-url", server.base_url, "--model", "m", "--price", "local",
                "--max-retries", "0", "--quiet"]
        assert main([*argv, "--max-turns", "3", "--runs-dir", str(tmp_path)]) == 0
        out = capsys.readouterr().out
        (summary,) = [line for line in out.splitlines() if line.startswith("turns 3 ")]
        assert "turns 3 (1 failed, last: bad_request: BadRequestError: Error code: 400 - " in summary, summary
        assert "--max-turns N, a larger budget)" in out
        assert "| model calls 2 (+1 failed) |" in summary, summary  # the failed call has its row too
        assert "maximum context length" in summary and "Please reduce" not in summary and "..." in summary
        with ReplayReader(one_replay(tmp_path)) as replay:  # what the screen shortens, the replay holds whole
            assert [bool(t.error) for t in replay.turns()] == [False, True, False]
            assert replay.turns()[1].error.startswith("bad_request: ") and too_long in replay.turns()[1].error
        assert main(["--resume", str(one_replay(tmp_path)), "--max-turns", "4", "--quiet"]) == 0
    assert "turns 4 (1 failed, last: bad_request: " in capsys.readouterr().out  # the failure of the earlier session


def test_credentials_in_the_base_url_stay_out_of_the_replay(tmp_path: Path, dummy_keys, capsys) -> None:
    script = [Reply(tool_calls=[("press_buttons", '{"buttons": ["a"]}')])]
    with StubServer("openai", script) as server:
        public = server.base_url
        url = public.replace("http://", "http://user:pw-SECRET-2222@")
        argv = ["--provider", "openai", "--base-url", url, "--model", "m", "--price", "local", "--max-turns", "1"]
        assert main([*argv, "--runs-dir", str(tmp_path), "--quiet"]) == 0
    replay = one_replay(tmp_path)
    assert b"SECRET" not in replay.read_bytes()
    with ReplayReader(replay) as reader:
        assert reader.header["config"]["provider"]["base_url"] == public


def test_scaffold_file(tmp_path: Path, capsys) -> None:
    spec = tmp_path / "scaffold.toml"
    spec.write_text('preset = "minimal"\n[window]\nk = 4\n[critic]\nevery = 2\n')
    assert main(["--scaffold-file", str(spec), "--max-turns", "5", "--no-record", "--quiet"]) == 0
    assert "scaffold window+critic" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, names",
    [
        ([], ["summary", "notes", "map_memory", "goals", "critic"]),  # the file's own preset, no extra window
        (["--scaffold", "progress_check"], ["progress_check", "summary", "notes", "map_memory", "goals", "critic"]),
    ],
)
def test_scaffold_file_alone_is_the_whole_scaffold(tmp_path: Path, argv: list[str], names: list[str]) -> None:
    from longplay.agents.lm.cli import build_parser, config_from_args

    spec = tmp_path / "scaffold.toml"
    spec.write_text('preset = "full"\n[critic]\nevery = 10\n')
    config = config_from_args(build_parser().parse_args([*argv, "--scaffold-file", str(spec)]))
    assert [c["name"] for c in config.scaffold] == names
    assert config.scaffold[-1]["params"]["every"] == 10


def test_a_scaffold_files_preset_keeps_the_parameters_scaffold_gave(tmp_path: Path) -> None:
    """The file's preset fills in the components --scaffold lacks, as a preset within --scaffold does: it replaced
    window(k=5) by the preset's k=20, so the parameter given was dropped (its tables still override)."""
    from longplay.agents.lm.cli import build_parser, config_from_args

    spec = tmp_path / "scaffold.toml"
    spec.write_text('preset = "notes"\n[notes]\nmax_chars = 999\n[goals]\n')
    argv = ["--scaffold", "window(k=5),notes(max_chars=3000)", "--scaffold-file", str(spec)]
    config = config_from_args(build_parser().parse_args(argv))
    assert [(c["name"], c["params"].get("k"), c["params"].get("max_chars")) for c in config.scaffold] == [
        ("window", 5, None), ("notes", None, 999), ("goals", None, 200)]


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (
            ["--provider", "anthropic", "--model", "claude-x"],
            "no API key: set the environment variable ANTHROPIC_API_KEY",
        ),
        # a base URL makes the key optional (local servers take any), but a variable named with --api-key-env is
        # asked for: unset, the run retried "Connection error" turns for minutes instead of saying so
        (
            ["--provider", "openai", "--model", "m", "--base-url", "http://127.0.0.1:9/v1",
             "--api-key-env", "LONGPLAY_TEST_UNSET_KEY"],
            "no API key: set the environment variable LONGPLAY_TEST_UNSET_KEY",
        ),
        (["--provider", "openai"], "--model is required with --provider openai"),
        (["--scaffold", "telepathy"], "unknown scaffold 'telepathy'"),
        (["--scaffold", "window(k=zero)"], "must be a number"),
        (["--scaffold", "minimal,summary"], "window and summary both bound the history"),
        (["--max-turns", "0"], "invalid --max-turns 0"),
        (["--max-dollars", "-1"], "invalid --max-dollars"),
        (["--obs-mode", "text"], "the LM agent reads the symbolic view"),
        (["--env", "Nowhere-v0"], "unknown env 'Nowhere-v0'"),
        (
            [
                "--provider",
                "openai",
                "--base-url",
                "http://127.0.0.1:9/v1",
                "--model",
                "m",
                "--max-dollars",
                "1",
            ],
            "no price for 'm'",
        ),
        (["--scaffold-file", "/nonexistent.toml"], "cannot read /nonexistent.toml"),
        # NaN passed the "> 0" checks and made a budget that is never reached; an unknown --price entry
        # billed the model at $0 (gpt-4.1-mini has a price of its own).
        (["--max-dollars", "nan"], "invalid --max-dollars nan"),
        (["--max-seconds", "nan"], "invalid --max-seconds nan"),
        (["--timeout", "nan"], "--timeout must be positive and finite (got nan)"),
        # inf is not JSON (the replay header held Infinity); 100000 asked numpy for 629 TiB (a traceback, and a
        # replay left behind); a base URL without its scheme was retried for 45 s a turn without a word, and a port
        # that is not a number was a traceback
        (["--temperature", "inf"], "invalid --temperature inf"),
        (["--timeout", "1e400"], "--timeout must be positive and finite (got inf)"),
        (["--image-scale", "100000", "--observe", "screenshot"], "invalid --image-scale 100000; must be 1 to 12"),
        (["--provider", "openai", "--model", "m", "--base-url", "localhost:8000/v1"],
         "invalid --base-url 'localhost:8000/v1'"),
        (["--provider", "openai", "--model", "m", "--base-url", "http://u:secret@localhost:80a/v1"],
         "invalid --base-url (its port is not a number from 1 to 65535)"),
        # urlsplit itself raised on a bracket left open (a traceback); port 0 and 99999 are numbers out of range
        (["--provider", "openai", "--model", "m", "--base-url", "http://u:secret@[::1/v1"],
         "invalid --base-url (it cannot be parsed as a URL)"),
        (["--provider", "openai", "--model", "m", "--base-url", "http://localhost:0/v1"],
         "invalid --base-url (its port is not a number from 1 to 65535)"),
        (["--provider", "openai", "--model", "m", "--base-url", "http://localhost:99999/v1"],
         "invalid --base-url (its port is not a number from 1 to 65535)"),
        (["--provider", "openai", "--model", "gpt-4.1-mini", "--price", "gpt-4.1-mini-typo"],
         "unknown --price 'gpt-4.1-mini-typo'"),
        # each limit's first refused value (the accepted edges are in the test below)
        (["--max-tokens", "0"], "invalid --max-tokens 0; must be >= 1"),
        (["--max-failures", "0"], "--max-retries must be >= 0 and --max-failures >= 1"),
        (["--max-output-tokens", "0"], "--max-output-tokens must be >= 1 (got 0)"),
        (["--image-scale", "0", "--observe", "screenshot"], "invalid --image-scale 0; must be 1 to 12"),
        (["--timeout", "0"], "--timeout must be positive and finite (got 0.0)"),
        (["--model", "offline-explorr"], "unknown offline model 'offline-explorr'; valid: offline-explorer"),
    ],
)
def test_bad_input_is_one_line(argv: list[str], fragment: str, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert main([*argv, "--runs-dir", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not list(tmp_path.glob("*.lpr"))  # nothing half-made is left behind


def test_the_edge_values_of_each_limit_are_taken() -> None:
    """The other side of each refusal above: temperature 0 (greedy decoding), --checkpoint-every 0 (no scheduled
    checkpoints, as documented), no retries, a run stopped by its first failed turn, one-token limits."""
    from longplay.agents.lm.cli import build_parser, config_from_args

    args = build_parser().parse_args(["--temperature", "0", "--checkpoint-every", "0", "--max-retries", "0",
                                      "--max-failures", "1", "--max-output-tokens", "1", "--max-tokens", "1",
                                      "--image-scale", "12", "--observe", "screenshot", "--timeout", "0.5"])
    config = config_from_args(args)
    assert (config.provider.temperature, config.checkpoint.every_turns) == (0.0, 0)
    assert (config.retry.max_retries, config.retry.max_consecutive_failures) == (0, 1)
    assert (config.provider.max_output_tokens, config.budget.max_tokens) == (1, 1)
    assert (config.observation.image_scale, config.provider.request_timeout_s) == (12, 0.5)


def test_config_round_trips_through_json() -> None:
    from dataclasses import asdict

    from longplay.agents.lm.cli import build_parser, config_from_args
    from longplay.agents.lm.config import config_from_dict

    config = config_from_args(
        build_parser().parse_args(
            ["--scaffold", "full", "--max-dollars", "2", "--observe", "screenshot", "--temperature", "0.3"]
        )
    )
    data = json.loads(json.dumps(asdict(config)))
    assert config_from_dict(data) == config
    with pytest.raises(ValueError, match="unknown LM config key"):
        config_from_dict({**data, "colour": 1})


def test_resume_can_move_the_endpoint(tmp_path: Path, dummy_keys, capsys, monkeypatch) -> None:
    """A local server that moved (or a key in another variable) does not strand a run: --base-url and
    --api-key-env given with --resume replace the run's own, and the header's resume entry names the new URL."""
    script = [Reply(tool_calls=[("press_buttons", '{"buttons": ["a"]}')])]
    with StubServer("openai", script) as first:
        argv = ["--provider", "openai", "--base-url", first.base_url, "--model", "m", "--price", "local"]
        assert main([*argv, "--max-turns", "2", "--runs-dir", str(tmp_path), "--quiet"]) == 0
        assert len(first.requests) == 2
    replay = one_replay(tmp_path)
    monkeypatch.setenv("OTHER_KEY", "sk-other-1111")
    with StubServer("openai", script) as second:
        moved = second.base_url
        assert main(["--resume", str(replay), "--base-url", moved, "--api-key-env", "OTHER_KEY",
                     "--max-turns", "4", "--quiet"]) == 0
        assert len(second.requests) == 2
        assert second.headers[-1].get("authorization") == "Bearer sk-other-1111"
    assert "ignored with --resume" not in capsys.readouterr().out
    with ReplayReader(replay) as reader:
        assert len(reader.turns()) == 4 and reader.header["resumes"][-1]["base_url"] == moved


def test_resume_names_every_option_it_keeps_and_gives_no_advice_it_ignores(tmp_path: Path, dummy_keys,
                                                                          capsys) -> None:
    """A run keeps its price, temperature and view on --resume: it says so, and the dollar budget's error on a run
    without a price does not ask for a --price that would be dropped."""
    with StubServer("openai", [Reply(tool_calls=[("press_buttons", '{"buttons": ["a"]}')])]) as server:
        argv = ["--provider", "openai", "--base-url", server.base_url, "--model", "o3-pro"]
        assert main([*argv, "--max-turns", "1", "--runs-dir", str(tmp_path), "--quiet"]) == 0
        replay = str(one_replay(tmp_path))
        capsys.readouterr()
        assert main(["--resume", replay, "--max-turns", "2", "--temperature", "0.5", "--image-scale", "2",
                     "--no-prompt-cache", "--quiet"]) == 0
        out = capsys.readouterr().out
        assert "--temperature, --no-prompt-cache, --image-scale ignored with --resume" in out, out
        assert server.requests[-1].get("temperature") is None
        assert main(["--resume", replay, "--max-turns", "3", "--max-dollars", "5", "--price", "o3"]) == 2
    out, err = capsys.readouterr()
    assert "--price ignored with --resume" in out
    assert "no price for 'o3-pro'" in err and "keeps it on --resume" in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("flag, expected", [([], 1), (["--fingerprint-every", "8"], 8)])
def test_an_lm_run_records_a_fingerprint_per_step_by_default(flag: list[str], expected: int, tmp_path: Path,
                                                            capsys) -> None:
    # a step is a model turn: a fingerprint at each costs nothing beside it and pins the very action
    assert main(["--max-turns", "6", "--runs-dir", str(tmp_path), "--quiet", *flag]) == 0
    with ReplayReader(one_replay(tmp_path)) as replay:
        assert replay.fingerprint_every == expected
        steps = replay.num_steps()
        assert steps >= 8 and len(replay.fingerprints()) == steps // expected


def test_rom_flag_reaches_the_game_boy_env(tmp_path: Path, capsys) -> None:
    # `longplay run --agent lm --rom PATH` used to drop --rom (only --set reached the env), so a Pokemon run
    # failed with "no ROM for Pokemon Red (US): pass rom=PATH (--rom PATH)" although --rom was given.
    from longplay.agents.cli import main as longplay_main

    fake = tmp_path / "pokered.gb"
    fake.write_bytes(bytes(512))  # not a ROM: the env must read this file and say so
    code = longplay_main(["run", "--agent", "lm", "--env", "PokemonRed-v0", "--rom", str(fake), "--max-turns", "1",
                          "--no-record", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"{fake} is not a Game Boy ROM" in err and "ea9bcae617fdf159b045185467ae58b2e4a48b9a" in err


def test_a_scaffold_the_game_cannot_have_leaves_no_replay(tmp_path: Path, capsys) -> None:
    # map_memory needs a map adapter, which Game Boy games lack: the run is refused in one line, and used to
    # leave an empty replay (no episode; `longplay verify` fails on it) in the runs folder.
    pytest.importorskip("pyboy")
    code = main(["--env", "TestCart-v0", "--scaffold", "full", "--max-turns", "1", "--runs-dir", str(tmp_path),
                 "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "needs a game with a map adapter" in err and len(err.splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_the_progress_names_every_milestone_a_turn_reached(capsys) -> None:
    """A press sequence that reached two milestones printed the last one only (and none held by a start state)."""
    from types import SimpleNamespace

    from longplay.agents.lm.accounting import Counters
    from longplay.agents.lm.cli import _Progress
    from longplay.envs.game import Milestone

    catalog = (Milestone("moved", "Moved"), Milestone("read", "Read the sign"), Milestone("end", "Reached the end"))
    driver = SimpleNamespace(steps=0, milestones={}, game=SimpleNamespace(milestones=lambda: catalog))
    run = SimpleNamespace(driver=driver, counters=Counters(turns=1), price=None,
                          config=SimpleNamespace(budget=SimpleNamespace(max_steps=100)))
    progress = _Progress(run, quiet=True)
    driver.milestones, driver.steps = {"moved": 0}, 1  # held by the start state
    progress.update(run)
    driver.milestones, driver.steps, run.counters.turns = {"moved": 0, "read": 4, "end": 5}, 5, 2
    progress.update(run)
    progress.close()
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    assert lines == ["milestone: Read the sign (step 4, turn 2)", "milestone: Reached the end (step 5, turn 2)"]


@pytest.mark.parametrize("flags, marked", [([], True), (["--no-prompt-cache"], False)])
def test_no_prompt_cache_sends_no_cache_marks(flags: list[str], marked: bool, tmp_path: Path, dummy_keys) -> None:
    """--no-prompt-cache (an endpoint that refuses cache_control, or a run measured without caching) reaches the
    wire: no part of the request is marked; without it, the system prompt is."""
    walk = Reply(tool_calls=[("press_buttons", '{"buttons": ["down"]}')])
    with StubServer("anthropic", [walk]) as server:
        assert main(["--provider", "anthropic", "--base-url", server.base_url, "--model", "m", "--price", "local",
                     "--max-turns", "2", "--runs-dir", str(tmp_path), "--quiet", *flags]) == 0
    assert all(("cache_control" in json.dumps(request)) == marked for request in server.requests)
    with ReplayReader(one_replay(tmp_path)) as replay:
        assert replay.header["config"]["provider"]["prompt_caching"] is marked
