#!/bin/bash
# Several jobs at once, each on its own two "hosts" (network namespaces) with the same subnet and
# the same root address and port, as containers with their own networks but one /dev/shm would
# be: launcher ids derive from that address, so the jobs have the same id, and their
# shared-memory segments must still not collide ("shm_open ...: File exists" before the fix).
#   netns_jobs_at_once.sh BENCH     Exit: 0 all passed, 1 a job failed, 77 no namespaces here.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bench=${1:?path to strata-bench}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Three jobs, several rounds: the segments exist only while a job connects, so the jobs' windows
# must overlap (before the fix, one round of two jobs caught the collision once in six tries).
jobs=3
rounds=${NETNS_JOBS_ROUNDS:-3}
for ((round = 1; round <= rounds; round++)); do
  pids=()
  for ((job = 1; job <= jobs; job++)); do
    "$here/netns_allreduce.sh" "$bench" 2 2 hier-ring shm+tcp >"$out/$job" 2>&1 &
    pids+=($!)
  done
  status=0
  for ((job = 1; job <= jobs; job++)); do
    wait "${pids[$((job - 1))]}"
    rc=$?
    [ "$rc" = 77 ] && { cat "$out/$job"; exit 77; }
    if [ "$rc" != 0 ]; then
      echo "FAIL: round $round, job $job exited $rc:"
      cat "$out/$job"
      status=1
    fi
  done
  [ $status = 0 ] || exit 1
done
echo "PASS: $rounds rounds of $jobs jobs with the same root address at once"
