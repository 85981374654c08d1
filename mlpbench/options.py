"""The controller's command line: its flags with their defaults, and every check of them that
needs no run, each refusal one line and exit 2 before anything runs (docs/design.md,
"Controller")."""
import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

from mlpbench import arms, cli, modes
from mlpbench.machine import gpu_facts, gpu_memory_bytes

# The default run answers: three repeats give each speed finding a paired interval (two leave one
# degree of freedom: only a true 1.39x is found 80% of the time at 2% noise). Three epochs keep two
# steady ones per run; the run took 1.24x one repeat of ten epochs (docs/method.md, "The speed
# verdict"), and three batch sizes make the session long enough that its drift per run stays small.
DEFAULT_EPOCHS, DEFAULT_REPEATS = 3, 3


FRAMEWORK_PACKAGES = {"jax": "jax", "pytorch": "torch"}


def parse_args(argv=None):
    parser = cli.OneLineParser(description="Run both trainers per batch size and compare them.")
    parser.add_argument("--batch-sizes", type=cli.positive_int, nargs="+", default=[64, 256, 1024],
                        help="batch sizes to run (default: %(default)s)")
    parser.add_argument("--frameworks", nargs="+", choices=tuple(modes.FRAMEWORKS),
                        default=["jax", "pytorch"], help="frameworks to run (default: %(default)s)")
    parser.add_argument("--modes", nargs="+", default=None,
                        help="modes to run, each with the framework that has it; 'all' = every mode "
                             f"this device supports (default: {' '.join(modes.default_modes())}, those "
                             "of --frameworks)")
    parser.add_argument("--widths", type=cli.positive_int, nargs="+", default=[512], metavar="W",
                        help="hidden widths: each runs a 784-W-W-10 model (default: %(default)s)")
    parser.add_argument("--epochs", type=cli.positive_int, default=DEFAULT_EPOCHS,
                        help="epochs per run (default: %(default)s)")
    parser.add_argument("--repeats", type=cli.positive_int, default=DEFAULT_REPEATS,
                        help="fresh runs of each configuration and seed: they only re-time, and each "
                             "speed verdict pairs them by repeat (default: %(default)s)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="seeds to run, each changing init and batch order (default: --seed alone)")
    parser.add_argument("--input", nargs="+", choices=cli.INPUTS, default=["device"],
                        help="device-resident batches, a torchvision DataLoader, or both "
                             "(default: %(default)s)")
    parser.add_argument("--precision", nargs="+", choices=cli.PRECISIONS, default=["highest"],
                        help=f"{cli.PRECISION_HELP}; several are compared (default: %(default)s)")
    parser.add_argument("--exclude", nargs="+", default=[], metavar="MODE@BATCH",
                        help="runs to leave out of the plan, a mode at a batch size (e.g. nojit@64: "
                             "op by op, JAX's epoch at batch 64 takes long) or a mode's cold or warm "
                             "runs under --cache both (e.g. compile@warm) (default: none)")
    parser.add_argument("--unroll", type=cli.positive_int, nargs="+", default=None,
                        help="scan's unroll, one run of scan per value (default: the JAX trainer's "
                             "default for the device)")
    parser.add_argument("--target-acc", type=cli.fraction, default=0.85,
                        help="validation accuracy for the time-to-accuracy figures (default: %(default)s)")
    parser.add_argument("--cache", choices=("cold", "warm", "both"), default="cold",
                        help="cold: every run compiles from scratch; warm: a cache is filled by one "
                             "untimed run per configuration, then timed runs use it (default: %(default)s)")
    parser.add_argument("--compile-cache", type=Path, default=None, metavar="DIR",
                        help="the cache folder for --cache warm/both (default: OUT_DIR/compile-cache, "
                             "emptied first)")
    parser.add_argument("--threads", type=cli.positive_int, nargs="+", default=None, metavar="N",
                        help=f"{cli.THREADS_HELP}: each count runs every configuration (default: every "
                             "core, not set)")
    cli.add_run_flags(parser, init_default="shared")
    parser.add_argument("--out-dir", type=Path, default=None,
                        help="output folder (default: results, or with --from its folder)")
    parser.add_argument("--aa", action="store_true",
                        help="A/A test: one mode's configurations each run as two arms, side by side, and "
                             "compared like two configurations: what this machine's noise calls faster")
    parser.add_argument("--arm", action="append", default=[], metavar="NAME[=PYTHON][:VAR=VALUE,...]",
                        help="run every configuration under each arm, interleaved by repeat and weighed arm "
                             "against arm: another interpreter (a venv with other versions), environment "
                             "variables, or both; give two or more (default: none)")
    parser.add_argument("--from", dest="from_dir", type=Path, default=None, metavar="DIR",
                        help="run nothing: rewrite DIR's summary and plots from its benchmark_results.csv "
                             "and run_meta.json with this code (into --out-dir when given)")
    parser.add_argument("--compare", nargs=2, type=Path, default=None, metavar=("OLD", "NEW"),
                        help="run nothing: weigh two results folders' runs configuration by configuration, "
                             "after what differs between them (with --out-dir: compare.md and compare.json)")
    parser.add_argument("--timeout", type=cli.positive_float, default=1800.0,
                        help="seconds one run may take before it is killed (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.from_dir is not None and not args.from_dir.is_dir():
        parser.error(f"--from {args.from_dir}: no such folder")
    if args.compare and (args.from_dir or args.aa or args.arm):
        parser.error("--compare runs nothing: it takes no --from, --aa or --arm")
    if args.aa and args.arm:
        parser.error("--aa is two identical arms: give --aa or --arm, not both")
    if args.compare:
        try:
            args.out_dir and cli.writable_dir(args.out_dir)
        except argparse.ArgumentTypeError as e:
            parser.error(f"--out-dir {e}")
        return args
    args.out_dir = args.out_dir or args.from_dir or Path("results")
    if args.modes is None:  # --frameworks jax alone runs JAX's default mode
        args.modes = [m for m in modes.default_modes() if modes.mode(m).framework in args.frameworks]
    if args.aa:
        if len(args.modes) != 1 or "all" in args.modes or args.modes[0] not in modes.names():
            parser.error("--aa runs one configuration as two arms: give one mode (--modes MODE)")
        args.frameworks = [modes.mode(args.modes[0]).framework]
    check_modes(parser, args)
    try:
        args.arms = arms.parse_arms(args.arm, args.aa)
        if not args.from_dir:
            arms.check_arms(args.arms, needed_packages(args.modes))
    except arms.ArmError as e:
        parser.error(str(e))
    if args.workers and "loader" not in args.input:
        parser.error("--workers applies to --input loader only")
    if args.compile_cache and args.cache == "cold":
        parser.error("--compile-cache is the folder of --cache warm or both; cold runs use no cache")
    if args.compile_cache:
        try:
            cli.writable_dir(args.compile_cache)
        except argparse.ArgumentTypeError as e:
            parser.error(f"--compile-cache {e}")
    args.seeds = list(dict.fromkeys(args.seeds)) if args.seeds else [args.seed]
    # A value given twice would plan two identical runs, which no output could tell apart.
    for name in ("batch_sizes", "widths", "frameworks", "modes", "input", "precision", "unroll", "exclude",
                 "threads"):
        if getattr(args, name):
            setattr(args, name, list(dict.fromkeys(getattr(args, name))))
    cli.check_batch_sizes(parser, args.batch_sizes, args.train_limit)
    cli.check_threads(parser, args.threads)
    gpu = gpu_facts() if args.device != "cpu" and not args.from_dir else None
    cli.check_memory(parser, [(w, w) for w in args.widths], args.batch_sizes, args.train_limit,
                     gpu_bytes=gpu_memory_bytes(gpu), gpu_name=gpu and gpu["name"])
    try:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=args.out_dir).close()
    except OSError as e:
        parser.error(f"--out-dir {args.out_dir} is not writable ({e.strerror or e})")
    return args


def needed_packages(mode_names):
    """What the trainers of these modes import: each framework's package and a mode's extra one."""
    chosen = [modes.mode(m) for m in mode_names]
    return sorted({FRAMEWORK_PACKAGES[m.framework] for m in chosen}
                  | {m.package for m in chosen if m.package})


def installed(package):
    """A mode's extra package (flax) can be imported by this Python, and so by the trainers."""
    return package is None or importlib.util.find_spec(package) is not None


def check_modes(parser, args):
    """--modes against --frameworks, --input and --cache; 'all' becomes this device's modes."""
    known = modes.names()
    if "all" in args.modes:
        args.modes = [m for f in args.frameworks for m in modes.names(f)
                      if not modes.mode(m).gpu_only or cuda_available(args.device)]
        missing = [m for m in args.modes if not installed(modes.mode(m).package)]
        if missing:
            cli.log(f"--modes all leaves out {', '.join(missing)}: "
                    f"{', '.join(sorted({modes.mode(m).package for m in missing}))} is not installed")
            args.modes = [m for m in args.modes if m not in missing]
    unknown = sorted(set(args.modes) - set(known))
    if unknown:
        parser.error(f"unknown mode(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))} or all")
    for name in args.modes:
        if not installed(modes.mode(name).package):
            parser.error(f"mode {name} needs {modes.mode(name).package}, which this Python "
                         f"({sys.executable}) cannot import: pip install -r requirements.txt")
    for name in args.modes:
        if modes.mode(name).framework not in args.frameworks:
            parser.error(f"mode {name} belongs to none of the frameworks {', '.join(args.frameworks)}")
    for framework in args.frameworks:
        if not set(modes.names(framework)) & set(args.modes):
            parser.error(f"no mode given for {framework} (its modes: {', '.join(modes.names(framework))})")
    chosen = [modes.mode(m) for m in args.modes]
    if args.input == ["loader"] and all(m.device_input_only for m in chosen):
        parser.error(f"--input loader feeds one batch per step; modes {', '.join(args.modes)} "
                     "need --input device")
    if args.cache != "cold" and not any(m.cacheable for m in chosen):
        parser.error(f"--cache {args.cache}: modes {', '.join(args.modes)} "
                     "compile nothing a cache could keep")
    if args.unroll and "scan" not in args.modes:
        parser.error("--unroll applies to the JAX mode scan, which --modes does not include")
    args.exclude = parse_exclude(parser, args)


def parse_exclude(parser, args):
    """--exclude's MODE@BATCH and MODE@CACHE as the (mode, batch size) and (mode, "cold" or "warm")
    pairs the plan leaves out, parsed once."""
    out = set()
    for item in args.exclude:
        name, _, what = item.partition("@")
        if what in ("cold", "warm"):
            if name not in args.modes or args.cache != "both" or not modes.mode(name).cacheable:
                parser.error(f"--exclude {item}: MODE@{what} leaves out the {what} runs of a cacheable mode "
                             "of --modes under --cache both")
            out.add((name, what))
        elif name not in args.modes or what not in map(str, args.batch_sizes):
            parser.error(f"--exclude {item}: not a mode of --modes at one of --batch-sizes (MODE@BATCH)")
        else:
            out.add((name, int(what)))
    return sorted(out, key=lambda pair: (pair[0], str(pair[1])))


def cuda_available(device):
    if device == "cpu":
        return False
    try:
        import torch
        return torch.cuda.is_available()
    except ImportError:
        return False
