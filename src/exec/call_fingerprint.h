// What a collective call looks like to its peers: (collective, sequence, count, datatype, op,
// root), 24 bytes that the executor sends ahead of its first message to each peer in a call. The
// receiver compares them with its own before it touches any of the peer's data, so that ranks
// calling different collectives, counts, datatypes, ops or roots fail with strataInvalidUsage
// instead of reducing garbage or waiting forever. It rides in the first data message when both
// fit a slot (no extra message for small calls), else travels as a message of its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "strata/strata.h"

namespace strata {

struct CallFingerprint {
  static constexpr uint32_t kMagic = 0x43535446;  // "FTSC"
  uint32_t magic = kMagic;
  uint8_t collective = 0;  // index in kCollectiveNames
  uint8_t type = 0;
  uint8_t op = 0;
  uint8_t reserved = 0;
  int32_t root = 0;
  uint32_t sequence = 0;  // low 32 bits of the call's number on the communicator
  uint64_t count = 0;     // elements of the full buffer
};
static_assert(sizeof(CallFingerprint) == 24, "the fingerprint's wire size is fixed");

constexpr size_t kFingerprintBytes = sizeof(CallFingerprint);

// Index of a schedule's collective name ("allreduce", ...); 255 for a name not listed.
uint8_t collectiveCode(const char* name);

CallFingerprint makeFingerprint(const char* collective, uint64_t sequence, size_t count,
                                strataDataType_t type, strataRedOp_t op, int root);

// Reads a fingerprint from the start of a message of `bytes` (nullopt when it is too short or
// lacks the magic): the message is the peer's, so nothing in it is trusted.
std::optional<CallFingerprint> readFingerprint(const void* message, size_t bytes);

// "allreduce #5 (1000 elements of float, sum)", "broadcast #2 (8 elements of int32, root 1)".
// Safe for any field values (a peer's fingerprint may hold anything).
std::string describeCall(const CallFingerprint& f);

// Empty when the calls agree; else what differs: "count 600 != 1000, datatype ...".
std::string callDifference(const CallFingerprint& mine, const CallFingerprint& theirs);

}  // namespace strata
