"""The README's answer is quoted, never written by hand: every figure in a point of "The answer"
appears in one of the runs or docs that point links to, and every link leads to a file."""
import re

from support.helpers import ROOT

LINK = re.compile(r"\]\(([^)#\s]+)")
# A figure: a decimal, or a whole number with its unit ("1.55x", "42.5 ms", "0.0002", "85%").
FIGURE = re.compile(r"(?<![\w.-])(\d+\.\d+|\d+(?=x\b|%| ms\b| µs\b| s\b| GFLOP/s))")


def answer_points():
    text = (ROOT / "README.md").read_text()
    section = text.split("## The answer", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    return [p.strip() for p in re.split(r"\n- ", section) if p.strip().startswith("**")]


def test_every_figure_of_the_answer_is_in_a_run_or_doc_it_links_to():
    points = answer_points()
    assert len(points) >= 4
    for point in points:
        links = LINK.findall(point)
        assert links, f"a point of the answer cites nothing: {point[:80]}"
        sources = ""
        for link in links:
            path = ROOT / link
            assert path.is_file(), f"{link} does not exist"
            sources += path.read_text(errors="replace")
        figures = FIGURE.findall(LINK.sub("](", point))
        missing = [f for f in figures if f not in sources]
        assert not missing, f"{missing} not in {links}: {point[:80]}"


def test_the_readme_gives_two_commands_and_stays_short():
    text = (ROOT / "README.md").read_text()
    commands = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    assert len([line for line in commands.splitlines() if line.startswith("    python3 -m venv")]) == 2
    assert len(text.split()) <= 1600


def test_the_machines_page_is_what_the_tool_writes_from_the_committed_runs(tmp_path):
    """docs/machines.md is never edited by hand: rewritten from docs/runs/, it is unchanged."""
    from mlpbench import machines
    machines.write(ROOT / "docs" / "runs", tmp_path / "machines.md")
    assert (tmp_path / "machines.md").read_text() == (ROOT / "docs" / "machines.md").read_text()
