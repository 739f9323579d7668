// The cost model's classes, from topology, fabric and calibration (docs/cost-model.md).
#include "plan/cost_model.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "topology/fabric.h"
#include "topology/model.h"
#include "topology/presets.h"

namespace strata {
namespace {

// ---- Where the numbers come from ---------------------------------------------------------------

// Shared memory on the project's 2-core machine, measured with strata-bench before the
// calibration existed: one hand-off through a FIFO slot, and the copy bandwidth through it.
constexpr double kShmAlphaSec = 0.4e-6;
constexpr double kShmBytesPerSec = 6e9;
// float32 sum out of cache: `strata-bench --calibrate` measured 6.4-17 GB/s of output at 2-32 MiB
// on the project's machine (docs/cost-model.md); in cache it runs 4-6 times faster.
constexpr double kHostReduceBytesPerSec = 10e9;

// Alphas of GPU links are NCCL's per-hop latencies of the LL protocol (src/graph/tuning.cc,
// FABRICS.md): the protocol NCCL uses where latency matters. Bandwidths are those of the links
// at full speed (the Simple protocol's): the lower envelope of NCCL's protocols.
constexpr double kNvlinkAlphaSec = 0.6e-6;  // NVLink, ring LL
constexpr double kPciAlphaSec = 1.0e-6;     // PCIe, ring LL
// The network hop of ring LL (2.7 us) is NCCL's figure for NIC to NIC across a leaf; it is the
// NIC's alpha here and switch hops are added per tier on top (at most 0.5 us too much).
constexpr double kNicAlphaSec = 2.7e-6;
// A 400 Gb/s NIC achieves 46-48 of its 50 GB/s (FABRICS.md, nccl-tests#290).
constexpr double kNicEfficiency = 47.0 / 50.0;
// H100: a device-to-device copy moves about 3.0 TB/s of bytes read + written (FABRICS.md); a
// reduction reads two operands and writes one, so one third of it is output bytes.
constexpr double kGpuReduceBytesPerSec = 3.0e12 / 3;

constexpr const char* kProfileFormat = "strata-cost-profile";
constexpr int kProfileVersion = 1;

// ---- Topology helpers -------------------------------------------------------------------------

double nicBytesPerSec(const topo::Topology& t, topo::NodeId nic) {
  double gbps = t.node(nic).speedGbps;
  if (gbps <= 0) {
    // The port's line rate, else the wire's bandwidth.
    for (uint32_t li : t.linksOf(nic)) {
      const topo::NodeId other = t.otherEnd(li, nic);
      if (t.node(other).kind == topo::NodeKind::NicPort && t.node(other).speedGbps > 0)
        gbps = std::max(gbps, t.node(other).speedGbps);
      else if (t.links()[li].kind == topo::LinkKind::Net)
        gbps = std::max(gbps, t.links()[li].bandwidthGBps * 8);
    }
  }
  return gbps / 8 * 1e9 * kNicEfficiency;
}

// A GPU's NVLink bandwidth per direction toward one peer: all its links when they go to
// NVSwitches (every peer is reachable over all of them), else the best direct bundle.
double nvlinkBytesPerSec(const topo::Topology& t, topo::NodeId gpu) {
  double toSwitches = 0, direct = 0;
  for (uint32_t li : t.linksOf(gpu)) {
    const topo::Link& l = t.links()[li];
    if (l.kind != topo::LinkKind::NvLink) continue;
    if (t.node(t.otherEnd(li, gpu)).kind == topo::NodeKind::NvSwitch)
      toSwitches += l.bandwidthGBps;
    else
      direct = std::max(direct, l.bandwidthGBps);
  }
  return std::max(toSwitches, direct) * 1e9;
}

bool hasNvlink(const topo::Topology& t, topo::NodeId gpu) {
  for (uint32_t li : t.linksOf(gpu))
    if (t.links()[li].kind == topo::LinkKind::NvLink) return true;
  return false;
}

// ---- JSON -------------------------------------------------------------------------------------

nlohmann::json pointsJson(const std::vector<MeasuredPoint>& points) {
  nlohmann::json out = nlohmann::json::array();
  for (const MeasuredPoint& p : points)
    out.push_back({{"bytes", p.bytes}, {"messages", p.messages}, {"seconds", p.seconds},
                   {"known_seconds", p.knownSeconds}});
  return out;
}

[[noreturn]] void badProfile(const std::string& origin, const std::string& what) {
  fail(strataInvalidArgument, "cost profile {}: {}", origin, what);
}

const nlohmann::json& member(const nlohmann::json& j, const char* key, const std::string& where,
                             const std::string& origin) {
  if (!j.is_object() || !j.contains(key)) badProfile(origin, fmt::format("missing \"{}{}\"", where, key));
  return j.at(key);
}

double positiveNumber(const nlohmann::json& j, const char* key, const std::string& where,
                      const std::string& origin, bool zeroAllowed) {
  const nlohmann::json& v = member(j, key, where, origin);
  if (!v.is_number()) badProfile(origin, fmt::format("\"{}{}\" is not a number", where, key));
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < 0 || (!zeroAllowed && x == 0))
    badProfile(origin, fmt::format("\"{}{}\" = {} is out of range (must be {} and finite)", where,
                                   key, x, zeroAllowed ? ">= 0" : "> 0"));
  return x;
}

std::string optionalString(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<MeasuredPoint> readPoints(const nlohmann::json& section, const std::string& where,
                                      const std::string& origin) {
  std::vector<MeasuredPoint> points;
  auto it = section.find("points");
  if (it == section.end()) return points;
  if (!it->is_array()) badProfile(origin, fmt::format("\"{}points\" is not an array", where));
  for (size_t i = 0; i < it->size(); ++i) {
    const nlohmann::json& p = (*it)[i];
    const std::string at = fmt::format("{}points[{}].", where, i);
    MeasuredPoint m;
    m.bytes = positiveNumber(p, "bytes", at, origin, true);
    m.seconds = positiveNumber(p, "seconds", at, origin, false);
    if (p.contains("messages")) m.messages = positiveNumber(p, "messages", at, origin, true);
    if (p.contains("known_seconds")) m.knownSeconds = positiveNumber(p, "known_seconds", at, origin, true);
    points.push_back(m);
  }
  return points;
}

}  // namespace

// ---- The model --------------------------------------------------------------------------------

double CostModel::message(size_t bytes, int tier, double sharing) const {
  const double flows = std::max(1.0, sharing);
  if (tier < 0) return intraHost.alphaSec + double(bytes) * flows / intraHost.bytesPerSec;
  double alpha = interHost.alphaSec;
  double factor = 1.0;
  for (size_t t = 0; t <= size_t(tier); ++t) {
    if (t < tierHopSec.size()) alpha += tierHopSec[t];
    if (t < tierBandwidthFactor.size()) factor = std::min(factor, tierBandwidthFactor[t]);
  }
  return alpha + double(bytes) * flows / (interHost.bytesPerSec * factor);
}

CostModel CostModel::forWorkingSet(size_t bytes) const {
  if (cacheBytes == 0 || bytes <= cacheBytes) return *this;
  CostModel m = *this;
  if (memoryIntraBytesPerSec > 0) m.intraHost.bytesPerSec = memoryIntraBytesPerSec;
  if (memoryReduceBytesPerSec > 0) m.reduceBytesPerSec = memoryReduceBytesPerSec;
  return m;
}

CostModel builtInHostModel() {
  CostModel m;
  m.intraHost = {"shm", kShmAlphaSec, kShmBytesPerSec};
  m.reduceBytesPerSec = kHostReduceBytesPerSec;
  m.source = "built-in defaults (shared memory measured on the project's machine)";
  return m;
}

CostModel loadHostModel(const std::string& path) {
  if (path.empty()) return builtInHostModel();
  return readCostProfile(path).hostModel(path);
}

const CostModel& CostModel::defaultHost() {
  // A throwing initializer leaves the static uninitialized, so every call reports the bad file.
  static const CostModel model = loadHostModel(costProfilePathInUse());
  return model;
}

CostModel fromTopology(const topo::Topology& t) {
  CostModel m = builtInHostModel();
  const std::vector<topo::NodeId> gpus = t.nodesOf(topo::NodeKind::Gpu, 0);
  std::string intraFrom, nicFrom;

  if (!gpus.empty() && std::all_of(gpus.begin(), gpus.end(), [&](topo::NodeId g) { return hasNvlink(t, g); })) {
    double slowest = std::numeric_limits<double>::infinity();
    for (topo::NodeId g : gpus) slowest = std::min(slowest, nvlinkBytesPerSec(t, g));
    m.intraHost = {"nvlink", kNvlinkAlphaSec, slowest};
    intraFrom = fmt::format("nvlink {:g} GB/s", slowest / 1e9);
  } else if (gpus.size() > 1) {
    // The ring in index order: its slowest hop bounds every rank's share.
    double slowest = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < gpus.size(); ++i)
      slowest = std::min(slowest, t.path(gpus[i], gpus[(i + 1) % gpus.size()]).bandwidthGBps * 1e9);
    m.intraHost = {"pcie", kPciAlphaSec, slowest};
    intraFrom = fmt::format("pcie {:g} GB/s", slowest / 1e9);
  } else {
    m.intraHost = CostModel::defaultHost().intraHost;
    intraFrom = "shm (" + CostModel::defaultHost().source + ")";
  }
  if (!gpus.empty()) m.reduceBytesPerSec = kGpuReduceBytesPerSec;

  if (!gpus.empty()) {
    double slowest = std::numeric_limits<double>::infinity();
    std::map<topo::NodeId, int> gpusOfNic;
    for (topo::NodeId g : gpus) {
      const std::vector<topo::NodeId> nics = t.nearestNics(g);
      if (nics.empty()) continue;
      const topo::NodeId nic = nics.front();
      ++gpusOfNic[nic];
      slowest = std::min({slowest, nicBytesPerSec(t, nic), t.path(g, nic).bandwidthGBps * 1e9});
    }
    if (!gpusOfNic.empty() && slowest > 0 && std::isfinite(slowest)) {
      m.interHost = {"nic", kNicAlphaSec, slowest};
      for (const auto& [nic, count] : gpusOfNic) m.ranksPerNic = std::max(m.ranksPerNic, count);
      nicFrom = fmt::format("nic {:g} GB/s, {} GPU(s) per NIC", slowest / 1e9, m.ranksPerNic);
    }
  } else {
    double fastest = 0;
    for (topo::NodeId nic : t.nodesOf(topo::NodeKind::Nic, 0)) fastest = std::max(fastest, nicBytesPerSec(t, nic));
    if (fastest > 0) {
      m.interHost = {"nic", kNicAlphaSec, fastest};
      nicFrom = fmt::format("nic {:g} GB/s", fastest / 1e9);
    }
  }
  if (nicFrom.empty()) nicFrom = "no NIC: built-in nic class";
  m.source = fmt::format("topology {}: {}; {}", t.source.empty() ? "(unnamed)" : t.source, intraFrom, nicFrom);
  return m;
}

CostModel fromFabric(const topo::Fabric& fabric) {
  CostModel m = fromTopology(topo::machinePreset(fabric.serverPreset));
  m.interHost = {"nic", kNicAlphaSec, fabric.nicGbps / 8 * 1e9 * kNicEfficiency};
  m.ranksPerNic = std::max(1, (fabric.gpusPerServer + fabric.nicsPerServer - 1) / std::max(1, fabric.nicsPerServer));
  // A message whose highest switch is tier t crosses tier t once and every tier below twice
  // (up and down): climbing from t-1 to t adds tier t's hop and a second one of tier t-1.
  // Traffic that all climbs to tier t shares the uplinks of every tier below it.
  double taper = 1.0;
  for (size_t t = 0; t < fabric.tiers.size(); ++t) {
    const double hop = fabric.tiers[t].latencyUs * 1e-6;
    const double below = t == 0 ? 0.0 : fabric.tiers[t - 1].latencyUs * 1e-6;
    m.tierHopSec.push_back(hop + below);
    if (t > 0) taper *= std::max(1.0, fabric.tiers[t - 1].oversubscription);
    m.tierBandwidthFactor.push_back(1.0 / taper);
  }
  m.source = fmt::format("fabric {} ({} x {}, {:g} Gb/s NICs, {} tier(s)); intra-host from {}", fabric.name,
                         fabric.servers, fabric.serverPreset, fabric.nicGbps, fabric.tiers.size(), m.source);
  return m;
}

// ---- Calibration ------------------------------------------------------------------------------

AlphaBetaFit fitAlphaBeta(const std::vector<MeasuredPoint>& points) {
  // Weighted least squares of y = a * m + b * x with weights 1/seconds^2 (relative errors),
  // b = 1 / bytesPerSec: the 2x2 normal equations.
  double smm = 0, smx = 0, sxx = 0, smy = 0, sxy = 0;
  for (const MeasuredPoint& p : points) {
    if (!(p.seconds > 0)) fail(strataInvalidArgument, "calibration point of {} bytes has no time", p.bytes);
    const double w = 1.0 / (p.seconds * p.seconds);
    const double y = p.seconds - p.knownSeconds;
    smm += w * p.messages * p.messages;
    smx += w * p.messages * p.bytes;
    sxx += w * p.bytes * p.bytes;
    smy += w * p.messages * y;
    sxy += w * p.bytes * y;
  }
  double a = 0, b = 0;
  const double det = smm * sxx - smx * smx;
  if (points.size() >= 2 && det > 1e-12 * smm * sxx) {
    a = (smy * sxx - smx * sxy) / det;
    b = (smm * sxy - smx * smy) / det;
  }
  if (a <= 0 || b <= 0) {  // no room for a latency (or a degenerate set): bandwidth alone
    a = 0;
    b = sxx > 0 ? sxy / sxx : 0;
  }
  if (!(b > 0) || !std::isfinite(b))
    fail(strataInvalidArgument, "calibration: {} point(s) give no positive bandwidth", points.size());
  AlphaBetaFit fit{a, 1.0 / b, 0};
  for (const MeasuredPoint& p : points) {
    const double predicted = a * p.messages + b * p.bytes + p.knownSeconds;
    fit.maxRelativeError = std::max(fit.maxRelativeError, std::abs(predicted - p.seconds) / p.seconds);
  }
  return fit;
}

CacheMemoryFit fitCacheAndMemory(const std::vector<MeasuredPoint>& points, double forcedSplitBytes) {
  CacheMemoryFit best;
  best.cache = fitAlphaBeta(points);
  best.splitBytes = points.empty() ? 0 : points.back().bytes;
  best.maxRelativeError = best.cache.maxRelativeError;
  const double single = best.maxRelativeError;
  for (size_t k = 2; k < points.size(); ++k) {
    const bool forced = forcedSplitBytes > 0;
    if (forced && !(points[k - 1].bytes <= forcedSplitBytes && points[k].bytes > forcedSplitBytes)) continue;
    const std::vector<MeasuredPoint> low(points.begin(), points.begin() + k);
    AlphaBetaFit cache;
    try {
      cache = fitAlphaBeta(low);
    } catch (const Error&) {
      continue;
    }
    // Beyond the split: the bandwidth alone, the cache regime's alpha kept.
    double sxx = 0, sxy = 0;
    for (size_t i = k; i < points.size(); ++i) {
      const MeasuredPoint& p = points[i];
      const double w = 1.0 / (p.seconds * p.seconds);
      sxx += w * p.bytes * p.bytes;
      sxy += w * p.bytes * (p.seconds - p.knownSeconds - cache.alphaSec * p.messages);
    }
    if (!(sxy > 0) || !(sxx > 0)) continue;
    const double b = sxy / sxx;
    double error = cache.maxRelativeError;
    for (size_t i = k; i < points.size(); ++i) {
      const MeasuredPoint& p = points[i];
      const double predicted = cache.alphaSec * p.messages + b * p.bytes + p.knownSeconds;
      error = std::max(error, std::abs(predicted - p.seconds) / p.seconds);
    }
    if (forced || (error < best.maxRelativeError && error < single / 2)) {
      best.cache = cache;
      best.memoryBytesPerSec = 1.0 / b;
      best.splitBytes = points[k - 1].bytes;
      best.maxRelativeError = error;
    }
  }
  return best;
}

CostModel CostProfile::hostModel(const std::string& origin) const {
  CostModel m = builtInHostModel();
  m.intraHost = {"shm", shm.alphaSec, shm.bytesPerSec};
  m.reduceBytesPerSec = reduceBytesPerSec;
  m.cacheBytes = static_cast<size_t>(cacheBytes);
  m.memoryIntraBytesPerSec = shmMemoryBytesPerSec;
  m.memoryReduceBytesPerSec = reduceMemoryBytesPerSec;
  m.source = fmt::format("calibration profile {} ({}, {})", origin, machine.empty() ? "unknown machine" : machine,
                         date.empty() ? "undated" : date);
  return m;
}

std::string costProfileToJson(const CostProfile& p) {
  nlohmann::json doc = {
      {"format", kProfileFormat},
      {"version", kProfileVersion},
      {"machine", p.machine},
      {"date", p.date},
      {"command", p.command},
      {"kernel_isa", p.kernelIsa},
      {"shm",
       {{"alpha_s", p.shm.alphaSec},
        {"bytes_per_s", p.shm.bytesPerSec},
        {"cache_bytes", p.cacheBytes},
        {"memory_bytes_per_s", p.shmMemoryBytesPerSec},
        {"probe", p.shmProbe},
        {"points", pointsJson(p.shmPoints)}}},
      {"reduce",
       {{"bytes_per_s", p.reduceBytesPerSec},
        {"memory_bytes_per_s", p.reduceMemoryBytesPerSec},
        {"probe", p.reduceProbe},
        {"points", pointsJson(p.reducePoints)}}},
  };
  return doc.dump(2) + "\n";
}

CostProfile costProfileFromJson(std::string_view text, const std::string& origin) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    badProfile(origin, fmt::format("not JSON: {}", e.what()));
  }
  if (!doc.is_object()) badProfile(origin, "not a JSON object");
  if (doc.value("format", std::string()) != kProfileFormat)
    badProfile(origin, fmt::format("\"format\" is not \"{}\"", kProfileFormat));
  const nlohmann::json& version = member(doc, "version", "", origin);
  if (!version.is_number_integer() || version.get<int>() != kProfileVersion)
    badProfile(origin, fmt::format("unsupported \"version\" {} (this build reads {})", version.dump(), kProfileVersion));

  CostProfile p;
  p.machine = optionalString(doc, "machine");
  p.date = optionalString(doc, "date");
  p.command = optionalString(doc, "command");
  p.kernelIsa = optionalString(doc, "kernel_isa");
  const nlohmann::json& shm = member(doc, "shm", "", origin);
  p.shm = {"shm", positiveNumber(shm, "alpha_s", "shm.", origin, true),
           positiveNumber(shm, "bytes_per_s", "shm.", origin, false)};
  // The memory regime is optional: 0 or absent means one regime.
  if (shm.contains("cache_bytes")) p.cacheBytes = positiveNumber(shm, "cache_bytes", "shm.", origin, true);
  if (shm.contains("memory_bytes_per_s"))
    p.shmMemoryBytesPerSec = positiveNumber(shm, "memory_bytes_per_s", "shm.", origin, true);
  p.shmProbe = optionalString(shm, "probe");
  p.shmPoints = readPoints(shm, "shm.", origin);
  const nlohmann::json& reduce = member(doc, "reduce", "", origin);
  p.reduceBytesPerSec = positiveNumber(reduce, "bytes_per_s", "reduce.", origin, false);
  if (reduce.contains("memory_bytes_per_s"))
    p.reduceMemoryBytesPerSec = positiveNumber(reduce, "memory_bytes_per_s", "reduce.", origin, true);
  p.reduceProbe = optionalString(reduce, "probe");
  p.reducePoints = readPoints(reduce, "reduce.", origin);
  return p;
}

CostProfile readCostProfile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(strataInvalidArgument, "cost profile {}: cannot open: {}", path, std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail(strataInvalidArgument, "cost profile {}: read error", path);
  return costProfileFromJson(text.str(), path);
}

void writeCostProfile(const CostProfile& profile, const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) fail(strataSystemError, "cost profile {}: cannot create {}: {}", path, target.parent_path().string(), ec.message());
  }
  // Readers (defaultHost() of running processes) must never see half a file.
  const std::string temporary = fmt::format("{}.tmp.{}", path, getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << costProfileToJson(profile);
    out.close();
    if (!out) fail(strataSystemError, "cost profile {}: cannot write: {}", temporary, std::strerror(errno));
  }
  fs::rename(temporary, target, ec);
  if (ec) {
    fs::remove(temporary);
    fail(strataSystemError, "cost profile {}: cannot rename {} onto it: {}", path, temporary, ec.message());
  }
}

std::string cacheCostProfilePath() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && *xdg) return std::string(xdg) + "/strata/cost-profile.json";
  const char* home = std::getenv("HOME");
  if (home && *home) return std::string(home) + "/.cache/strata/cost-profile.json";
  return "";
}

std::string costProfilePathInUse() {
  const char* env = std::getenv("STRATA_COST_PROFILE");
  if (env && *env) return env;  // named explicitly: a missing file is an error, not a fallback
  std::string cache = cacheCostProfilePath();
  std::error_code ec;
  if (!cache.empty() && std::filesystem::exists(cache, ec)) return cache;
  return "";
}

}  // namespace strata
