// A schedule: what one rank does in one collective, as data.
//
// The buffer of `count` elements is cut into `nblocks` blocks of equal size (the last may be
// short or empty), and each block into chunks of at most `chunkElems` elements that travel as
// one transport message. A rank's program is a short list of phases; a phase repeats one step
// kind `iterations` times, and the peer and block of each iteration are affine functions of
// (rank, iteration) modulo nranks / nblocks. So a ring for any number of ranks is five phases,
// not 2(n-1) unrolled steps, and the simulator can expand it lazily.
//
// The executor runs: for each chunk index c, for each phase, for each iteration: the step on
// chunk c of that iteration's block. Every rank walks the same (c, phase, iteration) order, which
// is what makes the messages on each channel arrive in the order their receiver expects them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "strata/strata.h"

namespace strata {

// The step vocabulary, with NCCL's fused forms that save passes over memory. "input" is the
// rank's send buffer, "output" its receive buffer, "in" a received message, "out" a send slot.
enum class StepKind : uint8_t {
  Send,                // out = input[block]
  Recv,                // output[block] = in
  RecvReduceSend,      // out = in op input[block]
  RecvReduceCopy,      // output[block] = finalize(in op input[block])
  RecvReduceCopySend,  // output[block] = finalize(in op input[block]); out = output[block]
  RecvCopySend,        // output[block] = in; out = in
  LocalCopy,           // output[block] = finalize(input[block])  (a world of one)
  RecvReduceAll,       // output[block] = finalize(ordered op over every rank's block), the
                       // others' from recvPeer(it) for it in [0, iterations): rank order, so
                       // every rank computes the same bits
};

const char* stepKindName(StepKind kind);

// value = (rankCoef * rank + iterCoef * iteration + offset) mod modulus, always in [0, modulus).
struct AffineRule {
  int64_t rankCoef = 0;
  int64_t iterCoef = 0;
  int64_t offset = 0;
  int64_t eval(int64_t rank, int64_t iteration, int64_t modulus) const {
    int64_t v = (rankCoef * rank + iterCoef * iteration + offset) % modulus;
    return v < 0 ? v + modulus : v;
  }
};

struct Phase {
  StepKind kind;
  uint32_t iterations;
  AffineRule sendPeer;  // modulo nranks
  AffineRule recvPeer;  // modulo nranks
  AffineRule block;     // modulo nblocks
};

struct Schedule {
  std::string algorithm;
  int rank = 0;
  int nranks = 1;
  size_t count = 0;
  strataDataType_t type = strataFloat32;
  strataRedOp_t op = strataSum;
  size_t elemBytes = 4;
  uint32_t nblocks = 1;
  size_t blockElems = 0;  // elements per block (the last block may hold fewer)
  size_t chunkElems = 1;  // elements per message
  std::vector<Phase> phases;

  // Chunks per block: the executor's outer loop count.
  size_t chunksPerBlock() const {
    return blockElems == 0 ? 0 : (blockElems + chunkElems - 1) / chunkElems;
  }
  // Element range [*begin, *begin + return) of chunk c of block b; 0 when empty.
  size_t chunkRange(size_t block, size_t c, size_t* begin) const {
    size_t blockBegin = block * blockElems;
    size_t blockEnd = std::min(count, blockBegin + blockElems);
    size_t b = blockBegin + c * chunkElems;
    *begin = b;
    if (blockBegin >= blockEnd || b >= blockEnd) return 0;
    return std::min(chunkElems, blockEnd - b);
  }
  // Bytes of the schedule's representation (what the design bounds at about 1 MiB).
  size_t footprintBytes() const { return sizeof(*this) + phases.capacity() * sizeof(Phase); }
  std::string describe() const;
};

// Splits count elements into nblocks blocks whose size is a multiple of `alignElems` (so every
// block starts on a vector boundary) except that the total is exactly count.
size_t blockElemsFor(size_t count, uint32_t nblocks, size_t alignElems);

}  // namespace strata
