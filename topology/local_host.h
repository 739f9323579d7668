// What a rank tells its peers about its host at init: an identity that is equal exactly for
// processes that can share memory (same kernel boot, same hostname, same network namespace, so
// network-namespace "hosts" in tests count as different hosts), and a summary of the machine.
#pragma once

#include <cstdint>
#include <string>

namespace strata {

struct LocalHostInfo {
  uint64_t hostHash = 0;  // STRATA_HOST_ID overrides it
  int32_t pid = 0;
  uint32_t packages = 0;  // CPU packages, NUMA nodes, cores and hardware threads
  uint32_t numaNodes = 0;
  uint32_t cores = 0;
  uint32_t threads = 0;
  uint32_t rdmaDevices = 0;  // entries of /sys/class/infiniband (InfiniBand and RoCE NICs)
  char hostname[64] = {};
};

// Reads the local host once per process (hwloc when built with it, else sysconf).
const LocalHostInfo& localHostInfo();

std::string describe(const LocalHostInfo& info);

}  // namespace strata
