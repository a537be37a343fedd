"""The ``longplay`` command line: run agents, play, list envs; replays add verify/export/compare.

Every bad input ends in one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import errno
import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from longplay.replays.schema import ReplayWriteError

DEFAULT_ENV = "longplay/QuestCanon-v0"
DEFAULT_AGENT = "oracle"
DEFAULT_STEPS = 3000


class CliError(Exception):
    """A one-line error for the user."""


def options_apply_phrase(options: list[str]) -> str:
    """``"--a, --b apply"`` (``"--a applies"`` for one option): the start of a refusal of options given where
    they do nothing."""
    return f"{', '.join(options)} appl{'ies' if len(options) == 1 else 'y'}"


def run_command(command: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """Runs a parsed command: its exit code, 2 after printing a :class:`CliError` as one line, 1 after a full
    disk (one line too), 130 when interrupted, 141 when the reader of its output went away."""
    try:
        return int(command(args) or 0)
    except CliError as exc:
        print(f"longplay: error: {exc}", file=sys.stderr)
        return 2
    except ReplayWriteError as exc:  # a full disk: what was recorded is kept, and the message says how much
        print(f"longplay: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("longplay: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of the output left (longplay sweep --dry-run | head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 141  # as a process killed by SIGPIPE
    except OSError as exc:  # after BrokenPipeError, one of them
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        # a checkpoint, a run log, a sweep's results: what was written before stays; a traceback adds nothing
        where = f" (writing {exc.filename})" if exc.filename else ""
        print(f"longplay: error: {exc.strerror or 'no space left on device'}{where}", file=sys.stderr)
        return 1


def env_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The env keyword arguments a command was given: ``--set KEY=VALUE`` pairs and ``--rom``."""
    kwargs = parse_kwargs(getattr(args, "set", None) or [])
    if getattr(args, "rom", None):
        kwargs["rom"] = args.rom
    return kwargs


def parse_kwargs(pairs: list[str]) -> dict[str, Any]:
    """``["size=mini", "world_seed=3", "world_seed=null"]`` -> kwargs; values are JSON when they parse, else
    Python literals (``None``, ``False``, ``(0, 1)``: what the env docs write), else strings."""
    kwargs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise CliError(f"invalid --set {pair!r}; use KEY=VALUE")
        try:
            kwargs[key] = json.loads(raw)
        except json.JSONDecodeError:
            try:
                kwargs[key] = ast.literal_eval(raw)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                kwargs[key] = raw
    return kwargs


def int_at_least(name: str, minimum: int) -> Callable[[str], int]:
    """An argparse type: an int >= ``minimum``, refused as ``invalid NAME ...; use an int >= MINIMUM``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {name} {text!r}; use an int >= {minimum}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"invalid {name} {value}; use an int >= {minimum}")
        return value

    return parse


#: A reset seed (gymnasium refuses negative seeds).
seed_arg = int_at_least("seed", 0)
#: Steps between a replay's recorded state fingerprints.
fingerprint_every_arg = int_at_least("--fingerprint-every", 1)


def given_flags(args: argparse.Namespace, flags: Sequence[tuple[str, str]]) -> list[str]:
    """The ``flags`` (``(flag, dest)``) the user gave, as spelt (``--seed``), in order: a flag is given when its
    value is not its default (None, an empty list, False)."""
    given = []
    for flag, dest in flags:
        value = getattr(args, dest, None)
        if value not in (None, []) and value is not False:
            given.append(flag)
    return given


def note_ignored_with_resume(args: argparse.Namespace, flags: Sequence[tuple[str, str]]) -> None:
    """Prints one note naming each of ``flags`` (``(flag, dest)``) given with ``--resume`` (:func:`given_flags`),
    which keeps the run's own."""
    ignored = given_flags(args, flags)
    if ignored:
        print(f"longplay: note: {', '.join(ignored)} ignored with --resume (the run keeps its own)")


def read_start_state(path: str | os.PathLike[str]) -> bytes:
    """The bytes of ``--start-state FILE`` (a ``game.save_state()``, e.g. from ``longplay export --state``), or
    CliError saying why the file cannot be read. Whether the game takes them is the env's to say, at reset."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise CliError(f"invalid --start-state {str(path)!r}: no such file") from None
    except IsADirectoryError:
        raise CliError(f"invalid --start-state {str(path)!r}: it is a folder, not a file") from None
    except OSError as exc:
        raise CliError(f"invalid --start-state {str(path)!r}: cannot read it ({exc.strerror or exc})") from None
    if not data:
        raise CliError(f"invalid --start-state {str(path)!r}: the file is empty")
    return data


@contextlib.contextmanager
def refused_start_state(path: str | None, close: Any = None) -> Iterator[None]:
    """Turns the ``ValueError`` of a reset from a start state the game refuses (``check_start_state``, or the
    first reset itself) into the one-line CliError naming ``--start-state`` ``path``; closes the env ``close``
    first, when given."""
    try:
        yield
    except ValueError as exc:
        if close is not None:
            close.close()
        raise CliError(f"invalid --start-state {path!r}: {exc}") from None


def start_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """The reset options of ``--start-state FILE`` (``{"state": bytes}``), or None without it."""
    path = getattr(args, "start_state", None)
    return None if path is None else {"state": read_start_state(path)}


def output_path_problem(path: Path, want_file: bool) -> str | None:
    """Why ``path`` cannot be written as a file (``want_file``) or made as a folder, or None when it can: a
    folder given where a file is wanted, or a file where a folder is (the path itself, or the nearest of its
    parents that exists; the rest is made). Each caller raises its own error with this reason."""
    if want_file and path.is_dir():
        return "it is a folder; name a file"
    for existing in (path.parent, *path.parent.parents) if want_file else (path, *path.parents):
        if existing.exists():
            if existing.is_dir():
                return None
            return "it is a file, not a folder" if existing == path else f"{str(existing)!r} is a file, not a folder"
    return None


def check_runs_dir(runs_dir: str | os.PathLike[str]) -> None:
    """Makes ``--runs-dir`` (and its parents) for a new replay, or raises CliError saying why it cannot."""
    path = Path(runs_dir)
    problem = output_path_problem(path, want_file=False)
    if problem:
        raise CliError(f"invalid --runs-dir {str(runs_dir)!r}: {problem}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"invalid --runs-dir {str(runs_dir)!r}: cannot make the folder "
                       f"({exc.strerror or exc})") from None


def resolve_env_id(env_id: str) -> str:
    """Accepts ``QuestMini-v0`` for ``longplay/QuestMini-v0``; raises CliError listing the valid ids."""
    import longplay.envs

    ids = longplay.envs.env_ids()
    for candidate in (env_id, f"longplay/{env_id}"):
        if candidate in ids:
            return candidate
    raise CliError(f"unknown env {env_id!r}; valid envs: {', '.join(ids)}")


def make_env(env_id: str, kwargs: dict[str, Any]) -> Any:
    """``gymnasium.make`` with the errors a user can cause turned into one line."""
    import gymnasium as gym

    from longplay.envs.game import GameError
    from longplay.envs.registration import check_options

    try:
        check_options(env_id, kwargs)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if kwargs.get("render_mode") == "human":  # its window opens at reset: fail before a replay is started
        from longplay.envs.window import require_display

        try:
            require_display()
        except RuntimeError as exc:
            raise CliError(str(exc)) from None
    try:
        return gym.make(env_id, **kwargs)
    except (ValueError, GameError) as exc:
        raise CliError(str(exc)) from None
    except TypeError as exc:  # an unknown keyword
        raise CliError(f"invalid option for {env_id}: {exc}") from None


# ============================================================================================== run
def check_fingerprint_spacing(args: argparse.Namespace) -> None:
    """``CliError`` for ``--fingerprint-every`` with ``--no-record`` (``run``, ``run --agent lm``, ``serve``): it spaces
    a replay's state fingerprints, and with no replay written the run went on as if it had been read."""
    if getattr(args, "no_record", False) and getattr(args, "fingerprint_every", None) is not None:
        raise CliError("--fingerprint-every applies to a recorded run; drop --no-record")


def cmd_run(args: argparse.Namespace) -> int:
    """Runs an agent on an env, records a replay (unless --no-record), prints the milestones reached."""
    from longplay.agents.base import AGENTS, CHECKPOINT_AGENTS, LOOP_AGENTS, check_agent_env, make_agent
    from longplay.agents.runner import milestone_table, run

    # An agent with nothing to load played on without the checkpoint given (an unknown agent is named below)
    if args.checkpoint and (args.agent in {*AGENTS, *LOOP_AGENTS} - CHECKPOINT_AGENTS
                            or getattr(args, "lm_resume", None)):
        raise CliError(f"--checkpoint applies to --agent {', '.join(sorted(CHECKPOINT_AGENTS))} only")
    if args.agent == "lm" or getattr(args, "lm_resume", None):
        from longplay.agents.lm.cli import run_lm  # the LM loop runs by turns, with budgets and resume

        return run_lm(args)
    try:
        from longplay.agents.lm.cli import given_options
    except ImportError:  # no LM part installed: build_parser added no LM option
        lm_options = []
    else:
        lm_options = given_options(args)
    if lm_options:  # ignored by every other agent: a budget or a temperature the user believes holds
        raise CliError(f"{options_apply_phrase(lm_options)} to --agent lm only")
    check_fingerprint_spacing(args)
    # --env, --steps and --seed default to None so that a resumed LM run can tell them given (above)
    env_id = resolve_env_id(args.env or DEFAULT_ENV)
    steps = DEFAULT_STEPS if args.steps is None else args.steps
    if steps < 1:  # before the agent (a checkpoint read) and the env are built
        raise CliError(f"invalid --steps {steps}; must be >= 1")
    seed = args.seed or 0
    agent_kwargs = {"checkpoint": args.checkpoint} if args.checkpoint else {}
    try:
        agent = make_agent(args.agent, **agent_kwargs)
    except ValueError as exc:  # unknown agent, unreadable checkpoint
        raise CliError(str(exc)) from None
    kwargs = env_kwargs(args)
    kwargs.setdefault("obs_mode", args.obs_mode or agent.obs_mode)
    options = start_options(args)
    env = make_env(env_id, kwargs)
    try:  # an agent that cannot play the env: one line, before the run is announced and its replay made
        check_agent_env(agent, env)
    except ValueError as exc:
        env.close()
        raise CliError(str(exc)) from None
    trained_on = getattr(agent, "trained_env_id", None)
    if trained_on is not None and trained_on != env_id:  # legitimate (a generalisation test), but never silent
        print(f"longplay: note: the policy was trained on {trained_on}; it plays {env_id} here", file=sys.stderr)
    if options is not None:  # a state the game refuses: one line, before the runs folder is made (as serve does)
        from longplay.envs.env import check_start_state

        with refused_start_state(args.start_state, close=env):
            check_start_state(env, options["state"])
    replay_path = None
    if not args.no_record:
        try:
            from longplay.replays.recorder import Recorder, run_path
        except ImportError:  # the replays package is optional at this point
            Recorder = None  # noqa: N806
        if Recorder is not None:
            check_runs_dir(args.runs_dir)
            replay_path = run_path(args.runs_dir, env_id, agent.name, None, seed)
            spacing = {} if args.fingerprint_every is None else {"fingerprint_every": args.fingerprint_every}
            # the budget tells a run stopped by Ctrl+C (closed as normally) from one that used it
            env = Recorder(env, replay_path, env_id=env_id, agent=agent.name,
                           model=getattr(agent, "model_name", None), extra_header={"budget": {"steps": steps}},
                           **spacing)
    start = "" if options is None else f", from the state in {args.start_state}"
    print(f"longplay: {agent.name} on {env_id} for up to {steps} steps (seed {seed}{start})")
    try:
        result = run(env, agent, steps, seed=seed, progress=not args.quiet, options=options)
    except KeyboardInterrupt:  # the run stopped between two steps: say where what was played is kept
        env.close()
        if replay_path is not None and replay_path.exists():
            print(f"replay: {replay_path} (up to the interrupt)", file=sys.stderr)
        raise
    except ValueError as exc:  # a start state the game refuses; a policy trained on other observations
        env.close()
        if replay_path is not None and env.committed_steps == 0:  # refused before its first step: nothing to keep
            replay_path.unlink(missing_ok=True)
        raise CliError(str(exc)) from None
    finally:
        env.close()
    print(milestone_table(env, result))
    if replay_path is not None:
        print(f"replay: {replay_path}")
    return 0


# ============================================================================================== serve
DEFAULT_SERVE_PORT = 8766  # the viewer's 8765 plus one: both can run at once


def cmd_serve(args: argparse.Namespace) -> int:
    """Serves one env over HTTP to an agent in another process or language; records its replay."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise CliError("longplay serve needs starlette and uvicorn: pip install 'longplay[viewer]'") from None
    from longplay.agents.remote import create_app, served_env
    from longplay.envs.env import check_start_state
    from longplay.replays.viewer.server import bind, hosts_for, is_loopback, url_of, uvicorn_server

    if not args.resume:  # a resume keeps the run's own (and says what it ignores)
        check_fingerprint_spacing(args)
    start_state = None if args.start_state is None else read_start_state(args.start_state)
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        raise CliError(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}") from None
    try:
        if args.resume:
            served = _resumed(args, start_state)
        else:
            env_id = resolve_env_id(args.env or "QuestMini-v0")
            kwargs = env_kwargs(args)
            if args.obs_mode:
                kwargs["obs_mode"] = args.obs_mode
            env = make_env(env_id, kwargs)
            try:
                # A --start-state the game refuses is refused before the runs folder is made (served_env checks it
                # again, for its other callers: a trial reset is cheap).
                with refused_start_state(args.start_state):
                    check_start_state(env, start_state)
                if not args.no_record:
                    check_runs_dir(args.runs_dir)
                served = served_env(env, env_id, kwargs, runs_dir=None if args.no_record else args.runs_dir,
                                    agent=args.agent_name, model=args.model, label=args.label,
                                    fingerprint_every=1 if args.fingerprint_every is None else args.fingerprint_every,
                                    start_state=start_state)
            except BaseException:
                env.close()
                raise
    except BaseException:
        sock.close()
        raise
    url = url_of(sock, args.host)
    print(f"longplay: serving {served.env_id} at {url}  (GET {url}info; Ctrl+C stops)")
    if served.replay is not None:
        verb = f"resumed at episode {served.episode} step {served.steps}" if args.resume else "replay"
        print(f"{verb}: {served.replay}")
    if served.start_state is not None:
        where = args.start_state or "the run's start state"
        print(f"every reset starts from {where} unless its request's options name a state (null: the game's start)")
    if not is_loopback(args.host):
        print(f"warning: serving on {args.host}: anyone who can reach this machine can play this env")
    sys.stdout.flush()
    try:
        uvicorn_server(create_app(served, allowed_hosts=hosts_for(args.host))).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn stops on Ctrl+C, then raises it again: how a server ends
        pass
    finally:
        sock.close()
        served.close()
    if served.replay is not None and served.episode < 0:  # never reset: a replay of no episode fails verify
        for suffix in ("", "-wal", "-shm"):
            Path(f"{served.replay}{suffix}").unlink(missing_ok=True)
        served.replay = None
    print(f"longplay: served {served.episode + 1} episode{'s' if served.episode != 0 else ''}"
          + (f"; replay: {served.replay}" if served.replay is not None else ""))
    return 0


def _resumed(args: argparse.Namespace, start_state: bytes | None) -> Any:
    """``longplay serve --resume REPLAY``: the served env of that run, where it stopped (``start_state``: the
    file of ``--start-state``, needed only where the replay does not hold the run's)."""
    from longplay.agents.remote import resumed_env
    from longplay.envs.game import GameError
    from longplay.replays.schema import ReplayError

    note_ignored_with_resume(args, (("--env", "env"), ("--set", "set"), ("--obs-mode", "obs_mode"),
                                    ("--no-record", "no_record"), ("--model", "model"), ("--label", "label"),
                                    ("--fingerprint-every", "fingerprint_every")))
    path = args.resume
    if not os.path.isfile(path):
        raise CliError(f"no such replay: {path}")
    try:
        return resumed_env(path, make_env, start_state=start_state)
    except (ValueError, ReplayError) as exc:
        raise CliError(str(exc)) from None
    except GameError as exc:  # a ROM recorded as hex that is not the one the run played
        raise CliError(f"cannot resume {path}: {exc}") from None


# ============================================================================================== play
_TEXT_KEYS = {"w": 0, "s": 1, "a": 2, "d": 3, "j": 4, "k": 5, "m": 6, "n": 7, ".": 8}
_TEXT_KEYS_HELP = "w/a/s/d move, j = A, k = B, m = START, n = SELECT, . = no button"


def _play_text(env: Any, obs: Any, info: dict[str, Any]) -> int:
    """``longplay play --text``: keys from stdin, the text view after each line, until q, the input's end or the
    episode's."""
    print(f"keys: {_TEXT_KEYS_HELP}; several per line; q quits")
    print(obs)
    for line in sys.stdin:
        if line.strip().lower() == "q":
            break
        ignored = []
        for key in line.strip().lower():  # caps lock types the same buttons
            if key not in _TEXT_KEYS:
                if not key.isspace():
                    ignored.append(key)
                continue
            obs, _, terminated, truncated, info = env.step(_TEXT_KEYS[key])
            for m in info["new_milestones"]:
                print(f"*** milestone: {m} (step {info['step']})")
            if terminated or truncated:  # the screen it ended on, then no more presses
                print(obs)
                print("episode over")
                return 0
        if ignored:  # else the screen comes back unchanged, as if the game had ignored the press
            print(f"ignored {', '.join(map(repr, ignored))}: {'not keys' if len(ignored) > 1 else 'not a key'} "
                  f"({_TEXT_KEYS_HELP})")
        print(obs)
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    """A person plays: a window (pygame) or, with --text, the text view in the terminal."""
    env_id = resolve_env_id(args.env)
    kwargs = env_kwargs(args)
    options = start_options(args)
    if args.text:
        kwargs.update(obs_mode="text", noop=True)
        env = make_env(env_id, kwargs)
        try:
            return _play_text(env, *_play_reset(env, args, options))
        finally:
            env.close()
    from longplay.envs.window import Window

    kwargs.setdefault("obs_mode", "pixels")
    env = make_env(env_id, kwargs)
    _play_reset(env, args, options)  # a state the game refuses: one line, before a window opens
    try:
        window = Window(title=f"longplay: {env_id}")
    except RuntimeError as exc:
        raise CliError(f"{exc} (or use --text)") from None
    import time

    print("keys: arrows move, x = A, z = B, enter = START, backspace = SELECT, esc quits")
    over = False
    while not over:
        window.show(env.unwrapped.game.frame())
        buttons, closed = window.buttons()
        if closed:
            break
        for b in buttons:
            _, _, terminated, truncated, info = env.step(b)
            for m in info["new_milestones"]:
                print(f"milestone: {m} (step {info['step']})")
            if terminated or truncated:  # as in --text: an ended episode takes no more presses
                print("episode over")
                over = True
                break
        time.sleep(1 / 60)
    window.close()
    env.close()
    return 0


def _play_reset(env: Any, args: argparse.Namespace, options: dict[str, Any] | None) -> tuple[Any, dict]:
    """The first reset of ``longplay play`` (from ``--start-state`` when given, saying what it already holds)."""
    with refused_start_state(args.start_state, close=env):
        obs, info = env.reset(seed=args.seed, options=options)
    if options is not None:
        held = ", ".join(info["milestones"]) or "no milestone"
        print(f"starting from the state in {args.start_state} ({held} already reached)")
    return obs, info


# ============================================================================================== envs
def cmd_envs(args: argparse.Namespace) -> int:
    """Lists the registered env ids."""
    import longplay.envs

    for env_id in longplay.envs.env_ids():
        print(env_id)
    return 0


def cmd_milestones(args: argparse.Namespace) -> int:
    """Prints an env's milestone catalog, in order, with tiers. An env whose options alone decide its catalog (a
    Game Boy env's is its pack's) prints it without being made, so Pokemon Red's needs no ROM; any other is made
    and reset with ``--seed``, which draws longplay/Quest-v0's world."""
    env_id, kwargs = resolve_env_id(args.env), env_kwargs(args)
    catalog = _catalog_from_options(env_id, kwargs)
    if catalog is None:
        env = make_env(env_id, kwargs)
        env.reset(seed=args.seed)
        catalog = env.unwrapped.catalog
        env.close()
    for i, m in enumerate(catalog):
        print(f"{i + 1:>3}  tier {m.tier}  {m.id:<28} {m.name}")
    return 0


def _catalog_from_options(env_id: str, kwargs: dict[str, Any]) -> tuple[Any, ...] | None:
    """The catalog of ``env_id`` with ``kwargs`` from its env class's ``catalog_from_options``, which needs no
    game (no ROM, no emulator); None for a class without one."""
    import gymnasium as gym

    from longplay.envs.game import GameError
    from longplay.envs.registration import check_options, env_creator

    spec = gym.spec(env_id)
    from_options = getattr(env_creator(env_id), "catalog_from_options", None)
    if from_options is None:
        return None
    try:
        check_options(env_id, kwargs)
        return tuple(from_options(**{**spec.kwargs, **kwargs}))
    except (ValueError, GameError) as exc:
        raise CliError(str(exc)) from None


# ============================================================================================== main
class Parser(argparse.ArgumentParser):
    """The command line's parser (its subcommands' too): a bad option or value is one line on stderr, naming
    them, and exit code 2, as every other bad input; ``--help`` shows the usage."""

    def error(self, message: str) -> NoReturn:  # argparse's own prints the whole usage above the line
        self.exit(2, f"{self.prog}: error: {message.replace(chr(10), ' ')}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="longplay", description="Long-horizon Pokemon-style game envs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="run an agent on an env and record a replay")
    p.add_argument("--env", default=None, help=f"env id (default {DEFAULT_ENV})")
    p.add_argument("--agent", default=DEFAULT_AGENT, help=f"agent name (default {DEFAULT_AGENT})")
    p.add_argument("--steps", type=int, default=None, help=f"button presses (default {DEFAULT_STEPS})")
    p.add_argument("--seed", type=seed_arg, default=None, help="reset seed (default 0)")
    p.add_argument("--obs-mode", default=None, help="observation mode (default: the agent's)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="env keyword argument")
    p.add_argument("--runs-dir", default="runs", help="where replays go (default runs/)")
    p.add_argument("--no-record", action="store_true", help="do not record a replay")
    p.add_argument("--fingerprint-every", type=fingerprint_every_arg, default=None, metavar="N",
                   help="steps between the replay's state fingerprints, which let verify name a changed action "
                   "to within N steps (default 64; 1 for --agent lm, where one per button press costs nothing "
                   "beside a model turn)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--checkpoint", default=None, help="policy checkpoint (--agent ppo)")
    p.add_argument("--rom", default=None, metavar="PATH", help="Game Boy ROM file (Game Boy envs)")
    p.add_argument("--start-state", default=None, metavar="FILE",
                   help="start every episode from this save state (game.save_state() bytes, e.g. written by "
                   "longplay export REPLAY --state FILE); milestones it holds count at step 0 and pay nothing")
    p.set_defaults(func=cmd_run)
    try:
        from longplay.agents.lm.cli import add_arguments as add_lm_arguments
    except ImportError:
        pass
    else:
        add_lm_arguments(p)

    p = sub.add_parser("serve", help="serve an env over HTTP to an agent in another process (recorded)")
    p.add_argument("--env", default=None, help="env id (default QuestMini-v0)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="env keyword argument")
    p.add_argument("--obs-mode", default=None, help="observation mode(s), e.g. symbolic+text (default: the env's)")
    p.add_argument("--resume", default=None, metavar="REPLAY",
                   help="serve a recorded run where it stopped (its env, at the end of its last episode), recording "
                   "on into its replay")
    p.add_argument("--rom", default=None, metavar="PATH", help="Game Boy ROM file (Game Boy envs)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_SERVE_PORT,
                   help=f"TCP port (default {DEFAULT_SERVE_PORT}; 0 picks a free one)")
    p.add_argument("--runs-dir", default="runs", help="where the replay goes (default runs/)")
    p.add_argument("--no-record", action="store_true", help="do not record a replay")
    p.add_argument("--agent-name", default="remote", help="the agent's name in the replay (default remote)")
    p.add_argument("--model", default=None, help="the model's name in the replay, for compare (default none)")
    p.add_argument("--label", default=None, help="a configuration label in the replay, which compare groups by")
    p.add_argument("--fingerprint-every", type=fingerprint_every_arg, default=None, metavar="N",
                   help="steps between the replay's state fingerprints (default 1)")
    p.add_argument("--start-state", default=None, metavar="FILE",
                   help="every reset starts from this save state (e.g. written by longplay export REPLAY --state "
                   "FILE) unless its request's options name another; with --resume, only for a run whose replay "
                   "does not hold it")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("play", help="play with the keyboard")
    p.add_argument("--env", default=DEFAULT_ENV, help=f"env id (default {DEFAULT_ENV})")
    p.add_argument("--seed", type=seed_arg, default=0, help="reset seed (default 0)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="env keyword argument")
    p.add_argument("--text", action="store_true", help="play in the terminal from the text view")
    p.add_argument("--rom", default=None, metavar="PATH", help="Game Boy ROM file (Game Boy envs)")
    p.add_argument("--start-state", default=None, metavar="FILE",
                   help="start from this save state (e.g. written by longplay export REPLAY --state FILE)")
    p.set_defaults(func=cmd_play)

    p = sub.add_parser("milestones", help="print an env's milestone catalog")
    p.add_argument("--env", default=DEFAULT_ENV, help=f"env id (default {DEFAULT_ENV})")
    p.add_argument("--seed", type=seed_arg, default=0, help="the world seed, for an env that draws its world from "
                   "the reset seed (longplay/Quest-v0; default 0): no other env's catalog depends on it")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="env keyword argument")
    p.add_argument("--rom", default=None, metavar="PATH", help="Game Boy ROM file (Game Boy envs)")
    p.set_defaults(func=cmd_milestones)

    p = sub.add_parser("envs", help="list env ids")
    p.set_defaults(func=cmd_envs)

    optional = (("longplay.replays.cli", "add_subcommands"), ("longplay.agents.rl.cli", "add_train_subcommand"),
                ("longplay.agents.sweep.cli", "add_sweep_subcommand"))
    for module, adder in optional:
        try:
            add = getattr(importlib.import_module(module), adder)
        except ImportError:  # an optional part whose dependencies are not installed
            continue
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``longplay`` command."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        argv = ["run"]  # a new user sees the game work
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return run_command(args.func, args)


if __name__ == "__main__":
    # ``python -m longplay.agents.cli``: run the imported module's main, whose CliError is the one every other
    # module raises (this ``__main__`` copy's CliError is another class, and its errors would be tracebacks).
    from longplay.agents.cli import main as package_main

    sys.exit(package_main())
