#!/usr/bin/env bash
# Installs every Debian package taskfarm needs to build, run and test (Debian 12 bookworm or later,
# Ubuntu 23.04 or later: the build needs CMake >= 3.25, which Ubuntu 22.04 does not have).
# Idempotent and quiet when everything is present; waits for the dpkg lock instead of failing.
# Usage: cmake/setup-debian.sh   (run as root, or with sudo available)
# Slurm and munge are always installed: the end-to-end test tests/e2e/test_slurm.py starts a private
# one-node cluster from them, with daemons of its own (not the system services). --with-slurm is still
# accepted, as a no-op.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  openmpi-bin libopenmpi-dev libboost-mpi-dev libboost-serialization-dev
  libhdf5-dev hdf5-tools zlib1g-dev
  libgtest-dev libtomlplusplus-dev libcli11-dev libfmt-dev libspdlog-dev
  python3 python3-h5py python3-numpy
  # Analysis where users work: xarray over h5netcdf, pandas, and `taskfarm plot` (matplotlib).
  python3-xarray python3-h5netcdf python3-pandas python3-matplotlib
  # Only for the fuzzer (tests/fuzz/run.sh): clang and its libFuzzer runtime. libclang-rt-dev, not a
  # versioned libclang-rt-N-dev, follows the release's default clang (on Debian 12: clang 14).
  clang libclang-rt-dev
  slurmctld slurmd slurm-client munge
  # Only for the command benchmark (tests/bench/command_bench.py): GNU parallel, measured beside us.
  parallel
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-o DPkg::Lock::Timeout=600 -qq)
start=$SECONDS
echo "setup-debian: ${#missing[@]} packages missing; apt-get update (waits up to 10 min for the dpkg lock)..." >&2
$sudo apt-get "${apt_opts[@]}" update >/dev/null
echo "setup-debian: apt-get install ${missing[*]} ..." >&2
$sudo apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-debian: installed ${#missing[@]} packages in $((SECONDS - start)) s" >&2
