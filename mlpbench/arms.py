"""Arms: one benchmark run under two or more environments, interleaved by repeat, so that what
changes between them is weighed within one session (docs/design.md, "Arms"). An arm is another
Python interpreter (another venv: other framework versions), environment variables (a library's
code path, XLA flags), or both:

    --arm NAME                       this Python, this environment
    --arm NAME=PYTHON                another interpreter
    --arm NAME:VAR=VALUE[,VAR=VALUE] environment variables set for its runs
    --arm NAME=PYTHON:VAR=VALUE      both

--aa is two identical arms, A and B."""
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*$")
VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
AA = ("A", "B")


class ArmError(ValueError):
    """A malformed arm, or one that cannot run what the benchmark asks of it."""


@dataclass(frozen=True)
class Arm:
    name: str
    python: str = sys.executable
    env: dict = field(default_factory=dict)

    def environ(self):
        """The environment its runs get: this process's, with the arm's variables set."""
        return {**os.environ, **self.env}

    def describe(self):
        """What run_meta.json records of the arm."""
        return {"name": self.name, "python": self.python, "env": dict(self.env)}


def parse_arm(text):
    """NAME[=PYTHON][:VAR=VALUE[,VAR=VALUE...]] as an Arm. Raises ArmError."""
    head, colon, assignments = text.partition(":")
    name, equals, python = head.partition("=")
    if not NAME.match(name):
        raise ArmError(f"--arm {text}: the name {name!r} must be letters, digits, '.', '_' or '-'")
    if equals and not python:
        raise ArmError(f"--arm {text}: NAME=PYTHON needs the interpreter's path")
    env = {}
    if colon:
        for item in assignments.split(","):
            var, eq, value = item.partition("=")
            if not eq or not VARIABLE.match(var):
                raise ArmError(f"--arm {text}: {item!r} is not VAR=VALUE")
            env[var] = value
        if not env:
            raise ArmError(f"--arm {text}: nothing after ':' (give VAR=VALUE)")
    return Arm(name, resolve_python(text, python) if python else sys.executable, env)


def resolve_python(text, python):
    path = shutil.which(python) or (python if os.path.isfile(python) and os.access(python, os.X_OK) else None)
    if path is None:
        raise ArmError(f"--arm {text}: no interpreter at {python}")
    return os.path.abspath(path)


def parse_arms(texts, aa=False):
    """The arms of a benchmark: --aa's A and B, or each --arm; [] for neither. Raises ArmError."""
    if aa:
        return [Arm(name) for name in AA]
    arms = [parse_arm(t) for t in texts]
    names = [a.name for a in arms]
    if len(set(names)) != len(names):
        raise ArmError(f"--arm: each arm needs a name of its own ({', '.join(names)})")
    if arms and len(arms) < 2:
        raise ArmError("--arm: give two arms or more (one arm is a run with nothing to weigh it against)")
    return arms


def missing_packages(arm, packages):
    """The packages of `packages` that the arm's interpreter, in its environment, cannot import."""
    check = ("import importlib.util, sys; "
             "print('missing:', *(p for p in sys.argv[1:] if importlib.util.find_spec(p) is None))")
    try:
        result = subprocess.run([arm.python, "-c", check, *packages], capture_output=True, text=True,
                                env=arm.environ(), timeout=120, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return [f"(the interpreter does not start: {e})"]
    if result.returncode != 0:
        return [f"(the interpreter exits {result.returncode}: {result.stderr.strip()[-200:]})"]
    line = next((l for l in result.stdout.splitlines() if l.startswith("missing:")), None)
    return line.split()[1:] if line is not None else ["(it printed nothing: not a Python interpreter?)"]


def check_arms(arms, packages):
    """Each arm's interpreter imports every package the benchmark's modes need. Raises ArmError."""
    for arm in arms:
        missing = missing_packages(arm, packages) if arm.python != sys.executable or arm.env else []
        if missing:
            raise ArmError(f"--arm {arm.name}: {arm.python} cannot import {', '.join(missing)}, which the "
                           "modes asked for need")
