#include "gpu/inventory.h"

#include <cctype>
#include <cstdio>

#ifdef STRATA_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace strata::gpu {

Inventory takeInventory() {
  Inventory inventory;
#ifdef STRATA_HAVE_CUDA
  int count = 0;
  const cudaError_t rc = cudaGetDeviceCount(&count);
  if (rc != cudaSuccess) {
    cudaGetLastError();
    inventory.noDeviceReason = std::string("cudaGetDeviceCount: ") + cudaGetErrorName(rc) + ": " + cudaGetErrorString(rc);
    return inventory;
  }
  if (count == 0) inventory.noDeviceReason = "cudaGetDeviceCount: no CUDA devices";
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, d) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    DeviceInfo info;
    info.ordinal = d;
    info.name = prop.name;
    char busId[32] = {};
    if (cudaDeviceGetPCIBusId(busId, sizeof busId, d) == cudaSuccess) {
      info.pciBusId = busId;
      for (char& c : info.pciBusId) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    info.sm = prop.major * 10 + prop.minor;
    info.multiprocessors = prop.multiProcessorCount;
    info.memoryBytes = prop.totalGlobalMem;
    inventory.devices.push_back(info);
  }
  const size_t n = inventory.devices.size();
  inventory.peerAccess.assign(n, std::vector<bool>(n, false));
  inventory.peerRank.assign(n, std::vector<int>(n, -1));
  for (size_t a = 0; a < n; ++a)
    for (size_t b = 0; b < n; ++b) {
      if (a == b) continue;
      int can = 0, rank = -1;
      const int da = inventory.devices[a].ordinal, db = inventory.devices[b].ordinal;
      if (cudaDeviceCanAccessPeer(&can, da, db) == cudaSuccess) inventory.peerAccess[a][b] = can != 0;
      if (cudaDeviceGetP2PAttribute(&rank, cudaDevP2PAttrPerformanceRank, da, db) != cudaSuccess) rank = -1;
      inventory.peerRank[a][b] = rank;
      cudaGetLastError();
    }
#else
  inventory.noDeviceReason = "built without CUDA (STRATA_WITH_CUDA=OFF or no nvcc)";
#endif
  return inventory;
}

std::string describe(const Inventory& inventory) {
  std::string text;
  char line[256];
  std::snprintf(line, sizeof line, "CUDA devices: %zu%s%s\n", inventory.devices.size(),
                inventory.devices.empty() ? " - " : "", inventory.noDeviceReason.c_str());
  text += line;
  for (const DeviceInfo& d : inventory.devices) {
    std::snprintf(line, sizeof line, "  GPU%d  %s  bus %s  sm_%d  %d SMs  %.1f GiB\n", d.ordinal, d.name.c_str(),
                  d.pciBusId.c_str(), d.sm, d.multiprocessors, d.memoryBytes / double(1ull << 30));
    text += line;
  }
  if (inventory.devices.size() > 1) {
    text += "Peer access (P2P performance rank; '-' none):\n      ";
    for (const DeviceInfo& d : inventory.devices) text += "GPU" + std::to_string(d.ordinal) + " ";
    text += "\n";
    for (size_t a = 0; a < inventory.devices.size(); ++a) {
      text += "  GPU" + std::to_string(inventory.devices[a].ordinal) + " ";
      for (size_t b = 0; b < inventory.devices.size(); ++b) {
        std::snprintf(line, sizeof line, "%4s ",
                      a == b ? "X" : inventory.peerAccess[a][b] ? std::to_string(inventory.peerRank[a][b]).c_str() : "-");
        text += line;
      }
      text += "\n";
    }
  }
  return text;
}

}  // namespace strata::gpu
