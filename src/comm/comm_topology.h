// What a communicator knows of where its ranks are: which host each rank is on and its place
// there, which ranks share a host or a GPU, and each rank's GPU, nearest NIC and rail. Every rank
// contributes its local picture at init (PlaceInfo, from the topology model of its host); the
// planner and the transport choice read only this.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace strata {

namespace topo {
class Topology;
}

// One rank's contribution, exchanged through the bootstrap (plain bytes: no pointers).
struct PlaceInfo {
  uint64_t hostHash = 0;   // equal for ranks that can share memory
  int32_t gpu = -1;        // local GPU index, -1 for a host-memory rank
  int32_t nic = -1;        // local index of the NIC this rank uses, -1 if the host has none
  int32_t rail = -1;       // that NIC's rail, -1 if unknown
  char gpuBusId[32] = {};  // PCI bus id of the GPU, "" if none
  char nicName[32] = {};   // "mlx5_0"; "" if none
};

// A rank's place on a host of topology `host`: its GPU (the one with PCI bus id gpuBusId; none
// when empty or unknown) and the NIC nearest that GPU (among equally near ones, chosen by local
// rank), or for a host-memory rank NIC (localRank mod NICs).
PlaceInfo placeOn(const topo::Topology& host, uint64_t hostHash, int localRank,
                  const std::string& gpuBusId);

// This process's place: placeOn() with the discovered host topology and the GPU of the CUDA
// context current on the calling thread, if the application made one (none is created here).
PlaceInfo localPlace(uint64_t hostHash, int localRank);

class CommTopology {
 public:
  CommTopology() = default;
  explicit CommTopology(std::vector<PlaceInfo> places);

  int nranks() const { return static_cast<int>(places_.size()); }
  int hostCount() const { return static_cast<int>(ranksOfHost_.size()); }
  // Hosts are numbered in the order of their lowest rank.
  int hostOf(int rank) const { return hostOfRank_.at(rank); }
  int localRank(int rank) const { return localRank_.at(rank); }
  const std::vector<int>& ranksOnHost(int host) const { return ranksOfHost_.at(host); }
  bool sameHost(int a, int b) const { return hostOf(a) == hostOf(b); }
  // Two ranks on one GPU (allowed: several ranks may share a device).
  bool sameGpu(int a, int b) const;
  const PlaceInfo& place(int rank) const { return places_.at(rank); }
  std::string describe() const;

 private:
  std::vector<PlaceInfo> places_;
  std::vector<int> hostOfRank_;
  std::vector<int> localRank_;
  std::vector<std::vector<int>> ranksOfHost_;
};

}  // namespace strata
