"""The controller's figures, drawn from the runs' records: training_curves.png, epoch_times.png
and step_split.png, one function each."""
import math
import statistics

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from mlpbench.aggregate import configs, representative, steady_time, time_to_target  # noqa: E402
from mlpbench.fileio import write_atomic  # noqa: E402
from mlpbench.formatting import label  # noqa: E402

MARKERS = {"jax": "o", "pytorch": "x"}


def curve_configs(groups):
    """One curve per configuration, batch and cache aside: warm-cache runs train exactly as cold ones."""
    chosen = {}
    for c in groups:
        key = c.key_except("batch_size", "cache")
        if key not in chosen or c.cache == "cold":
            chosen[key] = c
    return chosen


def styles(configs_):
    """A colour and a legend entry per configuration (its batch size aside)."""
    colors = {c: plt.get_cmap("tab10")(i % 10) for i, c in enumerate(configs_)}
    handles = [Line2D([], [], color=colors[c], lw=2, marker=MARKERS[c.framework], label=label(c))
               for c in configs_]
    return colors, handles


def training_curves(runs, path, target):
    groups = configs(runs)
    if not groups:
        return
    batches = sorted({c.batch_size for c in groups})
    chosen = curve_configs(groups)
    names = list(chosen)
    colors, handles = styles(list(chosen.values()))
    colors = {key: colors[chosen[key]] for key in names}
    # Identical curves lie on top of each other: earlier configurations are drawn wider,
    # so every one stays visible as a band around the next.
    widths = {c: 1.2 + 1.6 * (len(names) - 1 - i) for i, c in enumerate(names)}
    seed = next(iter(groups.values()))[0].spec.seed
    height = 3.4 * len(batches) + 1.0
    fig, axes = plt.subplots(len(batches), 2, figsize=(12, height), squeeze=False)
    for row, batch in zip(axes, batches, strict=True):
        for key in names:
            config = chosen[key]._replace(batch_size=batch)
            if config not in groups:
                continue
            run = representative(groups[config], seed)
            recs = run.epochs
            x = [r["epoch"] for r in recs]
            style = dict(color=colors[key], lw=widths[key], marker=MARKERS[config.framework], markersize=5,
                         alpha=0.85)
            for ax, metric in zip(row, ("loss", "acc"), strict=True):
                ax.plot(x, [r[f"train_{metric}"] for r in recs], "-", **style)
                ax.plot(x, [r[f"val_{metric}"] for r in recs], "--", **style)
            reached = time_to_target(run, target)
            if reached:
                epoch = reached[1]
                # Stars of runs that reach the target in the same epoch stack: earlier ones drawn larger.
                row[1].plot([epoch], [recs[epoch - 1]["val_acc"]], marker="*",
                            markersize=22 - 4 * (names.index(key) % 3),
                            color=colors[key], markeredgecolor="black", zorder=5, linestyle="none")
        row[1].axhline(target, color="gray", lw=1, ls=":")
        row[0].set(title=f"Batch size {batch}: cross-entropy loss", xlabel="epoch", ylabel="loss (nats)")
        row[1].set(title=f"Batch size {batch}: accuracy", xlabel="epoch", ylabel="accuracy (fraction)")
        for ax in row:
            ax.grid(alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles += [Line2D([], [], color="gray", ls="-", label="train"),
                Line2D([], [], color="gray", ls="--", label="validation"),
                Line2D([], [], color="gray", marker="*", markersize=12, ls=":", markeredgecolor="black",
                       label=f"first reaches val acc {target:g}")]
    fig.suptitle(f"JAX vs PyTorch training curves on MNIST (seed {seed}, first repeat); overlapping lines = "
                 "identical training", y=1 - 0.12 / height)
    fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 5), frameon=False,
               bbox_to_anchor=(0.5, 1 - 0.4 / height))
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / height - legend_height(fig, handles, 5)))
    save(fig, path)


def legend_height(fig, handles, columns):
    """The share of the figure's height that a figure legend of these entries takes, at most
    `columns` to a row: 0.2 inch a row."""
    return 0.2 * -(-len(handles) // min(columns, len(handles))) / fig.get_figheight()


def epoch_band(runs):
    """Per epoch, over a configuration's runs: (epochs, median, fastest, slowest) times."""
    n = min(len(r.epochs) for r in runs)
    times = [[r.epochs[e]["epoch_time_s"] for r in runs] for e in range(n)]
    return (list(range(1, n + 1)), [statistics.median(t) for t in times], [min(t) for t in times],
            [max(t) for t in times])


def label_log_axis(ax):
    """Readable values on a log y axis. Over a decade or more, the decades and the 2s and 5s
    between them (enough to read a value, few enough not to collide). Within one decade, no
    decade may lie inside it: evenly spaced round values (for epochs of 0.6 s to 1.7 s: 0.6, 0.8,
    ..., 1.6) and every multiple of the power of ten between them (0.7, 0.9)."""
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    low, high = ax.get_ylim()
    within_a_decade = math.log10(high / low) < 1
    if within_a_decade:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 5, 10]))
    labelled = range(1, 10) if within_a_decade else (2, 5)
    ax.yaxis.set_minor_formatter(FuncFormatter(
        lambda value, _: f"{value:g}" if round(value / 10 ** math.floor(math.log10(value))) in labelled
                         else ""))


def epoch_times(runs, path):
    groups = configs(runs)
    if not groups:
        return
    batches = sorted({c.batch_size for c in groups})
    # One colour per configuration across batch sizes, named by its first configuration.
    firsts = {}
    for c in groups:
        firsts.setdefault(c.key_except("batch_size"), c)
    colors, handles = styles(list(firsts.values()))
    colors = {key: colors[c] for key, c in firsts.items()}
    fig, (ax_time, ax_rate) = plt.subplots(1, 2, figsize=(13, 5.5))
    linestyles = dict(zip(batches, ["-", "--", ":", "-."] * 4, strict=False))
    for config, repeats in groups.items():
        epochs, median, low, high = epoch_band(repeats)
        style = dict(color=colors[config.key_except("batch_size")])
        ax_time.plot(epochs, median, linestyles[config.batch_size], marker=MARKERS[config.framework], **style)
        if len(repeats) > 1:
            ax_time.fill_between(epochs, low, high, alpha=0.2, linewidth=0, **style)
    ax_time.set(yscale="log", xlabel="epoch", ylabel="epoch time (s, log scale)",
                title="Every epoch's time, epoch 1 with the JIT\n(several runs: their median, "
                      "shaded from the fastest to the slowest)")
    ax_time.xaxis.set_major_locator(MaxNLocator(integer=True))
    label_log_axis(ax_time)
    every_rate = []
    for key, first in firsts.items():
        rates = []
        for batch in batches:
            per_run = [r.start["steps_per_epoch"] * batch / steady_time(r)
                       for r in groups.get(first._replace(batch_size=batch), []) if steady_time(r)]
            if per_run:
                rates.append((batch, statistics.median(per_run), min(per_run), max(per_run)))
        if rates:
            xs, ys, lo, hi = zip(*rates, strict=True)
            every_rate += lo + hi
            ax_rate.errorbar(xs, ys, yerr=[[y - l for y, l in zip(ys, lo, strict=True)],
                                           [h - y for y, h in zip(ys, hi, strict=True)]],
                             color=colors[key], marker=MARKERS[first.framework], capsize=3,
                             label=label(first))
    ax_rate.set(xscale="log", xlabel="batch size (log scale)", ylabel="training samples / s",
                title="Steady-state throughput (median of epochs 2..E; bars: the runs' range)")
    ax_rate.set_xticks(batches, [str(b) for b in batches])
    ax_rate.minorticks_off()
    if every_rate and max(every_rate) > 10 * min(every_rate):  # several widths: linear flattens the widest
        ax_rate.set(yscale="log", ylabel="training samples / s (log scale)")
        label_log_axis(ax_rate)
    else:
        ax_rate.set_ylim(bottom=0)
    for ax in (ax_time, ax_rate):
        ax.grid(alpha=0.3, which="both")
    # One legend for both panels, below them: inside, with many configurations it hides the lines.
    entries = handles + [Line2D([], [], color="gray", ls=linestyles[b], label=f"batch {b}") for b in batches]
    fig.legend(handles=entries, loc="lower center", ncol=min(4, len(entries)), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.05 / fig.get_figheight() + legend_height(fig, entries, 4), 1, 1))
    save(fig, path)


def step_split(configurations, path):
    """step_split.png: per batch size, a bar per configuration, its steady step split into the
    matrix products timed alone and the rest (summary.json's configurations, their step_split). A
    step faster than its products alone is drawn as its products with a mark at the step."""
    split = [c for c in configurations if c.get("step_split")]
    if not split:
        return
    batches = sorted({c["batch_size"] for c in split})
    fig, axes = plt.subplots(len(batches), 1, figsize=(9, 0.9 + 0.45 * len(split) + 0.8 * len(batches)),
                             squeeze=False)
    for ax, batch in zip(axes[:, 0], batches, strict=True):
        rows = [c for c in split if c["batch_size"] == batch]
        names = [c["label"] for c in rows]
        products = [1e6 * c["step_split"]["products_s"] for c in rows]
        steps = [1e6 * c["step_split"]["step_s"] for c in rows]
        rests = [max(s - p, 0.0) for s, p in zip(steps, products, strict=True)]
        y = range(len(rows))
        ax.barh(y, products, color="tab:blue", label="matrix products, timed alone")
        ax.barh(y, rests, left=products, color="tab:orange", hatch="//", label="the rest: everything else")
        below = [(s, i) for i, (s, p) in enumerate(zip(steps, products, strict=True)) if s < p]
        if below:
            ax.plot([s for s, _ in below], [i for _, i in below], "k|", markersize=18, mew=2,
                    label="step, faster than its products alone")
        for i, (s, c) in enumerate(zip(steps, rows, strict=True)):
            share = c["step_split"]["rest_share"]
            ax.annotate(f"{s:,.0f} µs, rest {100 * share:.0f}%", (max(s, products[i]), i),
                        xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
        ax.set_yticks(list(y), names)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.35 * max(max(steps), max(products)))
        ax.set_xlabel("µs per steady step")
        ax.set_title(f"Batch {batch}: where a step's time goes")
        ax.grid(axis="x", alpha=0.3)
    handles, names = axes[0, 0].get_legend_handles_labels()
    for ax in axes[1:, 0]:  # a step beating its products may show at one batch size only
        for h, n in zip(*ax.get_legend_handles_labels(), strict=True):
            if n not in names:
                handles, names = [*handles, h], [*names, n]
    fig.legend(handles, names, loc="lower center", ncol=len(names), fontsize=8)
    fig.tight_layout(rect=(0, 0.35 / fig.get_figheight(), 1, 1))
    save(fig, path)


def save(fig, path):
    write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)
