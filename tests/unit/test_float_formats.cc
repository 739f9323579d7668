// Bit-exact checks of the narrow-float conversions: exhaustive round trips, decoded values
// against a formula, round-to-nearest-even on every tie between neighbouring values, overflow,
// saturation, subnormals, and float16 against the F16C hardware conversions.
#include "reduce/float_formats.h"
#include "reduce/reduce.h"

#include <gtest/gtest.h>
#include <immintrin.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

namespace strata {
namespace {

uint32_t bitsOf(float f) { return std::bit_cast<uint32_t>(f); }

// Value of a binary narrow format from its fields, computed in double by an independent formula.
double decodeByFormula(uint32_t v, int expBits, int mantBits) {
  const int bias = (1 << (expBits - 1)) - 1;
  const uint32_t exp = (v >> mantBits) & ((1u << expBits) - 1);
  const uint32_t mant = v & ((1u << mantBits) - 1);
  const double sign = (v >> (expBits + mantBits)) & 1u ? -1.0 : 1.0;
  if (exp == 0) return sign * std::ldexp(static_cast<double>(mant), 1 - bias - mantBits);
  return sign * std::ldexp(static_cast<double>(mant + (1u << mantBits)), static_cast<int>(exp) - bias - mantBits);
}

// ---- float16 -----------------------------------------------------------------------------------

bool isHalfNan(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }

TEST(FloatFormats, HalfExhaustiveDecodeAndRoundTrip) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint16_t half = static_cast<uint16_t>(h);
    const float f = halfToFloat(half);
    if (isHalfNan(half)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << h;
      ASSERT_TRUE(isHalfNan(floatToHalf(f))) << std::hex << h;
      // Quieted, sign and payload kept.
      ASSERT_EQ(floatToHalf(f), half | 0x0200u) << std::hex << h;
      continue;
    }
    if ((half & 0x7fffu) == 0x7c00u) {
      ASSERT_TRUE(std::isinf(f)) << std::hex << h;
    } else {
      ASSERT_EQ(static_cast<double>(f), decodeByFormula(half, 5, 10)) << std::hex << h;
    }
    ASSERT_EQ(floatToHalf(f), half) << std::hex << h;
  }
}

// Every tie between two neighbouring finite halves of the same sign rounds to the even one; one
// float ulp either side rounds to the nearer one. Covers normals, subnormals and the
// 0 / min-subnormal tie. (The tie above the largest finite value is checked in HalfOverflow.)
TEST(FloatFormats, HalfTiesToEvenEverywhere) {
  for (uint32_t sign : {0u, 0x8000u}) {
    for (uint32_t low = 0; low < 0x7bff; ++low) {
      const uint16_t lo = static_cast<uint16_t>(sign | low);
      const uint16_t hi = static_cast<uint16_t>(sign | (low + 1));
      const double mid = (static_cast<double>(halfToFloat(lo)) + halfToFloat(hi)) / 2;
      const float tie = static_cast<float>(mid);
      ASSERT_EQ(static_cast<double>(tie), mid);  // 12 significant bits: exact in float
      ASSERT_EQ(floatToHalf(tie), (lo & 1u) ? hi : lo) << std::hex << lo;
      const float towardsLo = std::nextafter(tie, 0.0f);
      const float towardsHi = std::nextafter(tie, sign ? -INFINITY : INFINITY);
      ASSERT_EQ(floatToHalf(towardsLo), lo) << std::hex << lo;
      ASSERT_EQ(floatToHalf(towardsHi), hi) << std::hex << lo;
    }
  }
}

TEST(FloatFormats, HalfOverflowAndSpecials) {
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bffu);
  EXPECT_EQ(floatToHalf(65519.996f), 0x7bffu);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00u);  // tie with odd max: rounds to infinity
  EXPECT_EQ(floatToHalf(1e10f), 0x7c00u);
  EXPECT_EQ(floatToHalf(-1e10f), 0xfc00u);
  EXPECT_EQ(floatToHalf(INFINITY), 0x7c00u);
  EXPECT_EQ(floatToHalf(-INFINITY), 0xfc00u);
  EXPECT_EQ(floatToHalf(std::numeric_limits<float>::max()), 0x7c00u);
  EXPECT_EQ(floatToHalf(0.0f), 0x0000u);
  EXPECT_EQ(floatToHalf(-0.0f), 0x8000u);
  // Subnormals: 2^-24 is the smallest; 2^-25 ties with zero and goes to even (zero).
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -24)), 0x0001u);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -25)), 0x0000u);
  EXPECT_EQ(floatToHalf(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001u);
  EXPECT_EQ(floatToHalf(std::ldexp(3.0f, -25)), 0x0002u);  // 1.5 steps: tie, to even 2
  EXPECT_EQ(floatToHalf(-std::ldexp(1.0f, -26)), 0x8000u);
  EXPECT_EQ(floatToHalf(std::numeric_limits<float>::denorm_min()), 0x0000u);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -14)), 0x0400u);  // smallest normal
  EXPECT_EQ(floatToHalf(std::ldexp(1023.0f, -24)), 0x03ffu);  // largest subnormal
  // Rounding up from the largest subnormal carries into the smallest normal.
  EXPECT_EQ(floatToHalf(std::ldexp(2047.0f, -25)), 0x0400u);
  // A NaN whose payload lives only in the low bits must stay NaN, not become infinity.
  EXPECT_TRUE(isHalfNan(floatToHalf(std::bit_cast<float>(0x7f800001u))));
  EXPECT_EQ(floatToHalf(std::bit_cast<float>(0xffc00000u)), 0xfe00u);
}

__attribute__((target("f16c"))) uint16_t hardwareFloatToHalf(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, 0));  // 0 = round to nearest even
}
__attribute__((target("f16c"))) uint32_t hardwareHalfToFloatBits(uint16_t h) {
  return bitsOf(_cvtsh_ss(h));
}

TEST(FloatFormats, HalfMatchesF16cHardware) {
  __builtin_cpu_init();
  if (!cpuHasF16c()) GTEST_SKIP() << "CPU has no F16C";
  for (uint32_t h = 0; h < 0x10000; ++h) {
    ASSERT_EQ(bitsOf(halfToFloat(static_cast<uint16_t>(h))), hardwareHalfToFloatBits(static_cast<uint16_t>(h)))
        << std::hex << h;
  }
  std::mt19937 rng(12345);
  std::uniform_int_distribution<uint32_t> anyBits;
  // Half the samples are any float bit pattern (NaN, inf, float subnormals included); the other
  // half have exponents around the half range, where the rounding and subnormal paths are.
  std::uniform_int_distribution<uint32_t> exponentNearHalfRange(127 - 27, 127 + 17);
  for (int i = 0; i < 4'000'000; ++i) {
    uint32_t bits = anyBits(rng);
    if (i & 1) bits = (bits & 0x807fffffu) | (exponentNearHalfRange(rng) << 23);
    const float f = std::bit_cast<float>(bits);
    ASSERT_EQ(floatToHalf(f), hardwareFloatToHalf(f)) << std::hex << bits;
  }
}

// ---- bfloat16 ----------------------------------------------------------------------------------

TEST(FloatFormats, Bf16ExhaustiveDecodeAndRoundTrip) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const uint16_t bf = static_cast<uint16_t>(b);
    const float f = bf16ToFloat(bf);
    ASSERT_EQ(bitsOf(f), b << 16);
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(bf16ToFloat(floatToBf16(f)))) << std::hex << b;
      ASSERT_EQ(floatToBf16(f), bf | 0x0040u) << std::hex << b;  // quieted
    } else {
      ASSERT_EQ(floatToBf16(f), bf) << std::hex << b;
    }
  }
}

TEST(FloatFormats, Bf16TiesToEvenEverywhere) {
  for (uint32_t sign : {0u, 0x8000u}) {
    for (uint32_t low = 0; low < 0x7f7f; ++low) {  // 0x7f7f is the largest finite
      const uint16_t lo = static_cast<uint16_t>(sign | low);
      const uint16_t hi = static_cast<uint16_t>(sign | (low + 1));
      // The tie is the low half-word 0x8000 between them: exact by construction.
      const float tie = std::bit_cast<float>((static_cast<uint32_t>(lo) << 16) | 0x8000u);
      ASSERT_EQ(floatToBf16(tie), (lo & 1u) ? hi : lo) << std::hex << lo;
      ASSERT_EQ(floatToBf16(std::bit_cast<float>(bitsOf(tie) - 1)), lo) << std::hex << lo;
      ASSERT_EQ(floatToBf16(std::bit_cast<float>(bitsOf(tie) + 1)), hi) << std::hex << lo;
    }
  }
}

TEST(FloatFormats, Bf16OverflowAndSpecials) {
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::max()), 0x7f80u);  // rounds up to infinity
  EXPECT_EQ(floatToBf16(std::bit_cast<float>(0x7f7f7fffu)), 0x7f7fu);
  EXPECT_EQ(floatToBf16(INFINITY), 0x7f80u);
  EXPECT_EQ(floatToBf16(-INFINITY), 0xff80u);
  EXPECT_EQ(floatToBf16(std::bit_cast<float>(0x7f800001u)), 0x7fc0u);  // NaN stays NaN
  EXPECT_EQ(floatToBf16(std::bit_cast<float>(0xffffffffu)), 0xffffu);
  // Float subnormals are kept, not flushed.
  EXPECT_EQ(floatToBf16(std::bit_cast<float>(0x00018000u)), 0x0002u);  // tie, odd 1 -> 2
  EXPECT_EQ(floatToBf16(std::bit_cast<float>(0x00008000u)), 0x0000u);  // tie, even 0
  EXPECT_EQ(floatToBf16(1.0f), 0x3f80u);
  EXPECT_EQ(floatToBf16(-2.5f), 0xc020u);
}

// ---- fp8 -------------------------------------------------------------------------------------------

TEST(FloatFormats, E4m3ExhaustiveDecodeAndRoundTrip) {
  for (uint32_t v = 0; v < 256; ++v) {
    const uint8_t fp8 = static_cast<uint8_t>(v);
    const float f = e4m3ToFloat(fp8);
    if ((v & 0x7fu) == 0x7fu) {  // the only NaN encodings
      ASSERT_TRUE(std::isnan(f)) << v;
      ASSERT_EQ(floatToE4m3(f), fp8) << v;
      continue;
    }
    ASSERT_EQ(static_cast<double>(f), decodeByFormula(v, 4, 3)) << v;
    ASSERT_EQ(floatToE4m3(f), fp8) << v;
  }
  EXPECT_EQ(e4m3ToFloat(0x7e), 448.0f);
  EXPECT_EQ(e4m3ToFloat(0xfe), -448.0f);
  EXPECT_EQ(e4m3ToFloat(0x78), 256.0f);  // exponent 15 is an ordinary binade
  EXPECT_EQ(e4m3ToFloat(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(e4m3ToFloat(0x08), std::ldexp(1.0f, -6));
}

TEST(FloatFormats, E5m2ExhaustiveDecodeAndRoundTrip) {
  for (uint32_t v = 0; v < 256; ++v) {
    const uint8_t fp8 = static_cast<uint8_t>(v);
    const float f = e5m2ToFloat(fp8);
    const uint32_t magnitude = v & 0x7fu;
    if (magnitude > 0x7cu) {
      ASSERT_TRUE(std::isnan(f)) << v;
      ASSERT_EQ(floatToE5m2(f), fp8 | 0x02u) << v;  // quieted, top payload bit kept
      continue;
    }
    if (magnitude == 0x7cu) {
      ASSERT_TRUE(std::isinf(f)) << v;
    } else {
      ASSERT_EQ(static_cast<double>(f), decodeByFormula(v, 5, 2)) << v;
    }
    ASSERT_EQ(floatToE5m2(f), fp8) << v;
  }
  EXPECT_EQ(e5m2ToFloat(0x7b), 57344.0f);
  EXPECT_EQ(e5m2ToFloat(0x01), std::ldexp(1.0f, -16));
}

// Ties between every pair of neighbouring finite fp8 values, and between the largest finite value
// and one step above it (which E5M2 rounds to infinity and E4M3 saturates to 448): aboveLargest
// is the encoding expected for values nearer that step.
template <float (*kDecode)(uint8_t), uint8_t (*kEncode)(float)>
void checkFp8Ties(uint32_t largestFinite, uint8_t aboveLargest) {
  for (uint32_t sign : {0u, 0x80u}) {
    for (uint32_t low = 0; low <= largestFinite; ++low) {
      const uint8_t lo = static_cast<uint8_t>(sign | low);
      const uint8_t hi = static_cast<uint8_t>(sign | (low + 1));
      const double loValue = kDecode(lo);
      // One step above the largest finite value, in the same binade.
      const double step = low == largestFinite ? loValue - kDecode(static_cast<uint8_t>(lo - 1)) : 0;
      const double hiValue = low == largestFinite ? loValue + step : kDecode(hi);
      const float tie = static_cast<float>((loValue + hiValue) / 2);
      const uint8_t expectedHi = low == largestFinite ? static_cast<uint8_t>(sign | aboveLargest) : hi;
      const uint8_t expectedTie = (lo & 1u) ? expectedHi : lo;
      ASSERT_EQ(kEncode(tie), expectedTie) << "lo=" << int(lo);
      ASSERT_EQ(kEncode(std::nextafter(tie, 0.0f)), lo) << "lo=" << int(lo);
      ASSERT_EQ(kEncode(std::nextafter(tie, sign ? -INFINITY : INFINITY)), expectedHi) << "lo=" << int(lo);
    }
  }
}

TEST(FloatFormats, E4m3TiesToEvenAndSaturation) {
  checkFp8Ties<&e4m3ToFloat, &floatToE4m3>(0x7e, 0x7e);  // 464 is a tie with even 448
  // Beyond 448 everything saturates, infinity included; NaN stays NaN.
  EXPECT_EQ(floatToE4m3(464.0f), 0x7eu);
  EXPECT_EQ(floatToE4m3(480.0f), 0x7eu);
  EXPECT_EQ(floatToE4m3(1e30f), 0x7eu);
  EXPECT_EQ(floatToE4m3(INFINITY), 0x7eu);
  EXPECT_EQ(floatToE4m3(-INFINITY), 0xfeu);
  EXPECT_EQ(floatToE4m3(NAN), 0x7fu);
  EXPECT_EQ(floatToE4m3(-NAN), 0xffu);
  // Subnormals: 2^-9 is the smallest; 2^-10 ties with zero.
  EXPECT_EQ(floatToE4m3(std::ldexp(1.0f, -10)), 0x00u);
  EXPECT_EQ(floatToE4m3(std::ldexp(3.0f, -11)), 0x01u);
  EXPECT_EQ(floatToE4m3(std::ldexp(7.5f, -9)), 0x08u);  // largest subnormal carries to normal
  EXPECT_EQ(floatToE4m3(-std::ldexp(1.0f, -12)), 0x80u);
}

TEST(FloatFormats, E5m2TiesToEvenAndOverflow) {
  checkFp8Ties<&e5m2ToFloat, &floatToE5m2>(0x7b, 0x7c);  // 61440 is a tie with odd 57344
  EXPECT_EQ(floatToE5m2(57344.0f), 0x7bu);
  EXPECT_EQ(floatToE5m2(61439.0f), 0x7bu);
  EXPECT_EQ(floatToE5m2(61440.0f), 0x7cu);  // tie with odd max: rounds to infinity
  EXPECT_EQ(floatToE5m2(1e30f), 0x7cu);
  EXPECT_EQ(floatToE5m2(-INFINITY), 0xfcu);
  EXPECT_EQ(floatToE5m2(NAN), 0x7eu);
  EXPECT_EQ(floatToE5m2(std::ldexp(1.0f, -17)), 0x00u);
  EXPECT_EQ(floatToE5m2(std::ldexp(3.0f, -18)), 0x01u);
}

}  // namespace
}  // namespace strata
