#include "comm/comm_topology.h"

#include <dlfcn.h>

#include <cctype>
#include <cstring>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "core/log.h"
#include "topology/discovery.h"

namespace strata {
namespace {

// The host's topology, discovered once per process: hwloc's I/O scan costs milliseconds.
const topo::Topology& hostTopology() {
  static const topo::Topology topology = [] {
    try {
      return topo::discoverLocal();
    } catch (const std::exception& e) {
      // Never fatal: a communicator works without knowing its NICs.
      topo::Topology empty;
      empty.notes.push_back(fmt::format("topology discovery failed: {}", e.what()));
      log(LogLevel::Warn, "topology discovery failed: {}", e.what());
      return empty;
    }
  }();
  return topology;
}

void copyName(char (&dst)[32], const std::string& src) {
  std::memset(dst, 0, sizeof(dst));
  std::memcpy(dst, src.data(), std::min(src.size(), sizeof(dst) - 1));
}

}  // namespace

// The PCI bus id of the device of the calling thread's current CUDA context, through the driver
// API loaded at run time: cuCtxGetCurrent neither initialises CUDA nor creates a context, so a
// host-memory program pays nothing and a GPU program reports the device it chose.
std::string currentCudaDeviceBusId() {
  using CuCtxGetCurrent = int (*)(void**);
  using CuCtxGetDevice = int (*)(int*);
  using CuDeviceGetPciBusId = int (*)(char*, int, int);
  static void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return "";
  auto getCurrent = reinterpret_cast<CuCtxGetCurrent>(dlsym(lib, "cuCtxGetCurrent"));
  auto getDevice = reinterpret_cast<CuCtxGetDevice>(dlsym(lib, "cuCtxGetDevice"));
  auto getBusId = reinterpret_cast<CuDeviceGetPciBusId>(dlsym(lib, "cuDeviceGetPCIBusId"));
  void* ctx = nullptr;
  int device = -1;
  char busId[32] = {};
  if (!getCurrent || !getDevice || !getBusId || getCurrent(&ctx) != 0 || !ctx) return "";
  if (getDevice(&device) != 0 || getBusId(busId, sizeof(busId), device) != 0) return "";
  std::string s(busId);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

PlaceInfo placeOn(const topo::Topology& t, uint64_t hostHash, int localRank, const std::string& gpuBusId) {
  PlaceInfo p;
  p.hostHash = hostHash;
  std::vector<topo::NodeId> nics;
  if (auto gpu = gpuBusId.empty() ? std::nullopt : t.findByBusId(gpuBusId);
      gpu && t.node(*gpu).kind == topo::NodeKind::Gpu) {
    p.gpu = t.node(*gpu).index;
    copyName(p.gpuBusId, gpuBusId);
    nics = t.nearestNics(*gpu);
  } else {
    // Host-memory ranks spread over the host's NICs.
    nics = t.nodesOf(topo::NodeKind::Nic);
  }
  if (!nics.empty()) {
    const topo::Node& nic = t.node(nics[static_cast<size_t>(localRank) % nics.size()]);
    p.nic = nic.index;
    p.rail = nic.rail;
    copyName(p.nicName, nic.name);
  }
  return p;
}

PlaceInfo localPlace(uint64_t hostHash, int localRank) {
  return placeOn(hostTopology(), hostHash, localRank, currentCudaDeviceBusId());
}

CommTopology::CommTopology(std::vector<PlaceInfo> places) : places_(std::move(places)) {
  std::map<uint64_t, int> hostIndex;
  hostOfRank_.resize(places_.size());
  localRank_.resize(places_.size());
  for (size_t r = 0; r < places_.size(); ++r) {
    auto [it, fresh] = hostIndex.emplace(places_[r].hostHash, static_cast<int>(ranksOfHost_.size()));
    if (fresh) ranksOfHost_.emplace_back();
    hostOfRank_[r] = it->second;
    localRank_[r] = static_cast<int>(ranksOfHost_[it->second].size());
    ranksOfHost_[it->second].push_back(static_cast<int>(r));
  }
}

bool CommTopology::sameGpu(int a, int b) const {
  const PlaceInfo &pa = places_.at(a), &pb = places_.at(b);
  return sameHost(a, b) && pa.gpu >= 0 && pa.gpu == pb.gpu;
}

std::string CommTopology::describe() const {
  std::string s = fmt::format("{} ranks on {} host(s):", nranks(), hostCount());
  for (int h = 0; h < hostCount(); ++h) {
    s += fmt::format(" host {} [", h);
    for (int r : ranksOfHost_[h]) {
      const PlaceInfo& p = places_[r];
      s += fmt::format(" {}:gpu{}/{}/rail{}", r, p.gpu, p.nicName[0] ? p.nicName : "-", p.rail);
    }
    s += " ]";
  }
  return s;
}

}  // namespace strata
