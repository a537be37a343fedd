"""The batched quest engine on one CUDA GPU: the same table as ``batched_speed.py``, with GPU-sized batches.

    python benchmarks/batched_gpu.py            # one command on a CUDA machine

Runs eager and compiled steps (``torch.compile``; CUDA graphs through ``mode="reduce-overhead"``, falling
back to the default mode if graphs fail), symbolic observations from 1,024 to 1,048,576 envs (as memory
allows) and pixels up to 65,536 envs, beside the reference engine's single-env rate on the host CPU.
The goal on one H200 is 50,000,000 env steps/s symbolic. Exits with a message when no GPU is present.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

GPU_BATCHES = "1024,4096,16384,65536,262144,1048576"


def main() -> None:
    if not torch.cuda.is_available():
        print("no CUDA device: run this on a GPU machine (benchmarks/batched_speed.py measures the CPU)")
        sys.exit(1)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import batched_speed

    print(f"GPU: {torch.cuda.get_device_name(0)}")
    common = ["--device", "cuda", "--batch", GPU_BATCHES, "--compiled-batch", GPU_BATCHES, "--seconds", "3",
              "--pixel-limit", "65536"]
    out = batched_speed.main(common + ["--modes", "eager,compiled", "--compile-mode", "reduce-overhead"])
    if not any(key[2] == "compiled" for key in out["results"]):
        print("\nCUDA graphs failed for every batch: compiled kernels without them")
        batched_speed.main(common + ["--modes", "compiled"])


if __name__ == "__main__":
    main()
