// The allGather a Bootstrap would give, among threads of one process (ranks run as threads).
// Reusable: a transport may call it several times.
#pragma once

#include <barrier>
#include <cstring>
#include <functional>
#include <mutex>
#include <vector>

namespace strata::testing {

class ThreadGather {
 public:
  explicit ThreadGather(int nranks) : nranks_(nranks), sync_(nranks) {}
  std::function<void(void*, size_t)> rank(int r) {
    return [this, r](void* data, size_t bytes) {
      {
        std::lock_guard<std::mutex> lock(m_);
        table_.resize(size_t(nranks_) * bytes);
        std::memcpy(table_.data() + size_t(r) * bytes, static_cast<char*>(data) + size_t(r) * bytes, bytes);
      }
      sync_.arrive_and_wait();
      std::memcpy(data, table_.data(), size_t(nranks_) * bytes);
      sync_.arrive_and_wait();  // nobody reuses the table before all have read it
    };
  }

 private:
  int nranks_;
  std::barrier<> sync_;
  std::mutex m_;
  std::vector<char> table_;
};

}  // namespace strata::testing
