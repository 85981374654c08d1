"""A stand-in trainer for the controller's tests. FAKE_BEHAVIOURS (JSON) names what the run
of a batch size does: "crash", "oom" (killed by SIGKILL, as the out-of-memory killer does),
"hang", "garbage" (a line that is not a record), "ctrl-c" or "sigterm" (sent to its parent);
any other batch size succeeds. Steady epochs take a different time in every process."""
import argparse
import json
import os
import random
import signal
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--batch-size", type=int)
parser.add_argument("--epochs", type=int)
parser.add_argument("--mode")
parser.add_argument("--seed", type=int)
parser.add_argument("--input")
parser.add_argument("--workers", type=int)
parser.add_argument("--compile-cache")
parser.add_argument("--precision", default="highest")
parser.add_argument("--unroll", type=int)
parser.add_argument("--threads", type=int)
parser.add_argument("--probe", nargs="?", const="matmul")
parser.add_argument("--probe-batches", type=int, nargs="+")
parser.add_argument("--hidden", type=int, nargs="+", default=[512, 512])
args, _ = parser.parse_known_args()
framework = os.path.basename(sys.argv[0]).split("_")[0]
behaviour = json.loads(os.environ.get("FAKE_BEHAVIOURS", "{}")).get(str(args.batch_size), "succeed")
if args.probe == "products":
    # Each product of a step at 100 GFLOP/s and a 1 µs dispatch floor (FAKE_PRODUCTS=fail: no output).
    if os.environ.get("FAKE_PRODUCTS") == "fail":
        sys.exit(1)
    sizes = [784, *args.hidden, 10]
    macs = [m * n for m, n in zip(sizes[:-1], sizes[1:], strict=True)]
    for batch in args.probe_batches or [args.batch_size]:
        flops = 2 * batch * (2 * sum(macs) + sum(macs[1:]))
        print(json.dumps({"event": "products", "framework": framework, "device_name": "fake",
                          "batch_size": batch, "hidden": args.hidden, "precision": args.precision,
                          "threads": args.threads, "flops": flops, "products": [],
                          "dispatch_s": 1e-6, "products_s": flops / 100e9, "calls_s": flops / 100e9,
                          "program_s": None}))
    sys.exit(0)
if args.probe:
    # FAKE_PROBES (JSON) names what the controller's n-th probe does, counted in FAKE_PROBE_COUNT:
    # "fail" (no output) or "ctrl-c"; any other probe reads 100 GFLOP/s, or 100 + n with "drift".
    plan = json.loads(os.environ.get("FAKE_PROBES", "[]"))
    n = 0
    if "FAKE_PROBE_COUNT" in os.environ:
        with open(os.environ["FAKE_PROBE_COUNT"], "a+") as f:
            f.seek(0)
            n = len(f.read())
            f.write("x")
    what = plan[n] if n < len(plan) else "succeed"
    if what == "ctrl-c":
        os.kill(os.getppid(), signal.SIGINT)
        time.sleep(120)
    if what != "fail":
        gflops = 100.0 + n * (what == "drift")
        print(json.dumps({"event": "probe", "framework": framework, "gflops": gflops, "matmul_n": 64}))
    sys.exit(0)


def emit(record):
    print(json.dumps(record), flush=True)


emit({"event": "start", "framework": framework, "framework_version": "0", "mode": args.mode,
      "batch_size": args.batch_size, "epochs": args.epochs, "lr": 0.01, "seed": args.seed, "init": "shared",
      "precision": args.precision, "device": "cpu", "device_name": "fake", "train_samples": 1000,
      "steps_per_epoch": 1000 // args.batch_size, "input": args.input, "workers": args.workers,
      "compile_cache": args.compile_cache, "unroll": args.unroll if args.mode == "scan" else None,
      "threads": args.threads or 2, "pid": os.getpid(),
      "env": {k: v for k, v in os.environ.items() if k.startswith("FAKE_ARM")}})
if behaviour == "oom":  # what the system's out-of-memory killer does: no message, SIGKILL
    os.kill(os.getpid(), signal.SIGKILL)
if behaviour == "crash":
    print("fake trainer: boom", file=sys.stderr)
    sys.exit(3)
if behaviour == "hang":
    with open(os.environ["FAKE_PID_FILE"], "w") as f:
        f.write(str(os.getpid()))
    time.sleep(120)
if behaviour == "garbage":
    print("this is not a record", flush=True)
    sys.exit(0)
if behaviour in ("ctrl-c", "sigterm"):
    os.kill(os.getppid(), signal.SIGINT if behaviour == "ctrl-c" else signal.SIGTERM)
    time.sleep(120)
steady = random.Random(os.getpid()).uniform(0.4, 0.8)
for epoch in range(1, args.epochs + 1):
    emit({"event": "epoch", "framework": framework, "mode": args.mode, "batch_size": args.batch_size,
          "epoch": epoch, "epoch_time_s": 2.0 if epoch == 1 else steady + 0.01 * epoch,
          "first_step_s": 1.5 if epoch == 1 else None, "train_loss": 1.0 / epoch, "train_acc": 0.5,
          "val_loss": 1.1 / epoch, "val_acc": 0.8 + 0.01 * epoch + 0.001 * args.seed, "samples_per_s": 1000.0,
          "eval_time_s": 0.1})
emit({"event": "end", "test_loss": 0.3, "test_acc": 0.9, "total_time_s": 9.0})
