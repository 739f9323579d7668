// Lane assignment (schedule.h, "Lanes"; docs/schedules.md).
#include <algorithm>
#include <numeric>
#include <unordered_map>

#include "core/error.h"
#include "plan/schedule.h"

namespace strata {
namespace {

// An affine phase whose peers vary over more iterations than this is taken to touch every peer
// (it joins every other phase's lane): enumerating it would cost more than lanes gain.
constexpr uint32_t kMaxEnumeratedIterations = 4096;
constexpr uint16_t kMaxLanes = 8;

struct UnionFind {
  std::vector<uint32_t> parent;
  explicit UnionFind(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0u); }
  uint32_t find(uint32_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void unite(uint32_t a, uint32_t b) {
    a = find(a);
    b = find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);
  }
};

// Calls f(peer, sends) for every peer phase p sends to or receives from (repeats allowed);
// false when the phase is too wide to enumerate.
template <typename F>
bool forEachPeer(const Schedule& s, const Phase& p, F&& f) {
  auto visit = [&](const StepInstance& st) {
    if (st.sendPeer >= 0 && st.sendPeer != s.rank) f(st.sendPeer, true);
    if (st.recvPeer >= 0 && st.recvPeer != s.rank) f(st.recvPeer, false);
  };
  if (p.table >= 0) {
    for (uint32_t it = 0; it < p.iterations; ++it) visit(s.step(p, it));
    return true;
  }
  const int64_t size = s.groups[p.group].size;
  const bool fixed = (!stepSends(p.kind) || p.sendPeer.iterCoef % size == 0) &&
                     (!stepReceives(p.kind) || p.recvPeer.iterCoef % size == 0);
  // Affine peers repeat with period `size` in the iteration.
  const uint32_t distinct = fixed ? 1 : uint32_t(std::min<int64_t>(p.iterations, size));
  if (distinct > kMaxEnumeratedIterations) return false;
  for (uint32_t it = 0; it < distinct; ++it) visit(s.step(p, it));
  return true;
}

}  // namespace

void assignLanes(Schedule& s) {
  const size_t np = s.phases.size();
  s.lanes = Lanes{};
  s.lanes.of.assign(np, 0);
  s.lanes.after.assign(np, {});
  if (np <= 1) return;
  UnionFind uf(np);
  std::unordered_map<int64_t, uint32_t> owner;  // (peer, direction) -> first phase using it
  std::vector<char> hasPeers(np, 0);
  for (uint32_t p = 0; p < np; ++p) {
    const bool enumerable = forEachPeer(s, s.phases[p], [&](int peer, bool sends) {
      hasPeers[p] = 1;
      auto [it, fresh] = owner.try_emplace(int64_t(peer) * 2 + (sends ? 1 : 0), p);
      if (!fresh) uf.unite(p, it->second);
    });
    if (!enumerable) {
      for (uint32_t q = 0; q < np; ++q) uf.unite(p, q);
      hasPeers[p] = 1;
    }
  }
  for (uint32_t p = 0; p < np; ++p)
    if (!hasPeers[p]) uf.unite(p, p > 0 ? p - 1 : 1);
  // A phase that only sends, followed at the same lag by one that receives from the same peer,
  // is half of one exchange (halving-doubling's steps): one lane for both, which halves the
  // walkers and loses nothing (the receive waits for the peer's send of the same step anyway).
  for (uint32_t p = 0; p + 1 < np; ++p) {
    const Phase& a = s.phases[p];
    const Phase& b = s.phases[p + 1];
    if (stepReceives(a.kind) || !stepSends(a.kind) || !stepReceives(b.kind) || a.chunkLag != b.chunkLag) continue;
    std::vector<int> to, from;
    const bool listed = forEachPeer(s, a, [&](int peer, bool) { to.push_back(peer); }) &&
                        forEachPeer(s, b, [&](int peer, bool sends) {
                          if (!sends) from.push_back(peer);
                        });
    std::sort(to.begin(), to.end());
    std::sort(from.begin(), from.end());
    to.erase(std::unique(to.begin(), to.end()), to.end());
    from.erase(std::unique(from.begin(), from.end()), from.end());
    if (listed && !to.empty() && to == from) uf.unite(p, p + 1);
  }
  // Lanes numbered in order of their first phase; beyond kMaxLanes they share the last one
  // (merging lanes keeps every channel in one lane): walkers cost the executor polls and the
  // simulator memory, and a few lanes already keep every tier busy.
  std::vector<int32_t> laneOfRoot(np, -1);
  uint16_t count = 0;
  for (uint32_t p = 0; p < np; ++p) {
    int32_t& lane = laneOfRoot[uf.find(p)];
    if (lane < 0) lane = count < kMaxLanes ? count++ : kMaxLanes - 1;
    s.lanes.of[p] = uint16_t(lane);
  }
  s.lanes.count = count;
  s.lanes.first.assign(count, uint32_t(np));
  s.lanes.next.assign(np, uint32_t(np));
  for (uint32_t p = uint32_t(np); p-- > 0;) {
    uint32_t& first = s.lanes.first[s.lanes.of[p]];
    s.lanes.next[p] = first;
    first = p;
  }
  if (count == 1) return;
  // after[p]: per other lane, its last phase q whose step on a chunk precedes p's in the
  // sequential walk, i.e. (lag, index) of q below p's. One sweep in that order, keeping each
  // lane's latest phase (a wide rail step has hundreds of phases: no pass over all per phase).
  std::vector<uint32_t> order(np);
  for (uint32_t p = 0; p < np; ++p) order[p] = p;
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return s.phases[a].chunkLag < s.phases[b].chunkLag;
  });
  std::vector<int64_t> last(count, -1);
  for (uint32_t p : order) {
    for (uint16_t lane = 0; lane < count; ++lane)
      if (lane != s.lanes.of[p] && last[lane] >= 0) s.lanes.after[p].push_back(uint32_t(last[lane]));
    last[s.lanes.of[p]] = p;
  }
}

}  // namespace strata
