"""PyTorch's plumbing, imported by the PyTorch trainer (assignment_1TORCH.py) alone: the device,
its precision and how to wait for it, Inductor's on-disk caches, Dynamo's compile figures, the
capture of a step in a CUDA graph, the splits and each epoch's batches put on the device before
any clock, the matmul probe, and the kernel libraries for the start record. None of it is the
model or its training; the trainer keeps those (docs/design.md, "Trainers")."""
import os
import re

import torch

from mlpbench import cli, modes
from mlpbench.loop import Device
from mlpbench.machine import cpu_name, median_seconds, probe_record
from mlpbench.records import emit


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
        cli.fail("--device gpu: PyTorch sees no CUDA GPU (install a CUDA build of torch)")
    use_cuda = args.device != "cpu" and torch.cuda.is_available()
    if modes.mode(args.mode).gpu_only and not use_cuda:
        cli.fail(f"--mode {args.mode} needs a CUDA GPU; use --mode eager, compile, func or fullgraph here")
    device = torch.device("cuda" if use_cuda else "cpu")
    return device, Device("gpu" if use_cuda else "cpu",
                          torch.cuda.get_device_name(device) if use_cuda else cpu_name())


def check_memory(args, device, info):
    """Refuse, in one line, a model and batch that the GPU's free memory cannot hold."""
    if device.type == "cuda":
        cli.check_gpu_memory(args, torch.cuda.mem_get_info(device)[0], info.name)


def synchronizer(device):
    """Waits for the GPU's queued work; on the CPU every op has finished when it returns."""
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def use_compile_cache(directory):
    """Inductor's on-disk caches (FX graphs, AOTAutograd, Triton kernels) in DIR/inductor;
    without a DIR they stay off, so every run pays its own cold compile."""
    if directory:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(os.path.abspath(directory), "inductor")
    torch.compiler.config.force_disable_caches = not directory


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


def compile_figures(seen, epoch, cache_on):
    """Epoch 1's compile stages, graphs, breaks and cache hits; every epoch's recompiles."""
    from torch._dynamo.utils import counters
    seconds, recompiles, seen = compilations(seen, epoch)
    if epoch > 1:
        return {"recompiles": recompiles}, seen
    hits = counters["inductor"]["fxgraph_cache_hit"] + counters["aot_autograd"]["autograd_cache_hit"]
    return {"recompiles": recompiles, "compile_s": seconds, "graphs": counters["stats"]["unique_graphs"],
            "graph_breaks": sum(counters["graph_break"].values()),
            "cache_hits": hits if cache_on else None}, seen


class CudaGraphStep:
    """A train step captured in a CUDA graph and replayed per batch, following PyTorch's
    CUDA-graph notes. The step must update its state() in place. Warm-up runs on a side
    stream (capture needs warmed-up kernels and allocator; a compiled step compiles there),
    then the state is put back, so the captured run starts from the same numbers as an
    uncaptured one. Setting gradients to None inside the capture makes the graph own its
    gradient buffers."""

    def __init__(self, step, idx):
        self.idx = idx.clone()
        state = step.state()
        saved = [t.detach().clone() for t in state]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                step(self.idx)
        torch.cuda.current_stream().wait_stream(side)
        with torch.no_grad():
            for t, s in zip(state, saved, strict=True):
                t.copy_(s)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            step(self.idx)

    def __call__(self, idx):
        self.idx.copy_(idx)
        self.graph.replay()


def put_splits(split, device, train):
    """The val and test splits (and with `train` the training split) on the device, scaled there
    to float32 in [0, 1]. On a GPU the uploads are queued: the caller waits for them."""
    def put(images, labels):
        images = torch.from_numpy(images).to(device).float().div_(255.0)
        return images, torch.from_numpy(labels).to(device)
    data = {"val": put(split.val_images, split.val_labels), "test": put(split.test_images, split.test_labels)}
    if train:
        data["train"] = put(split.train_images, split.train_labels)
    return data


def epoch_batches(args, device, sync):
    """How an epoch's batch order becomes the steps' data, before the clock starts: per step
    (idx,), its rows of the split on the device, or a loader's (x, y)."""
    if args.input == "loader":
        from mlpbench.loader import make_loader
        loader, sampler = make_loader(args.data_dir, args.workers, device.type == "cuda")

        def from_loader(order):
            sampler.order = order
            # Pinned batches (on CUDA) are copied while the host goes on to the next one.
            return ((x.to(device, non_blocking=True), y.to(device, non_blocking=True)) for x, y in loader)
        return from_loader

    def index_rows(order):
        batches = torch.from_numpy(order).long().to(device)
        sync()
        return [(idx,) for idx in batches]
    return index_rows


def probe(device, info, precision):
    n = 8192 if device.type == "cuda" else 2048
    a = torch.randn(n, n, device=device)
    sync = synchronizer(device)
    emit(probe_record("pytorch", info.name, precision, n, median_seconds(lambda: (a @ a, sync()))))


def probe_products(args, device, info):
    """The step's matrix products (model.step_products) in nn.Linear's layout, each timed alone as
    the median per call of batches of calls; a 1 x 1 x 1 product timed the same way is the
    dispatch floor, kept out of each. A record per batch size."""
    from mlpbench.machine import per_call_seconds, products_record
    from mlpbench.model import Product, layer_sizes, step_products
    sync = synchronizer(device)
    torch.manual_seed(0)

    def timed(product):
        a, b = (torch.randn(shape, device=device) for shape in product.stored_shapes)
        a, b = (a.T if product.transposed == "a" else a), (b.T if product.transposed == "b" else b)
        return per_call_seconds(lambda: a @ b, lambda _: sync())
    with torch.no_grad():
        floor = timed(Product("floor", 1, 1, 1, None))
        for batch in args.probe_batches or [args.batch_size]:
            products = step_products(layer_sizes(args.hidden), batch, "out-in")
            emit(products_record("pytorch", info.name, args, batch,
                                 ([(p, timed(p)) for p in products], floor, None)))


def gemm_path(device):
    """The code path the matrix products take: on a CPU, MKL's own verbose line (which instruction
    set it dispatched to; it writes to stdout, the records' channel, so that is caught for the
    one product it prints for); on a GPU, cuBLAS."""
    if device.type == "cuda":
        return "cuBLAS"
    if not torch.backends.mkl.is_available():
        return "not MKL: " + (kernels() or "unknown BLAS")
    import sys
    import tempfile
    sys.stdout.flush()
    with tempfile.TemporaryFile() as caught:
        saved = os.dup(1)
        os.dup2(caught.fileno(), 1)
        try:
            with torch.backends.mkl.verbose(torch.backends.mkl.VERBOSE_ON):
                torch.mm(torch.ones(8, 8), torch.ones(8, 8))
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        caught.seek(0)
        text = caught.read().decode(errors="replace")
    found = re.search(r"(oneMKL [\w. ]+?) Product build.*?for Intel\(R\) 64 architecture (.+?), Lnx", text)
    return f"{found.group(1)}: {found.group(2)}" if found else "MKL (no verbose line)"


def kernels():
    """The BLAS and kernel libraries this PyTorch was built with, as torch.__config__ says."""
    build, parallel = torch.__config__.show(), torch.__config__.parallel_info()
    found = [f"BLAS {m.group(1)}" for m in [re.search(r"BLAS_INFO=(\w+)", build)] if m]
    found += [m.group(0) for m in [re.search(r"Math Kernel Library Version [\w.]+", parallel),
                                   re.search(r"MKL-DNN v[\d.]+", build)] if m]
    return ", ".join(found) or None
