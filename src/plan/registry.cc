#include "plan/registry.h"

#include "core/error.h"

namespace strata {

extern const AlgorithmInfo kAllReduceRing;
extern const AlgorithmInfo kAllReduceOneShot;

const std::vector<const AlgorithmInfo*>& allReduceAlgorithms() {
  static const std::vector<const AlgorithmInfo*> table = {&kAllReduceOneShot, &kAllReduceRing};
  return table;
}

const AlgorithmInfo& selectAllReduce(const PlanRequest& request, std::string_view forced) {
  const AlgorithmInfo* best = nullptr;
  double bestSeconds = 0;
  for (const AlgorithmInfo* algo : allReduceAlgorithms()) {
    if (!forced.empty()) {
      if (forced != algo->name) continue;
      STRATA_CHECK(algo->supports(request), strataInvalidArgument,
                   "algorithm '{}' does not support all-reduce of {} bytes on {} ranks", algo->name,
                   request.bytes(), request.nranks);
      return *algo;
    }
    if (!algo->supports(request)) continue;
    double s = algo->estimateSeconds(request);
    if (!best || s < bestSeconds) {
      best = algo;
      bestSeconds = s;
    }
  }
  STRATA_CHECK(forced.empty(), strataInvalidArgument, "unknown all-reduce algorithm '{}'", forced);
  STRATA_CHECK(best, strataInternalError, "no all-reduce algorithm supports {} bytes on {} ranks",
               request.bytes(), request.nranks);
  return *best;
}

Schedule scheduleSkeleton(const PlanRequest& request, const char* algorithm) {
  Schedule s;
  s.algorithm = algorithm;
  s.rank = request.rank;
  s.nranks = request.nranks;
  s.count = request.count;
  s.type = request.type;
  s.op = request.op;
  s.elemBytes = request.elemBytes;
  s.chunkElems = std::max<size_t>(1, request.messageBytes / request.elemBytes);
  return s;
}

}  // namespace strata
