#!/bin/bash
# Installs the Debian 12 packages that Strata's build, tests and benchmarks need. Idempotent:
# installs only what is missing. Needs root (or sudo).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates  # toolchain
  libfmt-dev                     # formatting of every message and table (library)
  libhwloc-dev hwloc             # host topology: NUMA, PCIe tree, GPUs, NICs; hwloc XML (library)
  libpugixml-dev                 # NCCL topology XML files (library)
  libucx-dev                     # UCX transport between hosts (library; optional, else TCP)
  libibverbs-dev rdma-core       # NIC ports in discovery; the verbs transport later
  libcli11-dev                   # command-line flags of strata-bench, strata-topo, strata-plan
  libcairo2-dev                  # strata-plan --plot: the busbw chart as PNG (library)
  nlohmann-json3-dev             # --json output of strata-bench
  libgtest-dev libgmock-dev      # the test suite
  libbenchmark-dev               # micro-benchmarks of the kernels
  clang libclang-rt-14-dev       # libFuzzer: fuzzing of the topology file readers in CI
  python3                        # tool tests check exported JSON/XML; bench/compare.py
  libpmix-dev                    # PMIx's header for the mpirun/srun launcher (libpmix is dlopen-ed at run time)
  openmpi-bin mpich              # launcher tests: mpirun.openmpi (PMIx) and mpiexec.mpich (PMI-1)
  iproute2                       # ip netns/veth/bridge: the multi-host tests on network namespaces (scripts/netns.sh)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all packages present"
