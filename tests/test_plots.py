"""epoch_times.png: medians, bands, axes and legends."""

from support.fabricate import make_run


def test_epoch_times_draw_each_configurations_median_and_band(monkeypatch, tmp_path):
    from mlpbench import plots
    drawn = {}
    monkeypatch.setattr(plots, "save", lambda fig, path: drawn.setdefault("fig", fig))
    runs = [make_run("jax", "step", repeat=r, times=t) for r, t in
            enumerate([(2.0, 1.0, 1.2), (3.0, 0.8, 1.0), (2.5, 1.4, 0.9)], start=1)]
    runs.append(make_run("pytorch", "eager", times=(1.5, 1.1, 1.1)))
    assert plots.epoch_band(runs[:3]) == ([1, 2, 3], [2.5, 1.0, 1.0], [2.0, 0.8, 0.9], [3.0, 1.4, 1.2])
    plots.epoch_times(runs, tmp_path / "epoch_times.png")
    ax_time = drawn["fig"].axes[0]
    lines = [line for line in ax_time.get_lines() if len(line.get_xdata()) == 3]
    assert sorted(tuple(line.get_ydata()) for line in lines) == [(1.5, 1.1, 1.1), (2.5, 1.0, 1.0)]
    bands = ax_time.collections
    assert len(bands) == 1  # the configuration with three runs; one run draws no band
    edge = {round(float(y), 6) for _, y in bands[0].get_paths()[0].vertices}
    assert edge == {2.0, 0.8, 0.9, 3.0, 1.4, 1.2}  # fastest and slowest of each epoch


def test_epoch_time_axis_is_readable_when_it_spans_less_than_a_decade(monkeypatch, tmp_path):
    from mlpbench import plots
    drawn = {}
    monkeypatch.setattr(plots, "save", lambda fig, path: drawn.setdefault("fig", fig))
    runs = [make_run("jax", "step", times=(1.7, 0.7, 0.7)),
            make_run("pytorch", "eager", times=(0.6, 0.6, 0.6))]
    plots.epoch_times(runs, tmp_path / "epoch_times.png")
    fig = drawn["fig"]
    fig.canvas.draw()
    axis = fig.axes[0].yaxis
    labels = [t.get_text() for t in axis.get_majorticklabels() + axis.get_minorticklabels()
              if t.get_text() and t.get_visible()]
    low, high = fig.axes[0].get_ylim()
    shown = [float(text) for text in labels if low <= float(text) <= high]
    assert len(shown) >= 3 and any(1 < v < 1.7 for v in shown), shown  # more than "1" to read by
    # Over several decades only the 2s and 5s between them, or the labels collide.
    drawn.clear()
    plots.epoch_times([make_run("jax", "step", times=(20.0, 0.1, 0.1)), runs[1]], tmp_path / "e.png")
    fig = drawn["fig"]
    fig.canvas.draw()
    minor = [t.get_text() for t in fig.axes[0].yaxis.get_minorticklabels() if t.get_text()]
    assert minor and {text.strip("0.")[0] for text in minor} <= {"2", "5"}, minor


def test_epoch_times_with_many_models_put_the_legend_below_the_panels_and_rates_on_a_log_axis(
        monkeypatch, tmp_path):
    from mlpbench import plots
    drawn = {}
    monkeypatch.setattr(plots, "save", lambda fig, path: drawn.setdefault("fig", fig))
    runs = [make_run(fw, mode, hidden=(w, w), times=(t + 1, t, t))
            for w, t in ((128, 0.4), (512, 1.3), (2048, 9.5))
            for fw, mode in (("jax", "step"), ("pytorch", "eager"))]
    plots.epoch_times(runs, tmp_path / "epoch_times.png")
    fig = drawn["fig"]
    ax_time, ax_rate = fig.axes
    assert ax_time.get_legend() is None and ax_rate.get_legend() is None and len(fig.legends) == 1
    assert len(fig.legends[0].get_texts()) == 7  # six configurations and one batch size
    fig.canvas.draw()
    assert fig.legends[0].get_window_extent().y1 < min(ax.get_window_extent().y0 for ax in fig.axes)
    assert ax_rate.get_yscale() == "log"  # widest and narrowest rates 24x apart: linear would flatten one
    drawn.clear()
    plots.epoch_times(runs[:2], tmp_path / "epoch_times.png")
    assert drawn["fig"].axes[1].get_yscale() == "linear" and drawn["fig"].axes[1].get_ylim()[0] == 0
