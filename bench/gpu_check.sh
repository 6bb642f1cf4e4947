#!/usr/bin/env bash
# Everything that needs a GPU, in one go, on a CUDA node (neither Ray nor an S3 server is needed):
#
#   bash bench/gpu_check.sh [OUTDIR]        # PYTHON=/path/to/python to pick the interpreter
#
# 1. the CUDA tests: the contract suite on CUDA and the CPU-vs-CUDA agreement of every corruption
#    (tests/ops/test_contract.py), the nvJPEG encoder (tests/io/test_codec.py) and whole
#    GPU-written shards decoded against the CPU worker's (tests/pipeline/test_worker.py);
# 2. bench/bench_ops.py --device cuda: ms per image of every corruption, batch 32;
# 3. bench/bench_worker.py --device cuda: output images per second end to end, nvJPEG included;
# 4. the rest of the test suite but for its Ray and S3 tests.
# Logs and the Markdown tables for docs/benchmarks.md land in OUTDIR (default gpu-check/).
# The project runs from this checkout (no install needed): the interpreter must have the
# dependencies of pyproject.toml but Ray and boto3, plus pytest and pytest-timeout.
set -uo pipefail
out=$(realpath -m "${1:-gpu-check}")  # resolved before the cd: a relative OUTDIR is the caller's
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
mkdir -p "$out"
export PYTHONUNBUFFERED=1

"$py" - <<'EOF' 2>&1 | tee "$out/env.txt" || exit 1
import importlib.util, platform, sys
missing = [m for m in ("torch", "torchvision", "numpy", "PIL", "yaml", "pydantic", "webdataset",
                       "braceexpand", "tqdm", "pytest", "pytest_timeout") if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"gpu_check: missing Python packages: {', '.join(missing)}")
import torch, torchvision
if not torch.cuda.is_available():
    sys.exit("gpu_check: torch sees no CUDA device: nothing to check")
print(f"python {platform.python_version()} | torch {torch.__version__} | torchvision {torchvision.__version__} "
      f"| CUDA {torch.version.cuda} | {torch.cuda.get_device_name()} | {platform.processor() or platform.machine()}")
EOF
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >>"$out/env.txt" 2>&1

# Most telling first, for a machine lent by the minute: the CUDA tests, the GPU benchmarks, then the
# rest of the suite on the CPU (its results can also reflect the node's other torch/Pillow versions).
status=0
tests=(-q -p no:cacheprovider -rs -m "not ray" --ignore=tests/s3 --ignore=tests/pipeline/test_pool_shape.py)
"$py" -m pytest "${tests[@]}" -k cuda 2>&1 | tee "$out/tests-cuda.log" || status=1
"$py" bench/bench_ops.py --device cuda --json "$out/ops-cuda.json" 2>&1 | tee "$out/ops-cuda.md" || status=1
"$py" bench/bench_worker.py --device cuda --samples 512 2>&1 | tee "$out/worker-cuda.md" || status=1
"$py" -m pytest "${tests[@]}" -k "not cuda" 2>&1 | tee "$out/tests-cpu.log" || status=1
exit $status
