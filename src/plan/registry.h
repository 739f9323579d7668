// The algorithm registry. Each algorithm lives in src/plan/algorithms/<collective>_<name>.cc and
// exports one AlgorithmInfo record: its name, the collective, which shapes it supports, a cost
// estimate, and the builder of a rank's schedule. The selector picks the supported algorithm of
// lowest estimated cost, unless the configuration forces one.
#pragma once

#include <string_view>
#include <vector>

#include "plan/schedule.h"

namespace strata {

struct PlanRequest {
  int rank = 0;
  int nranks = 1;
  size_t count = 0;
  strataDataType_t type = strataFloat32;
  strataRedOp_t op = strataSum;
  size_t elemBytes = 4;
  size_t messageBytes = 0;     // the transport's largest message (shm slot)
  size_t oneShotMaxBytes = 0;  // largest buffer for the one-shot path
  bool allOnOneHost = true;
  size_t bytes() const { return count * elemBytes; }
};

struct AlgorithmInfo {
  const char* name;
  const char* collective;
  const char* description;
  bool (*supports)(const PlanRequest&);
  double (*estimateSeconds)(const PlanRequest&);
  Schedule (*build)(const PlanRequest&);
};

const std::vector<const AlgorithmInfo*>& allReduceAlgorithms();

// The algorithm for this request: `forced` by name if non-empty (it must support the request),
// else the supported one of lowest estimate. Throws strataInvalidArgument for an unknown or
// unsupported forced name.
const AlgorithmInfo& selectAllReduce(const PlanRequest& request, std::string_view forced);

// A schedule's common fields from the request.
Schedule scheduleSkeleton(const PlanRequest& request, const char* algorithm);

}  // namespace strata
