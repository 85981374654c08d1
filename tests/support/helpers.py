"""Running the project's scripts as a user would, and finding the real MNIST (never fetched:
tests touch no network)."""
import contextlib
import importlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

from mlpbench import data

ROOT = Path(__file__).resolve().parents[2]


def real_mnist_dir():
    """The folder with real MNIST, or None."""
    directory = data.data_dir()
    if all(data.find_file(directory, name) for name in data.FILES):
        return directory
    return None


def run_script(script, *args, timeout=300, env=None):
    """Run a project script as a user would; returns the CompletedProcess."""
    return subprocess.run([sys.executable, str(ROOT / script), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=ROOT)


def run_main(script, *args):
    """A trainer's main(argv) in this process, as run_script runs the file (`sys.exit(main())`),
    for the paths that refuse or stop within a second: no interpreter and framework import to pay
    (about 2 s a run on the AMD EPYC VM, 6 on the AVX2 one). What main changes for the process
    (JAX's and PyTorch's matmul precision, Inductor's cache switch) is put back; what cannot be
    (the cores --threads leaves the process, JAX's backend already started, --compile-cache's
    settings) is refused: such runs go through run_script. JAX's event listener stays registered,
    one per run that gets past its checks; it counts into a dict no one reads. An exception other
    than SystemExit is the traceback a user would see, and fails the test."""
    import jax
    import torch

    from mlpbench import cli
    trainer = importlib.import_module(Path(script).stem)
    argv = [str(a) for a in args]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            parsed = cli.parse_trainer_args(cli.trainer_parser("JAX" if "JAX" in script else "PyTorch"), argv)
        except SystemExit:
            parsed = None  # refused: main refuses it the same way, before changing anything
    if parsed is not None and (parsed.threads or parsed.compile_cache):
        raise ValueError("run_main: --threads and --compile-cache change the process for good; "
                         "use run_script")
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    # PyTorch >= 2.9 has fp32_precision; the older switches are what set_precision sets there
    saved = [(obj, name, getattr(obj, name)) for obj, name in
             ((matmul, "fp32_precision"), (getattr(cudnn, "conv", None), "fp32_precision"))
             if hasattr(obj, name)] or \
            [(matmul, "allow_tf32", matmul.allow_tf32), (cudnn, "allow_tf32", cudnn.allow_tf32)]
    saved.append((torch.compiler.config, "force_disable_caches", torch.compiler.config.force_disable_caches))
    precision = jax.config.jax_default_matmul_precision
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = trainer.main(argv)
    except SystemExit as stop:
        code = stop.code
    finally:
        jax.config.update("jax_default_matmul_precision", precision)
        for obj, name, value in saved:
            setattr(obj, name, value)
    # sys.exit's rule: None is 0, an int is itself, anything else is printed and is 1
    code = 0 if code is None else code if isinstance(code, int) else 1
    return subprocess.CompletedProcess([script, *args], code, out.getvalue(), err.getvalue())


def use_fake_trainers(folder, monkeypatch):
    """Both frameworks served by tests/support/fake_trainer.py, copied into folder under the trainers'
    file names; MNIST is not loaded. Returns folder."""
    import compare_results
    from mlpbench import cli
    for framework in cli.SCRIPTS:
        fake = folder / f"{framework}_fake.py"
        shutil.copy(ROOT / "tests" / "support" / "fake_trainer.py", fake)
        monkeypatch.setitem(cli.SCRIPTS, framework, str(fake))
    monkeypatch.setenv("FAKE_PID_FILE", str(folder / "hung.pid"))
    monkeypatch.setattr(compare_results.data, "load_mnist", lambda data_dir: None)
    return folder


def skip_plots(monkeypatch):
    """The controller writes no PNG (about half a second of matplotlib a run): for tests that
    read its CSV, JSON and summary only. The plots are tested where they are looked at."""
    from mlpbench import outputs
    for name in ("training_curves", "epoch_times", "step_split"):
        monkeypatch.setattr(outputs.plots, name, lambda *args, **kwargs: None)
    monkeypatch.setattr(outputs, "size_map", lambda *args, **kwargs: None)


def assert_machine_facts(start, env):
    """The start record's machine facts: the CPU's vector extensions as /proc/cpuinfo lists them,
    and the framework-changing environment variables the run had, env among them."""
    flags = next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("flags")), None) if Path("/proc/cpuinfo").exists() else None
    if flags is not None:
        assert start["cpu_extensions"] and set(start["cpu_extensions"]) <= set(flags)
        assert {"avx2", "fma"} & set(flags) <= set(start["cpu_extensions"])
        assert not {"fpu", "sse2", "ht"} & set(start["cpu_extensions"])  # vector extensions only
    assert env.items() <= start["env"].items()
    assert "PATH" not in start["env"] and "HOME" not in start["env"]
