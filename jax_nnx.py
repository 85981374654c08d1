"""The MLP of assignment_1JAX.py as an object: a Flax NNX module of nnx.Linear layers, trained by
SGD through nnx.Optimizer, its step under nnx.jit as Flax's MNIST example writes it (mode `nnx`).
And its fast path (mode `nnx-split`): the functional training loop of Flax's "Performance
considerations" guide, the module and optimizer split once into a graph definition and a state,
the step a plain jax.jit over the state, so nnx.jit's walk of the object graph in Python leaves
the step.

The JAX trainer imports this module only for these two modes: a JAX without flax runs the others.
Below the model, its loss, its SGD step and evaluate, the harness the trainer calls.
"""
import flax
import jax
import jax.numpy as jnp
import optax
from flax import nnx

FLAX_VERSION = flax.__version__  # for the start record


class MLP(nnx.Module):
    """784-512-512-10 (or `sizes`): nnx.Linear layers with ReLU between them."""

    def __init__(self, sizes, rngs):
        self.layers = nnx.List([nnx.Linear(fan_in, fan_out, rngs=rngs)
                                for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True)])

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = nnx.relu(layer(x))
        return self.layers[-1](x)


def loss_fn(model, images, labels):
    """Mean softmax cross-entropy, with the logits as auxiliary output for accuracy."""
    logits = model(images)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean(), logits


def train_step(model, optimizer, images, labels):
    """One SGD step, in place on the model: the batch's mean loss and its logits."""
    (loss, logits), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model, images, labels)
    optimizer.update(model, grads)
    return loss, logits


@nnx.jit
def evaluate(model, images, labels):
    """Mean loss and the count of correct predictions."""
    loss, logits = loss_fn(model, images, labels)
    return loss, jnp.sum(jnp.argmax(logits, axis=-1) == labels)


# --- the harness: the trainer's program and params for each NNX mode ---

def counted_step(model, optimizer, totals, images, labels):
    """train_step, adding to the epoch's running (loss sum, correct count) on the device."""
    loss, logits = train_step(model, optimizer, images, labels)
    return totals[0] + loss, totals[1] + jnp.sum(jnp.argmax(logits, axis=-1) == labels)


@nnx.jit
def indexed_step(model, optimizer, totals, images, labels, idx):
    """counted_step on the batch images[idx], gathered on the device."""
    return counted_step(model, optimizer, totals, images[idx], labels[idx])


batch_step = nnx.jit(counted_step)


def build_model(params, lr, device):
    """The module holding `params` (the JAX trainer's list of {"w", "b"}, shared or native:
    nnx.Linear's kernel is (fan_in, fan_out) as "w" is), and its SGD optimizer, on `device`."""
    sizes = [params[0]["w"].shape[0], *(p["w"].shape[1] for p in params)]
    model = MLP(sizes, nnx.Rngs(0))
    for layer, p in zip(model.layers, params, strict=True):
        layer.kernel[...] = p["w"]
        layer.bias[...] = p["b"]
    optimizer = nnx.Optimizer(model, optax.sgd(lr), wrt=nnx.Param)
    # The optimizer's step count is created uncommitted to a device; the first step's output is
    # committed, and nnx.jit built the whole step a second time for it. Committed from the start,
    # it is built once.
    nnx.update((model, optimizer), jax.device_put(nnx.state((model, optimizer)), device))
    return model, optimizer


def program(mode, params, lr, device, loader):
    """(trainer params, step program, evaluate) of an NNX mode. The program has the signature of
    the JAX trainer's train_step, (params, totals, images, labels, idx, lr) -> (params, totals),
    idx None for a loader's batch; `lr` lives in the optimizer. `nnx`: the objects themselves,
    mutated in place by nnx.jit. `nnx-split`: their state, threaded through a plain jax.jit
    (donated: updated in place) and merged back into the objects only to evaluate."""
    model, optimizer = build_model(params, lr, device)
    if mode == "nnx":
        step = batch_step if loader else indexed_step

        def run(objects, totals, images, labels, idx, lr):
            batch = (images, labels) if loader else (images, labels, idx)
            return objects, step(*objects, totals, *batch)
        return (model, optimizer), run, lambda objects, images, labels: evaluate(objects[0], images, labels)
    graphdef, state = nnx.split((model, optimizer))

    def split_step(state, totals, images, labels, idx, lr):
        model, optimizer = nnx.merge(graphdef, state)
        totals = counted_step(model, optimizer, totals, images[idx], labels[idx])
        return nnx.state((model, optimizer)), totals

    def evaluate_state(state, images, labels):
        return evaluate(nnx.merge(graphdef, state)[0], images, labels)
    return state, jax.jit(split_step, donate_argnums=(0, 1)), evaluate_state
