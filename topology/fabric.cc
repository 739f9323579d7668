// Fabric presets and their summary: switch counts, cables and bisection of folded-Clos (fat
// tree) fabrics from a handful of parameters, in constant time per tier.
#include "topology/fabric.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

namespace strata::topo {
namespace {

// Spectrum-X SN5600: 64 x 800 Gb/s = 128 x 400GbE ports. Quantum-2 QM9700: 64 x 400 Gb/s NDR.
// Hop latency: the simulator templates' 500 ns per link (FABRICS.md: 0.5-1 us per hop).
constexpr double kHopUs = 0.5;

SwitchTier tier(const std::string& name, int radix, double oversubscription = 1.0, int portsDown = 0) {
  SwitchTier t;
  t.name = name;
  t.radix = radix;
  t.linkGbps = 400;
  t.latencyUs = kHopUs;
  t.oversubscription = oversubscription;
  t.portsDown = portsDown;
  return t;
}

Fabric colossus(const std::string& name, uint64_t servers, const std::string& description) {
  Fabric f;
  f.name = name;
  f.description = description;
  f.serverPreset = "hgx-h100-colossus";
  f.servers = servers;
  f.gpusPerServer = 8;
  f.nicsPerServer = 8;
  f.extraNicsPerServer = 1;  // the 9th BlueField-3 of each server (3.6 Tb/s per server)
  f.nicGbps = 400;
  f.railOptimized = true;
  // Spectrum-X: 95 % sustained throughput with its adaptive routing and congestion control,
  // against about 60 % for ECMP Ethernet (shared/facts/FABRICS.md).
  f.adaptiveRouting = true;
  f.tiers = {tier("leaf", 128), tier("spine", 128), tier("core", 128)};
  return f;
}

Fabric superpod(int units) {
  Fabric f;
  f.name = fmt::format("superpod:{}su", units);
  f.description = fmt::format(
      "DGX SuperPOD H100, {} scalable unit{} of 32 DGX H100 ({} GPUs), rail-optimized non-blocking "
      "NDR InfiniBand, Quantum-2 QM9700 (64 x 400G), {} tiers",
      units, units == 1 ? "" : "s", units * 256, units <= 4 ? 2 : 3);
  f.serverPreset = "dgx-h100";
  f.servers = static_cast<uint64_t>(units) * 32;
  f.railOptimized = true;
  // NVIDIA's reference design: leaf and spine up to 4 units, a core tier beyond.
  f.tiers = {tier("leaf", 64), tier("spine", 64)};
  if (units > 4) f.tiers.push_back(tier("core", 64));
  return f;
}

Fabric meta24k() {
  Fabric f;
  f.name = "meta-24k";
  f.description =
      "Meta's 24k-GPU RoCE cluster (Llama 3): 3,072 servers of 8 H100 + 8x 400G, 2 servers per "
      "rack switch, 8 pods of 3,072 GPUs at full bisection, 1:7 oversubscribed above the pods "
      "(servers modelled as dgx-h100: same GPU and NIC counts; aggregation radix assumed 128)";
  f.serverPreset = "dgx-h100";
  f.servers = 3072;
  f.railOptimized = false;
  f.tiers = {
      tier("rack", 32),             // 16 ports to 2 servers, 16 up: non-blocking
      tier("cluster", 224, 7.0, 192),  // 192 rack switches' uplinks per pod switch, 28 up
      tier("aggregation", 128),
  };
  return f;
}

struct Entry {
  PresetInfo info;
  Fabric (*make)();
};

const std::vector<Entry>& entries() {
  static const std::vector<Entry> list = {
      {{"colossus:100k", "xAI Colossus at launch: 100,000 H100 (12,500 servers), 8+1 x 400GbE BlueField-3 "
                         "per server, rail-optimized, 3 tiers of Spectrum-X SN5600"},
       [] { return colossus("colossus:100k", 12500, "xAI Colossus at launch (July 2024): 100,000 H100"); }},
      {{"colossus:200k", "xAI Colossus doubled: 200,000 H100/H200 (25,000 servers), same fabric design"},
       [] { return colossus("colossus:200k", 25000, "xAI Colossus doubled: 200,000 H100/H200"); }},
      {{"colossus:131k", "Colossus design at 131,072 GPUs (16,384 servers): the scale test"},
       [] { return colossus("colossus:131k", 16384, "Colossus design at 2^17 = 131,072 GPUs"); }},
      {{"meta-24k", "Meta's 24,576-GPU RoCE cluster: 3,072-GPU pods at full bisection, 1:7 above"}, meta24k},
      {{"superpod:4su", "DGX SuperPOD, 4 scalable units (1,024 H100), 2 tiers"}, [] { return superpod(4); }},
      {{"superpod:16su", "DGX SuperPOD, 16 scalable units (4,096 H100), 3 tiers"}, [] { return superpod(16); }},
  };
  return list;
}

uint64_t ceilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

struct Ports {
  uint64_t down = 0;
  uint64_t up = 0;
};

// Ports a switch of this tier turns down and up. Below the top a switch splits its radix in the
// ratio of its oversubscription o (down : up), radix x o/(1+o) down, or turns `portsDown` down
// and enough up to meet o; the top tier turns every port down.
Ports portsOf(const Fabric& fabric, size_t t) {
  const SwitchTier& tier = fabric.tiers[t];
  const bool top = t + 1 == fabric.tiers.size();
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument(fmt::format("fabric '{}', tier {} ('{}'): {}", fabric.name, t, tier.name, what));
  };
  if (tier.radix < 2) fail(fmt::format("radix {} is less than 2", tier.radix));
  if (!(tier.oversubscription > 0) || !std::isfinite(tier.oversubscription))
    fail(fmt::format("oversubscription {} is not a positive ratio", tier.oversubscription));
  if (!(tier.linkGbps > 0)) fail("link speed must be positive");
  if (tier.portsDown < 0 || tier.portsDown > tier.radix)
    fail(fmt::format("{} ports down on a radix-{} switch", tier.portsDown, tier.radix));
  Ports p;
  if (top) {
    p.down = tier.portsDown > 0 ? tier.portsDown : tier.radix;
  } else if (tier.portsDown > 0) {
    p.down = tier.portsDown;
    p.up = static_cast<uint64_t>(std::ceil(tier.portsDown / tier.oversubscription - 1e-9));
  } else {
    const double o = tier.oversubscription;
    p.down = static_cast<uint64_t>(std::floor(tier.radix * o / (1 + o) + 1e-9));
    p.up = tier.radix - p.down;
  }
  if (p.down == 0) fail("no ports left facing down");
  if (!top && p.up == 0) fail("no ports left facing up");
  if (p.down + p.up > static_cast<uint64_t>(tier.radix))
    fail(fmt::format("{} down + {} up ports exceed the radix {}", p.down, p.up, tier.radix));
  return p;
}

std::string withCommas(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

const std::vector<PresetInfo>& fabricPresets() {
  static const std::vector<PresetInfo> infos = [] {
    std::vector<PresetInfo> out;
    for (const Entry& e : entries()) out.push_back(e.info);
    return out;
  }();
  return infos;
}

Fabric fabricPreset(const std::string& name) {
  for (const Entry& e : entries())
    if (e.info.name == name) return e.make();
  // Any number of SuperPOD units: "superpod:<n>su".
  if (name.rfind("superpod:", 0) == 0 && name.size() > 11 && name.substr(name.size() - 2) == "su") {
    const std::string digits = name.substr(9, name.size() - 11);
    char* end = nullptr;
    const long units = std::strtol(digits.c_str(), &end, 10);
    if (!digits.empty() && *end == '\0' && units >= 1 && units <= 100000) return superpod(static_cast<int>(units));
  }
  std::string known;
  for (const Entry& e : entries()) known += (known.empty() ? "" : ", ") + e.info.name;
  throw std::invalid_argument(
      fmt::format("unknown fabric preset '{}' (known: {}, superpod:<n>su)", name, known));
}

FabricSummary summarize(const Fabric& fabric) {
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument(fmt::format("fabric '{}': {}", fabric.name, what));
  };
  if (fabric.servers == 0) fail("zero servers");
  if (fabric.gpusPerServer < 1) fail(fmt::format("{} GPUs per server", fabric.gpusPerServer));
  if (fabric.nicsPerServer < 1) fail(fmt::format("{} NICs per server", fabric.nicsPerServer));
  if (fabric.extraNicsPerServer < 0) fail("negative extra NICs per server");
  if (!(fabric.nicGbps > 0)) fail("NIC speed must be positive");
  if (fabric.tiers.empty()) fail("no switch tiers");
  if (fabric.servers > (uint64_t{1} << 40)) fail("implausibly many servers");

  const size_t levels = fabric.tiers.size();
  std::vector<Ports> ports;
  for (size_t t = 0; t < levels; ++t) ports.push_back(portsOf(fabric, t));

  FabricSummary s;
  s.servers = fabric.servers;
  s.gpus = fabric.servers * fabric.gpusPerServer;
  s.nics = fabric.servers * fabric.nicsPerServer;
  const uint64_t endpoints = s.nics;

  // Reach: a switch of the top tier joins down_top groups of the tier below, each of which holds
  // the product of the lower tiers' down ports (a leaf's NICs, a pod's leaves...), so L tiers
  // reach down_0 x ... x down_{L-2} x down_top NICs: 64 x 64 x 128 = 128^3/4 for three non-blocking
  // tiers of radix 128. One tier is one switch per rail (or one switch).
  double reach = 1;
  for (size_t t = 0; t < levels; ++t) reach *= static_cast<double>(ports[t].down);
  if (levels == 1 && fabric.railOptimized) reach *= fabric.nicsPerServer;
  std::string radixes;
  for (const SwitchTier& t : fabric.tiers) radixes += (radixes.empty() ? "" : "/") + std::to_string(t.radix);
  const std::string reachText = fmt::format("{} tier{} of radix {} reach at most {} NICs", levels,
                                            levels == 1 ? "" : "s", radixes,
                                            withCommas(static_cast<uint64_t>(reach)));
  if (static_cast<double>(endpoints) > reach)
    fail(fmt::format("{} NICs are too many: {}; add a tier, more planes or bigger switches",
                     withCommas(endpoints), reachText));
  s.notes.push_back(fmt::format("{} ({:.1f} % used)", reachText, 100.0 * endpoints / reach));

  // Switches and cables, leaf up. A rail-optimized leaf serves one rail: rail r of down_0
  // servers; otherwise a leaf serves whole servers (all their NICs). Every switch cables all of
  // its uplinks; the tier above has as many switches as its down ports need.
  uint64_t linksDown = endpoints;
  for (size_t t = 0; t < levels; ++t) {
    TierSummary ts;
    ts.name = fabric.tiers[t].name;
    if (t == 0) {
      if (fabric.railOptimized) {
        ts.switches = static_cast<uint64_t>(fabric.nicsPerServer) * ceilDiv(fabric.servers, ports[0].down);
      } else {
        const uint64_t serversPerLeaf = ports[0].down / fabric.nicsPerServer;
        if (serversPerLeaf == 0)
          fail(fmt::format("a {}-port-down leaf cannot take the {} NICs of one server", ports[0].down,
                           fabric.nicsPerServer));
        ts.switches = ceilDiv(fabric.servers, serversPerLeaf);
      }
    } else {
      ts.switches = ceilDiv(linksDown, ports[t].down);
    }
    ts.linksDown = linksDown;
    ts.linksUp = ts.switches * ports[t].up;
    ts.downTbps = static_cast<double>(ts.linksDown) *
                  (t == 0 ? fabric.nicGbps : fabric.tiers[t].linkGbps) / 1000.0;
    s.tiers.push_back(ts);
    linksDown = ts.linksUp;
  }

  // Bisection: split the GPUs into two halves and count what can cross. In a fat tree the worst
  // balanced cut follows group boundaries: a group at tier t is what sits below one tier-t
  // "block" (a leaf's down_0 NICs, a pod's down_0 x down_1, ...). When a tier-t group holds at
  // most half the NICs, a cut made of whole groups sends all cross traffic up through the
  // uplinks of tiers 0..t, each dividing it by its oversubscription:
  //     capacity_t = (NICs / 2) x nicGbps / (o_0 x ... x o_t)
  // The cut inside one switch (or when no group is small enough) carries (NICs / 2) x nicGbps.
  // The bisection is the minimum over these cuts: it is set by the oversubscribed uplinks of
  // the tier that joins the two halves.
  const double half = static_cast<double>(endpoints) / 2.0;
  double bisectionGbps = half * fabric.nicGbps;
  double groupNics = 1, taper = 1;
  for (size_t t = 0; t + 1 < levels; ++t) {
    groupNics *= static_cast<double>(ports[t].down);
    taper *= fabric.tiers[t].oversubscription;
    if (groupNics <= half) bisectionGbps = std::min(bisectionGbps, half * fabric.nicGbps / taper);
    if (fabric.tiers[t].oversubscription != 1.0)
      s.notes.push_back(fmt::format("{} uplinks oversubscribed {:g}:1 (groups of {} NICs below)",
                                    fabric.tiers[t].name, fabric.tiers[t].oversubscription,
                                    withCommas(static_cast<uint64_t>(groupNics))));
  }
  s.bisectionTbps = bisectionGbps / 1000.0;
  s.bisectionPerGpuGbps = bisectionGbps / (static_cast<double>(s.gpus) / 2.0);

  if (fabric.extraNicsPerServer > 0)
    s.notes.push_back(fmt::format("plus {} NICs outside the compute fabric ({} per server)",
                                  withCommas(fabric.servers * fabric.extraNicsPerServer),
                                  fabric.extraNicsPerServer));
  if (fabric.railOptimized)
    s.notes.push_back(fmt::format("rail-optimized: NIC i of every server on a rail-i leaf ({} rails)",
                                  fabric.nicsPerServer));
  return s;
}

}  // namespace strata::topo
