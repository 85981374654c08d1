"""Both trainers refuse bad flags and bad data the same way: exit 2, one line, no traceback."""
import json
import math
import re

import pytest

from mlpbench import cli, data, model, options
from support.helpers import run_main, run_script

SCRIPTS = ("assignment_1JAX.py", "assignment_1TORCH.py")
BAD_FLAGS = [
    ("--batch-size", "0"), ("--batch-size", "-3"), ("--epochs", "0"), ("--lr", "nan"),
    ("--lr", "-0.1"), ("--lr", "inf"), ("--mode", "warp"), ("--train-limit", "60000"),
    ("--batch-size", "512", "--train-limit", "100"), ("--init", "zeros"), ("--precision", "fp8"),
    ("--batch-size", "ten"), ("--workers", "-1"), ("--workers", "two"), ("--workers", "2"),
    ("--input", "disk"), ("--input", "loader", "--mode", "scan"), ("--unroll", "0"), ("--unroll", "4"),
    ("--mode", "scan", "--unroll", "0"), ("--mode", "scan", "--unroll", "two"),
    ("--compile-cache", "/proc/x/y"),
    ("--compile-cache", "/proc"),  # there, but nothing can be written in it (not even by root)
]


def assert_one_line_exit_2(result):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("framework", ["JAX", "PyTorch"])
@pytest.mark.parametrize("flags", BAD_FLAGS, ids=" ".join)
def test_bad_flags_exit_2_with_one_line(framework, flags, capsys):
    """The flags are parsed by one shared parser, tested in process; the scripts below."""
    if "scan" in flags and framework == "PyTorch":  # scan's flags are JAX's only: PyTorch refuses them too
        flags = tuple("cudagraph" if f == "scan" else f for f in flags)
    with pytest.raises(SystemExit) as exit_info:
        cli.parse_trainer_args(cli.trainer_parser(framework), list(flags))
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err
    assert captured.out == ""


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_refuse_bad_flags_with_one_line(script):
    """The file as a user runs it: `sys.exit(main())` keeps main's exit 2 and its one line. The
    refusals below call main in this process (support.helpers.run_main), the same code without
    an interpreter and a framework to start each time."""
    assert_one_line_exit_2(run_script(script, "--batch-size", "0"))
    assert_one_line_exit_2(run_main(script, "--batch-size", "0"))


@pytest.mark.parametrize("script, mode", [("assignment_1JAX.py", "step"),
                                          ("assignment_1TORCH.py", "compile")])
def test_a_compile_cache_that_cannot_be_made_exits_2(script, mode):
    """As a new user would try it: without the check, torch.compile ended in a traceback
    (exit 1) and JAX warned once per program and ran without a cache."""
    result = run_main(script, "--mode", mode, "--compile-cache", "/proc/x/y")
    assert_one_line_exit_2(result)
    assert "/proc/x/y" in result.stderr


@pytest.mark.parametrize("script", SCRIPTS)
def test_gpu_requested_on_cpu_machine_exits_2(script):
    result = run_main(script, "--device", "gpu")
    assert_one_line_exit_2(result)
    assert "GPU" in result.stderr


@pytest.mark.parametrize("mode", ["cudagraph", "fullgraph-cudagraph"])
def test_cuda_graph_modes_without_cuda_exit_2(mode):
    result = run_main("assignment_1TORCH.py", "--mode", mode)
    assert_one_line_exit_2(result)
    assert mode in result.stderr


@pytest.mark.parametrize("script", SCRIPTS)
def test_corrupt_data_exits_2_naming_the_file(script, tmp_path, mnist_dir):
    """One label flipped in an otherwise real file: refused, never trained on."""
    for name in data.FILES:
        source = data.find_file(mnist_dir, name)
        if name == "t10k-labels-idx1-ubyte":
            raw = data.read_bytes(source)
            (tmp_path / name).write_bytes(raw[:-1] + bytes([(raw[-1] + 1) % 10]))
        else:
            (tmp_path / source.name).symlink_to(source.resolve())
    result = run_main(script, "--data-dir", tmp_path, "--epochs", 1)
    assert_one_line_exit_2(result)
    assert "t10k-labels-idx1-ubyte" in result.stderr and "SHA-256" in result.stderr


@pytest.mark.parametrize("script", SCRIPTS)
def test_diverged_run_reports_non_finite_loss(script, mnist_dir):
    result = run_main(script, "--lr", 1e4, "--train-limit", 1000, "--batch-size", 100, "--epochs", 1,
                        "--data-dir", mnist_dir)
    assert result.returncode == 0, result.stderr
    epoch = json.loads(result.stdout.splitlines()[1])
    assert not math.isfinite(epoch["train_loss"])
    assert "diverged" in result.stderr


@pytest.mark.parametrize("flags", [("--hidden", "0"), ("--hidden", "-1"), ("--hidden", "x"), ("--hidden",)],
                         ids=" ".join)
def test_bad_hidden_widths_exit_2(flags, capsys):
    for framework in ("JAX", "PyTorch"):
        with pytest.raises(SystemExit) as exit_info:
            cli.parse_trainer_args(cli.trainer_parser(framework), list(flags))
        assert exit_info.value.code == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1


# --- a model the machine cannot hold -------------------------------------------------------

def test_the_memory_floor_counts_parameters_gradients_the_init_draw_data_and_activations():
    sizes, batch, n = (784, 2, 10), 64, 100
    params = 784 * 2 + 2 + 2 * 10 + 10
    want = 4 * 3 * params + 8 * 784 * 2 + 4 * 784 * (n + 20_000) + 4 * 2 * batch * (784 + 2 + 10)
    assert model.bytes_needed(sizes, batch, n) == want


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_model_the_machine_cannot_hold_exits_2_saying_both_figures(script):
    """300,000 wide: 9e10 parameters. Numpy's init draw alone wanted 671 GiB, in a traceback."""
    result = run_main(script, "--hidden", "300000", "300000")
    assert_one_line_exit_2(result)
    need, have = re.search(r"needs at least ([\d,.]+) GiB of memory to train; this machine has ([\d,.]+) GiB "
                           "available", result.stderr).groups()
    assert float(need.replace(",", "")) > 1000 > float(have.replace(",", ""))


def test_a_model_the_gpu_cannot_hold_is_refused_saying_both_figures(tmp_path, capsys, monkeypatch):
    """On a GPU the splits, parameters, gradients and activations all live in its memory: the
    controller weighs them against nvidia-smi's total, the trainers against what their framework
    says is free (mlpbench.cli.check_gpu_memory, the same sentence)."""
    from mlpbench import cli
    monkeypatch.setattr(options, "gpu_facts", lambda: {"name": "Tiny GPU", "memory": "512 MiB"})
    with pytest.raises(SystemExit) as stop:
        options.parse_args(["--widths", "128", "8192", "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1
    assert re.search(r"784-8192-8192-10 model needs at least [\d.]+ GiB of memory to train; "
                     r"the GPU \(Tiny GPU\) has 0\.5 GiB available", err)
    options.parse_args(["--widths", "128", "--out-dir", str(tmp_path)])  # this one fits
    options.parse_args(["--widths", "8192", "--device", "cpu", "--out-dir", str(tmp_path)])
    assert options.gpu_memory_bytes({"memory": "81559 MiB"}) == 81559 * 2**20
    assert options.gpu_memory_bytes(None) is None
    assert cli.memory_refusal((128, 128), [64], 50_000, 2**30) is None


def test_a_width_sweep_that_cannot_fit_is_refused_before_its_first_run(tmp_path, capsys, monkeypatch):
    import compare_results
    monkeypatch.setattr(compare_results, "run_all", lambda *a: pytest.fail("a run was started"))
    with pytest.raises(SystemExit) as stop:
        compare_results.main(["--widths", "128", "300000", "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "784-300000-300000-10 model needs at least" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "run_meta.json").exists()


@pytest.mark.parametrize("framework", ["JAX", "PyTorch"])
def test_abbreviated_flags_are_refused(framework, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        cli.parse_trainer_args(cli.trainer_parser(framework), ["--epoch", "2"])
    assert exit_info.value.code == 2 and "unrecognized arguments: --epoch 2" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        options.parse_args(["--repeat", "2", "--out-dir", str(tmp_path)])
    assert exit_info.value.code == 2 and "--repeat" in capsys.readouterr().err


def test_nnx_split_over_a_loader_is_refused_in_one_line():
    """nnx-split steps over arrays gathered on the device: --input loader is refused."""
    assert_one_line_exit_2(run_main("assignment_1JAX.py", "--mode", "nnx-split", "--input", "loader"))
