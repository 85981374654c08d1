"""What the per-image vmap costs PyTorch's eager functional mode (`func`), so that the paradigm is
not blamed for it (docs/method.md, "Paradigm or framework"). One process times the same SGD step
three ways, interleaved so that drift hits all three alike: `eager` (the nn.Module step),
`func` (predict vmapped over the images, as the trainer runs it) and `func` with predict applied
to the whole batch at once (the vmap removed, the same numbers). In JAX, jit compiles the vmap
away; eager PyTorch pays it at every step. Synthetic data of MNIST's shapes, on the CPU."""
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


def variants(batch, steps, lr=0.01):
    """name -> a function that runs `steps` steps from the shared start and returns the params."""
    torch.manual_seed(0)
    images, labels = torch.rand(TRAIN, 784), torch.randint(0, 10, (TRAIN,))
    rows = torch.randint(0, TRAIN, (steps, batch))

    def eager():
        model = trainer.MLP()
        trainer.load_shared(model, shared_init(0))
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        totals = torch.zeros(2)
        for idx in rows:
            optimizer.zero_grad(set_to_none=True)
            trainer.train_step(model, optimizer, images, labels, idx, totals)
        return trainer.functional_params(model)

    def functional(predict):
        def run():
            # loss() looks batched_predict up at each call: swapping it swaps the forward pass only.
            trainer.batched_predict, saved = predict, trainer.batched_predict
            try:
                params = [{k: torch.from_numpy(v) for k, v in layer.items()} for layer in shared_init(0)]
                totals = torch.zeros(2)
                for idx in rows:
                    params, totals = trainer.func_train_step(params, totals, images, labels, idx, lr)
                return params
            finally:
                trainer.batched_predict = saved
        return run

    # predict is written for one image, but its matmuls take a batch of rows just as well.
    return {"eager": eager, "func": functional(trainer.batched_predict),
            "func, no vmap": functional(trainer.predict)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 1024], help="default: 64 1024")
    parser.add_argument("--steps", type=int, default=200, help="steps per timing (default: 200)")
    parser.add_argument("--repeats", type=int, default=5, help="timings of each variant (default: 5)")
    args = parser.parse_args(argv)
    for batch in args.batch_sizes:
        runs = variants(batch, args.steps)
        # Warm-up, and the check that removing the vmap changes no number.
        results = {name: run() for name, run in runs.items()}
        for got, want in zip(results["func, no vmap"], results["func"], strict=True):
            for key in want:
                torch.testing.assert_close(got[key], want[key])
        times = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, run in runs.items():
                start = time.perf_counter()
                run()
                times[name].append((time.perf_counter() - start) / args.steps)
        eager, func, batched = (statistics.median(times[n]) * 1e3 for n in runs)
        extra, vmap = func - eager, func - batched
        share = f" ({100 * vmap / extra:.0f}% of it)" if extra > 0 else ""
        print(f"batch {batch}: ms per step (median of {args.repeats}): eager {eager:.3f}, func {func:.3f}, "
              f"func without vmap {batched:.3f}; func - eager = {extra:+.3f} ms, of which the vmap "
              f"{vmap:+.3f} ms{share}")


if __name__ == "__main__":
    main()
