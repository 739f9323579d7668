// The simulator (docs/simulator.md): runs the schedules the executor runs on a FabricGraph.
//
// Full mode is a flow-level event simulation: every rank walks its schedule in the executor's
// (t, phase, iteration) order; a send puts a message on its channel (src, dst), whose messages go
// on the wire one after another (a connection's FIFO); a message on the wire is a flow, and the
// active flows share every link max-min fairly, recomputed whenever flows start or end; a message
// arrives when its flow has finished plus the route's latency. Sends never block the sender.
//
// Fast mode keeps the per-rank walk but gives every message a fixed duration: the flows of one
// step pattern (the sends of one phase and iteration on all ranks) are solved max-min once and
// their rates reused; a channel still serialises its messages; and a long ring-like phase
// (iteration-invariant peers forming a permutation) runs only a few iterations, the skipped ones
// advancing each rank by the steady period of its cycle (max-plus cycle mean), and so does the
// middle of a long chunk loop; where every server's GPUs run the same schedule up to renumbering
// them (hierarchical algorithms on a fabric that treats every rail alike), it walks GPU 0 of each
// server for all. Checked against full mode at <= 1,024 ranks (tests/sim; where it is off by more
// than 5 %: docs/simulator.md), it runs 131,072 ranks in 0.4-55 s.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "plan/registry.h"
#include "sim/fabric_graph.h"

namespace strata::sim {

enum class Mode : uint8_t { Full, Fast };
const char* modeName(Mode m);

struct SimOptions {
  Mode mode = Mode::Fast;
  Routing routing = Routing::Ecmp;
  uint64_t ecmpSeed = 1;
  double reduceBytesPerSec = 0;  // 0: the graph's
  // Fast mode: a collapsible phase of more iterations than this runs `keptIterations` of them
  // (all but the last before the skipped stretch, the last one after it).
  uint32_t keptIterations = 4;
  bool collapse = true;
  // Fast mode: when every server's GPUs run the same schedule up to renumbering them in a
  // rotation (GPU i's peers and traffic are GPU 0's with every local index shifted by i) and the
  // fabric treats every rail alike, walk GPU 0 of each server only (docs/simulator.md,
  // "Symmetry"). Checked on the schedules and on every step pattern; otherwise all ranks walk.
  bool serverSymmetry = true;
};

struct TrafficLevel {
  std::string name;  // "nvlink", "nic", "spine", "core"
  double bytes = 0;  // summed over all messages that cross it
};

struct SimResult {
  double seconds = 0;            // simulated time until the last rank finished
  uint64_t messages = 0;         // messages the schedules send (skipped ones included)
  uint64_t simulatedSteps = 0;   // step instances actually walked
  uint64_t patterns = 0;         // fast mode: distinct step patterns solved
  uint32_t collapsedPhases = 0;  // fast mode: phases run with skipped iterations
  uint32_t symmetry = 1;         // fast mode: ranks each walked rank stood for (GPUs per server, or 1)
  double wallSeconds = 0;
  size_t peakRssBytes = 0;       // this process's high-water mark after the run
  std::vector<TrafficLevel> traffic;
  // Bus bandwidth of an all-reduce of `bytes` (2(n-1)/n * bytes / seconds), bytes per second.
  double busBandwidth(size_t bytes, int nranks) const;
  std::string describe() const;
};

// Simulates `algo` for every rank r of the graph: schedule = algo.build(base with rank = r).
// base.nranks must equal graph.ranks().
SimResult simulate(const FabricGraph& graph, const PlanRequest& base, const AlgorithmInfo& algo,
                   const SimOptions& options = {});

// A request for an all-reduce (or `collective`) of `bytes` on the graph's ranks: layout of its
// servers (RankLayout::contiguousHosts), messageBytes = the chunk size the network side pipelines
// with (kFabricMessageBytes on GPU fabrics), the cost model when one is given (may be null).
constexpr size_t kFabricMessageBytes = size_t(4) << 20;
PlanRequest planRequestFor(const FabricGraph& graph, size_t bytes, Collective collective = Collective::AllReduce,
                           strataDataType_t type = strataFloat32,
                           std::shared_ptr<const CostModel> cost = nullptr);

// Max-min fair rates (progressive filling) of flows over links of the given capacities;
// flows[i] lists the links flow i crosses. Exposed for tests and for steadyRates.
std::vector<double> maxMinRates(const std::vector<double>& capacity,
                                const std::vector<std::vector<uint32_t>>& flows);
// The max-min rates of concurrent flows (src, dst) on the graph, each routed as the simulator
// routes a channel.
std::vector<double> steadyRates(const FabricGraph& graph, const std::vector<std::pair<int64_t, int64_t>>& flows,
                                Routing routing, uint64_t ecmpSeed = 1);

// Peak resident set size of this process so far (VmHWM), bytes.
size_t peakRssBytes();

}  // namespace strata::sim
