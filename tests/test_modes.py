"""The one table of modes: consistent in itself, and the same as docs/design.md says."""
from mlpbench import modes
from support.helpers import ROOT


def yes(flag):
    return "yes" if flag else "no"


def test_design_doc_lists_the_modes_table():
    lines = (ROOT / "docs" / "design.md").read_text().splitlines()
    header = "| mode | framework | paradigm | compiled | cacheable | GPU only | device input only |"
    start = lines.index(header)
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[start + 2:]
            if line.startswith("|")][:len(modes.MODES)]
    assert rows == [[m.name, m.framework, m.paradigm, yes(m.compiled), yes(m.cacheable), yes(m.gpu_only),
                     yes(m.device_input_only)] for m in modes.MODES.values()]


def test_every_comparison_names_a_mode_and_each_framework_has_one_default():
    for m in modes.MODES.values():
        assert all(v.other in modes.MODES and v.other != m.name for v in m.weighed_against)
        if m.gpu_only or m.name == "scan":
            assert m.device_input_only
    assert [m.framework for m in modes.MODES.values() if m.default] == ["jax", "pytorch"]
    assert modes.names("jax")[0] == "step" and modes.names("pytorch")[0] == "eager"
    # the paradigm is weighed against the framework, each pair changing one thing
    func = {v.other: v.changes for v in modes.mode("func").weighed_against}
    assert func == {"eager": "paradigm (both eager PyTorch)",
                    "nojit": "framework (both functional, uncompiled)"}
    # the paradigm square's JAX half: Flax NNX against plain jax.jit, and against PyTorch's module
    nnx = {v.other: v.changes for v in modes.mode("nnx").weighed_against}
    assert nnx == {"step": "paradigm (both compiled JAX)",
                   "compile": "framework (both object-oriented, compiled)"}
    assert [v.other for v in modes.mode("nnx-split").weighed_against] == ["nnx"]
    assert {m.name for m in modes.MODES.values() if m.package == "flax"} == {"nnx", "nnx-split"}


def test_every_citation_of_the_design_names_one_of_its_sections():
    import re
    sections = {line[3:].strip() for line in (ROOT / "docs" / "design.md").read_text().splitlines()
                if line.startswith("## ")}
    cited = {}
    sources = [*ROOT.glob("*.py"), *ROOT.glob("mlpbench/**/*.py"), *ROOT.glob("benchmarks/*"),
               ROOT / "README.md"]
    for path in sources:
        text = " ".join(path.read_text().split())
        for name in re.findall(r'docs/design\.md, "([^"]+)"', text):
            cited.setdefault(name, []).append(path.name)
    assert cited and not {n: p for n, p in cited.items() if n not in sections}
