"""This machine's attainable limits: matmul FLOP/s (float32, bfloat16) and memory bandwidth.

Every other speed figure in ``benchmarks/`` is reported as a fraction of these, so a number
says how far from the hardware it is, not only how fast it is.

    python benchmarks/roofline.py                   # CPU, all threads torch uses
    python benchmarks/roofline.py --device cuda

* matmul: ``torch.mm`` of two square ``--size`` matrices (the best of ``--repeats``), plus the
  decode shape of a 0.5B model (batch 32 x 896 times 896 x 4864), whose rate is what decoding
  can attain at best per weight matrix;
* bandwidth: reading (``sum``) and copying a ``--mib`` MiB buffer, far larger than the last
  level cache; copy counts read + write bytes.

Writes ``runs/benchmarks/roofline.json`` (or ``$HARC_ROOFLINE``) atomically;
:func:`load_limits` reads it back for the other benchmarks (None when it has not been run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from harc.io import write_json_atomic  # noqa: E402

# HARC_ROOFLINE: another limits file (benchmarks/gpu_check.sh keeps the GPU's apart).
DEFAULT_OUT = Path(os.environ.get("HARC_ROOFLINE", ROOT / "runs" / "benchmarks" / "roofline.json"))
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def best_seconds(run: Callable[[], Any], repeats: int, sync: Callable[[], None]) -> float:
    run()
    sync()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        sync()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_flops(m: int, k: int, n: int, dtype: torch.dtype, device: str, repeats: int,
                 sync: Callable[[], None]) -> float:
    a = torch.randn(m, k, device=device).to(dtype)
    b = torch.randn(k, n, device=device).to(dtype)
    inner = max(1, int(2e9 // (2 * m * k * n)))  # ~2 GFLOP per timed call

    def run() -> None:
        for _ in range(inner):
            torch.mm(a, b)

    return 2 * m * k * n * inner / best_seconds(run, repeats, sync)


def bandwidth(mib: int, device: str, repeats: int, sync: Callable[[], None]) -> dict[str, float]:
    numel = mib * 1024 * 1024 // 4
    source = torch.ones(numel, dtype=torch.float32, device=device)
    target = torch.empty_like(source)
    nbytes = source.numel() * source.element_size()
    read = nbytes / best_seconds(lambda: source.sum(), repeats, sync)
    copy = 2 * nbytes / best_seconds(lambda: target.copy_(source), repeats, sync)
    return {"read_bytes_per_s": read, "copy_bytes_per_s": copy}


def measure(device: str, size: int, mib: int, repeats: int) -> dict[str, Any]:
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    matmul: dict[str, dict[str, float]] = {}
    for name, dtype in DTYPES.items():
        matmul[name] = {
            "square_flops": matmul_flops(size, size, size, dtype, device, repeats, sync),
            "decode_shape_flops": matmul_flops(32, 896, 4864, dtype, device, repeats, sync),
        }
    return {
        "device": device,
        "device_name": torch.cuda.get_device_name() if device.startswith("cuda") else _cpu_name(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "matmul_size": size,
        "matmul": matmul,
        "bandwidth_mib": mib,
        "bandwidth": bandwidth(mib, device, repeats, sync),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "cpu"


def load_limits(path: Path = DEFAULT_OUT) -> dict[str, Any] | None:
    """The last measured limits, or None when ``roofline.py`` has not been run here."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def peak_flops(limits: dict[str, Any] | None, dtype: str) -> float | None:
    if limits is None:
        return None
    key = "bfloat16" if "bf" in dtype else "float32"
    return limits["matmul"].get(key, {}).get("square_flops")


def peak_bandwidth(limits: dict[str, Any] | None) -> float | None:
    return None if limits is None else limits["bandwidth"]["read_bytes_per_s"]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    report = measure(args.device, args.size, args.mib, args.repeats)
    print(f"{report['device_name']}, {report['threads']} threads, torch {report['torch']}")
    print(f"{'matmul':<28}{'float32 GFLOP/s':>18}{'bfloat16 GFLOP/s':>18}")
    for shape in ("square_flops", "decode_shape_flops"):
        label = f"{args.size}^3" if shape == "square_flops" else "32x896 @ 896x4864"
        fp32, bf16 = (report["matmul"][d][shape] / 1e9 for d in DTYPES)
        print(f"{label:<28}{fp32:>18.1f}{bf16:>18.1f}")
    band = report["bandwidth"]
    print(f"memory bandwidth: read {band['read_bytes_per_s'] / 1e9:.1f} GB/s, "
          f"copy {band['copy_bytes_per_s'] / 1e9:.1f} GB/s ({args.mib} MiB buffer)")
    write_json_atomic(args.out, report)
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
