"""Train a 784-512-512-10 MLP on MNIST with PyTorch (an nn.Module and plain SGD).

In the style of pytorch/examples mnist/main.py, with the data on the device once and no
DataLoader in the timed loop unless --input loader asks for one. Below the model, the
trainer that the shared epoch loop runs (docs/design.md, "Trainers").
"""
import functools
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from mlpbench import cli, modes
from mlpbench.loop import Device, EpochResult, run_epochs, start_record
from mlpbench.machine import cpu_name, median_seconds, probe_record
from mlpbench.model import LAYER_SIZES, shared_init
from mlpbench.records import emit


class MLP(nn.Module):
    def __init__(self, sizes=LAYER_SIZES):
        super().__init__()
        self.fc1 = nn.Linear(sizes[0], sizes[1])
        self.fc2 = nn.Linear(sizes[1], sizes[2])
        self.fc3 = nn.Linear(sizes[2], sizes[3])

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def load_shared(model, params):
    """Copy the data layer's numpy parameters in; nn.Linear keeps weights as (out, in)."""
    with torch.no_grad():
        for layer, p in zip((model.fc1, model.fc2, model.fc3), params, strict=True):
            layer.weight.copy_(torch.from_numpy(p["w"]).T)
            layer.bias.copy_(torch.from_numpy(p["b"]))


def sgd_step(model, optimizer, x, y, totals):
    """One SGD step on the batch (x, y); totals = (loss sum, correct count) stay on the device.

    Gradients are cleared by the caller, outside what torch.compile traces."""
    output = model(x)
    loss = F.cross_entropy(output, y)
    loss.backward()
    optimizer.step()
    totals[0] += loss.detach()
    totals[1] += (output.argmax(dim=1) == y).sum()


def train_step(model, optimizer, images, labels, idx, totals):
    """One SGD step on images[idx], gathered on the device."""
    sgd_step(model, optimizer, images[idx], labels[idx], totals)


@torch.no_grad()
def evaluate(model, images, labels):
    """Mean loss and accuracy, from an exact count of correct predictions."""
    output = model(images)
    loss = F.cross_entropy(output, labels)
    return loss.item(), (output.argmax(dim=1) == labels).sum().item() / len(labels)


class CudaGraphStep:
    """A train step captured in a CUDA graph and replayed per batch, following PyTorch's
    CUDA-graph notes. step(idx) must update `state` in place. Warm-up runs on a side stream
    (capture needs warmed-up kernels and allocator), then the state is put back, so the
    captured run starts from the same numbers as an uncaptured one. Setting gradients to
    None inside the capture makes the graph own its gradient buffers."""

    def __init__(self, step, idx, state):
        self.idx = idx.clone()
        saved = [t.detach().clone() for t in state]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                step(self.idx)
        torch.cuda.current_stream().wait_stream(side)
        with torch.no_grad():
            for t, s in zip(state, saved, strict=True):
                t.copy_(s)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            step(self.idx)

    def __call__(self, idx):
        self.idx.copy_(idx)
        self.graph.replay()


def compilations(since, epoch):
    """Dynamo's compilations after the first `since`: (seconds, recompiles, count so far).
    In epoch 1 a recompile is a frame compiled again (its guards failed: a new shape, say);
    after it, every compilation is one."""
    from torch._dynamo.utils import get_compilation_metrics
    metrics = get_compilation_metrics()
    new = metrics[since:]
    seconds = sum((m.entire_frame_compile_time_s or 0) + (m.backward_cumulative_compile_time_us or 0) / 1e6
                  for m in new)
    recompiles = sum(m.recompile_reason is not None for m in new) if epoch == 1 else len(new)
    return seconds, recompiles, len(metrics)


def compile_figures(seen, epoch, cache_on):
    """Epoch 1's compile stages, graphs, breaks and cache hits; every epoch's recompiles."""
    from torch._dynamo.utils import counters
    seconds, recompiles, seen = compilations(seen, epoch)
    if epoch > 1:
        return {"recompiles": recompiles}, seen
    hits = counters["inductor"]["fxgraph_cache_hit"] + counters["aot_autograd"]["autograd_cache_hit"]
    return {"recompiles": recompiles, "compile_s": seconds, "graphs": counters["stats"]["unique_graphs"],
            "graph_breaks": sum(counters["graph_break"].values()), "cache_hits": hits if cache_on else None}, seen


@dataclass
class Trainer:
    """The PyTorch side of mlpbench.loop.Trainer. `step(*batch)` is one SGD step on one
    batch's data, (idx,) into the split on the device or (x, y) from a loader; it adds to
    `totals` (loss sum, correct count) on the device."""
    mode: modes.Mode
    model: nn.Module
    step: Callable
    totals: torch.Tensor
    data: dict
    batches_for: Callable
    sync: Callable
    cache_on: bool
    compiles_seen: int = 0

    def put_batches(self, order):
        return self.batches_for(order)

    def train_epoch(self, batches, epoch):
        self.model.train()
        self.totals.zero_()
        first_step, t0 = None, time.perf_counter()
        for s, batch in enumerate(batches):
            if s == 0 and epoch == 1 and self.mode.name == "cudagraph":
                self.step = CudaGraphStep(self.step, *batch, [*self.model.parameters(), self.totals])
            self.step(*batch)
            if s == 0 and epoch == 1:
                self.sync()
                first_step = time.perf_counter() - t0
        self.sync()
        figures = {}
        if self.mode.compiled:
            figures, self.compiles_seen = compile_figures(self.compiles_seen, epoch, self.cache_on)
        return EpochResult(self.totals[0], self.totals[1], first_step, **figures)

    def evaluate(self, split):
        self.model.eval()
        return evaluate(self.model, *self.data[split])

    def device_peak_bytes(self):
        device = self.totals.device
        return torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None


def synchronizer(device):
    """Waits for the GPU's queued work; on the CPU every op has finished when it returns."""
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def set_precision(precision):
    tf32 = precision == "tf32"
    if hasattr(torch.backends.cuda.matmul, "fp32_precision"):  # PyTorch >= 2.9
        torch.backends.cuda.matmul.fp32_precision = "tf32" if tf32 else "ieee"
        torch.backends.cudnn.conv.fp32_precision = "tf32" if tf32 else "ieee"
    else:
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32


def use_compile_cache(directory):
    """Inductor's on-disk caches (FX graphs, AOTAutograd, Triton kernels) in DIR/inductor;
    without a DIR they stay off, so every run pays its own cold compile."""
    if directory:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(os.path.abspath(directory), "inductor")
    torch.compiler.config.force_disable_caches = not directory


def select_device(args):
    if args.device == "gpu" and not torch.cuda.is_available():
        cli.fail("--device gpu: PyTorch sees no CUDA GPU (install a CUDA build of torch)")
    use_cuda = args.device != "cpu" and torch.cuda.is_available()
    if modes.mode(args.mode).gpu_only and not use_cuda:
        cli.fail(f"--mode {args.mode} needs a CUDA GPU; use --mode eager or compile on this machine")
    device = torch.device("cuda" if use_cuda else "cpu")
    return device, Device("gpu" if use_cuda else "cpu", torch.cuda.get_device_name(device) if use_cuda else cpu_name())


def probe(device, info, precision):
    n = 8192 if device.type == "cuda" else 2048
    a = torch.randn(n, n, device=device)
    sync = synchronizer(device)
    emit(probe_record("pytorch", info.name, precision, n, median_seconds(lambda: (a @ a, sync()))))


def epoch_batches(args, data, device, sync):
    """How an epoch's batch order becomes the steps' data, before the clock starts."""
    if args.input == "loader":
        from mlpbench.loader import make_loader
        loader, sampler = make_loader(args.data_dir, args.workers, device.type == "cuda")

        def from_loader(order):
            sampler.order = order
            # Pinned batches (on CUDA) are copied while the host goes on to the next one.
            return ((x.to(device, non_blocking=True), y.to(device, non_blocking=True)) for x, y in loader)
        return from_loader

    def index_rows(order):
        batches = torch.from_numpy(order).long().to(device)
        sync()
        return [(idx,) for idx in batches]
    return index_rows


def main(argv=None):
    args = cli.parse_trainer_args(cli.trainer_parser("PyTorch"), argv)
    set_precision(args.precision)
    device, info = select_device(args)
    if args.probe:
        return probe(device, info, args.precision)
    use_compile_cache(args.compile_cache)
    split = cli.load_split(args)
    torch.manual_seed(args.seed)
    model = MLP().to(device)
    if args.init == "shared":
        load_shared(model, shared_init(args.seed))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    sync = synchronizer(device)

    # The whole split goes to the device once, scaled there, before any clock starts.
    def put(images, labels):
        images = torch.from_numpy(images).to(device).float().div_(255.0)
        return images, torch.from_numpy(labels).to(device)
    data = {"val": put(split.val_images, split.val_labels), "test": put(split.test_images, split.test_labels)}
    totals = torch.zeros(2, device=device)  # loss sum, correct count (exact below 2**24)
    if args.input == "device":
        data["train"] = put(split.train_images, split.train_labels)
    sync()  # uploads and scaling are asynchronous on a GPU: finish them before any clock
    fn = sgd_step if args.input == "loader" else train_step
    fn = functools.partial(torch.compile(fn) if args.mode == "compile" else fn, model, optimizer,
                           *data.get("train", ()), totals=totals)

    def step(*batch):
        optimizer.zero_grad(set_to_none=True)
        fn(*batch)
    trainer = Trainer(modes.mode(args.mode), model, step, totals, data, epoch_batches(args, data, device, sync),
                      sync, cache_on=bool(args.compile_cache))
    run_epochs(trainer, start_record(args, "pytorch", torch.__version__, info, len(split.train_labels),
                                     threads=torch.get_num_threads()))


if __name__ == "__main__":
    sys.exit(main())
