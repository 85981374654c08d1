"""Every output written from records, rewritten by today's code: each committed run's summary.md
and summary.json (docs/runs/*/, as `compare_results.py --from` writes them, plots aside), each
committed comparison's compare.md and compare.json (as `--compare` writes them), docs/machines.md,
and the golden summary and CSV of the made-up runs (tests/golden/). The tests check each file
against the same functions, so a change of wording is one command:

    python -m mlpbench.rebuild          # rewrite what differs, name each file
    python -m mlpbench.rebuild --check  # only name them; exit 1 if any differs

The golden records of a real run (tests/golden/records_*.jsonl) need the trainers: the test that
runs them rewrites them with UPDATE_GOLDEN=1."""
import argparse
import json
import sys
from pathlib import Path

from mlpbench import compare_folders, machines_page, report, results

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "docs" / "runs"


def run_texts(folder):
    """{file name: text} of a run folder's summaries, from its CSV and run_meta.json."""
    built = report.build(*results.read_results(folder))
    return {"summary.md": report.render(built), "summary.json": report.as_json(built)}


def compare_texts(folder, runs_dir=RUNS):
    """{file name: text} of a comparison folder, from the two run folders its compare.json names."""
    named = json.loads((folder / "compare.json").read_text())
    result = compare_folders.compare_saved(runs_dir / named["old"], runs_dir / named["new"])
    return {"compare.md": compare_folders.render(result), "compare.json": compare_folders.as_json(result)}


def golden_texts():
    """{file name: text} of tests/golden's summary and CSV, from tests/support's made-up runs."""
    sys.path.insert(0, str(ROOT / "tests"))
    from support.fabricate import golden_meta, golden_scenario
    return {"summary.md": report.summary(golden_scenario(), golden_meta()),
            "benchmark_results.csv": results.csv_text(golden_scenario())}


def expected(root=ROOT, page=True):
    """{path: the text today's code writes there}, for every file this command keeps; without
    `page`, the machines page aside (it reads the summaries and comparisons on disk)."""
    runs = root / "docs" / "runs"
    out = {}
    for meta in sorted(runs.glob("*/run_meta.json")):
        out |= {meta.parent / name: text for name, text in run_texts(meta.parent).items()}
    for named in sorted(runs.glob("*/compare.json")):
        out |= {named.parent / name: text for name, text in compare_texts(named.parent, runs).items()}
    if page:
        out[root / "docs" / "machines.md"] = machines_page.text(runs)
    out |= {root / "tests" / "golden" / name: text for name, text in golden_texts().items()}
    return out


def stale(root=ROOT, page=True):
    """The files whose text is not what today's code writes, with that text."""
    return {p: t for p, t in expected(root, page).items() if not p.is_file() or p.read_text() != t}


def main(argv=None, root=ROOT):
    parser = argparse.ArgumentParser(prog="python -m mlpbench.rebuild", description=__doc__.split("\n\n")[0],
                                     allow_abbrev=False)
    parser.add_argument("--check", action="store_true", help="name the files that differ; write nothing")
    args = parser.parse_args(argv)
    # The machines page is written from the summaries and comparisons on disk: those first.
    differ = stale(root) if args.check else stale(root, page=False)
    written = set()
    while differ and not args.check:
        for path, text in differ.items():
            path.write_text(text)
            written.add(path)
        differ = stale(root)
    for path in sorted(written if not args.check else differ):
        print(path.relative_to(root))
    return 1 if args.check and differ else 0


if __name__ == "__main__":
    sys.exit(main())
