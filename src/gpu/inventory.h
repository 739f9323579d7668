// The GPUs CUDA shows this process: ordinals, PCI bus ids, compute capability, memory, and which
// pairs can access each other's memory. Plain C++ and no fmt (strata-gpu-check uses it too); the
// topology model takes it in through topo::mergeCudaInventory (topology/discovery.h). Without
// CUDA, a driver or devices the inventory is empty with the reason: never an error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace strata::gpu {

struct DeviceInfo {
  int ordinal = -1;          // the CUDA device index (after CUDA_VISIBLE_DEVICES)
  std::string name;          // "NVIDIA H100 80GB HBM3"
  std::string pciBusId;      // "0000:1b:00.0", lower case
  int sm = 0;                // compute capability x 10
  int multiprocessors = 0;
  uint64_t memoryBytes = 0;
};

struct Inventory {
  std::vector<DeviceInfo> devices;
  // peerAccess[a][b]: device a can map device b's memory (NVLink or PCIe P2P); false on the diagonal.
  std::vector<std::vector<bool>> peerAccess;
  // peerRank[a][b]: CUDA's relative P2P performance rank (lower is faster; -1 unknown).
  std::vector<std::vector<int>> peerRank;
  std::string noDeviceReason;  // why `devices` is empty
};

Inventory takeInventory();

// A human-readable listing (one device a line, then the peer-access matrix).
std::string describe(const Inventory& inventory);

}  // namespace strata::gpu
