#!/usr/bin/env bash
# The GPU figures in one prepared command, for a lent CUDA machine that has torch but cannot install anything.
#
# Here (a machine with PyPI), once, before the lease:
#     bash benchmarks/device_check.sh --fetch-wheels
# downloads the wheels the package needs beyond the device image's (gymnasium and farama-notifications, pure
# Python) into .whl/, which .git/info/exclude then ignores. On the device machine, with .whl carried:
#     bash benchmarks/device_check.sh
# runs the repository as the package `longplay` without installing it (a link named longplay to the root on
# PYTHONPATH), then benchmarks/parity_device.py (lockstep parity with the reference engine, eager and
# compiled in a CUDA graph) within PARITY_BUDGET_S seconds, benchmarks/batched_gpu.py within BATCHED_BUDGET_S
# and benchmarks/rl_gpu.py (ppo-device on the plain engine step, then on the step in a CUDA graph), each under
# a hard timeout, and writes their output and JSON under $OUT (or /tmp/device_check). The defaults (timeouts of
# 470 s in all, 8 minutes with the set-up) leave a 15-minute lease time to start the machine and to run again:
# run(command="bash benchmarks/device_check.sh", carry=[".whl"], timeout_s=500). Set
# PARITY_BUDGET_S, PARITY_TIMEOUT_S, PARITY_ARGS, BATCHED_BUDGET_S, BATCHED_TIMEOUT_S, BATCHED_PLAN,
# RL_TIMEOUT_S or RL_ARGS (default --cuda-graph; e.g. --compile) to change them (a timeout of 1 skips that
# step), DEVICE=cpu for a dry run on a machine without a GPU. The scripts run under $PYTHON if set, else the
# repository's .venv/bin/python (the interpreter the docs run the benchmarks with), else python3 (the device
# image's, which has torch); one without torch ends the script in one line before anything runs.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2

if [[ "${1:-}" == "--fetch-wheels" ]]; then
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >>.git/info/exclude
    # Any pip will do: the wheels are for the device image's Python (3.12), not for this interpreter.
    exec python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 -d .whl "gymnasium>=1.1,<2" farama-notifications
fi

# python3 last: on PATH it is the system's, without torch, where a venv is not activated.
if [[ -n "${PYTHON:-}" ]]; then
    python=$PYTHON
elif [[ -x .venv/bin/python ]]; then
    python=$root/.venv/bin/python
else
    python=python3
fi
if ! command -v "$python" >/dev/null; then
    echo "device_check: no Python interpreter $python (set PYTHON to one that has torch)" >&2
    exit 2
fi
if ! "$python" -c "import torch" 2>/dev/null; then
    echo "device_check: $python has no torch (set PYTHON to an interpreter that has it, or make .venv)" >&2
    exit 2
fi

out=${OUT:-/tmp/device_check}
mkdir -p "$out" /tmp/device_check_path
ln -sfn "$root" /tmp/device_check_path/longplay
path=/tmp/device_check_path
if ! "$python" -c "import gymnasium" 2>/dev/null; then
    if ! ls .whl/*.whl >/dev/null 2>&1; then
        echo "device_check: gymnasium is missing here and no .whl/ was carried (run --fetch-wheels first)" >&2
        exit 2
    fi
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/device_check_site \
        .whl/*.whl || exit 2
    path=$path:/tmp/device_check_site
fi
export PYTHONPATH=$path${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
device=${DEVICE:-cuda}
if [[ "$device" == cuda* ]]; then
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1 | tee "$out/gpu.txt"
fi
"$python" -c "import torch, longplay.envs.quest.batched as b; print('torch', torch.__version__, 'package', b.__file__)" \
    || exit 2

timeout "${PARITY_TIMEOUT_S:-150}" "$python" benchmarks/parity_device.py --device "$device" \
    --budget-s "${PARITY_BUDGET_S:-100}" --json "$out/parity_device.json" ${PARITY_ARGS:-} 2>&1 \
    | tee "$out/parity_device.txt"
parity=${PIPESTATUS[0]}
plan=()
[[ -n "${BATCHED_PLAN:-}" ]] && plan=(--plan "$BATCHED_PLAN")
timeout "${BATCHED_TIMEOUT_S:-190}" "$python" benchmarks/batched_gpu.py --device "$device" \
    --budget-s "${BATCHED_BUDGET_S:-110}" --json "$out/batched_gpu.json" "${plan[@]}" 2>&1 | tee "$out/batched_gpu.txt"
batched=${PIPESTATUS[0]}
timeout "${RL_TIMEOUT_S:-130}" "$python" benchmarks/rl_gpu.py --device "$device" ${RL_ARGS:---cuda-graph} \
    --json "$out/rl_gpu.json" 2>&1 | tee "$out/rl_gpu.txt"
rl=${PIPESTATUS[0]}
echo "device_check: parity_device exit $parity (1: a check differed), batched_gpu exit $batched, rl_gpu exit $rl" \
    "(124: stopped at its timeout); output in $out"
