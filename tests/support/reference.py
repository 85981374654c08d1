"""A plain numpy MLP in float64: the hand computation both trainers are checked against."""
from typing import NamedTuple

import numpy as np
import pytest

from mlpbench import data


def forward(params, x):
    """Logits and the hidden activations (needed for the backward pass)."""
    acts = [x]
    for layer in params[:-1]:
        acts.append(np.maximum(acts[-1] @ layer["w"] + layer["b"], 0.0))
    return acts[-1] @ params[-1]["w"] + params[-1]["b"], acts


def log_softmax(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def cross_entropy(logits, labels):
    return -log_softmax(logits)[np.arange(len(labels)), labels].mean()


def sgd_step(params, x, labels, lr):
    """One SGD step by explicit backpropagation of the mean cross-entropy."""
    params = [{k: v.astype(np.float64) for k, v in p.items()} for p in params]
    logits, acts = forward(params, x.astype(np.float64))
    delta = np.exp(log_softmax(logits))
    delta[np.arange(len(labels)), labels] -= 1.0
    delta /= len(labels)
    new = [None] * len(params)
    for i in reversed(range(len(params))):
        grad_w, grad_b = acts[i].T @ delta, delta.sum(axis=0)
        if i > 0:
            delta = (delta @ params[i]["w"].T) * (acts[i] > 0)
        new[i] = {"w": params[i]["w"] - lr * grad_w, "b": params[i]["b"] - lr * grad_b}
    return new



def evaluate(params, images, labels):
    """Mean loss and accuracy of uint8 images, scaled as the trainers scale them."""
    logits, _ = forward(params, images.astype(np.float32) / np.float32(255))
    return cross_entropy(logits, labels), float((logits.argmax(1) == labels).mean())


class Schedule(NamedTuple):
    """A run's settings, as the trainers' flags give them."""
    seed: int  # of the batch order
    epochs: int
    n: int  # training images
    batch: int
    lr: float


def train(split, params, run):
    """What a trainer's records must say for a run, computed independently in float64:
    per epoch the running train loss and accuracy over the steps taken, then val loss and
    accuracy; and the test figures at the end."""
    seed, epochs, n, batch, lr = run
    images = split.train_images[:n].astype(np.float32) / np.float32(255)
    labels = split.train_labels[:n]
    records = []
    for epoch in range(1, epochs + 1):
        order = data.batch_order(seed, epoch, n, batch)
        loss_sum, correct = 0.0, 0
        for idx in order:
            logits, _ = forward(params, images[idx].astype(np.float64))
            loss_sum += cross_entropy(logits, labels[idx])
            correct += int((logits.argmax(1) == labels[idx]).sum())
            params = sgd_step(params, images[idx], labels[idx], lr)
        val_loss, val_acc = evaluate(params, split.val_images, split.val_labels)
        records.append({"train_loss": loss_sum / len(order), "train_acc": correct / order.size,
                        "val_loss": val_loss, "val_acc": val_acc})
    test_loss, test_acc = evaluate(params, split.test_images, split.test_labels)
    return records, {"test_loss": test_loss, "test_acc": test_acc}


def assert_matches(records, expected, end, steps_x_batch):
    """A trainer's epoch and end records against train() above: losses to 1e-5 (fp32
    against float64 over a few hundred steps: measured gaps 1e-7), accuracies to one image."""
    epochs = [r for r in records if r["event"] == "epoch"]
    assert len(epochs) == len(expected)
    for got, want in zip(epochs, expected, strict=True):
        for key in ("train_loss", "val_loss"):
            assert got[key] == pytest.approx(want[key], abs=1e-5), (got["epoch"], key)
        assert abs(got["train_acc"] - want["train_acc"]) <= 1 / steps_x_batch + 1e-12, got["epoch"]
        assert abs(got["val_acc"] - want["val_acc"]) <= 1e-4 + 1e-12, got["epoch"]
    last = records[-1]
    assert last["test_loss"] == pytest.approx(end["test_loss"], abs=1e-5)
    assert abs(last["test_acc"] - end["test_acc"]) <= 1e-4 + 1e-12
