"""Train an MLP (784-512-512-10 unless --hidden says otherwise) on MNIST with jax.numpy and
jax.random only.

In the style of JAX's "Training a simple neural network" notebook: small pure functions with the
params as data, init_params, predict (written for one image, batched with jax.vmap), loss and the
SGD update, then evaluate. The params are a list of {"w", "b"} dicts, the layout of the write-up
this project answers (the notebook keeps (w, b) tuples). Below them, the harness that the shared
epoch loop runs (docs/design.md, "Trainers"); JAX's plumbing is in mlpbench/jax_runtime.py.
"""
import functools
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from mlpbench import cli, jax_runtime, modes
from mlpbench.loop import EpochResult, run_epochs, start_record
from mlpbench.machine import restrict_cpus, schedulable_cpus
from mlpbench.model import LAYER_SIZES, layer_sizes, shared_init


def init_params(key, sizes=LAYER_SIZES):
    """U(+-1/sqrt(fan_in)) for weights and biases, nn.Linear's law, one fresh key each."""
    params = []
    layers = zip(sizes[:-1], sizes[1:], strict=True)
    for layer_key, (fan_in, fan_out) in zip(jax.random.split(key, len(sizes) - 1), layers, strict=True):
        w_key, b_key = jax.random.split(layer_key)
        bound = 1.0 / np.sqrt(fan_in)
        params.append({"w": jax.random.uniform(w_key, (fan_in, fan_out), jnp.float32, -bound, bound),
                       "b": jax.random.uniform(b_key, (fan_out,), jnp.float32, -bound, bound)})
    return params


def predict(params, image):
    """Logits of one flattened image."""
    x = image
    for layer in params[:-1]:
        x = jax.nn.relu(jnp.dot(x, layer["w"]) + layer["b"])
    return jnp.dot(x, params[-1]["w"]) + params[-1]["b"]


batched_predict = jax.vmap(predict, in_axes=(None, 0))


def loss(params, images, labels):
    """Mean softmax cross-entropy, with the logits as auxiliary output for accuracy."""
    logits = batched_predict(params, images)
    one_hot = jax.nn.one_hot(labels, logits.shape[-1])
    return -jnp.mean(jnp.sum(jax.nn.log_softmax(logits) * one_hot, axis=-1)), logits


def update(params, x, y, lr):
    """One SGD step on the batch (x, y): the new params, the batch's mean loss and its logits."""
    (batch_loss, logits), grads = jax.value_and_grad(loss, has_aux=True)(params, x, y)
    params = jax.tree.map(lambda p, g: p - lr * g, params, grads)
    return params, batch_loss, logits


@jax.jit
def evaluate(params, images, labels):
    """Mean loss and the count of correct predictions (exact, unlike a float32 mean)."""
    mean_loss, logits = loss(params, images, labels)
    return mean_loss, jnp.sum(jnp.argmax(logits, axis=-1) == labels)


# --- the harness: the modes' programs with their running totals, the epochs, main ---

# lax.scan's unroll where --unroll is not given, per device kind (docs/design.md, "Modes"). On an
# H100 at batch 64 (benchmarks/gpu_check.sh, two runs each): unroll 1, 4, 8, 16 gave 84.1, 47.6,
# 42.4, 41.8 ms per steady epoch, and unroll 8 compiles faster than 16.
DEFAULT_UNROLL = {"cpu": 1, "gpu": 8}


# Donated: XLA updates params and totals in place instead of allocating new buffers every step.
@functools.partial(jax.jit, donate_argnums=(0, 1))
def train_step(params, totals, images, labels, idx, lr):
    """update on one batch, adding to the epoch's running (loss sum, correct count) in the same
    program, so that the totals stay on the device with no sync per step. The batch is
    images[idx], gathered on the device; with idx None, (images, labels) is a loader's batch."""
    x, y = (images, labels) if idx is None else (images[idx], labels[idx])
    params, batch_loss, logits = update(params, x, y, lr)
    return params, (totals[0] + batch_loss, totals[1] + jnp.sum(jnp.argmax(logits, axis=-1) == y))


@functools.partial(jax.jit, donate_argnums=(0,), static_argnames=("unroll",))
def train_epoch_scan(params, images, labels, batches, lr, unroll=1):
    """A whole epoch in one compiled call: the batches looped on the device by lax.scan,
    `unroll` steps in each iteration of the loop XLA builds (fewer iterations, more fusion)."""
    def body(carry, idx):
        # train_step's function without its jit: the body is the step itself, not a call to a nested program.
        return train_step.__wrapped__(*carry, images, labels, idx, lr), None
    (params, totals), _ = jax.lax.scan(body, (params, zero_totals()), batches, unroll=unroll)
    return params, totals


def zero_totals():
    return jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32)


@dataclass
class Trainer:
    """The JAX side of mlpbench.loop.Trainer. `program` is the mode's: jitted, or op by op
    (nojit) the plain function; a step, or with scan the whole epoch. `compiled` is that
    program as epoch 1 builds it ahead of time, inside the clock, and what every later call
    runs. Each item of an epoch's batches is one step's data, (images, labels, idx) or a
    loader's (x, y, None); with scan, the epoch's (images, labels, order)."""
    mode: modes.Mode
    params: Any
    program: Callable
    data: dict
    lr: Any
    device: Any
    put_batches: Callable  # an epoch's order -> its batches, on the device before the clock
    events: dict
    cache_on: bool
    unroll: int | None = None  # scan only
    compiled: Callable | None = None
    evaluator: Callable = evaluate  # (params, images, labels) -> (mean loss, correct count)

    def train_epoch(self, batches, epoch):
        compile_event, hit_event = jax_runtime.COMPILE_EVENT, jax_runtime.CACHE_HIT_EVENT
        before = dict(self.events)
        # nnx.jit offers no program to call ahead of time: NNX builds inside its first call.
        build = epoch == 1 and self.mode.compiled and hasattr(self.program, "trace")
        if self.mode.name == "scan":
            totals, first_step, stages = self.scan_epoch(batches, build)
        else:
            totals, first_step, stages = self.step_epoch(batches, build, first=epoch == 1)
        compiles = self.events[compile_event] - before[compile_event]
        # Op by op, epoch 1 builds each primitive once: that is its warm-up, not a recompile.
        recompiles = (None if not self.mode.compiled and epoch == 1
                      else compiles - int(epoch == 1 and self.mode.compiled))
        hits = self.events[hit_event] - before[hit_event] if self.cache_on and epoch == 1 else None
        return EpochResult(totals[0], totals[1], first_step, **stages, cache_hits=hits, recompiles=recompiles)

    def scan_epoch(self, batches, build):
        """The epoch as one call. Its "first step" is tracing and compiling that call, which
        `build` does ahead of time, inside the clock."""
        stages, first_step, t0 = {}, None, time.perf_counter()
        if build:
            self.compiled, stages = jax_runtime.aot_compile(self.program, self.params, *batches, self.lr,
                                                            unroll=self.unroll)
            first_step = time.perf_counter() - t0
        run = self.compiled or self.program
        self.params, totals = jax.block_until_ready(run(self.params, *batches, self.lr))
        return totals, first_step, stages

    def step_epoch(self, batches, build, first):
        """One call per batch; with `build`, the step is compiled ahead of time on the first
        batch, inside the clock, and the compiled program runs every step."""
        # Zeros from numpy: jnp.zeros would compile a tiny program inside the clock.
        totals = jax.device_put((np.float32(0), np.int32(0)), self.device)
        stages, first_step, t0 = {}, None, time.perf_counter()
        batches = iter(batches)
        batch = next(batches)
        if build:
            self.compiled, stages = jax_runtime.aot_compile(self.program, self.params, totals, *batch,
                                                            self.lr)
        step = self.compiled or self.program
        self.params, totals = step(self.params, totals, *batch, self.lr)
        if first:
            jax.block_until_ready((self.params, totals))
            first_step = time.perf_counter() - t0
        for batch in batches:
            self.params, totals = step(self.params, totals, *batch, self.lr)
        self.params = jax.block_until_ready(self.params)
        return totals, first_step, stages

    def evaluate_split(self, split):
        images, labels = self.data[split]
        mean_loss, correct = self.evaluator(self.params, images, labels)
        return float(mean_loss), int(correct) / len(labels)

    def device_peak_bytes(self):
        """The allocator's peak on a GPU; the CPU backend keeps no statistics (None)."""
        stats = self.device.memory_stats()
        return stats.get("peak_bytes_in_use") if stats else None


def mode_program(args, params, device):
    """(params, program, evaluate, Flax's version) of the mode. Plain JAX: train_step jitted (built
    ahead of time in epoch 1) or, in nojit, its plain function; with scan the epoch."""
    if modes.mode(args.mode).package != "flax":
        programs = {"step": train_step, "scan": train_epoch_scan, "nojit": train_step.__wrapped__}
        return params, programs[args.mode], evaluate, None
    try:  # the object-oriented model, imported only where its modes run: a JAX without Flax runs the rest
        import jax_nnx
    except ImportError as e:
        cli.fail(f"--mode {args.mode} needs Flax, which this Python cannot import ({e}): "
                 "pip install -r requirements.txt")
    params, program, evaluator = jax_nnx.program(args.mode, params, args.lr, device, args.input == "loader")
    return params, program, evaluator, jax_nnx.FLAX_VERSION


def main(argv=None):
    args = cli.parse_trainer_args(cli.trainer_parser("JAX"), argv)
    if args.threads:
        restrict_cpus(args.threads)  # before the backend starts: XLA sizes its pool from the affinity
    jax_runtime.set_precision(args.precision)
    device, info = jax_runtime.select_device(args)
    if args.probe == "products":
        return jax_runtime.probe_products(args, info)
    if args.probe:
        return jax_runtime.probe(info, args.precision)
    jax_runtime.check_memory(args, device, info)
    if args.compile_cache:
        jax_runtime.use_compile_cache(args.compile_cache)
    gemm_path = jax_runtime.gemm_path(args.batch_size, layer_sizes(args.hidden))  # before events count
    split = cli.load_split(args)
    events = jax_runtime.count_events()
    data = jax_runtime.put_splits(split, device, train=args.input == "device")
    sizes = layer_sizes(args.hidden)
    start = (shared_init(args.seed, sizes) if args.init == "shared"
             else init_params(jax.random.key(args.seed), sizes))
    # Dispatch is asynchronous: wait for the uploads and scaling so no clock pays for them.
    data, params = jax.block_until_ready((data, jax.device_put(start, device)))
    unroll = (args.unroll or DEFAULT_UNROLL[info.kind]) if args.mode == "scan" else None
    params, program, evaluator, flax_version = mode_program(args, params, device)
    trainer = Trainer(modes.mode(args.mode), params, program, data,
                      lr=jax.device_put(np.float32(args.lr), device), device=device,
                      put_batches=jax_runtime.epoch_batches(args, data, device), events=events,
                      cache_on=bool(args.compile_cache), unroll=unroll, evaluator=evaluator)
    # threads: XLA's CPU pool, one thread per core this process may run on
    run_epochs(trainer, start_record(args, "jax", jax.__version__, info, len(split.train_labels),
                                     jaxlib_backend=device.platform, unroll=unroll,
                                     threads=schedulable_cpus(), kernels=jax_runtime.kernels(device),
                                     cuda=device.client.platform_version if info.kind == "gpu" else None,
                                     flax_version=flax_version, gemm_path=gemm_path))


if __name__ == "__main__":
    sys.exit(main())
