"""What both trainers share: flags, record fields, JSON emission and the timed epoch loop.

Defined once here so that the two trainers cannot drift apart (DESIGN.md section 4).
"""
import argparse
import json
import math
import platform
import sys
import time

import mnist_data

START_FIELDS = ("event", "framework", "framework_version", "mode", "batch_size", "epochs",
                "lr", "seed", "init", "precision", "device", "device_name",
                "train_samples", "steps_per_epoch")
EPOCH_FIELDS = ("event", "framework", "mode", "batch_size", "epoch", "epoch_time_s",
                "first_step_s", "train_loss", "train_acc", "val_loss", "val_acc",
                "samples_per_s", "eval_time_s")
END_FIELDS = ("event", "test_loss", "test_acc", "total_time_s")
RECORD_FIELDS = {"start": START_FIELDS, "epoch": EPOCH_FIELDS, "end": END_FIELDS}
# Additions (DESIGN.md section 4): absent or null where they do not apply.
START_EXTRAS = ("input", "workers", "compile_cache", "threads")
EPOCH_EXTRAS = ("jit_trace_s", "jit_lower_s", "jit_compile_s", "compile_s", "graphs", "graph_breaks",
                "cache_hits", "recompiles")
END_EXTRAS = ("peak_rss_bytes", "peak_device_bytes")

# Mode names are unique across frameworks: the controller's --modes picks by name.
MODES = {"jax": ("step", "scan", "nojit"), "pytorch": ("eager", "compile", "cudagraph")}
DEFAULT_MODES = ("step", "eager")
GPU_ONLY_MODES = ("cudagraph",)
# These run an epoch over batches already on the device (one scan, one captured graph):
# a loader that hands over one batch per step has nothing to give them.
DEVICE_INPUT_ONLY_MODES = ("scan", "cudagraph")
INPUTS = ("device", "loader")
# Modes that compile nothing a cache could keep: no warm-cache runs for them.
UNCACHED_MODES = ("eager", "cudagraph")

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def flops_per_sample(sizes=mnist_data.LAYER_SIZES):
    """Multiply-adds x2 of one training sample: forward, weight gradients, and input
    gradients for every layer but the first (the image needs no gradient): 3.21 MFLOP."""
    macs = [m * n for m, n in zip(sizes[:-1], sizes[1:])]
    return 2 * (2 * sum(macs) + sum(macs[1:]))


class OneLineParser(argparse.ArgumentParser):
    """Bad flags get one line on stderr and exit 2, not a usage dump."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def positive_float(text):
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def fraction(text):
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def train_limit(text):
    value = positive_int(text)
    if value > mnist_data.N_TRAIN:
        raise argparse.ArgumentTypeError(f"must be <= {mnist_data.N_TRAIN}, got {value}")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def add_run_flags(parser, init_default):
    """Flags that the trainers take and the controller passes through unchanged."""
    parser.add_argument("--lr", type=positive_float, default=0.01, help="SGD learning rate (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of init and batch order (default: %(default)s)")
    parser.add_argument("--data-dir", default=None,
                        help="folder with the MNIST IDX files (default: $MNIST_DATA_DIR, else data/mnist/)")
    parser.add_argument("--init", choices=("native", "shared"), default=init_default,
                        help="native: framework's own init; shared: identical numpy init (default: %(default)s)")
    parser.add_argument("--precision", choices=("highest", "tf32"), default="highest",
                        help="fp32 matmuls, or TF32 allowed on GPUs (default: %(default)s)")
    parser.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                        help="where to train (default: %(default)s)")
    parser.add_argument("--train-limit", type=train_limit, default=mnist_data.N_TRAIN,
                        help="train on the first N of the 50,000 training images (default: %(default)s)")
    parser.add_argument("--workers", type=non_negative_int, default=0,
                        help="DataLoader worker processes for --input loader (default: %(default)s)")


def trainer_parser(framework):
    modes = MODES[framework.lower()]
    parser = OneLineParser(description=f"Train the 784-512-512-10 MLP on MNIST with {framework}; "
                           "JSON records on stdout, progress on stderr.")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="batch size (default: %(default)s)")
    parser.add_argument("--epochs", type=positive_int, default=10, help="epochs (default: %(default)s)")
    parser.add_argument("--mode", choices=modes, default=modes[0], help="how the step runs (default: %(default)s)")
    parser.add_argument("--input", choices=INPUTS, default="device",
                        help="device: the split on the device, batches gathered there; loader: torchvision "
                             "MNIST through a torch DataLoader, timed in the epoch (default: %(default)s)")
    parser.add_argument("--compile-cache", default=None, metavar="DIR",
                        help="keep compiled programs in DIR (JAX's persistent cache, Inductor's on-disk "
                             "caches) and reuse them (default: none, every run compiles cold)")
    add_run_flags(parser, init_default="native")
    parser.add_argument("--probe", action="store_true",
                        help="measure the device's fp32 matmul rate, print one record and exit")
    return parser


def parse_trainer_args(parser, argv=None):
    args = parser.parse_args(argv)
    check_batch_sizes(parser, [args.batch_size], args.train_limit)
    if args.input == "loader" and args.mode in DEVICE_INPUT_ONLY_MODES:
        parser.error(f"--mode {args.mode} runs over batches already on the device; use --input device")
    if args.workers and args.input != "loader":
        parser.error("--workers applies to --input loader only")
    return args


def check_batch_sizes(parser, batch_sizes, train_limit):
    """A batch larger than the training set would give zero steps per epoch."""
    for batch in batch_sizes:
        if batch > train_limit:
            parser.error(f"batch size {batch} exceeds the {train_limit} training samples")


def fail(message, code=EXIT_USAGE):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def log(message):
    print(message, file=sys.stderr, flush=True)


def emit(record):
    # NaN/Infinity stay as Python's json writes them: a diverged run is shown, not hidden.
    print(json.dumps(record), flush=True)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_split(args):
    """The split, cut to --train-limit; bad data exits 2 with one line."""
    try:
        split = mnist_data.load_mnist(args.data_dir)
    except mnist_data.DataError as e:
        fail(str(e))
    n = args.train_limit
    return split._replace(train_images=split.train_images[:n], train_labels=split.train_labels[:n])


def start_record(args, framework, framework_version, device, device_name, train_samples, **extras):
    return {"event": "start", "framework": framework, "framework_version": framework_version,
            "mode": args.mode, "batch_size": args.batch_size, "epochs": args.epochs, "lr": args.lr,
            "seed": args.seed, "init": args.init, "precision": args.precision, "device": device,
            "device_name": device_name, "train_samples": train_samples,
            "steps_per_epoch": train_samples // args.batch_size, "input": args.input,
            "workers": args.workers if args.input == "loader" else None,
            "compile_cache": args.compile_cache, **extras}


def run_epochs(args, start, state, train_epoch, evaluate, put_batches, device_peak=lambda: None):
    """The timed loop both trainers share.

    put_batches(order) readies one epoch's batches from its (steps, batch) index order before
    the clock starts. train_epoch(state, batches, epoch) runs the epoch and returns only after
    the device has finished (the trainer synchronises), as (state, loss_sum, correct, extras):
    the sums may still be on the device, they are read after the clock stops; extras holds
    first_step_s and the record's additions (EPOCH_EXTRAS). evaluate(state, split_name)
    returns host (mean loss, accuracy). device_peak() gives the GPU allocator's peak bytes.
    """
    framework, mode, batch = start["framework"], start["mode"], args.batch_size
    steps, n = start["steps_per_epoch"], start["train_samples"]
    emit(start)
    t_total = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        batches = put_batches(mnist_data.batch_order(args.seed, epoch, n, batch))
        t0 = time.perf_counter()
        state, loss_sum, correct, extras = train_epoch(state, batches, epoch)
        epoch_time = time.perf_counter() - t0
        # Means over the steps taken: the dropped partial batch was never trained on.
        train_loss, train_acc = float(loss_sum) / steps, float(correct) / (steps * batch)
        t0 = time.perf_counter()
        val_loss, val_acc = evaluate(state, "val")
        eval_time = time.perf_counter() - t0
        if not math.isfinite(train_loss):
            log(f"warning: train loss is {train_loss} in epoch {epoch}: the run diverged (lr {args.lr})")
        emit({"event": "epoch", "framework": framework, "mode": mode, "batch_size": batch,
              "epoch": epoch, "epoch_time_s": epoch_time,
              "first_step_s": extras.get("first_step_s") if epoch == 1 else None,
              "train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss,
              "val_acc": val_acc, "samples_per_s": steps * batch / epoch_time,
              "eval_time_s": eval_time, **{k: extras.get(k) for k in EPOCH_EXTRAS}})
        log(f"{framework} {mode} B={batch} epoch {epoch}/{args.epochs}: {epoch_time:.3f} s, "
            f"train loss {train_loss:.4f}, val acc {val_acc:.4f}")
    test_loss, test_acc = evaluate(state, "test")
    emit({"event": "end", "test_loss": test_loss, "test_acc": test_acc,
          "total_time_s": time.perf_counter() - t_total,
          "peak_rss_bytes": peak_rss_bytes(), "peak_device_bytes": device_peak()})


def peak_rss_bytes():
    """The process's peak resident memory in bytes: Linux's VmHWM, else ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # reported in kB
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # bytes on macOS, KiB elsewhere


def probe_record(framework, device_name, precision, n, seconds):
    """Median seconds of an n x n x n fp32 matmul as a GFLOP/s record."""
    return {"event": "probe", "framework": framework, "device_name": device_name,
            "precision": precision, "matmul_n": n, "matmul_s": seconds,
            "gflops": 2 * n ** 3 / seconds / 1e9}
