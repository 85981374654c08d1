"""Train a 784-512-512-10 MLP on MNIST with PyTorch (an nn.Module and plain SGD).

In the style of pytorch/examples mnist/main.py, with the data on the device once and
no DataLoader in the timed loop.
"""
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import bench_common as bc
import mnist_data

MODES = ("eager", "compile", "cudagraph")


class MLP(nn.Module):
    def __init__(self, sizes=mnist_data.LAYER_SIZES):
        super().__init__()
        self.fc1 = nn.Linear(sizes[0], sizes[1])
        self.fc2 = nn.Linear(sizes[1], sizes[2])
        self.fc3 = nn.Linear(sizes[2], sizes[3])

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def load_shared(model, params):
    """Copy the data layer's numpy parameters in; nn.Linear keeps weights as (out, in)."""
    with torch.no_grad():
        for layer, p in zip((model.fc1, model.fc2, model.fc3), params):
            layer.weight.copy_(torch.from_numpy(p["w"]).T)
            layer.bias.copy_(torch.from_numpy(p["b"]))


def train_step(model, optimizer, images, labels, idx, totals):
    """One SGD step on images[idx]; totals = (loss sum, correct count) stay on the device.

    Gradients are cleared by the caller: a CUDA graph must own its gradient buffers."""
    x, y = images[idx], labels[idx]
    output = model(x)
    loss = F.cross_entropy(output, y)
    loss.backward()
    optimizer.step()
    totals[0] += loss.detach()
    totals[1] += (output.argmax(dim=1) == y).sum()


@torch.no_grad()
def evaluate(model, images, labels):
    output = model(images)
    loss = F.cross_entropy(output, labels)
    return loss.item(), (output.argmax(dim=1) == labels).float().mean().item()


def capture_step(model, optimizer, images, labels, static_idx, totals):
    """Capture one whole train step in a CUDA graph, following PyTorch's CUDA-graph notes.

    Warm-up runs on a side stream (capture needs warmed-up kernels and allocator), then
    the parameters are put back, so the captured run starts from the same numbers as eager."""
    saved = [p.detach().clone() for p in model.parameters()]
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            optimizer.zero_grad(set_to_none=True)
            train_step(model, optimizer, images, labels, static_idx, totals)
    torch.cuda.current_stream().wait_stream(side)
    with torch.no_grad():
        for p, s in zip(model.parameters(), saved):
            p.copy_(s)
    optimizer.zero_grad(set_to_none=True)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        train_step(model, optimizer, images, labels, static_idx, totals)
    return graph


def synchronizer(device):
    """Waits for the GPU's queued work; on the CPU every op has finished when it returns."""
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def set_precision(precision):
    tf32 = precision == "tf32"
    if hasattr(torch.backends.cuda.matmul, "fp32_precision"):  # PyTorch >= 2.9
        torch.backends.cuda.matmul.fp32_precision = "tf32" if tf32 else "ieee"
        torch.backends.cudnn.conv.fp32_precision = "tf32" if tf32 else "ieee"
    else:
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32


def select_device(args):
    if args.device == "gpu" and not torch.cuda.is_available():
        bc.fail("--device gpu: PyTorch sees no CUDA GPU (install a CUDA build of torch)")
    use_cuda = args.device != "cpu" and torch.cuda.is_available()
    if args.mode == "cudagraph" and not use_cuda:
        bc.fail("--mode cudagraph needs a CUDA GPU; use --mode eager or compile on this machine")
    device = torch.device("cuda" if use_cuda else "cpu")
    name = torch.cuda.get_device_name(device) if use_cuda else bc.cpu_name()
    return device, name


def probe(device, device_name, precision):
    n = 8192 if device.type == "cuda" else 2048
    a = torch.randn(n, n, device=device)
    sync = synchronizer(device)
    a @ a  # warm-up: library load and first launch are not timed
    sync()
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        a @ a
        sync()
        times.append(time.perf_counter() - t0)
    bc.emit(bc.probe_record("pytorch", device_name, precision, n, statistics.median(times)))


def main(argv=None):
    args = bc.parse_trainer_args(bc.trainer_parser("PyTorch", MODES), argv)
    set_precision(args.precision)
    device, device_name = select_device(args)
    if args.probe:
        return probe(device, device_name, args.precision)
    split = bc.load_split(args)
    torch.manual_seed(args.seed)
    model = MLP().to(device)
    if args.init == "shared":
        load_shared(model, mnist_data.shared_init(args.seed))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    sync = synchronizer(device)

    # The whole split goes to the device once, scaled there, before any clock starts.
    def put(images, labels):
        images = torch.from_numpy(images).to(device).float().div_(255.0)
        return images, torch.from_numpy(labels).to(device)
    data = {"train": put(split.train_images, split.train_labels),
            "val": put(split.val_images, split.val_labels),
            "test": put(split.test_images, split.test_labels)}
    images, labels = data["train"]
    totals = torch.zeros(2, device=device)  # loss sum, correct count (exact below 2**24)
    sync()  # uploads and scaling are asynchronous on a GPU: finish them before any clock
    step = train_step
    if args.mode == "compile":
        # Each run pays its own cold compile (DESIGN.md section 4): Inductor's on-disk
        # caches stay off unless the user asks for them with TORCHINDUCTOR_FX_GRAPH_CACHE=1.
        torch._inductor.config.force_disable_caches = os.environ.get("TORCHINDUCTOR_FX_GRAPH_CACHE") != "1"
        step = torch.compile(train_step)
    graph = {"replay": None, "idx": None}

    def train_epoch(batches, time_first_step):
        model.train()
        totals.zero_()
        first, t0 = None, time.perf_counter()
        for s in range(batches.shape[0]):
            if args.mode == "cudagraph":
                if graph["replay"] is None:
                    graph["idx"] = batches[s].clone()
                    graph["replay"] = capture_step(model, optimizer, images, labels, graph["idx"], totals)
                    totals.zero_()
                graph["idx"].copy_(batches[s])
                graph["replay"].replay()
            else:
                optimizer.zero_grad(set_to_none=True)
                step(model, optimizer, images, labels, batches[s], totals)
            if time_first_step and s == 0:
                sync()
                first = time.perf_counter() - t0
        sync()
        return totals[0], totals[1], first

    def evaluate_split(name):
        model.eval()
        return evaluate(model, *data[name])

    n = len(split.train_labels)
    start = {"event": "start", "framework": "pytorch", "framework_version": torch.__version__,
             "mode": args.mode, "batch_size": args.batch_size, "epochs": args.epochs,
             "lr": args.lr, "seed": args.seed, "init": args.init, "precision": args.precision,
             "device": "gpu" if device.type == "cuda" else "cpu", "device_name": device_name,
             "train_samples": n, "steps_per_epoch": n // args.batch_size,
             "threads": torch.get_num_threads()}
    def put_batches(order):
        batches = torch.from_numpy(order).long().to(device)
        sync()
        return batches

    bc.run_epochs(args, start, train_epoch, evaluate_split, put_batches)


if __name__ == "__main__":
    sys.exit(main())
