"""``longplay run --agent lm``: the command-line half of LM runs (the ``run`` command calls into here).

:func:`add_arguments` adds the LM options to ``longplay run`` (every ``dest`` starts with ``lm_``), and
:func:`run_lm` performs a whole run: env, provider, scaffold, replay, checkpoints, progress, summary.

Examples::

    longplay run --agent lm --env QuestMini-v0 --provider offline --scaffold full --steps 2000
    longplay run --agent lm --provider anthropic --model claude-sonnet-4-5 --scaffold notes --max-dollars 5
    longplay run --agent lm --provider openai --base-url http://localhost:8000/v1 \\
        --model qwen2.5-7b-instruct --price local --observe text
    longplay run --agent lm --resume runs/20261128-235959__QuestMini-v0__lm__offline-explorer__seed0.lpr
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from longplay.agents.lm.config import (
    MAX_IMAGE_SCALE,
    PROMPT_VERSION,
    PROVIDERS,
    BudgetConfig,
    CheckpointConfig,
    LMConfig,
    ObservationConfig,
    ProviderConfig,
    RetryConfig,
    ToolConfig,
    config_from_dict,
)
from longplay.envs.game import GameError

OBSERVE = ("text", "screenshot", "both")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the LM options to ``longplay run`` (dests prefixed ``lm_``)."""
    g = parser.add_argument_group("language-model agents (--agent lm)")
    g.add_argument(
        "--provider",
        dest="lm_provider",
        choices=PROVIDERS,
        default=None,
        help="model endpoint: anthropic, openai (any OpenAI-compatible server) or offline (scripted; "
        "default)",
    )
    g.add_argument(
        "--model",
        dest="lm_model",
        metavar="NAME",
        default=None,
        help="model name (default: offline-explorer for offline)",
    )
    g.add_argument(
        "--base-url",
        dest="lm_base_url",
        metavar="URL",
        default=None,
        help="endpoint URL, e.g. http://localhost:8000/v1 for vLLM, http://localhost:11434/v1 for Ollama",
    )
    g.add_argument(
        "--api-key-env",
        dest="lm_api_key_env",
        default=None,
        metavar="VAR",
        help="environment variable holding the API key (default ANTHROPIC_API_KEY / OPENAI_API_KEY)",
    )
    g.add_argument(
        "--temperature",
        dest="lm_temperature",
        metavar="T",
        type=float,
        default=None,
        help="sampling temperature (default: the endpoint's)",
    )
    g.add_argument(
        "--max-output-tokens",
        dest="lm_max_output_tokens",
        metavar="N",
        type=int,
        default=None,
        help="most tokens per reply (default 1024)",
    )
    g.add_argument(
        "--timeout",
        dest="lm_timeout",
        metavar="SECONDS",
        type=float,
        default=None,
        help="seconds per request (default 120)",
    )
    g.add_argument(
        "--price",
        dest="lm_price",
        metavar="ENTRY",
        default=None,
        help="price-table entry that bills the model (default: the model name); 'local' costs nothing",
    )
    g.add_argument(
        "--no-prompt-cache",
        dest="lm_no_prompt_cache",
        action="store_true",
        help="do not mark prompts for caching",
    )
    g.add_argument(
        "--observe",
        dest="lm_observe",
        choices=OBSERVE,
        default=None,
        help="what the model sees of the screen: text view, screenshot, or both (default text)",
    )
    g.add_argument(
        "--image-scale",
        dest="lm_image_scale",
        metavar="K",
        type=int,
        default=None,
        help=f"screenshot upscaling, 1 to {MAX_IMAGE_SCALE} (default 3)",
    )
    g.add_argument(
        "--scaffold",
        dest="lm_scaffold",
        metavar="SPEC",
        default=None,
        help="preset (minimal, notes, full) or components, e.g. 'window(k=30),notes,critic(every=10)'",
    )
    g.add_argument(
        "--scaffold-file",
        dest="lm_scaffold_file",
        default=None,
        metavar="TOML",
        help="scaffold from a TOML file (on its own, the whole scaffold; with --scaffold, applied after it)",
    )
    g.add_argument(
        "--max-steps",
        dest="lm_max_steps",
        metavar="N",
        type=_budget(int),
        default=None,
        help="step budget (default: --steps; on --resume: the run's own; none: no step budget)",
    )
    g.add_argument(
        "--max-turns", dest="lm_max_turns", metavar="N", type=_budget(int), default=None,
        help="turn budget (none: no turn budget; lifts the run's own on --resume, as for every budget)"
    )
    g.add_argument(
        "--max-tokens",
        dest="lm_max_tokens",
        metavar="N",
        type=_budget(int),
        default=None,
        help="token budget (in + out)",
    )
    g.add_argument(
        "--max-dollars", dest="lm_max_dollars", metavar="USD", type=_budget(float), default=None,
        help="dollar budget"
    )
    g.add_argument(
        "--max-seconds",
        dest="lm_max_seconds",
        metavar="SECONDS",
        type=_budget(float),
        default=None,
        help="wall-clock budget",
    )
    g.add_argument(
        "--max-retries",
        dest="lm_max_retries",
        metavar="N",
        type=int,
        default=None,
        help="retries of one model call (default 6)",
    )
    g.add_argument(
        "--max-failures",
        dest="lm_max_failures",
        metavar="N",
        type=int,
        default=None,
        help="failed turns in a row before the run stops (default 5)",
    )
    g.add_argument(
        "--checkpoint-every",
        dest="lm_checkpoint_every",
        metavar="TURNS",
        type=int,
        default=None,
        help="turns between checkpoints (default 50; 0: only at milestones and the end)",
    )
    g.add_argument(
        "--resume",
        dest="lm_resume",
        default=None,
        metavar="RUN",
        help="continue a run (its replay or checkpoint path, or its name in --runs-dir)",
    )


def lm_options() -> list[tuple[str, str]]:
    """Every LM option as ``(flag, dest)`` (``("--temperature", "lm_temperature")``), in :func:`add_arguments`'
    order."""
    probe = argparse.ArgumentParser(add_help=False)
    add_arguments(probe)
    return [(action.option_strings[0], action.dest) for action in probe._actions]


def given_options(args: argparse.Namespace) -> list[str]:
    """The LM options ``args`` holds a value of, as the user spelt them (``--temperature``), in
    :func:`add_arguments`' order: a value other than the default (None; False for a switch) was given."""
    from longplay.agents.cli import given_flags

    return given_flags(args, lm_options())


def _user_error(message: str) -> Exception:
    from longplay.agents.cli import CliError

    return CliError(message)


def _arg(args: argparse.Namespace, name: str) -> Any:
    return getattr(args, name, None)


NO_BUDGET = "none"
"""What a budget flag holds when given as ``none``: no such budget (lifts the checkpoint's on ``--resume``)."""


def _budget(kind: type) -> Any:
    """An argparse type for a budget flag: a number of ``kind``, or ``none`` (the one spelling of no budget:
    ``inf`` is refused, as the integer budgets refuse it, and would write ``Infinity``, not JSON, into the replay)."""

    def parse(text: str) -> Any:
        if text.strip().lower() == NO_BUDGET:
            return NO_BUDGET
        value = kind(text)
        if value == float("inf"):
            raise argparse.ArgumentTypeError(f"invalid budget {text!r}; use {NO_BUDGET} for no budget")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its error message
    return parse


def _budget_arg(args: argparse.Namespace, name: str) -> Any:
    """A budget flag's value: None when not given or given as ``none``."""
    value = _arg(args, name)
    return None if value == NO_BUDGET else value


def config_from_args(args: argparse.Namespace) -> LMConfig:
    """The :class:`LMConfig` of a new run from the command line."""
    from longplay.scaffolds import load_spec_file, normalize, parse_spec

    provider = _arg(args, "lm_provider") or "offline"
    model = _arg(args, "lm_model") or ("offline-explorer" if provider == "offline" else None)
    if model is None:
        raise _user_error(f"--model is required with --provider {provider}")
    pc = ProviderConfig(
        provider=provider,
        model=model,
        base_url=_arg(args, "lm_base_url"),
        api_key_env=_arg(args, "lm_api_key_env"),
        temperature=_arg(args, "lm_temperature"),
        price=_arg(args, "lm_price"),
        prompt_caching=not _arg(args, "lm_no_prompt_cache"),
    )
    if pc.price is not None:
        from longplay.agents.lm.accounting import PriceTable

        table = PriceTable.load()
        if table.lookup(pc.price) is None:  # a typo would bill the model at $0, silently
            raise _user_error(f"unknown --price {pc.price!r}: no such entry in the price table ({table.source}); "
                              f"entries: {', '.join(sorted(table.prices))}")
    if _arg(args, "lm_max_output_tokens") is not None:
        pc.max_output_tokens = args.lm_max_output_tokens
    if _arg(args, "lm_timeout") is not None:
        pc.request_timeout_s = args.lm_timeout
    observe = _arg(args, "lm_observe") or "text"
    oc = ObservationConfig(screenshot=observe in ("screenshot", "both"), text=observe in ("text", "both"))
    if _arg(args, "lm_image_scale") is not None:
        oc.image_scale = args.lm_image_scale
    from longplay.agents.cli import DEFAULT_STEPS

    steps = next((v for v in (_arg(args, "lm_max_steps"), _arg(args, "steps")) if v is not None), DEFAULT_STEPS)
    budget = BudgetConfig(
        max_steps=None if steps == NO_BUDGET else steps,
        max_turns=_budget_arg(args, "lm_max_turns"),
        max_tokens=_budget_arg(args, "lm_max_tokens"),
        max_dollars=_budget_arg(args, "lm_max_dollars"),
        max_seconds=_budget_arg(args, "lm_max_seconds"),
    )
    retry = RetryConfig()
    if _arg(args, "lm_max_retries") is not None:
        retry.max_retries = args.lm_max_retries
    if _arg(args, "lm_max_failures") is not None:
        retry.max_consecutive_failures = args.lm_max_failures
    checkpoint = CheckpointConfig()
    if _arg(args, "lm_checkpoint_every") is not None:
        checkpoint.every_turns = args.lm_checkpoint_every
    try:
        # The default preset applies only when nothing names a scaffold: a file alone (preset "full", say)
        # must not inherit minimal's window, which would cut the history before a summary could be written.
        given = _arg(args, "lm_scaffold")
        spec = parse_spec(given or ("" if _arg(args, "lm_scaffold_file") else "minimal"))
        if _arg(args, "lm_scaffold_file"):
            spec = load_spec_file(args.lm_scaffold_file, onto=spec)
        spec = normalize(spec)
    except ValueError as exc:
        raise _user_error(str(exc)) from None
    config = LMConfig(
        provider=pc,
        observation=oc,
        budget=budget,
        retry=retry,
        tools=ToolConfig(),
        checkpoint=checkpoint,
        scaffold=spec,
        seed=int(_arg(args, "seed") or 0),
    )
    validate_config(config)
    return config


def validate_config(config: LMConfig, resumed: bool = False) -> None:
    """One-line errors for values that cannot work. ``resumed``: the config of a run ``--resume`` continues, with
    its overrides; only what a resume can change (:data:`RESUME_OVERRIDES`) is checked there, and the dollar budget's
    price: the run's own values go on as recorded (a run an older longplay began with --image-scale 16 could not be
    resumed at all, refused for a flag the resume itself says it ignores)."""
    if not resumed:
        _check_the_runs_own(config)
    b = config.budget
    for name, value in (
        ("--max-steps/--steps", b.max_steps),
        ("--max-turns", b.max_turns),
        ("--max-tokens", b.max_tokens),
    ):
        if value is not None and value < 1:
            raise _user_error(f"invalid {name} {value}; must be >= 1")
    for name, value in (("--max-dollars", b.max_dollars), ("--max-seconds", b.max_seconds)):
        if value is not None and not value > 0:  # NaN included: it would never be reached
            raise _user_error(f"invalid {name} {value}; must be > 0")
    if not 0 < config.provider.request_timeout_s < math.inf:
        raise _user_error(f"--timeout must be positive and finite (got {config.provider.request_timeout_s})")
    _check_base_url(config.provider.base_url)
    if config.retry.max_retries < 0 or config.retry.max_consecutive_failures < 1:
        raise _user_error("--max-retries must be >= 0 and --max-failures >= 1")
    if config.checkpoint.every_turns < 0:
        raise _user_error("--checkpoint-every must be >= 0")
    if b.max_dollars is not None:
        from longplay.agents.lm.accounting import PriceTable

        name = config.provider.price_name
        if PriceTable.load().lookup(name) is None:
            # a resumed run keeps its price as it keeps its model: --price is ignored there
            advice = ("the run began without one and keeps it on --resume (a new run takes --price NAME)" if resumed
                      else "pass --price NAME (e.g. --price local for a free local model)")
            raise _user_error(f"no price for {name!r} in the price table, so a dollar budget cannot be kept; {advice}")


def _check_the_runs_own(config: LMConfig) -> None:
    """One-line errors for the values a new run fixes for good (a resume keeps them): what the model sees and
    how it is asked."""
    if not config.observation.text and not config.observation.screenshot:
        raise _user_error("the model must see something: --observe text, screenshot or both")
    if not 1 <= config.observation.image_scale <= MAX_IMAGE_SCALE:  # 100000 asked numpy for 629 TiB, a traceback
        raise _user_error(f"invalid --image-scale {config.observation.image_scale}; must be 1 to {MAX_IMAGE_SCALE}"
                          f" (providers shrink larger screenshots)")
    # inf and NaN are not JSON: the replay header held Infinity, and the endpoint got a request it refuses
    temperature = config.provider.temperature
    if temperature is not None and not 0 <= temperature < math.inf:
        raise _user_error(f"invalid --temperature {temperature}; must be a number >= 0, and finite")
    if config.provider.max_output_tokens < 1:
        raise _user_error(f"--max-output-tokens must be >= 1 (got {config.provider.max_output_tokens})")


def _check_base_url(url: str | None) -> None:
    """A one-line error for a ``--base-url`` the SDKs cannot reach: ``localhost:8000/v1`` (no scheme) was retried
    as a connection error, some 45 s a turn, and the run ended without saying why."""
    from longplay.agents.lm.providers import redact_url
    from longplay.agents.urls import BAD_PORT, UNPARSABLE, url_problem

    if url is None:
        return
    problem = url_problem(url, ("http", "https"))
    if problem is None:
        return
    # The problem is named without echoing the URL where it cannot be redacted (it may hold a password).
    shown = f"({problem})" if problem in (UNPARSABLE, BAD_PORT) else repr(redact_url(url))
    raise _user_error(f"invalid --base-url {shown}; use a URL such as http://localhost:8000/v1")


#: The LM options given with ``--resume`` that replace the checkpoint's, as (dest, config section, field): budgets,
#: reliability and the endpoint (a local server that moved, a key in another variable: where the run talks to, not
#: what it is). Every other LM option is the run's own, and a resume says it ignored it.
RESUME_OVERRIDES = (
    ("lm_max_steps", "budget", "max_steps"),
    ("lm_max_turns", "budget", "max_turns"),
    ("lm_max_tokens", "budget", "max_tokens"),
    ("lm_max_dollars", "budget", "max_dollars"),
    ("lm_max_seconds", "budget", "max_seconds"),
    ("lm_max_retries", "retry", "max_retries"),
    ("lm_max_failures", "retry", "max_consecutive_failures"),
    ("lm_checkpoint_every", "checkpoint", "every_turns"),
    ("lm_timeout", "provider", "request_timeout_s"),
    ("lm_base_url", "provider", "base_url"),
    ("lm_api_key_env", "provider", "api_key_env"),
)


def _apply_overrides(config: LMConfig, args: argparse.Namespace) -> None:
    """The flags of :data:`RESUME_OVERRIDES` given with ``--resume`` replace the checkpoint's values."""
    for flag, section, name in RESUME_OVERRIDES:
        value = _arg(args, flag)
        if value is not None:
            setattr(getattr(config, section), name, None if value == NO_BUDGET else value)
    if _arg(args, "lm_max_steps") is None and _arg(args, "steps") is not None:  # --steps is the step budget too
        config.budget.max_steps = args.steps


# ============================================================================================ run


@dataclass
class _Plan:
    """What a run (new or resumed) is made of, before the env exists."""

    config: LMConfig
    env_id: str
    env_kwargs: dict[str, Any]
    resume: dict[str, Any] | None = None  # the checkpoint, when resuming
    checkpoint: Path | None = None
    reset_options: dict[str, Any] | None = None  # {"state": bytes}: the run starts from a save state


def new_run_env_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The env keyword arguments of a new LM run: ``--set`` and ``--rom``, as for the other agents, and the
    ``obs_mode`` of ``--obs-mode`` (default ``symbolic``)."""
    from longplay.agents.cli import env_kwargs

    kwargs = env_kwargs(args)
    kwargs.setdefault("obs_mode", _arg(args, "obs_mode") or "symbolic")
    return kwargs


def check_view(adapter: Any, env_id: str, env_kwargs: dict[str, Any]) -> None:
    """``CliError`` (one line) when ``env_kwargs``' ``obs_mode`` lacks the view the LM agent reads through the
    game's ``adapter`` (quest: ``symbolic``); checked by ``run_lm``, and by a sweep for every cell before the
    first one runs."""
    if adapter is not None and adapter.obs_mode not in str(env_kwargs.get("obs_mode", "")).split("+"):
        raise _user_error(
            f"the LM agent reads the {adapter.obs_mode} view of {env_id}: use --obs-mode "
            f"{adapter.obs_mode} (or a mode with +{adapter.obs_mode})"
        )


def _plan(args: argparse.Namespace, runs_dir: str) -> _Plan:
    """The config, env and checkpoint of a new run, or of the run ``--resume`` names."""
    from longplay.agents.cli import DEFAULT_ENV, note_ignored_with_resume, resolve_env_id, start_options
    from longplay.agents.lm.checkpoint import (
        CheckpointError,
        checkpoint_reset_options,
        find_checkpoint,
        load_checkpoint,
    )

    if not _arg(args, "lm_resume"):
        config = config_from_args(args)
        return _Plan(config, resolve_env_id(_arg(args, "env") or _arg(args, "lm_default_env") or DEFAULT_ENV),
                     new_run_env_kwargs(args), reset_options=start_options(args))
    try:
        path = find_checkpoint(args.lm_resume, runs_dir)
        data = load_checkpoint(path)
        config = config_from_dict(data["run"]["config"])
        reset_options = checkpoint_reset_options(data)
    except (CheckpointError, ValueError, KeyError) as exc:
        raise _user_error(str(exc)) from None
    if data.get("terminated"):
        raise _user_error(f"run {args.lm_resume!r} finished the game: there is nothing to resume")
    if data.get("truncated"):
        raise _user_error(f"run {args.lm_resume!r} reached the episode's step limit: there is nothing to resume")
    # The run keeps every LM option but the overrides (--price, --temperature, --observe ...): a resume says so,
    # where a --price given to follow the dollar budget's advice was dropped without a word.
    replaced = {"lm_resume", *(dest for dest, _, _ in RESUME_OVERRIDES)}
    kept = [(flag, dest) for flag, dest in lm_options() if dest not in replaced]
    note_ignored_with_resume(args, (*kept, ("--env", "env"), ("--seed", "seed"), ("--set", "set"), ("--rom", "rom"),
                                    ("--fingerprint-every", "fingerprint_every"), ("--start-state", "start_state")))
    _apply_overrides(config, args)
    validate_config(config, resumed=True)
    if config.prompt_version != PROMPT_VERSION:  # a longplay with other prompts and tool descriptions resumes it
        print(f"longplay: note: the run began with prompt version {config.prompt_version}; this longplay sends "
              f"version {PROMPT_VERSION} from here on")
        config.prompt_version = PROMPT_VERSION
    # as --env: a short id, or one this longplay no longer has (one line naming the valid ids)
    return _Plan(config, resolve_env_id(data["env_id"]), dict(data["env_kwargs"]), data, path, reset_options)


def _public_config(config: LMConfig) -> dict[str, Any]:
    """The config as the replay header records it: the base URL without user, password or query (they may
    hold credentials; the private checkpoint keeps the URL whole, for ``--resume``)."""
    from longplay.agents.lm.providers import redact_url

    data = dataclasses.asdict(config)
    data["provider"]["base_url"] = redact_url(config.provider.base_url)
    return data


def _header(config: LMConfig, provider: Any, adapter: Any) -> dict[str, Any]:
    """The replay header's ``lm`` entry (endpoint without credentials, prices, prompt version, adapter) and
    ``budget``."""
    from longplay.agents.lm.accounting import PriceTable

    prices = PriceTable.load()
    price = prices.lookup(config.provider.price_name)
    return {
        "budget": config.budget.limits(),
        "lm": {
            **provider.describe(),
            "price_table_version": prices.version,
            "price": dataclasses.asdict(price) if price is not None else None,
            "prompt_version": config.prompt_version,
            "adapter": type(adapter).__name__ if adapter is not None else None,
        }
    }


def _changed_versions(recorded: Any, card: list[dict[str, Any]]) -> list[str]:
    """``"NAME version OLD; this longplay runs version NEW"`` for each component of ``card`` whose version differs
    from the one in ``recorded`` (the card the run last ran with; anything but a list of components says nothing)."""
    if not isinstance(recorded, list):
        return []
    before = {c.get("name"): c.get("version") for c in recorded if isinstance(c, dict)}
    return [f"{c['name']} version {before[c['name']]}; this longplay runs version {c['version']}" for c in card
            if c["name"] in before and before[c["name"]] != c["version"]]


def _restore(env: Any, plan: _Plan, record: bool, card: list[dict[str, Any]]
             ) -> tuple[Any, Any, Path | None, tuple[Any, ...], Any]:
    """Brings a fresh env to the checkpoint's state and reopens its replay; returns (env, recorder,
    replay path, (obs, info, actions, terminated, truncated), what the calls made after the checkpoint spent).
    ``card``: the scaffold card the run goes on with (a component whose version changed since is noted)."""
    from longplay.agents.lm.checkpoint import (
        NOTHING_DISCARDED,
        CheckpointError,
        checkpoint_actions,
        reopen_recorder,
        resimulate,
    )

    data = plan.resume
    assert data is not None
    actions = checkpoint_actions(data)
    try:
        obs, info, terminated, truncated = resimulate(env, plan.config.seed, actions, plan.reset_options)
    except ValueError as exc:  # the start state the checkpoint holds, refused by this game
        raise _user_error(str(exc)) from None
    if env.unwrapped.game.state_hash().hex() != data["state_hash"]:
        raise _user_error(
            "the rebuilt game does not match the checkpoint (state hashes differ): the game "
            "or its version changed since the run"
        )
    restored = (obs, info, actions, terminated, truncated)
    if not record or not data.get("replay"):
        return env, None, None, restored, NOTHING_DISCARDED
    replay = Path(data["replay"])
    if not replay.exists():
        raise _user_error(f"the run's replay {replay} is missing (use --no-record to resume without it)")
    counters = data["run"]["counters"]
    note = {}
    if plan.config.provider.base_url != data["run"]["config"]["provider"].get("base_url"):
        from longplay.agents.lm.providers import redact_url

        note["base_url"] = redact_url(plan.config.provider.base_url)  # the header's lm entry has the first
    if plan.config.prompt_version != data["run"]["config"].get("prompt_version"):
        note["prompt_version"] = plan.config.prompt_version  # what the model reads from here on
    from longplay.replays.reader import ReplayReader
    from longplay.replays.schema import ReplayError

    try:  # the card the run last ran with: its latest resume's, else its header's
        with ReplayReader(replay) as reader:
            header = reader.header
        ran = next((r["scaffold_card"] for r in reversed(header.get("resumes") or [])
                    if isinstance(r, dict) and "scaffold_card" in r), header.get("scaffold_card"))
    except ReplayError:  # reopen_recorder says what is wrong with the replay
        ran = None
    changed = _changed_versions(ran, card)
    for line in changed:  # what a component shows or does changed: the turns from here on ran the new one
        print(f"longplay: note: the run last ran with {line} from here on")
    if changed:
        note["scaffold_card"] = card
    try:
        recorder, discarded = reopen_recorder(
            env,
            replay,
            steps=len(actions),
            turns=counters["logged_turns"],
            memory=counters["logged_memory"],
            seconds=counters["seconds"],
            note=note,
            budget=plan.config.budget,
            config=_public_config(plan.config),  # a resumed --timeout sizes the viewer's quiet time for a live run
        )
    except CheckpointError as exc:
        raise _user_error(str(exc)) from None
    return recorder, recorder, replay, restored, discarded


def run_lm(args: argparse.Namespace, *, provider: Any = None, sleep: Any = None) -> int:
    """Performs ``longplay run --agent lm ...``; returns the exit code (0 when the run ended on a budget or
    finished the game, 1 when it stopped on failures or the endpoint refused it, 130 when interrupted).

    ``provider`` replaces the one the config names (tests); ``sleep`` replaces the back-off wait.
    """
    from longplay.agents.cli import check_fingerprint_spacing, check_runs_dir, make_env, refused_start_state
    from longplay.agents.lm.adapters import adapter_for
    from longplay.agents.lm.checkpoint import CheckpointStore, checkpoint_path
    from longplay.agents.lm.loop import LMRun
    from longplay.agents.lm.providers import ProviderError, build_provider
    from longplay.envs.registration import options_from_recording
    from longplay.replays.files import remove_partials
    from longplay.scaffolds import build_scaffold

    if not _arg(args, "lm_resume"):  # a resume keeps the run's own (and says what it ignores)
        check_fingerprint_spacing(args)
    runs_dir = _arg(args, "runs_dir") or "runs"
    plan = _plan(args, runs_dir)
    config = plan.config
    try:
        # a resumed run keeps its scaffold as it ran (one an older longplay accepted: a window beside a summary)
        scaffold = build_scaffold(config.scaffold, recorded=plan.resume is not None)
        provider = provider or build_provider(config.provider, seed=config.seed)
    except (ValueError, ProviderError) as exc:
        raise _user_error(str(exc)) from None
    record = not _arg(args, "no_record")
    # A resumed run's game as it was checkpointed (a Game Boy game of an older longplay hashes as that one did).
    try:
        rebuilt = (plan.env_kwargs if plan.resume is None
                   else options_from_recording(plan.env_id, plan.env_kwargs, plan.resume.get("identity")))
    except GameError as exc:  # a ROM recorded as hex that is not the one the run played
        raise _user_error(f"cannot resume {_arg(args, 'lm_resume')}: {exc}") from None
    env = make_env(plan.env_id, rebuilt)
    recorder, replay_path, restored, discarded = None, None, None, None
    try:
        adapter = adapter_for(env.unwrapped.game)
        check_view(adapter, plan.env_id, plan.env_kwargs)
        if plan.resume is None and plan.reset_options is not None:
            with refused_start_state(_arg(args, "start_state")):  # one line, before a replay is started
                env.reset(seed=config.seed, options=plan.reset_options)
        if plan.resume is not None:
            env, recorder, replay_path, restored, discarded = _restore(env, plan, record, scaffold.card())
            # a checkpoint write killed outright left its partial file; a run still going was refused above
            assert plan.checkpoint is not None
            remove_partials(plan.checkpoint.parent, plan.checkpoint.name)
        elif record:
            from longplay.replays.recorder import Recorder, run_path

            check_runs_dir(runs_dir)
            replay_path = run_path(runs_dir, plan.env_id, "lm", config.provider.model, config.seed)
            recorder = env = Recorder(
                env,
                replay_path,
                env_id=plan.env_id,
                env_kwargs=plan.env_kwargs,
                agent="lm",
                model=config.provider.model,
                scaffold_card=scaffold.card(),
                config=_public_config(config),
                extra_header=_header(config, provider, adapter),
                # a step is a model turn here: a fingerprint at every step costs nothing beside it, and lets
                # verify name the very action that differs
                fingerprint_every=_arg(args, "fingerprint_every") or 1,
            )
            plan.checkpoint = checkpoint_path(replay_path)
        store = None
        if plan.checkpoint is not None and (record or plan.resume is not None):
            store = CheckpointStore(plan.checkpoint, plan.env_id, plan.env_kwargs, replay_path, recorder)
        extra = {"sleep": sleep} if sleep is not None else {}
        try:
            run = LMRun(env, provider, scaffold, config, log=recorder, checkpoints=store,
                        reset_options=plan.reset_options, **extra)
        except ValueError as exc:
            raise _user_error(str(exc)) from None
    except BaseException:
        env.close()
        if plan.resume is None and replay_path is not None:  # refused before its first turn: nothing to keep
            replay_path.unlink(missing_ok=True)
        raise
    verb = "resuming" if plan.resume is not None else "running"
    start = f", from the state in {args.start_state}" if plan.resume is None and plan.reset_options else ""
    print(
        f"longplay: {verb} lm ({config.provider.provider}:{config.provider.model}, scaffold "
        f"{'+'.join(c['name'] for c in scaffold.card())}) on {plan.env_id} (seed {config.seed}{start})",
        flush=True,
    )
    if run.price is None:  # without a word, a model missing from the table (a new one, a typo) cost $0.0000
        print(f"longplay: note: no price for {config.provider.price_name!r} in the price table, so dollars are not "
              f"counted (a new run takes --price NAME; --price local for a free local model)")
    progress = None
    try:
        if plan.resume is not None and restored is not None:
            run.load_state_dict(plan.resume["run"], *restored)
            reason = plan.resume["reason"]
            print(f"  from turn {run.counters.turns}, step {run.driver.steps} ({reason} checkpoint)")
            if discarded is not None and discarded[0]:
                calls, usage, dollars = discarded
                run.counters.add_discarded(usage, dollars)
                print(f"  {calls} model calls after the checkpoint were lost with the run; what they spent "
                      f"stays counted ({usage.total:,} tokens, ${dollars:.4f})")
        progress = _Progress(run, quiet=bool(_arg(args, "quiet")))
        run.on_turn = progress.update
        outcome = run.run()
    except KeyboardInterrupt:
        if plan.resume is None and replay_path is not None and store is not None and not store.saved:
            # before its start checkpoint (Ctrl-C in the env's reset): no turn played, nothing spent, and a replay
            # without a checkpoint could be neither resumed nor verified
            env.close()
            replay_path.unlink(missing_ok=True)
        raise
    finally:
        if progress is not None:
            progress.close()
        env.close()
    _report(env, outcome, replay_path, store, priced=run.price is not None)
    return {"failures": 1, "error": 1, "interrupted": 130}.get(outcome.reason, 0)


def _report(env: Any, outcome: Any, replay_path: Path | None, store: Any, priced: bool) -> None:
    """Prints the milestones, why the run stopped, what it spent (``priced``: whether dollars were counted), and
    where the replay and checkpoint are."""
    from longplay.agents.lm.loop import shown_failure
    from longplay.agents.runner import RunResult, milestone_table

    c = outcome.counters
    failed = f"{c.failed_turns} failed" + (f", last: {shown_failure(outcome.last_failure)}" if outcome.last_failure
                                           else "")
    # model_calls counts the answered calls only: a run whose calls failed read 'model calls 1' beside 3 replay rows
    calls = f"{c.model_calls}" + (f" (+{c.failed_calls} failed)" if c.failed_calls else "")
    result = RunResult(
        steps=c.steps,
        episodes=1,
        milestones=outcome.milestones,
        finished=outcome.reason == "finished",
        seconds=max(c.seconds, 1e-9),
    )
    print(milestone_table(env, result))
    print(f"stopped: {outcome.reason}: {outcome.message}")
    print(
        f"turns {c.turns} ({failed}) | model calls {calls} | tokens {c.tokens:,} "
        f"(in {c.tokens_in:,}, out {c.tokens_out:,}, cache read {c.tokens_cache_read:,}, write "
        f"{c.tokens_cache_write:,}) | {f'${c.dollars:.4f}' if priced else 'dollars not counted'} | {c.seconds:.1f} s "
        f"({c.model_seconds:.1f} s in models)"
    )
    if replay_path is not None:
        print(f"replay: {replay_path}")
    if store is not None and store.saved and outcome.reason in ("finished", "episode_end"):
        print(f"checkpoint: {store.path} (the episode is over: nothing to continue)")
    elif store is not None and store.saved:
        # a resume keeps the run's budgets: the one it stopped on must be raised, or the resume stops at once
        budgets = BudgetConfig().limits()  # by the stop reasons' names: steps, turns, tokens, dollars, seconds
        raise_budget = f" --max-{outcome.reason} N, a larger budget" if outcome.reason in budgets else ""
        print(
            f"checkpoint: {store.path} (continue with: longplay run --agent lm --resume "
            f"{replay_path or store.path}{raise_budget})"
        )


class _Progress:
    """A progress bar over the run's steps, with spend and milestones; it starts at ``run``'s steps and milestones
    (a resumed run's: the bar's rate and time left count this session's steps only)."""

    def __init__(self, run: Any, quiet: bool) -> None:
        from tqdm import tqdm

        self.total = run.config.budget.max_steps
        self.bar = tqdm(total=self.total, initial=run.driver.steps, disable=quiet, unit="step", dynamic_ncols=True,
                        leave=False)
        self.milestones = len(run.driver.milestones)

    def update(self, run: Any) -> None:
        d, c = run.driver, run.counters
        self.bar.n = d.steps
        dollars = f"${c.dollars:.3f}" if run.price is not None else "dollars not counted"
        self.bar.set_postfix_str(
            f"turn {c.turns} | {len(d.milestones)} milestones | {c.tokens:,} tok | {dollars}", refresh=False
        )
        self.bar.refresh()
        if len(d.milestones) > self.milestones:
            names = {m.id: m.name for m in d.game.milestones()}
            # every one a turn reached (a press sequence may reach two: only the last was named)
            for milestone in list(d.milestones)[self.milestones:]:
                if d.milestones[milestone]:  # step 0: held by the start state, not reached by this run
                    self.bar.write(
                        f"  milestone: {names.get(milestone, milestone)} (step {d.milestones[milestone]}, turn "
                        f"{c.turns})"
                    )
            self.milestones = len(d.milestones)

    def close(self) -> None:
        self.bar.close()


# ============================================================================================ standalone


def build_parser() -> argparse.ArgumentParser:
    """A parser with ``longplay run``'s own options and the LM options, for
    ``python -m longplay.agents.lm.cli`` (the same as ``longplay run --agent lm``)."""
    from longplay.agents.cli import DEFAULT_STEPS, Parser, fingerprint_every_arg, seed_arg

    parser = Parser(
        prog="python -m longplay.agents.lm.cli", description="Run a language-model agent on a longplay env."
    )
    # --env, --steps and --seed default to None so that --resume can tell them given
    parser.add_argument("--env", default=None, help="env id (default QuestMini-v0)")
    parser.set_defaults(lm_default_env="longplay/QuestMini-v0")
    parser.add_argument(
        "--steps", type=int, default=None, help=f"button presses (default {DEFAULT_STEPS})"
    )
    parser.add_argument("--seed", type=seed_arg, default=None, help="reset seed (default 0)")
    parser.add_argument("--obs-mode", default=None, help="env observation mode (default symbolic)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="env keyword argument"
    )
    parser.add_argument("--runs-dir", default="runs", help="where replays go (default runs/)")
    parser.add_argument("--no-record", action="store_true", help="do not record a replay")
    parser.add_argument("--fingerprint-every", type=fingerprint_every_arg, default=None, metavar="N",
                        help="steps between the replay's state fingerprints (default 1: verify names the very "
                        "action that differs)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--start-state", default=None, metavar="FILE",
                        help="start from this save state (e.g. written by longplay export REPLAY --state FILE)")
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m longplay.agents.lm.cli``: one-line errors, exit code 2 on bad input."""
    from longplay.agents.cli import run_command

    return run_command(run_lm, build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
