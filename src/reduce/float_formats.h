// Conversions between float and the narrow floating formats Strata reduces: IEEE binary16,
// bfloat16, and the OCP 8-bit formats E4M3 (no infinities, max 448) and E5M2. Rounding to the
// narrow format is round-to-nearest-even, as GPUs do.
#pragma once

#include <cstdint>

namespace strata {

float halfToFloat(uint16_t h);
uint16_t floatToHalf(float f);
float bf16ToFloat(uint16_t b);
uint16_t floatToBf16(float f);
float e4m3ToFloat(uint8_t v);
uint8_t floatToE4m3(float f);  // saturates to +-448; NaN stays NaN
float e5m2ToFloat(uint8_t v);
uint8_t floatToE5m2(float f);  // overflow rounds to infinity, as IEEE does

}  // namespace strata
