// The C++ wrapper: RAII communicator, typed all-reduce, exceptions with the result code.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <vector>

#include "strata/strata.hpp"

namespace {

TEST(CppWrapper, ThreeProcessesSumAndMax) {
  // The id is made in rank 0's process: this test process stays single-threaded, so forking it
  // is safe (also under sanitizers).
  struct Shared {
    std::atomic<int> ready;
    strataUniqueId id;
  };
  auto* shared = new (mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0)) Shared();
  std::vector<pid_t> pids;
  for (int r = 0; r < 3; ++r) {
    pid_t pid = fork();
    if (pid == 0) {
      try {
        if (r == 0) {
          shared->id = strata::uniqueId();
          shared->ready = 1;
        }
        for (int i = 0; i < 30000 && !shared->ready; ++i) usleep(1000);
        strata::Communicator comm(3, shared->id, r);
        if (comm.size() != 3 || comm.rank() != r) _exit(1);
        std::vector<int32_t> v(77, r + 1), out(77);
        comm.allReduce(v.data(), out.data(), v.size());
        for (int32_t x : out)
          if (x != 6) _exit(2);
        std::vector<double> d(5, double(r));
        comm.allReduceInPlace(d.data(), d.size(), strataMax);
        for (double x : d)
          if (x != 2.0) _exit(3);
        if (r != 1) {
          // Ranks 0 and 2 go on without rank 1.
          strata::Communicator pair = comm.shrink({1});
          if (pair.size() != 2 || pair.rank() != r / 2) _exit(5);
          std::vector<int32_t> w(9, r + 1);
          pair.allReduceInPlace(w.data(), w.size());
          for (int32_t x : w)
            if (x != 1 + 3) _exit(6);
        }
      } catch (const strata::Exception&) {
        _exit(4);
      }
      _exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t p : pids) {
    int st;
    waitpid(p, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
  }
  munmap(shared, sizeof(Shared));
}

TEST(CppWrapper, ErrorsBecomeExceptionsWithTheirCode) {
  strataUniqueId garbage{};
  try {
    strata::Communicator comm(1, garbage, 0);
    FAIL() << "a garbage id must throw";
  } catch (const strata::Exception& e) {
    EXPECT_EQ(e.code(), strataInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("unique id"), std::string::npos) << e.what();
  }
}

}  // namespace
