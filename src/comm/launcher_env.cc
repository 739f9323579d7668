#include "comm/launcher_env.h"

#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace strata {
namespace {

const char* firstSet(std::initializer_list<const char*> names, const char** which) {
  for (const char* n : names) {
    const char* v = std::getenv(n);
    if (v && *v) {
      *which = n;
      return v;
    }
  }
  return nullptr;
}

long parseInt(const char* name, const char* text, long lo, long hi) {
  char* end = nullptr;
  long v = std::strtol(text, &end, 10);
  STRATA_CHECK(end && *end == '\0' && end != text && v >= lo && v <= hi, strataInvalidArgument,
               "{}='{}' is not an integer in [{}, {}]", name, text, lo, hi);
  return v;
}

}  // namespace

LauncherEnv readLauncherEnv() {
  LauncherEnv env;
  const char *rankVar = nullptr, *sizeVar = nullptr;
  const char* rank = firstSet({"STRATA_RANK", "RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"}, &rankVar);
  const char* size = firstSet({"STRATA_NRANKS", "WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"}, &sizeVar);
  STRATA_CHECK(rank && size, strataInvalidArgument,
               "no launcher found: set STRATA_RANK and STRATA_NRANKS (or RANK and WORLD_SIZE, or "
               "run under mpirun or srun)");
  env.nranks = static_cast<int>(parseInt(sizeVar, size, 1, 1 << 24));
  env.rank = static_cast<int>(parseInt(rankVar, rank, 0, env.nranks - 1));

  if (const char* root = std::getenv("STRATA_ROOT_ADDR"); root && *root) {
    std::string s = root;
    auto colon = s.rfind(':');
    STRATA_CHECK(colon != std::string::npos && colon > 0, strataInvalidArgument,
                 "STRATA_ROOT_ADDR='{}' is not host:port", s);
    env.rootHost = s.substr(0, colon);
    if (env.rootHost.size() > 2 && env.rootHost.front() == '[' && env.rootHost.back() == ']')
      env.rootHost = env.rootHost.substr(1, env.rootHost.size() - 2);
    env.rootPort = static_cast<uint16_t>(parseInt("STRATA_ROOT_ADDR port", s.c_str() + colon + 1, 1, 65535));
    env.source = fmt::format("{}/{}/STRATA_ROOT_ADDR", rankVar, sizeVar);
  } else {
    const char* addr = std::getenv("MASTER_ADDR");
    const char* port = std::getenv("MASTER_PORT");
    STRATA_CHECK(addr && *addr && port && *port, strataInvalidArgument,
                 "the root's address is unknown: set STRATA_ROOT_ADDR=host:port (or MASTER_ADDR "
                 "and MASTER_PORT)");
    env.rootHost = addr;
    env.rootPort = static_cast<uint16_t>(parseInt("MASTER_PORT", port, 1, 65535));
    env.source = fmt::format("{}/{}/MASTER_ADDR:MASTER_PORT", rankVar, sizeVar);
  }

  if (const char* secret = std::getenv("STRATA_SECRET"); secret && *secret) {
    STRATA_CHECK(std::strlen(secret) == 64, strataInvalidArgument,
                 "STRATA_SECRET must be 64 hexadecimal digits (32 bytes)");
    for (int i = 0; i < 32; ++i) {
      char byte[3] = {secret[2 * i], secret[2 * i + 1], 0};
      char* end = nullptr;
      env.secret[i] = static_cast<uint8_t>(std::strtoul(byte, &end, 16));
      STRATA_CHECK(end == byte + 2, strataInvalidArgument, "STRATA_SECRET is not hexadecimal");
    }
    env.haveSecret = true;
  }
  return env;
}

}  // namespace strata
