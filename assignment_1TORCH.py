"""Train an MLP (784-512-512-10 unless --hidden says otherwise) on MNIST with PyTorch: an
nn.Module and its train_step, as in pytorch/examples' mnist/main.py; the same algorithm in
torch.func for the functional modes, function for function with the JAX trainer (params as data);
and evaluate, for both. Below them, the harness that the shared epoch loop runs (docs/design.md,
"Trainers"): the split on the device once, no DataLoader in the timed loop unless --input loader
asks for one. PyTorch's plumbing is in mlpbench/torch_runtime.py.
"""
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from mlpbench import cli, modes, torch_runtime
from mlpbench.loop import EpochResult, run_epochs, start_record
from mlpbench.machine import restrict_cpus
from mlpbench.model import LAYER_SIZES, layer_sizes, shared_init


class MLP(nn.Module):
    def __init__(self, sizes=LAYER_SIZES):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(m, n) for m, n in zip(sizes[:-1], sizes[1:], strict=True))

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x)


def train_step(model, optimizer, x, y):
    """One SGD step on the batch (x, y); the batch's loss and the logits, for the running totals."""
    optimizer.zero_grad(set_to_none=True)
    output = model(x)
    batch_loss = F.cross_entropy(output, y)
    batch_loss.backward()
    optimizer.step()
    return batch_loss.detach(), output.detach()


# --- the same algorithm in torch.func, function for function with the JAX trainer (func, fullgraph) ---

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


def update(params, x, y, lr):
    """One SGD step on the batch (x, y): new params, the loss and the logits; nothing changed in place."""
    grads, (batch_loss, logits) = torch.func.grad_and_value(loss, has_aux=True)(params, x, y)
    params = [{k: p[k] - lr * g[k] for k in p} for p, g in zip(params, grads, strict=True)]
    return params, batch_loss.detach(), logits.detach()


@torch.no_grad()
def evaluate(model, images, labels):
    """Mean loss and accuracy, from an exact count of correct predictions. `model` is the
    nn.Module, or the functional params' forward pass. (The MLP has no dropout or batch norm,
    so model.eval() would change nothing.)"""
    output = model(images)
    mean_loss = F.cross_entropy(output, labels)
    return mean_loss.item(), (output.argmax(dim=1) == labels).sum().item() / len(labels)


# --- the harness: each mode's step with its running totals, the epochs, main ---

def functional_params(model):
    """The module's parameters as data, in the JAX trainer's layout: [{"w": (in, out), "b"}]."""
    return [{"w": layer.weight.detach().T.contiguous(), "b": layer.bias.detach().clone()}
            for layer in model.layers]


def load_shared(model, params):
    """Copy the data layer's numpy parameters in; nn.Linear keeps weights as (out, in)."""
    with torch.no_grad():
        for layer, p in zip(model.layers, params, strict=True):
            layer.weight.copy_(torch.from_numpy(p["w"]).T)
            layer.bias.copy_(torch.from_numpy(p["b"]))


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
        params, batch_loss, logits = update(params, x, y, lr)
        return params, totals + batch_totals(batch_loss, logits, y)
    # fullgraph=True: gathering, forward, backward, update and totals are one graph, or compiling fails.
    fn = torch.compile(func_step, fullgraph=True) if mode.compiled else func_step
    return FunctionalStep(fn, functional_params(model), totals, in_place=mode.gpu_only)


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
    put_batches: Callable  # an epoch's order -> its batches, on the device before the clock
    sync: Callable
    cache_on: bool
    compiles_seen: int = 0

    def __post_init__(self):
        self.step = self.training

    def train_epoch(self, batches, epoch):
        self.training.totals.zero_()
        first_step, t0 = None, time.perf_counter()
        for s, batch in enumerate(batches):
            if s == 0 and epoch == 1 and self.mode.gpu_only:
                self.step = torch_runtime.CudaGraphStep(self.training, *batch)
            self.step(*batch)
            if s == 0 and epoch == 1:
                self.sync()
                first_step = time.perf_counter() - t0
        self.sync()
        figures = {}
        if self.mode.compiled:
            figures, self.compiles_seen = torch_runtime.compile_figures(self.compiles_seen, epoch,
                                                                        self.cache_on)
        totals = self.training.totals
        return EpochResult(totals[0], totals[1], first_step, **figures)

    def evaluate_split(self, split):
        return evaluate(self.training.logits, *self.data[split])

    def device_peak_bytes(self):
        device = self.training.totals.device
        return torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None


def main(argv=None):
    args = cli.parse_trainer_args(cli.trainer_parser("PyTorch"), argv)
    if args.threads:
        restrict_cpus(args.threads)  # as the JAX trainer does, so both run on the same cores
        torch.set_num_threads(args.threads)
    torch_runtime.set_precision(args.precision)
    device, info = torch_runtime.select_device(args)
    if args.probe == "products":
        return torch_runtime.probe_products(args, device, info)
    if args.probe:
        return torch_runtime.probe(device, info, args.precision)
    torch_runtime.check_memory(args, device, info)
    torch_runtime.use_compile_cache(args.compile_cache)
    split = cli.load_split(args)
    torch.manual_seed(args.seed)
    model = MLP(layer_sizes(args.hidden)).to(device)
    if args.init == "shared":
        load_shared(model, shared_init(args.seed, layer_sizes(args.hidden)))
    sync = torch_runtime.synchronizer(device)
    data = torch_runtime.put_splits(split, device, train=args.input == "device")
    totals = torch.zeros(2, device=device)  # loss sum, correct count (exact below 2**24)
    training = training_for(args.mode, model, args.lr, data.get("train", ()), totals)
    sync()  # uploads and scaling are asynchronous on a GPU: finish them before any clock
    trainer = Trainer(modes.mode(args.mode), training, data, torch_runtime.epoch_batches(args, device, sync),
                      sync, cache_on=bool(args.compile_cache))
    run_epochs(trainer, start_record(args, "pytorch", torch.__version__, info, len(split.train_labels),
                                     threads=torch.get_num_threads(), kernels=torch_runtime.kernels(),
                                     cuda=torch.version.cuda if device.type == "cuda" else None,
                                     gemm_path=torch_runtime.gemm_path(device)))


if __name__ == "__main__":
    sys.exit(main())
