#!/usr/bin/env bash
# Download the wheels listed in scripts/wheelhouse.txt into wheelhouse/ (git-ignored), for
# CPython 3.12 and 3.11 on manylinux x86_64, so scripts/gpu_check.sh can install them on an
# offline GPU node (pip install --no-index). Needs a package index here, none there.
#
#   scripts/make_wheelhouse.sh [WHEELHOUSE_DIR]     # default: wheelhouse/
#
# Fails if the folder ends up over 64 MiB (what travels with a working tree).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-wheelhouse}"
python="${PYTHON:-python3}"
mkdir -p "$out"
for version in 3.12 3.11; do
    "$python" -m pip download --quiet --no-deps --only-binary=:all: \
        --python-version "$version" --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
        -d "$out" -r scripts/wheelhouse.txt
done
cp scripts/wheelhouse.txt "$out/requirements.txt"
size_kib=$(du -sk "$out" | cut -f1)
echo "$out: $(ls "$out"/*.whl | wc -l) wheels, $((size_kib / 1024)) MiB"
if [ "$size_kib" -gt $((64 * 1024)) ]; then
    echo "make_wheelhouse.sh: error: $out is over 64 MiB" >&2
    exit 1
fi
