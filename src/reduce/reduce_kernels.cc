// The reduction loops, one per (type, op). This file is compiled three times, with
// STRATA_KERNEL_ISA = generic, avx2 or avx512 and the matching -m flags, and each object exports
// its KernelTable from namespace strata::kernels::<isa>. Integer and float32/float64 loops are
// plain loops left to the auto-vectorizer (it versions them with a run-time overlap check that
// still takes the vector path when dst == a or dst == b exactly). float16 uses F16C explicitly;
// bfloat16 uses integer shifts (explicit AVX2/AVX-512, auto-vectorized scalar form otherwise);
// fp8 is scalar. Every vector body loads its inputs before storing, so dst == a/b is safe.
#ifndef STRATA_KERNEL_ISA
#error "compile with -DSTRATA_KERNEL_ISA=generic, avx2 or avx512"
#endif

#include <array>
#include <bit>
#include <cstdint>
#include <type_traits>

#if defined(__F16C__) || defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "reduce/float_formats.h"
#include "reduce/kernel_table.h"

#define STRATA_KERNEL_STRINGIFY_(x) #x
#define STRATA_KERNEL_STRINGIFY(x) STRATA_KERNEL_STRINGIFY_(x)

// GCC 12 reports false -Wmaybe-uninitialized warnings inside the AVX-512 intrinsics (their
// self-initialised _mm512_undefined_*() placeholders, GCC PR105593) wherever they are inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace strata::kernels::STRATA_KERNEL_ISA {
namespace {

// ---- Element operations ----------------------------------------------------------------------
// Each op is applied to scalars and, for float16, to whole vectors of floats.

struct SumOp {
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      // Wraps modulo 2^bits: computed unsigned because signed overflow is undefined.
      using Unsigned = std::make_unsigned_t<T>;
      return static_cast<T>(static_cast<Unsigned>(a) + static_cast<Unsigned>(b));
    } else {
      return a + b;  // float, double, and the GCC vector types __m256/__m512
    }
  }
};

struct ProdOp {
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      // Wraps: computed in an unsigned type at least as wide as unsigned int, so that 8-bit
      // operands are not promoted to (signed, overflowing) int.
      using Unsigned = std::make_unsigned_t<T>;
      using Wide = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, Unsigned>;
      return static_cast<T>(static_cast<Wide>(static_cast<Unsigned>(a)) * static_cast<Unsigned>(b));
    } else {
      return a * b;
    }
  }
};

// Floating min/max are the plain comparisons `a < b ? a : b` / `a > b ? a : b`: when either input
// is NaN (or both are zeros of either sign) the result is b. These are exactly the semantics of
// x86 minps/maxps with a as the first operand, so the vector loops, the scalar tails and every
// ISA agree bit for bit; NaN propagation is deterministic but not symmetric.
struct MaxOp {
  template <typename T>
  T operator()(T a, T b) const {
    return a > b ? a : b;
  }
#if defined(__AVX__)
  __m256 operator()(__m256 a, __m256 b) const { return _mm256_max_ps(a, b); }
#endif
#if defined(__AVX512F__)
  __m512 operator()(__m512 a, __m512 b) const { return _mm512_max_ps(a, b); }
#endif
};

struct MinOp {
  template <typename T>
  T operator()(T a, T b) const {
    return a < b ? a : b;
  }
#if defined(__AVX__)
  __m256 operator()(__m256 a, __m256 b) const { return _mm256_min_ps(a, b); }
#endif
#if defined(__AVX512F__)
  __m512 operator()(__m512 a, __m512 b) const { return _mm512_min_ps(a, b); }
#endif
};

// The avg finalisation on floats: a / divisor, one rounding in float. The second operand is
// ignored (the narrow-float loops are binary).
struct DivideByOp {
  float divisor;
  float operator()(float a, float) const { return a / divisor; }
#if defined(__AVX__)
  __m256 operator()(__m256 a, __m256) const { return _mm256_div_ps(a, _mm256_set1_ps(divisor)); }
#endif
#if defined(__AVX512F__)
  __m512 operator()(__m512 a, __m512) const { return _mm512_div_ps(a, _mm512_set1_ps(divisor)); }
#endif
};

// ---- Plain types: int*, uint*, float32, float64 ----------------------------------------------

template <typename T, typename Op>
void reducePlain(void* dst, const void* a, const void* b, size_t count) {
  T* out = static_cast<T*>(dst);
  const T* x = static_cast<const T*>(a);
  const T* y = static_cast<const T*>(b);
  const Op op{};
  for (size_t i = 0; i < count; ++i) out[i] = op(x[i], y[i]);
}

// Integer avg: C++ division truncates toward zero (-7 / 2 == -3). Done in 64 bits so that any
// positive nranks is a valid divisor even for 8-bit types; the quotient always fits T.
template <typename T>
void divideInteger(void* dst, const void* src, size_t count, int nranks) {
  using Wide = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
  T* out = static_cast<T*>(dst);
  const T* in = static_cast<const T*>(src);
  const Wide divisor = static_cast<Wide>(nranks);
  for (size_t i = 0; i < count; ++i) out[i] = static_cast<T>(static_cast<Wide>(in[i]) / divisor);
}

// float32 divides in float, float64 in double: one rounding each.
template <typename T>
void divideFloating(void* dst, const void* src, size_t count, int nranks) {
  T* out = static_cast<T*>(dst);
  const T* in = static_cast<const T*>(src);
  const T divisor = static_cast<T>(nranks);
  for (size_t i = 0; i < count; ++i) out[i] = in[i] / divisor;
}

// ---- float16 -----------------------------------------------------------------------------------
// Convert to float, apply op, round back once with round-to-nearest-even. The F16C instructions
// and float_formats.cc agree bit for bit (NaNs included), so the vector body and the scalar tail
// give the same result for every element position.

template <typename Op>
void halfLoop(uint16_t* out, const uint16_t* x, const uint16_t* y, size_t count, Op op) {
  size_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= count; i += 16) {
    const __m512 fx = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)));
    const __m512 fy = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + i)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                        _mm512_cvtps_ph(op(fx, fy), _MM_FROUND_TO_NEAREST_INT));
  }
#endif
#if defined(__F16C__)
  for (; i + 8 <= count; i += 8) {
    const __m256 fx = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
    const __m256 fy = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(y + i)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(op(fx, fy), _MM_FROUND_TO_NEAREST_INT));
  }
#endif
  // The tail (and everything in the generic build, which cannot assume F16C).
  for (; i < count; ++i) out[i] = floatToHalf(op(halfToFloat(x[i]), halfToFloat(y[i])));
}

template <typename Op>
void reduceHalf(void* dst, const void* a, const void* b, size_t count) {
  halfLoop(static_cast<uint16_t*>(dst), static_cast<const uint16_t*>(a),
           static_cast<const uint16_t*>(b), count, Op{});
}

void divideHalf(void* dst, const void* src, size_t count, int nranks) {
  const auto* in = static_cast<const uint16_t*>(src);
  halfLoop(static_cast<uint16_t*>(dst), in, in, count, DivideByOp{static_cast<float>(nranks)});
}

// ---- bfloat16 ----------------------------------------------------------------------------------
// The same bits as bf16ToFloat/floatToBf16 in float_formats.cc: widen with a 16-bit shift, round
// back with round-to-nearest-even on the low half-word, NaN forced quiet so that it cannot round
// into infinity. The AVX2/AVX-512 bodies spell this out in intrinsics because GCC's own
// vectorization of the scalar form repacks to 16 bits twice and runs at half the speed; the
// scalar form below is the tail and the generic build (where it auto-vectorizes with SSE2).
// AVX512_BF16's vcvtneps2bf16 is not used: it flushes denormal inputs to zero.

inline float bf16BitsToFloat(uint16_t v) { return std::bit_cast<float>(static_cast<uint32_t>(v) << 16); }

inline uint16_t floatToBf16Bits(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint32_t rounded = bits + 0x7fffu + ((bits >> 16) & 1u);
  const uint32_t quietNan = bits | 0x00400000u;
  return static_cast<uint16_t>(((bits & 0x7fffffffu) > 0x7f800000u ? quietNan : rounded) >> 16);
}

template <typename Op>
void bf16Loop(uint16_t* out, const uint16_t* x, const uint16_t* y, size_t count, Op op) {
  size_t i = 0;
#if defined(__AVX512F__)
  {
    const __m512i roundingBias = _mm512_set1_epi32(0x7fff);
    const __m512i one = _mm512_set1_epi32(1);
    const __m512i quietBit = _mm512_set1_epi32(0x00400000);
    for (; i + 16 <= count; i += 16) {
      const __m512i wx = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)));
      const __m512i wy = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + i)));
      const __m512 result = op(_mm512_castsi512_ps(_mm512_slli_epi32(wx, 16)),
                               _mm512_castsi512_ps(_mm512_slli_epi32(wy, 16)));
      const __m512i bits = _mm512_castps_si512(result);
      const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), one);
      const __m512i rounded = _mm512_add_epi32(bits, _mm512_add_epi32(roundingBias, lsb));
      const __mmask16 isNan = _mm512_cmp_ps_mask(result, result, _CMP_UNORD_Q);
      const __m512i narrowed = _mm512_mask_or_epi32(rounded, isNan, bits, quietBit);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                          _mm512_cvtepi32_epi16(_mm512_srli_epi32(narrowed, 16)));
    }
  }
#endif
#if defined(__AVX2__)
  {
    const __m256i roundingBias = _mm256_set1_epi32(0x7fff);
    const __m256i one = _mm256_set1_epi32(1);
    const __m256i quietBit = _mm256_set1_epi32(0x00400000);
    for (; i + 8 <= count; i += 8) {
      const __m256i wx = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
      const __m256i wy = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(y + i)));
      const __m256 result = op(_mm256_castsi256_ps(_mm256_slli_epi32(wx, 16)),
                               _mm256_castsi256_ps(_mm256_slli_epi32(wy, 16)));
      const __m256i bits = _mm256_castps_si256(result);
      const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), one);
      const __m256i rounded = _mm256_add_epi32(bits, _mm256_add_epi32(roundingBias, lsb));
      const __m256i isNan = _mm256_castps_si256(_mm256_cmp_ps(result, result, _CMP_UNORD_Q));
      const __m256i narrowed = _mm256_blendv_epi8(rounded, _mm256_or_si256(bits, quietBit), isNan);
      // Every lane is now below 2^16 after the shift, so the unsigned-saturating pack is exact.
      const __m256i shifted = _mm256_srli_epi32(narrowed, 16);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                       _mm_packus_epi32(_mm256_castsi256_si128(shifted), _mm256_extracti128_si256(shifted, 1)));
    }
  }
#endif
  for (; i < count; ++i) out[i] = floatToBf16Bits(op(bf16BitsToFloat(x[i]), bf16BitsToFloat(y[i])));
}

template <typename Op>
void reduceBf16(void* dst, const void* a, const void* b, size_t count) {
  bf16Loop(static_cast<uint16_t*>(dst), static_cast<const uint16_t*>(a), static_cast<const uint16_t*>(b),
           count, Op{});
}

void divideBf16(void* dst, const void* src, size_t count, int nranks) {
  const auto* in = static_cast<const uint16_t*>(src);
  bf16Loop(static_cast<uint16_t*>(dst), in, in, count, DivideByOp{static_cast<float>(nranks)});
}

// ---- fp8 (E4M3, E5M2) --------------------------------------------------------------------------
// Scalar: decoding through a 256-entry table, encoding through float_formats.cc.

using Fp8Table = std::array<float, 256>;

template <float (*kDecode)(uint8_t)>
const Fp8Table& fp8DecodeTable() {
  static const Fp8Table table = [] {
    Fp8Table t{};
    for (int v = 0; v < 256; ++v) t[v] = kDecode(static_cast<uint8_t>(v));
    return t;
  }();
  return table;
}

template <float (*kDecode)(uint8_t), uint8_t (*kEncode)(float), typename Op>
void reduceFp8(void* dst, const void* a, const void* b, size_t count) {
  auto* out = static_cast<uint8_t*>(dst);
  const auto* x = static_cast<const uint8_t*>(a);
  const auto* y = static_cast<const uint8_t*>(b);
  const Fp8Table& decode = fp8DecodeTable<kDecode>();  // one guard check per call, not per element
  const Op op{};
  for (size_t i = 0; i < count; ++i) out[i] = kEncode(op(decode[x[i]], decode[y[i]]));
}

template <float (*kDecode)(uint8_t), uint8_t (*kEncode)(float)>
void divideFp8(void* dst, const void* src, size_t count, int nranks) {
  auto* out = static_cast<uint8_t*>(dst);
  const auto* in = static_cast<const uint8_t*>(src);
  const Fp8Table& decode = fp8DecodeTable<kDecode>();
  const float divisor = static_cast<float>(nranks);
  for (size_t i = 0; i < count; ++i) out[i] = kEncode(decode[in[i]] / divisor);
}

// ---- The table -----------------------------------------------------------------------------------

// One row of reduce kernels: sum, prod, max, min, and avg (= sum; finalize divides).
template <template <typename> class Kernel>
constexpr void fillRow(ReduceFn (&row)[strataNumOps]) {
  row[strataSum] = &Kernel<SumOp>::run;
  row[strataProd] = &Kernel<ProdOp>::run;
  row[strataMax] = &Kernel<MaxOp>::run;
  row[strataMin] = &Kernel<MinOp>::run;
  row[strataAvg] = &Kernel<SumOp>::run;
}

template <typename T>
struct PlainKernel {
  template <typename Op>
  struct Of {
    static void run(void* d, const void* a, const void* b, size_t n) { reducePlain<T, Op>(d, a, b, n); }
  };
};

template <typename Op>
struct HalfKernel {
  static void run(void* d, const void* a, const void* b, size_t n) { reduceHalf<Op>(d, a, b, n); }
};

template <typename Op>
struct Bf16Kernel {
  static void run(void* d, const void* a, const void* b, size_t n) { reduceBf16<Op>(d, a, b, n); }
};

template <typename Op>
struct E4m3Kernel {
  static void run(void* d, const void* a, const void* b, size_t n) {
    reduceFp8<&e4m3ToFloat, &floatToE4m3, Op>(d, a, b, n);
  }
};

template <typename Op>
struct E5m2Kernel {
  static void run(void* d, const void* a, const void* b, size_t n) {
    reduceFp8<&e5m2ToFloat, &floatToE5m2, Op>(d, a, b, n);
  }
};

constexpr KernelTable makeTable() {
  KernelTable t{};
  t.isa = STRATA_KERNEL_STRINGIFY(STRATA_KERNEL_ISA);
  fillRow<PlainKernel<int8_t>::Of>(t.reduce[strataInt8]);
  fillRow<PlainKernel<uint8_t>::Of>(t.reduce[strataUint8]);
  fillRow<PlainKernel<int32_t>::Of>(t.reduce[strataInt32]);
  fillRow<PlainKernel<uint32_t>::Of>(t.reduce[strataUint32]);
  fillRow<PlainKernel<int64_t>::Of>(t.reduce[strataInt64]);
  fillRow<PlainKernel<uint64_t>::Of>(t.reduce[strataUint64]);
  fillRow<HalfKernel>(t.reduce[strataFloat16]);
  fillRow<PlainKernel<float>::Of>(t.reduce[strataFloat32]);
  fillRow<PlainKernel<double>::Of>(t.reduce[strataFloat64]);
  fillRow<Bf16Kernel>(t.reduce[strataBfloat16]);
  fillRow<E4m3Kernel>(t.reduce[strataFloat8e4m3]);
  fillRow<E5m2Kernel>(t.reduce[strataFloat8e5m2]);

  t.divide[strataInt8] = &divideInteger<int8_t>;
  t.divide[strataUint8] = &divideInteger<uint8_t>;
  t.divide[strataInt32] = &divideInteger<int32_t>;
  t.divide[strataUint32] = &divideInteger<uint32_t>;
  t.divide[strataInt64] = &divideInteger<int64_t>;
  t.divide[strataUint64] = &divideInteger<uint64_t>;
  t.divide[strataFloat16] = &divideHalf;
  t.divide[strataFloat32] = &divideFloating<float>;
  t.divide[strataFloat64] = &divideFloating<double>;
  t.divide[strataBfloat16] = &divideBf16;
  t.divide[strataFloat8e4m3] = &divideFp8<&e4m3ToFloat, &floatToE4m3>;
  t.divide[strataFloat8e5m2] = &divideFp8<&e5m2ToFloat, &floatToE5m2>;
  return t;
}

// Constant-initialised: no static-init order or guard on the hot path.
constinit const KernelTable kTable = makeTable();

}  // namespace

const KernelTable& table() { return kTable; }

}  // namespace strata::kernels::STRATA_KERNEL_ISA

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
