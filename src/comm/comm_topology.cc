#include "comm/comm_topology.h"

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

PlaceInfo localPlace(uint64_t hostHash, int localRank) {
  PlaceInfo p;
  p.hostHash = hostHash;
  const topo::Topology& t = hostTopology();
  const auto nics = t.nodesOf(topo::NodeKind::Nic);
  if (!nics.empty()) {
    // Host-memory ranks spread over the NICs; a GPU rank will take the NIC nearest its GPU.
    const topo::Node& nic = t.node(nics[static_cast<size_t>(localRank) % nics.size()]);
    p.nic = nic.index;
    p.rail = nic.rail;
    copyName(p.nicName, nic.name);
  }
  return p;
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
