"""How figures and configurations are written in the summary and on the plots."""
from mlpbench import modes


def fmt_time(seconds):
    if seconds is None:
        return "n/a"
    return f"{seconds * 1e3:.1f} ms" if abs(seconds) < 1 else f"{seconds:.2f} s"


def fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def fmt_bytes(value):
    return "n/a" if value is None else f"{value / 2**20:,.0f} MiB"


def label(config):
    """A configuration's name, its batch size aside: "JAX step (loader) (warm cache)";
    a scan's unroll where it is not 1, and TF32 where it was allowed."""
    text = modes.mode(config.mode).display
    text += f" (unroll {config.unroll})" if config.unroll not in (None, 1) else ""
    text += " (tf32)" if config.precision == "tf32" else ""
    return text + "".join([" (loader)"] * (config.input == "loader")
                          + [" (warm cache)"] * (config.cache == "warm"))
