"""Kernels per training step of the fast modes, and where a step's time goes: what bounds a
small-batch step on a GPU (docs/design.md, "GPU check"). Synthetic data of MNIST's shapes:
the numbers trained on do not change what runs. On a machine without CUDA it times the steps
and counts nothing (the GPU check's --smoke runs it so that it cannot rot)."""
import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

# JAX and PyTorch share the GPU in this one process: JAX must not take 75% of it up front.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from mlpbench import data  # noqa: E402
from mlpbench.model import shared_init  # noqa: E402

STEPS = 100  # at most, per timed run
TRIVIAL = {"parameter", "get-tuple-element", "tuple", "constant", "bitcast"}


def hlo_kernels(text):
    """Instructions of the loop body that launch work (fusions, library calls, copies): the
    static count of kernels per iteration of a compiled scan."""
    body = re.search(r"while\(.*?body=%?([\w.\-]+)", text)
    if not body:
        return None
    block = re.search(rf"^%?{re.escape(body.group(1))} .*?\{{\n(.*?)^\}}", text, re.M | re.S)
    ops = re.findall(r"= \S+ ([\w\-]+)\(", block.group(1)) if block else []
    return sum(op not in TRIVIAL for op in ops)


def jax_steps(batch, n, lr, steps):
    """name -> (run `steps` steps and wait, HLO kernels per step or None)."""
    import jax
    import jax.numpy as jnp

    import assignment_1JAX as jt
    rng = np.random.default_rng(0)
    images = jnp.asarray(rng.random((n, 784), dtype=np.float32))
    labels = jnp.asarray(rng.integers(0, 10, n).astype(np.int32))
    order = data.batch_order(0, 1, n, batch)[:steps]
    lr = jnp.float32(lr)
    out = {}
    for unroll in (1, 16):
        state = [jax.device_put(shared_init(0))]
        batches = jnp.asarray(order)
        built = jt.train_epoch_scan.trace(state[0], images, labels, batches, lr,
                                          unroll=unroll).lower().compile()

        def run(built=built, state=state, batches=batches):
            state[0], totals = built(state[0], images, labels, batches, lr)
            jax.block_until_ready(totals)
        kernels = hlo_kernels(built.as_text())
        out[f"jax scan unroll {unroll}"] = (run, kernels / unroll if kernels else None)
    state = [jax.device_put(shared_init(0))]
    rows = [jax.device_put(row) for row in order]

    def run_step(state=state):
        totals = jt.zero_totals()
        for idx in rows:
            state[0], totals = jt.train_step(state[0], totals, images, labels, idx, lr)
        jax.block_until_ready(totals)
    out["jax step"] = (run_step, None)
    return out


def torch_steps(batch, n, lr, steps):
    import torch

    import assignment_1TORCH as tt
    from mlpbench.torch_runtime import CudaGraphStep
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    images = torch.rand(n, 784, device=device)
    labels = torch.randint(0, 10, (n,), device=device)
    rows = torch.from_numpy(data.batch_order(0, 1, n, batch)[:steps]).long().to(device)
    model = tt.MLP().to(device)

    def training(mode):  # each mode's step as the trainer builds it, over the split on the device
        return tt.training_for(mode, model, lr, (images, labels), torch.zeros(2, device=device))
    fullgraph = training("fullgraph")
    steps = {"pytorch eager": training("eager"), "pytorch fullgraph": fullgraph}
    if device.type == "cuda":
        steps["pytorch cudagraph"] = CudaGraphStep(training("cudagraph"), rows[0])
        # fullgraph's compiled step again, writing in place for the graph: one compile, not two
        in_place = tt.FunctionalStep(fullgraph.fn, tt.functional_params(model), torch.zeros(2, device=device),
                                     in_place=True)
        steps["pytorch fullgraph-cudagraph"] = CudaGraphStep(in_place, rows[0])
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def runner(step):
        def run():
            for idx in rows:
                step(idx)
            sync()
        return run
    return {name: (runner(step), None) for name, step in steps.items()}


def cuda_kernels(run):
    """Kernels the profiler saw in one run() (every CUDA context of the process: JAX's too),
    and their summed execution time in seconds; None without CUDA."""
    import torch
    from torch.profiler import ProfilerActivity, profile
    if not torch.cuda.is_available():
        return None, None
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        run()
    kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA
               and not e.name.startswith(("Memcpy", "Memset"))]
    return len(kernels), sum(e.time_range.elapsed_us() for e in kernels) / 1e6


def measure(run):
    run()  # warm-up: compilation, capture, autotuning
    walls = []
    for _ in range(3):
        t0 = time.perf_counter()
        run()
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (default: %(default)s)")
    parser.add_argument("--train-limit", type=int, default=data.N_TRAIN,
                        help="images in the (synthetic) training split (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (default: %(default)s)")
    parser.add_argument("--compile-cache", default=None, metavar="DIR",
                        help="the trainers' compile cache to read and fill (default: none)")
    parser.add_argument("--precision", choices=("highest", "tf32"), default="highest",
                        help="fp32 matmuls in both frameworks, or TF32 allowed (default: %(default)s)")
    parser.add_argument("--frameworks", nargs="+", choices=("jax", "pytorch"), default=["jax", "pytorch"],
                        help="whose steps to build and measure (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=None, help="write the table as JSON here too")
    args = parser.parse_args()
    from mlpbench import jax_runtime, torch_runtime
    # As the trainers set it: without this JAX would take TF32 on a GPU and PyTorch strict fp32.
    jax_runtime.set_precision(args.precision)
    torch_runtime.set_precision(args.precision)
    if args.compile_cache:
        jax_runtime.use_compile_cache(args.compile_cache)
        torch_runtime.use_compile_cache(args.compile_cache)
    steps = min(STEPS, args.train_limit // args.batch_size)
    builders = {"jax": jax_steps, "pytorch": torch_steps}
    runs = {name: run for framework in args.frameworks
            for name, run in builders[framework](args.batch_size, args.train_limit, args.lr, steps).items()}
    rows = []
    for name, (run, hlo) in runs.items():
        wall = measure(run) / steps
        kernels, busy = cuda_kernels(run)
        rows.append({"step": name, "batch": args.batch_size, "precision": args.precision,
                     "wall_us_per_step": 1e6 * wall,
                     "kernels_per_step": kernels / steps if kernels is not None else None,
                     "hlo_kernels_per_step": hlo,
                     "kernel_us_per_step": 1e6 * busy / steps if busy is not None else None,
                     "epoch_ms_at_this_rate": 1e3 * wall * (data.N_TRAIN // args.batch_size)})
    print(f"{'step':32} {'wall us':>9} {'kernels':>8} {'HLO':>6} {'kernel us':>10} {'epoch ms':>9}")
    for r in rows:
        cells = [r["wall_us_per_step"], r["kernels_per_step"], r["hlo_kernels_per_step"],
                 r["kernel_us_per_step"], r["epoch_ms_at_this_rate"]]
        print(f"{r['step']:32} " + " ".join(f"{c:>{w}.1f}" if c is not None else f"{'-':>{w}}"
                                            for c, w in zip(cells, (9, 8, 6, 10, 9), strict=True)))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
