// Whole fabrics, described by their parameters rather than as a graph of every device, so that a
// 200,000-GPU cluster loads and summarizes in microseconds: servers of one machine preset, NICs
// per server and the rails they are cabled to, and switch tiers from the leaf up, each with a
// radix, link speed, per-hop latency and oversubscription. The simulator expands what it needs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "topology/presets.h"

namespace strata::topo {

struct SwitchTier {
  std::string name;               // "leaf", "spine", "core"
  int radix = 0;                  // ports per switch
  double linkGbps = 0;            // speed of each port
  double latencyUs = 0;           // per hop through this tier
  double oversubscription = 1.0;  // downlink : uplink bandwidth at this tier (1 = non-blocking)
  // Ports facing down; 0 derives them: radix x o/(1+o) below the top tier, all of them at the
  // top. Set it when a design leaves ports unused (Meta's 192-port pods).
  int portsDown = 0;
};

struct Fabric {
  std::string name;            // "colossus:100k"
  std::string description;
  std::string serverPreset;    // machine preset of every server, "hgx-h100"
  uint64_t servers = 0;
  int gpusPerServer = 8;
  int nicsPerServer = 8;       // scale-out NIC ports per server (one rail each when rail-optimized)
  double nicGbps = 400;
  int extraNicsPerServer = 0;  // NICs outside the compute fabric (front end, storage): counted, not cabled
  bool railOptimized = true;   // NIC i of every server goes to a leaf of rail i
  // Switches spread each flow over all equal-cost uplinks (Spectrum-X, InfiniBand adaptive
  // routing) instead of pinning it to one by a hash (ECMP), where collisions cost bandwidth.
  bool adaptiveRouting = false;
  std::vector<SwitchTier> tiers;  // leaf first
};

struct TierSummary {
  std::string name;
  uint64_t switches = 0;
  uint64_t linksDown = 0;      // cables to the tier below (or to NICs, for the leaf)
  uint64_t linksUp = 0;        // cables to the tier above
  double downTbps = 0;         // total downlink bandwidth, Tbit/s
};

struct FabricSummary {
  uint64_t servers = 0;
  uint64_t gpus = 0;
  uint64_t nics = 0;
  std::vector<TierSummary> tiers;
  double bisectionTbps = 0;        // bandwidth across the worst cut into two halves of GPUs
  double bisectionPerGpuGbps = 0;
  std::vector<std::string> notes;  // e.g. "radix 128 x 3 tiers reaches at most 524,288 NICs"
};

const std::vector<PresetInfo>& fabricPresets();  // colossus:100k, colossus:200k, meta-24k, superpod...
// Throws std::invalid_argument listing the known names.
Fabric fabricPreset(const std::string& name);
// Throws std::invalid_argument when the fabric is inconsistent (too few ports, zero servers).
FabricSummary summarize(const Fabric& fabric);

}  // namespace strata::topo
