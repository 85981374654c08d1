"""The controller's worker manager: one trainer run as a child process, its records checked as
they arrive, a hung or crashed child reported with its stderr, the machine's load measured."""
import json
import os
import queue
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from mlpbench.cli import log
from mlpbench.records import RECORD_FIELDS


def check_record(record, expected_event, epochs):
    """Why a parsed line is not the record expected next, or None when it is."""
    if not isinstance(record, dict) or record.get("event") not in RECORD_FIELDS:
        return "not a start/epoch/end record"
    missing = [f for f in RECORD_FIELDS[record["event"]] if f not in record]
    if missing:
        return f"{record['event']} record lacks {', '.join(missing)}"
    if record["event"] != expected_event:
        return f"expected event '{expected_event}', got '{record['event']}'"
    if record["event"] == "start" and record["epochs"] != epochs:
        return f"start record says {record['epochs']} epochs, asked for {epochs}"
    return None


def exit_reason(code):
    """A child's exit code in words. Killed by a signal, Popen reports minus its number: SIGKILL
    from nobody here is the system's out-of-memory killer, most likely (a huge width, say)."""
    if code >= 0:
        return f"exit code {code}"
    name = signal.Signals(-code).name if -code in signal.Signals.__members__.values() else f"signal {-code}"
    return f"killed by {name}" + (": out of memory?" if -code == signal.SIGKILL else "")


def tail(path, lines=15):
    text = Path(path).read_text(errors="replace").strip().splitlines()
    return "\n".join(text[-lines:])


# How often the controller looks for a child's next line: far below an epoch, so a record is
# read within this of its arrival.
POLL_S = 0.02


def next_line(lines, deadline):
    """The reader thread's next line, or queue.Empty at the deadline. Polled, not waited on: an
    exception raised by a signal handler (SIGTERM's, Ctrl-C's) inside Condition.wait, which
    queue.get blocks in, can leave its lock released and surface as "release unlocked lock"
    instead of the signal; raised from time.sleep, it propagates as it is."""
    while True:
        try:
            return lines.get_nowait()
        except queue.Empty:
            if time.monotonic() >= deadline:
                raise
            time.sleep(POLL_S)


def run_child(command, timeout, epochs, on_epoch, env=None):
    """Run one trainer, reading its records as they come. Returns (records, error, stderr tail)."""
    records, error = [], None
    with tempfile.NamedTemporaryFile("w+", suffix=".stderr") as err:
        # A session of its own: a timeout kills the child's whole group (its DataLoader
        # workers, Inductor's compile workers), and a signal to us is not sent to it.
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                 text=True, start_new_session=True, env=env)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in child.stdout] + [lines.put(None)],
                         daemon=True).start()
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    line = next_line(lines, deadline)
                except queue.Empty:
                    error = f"timed out after {timeout:g} s"
                    break
                if line is None:
                    break
                expected = "start" if not records else ("end" if len(records) == epochs + 1 else "epoch")
                try:
                    record = json.loads(line)
                    problem = check_record(record, expected, epochs)
                except json.JSONDecodeError:
                    problem = "not JSON"
                if problem:
                    error = f"malformed output ({problem}): {line.strip()[:200]}"
                    break
                records.append(record)
                if record["event"] == "epoch":
                    on_epoch(record)
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
            code = child.wait()
        if error is None and code != 0:
            error = exit_reason(code)
        if error is None and (len(records) != epochs + 2):
            error = f"incomplete output: {len(records)} records for {epochs} epochs"
        return records, error, tail(err.name) if error else ""


def run_probe(command, timeout=300, env=None):
    """A probe child's records, one per line of its output, or [{"error": why}] where it gave none."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL, env=env)
        records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        return records or [{"error": f"no output ({exit_reason(result.returncode)})"}]
    except (subprocess.TimeoutExpired, json.JSONDecodeError) as e:
        return [{"error": str(e)}]


class LoadMeter:
    """The machine's load around one run.

    The 1-minute load average before a run is what `uptime` and `top` speak of,
    but right after one of our own runs it still holds that run. So the CPU time that other
    processes took during the run is measured too: the machine's busy time (/proc/stat)
    minus what this process and its children used, in cores, averaged over the run."""

    def __init__(self):
        self.ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def _busy_s(self):
        try:
            with open("/proc/stat") as f:
                user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
        except (OSError, ValueError):
            return None
        return (user + nice + system + irq + softirq + steal) / self.ticks

    @staticmethod
    def _own_s():
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    def start(self):
        self.load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        self.t0, self.busy0, self.own0 = time.monotonic(), self._busy_s(), self._own_s()
        return self.load

    def other_cores(self):
        """Cores that other processes kept busy during the run, on average (None off Linux)."""
        busy, wall = self._busy_s(), time.monotonic() - self.t0
        if busy is None or self.busy0 is None or wall <= 0:
            return None
        return max(0.0, (busy - self.busy0 - (self._own_s() - self.own0)) / wall)


class Progress:
    """A bar over all epochs when stderr is a terminal, plain lines otherwise."""

    def __init__(self, total_epochs):
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=total_epochs, unit="epoch", file=sys.stderr, dynamic_ncols=True)

    def run(self, label):
        self.label = label
        if self.bar:
            self.bar.set_description(label)
        else:
            log(f"{label}: started")

    def epoch(self, record, epochs):
        text = (f"epoch {record['epoch']}/{epochs}, val acc {record['val_acc']:.4f}, "
                f"{record['epoch_time_s']:.3f} s")
        if self.bar:
            self.bar.set_postfix_str(text)
            self.bar.update(1)
        else:
            log(f"{self.label}: {text}")

    def message(self, text):
        (self.bar.write if self.bar else log)(text)

    def close(self):
        if self.bar:
            self.bar.close()
