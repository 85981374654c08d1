"""What the GPU check ran on: the GPU, its driver, the CUDA each framework was built with or
found, and the versions of everything the check uses; printed and written as JSON."""
import json
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlpbench.machine import cpu_name, gpu_facts  # noqa: E402


def torch_facts():
    import torch
    facts = {"torch": torch.__version__, "torch_cuda": torch.version.cuda,
             "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
             "torch_sees_gpu": torch.cuda.is_available()}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        facts.update(torch_device=props.name, compute_capability=f"{props.major}.{props.minor}",
                     multiprocessors=props.multi_processor_count)
    return facts


def jax_facts():
    import jax
    import jaxlib
    device = jax.devices()[0]
    facts = {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "jax_backend": device.platform,
             "jax_device": device.device_kind,
             "jax_platform_version": getattr(device.client, "platform_version", None)}
    try:  # a private module: where it is missing or changed, the platform version above says it
        from jax._src.lib import cuda_versions
        if cuda_versions is not None:
            facts.update(jax_cuda_runtime=cuda_versions.cuda_runtime_get_version(),
                         jax_cudnn=cuda_versions.cudnn_get_version())
    except Exception:  # noqa: BLE001
        pass
    return facts


def main():
    facts = {"python": platform.python_version(), "platform": platform.platform(), "cpu": cpu_name(),
             "gpu": gpu_facts()}
    for name, read in (("pytorch", torch_facts), ("jax", jax_facts)):
        try:
            facts.update(read())
        except Exception as e:  # noqa: BLE001 - a framework that fails to load is itself the finding
            facts[f"{name}_error"] = repr(e)
    for module in ("numpy", "scipy", "matplotlib", "tqdm", "torchvision", "flax", "optax"):
        try:
            facts[module] = __import__(module).__version__
        except ImportError:
            facts[module] = None
    text = json.dumps(facts, indent=2, default=str)
    print(text)
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text + "\n")


if __name__ == "__main__":
    main()
