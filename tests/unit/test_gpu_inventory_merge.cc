// CUDA's list of GPUs merged into the topology model (topo::mergeCudaInventory), on hand-made
// inventories: this machine has no GPU, and the merge is what can be checked without one.
#include <gtest/gtest.h>

#include <algorithm>

#include "topology/discovery.h"

namespace strata::topo {
namespace {

bool hasNoteContaining(const Topology& t, const std::string& part) {
  return std::any_of(t.notes.begin(), t.notes.end(), [&](const std::string& n) { return n.find(part) != std::string::npos; });
}

NodeId addGpu(Topology& t, const std::string& busId, const std::string& model = "", int sm = 0) {
  Node node;
  node.kind = NodeKind::Gpu;
  node.index = static_cast<int32_t>(t.nodesOf(NodeKind::Gpu).size());
  node.name = "GPU" + std::to_string(node.index);
  node.busId = busId;
  node.model = model;
  node.gpuSm = sm;
  return t.addNode(node);
}

NodeId addCpu(Topology& t) {
  Node node;
  node.kind = NodeKind::Cpu;
  node.index = 0;
  node.name = "NUMA0";
  return t.addNode(node);
}

gpu::DeviceInfo h100(int ordinal, const std::string& busId) {
  gpu::DeviceInfo d;
  d.ordinal = ordinal;
  d.name = "NVIDIA H100 80GB HBM3";
  d.pciBusId = busId;
  d.sm = 90;
  d.multiprocessors = 132;
  d.memoryBytes = 80ull << 30;
  return d;
}

TEST(GpuInventoryMerge, FillsKnownGpusAndAddsMissingOnes) {
  Topology t;
  const NodeId cpu = addCpu(t);
  const NodeId known = addGpu(t, "0000:1b:00.0");
  t.addLink({cpu, known, LinkKind::Pci, 16, 0.5});
  gpu::Inventory inventory;
  inventory.devices = {h100(0, "0000:1B:00.0"), h100(1, "0000:9c:00.0")};  // CUDA spells hex in capitals

  mergeCudaInventory(t, inventory);

  ASSERT_EQ(t.nodesOf(NodeKind::Gpu).size(), 2u);
  EXPECT_EQ(t.node(known).gpuSm, 90);
  EXPECT_EQ(t.node(known).memoryBytes, 80ull << 30);
  EXPECT_EQ(t.node(known).model, "NVIDIA H100 80GB HBM3");
  const auto added = t.findByBusId("0000:9c:00.0");
  ASSERT_TRUE(added.has_value());
  EXPECT_EQ(t.node(*added).kind, NodeKind::Gpu);
  EXPECT_TRUE(hasNoteContaining(t, "CUDA device 1 (0000:9c:00.0) is not in the PCIe tree"));
}

TEST(GpuInventoryMerge, KeepsWhatDiscoveryAlreadyKnew) {
  Topology t;
  const NodeId known = addGpu(t, "0000:1b:00.0", "H100 (from hwloc)", 90);
  gpu::Inventory inventory;
  inventory.devices = {h100(0, "0000:1b:00.0")};
  inventory.devices[0].sm = 80;  // a disagreeing source must not overwrite the earlier one
  mergeCudaInventory(t, inventory);
  EXPECT_EQ(t.node(known).gpuSm, 90);
  EXPECT_EQ(t.node(known).model, "H100 (from hwloc)");
  EXPECT_EQ(t.nodesOf(NodeKind::Gpu).size(), 1u);
}

TEST(GpuInventoryMerge, NoGpuLeavesANoteWithCudasReason) {
  Topology t;
  addCpu(t);
  gpu::Inventory inventory;
  inventory.noDeviceReason = "cudaGetDeviceCount: cudaErrorInsufficientDriver: driver too old";
  mergeCudaInventory(t, inventory);
  EXPECT_TRUE(t.nodesOf(NodeKind::Gpu).empty());
  EXPECT_TRUE(hasNoteContaining(t, "CUDA lists no GPUs (cudaGetDeviceCount: cudaErrorInsufficientDriver"));
}

// The live inventory on whatever machine runs the tests: no device is an answer with a reason.
TEST(GpuInventory, LiveInventoryIsConsistent) {
  const gpu::Inventory inventory = gpu::takeInventory();
  EXPECT_EQ(inventory.devices.empty(), !inventory.noDeviceReason.empty()) << inventory.noDeviceReason;
  EXPECT_EQ(inventory.peerAccess.size(), inventory.devices.size());
  for (const auto& d : inventory.devices) EXPECT_GT(d.sm, 0);
  EXPECT_NE(gpu::describe(inventory).find("CUDA devices: "), std::string::npos);
}

}  // namespace
}  // namespace strata::topo
