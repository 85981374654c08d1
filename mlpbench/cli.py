"""Command-line flags shared by the trainers and the controller, defined once (docs/design.md,
"Trainers"), and the one-line way every bad input is refused."""
import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

from mlpbench import arms, data, model, modes
from mlpbench.machine import available_memory, schedulable_cpus
from mlpbench.records import EXIT_USAGE

ROOT = Path(__file__).resolve().parents[1]
# The trainers the controller runs as children, by framework; each also runs alone.
SCRIPTS = {"jax": "assignment_1JAX.py", "pytorch": "assignment_1TORCH.py"}

INPUTS = ("device", "loader")
PRECISIONS = ("highest", "tf32")
PRECISION_HELP = "fp32 matmuls, or TF32 allowed on GPUs"


class OneLineParser(argparse.ArgumentParser):
    """Bad flags get one line on stderr and exit 2, not a usage dump. No abbreviations: a prefix
    that one flag has today (--epoch for --epochs) would mean another tomorrow."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def fail(message, code=EXIT_USAGE):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def log(message):
    print(message, file=sys.stderr, flush=True)


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
    if value > data.N_TRAIN:
        raise argparse.ArgumentTypeError(f"must be <= {data.N_TRAIN}, got {value}")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def writable_dir(text):
    """A folder that exists, or can be made, and takes a file: checked before any run."""
    try:
        os.makedirs(text, exist_ok=True)
        tempfile.TemporaryFile(dir=text).close()
    except OSError as e:
        raise argparse.ArgumentTypeError(f"{text} cannot be created or written ({e.strerror or e})") from None
    return text


def add_run_flags(parser, init_default):
    """Flags that the trainers take and the controller passes through unchanged."""
    parser.add_argument("--lr", type=positive_float, default=0.01,
                        help="SGD learning rate (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of init and batch order (default: %(default)s)")
    parser.add_argument("--data-dir", default=None,
                        help="folder with the MNIST IDX files (default: $MNIST_DATA_DIR, else data/mnist/)")
    parser.add_argument("--init", choices=("native", "shared"), default=init_default,
                        help="native: framework's own init; shared: identical numpy init "
                             "(default: %(default)s)")
    parser.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                        help="where to train (default: %(default)s)")
    parser.add_argument("--train-limit", type=train_limit, default=data.N_TRAIN,
                        help="train on the first N of the 50,000 training images (default: %(default)s)")
    parser.add_argument("--workers", type=non_negative_int, default=0,
                        help="DataLoader worker processes for --input loader (default: %(default)s)")


THREADS_HELP = ("CPU cores the trainer may run on (its process affinity, which sizes XLA's thread pool, "
                "and torch.set_num_threads)")


def check_threads(parser, counts):
    """More threads than the cores this process may use would oversubscribe them: refused."""
    have = schedulable_cpus()
    for n in counts or ():
        if n > have:
            parser.error(f"--threads {n}: this process may use {have} core(s)")


def trainer_parser(framework):
    choices = modes.names(framework.lower())
    parser = OneLineParser(description=f"Train an MLP (784-512-512-10 by default) on MNIST with {framework}; "
                           "JSON records on stdout, progress on stderr.")
    parser.add_argument("--batch-size", type=positive_int, default=64,
                        help="batch size (default: %(default)s)")
    parser.add_argument("--epochs", type=positive_int, default=10, help="epochs (default: %(default)s)")
    parser.add_argument("--mode", choices=choices, default=choices[0],
                        help="how the step runs (default: %(default)s)")
    parser.add_argument("--input", choices=INPUTS, default="device",
                        help="device: the split on the device, batches gathered there; loader: torchvision "
                             "MNIST through a torch DataLoader, timed in the epoch (default: %(default)s)")
    parser.add_argument("--compile-cache", type=writable_dir, default=None, metavar="DIR",
                        help="keep compiled programs in DIR (JAX's persistent cache, Inductor's on-disk "
                             "caches) and reuse them (default: none, every run compiles cold)")
    parser.add_argument("--precision", choices=PRECISIONS, default="highest",
                        help=f"{PRECISION_HELP} (default: %(default)s)")
    if framework == "JAX":
        parser.add_argument("--unroll", type=positive_int, default=None,
                            help="scan only: steps per iteration of lax.scan's loop (default: per device "
                                 "kind, DEFAULT_UNROLL in the JAX trainer: 1 on a CPU, 8 on a GPU)")
    add_run_flags(parser, init_default="native")
    parser.add_argument("--hidden", type=positive_int, nargs="+", default=list(model.HIDDEN), metavar="W",
                        help="hidden layer widths, any number of layers (default: %(default)s)")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help=f"{THREADS_HELP} (default: every core it is given)")
    parser.add_argument("--probe", nargs="?", const="matmul", choices=("matmul", "products"), default=None,
                        help="run no training: matmul (the default) measures the device's fp32 matmul rate; "
                             "products times the matrix products of one step at --batch-size and "
                             "--hidden alone; print a record each and exit")
    parser.add_argument("--probe-batches", type=positive_int, nargs="+", default=None, metavar="B",
                        help="with --probe products: the batch sizes to time them at, one record each "
                             "(default: --batch-size)")
    return parser


def spec_epochs(args, spec):
    """A cache-filling run needs one epoch: every program is built in the first."""
    return 1 if spec.purpose == "fill" else args.epochs


def arm_of(args, spec):
    """The arm a run runs under, its interpreter and environment: this Python's outside arms."""
    return next((a for a in getattr(args, "arms", ()) if a.name == spec.arm), arms.Arm(spec.arm or ""))


def child_command(args, spec, extra=()):
    command = [arm_of(args, spec).python, str(ROOT / SCRIPTS[spec.framework]), "--mode", spec.mode,
               "--batch-size", str(spec.batch_size), "--epochs", str(spec_epochs(args, spec)),
               "--lr", repr(args.lr), "--seed", str(spec.seed), "--init", args.init,
               "--precision", spec.precision, "--device", args.device, "--train-limit", str(args.train_limit),
               "--data-dir", str(data.data_dir(args.data_dir)), "--input", spec.input, *extra]
    if spec.unroll is not None:
        command += ["--unroll", str(spec.unroll)]
    if spec.threads is not None:
        command += ["--threads", str(spec.threads)]
    command += ["--hidden", *map(str, spec.hidden)]
    if spec.input == "loader":
        command += ["--workers", str(args.workers)]
    if spec.cache == "warm":
        command += ["--compile-cache", str(args.compile_cache)]
    return command


def parse_trainer_args(parser, argv=None):
    args = parser.parse_args(argv)
    check_batch_sizes(parser, [args.batch_size], args.train_limit)
    if args.input == "loader" and modes.mode(args.mode).device_input_only:
        parser.error(f"--mode {args.mode} runs over batches already on the device; use --input device")
    if args.workers and args.input != "loader":
        parser.error("--workers applies to --input loader only")
    if getattr(args, "unroll", None) is not None and args.mode != "scan":
        parser.error(f"--unroll applies to --mode scan only, not {args.mode}")
    check_threads(parser, [args.threads] if args.threads else [])
    if not args.probe:
        check_memory(parser, [args.hidden], [args.batch_size], args.train_limit)
    return args


def memory_refusal(hidden, batch_sizes, train_samples, have, where="this machine"):
    """The one line that refuses a model and batch whose floor (model.bytes_needed: parameters,
    gradients, activations and the splits, all on the device) exceeds the `have` bytes that
    `where` has available; None where it fits."""
    sizes = model.layer_sizes(tuple(hidden))
    need = max(model.bytes_needed(sizes, batch, train_samples) for batch in batch_sizes)
    if need <= have:
        return None
    return (f"the {'-'.join(map(str, sizes))} model needs at least {need / 2**30:,.1f} GiB of memory to "
            f"train; {where} has {have / 2**30:,.1f} GiB available")


def check_memory(parser, hiddens, batch_sizes, train_samples, gpu_bytes=None, gpu_name=None):
    """Refuse, before anything is allocated, a model and batch that the memory this machine has
    available cannot hold, or (given its size) the GPU's."""
    for have, where in ((available_memory(), "this machine"), (gpu_bytes, f"the GPU ({gpu_name})")):
        for hidden in hiddens if have is not None else ():
            refusal = memory_refusal(hidden, batch_sizes, train_samples, have, where)
            if refusal:
                parser.error(refusal)


def check_batch_sizes(parser, batch_sizes, limit):
    """A batch larger than the training set would give zero steps per epoch."""
    for batch in batch_sizes:
        if batch > limit:
            parser.error(f"batch size {batch} exceeds the {limit} training samples")


def load_split(args):
    """The split, cut to --train-limit; bad data exits 2 with one line."""
    try:
        split = data.load_mnist(args.data_dir)
    except data.DataError as e:
        fail(str(e))
    n = args.train_limit
    return split._replace(train_images=split.train_images[:n], train_labels=split.train_labels[:n])


def check_gpu_memory(args, free_bytes, gpu_name):
    """A trainer's check on the GPU it selected, once the framework can say what it has free."""
    refusal = memory_refusal(args.hidden, [args.batch_size], args.train_limit, free_bytes,
                             f"the GPU ({gpu_name})")
    if refusal:
        fail(refusal)
