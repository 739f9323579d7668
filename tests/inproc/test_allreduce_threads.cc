// The public all-reduce end to end (bootstrap, shared-memory transport, planner, executor,
// kernels) with ranks as threads: world sizes 1, 2, 3, 4, 5, 8 x counts 0, 1, odd, large x every
// datatype x every op, in place and out of place, with the automatic choice of algorithm and
// with each algorithm forced. Every element is checked exactly.
#include <gtest/gtest.h>

#include <string>

#include <cstring>

#include "support/comm_threads.h"
#include "support/all_types.h"
#include "support/sanitizers.h"
#include "verify.h"

namespace strata {
namespace {

using testing::kAllTypes;
using testing::kAllOps;

class AllReduceThreads : public ::testing::TestWithParam<int> {};

void sweep(int n, const strataConfig_t& config, const std::vector<size_t>& counts) {
  testing::withComm(n, config, [&](int r, strataComm_t comm) {
    size_t maxCount = *std::max_element(counts.begin(), counts.end());
    std::vector<char> send(maxCount * 8 + 64), recv(maxCount * 8 + 64);
    uint64_t seed = 1;
    for (size_t count : counts)
      for (strataDataType_t t : kAllTypes)
        for (strataRedOp_t op : kAllOps)
          for (bool inPlace : {false, true}) {
            ++seed;
            if (testing::sanitizedSweepSkips(count, t)) continue;
            verify::fill(send.data(), count, t, op, r, n, seed);
            void* out = inPlace ? send.data() : recv.data();
            if (!inPlace) std::memset(recv.data(), 0x5a, recv.size());
            strataResult_t res = strataAllReduce(send.data(), out, count, t, op, comm, nullptr);
            ASSERT_EQ(res, strataSuccess) << strataGetLastError(comm);
            size_t wrong = verify::countWrong(out, count, t, op, n, seed);
            ASSERT_EQ(wrong, 0u) << "rank " << r << " n=" << n << " count=" << count << " "
                                 << strataTypeName(t) << " " << strataOpName(op)
                                 << (inPlace ? " in-place " : " out-of-place ")
                                 << strataCommLastAlgorithm(comm);
            if (!inPlace) {
              ASSERT_EQ(recv[count * strataTypeSize(t)], 0x5a) << "wrote past the end";
            }
          }
  });
}

TEST_P(AllReduceThreads, AutomaticAlgorithm) {
  sweep(GetParam(), testing::testConfig(), {0, 1, 1001, (1u << 18) + 3});
}

TEST_P(AllReduceThreads, ForcedRingWithSmallChunks) {
  strataConfig_t c = testing::testConfig();
  c.algorithm = "ring";
  c.chunkBytes = 4096;  // many chunks per block: exercises the pipeline and FIFO wrap-around
  c.fifoDepth = 2;
  c.oneShotMaxBytes = 0;
  sweep(GetParam(), c, {1, 7, 20011});
}

TEST_P(AllReduceThreads, ForcedOneShot) {
  strataConfig_t c = testing::testConfig();
  c.algorithm = "oneshot";
  sweep(GetParam(), c, {0, 1, 1001});
}

INSTANTIATE_TEST_SUITE_P(WorldSizes, AllReduceThreads, ::testing::Values(1, 2, 3, 4, 5, 8),
                         [](const auto& info) { return "n" + std::to_string(info.param); });

class AllReduceThreadsLarge : public ::testing::TestWithParam<const char*> {};

TEST_P(AllReduceThreadsLarge, SixtyFourMiBFloat32Sum) {
  // A buffer much larger than the FIFO and the caches, on the world size the benchmark uses,
  // with each way of writing slots.
  const size_t count = (64u << 20) / 4 + 5;
  strataConfig_t config = testing::testConfig();
  config.slotStores = GetParam();
  testing::withComm(2, config, [&](int r, strataComm_t comm) {
    std::vector<char> send(count * 4), recv(count * 4);
    verify::fill(send.data(), count, strataFloat32, strataSum, r, 2, 99);
    ASSERT_EQ(strataAllReduce(send.data(), recv.data(), count, strataFloat32, strataSum, comm, nullptr),
              strataSuccess) << strataGetLastError(comm);
    EXPECT_EQ(verify::countWrong(recv.data(), count, strataFloat32, strataSum, 2, 99), 0u);
    // A bandwidth-optimal algorithm ran (the cost model picks which): not the one-shot.
    const std::string algo = strataCommLastAlgorithm(comm);
    EXPECT_TRUE(algo == "ring/shm" || algo == "hd/shm" || algo == "radix-hd/shm") << algo;
  });
}

INSTANTIATE_TEST_SUITE_P(SlotStores, AllReduceThreadsLarge,
                         ::testing::Values("cached", "streaming", "auto"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace strata
