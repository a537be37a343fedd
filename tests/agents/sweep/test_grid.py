"""Grid files: expansion into cells, stable ids, one-line errors, validation against the real commands."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from longplay.agents.sweep.cells import Caps, Cell
from longplay.agents.sweep.grid import GridError, load_grid, parse_grid, validate_cells

GRIDS = sorted((Path(__file__).resolve().parents[3] / "docs" / "grids").glob("*.toml"))


def lm_block(**extra) -> dict:
    return {"env": "QuestMini-v0", "models": ["offline"], "seeds": [0, 1], "steps": 50, **extra}


def test_models_times_scaffolds_times_seeds() -> None:
    grid = parse_grid({"run": [lm_block(models=["offline", {"provider": "openai", "model": "qwen", "name": "q",
                                                            "base_url": "http://localhost:8000/v1", "price": "local"}],
                                         scaffolds=["minimal", "notes"])]})
    assert len(grid.cells) == 8
    assert {c.label for c in grid.cells} == {"lm offline-explorer minimal", "lm offline-explorer notes",
                                             "lm q minimal", "lm q notes"}
    openai = next(c for c in grid.cells if c.provider == "openai")
    assert openai.lm["base_url"] == "http://localhost:8000/v1" and openai.lm["price"] == "local"
    assert all(c.env_id == "longplay/QuestMini-v0" and c.budget == {"steps": 50} for c in grid.cells)


def test_seed_ranges_singular_keys_and_baselines() -> None:
    grid = parse_grid({"run": [{"env": "QuestMini-v0", "agents": ["oracle", "random"],
                                "seeds": {"start": 3, "count": 2}, "steps": 10},
                               {"env": "QuestMini-v0", "model": "anthropic:claude-sonnet-4-5", "seed": 7}]})
    assert [(c.agent, c.seed) for c in grid.cells] == [("oracle", 3), ("oracle", 4), ("random", 3), ("random", 4),
                                                       ("lm", 7)]
    assert grid.cells[-1].lm["model"] == "claude-sonnet-4-5" and grid.cells[-1].provider == "anthropic"
    assert grid.cells[0].provider == "baseline" and not grid.cells[0].metered


def test_a_seed_range_starts_at_zero_and_workers_zero_is_allowed() -> None:
    """``seeds = { count = 3 }`` is seeds 0, 1, 2 (as ``--seed`` defaults to 0); ``workers = 0`` in [limits] runs
    the cells in the sweep's own process, as ``--workers 0`` does."""
    grid = parse_grid({"limits": {"workers": 0}, "run": [{"env": "QuestMini-v0", "agent": "random",
                                                         "seeds": {"count": 3}}]})
    assert [c.seed for c in grid.cells] == [0, 1, 2] and grid.limits.workers == 0


def test_train_variants_defaults_and_run_names() -> None:
    grid = parse_grid({"train": [{"env": "QuestMini-v0", "seeds": [0, 1], "total_steps": 256,
                                  "variants": [{"name": "sparse"}, {"name": "shaped", "shaping": "quest"}]}]})
    assert [(c.variant, c.seed) for c in grid.cells] == [("sparse", 0), ("sparse", 1), ("shaped", 0), ("shaped", 1)]
    shaped = grid.cells[2]
    assert shaped.train == {"torch_threads": 1, "eval_every": 0, "total_steps": 256, "shaping": "quest"}
    assert shaped.label == "ppo shaped" and shaped.run_name == "QuestMini-v0__ppo__shaped"
    assert shaped.provider == "train"


def test_ids_are_stable_ignore_labels_and_drop_duplicates() -> None:
    a = Cell("run", "longplay/QuestMini-v0", 0, "lm", lm={"provider": "offline"}, label="x")
    b = Cell("run", "longplay/QuestMini-v0", 0, "lm", lm={"provider": "offline"}, label="y")
    assert a.id == b.id and a.id != Cell("run", "longplay/QuestMini-v0", 1, "lm", lm={"provider": "offline"}).id
    assert Cell.from_dict(a.to_dict()).id == a.id
    grid = parse_grid({"run": [lm_block(), lm_block()]})
    assert len(grid.cells) == 2 and grid.duplicates == 2


def test_several_envs_put_the_env_in_labels() -> None:
    grid = parse_grid({"run": [{"envs": ["QuestMini-v0"], "env_kwargs": [{"world_seed": 1}, {"world_seed": 2}],
                                "agent": "oracle"}]})
    assert [c.label for c in grid.cells] == ["QuestMini-v0(world_seed=1) oracle", "QuestMini-v0(world_seed=2) oracle"]


def test_cells_of_other_settings_never_share_a_label() -> None:
    # The table and the chart pool a label's cells as the seeds of one configuration: two blocks of one agent with
    # other step budgets were one 'oracle' of four seeds, with the mean of both budgets' milestones.
    oracle = {"env": "QuestMini-v0", "agent": "oracle", "seeds": [0, 1]}
    grid = parse_grid({"run": [{**oracle, "steps": 50}, {**oracle, "steps": 600}, lm_block(),
                               lm_block(temperature=0.5)],
                       "train": [{"env": "QuestMini-v0", "learning_rate": 0.001},
                                 {"env": "QuestMini-v0", "learning_rate": 0.01}]})
    assert [c.label for c in grid.cells] == [
        "oracle steps=50", "oracle steps=50", "oracle steps=600", "oracle steps=600",
        "lm offline-explorer minimal", "lm offline-explorer minimal",
        "lm offline-explorer minimal temperature=0.5", "lm offline-explorer minimal temperature=0.5",
        "ppo learning_rate=0.001", "ppo learning_rate=0.01"]


@pytest.mark.parametrize(("data", "message"), [
    ({"run": [lm_block(modle="x")]}, "unknown key 'modle'"),
    ({"run": [lm_block(models=["claude"])]}, "PROVIDER:MODEL"),
    ({"run": [{"models": ["offline"]}]}, "'env' is required"),
    ({"run": [lm_block(seeds=[0, "1"])]}, "expected an integer"),
    ({"run": [{"env": "QuestMini-v0", "agent": "random", "max_turns": 3}]}, "applies to LM agents only"),
    # models and scaffolds without the lm agent made no cell of them: dropped without a word
    ({"run": [lm_block(agents=["random"])]}, "'models' applies to LM agents only"),
    ({"run": [{"env": "QuestMini-v0", "agent": "oracle", "scaffold": "full"}]}, "'scaffold' applies to LM agents"),
    ({"run": [lm_block(provider="anthropic")]}, "give the provider in the model"),
    ({"limits": {"max_dollars": -1}, "run": [lm_block()]}, "positive number"),
    ({"limits": {"max_dollars": float("nan")}, "run": [lm_block()]}, "positive number"),  # TOML's nan
    # each limit's first refused value: a grid budget of nothing would start no cell
    ({"limits": {"max_dollars": 0}, "run": [lm_block()]}, r"\[limits\] max_dollars: expected a positive number, got 0"),
    ({"limits": {"max_tokens": 0}, "run": [lm_block()]}, r"\[limits\] max_tokens: expected an integer >= 1, got 0"),
    ({"run": [lm_block(max_dollars=float("nan"))]}, "positive number"),
    ({"limits": {"concurrency": {"anthropic": 0}}, "run": [lm_block()]}, "concurrency.anthropic"),
    # a provider's typo limited nothing, without a word
    ({"limits": {"concurrency": {"antropic": 2}}, "run": [lm_block()]}, "concurrency: unknown key 'antropic'"),
    ({"train": [{"env": "QuestMini-v0", "seed": 0, "run_name": "x"}]}, "unknown key 'run_name'"),
    # a string switched the prompt cache on whatever it said ('false' included)
    ({"run": [lm_block(prompt_cache="false")]}, r"\[\[run\]\] #1 prompt_cache: expected true or false, got 'false'"),
    ({"run": [lm_block(models=[{"provider": "offline", "prompt_cache": "no"}])]}, "model prompt_cache: expected true"),
    ({"train": [{"env": "QuestMini-v0", "anneal_lr": "no"}]}, r"#1 anneal_lr: expected true or false, got 'no'"),
    ({"train": [{"env": "QuestMini-v0", "variants": [{"cuda_graph": 0}]}]}, "variant #1 cuda_graph: expected true or"),
    ({}, "no cells"),
])
def test_bad_grids_fail_in_one_line(data: dict, message: str) -> None:
    with pytest.raises(GridError, match=message) as info:
        parse_grid(data, source="g.toml")
    assert "\n" not in str(info.value) and str(info.value).startswith("g.toml")


@pytest.mark.parametrize(("block", "message"), [
    (lm_block(scaffold="nosuch"), "nosuch"),
    (lm_block(env="NoSuchEnv-v0"), "unknown env"),
    ({"env": "QuestMini-v0", "agent": "nosuch"}, "unknown agent 'nosuch'"),
    (lm_block(observe="smell"), "invalid choice"),
    # the LM agent reads quest's symbolic view: the cell failed when it ran
    (lm_block(obs_mode="pixels"), "the LM agent reads the symbolic view of longplay/QuestMini-v0"),
    (lm_block(models=[{"provider": "openai", "model": "gpt-4.1-mini", "price": "gpt-4.1-mini-typo"}]),
     "unknown --price 'gpt-4.1-mini-typo'"),
])
def test_validation_uses_the_real_commands(block: dict, message: str) -> None:
    grid = parse_grid({"run": [block]})
    with pytest.raises(GridError, match=message) as info:
        validate_cells(grid.cells)
    assert "\n" not in str(info.value) and str(info.value).startswith("cell ")


def test_validation_of_training_cells_and_prices() -> None:
    bad = parse_grid({"train": [{"env": "QuestMini-v0", "num_envs": 3, "n_steps": 5, "n_minibatches": 2}]})
    with pytest.raises(GridError, match="divisible"):
        validate_cells(bad.cells)
    unpriced = parse_grid({"limits": {"max_dollars": 1.0},
                           "run": [lm_block(models=[{"provider": "openai", "model": "my-local-model"}])]})
    with pytest.raises(GridError, match="no price for 'my-local-model'"):
        validate_cells(unpriced.cells, unpriced.limits)


@pytest.mark.parametrize("value", [-0.01, float("nan")])
def test_a_bad_training_hyperparameter_in_a_grid_names_the_cell(value: float) -> None:
    """The grid file path of ``longplay train``: ent_coef = -0.01 or nan (TOML's nan) reached the learner."""
    grid = parse_grid({"train": [{"env": "QuestMini-v0", "learner": ["ppo", "ppo-device"], "ent_coef": value}]})
    with pytest.raises(GridError, match="invalid ent_coef") as info:
        validate_cells(grid.cells)
    assert "\n" not in str(info.value) and str(info.value).startswith("cell ppo seed0: ")


@pytest.mark.parametrize("scaffold", ["map_memory", "full", "window(k=10),map_memory"])
def test_a_scaffold_a_cells_game_cannot_serve_is_refused_before_any_cell_runs(scaffold: str) -> None:
    """map_memory on the Game Boy (no map adapter) passed the checks and failed when its cell ran, after the
    cells before it had run (and spent)."""
    grid = parse_grid({"run": [{"envs": ["QuestMini-v0", "TestCart-v0"], "models": ["offline"],
                                "scaffolds": ["minimal", scaffold], "steps": 20}]})
    with pytest.raises(GridError) as info:
        validate_cells(grid.cells)
    assert str(info.value) == (f"cell TestCart-v0 lm offline-explorer {scaffold} seed0: the map_memory scaffold "
                               "needs a game with a map adapter; 'gameboy' has none")


@pytest.mark.parametrize(("block", "fragment"), [
    ({"envs": ["QuestMini-v0", "TestCart-v0"], "agents": ["random", "explorer"]},
     "cell TestCart-v0 explorer seed0: the explorer reads the built-in quest game's symbolic view"),
    ({"envs": ["QuestMini-v0", "TestCart-v0"], "agents": ["oracle"]},
     "cell TestCart-v0 oracle seed0: the oracle plays only the built-in quest game"),
    ({"env": "QuestMini-v0", "agents": ["explorer"], "obs_mode": "pixels"},
     "cell explorer seed0: the explorer reads the built-in quest game's symbolic view"),
])
def test_a_baseline_that_cannot_play_its_cells_game_is_refused_before_any_cell_runs(block: dict,
                                                                                    fragment: str) -> None:
    """The explorer or the oracle on a Game Boy game, or the explorer on pixels, passed the checks and failed
    when its cell ran, after the cells before it had run."""
    grid = parse_grid({"run": [{**block, "steps": 20}]})
    with pytest.raises(GridError) as info:
        validate_cells(grid.cells)
    assert str(info.value).startswith(fragment) and "\n" not in str(info.value), str(info.value)


def test_validation_builds_a_baseline_cells_env_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A baseline cell's env was built twice (for the game's features, which only LM cells read, then for its
    agent); a bad env option is still refused, after an unknown agent (which needs no env)."""
    import longplay.agents.cli as cli

    built = []
    make_env = cli.make_env
    monkeypatch.setattr(cli, "make_env", lambda env_id, kwargs: built.append(env_id) or make_env(env_id, kwargs))
    validate_cells(parse_grid({"run": [{"env": "QuestMini-v0", "agents": ["random"], "seeds": [0, 1]}]}).cells)
    assert built == ["longplay/QuestMini-v0"]
    for agent, message in (("random", "unknown world size 'gigantic'"), ("nonesuch", "unknown agent 'nonesuch'")):
        grid = parse_grid({"run": [{"env": "QuestMini-v0", "agent": agent, "env_kwargs": {"size": "gigantic"}}]})
        with pytest.raises(GridError, match=message):
            validate_cells(grid.cells)


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_missing_lm_sdk_stops_the_sweep_before_it_starts(provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing gameboy extra stopped the sweep up front; a missing openai or anthropic SDK failed each of its
    cells when it ran, after the others had run."""
    monkeypatch.setitem(sys.modules, provider, None)  # ``import openai`` raises ImportError: not installed
    grid = parse_grid({"run": [lm_block(models=["offline", f"{provider}:some-model"], seeds=[0])]})
    with pytest.raises(GridError) as info:
        validate_cells(grid.cells)
    message = str(info.value)
    assert message.startswith(f"cell lm some-model minimal seed0: the {provider} provider needs the {provider} SDK: "
                              "pip install 'longplay[lm]'") and "\n" not in message


@pytest.mark.parametrize("module", ["stable_baselines3", "torch"])
def test_a_missing_rl_extra_stops_a_sweep_with_train_cells_before_it_starts(module: str,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the rl extra every train cell started, failed with 'longplay train needs the rl extra' and the
    sweep exited 1 after the other cells had run; docs/sweeps.md says a missing extra is refused up front."""
    monkeypatch.setitem(sys.modules, module, None)  # ``import torch`` raises ImportError: not installed
    grid = parse_grid({"run": [lm_block(seeds=[0])], "train": [{"env": "QuestMini-v0", "total_steps": 256}]})
    with pytest.raises(GridError) as info:
        validate_cells(grid.cells)
    message = str(info.value)
    assert message.startswith(f"cell {grid.cells[-1].name}: longplay train needs the rl extra: pip install "
                              "'longplay[rl]'") and "\n" not in message


@pytest.mark.parametrize("path", GRIDS, ids=[p.name for p in GRIDS])
def test_example_grids_load_and_validate(path: Path) -> None:
    grid = load_grid(path)
    assert grid.cells and grid.text
    validate_cells(grid.cells, grid.limits)


def test_resume_arguments_replace_and_lift_checkpoint_budgets() -> None:
    cell = Cell("run", "longplay/QuestMini-v0", 0, "lm", lm={"provider": "offline"}, budget={"steps": 100})
    argv = cell.run_argv("d", Caps(max_tokens=500), resume="d/x.ckpt",
                         resume_budget={"max_steps": 100, "max_tokens": 200, "max_turns": 9})
    assert argv[argv.index("--max-tokens") + 1] == "500" and argv[argv.index("--max-steps") + 1] == "100"
    assert argv[argv.index("--max-turns") + 1] == "none"  # the cell has no turn limit
    assert "--max-dollars" not in argv and "--env" not in argv


def test_resume_arguments_lift_a_dollar_and_seconds_budget_with_none() -> None:
    """They were lifted with ``inf``, which ``longplay run`` now refuses (``none`` is the one spelling)."""
    from longplay.agents.cli import build_parser

    cell = Cell("run", "longplay/QuestMini-v0", 0, "lm", lm={"provider": "offline"})
    argv = cell.run_argv("d", resume="d/x.ckpt", resume_budget={"max_dollars": 2.0, "max_seconds": 60.0})
    assert argv[argv.index("--max-dollars") + 1] == argv[argv.index("--max-seconds") + 1] == "none"
    args = build_parser().parse_args(["run", *argv])
    assert args.lm_max_dollars == args.lm_max_seconds == "none"


@pytest.mark.parametrize(("content", "message"), [
    (b"[[run]\n", "invalid TOML in .*g.toml"),
    (b'name = "caf\xe9"\n', r"invalid TOML in .*g.toml: not UTF-8 text \(byte 11\)"),  # Latin-1, as some editors save
    (None, "cannot read .*g.toml"),
])
def test_a_grid_file_that_cannot_be_read_is_one_line(tmp_path: Path, content: bytes | None, message: str) -> None:
    """A grid saved as Latin-1 raised UnicodeDecodeError, a traceback naming no file: grids, price tables and
    scaffold files now share one TOML reader with one set of errors."""
    path = tmp_path / "g.toml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(GridError, match=message) as info:
        load_grid(path)
    assert "\n" not in str(info.value)
