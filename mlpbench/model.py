"""The model both trainers build, in numbers: its layer sizes, the FLOPs of one training
sample, and the initial parameters they share under --init shared (numpy only)."""
import numpy as np

HIDDEN = (512, 512)  # the default model's hidden widths: 784-512-512-10
LAYER_SIZES = (784, *HIDDEN, 10)


def layer_sizes(hidden=HIDDEN):
    """The MLP's layer sizes for these hidden widths: MNIST's 784 pixels in, 10 classes out."""
    return (784, *hidden, 10)


def flops_per_sample(sizes=LAYER_SIZES):
    """Multiply-adds x2 of one training sample: forward, weight gradients, and input
    gradients for every layer but the first (the image needs no gradient): 3.21 MFLOP."""
    macs = [m * n for m, n in zip(sizes[:-1], sizes[1:], strict=True)]
    return 2 * (2 * sum(macs) + sum(macs[1:]))


def bytes_needed(sizes, batch, train_samples):
    """A floor on the memory one training run takes: the float32 parameters, their gradients and
    the update's new values; under --init shared numpy's float64 draw of the largest layer; the
    float32 images of the three splits (val and test are 10,000 each); one batch's activations
    and their gradients. Checked before allocating, so that a width the machine cannot hold is
    refused in one line, not by numpy's or the allocator's traceback."""
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    params = sum(m * n + n for m, n in pairs)
    return 4 * 3 * params + 8 * max(m * n for m, n in pairs) + 4 * 784 * (train_samples + 20_000) \
        + 4 * 2 * batch * sum(sizes)


def shared_init(seed, sizes=LAYER_SIZES):
    """[{"w": (in, out), "b": (out,)}] float32 from U(+-1/sqrt(fan_in)), nn.Linear's law."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, size=(fan_in, fan_out)).astype(np.float32)
        b = rng.uniform(-bound, bound, size=(fan_out,)).astype(np.float32)
        params.append({"w": w, "b": b})
    return params
