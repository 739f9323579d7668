#include "core/error.h"
#include "plan/registry.h"

namespace strata {

RankLayout RankLayout::oneHost(int nranks) { return contiguousHosts(nranks, nranks); }

RankLayout RankLayout::contiguousHosts(int nranks, int perHost) {
  STRATA_CHECK(nranks >= 1 && perHost >= 1 && nranks % perHost == 0, strataInvalidArgument,
               "{} ranks do not split into hosts of {}", nranks, perHost);
  RankLayout l;
  l.nranks = nranks;
  l.perHost = perHost;
  l.nhosts = nranks / perHost;
  l.contiguous = true;
  return l;
}

RankLayout RankLayout::fromHostOfRank(const std::vector<int>& hostOfRank) {
  const int n = int(hostOfRank.size());
  STRATA_CHECK(n >= 1, strataInvalidArgument, "a layout needs at least one rank");
  // Hosts are numbered in order of their first rank, so that rank 0 is on host 0.
  std::vector<int> renumber;
  std::vector<int> hostIds;  // original id per new host number
  RankLayout l;
  l.nranks = n;
  l.hostOfRank.resize(n);
  l.localOfRank.resize(n);
  std::vector<int> sizes;
  for (int r = 0; r < n; ++r) {
    int h = -1;
    for (size_t k = 0; k < hostIds.size(); ++k)
      if (hostIds[k] == hostOfRank[size_t(r)]) h = int(k);
    if (h < 0) {
      h = int(hostIds.size());
      hostIds.push_back(hostOfRank[size_t(r)]);
      sizes.push_back(0);
    }
    l.hostOfRank[size_t(r)] = h;
    l.localOfRank[size_t(r)] = sizes[size_t(h)]++;
  }
  l.nhosts = int(hostIds.size());
  l.perHost = sizes[0];
  for (int s : sizes)
    if (s != l.perHost) l.perHost = 0;
  bool contiguous = l.perHost > 0;
  for (int r = 0; r < n && contiguous; ++r)
    contiguous = l.hostOfRank[size_t(r)] == r / l.perHost;
  if (contiguous) return contiguousHosts(n, l.perHost);
  l.contiguous = false;
  if (l.perHost > 0) {
    l.rankAt.assign(size_t(n), -1);
    for (int r = 0; r < n; ++r)
      l.rankAt[size_t(l.hostOfRank[size_t(r)]) * l.perHost + l.localOfRank[size_t(r)]] = r;
  }
  return l;
}

}  // namespace strata
