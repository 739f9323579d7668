// NCCL's published cost model of all-reduce (src/graph/tuning.cc; constants in
// shared/facts/FABRICS.md), as a side-by-side baseline: "what NCCL would predict, and pick, for
// the same case". Not Strata's model (plan/cost_model.h): it has no topology beyond "NVLink or
// PCIe inside a node, the network between nodes", and its constants are NCCL's fit to its GPU
// kernels. docs/cost-model.md says which parts of NCCL's tuning are kept and which are left out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace strata {
struct CostModel;
}

namespace strata::nccl {

enum class Algorithm : uint8_t { Ring, Tree };
enum class Protocol : uint8_t { LL, LL128, Simple };
enum class IntraLink : uint8_t { NvLink, Pci };
const char* algorithmName(Algorithm a);  // "ring", "tree"
const char* protocolName(Protocol p);    // "LL", "LL128", "Simple"

struct AllReduceCase {
  size_t bytes = 0;
  int nranks = 1;
  int ranksPerNode = 1;  // GPUs per node; nodes = nranks / ranksPerNode
  IntraLink intraLink = IntraLink::NvLink;
  // NCCL's busBw inputs, GB/s per GPU and direction: inside a node (NVLink or the PCIe path)
  // and between nodes (the GPU's share of its NIC).
  double intraBusBwGBps = 0;
  double interBusBwGBps = 0;
  int gpuSm = 90;        // compute capability x 10: picks NCCL's LL bandwidth cap on one node
  bool amdHost = false;  // AMD CPUs: NCCL's 2 us network post overhead (Intel: 1 us) and LL cap
  int nodes() const { return ranksPerNode > 0 ? (nranks + ranksPerNode - 1) / ranksPerNode : 1; }
};

struct Estimate {
  Algorithm algorithm = Algorithm::Ring;
  Protocol protocol = Protocol::Simple;
  double latencySec = 0;  // NCCL's latency term
  double algBwGBps = 0;   // busBw x ratio: bytes / (this) is the bandwidth term
  double seconds = 0;     // latency + bytes / algBw
};

// One (algorithm, protocol): time (us) = latency + bytes / (1000 * busBw * ratio).
Estimate allReduce(Algorithm algorithm, Protocol protocol, const AllReduceCase& c);
// All six, ring first, LL to Simple.
std::vector<Estimate> allReduceEstimates(const AllReduceCase& c);
// What NCCL would pick: the fastest of the six.
Estimate bestAllReduce(const AllReduceCase& c);

// The case from Strata's classes: the intra-host class's bandwidth (NVLink when it is named
// "nvlink", else PCIe) and the NIC's divided among the GPUs that share it (ranksPerNic).
AllReduceCase caseFromModel(const CostModel& model, size_t bytes, int nranks, int ranksPerNode);

}  // namespace strata::nccl
