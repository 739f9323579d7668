#include "plan/lower_bound.h"

#include <algorithm>

namespace strata {

Bound lowerBound(Collective c, size_t bytes, const BoundInputs& in) {
  const double n = in.nranks, S = double(bytes);
  const double m = std::max(1, in.nranks / std::max(1, in.ranksPerServer));
  const double k = std::max(1, std::min(in.nranks, in.ranksPerServer));
  // Bytes each rank must receive (and, symmetrically, send) for the result to be complete, as a
  // fraction of S: all-reduce 2(n-1)/n (Patarasuk & Yuan), reduce-scatter and all-gather (n-1)/n,
  // broadcast and reduce 1 (the root must get or give S through its links in the worst case).
  double perRank = 0, perServer = 0;
  switch (c) {
    case Collective::AllReduce:
      perRank = 2 * (n - 1) / n;
      perServer = 2 * (m - 1) / m;
      break;
    case Collective::ReduceScatter:
    case Collective::AllGather:
      perRank = (n - 1) / n;
      perServer = (m - 1) / m;
      break;
    case Collective::Broadcast:
    case Collective::Reduce:
      perRank = n > 1 ? 1 : 0;
      perServer = m > 1 ? 1 : 0;  // the root's server must pass S out over its k NICs
      break;
  }
  Bound b;
  // Injection: a rank's links (inside the server and to the network together) carry its share.
  const double injection = perRank * S / ((in.intraGBps + in.nicGBps) * 1e9);
  // Network: contract each server to one node with the bandwidth of all its NICs; the same bound
  // then holds across m servers.
  const double network = m > 1 && in.nicGBps > 0 ? perServer * S / (k * in.nicGBps * 1e9) : 0;
  b.bandwidthSec = std::max(injection, network);
  b.latencySec = n > 1 ? in.diameterSec : 0;
  b.seconds = std::max(b.bandwidthSec, b.latencySec);
  b.limitedBy = b.latencySec >= b.bandwidthSec ? "latency"
                : network >= injection         ? "network"
                                               : "injection";
  return b;
}

}  // namespace strata
