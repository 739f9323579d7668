// Communicators whose ranks are threads of this process, through the public C API (shared
// memory works between threads as between processes).
#pragma once

#include <gtest/gtest.h>

#include <functional>

#include "strata/strata.h"
#include "support/rank_threads.h"

namespace strata::testing {

inline strataConfig_t testConfig(double timeoutSec = 60) {
  strataConfig_t c = STRATA_CONFIG_INITIALIZER;
  c.timeoutSec = timeoutSec;
  return c;
}

// Creates an n-rank communicator on n threads, runs fn(rank, comm) on each, destroys it.
inline void withComm(int n, const strataConfig_t& config,
                     const std::function<void(int, strataComm_t)>& fn) {
  strataUniqueId id;
  ASSERT_EQ(strataGetUniqueId(&id), strataSuccess) << strataGetLastError(nullptr);
  runRanks(n, [&](int r) {
    strataComm_t comm = nullptr;
    strataResult_t res = strataCommInitRankConfig(&comm, n, id, r, &config);
    ASSERT_EQ(res, strataSuccess) << "rank " << r << ": " << strataGetLastError(nullptr);
    fn(r, comm);
    EXPECT_EQ(strataCommDestroy(comm), strataSuccess);
  });
}

}  // namespace strata::testing
