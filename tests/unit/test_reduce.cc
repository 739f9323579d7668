// reduce()/finalize() against a scalar reference built on float_formats, for every ISA this CPU
// runs, every type, every op, counts around every vector width, in place and out of place.
// Comparisons are on bit patterns: no tolerance anywhere.
#include "reduce/reduce.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "reduce/float_formats.h"

namespace strata {
namespace {

constexpr size_t kCounts[] = {0, 1, 2, 3, 7, 15, 16, 17, 31, 33, 63, 64, 65, 1000, 4099};
constexpr strataRedOp_t kOps[] = {strataSum, strataProd, strataMax, strataMin, strataAvg};
constexpr const char* kIsas[] = {"generic", "avx2", "avx512"};

// Which inputs a case uses: small integers (every result exact in every type, except where the
// narrow format itself must round, e.g. 3*3 in E5M2) or any finite/any integer bit pattern
// (exercises wrap-around, rounding, subnormals and overflow to infinity).
enum class Values { kSmallIntegers, kAnyFinite };

// A name for messages (the C API's strataTypeName lives in another layer).
const char* typeName(strataDataType_t type) {
  static const char* const kNames[] = {"int8",    "uint8",   "int32",   "uint32",   "int64",   "uint64",
                                       "float16", "float32", "float64", "bfloat16", "fp8e4m3", "fp8e5m2"};
  return kNames[type];
}

// ---- The reference: one element at a time, through float_formats ---------------------------------

template <typename T>
T referenceInteger(T a, T b, strataRedOp_t op) {
  using Unsigned = std::make_unsigned_t<T>;
  // Wrap-around: computed in 64-bit unsigned and truncated, i.e. modulo 2^bits.
  const uint64_t ua = static_cast<Unsigned>(a), ub = static_cast<Unsigned>(b);
  switch (op) {
    case strataSum:
    case strataAvg: return static_cast<T>(static_cast<Unsigned>(ua + ub));
    case strataProd: return static_cast<T>(static_cast<Unsigned>(ua * ub));
    case strataMax: return a > b ? a : b;
    case strataMin: return a < b ? a : b;
    default: ADD_FAILURE(); return 0;
  }
}

// The documented float semantics: one op in F (float, or double for float64); min/max are the
// plain comparisons.
template <typename F>
F referenceFloating(F a, F b, strataRedOp_t op) {
  switch (op) {
    case strataSum:
    case strataAvg: return a + b;
    case strataProd: return a * b;
    case strataMax: return a > b ? a : b;
    case strataMin: return a < b ? a : b;
    default: ADD_FAILURE(); return 0;
  }
}

float identityFloat(float f) { return f; }
double identityDouble(double d) { return d; }

// A floating type: storage S, computed in F through decode/encode.
template <typename S, typename F, F (*kDecode)(S), S (*kEncode)(F)>
struct FloatingType {
  using Storage = S;
  static S reference(S a, S b, strataRedOp_t op) {
    return kEncode(referenceFloating<F>(kDecode(a), kDecode(b), op));
  }
  static S average(S sum, int nranks) { return kEncode(kDecode(sum) / static_cast<F>(nranks)); }
  static S fromInteger(int v) { return kEncode(static_cast<F>(v)); }
  static bool isFinite(S s) { return std::isfinite(kDecode(s)); }
};

template <typename T>
struct IntegerType {
  using Storage = T;
  static T reference(T a, T b, strataRedOp_t op) { return referenceInteger(a, b, op); }
  static T average(T sum, int nranks) {
    // C++ integer division truncates toward zero.
    using Wide = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
    return static_cast<T>(static_cast<Wide>(sum) / static_cast<Wide>(nranks));
  }
  static T fromInteger(int v) { return static_cast<T>(v); }
  static bool isFinite(T) { return true; }
};

using Float16Type = FloatingType<uint16_t, float, &halfToFloat, &floatToHalf>;
using Bfloat16Type = FloatingType<uint16_t, float, &bf16ToFloat, &floatToBf16>;
using E4m3Type = FloatingType<uint8_t, float, &e4m3ToFloat, &floatToE4m3>;
using E5m2Type = FloatingType<uint8_t, float, &e5m2ToFloat, &floatToE5m2>;
using Float32Type = FloatingType<float, float, &identityFloat, &identityFloat>;
using Float64Type = FloatingType<double, double, &identityDouble, &identityDouble>;

// ---- Inputs ------------------------------------------------------------------------------------

template <typename Type>
std::vector<typename Type::Storage> makeInputs(size_t count, Values values, std::mt19937_64& rng) {
  using S = typename Type::Storage;
  std::vector<S> out(count);
  for (S& v : out) {
    if (values == Values::kSmallIntegers) {
      // -4..4 (0..8 for unsigned): products and sums of two are exact in every type but E5M2's 9.
      const int small = static_cast<int>(rng() % 9) - (std::is_unsigned_v<S> ? 0 : 4);
      v = Type::fromInteger(small);
    } else {
      do {  // any bit pattern that is a finite value (every pattern, for integers)
        uint64_t bits = rng();
        std::memcpy(&v, &bits, sizeof v);
      } while (!Type::isFinite(v));
    }
  }
  return out;
}

template <typename S>
std::string hexBits(S v) {
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof v);
  return fmt::format("{:#x}", bits);
}

template <typename S>
void expectSameBits(const std::vector<S>& actual, const std::vector<S>& expected, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    ASSERT_EQ(std::memcmp(&actual[i], &expected[i], sizeof(S)), 0)
        << what << " element " << i << ": got " << hexBits(actual[i]) << ", expected " << hexBits(expected[i]);
  }
}

// The ISAs this CPU runs, each forced in turn; restores automatic choice afterwards.
std::vector<const char*> supportedIsas() {
  std::vector<const char*> isas;
  for (const char* isa : kIsas) {
    if (forceReduceKernelIsa(isa)) isas.push_back(isa);
  }
  forceReduceKernelIsa(nullptr);
  return isas;
}

// Out of place, dst == a, dst == b; each compared with the reference element by element. Returns
// the number of (isa, op, count, placement, values) cases checked.
template <typename Type>
int checkReduceAllCases(strataDataType_t type) {
  using S = typename Type::Storage;
  std::mt19937_64 rng(1000 + type);
  int cases = 0;
  for (const char* isa : supportedIsas()) {
    EXPECT_TRUE(forceReduceKernelIsa(isa));
    EXPECT_STREQ(reduceKernelIsa(), isa);
    for (Values values : {Values::kSmallIntegers, Values::kAnyFinite}) {
      for (strataRedOp_t op : kOps) {
        for (size_t count : kCounts) {
          const std::vector<S> a = makeInputs<Type>(count, values, rng);
          const std::vector<S> b = makeInputs<Type>(count, values, rng);
          std::vector<S> expected(count);
          for (size_t i = 0; i < count; ++i) expected[i] = Type::reference(a[i], b[i], op);
          const std::string what = fmt::format("{} {} op {} count {} values {}", isa, typeName(type),
                                               static_cast<int>(op), count, static_cast<int>(values));

          std::vector<S> out(count);
          reduce(out.data(), a.data(), b.data(), count, type, op);
          expectSameBits(out, expected, what + " out of place");

          std::vector<S> inPlaceA = a;
          reduce(inPlaceA.data(), inPlaceA.data(), b.data(), count, type, op);
          expectSameBits(inPlaceA, expected, what + " dst == a");

          std::vector<S> inPlaceB = b;
          reduce(inPlaceB.data(), a.data(), inPlaceB.data(), count, type, op);
          expectSameBits(inPlaceB, expected, what + " dst == b");

          // Unaligned: everything shifted by one element.
          if (count > 0) {
            std::vector<S> a1(count + 1), b1(count + 1), out1(count + 1);
            std::copy(a.begin(), a.end(), a1.begin() + 1);
            std::copy(b.begin(), b.end(), b1.begin() + 1);
            reduce(out1.data() + 1, a1.data() + 1, b1.data() + 1, count, type, op);
            expectSameBits(std::vector<S>(out1.begin() + 1, out1.end()), expected, what + " unaligned");
          }
          cases += 4;
        }
      }
    }
  }
  forceReduceKernelIsa(nullptr);
  return cases;
}

// avg = reduce(avg) (a sum) then finalize(nranks), compared with the reference division.
template <typename Type>
void checkAverage(strataDataType_t type) {
  using S = typename Type::Storage;
  std::mt19937_64 rng(2000 + type);
  for (const char* isa : supportedIsas()) {
    ASSERT_TRUE(forceReduceKernelIsa(isa));
    for (Values values : {Values::kSmallIntegers, Values::kAnyFinite}) {
      for (int nranks : {1, 2, 3, 7, 1000}) {
        for (size_t count : kCounts) {
          const std::vector<S> a = makeInputs<Type>(count, values, rng);
          const std::vector<S> b = makeInputs<Type>(count, values, rng);
          std::vector<S> expected(count);
          for (size_t i = 0; i < count; ++i) {
            expected[i] = Type::average(Type::reference(a[i], b[i], strataSum), nranks);
          }
          const std::string what =
              fmt::format("{} {} nranks {} count {}", isa, typeName(type), nranks, count);
          std::vector<S> sum(count), out(count);
          reduce(sum.data(), a.data(), b.data(), count, type, strataAvg);
          finalize(out.data(), sum.data(), count, type, strataAvg, nranks);
          expectSameBits(out, expected, what + " out of place");
          finalize(sum.data(), sum.data(), count, type, strataAvg, nranks);
          expectSameBits(sum, expected, what + " in place");
        }
      }
    }
  }
  forceReduceKernelIsa(nullptr);
}

// Each type runs all ISAs x values x ops x counts x 4 placements.
constexpr int kCasesPerIsa = 2 * 5 * static_cast<int>(std::size(kCounts)) * 4;

#define STRATA_REDUCE_TYPE_TEST(Name, TypeDesc, Enum)                                   \
  TEST(Reduce, Name) {                                                                  \
    EXPECT_EQ(checkReduceAllCases<TypeDesc>(Enum),                                      \
              kCasesPerIsa * static_cast<int>(supportedIsas().size()));                 \
  }                                                                                     \
  TEST(ReduceAverage, Name) { checkAverage<TypeDesc>(Enum); }

STRATA_REDUCE_TYPE_TEST(Int8, IntegerType<int8_t>, strataInt8)
STRATA_REDUCE_TYPE_TEST(Uint8, IntegerType<uint8_t>, strataUint8)
STRATA_REDUCE_TYPE_TEST(Int32, IntegerType<int32_t>, strataInt32)
STRATA_REDUCE_TYPE_TEST(Uint32, IntegerType<uint32_t>, strataUint32)
STRATA_REDUCE_TYPE_TEST(Int64, IntegerType<int64_t>, strataInt64)
STRATA_REDUCE_TYPE_TEST(Uint64, IntegerType<uint64_t>, strataUint64)
STRATA_REDUCE_TYPE_TEST(Float16, Float16Type, strataFloat16)
STRATA_REDUCE_TYPE_TEST(Float32, Float32Type, strataFloat32)
STRATA_REDUCE_TYPE_TEST(Float64, Float64Type, strataFloat64)
STRATA_REDUCE_TYPE_TEST(Bfloat16, Bfloat16Type, strataBfloat16)
STRATA_REDUCE_TYPE_TEST(Fp8e4m3, E4m3Type, strataFloat8e4m3)
STRATA_REDUCE_TYPE_TEST(Fp8e5m2, E5m2Type, strataFloat8e5m2)

TEST(Reduce, IsaSelection) {
  const std::vector<const char*> isas = supportedIsas();
  ASSERT_FALSE(isas.empty());
  EXPECT_STREQ(isas.front(), "generic");  // always available
  EXPECT_FALSE(forceReduceKernelIsa("sse9"));
  EXPECT_TRUE(forceReduceKernelIsa(nullptr));
  // The automatic choice is the widest supported ISA (the list is in increasing width).
  EXPECT_STREQ(reduceKernelIsa(), isas.back());
  std::printf("reduce kernels: %s (supported:", reduceKernelIsa());
  for (const char* isa : isas) std::printf(" %s", isa);
  std::printf(")\n");
}

TEST(Reduce, IntegerWrapsAround) {
  for (const char* isa : supportedIsas()) {
    ASSERT_TRUE(forceReduceKernelIsa(isa));
    std::vector<int32_t> a(40, std::numeric_limits<int32_t>::max()), b(40, 1), out(40);
    reduce(out.data(), a.data(), b.data(), out.size(), strataInt32, strataSum);
    for (int32_t v : out) ASSERT_EQ(v, std::numeric_limits<int32_t>::min()) << isa;
    std::vector<int8_t> c(70, 16), d(70, 16), out8(70);
    reduce(out8.data(), c.data(), d.data(), out8.size(), strataInt8, strataProd);
    for (int8_t v : out8) ASSERT_EQ(v, 0) << isa;  // 256 mod 256
    std::vector<int64_t> e(9, std::numeric_limits<int64_t>::min()), f(9, -1), out64(9);
    reduce(out64.data(), e.data(), f.data(), out64.size(), strataInt64, strataProd);
    for (int64_t v : out64) ASSERT_EQ(v, std::numeric_limits<int64_t>::min()) << isa;  // -(-2^63) wraps
  }
  forceReduceKernelIsa(nullptr);
}

// Integer avg truncates toward zero: -7 / 2 == -3, 7 / 2 == 3, -1 / 3 == 0.
TEST(ReduceAverage, IntegerDivisionTruncatesTowardZero) {
  const int8_t in8[] = {-7, 7, -1, -128, 127};
  int8_t out8[5];
  finalize(out8, in8, 5, strataInt8, strataAvg, 2);
  EXPECT_EQ(out8[0], -3);
  EXPECT_EQ(out8[1], 3);
  EXPECT_EQ(out8[2], 0);
  EXPECT_EQ(out8[3], -64);
  EXPECT_EQ(out8[4], 63);
  finalize(out8, in8, 5, strataInt8, strataAvg, 300);  // nranks above int8's range
  for (int8_t v : out8) EXPECT_EQ(v, 0);
  const int64_t in64[] = {-7, std::numeric_limits<int64_t>::min()};
  int64_t out64[2];
  finalize(out64, in64, 2, strataInt64, strataAvg, 2);
  EXPECT_EQ(out64[0], -3);
  EXPECT_EQ(out64[1], std::numeric_limits<int64_t>::min() / 2);
  const uint32_t inU32[] = {0xffffffffu};
  uint32_t outU32[1];
  finalize(outU32, inU32, 1, strataUint32, strataAvg, 2);
  EXPECT_EQ(outU32[0], 0x7fffffffu);
}

// For ops other than avg, finalize is a copy (nothing in place).
TEST(ReduceAverage, FinalizeOtherOpsCopies) {
  const std::vector<double> src = {1.5, -2.25, 3.0};
  std::vector<double> dst(3, 0.0);
  for (strataRedOp_t op : {strataSum, strataProd, strataMax, strataMin}) {
    std::fill(dst.begin(), dst.end(), 0.0);
    finalize(dst.data(), src.data(), src.size(), strataFloat64, op, 4);
    EXPECT_EQ(dst, src);
  }
  std::vector<double> same = src;
  finalize(same.data(), same.data(), same.size(), strataFloat64, strataSum, 4);
  EXPECT_EQ(same, src);
}

// Same bits as the reference, except that where both are NaN for sum/prod any NaN is accepted:
// IEEE leaves open which input NaN propagates, and compilers commute + and * (so x86 returns the
// NaN of whichever operand ended up first).
template <typename S, typename Decode>
void expectSameBitsNanAgnostic(const std::vector<S>& actual, const std::vector<S>& expected, Decode decode,
                               const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    if (std::isnan(decode(expected[i]))) {
      ASSERT_TRUE(std::isnan(decode(actual[i]))) << what << " element " << i << ": got " << hexBits(actual[i]);
      continue;
    }
    ASSERT_EQ(std::memcmp(&actual[i], &expected[i], sizeof(S)), 0)
        << what << " element " << i << ": got " << hexBits(actual[i]) << ", expected " << hexBits(expected[i]);
  }
}

// Special values through every ISA. min/max are exact bit for bit even with NaNs and signed
// zeros (`a < b ? a : b` returns b when either is NaN); sum/prod give the reference bits, or a NaN
// where the reference is NaN (inf - inf, 0 * inf, NaN inputs).
TEST(Reduce, SpecialValuesIdenticalAcrossIsas) {
  const float specials[] = {0.0f, -0.0f, 1.0f, -1.0f, INFINITY, -INFINITY, NAN, -NAN, 65504.0f, 1e-7f};
  std::vector<float> fa, fb;
  for (float x : specials) {
    for (float y : specials) {
      fa.push_back(x);
      fb.push_back(y);
    }
  }
  const size_t n = fa.size();
  std::vector<uint16_t> ha(n), hb(n), ba(n), bb(n);
  for (size_t i = 0; i < n; ++i) {
    ha[i] = floatToHalf(fa[i]);
    hb[i] = floatToHalf(fb[i]);
    ba[i] = floatToBf16(fa[i]);
    bb[i] = floatToBf16(fb[i]);
  }
  for (strataRedOp_t op : kOps) {
    std::vector<uint16_t> halfExpected(n), bf16Expected(n);
    std::vector<float> floatExpected(n);
    for (size_t i = 0; i < n; ++i) {
      halfExpected[i] = Float16Type::reference(ha[i], hb[i], op);
      bf16Expected[i] = Bfloat16Type::reference(ba[i], bb[i], op);
      floatExpected[i] = Float32Type::reference(fa[i], fb[i], op);
    }
    for (const char* isa : supportedIsas()) {
      ASSERT_TRUE(forceReduceKernelIsa(isa));
      std::vector<uint16_t> halfOut(n), bf16Out(n);
      std::vector<float> floatOut(n);
      reduce(halfOut.data(), ha.data(), hb.data(), n, strataFloat16, op);
      reduce(bf16Out.data(), ba.data(), bb.data(), n, strataBfloat16, op);
      reduce(floatOut.data(), fa.data(), fb.data(), n, strataFloat32, op);
      const std::string what = fmt::format("{} op {}", isa, static_cast<int>(op));
      if (op == strataMax || op == strataMin) {
        expectSameBits(halfOut, halfExpected, what + " float16");
        expectSameBits(bf16Out, bf16Expected, what + " bfloat16");
        expectSameBits(floatOut, floatExpected, what + " float32");
      } else {
        expectSameBitsNanAgnostic(halfOut, halfExpected, &halfToFloat, what + " float16");
        expectSameBitsNanAgnostic(bf16Out, bf16Expected, &bf16ToFloat, what + " bfloat16");
        expectSameBitsNanAgnostic(floatOut, floatExpected, &identityFloat, what + " float32");
      }
    }
  }
  forceReduceKernelIsa(nullptr);
}

TEST(Reduce, RejectsUnknownTypeAndOp) {
  int32_t a = 1, b = 2, out = 0;
  try {
    reduce(&out, &a, &b, 1, static_cast<strataDataType_t>(strataNumTypes), strataSum);
    FAIL() << "unknown type accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), strataInvalidArgument);
  }
  try {
    reduce(&out, &a, &b, 1, strataInt32, static_cast<strataRedOp_t>(-1));
    FAIL() << "unknown op accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), strataInvalidArgument);
  }
  try {
    finalize(&out, &a, 1, strataInt32, strataAvg, 0);
    FAIL() << "avg over zero ranks accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), strataInvalidArgument);
  }
}

}  // namespace
}  // namespace strata
