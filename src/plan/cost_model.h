// The planner's cost model: alpha-beta per link class (docs/cost-model.md). A message of b bytes
// over a class costs alpha + b / bandwidth; `sharing` flows on the narrowest link divide its
// bandwidth. The classes come from the topology model (NVLink, PCIe, shared memory, NIC and each
// switch tier), from a fabric description, or from a calibration profile measured on this machine
// by `strata-bench --calibrate`.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace strata {

namespace topo {
class Topology;
struct Fabric;
}  // namespace topo

struct LinkClass {
  std::string name;          // "shm", "nvlink", "nic", "leaf", "spine"...
  double alphaSec = 0;       // per message
  double bytesPerSec = 1e9;  // one direction, one rank's share when nothing else competes
};

struct CostModel {
  LinkClass intraHost{"shm", 1e-6, 5e9};   // between ranks of one host
  LinkClass interHost{"nic", 5e-6, 1e9};   // between hosts, through the rank's NIC
  // Extra latency per switch tier climbed between two hosts (leaf = tier 0), both ways summed:
  // a message whose highest switch is tier t pays tierHopSec[0] + ... + tierHopSec[t].
  std::vector<double> tierHopSec;
  // Bandwidth left per flow when all ranks send across tier t at once (oversubscription): factor
  // in (0, 1] per tier, 1 = non-blocking. Cumulative: tier t's factor already includes the
  // tapers of the tiers below it.
  std::vector<double> tierBandwidthFactor;
  // Reduction throughput of local memory (bytes of output per second): the cost of "op".
  double reduceBytesPerSec = 10e9;
  // Ranks of one host that share one NIC (GPUs per NIC): the `sharing` of an inter-host message
  // when every rank of the host sends at once without spreading over the host's other NICs.
  int ranksPerNic = 1;
  // Two regimes of a CPU host: collectives whose buffers (bytes per rank) exceed cacheBytes run
  // the shared-memory copies and the reduction at memory speed, several times slower than in
  // cache on the project's machine. 0: one regime. forWorkingSet() applies it.
  size_t cacheBytes = 0;
  double memoryIntraBytesPerSec = 0;
  double memoryReduceBytesPerSec = 0;
  std::string source = "built-in defaults";  // where the numbers came from

  // Seconds for one message of `bytes` between two ranks; `tier` is the highest switch tier
  // crossed (-1: same host), `sharing` the number of flows on its narrowest link. Inter-host
  // messages assume the collective's pattern, every rank sending at once, so they also get the
  // oversubscription factor of their tier; tiers the model does not list cost nothing extra.
  double message(size_t bytes, int tier, double sharing = 1) const;
  // The model of one host's shared memory transport (calibrated when a profile is found).
  // Loaded once; throws strata::Error (strataInvalidArgument) naming the file when the profile
  // that applies is unreadable or malformed.
  static const CostModel& defaultHost();
  // This model for a collective over `bytes` per rank: the memory-speed rates when the buffers
  // exceed cacheBytes, else itself.
  CostModel forWorkingSet(size_t bytes) const;
};

// The link classes of one server of a topology (its first host): NVLink when its GPUs have it,
// else the PCIe path between GPUs, else this host's shared memory (defaultHost()); the NIC
// class from each GPU's nearest NIC (the slowest of them), or the fastest NIC of a host without
// GPUs. No switch tiers: a single server's topology has none.
CostModel fromTopology(const topo::Topology& topology);
// A whole fabric: the server preset's intra-host class (fromTopology), the fabric's NICs at the
// bandwidth they achieve, and per switch tier the hop latency and the cumulative bandwidth
// factor of the oversubscribed uplinks below it.
CostModel fromFabric(const topo::Fabric& fabric);

// ---- Calibration -----------------------------------------------------------------------------

// One measurement: `seconds` for a probe that sent `messages` messages and moved `bytes` bytes.
// `knownSeconds` is the part of `seconds` spent on work the fit does not explain (the
// reduction, measured on its own).
struct MeasuredPoint {
  double bytes = 0;
  double messages = 1;
  double seconds = 0;
  double knownSeconds = 0;
};

struct AlphaBetaFit {
  double alphaSec = 0;
  double bytesPerSec = 0;
  double maxRelativeError = 0;  // of alpha * messages + bytes / bytesPerSec + known vs seconds
};

// Two regimes: alpha and bandwidth fitted on the points up to splitBytes, and the bandwidth
// beyond it with the same alpha, at the split that explains the points best (one regime when a
// split does not halve the worst error).
struct CacheMemoryFit {
  AlphaBetaFit cache;            // all points when there is one regime
  double memoryBytesPerSec = 0;  // 0: one regime
  double splitBytes = 0;         // the largest `bytes` of the cache regime
  double maxRelativeError = 0;
};

// Least squares of seconds - knownSeconds = alpha * messages + bytes / bytesPerSec, on relative
// errors so that the 8-byte points (which set alpha) weigh as much as the 64 MiB ones (which set
// the bandwidth). alpha is clamped at 0 (refitting the bandwidth alone). Throws
// strataInvalidArgument when the points cannot give a positive bandwidth.
AlphaBetaFit fitAlphaBeta(const std::vector<MeasuredPoint>& points);
// `points` in increasing `bytes`. forcedSplitBytes > 0 splits there instead of searching (the
// reduction's points at the split found for the transport's).
CacheMemoryFit fitCacheAndMemory(const std::vector<MeasuredPoint>& points, double forcedSplitBytes = 0);

// What `strata-bench --calibrate` measured on one machine (docs/cost-model.md has the JSON).
struct CostProfile {
  std::string machine;    // host name
  std::string date;       // UTC, ISO 8601
  std::string command;    // the command line that measured it
  std::string kernelIsa;  // reduction kernels used ("avx2")
  LinkClass shm{"shm", 0, 0};
  double cacheBytes = 0;            // collective bytes per rank beyond which the memory rates apply
  double shmMemoryBytesPerSec = 0;  // 0: one regime
  std::string shmProbe;   // how the shm points were taken and what the fit explains
  std::vector<MeasuredPoint> shmPoints;
  double reduceBytesPerSec = 0;
  double reduceMemoryBytesPerSec = 0;
  std::string reduceProbe;
  std::vector<MeasuredPoint> reducePoints;

  // The host model this profile gives: built-in defaults with the measured classes replacing
  // the shared-memory class and the reduction throughput; `origin` goes into its source.
  CostModel hostModel(const std::string& origin) const;
};

std::string costProfileToJson(const CostProfile& profile);
// `origin` (a path) names the profile in errors: strataInvalidArgument for malformed JSON, a
// wrong format or version, a missing field or a value out of range.
CostProfile costProfileFromJson(std::string_view text, const std::string& origin);
CostProfile readCostProfile(const std::string& path);  // strataInvalidArgument if unreadable
// Writes atomically (temporary file + rename), creating the parent directories.
void writeCostProfile(const CostProfile& profile, const std::string& path);

// $XDG_CACHE_HOME/strata/cost-profile.json, else ~/.cache/strata/cost-profile.json; "" when
// neither variable is set.
std::string cacheCostProfilePath();
// The profile defaultHost() reads: STRATA_COST_PROFILE when set (it must exist), else the cache
// path when that file exists, else "" (built-in defaults).
std::string costProfilePathInUse();
// The host model without a profile: the constants of the shared-memory transport measured on the
// project's machine (docs/cost-model.md).
CostModel builtInHostModel();
// What defaultHost() holds, computed afresh: builtInHostModel() or the profile at `path`
// ("" = built-in).
CostModel loadHostModel(const std::string& path);

}  // namespace strata
