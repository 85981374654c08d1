"""The section "caches": each configuration's first epoch with a cold and a warm compilation cache."""
from mlpbench.findings import Finding
from mlpbench.formatting import fmt_time, label


def cache_findings(stats):
    out = []
    for c, s in stats.items():
        cold = c._replace(cache="cold")
        if c.cache != "warm" or cold not in stats:
            continue
        k = stats[cold]
        compile_key = "compile_s" if s.compile_s is not None else "jit_compile_s"
        warm_compile, cold_compile = getattr(s, compile_key), getattr(k, compile_key)
        text = (f"{label(cold)}, batch {c.batch_size}: first epoch {fmt_time(k.first)} cold, "
                f"{fmt_time(s.first)} "
                f"with a warm cache ({fmt_time(k.first - s.first)} saved")
        if warm_compile is not None and cold_compile is not None:
            text += f"; compile {fmt_time(cold_compile)} -> {fmt_time(warm_compile)}"
        if s.cache_hits is not None:
            text += f"; {s.cache_hits:g} program(s) read from the cache"
        out.append(Finding(text + ").", figures={
            "configuration": label(cold), "batch_size": c.batch_size, "first_cold_s": k.first,
            "first_warm_s": s.first, "saved_s": k.first - s.first, "compile_cold_s": cold_compile,
            "compile_warm_s": warm_compile, "cache_hits": s.cache_hits}))
    return out
