// How much of an all-reduce's traffic crosses hosts and leaf switches, measured from the built
// schedules themselves: every send step of every rank's program, its bytes charged to the link
// classes between the two ranks. A 1,024-rank world, 8 ranks per host (contiguous), 64 hosts per
// leaf group. The numbers are printed (docs/algorithms.md quotes them); the assertions are the
// facts the design relies on: Swing moves exactly as many bytes as halving-doubling (both are
// bandwidth-optimal) but fewer of them across hosts and across leaf groups, and the hierarchical
// all-reduce sends only 1/8 of them across hosts.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "plan/registry.h"

namespace strata {
namespace {

struct Traffic {
  double total = 0, crossHost = 0, crossLeaf = 0;  // bytes, summed over all ranks
};

Traffic measure(const char* algo, int n, int perHost, int hostsPerLeaf, size_t count) {
  PlanRequest req;
  req.nranks = n;
  req.count = count;
  req.elemBytes = 4;
  req.messageBytes = 1 << 20;
  req.layout = std::make_shared<RankLayout>(RankLayout::contiguousHosts(n, perHost));
  const AlgorithmInfo& info = selectAllReduce(req, algo);
  Traffic t;
  for (int r = 0; r < n; ++r) {
    req.rank = r;
    const Schedule s = info.build(req);
    for (const Phase& p : s.phases) {
      if (!stepSends(p.kind)) continue;
      for (uint32_t it = 0; it < p.iterations; ++it) {
        const StepInstance st = s.step(p, it);
        double bytes = 0;
        for (uint32_t b = st.blockFirst; b < st.blockFirst + st.blockCount; ++b)
          bytes += double(s.blockSize(b) * s.elemBytes);
        const int h0 = r / perHost, h1 = st.sendPeer / perHost;
        t.total += bytes;
        if (h0 != h1) t.crossHost += bytes;
        if (h0 / hostsPerLeaf != h1 / hostsPerLeaf) t.crossLeaf += bytes;
      }
    }
  }
  return t;
}

TEST(AllReduceLocality, SwingKeepsMoreBytesInsideHostsAndLeavesThanHalvingDoubling) {
  const int n = 1024, perHost = 8, hostsPerLeaf = 64;
  const size_t count = size_t(n) * 256;  // 1 MiB of float32: every block the same size
  const double S = double(count) * 4;
  std::map<std::string, Traffic> got;
  for (const char* algo : {"ring", "hd", "swing", "hier-ring", "hier-hd", "hier-swing"}) {
    const Traffic t = measure(algo, n, perHost, hostsPerLeaf, count);
    got[algo] = t;
    // Per rank, in units of the buffer S.
    std::printf("%-11s per rank: sent %.4f S, across hosts %.4f S, across 64-host leaves %.4f S\n",
                algo, t.total / n / S, t.crossHost / n / S, t.crossLeaf / n / S);
  }
  const Traffic& sw = got["swing"];
  const Traffic& hd = got["hd"];
  EXPECT_DOUBLE_EQ(sw.total, hd.total);
  EXPECT_DOUBLE_EQ(sw.total, 2.0 * (n - 1) / n * S * n);  // bandwidth-optimal
  EXPECT_LT(sw.crossHost, hd.crossHost);
  EXPECT_LT(sw.crossLeaf, hd.crossLeaf);
  // Hierarchical: only the rails' all-reduce of S/8 leaves the host.
  EXPECT_DOUBLE_EQ(got["hier-ring"].crossHost, 2.0 * (n / perHost - 1) / (n / perHost) * S / perHost * n);
  EXPECT_LT(got["hier-swing"].crossLeaf, got["hier-hd"].crossLeaf);
}

}  // namespace
}  // namespace strata
