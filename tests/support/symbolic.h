// A symbolic interpreter of schedules: runs every rank's program against every other's, with
// values that record which ranks' contributions they hold (a count per rank, so double counting
// shows) and whether the op's finalization has been applied. It walks steps in exactly the
// executor's order ((t, phase, iteration), chunk = t - lag) over channels of bounded depth, and
// runs concurrent lanes (schedule.h) as independent walkers, the last lane first so that a
// missing dependency between lanes reads a value before it is written and shows; it
// reports the first thing that goes wrong: a deadlock, a message of the wrong blocks or chunk, a
// read outside the user's input, a partial or doubly finalized result, or a wrong final value.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "plan/registry.h"

namespace strata::testing {

struct Value {
  std::vector<int> contrib;  // empty: never written
  bool final = false;
  bool operator==(const Value&) const = default;
};

struct SymbolicMessage {
  uint32_t blockFirst, blockCount;
  size_t chunk;
  std::vector<Value> pieces;  // one per block of the range
};

class SymbolicRun {
 public:
  // Builds every rank's schedule from `base` (rank replaced) with `algo`, runs them and returns
  // "" when every rank ends with the collective's result, else what went wrong.
  static std::string check(const AlgorithmInfo& algo, PlanRequest base, size_t fifoDepth = 8) {
    SymbolicRun run(algo, base, fifoDepth);
    return run.error_;
  }

 private:
  struct Step {
    const Phase* phase;
    StepInstance st;
    size_t chunk;
    uint32_t iterations;  // RecvReduceAll: members
    size_t phaseIndex;
    bool marker = false;  // not a step: chunk `chunk` of phase `phaseIndex` is complete
  };

  SymbolicRun(const AlgorithmInfo& algo, PlanRequest base, size_t fifoDepth)
      : n_(base.nranks), coll_(base.collective), root_(base.root), depth_(fifoDepth) {
    for (int r = 0; r < n_; ++r) {
      PlanRequest req = base;
      req.rank = r;
      sched_.push_back(algo.build(req));
    }
    const Schedule& s0 = sched_[0];
    nblocks_ = s0.nblocks;
    chunks_ = s0.chunksPerBlock();
    for (int r = 0; r < n_; ++r) {
      const Schedule& s = sched_[size_t(r)];
      if (s.nblocks != nblocks_ || s.blockElems != s0.blockElems || s.chunkElems != s0.chunkElems ||
          s.shardBlocks != s0.shardBlocks || s.shardElems != s0.shardElems || s.count != s0.count) {
        fail(fmt::format("rank {} cuts the buffer differently from rank 0", r));
        return;
      }
      const uint16_t lanes = s.concurrentLanes() ? s.lanes.count : 1;
      prog_.emplace_back();
      for (uint16_t lane = 0; lane < lanes; ++lane) prog_.back().push_back(expand(s, lane, lanes > 1));
    }
    init();
    if (!error_.empty()) return;
    execute();
    if (!error_.empty()) return;
    verify();
  }

  void fail(std::string e) {
    if (error_.empty()) error_ = std::move(e);
  }

  // The steps of one lane (all phases when the lanes do not run concurrently) in walk order,
  // with a marker after each phase's chunk.
  std::vector<Step> expand(const Schedule& s, uint16_t lane, bool concurrent) {
    std::vector<Step> steps;
    const size_t total = chunks_ == 0 ? 0 : chunks_ + s.maxChunkLag();
    for (size_t t = 0; t < total; ++t)
      for (size_t pi = 0; pi < s.phases.size(); ++pi) {
        const Phase& p = s.phases[pi];
        if (concurrent && s.lanes.of[pi] != lane) continue;
        if (t < p.chunkLag || t - p.chunkLag >= chunks_) continue;
        const size_t c = t - p.chunkLag;
        expandPhaseChunk(s, p, pi, c, steps);
        steps.push_back({&p, {}, c, 0, pi, true});
      }
    return steps;
  }
  void expandPhaseChunk(const Schedule& s, const Phase& p, size_t pi, size_t c, std::vector<Step>& steps) {
        if (p.kind == StepKind::RecvReduceAll) {
          StepInstance st = s.step(p, 0);
          if (s.rangeChunkElems(st.blockFirst, st.blockCount, c) == 0) return;
          steps.push_back({&p, st, c, p.iterations, pi});
          return;
        }
        for (uint32_t it = 0; it < p.iterations; ++it) {
          StepInstance st = s.step(p, it);
          if (st.blockFirst + uint64_t(st.blockCount) > nblocks_) {
            fail(fmt::format("rank {} phase {} iteration {}: blocks [{}, +{}) beyond {}", s.rank,
                             pi, it, st.blockFirst, st.blockCount, nblocks_));
            continue;
          }
          if (s.rangeChunkElems(st.blockFirst, st.blockCount, c) == 0) continue;
          if ((stepSends(p.kind) && (st.sendPeer < 0 || st.sendPeer >= n_ || st.sendPeer == s.rank)) ||
              (stepReceives(p.kind) && (st.recvPeer < 0 || st.recvPeer >= n_ || st.recvPeer == s.rank)))
            fail(fmt::format("rank {} phase {} iteration {}: bad peer {} / {}", s.rank, pi, it,
                             st.sendPeer, st.recvPeer));
          steps.push_back({&p, st, c, 0, pi});
        }
  }

  Value own(int r) const {
    Value v;
    v.contrib.assign(size_t(n_), 0);
    v.contrib[size_t(r)] = 1;
    return v;
  }
  bool reducing() const {
    return coll_ == Collective::AllReduce || coll_ == Collective::ReduceScatter ||
           coll_ == Collective::Reduce;
  }
  size_t idx(uint32_t b, size_t c) const { return size_t(b) * chunks_ + c; }

  void init() {
    input_.assign(size_t(n_), std::vector<Value>(size_t(nblocks_) * chunks_));
    output_ = input_;
    for (int r = 0; r < n_; ++r)
      for (uint32_t b = 0; b < nblocks_; ++b)
        for (size_t c = 0; c < chunks_; ++c) {
          bool has = true;
          if (coll_ == Collective::AllGather) has = sched_[size_t(r)].input.contains(b);
          if (coll_ == Collective::Broadcast) has = r == root_;
          if (has) input_[size_t(r)][idx(b, c)] = own(r);
        }
  }

  Value reduceValues(const Value& a, const Value& b, int rank, const char* what) {
    if (a.contrib.empty() || b.contrib.empty()) {
      fail(fmt::format("rank {} reduces an unwritten value in {}", rank, what));
      return a;
    }
    if (a.final || b.final) fail(fmt::format("rank {} reduces a finalized value in {}", rank, what));
    Value v = a;
    for (size_t i = 0; i < v.contrib.size(); ++i) v.contrib[i] += b.contrib[i];
    return v;
  }
  void finalizeValue(Value& v, int rank) {
    if (v.final) fail(fmt::format("rank {} finalizes twice", rank));
    if (v.contrib != std::vector<int>(size_t(n_), 1))
      fail(fmt::format("rank {} finalizes a partial value", rank));
    v.final = true;
  }

  const Value& local(int r, const Step& s, uint32_t b) {
    const Schedule& sc = sched_[size_t(r)];
    if (s.phase->flags & kFromOutput) return output_[size_t(r)][idx(b, s.chunk)];
    if (!sc.input.contains(b))
      fail(fmt::format("rank {} reads block {} outside its input window", r, b));
    return input_[size_t(r)][idx(b, s.chunk)];
  }

  // Tries the next step of rank r's lane; false when it must wait.
  bool tryStep(int r, size_t lane) {
    const Step& s = prog_[size_t(r)][lane][pc_[size_t(r)][lane]];
    const Phase& p = *s.phase;
    const Schedule& sc = sched_[size_t(r)];
    if (s.marker) {
      done_[size_t(r)][s.phaseIndex] = s.chunk + 1;
      return true;
    }
    if (prog_[size_t(r)].size() > 1)
      for (uint32_t q : sc.lanes.after[s.phaseIndex])
        if (done_[size_t(r)][q] <= s.chunk) return false;
    const bool fin = p.flags & kFinalize;
    const std::string where = fmt::format("phase {} {} chunk {}", s.phaseIndex,
                                          stepKindName(p.kind), s.chunk);
    auto& out = output_[size_t(r)];
    if (p.kind == StepKind::RecvReduceAll) {
      std::vector<int> from;
      for (uint32_t it = 0; it < s.iterations; ++it)
        from.push_back(sched_[size_t(r)].step(p, it).recvPeer);
      for (int f : from)
        if (f != r && wires_[{f, r}].empty()) return false;
      std::vector<Value> acc;
      bool first = true;
      for (int f : from) {
        std::vector<Value> pieces;
        if (f == r) {
          for (uint32_t b = s.st.blockFirst; b < s.st.blockFirst + s.st.blockCount; ++b)
            pieces.push_back(local(r, s, b));
        } else {
          SymbolicMessage m = take(f, r, s, where);
          pieces = m.pieces;
        }
        if (first) acc = pieces;
        else
          for (size_t k = 0; k < acc.size(); ++k)
            acc[k] = reduceValues(acc[k], pieces[k], r, where.c_str());
        first = false;
      }
      for (uint32_t k = 0; k < s.st.blockCount; ++k) {
        if (fin) finalizeValue(acc[k], r);
        out[idx(s.st.blockFirst + k, s.chunk)] = acc[k];
      }
      return true;
    }
    const bool recv = stepReceives(p.kind), send = stepSends(p.kind);
    if (recv && wires_[{s.st.recvPeer, r}].empty()) return false;
    if (send && wires_[{r, s.st.sendPeer}].size() >= depth_ &&
        !(recv && s.st.recvPeer == s.st.sendPeer))
      return false;
    SymbolicMessage in;
    if (recv) in = take(s.st.recvPeer, r, s, where);
    SymbolicMessage msg{s.st.blockFirst, s.st.blockCount, s.chunk, {}};
    for (uint32_t k = 0; k < s.st.blockCount; ++k) {
      const uint32_t b = s.st.blockFirst + k;
      Value& o = out[idx(b, s.chunk)];
      switch (p.kind) {
        case StepKind::Send: msg.pieces.push_back(local(r, s, b)); break;
        case StepKind::Recv: o = in.pieces[k]; break;
        case StepKind::RecvReduceSend:
          msg.pieces.push_back(reduceValues(in.pieces[k], local(r, s, b), r, where.c_str()));
          break;
        case StepKind::RecvReduceCopy:
        case StepKind::RecvReduceCopySend: {
          Value v = reduceValues(in.pieces[k], local(r, s, b), r, where.c_str());
          if (fin) finalizeValue(v, r);
          o = v;
          if (p.kind == StepKind::RecvReduceCopySend) msg.pieces.push_back(o);
          break;
        }
        case StepKind::RecvCopySend:
          o = in.pieces[k];
          msg.pieces.push_back(o);
          break;
        case StepKind::LocalCopy: {
          Value v = local(r, s, b);
          if (fin) finalizeValue(v, r);
          o = v;
          break;
        }
        case StepKind::RecvReduceAll: break;
      }
      for (const Value& v : msg.pieces)
        if (v.contrib.empty()) fail(fmt::format("rank {} sends an unwritten value in {}", r, where));
    }
    if (send) wires_[{r, s.st.sendPeer}].push_back(std::move(msg));
    return true;
  }

  SymbolicMessage take(int from, int to, const Step& s, const std::string& where) {
    auto& q = wires_[{from, to}];
    SymbolicMessage m = std::move(q.front());
    q.pop_front();
    if (m.blockFirst != s.st.blockFirst || m.blockCount != s.st.blockCount || m.chunk != s.chunk)
      fail(fmt::format("rank {} expected blocks [{}, +{}) chunk {} from {} in {} but got [{}, +{}) "
                       "chunk {}",
                       to, s.st.blockFirst, s.st.blockCount, s.chunk, from, where, m.blockFirst,
                       m.blockCount, m.chunk));
    if (m.pieces.size() != s.st.blockCount) m.pieces.resize(s.st.blockCount);
    return m;
  }

  void execute() {
    pc_.assign(size_t(n_), {});
    done_.assign(size_t(n_), {});
    for (int r = 0; r < n_; ++r) {
      pc_[size_t(r)].assign(prog_[size_t(r)].size(), 0);
      done_[size_t(r)].assign(sched_[size_t(r)].phases.size(), 0);
    }
    bool progress = true;
    while (progress && error_.empty()) {
      progress = false;
      for (int r = 0; r < n_ && error_.empty(); ++r)
        for (size_t lane = prog_[size_t(r)].size(); lane-- > 0;) {
          size_t& pc = pc_[size_t(r)][lane];
          while (pc < prog_[size_t(r)][lane].size() && tryStep(r, lane)) {
            ++pc;
            progress = true;
          }
        }
    }
    for (int r = 0; r < n_ && error_.empty(); ++r)
      for (size_t lane = 0; lane < prog_[size_t(r)].size(); ++lane) {
        const size_t pc = pc_[size_t(r)][lane];
        if (pc == prog_[size_t(r)][lane].size()) continue;
        const Step& s = prog_[size_t(r)][lane][pc];
        fail(fmt::format("deadlock: rank {} lane {} stuck at step {} of {} (phase {} {}, recv from {}, "
                         "send to {}, chunk {})",
                         r, lane, pc, prog_[size_t(r)][lane].size(), s.phaseIndex,
                         stepKindName(s.phase->kind), s.st.recvPeer, s.st.sendPeer, s.chunk));
      }
    for (auto& [wire, q] : wires_)
      if (!q.empty()) fail(fmt::format("unconsumed message {} -> {}", wire.first, wire.second));
  }

  void verify() {
    Value all;
    all.contrib.assign(size_t(n_), 1);
    all.final = true;
    for (int r = 0; r < n_ && error_.empty(); ++r) {
      const Schedule& s = sched_[size_t(r)];
      for (uint32_t b = 0; b < nblocks_; ++b)
        for (size_t c = 0; c < chunks_; ++c) {
          if (s.rangeChunkElems(b, 1, c) == 0) continue;
          const Value& v = output_[size_t(r)][idx(b, c)];
          Value want;
          switch (coll_) {
            case Collective::AllReduce: want = all; break;
            case Collective::ReduceScatter:
              if (!s.output.contains(b)) continue;
              want = all;
              break;
            case Collective::Reduce:
              if (r != root_) continue;
              want = all;
              break;
            case Collective::AllGather: {
              // Block b comes from the rank whose input window holds it.
              int src = -1;
              for (int q = 0; q < n_; ++q)
                if (sched_[size_t(q)].input.contains(b)) src = q;
              want = own(src);
              break;
            }
            case Collective::Broadcast: want = own(root_); break;
          }
          Value got = v;
          if (!reducing()) got.final = false;
          if (!(got == want)) {
            std::string c2;
            for (int x : v.contrib) c2 += fmt::format("{}", x);
            fail(fmt::format("rank {} block {} chunk {}: contributions [{}] final {}", r, b, c, c2,
                             v.final));
          }
        }
    }
  }

  int n_;
  Collective coll_;
  int root_;
  size_t depth_;
  uint32_t nblocks_ = 0;
  size_t chunks_ = 0;
  std::vector<Schedule> sched_;
  std::vector<std::vector<std::vector<Step>>> prog_;  // rank, lane, steps
  std::vector<std::vector<size_t>> pc_, done_;         // per rank: per lane, per phase
  std::vector<std::vector<Value>> input_, output_;
  std::map<std::pair<int, int>, std::deque<SymbolicMessage>> wires_;
  std::string error_;
};

}  // namespace strata::testing
