"""Helpers shared by the benchmark drivers in tests/bench/: free ports,
a process's CPU and memory from /proc, stopping what a run started,
medians, and writing a result block into docs/BENCHMARKS.md."""

import contextlib
import datetime
import io
import os
import shutil
import socket
import subprocess
import sys

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                   "BENCHMARKS.md")

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """user+sys CPU seconds of a process (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_kib(pid, key):
    """A KiB field of /proc/PID/status (VmRSS, VmHWM), 0 when absent."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def stop_all(procs, tmp):
    """Terminate the processes, newest first (kill those that linger),
    and remove the run's temporary folder."""
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
    shutil.rmtree(tmp, ignore_errors=True)


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


@contextlib.contextmanager
def doc_block(section, target="bench-compare"):
    """Print what the block prints and, when section is set, also put it in
    docs/BENCHMARKS.md between the lines <!-- bench:SECTION --> and
    <!-- /bench:SECTION --> (which must be there), replacing what was
    between them: make bench-compare rewrites its own tables."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        yield
    text = buf.getvalue()
    sys.stdout.write(text)
    if not section:
        return
    begin, end = f"<!-- bench:{section} -->", f"<!-- /bench:{section} -->"
    with open(DOC) as f:
        doc = f.read()
    i, j = doc.find(begin), doc.find(end)
    if i < 0 or j < i:
        raise SystemExit(f"{DOC}: no {begin} ... {end} lines to write the results between")
    stamp = (f"_Measured {datetime.date.today().isoformat()} by the command below "
             f"(`make {target}` runs it)._")
    doc = doc[:i + len(begin)] + "\n" + stamp + "\n\n" + text.strip() + "\n" + doc[j:]
    tmp = DOC + ".tmp"
    with open(tmp, "w") as f:
        f.write(doc)
    os.replace(tmp, DOC)
    print(f"(written into docs/BENCHMARKS.md, section {section})", file=sys.stderr)
