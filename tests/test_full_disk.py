"""A full disk gives a clean exit 1 with the message, no temporary file left and no crash
(issue 24: ``run -o FULL/x.nc`` and ``phase`` printed the error, then died with a segmentation
fault, exit 139, when the interpreter closed the half-written HDF5 file at exit).

A full disk is imitated by a file-size limit (``RLIMIT_FSIZE`` with ``SIGXFSZ`` ignored): a
write past it fails inside HDF5 with ``EFBIG``, the same path as ``ENOSPC``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE semantics")

WRAPPER = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
from astrofield.cli import main
main(sys.argv[1:], prog_name="astrofield")
"""

SRC = os.path.join(os.path.dirname(__file__), os.pardir, "src")


@pytest.mark.parametrize(
    "args",
    [
        ["run", "-q", "--N", "256", "--T", "10", "--backend", "numpy"],
        pytest.param(
            [
                "phase",
                "-q",
                "--vary",
                "beta=0.01,0.02",
                "--T",
                "100",
                "--N",
                "32",
                "--executor",
                "serial",
                "--backend",
                "numpy",
            ],
            marks=pytest.mark.slow,  # about 9 s on a loaded machine (a process and a map)
        ),
    ],
    ids=["run", "phase"],
)
def test_full_disk_is_a_clean_error(tmp_path, args):
    out = tmp_path / "x.nc"
    env = {**os.environ, "PYTHONPATH": os.path.abspath(SRC)}
    res = subprocess.run(
        [sys.executable, "-c", WRAPPER, *args, "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 1, (res.returncode, res.stderr[-2000:])  # 139 was the crash
    assert "Error:" in res.stderr and "File too large" in res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists()
    left = [p.name for p in tmp_path.rglob("*") if ".tmp" in p.name]
    assert left == [], left
