"""summary.json's schema as docs/design.md gives it, checked field by field."""
from mlpbench import report
from mlpbench.comparison import VERDICTS

NUMBER, TEXT, TEXTS, OPTIONAL_NUMBER = (int, float), str, list, (int, float, type(None))
COMPARISON = {"fast": TEXT, "slow": TEXT, "fast_config": dict, "slow_config": dict, "fast_steady_s": NUMBER,
              "slow_steady_s": NUMBER, "ratio": NUMBER, "interval": (list, type(None)), "level": NUMBER,
              "method": (str, type(None)), "verdict": TEXT, "faster": (str, type(None)),
              "ratio_that_excludes_1": OPTIONAL_NUMBER, "runs": list, "steady_epochs": list, "busy_runs": int,
              "noisy": TEXTS, "sentence": TEXT, "equivalence_interval": (list, type(None)),
              "equivalence_level": NUMBER, "equivalence_margin": NUMBER, "pairs": (int, type(None)),
              "detectable_ratio": OPTIONAL_NUMBER, "power": NUMBER, "measure": TEXT}
CONFIG = {"batch_size": int, "framework": TEXT, "mode": TEXT, "input": TEXT, "cache": TEXT, "precision": TEXT,
          "unroll": (int, type(None)), "hidden": list, "arm": (str, type(None)), "threads": (int, type(None))}
SUMMARY = {"schema_version": int, "title": TEXT, "warnings": TEXTS, "settings": TEXT, "table": list,
           "note": TEXT, "sections": list, "machine": TEXTS, "failed": TEXTS, "configurations": list,
           "comparisons": list, "sweep": dict, "setup": dict}
SPLIT = {"step_s": NUMBER, "products_s": NUMBER, "products_gflops": NUMBER, "rest_s": NUMBER,
         "rest_share": NUMBER, "shape_matched_pct": NUMBER, "dispatch_s": OPTIONAL_NUMBER}
CELL = {"width": int, "batch_size": int, "jax_mode": TEXT, "pytorch_mode": TEXT, "pytorch_over_jax": NUMBER,
        "pytorch_over_jax_interval": (list, type(None)), "comparison": dict}


def check_fields(obj, schema, where):
    assert isinstance(obj, dict), where
    assert set(schema) <= set(obj), f"{where} lacks {sorted(set(schema) - set(obj))}"
    for key, kind in schema.items():
        assert isinstance(obj[key], kind), f"{where}.{key} is {type(obj[key]).__name__}"


def check_comparison(c, where):
    check_fields(c, COMPARISON, where)
    check_fields(c["fast_config"], CONFIG, where + ".fast_config")
    check_fields(c["slow_config"], CONFIG, where + ".slow_config")
    assert c["verdict"] in VERDICTS and c["ratio"] >= 1, where
    assert (c["faster"] is not None) == (c["verdict"] == "faster"), where
    if c["interval"] is not None:
        low, high = c["interval"]
        e_low, e_high = c["equivalence_interval"]
        assert low <= e_low <= c["ratio"] <= e_high <= high, where
        assert c["ratio_that_excludes_1"] < c["detectable_ratio"], where
    assert len(c["runs"]) == 2 and len(c["steady_epochs"]) == 2, where


def validate(summary):
    """summary.json against docs/design.md's schema, field by field."""
    check_fields(summary, SUMMARY, "summary")
    assert summary["schema_version"] == report.SCHEMA_VERSION == 4
    check_fields(summary["setup"], {"cpu": TEXT, "cores": int, "cpu_extensions": list, "frameworks": dict,
                                    "env": dict, "epochs": int}, "setup")
    assert "cpu_id" in summary["setup"]
    for framework, facts in summary["setup"]["frameworks"].items():
        check_fields(facts, {"version": list, "kernels": list, "threads": list, "device_name": list,
                             "gemm_path": list}, f"setup.frameworks.{framework}")
        assert "matmul_peak_gflops" in facts
    for i, section in enumerate(summary["sections"]):
        check_fields(section, {"id": TEXT, "title": TEXT, "findings": list}, f"sections[{i}]")
        for j, finding in enumerate(section["findings"]):
            check_fields(finding, {"text": TEXT, "comparisons": list, "figures": dict},
                         f"sections[{i}].findings[{j}]")
            for c in finding["comparisons"]:
                check_comparison(c, f"sections[{i}].findings[{j}]")
    for i, c in enumerate(summary["comparisons"]):
        check_comparison(c, f"comparisons[{i}]")
    for i, c in enumerate(summary["configurations"]):
        check_fields(c, {**CONFIG, "label": TEXT, "runs": int, "steadies": list, "blocks": list,
                         "steady": OPTIONAL_NUMBER,
                         "gflops": OPTIONAL_NUMBER, "flops_per_sample": int, "busy_runs": int,
                         "epoch_spread": OPTIONAL_NUMBER, "step_split": (dict, type(None))},
                     f"configurations[{i}]")
        if c["step_split"] is not None:
            check_fields(c["step_split"], SPLIT, f"configurations[{i}].step_split")
    for name in ("cells", "fastest_cells"):
        for i, cell in enumerate(summary["sweep"][name]):
            check_fields(cell, CELL, f"sweep.{name}[{i}]")
            check_comparison(cell["comparison"], f"sweep.{name}[{i}].comparison")
