// Rank, size and the root's address from the environment a launcher sets up: Strata's own
// variables first, then torchrun's, then Open MPI's, PMI's and Slurm's for rank and size.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace strata {

struct LauncherEnv {
  int rank = -1;
  int nranks = -1;
  std::string rootHost;  // where rank 0 runs the bootstrap root
  uint16_t rootPort = 0;
  bool haveSecret = false;  // STRATA_SECRET was given
  std::array<uint8_t, 32> secret{};
  std::string source;  // which variables were used, for messages
};

// Throws strataInvalidArgument naming the missing or malformed variables.
LauncherEnv readLauncherEnv();

}  // namespace strata
