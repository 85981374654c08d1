"""The one table of modes: every fact about a mode that trainers, controller, report and plots
read (docs/design.md, "Modes"). Mode names are unique across the two frameworks, so the
controller's --modes picks by name."""
from dataclasses import dataclass

FRAMEWORKS = {"jax": "JAX", "pytorch": "PyTorch"}
FUNCTIONAL, OBJECT_ORIENTED = "functional", "object-oriented"


@dataclass(frozen=True)
class Versus:
    """One comparison a mode is weighed in: the other mode, and the one thing that differs
    between the two. break_even: the mode pays up front (a compile, a capture) to save per
    epoch, so the summary says after how many epochs it is ahead."""
    other: str
    changes: str
    break_even: bool = False


@dataclass(frozen=True)
class Mode:
    name: str
    framework: str
    paradigm: str
    compiled: bool  # a JIT or compiler builds the step before it runs
    cacheable: bool  # a compile cache can keep something of it: warm-cache runs make sense
    gpu_only: bool = False
    device_input_only: bool = False  # it runs over batches already on the device, no loader
    default: bool = False  # in the controller's default set
    package: str | None = None  # what it imports beyond its framework (flax for NNX)
    weighed_against: tuple[Versus, ...] = ()

    @property
    def display(self):
        return f"{FRAMEWORKS[self.framework]} {self.name}"


# The first mode of each framework is its trainer's default --mode. Each Versus says what the
# two modes' difference isolates; the summary weighs every pair that ran.
MODES = {m.name: m for m in (
    Mode("step", "jax", FUNCTIONAL, compiled=True, cacheable=True, default=True,
         weighed_against=(Versus("nojit", "what jax.jit buys (functional JAX)", break_even=True),)),
    Mode("scan", "jax", FUNCTIONAL, compiled=True, cacheable=True, device_input_only=True,
         weighed_against=(Versus("nojit", "what jax.jit buys (functional JAX)", break_even=True),
                          Versus("step", "a whole epoch in one call (compiled JAX)"))),
    # Op by op, each primitive is built once and can be cached: warm runs make sense.
    Mode("nojit", "jax", FUNCTIONAL, compiled=False, cacheable=True),
    Mode("nnx", "jax", OBJECT_ORIENTED, compiled=True, cacheable=True, package="flax",
         weighed_against=(Versus("step", "paradigm (both compiled JAX)"),
                          Versus("compile", "framework (both object-oriented, compiled)"))),
    # The module split once into graph and state around a plain jax.jit: a step over arrays
    # gathered on the device, so no loader.
    Mode("nnx-split", "jax", OBJECT_ORIENTED, compiled=True, cacheable=True, device_input_only=True,
         package="flax",
         weighed_against=(Versus("nnx", "what NNX's object bookkeeping costs per step (Flax NNX)"),)),
    Mode("eager", "pytorch", OBJECT_ORIENTED, compiled=False, cacheable=False, default=True),
    Mode("compile", "pytorch", OBJECT_ORIENTED, compiled=True, cacheable=True,
         weighed_against=(Versus("eager", "what torch.compile buys (object-oriented PyTorch)",
                                 break_even=True),)),
    Mode("cudagraph", "pytorch", OBJECT_ORIENTED, compiled=False, cacheable=False, gpu_only=True,
         device_input_only=True,
         weighed_against=(Versus("eager", "what a CUDA graph buys (object-oriented PyTorch)",
                                 break_even=True),)),
    Mode("func", "pytorch", FUNCTIONAL, compiled=False, cacheable=False,
         weighed_against=(Versus("eager", "paradigm (both eager PyTorch)"),
                          Versus("nojit", "framework (both functional, uncompiled)"))),
    Mode("fullgraph", "pytorch", FUNCTIONAL, compiled=True, cacheable=True,
         weighed_against=(Versus("step", "framework (both functional, compiled)"),
                          Versus("scan", "framework (both functional, compiled)"),
                          Versus("func", "what torch.compile buys (functional PyTorch)", break_even=True),
                          Versus("compile",
                                 "one graph against one that Dynamo breaks (compiled PyTorch)"))),
    Mode("fullgraph-cudagraph", "pytorch", FUNCTIONAL, compiled=True, cacheable=True, gpu_only=True,
         device_input_only=True,
         weighed_against=(Versus("fullgraph", "what a CUDA graph buys (compiled functional PyTorch)"),
                          Versus("scan", "framework (both functional, compiled, launched from the device)"),
                          Versus("cudagraph", "compiling inside the CUDA graph (PyTorch)"))),
)}

def mode(name):
    return MODES[name]


def names(framework=None):
    return [m.name for m in MODES.values() if framework in (None, m.framework)]


def default_modes():
    return [m.name for m in MODES.values() if m.default]
