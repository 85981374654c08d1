"""The section "loader": torch's DataLoader against device-resident batches, per steady epoch,
step and image."""
from mlpbench.comparison import comparable, compare
from mlpbench.findings import Finding
from mlpbench.formatting import fmt_time, label


def loader_findings(stats):
    out = []
    for c, s in stats.items():
        device = c._replace(input="device")
        if (c.input != "loader" or device not in stats or s.steady is None or stats[device].steady is None
                or not comparable(c, device, stats)):
            continue
        d, extra = stats[device], s.steady - stats[device].steady
        weighed = compare(c, device, stats)
        sides = {device: "device-resident faster", c: "DataLoader faster"}
        verdict = sides.get(weighed.faster, weighed.verdict)
        out.append(Finding(f"Batch {c.batch_size}, {label(device)}: DataLoader input {fmt_time(s.steady)} "
                           f"vs device-resident {fmt_time(d.steady)} per steady epoch: "
                           f"{'+' if extra >= 0 else '-'}{fmt_time(abs(extra))} "
                           f"per epoch, {extra / s.steps * 1e3:+.2f} ms per step ({s.steps} steps), "
                           f"{extra / s.samples * 1e6:+.1f} µs per image; {weighed.ratio_of(c):.2f}x the "
                           f"device-resident time ({verdict}: {weighed.evidence()}).",
                           (weighed,), {"batch_size": c.batch_size, "extra_s_per_epoch": extra,
                                        "extra_ms_per_step": extra / s.steps * 1e3,
                                        "extra_us_per_image": extra / s.samples * 1e6}))
    return out
