// A thin C++ wrapper over the C API: RAII ownership of a communicator and exceptions that carry
// the result code and the last-error text. Header-only; links against libstrata like C code.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "strata/strata.h"

namespace strata {

class Exception : public std::runtime_error {
 public:
  Exception(strataResult_t code, const std::string& what) : std::runtime_error(what), code_(code) {}
  strataResult_t code() const { return code_; }

 private:
  strataResult_t code_;
};

inline void check(strataResult_t result, strataComm_t comm = nullptr) {
  if (result != strataSuccess)
    throw Exception(result, std::string(strataGetErrorString(result)) + ": " + strataGetLastError(comm));
}

inline strataUniqueId uniqueId() {
  strataUniqueId id;
  check(strataGetUniqueId(&id));
  return id;
}

template <typename T> constexpr strataDataType_t dataTypeOf();
template <> constexpr strataDataType_t dataTypeOf<int8_t>() { return strataInt8; }
template <> constexpr strataDataType_t dataTypeOf<uint8_t>() { return strataUint8; }
template <> constexpr strataDataType_t dataTypeOf<int32_t>() { return strataInt32; }
template <> constexpr strataDataType_t dataTypeOf<uint32_t>() { return strataUint32; }
template <> constexpr strataDataType_t dataTypeOf<int64_t>() { return strataInt64; }
template <> constexpr strataDataType_t dataTypeOf<uint64_t>() { return strataUint64; }
template <> constexpr strataDataType_t dataTypeOf<float>() { return strataFloat32; }
template <> constexpr strataDataType_t dataTypeOf<double>() { return strataFloat64; }

// Owns a strataComm_t; destroys it when it goes out of scope.
class Communicator {
 public:
  Communicator(int nranks, const strataUniqueId& id, int rank) {
    check(strataCommInitRank(&comm_, nranks, id, rank));
  }
  // With config.blocking == 0 it returns while still connecting: poll asyncError() until it is
  // no longer strataInProgress.
  Communicator(int nranks, const strataUniqueId& id, int rank, const strataConfig_t& config) {
    checkStarted(strataCommInitRankConfig(&comm_, nranks, id, rank, &config));
  }
  // From launcher variables (see strataCommInitFromEnv).
  static Communicator fromEnv(const strataConfig_t* config = nullptr) {
    strataComm_t c = nullptr;
    check(strataCommInitFromEnv(&c, config));
    return Communicator(c);
  }
  Communicator(Communicator&& other) noexcept : comm_(std::exchange(other.comm_, nullptr)) {}
  Communicator& operator=(Communicator&& other) noexcept {
    if (this != &other) {
      reset();
      comm_ = std::exchange(other.comm_, nullptr);
    }
    return *this;
  }
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  ~Communicator() { reset(); }

  int size() const {
    int n;
    check(strataCommCount(comm_, &n), comm_);
    return n;
  }
  int rank() const {
    int r;
    check(strataCommUserRank(comm_, &r), comm_);
    return r;
  }

  void allReduce(const void* send, void* recv, size_t count, strataDataType_t type,
                 strataRedOp_t op) {
    check(strataAllReduce(send, recv, count, type, op, comm_, nullptr), comm_);
  }
  template <typename T>
  void allReduce(const T* send, T* recv, size_t count, strataRedOp_t op = strataSum) {
    allReduce(send, recv, count, dataTypeOf<T>(), op);
  }
  template <typename T>
  void allReduceInPlace(T* data, size_t count, strataRedOp_t op = strataSum) {
    allReduce(data, data, count, dataTypeOf<T>(), op);
  }

  // Rank r gets block r (recvcount elements) of the reduction of every rank's send buffer of
  // size() * recvcount elements.
  void reduceScatter(const void* send, void* recv, size_t recvcount, strataDataType_t type,
                     strataRedOp_t op) {
    check(strataReduceScatter(send, recv, recvcount, type, op, comm_, nullptr), comm_);
  }
  template <typename T>
  void reduceScatter(const T* send, T* recv, size_t recvcount, strataRedOp_t op = strataSum) {
    reduceScatter(send, recv, recvcount, dataTypeOf<T>(), op);
  }
  // recv (size() * sendcount elements) = every rank's send buffer, in rank order.
  void allGather(const void* send, void* recv, size_t sendcount, strataDataType_t type) {
    check(strataAllGather(send, recv, sendcount, type, comm_, nullptr), comm_);
  }
  template <typename T>
  void allGather(const T* send, T* recv, size_t sendcount) {
    allGather(send, recv, sendcount, dataTypeOf<T>());
  }
  // recv = root's send on every rank; send is read on the root only (may be null elsewhere).
  void broadcast(const void* send, void* recv, size_t count, strataDataType_t type, int root) {
    check(strataBroadcast(send, recv, count, type, root, comm_, nullptr), comm_);
  }
  template <typename T>
  void broadcast(const T* send, T* recv, size_t count, int root) {
    broadcast(send, recv, count, dataTypeOf<T>(), root);
  }
  template <typename T>
  void broadcastInPlace(T* data, size_t count, int root) {
    broadcast(data, data, count, dataTypeOf<T>(), root);
  }
  // The root's recv = op over every rank's send; recv is written on the root only.
  void reduce(const void* send, void* recv, size_t count, strataDataType_t type, strataRedOp_t op,
              int root) {
    check(strataReduce(send, recv, count, type, op, root, comm_, nullptr), comm_);
  }
  template <typename T>
  void reduce(const T* send, T* recv, size_t count, int root, strataRedOp_t op = strataSum) {
    reduce(send, recv, count, dataTypeOf<T>(), op, root);
  }
  // "algorithm/transport" of the last collective.
  const char* lastAlgorithm() const { return strataCommLastAlgorithm(comm_); }

  // strataInProgress while connecting (non-blocking init), strataSuccess while healthy, else the
  // error that broke the communicator.
  strataResult_t asyncError() const {
    strataResult_t e = strataSuccess;
    check(strataCommGetAsyncError(comm_, &e), comm_);
    return e;
  }
  // A communicator of this one's ranks other than `exclude` (strataCommShrink): every rank not
  // in the list calls it with the same list, e.g. after a peer died. config null: this one's.
  Communicator shrink(const std::vector<int>& exclude, const strataConfig_t* config = nullptr) {
    strataComm_t c = nullptr;
    checkStarted(strataCommShrink(comm_, exclude.data(), static_cast<int>(exclude.size()), &c, config),
                 comm_);
    return Communicator(c);
  }

  // Stops every pending operation and frees the communicator.
  void abort() {
    if (comm_) check(strataCommAbort(std::exchange(comm_, nullptr)));
  }
  strataComm_t get() const { return comm_; }

 private:
  explicit Communicator(strataComm_t comm) : comm_(comm) {}
  // As check(), but a non-blocking init's strataInProgress is a start, not an error.
  static void checkStarted(strataResult_t result, strataComm_t comm = nullptr) {
    if (result != strataInProgress) check(result, comm);
  }
  void reset() {
    if (comm_) strataCommDestroy(std::exchange(comm_, nullptr));
  }
  strataComm_t comm_ = nullptr;
};

}  // namespace strata
