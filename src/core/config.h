// Every tunable of Strata, declared once (src/core/config.cc) with its default, its STRATA_
// environment name and a doc line. A communicator resolves its Config from the user's
// strataConfig_t first, then the environment, then the default; tests fill the struct instead of
// calling setenv.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "strata/strata.h"

namespace strata {

struct Config {
  double timeoutSec;
  int64_t chunkBytes;  // 0: automatic (automaticChunkBytes), until a communicator resolves it
  int fifoDepth;
  std::string algorithm;  // "" = choose automatically
  int64_t oneShotMaxBytes;
  std::string slotStores;  // auto, cached or streaming
  int spinCount;  // -1: chosen by the communicator from ranks per CPU
  int ranksPerHost;  // > 0: plan as if every k consecutive ranks formed a host; 0: real hosts
  std::string transport;  // auto, shm, tcp, ucx, shm+tcp or shm+ucx
  int tcpStreams;
  int blocking;  // 1: init returns when connected; 0: init connects in the background
  int cudaIpc;  // 1: device all-reduce on one host through CUDA IPC; 0: staged
};

struct TunableDoc {
  const char* env;
  const char* defaultValue;
  const char* doc;
};

// The table of tunables, for docs and `strata-bench --help-env`.
const std::vector<TunableDoc>& tunables();

// The pipeline chunk when chunkBytes is 0 (automatic): 128 KiB (shared memory's best, and UCX's
// over RDMA), or 256 KiB when sockets join the hosts (TCP, or UCX without RDMA on every rank):
// between two namespaces 256 KiB messages all-reduced 1 MiB over TCP at 3.3-3.8 GB/s where
// 128 KiB gave 2.2-2.8 and 512 KiB 1.8, and over UCX's TCP (with segments of one slot) at a
// median 2.31 GB/s against 1.94 with 128 KiB (docs/transports.md).
constexpr size_t kHostChunkBytes = 128 << 10;
constexpr size_t kSocketChunkBytes = 256 << 10;
size_t automaticChunkBytes(bool socketsBetweenHosts);

// Resolves user fields (may be null), then STRATA_* variables, then defaults; validates ranges.
Config resolveConfig(const strataConfig_t* user);

}  // namespace strata
