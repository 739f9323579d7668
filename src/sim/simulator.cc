// The simulator's two modes (docs/simulator.md). Both walk every rank's schedule the way the
// executor does: for t over chunks + lags, for each phase, for each iteration, the step on chunk
// (t - lag); receives match the sends of their channel (src, dst) in FIFO order.
#include "sim/simulator.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <queue>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "core/error.h"

namespace strata::sim {
namespace {

constexpr double kTimeEps = 1e-12;  // events closer than a picosecond are one batch
// Fast mode collapses the chunk loop of schedules with concurrent lanes only up to this lag
// (3: the hierarchical radix halving-doubling, whose all-gather runs a chunk behind; collapsed
// and walked in full it agrees within 0.1 % on 1,024 and 8,192 ranks of colossus:100k, 1 GiB).
constexpr uint32_t kMaxCollapsedLaneLag = 3;

uint64_t channelKey(int src, int dst) { return (uint64_t(uint32_t(src)) << 32) | uint32_t(dst); }

bool stepReduces(StepKind k) {
  return k == StepKind::RecvReduceSend || k == StepKind::RecvReduceCopy || k == StepKind::RecvReduceCopySend ||
         k == StepKind::RecvReduceAll;
}

// A walker's position in its rank's program: (t, phase, iteration), over the phases of one lane
// (schedule.h, "Lanes") or, with lane -1, over all of them.
struct Cursor {
  uint32_t t = 0, p = 0, it = 0;
  int32_t lane = -1;
};

// What the walk reads of a rank's phases to move through them: their lags and iteration counts
// and the lanes. Fast mode keeps one copy per distinct shape (every rank of a hierarchical
// all-reduce has the same), hot in the cache, where each schedule's own lie all over the heap.
struct Shape {
  std::vector<uint32_t> lag, iterations;
  Lanes lanes;
  // The phases another lane waits for (in some lanes.after), numbered: only their ends on each
  // chunk are kept (a wide radix step has 127 receive phases that nothing waits for).
  std::vector<uint32_t> awaited;
  uint32_t awaitedCount = 0;
  explicit Shape(const Schedule& s) : lanes(s.lanes), awaited(s.phases.size(), UINT32_MAX) {
    for (const Phase& p : s.phases) {
      lag.push_back(p.chunkLag);
      iterations.push_back(p.iterations);
    }
    for (const auto& after : lanes.after)
      for (uint32_t q : after)
        if (awaited[q] == UINT32_MAX) awaited[q] = awaitedCount++;
  }
  uint64_t hash() const {
    uint64_t h = 0xcbf29ce484222325ull;
    auto mix = [&h](uint64_t v) { h = (h ^ v) * 0x100000001b3ull; };
    for (size_t p = 0; p < lag.size(); ++p)
      mix((uint64_t(lag[p]) << 32) ^ iterations[p] ^ (uint64_t(lanes.of.empty() ? 0 : lanes.of[p]) << 48));
    return h;
  }
  bool operator==(const Shape& o) const {
    return lag == o.lag && iterations == o.iterations && lanes.count == o.lanes.count && lanes.of == o.lanes.of &&
           lanes.after == o.lanes.after && lanes.first == o.lanes.first && lanes.next == o.lanes.next;
  }
};
size_t phaseCount(const Schedule& s) { return s.phases.size(); }
size_t phaseCount(const Shape& s) { return s.lag.size(); }
uint32_t lagOf(const Schedule& s, uint32_t p) { return s.phases[p].chunkLag; }
uint32_t lagOf(const Shape& s, uint32_t p) { return s.lag[p]; }
uint32_t iterationsOf(const Schedule& s, uint32_t p) { return s.phases[p].iterations; }
uint32_t iterationsOf(const Shape& s, uint32_t p) { return s.iterations[p]; }

// Moves the cursor onto the next step that exists at or after it (its chunk in range); false
// when the program is over. S is a Schedule or its Shape.
// chunks and tEnd are the schedule's (Walkers keeps them per rank: computing them is a pass over
// the phases, too slow for every step).
template <typename S>
bool settle(const S& s, size_t chunks, uint64_t tEnd, Cursor& c) {
  const bool lane = c.lane >= 0;
  const size_t phases = phaseCount(s);
  while (lane && c.p < phases && s.lanes.of[c.p] != c.lane) ++c.p;  // a fresh or reset cursor
  while (c.t < tEnd) {
    if (c.p >= phases) {
      ++c.t;
      c.p = lane ? s.lanes.first[size_t(c.lane)] : 0;
      c.it = 0;
      continue;
    }
    const int64_t chunk = int64_t(c.t) - int64_t(lagOf(s, c.p));
    if (c.it >= iterationsOf(s, c.p) || chunk < 0 || chunk >= int64_t(chunks)) {
      c.p = lane ? s.lanes.next[c.p] : c.p + 1;
      c.it = 0;
      continue;
    }
    return true;
  }
  return false;
}

template <typename S>
size_t chunkOf(const S& s, const Cursor& c) { return c.t - lagOf(s, c.p); }

bool sameStep(const Cursor& a, const Cursor& b) { return a.t == b.t && a.p == b.p && a.it == b.it; }

// Whether the settled cursor of phase q's lane is past q's step on `chunk`.
template <typename S>
bool passed(const S& s, const Cursor& c, uint32_t q, size_t chunk) {
  const uint64_t t = chunk + lagOf(s, q);
  return c.t > t || (c.t == t && c.p > q);
}

// The walkers of every rank: one per lane when its lanes run concurrently, else one.
struct Walkers {
  std::vector<uint32_t> first;  // per rank, then the total at the end
  std::vector<int> rank;        // per walker
  std::vector<size_t> chunks;   // per rank: chunksPerBlock()
  std::vector<uint64_t> tEnd;   // per rank: chunks + maxChunkLag(), 0 without chunks
  explicit Walkers(const std::vector<Schedule>& sched) {
    for (size_t r = 0; r < sched.size(); ++r) {
      chunks.push_back(sched[r].chunksPerBlock());
      tEnd.push_back(chunks.back() == 0 ? 0 : chunks.back() + sched[r].maxChunkLag());
      first.push_back(uint32_t(rank.size()));
      const uint16_t n = sched[r].concurrentLanes() ? sched[r].lanes.count : 1;
      rank.insert(rank.end(), n, int(r));
    }
    first.push_back(uint32_t(rank.size()));
  }
  size_t size() const { return rank.size(); }
  // The cursor walker w starts with.
  Cursor start(const std::vector<Schedule>& sched, uint32_t w) const {
    const int r = rank[w];
    Cursor c;
    if (sched[size_t(r)].concurrentLanes()) c.lane = int32_t(w - first[size_t(r)]);
    return c;
  }
};

size_t messageBytes(const Schedule& s, const StepInstance& inst, size_t chunk) {
  return s.rangeChunkElems(inst.blockFirst, inst.blockCount, chunk) * s.elemBytes;
}

// The peers a step receives from (RecvReduceAll: every member but the rank itself).
void recvPeers(const Schedule& s, const Cursor& c, std::vector<int>* peers, std::vector<size_t>* bytes) {
  peers->clear();
  bytes->clear();
  const Phase& ph = s.phases[c.p];
  const size_t chunk = chunkOf(s, c);
  if (ph.kind == StepKind::RecvReduceAll) {
    for (uint32_t it = 0; it < ph.iterations; ++it) {
      const StepInstance inst = s.step(ph, it);
      if (inst.recvPeer < 0 || inst.recvPeer == s.rank) continue;
      peers->push_back(inst.recvPeer);
      bytes->push_back(messageBytes(s, inst, chunk));
    }
  } else if (stepReceives(ph.kind)) {
    const StepInstance inst = s.step(ph, c.it);
    STRATA_CHECK(inst.recvPeer >= 0 && inst.recvPeer < s.nranks, strataInternalError,
                 "{} rank {}: phase {} iteration {} receives from rank {}", s.algorithm, s.rank, c.p, c.it,
                 inst.recvPeer);
    peers->push_back(inst.recvPeer);
    bytes->push_back(messageBytes(s, inst, chunk));
  }
}

// Bytes of output the step reduces.
double reduceBytes(StepKind kind, const std::vector<size_t>& bytes) {
  if (!stepReduces(kind) || bytes.empty()) return 0;
  double sum = 0;
  for (size_t b : bytes) sum += double(b);
  return sum;  // RecvReduceAll: one op per received input (n inputs, n - 1 ops)
}

// Progressive filling on a problem given in local indices: flows' links in CSR form.
struct FillProblem {
  std::vector<double> capacity;        // per local link
  std::vector<uint32_t> flowStart{0};  // flow f's links: links[flowStart[f] .. flowStart[f+1])
  std::vector<uint32_t> links;
  void addFlow(const uint32_t* l, size_t n) {
    links.insert(links.end(), l, l + n);
    flowStart.push_back(uint32_t(links.size()));
  }
  size_t flows() const { return flowStart.size() - 1; }
};

std::vector<double> fill(const FillProblem& p) {
  const size_t nl = p.capacity.size(), nf = p.flows();
  std::vector<uint32_t> count(nl, 0);
  for (uint32_t l : p.links) ++count[l];
  std::vector<uint32_t> start(nl + 1, 0);
  for (size_t l = 0; l < nl; ++l) start[l + 1] = start[l] + count[l];
  std::vector<uint32_t> onLink(p.links.size()), pos(start.begin(), start.end() - 1);
  for (size_t f = 0; f < nf; ++f)
    for (uint32_t i = p.flowStart[f]; i < p.flowStart[f + 1]; ++i) onLink[pos[p.links[i]]++] = uint32_t(f);
  std::vector<double> remaining = p.capacity, share(nl, 0), rate(nf, 0);
  using Item = std::pair<double, uint32_t>;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> heap;
  for (size_t l = 0; l < nl; ++l)
    if (count[l] > 0) heap.push({share[l] = remaining[l] / count[l], uint32_t(l)});
  std::vector<char> frozen(nf, 0), touched(nl, 0);
  std::vector<uint32_t> changed;
  while (!heap.empty()) {
    const auto [s, l] = heap.top();
    heap.pop();
    if (count[l] == 0 || s != share[l]) continue;  // stale
    for (uint32_t i = start[l]; i < start[l + 1]; ++i) {
      const uint32_t f = onLink[i];
      if (frozen[f]) continue;
      frozen[f] = 1;
      rate[f] = s;
      for (uint32_t j = p.flowStart[f]; j < p.flowStart[f + 1]; ++j) {
        const uint32_t l2 = p.links[j];
        remaining[l2] = std::max(0.0, remaining[l2] - s);
        --count[l2];
        if (l2 != l && !touched[l2]) {
          touched[l2] = 1;
          changed.push_back(l2);
        }
      }
    }
    // Each link whose flows were frozen goes back once, with its share after the whole batch
    // (shares only grow as flows freeze at the smallest one): a bundle link that thousands of the
    // frozen flows cross would otherwise be pushed once per flow.
    for (uint32_t l2 : changed) {
      touched[l2] = 0;
      if (count[l2] > 0) heap.push({share[l2] = remaining[l2] / count[l2], l2});
    }
    changed.clear();
  }
  return rate;
}

std::vector<Schedule> buildAll(const FabricGraph& graph, const PlanRequest& base, const AlgorithmInfo& algo) {
  STRATA_CHECK(base.nranks == graph.ranks(), strataInvalidArgument, "request for {} ranks on a graph of {}",
               base.nranks, graph.ranks());
  std::vector<Schedule> all;
  all.reserve(size_t(base.nranks));
  PlanRequest req = base;
  for (int r = 0; r < base.nranks; ++r) {
    req.rank = r;
    all.push_back(algo.build(req));
  }
  return all;
}

// A large array that the walk fills as it goes, zeroed by calloc: glibc maps a large block
// from the kernel, whose pages are zero already, so nothing touches it until the walk does. The
// step cache of 131,072 ranks (877 MB) took 2.9 s to value-initialize page by page before the
// walk began. (Asking for 2 MiB pages, MADV_HUGEPAGE, made that run two-thirds slower on this
// VM: 97 and 118 s against 58 and 71 s, interleaved.) T's zero bytes must be its empty state.
template <typename T>
class ZeroedArray {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  ZeroedArray() = default;
  explicit ZeroedArray(size_t n) : data_(static_cast<T*>(std::calloc(std::max<size_t>(n, 1), sizeof(T)))) {
    STRATA_CHECK(data_ != nullptr, strataSystemError, "simulator: no memory for {} x {} bytes", n, sizeof(T));
  }
  T& operator[](size_t i) { return data_.get()[i]; }
  const T& operator[](size_t i) const { return data_.get()[i]; }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> data_;
};

// ---- Server symmetry (docs/simulator.md, "Symmetry") ------------------------------------------

// The steps the symmetry checks compare: every iteration of a phase of at most 8, five of a
// longer one (the first three, the middle and the last).
template <typename F>
void forSampledIterations(uint32_t n, F&& f) {
  const uint32_t sample[] = {0, 1, 2, n / 2, n - 1};
  for (uint32_t i = 0; i < (n <= 8 ? n : 5); ++i) f(n <= 8 ? i : sample[i]);
}

// Whether b (GPU k of a server with P GPUs) runs a's schedule (GPU 0 of the same server) with
// every peer's GPU number shifted by k: the same phases, lanes, iterations and lags, and the
// same peers on the sampled steps. Message sizes may differ (checkServerSymmetric).
bool rotatedCopy(const Schedule& a, const Schedule& b, int k, int P) {
  auto rot = [&](int r) { return r < 0 ? r : r - r % P + (r % P + k) % P; };
  if (a.phases.size() != b.phases.size() || a.chunksPerBlock() != b.chunksPerBlock() ||
      a.concurrentLanes() != b.concurrentLanes())
    return false;
  if (a.concurrentLanes() && (a.lanes.of != b.lanes.of || a.lanes.after != b.lanes.after)) return false;
  for (size_t p = 0; p < a.phases.size(); ++p) {
    const Phase &pa = a.phases[p], &pb = b.phases[p];
    if (pa.kind != pb.kind || pa.iterations != pb.iterations || pa.chunkLag != pb.chunkLag) return false;
    bool same = true;
    forSampledIterations(pa.iterations, [&](uint32_t it) {
      const StepInstance x = a.step(pa, it), y = b.step(pb, it);
      if (stepSends(pa.kind) && y.sendPeer != rot(x.sendPeer)) same = false;
      if (stepReceives(pa.kind) && y.recvPeer != rot(x.recvPeer)) same = false;
    });
    if (!same) return false;
  }
  return true;
}

// Where a buffer does not split evenly, the blocks at its tail are short or empty, and which
// GPU carries them differs from step to step: on 1,000 ranks at 512 KiB one GPU of a server
// sends up to 11 % less than GPU 0 through its NIC. GPU 0's message sizes then stand for every
// GPU of its server in the walk (on 1,000 and 8,000 ranks within 1.5 % of walking every rank
// where the chunk loop is walked in full; collapsed, the walk order moves it more:
// docs/simulator.md, "Symmetry"), as long as what a GPU sends in all differs from what GPU 0 sends
// by at most this fraction of the larger of the two; the traffic counted is scaled to what the
// server's GPUs send (checkServerSymmetric).
constexpr double kSymmetricBytesTolerance = 0.15;
constexpr int kRouteLevels = 4;  // Route::level: same server, leaf, spine, core
using LevelBytes = std::array<double, kRouteLevels>;

// The iterations of a phase whose bytes are counted, with the weight of each: all of them up to
// 64 (every exchange of a radix step), else the sampled five standing for n / 5 each (a ring's
// long phases, so that a 131,072-rank ring costs five steps a phase, not 262,142).
template <typename F>
void forWeighedIterations(uint32_t n, F&& f) {
  if (n <= 64) {
    for (uint32_t it = 0; it < n; ++it) f(it, 1.0);
    return;
  }
  forSampledIterations(n, [&](uint32_t it) { f(it, double(n) / 5); });
}

// Bytes of the whole collective (every chunk) that s sends, by the route level of each send;
// level[i] is that of the i-th send step counted (phase by phase, forWeighedIterations).
LevelBytes sentBytes(const Schedule& s, const std::vector<int8_t>& level) {
  LevelBytes out{};
  size_t i = 0;
  for (const Phase& p : s.phases) {
    if (!stepSends(p.kind)) continue;
    forWeighedIterations(p.iterations, [&](uint32_t it, double weight) {
      const StepInstance x = s.step(p, it);
      out[size_t(level[i++])] += weight * double(s.rangeElems(x.blockFirst, x.blockCount) * s.elemBytes);
    });
  }
  return out;
}

// The route level of each send step that sentBytes counts, of server GPU 0's schedule `lead`
// (rank `first`). GPU k's peer on a step is GPU 0's rotated, at the same level on a fabric that
// treats rails alike (FastSim::solveSymmetric holds the walk to that).
std::vector<int8_t> sendLevels(const FabricGraph& g, const Schedule& lead, int first) {
  std::vector<int8_t> level;
  for (const Phase& p : lead.phases)
    if (stepSends(p.kind))
      forWeighedIterations(p.iterations, [&](uint32_t it, double) {
        const int peer = lead.step(p, it).sendPeer;
        level.push_back(peer < 0 || peer == first ? 0 : g.route(first, peer, Routing::Adaptive, 0).level);
      });
  return level;
}

// A second thread whose exception its joiner gets: join() rethrows it (each time it is called),
// and the destructor joins on every way out of the scope without throwing.
class ThreadBeside {
 public:
  template <typename F>
  explicit ThreadBeside(F&& body)
      : thread_([this, body = std::forward<F>(body)]() mutable {
          try {
            body();
          } catch (...) {
            error_ = std::current_exception();
          }
        }) {}
  ThreadBeside(const ThreadBeside&) = delete;
  ThreadBeside& operator=(const ThreadBeside&) = delete;
  ~ThreadBeside() {
    if (thread_.joinable()) thread_.join();
  }
  void join() {
    if (thread_.joinable()) thread_.join();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::exception_ptr error_;
  std::thread thread_;  // last: started once error_ exists
};

// Every server's GPU 0's schedule, the other entries empty: what the walk with server
// symmetry needs, before checkServerSymmetric has said whether it may.
// The two halves are built on two threads.
std::vector<Schedule> buildLeads(const PlanRequest& base, const AlgorithmInfo& algo, int P) {
  std::vector<Schedule> leads(size_t(base.nranks));
  auto build = [&](int from, int to) {
    PlanRequest req = base;
    for (int first = from; first < to; first += P) {
      req.rank = first;
      leads[size_t(first)] = algo.build(req);
    }
  };
  const int half = base.nranks / P / 2 * P;
  ThreadBeside second([&] { build(half, base.nranks); });
  build(0, half);
  second.join();
  return leads;
}

// Whether each server's other GPUs' schedules are rotated copies of its GPU 0's (`leads`; each
// built, compared and dropped, so that memory holds one schedule per server), and if so, per
// server and route level, what its GPUs send together over what GPU 0 sends (P if equal; from
// every step of phases of up to 64 iterations, from five of longer ones): the walk scales the
// traffic a walked rank counts by it. Empty when some GPU is not a rotated copy, or when
// `stop` is set (the walk found the fabric not symmetric).
std::vector<LevelBytes> checkServerSymmetric(const FabricGraph& g, const PlanRequest& base, const AlgorithmInfo& algo,
                                             int P, const std::vector<Schedule>& leads,
                                             const std::atomic<bool>& stop) {
  std::vector<LevelBytes> weights;
  PlanRequest req = base;
  auto total = [](const LevelBytes& b) { return b[0] + b[1] + b[2] + b[3]; };
  for (int first = 0; first < base.nranks; first += P) {
    if (stop.load(std::memory_order_relaxed)) return {};
    const Schedule& lead = leads[size_t(first)];
    const std::vector<int8_t> level = sendLevels(g, lead, first);
    const LevelBytes leadBytes = sentBytes(lead, level);
    LevelBytes serverBytes = leadBytes;
    for (int k = 1; k < P; ++k) {
      req.rank = first + k;
      const Schedule other = algo.build(req);
      if (!rotatedCopy(lead, other, k, P)) return {};
      const LevelBytes bytes = sentBytes(other, level);
      if (std::abs(total(bytes) - total(leadBytes)) > kSymmetricBytesTolerance * std::max(total(bytes), total(leadBytes)))
        return {};
      for (int l = 0; l < kRouteLevels; ++l) serverBytes[size_t(l)] += bytes[size_t(l)];
    }
    LevelBytes weight;
    for (int l = 0; l < kRouteLevels; ++l) {
      // A level GPU 0 never sends on, but another GPU does: GPU 0's walk cannot count it.
      if (leadBytes[size_t(l)] == 0 && serverBytes[size_t(l)] > 0) return {};
      weight[size_t(l)] = leadBytes[size_t(l)] > 0 ? serverBytes[size_t(l)] / leadBytes[size_t(l)] : double(P);
    }
    weights.push_back(weight);
  }
  return weights;
}

struct Accounting {
  std::vector<TrafficLevel> traffic;
  uint64_t messages = 0, steps = 0;
  explicit Accounting(const FabricGraph& g) {
    for (const std::string& name : g.trafficLevels()) traffic.push_back({name, 0});
  }
  void add(int level, double bytes, uint64_t count = 1) {
    messages += count;
    if (level == 0) {
      traffic[0].bytes += bytes;
      return;
    }
    for (int l = 1; l <= level && size_t(l) < traffic.size(); ++l) traffic[size_t(l)].bytes += bytes;
  }
};

// Where the walkers of a stalled rank stand, for the error text.
template <typename Proc>
std::string stalledWalkers(const std::vector<Proc>& procs, const Walkers& walkers, int r) {
  std::string text;
  for (uint32_t w = walkers.first[size_t(r)]; w < walkers.first[size_t(r) + 1]; ++w) {
    const Proc& P = procs[w];
    text += fmt::format("{}lane {} {} at t {} phase {} iteration {}", text.empty() ? "" : "; ", P.cur.lane,
                        P.done ? "done" : "waits", P.cur.t, P.cur.p, P.cur.it);
  }
  return text;
}

// ---- Full mode ---------------------------------------------------------------------------------

class FullSim {
 public:
  FullSim(const FabricGraph& g, std::vector<Schedule> sched, const SimOptions& o)
      : g_(g), opt_(o), sched_(std::move(sched)), walkers_(sched_), acct_(g) {
    reduceRate_ = o.reduceBytesPerSec > 0 ? o.reduceBytesPerSec : g.reduceBytesPerSec;
    procs_.resize(walkers_.size());
    for (uint32_t w = 0; w < walkers_.size(); ++w) procs_[w].cur = walkers_.start(sched_, w);
    depWaiters_.resize(sched_.size());
    linkFlows_.resize(g.linkCount());
    linkStamp_.assign(g.linkCount(), 0);
    linkLocal_.assign(g.linkCount(), 0);
  }

  double run() {
    for (size_t w = 0; w < walkers_.size(); ++w) runnable_.push_back(int(w));
    double now = 0;
    for (;;) {
      while (!runnable_.empty()) {
        const int w = runnable_.back();
        runnable_.pop_back();
        runWalker(w, now);
      }
      recompute(now);
      if (events_.empty()) break;
      now = events_.top().time;
      while (!events_.empty() && events_.top().time <= now + kTimeEps) {
        const Event e = events_.top();
        events_.pop();
        handle(e, now);
      }
    }
    double end = 0;
    for (size_t w = 0; w < procs_.size(); ++w) {
      const int r = walkers_.rank[w];
      STRATA_CHECK(procs_[w].done, strataInternalError, "simulation of '{}' stalled: rank {}: {}",
                   sched_[size_t(r)].algorithm, r, stalledWalkers(procs_, walkers_, r));
      end = std::max(end, procs_[w].finishedAt);
    }
    return end;
  }

  Accounting& accounting() { return acct_; }

 private:
  struct Proc {
    Cursor cur;
    bool done = false, recvDone = false, timer = false;
    bool laneWait = false;  // waited for another lane: the step starts when that one moved
    double reachedAt = 0, finishedAt = 0;
  };
  struct Msg {
    double firstByte, arrival;
  };
  struct Chan {
    int src, dst;
    Route route;
    std::deque<size_t> queued;  // sends waiting for the wire
    bool busy = false;
    std::deque<Msg> transit, arrived;
    int waiter = -1;
  };
  struct Flow {
    uint32_t chan = 0, version = 0;
    double remaining = 0, rate = 0, last = 0, start = 0;
    bool active = false;
  };
  enum EventKind : uint32_t { kFlowDone, kArrive, kWake };
  struct Event {
    double time;
    uint32_t kind, id, version;
    bool operator>(const Event& o) const { return time > o.time; }
  };

  uint32_t channel(int src, int dst) {
    auto [it, fresh] = chanIndex_.try_emplace(channelKey(src, dst), uint32_t(chans_.size()));
    if (fresh) {
      Chan c;
      c.src = src;
      c.dst = dst;
      c.route = g_.route(src, dst, opt_.routing, opt_.ecmpSeed);
      chans_.push_back(std::move(c));
    }
    return it->second;
  }

  void push(double time, uint32_t kind, uint32_t id, uint32_t version = 0) {
    events_.push({time, kind, id, version});
  }

  void handle(const Event& e, double now) {
    if (e.kind == kFlowDone) {
      Flow& f = flows_[e.id];
      if (!f.active || f.version != e.version) return;
      finishFlow(e.id, now);
    } else if (e.kind == kArrive) {
      Chan& c = chans_[e.id];
      c.arrived.push_back(c.transit.front());
      c.transit.pop_front();
      if (c.waiter >= 0) runnable_.push_back(std::exchange(c.waiter, -1));
    } else {
      procs_[e.id].timer = false;
      runnable_.push_back(int(e.id));
    }
  }

  void startWire(uint32_t ci, double now) {
    Chan& c = chans_[ci];
    while (!c.busy && !c.queued.empty()) {
      const size_t bytes = c.queued.front();
      c.queued.pop_front();
      if (bytes == 0 || c.route.count == 0) {  // nothing to carry: latency only
        c.transit.push_back({now + c.route.latencySec, now + c.route.latencySec});
        push(now + c.route.latencySec, kArrive, ci);
        continue;
      }
      uint32_t id;
      if (!freeFlows_.empty()) {
        id = freeFlows_.back();
        freeFlows_.pop_back();
      } else {
        id = uint32_t(flows_.size());
        flows_.emplace_back();
      }
      Flow& f = flows_[id];
      f.chan = ci;
      f.remaining = double(bytes);
      f.rate = 0;
      f.last = f.start = now;
      f.active = true;
      ++f.version;
      for (uint8_t i = 0; i < c.route.count; ++i) {
        linkFlows_[c.route.links[i]].push_back(id);
        dirty_.push_back(c.route.links[i]);
      }
      c.busy = true;
    }
  }

  void finishFlow(uint32_t id, double now) {
    Flow& f = flows_[id];
    f.active = false;
    Chan& c = chans_[f.chan];
    for (uint8_t i = 0; i < c.route.count; ++i) {
      auto& v = linkFlows_[c.route.links[i]];
      auto pos = std::find(v.begin(), v.end(), id);
      *pos = v.back();
      v.pop_back();
      dirty_.push_back(c.route.links[i]);
    }
    freeFlows_.push_back(id);
    c.transit.push_back({f.start + c.route.latencySec, now + c.route.latencySec});
    push(now + c.route.latencySec, kArrive, f.chan);
    c.busy = false;
    startWire(f.chan, now);
  }

  // Max-min rates of the flows connected (through shared links) to the links that changed.
  void recompute(double now) {
    if (dirty_.empty()) return;
    ++stamp_;
    std::vector<uint32_t> stack, compLinks, compFlows;
    for (uint32_t l : dirty_)
      if (linkStamp_[l] != stamp_) {
        linkStamp_[l] = stamp_;
        stack.push_back(l);
      }
    dirty_.clear();
    flowStamp_.resize(flows_.size(), 0);
    while (!stack.empty()) {
      const uint32_t l = stack.back();
      stack.pop_back();
      linkLocal_[l] = uint32_t(compLinks.size());
      compLinks.push_back(l);
      for (uint32_t fid : linkFlows_[l]) {
        if (flowStamp_[fid] == stamp_) continue;
        flowStamp_[fid] = stamp_;
        compFlows.push_back(fid);
        const Route& r = chans_[flows_[fid].chan].route;
        for (uint8_t i = 0; i < r.count; ++i)
          if (linkStamp_[r.links[i]] != stamp_) {
            linkStamp_[r.links[i]] = stamp_;
            stack.push_back(r.links[i]);
          }
      }
    }
    if (compFlows.empty()) return;
    FillProblem p;
    p.capacity.resize(compLinks.size());
    for (size_t i = 0; i < compLinks.size(); ++i) p.capacity[i] = g_.capacity(compLinks[i]);
    uint32_t local[Route::kMaxLinks];
    for (uint32_t fid : compFlows) {
      const Route& r = chans_[flows_[fid].chan].route;
      for (uint8_t i = 0; i < r.count; ++i) local[i] = linkLocal_[r.links[i]];
      p.addFlow(local, r.count);
    }
    const std::vector<double> rates = fill(p);
    for (size_t i = 0; i < compFlows.size(); ++i) {
      Flow& f = flows_[compFlows[i]];
      if (rates[i] == f.rate) continue;
      f.remaining = std::max(0.0, f.remaining - f.rate * (now - f.last));
      f.last = now;
      f.rate = rates[i];
      ++f.version;
      push(now + f.remaining / f.rate, kFlowDone, compFlows[i], f.version);
    }
  }

  // Whether walker w's next step waits for another lane of its rank to finish the same chunk;
  // if so it is woken when a walker of the rank moves.
  bool waitsForLane(int w, int r, const Schedule& s, const Cursor& cur) {
    if (cur.lane < 0 || cur.it != 0) return false;
    const size_t chunk = chunkOf(s, cur);
    for (uint32_t q : s.lanes.after[cur.p]) {
      const Proc& other = procs_[walkers_.first[size_t(r)] + s.lanes.of[q]];
      if (!passed(s, other.cur, q, chunk)) {
        depWaiters_[size_t(r)].push_back(w);
        return true;
      }
    }
    return false;
  }

  void runWalker(int w, double now) {
    Proc& P = procs_[size_t(w)];
    const int r = walkers_.rank[size_t(w)];
    const Schedule& s = sched_[size_t(r)];
    if (P.done || P.timer) return;
    const Cursor before = P.cur;
    runSteps(w, r, s, P, now);
    // Walkers of this rank that wait for another lane look again once one has moved.
    if (P.done || before.t != P.cur.t || before.p != P.cur.p || before.it != P.cur.it) {
      auto& waiting = depWaiters_[size_t(r)];
      for (int x : waiting) runnable_.push_back(x);
      waiting.clear();
    }
  }

  void runSteps(int w, int r, const Schedule& s, Proc& P, double now) {
    while (settle(s, walkers_.chunks[size_t(r)], walkers_.tEnd[size_t(r)], P.cur)) {
      const Phase& ph = s.phases[P.cur.p];
      if (!P.recvDone) {
        if (waitsForLane(w, r, s, P.cur)) {
          P.laneWait = true;
          return;
        }
        if (std::exchange(P.laneWait, false)) P.reachedAt = std::max(P.reachedAt, now);
        ++acct_.steps;
        recvPeers(s, P.cur, &peers_, &bytes_);
        double lastArrival = P.reachedAt, firstByte = now;
        for (int peer : peers_) {
          Chan& c = chans_[channel(peer, r)];
          if (c.arrived.empty()) {
            c.waiter = w;
            --acct_.steps;
            return;
          }
        }
        for (int peer : peers_) {
          Chan& c = chans_[channel(peer, r)];
          lastArrival = std::max(lastArrival, c.arrived.front().arrival);
          firstByte = std::min(firstByte, c.arrived.front().firstByte);
          c.arrived.pop_front();
        }
        const double red = reduceBytes(ph.kind, bytes_) / reduceRate_;
        double done = std::max(P.reachedAt, lastArrival);
        if (red > 0)
          done = g_.streamingReduce && ph.kind != StepKind::RecvReduceAll
                     ? std::max(lastArrival, std::max(P.reachedAt, firstByte) + red)
                     : done + red;
        P.recvDone = true;
        if (done > now + kTimeEps) {
          P.timer = true;
          push(done, kWake, uint32_t(w));
          return;
        }
      }
      if (stepSends(ph.kind)) {
        const StepInstance inst = s.step(ph, P.cur.it);
        STRATA_CHECK(inst.sendPeer >= 0 && inst.sendPeer < s.nranks && inst.sendPeer != r, strataInternalError,
                     "{} rank {}: phase {} iteration {} sends to rank {}", s.algorithm, r, P.cur.p, P.cur.it,
                     inst.sendPeer);
        const size_t bytes = messageBytes(s, inst, chunkOf(s, P.cur));
        const uint32_t ci = channel(r, inst.sendPeer);
        acct_.add(chans_[ci].route.level, double(bytes));
        chans_[ci].queued.push_back(bytes);
        startWire(ci, now);
      }
      if (ph.kind == StepKind::RecvReduceAll) {
        P.cur.p = P.cur.lane >= 0 ? s.lanes.next[P.cur.p] : P.cur.p + 1;
        P.cur.it = 0;
      } else {
        ++P.cur.it;
      }
      P.recvDone = false;
      P.reachedAt = now;
    }
    P.done = true;
    P.finishedAt = std::max(P.reachedAt, now);
  }

  const FabricGraph& g_;
  SimOptions opt_;
  std::vector<Schedule> sched_;
  Walkers walkers_;
  Accounting acct_;
  double reduceRate_ = 1e12;
  std::vector<Proc> procs_;  // per walker
  std::vector<std::vector<int>> depWaiters_;  // per rank: walkers waiting for another lane
  std::vector<int> runnable_;  // walkers
  std::unordered_map<uint64_t, uint32_t> chanIndex_;
  std::vector<Chan> chans_;
  std::vector<Flow> flows_;
  std::vector<uint32_t> freeFlows_;
  std::vector<std::vector<uint32_t>> linkFlows_;
  std::vector<uint32_t> dirty_, linkStamp_, linkLocal_, flowStamp_;
  uint32_t stamp_ = 0;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::vector<int> peers_;
  std::vector<size_t> bytes_;
};

// ---- Fast mode ---------------------------------------------------------------------------------

class FastSim {
  // Walkers to run, earliest clock first.
  using WorkQueue =
      std::priority_queue<std::pair<double, int>, std::vector<std::pair<double, int>>, std::greater<>>;

 public:
  // Thrown when a step pattern turns out not to treat every rail alike: simulate() then walks
  // every rank.
  struct SymmetryBroken {};

  // symmetry: 1, or the GPUs per server when `sched` holds the schedules of each server's GPU 0
  // only and the others' are those rotated (buildLeads): the traffic then counts once
  // weighTraffic has what each server's GPUs send over what GPU 0 sends. With symmetry, the walk
  // gives up (SymmetryBroken) once `broken` is set, and sets it when it finds the fabric not
  // symmetric.
  FastSim(const FabricGraph& g, const std::vector<Schedule>& sched, const SimOptions& o, uint32_t symmetry,
          std::atomic<bool>* broken = nullptr)
      : g_(g), opt_(o), sched_(sched), walkers_(sched_), acct_(g), sym_(symmetry), broken_(broken) {
    reduceRate_ = o.reduceBytesPerSec > 0 ? o.reduceBytesPerSec : g.reduceBytesPerSec;
    n_ = int(sched_.size());
    procs_.resize(walkers_.size());
    for (uint32_t w = 0; w < walkers_.size(); ++w) procs_[w].cur = walkers_.start(sched_, w);
    depWaiters_.resize(sched_.size());
    chansInto_.resize(sched_.size());
    lanePorts_.resize(sched_.size() * 2);
    inPorts_.resize(sched_.size() * 2);
    shapeOf_.assign(sched_.size(), 0);
    if (sym_ > 1) {
      serverSent_.assign(sched_.size() / sym_, LevelBytes{});
      serverSteady_.assign(sched_.size() / sym_, LevelBytes{});
    }
    std::unordered_multimap<uint64_t, uint32_t> byHash;
    for (int r = 0; r < n_; r += int(sym_)) {
      Shape shape(sched_[size_t(r)]);
      const uint64_t h = shape.hash();
      uint32_t index = uint32_t(shapes_.size());
      for (auto [at, end] = byHash.equal_range(h); at != end; ++at)
        if (shapes_[at->second] == shape) index = at->second;
      if (index == shapes_.size()) {
        byHash.emplace(h, index);
        shapes_.push_back(std::move(shape));
      }
      shapeOf_[size_t(r)] = index;
    }
    // When each lane's steps on each chunk end, for the lanes that wait for them.
    laneDoneBase_.assign(sched_.size(), UINT64_MAX);
    uint64_t total = 0;
    for (size_t r = 0; r < sched_.size(); ++r)
      if (walked(int(r)) && sched_[r].concurrentLanes()) {
        laneDoneBase_[r] = total;
        total += uint64_t(shapes_[shapeOf_[r]].awaitedCount) * sched_[r].chunksPerBlock();
      }
    laneDoneAt_.assign(total, 0.f);
    setUpStepCache();
    analysePhases();
    analyseChunks();
  }

  double run() {
    WorkQueue work;
    for (size_t w = 0; w < walkers_.size(); ++w)
      if (walked(walkers_.rank[w])) work.push({0.0, int(w)});
    uint32_t pops = 0;
    for (;;) {
      while (!work.empty()) {
        const int w = work.top().second;
        work.pop();
        runWalker(w, work);
        if (broken_ && ++pops % 4096 == 0 && broken_->load(std::memory_order_relaxed)) throw SymmetryBroken{};
      }
      if (atCut_.empty()) break;
      releaseCut(work);
    }
    double end = 0;
    for (size_t w = 0; w < walkers_.size(); ++w) {
      const Proc& P = procs_[w];
      const int r = walkers_.rank[w];
      if (!walked(r)) continue;
      STRATA_CHECK(P.done, strataInternalError, "simulation of '{}' stalled: rank {}: {}",
                   sched_[size_t(r)].algorithm, r, stalledWalkers(procs_, walkers_, r));
      end = std::max(end, P.clock);
    }
    return end;
  }

  Accounting& accounting() { return acct_; }
  // With symmetry, after run(): counts what the walked GPUs sent, each scaled to what its
  // server's GPUs send (`weight`, per server and route level: checkServerSymmetric).
  void weighTraffic(const std::vector<LevelBytes>& weight) {
    STRATA_CHECK(sym_ > 1 && weight.size() == serverSent_.size(), strataInternalError,
                 "{} server weights for {} servers", weight.size(), serverSent_.size());
    for (size_t server = 0; server < serverSent_.size(); ++server)
      for (int l = 0; l < kRouteLevels; ++l)
        acct_.add(l, serverSent_[server][size_t(l)] * weight[server][size_t(l)], 0);
  }
  uint32_t symmetry() const { return sym_; }
  uint64_t patterns() const { return solved_; }
  uint64_t skippedChunkSteps() const { return skippedT_; }
  uint32_t collapsedPhases() const {
    uint32_t c = 0;
    for (const PhaseInfo& i : info_) c += i.collapse;
    return c;
  }

 private:
  struct Proc {
    Cursor cur;
    double clock = 0;
    double clockBeforeLastWarmup = 0;  // when it started the last periodWindow_ warm-up t
    bool done = false;
    uint8_t epoch = 0;  // 1 once past the skipped stretch of t
    bool sawLastWarmup = false;
  };
  struct Msg {
    double firstByte, arrival;
    uint8_t epoch;
  };
  // A channel's messages sent and not yet received, oldest first. Most channels hold one or two
  // at a time: those lie in the channel itself, where the walk reads them with the channel (a
  // heap block of their own was one more cache miss per message); a longer queue moves to the
  // heap until it is empty again.
  struct MsgQueue {
    static constexpr uint32_t kInline = 2;
    Msg inl[kInline];
    std::vector<Msg> spill;
    uint32_t head = 0, count = 0;
    bool empty() const { return count == 0; }
    const Msg& front() const { return spill.empty() ? inl[head] : spill[head]; }
    void pop() {
      --count;
      if (spill.empty()) {
        head = (head + 1) % kInline;
      } else if (count == 0) {
        spill.clear();
        head = 0;
      } else {
        ++head;
      }
    }
    void push(const Msg& m) {
      if (spill.empty() && count < kInline) {
        inl[(head + count) % kInline] = m;
        ++count;
        return;
      }
      if (spill.empty()) {
        for (uint32_t i = 0; i < count; ++i) spill.push_back(inl[(head + i) % kInline]);
        head = 0;
      }
      spill.push_back(m);
      ++count;
    }
  };
  struct Chan {
    double freeAt = 0;
    uint8_t freeEpoch = 0;
    int waiter = -1;
    MsgQueue q;
  };
  struct PhaseInfo {
    bool invariant = false;  // every rank's peers are the same in every iteration
    bool collapse = false;
    uint32_t iterations = 0;
  };
  struct PatternEntry {
    float rate = 0;  // bytes/s of this rank's send
    float latency = 0;
    int8_t level = 0;
    uint32_t port = UINT32_MAX;  // the sender's first link (its NVLink or NIC port)
    float portRate = 0;          // that link's capacity
    float inRate = 0;            // the capacity of the receiver's last link
  };
  // A sender's port when its rank walks one lane: its messages take turns on it in program order.
  struct Port {
    double freeAt = 0;
    uint8_t freeEpoch = 0;
  };
  // A link that the messages in flight on it share in time (processor sharing), as a NIC's
  // queue pairs share its line: a port of a rank whose lanes send at once, and the last link into
  // a receiver. Messages are booked in the order they start (the walk is in time order), so what
  // is in flight when one starts is known; it ends when it has had its share: its own service,
  // and of each message in flight as much again, or what that one still needs if less. A
  // message that starts later is not foreseen: it slows those in flight in the port's own
  // account only, which the next ones see (docs/simulator.md, "Fast mode").
  struct SharedPort {
    double now = 0;
    // Service every message in flight has had so far (they all get the same), and when each
    // is done, in that measure: sorted, so they finish from the front. Messages that end at
    // the same service are one entry with their count (a wide step's messages start together
    // on the sender's port, and on a receiver's, symmetric senders' often do too).
    double served = 0;
    std::vector<double> done;
    std::vector<uint32_t> count;
    size_t head = 0;
    uint64_t inFlight = 0;  // the counts from head on
    double share(double start, double seconds) {
      advance(start);
      const double mine = served + seconds;
      const double* d = done.data();
      // Those done before this one (their remaining need in full), then as much again as this
      // one's for the others.
      const size_t i = size_t(std::lower_bound(d + head, d + done.size(), mine) - d);
      double earlier = 0;
      uint64_t before = 0;
      for (size_t k = head; k < i; ++k) {
        earlier += double(count[k]) * (d[k] - served);
        before += count[k];
      }
      const double end = std::max(start, now) + seconds + earlier + seconds * double(inFlight - before);
      if (i < done.size() && done[i] == mine) {
        ++count[i];
      } else {
        done.insert(done.begin() + std::ptrdiff_t(i), mine);
        count.insert(count.begin() + std::ptrdiff_t(i), 1);
      }
      ++inFlight;
      return end;
    }
    // Serves the messages in flight until `t`, each at 1/n of the port while n are in flight.
    void advance(double t) {
      while (head < done.size() && now < t) {
        const double n = double(inFlight);
        const double need = (done[head] - served) * n;
        if (now + need <= t) {
          now += need;
          served = done[head];
          inFlight -= count[head++];
        } else {
          served += (t - now) / n;
          now = t;
        }
      }
      if (head == done.size()) {
        done.clear();
        count.clear();
        head = 0;
        served = 0;
      } else if (head > 64 && 2 * head > done.size()) {
        done.erase(done.begin(), done.begin() + std::ptrdiff_t(head));
        count.erase(count.begin(), count.begin() + std::ptrdiff_t(head));
        head = 0;
      }
      now = std::max(now, t);
    }
  };
  // The rates of the sends of one step on every rank (with symmetry, the walked ranks' only), by
  // channel key: sorted arrays, a tenth of a hash map's memory at 131,072 ranks.
  struct Pattern {
    std::vector<uint64_t> keys;
    std::vector<PatternEntry> entries;
    const PatternEntry* find(uint64_t key) const {
      auto at = std::lower_bound(keys.begin(), keys.end(), key);
      return at != keys.end() && *at == key ? &entries[size_t(at - keys.begin())] : nullptr;
    }
  };

  static bool peersInvariant(const Schedule& s, const Phase& ph) {
    if (ph.table >= 0) return ph.iterations <= 1;
    const int64_t size = s.groups[ph.group].size;
    return (!stepSends(ph.kind) || ph.sendPeer.iterCoef % size == 0) &&
           (!stepReceives(ph.kind) || ph.recvPeer.iterCoef % size == 0);
  }

  // Which phases may be collapsed: the same ring-like phase on every rank (one send and one
  // receive per iteration, peers fixed over iterations, sends a permutation whose inverse the
  // receives are), long enough to be worth it.
  void analysePhases() {
    size_t maxPhases = 0;
    for (int r = 0; r < n_; r += int(sym_)) maxPhases = std::max(maxPhases, sched_[size_t(r)].phases.size());
    info_.resize(maxPhases);
    for (size_t p = 0; p < maxPhases; ++p) {
      PhaseInfo& in = info_[p];
      in.invariant = true;
      bool ringLike = opt_.collapse && opt_.keptIterations >= 2;
      const Schedule& s0 = sched_[0];
      if (p >= s0.phases.size()) ringLike = false;
      const StepKind kind = p < s0.phases.size() ? s0.phases[p].kind : StepKind::Send;
      in.iterations = p < s0.phases.size() ? s0.phases[p].iterations : 0;
      for (int r = 0; r < n_; r += int(sym_)) {
        const Schedule& s = sched_[size_t(r)];
        if (p >= s.phases.size()) {
          ringLike = false;
          continue;
        }
        const Phase& ph = s.phases[p];
        if (!peersInvariant(s, ph)) in.invariant = false;
        if (ph.kind != kind || ph.iterations != in.iterations || ph.table >= 0 || ph.kind == StepKind::RecvReduceAll ||
            !stepSends(ph.kind) || !stepReceives(ph.kind))
          ringLike = false;
      }
      ringLike = ringLike && in.invariant && in.iterations > opt_.keptIterations + 1;
      if (ringLike) {
        for (int r = 0; r < n_ && ringLike; ++r) {
          const StepInstance a = stepOf(r, uint32_t(p), 0);
          if (a.sendPeer < 0 || a.sendPeer >= n_ || a.sendPeer == r) {
            ringLike = false;
            break;
          }
          if (stepOf(a.sendPeer, uint32_t(p), 0).recvPeer != r) ringLike = false;
        }
      }
      in.collapse = ringLike;
    }
  }

  // Which sends run at the same time as a send of rank r in phase p, iteration it (the key of
  // its pattern): the sends of that phase and iteration on all ranks, except that a phase that
  // only sends (no receive to wait for) issues all its iterations at once. Sends of other
  // phases that overlap these in time (a pipelined tree's climb and descent) are not in it:
  // docs/simulator.md, "What fast mode neglects".
  uint64_t patternKey(const Schedule& s, uint32_t p, uint32_t it) const {
    const Phase& ph = s.phases[p];
    if (!stepReceives(ph.kind)) return (uint64_t(p) << 32) | 0xfffffffeu;
    return (uint64_t(p) << 32) | (info_[p].invariant ? 0xffffffffu : it);
  }

  // The chunk loop: when every rank runs the same t range and it is long, the middle of the
  // pipeline repeats itself. Ranks run t < warmup_ explicitly (fill plus steady periods), wait
  // at the cut, and continue at tEnd - drain_; the skipped t advance every clock by the largest
  // per-t period any rank showed in its last warm-up t. Messages and channels carry the epoch
  // (before or after the cut) of the time they hold, so a message sent before the cut and
  // received after it is shifted too.
  void analyseChunks() {
    if (!opt_.collapse) return;
    const uint64_t tEnd = sched_[0].chunksPerBlock() + sched_[0].maxChunkLag();
    for (const Schedule& s : walkedSchedules())
      if (s.chunksPerBlock() == 0 || s.chunksPerBlock() + s.maxChunkLag() != tEnd) return;
    const uint32_t lag = sched_[0].maxChunkLag();
    // Twice the lag fills a pipeline whose climb and descent both lag; a few more t settle it.
    for (const Schedule& s : walkedSchedules()) {
      if (!s.concurrentLanes()) continue;
      // A deep pipeline of concurrent lanes (a tree's climb and descent) is not periodic yet
      // after any warm-up short enough to save time: its chunk loop is walked in full.
      if (s.maxChunkLag() > kMaxCollapsedLaneLag) return;
      periodWindow_ = 4;
    }
    warmup_ = 2 * lag + 3 + periodWindow_;
    drain_ = lag + 2;
    if (tEnd < 2 * uint64_t(warmup_) + drain_) return;
    tEnd_ = uint32_t(tEnd);
    skippedT_ = tEnd_ - warmup_ - drain_;
  }

  void releaseCut(WorkQueue& work) {
    bool allThere = true;
    for (size_t w = 0; w < procs_.size(); ++w)
      allThere = allThere && (!walked(walkers_.rank[w]) || procs_[w].done || procs_[w].cur.t >= warmup_);
    double period = 0;
    for (int w : atCut_) {
      const Proc& P = procs_[size_t(w)];
      period = std::max(period, (P.clock - P.clockBeforeLastWarmup) / periodWindow_);
    }
    // A rank still waiting before the cut needs a message from after it: no skipping then.
    const uint32_t skipped = allThere ? skippedT_ : 0;
    shift_ = double(skipped) * period;
    for (int w : atCut_) {
      Proc& P = procs_[size_t(w)];
      P.epoch = 1;
      P.clock += shift_;
      if (skipped > 0) P.cur = Cursor{tEnd_ - drain_, 0, 0, P.cur.lane};
      work.push({P.clock, w});
    }
    for (size_t l = 0; l < acct_.traffic.size(); ++l)
      acct_.traffic[l].bytes += double(skipped) * steadyTraffic_[l];
    for (size_t server = 0; server < serverSteady_.size(); ++server)
      for (int l = 0; l < kRouteLevels; ++l) serverSent_[server][size_t(l)] += double(skipped) * serverSteady_[server][size_t(l)];
    acct_.messages += skipped * steadyMessages_;
    skippedT_ = skipped;
    cutAt_ = warmup_;
    warmup_ = UINT32_MAX;  // no second cut
    atCut_.clear();
  }

  // A link's index in the fill problem being built (linkLocal_ maps back; `touched` lists the
  // links to reset after).
  uint32_t localLink(uint32_t link, FillProblem& prob, std::vector<uint32_t>& touched) {
    uint32_t& local = linkLocal_[link];
    if (local == UINT32_MAX) {
      local = uint32_t(prob.capacity.size());
      prob.capacity.push_back(g_.capacity(link));
      touched.push_back(link);
    }
    return local;
  }
  PatternEntry entryOf(const Route& rt) const {
    return {0.f, float(rt.latencySec), rt.level, rt.count ? rt.links[0] : UINT32_MAX,
            rt.count ? float(g_.capacity(rt.links[0])) : 0.f,
            rt.count ? float(g_.capacity(rt.links[rt.count - 1])) : 0.f};
  }

  // Max-min fair rates of the flows `sends` (sorted channel keys), every one on its route.
  std::vector<PatternEntry> solve(const std::vector<uint64_t>& sends) {
    std::vector<PatternEntry> all;
    all.reserve(sends.size());
    FillProblem prob;
    std::vector<uint32_t> touched;
    if (linkLocal_.empty()) linkLocal_.assign(g_.linkCount(), UINT32_MAX);
    uint32_t ids[Route::kMaxLinks];
    for (uint64_t c : sends) {
      const Route rt = g_.route(int64_t(c >> 32), int64_t(uint32_t(c)), opt_.routing, opt_.ecmpSeed);
      for (uint8_t i = 0; i < rt.count; ++i) ids[i] = localLink(rt.links[i], prob, touched);
      prob.addFlow(ids, rt.count);
      all.push_back(entryOf(rt));
    }
    for (uint32_t l : touched) linkLocal_[l] = UINT32_MAX;
    const std::vector<double> rates = fill(prob);
    for (size_t i = 0; i < sends.size(); ++i) all[i].rate = float(rates[i]);
    return all;
  }

  // The same for the walked ranks' sends `sends` when the fabric treats every rail alike, from a
  // problem sym_ times smaller (docs/simulator.md, "Symmetry"). Rotating every rank's GPU
  // number by one within its server maps the flows onto themselves; it must map the links too:
  // sigma, one link for each, such that the route of every rotated flow is sigma of the flow's
  // route (with the same capacities, latency and level). Then the max-min fair rates are the
  // same on a flow and its rotations (the solution is unique, so sigma maps it onto itself),
  // and they solve the problem of the walked ranks' flows alone, on one link per orbit of sigma
  // whose capacity is the orbit's share: c x |orbit| / sym_ (each link of an orbit carries, of
  // the flows of all GPUs, what its orbit carries of the walked GPUs' flows x sym_ / |orbit|).
  // Throws SymmetryBroken when sigma does not exist (routing that hashes flows).
  std::vector<PatternEntry> solveSymmetric(const std::vector<uint64_t>& sends) {
    const int P = int(sym_);
    std::vector<PatternEntry> walkedEntries;
    walkedEntries.reserve(sends.size());
    FillProblem all;  // local link indices over every link a rotation crosses; flows: walked only
    std::vector<uint32_t> touched, sigma, sigmaInverse;
    if (linkLocal_.empty()) linkLocal_.assign(g_.linkCount(), UINT32_MAX);
    auto local = [&](uint32_t link) {
      const uint32_t l = localLink(link, all, touched);
      if (l >= sigma.size()) {
        sigma.resize(l + 1, UINT32_MAX);
        sigmaInverse.resize(l + 1, UINT32_MAX);
      }
      return l;
    };
    auto close = [](double x, double y) { return std::abs(x - y) <= 1e-6 * std::max(std::abs(x), std::abs(y)); };
    std::vector<Route> rts(static_cast<size_t>(P));
    uint32_t ids[Route::kMaxLinks];
    bool broken = false;
    for (uint64_t c : sends) {
      const int src = int(c >> 32), dst = int(uint32_t(c));
      for (int k = 0; k < P; ++k) rts[size_t(k)] = g_.route(rotate(src, k), rotate(dst, k), opt_.routing, opt_.ecmpSeed);
      const Route& rt = rts[0];
      for (int k = 1; k < P && !broken; ++k)
        broken = rts[size_t(k)].count != rt.count || rts[size_t(k)].level != rt.level ||
                 !close(rts[size_t(k)].latencySec, rt.latencySec);
      for (uint8_t i = 0; i < rt.count && !broken; ++i) {
        ids[i] = local(rt.links[i]);
        for (int k = 0; k < P && !broken; ++k) {
          const uint32_t a = local(rts[size_t(k)].links[i]), b = local(rts[size_t((k + 1) % P)].links[i]);
          if (sigma[a] == UINT32_MAX && sigmaInverse[b] == UINT32_MAX) {
            sigma[a] = b;
            sigmaInverse[b] = a;
          }
          broken = sigma[a] != b || sigmaInverse[b] != a || !close(all.capacity[a], all.capacity[b]);
        }
      }
      if (broken) break;
      all.addFlow(ids, rt.count);
      walkedEntries.push_back(entryOf(rt));
    }
    for (uint32_t l : touched) linkLocal_[l] = UINT32_MAX;
    if (broken) {
      if (broken_) broken_->store(true);  // the check of the schedules can stop too
      throw SymmetryBroken{};
    }
    // One link per orbit (a cycle of sigma), with the orbit's share of a link's capacity.
    std::vector<uint32_t> orbit(sigma.size(), UINT32_MAX);
    FillProblem prob;
    for (uint32_t a = 0; a < sigma.size(); ++a) {
      if (orbit[a] != UINT32_MAX) continue;
      const uint32_t id = uint32_t(prob.capacity.size());
      uint32_t size = 0;
      for (uint32_t l = a; orbit[l] == UINT32_MAX; l = sigma[l]) {
        orbit[l] = id;
        ++size;
      }
      prob.capacity.push_back(all.capacity[a] * size / P);
    }
    prob.flowStart = std::move(all.flowStart);
    prob.links = std::move(all.links);
    for (uint32_t& l : prob.links) l = orbit[l];
    const std::vector<double> rates = fill(prob);
    for (size_t i = 0; i < walkedEntries.size(); ++i) walkedEntries[i].rate = float(rates[i]);
    return walkedEntries;
  }

  const Pattern& pattern(uint64_t key) {
    auto found = patterns_.find(key);
    if (found != patterns_.end()) return *found->second;
    // The channels of this pattern on every rank, each once (a channel's messages take turns);
    // with server symmetry, on the walked ranks (the others' are their rotations).
    std::vector<uint64_t> sends;
    auto addSends = [&](int r, const Schedule& s, uint32_t p, uint32_t first, uint32_t last) {
      const Phase& ph = s.phases[p];
      if (!stepSends(ph.kind)) return;
      last = std::min(last, ph.iterations);
      for (uint32_t i = first; i < last; ++i) {
        const int peer = stepOf(r, p, i).sendPeer;
        if (peer >= 0 && peer != r) sends.push_back(channelKey(r, peer));
      }
    };
    const uint32_t kp = uint32_t(key >> 32), kit = uint32_t(key);
    for (int r = 0; r < n_; r += int(sym_)) {
      const Schedule& s = schedOf(r);
      if (kp < s.phases.size()) {
        if (kit == 0xfffffffeu) addSends(r, s, kp, 0, UINT32_MAX);
        else if (kit == 0xffffffffu) addSends(r, s, kp, 0, 1);
        else addSends(r, s, kp, kit, kit + 1);
      }
    }
    std::sort(sends.begin(), sends.end());
    sends.erase(std::unique(sends.begin(), sends.end()), sends.end());
    uint64_t signature = 0x12345;
    for (uint64_t c : sends) signature = (signature ^ c) * 0x100000001b3ull;
    auto same = bySignature_.find(signature);
    if (same != bySignature_.end()) return *(patterns_[key] = same->second);
    ++solved_;
    auto pat = std::make_shared<Pattern>();
    pat->entries = sym_ > 1 ? solveSymmetric(sends) : solve(sends);
    pat->keys = std::move(sends);
    bySignature_[signature] = pat;
    patterns_[key] = pat;
    return *pat;
  }

  // ---- Symmetry (docs/simulator.md, "Symmetry") ----
  // Rank r with its GPU number shifted by k within its server.
  int rotate(int r, int k) const {
    const int P = int(sym_), local = r % P;
    return r - local + (local + k) % P;
  }
  bool walked(int r) const { return r % int(sym_) == 0; }
  // The channel that carries, for GPU 0 of a server, the messages of (src, dst): rotated so that
  // src is GPU 0 of its server, it is the channel whose messages that (walked) GPU sends.
  uint32_t inboundIndex(int src, int dst) {
    if (sym_ == 1) return chanIndex(src, dst);
    const int k = (int(sym_) - src % int(sym_)) % int(sym_);
    return chanIndex(rotate(src, k), rotate(dst, k));
  }

  // The schedule rank r runs: its own, or (not walked) its server's GPU 0's, whose peers
  // stepOf rotates.
  const Schedule& schedOf(int r) const { return sched_[size_t(r - r % int(sym_))]; }
  StepInstance stepOf(int r, uint32_t p, uint32_t it) const {
    const int k = r % int(sym_);
    const Schedule& s = sched_[size_t(r - k)];
    StepInstance inst = s.step(s.phases[p], it);
    if (k != 0) {
      if (inst.sendPeer >= 0) inst.sendPeer = rotate(inst.sendPeer, k);
      if (inst.recvPeer >= 0) inst.recvPeer = rotate(inst.recvPeer, k);
    }
    return inst;
  }
  // The schedules of the walked ranks.
  std::vector<std::reference_wrapper<const Schedule>> walkedSchedules() const {
    std::vector<std::reference_wrapper<const Schedule>> out;
    for (int r = 0; r < n_; r += int(sym_)) out.push_back(sched_[size_t(r)]);
    return out;
  }

  // The entry of rank r's send to peer; a rank that is not walked reads its server's GPU 0's
  // rotated send (the same: solveSymmetric).
  const PatternEntry& rateOf(int r, uint32_t p, uint32_t it, int peer) {
    const Schedule& s = schedOf(r);
    const Pattern& pat = pattern(patternKey(s, p, it));
    int src = r, dst = peer;
    if (!walked(r)) {
      const int k = (int(sym_) - r % int(sym_)) % int(sym_);
      src = rotate(r, k);
      dst = rotate(peer, k);
    }
    const PatternEntry* e = pat.find(channelKey(src, dst));
    STRATA_CHECK(e != nullptr, strataInternalError, "rank {} phase {} iteration {}: no pattern entry for its send to {}",
                 r, p, it, peer);
    return *e;
  }

  double reduceEffective(StepKind kind, double bytes, double wire) const {
    if (!stepReduces(kind)) return 0;
    const double red = bytes / reduceRate_;
    return g_.streamingReduce ? std::max(0.0, red - wire) : red;
  }

  // Seconds each rank's clock advances per skipped iteration of phase p on this chunk: the mean
  // of its dependency cycle (send + latency + reduce at the receiver, around the permutation) or
  // the slowest channel or reduction on that cycle, whichever is larger (max-plus eigenvalue).
  const std::vector<float>& period(uint32_t p, size_t chunk) {
    const uint64_t key = (uint64_t(p) << 32) | chunk;
    auto found = periods_.find(key);
    if (found != periods_.end()) return found->second;
    std::vector<float>& out = periods_[key];
    out.assign(size_t(n_), 0);
    const uint32_t typical = opt_.keptIterations - 2;
    std::vector<char> seen(size_t(n_), 0);
    std::vector<int> cycle;
    for (int start = 0; start < n_; ++start) {
      if (seen[size_t(start)]) continue;
      cycle.clear();
      double sum = 0, slowest = 0;
      for (int r = start; !seen[size_t(r)];) {
        seen[size_t(r)] = 1;
        cycle.push_back(r);
        const Schedule& s = schedOf(r);
        const StepInstance inst = stepOf(r, p, typical);
        const double bytes = double(messageBytes(s, inst, chunk));
        const PatternEntry& e = rateOf(r, p, typical, inst.sendPeer);
        const double wire = bytes / e.rate;
        const double red = stepReduces(s.phases[p].kind) ? bytes / reduceRate_ : 0;
        sum += wire + e.latency + reduceEffective(s.phases[p].kind, bytes, wire);
        slowest = std::max({slowest, wire, red});
        r = inst.sendPeer;
      }
      const float lambda = float(std::max(sum / double(cycle.size()), slowest));
      for (int r : cycle) out[size_t(r)] = lambda;
    }
    return out;
  }

  // A rank's channels are found among those into its peer, sorted by sender: a few dozen entries
  // near each other, where one hash map of every channel missed the cache on each lookup.
  uint32_t chanIndex(int src, int dst) {
    auto& into = chansInto_[size_t(dst)];
    auto at = std::lower_bound(into.begin(), into.end(), src,
                               [](const std::pair<int, uint32_t>& e, int from) { return e.first < from; });
    if (at == into.end() || at->first != src) {
      at = into.insert(at, {src, uint32_t(chans_.size())});
      chans_.emplace_back();
    }
    return at->second;
  }
  Chan& chan(int src, int dst) { return chans_[chanIndex(src, dst)]; }

  // What a walked rank's step resolves to is the same on every chunk: resolved on the first and
  // kept, since resolving it costs cache misses in the schedule, the channel lists and the
  // pattern, and the walk visits each step once per chunk. Ranks whose shape has more steps
  // than kMaxCachedSteps (long flat rings) resolve every time, and so do one-chunk schedules.
  struct StepCache {
    StepInstance inst;
    uint32_t recvChan = UINT32_MAX;  // steps with one receive
    uint32_t sendChan = UINT32_MAX;
    PatternEntry entry;  // a copy: the pattern's own lies elsewhere (a cache miss per send)
    bool filled = false;
  };
  static constexpr uint32_t kMaxCachedSteps = 4096;
  void setUpStepCache() {
    shapeSteps_.resize(shapes_.size());
    std::vector<uint32_t> total(shapes_.size(), 0);
    for (size_t i = 0; i < shapes_.size(); ++i)
      for (uint32_t n : shapes_[i].iterations) {
        shapeSteps_[i].push_back(total[i]);
        total[i] += n;
      }
    shapeStepCount_ = total;
    stepCacheBase_.assign(sched_.size(), UINT32_MAX);
    size_t used = 0;
    for (int r = 0; r < n_; r += int(sym_)) {
      const uint32_t n = total[shapeOf_[size_t(r)]];
      // A schedule of one chunk visits each step once: nothing to keep.
      if (walkers_.chunks[size_t(r)] < 2 || n > kMaxCachedSteps || used + n >= UINT32_MAX) continue;
      stepCacheBase_[size_t(r)] = uint32_t(used);
      used += n;
    }
    stepCache_ = ZeroedArray<StepCache>(used);
  }
  // Rank r's step at the cursor, resolved (null when r's steps are not cached).
  const StepCache* resolved(int r, const Schedule& s, const Cursor& cur) {
    const uint32_t base = stepCacheBase_[size_t(r)];
    if (base == UINT32_MAX) return nullptr;
    StepCache& sc = stepCache_[base + shapeSteps_[shapeOf_[size_t(r)]][cur.p] + cur.it];
    if (sc.filled) return &sc;
    sc = StepCache{};  // the array starts zeroed
    const Phase& ph = s.phases[cur.p];
    sc.inst = s.step(ph, cur.it);
    if (stepReceives(ph.kind) && ph.kind != StepKind::RecvReduceAll) {
      STRATA_CHECK(sc.inst.recvPeer >= 0 && sc.inst.recvPeer < n_, strataInternalError,
                   "{} rank {}: phase {} iteration {} receives from rank {}", s.algorithm, r, cur.p, cur.it,
                   sc.inst.recvPeer);
      sc.recvChan = inboundIndex(sc.inst.recvPeer, r);
    }
    if (stepSends(ph.kind) && sc.inst.sendPeer >= 0 && sc.inst.sendPeer < n_ && sc.inst.sendPeer != r) {
      sc.sendChan = chanIndex(r, sc.inst.sendPeer);
      sc.entry = rateOf(r, cur.p, cur.it, sc.inst.sendPeer);
    }
    sc.filled = true;
    return &sc;
  }

  // The walk visits a rank's steps in program order, and each step reads channels and ports
  // that lie anywhere in memory: the walk is bound by those cache misses. So each step asks for
  // the lines of steps further on (when they are resolved already): the channels and the
  // receiver's port of the step 2 x kPrefetchAhead on, and the port's queue of the step
  // kPrefetchAhead on, whose port is in the cache by then. A step that turns out not to come
  // next (another lane's, the end of a chunk) costs a wasted prefetch only.
  static constexpr uint32_t kPrefetchAhead = 4;
  void prefetchAhead(int r, const Cursor& cur) {
    const uint32_t shape = shapeOf_[size_t(r)];
    const uint32_t here = shapeSteps_[shape][cur.p] + cur.it, total = shapeStepCount_[shape];
    const StepCache* steps = &stepCache_[stepCacheBase_[size_t(r)]];
    auto lines = [](const void* p, size_t bytes) {
      for (size_t at = 0; at < bytes; at += 64) __builtin_prefetch(static_cast<const char*>(p) + at);
    };
    if (here + 2 * kPrefetchAhead < total) {
      const StepCache& far = steps[here + 2 * kPrefetchAhead];
      if (far.filled) {
        if (far.recvChan != UINT32_MAX) lines(&chans_[far.recvChan], sizeof(Chan));
        if (far.sendChan != UINT32_MAX) {
          lines(&chans_[far.sendChan], sizeof(Chan));
          const int dst = far.inst.sendPeer - far.inst.sendPeer % int(sym_);
          lines(&inPorts_[size_t(dst) * 2], 2 * sizeof(SharedPort));
        }
      }
    }
    if (here + kPrefetchAhead < total) {
      const StepCache& near = steps[here + kPrefetchAhead];
      if (near.filled && near.sendChan != UINT32_MAX) {
        const int dst = near.inst.sendPeer - near.inst.sendPeer % int(sym_);
        const SharedPort& port = inPorts_[size_t(dst) * 2 + (near.entry.level > 0)];
        if (port.head < port.done.size()) lines(port.done.data() + port.head, 64);
      }
    }
  }

  // What rank r sends: counted now, or with symmetry per server until weighTraffic.
  void addSent(int r, int level, double bytes, uint64_t count) {
    if (sym_ == 1) return acct_.add(level, bytes, count);
    acct_.messages += count;
    serverSent_[size_t(r) / sym_][size_t(level)] += bytes;
  }

  // Traffic of the last warm-up t, which every skipped t repeats (with symmetry, counted by
  // addSent at the cut).
  void addSteady(int r, int level, double bytes, uint64_t count) {
    steadyMessages_ += count;
    if (sym_ > 1) {
      serverSteady_[size_t(r) / sym_][size_t(level)] += bytes;
      return;
    }
    if (level == 0) {
      steadyTraffic_[0] += bytes;
      return;
    }
    for (int l = 1; l <= level && size_t(l) < steadyTraffic_.size(); ++l) steadyTraffic_[size_t(l)] += bytes;
  }

  // Walker w, and when it moved, the walkers of its rank that wait for another lane.
  void runWalker(int w, WorkQueue& work) {
    Proc& P = procs_[size_t(w)];
    const int r = walkers_.rank[size_t(w)];
    const Cursor before = P.cur;
    runSteps(w, r, work);
    if (P.done || !sameStep(before, P.cur)) wakeLanes(r, P.clock, work);
  }

  // The walkers of rank r waiting for another of its lanes, back in the queue at `now` (or
  // their own clock if later): they look again.
  void wakeLanes(int r, double now, WorkQueue& work) {
    auto& waiting = depWaiters_[size_t(r)];
    for (int x : waiting) work.push({std::max(now, procs_[size_t(x)].clock), x});
    waiting.clear();
  }

  // When channel c is free for the next message, on the clock of walker P's epoch.
  double freeAfter(const Chan& c, const Proc& P) const { return c.freeAt + double(P.epoch - c.freeEpoch) * shift_; }

  // The time the steps of other lanes that walker's next step waits for end, or a negative
  // value while one of them has not been walked yet (the walker then waits for its rank).
  double laneReady(int w, int r, const Shape& s, const Cursor& cur) {
    if (cur.lane < 0 || cur.it != 0) return 0;
    const size_t chunk = chunkOf(s, cur);
    double ready = 0;
    for (uint32_t q : s.lanes.after[cur.p]) {
      const Proc& other = procs_[walkers_.first[size_t(r)] + s.lanes.of[q]];
      if (!passed(s, other.cur, q, chunk)) {
        depWaiters_[size_t(r)].push_back(w);
        return -1;
      }
      // A step on a skipped t ended as the one skippedT_ chunks earlier did, shift_ later.
      const uint64_t tq = chunk + s.lag[q];
      const bool skipped = skippedT_ > 0 && tq >= cutAt_ && tq < cutAt_ + skippedT_;
      const size_t c = skipped ? chunk - skippedT_ : chunk;
      ready = std::max(ready, double(laneDoneAt_[laneDoneBase_[size_t(r)] + c * s.awaitedCount + s.awaited[q]]) +
                                  (skipped ? shift_ : 0.0));
    }
    return ready;
  }

  void runSteps(int w, int r, WorkQueue& work) {
    Proc& P = procs_[size_t(w)];
    const Schedule& s = sched_[size_t(r)];
    const Shape& shape = shapes_[shapeOf_[size_t(r)]];
    Cursor woke = P.cur;  // where the walker was when it last woke its rank's waiting lanes
    while (settle(shape, walkers_.chunks[size_t(r)], walkers_.tEnd[size_t(r)], P.cur)) {
      // Only sends are held to time order (below): a step that only receives, or a lane's end of
      // a chunk, is a time computed from times, whatever order the walk reaches it in. (Holding
      // every step of a lane to its clock's turn sent the walker back to the heap at 3 of 4 steps.)
      // The rank's lanes that wait for this one to pass a step go back in the queue at the time
      // it moved on, not when it stops, which may be many steps later: else one would book its
      // sends after others that start later.
      if (!depWaiters_[size_t(r)].empty() && !sameStep(P.cur, woke)) {
        wakeLanes(r, P.clock, work);
        woke = P.cur;
      }
      if (P.epoch == 0 && warmup_ != UINT32_MAX) {
        if (P.cur.t + periodWindow_ >= warmup_ && !P.sawLastWarmup) {
          P.sawLastWarmup = true;
          P.clockBeforeLastWarmup = P.clock;
        }
        if (P.cur.t >= warmup_) {
          atCut_.push_back(w);
          return;
        }
      }
      const Phase& ph = s.phases[P.cur.p];
      const PhaseInfo& in = info_[P.cur.p];
      const size_t chunk = chunkOf(shape, P.cur);
      const double ready = laneReady(w, r, shape, P.cur);
      if (ready < 0) return;
      const StepCache* sc = resolved(r, s, P.cur);
      if (sc) prefetchAhead(r, P.cur);
      recvChans_.clear();
      if (sc && ph.kind != StepKind::RecvReduceAll) {
        bytes_.clear();
        if (sc->recvChan != UINT32_MAX) {
          recvChans_.push_back(sc->recvChan);
          bytes_.push_back(messageBytes(s, sc->inst, chunk));
        }
      } else {
        recvPeers(s, P.cur, &peers_, &bytes_);
        for (int peer : peers_) recvChans_.push_back(inboundIndex(peer, r));
      }
      for (uint32_t ci : recvChans_) {
        Chan& c = chans_[ci];
        if (c.q.empty()) {
          c.waiter = w;
          return;
        }
      }
      P.clock = std::max(P.clock, ready);
      double received = P.clock;  // when the receive (and its reduction) ends
      if (!recvChans_.empty()) {
        double lastArrival = P.clock, firstByte = 1e300;
        for (uint32_t ci : recvChans_) {
          const Chan& c = chans_[ci];
          const Msg& m = c.q.front();
          const double late = double(P.epoch - m.epoch) * shift_;
          lastArrival = std::max(lastArrival, m.arrival + late);
          firstByte = std::min(firstByte, m.firstByte + late);
        }
        const double red = reduceBytes(ph.kind, bytes_) / reduceRate_;
        received = lastArrival;
        if (red > 0)
          received = g_.streamingReduce && ph.kind != StepKind::RecvReduceAll
                         ? std::max(lastArrival, std::max(P.clock, firstByte) + red)
                         : lastArrival + red;
      }
      // Sends are booked in time order: one that starts after some other walker's clock waits
      // for its turn in the queue (a walker's clock is no later than its next step's start, and
      // a message arrives after it was sent), so no send booked later on the same port starts
      // earlier. What a port's messages get from it then does not depend on the order in which
      // ranks are walked, nor on which ranks are (docs/simulator.md, Symmetry).
      if (stepSends(ph.kind) && !work.empty()) {
        const int peer = sc ? sc->inst.sendPeer : s.step(ph, P.cur.it).sendPeer;
        if (peer >= 0 && peer < n_ && peer != r) {  // else the send below reports it
          const Chan& c = chans_[sc ? sc->sendChan : chanIndex(r, peer)];
          const double start = std::max(received, freeAfter(c, P));
          if (start > work.top().first) {
            work.push({start, w});
            return;
          }
        }
      }
      ++acct_.steps;
      for (uint32_t ci : recvChans_) chans_[ci].q.pop();
      P.clock = received;
      const bool skipAfter = in.collapse && P.cur.it == opt_.keptIterations - 2;
      if (stepSends(ph.kind)) {
        const StepInstance inst = sc ? sc->inst : s.step(ph, P.cur.it);
        STRATA_CHECK(inst.sendPeer >= 0 && inst.sendPeer < n_ && inst.sendPeer != r, strataInternalError,
                     "{} rank {}: phase {} iteration {} sends to rank {}", s.algorithm, r, P.cur.p, P.cur.it,
                     inst.sendPeer);
        const double bytes = double(messageBytes(s, inst, chunk));
        const PatternEntry& e = sc ? sc->entry : rateOf(r, P.cur.p, P.cur.it, inst.sendPeer);
        const double wire = bytes > 0 ? bytes / e.rate : 0;
        Chan& c = sc ? chans_[sc->sendChan] : chan(r, inst.sendPeer);
        const double start = std::max(P.clock, freeAfter(c, P));
        double finish = start + wire;
        // A pattern's rates see the flows of one step; the sender's port also carries its other
        // phases' messages at the same time (a pipelined tree's climb and descent), and the
        // receiver's last link what other senders' steps send it. The latest end counts.
        if (bytes > 0 && e.port != UINT32_MAX && e.portRate > 0) {
          if (P.cur.lane >= 0) {
            finish = std::max(finish, lanePorts_[size_t(r) * 2 + (e.level > 0)].share(start, bytes / e.portRate));
          } else {
            Port& port = ports_[e.port];
            const double portDone =
                std::max(start, port.freeAt + double(P.epoch - port.freeEpoch) * shift_) + bytes / e.portRate;
            port.freeAt = portDone;
            port.freeEpoch = P.epoch;
            finish = std::max(finish, portDone);
          }
        }
        if (bytes > 0 && e.inRate > 0) {
          // With one GPU per server walked, the server's GPU 0 books for its GPUs: what GPU j
          // receives from a walked GPU 0 stands for what GPU 0 receives from GPU 8 - j.
          const int dst = inst.sendPeer - inst.sendPeer % int(sym_);
          finish = std::max(finish, inPorts_[size_t(dst) * 2 + (e.level > 0)].share(start, bytes / e.inRate));
        }
        c.freeAt = finish;
        c.freeEpoch = P.epoch;
        Msg m{finish - wire + e.latency, finish + e.latency, P.epoch};
        // Each walked rank stands for sym_ ranks of its server (weighTraffic).
        addSent(r, e.level, bytes, sym_);
        if (P.epoch == 0 && P.cur.t + 1 == warmup_) addSteady(r, e.level, bytes, sym_);
        if (skipAfter) {
          // Skip iterations keptIterations-1 .. iterations-2: everything this rank does from
          // here on, and the message it just sent, happens that many periods later.
          const uint32_t skipped = in.iterations - opt_.keptIterations;
          const double shift = double(skipped) * period(P.cur.p, chunk)[size_t(r)];
          m.firstByte += shift;
          m.arrival += shift;
          c.freeAt += shift;
          if (e.port != UINT32_MAX && P.cur.lane < 0) ports_[e.port].freeAt += shift;
          P.clock += shift;
          addSent(r, e.level, bytes * skipped, skipped * sym_);
          if (P.epoch == 0 && P.cur.t + 1 == warmup_) addSteady(r, e.level, bytes * skipped, skipped * sym_);
        }
        c.q.push(m);
        if (c.waiter >= 0) {
          const int x = std::exchange(c.waiter, -1);
          work.push({std::max(procs_[size_t(x)].clock, m.arrival), x});
        }
      }
      const uint32_t phase = P.cur.p;
      if (ph.kind == StepKind::RecvReduceAll) {
        P.cur.p = P.cur.lane >= 0 ? s.lanes.next[P.cur.p] : P.cur.p + 1;
        P.cur.it = 0;
      } else {
        P.cur.it = skipAfter ? in.iterations - 1 : P.cur.it + 1;
      }
      if (P.cur.lane >= 0 && (ph.kind == StepKind::RecvReduceAll || P.cur.it >= ph.iterations)) {
        if (shape.awaited[phase] != UINT32_MAX)
          laneDoneAt_[laneDoneBase_[size_t(r)] + chunk * shape.awaitedCount + shape.awaited[phase]] = float(P.clock);
      }
    }
    P.done = true;
  }

  const FabricGraph& g_;
  SimOptions opt_;
  const std::vector<Schedule>& sched_;
  Walkers walkers_;
  Accounting acct_;
  uint32_t sym_ = 1;  // GPUs per server when only GPU 0 of each server walks, else 1
  std::atomic<bool>* broken_ = nullptr;  // with sym_ > 1: set when either the walk or the check finds no symmetry
  std::vector<LevelBytes> serverSent_;   // with sym_ > 1: what each server's GPU 0 sent, by route level
  std::vector<LevelBytes> serverSteady_;  // with sym_ > 1: per server, the last warm-up t's
  double reduceRate_ = 1e12;
  int n_ = 0;
  std::vector<Proc> procs_;  // per walker
  std::vector<std::vector<int>> depWaiters_;  // per rank: walkers waiting for another lane
  std::vector<uint64_t> laneDoneBase_;        // per rank: its first entry in laneDoneAt_
  // Per rank, chunk and awaited phase (Shape::awaited; the phases of a chunk side by side: a
  // step's waits read them together): when its steps on that chunk ended.
  std::vector<float> laneDoneAt_;
  std::vector<PhaseInfo> info_;
  std::vector<Shape> shapes_;       // distinct shapes of the walked ranks' schedules
  std::vector<uint32_t> shapeOf_;   // per rank: its shape's index
  std::unordered_map<uint64_t, std::shared_ptr<Pattern>> patterns_, bySignature_;
  std::unordered_map<uint64_t, std::vector<float>> periods_;
  std::vector<Chan> chans_;                                       // every channel seen
  std::vector<std::vector<std::pair<int, uint32_t>>> chansInto_;  // per receiver: (sender, index)
  std::unordered_map<uint32_t, Port> ports_;
  std::vector<SharedPort> lanePorts_, inPorts_;  // per rank and level (NVLink, network)
  uint64_t solved_ = 0;
  std::vector<uint32_t> linkLocal_;  // global link -> index in the pattern being solved
  uint32_t warmup_ = UINT32_MAX, drain_ = 0, tEnd_ = 0, skippedT_ = 0;
  uint32_t cutAt_ = UINT32_MAX;  // the first skipped t, once the cut is released
  // Warm-up t the period is averaged over: a lane's walker may spend one t waiting for another
  // lane's fill, so with concurrent lanes one t is not yet a period.
  uint32_t periodWindow_ = 1;
  double shift_ = 0;
  std::vector<int> atCut_;
  std::vector<double> steadyTraffic_ = std::vector<double>(8, 0);
  uint64_t steadyMessages_ = 0;
  std::vector<int> peers_;
  std::vector<size_t> bytes_;
  std::vector<uint32_t> recvChans_;
  std::vector<std::vector<uint32_t>> shapeSteps_;  // per shape: per phase, its first step's index
  std::vector<uint32_t> stepCacheBase_;            // per rank: its first StepCache, or UINT32_MAX
  std::vector<uint32_t> shapeStepCount_;           // per shape: its steps (iterations of all phases)
  ZeroedArray<StepCache> stepCache_;
};

}  // namespace

const char* modeName(Mode m) { return m == Mode::Full ? "full" : "fast"; }

double SimResult::busBandwidth(size_t bytes, int nranks) const {
  if (seconds <= 0 || nranks < 2) return 0;
  return 2.0 * (nranks - 1) / nranks * double(bytes) / seconds;
}

std::string SimResult::describe() const {
  std::string s = fmt::format("{:.6g} s simulated, {} messages, {} steps walked, {:.3f} s wall, {:.1f} MiB peak RSS",
                              seconds, messages, simulatedSteps, wallSeconds, double(peakRssBytes) / (1 << 20));
  for (const TrafficLevel& t : traffic) s += fmt::format("; {} {:.4g} GB", t.name, t.bytes / 1e9);
  if (symmetry > 1) s += fmt::format("; walked 1 rank in {} (server symmetry)", symmetry);
  return s;
}

size_t peakRssBytes() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  size_t kib = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, "VmHWM:", 6) == 0) kib = std::strtoull(line + 6, nullptr, 10);
  std::fclose(f);
  return kib * 1024;
}

std::vector<double> maxMinRates(const std::vector<double>& capacity, const std::vector<std::vector<uint32_t>>& flows) {
  FillProblem p;
  p.capacity = capacity;
  for (const auto& f : flows) {
    for (uint32_t l : f)
      STRATA_CHECK(l < capacity.size(), strataInvalidArgument, "flow crosses link {} of {}", l, capacity.size());
    p.addFlow(f.data(), f.size());
  }
  return fill(p);
}

std::vector<double> steadyRates(const FabricGraph& graph, const std::vector<std::pair<int64_t, int64_t>>& flows,
                                Routing routing, uint64_t ecmpSeed) {
  FillProblem p;
  std::unordered_map<uint32_t, uint32_t> local;
  uint32_t ids[Route::kMaxLinks];
  for (const auto& [src, dst] : flows) {
    const Route r = graph.route(src, dst, routing, ecmpSeed);
    for (uint8_t i = 0; i < r.count; ++i) {
      auto [pos, fresh] = local.try_emplace(r.links[i], uint32_t(p.capacity.size()));
      if (fresh) p.capacity.push_back(graph.capacity(r.links[i]));
      ids[i] = pos->second;
    }
    p.addFlow(ids, r.count);
  }
  return fill(p);
}

SimResult simulate(const FabricGraph& graph, const PlanRequest& base, const AlgorithmInfo& algo,
                   const SimOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  SimResult result;
  auto finish = [&](SimResult& r) {
    r.wallSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.peakRssBytes = peakRssBytes();
    return r;
  };
  auto collect = [&](auto& sim, double seconds) {
    result.seconds = seconds;
    result.messages = sim.accounting().messages;
    result.simulatedSteps = sim.accounting().steps;
    result.traffic = sim.accounting().traffic;
  };
  if (options.mode == Mode::Full) {
    FullSim sim(graph, buildAll(graph, base, algo), options);
    collect(sim, sim.run());
    return finish(result);
  }
  auto collectFast = [&](FastSim& sim, double seconds) {
    collect(sim, seconds);
    result.patterns = sim.patterns();
    result.collapsedPhases = sim.collapsedPhases();
    result.symmetry = sim.symmetry();
  };
  const int P = graph.gpusPerServer();
  if (options.serverSymmetry && P > 1 && base.nranks % P == 0) {
    STRATA_CHECK(base.nranks == graph.ranks(), strataInvalidArgument, "request for {} ranks on a graph of {}",
                 base.nranks, graph.ranks());
    // This thread walks each server's GPU 0 while a second one checks that the other GPUs'
    // schedules are rotated copies of it (building every rank's schedule: at 131,072 ranks a
    // fifth of the time). The walk counts only if the check passes; either stops the other
    // once it finds no symmetry.
    const std::vector<Schedule> leads = buildLeads(base, algo, P);
    std::atomic<bool> broken{false};
    std::vector<LevelBytes> weights;
    ThreadBeside check([&] {
      try {
        weights = checkServerSymmetric(graph, base, algo, P, leads, broken);
      } catch (...) {
        broken.store(true);
        throw;
      }
      if (weights.empty()) broken.store(true);
    });
    struct StopCheck {  // on every way out, before `check` joins: the walk's errors included
      std::atomic<bool>& stop;
      ~StopCheck() { stop.store(true); }
    } stopCheck{broken};
    try {
      FastSim sim(graph, leads, options, uint32_t(P), &broken);
      const double seconds = sim.run();
      check.join();
      if (!weights.empty()) {
        sim.weighTraffic(weights);
        collectFast(sim, seconds);
        return finish(result);
      }
    } catch (const FastSim::SymmetryBroken&) {
      // the schedules or the fabric are not symmetric: every rank walks
    } catch (const Error&) {
      // A walk of schedules that are not symmetric may stall or miss a pattern entry: its
      // errors count only if the check passes. The check's own error comes first.
      check.join();
      if (!weights.empty()) throw;
    }
    check.join();
  }
  const std::vector<Schedule> all = buildAll(graph, base, algo);  // FastSim holds a reference
  FastSim sim(graph, all, options, 1);
  collectFast(sim, sim.run());
  return finish(result);
}

PlanRequest planRequestFor(const FabricGraph& graph, size_t bytes, Collective collective, strataDataType_t type,
                           std::shared_ptr<const CostModel> cost) {
  PlanRequest r;
  r.collective = collective;
  r.nranks = int(graph.ranks());
  r.type = type;
  r.elemBytes = strataTypeSize(type);
  STRATA_CHECK(r.elemBytes > 0, strataInvalidArgument, "unknown data type {}", int(type));
  r.count = bytes / r.elemBytes;
  r.messageBytes = kFabricMessageBytes;
  r.oneShotMaxBytes = 64 << 10;  // the executor's default (STRATA_ONESHOT_MAX_BYTES)
  r.layout = std::make_shared<const RankLayout>(RankLayout::contiguousHosts(r.nranks, graph.gpusPerServer()));
  r.cost = std::move(cost);
  return r;
}

}  // namespace strata::sim
