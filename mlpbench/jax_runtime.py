"""JAX's plumbing, imported by the JAX trainer (assignment_1JAX.py) alone: the device and its
precision, the persistent compile cache, JAX's compile events, the ahead-of-time build of a jitted
function, the splits and each epoch's batches put on the device before any clock, the matmul
probe, and what XLA says of itself for the start record. None of it is the model or its
training; the trainer keeps those (docs/design.md, "Trainers")."""
import functools
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from mlpbench import cli
from mlpbench.loop import Device
from mlpbench.machine import cpu_name, median_seconds, per_call_seconds, probe_record
from mlpbench.records import emit

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"  # an XLA build, or a load from the cache
CACHE_HIT_EVENT = "/jax/compilation_cache/cache_hits"


def set_precision(precision):
    """Strict fp32 matmuls, or TF32 where the GPU has it: JAX would take TF32 on a GPU unasked."""
    jax.config.update("jax_default_matmul_precision",
                      "highest" if precision == "highest" else "tensorfloat32")


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


def check_memory(args, device, info):
    """Refuse, in one line, a model and batch that the GPU's free memory cannot hold."""
    stats = device.memory_stats() if info.kind == "gpu" else None
    if stats and "bytes_limit" in stats:  # what XLA's allocator may take, less what it holds
        cli.check_gpu_memory(args, stats["bytes_limit"] - stats.get("bytes_in_use", 0), info.name)


def use_compile_cache(directory):
    """JAX's persistent compilation cache in DIR/jax, for every program however small."""
    jax.config.update("jax_compilation_cache_dir", os.path.join(os.path.abspath(directory), "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def count_events():
    """Running counts of JAX's compile and cache-hit monitoring events."""
    counts = {COMPILE_EVENT: 0, CACHE_HIT_EVENT: 0}

    def on_event(event, *_, **__):
        if event in counts:
            counts[event] += 1
    jax.monitoring.register_event_duration_secs_listener(on_event)
    jax.monitoring.register_event_listener(on_event)
    return counts


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


def put_splits(split, device, train):
    """The val and test splits (and with `train` the training split) on the device, scaled there
    to float32 in [0, 1], labels int32. Dispatch is asynchronous: the caller waits for them."""
    def put(images, labels):
        images = jax.device_put(images, device).astype(jnp.float32) / 255.0
        return images, jax.device_put(labels.astype(np.int32), device)
    data = {"val": put(split.val_images, split.val_labels), "test": put(split.test_images, split.test_labels)}
    if train:
        data["train"] = put(split.train_images, split.train_labels)
    return data


def epoch_batches(args, data, device):
    """How an epoch's batch order becomes the steps' data, before the clock starts: per step
    (images, labels, idx), the split on the device and the step's rows of it, or a loader's
    (x, y, None); with scan, the epoch's (images, labels, order)."""
    if args.input == "loader":
        from mlpbench.loader import make_loader  # torch and torchvision only where the loader is asked for
        loader, sampler = make_loader(args.data_dir, args.workers, pin_memory=False)

        def from_loader(order):
            sampler.order = order
            # Each batch goes to the device inside the step loop, as JAX's DataLoader tutorial does.
            return ((jax.device_put(x.numpy(), device), jax.device_put(y.numpy().astype(np.int32), device),
                     None) for x, y in loader)
        return from_loader
    if args.mode == "scan":
        return lambda order: jax.block_until_ready((*data["train"], jax.device_put(order, device)))

    def index_rows(order):
        # One device array per step, uploaded before the clock: no slicing dispatch per step.
        rows = jax.block_until_ready([jax.device_put(row, device) for row in order])
        return [(*data["train"], idx) for idx in rows]
    return index_rows


def probe(info, precision):
    n = 8192 if info.kind == "gpu" else 2048
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    matmul = jax.jit(jnp.dot)
    emit(probe_record("jax", info.name, precision, n,
                      median_seconds(lambda: matmul(a, a).block_until_ready())))


def operands(product, key):
    """The product's two operands as the step holds them: one stored the other way round where
    the step reads it transposed."""
    return tuple(jax.random.normal(k, shape, jnp.float32)
                 for k, shape in zip(jax.random.split(key), product.stored_shapes, strict=True))


def multiply(transposed, a, b):
    return (a.T if transposed == "a" else a) @ (b.T if transposed == "b" else b)


def probe_products(args, info):
    """The step's matrix products (model.step_products), each jitted alone and timed as the median
    per call of batches of calls; a 1 x 1 x 1 product timed the same way is the dispatch floor,
    kept out of each. All of them in one jitted program, one dispatch, is recorded beside."""
    from mlpbench.machine import products_record
    from mlpbench.model import Product, layer_sizes, step_products
    floor = time_alone(Product("floor", 1, 1, 1, None), jax.random.key(1))
    for batch in args.probe_batches or [args.batch_size]:
        products = step_products(layer_sizes(args.hidden), batch, "in-out")
        keys = jax.random.split(jax.random.key(0), len(products))
        timed = [(p, time_alone(p, k)) for p, k in zip(products, keys, strict=True)]
        emit(products_record("jax", info.name, args, batch, (timed, floor, time_together(products, keys))))


def time_alone(product, key):
    """Seconds a call of the product, jitted alone on its operands."""
    a, b = operands(product, key)
    f = jax.jit(functools.partial(multiply, product.transposed))
    return per_call_seconds(lambda: f(a, b), jax.block_until_ready)


def time_together(products, keys):
    """Seconds a call of all the products in one jitted program: one dispatch."""
    pairs = [operands(p, k) for p, k in zip(products, keys, strict=True)]
    together = jax.jit(lambda pairs: [multiply(p.transposed, a, b)
                                      for p, (a, b) in zip(products, pairs, strict=True)])
    return per_call_seconds(lambda: together(pairs), jax.block_until_ready)


def gemm_path(batch_size, sizes):
    """Which library XLA hands the step's first matrix product to, read from the optimized HLO of
    that product: a YNNPACK or XNNPACK fusion, oneDNN, a cuBLAS call, or XLA's own dot."""
    a = jnp.zeros((batch_size, sizes[0]), jnp.float32)
    b = jnp.zeros((sizes[0], sizes[1]), jnp.float32)
    text = jax.jit(jnp.dot).lower(a, b).compile().as_text()
    for marker, name in (("ynn_fusion", "YNNPACK fusion"), ("xnn_fusion", "XNNPACK fusion"),
                         ("onednn", "oneDNN"), ("cublas", "cuBLAS"), ("triton_gemm", "Triton GEMM")):
        if marker in text.lower():
            return f"XLA dot via {name}"
    return "XLA's own dot (Eigen)" if " dot(" in text else "unrecognised"


def kernels(device):
    """What XLA reports of itself: its backend and runtime, and the jaxlib that carries it (XLA
    names no BLAS: on a CPU it compiles its own matmul kernels)."""
    import jaxlib
    return (f"XLA:{device.platform.upper()} ({device.client.platform_version}, "
            f"{getattr(device.client, 'runtime_type', 'pjrt')}), jaxlib {jaxlib.__version__}")
