"""The warnings that come before every finding: runs on different kinds of device, runs that
shared the machine or whose epochs spread, and rates above the measured matmul peak."""
from mlpbench.aggregate import BUSY_CORES, NOISY_EPOCHS, busy_cores, config_of, configs, is_busy
from mlpbench.formatting import fmt, label


def device_warnings(stats):
    kinds = {}
    for config, s in stats.items():
        for device in s.devices:
            kinds.setdefault(device, []).append(label(config))
    if len(kinds) < 2:
        return []
    where = "; ".join(f"on {d}: {', '.join(dict.fromkeys(names))}" for d, names in sorted(kinds.items()))
    return [f"WARNING: these runs did not all run on the same kind of device ({where}). Speeds across "
            "devices are not compared: those pairs are left out of every ratio below."]


def peak_warnings(stats):
    """A training rate above its framework's measured matmul peak: the probe under-read the device
    (a slow moment of a shared machine), and every "% of matmul peak" of that framework reads high."""
    # The probe multiplies in strict fp32: a TF32 configuration may pass it fairly.
    over = [(c, s) for c, s in stats.items()
            if s.peak_pct is not None and s.peak_pct > 100 and c.precision != "tf32"]
    if not over:
        return []
    where = "; ".join(f"{label(c)}, batch {c.batch_size}: {s.peak_pct:.0f}%" for c, s in over)
    return [f"WARNING: training rates above the measured matmul peak ({where}): the probe under-read this "
            "device, so its framework's \"% of matmul peak\" figures read high."]


def noise_warnings(runs, stats, cpu_count):
    out = []
    busy = [r for rs in configs(runs).values() for r in rs if is_busy(r, cpu_count)]
    if busy:
        worst = max(busy, key=busy_cores)
        out.append(f"WARNING: {len(busy)} run(s) shared the machine with other work (other processes kept "
                   f"more than {BUSY_CORES:g} of a core busy, or without that measure the load average "
                   f"exceeded half the {cpu_count} cores; worst: {label(config_of(worst))}, seed "
                   f"{worst.spec.seed}, repeat {worst.spec.repeat}: {fmt(worst.other_cores, '.2f')} cores, "
                   f"1-min load {fmt(worst.load_avg_1m, '.2f')} at its start). Their times are suspect, "
                   "and so is every speed finding that rests on them: each says so.")
    noisy = [(c, s) for c, s in stats.items() if s.noisy]
    if noisy:
        out.append(f"WARNING: noisy measurements: within a run, the steady epochs of {len(noisy)} "
                   f"configuration(s) spread more than {100 * NOISY_EPOCHS:.0f}% of their median "
                   "(interquartile range, the largest of their runs): " + "; ".join(
                       f"{label(c)}, batch {c.batch_size}: {100 * s.epoch_spread:.0f}%" for c, s in noisy)
                   + ". The machine's speed moved during these runs; each speed finding resting on them "
                   "says so.")
    return out
