"""The suite's one real benchmark, benchmarks/gpu_check.sh --smoke, run in the background.

It is most of the suite's time (every CPU mode through the controller, two cold Inductor builds)
and needs no other test's result, so conftest.py starts it once the suite is collected and runs
the tests that read it last: its minutes overlap the rest of the suite instead of adding to them.
The smoke's tests check one speed only, JAX's warm compile under its cold one (4x shorter on the
AMD EPYC VM, and a busy machine slows both), so the tests beside it change no result. A test that
needs the machine quiet waits for it (`wait`)."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from support.helpers import ROOT

# The parts the suite runs: what the others run is the controller again, whose flags
# test_gpu_check_plans_every_part_with_flags_the_controller_accepts checks without running them
# (running fast, unroll, cmdbuf and precision took 57 of the smoke's 161 s on the AMD EPYC VM),
# or versions.py, tested in the suite's process, and tests/test_gpu.py, which skips on a CPU
# (the two took 7 s more).
PARTS = ("all", "kernels")
# Inductor as the smoke builds it: scalar C++ rather than vectorised (no dry-run compile of each
# vector ISA in a new cache folder, and shorter kernels to compile), in one compile thread (no pool
# of worker processes, each importing torch, beside the tests). The smoke proves the modes'
# plumbing, records and figures, not Inductor's vector code: its part "all" took 51 s instead of
# 75, its cold torch.compile build 10.8 s instead of 20.3 (AMD EPYC VM, alone). Both variables
# are recorded in the runs' environment, as any that changes a framework is.
INDUCTOR = {"TORCHINDUCTOR_VEC_ISA_OK": "0", "TORCHINDUCTOR_COMPILE_THREADS": "1"}
# A pytest killed outright (a CI job's SIGTERM or SIGKILL) runs no stop(): the script is sent
# SIGTERM when it dies, and stops its part as on a timeout (util-linux's setpriv, where there is one).
ON_PARENT_DEATH = ("setpriv", "--pdeathsig", "TERM") if shutil.which("setpriv") else ()
TIMEOUT_S = 900  # the smoke takes 60 s alone on the AMD EPYC (AVX-512) VM; the AVX2 one is 3.5x slower


@dataclass
class Smoke:
    process: subprocess.Popen
    folder: Path  # holds check/ (the script's OUT_DIR), check.tar.gz and the script's output
    log: Path

    @property
    def out(self):
        return self.folder / "check"


_smoke = None


def start(mnist_dir):
    """Start the smoke once, in a folder of its own; returns it."""
    global _smoke
    if _smoke is None:
        folder = Path(tempfile.mkdtemp(prefix="mlpbench-smoke-"))
        log = folder / "gpu_check.log"
        with open(log, "wb") as output:
            process = subprocess.Popen(
                # niced: the tests in front keep their pace, the smoke takes the core they leave
                [*ON_PARENT_DEATH, "nice", "-n", "19", "bash", str(ROOT / "benchmarks" / "gpu_check.sh"),
                 str(folder / "check"), "--smoke", *PARTS],
                stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT,
                # a group of its own: stop() ends the script and the controller and trainer under it
                process_group=0,
                env={**os.environ, "PYTHON": sys.executable, "MNIST_DATA_DIR": str(mnist_dir), **INDUCTOR})
        _smoke = Smoke(process, folder, log)
    return _smoke


def result(mnist_dir):
    """The smoke's OUT_DIR once it has finished (started now if it was not); a failed smoke
    fails the test that asks, with the end of its output."""
    smoke = start(mnist_dir)
    try:
        code = smoke.process.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        stop()
        raise AssertionError(f"benchmarks/gpu_check.sh --smoke ran past {TIMEOUT_S} s") from None
    assert code == 0, smoke.log.read_text()[-5000:]
    return smoke.out


def wait():
    """Wait for a running smoke to end: for a test that needs the machine's cores to itself."""
    if _smoke is not None:
        _smoke.process.wait(timeout=TIMEOUT_S)


def stop(keep=False):
    """End a smoke still running (the suite stopped early) and remove its folder, or with keep,
    say where it is (the suite failed: its log and outputs are the evidence)."""
    global _smoke
    if _smoke is None:
        return
    if _smoke.process.poll() is None:
        # gpu_check.sh stops its part on SIGTERM and packs what finished
        os.killpg(_smoke.process.pid, signal.SIGTERM)
        try:
            _smoke.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(_smoke.process.pid, signal.SIGKILL)
            _smoke.process.wait()
    if keep:
        print(f"\nthe background smoke's output is kept in {_smoke.folder}", file=sys.stderr)
    else:
        shutil.rmtree(_smoke.folder, ignore_errors=True)
    _smoke = None
