#!/usr/bin/env bash
# GPU validation kit for a short GPU slot (about 15 minutes, one command of at most 10):
#
#   scripts/gpu_check.sh RESULTS_DIR [--budget-s 480] [--wheelhouse DIR]
#
# Installs wheelhouse/ (scripts/make_wheelhouse.sh) offline, then runs the checks of
# scripts/gpu_check.py stage by stage, each with its own time cap, never past the budget,
# writing one JSON per stage and summary.md into RESULTS_DIR as it goes. Stages that need a
# GPU say "skipped: no CUDA" on a machine without one.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" scripts/gpu_check.py "$@"
