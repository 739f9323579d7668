// The algorithm registry. Each algorithm lives in src/plan/algorithms/<collective>_<name>.cc and
// exports one AlgorithmInfo record: its name, the collective, which shapes it supports, a cost
// estimate, and the builder of a rank's schedule. The selector picks the supported algorithm of
// lowest estimated cost, unless the configuration forces one.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "plan/cost_model.h"
#include "plan/schedule.h"

namespace strata {

enum class Collective : uint8_t { AllReduce, ReduceScatter, AllGather, Broadcast, Reduce };
const char* collectiveName(Collective c);  // "allreduce", "reducescatter", ...

// Which host each rank is on. The hierarchical algorithms need every host to hold the same number
// of ranks; ranks of a host need not be numbered consecutively.
struct RankLayout {
  int nranks = 1;
  int nhosts = 1;
  int perHost = 1;          // ranks on every host; 0 when hosts hold different numbers
  bool contiguous = true;   // rank = host * perHost + local
  std::vector<int> hostOfRank, localOfRank;  // filled when !contiguous
  std::vector<int> rankAt;  // [host * perHost + local] -> rank, when !contiguous and uniform

  static RankLayout oneHost(int nranks);
  static RankLayout contiguousHosts(int nranks, int perHost);  // nranks % perHost == 0
  static RankLayout fromHostOfRank(const std::vector<int>& hostOfRank);
  int host(int rank) const { return contiguous ? rank / perHost : hostOfRank[size_t(rank)]; }
  int local(int rank) const { return contiguous ? rank % perHost : localOfRank[size_t(rank)]; }
  int rankOf(int host, int local) const {
    return contiguous ? host * perHost + local : rankAt[size_t(host) * perHost + local];
  }
  bool uniform() const { return perHost > 0; }
};

struct PlanRequest {
  Collective collective = Collective::AllReduce;
  int rank = 0;
  int nranks = 1;
  int root = 0;                // broadcast and reduce
  // Elements of the collective's full buffer: the buffer of all-reduce, broadcast and reduce;
  // recvcount * nranks for reduce-scatter, sendcount * nranks for all-gather.
  size_t count = 0;
  strataDataType_t type = strataFloat32;
  strataRedOp_t op = strataSum;
  size_t elemBytes = 4;
  size_t messageBytes = 0;     // the transport's largest message (shm slot)
  size_t oneShotMaxBytes = 0;  // largest buffer for the one-shot path
  // The transport between hosts sends a message of the user's buffers from where it lies
  // (SendChannel::postFrom: TCP and UCX), so such sends cost no copy into a slot.
  bool networkSendsFromBuffers = false;
  std::shared_ptr<const RankLayout> layout;  // null: every rank on one host
  std::shared_ptr<const CostModel> cost;     // null: CostModel::defaultHost()
  size_t bytes() const { return count * elemBytes; }
  int nhosts() const { return layout ? layout->nhosts : 1; }
  const CostModel& costModel() const { return cost ? *cost : CostModel::defaultHost(); }
};

struct AlgorithmInfo {
  const char* name;
  Collective collective;
  const char* description;
  bool (*supports)(const PlanRequest&);
  double (*estimateSeconds)(const PlanRequest&);
  Schedule (*builder)(const PlanRequest&);
  // The rank's schedule, lanes assigned.
  Schedule build(const PlanRequest& request) const {
    Schedule s = builder(request);
    assignLanes(s);
    return s;
  }
};

// Every registered algorithm, and those of one collective.
const std::vector<const AlgorithmInfo*>& allAlgorithms();
std::vector<const AlgorithmInfo*> algorithmsFor(Collective c);
const std::vector<const AlgorithmInfo*>& allReduceAlgorithms();

// The algorithm for this request: `forced` by name if non-empty (it must support the request),
// else the supported one of lowest estimate. A forced name that exists but is for another
// collective is ignored for this one (STRATA_ALGO=ring forces the ring of every collective that
// has one). Throws strataInvalidArgument for an unknown or unsupported forced name.
const AlgorithmInfo& selectAlgorithm(const PlanRequest& request, std::string_view forced);
inline const AlgorithmInfo& selectAllReduce(const PlanRequest& request, std::string_view forced) {
  return selectAlgorithm(request, forced);
}

// A schedule's common fields from the request (chunkElems from messageBytes).
Schedule scheduleSkeleton(const PlanRequest& request, const char* algorithm);

}  // namespace strata
