// Every all-reduce algorithm run by the real executor with real reduction kernels, many ranks as
// threads over the in-memory transport: world sizes 1..17 (under a sanitizer the shape-changing
// ones, support/sanitizers.h), counts around the block and chunk edges, every datatype and op,
// in place and out of place. Results must be exact.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "plan/registry.h"
#include "exec/executor.h"
#include "support/memory_transport.h"
#include "support/rank_threads.h"
#include "support/all_types.h"
#include "support/param_names.h"
#include "support/sanitizers.h"
#include "verify.h"

namespace strata {
namespace {

struct Buffers {
  std::vector<char> send, recv;
};

void runAlgorithm(const char* algoName, int n, size_t count, strataDataType_t type,
                  strataRedOp_t op, bool inPlace, size_t slotBytes,
                  std::shared_ptr<const RankLayout> layout = nullptr) {
  SCOPED_TRACE(::testing::Message() << algoName << " n=" << n << " count=" << count << " "
                                    << strataTypeName(type) << " " << strataOpName(op)
                                    << (inPlace ? " in-place" : " out-of-place")
                                    << (layout ? " hosts of " + std::to_string(layout->perHost) +
                                                     (layout->contiguous ? "" : " interleaved")
                                               : std::string()));
  testing::MemoryWorld world(n, slotBytes, 4);
  Config config{};
  config.timeoutSec = 30;
  config.spinCount = 100;
  std::atomic<bool> abortFlag{false};
  const size_t elem = strataTypeSize(type);
  std::vector<Buffers> bufs(n);
  std::vector<size_t> wrong(n, 0);
  testing::runRanks(n, [&](int r) {
    PlanRequest req;
    req.rank = r;
    req.nranks = n;
    req.count = count;
    req.type = type;
    req.op = op;
    req.elemBytes = elem;
    req.messageBytes = slotBytes;
    req.oneShotMaxBytes = slotBytes;
    req.layout = layout;
    Schedule s = selectAllReduce(req, algoName).build(req);
    bufs[r].send.resize(count * elem + 1);
    bufs[r].recv.assign(count * elem + 1, 0x5a);
    verify::fill(bufs[r].send.data(), count, type, op, r, n, 7);
    void* out = inPlace ? bufs[r].send.data() : bufs[r].recv.data();
    Executor ex(world.view(r), config, &abortFlag);
    ex.run(s, bufs[r].send.data(), out, 1);
    wrong[r] = verify::countWrong(out, count, type, op, n, 7);
    if (!inPlace) {
      EXPECT_EQ(bufs[r].recv[count * elem], 0x5a) << "wrote past the end";
    }
  });
  for (int r = 0; r < n; ++r) EXPECT_EQ(wrong[r], 0u) << "rank " << r;
}

using testing::kAllTypes;
using testing::kAllOps;

TEST(ExecutorMemory, RingAllWorldSizesAndEdgeCounts) {
  for (int n : testing::worldSizes(1, 17))
    for (size_t count : {0ul, 1ul, 2ul, 15ul, 16ul, 17ul, 1001ul, 4099ul})
      runAlgorithm("ring", n, count, strataFloat32, strataSum, count % 2, 256);
}

TEST(ExecutorMemory, OneShotAllWorldSizes) {
  for (int n : testing::worldSizes(1, 17))
    for (size_t count : {0ul, 1ul, 3ul, 64ul})
      for (bool inPlace : {false, true})
        runAlgorithm("oneshot", n, count, strataFloat32, strataSum, inPlace, 4096);
}

TEST(ExecutorMemory, EveryTypeAndOp) {
  for (strataDataType_t t : kAllTypes)
    for (strataRedOp_t op : kAllOps)
      for (int n : {2, 3, 5})
        for (const char* algo : {"ring", "oneshot"})
          runAlgorithm(algo, n, 129, t, op, n == 3, 4096);
}

TEST(ExecutorMemory, SwingAllWorldSizes) {
  for (int n : testing::worldSizes(1, 17))
    for (size_t count : {0ul, 1ul, 15ul, 17ul, 1001ul, 4099ul})
      for (bool inPlace : {false, true})
        runAlgorithm("swing", n, count, strataFloat32, strataSum, inPlace, 256);
  for (strataRedOp_t op : kAllOps) runAlgorithm("swing", 6, 129, strataFloat64, op, false, 4096);
}

// The sweeps below are one test per algorithm, so that ctest spreads them over the cores (under
// ThreadSanitizer each takes a minute or more).
class ExecutorMemoryAlgorithm : public ::testing::TestWithParam<const char*> {};

// Every hierarchical variant on every uniform split of 2..17 ranks into hosts of 1 < k < n
// (contiguous), plus interleaved hosts (rank r on host r mod (n/k)) for each split.
using HierarchicalEverySplit = ExecutorMemoryAlgorithm;
TEST_P(HierarchicalEverySplit, ExactResults) {
  const char* algo = GetParam();
  for (int n : testing::worldSizes(2, 17))
    for (int k = 2; k < n; ++k) {
      if (n % k != 0) continue;
      std::vector<int> hostOf(static_cast<size_t>(n));
      for (int r = 0; r < n; ++r) hostOf[size_t(r)] = r % (n / k);
      const std::shared_ptr<const RankLayout> layouts[] = {
          std::make_shared<RankLayout>(RankLayout::contiguousHosts(n, k)),
          std::make_shared<RankLayout>(RankLayout::fromHostOfRank(hostOf))};
      for (const auto& layout : layouts)
        for (size_t count : {0ul, 1ul, 17ul, 1001ul})
          for (bool inPlace : {false, true})
            runAlgorithm(algo, n, count, strataFloat32, strataSum, inPlace, 256, layout);
    }
  auto layout = std::make_shared<RankLayout>(RankLayout::contiguousHosts(6, 2));
  for (strataRedOp_t op : kAllOps) runAlgorithm(algo, 6, 129, strataFloat64, op, true, 4096, layout);
}

std::string algorithmTestName(const ::testing::TestParamInfo<const char*>& info) {
  return testing::testNameOf(info.param);
}

INSTANTIATE_TEST_SUITE_P(ExecutorMemory, HierarchicalEverySplit,
                         ::testing::Values("hier-ring", "hier-hd", "hier-tree", "hier-swing"), algorithmTestName);

// Halving-doubling, recursive doubling and the double binary tree over the whole world: every
// world size 1..17 (folds included), counts around the block and chunk edges, small slots so
// that blocks take several chunks (and the tree's pipeline runs), in place and out of place.
using LogDepthAllWorldSizes = ExecutorMemoryAlgorithm;
TEST_P(LogDepthAllWorldSizes, AndEdgeCounts) {
  for (int n : testing::worldSizes(1, 17))
    for (size_t count : {0ul, 1ul, 2ul, 15ul, 16ul, 17ul, 1001ul, 4099ul})
      for (bool inPlace : {false, true})
        runAlgorithm(GetParam(), n, count, strataFloat32, strataSum, inPlace, 256);
}

INSTANTIATE_TEST_SUITE_P(ExecutorMemory, LogDepthAllWorldSizes, ::testing::Values("hd", "rd", "dbt"),
                         algorithmTestName);

TEST(ExecutorMemory, LogDepthAlgorithmsEveryTypeAndOp) {
  for (strataDataType_t t : kAllTypes)
    for (strataRedOp_t op : kAllOps)
      for (int n : {2, 3, 5, 8})
        for (const char* algo : {"hd", "rd", "dbt"})
          runAlgorithm(algo, n, 129, t, op, n % 2 == 1, 4096);
}

}  // namespace
}  // namespace strata
