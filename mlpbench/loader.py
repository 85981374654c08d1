"""The input path most users write (--input loader): torchvision's MNIST dataset and a torch
DataLoader, used by both trainers (docs/design.md, "Trainers").

The dataset reads the data layer's verified files; the batch sampler yields this project's
batch order, so a loader epoch trains on exactly the batches of a device-resident one. The
JAX trainer takes the same batches as numpy arrays, as JAX's DataLoader tutorial does.
"""
import torch
import torch.utils.data
import torchvision
from torchvision import transforms

from mlpbench import data
from mlpbench.cli import fail


class EpochOrder(torch.utils.data.Sampler):
    """Batches of indices in a given (steps, batch) order, set before each epoch. It runs in
    the main process, so worker processes need no epoch number of their own."""

    def __init__(self):
        super().__init__()
        self.order = None

    def __iter__(self):
        return iter(self.order.tolist())

    def __len__(self):
        return len(self.order)


def make_loader(data_dir, workers, pin_memory):
    """A DataLoader of (images (B, 784) float32 in [0, 1], labels (B,) int64) and the sampler
    that sets its batch order. Bad data exits 2 with one line, as everywhere."""
    try:
        root = data.torchvision_root(data_dir)
    except data.DataError as e:
        fail(str(e))
    dataset = torchvision.datasets.MNIST(root, train=True, download=False,
                                         transform=transforms.Compose([transforms.ToTensor(), torch.flatten]))
    sampler = EpochOrder()
    # Workers are started once, in epoch 1, and kept, as a careful user would. They are spawned,
    # not forked: JAX is multithreaded and warns that a fork of it may deadlock, and the
    # two frameworks should pay for the same kind of worker.
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, num_workers=workers,
                                         pin_memory=pin_memory, persistent_workers=workers > 0,
                                         multiprocessing_context="spawn" if workers else None)
    return loader, sampler
