// Exact, order-independent checking of all-reduce results (header-only; used by strata-bench and
// by the tests).
//
// fill() gives every rank input values chosen so that the reduction over all ranks is EXACT in the
// datatype whatever the order of the reduction tree, and expected() computes that result. So a
// result is either bit-for-bit right or wrong: no tolerance, which would hide protocol bugs.
//
// How the values stay exact, per op:
//  - sum/avg, integers: any values; wrap-around (mod 2^bits) is exact and order-independent.
//    avg = the wrapped sum, then one integer division by nranks truncating toward zero.
//  - sum/avg, floats: small integers k * 2^e (e shared by all ranks at an index), with the sum of
//    |values| over ranks bounded by the largest exactly representable integer of the format
//    (float16 2048, bfloat16 256, e4m3 16, e5m2 8, float32 2^24, float64 2^53). Every partial sum
//    is then representable, so every order gives the same bits. When nranks exceeds that bound
//    only some ranks (a window that rotates with the index) contribute non-zero values.
//    avg = (float)sum / nranks rounded once to the type (float64 divides in double): the same
//    formula as the library's finalize step.
//  - prod, integers: mostly odd random values, so the wrapped product does not collapse to 0.
//  - prod, floats: +-1 and some 2s; at most as many 2s per index as keep 2^k in range
//    (e4m3 8, float16/e5m2 15, others 60), whatever nranks is.
//  - min/max: random values (random bit patterns for floats, never NaN and never -0, so that no
//    comparison is ambiguous).
// Values depend on the element index (through index % kPeriod, a prime) so that a block written
// to the wrong place is detected, and on the seed.
//
// Bit patterns are passed around as uint64_t holding the element's bytes (little-endian, low
// bytes used). Floats are compared by bit pattern.
//
// Self-contained: the narrow float formats are decoded and rounded here (not with the library's
// float_formats), so the checker links with anything, including the C-API-only libstrata.so, and
// is a second, independent implementation of the rounding the kernels do.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "strata/strata.h"

namespace strata::verify {

// Input and expected values repeat with this period: a prime, so that no offset of a
// power-of-two block (how pipelines and rings cut buffers) is a multiple of it.
inline constexpr size_t kPeriod = 65521;

// Bytes of one element (0 for an unknown type). Our own table keeps this header free of the
// library's C API at link time.
inline size_t elementSize(strataDataType_t type) {
  switch (type) {
    case strataInt8:
    case strataUint8:
    case strataFloat8e4m3:
    case strataFloat8e5m2:
      return 1;
    case strataFloat16:
    case strataBfloat16:
      return 2;
    case strataInt32:
    case strataUint32:
    case strataFloat32:
      return 4;
    case strataInt64:
    case strataUint64:
    case strataFloat64:
      return 8;
    default:
      return 0;
  }
}

inline bool isFloating(strataDataType_t type) {
  return type == strataFloat16 || type == strataFloat32 || type == strataFloat64 ||
         type == strataBfloat16 || type == strataFloat8e4m3 || type == strataFloat8e5m2;
}

inline bool isSignedInteger(strataDataType_t type) {
  return type == strataInt8 || type == strataInt32 || type == strataInt64;
}

// Mask of the bits one element of type occupies in a uint64_t.
inline uint64_t elementMask(strataDataType_t type) {
  size_t bytes = elementSize(type);
  return bytes >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * bytes)) - 1;
}

// Element index of buf, as bits.
inline uint64_t load(const void* buf, strataDataType_t type, size_t index) {
  const auto* p = static_cast<const unsigned char*>(buf);
  switch (elementSize(type)) {
    case 1: return p[index];
    case 2: { uint16_t v; std::memcpy(&v, p + 2 * index, 2); return v; }
    case 4: { uint32_t v; std::memcpy(&v, p + 4 * index, 4); return v; }
    case 8: { uint64_t v; std::memcpy(&v, p + 8 * index, 8); return v; }
    default: return 0;
  }
}

inline void store(void* buf, strataDataType_t type, size_t index, uint64_t bits) {
  auto* p = static_cast<unsigned char*>(buf);
  switch (elementSize(type)) {
    case 1: p[index] = static_cast<uint8_t>(bits); break;
    case 2: { uint16_t v = static_cast<uint16_t>(bits); std::memcpy(p + 2 * index, &v, 2); break; }
    case 4: { uint32_t v = static_cast<uint32_t>(bits); std::memcpy(p + 4 * index, &v, 4); break; }
    case 8: std::memcpy(p + 8 * index, &bits, 8); break;
    default: break;
  }
}

namespace detail {

// A binary floating format narrower than float: sign, expBits exponent bits, manBits stored
// significand bits. ieeeSpecials: the top exponent holds infinities and NaNs (float16, bfloat16,
// E5M2); otherwise only S.1111.111 is NaN and there is no infinity (E4M3, max 448).
struct NarrowFormat {
  int expBits;
  int manBits;
  bool ieeeSpecials;
  int bias() const { return (1 << (expBits - 1)) - 1; }
  int maxExpField() const { return (1 << expBits) - 1; }
};

inline bool narrowFormat(strataDataType_t type, NarrowFormat* format) {
  switch (type) {
    case strataFloat16: *format = {5, 10, true}; return true;
    case strataBfloat16: *format = {8, 7, true}; return true;
    case strataFloat8e5m2: *format = {5, 2, true}; return true;
    case strataFloat8e4m3: *format = {4, 3, false}; return true;
    default: return false;
  }
}

inline double decodeNarrow(const NarrowFormat& f, uint64_t bits) {
  const uint64_t manMask = (uint64_t{1} << f.manBits) - 1;
  const bool negative = (bits >> (f.expBits + f.manBits)) & 1;
  const int exp = static_cast<int>((bits >> f.manBits) & static_cast<uint64_t>(f.maxExpField()));
  const uint64_t man = bits & manMask;
  double v;
  if (f.ieeeSpecials && exp == f.maxExpField()) {
    v = man ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  } else if (!f.ieeeSpecials && exp == f.maxExpField() && man == manMask) {
    v = std::numeric_limits<double>::quiet_NaN();
  } else if (exp == 0) {
    v = std::ldexp(static_cast<double>(man), 1 - f.bias() - f.manBits);  // subnormal
  } else {
    v = std::ldexp(static_cast<double>(man | (manMask + 1)), exp - f.bias() - f.manBits);
  }
  return negative ? -v : v;
}

// Rounds v to the format, to nearest with ties to even. Overflow gives infinity for the IEEE-like
// formats and saturates to the largest finite value for E4M3 (as the library's conversions do).
inline uint64_t encodeNarrow(const NarrowFormat& f, double v) {
  const uint64_t signBit = uint64_t{1} << (f.expBits + f.manBits);
  const uint64_t sign = std::signbit(v) ? signBit : 0;
  const uint64_t implicitOne = uint64_t{1} << f.manBits;
  if (std::isnan(v)) {
    return f.ieeeSpecials ? sign | (static_cast<uint64_t>(f.maxExpField()) << f.manBits) | (implicitOne >> 1)
                          : sign | (signBit - 1);
  }
  const uint64_t largestFinite =
      f.ieeeSpecials ? (static_cast<uint64_t>(f.maxExpField()) << f.manBits) - 1 : signBit - 2;
  const uint64_t overflow =
      f.ieeeSpecials ? static_cast<uint64_t>(f.maxExpField()) << f.manBits : largestFinite;
  const double a = std::fabs(v);
  if (std::isinf(a)) return sign | overflow;
  if (a == 0) return sign;
  int e2;
  std::frexp(a, &e2);  // a = m * 2^e2, m in [0.5, 1)
  int exponent = std::max(e2 - 1, 1 - f.bias());  // the subnormal range shares the minimum exponent
  // a / quantum is exact (a power-of-two scaling); round it to an integer significand.
  const double scaled = std::ldexp(a, f.manBits - exponent);
  double significand = std::floor(scaled);
  const double fraction = scaled - significand;
  if (fraction > 0.5 || (fraction == 0.5 && std::fmod(significand, 2.0) != 0)) significand += 1;
  auto r = static_cast<uint64_t>(significand);
  if (r == 2 * implicitOne) {  // rounded up into the next binade
    r = implicitOne;
    ++exponent;
  }
  // Subnormals (r < implicitOne) have exponent field 0, so r alone is their encoding; a normal
  // number adds its biased exponent.
  uint64_t bits = r < implicitOne
                      ? r
                      : (static_cast<uint64_t>(exponent + f.bias()) << f.manBits) | (r - implicitOne);
  if (bits > largestFinite) bits = overflow;
  return sign | bits;
}

}  // namespace detail

// The value of a floating-point element (exact: every format here widens exactly to double).
inline double toDouble(strataDataType_t type, uint64_t bits) {
  detail::NarrowFormat narrow;
  if (detail::narrowFormat(type, &narrow)) return detail::decodeNarrow(narrow, bits & elementMask(type));
  if (type == strataFloat32) {
    float f;
    uint32_t u = static_cast<uint32_t>(bits);
    std::memcpy(&f, &u, 4);
    return f;
  }
  if (type == strataFloat64) {
    double d;
    std::memcpy(&d, &bits, 8);
    return d;
  }
  return 0.0;
}

// The bits of a float rounded (to nearest even) into a floating type no wider than float.
inline uint64_t fromFloat(strataDataType_t type, float f) {
  detail::NarrowFormat narrow;
  if (detail::narrowFormat(type, &narrow)) return detail::encodeNarrow(narrow, f);
  if (type == strataFloat32) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
  }
  return 0;
}

// The bits of v in a floating type. For the narrow types v goes through float first; the values
// this header creates are exactly representable, so neither step rounds.
inline uint64_t fromDouble(strataDataType_t type, double v) {
  if (type == strataFloat64) {
    uint64_t u;
    std::memcpy(&u, &v, 8);
    return u;
  }
  return fromFloat(type, static_cast<float>(v));
}

// Reads integer bits as a signed value (sign-extended from the element width).
inline int64_t signExtend(strataDataType_t type, uint64_t bits) {
  size_t width = 8 * elementSize(type);
  if (width >= 64) return static_cast<int64_t>(bits);
  uint64_t sign = uint64_t{1} << (width - 1);
  return static_cast<int64_t>(((bits & elementMask(type)) ^ sign) - sign);
}

namespace detail {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Independent random streams, so that e.g. the exponent of an index does not correlate with its
// mantissas.
enum Stream : uint64_t {
  kValue = 1,
  kExponent,
  kWindow,
  kTwos,
  kSign,
  kOdd,
};

// A pseudo-random 64-bit word for (seed, stream, rank, key); ranks < 0 mean "shared by all ranks".
inline uint64_t draw(uint64_t seed, Stream stream, int64_t rank, uint64_t key) {
  uint64_t h = splitmix64(seed ^ (static_cast<uint64_t>(stream) * 0xd6e8feb86659fd93ull));
  h = splitmix64(h ^ static_cast<uint64_t>(rank));
  return splitmix64(h ^ key);
}

// Largest integer n such that every integer in [0, n] is exact in the type: 2^(significand bits).
inline uint64_t exactIntegerLimit(strataDataType_t type) {
  switch (type) {
    case strataFloat16: return uint64_t{1} << 11;
    case strataBfloat16: return uint64_t{1} << 8;
    case strataFloat8e4m3: return 16;
    case strataFloat8e5m2: return 8;
    case strataFloat32: return uint64_t{1} << 24;
    case strataFloat64: return uint64_t{1} << 53;
    default: return 0;
  }
}

// Range of the per-index power-of-two scale of sums: limit * 2^max must stay below the format's
// largest finite value and 2^min must stay normal (so no kernel's denormal handling matters).
struct ExponentRange {
  int min;
  int max;
};
inline ExponentRange sumExponents(strataDataType_t type) {
  switch (type) {
    case strataFloat16: return {-6, 4};      // 2048 * 16 = 32768 <= 65504; 2^-6 >= 2^-14
    case strataBfloat16: return {-16, 16};
    case strataFloat8e4m3: return {-3, 3};   // 16 * 8 = 128 <= 448; 2^-3 >= 2^-6
    case strataFloat8e5m2: return {-4, 4};   // 8 * 16 = 128 <= 57344; 2^-4 >= 2^-14
    default: return {-16, 16};
  }
}

// How many factors of 2 a product may collect and stay finite in the type.
inline int maxProductTwos(strataDataType_t type) {
  switch (type) {
    case strataFloat8e4m3: return 8;   // 256 <= 448
    case strataFloat16: return 15;     // 32768 <= 65504
    case strataFloat8e5m2: return 15;  // 32768 <= 57344
    default: return 60;
  }
}

// Whether rank is inside the window of `width` consecutive ranks (mod nranks) that starts at a
// position drawn per key: how a bounded number of ranks is picked so that every rank is sometimes
// picked.
inline bool inWindow(uint64_t seed, Stream stream, int rank, int nranks, uint64_t key, uint64_t width) {
  uint64_t start = draw(seed, stream, -1, key) % static_cast<uint64_t>(nranks);
  uint64_t position = (static_cast<uint64_t>(rank) + static_cast<uint64_t>(nranks) - start) %
                      static_cast<uint64_t>(nranks);
  return position < width;
}

inline bool isNegativeZero(strataDataType_t type, uint64_t bits) {
  return bits == (uint64_t{1} << (8 * elementSize(type) - 1));
}

}  // namespace detail

// The bits rank contributes at element index (nranks >= 1, 0 <= rank < nranks).
inline uint64_t input(strataDataType_t type, strataRedOp_t op, int rank, int nranks, size_t index,
                      uint64_t seed) {
  using namespace detail;
  const uint64_t key = index % kPeriod;
  const uint64_t mask = elementMask(type);
  const bool floating = isFloating(type);
  switch (op) {
    case strataSum:
    case strataAvg: {
      if (!floating) return draw(seed, kValue, rank, key) & mask;
      // A window of `active` ranks contributes k * 2^e with |k| <= ceil(perRank / 2), so that
      // sum |k| <= active * perRank <= limit.
      const uint64_t limit = exactIntegerLimit(type);
      const uint64_t active = std::min<uint64_t>(static_cast<uint64_t>(nranks), limit);
      if (!inWindow(seed, kWindow, rank, nranks, key, active)) return fromDouble(type, 0.0);
      const uint64_t perRank = limit / active;
      const int64_t k = static_cast<int64_t>(draw(seed, kValue, rank, key) % (perRank + 1)) -
                        static_cast<int64_t>(perRank / 2);
      const ExponentRange er = sumExponents(type);
      const int e = er.min + static_cast<int>(draw(seed, kExponent, -1, key) %
                                              static_cast<uint64_t>(er.max - er.min + 1));
      return fromDouble(type, std::ldexp(static_cast<double>(k), e));
    }
    case strataProd: {
      if (!floating) {
        uint64_t v = draw(seed, kValue, rank, key);
        if (draw(seed, kOdd, rank, key) % 4 != 0) v |= 1;  // mostly odd: the product stays non-zero
        return v & mask;
      }
      const uint64_t maxTwos = std::min<uint64_t>(static_cast<uint64_t>(nranks),
                                                  static_cast<uint64_t>(maxProductTwos(type)));
      const uint64_t twos = draw(seed, kTwos, -1, key) % (maxTwos + 1);
      double v = inWindow(seed, kWindow, rank, nranks, key, twos) ? 2.0 : 1.0;
      if (draw(seed, kSign, rank, key) & 1) v = -v;
      return fromDouble(type, v);
    }
    case strataMax:
    case strataMin: {
      if (!floating) return draw(seed, kValue, rank, key) & mask;
      // Random bit patterns cover every exponent; skip NaNs (unordered) and -0 (equal to +0, so
      // min/max of the two would depend on the order).
      for (uint64_t attempt = 0;; ++attempt) {
        uint64_t bits = draw(seed, kValue, rank, key ^ (attempt << 32)) & mask;
        if (isNegativeZero(type, bits)) return 0;
        if (!std::isnan(toDouble(type, bits))) return bits;
      }
    }
    default:
      return 0;
  }
}

// The bits every rank must hold at element index after the all-reduce of nranks ranks' input().
inline uint64_t expected(strataDataType_t type, strataRedOp_t op, int nranks, size_t index,
                         uint64_t seed) {
  const uint64_t mask = elementMask(type);
  if (!isFloating(type)) {
    const bool isSigned = isSignedInteger(type);
    uint64_t acc = input(type, op, 0, nranks, index, seed);
    for (int r = 1; r < nranks; ++r) {
      const uint64_t v = input(type, op, r, nranks, index, seed);
      switch (op) {
        case strataSum:
        case strataAvg: acc += v; break;  // unsigned: wraps exactly like the type
        case strataProd: acc *= v; break;
        case strataMax:
          if (isSigned ? signExtend(type, v) > signExtend(type, acc) : (v & mask) > (acc & mask)) acc = v;
          break;
        case strataMin:
          if (isSigned ? signExtend(type, v) < signExtend(type, acc) : (v & mask) < (acc & mask)) acc = v;
          break;
        default: break;
      }
    }
    if (op == strataAvg) {
      // The sum wrapped to the type's width, then truncating division (C++ rounds toward zero).
      if (isSigned) return static_cast<uint64_t>(signExtend(type, acc) / nranks) & mask;
      return ((acc & mask) / static_cast<uint64_t>(nranks)) & mask;
    }
    return acc & mask;
  }

  // Floats: sums and products of these values are exact in double, so accumulate there.
  if (op == strataMax || op == strataMin) {
    uint64_t best = input(type, op, 0, nranks, index, seed);
    double bestValue = toDouble(type, best);
    for (int r = 1; r < nranks; ++r) {
      const uint64_t v = input(type, op, r, nranks, index, seed);
      const double value = toDouble(type, v);
      if (op == strataMax ? value > bestValue : value < bestValue) {
        best = v;
        bestValue = value;
      }
    }
    return best;
  }
  double acc = op == strataProd ? 1.0 : 0.0;
  for (int r = 0; r < nranks; ++r) {
    const double v = toDouble(type, input(type, op, r, nranks, index, seed));
    acc = op == strataProd ? acc * v : acc + v;
  }
  if (op == strataAvg) {
    if (type == strataFloat64) return fromDouble(type, acc / static_cast<double>(nranks));
    // float32 and narrower: divide in float, round once into the type.
    return fromFloat(type, static_cast<float>(acc) / static_cast<float>(nranks));
  }
  return fromDouble(type, acc);
}

namespace detail {

// f(index) for index < min(count, kPeriod), as a table (the values repeat after kPeriod).
template <typename F>
std::vector<uint64_t> periodTable(size_t count, F&& f) {
  std::vector<uint64_t> table(std::min(count, kPeriod));
  for (size_t i = 0; i < table.size(); ++i) table[i] = f(i);
  return table;
}

}  // namespace detail

// Writes rank's input for elements [0, count) of buf.
inline void fill(void* buf, size_t count, strataDataType_t type, strataRedOp_t op, int rank,
                 int nranks, uint64_t seed) {
  if (count == 0) return;
  const std::vector<uint64_t> period = detail::periodTable(
      count, [&](size_t i) { return input(type, op, rank, nranks, i, seed); });
  for (size_t i = 0; i < period.size(); ++i) store(buf, type, i, period[i]);
  // The rest repeats the first period: copy it instead of recomputing.
  const size_t bytes = elementSize(type);
  auto* base = static_cast<unsigned char*>(buf);
  for (size_t done = period.size(); done < count;) {
    const size_t n = std::min(done, count - done);  // doubling copies from the filled prefix
    std::memcpy(base + done * bytes, base, n * bytes);
    done += n;
  }
}

// Number of elements of result[0, count) whose bits differ from expected(); the index of the
// first one goes to *firstWrong when given (count when none is wrong).
inline size_t countWrong(const void* result, size_t count, strataDataType_t type, strataRedOp_t op,
                         int nranks, uint64_t seed, size_t* firstWrong = nullptr) {
  if (firstWrong) *firstWrong = count;
  if (count == 0) return 0;
  const std::vector<uint64_t> period = detail::periodTable(
      count, [&](size_t i) { return expected(type, op, nranks, i, seed); });
  size_t wrong = 0;
  size_t key = 0;
  for (size_t i = 0; i < count; ++i) {
    if (load(result, type, i) != period[key]) {
      if (wrong == 0 && firstWrong) *firstWrong = i;
      ++wrong;
    }
    if (++key == period.size()) key = 0;
  }
  return wrong;
}

}  // namespace strata::verify
