"""What the per-image vmap costs PyTorch's eager functional mode (`func`), so that the paradigm is
not blamed for it (docs/method.md, "Paradigm and framework"). One process times the same SGD step
three ways: `eager` (the nn.Module step), `func` (predict vmapped over the images, as the trainer
runs it) and `func` with predict applied to the whole batch at once (the vmap removed, the same
numbers). In JAX, jit compiles the vmap away; eager PyTorch pays it at every step. The order of
the three rotates from one timing to the next, so that drift hits all alike. Synthetic data of
MNIST's shapes, on the CPU."""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

import assignment_1TORCH as trainer  # noqa: E402
from mlpbench.model import shared_init  # noqa: E402

TRAIN = 50_000
VARIANTS = ("eager", "func", "func without vmap")


def variants(batch, steps, lr=0.01):
    """name -> a function that runs `steps` steps from the shared start and returns (params, seconds),
    the clock around the steps alone: setting up the start costs the variants different amounts."""
    torch.manual_seed(0)
    images, labels = torch.rand(TRAIN, 784), torch.randint(0, 10, (TRAIN,))
    rows = torch.randint(0, TRAIN, (steps, batch))
    start = shared_init(0)
    model = trainer.MLP()

    def eager():
        trainer.load_shared(model, start)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        t0 = time.perf_counter()
        for idx in rows:
            trainer.train_step(model, optimizer, images[idx], labels[idx])
        return trainer.functional_params(model), time.perf_counter() - t0

    def functional(predict):
        calls = [0]

        def counted(params, x):
            calls[0] += 1
            return predict(params, x)

        def run():
            params = [{k: torch.from_numpy(v) for k, v in layer.items()} for layer in start]
            # loss() looks batched_predict up at each call: swapping it swaps the forward pass only.
            trainer.batched_predict, saved = counted, trainer.batched_predict
            try:
                t0 = time.perf_counter()
                for idx in rows:
                    params, _, _ = trainer.update(params, images[idx], labels[idx], lr)
                seconds = time.perf_counter() - t0
            finally:
                trainer.batched_predict = saved
            assert calls[0] == steps, "the swapped forward pass was not the one that ran"
            calls[0] = 0
            return params, seconds
        return run

    # predict is written for one image, but its matmuls take a batch of rows just as well.
    return dict(zip(VARIANTS, (eager, functional(trainer.batched_predict), functional(trainer.predict)),
                    strict=True))


def check_same_training(results):
    """The three train alike: the vmap's removal changes no number, and eager's step is the same
    algorithm (to float rounding: its sums run in another order)."""
    for name, tolerance in (("func without vmap", {}), ("eager", {"rtol": 1e-4, "atol": 1e-5})):
        for got, want in zip(results[name], results["func"], strict=True):
            for key in want:
                torch.testing.assert_close(got[key], want[key], **tolerance)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 1024], help="default: 64 1024")
    parser.add_argument("--steps", type=int, default=200, help="steps per timing (default: 200)")
    parser.add_argument("--repeats", type=int, default=5, help="timings of each variant (default: 5)")
    args = parser.parse_args(argv)
    for batch in args.batch_sizes:
        runs = variants(batch, args.steps)
        check_same_training({name: run()[0] for name, run in runs.items()})  # also the warm-up
        times = {name: [] for name in VARIANTS}
        for repeat in range(args.repeats):
            for name in VARIANTS[repeat % 3:] + VARIANTS[:repeat % 3]:
                times[name].append(runs[name]()[1] / args.steps)
        ms = {name: statistics.median(t) * 1e3 for name, t in times.items()}
        extra, vmap = ms["func"] - ms["eager"], ms["func"] - ms["func without vmap"]
        share = f" ({100 * vmap / extra:.0f}% of it)" if extra > 0 else ""
        print(f"batch {batch}: ms per step (median of {args.repeats}): eager {ms['eager']:.3f}, "
              f"func {ms['func']:.3f}, func without vmap {ms['func without vmap']:.3f}; "
              f"func - eager = {extra:+.3f} ms, of which the vmap {vmap:+.3f} ms{share}")


if __name__ == "__main__":
    main()
