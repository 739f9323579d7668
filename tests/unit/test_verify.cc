// bench/verify.h, without the library's collectives: the values it fills must reduce to exactly
// expected() in any order, as a kernel would compute them (rounding to the type after every
// step), and countWrong() must notice a wrong element.
#include "bench/verify.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "reduce/float_formats.h"

namespace strata::verify {
namespace {

constexpr strataDataType_t kAllTypes[] = {
    strataInt8,    strataUint8,   strataInt32,   strataUint32,     strataInt64,     strataUint64,
    strataFloat16, strataFloat32, strataFloat64, strataBfloat16,   strataFloat8e4m3, strataFloat8e5m2};
constexpr strataRedOp_t kAllOps[] = {strataSum, strataProd, strataMax, strataMin, strataAvg};
constexpr size_t kCounts[] = {1, 7, 300};
constexpr uint64_t kSeed = 0x5eed;

std::string caseName(strataDataType_t type, strataRedOp_t op, int nranks, size_t count) {
  return "type " + std::to_string(type) + " op " + std::to_string(op) + " nranks " +
         std::to_string(nranks) + " count " + std::to_string(count);
}

// One element of a reduction step the way a CPU kernel does it: integers in their own width
// (wrapping), float32/float64 in their own precision, narrow floats in float then rounded back.
// Avg reduces as a sum.
uint64_t reduceStep(strataDataType_t type, strataRedOp_t op, uint64_t a, uint64_t b) {
  const uint64_t mask = elementMask(type);
  if (!isFloating(type)) {
    const bool isSigned = isSignedInteger(type);
    switch (op) {
      case strataSum:
      case strataAvg: return (a + b) & mask;
      case strataProd: return (a * b) & mask;
      case strataMax:
        return (isSigned ? signExtend(type, a) >= signExtend(type, b) : a >= b) ? a : b;
      case strataMin:
        return (isSigned ? signExtend(type, a) <= signExtend(type, b) : a <= b) ? a : b;
      default: return 0;
    }
  }
  if (type == strataFloat64) {
    const double x = toDouble(type, a), y = toDouble(type, b);
    switch (op) {
      case strataSum:
      case strataAvg: return fromDouble(type, x + y);
      case strataProd: return fromDouble(type, x * y);
      case strataMax: return x >= y ? a : b;
      case strataMin: return x <= y ? a : b;
      default: return 0;
    }
  }
  const float x = static_cast<float>(toDouble(type, a)), y = static_cast<float>(toDouble(type, b));
  switch (op) {
    case strataSum:
    case strataAvg: return fromFloat(type, x + y);
    case strataProd: return fromFloat(type, x * y);
    case strataMax: return x >= y ? a : b;
    case strataMin: return x <= y ? a : b;
    default: return 0;
  }
}

// The finalize step of avg: integer division toward zero, or one division in float (double for
// float64) rounded once into the type.
uint64_t finalizeAvg(strataDataType_t type, uint64_t sum, int nranks) {
  if (!isFloating(type)) {
    if (isSignedInteger(type)) return static_cast<uint64_t>(signExtend(type, sum) / nranks) & elementMask(type);
    return sum / static_cast<uint64_t>(nranks);
  }
  if (type == strataFloat64) return fromDouble(type, toDouble(type, sum) / nranks);
  return fromFloat(type, static_cast<float>(toDouble(type, sum)) / static_cast<float>(nranks));
}

// The all-reduce of the ranks' buffers, folded one rank at a time in the given rank order.
std::vector<unsigned char> reduceInOrder(const std::vector<std::vector<unsigned char>>& inputs,
                                         const std::vector<int>& order, size_t count,
                                         strataDataType_t type, strataRedOp_t op) {
  const int nranks = static_cast<int>(inputs.size());
  std::vector<unsigned char> out(inputs[order[0]]);
  for (size_t k = 1; k < order.size(); ++k) {
    for (size_t i = 0; i < count; ++i) {
      store(out.data(), type, i,
            reduceStep(type, op, load(out.data(), type, i), load(inputs[order[k]].data(), type, i)));
    }
  }
  if (op == strataAvg) {
    for (size_t i = 0; i < count; ++i)
      store(out.data(), type, i, finalizeAvg(type, load(out.data(), type, i), nranks));
  }
  return out;
}

std::vector<std::vector<unsigned char>> filledInputs(int nranks, size_t count,
                                                     strataDataType_t type, strataRedOp_t op) {
  std::vector<std::vector<unsigned char>> inputs(nranks);
  for (int r = 0; r < nranks; ++r) {
    inputs[r].assign(count * elementSize(type), 0);
    fill(inputs[r].data(), count, type, op, r, nranks, kSeed);
  }
  return inputs;
}

TEST(Verify, ReductionIsExactInAnyOrder) {
  for (int nranks = 1; nranks <= 9; ++nranks) {
    std::vector<int> forward(nranks), backward(nranks), interleaved;
    for (int r = 0; r < nranks; ++r) forward[r] = r, backward[r] = nranks - 1 - r;
    // Odd ranks first, then even ones: neither ascending nor descending.
    for (int r = 1; r < nranks; r += 2) interleaved.push_back(r);
    for (int r = 0; r < nranks; r += 2) interleaved.push_back(r);
    for (strataDataType_t type : kAllTypes) {
      for (strataRedOp_t op : kAllOps) {
        for (size_t count : kCounts) {
          SCOPED_TRACE(caseName(type, op, nranks, count));
          const auto inputs = filledInputs(nranks, count, type, op);
          for (const auto& order : {forward, backward, interleaved}) {
            const auto result = reduceInOrder(inputs, order, count, type, op);
            size_t firstWrong = 0;
            EXPECT_EQ(countWrong(result.data(), count, type, op, nranks, kSeed, &firstWrong), 0u)
                << "first wrong element " << firstWrong << ": got "
                << load(result.data(), type, firstWrong) << ", expected "
                << expected(type, op, nranks, firstWrong, kSeed);
          }
        }
      }
    }
  }
}

// Exactness must also hold far beyond the bounds of the narrow formats (more ranks than e4m3 has
// exact integers) and for the 64 ranks prod is specified for.
TEST(Verify, ReductionIsExactForManyRanks) {
  for (int nranks : {16, 17, 33, 64}) {
    std::vector<int> forward(nranks), backward(nranks);
    for (int r = 0; r < nranks; ++r) forward[r] = r, backward[r] = nranks - 1 - r;
    for (strataDataType_t type : kAllTypes) {
      for (strataRedOp_t op : kAllOps) {
        const size_t count = 300;
        SCOPED_TRACE(caseName(type, op, nranks, count));
        const auto inputs = filledInputs(nranks, count, type, op);
        for (const auto& order : {forward, backward}) {
          const auto result = reduceInOrder(inputs, order, count, type, op);
          EXPECT_EQ(countWrong(result.data(), count, type, op, nranks, kSeed), 0u);
        }
      }
    }
  }
}

TEST(Verify, CountsACorruptedElement) {
  for (int nranks : {1, 2, 5}) {
    for (strataDataType_t type : kAllTypes) {
      for (strataRedOp_t op : kAllOps) {
        const size_t count = 300;
        SCOPED_TRACE(caseName(type, op, nranks, count));
        std::vector<unsigned char> result(count * elementSize(type));
        for (size_t i = 0; i < count; ++i) store(result.data(), type, i, expected(type, op, nranks, i, kSeed));
        ASSERT_EQ(countWrong(result.data(), count, type, op, nranks, kSeed), 0u);
        for (size_t victim : {size_t{0}, size_t{123}, count - 1}) {
          auto corrupted = result;
          store(corrupted.data(), type, victim, load(corrupted.data(), type, victim) ^ 1);  // flip the lowest bit
          size_t firstWrong = 0;
          EXPECT_EQ(countWrong(corrupted.data(), count, type, op, nranks, kSeed, &firstWrong), 1u);
          EXPECT_EQ(firstWrong, victim);
        }
      }
    }
  }
}

// A block of the result written at the wrong offset (two blocks swapped) must be noticed: the
// values depend on the element index.
TEST(Verify, CountsMisplacedBlocks) {
  for (int nranks : {1, 3, 8}) {
    for (strataDataType_t type : kAllTypes) {
      for (strataRedOp_t op : kAllOps) {
        const size_t count = 300, block = 64;
        SCOPED_TRACE(caseName(type, op, nranks, count));
        std::vector<unsigned char> result(count * elementSize(type));
        for (size_t i = 0; i < count; ++i) store(result.data(), type, i, expected(type, op, nranks, i, kSeed));
        for (size_t i = 0; i < block; ++i) {
          const uint64_t a = load(result.data(), type, i), b = load(result.data(), type, block + i);
          store(result.data(), type, i, b);
          store(result.data(), type, block + i, a);
        }
        EXPECT_GT(countWrong(result.data(), count, type, op, nranks, kSeed), 0u);
      }
    }
  }
}

// Long buffers repeat the first kPeriod values; fill's copying must keep the element-wise
// definition.
TEST(Verify, FillMatchesInputBeyondOnePeriod) {
  const size_t count = 2 * kPeriod + 17;
  for (strataDataType_t type : {strataInt8, strataFloat16, strataFloat32, strataFloat64}) {
    std::vector<unsigned char> buf(count * elementSize(type));
    fill(buf.data(), count, type, strataSum, 1, 3, kSeed);
    size_t mismatches = 0;
    for (size_t i = 0; i < count; ++i)
      mismatches += load(buf.data(), type, i) != input(type, strataSum, 1, 3, i, kSeed);
    EXPECT_EQ(mismatches, 0u) << "type " << type;
  }
}

// Different ranks and seeds must give different data, or a rank reading its own buffer instead
// of a peer's would pass.
TEST(Verify, InputsDifferAcrossRanksAndSeeds) {
  for (strataDataType_t type : kAllTypes) {
    for (strataRedOp_t op : kAllOps) {
      size_t sameRank = 0, sameSeed = 0;
      for (size_t i = 0; i < 300; ++i) {
        sameRank += input(type, op, 0, 4, i, kSeed) == input(type, op, 1, 4, i, kSeed);
        sameSeed += input(type, op, 0, 4, i, kSeed) == input(type, op, 0, 4, i, kSeed + 1);
      }
      EXPECT_LT(sameRank, 300u) << "type " << type << " op " << op;
      EXPECT_LT(sameSeed, 300u) << "type " << type << " op " << op;
    }
  }
}

// verify.h decodes and rounds the narrow formats itself; it must agree bit for bit with the
// library's conversions, which the kernels use (NaNs: both must be NaN).
TEST(Verify, NarrowConversionsAgreeWithFloatFormats) {
  struct Library {
    strataDataType_t type;
    float (*toFloat)(uint16_t);
    uint16_t (*fromFloat)(float);
  };
  const Library formats[] = {
      {strataFloat16, [](uint16_t b) { return halfToFloat(b); }, [](float f) { return floatToHalf(f); }},
      {strataBfloat16, [](uint16_t b) { return bf16ToFloat(b); }, [](float f) { return floatToBf16(f); }},
      {strataFloat8e4m3, [](uint16_t b) { return e4m3ToFloat(static_cast<uint8_t>(b)); },
       [](float f) { return static_cast<uint16_t>(floatToE4m3(f)); }},
      {strataFloat8e5m2, [](uint16_t b) { return e5m2ToFloat(static_cast<uint8_t>(b)); },
       [](float f) { return static_cast<uint16_t>(floatToE5m2(f)); }},
  };
  for (const Library& lib : formats) {
    SCOPED_TRACE("type " + std::to_string(lib.type));
    const uint64_t patterns = elementMask(lib.type) + 1;
    size_t decodeMismatches = 0, encodeMismatches = 0;
    auto sameEncoding = [&](float f) {
      const uint64_t ours = fromFloat(lib.type, f), theirs = lib.fromFloat(f);
      if (std::isnan(f)) return std::isnan(toDouble(lib.type, ours)) && std::isnan(lib.toFloat(static_cast<uint16_t>(theirs)));
      return ours == theirs;
    };
    for (uint64_t bits = 0; bits < patterns; ++bits) {
      const double ours = toDouble(lib.type, bits);
      const float theirs = lib.toFloat(static_cast<uint16_t>(bits));
      if (std::isnan(ours) ? !std::isnan(theirs) : ours != static_cast<double>(theirs)) ++decodeMismatches;
      if (std::isnan(ours)) continue;
      // Every value, and the points between neighbours where rounding decides (ties, and just
      // above and below them).
      const float value = static_cast<float>(ours);
      const float next = static_cast<float>(toDouble(lib.type, bits + 1 < patterns ? bits + 1 : bits));
      encodeMismatches += !sameEncoding(value);
      if (!std::isnan(next) && std::isfinite(value) && std::isfinite(next)) {
        const float middle = static_cast<float>((static_cast<double>(value) + next) / 2);
        for (float f : {middle, std::nextafter(middle, 0.0f), std::nextafter(middle, 1e30f),
                        std::nextafter(middle, -1e30f)})
          encodeMismatches += !sameEncoding(f);
      }
    }
    for (float f : {0.0f, -0.0f, 1e30f, -1e30f, std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
                    std::numeric_limits<float>::denorm_min(), 1e-30f, 65520.0f, 448.0f, 464.0f, 57344.0f, 61440.0f})
      encodeMismatches += !sameEncoding(f);
    EXPECT_EQ(decodeMismatches, 0u);
    EXPECT_EQ(encodeMismatches, 0u);
  }
}

}  // namespace
}  // namespace strata::verify
