"""Train an MLP (784-512-512-10 unless --hidden says otherwise) on MNIST with jax.numpy and
jax.random only.

In the style of JAX's "Training a simple neural network" notebook: the forward pass is written
for one image and batched with jax.vmap(predict, in_axes=(None, 0)), and the update is plain SGD
over the params pytree. The params are a list of {"w", "b"} dicts, the layout of the write-up this
project answers (the notebook keeps (w, b) tuples). Below the model, its SGD step and evaluate,
the harness that the shared epoch loop runs (docs/design.md, "Trainers").
"""
import functools
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from mlpbench import cli, modes
from mlpbench.loop import Device, EpochResult, run_epochs, start_record
from mlpbench.machine import cpu_name, median_seconds, probe_record, restrict_cpus, schedulable_cpus
from mlpbench.model import LAYER_SIZES, layer_sizes, shared_init
from mlpbench.records import emit

# lax.scan's unroll where --unroll is not given, per device kind (docs/design.md, "Modes"). On an
# H100 at batch 64 (benchmarks/gpu_check.sh, two runs each): unroll 1, 4, 8, 16 gave 84.1, 47.6,
# 42.4, 41.8 ms per steady epoch, and unroll 8 compiles faster than 16.
DEFAULT_UNROLL = {"cpu": 1, "gpu": 8}
COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"  # an XLA build, or a load from the cache
CACHE_HIT_EVENT = "/jax/compilation_cache/cache_hits"


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


def sgd_step(params, x, y, lr):
    """One SGD step on the batch (x, y): the new params, the batch's mean loss and its logits."""
    (batch_loss, logits), grads = jax.value_and_grad(loss, has_aux=True)(params, x, y)
    params = jax.tree.map(lambda p, g: p - lr * g, params, grads)
    return params, batch_loss, logits


@jax.jit
def evaluate(params, images, labels):
    """Mean loss and the count of correct predictions (exact, unlike a float32 mean)."""
    mean_loss, logits = loss(params, images, labels)
    return mean_loss, jnp.sum(jnp.argmax(logits, axis=-1) == labels)


# --- the harness: each mode's step with its running totals, compile stages and events, devices
# and records ---

def counted_step(params, totals, x, y, lr):
    """sgd_step, adding to the epoch's running (loss sum, correct count) in the same program:
    the totals stay on the device, with no sync per step."""
    params, batch_loss, logits = sgd_step(params, x, y, lr)
    correct = jnp.sum(jnp.argmax(logits, axis=-1) == y)
    return params, (totals[0] + batch_loss, totals[1] + correct)


def indexed_step(params, totals, images, labels, idx, lr):
    """counted_step on the batch images[idx], gathered on the device."""
    return counted_step(params, totals, images[idx], labels[idx], lr)


# Donating params and totals lets XLA update them in place instead of allocating new buffers.
update = jax.jit(indexed_step, donate_argnums=(0, 1))
update_batch = jax.jit(counted_step, donate_argnums=(0, 1))


@functools.partial(jax.jit, donate_argnums=(0,), static_argnames=("unroll",))
def train_epoch_scan(params, images, labels, batches, lr, unroll=1):
    """A whole epoch in one compiled call: the batches looped on the device by lax.scan,
    `unroll` steps in each iteration of the loop XLA builds (fewer iterations, more fusion)."""
    def body(carry, idx):
        return indexed_step(*carry, images, labels, idx, lr), None
    (params, totals), _ = jax.lax.scan(body, (params, zero_totals()), batches, unroll=unroll)
    return params, totals


def zero_totals():
    return jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32)


def aot_compile(jitted, *args, **static):
    """Trace, lower and compile one jitted function, each stage timed: JAX's
    ahead-of-time API, so the first call's cost is split into what it is made of. The
    compiled program is called without the static arguments it was built for."""
    t0 = time.perf_counter()
    traced = jitted.trace(*args, **static)
    t1 = time.perf_counter()
    lowered = traced.lower()
    t2 = time.perf_counter()
    compiled = lowered.compile()
    return compiled, {"jit_trace_s": t1 - t0, "jit_lower_s": t2 - t1,
                      "jit_compile_s": time.perf_counter() - t2}


def count_events():
    """Running counts of JAX's compile and cache-hit monitoring events."""
    counts = {COMPILE_EVENT: 0, CACHE_HIT_EVENT: 0}

    def on_event(event, *_, **__):
        if event in counts:
            counts[event] += 1
    jax.monitoring.register_event_duration_secs_listener(on_event)
    jax.monitoring.register_event_listener(on_event)
    return counts


@dataclass
class Trainer:
    """The JAX side of mlpbench.loop.Trainer. `update` is the mode's program: jitted, or op by
    op (nojit) the plain function; a step, or with scan the whole epoch. `compiled` is that
    program as epoch 1 builds it ahead of time, inside the clock, and what every later call
    runs. Each item of an epoch's batches is one step's data, (images, labels, idx) with the
    split on the device or (x, y) from a loader; with scan, the epoch's (images, labels, order)."""
    mode: modes.Mode
    params: Any
    update: Callable
    data: dict
    lr: Any
    device: Any
    batches_for: Callable
    events: dict
    cache_on: bool
    unroll: int | None = None  # scan only
    compiled: Callable | None = None
    evaluator: Callable = evaluate  # (params, images, labels) -> (mean loss, correct count)

    @property
    def program(self):
        return self.compiled or self.update

    def put_batches(self, order):
        return self.batches_for(order)

    def train_epoch(self, batches, epoch):
        before = dict(self.events)
        # nnx.jit offers no program to call ahead of time: NNX builds inside its first call.
        build = epoch == 1 and self.mode.compiled and hasattr(self.update, "trace")
        if self.mode.name == "scan":
            totals, first_step, stages = self.scan_epoch(batches, build)
        else:
            totals, first_step, stages = self.step_epoch(batches, build, first=epoch == 1)
        compiles = self.events[COMPILE_EVENT] - before[COMPILE_EVENT]
        # Op by op, epoch 1 builds each primitive once: that is its warm-up, not a recompile.
        recompiles = (None if not self.mode.compiled and epoch == 1
                      else compiles - int(epoch == 1 and self.mode.compiled))
        hits = (self.events[CACHE_HIT_EVENT] - before[CACHE_HIT_EVENT] if self.cache_on and epoch == 1
                else None)
        return EpochResult(totals[0], totals[1], first_step, **stages, cache_hits=hits, recompiles=recompiles)

    def scan_epoch(self, batches, build):
        """The epoch as one call. Its "first step" is tracing and compiling that call, which
        `build` does ahead of time, inside the clock."""
        stages, first_step, t0 = {}, None, time.perf_counter()
        if build:
            self.compiled, stages = aot_compile(self.update, self.params, *batches, self.lr,
                                                unroll=self.unroll)
            first_step = time.perf_counter() - t0
        self.params, totals = jax.block_until_ready(self.program(self.params, *batches, self.lr))
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
            self.compiled, stages = aot_compile(self.update, self.params, totals, *batch, self.lr)
        step = self.program
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


def select_device(args):
    if args.device == "cpu":
        jax.config.update("jax_platforms", "cpu")
    elif args.device == "gpu":
        try:
            jax.config.update("jax_default_device", jax.devices("gpu")[0])
        except RuntimeError:
            cli.fail("--device gpu: JAX sees no GPU (install a CUDA jaxlib, e.g. "
                     "pip install -U 'jax[cuda13]')")
    device = jax.devices()[0] if args.device != "gpu" else jax.devices("gpu")[0]
    on_gpu = device.platform == "gpu"
    return device, Device("gpu" if on_gpu else "cpu", device.device_kind if on_gpu else cpu_name())


def use_compile_cache(directory):
    """JAX's persistent compilation cache in DIR/jax, for every program however small."""
    jax.config.update("jax_compilation_cache_dir", os.path.join(os.path.abspath(directory), "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def probe(info, precision):
    n = 8192 if info.kind == "gpu" else 2048
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    matmul = jax.jit(jnp.dot)
    emit(probe_record("jax", info.name, precision, n,
                      median_seconds(lambda: matmul(a, a).block_until_ready())))


def epoch_batches(args, data, device):
    """How an epoch's batch order becomes the step's data, before the clock starts."""
    if args.input == "loader":
        from mlpbench.loader import make_loader  # torch and torchvision only where the loader is asked for
        loader, sampler = make_loader(args.data_dir, args.workers, pin_memory=False)

        def from_loader(order):
            sampler.order = order
            # Each batch goes to the device inside the step loop, as JAX's DataLoader tutorial does.
            return ((jax.device_put(x.numpy(), device), jax.device_put(y.numpy().astype(np.int32), device))
                    for x, y in loader)
        return from_loader
    if args.mode == "scan":
        return lambda order: jax.block_until_ready((*data["train"], jax.device_put(order, device)))

    def index_rows(order):
        # One device array per step, uploaded before the clock: no slicing dispatch per step.
        rows = jax.block_until_ready([jax.device_put(row, device) for row in order])
        return [(*data["train"], idx) for idx in rows]
    return index_rows


def mode_program(args):
    """The mode's program: jitted (built ahead of time in epoch 1), or plain (nojit); a step, or
    with scan the epoch."""
    loader = args.input == "loader"
    if args.mode == "nojit":
        return counted_step if loader else indexed_step
    return {"step": update_batch if loader else update, "scan": train_epoch_scan}[args.mode]


def main(argv=None):
    args = cli.parse_trainer_args(cli.trainer_parser("JAX"), argv)
    if args.threads:
        restrict_cpus(args.threads)  # before the backend starts: XLA sizes its pool from the affinity
    jax.config.update("jax_default_matmul_precision",
                      "highest" if args.precision == "highest" else "tensorfloat32")
    device, info = select_device(args)
    if args.probe:
        return probe(info, args.precision)
    stats = device.memory_stats() if info.kind == "gpu" else None
    if stats and "bytes_limit" in stats:  # what XLA's allocator may take, less what it holds
        cli.check_gpu_memory(args, stats["bytes_limit"] - stats.get("bytes_in_use", 0), info.name)
    if args.compile_cache:
        use_compile_cache(args.compile_cache)
    split = cli.load_split(args)
    events = count_events()

    # The whole split goes to the device once, scaled there, before any clock starts.
    def put(images, labels):
        images = jax.device_put(images, device).astype(jnp.float32) / 255.0
        return images, jax.device_put(labels.astype(np.int32), device)
    data = {"val": put(split.val_images, split.val_labels), "test": put(split.test_images, split.test_labels)}
    if args.input == "device":
        data["train"] = put(split.train_images, split.train_labels)
    if args.init == "shared":
        params = jax.device_put(shared_init(args.seed, layer_sizes(args.hidden)), device)
    else:
        params = jax.device_put(init_params(jax.random.key(args.seed), layer_sizes(args.hidden)), device)
    # Dispatch is asynchronous: wait for the uploads and scaling so no clock pays for them.
    data, params = jax.block_until_ready((data, params))
    unroll = (args.unroll or DEFAULT_UNROLL[info.kind]) if args.mode == "scan" else None
    mode = modes.mode(args.mode)
    if mode.package == "flax":  # the object-oriented model, imported only where its modes run
        try:
            import jax_nnx
        except ImportError as e:
            cli.fail(f"--mode {args.mode} needs Flax, which this Python cannot import ({e}): "
                     "pip install -r requirements.txt")
        params, program, evaluator = jax_nnx.program(args.mode, params, args.lr, device,
                                                     args.input == "loader")
        flax_version = jax_nnx.FLAX_VERSION
    else:
        program, evaluator, flax_version = mode_program(args), evaluate, None
    trainer = Trainer(mode, params, program, data,
                      lr=jax.device_put(np.float32(args.lr), device), device=device,
                      batches_for=epoch_batches(args, data, device), events=events,
                      cache_on=bool(args.compile_cache), unroll=unroll, evaluator=evaluator)
    # threads: XLA's CPU pool, one thread per core this process may run on
    run_epochs(trainer, start_record(args, "jax", jax.__version__, info, len(split.train_labels),
                                     jaxlib_backend=device.platform, unroll=unroll,
                                     threads=schedulable_cpus(), kernels=kernels(device),
                                     cuda=device.client.platform_version if info.kind == "gpu" else None,
                                     flax_version=flax_version))


def kernels(device):
    """What XLA reports of itself: its backend and runtime, and the jaxlib that carries it (XLA
    names no BLAS: on a CPU it compiles its own matmul kernels)."""
    import jaxlib
    return (f"XLA:{device.platform.upper()} ({device.client.platform_version}, "
            f"{getattr(device.client, 'runtime_type', 'pjrt')}), jaxlib {jaxlib.__version__}")


if __name__ == "__main__":
    sys.exit(main())
