"""Dependencies point one way: the kernels import no Ray, boto3 or webdataset (DESIGN.md)."""

import subprocess
import sys


def test_importing_ops_pulls_in_no_io_or_cluster_libraries():
    code = ("import sys, corrupter.ops; "
            "print(','.join(m for m in ('ray', 'boto3', 'webdataset') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""
