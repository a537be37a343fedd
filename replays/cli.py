"""The replay subcommands of ``longplay``: ``verify``, ``export``, ``compare`` and ``view``.

``longplay.agents.cli`` calls :func:`add_subcommands` on its subparsers; each subcommand's ``func(args)``
returns the exit code and prints a one-line error (never a traceback) for bad input. Exit codes:
0 success, 1 a replay failed verification (or verify could not check it), 2 bad input (missing file, not a replay,
corrupt, bad option).
``python -m longplay.replays.cli`` runs the same subcommands on their own.
"""

from __future__ import annotations

import argparse
import math
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from longplay.replays.schema import ReplayError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _guarded(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (ReplayError, ValueError, FileExistsError) as e:
            return _error(str(e))
        except BrokenPipeError:  # the reader of the output left (compare ... | head): the caller stops quietly
            raise
        except OSError as e:
            return _error(f"{e.strerror or e}: {e.filename}" if e.filename else str(e))

    run.__doc__ = func.__doc__
    return run


# ============================================================================================ verify


def cmd_verify(args: argparse.Namespace) -> int:
    """Re-simulates each replay and checks every recorded hash, milestone and reward."""
    from longplay.replays.verify import verify

    code = EXIT_OK
    for path in args.replays:
        try:
            report = verify(path, progress=not args.quiet and sys.stderr.isatty())
        except ReplayError as e:
            print(f"error: {e}", file=sys.stderr)
            code = max(code, EXIT_BAD_INPUT)
            continue
        except BrokenPipeError:  # the reader of the output left: nothing more to say to anyone
            raise
        except Exception as e:  # noqa: BLE001 - a bug, or damage no check knows yet: the other replays still count
            message = " ".join(str(e).split())
            print(f"error: cannot verify {path}: {type(e).__name__}: {message}"
                  + ("" if args.verbose else " (-v prints the traceback)"), file=sys.stderr)
            if args.verbose:
                traceback.print_exception(e)
            code = max(code, EXIT_FAILED)
            continue
        print(report.summary())
        if not report.ok:
            code = max(code, EXIT_FAILED)
            if args.verbose:
                for problem in report.problems[1:]:
                    print(f"  also: {problem}")
    return code


# ============================================================================================ export


def cmd_export(args: argparse.Namespace) -> int:
    """Renders a stretch of a replay to MP4 and/or GIF, writes its run page as one HTML file (--html), or the
    save state at one step (--state), which longplay run --start-state starts from."""
    replay = Path(args.replay)
    targets = [(fmt, out) for fmt, out in (("mp4", args.mp4), ("gif", args.gif)) if out is not None]
    _check_distinct_outputs(replay, args)
    if args.state is not None:
        export_state(replay, args.state, args.step, args.episode)
        if not targets and args.html is None:
            return EXIT_OK
    elif args.step is not None:
        raise ValueError("--step picks the step of --state; for a video, use --from and --to")
    args.episode = 0 if args.episode is None else args.episode  # the videos' and the page's default
    if args.html is not None:
        from longplay.replays.viewer.html_export import export_html

        if args.html_frames < 2:  # export_html would name its parameter, not the flag
            raise ValueError(f"invalid --html-frames {args.html_frames}; use an int >= 2 (the first and the last "
                             "step are always embedded)")

        path = Path(args.html) if args.html else replay.with_suffix(".html")
        page = export_html(replay, path, episode=args.episode, start=args.start, end=args.end,
                           max_frames=args.html_frames, progress=sys.stderr.isatty())
        print(f"wrote {page.path}: steps {page.first_step}..{page.last_step}, {page.frames} frames"
              + (f" (every {page.stride} steps)" if page.stride > 1 else "") + f", {page.size_bytes / 1e6:.1f} MB")
        if not targets:
            return EXIT_OK
    from longplay.replays.export import export

    if not targets:
        targets = [("mp4", "")]
    for fmt, out in targets:
        path = Path(out) if out else replay.with_suffix(f".{fmt}")
        result = export(replay, path, fmt, args.start, args.end, args.speed, episode=args.episode,
                        scale=args.scale, progress=sys.stderr.isatty())
        print(f"wrote {result.path}: steps {result.first_step}..{result.last_step}, {result.frames} frames at "
              f"{result.fps:g} fps" + (f" (every {result.stride} steps)" if result.stride > 1 else ""))
    return EXIT_OK


def _check_distinct_outputs(replay: Path, args: argparse.Namespace) -> None:
    """Raises ``ValueError`` (one line) when two of the outputs asked for are one file (``--mp4 clip --gif clip``):
    the second export would replace the first. A default ``--state`` name holds its step, known only later."""
    seen: dict[Path, str] = {}
    for flag, out in (("--mp4", args.mp4), ("--gif", args.gif), ("--html", args.html), ("--state", args.state)):
        if out is None or (flag == "--state" and not out):
            continue
        path = Path(out) if out else replay.with_suffix(f".{flag[2:]}")  # a video's or the page's default
        if path.resolve() in seen:
            raise ValueError(f"{seen[path.resolve()]} and {flag} would write the same file {path}; name each its own")
        seen[path.resolve()] = flag


def export_state(replay: Path, out: str, step: int | None, episode: int | None) -> Path:
    """Writes the save state after ``step`` actions of ``episode`` (default the last episode at its last step:
    where the run stopped) to ``out`` (default ``REPLAY.stepN.state`` beside the replay, ``REPLAY.epE.stepN.state``
    for a replay of several episodes) and prints where. As the video exports, it never writes over a replay (the
    replay itself, or any ``*.lpr``) or a folder; the file appears whole or not at all (a full disk leaves no
    truncated state behind)."""
    from longplay.replays.export import check_output
    from longplay.replays.files import write_atomically
    from longplay.replays.reader import ReplayReader

    if out:
        check_output(replay, out)  # before the replay is re-simulated to the step

    with ReplayReader(replay) as reader:
        episodes = reader.episodes()
        if episode is None:
            if not episodes:
                raise ValueError(f"{replay} holds no episode: no state to write")
            episode = episodes[-1].episode
        reader.episode(episode)  # no such episode: one line
        last = reader.num_steps(episode)
        step = last if step is None else step
        if not 0 <= step <= last:
            raise ValueError(f"invalid --step {step}: episode {episode} has steps 0..{last}")
        state = reader.state_at(step, episode)
    # the default name holds the step, and the episode where there are several (else one step of two episodes
    # would be one file, the second export replacing the first)
    several = len(episodes) > 1
    path = Path(out) if out else replay.with_suffix(f"{f'.ep{episode}' if several else ''}.step{step}.state")
    if not out:
        check_output(replay, path)
    write_atomically(path, lambda partial: partial.write_bytes(state))
    print(f"wrote {path}: the state at step {step} of episode {episode} ({len(state):,} bytes; "
          f"longplay run --start-state {path} starts from it)")
    return path


# ============================================================================================ view


def cmd_view(args: argparse.Namespace) -> int:
    """Serves the replay viewer over a folder of replays: run list, run pages, comparison charts."""
    folder = Path(args.folder)
    if not folder.is_dir():
        raise ReplayError(f"no such folder: {folder} (record runs with 'longplay run', or name a folder)")
    if not 0 <= args.port <= 65535:
        raise ValueError(f"invalid --port {args.port}; must be 0..65535 (0 picks a free port)")
    try:
        from longplay.replays.viewer.server import serve
    except ImportError as e:
        raise ReplayError("the viewer needs starlette and uvicorn: pip install 'longplay[viewer]' "
                          f"(missing {e.name})") from None
    try:
        serve(folder, args.host, args.port, open_browser=args.open)
    except OSError as e:
        if e.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            raise ReplayError(f"port {args.port} on {args.host} is in use: pick another with --port "
                              "(0 picks a free one)") from None
        # an address not on this machine, or a name that does not resolve (a bare "[Errno -2] ..." before)
        raise ReplayError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}") from None
    except KeyboardInterrupt:
        pass
    return EXIT_OK


# ============================================================================================ compare


def cmd_compare(args: argparse.Namespace) -> int:
    """Progress curves, time-to-milestone table, multi-seed aggregates and AUC over replays and folders."""
    from longplay.replays.compare import (
        AXES,
        compare_impl,
        env_name,
        format_table,
        load_runs,
        write_outputs,
    )

    if args.horizon is not None and not 0 < args.horizon < math.inf:  # before the replays are read
        raise ValueError(f"--horizon must be a positive number of steps, got {args.horizon:g}")
    warnings: list[str] = []
    for path in args.paths:
        if not Path(path).exists():
            raise ReplayError(f"no such file or folder: {path}")
    runs = load_runs(args.paths, group_by=[f.strip() for f in args.group_by.split(",")], warnings=warnings)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not runs:
        # With no run, each replay found was skipped or left out with a warning: warnings mean replays were found.
        if warnings:
            raise ReplayError(f"no run with a recorded step in {', '.join(args.paths)}")
        raise ReplayError(f"no replays (*.lpr) found in {', '.join(args.paths)}")
    axes = args.axis or list(AXES)
    horizon = {"steps": float(args.horizon)} if args.horizon is not None else None
    result = compare_impl(runs, axes=axes, horizon=horizon, n_boot=args.boot, seed=args.seed)
    written = write_outputs(result, runs, args.out, plots=not args.no_plots, log_x=args.log_x)
    from longplay.replays.verify import counted

    groups = ", ".join(f"{g['group']} ({counted(g['runs'], 'run')}"
                       + (f", {g['stopped_early_runs']} stopped before their budget" if g["stopped_early_runs"] else "")
                       + ")" for g in result.groups)
    print(f"{counted(len(runs), 'run')} in {counted(len(result.groups), 'group')}: {groups}")
    print(format_table(result, axes[0]))
    if len(result.horizons) > 1 and "steps" in axes:
        windows = ", ".join(f"{env_name(env)} {h['steps']:g}" for env, h in result.horizons.items())
        how = "--horizon for every env" if args.horizon is not None else "each env's longest run"
        print(f"AUC windows in steps, one per env ({how}): {windows}; compare AUCs within an env only")
    for group in result.groups:
        auc = group["auc"].get("steps")
        if auc:
            print(f"AUC (steps, horizon {auc['horizon']:g}) {group['group']}: {auc['value']:.4f} "
                  f"[{auc['ci_low']:.4f}, {auc['ci_high']:.4f}]")
    print(f"wrote {len(written)} files to {args.out}: {', '.join(p.name for p in written)}")
    return EXIT_OK


# ============================================================================================ wiring


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``verify``, ``export``, ``compare`` and ``view`` to the ``longplay`` command's subparsers."""
    from longplay.replays.compare import AXES

    p = subparsers.add_parser("verify", help="re-simulate replays and check every hash and milestone",
                              description=cmd_verify.__doc__)
    p.add_argument("replays", nargs="+", metavar="REPLAY", help="replay files (.lpr)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="list every problem, not just the first, and the traceback of a replay verify could not check")
    p.set_defaults(func=_guarded(cmd_verify))

    p = subparsers.add_parser("export", help="render a replay to MP4 or GIF, its run page to HTML, or write a "
                              "step's save state",
                              description=cmd_export.__doc__ + " Frames are re-rendered from keyframes.")
    p.add_argument("replay", metavar="REPLAY")
    p.add_argument("--mp4", nargs="?", const="", metavar="OUT", help="write an MP4 (default: next to the replay)")
    p.add_argument("--gif", nargs="?", const="", metavar="OUT", help="write a GIF (default: next to the replay)")
    p.add_argument("--from", dest="start", type=int, default=0, metavar="STEP", help="first step (default 0)")
    p.add_argument("--to", dest="end", type=int, default=None, metavar="STEP", help="last step (default: the end)")
    p.add_argument("--speed", type=float, default=1.0, help="times real time: 30 steps/s at 1 (default 1)")
    p.add_argument("--episode", type=int, default=None,
                   help="episode of the replay (default 0; for --state, the last: where the run stopped)")
    p.add_argument("--scale", type=int, default=2, help="integer upscaling of the screen (default 2)")
    p.add_argument("--html", nargs="?", const="", metavar="OUT",
                   help="write the viewer's run page as one self-contained HTML file (default: next to the replay)")
    p.add_argument("--html-frames", type=int, default=2000, metavar="N",
                   help="most frames the HTML page embeds, evenly spaced (default 2000)")
    p.add_argument("--state", nargs="?", const="", metavar="OUT",
                   help="write the save state at --step, for longplay run --start-state (default: "
                   "REPLAY.stepN.state next to the replay; REPLAY.epE.stepN.state for a replay of several "
                   "episodes)")
    p.add_argument("--step", type=int, default=None, metavar="N",
                   help="the step whose state --state writes (default: the episode's last)")
    p.set_defaults(func=_guarded(cmd_export))

    p = subparsers.add_parser("view", help="browse a folder of replays in a local web app",
                              description=cmd_view.__doc__ + " Bound to 127.0.0.1 unless --host says otherwise.")
    p.add_argument("folder", nargs="?", default="runs", metavar="FOLDER", help="folder of replays (default runs/)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0 picks a free one)")
    p.add_argument("--open", action="store_true", help="open the viewer in the default web browser")
    p.set_defaults(func=_guarded(cmd_view))

    p = subparsers.add_parser("compare", help="progress curves, time-to-milestone tables and AUC over replays",
                              description=cmd_compare.__doc__)
    p.add_argument("paths", nargs="+", metavar="REPLAY_OR_FOLDER", help="replays, or folders searched for *.lpr")
    p.add_argument("-o", "--out", default="compare", help="output folder (default ./compare)")
    p.add_argument("--axis", action="append", choices=AXES,
                   help="progress axis (repeatable; default all the replays have)")
    p.add_argument("--group-by", default="agent,model,scaffold",
                   help="header fields that make a configuration, among env,agent,model,scaffold,label "
                        "(default agent,model,scaffold; a header 'label' always wins)")
    p.add_argument("--horizon", type=float, default=None,
                   help="AUC window in steps, for every env (default: per env, its longest run)")
    p.add_argument("--boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--log-x", action="store_true", help="logarithmic x axis on the plots")
    p.set_defaults(func=_guarded(cmd_compare))


def build_parser() -> argparse.ArgumentParser:
    """A parser with only the replay subcommands (``python -m longplay.replays.cli``)."""
    from longplay.agents.cli import Parser  # a bad option is one line, as under ``longplay``

    parser = Parser(prog="longplay", description="longplay replay tools")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one replay subcommand; returns its exit code."""
    from longplay.agents.cli import run_command  # a closed pipe, Ctrl+C and a full disk as ``longplay`` has them

    args = build_parser().parse_args(argv)
    return run_command(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
