// Started by a launcher (mpirun, mpiexec, torchrun-style variables): creates two communicators
// with strataCommInitFromEnv, one after the other, and all-reduces on each with exact checks.
// The second exchange must reuse the launcher's session (hydra closes PMI_FD after a finalize).
// Prints "rank R/N local L: 2 communicators exact" and exits 0, or says what failed and exits 1.
#include <cstdio>
#include <vector>

#include "strata/strata.h"
#include "verify.h"

namespace {

bool allReduceExact(strataComm_t comm, int rank, int n, uint64_t seed) {
  std::vector<int64_t> x(4099);
  strata::verify::fill(x.data(), x.size(), strataInt64, strataSum, rank, n, seed);
  if (strataAllReduce(x.data(), x.data(), x.size(), strataInt64, strataSum, comm, nullptr) != strataSuccess) {
    std::fprintf(stderr, "rank %d: all-reduce failed: %s\n", rank, strataGetLastError(comm));
    return false;
  }
  size_t wrong = strata::verify::countWrong(x.data(), x.size(), strataInt64, strataSum, n, seed);
  if (wrong) std::fprintf(stderr, "rank %d: %zu wrong elements\n", rank, wrong);
  return wrong == 0;
}

}  // namespace

int main() {
  strataConfig_t config = STRATA_CONFIG_INITIALIZER;
  config.timeoutSec = 30;
  strataComm_t comms[2] = {nullptr, nullptr};
  int rank = -1, n = -1;
  for (int c = 0; c < 2; ++c) {
    if (strataCommInitFromEnv(&comms[c], &config) != strataSuccess) {
      std::fprintf(stderr, "communicator %d: strataCommInitFromEnv failed: %s\n", c, strataGetLastError(nullptr));
      return 1;
    }
    strataCommUserRank(comms[c], &rank);
    strataCommCount(comms[c], &n);
  }
  bool ok = true;
  for (int c = 0; c < 2; ++c) ok = allReduceExact(comms[c], rank, n, 11 + c) && ok;
  for (strataComm_t comm : comms) ok = strataCommDestroy(comm) == strataSuccess && ok;
  if (!ok) return 1;
  std::printf("rank %d/%d: 2 communicators exact\n", rank, n);
  return 0;
}
