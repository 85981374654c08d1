"""Train a 784-512-512-10 MLP on MNIST with jax.numpy and jax.random only.

In the style of JAX's examples/mnist_classifier_fromscratch.py: params are a list
of dicts, the forward pass is written for one image and batched with jax.vmap.
"""
import functools
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import bench_common as bc
import mnist_data

MODES = bc.MODES["jax"]
COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"  # an XLA build, or a load from the cache
CACHE_HIT_EVENT = "/jax/compilation_cache/cache_hits"


def init_params(key, sizes=mnist_data.LAYER_SIZES):
    """U(+-1/sqrt(fan_in)) for weights and biases, nn.Linear's law, one fresh key each."""
    params = []
    for key, (fan_in, fan_out) in zip(jax.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:])):
        w_key, b_key = jax.random.split(key)
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


def sgd_step(params, totals, x, y, lr):
    """One SGD step on the batch (x, y); totals carry (loss sum, correct count)."""
    (batch_loss, logits), grads = jax.value_and_grad(loss, has_aux=True)(params, x, y)
    params = jax.tree.map(lambda p, g: p - lr * g, params, grads)
    correct = jnp.sum(jnp.argmax(logits, axis=-1) == y)
    return params, (totals[0] + batch_loss, totals[1] + correct)


def train_step(params, totals, images, labels, idx, lr):
    """One SGD step on the batch images[idx], gathered on the device."""
    return sgd_step(params, totals, images[idx], labels[idx], lr)


# Donating params and totals lets XLA update them in place instead of allocating new buffers.
update = jax.jit(train_step, donate_argnums=(0, 1))
update_batch = jax.jit(sgd_step, donate_argnums=(0, 1))


@functools.partial(jax.jit, donate_argnums=(0,))
def train_epoch_scan(params, images, labels, batches, lr):
    """A whole epoch in one compiled call: the batches looped on the device by lax.scan."""
    def body(carry, idx):
        return train_step(*carry, images, labels, idx, lr), None
    (params, totals), _ = jax.lax.scan(body, (params, zero_totals()), batches)
    return params, totals


def zero_totals():
    return jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32)


@jax.jit
def evaluate(params, images, labels):
    """Mean loss and the count of correct predictions (exact, unlike a float32 mean)."""
    mean_loss, logits = loss(params, images, labels)
    return mean_loss, jnp.sum(jnp.argmax(logits, axis=-1) == labels)


def aot_compile(jitted, *args):
    """Trace, lower and compile one jitted function, each stage timed: JAX's
    ahead-of-time API, so the first call's cost is split into what it is made of."""
    t0 = time.perf_counter()
    traced = jitted.trace(*args)
    t1 = time.perf_counter()
    lowered = traced.lower()
    t2 = time.perf_counter()
    compiled = lowered.compile()
    return compiled, {"jit_trace_s": t1 - t0, "jit_lower_s": t2 - t1, "jit_compile_s": time.perf_counter() - t2}


def count_events():
    """Running counts of JAX's compile and cache-hit monitoring events."""
    counts = {COMPILE_EVENT: 0, CACHE_HIT_EVENT: 0}

    def on_event(event, *_, **__):
        if event in counts:
            counts[event] += 1
    jax.monitoring.register_event_duration_secs_listener(on_event)
    jax.monitoring.register_event_listener(on_event)
    return counts


def train_epoch(state, batches, epoch, jitted, scan, lr, events, cache_on, device):
    """One epoch. state = (params, step): step is the compiled program, or None until the
    first call compiles `jitted` (op by op, step is the plain function and jitted None).
    Each item of batches is the step's data: (images, labels, idx) on the device, or (x, y);
    with scan, batches is the epoch's (images, labels, order)."""
    params, step = state
    before, extras, planned = dict(events), {}, int(step is None)
    if not scan:
        # Zeros from numpy: jnp.zeros would compile a tiny program inside the clock.
        totals = jax.device_put((np.float32(0), np.int32(0)), device)
    t0 = time.perf_counter()
    if scan:
        if step is None:
            # The epoch is one call, so its "first step" is tracing and compiling it.
            step, extras = aot_compile(jitted, params, *batches, lr)
            extras["first_step_s"] = time.perf_counter() - t0
        params, totals = jax.block_until_ready(step(params, *batches, lr))
    else:
        for s, data in enumerate(batches):
            if step is None:
                step, extras = aot_compile(jitted, params, totals, *data, lr)
            params, totals = step(params, totals, *data, lr)
            if s == 0 and epoch == 1:
                jax.block_until_ready((params, totals))
                extras["first_step_s"] = time.perf_counter() - t0
        params = jax.block_until_ready(params)
    compiles = events[COMPILE_EVENT] - before[COMPILE_EVENT]
    # Op by op, epoch 1 builds each primitive once: that is its warm-up, not a recompile.
    extras["recompiles"] = None if jitted is None and epoch == 1 else compiles - planned
    if epoch == 1:
        extras["cache_hits"] = events[CACHE_HIT_EVENT] - before[CACHE_HIT_EVENT] if cache_on else None
    return (params, step), totals[0], totals[1], extras


def select_device(args):
    if args.device == "cpu":
        jax.config.update("jax_platforms", "cpu")
    elif args.device == "gpu":
        try:
            jax.config.update("jax_default_device", jax.devices("gpu")[0])
        except RuntimeError:
            bc.fail("--device gpu: JAX sees no GPU (install a CUDA jaxlib, e.g. pip install -U 'jax[cuda13]')")
    device = jax.devices()[0] if args.device != "gpu" else jax.devices("gpu")[0]
    on_gpu = device.platform == "gpu"
    return device, "gpu" if on_gpu else "cpu", device.device_kind if on_gpu else bc.cpu_name()


def use_compile_cache(directory):
    """JAX's persistent compilation cache in DIR/jax, for every program however small."""
    jax.config.update("jax_compilation_cache_dir", os.path.join(os.path.abspath(directory), "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def device_peak(device):
    """The allocator's peak on a GPU; the CPU backend keeps no statistics (None)."""
    stats = device.memory_stats()
    return stats.get("peak_bytes_in_use") if stats else None


def probe(device_name, precision, on_gpu):
    n = 8192 if on_gpu else 2048
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    matmul = jax.jit(jnp.dot)
    matmul(a, a).block_until_ready()  # warm-up: compile and first launch are not timed
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        matmul(a, a).block_until_ready()
        times.append(time.perf_counter() - t0)
    bc.emit(bc.probe_record("jax", device_name, precision, n, statistics.median(times)))


def main(argv=None):
    args = bc.parse_trainer_args(bc.trainer_parser("JAX"), argv)
    jax.config.update("jax_default_matmul_precision",
                      "highest" if args.precision == "highest" else "tensorfloat32")
    device, device_kind, device_name = select_device(args)
    if args.probe:
        return probe(device_name, args.precision, device_kind == "gpu")
    if args.compile_cache:
        use_compile_cache(args.compile_cache)
    split = bc.load_split(args)
    events = count_events()

    # The whole split goes to the device once, scaled there, before any clock starts.
    def put(images, labels):
        images = jax.device_put(images, device).astype(jnp.float32) / 255.0
        return images, jax.device_put(labels.astype(np.int32), device)
    data = {"val": put(split.val_images, split.val_labels), "test": put(split.test_images, split.test_labels)}
    if args.input == "device":
        data["train"] = put(split.train_images, split.train_labels)
    if args.init == "shared":
        params = jax.device_put(mnist_data.shared_init(args.seed), device)
    else:
        params = jax.device_put(init_params(jax.random.key(args.seed)), device)
    # Dispatch is asynchronous: wait for the uploads and scaling so no clock pays for them.
    data, params = jax.block_until_ready((data, params))
    lr = jax.device_put(np.float32(args.lr), device)

    if args.input == "loader":
        import input_pipeline  # torch and torchvision only where the loader is asked for
        loader, sampler = input_pipeline.make_loader(args.data_dir, args.workers, pin_memory=False)

        def put_batches(order):
            sampler.order = order
            # Each batch goes to the device inside the step loop, as JAX's DataLoader tutorial does.
            return ((jax.device_put(x.numpy(), device), jax.device_put(y.numpy().astype(np.int32), device))
                    for x, y in loader)
    elif args.mode == "scan":
        def put_batches(order):
            return jax.block_until_ready((*data["train"], jax.device_put(order, device)))
    else:
        def put_batches(order):
            # One device array per step, uploaded before the clock: no slicing dispatch per step.
            rows = jax.block_until_ready([jax.device_put(row, device) for row in order])
            return [(*data["train"], idx) for idx in rows]

    def evaluate_split(state, name):
        mean_loss, correct = evaluate(state[0], *data[name])
        return float(mean_loss), int(correct) / len(data[name][1])

    start = bc.start_record(args, "jax", jax.__version__, device_kind, device_name, len(split.train_labels),
                            jaxlib_backend=device.platform)
    loader_input = args.input == "loader"
    jitted = {"step": update_batch if loader_input else update, "scan": train_epoch_scan, "nojit": None}[args.mode]
    step = (sgd_step if loader_input else train_step) if args.mode == "nojit" else None
    bc.run_epochs(args, start, (params, step),
                  functools.partial(train_epoch, jitted=jitted, scan=args.mode == "scan", lr=lr,
                                    events=events, cache_on=bool(args.compile_cache), device=device),
                  evaluate_split, put_batches, lambda: device_peak(device))


if __name__ == "__main__":
    sys.exit(main())
