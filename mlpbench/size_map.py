"""size_map.png: for every (width, batch) cell, PyTorch's steady epoch over JAX's, on a diverging
scale centred on 1, and each framework's fraction of its measured matmul peak (docs/design.md,
"Outputs"). Drawn when more than one width ran."""
import math

import matplotlib.pyplot as plt
from matplotlib.colors import LogNorm, TwoSlopeNorm

from mlpbench.aggregate import all_stats
from mlpbench.comparison import NOT_ENOUGH, WITHIN_NOISE
from mlpbench.findings.widths import cells, width
from mlpbench.modes import FRAMEWORKS
from mlpbench.plots import save  # also chooses matplotlib's Agg backend


def cell_text(cell):
    """The ratio, and its comparison's verdict where it is not "faster": '~' within noise, '?' not
    enough evidence, '(1 run)' where a single run a side gives no interval at all."""
    text = f"{cell.ratio:.2f}x"
    if cell.interval is None:
        return text + "\n(1 run)"
    marks = {WITHIN_NOISE: "\n~ within noise", NOT_ENOUGH: "\n? not enough evidence"}
    return text + marks.get(cell.verdict, "")


TICKS = (1 / 4, 1 / 3, 1 / 2, 2 / 3, 4 / 5, 1, 5 / 4, 3 / 2, 2, 3, 4)


def ratio_panel(ax, grid, axes_, title, span):
    """log2 of each cell's ratio on one diverging scale: red where JAX is faster, blue where
    PyTorch is."""
    widths, batches = axes_
    log2 = [[math.log2(grid[(w, b)].ratio) if (w, b) in grid else float("nan") for b in batches]
            for w in widths]
    image = ax.imshow(log2, cmap="RdBu_r", norm=TwoSlopeNorm(0, -span, span), aspect="auto")
    for i, w in enumerate(widths):
        for j, b in enumerate(batches):
            if (w, b) in grid:
                dark = abs(log2[i][j]) > 0.6 * span
                ax.text(j, i, cell_text(grid[(w, b)]), ha="center", va="center", fontsize=9,
                        color="white" if dark else "black")
    ax.set_title(title, fontsize=10)
    return image


def peak_panel(ax, stats, framework, widths, batches):
    """The framework's fraction of its measured matmul peak, its fastest mode per cell."""
    pct = [[max((s.peak_pct for c, s in stats.items() if c.framework == framework and c.batch_size == b
                 and width(c) == w and s.peak_pct), default=float("nan")) for b in batches] for w in widths]
    ax.imshow(pct, cmap="Greens", norm=LogNorm(1, 100), aspect="auto")
    for i in range(len(widths)):
        for j in range(len(batches)):
            if not math.isnan(pct[i][j]):
                ax.text(j, i, f"{pct[i][j]:.1f}%", ha="center", va="center", fontsize=9,
                        color="white" if pct[i][j] > 30 else "black")
    ax.set_title(f"{FRAMEWORKS[framework]}: % of its fp32 matmul peak\n(its fastest mode)", fontsize=10)


def size_map(runs, path, peaks):
    _, stats = all_stats(runs, peaks, target=1.0)
    widths = sorted({width(c) for c in stats})
    if len(widths) < 2:
        return
    batches = sorted({c.batch_size for c in stats})
    default, fastest = cells(stats), cells(stats, pair=None)
    panels = [(default, "default modes: PyTorch eager / JAX step")]
    if any(default.get(k) is None or (c.jax, c.pytorch) != (default[k].jax, default[k].pytorch)
           for k, c in fastest.items()):
        modes = sorted({f"{c.jax.mode}/{c.pytorch.mode}" for c in fastest.values()})
        panels.append((fastest, f"fastest of each: PyTorch / JAX\n({', '.join(modes)})"))
    span = max([abs(math.log2(c.ratio)) for grid, _ in panels for c in grid.values()] + [0.25])
    size = (3.6 * (len(panels) + 2) + 1.2, 1.1 * len(widths) + 2.8)
    fig, axes = plt.subplots(1, len(panels) + 2, figsize=size, squeeze=False, sharey=True)
    axes = axes[0]
    for ax, (grid, title) in zip(axes, panels, strict=False):
        image = ratio_panel(ax, grid, (widths, batches), title, span)
    bar = fig.colorbar(image, ax=list(axes[:len(panels)]), location="bottom", fraction=0.08, pad=0.2)
    ticks = [t for t in TICKS if abs(math.log2(t)) <= span]
    bar.set_ticks([math.log2(t) for t in ticks], labels=[f"{t:.2g}x" for t in ticks])
    bar.set_label("PyTorch's steady epoch / JAX's\nabove 1 (red): JAX is faster; below 1 (blue): PyTorch is")
    for ax, framework in zip(axes[len(panels):], ("jax", "pytorch"), strict=True):
        peak_panel(ax, stats, framework, widths, batches)
    for ax in axes:
        ax.set_xticks(range(len(batches)), [str(b) for b in batches])
        ax.set_xlabel("batch size")
    axes[0].set_yticks(range(len(widths)), [f"784-{w}-{w}-10" for w in widths])
    # Two lines: placed above the panels' own titles (bbox_inches="tight" keeps it in the file).
    fig.suptitle("Where the framework stops mattering: steady-state time ratio per model width and batch "
                 "size\n(unmarked: one is faster; ~ within noise; ? or (1 run): not enough evidence to say)",
                 fontsize=11, y=1.04)
    save(fig, path)
