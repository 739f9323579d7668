#!/bin/bash
# strata-bench as a launcher starts it: one process per rank, told only by environment variables
# (torchrun-style here). Passes when every rank exits 0 (no wrong values, no errors).
set -u
bench=${1:?path to strata-bench}
n=${2:-3}
# A port the kernel just handed out as free (a port derived from the pid once collided with
# another test's connection: rank 0 could not bind, and the others waited out their deadline).
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pids=()
for ((r = 0; r < n; r++)); do
  RANK=$r WORLD_SIZE=$n MASTER_ADDR=127.0.0.1 MASTER_PORT=$port STRATA_TIMEOUT=60 \
    "$bench" -b 8 -e 1M -f 16 -n 3 -w 1 -d float,int32 -o sum,max &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
exit $rc
