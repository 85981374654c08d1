"""The README's answer is quoted, never written by hand: every figure in a point of "The answer"
appears, digit for digit and sign for sign, in a run or doc that point links to; every link of the
README and docs/ leads to a file (and heading); every committed run is what today's code writes
from its records, so a quoted figure can be traced to the epochs behind it."""
import re
import shutil
from pathlib import Path

from mlpbench import machines_page, rebuild
from support.helpers import ROOT

LINK = re.compile(r"\]\(([^)\s]+)\)")
# A figure with its unit where it has one: a decimal or a version, signed or not ("-0.0002",
# "1.55x", "42.5 ms", "0.10.2"), or a whole number with its unit ("85%", "14 s").
UNIT = r"(?:x\b|%|\s(?:ms|µs|s|GFLOP/s)\b)"
FIGURE = re.compile(rf"(?<![\w.+-])((?:[+-]?\d+(?:\.\d+)+|[+-]?\d+(?={UNIT})){UNIT}?)")
RUNS = ROOT / "docs" / "runs"
RUN_FILES = ("summary.md", "summary.json", "run_meta.json", "benchmark_results.csv")


def answer_points():
    text = (ROOT / "README.md").read_text()
    section = text.split("## The answer", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    points = re.split(r"\n- ", section)[1:]  # what comes before the first "- " introduces them
    return [" ".join(p.split()) for p in points]


def figures(text):
    return FIGURE.findall(LINK.sub("](", text))


def quoted_in(figure, source):
    """figure stands whole in source, with its unit: 1.87x is not found in 1.875x, 11.87x or 1.87 s,
    0.0002 not in -0.0002, 0.10 not in 0.10.2; a line break may stand for the space before a unit."""
    before = r"(?<![\w.])" if figure[0] in "+-" else r"(?<![\w.+-])"
    pattern = re.escape(figure).replace(r"\ ", r"\s")
    return re.search(before + pattern + r"(?!\d|\.\d|\w)", source) is not None


def test_every_figure_of_the_answer_is_in_a_run_or_doc_it_links_to():
    points = answer_points()
    assert len(points) >= 4
    for point in points:
        links = LINK.findall(point)
        assert links, f"a point of the answer cites nothing: {point[:80]}"
        sources = []
        for link in links:
            path = ROOT / link.split("#")[0]
            assert path.is_file(), f"{link} does not exist"
            sources.append(path.read_text(errors="replace"))
        assert figures(point), f"a point of the answer quotes no figure: {point[:80]}"
        missing = [f for f in figures(point) if not any(quoted_in(f, s) for s in sources)]
        assert not missing, f"{missing} not in {links}: {point[:80]}"


def test_a_figure_is_found_whole_and_with_its_sign():
    source = "1.875x and 11.87x, 2.5 s, -0.0002 and 0.10.2"
    assert figures("1.87x, -0.0002, +0.0020, 0.10.2, 14 s, 42.5 ms, 85%, batch 64, 784-512-10") == [
        "1.87x", "-0.0002", "+0.0020", "0.10.2", "14 s", "42.5 ms", "85%"]
    assert [quoted_in(f, source) for f in ("1.87x", "1.875x", "2.5 s", "2.5 ms", "2.5x", "0.0002",
                                           "-0.0002", "0.10", "0.10.2")] == [
        False, True, True, False, False, False, True, False, True]


def heading_anchors(markdown):
    """GitHub's anchors: a heading lowercased, its punctuation dropped, its spaces made hyphens."""
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
            for h in re.findall(r"^#+ (.+)$", markdown, re.M)}


def test_every_link_of_the_readme_and_docs_leads_somewhere():
    # quoted/ holds fragments written for docs/machines.md, whose links are checked there.
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    pages = [p for p in pages if "quoted" not in p.relative_to(ROOT).parts]
    broken = []
    for page in pages:
        for link in LINK.findall(page.read_text()):
            if re.match(r"[a-z]+:", link):
                continue
            target, _, anchor = link.partition("#")
            path = (page.parent / target).resolve() if target else page
            if not path.exists() or (anchor and anchor not in heading_anchors(path.read_text())):
                broken.append(f"{page.relative_to(ROOT)}: {link}")
    assert not broken


def test_the_readme_gives_the_two_commands_ci_runs_and_stays_short():
    text = (ROOT / "README.md").read_text()
    commands = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    given = [line.strip() for line in commands.splitlines() if line.startswith("    python3 -m venv")]
    assert len(given) == 2
    assert given[1] == (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert "compare_results.py" in given[0] and "pytest" not in given[0]
    assert len(text.split()) <= 1600


def committed_runs():
    return sorted(p.parent for p in RUNS.glob("*/run_meta.json"))


def test_every_folder_under_docs_runs_is_a_run_or_a_comparison():
    folders = [p for p in RUNS.iterdir() if p.is_dir() and p.name not in ("quoted", "__pycache__")]
    assert folders and not [p.name for p in folders
                            if not (p / "run_meta.json").is_file() and not (p / "compare.md").is_file()]


def test_every_committed_run_is_whole_and_what_todays_code_writes_from_its_records():
    """A run folder's summary is never edited by hand: rebuilt from its CSV and run_meta.json (what
    `compare_results.py --from` does), it is unchanged. After a change of wording,
    `python -m mlpbench.rebuild` rewrites them."""
    folders = committed_runs()
    assert len(folders) >= 10
    for folder in folders:
        assert all((folder / name).is_file() for name in RUN_FILES), folder.name
        for name, text in rebuild.run_texts(folder).items():
            assert text == (folder / name).read_text(), f"{folder.name}/{name}"


def test_every_committed_comparison_is_what_compare_writes_from_the_two_committed_runs():
    compared = sorted(p.parent for p in RUNS.glob("*/compare.md"))
    assert compared
    for folder in compared:
        for name, text in rebuild.compare_texts(folder).items():
            assert text == (folder / name).read_text(), f"{folder.name}/{name}"


def test_the_machines_page_is_what_the_tool_writes_from_the_committed_runs():
    """docs/machines.md is never edited by hand: rewritten from docs/runs/, it is unchanged."""
    assert machines_page.text(RUNS) == (ROOT / "docs" / "machines.md").read_text()


def test_the_rebuild_command_names_each_stale_file_and_rewrites_it_to_what_the_tests_expect(tmp_path, capsys):
    root = tmp_path / "repo"
    folder = RUNS / "2026-12-02-epyc-default"
    copied = root / "docs" / "runs" / folder.name
    shutil.copytree(folder, copied)
    (copied / "summary.md").write_text((folder / "summary.md").read_text().replace("## Findings", "## Found"))
    stale = {copied / "summary.md", root / "docs" / "machines.md",
             root / "tests" / "golden" / "summary.md", root / "tests" / "golden" / "benchmark_results.csv"}
    assert set(rebuild.stale(root)) == stale
    (root / "tests" / "golden").mkdir(parents=True)
    assert rebuild.main(["--check"], root) == 1 and not (root / "docs" / "machines.md").exists()
    assert set(capsys.readouterr().out.split()) == {str(p.relative_to(root)) for p in stale}
    assert rebuild.main([], root) == 0 and rebuild.stale(root) == {}
    assert (copied / "summary.md").read_text() == (folder / "summary.md").read_text()
    golden = Path("tests", "golden", "summary.md")
    assert (root / golden).read_text() == (ROOT / golden).read_text()
