// Runs fn(rank) on one thread per rank and rethrows the first failure. gtest assertions made on
// those threads are reported normally (gtest is thread-safe on POSIX).
#pragma once

#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace strata::testing {

inline void runRanks(int nranks, const std::function<void(int)>& fn) {
  std::vector<std::thread> threads;
  std::exception_ptr first;
  std::mutex m;
  for (int r = 0; r < nranks; ++r)
    threads.emplace_back([&, r] {
      try {
        fn(r);
      } catch (...) {
        std::lock_guard<std::mutex> lock(m);
        if (!first) first = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  if (first) std::rethrow_exception(first);
}

}  // namespace strata::testing
