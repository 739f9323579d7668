// Tunables resolve user struct > STRATA_* environment > default, and bad values are refused.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>

#include "core/config.h"
#include "core/error.h"

namespace strata {
namespace {

TEST(Config, DefaultsAreValid) {
  Config c = resolveConfig(nullptr);
  EXPECT_GT(c.timeoutSec, 0);
  EXPECT_EQ(c.chunkBytes % 64, 0);
  EXPECT_GE(c.fifoDepth, 2);
  EXPECT_TRUE(c.algorithm.empty());
}

TEST(Config, ChunkZeroIsAutomatic) {
  EXPECT_EQ(resolveConfig(nullptr).chunkBytes, 0) << "the default leaves the chunk to the communicator";
  strataConfig_t u = STRATA_CONFIG_INITIALIZER;
  u.chunkBytes = 0;
  EXPECT_EQ(resolveConfig(&u).chunkBytes, 0);
  u.chunkBytes = 65536;
  EXPECT_EQ(resolveConfig(&u).chunkBytes, 65536);
  EXPECT_EQ(automaticChunkBytes(false), size_t(128 << 10));
  EXPECT_EQ(automaticChunkBytes(true), size_t(256 << 10));
}

TEST(Config, EnvironmentThenStructOverride) {
  // The only test that sets the environment: it is what is being tested.
  setenv("STRATA_TIMEOUT", "12.5", 1);
  setenv("STRATA_ALGO", "ring", 1);
  Config fromEnv = resolveConfig(nullptr);
  EXPECT_EQ(fromEnv.timeoutSec, 12.5);
  EXPECT_EQ(fromEnv.algorithm, "ring");
  strataConfig_t user = STRATA_CONFIG_INITIALIZER;
  user.timeoutSec = 3;
  user.algorithm = "oneshot";
  Config fromUser = resolveConfig(&user);
  EXPECT_EQ(fromUser.timeoutSec, 3);
  EXPECT_EQ(fromUser.algorithm, "oneshot");
  setenv("STRATA_TIMEOUT", "soon", 1);
  EXPECT_THROW(resolveConfig(nullptr), Error);
  unsetenv("STRATA_TIMEOUT");
  unsetenv("STRATA_ALGO");
}

TEST(Config, RangesAreChecked) {
  strataConfig_t u = STRATA_CONFIG_INITIALIZER;
  u.timeoutSec = 0;  // "0" is not "unset" (negative is): a zero deadline is refused
  EXPECT_THROW(resolveConfig(&u), Error);
  u = STRATA_CONFIG_INITIALIZER;
  u.chunkBytes = 100;
  EXPECT_THROW(resolveConfig(&u), Error);
  u = STRATA_CONFIG_INITIALIZER;
  u.fifoDepth = 1;
  EXPECT_THROW(resolveConfig(&u), Error);
  u = STRATA_CONFIG_INITIALIZER;
  u.size = 8;
  EXPECT_THROW(resolveConfig(&u), Error);
  u = STRATA_CONFIG_INITIALIZER;
  u.size = sizeof(strataConfig_t) + 8;  // from a newer header than this library
  EXPECT_THROW(resolveConfig(&u), Error);
  u = STRATA_CONFIG_INITIALIZER;
  u.algorithm = "bogus";
  EXPECT_THROW(resolveConfig(&u), Error);
}

TEST(Config, FieldsBeyondAnOlderStructSizeTakeTheirDefaults) {
  strataConfig_t u = STRATA_CONFIG_INITIALIZER;
  u.ranksPerHost = 4;
  EXPECT_EQ(resolveConfig(&u).ranksPerHost, 4);
  u.size = offsetof(strataConfig_t, ranksPerHost);  // built before the field existed
  EXPECT_EQ(resolveConfig(&u).ranksPerHost, 0);
}

// Off by default: the direct path's CUDA calls on the proxy thread deadlocked on an H100 while
// another thread blocked in a copy (docs/gpu.md, "Several ranks in one process").
TEST(Config, CudaIpcIsOffByDefaultAndABoolean) {
  EXPECT_EQ(resolveConfig(nullptr).cudaIpc, 0);
  strataConfig_t u = STRATA_CONFIG_INITIALIZER;
  u.cudaIpc = 0;
  EXPECT_EQ(resolveConfig(&u).cudaIpc, 0);
  u.cudaIpc = 2;
  EXPECT_THROW(resolveConfig(&u), Error);
  u.cudaIpc = 1;
  u.size = offsetof(strataConfig_t, cudaIpc);  // a program built before the field: the default
  EXPECT_EQ(resolveConfig(&u).cudaIpc, 0);
}

TEST(Config, AnyRegisteredAlgorithmNameCanBeForced) {
  for (const char* name : {"ring", "oneshot", "chain", "tree"}) {
    strataConfig_t u = STRATA_CONFIG_INITIALIZER;
    u.algorithm = name;
    EXPECT_EQ(resolveConfig(&u).algorithm, name);
  }
}

TEST(Config, TransportIsOneOfTheKnownRoutes) {
  for (const char* name : {"auto", "shm", "tcp", "shm+tcp"}) {
    strataConfig_t u = STRATA_CONFIG_INITIALIZER;
    u.transport = name;
    EXPECT_EQ(resolveConfig(&u).transport, name);
  }
  for (const char* name : {"ucx", "shm+ucx"}) {
    strataConfig_t u = STRATA_CONFIG_INITIALIZER;
    u.transport = name;
#ifdef STRATA_HAVE_UCX
    EXPECT_EQ(resolveConfig(&u).transport, name);
#else
    EXPECT_THROW(resolveConfig(&u), Error) << name << " accepted without UCX";
#endif
  }
  for (const char* bad : {"", "TCP", "ucx+shm", "shm+", "shm+shm", "verbs"}) {
    strataConfig_t u = STRATA_CONFIG_INITIALIZER;
    u.transport = bad;
    try {
      resolveConfig(&u);
      ADD_FAILURE() << "transport '" << bad << "' accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), strataInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("shm+ucx"), std::string::npos) << e.what();
    }
  }
}

TEST(Config, EveryTunableIsDocumented) {
  for (const TunableDoc& t : tunables()) {
    EXPECT_EQ(std::string(t.env).rfind("STRATA_", 0), 0u);
    EXPECT_GT(std::string(t.doc).size(), 10u);
  }
}

}  // namespace
}  // namespace strata
