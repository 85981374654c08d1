"""The Machine section: kernels, CPU, environment, GPU, the matmul peaks."""

from mlpbench import report
from support.fabricate import make_meta, make_run
from support.summaries import summary


def test_machine_section_names_the_kernels_the_cpu_extensions_and_the_environment():
    runs = [make_run("jax", "step"), make_run("pytorch", "eager")]
    runs[0].records[0].update(kernels="XLA:CPU (cpu, pjrt_ifrt), jaxlib 0.10.2", env={"XLA_FLAGS": "--x"})
    runs[1].records[0].update(kernels="BLAS mkl", env={"OMP_NUM_THREADS": "1"})
    meta = make_meta()
    meta.update(cpu_extensions=["avx2", "fma"], env={"OPENBLAS_CORETYPE": "Haswell"})
    lines = report.summary(runs, meta).splitlines()
    assert "- kernels: JAX: XLA:CPU (cpu, pjrt_ifrt), jaxlib 0.10.2; PyTorch: BLAS mkl" in lines
    assert "- CPU vector extensions: avx2, fma" in lines
    assert ("- environment that changes the frameworks: OMP_NUM_THREADS=1, OPENBLAS_CORETYPE=Haswell, "
            "XLA_FLAGS=--x") in lines
    earlier = summary([make_run("jax", "step")]).splitlines()  # recorded before these facts
    assert not any(line.startswith(("- kernels", "- CPU vector", "- environment")) for line in earlier)


def test_machine_section_names_the_gpu_driver_and_each_frameworks_cuda():
    runs = [make_run("jax", "scan", device="gpu"), make_run("pytorch", "eager", device="gpu")]
    runs[0].records[0]["cuda"], runs[1].records[0]["cuda"] = "cuda 13000", "13.0"
    meta = make_meta()
    meta["gpu"] = {"name": "NVIDIA H100 80GB HBM3", "driver_version": "580.159.04", "memory": "81559 MiB",
                   "cuda_driver": "13.0"}
    text = report.summary(runs, meta)
    assert ("- GPU: NVIDIA H100 80GB HBM3 (81559 MiB), driver 580.159.04 (CUDA 13.0 supported); CUDA as the "
            "frameworks report it: JAX cuda 13000, PyTorch 13.0") in text.splitlines()
    assert "- GPU:" not in summary(runs)  # a CPU run's meta has no GPU


def test_the_matmul_peak_is_the_better_of_the_probes_before_and_after_the_runs():
    from mlpbench.machine import best_probes
    before = {"jax": {"gflops": 280.0, "matmul_n": 2048}, "pytorch": {"gflops": 176.8, "matmul_n": 2048}}
    after = {"jax": {"gflops": 268.0, "matmul_n": 2048}, "pytorch": {"error": "timed out"}}
    merged = best_probes(before, after)
    assert merged["jax"] == {"gflops": 280.0, "matmul_n": 2048, "readings": [280.0, 268.0]}
    assert merged["pytorch"] == {"gflops": 176.8, "matmul_n": 2048, "readings": [176.8, None]}
    merged = best_probes(before, {"pytorch": {"gflops": 303.1, "matmul_n": 2048}})
    assert merged["pytorch"]["gflops"] == 303.1 and merged["pytorch"]["readings"] == [176.8, 303.1]
    meta = make_meta()
    meta["probes"] = best_probes(before, after)
    text = report.summary([make_run("jax", "step"), make_run("pytorch", "eager")], meta)
    assert ("- JAX fp32 matmul peak: 280.0 GFLOP/s (2048^3 matmul, median of 5; the better of 280.0 "
            "before the runs and 268.0 after)") in text
    assert ("- PyTorch fp32 matmul peak: 176.8 GFLOP/s (2048^3 matmul, median of 5; read before the runs "
            "only: the probe after them failed)") in text
