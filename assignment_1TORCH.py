"""Train an MLP (784-512-512-10 unless --hidden says otherwise) on MNIST with PyTorch: an
nn.Module and plain SGD, as in pytorch/examples' mnist/main.py, and the same algorithm in
torch.func (params as data, as in the JAX trainer) for the functional modes.

The data is on the device once, with no DataLoader in the timed loop unless --input loader asks
for one. Below the models and their steps, the harness that the shared epoch loop runs
(docs/design.md, "Trainers").
"""
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from mlpbench import cli, modes
from mlpbench.loop import Device, EpochResult, run_epochs, start_record
from mlpbench.machine import cpu_name, median_seconds, probe_record, restrict_cpus
from mlpbench.model import LAYER_SIZES, layer_sizes, shared_init
from mlpbench.records import emit


class MLP(nn.Module):
    def __init__(self, sizes=LAYER_SIZES):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(m, n) for m, n in zip(sizes[:-1], sizes[1:], strict=True))

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x)


def load_shared(model, params):
    """Copy the data layer's numpy parameters in; nn.Linear keeps weights as (out, in)."""
    with torch.no_grad():
        for layer, p in zip(model.layers, params, strict=True):
            layer.weight.copy_(torch.from_numpy(p["w"]).T)
            layer.bias.copy_(torch.from_numpy(p["b"]))


def train_step(model, optimizer, x, y):
    """One SGD step on the batch (x, y); the batch's loss and the logits, for the running totals."""
    optimizer.zero_grad(set_to_none=True)
    output = model(x)
    batch_loss = F.cross_entropy(output, y)
    batch_loss.backward()
    optimizer.step()
    return batch_loss.detach(), output.detach()


@torch.no_grad()
def evaluate(model, images, labels):
    """Mean loss and accuracy, from an exact count of correct predictions. `model` is the
    nn.Module, or the functional params' forward pass. (The MLP has no dropout or batch norm,
    so model.eval() would change nothing.)"""
    output = model(images)
    mean_loss = F.cross_entropy(output, labels)
    return mean_loss.item(), (output.argmax(dim=1) == labels).sum().item() / len(labels)


# --- the same algorithm in torch.func, function for function with the JAX trainer (func, fullgraph) ---

def functional_params(model):
    """The module's parameters as data, in the JAX trainer's layout: [{"w": (in, out), "b"}]."""
    return [{"w": layer.weight.detach().T.contiguous(), "b": layer.bias.detach().clone()}
            for layer in model.layers]


def predict(params, image):
    """Logits of one flattened image."""
    x = image
    for layer in params[:-1]:
        x = F.relu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


batched_predict = torch.func.vmap(predict, in_dims=(None, 0))


def loss(params, images, labels):
    """Mean softmax cross-entropy, with the logits as auxiliary output for accuracy."""
    logits = batched_predict(params, images)
    return F.cross_entropy(logits, labels), logits


def sgd_step(params, x, y, lr):
    """One SGD step on the batch (x, y): new params, the loss and the logits; nothing changed in place."""
    grads, (batch_loss, logits) = torch.func.grad_and_value(loss, has_aux=True)(params, x, y)
    params = [{k: p[k] - lr * g[k] for k in p} for p, g in zip(params, grads, strict=True)]
    return params, batch_loss.detach(), logits.detach()


# --- the harness: each mode's step with its running totals, timing, devices and records ---

def batch_totals(batch_loss, logits, y):
    """A step's (loss, correct count), to add to the running totals on the device: no sync per step."""
    return torch.stack((batch_loss, (logits.argmax(dim=1) == y).sum().to(batch_loss.dtype)))


def batch_data(split_on_device):
    """One step's (x, y) from its data: rows gathered from the split on the device by their
    indices, or a loader's batch as it comes."""
    if split_on_device:
        images, labels = split_on_device
        return lambda idx: (images[idx], labels[idx])
    return lambda x, y: (x, y)


class ModuleStep:
    """One SGD step of the nn.Module per call on one batch's data, adding to the totals in place."""

    def __init__(self, model, fn, totals):
        self.model, self.fn, self.totals = model, fn, totals

    def __call__(self, *batch):
        self.fn(*batch)

    def state(self):
        return [*self.model.parameters(), self.totals]

    def logits(self, images):
        return self.model(images)


class FunctionalStep:
    """One functional SGD step per call: params and totals in, new ones out, as in JAX.
    in_place: the new values are copied into the old tensors instead, so that a CUDA graph
    replaying the step always reads and writes the same addresses."""

    def __init__(self, fn, params, totals, in_place=False):
        self.fn, self.params, self.totals, self.in_place = fn, params, totals, in_place

    def __call__(self, *batch):
        params, totals = self.fn(self.params, self.totals, *batch)
        if not self.in_place:
            self.params, self.totals = params, totals
            return
        with torch.no_grad():
            for old, new in zip(self.state(), [p[k] for p in params for k in p] + [totals], strict=True):
                old.copy_(new)

    def state(self):
        return [p[k] for p in self.params for k in p] + [self.totals]

    def logits(self, images):
        return batched_predict(self.params, images)


class CudaGraphStep:
    """A train step captured in a CUDA graph and replayed per batch, following PyTorch's
    CUDA-graph notes. The step must update its state() in place. Warm-up runs on a side
    stream (capture needs warmed-up kernels and allocator; a compiled step compiles there),
    then the state is put back, so the captured run starts from the same numbers as an
    uncaptured one. Setting gradients to None inside the capture makes the graph own its
    gradient buffers."""

    def __init__(self, step, idx):
        self.idx = idx.clone()
        state = step.state()
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
            "graph_breaks": sum(counters["graph_break"].values()),
            "cache_hits": hits if cache_on else None}, seen


@dataclass
class Trainer:
    """The PyTorch side of mlpbench.loop.Trainer. `training` is the mode's ModuleStep or
    FunctionalStep: one SGD step per call on one batch's data, (idx,) into the split on the
    device or (x, y) from a loader, adding to its totals (loss sum, correct count) on the
    device. `step` is what each batch calls: `training` itself, or in the CUDA-graph modes
    the graph that epoch 1's first step captures from it."""
    mode: modes.Mode
    training: Any
    data: dict
    batches_for: Callable
    sync: Callable
    cache_on: bool
    compiles_seen: int = 0

    def __post_init__(self):
        self.step = self.training

    def put_batches(self, order):
        return self.batches_for(order)

    def train_epoch(self, batches, epoch):
        self.training.totals.zero_()
        first_step, t0 = None, time.perf_counter()
        for s, batch in enumerate(batches):
            if s == 0 and epoch == 1 and self.mode.gpu_only:
                self.step = CudaGraphStep(self.training, *batch)
            self.step(*batch)
            if s == 0 and epoch == 1:
                self.sync()
                first_step = time.perf_counter() - t0
        self.sync()
        figures = {}
        if self.mode.compiled:
            figures, self.compiles_seen = compile_figures(self.compiles_seen, epoch, self.cache_on)
        totals = self.training.totals
        return EpochResult(totals[0], totals[1], first_step, **figures)

    def evaluate_split(self, split):
        return evaluate(self.training.logits, *self.data[split])

    def device_peak_bytes(self):
        device = self.training.totals.device
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
        cli.fail(f"--mode {args.mode} needs a CUDA GPU; use --mode eager, compile, func or fullgraph here")
    device = torch.device("cuda" if use_cuda else "cpu")
    return device, Device("gpu" if use_cuda else "cpu",
                          torch.cuda.get_device_name(device) if use_cuda else cpu_name())


def probe(device, info, precision):
    n = 8192 if device.type == "cuda" else 2048
    a = torch.randn(n, n, device=device)
    sync = synchronizer(device)
    emit(probe_record("pytorch", info.name, precision, n, median_seconds(lambda: (a @ a, sync()))))


def epoch_batches(args, device, sync):
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


def training_for(mode_name, model, lr, split_on_device, totals):
    """The mode's step with its totals: the module and its optimizer, or the same algorithm on
    params as data, eager or under torch.compile (data gathering, step and totals compiled as one),
    over the split on the device or a loader's batches."""
    mode, data_of = modes.mode(mode_name), batch_data(split_on_device)
    if mode.paradigm == modes.OBJECT_ORIENTED:
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)

        def step(*batch):
            x, y = data_of(*batch)
            batch_loss, output = train_step(model, optimizer, x, y)
            totals.add_(batch_totals(batch_loss, output, y))
        return ModuleStep(model, torch.compile(step) if mode.compiled else step, totals)

    def func_step(params, totals, *batch):
        x, y = data_of(*batch)
        params, batch_loss, logits = sgd_step(params, x, y, lr)
        return params, totals + batch_totals(batch_loss, logits, y)
    # fullgraph=True: gathering, forward, backward, update and totals are one graph, or compiling fails.
    fn = torch.compile(func_step, fullgraph=True) if mode.compiled else func_step
    return FunctionalStep(fn, functional_params(model), totals, in_place=mode.gpu_only)


def main(argv=None):
    args = cli.parse_trainer_args(cli.trainer_parser("PyTorch"), argv)
    if args.threads:
        restrict_cpus(args.threads)  # as the JAX trainer does, so both run on the same cores
        torch.set_num_threads(args.threads)
    set_precision(args.precision)
    device, info = select_device(args)
    if args.probe:
        return probe(device, info, args.precision)
    if device.type == "cuda":
        cli.check_gpu_memory(args, torch.cuda.mem_get_info(device)[0], info.name)
    use_compile_cache(args.compile_cache)
    split = cli.load_split(args)
    torch.manual_seed(args.seed)
    model = MLP(layer_sizes(args.hidden)).to(device)
    if args.init == "shared":
        load_shared(model, shared_init(args.seed, layer_sizes(args.hidden)))
    sync = synchronizer(device)

    # The whole split goes to the device once, scaled there, before any clock starts.
    def put(images, labels):
        images = torch.from_numpy(images).to(device).float().div_(255.0)
        return images, torch.from_numpy(labels).to(device)
    data = {"val": put(split.val_images, split.val_labels), "test": put(split.test_images, split.test_labels)}
    if args.input == "device":
        data["train"] = put(split.train_images, split.train_labels)
    totals = torch.zeros(2, device=device)  # loss sum, correct count (exact below 2**24)
    training = training_for(args.mode, model, args.lr, data.get("train", ()), totals)
    sync()  # uploads and scaling are asynchronous on a GPU: finish them before any clock
    trainer = Trainer(modes.mode(args.mode), training, data, epoch_batches(args, device, sync), sync,
                      cache_on=bool(args.compile_cache))
    run_epochs(trainer, start_record(args, "pytorch", torch.__version__, info, len(split.train_labels),
                                     threads=torch.get_num_threads(), kernels=kernels(),
                                     cuda=torch.version.cuda if device.type == "cuda" else None))


def kernels():
    """The BLAS and kernel libraries this PyTorch was built with, as torch.__config__ says."""
    import re
    build, parallel = torch.__config__.show(), torch.__config__.parallel_info()
    found = [f"BLAS {m.group(1)}" for m in [re.search(r"BLAS_INFO=(\w+)", build)] if m]
    found += [m.group(0) for m in [re.search(r"Math Kernel Library Version [\w.]+", parallel),
                                   re.search(r"MKL-DNN v[\d.]+", build)] if m]
    return ", ".join(found) or None


if __name__ == "__main__":
    sys.exit(main())
