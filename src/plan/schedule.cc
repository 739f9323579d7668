#include "plan/schedule.h"

#include <fmt/format.h>

namespace strata {

const char* stepKindName(StepKind kind) {
  switch (kind) {
    case StepKind::Send: return "send";
    case StepKind::Recv: return "recv";
    case StepKind::RecvReduceSend: return "recv-reduce-send";
    case StepKind::RecvReduceCopy: return "recv-reduce-copy";
    case StepKind::RecvReduceCopySend: return "recv-reduce-copy-send";
    case StepKind::RecvCopySend: return "recv-copy-send";
    case StepKind::LocalCopy: return "local-copy";
    case StepKind::RecvReduceAll: return "recv-reduce-all";
  }
  return "?";
}

size_t blockElemsFor(size_t count, uint32_t nblocks, size_t alignElems) {
  if (count == 0 || nblocks == 0) return 0;
  size_t per = (count + nblocks - 1) / nblocks;
  return (per + alignElems - 1) / alignElems * alignElems;
}

std::string Schedule::describe() const {
  std::string s = fmt::format("{} rank {}/{} count {} blocks {}x{} chunk {}:", algorithm, rank,
                              nranks, count, nblocks, blockElems, chunkElems);
  for (const auto& p : phases)
    s += fmt::format(" [{} x{}]", stepKindName(p.kind), p.iterations);
  return s;
}

}  // namespace strata
