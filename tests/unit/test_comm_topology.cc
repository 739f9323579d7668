// The communicator's picture of where its ranks are, from the places they contribute.
#include <gtest/gtest.h>

#include <cstring>

#include "comm/comm_topology.h"
#include "topology/formats.h"
#include "topology/presets.h"

namespace strata {
namespace {

PlaceInfo place(uint64_t host, int gpu, int nic, int rail) {
  PlaceInfo p;
  p.hostHash = host;
  p.gpu = gpu;
  p.nic = nic;
  p.rail = rail;
  std::snprintf(p.nicName, sizeof(p.nicName), "mlx5_%d", nic);
  return p;
}

TEST(CommTopology, HostsLocalRanksAndSharedGpus) {
  // Ranks interleaved over two hosts (hashes 77 and 5); ranks 4 and 6 share GPU 2 of host 77.
  std::vector<PlaceInfo> places = {place(77, 0, 0, 0), place(5, 0, 0, 0), place(77, 1, 1, 1),
                                   place(5, 1, 1, 1),  place(77, 2, 2, 2), place(5, 2, 2, 2),
                                   place(77, 2, 2, 2)};
  CommTopology t(places);
  EXPECT_EQ(t.nranks(), 7);
  EXPECT_EQ(t.hostCount(), 2);
  EXPECT_EQ(t.hostOf(0), 0);  // numbered by lowest rank, not by hash
  EXPECT_EQ(t.hostOf(1), 1);
  EXPECT_EQ(t.ranksOnHost(0), (std::vector<int>{0, 2, 4, 6}));
  EXPECT_EQ(t.ranksOnHost(1), (std::vector<int>{1, 3, 5}));
  EXPECT_EQ(t.localRank(6), 3);
  EXPECT_EQ(t.localRank(5), 2);
  EXPECT_TRUE(t.sameHost(0, 6));
  EXPECT_FALSE(t.sameHost(0, 1));
  EXPECT_TRUE(t.sameGpu(4, 6));
  EXPECT_FALSE(t.sameGpu(0, 1));  // GPU 0 of two different hosts
  EXPECT_FALSE(t.sameGpu(0, 2));
  EXPECT_EQ(t.place(3).rail, 1);
  EXPECT_STREQ(t.place(3).nicName, "mlx5_1");
  EXPECT_NE(t.describe().find("2 host(s)"), std::string::npos);
}

TEST(CommTopology, HostMemoryRanksHaveNoGpu) {
  PlaceInfo p = localPlace(42, 0);
  EXPECT_EQ(p.hostHash, 42u);
  EXPECT_EQ(p.gpu, -1);
  CommTopology t({p, p});
  EXPECT_FALSE(t.sameGpu(0, 1));
  EXPECT_TRUE(t.sameHost(0, 1));
}

TEST(CommTopology, GpuRanksTakeTheNicNearestTheirGpu) {
  // AWS p4d: GPUs 2k and 2k+1 share PCIe switch k with NIC k.
  const std::string file = std::string(STRATA_SHARED_TOPOLOGIES_DIR) + "/aws-p4d-24xl-topo.xml";
  topo::Topology t;
  try {
    t = topo::loadTopologyFile(file);
  } catch (const std::exception& e) {
    GTEST_SKIP() << "shared topology file not available: " << e.what();
  }
  PlaceInfo g0 = placeOn(t, 9, 0, "0000:10:1c.0");
  EXPECT_EQ(g0.gpu, 0);
  EXPECT_EQ(g0.nic, 0);
  EXPECT_STREQ(g0.gpuBusId, "0000:10:1c.0");
  PlaceInfo g3 = placeOn(t, 9, 3, "0000:20:1d.0");
  EXPECT_EQ(g3.gpu, 3);
  EXPECT_EQ(g3.nic, 1);
  // A bus id that is no GPU of this host: a host-memory rank, spread over the NICs.
  PlaceInfo h = placeOn(t, 9, 6, "0000:ff:00.0");
  EXPECT_EQ(h.gpu, -1);
  EXPECT_EQ(h.nic, 6 % 4);
}

TEST(CommTopology, RailsComeFromTheNic) {
  topo::Topology t = topo::machinePreset("dgx-h100");
  for (int r = 0; r < 8; ++r) {
    PlaceInfo p = placeOn(t, 1, r, "");
    EXPECT_EQ(p.nic, r);
    EXPECT_EQ(p.rail, r);
  }
}

}  // namespace
}  // namespace strata
