// NCCL's all-reduce cost model (src/graph/tuning.cc of NCCL 2.1x; FABRICS.md lists the
// constants). Kept: base and per-hop latencies, the network post overhead of multi-node rings,
// the protocols' bandwidth factors, NCCL's LL bandwidth caps and the ring / tree ratios. Left
// out, because they need NCCL's channel search: per-channel bandwidth caps, the tree correction
// factors for medium sizes and the ring plateau factor (docs/cost-model.md).
#include "plan/nccl_model.h"

#include <algorithm>
#include <cmath>

#include "plan/cost_model.h"

namespace strata::nccl {
namespace {

constexpr int kAlgorithms = 2, kProtocols = 3;
enum Hw { kNvlink, kPci, kNet };

// Microseconds. [algorithm][protocol], algorithm 0 = ring, 1 = tree.
constexpr double kBaseLatUs[kAlgorithms][kProtocols] = {{6.6, 14.0, 8.4}, {6.8, 14.0, 8.4}};
// [hardware][algorithm][protocol]; PCIe's row is NCCL's, not in FABRICS.md.
constexpr double kHwLatUs[3][kAlgorithms][kProtocols] = {
    {{0.6, 1.9, 3.4}, {0.6, 1.25, 4.0}},   // NVLink
    {{1.0, 2.5, 5.7}, {1.0, 1.9, 6.0}},    // PCIe
    {{2.7, 4.0, 14.0}, {5.0, 8.5, 14.0}},  // network
};
// NCCL's LL bandwidth caps (GB/s, whole collective): on one node by GPU generation, across nodes
// by CPU vendor; columns 1 node, 2 nodes, more.
constexpr double kLlMaxBwGBps[3][3] = {
    {39.0, 39.0, 20.4},  // Volta on one node; Intel hosts across nodes
    {87.7, 22.5, 19.0},  // Ampere on one node; AMD hosts across nodes
    {87.7, 22.5, 19.0},  // Hopper on one node
};

int log2Floor(int n) {
  int l = 0;
  while (n >>= 1) ++l;
  return l;
}

}  // namespace

const char* algorithmName(Algorithm a) { return a == Algorithm::Ring ? "ring" : "tree"; }

const char* protocolName(Protocol p) {
  switch (p) {
    case Protocol::LL: return "LL";
    case Protocol::LL128: return "LL128";
    case Protocol::Simple: return "Simple";
  }
  return "?";
}

Estimate allReduce(Algorithm algorithm, Protocol protocol, const AllReduceCase& c) {
  Estimate e;
  e.algorithm = algorithm;
  e.protocol = protocol;
  const int n = std::max(1, c.nranks);
  if (n == 1) return e;  // NCCL copies locally
  const int nodes = std::max(1, c.nodes());
  const double ppn = double(n) / nodes;
  const int a = algorithm == Algorithm::Ring ? 0 : 1;
  const int p = static_cast<int>(protocol);
  const bool ring = algorithm == Algorithm::Ring;

  // Bandwidth: the slower of the GPU's links the algorithm crosses, then NCCL's refinements.
  double busBw = nodes == 1 ? c.intraBusBwGBps : std::min(c.intraBusBwGBps, c.interBusBwGBps);
  const int capRow = nodes == 1 ? (c.gpuSm >= 90 ? 2 : c.gpuSm >= 80 ? 1 : 0) : (c.amdHost ? 1 : 0);
  const double llMaxBw = kLlMaxBwGBps[capRow][nodes <= 2 ? nodes - 1 : 2];
  if (ring && protocol == Protocol::LL) busBw = std::min(llMaxBw, busBw / 4.0);
  if (ring && protocol == Protocol::LL128) busBw *= ppn < 2 ? 0.7 : 0.92;
  if (!ring) busBw *= 0.92;
  if (!ring && protocol == Protocol::LL) busBw = std::min(busBw / 3.8, llMaxBw);
  if (!ring && protocol == Protocol::LL128) busBw *= nodes == 1 ? 7.0 / 9.0 : 120.0 / 128.0;
  // Ring all-reduce: n / (2(n-1)) of the buffer per step's worth; tree: half (two trees).
  const int steps = 2 * (n - 1);
  e.algBwGBps = busBw * (ring ? double(n) / steps : 0.5);

  // Latency.
  double intraLat = kHwLatUs[c.intraLink == IntraLink::NvLink ? kNvlink : kPci][a][p];
  const double interLat = kHwLatUs[kNet][a][p];
  double latUs = kBaseLatUs[a][p];
  if (ring) {
    // Inter-node rings still post every step to the network proxy: 1 us on Intel, 2 on AMD,
    // three times that for Simple.
    if (nodes > 1) intraLat = std::max(intraLat, (c.amdHost ? 2.0 : 1.0) * (protocol == Protocol::Simple ? 3 : 1));
    const int interSteps = nodes > 1 ? 2 * (nodes - 1) : 0;
    latUs += (steps - interSteps) * intraLat + interSteps * interLat;
  } else {
    latUs += 2 * ((ppn - 1) * intraLat + log2Floor(nodes) * interLat);
  }
  e.latencySec = latUs * 1e-6;
  e.seconds = e.latencySec + (e.algBwGBps > 0 ? double(c.bytes) / (e.algBwGBps * 1e9) : INFINITY);
  return e;
}

std::vector<Estimate> allReduceEstimates(const AllReduceCase& c) {
  std::vector<Estimate> out;
  for (Algorithm a : {Algorithm::Ring, Algorithm::Tree})
    for (Protocol p : {Protocol::LL, Protocol::LL128, Protocol::Simple}) out.push_back(allReduce(a, p, c));
  return out;
}

Estimate bestAllReduce(const AllReduceCase& c) {
  std::vector<Estimate> all = allReduceEstimates(c);
  return *std::min_element(all.begin(), all.end(),
                           [](const Estimate& x, const Estimate& y) { return x.seconds < y.seconds; });
}

AllReduceCase caseFromModel(const CostModel& model, size_t bytes, int nranks, int ranksPerNode) {
  AllReduceCase c;
  c.bytes = bytes;
  c.nranks = nranks;
  c.ranksPerNode = ranksPerNode;
  c.intraLink = model.intraHost.name == "nvlink" ? IntraLink::NvLink : IntraLink::Pci;
  c.intraBusBwGBps = model.intraHost.bytesPerSec / 1e9;
  c.interBusBwGBps = model.interHost.bytesPerSec / std::max(1, model.ranksPerNic) / 1e9;
  return c;
}

}  // namespace strata::nccl
