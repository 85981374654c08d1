"""How figures and configurations are written in the summary and on the plots."""
from mlpbench import modes
from mlpbench.model import HIDDEN as DEFAULT_HIDDEN
from mlpbench.model import layer_sizes


def fmt_time(seconds):
    if seconds is None:
        return "n/a"
    if abs(seconds) < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    return f"{seconds * 1e3:.1f} ms" if abs(seconds) < 1 else f"{seconds:.2f} s"


def trend(values):
    """Which way a sequence moves: "falls", "rises" or "does not move one way"."""
    steps = [b - a for a, b in zip(values, values[1:], strict=False)]
    if all(d < 0 for d in steps):
        return "falls"
    return "rises" if all(d > 0 for d in steps) else "does not move one way"


def fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def fmt_bytes(value):
    return "n/a" if value is None else f"{value / 2**20:,.0f} MiB"


def width_note(hidden):
    """The model where it is not the default 784-512-512-10: ", width 128", ", hidden 300x100"."""
    if tuple(hidden) == DEFAULT_HIDDEN:
        return ""
    if len(hidden) == 2 and hidden[0] == hidden[1]:
        return f", width {hidden[0]}"
    return f", hidden {'x'.join(map(str, hidden))}"


def precision_note(precision):
    return " (tf32)" if precision == "tf32" else ""


def setting_note(precision, hidden):
    """What a finding's runs share beyond the batch size, where it is not the default."""
    return width_note(hidden) + precision_note(precision)


def model_name(hidden):
    """784-512-512-10."""
    return "-".join(map(str, layer_sizes(hidden)))


def label(config, model=True):
    """A configuration's name, its batch size aside: "JAX step (loader) (warm cache)"; the
    model's width where it is not 512 (unless a table gives it a column of its own), a scan's
    unroll where it is not 1, TF32, and the thread count where --threads set it."""
    text, model_note = modes.mode(config.mode).display, width_note(config.hidden)
    text += f" ({model_note.removeprefix(', ')})" if model and model_note else ""
    text += f" (unroll {config.unroll})" if config.unroll not in (None, 1) else ""
    text += " (tf32)" if config.precision == "tf32" else ""
    return text + "".join([" (loader)"] * (config.input == "loader")
                          + [" (warm cache)"] * (config.cache == "warm")
                          + [f" (arm {config.arm})"] * bool(config.arm)
                          + [f" ({threads_text(config.threads)})"] * bool(config.threads))


def threads_text(n):
    return f"{n} thread" + "s" * (n != 1)


def words(setting):
    """A setting as the command line gave it: one value, or several."""
    return " ".join(map(str, setting)) if isinstance(setting, list) else str(setting)


def run_label(spec):
    """One run as the progress line, run_meta.json and every refusal name it: its configuration's
    label, batch size, seed and repeat ("JAX step, batch 64, seed 0, repeat 1")."""
    return (f"{label(spec)}, batch {spec.batch_size}, "
            + ("filling the cache" if spec.purpose == "fill" else f"seed {spec.seed}, repeat {spec.repeat}"))
