#!/bin/bash
# strata-bench started by a real launcher with none of Strata's or torchrun's rendezvous
# variables: the launcher alone must get rank, size, local rank and the root's address to every
# rank.
#   launcher_run.sh STRATA_BENCH openmpi|mpich|torchrun NRANKS
#   launcher_run.sh INIT_FROM_ENV_TWICE openmpi|mpich|torchrun NRANKS twice
# openmpi: mpirun.openmpi (the id travels through PMIx); mpich: mpiexec.mpich (PMI-1 on PMI_FD);
# torchrun: NRANKS processes started here with RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT.
# Passes when every rank exits 0, every rank logs that it came from the expected variables and
# is ready on the expected transport, and rank 0's table has every row with 0 wrong elements.
# "twice": the program (tests/launch/init_from_env_twice.cc) creates two communicators from the
# environment; every rank must report both exact.
# Exits 77 (CTest's SKIP_RETURN_CODE) when the launcher is not installed.
# STRATA_DEBUG=INFO is set only for those per-rank log lines.
set -u
bench=${1:?path to strata-bench}
kind=${2:?openmpi, mpich or torchrun}
n=${3:?number of ranks}
mode=${4:-bench}

# A clean environment: nothing from an enclosing launcher or from the user.
for v in $(compgen -e); do
  case $v in
    STRATA_* | MASTER_* | PMIX_* | PMI_* | OMPI_* | SLURM_* | MPI_LOCAL* | HYDRA_*) unset "$v" ;;
  esac
done
unset RANK WORLD_SIZE LOCAL_RANK LOCAL_WORLD_SIZE GROUP_RANK TORCHELASTIC_RUN_ID

# 5 sizes x 2 types x 2 ops = 20 rows, each checked exactly by strata-bench.
args=(-b 8 -e 64K -f 8 -n 2 -w 1 -d float,int32 -o sum,max --timeout 30)
rows=20
[ "$mode" = twice ] && args=()
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

case $kind in
  openmpi)
    command -v mpirun.openmpi >/dev/null || { echo "SKIP: mpirun.openmpi is not installed (apt-get install openmpi-bin)"; exit 77; }
    root=()
    [ "$(id -u)" = 0 ] && root=(--allow-run-as-root)
    # --oversubscribe: more ranks than this machine's cores.
    timeout 120 mpirun.openmpi "${root[@]}" --oversubscribe -x STRATA_DEBUG=INFO -np "$n" "$bench" "${args[@]}" \
      >"$out/stdout" 2>"$out/stderr"
    rc=$?
    cat "$out/stdout" "$out/stderr" >"$out/all"
    vars="OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE; root through PMIx"
    localVar=OMPI_COMM_WORLD_LOCAL_RANK
    ;;
  mpich)
    command -v mpiexec.mpich >/dev/null || { echo "SKIP: mpiexec.mpich is not installed (apt-get install mpich)"; exit 77; }
    timeout 120 mpiexec.mpich -np "$n" -genv STRATA_DEBUG INFO "$bench" "${args[@]}" >"$out/stdout" 2>"$out/stderr"
    rc=$?
    cat "$out/stdout" "$out/stderr" >"$out/all"
    vars="PMI_RANK/PMI_SIZE; root through PMI-1"
    localVar=MPI_LOCALRANKID
    ;;
  torchrun)
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    pids=()
    for ((r = 0; r < n; r++)); do
      RANK=$r WORLD_SIZE=$n LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port STRATA_DEBUG=INFO \
        timeout 120 "$bench" "${args[@]}" >"$out/rank$r" 2>"$out/rank$r.err" &
      pids+=($!)
    done
    rc=0
    for ((r = 0; r < n; r++)); do
      wait "${pids[$r]}" || { echo "FAIL: rank $r exited with $?"; rc=1; }
    done
    for ((r = 0; r < n; r++)); do cat "$out/rank$r"; done >"$out/stdout"
    cat "$out/stdout" "$out"/rank*.err >"$out/all"
    vars="RANK/WORLD_SIZE; root through address (MASTER_ADDR/MASTER_PORT)"
    localVar=LOCAL_RANK
    ;;
  *) echo "unknown launcher '$kind'"; exit 2 ;;
esac

fail() {
  echo "FAIL: $*"
  echo "---- output ----"
  cat "$out/all"
  exit 1
}
[ "$rc" = 0 ] || fail "the launcher exited with $rc"
if [ "$mode" = twice ]; then
  for ((r = 0; r < n; r++)); do
    [ "$(grep -cF "INFO: rank $r/$n (local rank $r from $localVar) from $vars" "$out/all")" = 2 ] ||
      fail "rank $r did not report rank $r/$n, local rank $r, from $vars for both communicators"
    grep -qxF "rank $r/$n: 2 communicators exact" "$out/all" || fail "rank $r did not finish both communicators"
  done
  echo "PASS: $kind, $n ranks: two communicators from the environment, exact on every rank"
  exit 0
fi
transport=shm
[ "$n" = 1 ] && transport=none
for ((r = 0; r < n; r++)); do
  grep -qF "INFO: rank $r/$n (local rank $r from $localVar) from $vars" "$out/all" ||
    fail "rank $r did not report rank $r/$n, local rank $r, from $vars"
  grep -qE "INFO: rank $r/$n ready on .* $n local ranks, transport $transport\$" "$out/all" ||
    fail "rank $r is not ready on transport $transport"
done
grep -qF "# strata-bench: nranks $n," "$out/all" || fail "no header with nranks $n"
# Data rows: size count type redop root | time algbw busbw #wrong | time algbw busbw #wrong | model algorithm
# (From stdout alone: the launchers interleave the ranks' stderr, INFO lines per collective,
# with it at any byte.)
good=$(awk -v t="$transport" '$1 ~ /^[0-9]+$/ && NF == 15 && $9 == 0 && $13 == 0 && $15 ~ ("/" t "$") { k++ } END { print k + 0 }' "$out/stdout")
all=$(awk '$1 ~ /^[0-9]+$/ && NF == 15 { k++ } END { print k + 0 }' "$out/stdout")
[ "$all" = "$rows" ] || fail "$all result rows, expected $rows"
[ "$good" = "$rows" ] || fail "only $good of $rows rows have 0 wrong elements on transport $transport"
grep -qF "# Out of bounds values : 0 OK" "$out/all" || fail "no '0 OK' summary"
echo "PASS: $kind, $n ranks: every rank ready on $transport, $rows rows exact"
