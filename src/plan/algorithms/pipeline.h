// Chunk size and cost of a pipeline (chain or tree) that moves one buffer through `depth` hops:
// with k chunks it takes (depth + k - 1) chunk hand-offs, so more chunks hide the depth but each
// pays the per-message latency. k* = sqrt((depth - 1) * S * beta / alpha) balances the two.
#pragma once

#include <algorithm>
#include <cmath>

#include "plan/registry.h"

namespace strata {

// The hop's link: the same host, or across hosts (tier 0) when the communicator spans several.
inline int pipelineTier(const PlanRequest& r) { return r.nhosts() > 1 ? 0 : -1; }

// Elements per chunk: near the optimum above, at most one message (messageBytes), and a multiple
// of 64 bytes when larger than that so that the kernels run aligned.
inline size_t pipelineChunkElems(const PlanRequest& r, int depth) {
  const size_t eb = std::max<size_t>(1, r.elemBytes);
  const size_t maxElems = std::max<size_t>(1, r.messageBytes / eb);
  if (r.count == 0 || depth <= 1) return maxElems;
  const LinkClass& link = pipelineTier(r) < 0 ? r.costModel().intraHost : r.costModel().interHost;
  const double alpha = std::max(1e-9, link.alphaSec);
  const double beta = 1.0 / std::max(1.0, link.bytesPerSec);
  const double best = std::sqrt((depth - 1) * double(r.bytes()) * beta / alpha);
  const double chunks = std::max(1.0, std::min(best, double(r.count)));
  size_t elems = size_t(std::ceil(double(r.count) / chunks));
  const size_t align = std::max<size_t>(1, 64 / eb);
  if (elems > align) elems = (elems + align - 1) / align * align;
  return std::clamp<size_t>(elems, 1, maxElems);
}

// The skeleton of a pipeline over the whole buffer as one block: chunks sized as above for a
// pipeline `depth` hops deep.
inline Schedule pipelineSkeleton(const PlanRequest& r, const char* name, int depth) {
  Schedule s = scheduleSkeleton(r, name);
  s.nblocks = 1;
  s.blockElems = r.count;
  s.chunkElems = pipelineChunkElems(r, depth);
  return s;
}

// Seconds for the pipeline: (depth + chunks - 1) hand-offs of `sendsPerHop` messages each (a
// binary tree's interior rank sends each chunk twice), plus `reduce` passes over each chunk.
inline double pipelineSeconds(const PlanRequest& r, int depth, double sendsPerHop, bool reduce) {
  if (depth == 0) return double(r.bytes()) / r.costModel().intraHost.bytesPerSec;
  const size_t elems = pipelineChunkElems(r, depth);
  const double chunks = std::max(1.0, std::ceil(double(r.count) / double(elems)));
  const size_t chunkBytes = std::min(r.bytes(), elems * r.elemBytes);
  double step = sendsPerHop * r.costModel().message(chunkBytes, pipelineTier(r));
  if (reduce) step += sendsPerHop * double(chunkBytes) / r.costModel().reduceBytesPerSec;
  return (depth + chunks - 1) * step;
}

}  // namespace strata
