"""Grid files: a TOML file that names envs, agents or learners, models, scaffolds, seeds and budgets, expanded
into :class:`~longplay.agents.sweep.cells.Cell` objects, one per combination.

A grid has ``[[run]]`` blocks (``longplay run``: LM agents and baselines) and ``[[train]]`` blocks
(``longplay train``). In a block, the **axes** take one value or a list, and every combination is a cell:

* ``[[run]]``: ``env``, ``env_kwargs``, ``agent`` (default ``lm``), ``model`` (LM agents), ``scaffold`` (LM
  agents, default ``minimal``), ``seed``. The other keys apply to every cell of the block: budgets (``steps``,
  ``max_turns``, ``max_tokens``, ``max_dollars``, ``max_seconds``) and the LM options of ``longplay run``
  (``observe``, ``temperature``, ``price``, ``checkpoint_every`` ...).
* ``[[train]]``: ``env``, ``env_kwargs``, ``learner`` (default ``ppo``), ``variants`` (named tables of
  ``TrainConfig`` fields), ``seed``. The other keys are ``TrainConfig`` fields for every cell.

Plural spellings (``envs``, ``agents``, ``models``, ``scaffolds``, ``seeds``, ``learners``) are accepted;
``seeds`` may be ``{ start = 0, count = 8 }``. A model is ``"PROVIDER:MODEL"`` (``"offline"`` alone is the
offline model) or a table ``{ provider, model, name, base_url, price, ... }``. ``[limits]`` holds the grid's
``max_dollars`` and ``max_tokens`` (all cells together), the default ``workers`` and ``concurrency``
(provider name, or ``train`` / ``baseline`` -> most cells running at once). See ``docs/sweeps.md``.

A cell's label (its configuration in the table and the chart) is its agent, model and scaffold, or its learner and
variant, with the env when the grid has several, and the settings that tell it apart from cells that would share
it otherwise (``oracle steps=50``).

>>> grid = parse_grid({"run": [{"env": "longplay/QuestMini-v0", "models": ["offline"],
...                              "scaffolds": ["minimal", "notes"], "seeds": [0, 1], "steps": 100}]})
>>> len(grid.cells), sorted({c.label for c in grid.cells})
(4, ['lm offline-explorer minimal', 'lm offline-explorer notes'])
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from longplay.agents.lm.config import PROVIDERS
from longplay.agents.sweep.cells import BUDGET_FLAGS, LM_FLAGS, LM_SWITCHES, Cell
from longplay.agents.toml_files import read_toml

#: Axes of a ``[[run]]`` block (singular -> plural spelling).
RUN_AXES = {"env": "envs", "env_kwargs": "env_kwargs", "agent": "agents", "model": "models",
            "scaffold": "scaffolds", "seed": "seeds"}
#: Axes of a ``[[train]]`` block.
TRAIN_AXES = {"env": "envs", "env_kwargs": "env_kwargs", "learner": "learners", "variants": "variants",
              "seed": "seeds"}
#: Model-table keys besides the LM options.
MODEL_KEYS = ("provider", "model", "name")
#: LM options a model table may carry (they describe the endpoint, so they belong to the model).
MODEL_OPTIONS = ("base_url", "api_key_env", "price", "temperature", "max_output_tokens", "timeout",
                 "prompt_cache")
#: ``TrainConfig`` fields a grid may not set: the sweep sets them per cell.
TRAIN_RESERVED = ("env_id", "env_kwargs", "seed", "learner", "runs_dir", "run_name", "progress")
#: What the sweep sets for ``train`` cells unless the grid says otherwise: one torch thread per cell (cells
#: run side by side) and one evaluation replay, at the end.
TRAIN_DEFAULTS = {"torch_threads": 1, "eval_every": 0}
#: What ``concurrency`` limits: the cells of an LM provider, the training cells or the baseline cells (what
#: :attr:`Cell.provider` says).
CONCURRENCY_KEYS = (*PROVIDERS, "train", "baseline")
#: The offline model's default name.
OFFLINE_MODEL = "offline-explorer"


class GridError(ValueError):
    """A grid file that cannot be used; the message is one line and names the place."""


@dataclass
class Limits:
    """What protects the user's money and machine across the whole grid."""

    max_dollars: float | None = None
    """Dollars all LM cells together may spend (over every run of the sweep)."""
    max_tokens: int | None = None
    """Tokens all LM cells together may spend."""
    workers: int | None = None
    """Cells running at once (``--workers``)."""
    concurrency: dict[str, int] = field(default_factory=dict)
    """Most cells running at once per provider (``anthropic``, ``openai``, ``offline``), or for ``train``
    and ``baseline`` cells."""


@dataclass
class Grid:
    """A parsed grid file."""

    name: str
    """The grid's name (default: the file name)."""
    cells: list[Cell]
    """Every cell, in file order, without duplicates."""
    limits: Limits = field(default_factory=Limits)
    """The grid's limits."""
    out: str | None = None
    """The output folder the file names (default ``sweeps/<name>``)."""
    duplicates: int = 0
    """Cells listed more than once (kept once)."""
    text: str = ""
    """The file's text, kept beside the results."""


# ============================================================================================== loading
def load_grid(path: str | os.PathLike[str]) -> Grid:
    """Reads and expands a grid file (see the module docstring); :class:`GridError` on bad input."""
    try:
        data, text = read_toml(path)
    except ValueError as exc:
        raise GridError(str(exc)) from None
    grid = parse_grid(data, source=str(path), base_dir=Path(path).parent, name=Path(path).stem)
    grid.text = text
    return grid


def parse_grid(data: dict[str, Any], source: str = "grid", base_dir: str | os.PathLike[str] = ".",
               name: str = "grid") -> Grid:
    """Expands parsed grid data into cells (pure: no env or file is touched)."""
    _known(data, ("name", "out", "limits", "run", "train"), source)
    limits = _limits(data.get("limits", {}), f"{source}: [limits]")
    cells: list[Cell] = []
    for i, block in enumerate(_blocks(data.get("run"), f"{source}: run")):
        cells += _run_cells(block, f"{source}: [[run]] #{i + 1}", Path(base_dir))
    for i, block in enumerate(_blocks(data.get("train"), f"{source}: train")):
        cells += _train_cells(block, f"{source}: [[train]] #{i + 1}")
    if not cells:
        raise GridError(f"{source}: no cells: add a [[run]] or [[train]] block")
    _label_envs(cells)
    _label_settings(cells)
    unique: dict[str, Cell] = {}
    for cell in cells:
        unique.setdefault(cell.id, cell)
    grid_name = data.get("name", name)
    if not isinstance(grid_name, str) or not grid_name:
        raise GridError(f"{source}: name must be a non-empty string")
    out = data.get("out")
    if out is not None and not isinstance(out, str):
        raise GridError(f"{source}: out must be a folder name")
    return Grid(grid_name, list(unique.values()), limits, out, len(cells) - len(unique))


def _known(table: dict[str, Any], keys: Any, where: str) -> None:
    for key in table:
        if key not in keys:
            raise GridError(f"{where}: unknown key {key!r}; valid: {', '.join(sorted(keys))}")


def _blocks(value: Any, where: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list) or not all(isinstance(b, dict) for b in value):
        raise GridError(f"{where}: write blocks as [[{where.rsplit(' ', 1)[-1]}]] tables")
    return value


def _limits(table: Any, where: str) -> Limits:
    if not isinstance(table, dict):
        raise GridError(f"{where}: must be a table")
    _known(table, ("max_dollars", "max_tokens", "workers", "concurrency"), where)
    limits = Limits()
    if "max_dollars" in table:
        limits.max_dollars = _number(table["max_dollars"], f"{where} max_dollars", positive=True)
    if "max_tokens" in table:
        limits.max_tokens = _integer(table["max_tokens"], f"{where} max_tokens", minimum=1)
    if "workers" in table:
        limits.workers = _integer(table["workers"], f"{where} workers", minimum=0)
    concurrency = table.get("concurrency", {})
    if not isinstance(concurrency, dict):
        raise GridError(f"{where}: concurrency must be a table like {{ anthropic = 2 }}")
    for key in concurrency:
        check_concurrency_key(key, f"{where} concurrency")
    limits.concurrency = {str(k): _integer(v, f"{where} concurrency.{k}", minimum=1) for k, v in concurrency.items()}
    return limits


def check_concurrency_key(name: str, where: str) -> None:
    """Refuses a ``concurrency`` key (a grid's or ``--concurrency``'s) that is no provider, ``train`` or
    ``baseline``: it would limit nothing, so the rate limit it was meant to keep would not be kept."""
    if name not in CONCURRENCY_KEYS:
        raise GridError(f"{where}: unknown key {name!r}; valid: {', '.join(CONCURRENCY_KEYS)}")


def _number(value: Any, where: str, positive: bool = False) -> float:
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or value != value  # NaN (TOML nan)
            or (positive and value <= 0)):
        raise GridError(f"{where}: expected a {'positive ' if positive else ''}number, got {value!r}")
    return float(value)


def _integer(value: Any, where: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise GridError(f"{where}: expected an integer >= {minimum}, got {value!r}")
    return value


def _check_booleans(table: dict[str, Any], names: Any, where: str) -> None:
    """Refuses a non-boolean value of a switch in ``names``: a string such as ``"false"`` would read as true."""
    for key in sorted(set(names) & table.keys()):
        if not isinstance(table[key], bool):
            raise GridError(f"{where} {key}: expected true or false, got {table[key]!r}")


def _axis(block: dict[str, Any], singular: str, plural: str, where: str, default: Any = None) -> list[Any]:
    """The values of one axis: ``singular`` or ``plural`` key, one value or a list."""
    if singular in block and plural in block and singular != plural:
        raise GridError(f"{where}: give {singular!r} or {plural!r}, not both")
    value = block.get(singular, block.get(plural, default))
    if value is None:
        raise GridError(f"{where}: {singular!r} is required")
    if singular == "seed" and isinstance(value, dict):
        _known(value, ("start", "count"), f"{where} seeds")
        start = _integer(value.get("start", 0), f"{where} seeds.start")
        return list(range(start, start + _integer(value.get("count"), f"{where} seeds.count", minimum=1)))
    if singular == "env_kwargs" and isinstance(value, dict):
        return [value]
    values = value if isinstance(value, list) else [value]
    if not values:
        raise GridError(f"{where}: {plural!r} is empty")
    if singular == "seed":
        return [_integer(v, f"{where} seed") for v in values]
    if singular == "env_kwargs" and not all(isinstance(v, dict) for v in values):
        raise GridError(f"{where}: env_kwargs must be a table or a list of tables")
    return values


def _env_ids(values: list[Any], where: str) -> list[str]:
    ids = []
    for value in values:
        if not isinstance(value, str) or not value:
            raise GridError(f"{where}: env must be an env id, got {value!r}")
        ids.append(value if "/" in value else f"longplay/{value}")
    return ids


def parse_model(value: Any, where: str) -> dict[str, Any]:
    """A model spec as LM options: ``"anthropic:claude-sonnet-4-5"``, ``"offline"`` or a table.

    >>> parse_model("openai:qwen2.5:7b", "x")
    {'provider': 'openai', 'model': 'qwen2.5:7b'}
    """
    if isinstance(value, str):
        provider, sep, model = value.partition(":")
        if not sep and provider != "offline":
            raise GridError(f"{where}: write a model as PROVIDER:MODEL (e.g. anthropic:claude-sonnet-4-5), "
                            f"got {value!r}")
        value = {"provider": provider, "model": model or None}
    if not isinstance(value, dict):
        raise GridError(f"{where}: a model is 'PROVIDER:MODEL' or a table, got {value!r}")
    _known(value, (*MODEL_KEYS, *MODEL_OPTIONS), f"{where} model")
    _check_booleans(value, LM_SWITCHES, f"{where} model")
    spec = {k: v for k, v in value.items() if v is not None}
    if not isinstance(spec.get("provider"), str):
        raise GridError(f"{where}: the model table needs a provider")
    if spec["provider"] == "offline":
        spec.setdefault("model", OFFLINE_MODEL)
    if not isinstance(spec.get("model"), str) or not spec["model"]:
        raise GridError(f"{where}: the model table needs a model name")
    return spec


def _run_cells(block: dict[str, Any], where: str, base_dir: Path) -> list[Cell]:
    options = set(LM_FLAGS) | set(LM_SWITCHES) | {"checkpoint"}
    axes = {k for pair in RUN_AXES.items() for k in pair}
    _known(block, axes | options | set(BUDGET_FLAGS), where)
    common_lm = {k: v for k, v in block.items() if k in options and k not in ("provider", "model", "scaffold")}
    _check_booleans(common_lm, LM_SWITCHES, where)
    if "provider" in block:
        raise GridError(f"{where}: give the provider in the model, e.g. models = [\"{block['provider']}:MODEL\"]")
    if "scaffold_file" in common_lm:
        common_lm["scaffold_file"] = str((base_dir / str(common_lm["scaffold_file"])).resolve())
    budget = {k: block[k] for k in BUDGET_FLAGS if k in block}
    for key, value in budget.items():
        if key in ("max_dollars", "max_seconds"):
            _number(value, f"{where} {key}", positive=True)
        else:
            _integer(value, f"{where} {key}", minimum=1)
    envs = _env_ids(_axis(block, "env", "envs", where), where)
    kwargs_list = _axis(block, "env_kwargs", "env_kwargs", where, default={})
    agents = _axis(block, "agent", "agents", where, default="lm")
    seeds = _axis(block, "seed", "seeds", where, default=0)
    if "lm" not in agents:  # these axes make LM cells only: without one, they would be dropped silently
        lm_axes = [k for k in ("model", "models", "scaffold", "scaffolds") if k in block]
        if lm_axes:
            raise GridError(f"{where}: {lm_axes[0]!r} applies to LM agents only (agent {agents[0]!r}; "
                            "the LM agent is 'lm', the default)")
    cells = []
    for agent in agents:
        if not isinstance(agent, str):
            raise GridError(f"{where}: agent must be a name, got {agent!r}")
        if agent == "lm":
            models = [parse_model(m, where) for m in _axis(block, "model", "models", where)]
            scaffolds = _axis(block, "scaffold", "scaffolds", where, default="minimal")
            for s in scaffolds:
                if not isinstance(s, str):
                    raise GridError(f"{where}: a scaffold is a preset or a spec string, got {s!r}")
            lm_variants = [({**common_lm, **{k: v for k, v in m.items() if k != "name"}, "scaffold": s},
                            f"lm {m.get('name') or m['model']} {s}") for m in models for s in scaffolds]
            cell_budget = budget
        else:
            extra = sorted(set(budget) - {"steps"}) + sorted(k for k in common_lm if k not in ("obs_mode",
                                                                                                "checkpoint"))
            if extra:
                raise GridError(f"{where}: {extra[0]!r} applies to LM agents only (agent {agent!r})")
            label = agent + (f" {Path(str(common_lm['checkpoint'])).stem}" if "checkpoint" in common_lm else "")
            lm_variants = [(dict(common_lm), label)]
            cell_budget = {k: v for k, v in budget.items() if k == "steps"}
        for env_id, kwargs, (lm, label), seed in itertools.product(envs, kwargs_list, lm_variants, seeds):
            cells.append(Cell("run", env_id, seed, agent, env_kwargs=dict(kwargs), lm=dict(lm),
                              budget=dict(cell_budget), label=label))
    return cells


def _train_fields() -> set[str]:
    from dataclasses import fields

    from longplay.agents.rl.config import TrainConfig

    return {f.name for f in fields(TrainConfig)} - set(TRAIN_RESERVED)


def _train_switches() -> set[str]:
    """The boolean ``TrainConfig`` fields (``--anneal-lr`` / ``--no-anneal-lr``)."""
    import typing

    from longplay.agents.rl.config import TrainConfig

    return {name for name, kind in typing.get_type_hints(TrainConfig).items() if kind is bool}


def _train_cells(block: dict[str, Any], where: str) -> list[Cell]:
    names = _train_fields()
    axes = {k for pair in TRAIN_AXES.items() for k in pair}
    _known(block, axes | names, where)
    switches = _train_switches()
    _check_booleans(block, switches, where)
    common = {**TRAIN_DEFAULTS, **{k: v for k, v in block.items() if k in names}}
    envs = _env_ids(_axis(block, "env", "envs", where), where)
    kwargs_list = _axis(block, "env_kwargs", "env_kwargs", where, default={})
    learners = _axis(block, "learner", "learners", where, default="ppo")
    seeds = _axis(block, "seed", "seeds", where, default=0)
    variants: list[tuple[str, dict[str, Any]]] = [("", {})]
    if "variants" in block:
        raw = block["variants"]
        if not isinstance(raw, list) or not all(isinstance(v, dict) for v in raw) or not raw:
            raise GridError(f"{where}: variants must be [[train.variants]] tables")
        variants = []
        for j, table in enumerate(raw):
            _known(table, names | {"name"}, f"{where} variant #{j + 1}")
            _check_booleans(table, switches, f"{where} variant #{j + 1}")
            name = table.get("name", f"v{j + 1}")
            if not isinstance(name, str) or not name:
                raise GridError(f"{where} variant #{j + 1}: name must be a string")
            variants.append((name, {k: v for k, v in table.items() if k != "name"}))
    cells = []
    for env_id, kwargs, learner, (variant, overrides), seed in itertools.product(envs, kwargs_list, learners,
                                                                                  variants, seeds):
        if not isinstance(learner, str):
            raise GridError(f"{where}: learner must be a name, got {learner!r}")
        label = learner + (f" {variant}" if variant else "")
        cells.append(Cell("train", env_id, seed, learner, env_kwargs=dict(kwargs), train={**common, **overrides},
                          variant=variant, label=label))
    return cells


def _env_label(cell: Cell) -> str:
    name = cell.env_id.rsplit("/", 1)[-1]
    if cell.env_kwargs:
        name += "(" + ",".join(f"{k}={v}" for k, v in sorted(cell.env_kwargs.items())) + ")"
    return name


def _label_envs(cells: list[Cell]) -> None:
    """Puts the env in the labels when the grid has more than one."""
    if len({_env_label(c) for c in cells}) > 1:
        for cell in cells:
            cell.label = f"{_env_label(cell)} {cell.label}"


def _cell_settings(cell: Cell) -> dict[str, Any]:
    """What a cell's label may leave out: its kind, budgets, LM options and training fields."""
    return {"kind": cell.kind, **cell.budget, **cell.lm, **cell.train}


def _label_settings(cells: list[Cell]) -> None:
    """Puts the settings that differ in the labels of cells that would share one with other settings (one agent in
    two blocks with other budgets, one model at two temperatures): the table and the chart pool a label's cells as
    the seeds of one configuration."""
    by_label: dict[str, list[Cell]] = {}
    for cell in cells:
        by_label.setdefault(cell.label, []).append(cell)
    for members in by_label.values():
        settings = [_cell_settings(c) for c in members]
        # compared as JSON: a NaN (TOML's nan) is not equal to itself
        texts = [{key: json.dumps(value, sort_keys=True, default=str) for key, value in s.items()} for s in settings]
        differing = sorted({key for t in texts for key in t if any(other.get(key) != t[key] for other in texts)})
        for cell, own, text in zip(members, settings, texts, strict=True):
            # as the grid file writes them, strings unquoted
            cell.label += "".join(f" {key}={own[key] if isinstance(own[key], str) else text[key]}"
                                  for key in differing if key in own)


# ============================================================================================== validation
def validate_cells(cells: list[Cell], limits: Limits | None = None) -> None:
    """Checks every cell the way its command would (env id, flags, LM config, training config) before
    anything runs; :class:`GridError` naming the first bad cell."""
    from longplay.agents.cli import CliError, build_parser, env_kwargs, make_env, resolve_env_id

    parser = build_parser()
    made: set[str] = set()  # the training envs built so far (each env id and options once)
    games: dict[str, tuple[str, Any]] = {}  # env id and options -> what the LM cells need of its game
    for cell in cells:
        where = f"cell {cell.name}"
        try:
            env_id = resolve_env_id(cell.env_id)
            if cell.kind == "train":
                args = _parse(parser, ["train", *cell.train_argv("runs")], where)
                from longplay.agents.rl.cli import build_config, require_rl_extra
                from longplay.agents.rl.evaluation import check_env_settings

                require_rl_extra()  # as a missing lm SDK or gameboy extra stops the run cells below
                config = build_config(args).config
                config.validate()
                if _first(made, ("train", config.env_id, config.env_kwargs, config.vec_env, config.buttons)):
                    check_env_settings(config)  # as the train command does before it starts
            else:
                args = _parse(parser, ["run", *cell.run_argv("runs")], where)
                kwargs = env_kwargs(args)
                # A bad env option or a missing ROM is found before anything runs, by building the env once: here
                # for an LM cell, by _check_agent for a baseline's (which builds it for its agent anyway).
                if cell.metered:
                    from longplay.agents.lm.cli import check_view, config_from_args, new_run_env_kwargs
                    from longplay.scaffolds import build_scaffold

                    key = json.dumps([env_id, kwargs], sort_keys=True, default=str)
                    if key not in games:
                        games[key] = _game_features(make_env, env_id, kwargs)
                    config = config_from_args(args)
                    _check_sdk(config.provider.provider)  # as a missing gameboy extra stops make_env above
                    backend, adapter = games[key]
                    check_view(adapter, env_id, new_run_env_kwargs(args))  # --obs-mode pixels on quest
                    build_scaffold(config.scaffold).check_game(backend, adapter is not None)  # map_memory, Game Boy
                    if limits is not None and limits.max_dollars is not None:
                        _check_price(config.provider.price_name, where)
                elif cell.agent not in _agents():
                    raise GridError(f"{where}: unknown agent {cell.agent!r}; valid: {', '.join(_agents())}")
                elif _first(made, ("run", env_id, kwargs, cell.agent, args.obs_mode, args.checkpoint)):
                    _check_agent(make_env, args, env_id, kwargs)  # the explorer on a Game Boy game, pixels
        except (CliError, ValueError) as exc:
            message = str(exc)
            raise GridError(message if message.startswith(where) else f"{where}: {message}") from None


def _check_agent(make_env: Any, args: Any, env_id: str, kwargs: dict[str, Any]) -> None:
    """Starts a baseline or policy agent (``longplay run --agent NAME``) on its cell's env as the run command
    would, up to the agent's first look at it: ``ValueError`` when the agent cannot play that env (the explorer
    and the oracle read the built-in game only, the explorer its symbolic view, a policy its own observations)."""
    from longplay.agents.base import make_agent

    agent = make_agent(args.agent, **({"checkpoint": args.checkpoint} if args.checkpoint else {}))
    env = make_env(env_id, {**kwargs, "obs_mode": kwargs.get("obs_mode", args.obs_mode or agent.obs_mode)})
    try:
        seed = args.seed or 0
        obs, info = env.reset(seed=seed)
        agent.reset(env, obs, info, seed)
    finally:
        env.close()


def _game_features(make_env: Any, env_id: str, kwargs: dict[str, Any]) -> tuple[str, Any]:
    """Builds the env once: its game's backend and the LM loop's adapter for it (``None``: no map, no view of its
    own), what an LM cell's scaffold and observation mode are checked against."""
    from longplay.agents.lm.adapters import adapter_for

    env = make_env(env_id, kwargs)
    try:
        game = getattr(env.unwrapped, "game", None)
        if game is None:  # not a longplay env: nothing a scaffold could read
            return env_id, None
        return str(game.backend), adapter_for(game)
    finally:
        env.close()


def _check_sdk(provider: str) -> None:
    """``ValueError`` naming the extra to install when the provider's SDK (``openai``, ``anthropic``) is missing."""
    from longplay.agents.lm.providers import SDKS, ProviderError, import_sdk

    if provider in SDKS:
        try:
            import_sdk(provider)
        except ProviderError as exc:
            raise ValueError(str(exc)) from None


def _first(seen: set[str], key: Any) -> bool:
    """Adds ``key`` (JSON-able) to ``seen``; whether it was new."""
    text = json.dumps(key, sort_keys=True, default=str)
    if text in seen:
        return False
    seen.add(text)
    return True


def _agents() -> list[str]:
    from longplay.agents.base import AGENTS

    return sorted(AGENTS)


def _check_price(name: str, where: str) -> None:
    from longplay.agents.lm.accounting import PriceTable

    if PriceTable.load().lookup(name) is None:
        raise GridError(f"{where}: no price for {name!r}, so the grid's dollar budget cannot be kept; set price "
                        "in the model (e.g. price = \"local\" for a free local model)")


def _parse(parser: Any, argv: list[str], where: str) -> Any:
    """Parses ``argv`` with the ``longplay`` parser; argparse's message becomes one :class:`GridError`."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            return parser.parse_args(argv)
    except SystemExit:
        lines = [line for line in captured.getvalue().splitlines() if line.strip()]
        message = lines[-1].split("error: ", 1)[-1] if lines else "invalid arguments"
        raise GridError(f"{where}: {message}") from None
