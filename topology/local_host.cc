#include "topology/local_host.h"

#include <unistd.h>

#include <dirent.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#ifdef STRATA_HAVE_HWLOC
#include <hwloc.h>
#endif

namespace strata {
namespace {

uint64_t fnv1a(const std::string& s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string readFirstLine(const char* path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

void countHardware(LocalHostInfo& info) {
#ifdef STRATA_HAVE_HWLOC
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) == 0) {
    // Counting cores needs no I/O plugin (the GL one can stall: formats_hwloc.cc).
    hwloc_topology_set_components(topo, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "gl");
    hwloc_topology_set_components(topo, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "opencl");
    if (hwloc_topology_load(topo) == 0) {
      info.packages = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
      info.numaNodes = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
      info.cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
      info.threads = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    }
    hwloc_topology_destroy(topo);
  }
  if (info.threads > 0) return;
#endif
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  info.packages = info.numaNodes = 1;
  info.cores = info.threads = n > 0 ? static_cast<uint32_t>(n) : 1;
}

// RDMA devices the kernel knows (verbs drivers register them here), without loading libibverbs.
uint32_t countRdmaDevices() {
  DIR* dir = opendir("/sys/class/infiniband");
  if (!dir) return 0;
  uint32_t n = 0;
  while (const dirent* e = readdir(dir))
    if (e->d_name[0] != '.') ++n;
  closedir(dir);
  return n;
}

}  // namespace

const LocalHostInfo& localHostInfo() {
  static const LocalHostInfo info = [] {
    LocalHostInfo i;
    i.pid = getpid();
    gethostname(i.hostname, sizeof(i.hostname) - 1);
    if (const char* id = std::getenv("STRATA_HOST_ID"); id && *id) {
      i.hostHash = fnv1a(id);
    } else {
      char netns[128] = {};
      ssize_t n = readlink("/proc/self/ns/net", netns, sizeof(netns) - 1);
      if (n < 0) netns[0] = '\0';
      i.hostHash = fnv1a(fmt::format("{}|{}|{}", i.hostname,
                                     readFirstLine("/proc/sys/kernel/random/boot_id"), netns));
    }
    countHardware(i);
    i.rdmaDevices = countRdmaDevices();
    return i;
  }();
  return info;
}

std::string describe(const LocalHostInfo& info) {
  return fmt::format("{} ({} package(s), {} NUMA node(s), {} cores, {} threads)", info.hostname,
                     info.packages, info.numaNodes, info.cores, info.threads);
}

}  // namespace strata
