// Bit-exact conversions between float and the narrow formats. Everything works on the integer
// encodings so that the result never depends on the FPU's rounding mode or on flush-to-zero, and
// so that it matches the hardware conversions (F16C) bit for bit, NaN payloads included.
#include "reduce/float_formats.h"

#include <bit>
#include <cstdint>

namespace strata {
namespace {

constexpr uint32_t kFloatSignMask = 0x80000000u;
constexpr uint32_t kFloatAbsMask = 0x7fffffffu;
constexpr uint32_t kFloatInfBits = 0x7f800000u;
constexpr uint32_t kFloatQuietBit = 0x00400000u;
constexpr int kFloatMantBits = 23;
constexpr int kFloatBias = 127;

// Rounds the magnitude of a finite or infinite (never NaN) float, given as its bits without the
// sign, to a binary format with kExpBits exponent bits and kMantBits mantissa bits, round to
// nearest even. Returns the narrow magnitude (exponent and mantissa fields). A result above the
// format's largest encoding means overflow; the caller decides between infinity and saturation.
// A carry out of the mantissa increments the exponent, which is exactly the right encoding both
// for subnormal -> smallest normal and for normal -> next binade.
template <int kExpBits, int kMantBits>
uint32_t roundMagnitude(uint32_t absBits) {
  constexpr int kBias = (1 << (kExpBits - 1)) - 1;
  constexpr int kDroppedBits = kFloatMantBits - kMantBits;
  const int floatExp = static_cast<int>(absBits >> kFloatMantBits);
  const uint32_t floatMant = absBits & ((1u << kFloatMantBits) - 1);
  const int narrowExp = floatExp - kFloatBias + kBias;

  uint32_t kept;       // the truncated narrow magnitude
  uint32_t remainder;  // the bits shifted out
  int shift;           // how many bits were shifted out
  if (narrowExp >= 1) {
    // Normal in the narrow format (or overflowing it: the caller checks the result).
    shift = kDroppedBits;
    kept = (static_cast<uint32_t>(narrowExp) << kMantBits) | (floatMant >> shift);
    remainder = floatMant & ((1u << shift) - 1);
  } else {
    // Subnormal in the narrow format: value = significand * 2^(floatExp - 150) and one narrow
    // subnormal step is 2^(1 - kBias - kMantBits).
    const uint32_t significand = floatExp == 0 ? floatMant : (floatMant | (1u << kFloatMantBits));
    const int effectiveExp = floatExp == 0 ? 1 : floatExp;
    shift = (1 - kBias - kMantBits) - (effectiveExp - kFloatBias - kFloatMantBits);
    // significand < 2^24, so with 25 or more bits shifted out it is below half a step.
    if (shift >= 25) return 0;
    kept = significand >> shift;
    remainder = significand & ((1u << shift) - 1);
  }
  const uint32_t halfway = 1u << (shift - 1);
  if (remainder > halfway || (remainder == halfway && (kept & 1u))) ++kept;
  return kept;
}

// Decodes the magnitude fields of a binary narrow format whose exponent field is not the
// special (inf/NaN) one; returns the float bits without sign. Exact: every narrow value fits.
template <int kExpBits, int kMantBits>
uint32_t decodeFiniteMagnitude(uint32_t exp, uint32_t mant) {
  constexpr int kBias = (1 << (kExpBits - 1)) - 1;
  if (exp == 0) {
    if (mant == 0) return 0;
    // Subnormal: normalise so that the leading 1 becomes the implicit bit.
    int floatExp = 1 - kBias + kFloatBias;
    while ((mant & (1u << kMantBits)) == 0) {
      mant <<= 1;
      --floatExp;
    }
    mant &= (1u << kMantBits) - 1;
    return (static_cast<uint32_t>(floatExp) << kFloatMantBits) | (mant << (kFloatMantBits - kMantBits));
  }
  return ((exp - kBias + kFloatBias) << kFloatMantBits) | (mant << (kFloatMantBits - kMantBits));
}

bool isNanBits(uint32_t bits) { return (bits & kFloatAbsMask) > kFloatInfBits; }

}  // namespace

float halfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) {
    // Inf, or NaN quieted with its payload kept, as vcvtph2ps does.
    const uint32_t special = mant == 0 ? kFloatInfBits : (kFloatInfBits | kFloatQuietBit | (mant << 13));
    return std::bit_cast<float>(sign | special);
  }
  return std::bit_cast<float>(sign | decodeFiniteMagnitude<5, 10>(exp, mant));
}

uint16_t floatToHalf(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (bits & kFloatSignMask) >> 16;
  const uint32_t absBits = bits & kFloatAbsMask;
  if (isNanBits(bits)) {
    // Quiet NaN with the top payload bits, as vcvtps2ph does.
    return static_cast<uint16_t>(sign | 0x7e00u | ((absBits >> 13) & 0x1ffu));
  }
  uint32_t magnitude = roundMagnitude<5, 10>(absBits);
  if (magnitude > 0x7c00u) magnitude = 0x7c00u;  // overflow is infinity
  return static_cast<uint16_t>(sign | magnitude);
}

float bf16ToFloat(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

uint16_t floatToBf16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  // NaN: keep sign and top payload, force the quiet bit so it cannot round into infinity.
  if (isNanBits(bits)) return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  // RNE on the low 16 bits; a carry into the exponent (up to infinity) is the correct result.
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

float e4m3ToFloat(uint8_t v) {
  const uint32_t sign = static_cast<uint32_t>(v & 0x80u) << 24;
  const uint32_t exp = (v >> 3) & 0xfu;
  const uint32_t mant = v & 0x7u;
  // E4M3 "fn": exponent 15 is an ordinary binade; only S.1111.111 is NaN, there is no infinity.
  if (exp == 0xf && mant == 0x7) return std::bit_cast<float>(sign | kFloatInfBits | kFloatQuietBit);
  return std::bit_cast<float>(sign | decodeFiniteMagnitude<4, 3>(exp, mant));
}

uint8_t floatToE4m3(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (bits & kFloatSignMask) >> 24;
  if (isNanBits(bits)) return static_cast<uint8_t>(sign | 0x7fu);
  uint32_t magnitude = roundMagnitude<4, 3>(bits & kFloatAbsMask);
  // Saturating conversion: anything that rounds past 448 (0x7e), infinity included, is 448.
  if (magnitude > 0x7eu) magnitude = 0x7eu;
  return static_cast<uint8_t>(sign | magnitude);
}

float e5m2ToFloat(uint8_t v) {
  const uint32_t sign = static_cast<uint32_t>(v & 0x80u) << 24;
  const uint32_t exp = (v >> 2) & 0x1fu;
  const uint32_t mant = v & 0x3u;
  if (exp == 0x1f) {
    const uint32_t special = mant == 0 ? kFloatInfBits : (kFloatInfBits | kFloatQuietBit | (mant << 21));
    return std::bit_cast<float>(sign | special);
  }
  return std::bit_cast<float>(sign | decodeFiniteMagnitude<5, 2>(exp, mant));
}

uint8_t floatToE5m2(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (bits & kFloatSignMask) >> 24;
  const uint32_t absBits = bits & kFloatAbsMask;
  // NaN: quiet bit set, the top payload bit kept (same rule as half, which E5M2 truncates).
  if (isNanBits(bits)) return static_cast<uint8_t>(sign | 0x7eu | ((absBits >> 21) & 1u));
  uint32_t magnitude = roundMagnitude<5, 2>(absBits);
  if (magnitude > 0x7cu) magnitude = 0x7cu;  // overflow is infinity, as in IEEE
  return static_cast<uint8_t>(sign | magnitude);
}

}  // namespace strata
