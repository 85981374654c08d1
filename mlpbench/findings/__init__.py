"""The summary's findings, one module per section of summary.md and summary.json, named by the
section's id: headline (id "findings": speed, accuracy, time to accuracy, parity, the fastest
rate), warnings, aa, versus, threads, widths, jit, caches and loader (docs/design.md,
"Statistics and findings"). Every sentence is computed from the aggregated figures."""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    """A sentence of the summary, the comparisons it renders and the figures it states: the
    sentence is how they read (fixed once, by the golden summary); tests and summary.json read
    the numbers."""
    text: str
    comparisons: tuple = ()
    figures: dict = field(default_factory=dict)

    def as_dict(self):
        return {"text": self.text, "comparisons": [c.as_dict() for c in self.comparisons],
                "figures": self.figures}


def finding(prefix, comparison, suffix=""):
    """A Finding that is one comparison's sentence, after a prefix ("Batch 64: ")."""
    return Finding(prefix + comparison.sentence() + suffix, (comparison,))


def as_finding(item):
    """A section's entry as a Finding: a sentence without a comparison is one too."""
    return item if isinstance(item, Finding) else Finding(item)


def section(id_, title, items, table_=None):
    """id_ names the section for code that looks for it (the title is for readers)."""
    return {"id": id_, "title": title, "table": table_, "findings": [as_finding(f) for f in items]}
