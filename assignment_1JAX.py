"""Train a 784-512-512-10 MLP on MNIST with jax.numpy and jax.random only.

In the style of JAX's examples/mnist_classifier_fromscratch.py: params are a list
of dicts, the forward pass is written for one image and batched with jax.vmap.
"""
import functools
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import bench_common as bc
import mnist_data

MODES = ("step", "scan")


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


def train_step(params, totals, images, labels, idx, lr):
    """One SGD step on the batch images[idx]; totals carry (loss sum, correct count)."""
    x, y = images[idx], labels[idx]
    (batch_loss, logits), grads = jax.value_and_grad(loss, has_aux=True)(params, x, y)
    params = jax.tree.map(lambda p, g: p - lr * g, params, grads)
    correct = jnp.sum(jnp.argmax(logits, axis=-1) == y)
    return params, (totals[0] + batch_loss, totals[1] + correct)


# Donating params and totals lets XLA update them in place instead of allocating new buffers.
update = jax.jit(train_step, donate_argnums=(0, 1))


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
    mean_loss, logits = loss(params, images, labels)
    return mean_loss, jnp.mean(jnp.argmax(logits, axis=-1) == labels)


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
    args = bc.parse_trainer_args(bc.trainer_parser("JAX", MODES), argv)
    jax.config.update("jax_default_matmul_precision",
                      "highest" if args.precision == "highest" else "tensorfloat32")
    device, device_kind, device_name = select_device(args)
    if args.probe:
        return probe(device_name, args.precision, device_kind == "gpu")
    split = bc.load_split(args)

    # The whole split goes to the device once, scaled there, before any clock starts.
    def put(images, labels):
        images = jax.device_put(images, device).astype(jnp.float32) / 255.0
        return images, jax.device_put(labels.astype(np.int32), device)
    data = {"train": put(split.train_images, split.train_labels),
            "val": put(split.val_images, split.val_labels),
            "test": put(split.test_images, split.test_labels)}
    if args.init == "shared":
        params = jax.device_put(mnist_data.shared_init(args.seed), device)
    else:
        params = jax.device_put(init_params(jax.random.key(args.seed)), device)
    # Dispatch is asynchronous: wait for the uploads and scaling so no clock pays for them.
    data, params = jax.block_until_ready((data, params))
    lr = jnp.float32(args.lr)
    images, labels = data["train"]
    state = {"params": params, "epoch_fn": None}

    def train_epoch_step(batches, time_first_step):
        # Committed to the device like the update's outputs: an uncommitted first input
        # would make the second call compile the step again.
        params, totals, first = state["params"], jax.device_put(zero_totals(), device), None
        t0 = time.perf_counter()
        for s, idx in enumerate(batches):
            params, totals = update(params, totals, images, labels, idx, lr)
            if time_first_step and s == 0:
                jax.block_until_ready((params, totals))
                first = time.perf_counter() - t0
        state["params"] = jax.block_until_ready(params)
        return totals[0], totals[1], first

    def train_epoch_scanned(batches, time_first_step):
        first = None
        if state["epoch_fn"] is None:
            # The epoch is one call, so its "first step" is tracing and compiling it,
            # done explicitly inside epoch 1's clock so the user's cost stays counted.
            t0 = time.perf_counter()
            state["epoch_fn"] = train_epoch_scan.lower(state["params"], images, labels, batches, lr).compile()
            first = time.perf_counter() - t0
        params, totals = state["epoch_fn"](state["params"], images, labels, batches, lr)
        state["params"], totals = jax.block_until_ready((params, totals))
        return totals[0], totals[1], first

    def evaluate_split(name):
        mean_loss, acc = evaluate(state["params"], *data[name])
        return float(mean_loss), float(acc)

    n = len(split.train_labels)
    start = {"event": "start", "framework": "jax", "framework_version": jax.__version__,
             "mode": args.mode, "batch_size": args.batch_size, "epochs": args.epochs,
             "lr": args.lr, "seed": args.seed, "init": args.init, "precision": args.precision,
             "device": device_kind, "device_name": device_name, "train_samples": n,
             "steps_per_epoch": n // args.batch_size, "jaxlib_backend": device.platform}
    if args.mode == "step":
        # One device array per step, uploaded before the clock: no slicing dispatch per step.
        bc.run_epochs(args, start, train_epoch_step, evaluate_split,
                      lambda b: jax.block_until_ready([jax.device_put(row, device) for row in b]))
    else:
        bc.run_epochs(args, start, train_epoch_scanned, evaluate_split,
                      lambda b: jax.block_until_ready(jax.device_put(b, device)))


if __name__ == "__main__":
    sys.exit(main())
