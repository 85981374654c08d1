"""`--compare OLD NEW`: two saved results folders weighed against each other, configuration by
configuration (docs/design.md, "Controller"), as pyperf's compare_to does for its
JSON files. Each folder is read from its summary.json: the per-run steady times of every
configuration and the machine facts and settings (`setup`) its runs shared."""
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from mlpbench import cli
from mlpbench.aggregate import Config, ConfigStats, config_order
from mlpbench.comparison import ALLOWANCE_SOURCE, SESSION_ALLOWANCE, Comparison, weigh
from mlpbench.fileio import write_atomic
from mlpbench.formatting import fmt_time, label
from mlpbench.modes import FRAMEWORKS
from mlpbench.records import EXIT_OK
from mlpbench.report import SCHEMA_VERSION
from mlpbench.results import ResultsError, read_results

# The facts that make two folders' runs come from different machines, not just other settings.
MACHINE_FACTS = ("cpu", "cpu_id", "cores", "cpu_extensions", "gpu")
# The framework facts whose name in a sentence is not their key in setup.frameworks.
FACT_LABELS = {"matmul_peak_gflops": "matmul peak GFLOP/s"}


class Difference(NamedTuple):
    """One fact or setting whose value differs between two folders."""
    fact: str  # a setup key, a framework fact ("version"), "env VAR" or a Config field
    old: Any
    new: Any
    framework: str | None = None  # whose fact it is, for a framework's

    @property
    def name(self):
        if self.framework:
            return f"{FRAMEWORKS[self.framework]} {FACT_LABELS.get(self.fact, self.fact)}"
        return self.fact


class SavedError(Exception):
    """A folder that cannot be compared: one line that says why."""


@dataclass(frozen=True)
class Saved:
    """One results folder as --compare reads it."""
    name: str  # the folder's name, which the sentences use
    stats: dict  # {Config: ConfigStats}
    setup: dict
    def key(self, config, fields):
        """What a configuration is matched on. Without --threads every run used the cores it was
        given: where its framework's runs recorded one count, that is the count it is matched on,
        so that it meets a folder run with --threads."""
        if config.threads is None:
            counts = self.setup["frameworks"].get(config.framework, {}).get("threads") or []
            config = config._replace(threads=counts[0] if len(counts) == 1 else None)
        return config.key(*fields)


def read_summary(folder):
    """A results folder's summary.json, of the schema this code writes. Raises SavedError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SavedError(f"{folder}: no such folder")
    path = folder / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except FileNotFoundError:
        raise SavedError(f"{folder} has no summary.json: not a results folder (or one from before "
                         f"summary.json; `--from {folder}` writes one)") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SavedError(f"{path}: cannot read it ({e})") from None
    check_schema(path, summary,
                 f"`compare_results.py --from {folder} --out-dir DIR` rewrites it with this code")
    return summary


def check_schema(path, written, remedy):
    """summary.json and compare.json share SCHEMA_VERSION. Raises SavedError."""
    version = written.get("schema_version") if isinstance(written, dict) else None
    if version != SCHEMA_VERSION:
        raise SavedError(f"{path} has schema version {version}, this code compares {SCHEMA_VERSION}: "
                         + remedy)


def load(folder):
    folder = Path(folder)
    summary, path = read_summary(folder), folder / "summary.json"
    try:  # the records the summary came from are whole: no run lost or doubled a CSV row
        read_results(folder)
    except ResultsError as e:
        raise SavedError(str(e)) from None
    try:
        stats = {}
        for entry in summary["configurations"]:
            config = Config(**{f: entry[f] for f in Config._fields})
            stats[config._replace(hidden=tuple(config.hidden))] = ConfigStats.from_dict(entry)
        setup = dict(summary["setup"])
        setup["frameworks"] = dict(setup["frameworks"])
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise SavedError(f"{path} is not a summary.json this code wrote (no {e})") from None
    if not stats:
        raise SavedError(f"{folder} holds no finished configuration: nothing to compare")
    return Saved(folder.resolve().name, stats, setup)


def varying(saved):
    """The configuration fields whose value differs between configurations of one folder."""
    return [f for f in Config._fields if len({saved.key(c, (f,)) for c in saved.stats}) > 1]


def different_machines(settings):
    """Two folders whose machine facts differ (CPU, cores, extensions, GPU)."""
    return any(d.framework is None and d.fact in MACHINE_FACTS for d in settings)


@dataclass(frozen=True)
class Pair:
    """A configuration of OLD and its match in NEW, and their Comparison."""
    old: Config
    new: Config
    comparison: Comparison
    new_over_old: float  # NEW's steady time over OLD's: below 1, NEW is faster


@dataclass(frozen=True)
class SavedComparison:
    old: Saved
    new: Saved
    matched_on: tuple  # the configuration fields that tell configurations apart
    settings: tuple  # a Difference for each fact or setting that differs
    pairs: tuple
    unmatched_old: tuple
    unmatched_new: tuple

    @property
    def different_machines(self):
        return different_machines(self.settings)

    def sentence(self, pair):
        old, new = pair.old, pair.new
        differ = [f for f in Config._fields if getattr(old, f) != getattr(new, f)]
        defaults = {f: Config._field_defaults[f] for f in differ if f in Config._field_defaults}
        a, b = label(old._replace(**defaults)), label(new._replace(**defaults))
        what = a if a == b else f"{a} in {self.old.name} against {b} in {self.new.name}"
        batch = (f"Batch {old.batch_size}" if old.batch_size == new.batch_size
                 else f"Batch {old.batch_size} in {self.old.name}, {new.batch_size} in {self.new.name}")
        if self.different_machines:
            new_s, old_s = (fmt_time(pair.comparison.steady_of(p)) for p in (pair.new, pair.old))
            return (f"{batch}, {what}: {self.new.name} took {pair.new_over_old:.2f}x {self.old.name}'s "
                    f"steady epoch ({new_s} vs {old_s}); no verdict: measured on different machines, the "
                    "ratio is the machines' and the software's together, and no session allowance holds "
                    "across them.")
        return f"{batch}, {what}: {pair.comparison.sentence()}"

    def as_dict(self):
        return {"schema_version": SCHEMA_VERSION, "old": self.old.name, "new": self.new.name,
                "different_machines": self.different_machines, "matched_on": list(self.matched_on),
                "settings": [{"name": d.name, "framework": d.framework, "fact": d.fact, "old": d.old,
                              "new": d.new} for d in self.settings],
                "pairs": [{"old_config": p.old._asdict(), "new_config": p.new._asdict(),
                           "new_over_old": p.new_over_old,
                           "comparison": p.comparison.as_dict(),
                           "sentence": self.sentence(p)} for p in self.pairs],
                "unmatched": {"old": [label(c) + f", batch {c.batch_size}" for c in self.unmatched_old],
                              "new": [label(c) + f", batch {c.batch_size}" for c in self.unmatched_new]}}


def setting_differences(old, new):
    """A Difference for each machine fact, framework fact, setting and constant configuration
    field that differs between the folders, in summary.json's order."""
    out = []
    for name in dict.fromkeys([*old.setup, *new.setup]):
        a, b = old.setup.get(name), new.setup.get(name)
        if name == "env":
            for var in sorted(set(a or {}) | set(b or {})):
                if (a or {}).get(var) != (b or {}).get(var):
                    out.append(Difference(f"env {var}", (a or {}).get(var), (b or {}).get(var)))
        elif name == "cpu_extensions":
            if a and b and a != b:  # [] where the runs predate the record: not a difference
                out.append(Difference(name, sorted(set(a) - set(b)), sorted(set(b) - set(a))))
        elif name == "frameworks":
            out += framework_differences(a or {}, b or {})
        elif a != b:
            out.append(Difference(name, a, b))
    moving = set(varying(old)) | set(varying(new))
    for field in Config._fields:
        values = [{s.key(c, (field,))[0] for c in s.stats} for s in (old, new)]
        if field not in moving and values[0] != values[1] and all(values):
            out.append(Difference(field, *(v.pop() for v in values)))
    return tuple(out)


def framework_differences(old, new):
    """A framework's facts that differ, where both folders ran it: a fact one folder recorded and
    the other did not (a thread count, Flax's version) is a difference too. A framework one folder
    did not run has nothing to differ in."""
    out = []
    for framework in FRAMEWORKS:
        a, b = old.get(framework) or {}, new.get(framework) or {}
        if not a.get("version") or not b.get("version"):
            continue
        out += [Difference(fact, a.get(fact), b.get(fact), framework) for fact in dict.fromkeys([*a, *b])
                if (a.get(fact) or None) != (b.get(fact) or None)]
    return out


def compare_saved(old_dir, new_dir):
    """Raises SavedError."""
    old, new = load(old_dir), load(new_dir)
    if old.name == new.name:  # results/ against results/: the paths as given tell them apart
        old, new = (dataclasses.replace(s, name=str(Path(d))) for s, d in ((old, old_dir), (new, new_dir)))
    matched_on = tuple(f for f in Config._fields if f in set(varying(old)) | set(varying(new)))
    by_key = {new.key(c, matched_on): c for c in new.stats}
    settings = setting_differences(old, new)
    # The allowance holds for one machine's sessions; across machines no interval is given.
    across = None if different_machines(settings) else SESSION_ALLOWANCE
    pairs, unmatched_old = [], []
    for c in sorted(old.stats, key=config_order):
        match = by_key.pop(old.key(c, matched_on), None)
        if (match is None or old.stats[c].steady is None or new.stats[match].steady is None
                or old.stats[c].devices != new.stats[match].devices):
            unmatched_old.append(c)
            if match is not None:
                by_key[old.key(c, matched_on)] = match
            continue
        a, b = old.stats[c], new.stats[match]
        pairs.append(Pair(c, match, weigh(c, a, match, b, (old.name, new.name), across=across),
                          b.steady / a.steady))
    return SavedComparison(old, new, matched_on, settings, tuple(pairs),
                           tuple(unmatched_old), tuple(sorted(by_key.values(), key=config_order)))


def shown(value):
    if isinstance(value, list):
        return ", ".join(map(shown, value)) or "none"
    if isinstance(value, float):
        return f"{value:.4g}"
    return "none" if value is None else str(value)


def render(result):
    """The comparison as markdown: what differs, then a line per matched pair, then the unmatched."""
    old, new = result.old.name, result.new.name
    lines = [f"# {new} against {old}", ""]
    if result.different_machines:
        lines += ["**Different machines**: every ratio below is the machines' and the software's "
                  "together, and carries no verdict.", ""]
    else:
        lines += [f"The two folders are two sessions (two runs of the controller), whose runs share no "
                  "time: the drift between sessions shows in neither folder's own spread. Each interval "
                  f"below is widened by a session allowance, a log-SD of {100 * SESSION_ALLOWANCE:.1f}% "
                  f"per session ({ALLOWANCE_SOURCE}; docs/method.md, \"Across sessions\"). For an answer "
                  "within one session, run both environments as arms (`--arm`).", ""]
    lines += ["## What differs between the folders", ""]
    for d in result.settings:
        if d.fact == "cpu_extensions":
            lines.append(f"- CPU extensions only in {old}: {shown(d.old)}; only in {new}: {shown(d.new)}")
        else:
            lines.append(f"- {d.name}: {shown(d.old)} in {old}, {shown(d.new)} in {new}")
    if not result.settings:
        lines.append("- nothing recorded: same machine facts and settings")
    lines += ["", f"## {new} against {old}, configuration by configuration", "",
              f"Matched on: {', '.join(result.matched_on) or 'nothing (one configuration each)'}.", ""]
    lines += [f"- {result.sentence(p)}" for p in result.pairs]
    for side, configs in ((old, result.unmatched_old), (new, result.unmatched_new)):
        if configs:
            lines += ["", f"Only in {side} (no match, or no steady epoch): "
                      + "; ".join(f"{label(c)}, batch {c.batch_size}" for c in configs) + "."]
    return "\n".join(lines) + "\n"


def as_json(result):
    return json.dumps(result.as_dict(), indent=1)


def main(old, new, out_dir):
    """--compare: one line and exit 2 where a folder cannot be read or nothing matches."""
    try:
        result = compare_saved(old, new)
    except SavedError as e:
        cli.fail(str(e))
    text = render(result)
    print(text, end="")
    if out_dir:
        write_atomic(out_dir / "compare.md", lambda f: f.write(text.encode()))
        data = as_json(result)
        write_atomic(out_dir / "compare.json", lambda f: f.write(data.encode()))
    if not result.pairs:
        cli.fail(f"no configuration of {old} matches one of {new} on {', '.join(result.matched_on)}")
    return EXIT_OK
