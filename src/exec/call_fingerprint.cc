#include "exec/call_fingerprint.h"

#include <fmt/format.h>

namespace strata {
namespace {

// The order is the wire's: append only.
constexpr const char* kCollectiveNames[] = {"allreduce", "reducescatter", "allgather",
                                            "broadcast", "reduce"};
constexpr size_t kCollectives = sizeof(kCollectiveNames) / sizeof(kCollectiveNames[0]);

const char* collectiveOf(uint8_t code) {
  return code < kCollectives ? kCollectiveNames[code] : "unknown collective";
}
bool reduces(uint8_t code) { return code == 0 || code == 1 || code == 4; }
bool rooted(uint8_t code) { return code == 3 || code == 4; }

}  // namespace

uint8_t collectiveCode(const char* name) {
  for (size_t i = 0; i < kCollectives; ++i)
    if (name && std::strcmp(name, kCollectiveNames[i]) == 0) return static_cast<uint8_t>(i);
  return 255;
}

CallFingerprint makeFingerprint(const char* collective, uint64_t sequence, size_t count,
                                strataDataType_t type, strataRedOp_t op, int root) {
  CallFingerprint f;
  f.collective = collectiveCode(collective);
  f.type = static_cast<uint8_t>(type);
  // Ops and roots mean nothing to the collectives that neither reduce nor have a root: zero them
  // so that only what matters is compared.
  f.op = reduces(f.collective) ? static_cast<uint8_t>(op) : 0;
  f.root = rooted(f.collective) ? root : 0;
  f.sequence = static_cast<uint32_t>(sequence);
  f.count = count;
  return f;
}

std::optional<CallFingerprint> readFingerprint(const void* message, size_t bytes) {
  if (!message || bytes < kFingerprintBytes) return std::nullopt;
  CallFingerprint f;
  std::memcpy(&f, message, sizeof(f));  // the slot need not be aligned for the struct
  if (f.magic != CallFingerprint::kMagic) return std::nullopt;
  return f;
}

std::string describeCall(const CallFingerprint& f) {
  std::string text = fmt::format("{} #{} ({} elements of {}", collectiveOf(f.collective),
                                 f.sequence, f.count,
                                 strataTypeName(static_cast<strataDataType_t>(f.type)));
  if (reduces(f.collective)) text += fmt::format(", {}", strataOpName(static_cast<strataRedOp_t>(f.op)));
  if (rooted(f.collective)) text += fmt::format(", root {}", f.root);
  return text + ")";
}

std::string callDifference(const CallFingerprint& mine, const CallFingerprint& theirs) {
  std::string text;
  auto add = [&](const std::string& part) { text += (text.empty() ? "" : ", ") + part; };
  if (mine.collective != theirs.collective)
    add(fmt::format("collective {} != {}", collectiveOf(theirs.collective), collectiveOf(mine.collective)));
  if (mine.sequence != theirs.sequence)
    add(fmt::format("call number {} != {}", theirs.sequence, mine.sequence));
  if (mine.count != theirs.count) add(fmt::format("count {} != {}", theirs.count, mine.count));
  if (mine.type != theirs.type)
    add(fmt::format("datatype {} != {}", strataTypeName(static_cast<strataDataType_t>(theirs.type)),
                    strataTypeName(static_cast<strataDataType_t>(mine.type))));
  if (mine.op != theirs.op)
    add(fmt::format("op {} != {}", strataOpName(static_cast<strataRedOp_t>(theirs.op)),
                    strataOpName(static_cast<strataRedOp_t>(mine.op))));
  if (mine.root != theirs.root) add(fmt::format("root {} != {}", theirs.root, mine.root));
  return text;
}

}  // namespace strata
