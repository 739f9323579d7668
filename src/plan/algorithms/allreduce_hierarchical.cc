// Hierarchical (2D) all-reduce for k ranks on each of m hosts:
//   A. reduce-scatter inside each host (a ring over its k ranks): local rank j ends with shard j,
//      reduced over the host, in its output. A shard is mInner consecutive schedule blocks.
//   B. all-reduce of shard j across hosts among the ranks of local index j (one "rail": on a
//      rail-optimized fabric these ranks' NICs hang off the same leaf switch), with one of the
//      shared patterns (ring, Swing, ...), which finalizes it.
//   C. all-gather inside each host (ring).
// Why: each rank puts only S/k bytes (x 2(m-1)/m) on its NIC instead of about 2S, and all k NICs
// of a host work at once, each on its own rail; the heavy S (k-1)/k phases stay on the fast
// intra-host links. Needs every host to hold the same number of ranks and at least two hosts;
// the ranks of a host need not be numbered consecutively (groups then list their members).
// Registered as hier-ring, hier-hd, hier-tree, hier-swing, hier-radix-hd, hier-radix128-hd and
// hier-radix-rd (the inter-host pattern: ring, halving-doubling, double binary tree, Swing, mixed
// radix). nblocks = k x the blocks the pattern wants for m.
#include <algorithm>
#include <cmath>

#include "plan/algorithms/patterns.h"
#include "plan/algorithms/rank_math.h"
#include "plan/algorithms/ring_phases.h"
#include "core/error.h"
#include "plan/registry.h"

namespace strata {
namespace {

// One inter-host pattern: blocks it wants for m members, the largest message it sends (in
// schedule blocks), how to append it over the rail group, and its cost on `bytes`.
struct InterPattern {
  const char* name;
  uint32_t (*blocksFor)(int m);
  uint32_t (*maxBlocksPerStep)(int m, uint32_t blockCount);
  void (*append)(Schedule& s, const RankGroup& rail, uint32_t base, uint32_t count, uint8_t flags);
  double (*seconds)(const CostModel& c, int m, double bytes, int tier, size_t messageBytes);
  // Chunk lag the phases after the pattern need: a chunk's last message of the pattern arrives
  // by walk step chunk + lag on every rail (the same on every rank, so the host's all-gather
  // runs in step on all of them). 0 but for the pipelined tree.
  uint32_t (*lagAfter)(int m);
  // Independent instances of the pattern, each on its own part of the shard, whose steps the
  // builder interleaves: while one waits out a step's latency the other's bytes keep the NIC
  // busy. For log-depth patterns whose last steps are short and latency-bound.
  uint32_t lanes = 1;
  // The pattern is a reduce-scatter then an all-gather, one exchange (a Send and a receive
  // phase) per step, the all-gather's last exchange with the reduce-scatter's first peers. The
  // builder then pipelines the two halves over chunks (pipelineAllGather below).
  bool pipelinedAllGather = false;
};

uint32_t noLag(int) { return 0; }

// Seconds for `steps` steps of `bytes` each, cut into messages of at most messageBytes.
double stepsSeconds(const CostModel& c, double steps, double bytes, int tier, size_t messageBytes,
                    bool reduce) {
  const double chunks = std::max(1.0, std::ceil(bytes / double(std::max<size_t>(1, messageBytes))));
  const double one = chunks * c.message(size_t(bytes / chunks), tier, 1) +
                     (reduce ? bytes / c.reduceBytesPerSec : receiveCopySeconds(c, bytes, tier));
  return steps * one;
}

// Ring over the rail: the same five affine phases as the flat ring, over the rail's group.
const InterPattern kRingInter{
    "ring", [](int m) { return uint32_t(m); },
    [](int m, uint32_t count) { return std::max(1u, count / uint32_t(m)); },  // one logical block
    [](Schedule& s, const RankGroup& rail, uint32_t base, uint32_t count, uint8_t flags) {
      s.groups.push_back(rail);
      const uint32_t m = uint32_t(rail.size);
      appendRingAllReduce(s, uint16_t(s.groups.size() - 1), base, count / m, m, count / m, flags);
    },
    [](const CostModel& c, int m, double bytes, int tier, size_t messageBytes) {
      return stepsSeconds(c, m - 1, bytes / m, tier, messageBytes, true) +
             stepsSeconds(c, m - 1, bytes / m, tier, messageBytes, false);
    },
    noLag};

const InterPattern kSwingInter{
    "swing", [](int m) { return swingBlocksFor(m); }, swingMaxBlocksPerStep, appendSwing,
    [](const CostModel& c, int m, double bytes, int tier, size_t messageBytes) {
      return swingSeconds(c, m, bytes, tier, messageBytes, 1);
    },
    noLag};

const InterPattern kHalvingDoublingInter{
    "hd", halvingDoublingBlocksFor, halvingDoublingMaxBlocksPerStep, appendHalvingDoubling,
    [](const CostModel& c, int m, double bytes, int tier, size_t messageBytes) {
      return halvingDoublingSeconds(c, m, bytes, tier, messageBytes, 1);
    },
    noLag};

// The double binary tree pipelines with lags up to K + depth <= 2K (K = its depth bound), so the
// host's all-gather of a chunk waits 2K walk steps for the trees' broadcast of it.
const InterPattern kTreeInter{
    "tree", doubleBinaryTreeBlocksFor, doubleBinaryTreeMaxBlocksPerStep, appendDoubleBinaryTree,
    [](const CostModel& c, int m, double bytes, int tier, size_t messageBytes) {
      // One block per tree message: half a slot's worth (the builder's chunk).
      return doubleBinaryTreeSeconds(c, m, bytes, tier, std::max<size_t>(1, messageBytes / 2), 1);
    },
    [](int m) { return uint32_t(2 * doubleBinaryTreeMaxDepth(m)); }};

// Mixed-radix halving-doubling over the rail with radices merged up to MaxRadix.
template <int MaxRadix>
const InterPattern kMixedRadixInter{
    MaxRadix == kMaxRadix ? "radix-hd" : "radix128-hd", mixedRadixBlocksFor,
    [](int m, uint32_t count) { return mixedRadixMaxBlocksPerStep(m, count, MaxRadix); },
    [](Schedule& s, const RankGroup& rail, uint32_t base, uint32_t count, uint8_t flags) {
      appendMixedRadixHalvingDoubling(s, rail, base, count, flags, MaxRadix);
    },
    [](const CostModel& c, int m, double bytes, int tier, size_t messageBytes) {
      return mixedRadixHalvingDoublingSeconds(c, m, bytes, tier, messageBytes, MaxRadix);
    },
    noLag, 1, true};
const InterPattern& kRadixHalvingDoublingInter = kMixedRadixInter<kMaxRadix>;
// Radices up to kMaxWideRadix: two rail steps up to 16,384 servers.
const InterPattern& kWideRadixHalvingDoublingInter = kMixedRadixInter<kMaxWideRadix>;

const InterPattern kRadixDoublingInter{
    "radix-rd", [](int) { return 1u; }, [](int, uint32_t count) { return std::max(1u, count); },
    appendMixedRadixDoubling,
    [](const CostModel& c, int m, double bytes, int tier, size_t) {
      return mixedRadixDoublingSeconds(c, m, bytes, tier);
    },
    noLag};

bool supports(const PlanRequest& r) {
  return r.layout && r.layout->uniform() && r.layout->nhosts >= 2 &&
         r.layout->nranks == r.nranks;
}

bool supportsMixedRadix(const PlanRequest& r) { return supports(r) && mixedRadixSupports(r.layout->nhosts); }

double hierSeconds(const PlanRequest& r, const InterPattern& inter) {
  const CostModel& c = r.costModel();
  const int k = r.layout->perHost, m = r.layout->nhosts;
  const double S = double(r.bytes());
  double sec = 0;
  if (k > 1) {  // reduce-scatter and all-gather: k-1 steps of S/k each, inside the host
    sec += stepsSeconds(c, k - 1, S / k, -1, r.messageBytes, true);
    sec += stepsSeconds(c, k - 1, S / k, -1, r.messageBytes, false);
  }
  // Every rank drives its own NIC (rail), so a rail's flows do not share one.
  return sec + inter.seconds(c, m, S / k, 0, r.messageBytes);
}

// An affine phase of N iterations as N phases of one: lets the builder interleave its steps
// with another lane's.
std::vector<Phase> splitIterations(const Phase& p) {
  if (p.table >= 0 || p.iterations <= 1 || p.kind == StepKind::RecvReduceAll) return {p};
  std::vector<Phase> out;
  for (uint32_t it = 0; it < p.iterations; ++it) {
    Phase one = p;
    one.iterations = 1;
    one.sendPeer.offset += p.sendPeer.iterCoef * it;
    one.recvPeer.offset += p.recvPeer.iterCoef * it;
    one.block.offset += p.block.iterCoef * it;
    out.push_back(one);
  }
  return out;
}

// A rail all-reduce whose halves run on the same chunk serialises every chunk's whole chain of
// exchanges (reduce-scatter digit by digit, then back) on the lanes that carry its steps: the
// lane of an inner digit must finish chunk t's all-gather step before it starts chunk t+1's
// reduce-scatter step, so the NIC idles for the chain's latencies once per chunk (1,024 ranks
// of colossus:100k, 1 GiB: 88 % of the bound). So the all-gather half runs one chunk behind
// (lag + kAllGatherLag), and the inner exchanges' all-gather phases come first in the lane:
// in one walk step a lane serves chunk t-1's all-gather, already unblocked, before chunk t's
// reduce-scatter (95.5 %). The outermost exchange keeps its order, reduce-scatter first, so
// that a new chunk's big messages are posted as soon as its host reduce-scatter is done.
constexpr uint32_t kAllGatherLag = 1;

std::vector<Phase> pipelineAllGather(std::vector<Phase> phases) {
  size_t finalize = phases.size();  // the reduce-scatter's last receive
  for (size_t i = 0; i < phases.size(); ++i)
    if (phases[i].flags & kFinalize) finalize = i;
  if (finalize == phases.size()) return phases;  // a group of one: a local copy
  const auto gather = phases.begin() + long(finalize) + 1;
  for (auto p = gather; p != phases.end(); ++p) p->chunkLag += kAllGatherLag;
  if (phases.end() - gather <= 2) return phases;  // one exchange: nothing inner to move
  std::vector<Phase> out(gather, phases.end() - 2);
  out.insert(out.end(), phases.begin(), gather);
  out.insert(out.end(), phases.end() - 2, phases.end());
  return out;
}

// Cuts the phases appended since `before` out of the schedule.
std::vector<Phase> takePhases(Schedule& s, size_t before) {
  std::vector<Phase> out(s.phases.begin() + long(before), s.phases.end());
  s.phases.resize(before);
  return out;
}

// Bytes one phase's messages carry for chunk 0, summed over its iterations, counting every block
// as full. The short blocks at the tail of a buffer that does not split evenly lie in the last
// GPU's shard; counting them gave some GPUs of the last hosts a different order of phases than
// their hosts' others (seen on 100,000 ranks at 1 GiB) for no gain. Counted full, every GPU of
// a host gets the same order, which the simulator's server symmetry relies on
// (docs/simulator.md, "Symmetry").
double phaseBytes(const Schedule& s, const Phase& p) {
  const double blockBytes = double(std::min(s.chunkElems, s.blockElems) * s.elemBytes);
  double blocks = 0;
  for (uint32_t it = 0; it < p.iterations; ++it) blocks += s.step(p, it).blockCount;
  return blocks * blockBytes;
}

// The executor walks a rank's phases one after another, so a phase that waits for the network
// would leave the intra-host links idle, and the other way round. The three lanes work on
// different chunks (lags), so their steps can be interleaved freely: between an inter-host send
// and the receive that waits for its partner's, the builder places as many intra-host hops as
// fit in the transfer's time (from the cost model), so that both kinds of link stay busy.
std::vector<Phase> interleave(const Schedule& s, const CostModel& cost,
                              const std::vector<Phase>& intraHops, const std::vector<Phase>& inter) {
  std::vector<Phase> out;
  size_t nextHop = 0;
  double clock = 0, nicFree = 0;
  for (const Phase& p : inter) {
    if (stepReceives(p.kind)) {
      while (nextHop < intraHops.size()) {
        const Phase& h = intraHops[nextHop];
        const double hop = cost.intraHost.alphaSec + phaseBytes(s, h) / cost.intraHost.bytesPerSec;
        if (clock + hop > nicFree) break;
        out.push_back(h);
        clock += hop;
        ++nextHop;
      }
      clock = std::max(clock, nicFree + cost.interHost.alphaSec);
    }
    out.push_back(p);
    if (stepSends(p.kind))
      nicFree = std::max(nicFree, clock) + phaseBytes(s, p) / cost.interHost.bytesPerSec;
  }
  out.insert(out.end(), intraHops.begin() + long(nextHop), intraHops.end());
  return out;
}

constexpr size_t kPipelineChunks = 32;
// A chunk's exchanges across hosts are the shard's chunk divided by the radices: at 8 MiB on
// 8,000 ranks a 64 KiB chunk of the shard left the inner rail steps messages of 68-340 bytes,
// 16 times over, and the per-message costs made hier-radix-hd 9x the bound (390 us). A chunk of
// at least 1 MiB: 1,024 ranks of colossus:100k in full mode, hier-radix-hd 56.6 -> 43.9 us at
// 2 MiB, 169.2 -> 105.6 us at 8 MiB, 336.8 -> 223.6 us at 32 MiB, 712.8 -> 723.0 us at 128 MiB
// (4 MiB lost 16 % there). Sizes whose shard is under 64 KiB or over 32 MiB are not affected.
constexpr size_t kMinPipelineBytes = size_t(1) << 20;
// The pipelined tree needs its many chunks (kTreeInter's lag): 8 MiB on 8,000 ranks took 198.7 us
// with 64 KiB and 538.6 us with 1 MiB.
constexpr size_t kMinTreePipelineBytes = size_t(64) << 10;

Schedule hierBuild(const PlanRequest& req, const char* name, const InterPattern& inter) {
  Schedule s = scheduleSkeleton(req, name);
  const RankLayout& l = *req.layout;
  const int k = l.perHost, m = l.nhosts;
  const int host = l.host(req.rank), local = l.local(req.rank);
  const uint32_t lanes = inter.lanes;
  const uint32_t mInner = inter.blocksFor(m) * lanes;
  s.nblocks = uint32_t(k) * mInner;
  const size_t align = std::max<size_t>(1, 64 / req.elemBytes);
  if (k > 1) {
    // A shard per GPU of the host, each cut into mInner blocks: a buffer with fewer elements
    // than blocks (128 KiB on 131,072 ranks) then still puts count / k on every rail, not all
    // of it on the first few GPUs' rails.
    s.shardBlocks = mInner;
    s.shardElems = blockElemsFor(req.count, uint32_t(k), align);
    s.blockElems = blockElemsFor(s.shardElems, mInner, align);
  } else {
    s.blockElems = blockElemsFor(req.count, s.nblocks, align);
  }
  // The intra-host ring moves a whole shard per message; the inter pattern at most that.
  const uint32_t maxBlocks =
      std::max(k > 1 ? mInner : 1u, inter.maxBlocksPerStep(m, mInner / lanes));
  s.chunkElems = std::max<size_t>(1, req.messageBytes / req.elemBytes / maxBlocks);
  // The three lanes below run a chunk apart, so the pipeline fills and drains over about three
  // chunks: cut a large shard into kPipelineChunks of them, but keep a chunk of the shard
  // above kMinPipelineBytes (kMinTreePipelineBytes for the tree, whose pipeline is deeper).
  const size_t shardElems = size_t(mInner) * s.blockElems;
  const size_t minElems =
      std::max<size_t>(1, (inter.lagAfter(m) > 0 ? kMinTreePipelineBytes : kMinPipelineBytes) / req.elemBytes);
  // A pattern that pipelines with lags (the tree) keeps lagAfter more chunks in flight: ten
  // times as many chunks as the pipeline is deep keeps its fill and drain near a tenth.
  const size_t chunks = std::max<size_t>(kPipelineChunks, 10 * (2 + size_t(inter.lagAfter(m))));
  const size_t wantElems = std::max(minElems, shardElems / chunks);
  s.chunkElems = std::min(s.chunkElems, std::max<size_t>(1, (wantElems + maxBlocks - 1) / maxBlocks));

  RankGroup hostGroup, rail;
  hostGroup.size = k;
  hostGroup.self = local;
  rail.size = m;
  rail.self = host;
  if (l.contiguous) {
    hostGroup.base = host * k;
    rail.base = local;
    rail.stride = k;
  } else {
    for (int j = 0; j < k; ++j) hostGroup.members.push_back(l.rankOf(host, j));
    for (int h = 0; h < m; ++h) rail.members.push_back(l.rankOf(h, local));
  }
  if (k == 1) {
    inter.append(s, rail, 0, mInner, 0);  // one rank per host: nothing to do inside it
    return s;
  }
  s.groups.push_back(hostGroup);
  const uint16_t hostIndex = uint16_t(s.groups.size() - 1);
  // Three lanes, each a chunk behind the one before: the host's reduce-scatter of chunk t, the
  // rails' all-reduce of chunk t-1, the host's all-gather of chunk t-1-lagAfter-1 (one more
  // when the rails' all-gather runs behind their reduce-scatter: pipelineAllGather). Inside the
  // host a ring: its hand-offs pace themselves, one shard per message, and interleave well with
  // the rails' steps (a direct exchange, every rank to every other at once, measured worse in
  // the simulator: its receives bunch up).
  appendRingReduceScatter(s, hostIndex, 0, mInner, uint32_t(k), mInner);
  std::vector<Phase> scatter;
  for (const Phase& p : takePhases(s, 0))
    for (const Phase& one : splitIterations(p)) scatter.push_back(one);
  const uint32_t shard = uint32_t(local) * mInner;
  std::vector<std::vector<Phase>> laneRails;
  for (uint32_t lane = 0; lane < lanes; ++lane) {
    const uint32_t first = shard + mInner * lane / lanes;
    const uint32_t last = shard + mInner * (lane + 1) / lanes;
    inter.append(s, rail, first, last - first, kFromOutput);
    laneRails.push_back(inter.pipelinedAllGather ? pipelineAllGather(takePhases(s, 0))
                                                 : takePhases(s, 0));
  }
  // Phase by phase, lane after lane: every lane has the same structure on every rank, so each
  // channel sees its lanes' messages in the same order at both ends.
  std::vector<Phase> rails;
  for (size_t i = 0; i < laneRails[0].size(); ++i)
    for (const std::vector<Phase>& lane : laneRails)
      if (i < lane.size()) rails.push_back(lane[i]);
  for (Phase& p : rails) p.chunkLag += 1;
  appendRingAllGather(s, hostIndex, 0, mInner, uint32_t(k), mInner);
  std::vector<Phase> gather;
  for (const Phase& p : takePhases(s, 0))
    for (Phase one : splitIterations(p)) {
      one.chunkLag = 2 + inter.lagAfter(m) + (inter.pipelinedAllGather ? kAllGatherLag : 0);
      gather.push_back(one);
    }
  // The hops of the two intra-host lanes alternate, so that both advance. (The ring's
  // reduce-scatter sends to the next rank and its all-gather too, but hop i of each comes in the
  // same order at both ends of a channel.)
  std::vector<Phase> hops;
  for (size_t i = 0; i < std::max(scatter.size(), gather.size()); ++i) {
    if (i < scatter.size()) hops.push_back(scatter[i]);
    if (i < gather.size()) hops.push_back(gather[i]);
  }
  s.phases = interleave(s, req.costModel(), hops, rails);
  s.overlapLanes = true;  // NVLink and NIC phases at once
  return s;
}

}  // namespace

extern const AlgorithmInfo kAllReduceHierRing{
    "hier-ring", Collective::AllReduce,
    "reduce-scatter in the host, ring all-reduce per rail across hosts, all-gather in the host",
    supports, [](const PlanRequest& r) { return hierSeconds(r, kRingInter); },
    [](const PlanRequest& r) { return hierBuild(r, "hier-ring", kRingInter); }};

extern const AlgorithmInfo kAllReduceHierSwing{
    "hier-swing", Collective::AllReduce,
    "reduce-scatter in the host, Swing all-reduce per rail across hosts, all-gather in the host",
    supports, [](const PlanRequest& r) { return hierSeconds(r, kSwingInter); },
    [](const PlanRequest& r) { return hierBuild(r, "hier-swing", kSwingInter); }};

}  // namespace strata

namespace strata {

extern const AlgorithmInfo kAllReduceHierHalvingDoubling{
    "hier-hd", Collective::AllReduce,
    "reduce-scatter in the host, halving-doubling per rail across hosts, all-gather in the host",
    supports, [](const PlanRequest& r) { return hierSeconds(r, kHalvingDoublingInter); },
    [](const PlanRequest& r) { return hierBuild(r, "hier-hd", kHalvingDoublingInter); }};

extern const AlgorithmInfo kAllReduceHierTree{
    "hier-tree", Collective::AllReduce,
    "reduce-scatter in the host, double binary tree per rail across hosts, all-gather in the host",
    supports, [](const PlanRequest& r) { return hierSeconds(r, kTreeInter); },
    [](const PlanRequest& r) { return hierBuild(r, "hier-tree", kTreeInter); }};

}  // namespace strata

namespace strata {

extern const AlgorithmInfo kAllReduceHierRadixHd{
    "hier-radix-hd", Collective::AllReduce,
    "reduce-scatter in the host, mixed-radix halving-doubling per rail, all-gather in the host",
    supportsMixedRadix,
    [](const PlanRequest& r) { return hierSeconds(r, kRadixHalvingDoublingInter); },
    [](const PlanRequest& r) { return hierBuild(r, "hier-radix-hd", kRadixHalvingDoublingInter); }};

// Rails of more than kMaxRadix^2 servers (or of prime factors that do not pack into two
// radices of at most kMaxRadix) take three or more steps with hier-radix-hd; this one takes two
// up to 16,384 servers (colossus:100k's 12,500: 100 x 125). docs/planner.md: what it gains.
extern const AlgorithmInfo kAllReduceHierRadix128Hd{
    "hier-radix128-hd", Collective::AllReduce,
    "reduce-scatter in the host, mixed-radix halving-doubling per rail in radices up to 128, all-gather in the host",
    supportsMixedRadix,
    [](const PlanRequest& r) { return hierSeconds(r, kWideRadixHalvingDoublingInter); },
    [](const PlanRequest& r) { return hierBuild(r, "hier-radix128-hd", kWideRadixHalvingDoublingInter); }};

// The shard travels whole in every exchange: small buffers only.
extern const AlgorithmInfo kAllReduceHierRadixRd{
    "hier-radix-rd", Collective::AllReduce,
    "reduce-scatter in the host, mixed-radix recursive doubling per rail, all-gather in the host",
    [](const PlanRequest& r) {
      return supportsMixedRadix(r) &&
             r.bytes() / size_t(r.layout->perHost) <= std::min<size_t>(size_t(1) << 20, r.messageBytes);
    },
    [](const PlanRequest& r) { return hierSeconds(r, kRadixDoublingInter); },
    [](const PlanRequest& r) { return hierBuild(r, "hier-radix-rd", kRadixDoublingInter); }};

}  // namespace strata
