#include "reduce_check.h"

#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "reduce/cuda/reduce_cuda.h"

namespace strata::gpu::check {
namespace {

void cudaOk(cudaError_t rc, const char* what) {
  if (rc != cudaSuccess)
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorName(rc) + ": " + cudaGetErrorString(rc));
}

size_t typeSize(strataDataType_t type) { return elementBytes(type); }

bool isInteger(strataDataType_t type) { return type <= strataUint64; }

// Whether an element's bits are a NaN of its format.
bool isNan(const unsigned char* p, strataDataType_t type) {
  uint64_t bits = 0;
  std::memcpy(&bits, p, typeSize(type));
  switch (type) {
    case strataFloat16: return (bits & 0x7fff) > 0x7c00;
    case strataBfloat16: return (bits & 0x7fff) > 0x7f80;
    case strataFloat32: return (bits & 0x7fffffffu) > 0x7f800000u;
    case strataFloat64: return (bits & 0x7fffffffffffffffull) > 0x7ff0000000000000ull;
    case strataFloat8e4m3: return (bits & 0x7f) == 0x7f;
    case strataFloat8e5m2: return (bits & 0x7f) > 0x7c;
    default: return false;
  }
}

// Equal bits, or both NaN: a GPU's arithmetic on a NaN gives the canonical NaN where x86 keeps
// the operand's payload and sign, so only NaN-ness can agree there (min/max, which select an
// operand, keep it on both).
bool sameElement(const unsigned char* got, const unsigned char* expected, strataDataType_t type) {
  return std::memcmp(got, expected, typeSize(type)) == 0 || (isNan(got, type) && isNan(expected, type));
}

const char* kTypeNames[] = {"int8", "uint8", "int32", "uint32", "int64", "uint64",
                            "half", "float", "double", "bfloat16", "fp8e4m3", "fp8e5m2"};
const char* kOpNames[] = {"sum", "prod", "max", "min", "avg"};

struct Rng {
  uint64_t state;
  uint64_t next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
};

// Small integers in the element type: every sum and product of three of them is exact in every
// format, fp8 E5M2 (3 significant bits) included.
void fillSmallIntegers(std::vector<unsigned char>& bytes, strataDataType_t type, size_t count, Rng& rng) {
  bytes.resize(count * typeSize(type));
  for (size_t i = 0; i < count; ++i) {
    const int v = static_cast<int>(rng.next() % 5) - 2;  // -2 .. 2
    unsigned char* p = bytes.data() + i * typeSize(type);
    switch (type) {
      case strataFloat16: { const uint16_t table[] = {0xc000, 0xbc00, 0x0000, 0x3c00, 0x4000}; std::memcpy(p, &table[v + 2], 2); break; }
      case strataBfloat16: { const uint16_t table[] = {0xc000, 0xbf80, 0x0000, 0x3f80, 0x4000}; std::memcpy(p, &table[v + 2], 2); break; }
      case strataFloat8e4m3: { const uint8_t table[] = {0xc0, 0xb8, 0x00, 0x38, 0x40}; *p = table[v + 2]; break; }
      case strataFloat8e5m2: { const uint8_t table[] = {0xc0, 0xbc, 0x00, 0x3c, 0x40}; *p = table[v + 2]; break; }
      case strataFloat32: { const float f = static_cast<float>(v); std::memcpy(p, &f, 4); break; }
      case strataFloat64: { const double d = v; std::memcpy(p, &d, 8); break; }
      default: { const int64_t x = v; std::memcpy(p, &x, typeSize(type)); break; }  // little endian
    }
  }
}

void fillBits(std::vector<unsigned char>& bytes, strataDataType_t type, size_t count, Rng& rng) {
  bytes.resize(count * typeSize(type));
  for (auto& b : bytes) b = static_cast<unsigned char>(rng.next() >> 24);
}

struct DeviceBuffer {
  void* ptr = nullptr;
  explicit DeviceBuffer(size_t bytes) { cudaOk(cudaMalloc(&ptr, bytes + 64), "cudaMalloc"); }
  ~DeviceBuffer() { cudaFree(ptr); }
  char* at(size_t offset) const { return static_cast<char*>(ptr) + offset; }
};

// One case: inputs at their byte offsets (in elements of the type) into device buffers, the GPU
// result compared with the CPU's pairwise chain (and finalize for avg with a divisor).
std::string runCase(HostReduce hostReduce, HostFinalize hostFinalize, strataDataType_t type, strataRedOp_t op,
                    const std::vector<std::vector<unsigned char>>& inputs, int numOutputs, int divisor,
                    const std::vector<size_t>& inputOffsets, size_t outputOffset, size_t count, const char* shape) {
  const size_t elem = typeSize(type);
  const size_t bytes = count * elem;
  std::vector<unsigned char> expected(bytes), scratch(bytes);
  hostReduce(expected.data(), inputs[0].data(), inputs[1].data(), count, type, op);
  for (size_t k = 2; k < inputs.size(); ++k) {
    hostReduce(scratch.data(), expected.data(), inputs[k].data(), count, type, op);
    expected.swap(scratch);
  }
  if (divisor > 0) hostFinalize(expected.data(), expected.data(), count, type, op, divisor);

  std::vector<std::unique_ptr<DeviceBuffer>> buffers;
  ReduceSpec spec;
  spec.numInputs = static_cast<int>(inputs.size());
  for (size_t k = 0; k < inputs.size(); ++k) {
    buffers.push_back(std::make_unique<DeviceBuffer>(bytes + inputOffsets[k] * elem));
    char* p = buffers.back()->at(inputOffsets[k] * elem);
    cudaOk(cudaMemcpy(p, inputs[k].data(), bytes, cudaMemcpyHostToDevice), "cudaMemcpy H2D");
    spec.inputs[k] = p;
  }
  spec.numOutputs = numOutputs;
  for (int o = 0; o < numOutputs; ++o) {
    buffers.push_back(std::make_unique<DeviceBuffer>(bytes + outputOffset * elem));
    spec.outputs[o] = buffers.back()->at(outputOffset * elem);
    cudaOk(cudaMemset(spec.outputs[o], 0xa5, bytes), "cudaMemset");
  }
  spec.count = count;
  spec.type = type;
  spec.op = op;
  spec.avgDivisor = divisor;
  cudaOk(static_cast<cudaError_t>(enqueueReduce(spec, nullptr)), "enqueueReduce");
  cudaOk(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  std::vector<unsigned char> got(bytes);
  for (int o = 0; o < numOutputs; ++o) {
    cudaOk(cudaMemcpy(got.data(), spec.outputs[o], bytes, cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
    size_t wrong = 0, first = count;
    for (size_t i = 0; i < count; ++i)
      if (!sameElement(got.data() + i * elem, expected.data() + i * elem, type)) {
        if (wrong++ == 0) first = i;
      }
    if (wrong > 0) {
      unsigned long long g = 0, e = 0;
      std::memcpy(&g, got.data() + first * elem, elem);
      std::memcpy(&e, expected.data() + first * elem, elem);
      return std::string(kTypeNames[type]) + " " + kOpNames[op] + " " + shape + ": output " + std::to_string(o) +
             ": " + std::to_string(wrong) + " of " + std::to_string(count) + " elements differ, first at " +
             std::to_string(first) + " (GPU bits 0x" + [&] { char b[32]; snprintf(b, sizeof b, "%llx", g); return std::string(b); }() +
             ", CPU 0x" + [&] { char b[32]; snprintf(b, sizeof b, "%llx", e); return std::string(b); }() + ")";
    }
  }
  return "";
}

}  // namespace

std::vector<std::string> compareWithHost(HostReduce hostReduce, HostFinalize hostFinalize, size_t count) {
  std::vector<std::string> failures;
  Rng rng{0x9e3779b97f4a7c15ull};
  for (int t = 0; t < strataNumTypes; ++t) {
    const auto type = static_cast<strataDataType_t>(t);
    const size_t perVector = 16 / typeSize(type);
    for (int o = 0; o < strataNumOps; ++o) {
      const auto op = static_cast<strataRedOp_t>(o);
      std::vector<std::vector<unsigned char>> two(2), three(3);
      for (auto& in : two) fillBits(in, type, count, rng);
      for (auto& in : three) {
        if (isInteger(type)) fillBits(in, type, count, rng);
        else fillSmallIntegers(in, type, count, rng);
      }
      const size_t shift = perVector > 1 ? 1 : 0;  // one element off the 16-byte boundary
      auto add = [&](std::string f) {
        if (!f.empty()) failures.push_back(std::move(f));
      };
      add(runCase(hostReduce, hostFinalize, type, op, two, 1, 0, {0, 0}, 0, count, "2 inputs aligned"));
      add(runCase(hostReduce, hostFinalize, type, op, two, 1, 0, {shift, shift}, shift, count, "2 inputs misaligned alike"));
      add(runCase(hostReduce, hostFinalize, type, op, three, 2, 0, {0, 0, 0}, 0, count, "3 inputs, 2 outputs"));
      if (shift)
        add(runCase(hostReduce, hostFinalize, type, op, three, 2, 0, {shift, 0, shift}, 0, count,
                    "3 inputs at differing offsets"));
      if (op == strataAvg)
        add(runCase(hostReduce, hostFinalize, type, op, three, 1, 3, {0, 0, 0}, 0, count, "avg of 3 divided"));
    }
  }
  return failures;
}

}  // namespace strata::gpu::check
