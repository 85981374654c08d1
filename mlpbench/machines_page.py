"""docs/machines.md: the machines the project's results come from, side by side, written from the
run folders committed under docs/runs/ (docs/design.md, "Machines side by side"). One section per
CPU (or GPU): its facts as the runs recorded them, JAX against PyTorch per run, the thread sweep,
the width map, and the saved comparisons (compare.json) measured on it; then the sections quoted
from pasted summaries (docs/runs/quoted/*.md) for machines no committed run comes from yet.
`python -m mlpbench.rebuild` writes it."""
import json
from pathlib import Path

from mlpbench import cli
from mlpbench.compare_folders import SavedError, check_schema, read_summary
from mlpbench.compare_folders import shown as listed
from mlpbench.modes import FRAMEWORKS


def vector_isa(extensions):
    extensions = set(extensions or [])
    return ("AVX-512" if "avx512f" in extensions else "AVX2" if "avx2" in extensions
            else "no AVX2" if extensions else "ISA not recorded")


def machine_name(setup):
    gpu = f", GPU {setup['gpu']}" if setup.get("gpu") else ""
    ident = setup.get("cpu_id")
    family = f" (cpu family {ident['family']}, model {ident['model']})" if ident else ""
    return f"{setup['cpu']}{family}, {setup['cores']} cores, {vector_isa(setup['cpu_extensions'])}{gpu}"


def machine_key(setup):
    """What tells machines apart: the CPU's name, cores, extensions and GPU, and its family and
    model where recorded (two EPYCs share a name and AVX-512: Zen 4 is family 25, Zen 5 26)."""
    ident = setup.get("cpu_id")
    return (setup["cpu"], setup["cores"], tuple(setup["cpu_extensions"] or ()), setup.get("gpu"),
            (ident["family"], ident["model"]) if ident else None)


def group_by_machine(folders):
    """{machine key: [(folder, summary)]}. Runs recorded before the CPU's extensions, or its family
    and model, were join the one machine that agrees with them on all they recorded and has the
    rest, where there is exactly one."""
    machines = {}
    for folder, summary in folders:
        machines.setdefault(machine_key(summary["setup"]), []).append((folder, summary))
    for missing, agree in ((2, (0, 1, 3)), (4, (0, 1, 2, 3))):
        for key in [k for k in machines if not k[missing]]:
            known = [k for k in machines if k[missing] and all(k[i] == key[i] for i in agree)]
            if len(known) == 1:
                machines[known[0]] = sorted(machines[known[0]] + machines.pop(key), key=lambda e: e[0].name)
    return machines


def read_folders(runs_dir):
    """[(folder, summary)] of every folder under runs_dir whose summary.json is of today's schema."""
    if not Path(runs_dir).is_dir():
        cli.fail(f"{runs_dir}: no such folder")
    try:
        return [(folder, read_summary(folder))
                for folder in sorted(p for p in Path(runs_dir).iterdir() if (p / "summary.json").is_file())]
    except SavedError as e:
        cli.fail(str(e))


def fullest_setup(summaries):
    """The setup of a machine's runs that recorded the most of it (older runs lack the CPU's
    extensions, or its family and model)."""
    return max((s["setup"] for s in summaries),
               key=lambda x: (x.get("cpu_id") is not None, len(x["cpu_extensions"] or [])))


def facts(summaries):
    """The machine's facts over its runs: each framework's versions, kernels and threads as they
    were recorded, and the best matmul peak any run read."""
    setup = fullest_setup(summaries)
    ident = setup.get("cpu_id")
    rows = [("CPU", f"{setup['cpu']} ({setup['cores']} cores)"
             + (f", {ident['vendor']} cpu family {ident['family']}, model {ident['model']}, stepping "
                f"{ident['stepping']}" if ident else "")),
            ("vector extensions", listed(setup["cpu_extensions"]) or "not recorded"),
            ("Python, platform", f"{setup['python']}, {setup['platform']}")]
    for framework, name in FRAMEWORKS.items():
        mine = [s["setup"]["frameworks"].get(framework, {}) for s in summaries]
        for field, title in (("version", "version"), ("kernels", "kernels"), ("gemm_path", "GEMM path"),
                             ("threads", "threads")):
            values = sorted({str(v) for facts in mine for v in facts.get(field) or []})
            if values or field != "gemm_path":  # runs before the GEMM path was recorded: no row
                rows.append((f"{name} {title}", ", ".join(values) or "n/a"))
        peaks = [facts.get("matmul_peak_gflops") for facts in mine]
        peaks = [p for p in peaks if p]
        if peaks:
            rows.append((f"{name} fp32 matmul peak", f"{min(peaks):.1f} to {max(peaks):.1f} GFLOP/s over "
                                                     f"{len(peaks)} runs"))
    env = {k: v for s in summaries for k, v in s["setup"]["env"].items()}
    rows.append(("environment", ", ".join(f"{k}={v}" for k, v in sorted(env.items())) or "none set"))
    return ["| fact | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]


def default_pair(c):
    """A comparison of JAX step against PyTorch eager, the default modes, at the default model, of
    their steady epochs (not the rest of a step, findings.step)."""
    modes = {(c[side]["framework"], c[side]["mode"]) for side in ("fast_config", "slow_config")}
    # summary.json of schema 4 written before `measure` existed holds steady epochs only
    measure = c.get("measure", "steady epoch")
    return (modes == {("jax", "step"), ("pytorch", "eager")} and measure == "steady epoch"
            and all(c[side]["hidden"] == [512, 512] and c[side]["input"] == "device"
                    and c[side]["threads"] is None and c[side]["arm"] is None
                    for side in ("fast_config", "slow_config")))


def verdict_text(c):
    interval = (f", 95% interval {c['interval'][0]:.2f}x to {c['interval'][1]:.2f}x" if c["interval"]
                else ", no interval")
    who = f"{c['faster']} faster" if c["faster"] else c["verdict"]
    return f"{who}: {c['ratio']:.2f}x ({c['fast']} ahead{interval}, {c['runs'][0]} and {c['runs'][1]} runs)"


def cell_verdict(cell):
    c = cell["comparison"]
    if c["verdict"] != "faster":
        return c["verdict"]
    return f"{FRAMEWORKS[c['fast_config']['framework']]} faster"


def machine_section(entries, compares):
    name = machine_name(fullest_setup([s for _, s in entries]))
    lines = [f"## {name}", "", *facts([s for _, s in entries]), "", "### Runs", ""]
    lines += [f"- [{f.name}](runs/{f.name}/summary.md): {s['settings']}" for f, s in entries]
    lines += ["", "### JAX `step` against PyTorch `eager` (the default command's pair)", ""]
    pairs = [(f, c) for f, s in entries for c in s["comparisons"] if default_pair(c)]
    seen = set()
    for folder, c in pairs:
        batch = c["fast_config"]["batch_size"]
        if (folder, batch) not in seen:
            seen.add((folder, batch))
            lines.append(f"- batch {batch}, {folder.name}: {verdict_text(c)}")
    if not pairs:
        lines.append("- no committed run weighed them")
    threads = [(f, x) for f, s in entries for sec in s["sections"] if sec["id"] == "threads"
               for x in sec["findings"]]
    if threads:
        lines += ["", "### Threads", ""] + [f"- {x['text']} ({f.name})" for f, x in threads]
    for folder, s in entries:
        cells = s["sweep"]["cells"]
        if len({c["width"] for c in cells}) > 1:
            link = f"[size_map.png](runs/{folder.name}/size_map.png)"
            lines += ["", f"### Width map ({folder.name}, {link})", "",
                      "| width | batch | PyTorch / JAX | verdict |", "|---|---|---|---|"]
            lines += [f"| {c['width']} | {c['batch_size']} | {c['pytorch_over_jax']:.2f}x | "
                      f"{cell_verdict(c)} |" for c in cells]
    for folder, result in compares:
        old, new = result["old"], result["new"]
        versions = [s for s in result["settings"] if s["framework"] and s["fact"] == "version"]
        title = (f"{FRAMEWORKS[versions[0]['framework']]} {listed(versions[0]['old'])} against "
                 f"{listed(versions[0]['new'])} on {name}" if versions else f"{new} against {old}")
        lines += ["", f"### {title} ([{folder.name}](runs/{folder.name}/compare.md))", ""]
        lines += [f"- {s['name']}: {listed(s['old'])} in {old}, {listed(s['new'])} in {new}"
                  for s in result["settings"] if s["fact"] != "matmul_peak_gflops"]
        lines += [f"- {p['sentence']}" for p in result["pairs"]]
    return lines


def text(runs_dir):
    """docs/machines.md's text, from the run and comparison folders under runs_dir."""
    runs_dir = Path(runs_dir)
    folders = read_folders(runs_dir)
    machines = group_by_machine(folders)
    compares = {}
    for path in sorted(runs_dir.glob("*/compare.json")):
        result = json.loads(path.read_text())
        try:
            check_schema(path, result, "`compare_results.py --compare OLD NEW --out-dir DIR` rewrites it")
        except SavedError as e:
            cli.fail(str(e))
        key = next((k for k, entries in machines.items() for f, _ in entries if f.name == result["old"]),
                   None)
        if key is not None:
            compares.setdefault(key, []).append((path.parent, result))
    lines = ["# Machines side by side", "",
             "Written by `python -m mlpbench.rebuild` from the run folders "
             "committed under [docs/runs/](runs/), one section per machine their runs recorded; the "
             "sections after them are quoted from pasted summaries, for machines no committed run comes "
             "from yet. Figures of one machine are never set against another's except through "
             "`compare_results.py --compare`, which says so.", ""]
    for key, entries in machines.items():
        lines += machine_section(entries, compares.get(key, [])) + [""]
    for quoted in sorted((runs_dir / "quoted").glob("*.md")):
        lines += [quoted.read_text().rstrip(), ""]
    return "\n".join(lines).rstrip() + "\n"
