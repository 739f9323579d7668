#include "plan/registry.h"

#include "core/error.h"

namespace strata {

extern const AlgorithmInfo kAllReduceRing;
extern const AlgorithmInfo kAllReduceOneShot;
extern const AlgorithmInfo kAllReduceHalvingDoubling;
extern const AlgorithmInfo kAllReduceRecursiveDoubling;
extern const AlgorithmInfo kAllReduceDoubleBinaryTree;
extern const AlgorithmInfo kAllReduceSwing;
extern const AlgorithmInfo kAllReduceHierRing;
extern const AlgorithmInfo kAllReduceHierSwing;
extern const AlgorithmInfo kAllReduceHierHalvingDoubling;
extern const AlgorithmInfo kAllReduceHierTree;
extern const AlgorithmInfo kAllReduceRadixHd;
extern const AlgorithmInfo kAllReduceRadixRd;
extern const AlgorithmInfo kAllReduceHierRadixHd;
extern const AlgorithmInfo kAllReduceHierRadix128Hd;
extern const AlgorithmInfo kAllReduceHierRadixRd;
extern const AlgorithmInfo kReduceScatterRing;
extern const AlgorithmInfo kAllGatherRing;
extern const AlgorithmInfo kBroadcastChain;
extern const AlgorithmInfo kBroadcastTree;
extern const AlgorithmInfo kReduceChain;
extern const AlgorithmInfo kReduceTree;

const char* collectiveName(Collective c) {
  switch (c) {
    case Collective::AllReduce: return "allreduce";
    case Collective::ReduceScatter: return "reducescatter";
    case Collective::AllGather: return "allgather";
    case Collective::Broadcast: return "broadcast";
    case Collective::Reduce: return "reduce";
  }
  return "?";
}

// The explicit table: an algorithm exists when it is listed here.
const std::vector<const AlgorithmInfo*>& allAlgorithms() {
  static const std::vector<const AlgorithmInfo*> table = {
      &kAllReduceOneShot,
      &kAllReduceRing,
      &kAllReduceHalvingDoubling,
      &kAllReduceRecursiveDoubling,
      &kAllReduceDoubleBinaryTree,
      &kAllReduceSwing,
      &kAllReduceHierRing,
      &kAllReduceHierHalvingDoubling,
      &kAllReduceHierTree,
      &kAllReduceRadixHd,
      &kAllReduceRadixRd,
      &kAllReduceHierRadixHd,
      &kAllReduceHierRadix128Hd,
      &kAllReduceHierRadixRd,
      &kAllReduceHierSwing,
      &kReduceScatterRing,
      &kAllGatherRing,
      &kBroadcastChain,
      &kBroadcastTree,
      &kReduceChain,
      &kReduceTree,
  };
  return table;
}

std::vector<const AlgorithmInfo*> algorithmsFor(Collective c) {
  std::vector<const AlgorithmInfo*> out;
  for (const AlgorithmInfo* a : allAlgorithms())
    if (a->collective == c) out.push_back(a);
  return out;
}

const std::vector<const AlgorithmInfo*>& allReduceAlgorithms() {
  static const std::vector<const AlgorithmInfo*> table = algorithmsFor(Collective::AllReduce);
  return table;
}

const AlgorithmInfo& selectAlgorithm(const PlanRequest& request, std::string_view forced) {
  const char* coll = collectiveName(request.collective);
  if (!forced.empty()) {
    bool known = false;
    for (const AlgorithmInfo* algo : allAlgorithms()) {
      if (forced != algo->name) continue;
      known = true;
      if (algo->collective != request.collective) continue;
      STRATA_CHECK(algo->supports(request), strataInvalidArgument,
                   "algorithm '{}' does not support {} of {} bytes on {} ranks ({} hosts)",
                   algo->name, coll, request.bytes(), request.nranks, request.nhosts());
      return *algo;
    }
    STRATA_CHECK(known, strataInvalidArgument, "unknown algorithm '{}'", forced);
    // Forced for another collective only: choose this one's freely.
  }
  const AlgorithmInfo* best = nullptr;
  double bestSeconds = 0;
  for (const AlgorithmInfo* algo : allAlgorithms()) {
    if (algo->collective != request.collective || !algo->supports(request)) continue;
    double s = algo->estimateSeconds(request);
    if (!best || s < bestSeconds) {
      best = algo;
      bestSeconds = s;
    }
  }
  STRATA_CHECK(best, strataInternalError, "no {} algorithm supports {} bytes on {} ranks", coll,
               request.bytes(), request.nranks);
  return *best;
}

Schedule scheduleSkeleton(const PlanRequest& request, const char* algorithm) {
  Schedule s;
  s.algorithm = algorithm;
  s.collective = collectiveName(request.collective);
  s.rank = request.rank;
  s.nranks = request.nranks;
  s.root = request.root;
  s.count = request.count;
  s.type = request.type;
  s.op = request.op;
  s.elemBytes = request.elemBytes;
  s.chunkElems = std::max<size_t>(1, request.messageBytes / request.elemBytes);
  // Affine phases index the whole communicator unless the algorithm adds its own groups.
  RankGroup world;
  world.size = request.nranks;
  world.self = request.rank;
  s.groups.push_back(world);
  return s;
}

}  // namespace strata
