#!/usr/bin/env bash
# Every check that needs an NVIDIA GPU, in one run (about 6 minutes on one H200).
#
#   bash tools/bench/device_check.sh [OUTDIR]
#
# Runs from the repository root without installing the packages (PYTHONPATH points at
# their src/ folders); the machine needs python3 with a CUDA torch, numpy, scipy and
# pytest. Wheels of missing pure-Python packages (pytorch-ignite for climate-seg) are
# installed from .whl/ when that folder exists. Steps, each with its own time limit so
# that one hang cannot take the others' time, each logged to OUTDIR (default: $OUT,
# else ./device-out):
#
#   1. gpu.txt            the device and torch build
#   2. cuda-tests.log     cheb-conv's whole suite (its CUDA tests included), and the
#                         CUDA-vs-CPU tests of sphere-pool and sphere-unet
#   3. cheb_conv.log/json tools/bench/cheb_conv.py --quick --device cuda
#   4. unet.log/json      tools/bench/unet.py --device cuda
#   5. climate-seg.log    synthetic data, one training epoch with --gpu 0, then
#                         `evaluate` of that checkpoint on the CPU and with --gpu 0
#   6. climate-seg-tests.log  climate-seg's --gpu tests (GPU evaluation == CPU evaluation)
#
# The exit status is the number of failed steps.
set -u -o pipefail
cd "$(dirname "$0")/../.."
out=${1:-${OUT:-device-out}}
mkdir -p "$out"
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
src=""
for p in sphere-graphs cheb-conv sphere-pool sphere-unet climate-seg; do
    src="$src:$PWD/packages/$p/src"
done
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    $py -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/device-site .whl/*.whl && src="$src:/tmp/device-site"
fi
export PYTHONPATH="${src#:}${PYTHONPATH:+:$PYTHONPATH}"
failed=0
step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2
    shift 2
    echo "== $name (limit ${limit} s): $*"
    local t0=$SECONDS
    if timeout "$limit" "$@" >"$out/$name.log" 2>&1; then
        echo "   ok in $((SECONDS - t0)) s"
    else
        echo "   FAILED (status $?) after $((SECONDS - t0)) s; last lines:"
        tail -n 15 "$out/$name.log" | sed 's/^/   | /'
        failed=$((failed + 1))
    fi
}

{ nvidia-smi -L; $py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"; } >"$out/gpu.txt" 2>&1
cat "$out/gpu.txt"
step cuda-tests 240 $py -m pytest -q -p no:cacheprovider -n 8 \
    packages/cheb-conv/tests packages/sphere-pool/tests/test_devices.py \
    packages/sphere-unet/tests/test_devices.py -r s
grep -E "passed|failed" "$out/cuda-tests.log" | tail -n 1
step cheb_conv 150 $py tools/bench/cheb_conv.py --quick --device cuda --json "$out/cheb_conv.json"
step unet 150 $py tools/bench/unet.py --device cuda --json "$out/unet.json"
# the default training (small preset) for one epoch on cuda:0, then `evaluate` of that
# checkpoint on the CPU (a CUDA checkpoint loaded there) and on cuda:0
seg_work=/tmp/device-climate-seg
seg="rm -rf $seg_work && $py -m climate_seg data synth --out $seg_work/data --samples 48 --workers 8 \
 && $py -m climate_seg train --data $seg_work/data --out $seg_work/run --gpu 0 --epochs 1 --batch-size 4 \
 && $py -m climate_seg evaluate $seg_work/run --data $seg_work/data \
 && $py -m climate_seg evaluate $seg_work/run --data $seg_work/data --gpu 0 --report $seg_work/gpu.json"
if $py -c "import ignite" 2>/dev/null; then
    step climate-seg 150 bash -c "$seg"
    step climate-seg-tests 120 $py -m pytest -q -p no:cacheprovider \
        packages/climate-seg/tests/test_cli.py -k gpu -r s
else
    echo "== climate-seg: skipped (pytorch-ignite missing; carry its wheel in .whl/)"
fi
echo "failed steps: $failed"
exit "$failed"
