"""The model both trainers build, in numbers: its layer sizes, the FLOPs of one training
sample, the matrix products of one step, and the initial parameters they share under --init
shared (numpy only)."""
from typing import NamedTuple

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


class Product(NamedTuple):
    """One matrix product of a training step: (m, k) @ (k, n), with the operand that the step
    stores the other way round read transposed ("a", "b" or None)."""
    name: str
    m: int
    k: int
    n: int
    transposed: str | None

    @property
    def flops(self):
        return 2 * self.m * self.k * self.n

    @property
    def stored_shapes(self):
        """The two operands' shapes as the step holds them, the transposed one the other way round."""
        return ((self.k, self.m) if self.transposed == "a" else (self.m, self.k),
                (self.n, self.k) if self.transposed == "b" else (self.k, self.n))


def step_products(sizes, batch, layout="in-out"):
    """The matrix products one SGD step makes, at its shapes: per layer, the forward product, the
    weight gradient, and (every layer but the first) the input gradient; 3 + 3 + 2 for the default
    model. layout "in-out" holds each weight as (in, out), as the JAX trainer and PyTorch's
    functional modes do; "out-in" as nn.Linear does (PyTorch's module modes), which turns each
    product around without changing its FLOPs."""
    out = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        if layout == "in-out":
            out += [Product(f"forward {i}", batch, n_in, n_out, None),  # x @ w
                    Product(f"weight gradient {i}", n_in, batch, n_out, "a")]  # x.T @ dy
            if i > 1:
                out.append(Product(f"input gradient {i}", batch, n_out, n_in, "b"))  # dy @ w.T
        else:
            out += [Product(f"forward {i}", batch, n_in, n_out, "b"),  # x @ weight.T
                    Product(f"weight gradient {i}", n_out, batch, n_in, "a")]  # dy.T @ x
            if i > 1:
                out.append(Product(f"input gradient {i}", batch, n_out, n_in, None))  # dy @ weight
    return out


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
