// The schedules' rank arithmetic, checked symbolically for every world size 1..33: run every
// rank's program against every other's with messages that carry which ranks' contributions
// they hold (a count per rank, so double counting shows), and require that it never deadlocks,
// that every message arrives where its receiver expects it, and that every rank ends with every
// block reduced over all ranks exactly once.
#include <gtest/gtest.h>

#include <deque>
#include <map>

#include "core/error.h"
#include "plan/registry.h"

namespace strata {
namespace {

using Contrib = std::vector<int>;  // contributions per rank

struct Message {
  size_t block;
  Contrib contrib;
};

struct StepInstance {
  StepKind kind;
  int sendPeer, recvPeer;
  size_t block;
  uint32_t iterations;  // for RecvReduceAll
  const Phase* phase;
};

std::vector<StepInstance> expand(const Schedule& s) {
  std::vector<StepInstance> steps;
  for (const Phase& p : s.phases) {
    if (p.kind == StepKind::RecvReduceAll) {
      steps.push_back({p.kind, -1, -1, size_t(p.block.eval(s.rank, 0, s.nblocks)), p.iterations, &p});
      continue;
    }
    for (uint32_t it = 0; it < p.iterations; ++it)
      steps.push_back({p.kind, int(p.sendPeer.eval(s.rank, it, s.nranks)),
                       int(p.recvPeer.eval(s.rank, it, s.nranks)),
                       size_t(p.block.eval(s.rank, it, s.nblocks)), 0, &p});
  }
  return steps;
}

Contrib add(const Contrib& a, const Contrib& b) {
  Contrib c(a.size());
  for (size_t i = 0; i < a.size(); ++i) c[i] = a[i] + b[i];
  return c;
}

void simulate(const AlgorithmInfo& algo, int n) {
  SCOPED_TRACE(::testing::Message() << algo.name << " nranks " << n);
  std::vector<Schedule> sched;
  std::vector<std::vector<StepInstance>> prog;
  for (int r = 0; r < n; ++r) {
    PlanRequest req;
    req.rank = r;
    req.nranks = n;
    req.count = 1000;
    req.elemBytes = 4;
    req.messageBytes = 1 << 20;
    req.oneShotMaxBytes = 1 << 20;
    sched.push_back(algo.build(req));
    prog.push_back(expand(sched.back()));
    // Compact: the number of phases does not grow with the world.
    EXPECT_LE(sched.back().phases.size(), 8u);
  }
  const size_t nblocks = sched[0].nblocks;
  auto own = [&](int r) {
    Contrib c(n, 0);
    c[r] = 1;
    return c;
  };
  std::map<std::pair<int, int>, std::deque<Message>> wires;
  std::vector<size_t> pc(n, 0);
  std::vector<std::vector<Contrib>> output(n, std::vector<Contrib>(nblocks));
  bool progress = true;
  while (progress) {
    progress = false;
    for (int r = 0; r < n; ++r) {
      if (pc[r] == prog[r].size()) continue;
      const StepInstance& st = prog[r][pc[r]];
      auto take = [&](int from, Message* m) {
        auto& q = wires[{from, r}];
        if (q.empty()) return false;
        *m = q.front();
        q.pop_front();
        EXPECT_EQ(m->block, st.block) << "rank " << r << " got the wrong block from " << from;
        return true;
      };
      auto sendTo = [&](int to, Contrib c) { wires[{r, to}].push_back({st.block, std::move(c)}); };
      Message m;
      switch (st.kind) {
        case StepKind::Send: sendTo(st.sendPeer, own(r)); break;
        case StepKind::LocalCopy: output[r][st.block] = own(r); break;
        case StepKind::Recv:
          if (!take(st.recvPeer, &m)) continue;
          output[r][st.block] = m.contrib;
          break;
        case StepKind::RecvReduceSend:
          if (!take(st.recvPeer, &m)) continue;
          sendTo(st.sendPeer, add(m.contrib, own(r)));
          break;
        case StepKind::RecvReduceCopy:
        case StepKind::RecvReduceCopySend:
          if (!take(st.recvPeer, &m)) continue;
          output[r][st.block] = add(m.contrib, own(r));
          if (st.kind == StepKind::RecvReduceCopySend) sendTo(st.sendPeer, output[r][st.block]);
          break;
        case StepKind::RecvCopySend:
          if (!take(st.recvPeer, &m)) continue;
          output[r][st.block] = m.contrib;
          sendTo(st.sendPeer, m.contrib);
          break;
        case StepKind::RecvReduceAll: {
          // Needs one message from every peer named by the phase.
          bool ready = true;
          for (uint32_t it = 0; it < st.iterations; ++it) {
            int from = int(st.phase->recvPeer.eval(r, it, n));
            if (from != r && wires[{from, r}].empty()) ready = false;
          }
          if (!ready) continue;
          Contrib acc(n, 0);
          for (uint32_t it = 0; it < st.iterations; ++it) {
            int from = int(st.phase->recvPeer.eval(r, it, n));
            if (from == r) acc = add(acc, own(r));
            else if (take(from, &m)) acc = add(acc, m.contrib);
          }
          output[r][st.block] = acc;
          break;
        }
      }
      ++pc[r];
      progress = true;
    }
  }
  for (int r = 0; r < n; ++r) {
    ASSERT_EQ(pc[r], prog[r].size()) << "rank " << r << " deadlocked at step " << pc[r];
    for (size_t b = 0; b < nblocks; ++b)
      EXPECT_EQ(output[r][b], Contrib(n, 1)) << "rank " << r << " block " << b;
  }
  for (auto& [wire, q] : wires)
    EXPECT_TRUE(q.empty()) << "unconsumed message " << wire.first << "->" << wire.second;
}

TEST(Schedule, EveryAllReduceAlgorithmIsCorrectForWorldSizes1To33) {
  for (const AlgorithmInfo* algo : allReduceAlgorithms())
    for (int n = 1; n <= 33; ++n) simulate(*algo, n);
}

TEST(Schedule, AffineRuleWrapsNegativeValues) {
  AffineRule r{1, -1, -1};
  EXPECT_EQ(r.eval(0, 0, 5), 4);
  EXPECT_EQ(r.eval(0, 3, 5), 1);
  EXPECT_EQ(r.eval(4, 0, 5), 3);
  EXPECT_EQ((AffineRule{0, 0, -11}).eval(0, 0, 5), 4);
}

TEST(Schedule, ChunkRangesCoverTheBufferExactlyOnce) {
  for (size_t count : {0ul, 1ul, 7ul, 64ul, 1000ul, 100003ul}) {
    for (uint32_t nblocks : {1u, 2u, 3u, 5u, 8u, 17u}) {
      Schedule s;
      s.count = count;
      s.nblocks = nblocks;
      s.blockElems = blockElemsFor(count, nblocks, 16);
      s.chunkElems = 100;
      std::vector<int> hits(count, 0);
      for (size_t b = 0; b < nblocks; ++b)
        for (size_t c = 0; c < s.chunksPerBlock(); ++c) {
          size_t begin = 0, n = s.chunkRange(b, c, &begin);
          for (size_t i = begin; i < begin + n; ++i) ++hits.at(i);
        }
      for (size_t i = 0; i < count; ++i) ASSERT_EQ(hits[i], 1) << count << " " << nblocks << " " << i;
    }
  }
}

TEST(Schedule, RingFootprintDoesNotGrowWithTheWorld) {
  PlanRequest req;
  req.nranks = 131072;
  req.rank = 12345;
  req.count = 1 << 28;
  req.messageBytes = 1 << 17;
  Schedule s = selectAllReduce(req, "ring").build(req);
  EXPECT_EQ(s.phases.size(), 5u);
  EXPECT_LT(s.footprintBytes(), 1024u);
}

TEST(Schedule, SelectionHonoursForcedAndRejectsUnknownOrUnsupported) {
  PlanRequest req;
  req.nranks = 4;
  req.count = 16;
  req.messageBytes = 1 << 17;
  req.oneShotMaxBytes = 1 << 16;
  EXPECT_STREQ(selectAllReduce(req, "ring").name, "ring");
  EXPECT_STREQ(selectAllReduce(req, "oneshot").name, "oneshot");
  EXPECT_STREQ(selectAllReduce(req, "").name, "oneshot");  // 64 bytes: one hand-off wins
  req.count = 1 << 24;
  EXPECT_STREQ(selectAllReduce(req, "").name, "ring");
  EXPECT_THROW(selectAllReduce(req, "oneshot"), Error);  // too large for one message
  EXPECT_THROW(selectAllReduce(req, "bogus"), Error);
}

}  // namespace
}  // namespace strata
