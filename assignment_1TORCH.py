"""Train a 784-512-512-10 MLP on MNIST with PyTorch (an nn.Module and plain SGD).

In the style of pytorch/examples mnist/main.py, with the data on the device once and
no DataLoader in the timed loop unless --input loader asks for one.
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

MODES = bc.MODES["pytorch"]


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


def sgd_step(model, optimizer, x, y, totals):
    """One SGD step on the batch (x, y); totals = (loss sum, correct count) stay on the device.

    Gradients are cleared by the caller: a CUDA graph must own its gradient buffers."""
    output = model(x)
    loss = F.cross_entropy(output, y)
    loss.backward()
    optimizer.step()
    totals[0] += loss.detach()
    totals[1] += (output.argmax(dim=1) == y).sum()


def train_step(model, optimizer, images, labels, idx, totals):
    """One SGD step on images[idx], gathered on the device."""
    sgd_step(model, optimizer, images[idx], labels[idx], totals)


@torch.no_grad()
def evaluate(model, images, labels):
    """Mean loss and accuracy, from an exact count of correct predictions."""
    output = model(images)
    loss = F.cross_entropy(output, labels)
    return loss.item(), (output.argmax(dim=1) == labels).sum().item() / len(labels)


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


def cudagraph_step(model, optimizer, totals):
    """A train_step that captures itself on its first call and replays the graph after."""
    graph = {}

    def step(model_, optimizer_, images, labels, idx, totals_):
        if not graph:
            graph["idx"] = idx.clone()
            graph["replay"] = capture_step(model, optimizer, images, labels, graph["idx"], totals)
            totals.zero_()  # the warm-up steps added to the totals
        graph["idx"].copy_(idx)
        graph["replay"].replay()
    return step


def compilations(since, epoch):
    """Dynamo's compilations after the first `since`: (seconds, recompiles, count so far).
    In epoch 1 a recompile is a frame compiled again (its guards failed: a new shape, say);
    after it, every compilation is one."""
    from torch._dynamo.utils import get_compilation_metrics
    metrics = get_compilation_metrics()
    new = metrics[since:]
    seconds = sum((m.entire_frame_compile_time_s or 0) + (m.backward_cumulative_compile_time_us or 0) / 1e6
                  for m in new)
    recompiles = sum(m.recompile_reason is not None for m in new) if epoch == 1 else len(new)
    return seconds, recompiles, len(metrics)


def train_epoch(state, batches, epoch, mode, sync, cache_on):
    """One epoch; state = (model, optimizer, step, totals, compiles seen so far). Each item
    of batches is a step's data: an index row into the device-resident split, or (x, y)."""
    model, optimizer, step, totals, seen = state
    model.train()
    totals.zero_()
    extras, t0 = {}, time.perf_counter()
    for s, data in enumerate(batches):
        if mode != "cudagraph":
            optimizer.zero_grad(set_to_none=True)
        step(model, optimizer, *data, totals)
        if s == 0 and epoch == 1:
            sync()
            extras["first_step_s"] = time.perf_counter() - t0
    sync()
    if mode == "compile":
        from torch._dynamo.utils import counters
        seconds, extras["recompiles"], seen = compilations(seen, epoch)
        if epoch == 1:
            extras.update(compile_s=seconds, graphs=counters["stats"]["unique_graphs"],
                          graph_breaks=sum(counters["graph_break"].values()))
            hits = counters["inductor"]["fxgraph_cache_hit"] + counters["aot_autograd"]["autograd_cache_hit"]
            extras["cache_hits"] = hits if cache_on else None
    return (model, optimizer, step, totals, seen), totals[0], totals[1], extras


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


def use_compile_cache(directory):
    """Inductor's on-disk caches (FX graphs, AOTAutograd, Triton kernels) in DIR/inductor;
    without a DIR they stay off, so every run pays its own cold compile."""
    if directory:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(os.path.abspath(directory), "inductor")
    torch.compiler.config.force_disable_caches = not directory


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
    args = bc.parse_trainer_args(bc.trainer_parser("PyTorch"), argv)
    set_precision(args.precision)
    device, device_name = select_device(args)
    if args.probe:
        return probe(device, device_name, args.precision)
    use_compile_cache(args.compile_cache)
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
    data = {"val": put(split.val_images, split.val_labels), "test": put(split.test_images, split.test_labels)}
    totals = torch.zeros(2, device=device)  # loss sum, correct count (exact below 2**24)
    if args.input == "loader":
        import input_pipeline
        loader, sampler = input_pipeline.make_loader(args.data_dir, args.workers, device.type == "cuda")

        def put_batches(order):
            sampler.order = order
            # Pinned batches (on CUDA) are copied while the host goes on to the next one.
            return ((x.to(device, non_blocking=True), y.to(device, non_blocking=True)) for x, y in loader)
        step = sgd_step
    else:
        data["train"] = put(split.train_images, split.train_labels)

        def put_batches(order):
            batches = torch.from_numpy(order).long().to(device)
            sync()
            return [(*data["train"], idx) for idx in batches]
        step = train_step
    sync()  # uploads and scaling are asynchronous on a GPU: finish them before any clock
    if args.mode == "compile":
        step = torch.compile(step)
    elif args.mode == "cudagraph":
        step = cudagraph_step(model, optimizer, totals)

    def evaluate_split(state, name):
        state[0].eval()
        return evaluate(state[0], *data[name])

    start = bc.start_record(args, "pytorch", torch.__version__, "gpu" if device.type == "cuda" else "cpu",
                            device_name, len(split.train_labels), threads=torch.get_num_threads())
    peak = (lambda: torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else (lambda: None)
    bc.run_epochs(args, start, (model, optimizer, step, totals, 0),
                  lambda state, batches, epoch: train_epoch(state, batches, epoch, args.mode, sync,
                                                            bool(args.compile_cache)),
                  evaluate_split, put_batches, peak)


if __name__ == "__main__":
    sys.exit(main())
