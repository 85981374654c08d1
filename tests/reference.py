"""A plain numpy MLP in float64: the hand computation both trainers are checked against."""
import numpy as np


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

