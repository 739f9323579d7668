#include "bootstrap/wire.h"

#include <cstring>

#include <fmt/format.h>

#include "bootstrap/socket.h"

namespace strata::wire {

HelloReader::HelloReader(FrameType type, size_t helloBytes)
    : type_(type), helloBytes_(helloBytes), frame_(sizeof(FrameHeader) + helloBytes) {}

HelloReader::State HelloReader::add(size_t n) {
  if (state_ != State::NeedMore || n > roomBytes()) return state_ = State::Malformed;
  const size_t before = got_;
  got_ += n;
  if (before < sizeof(FrameHeader) && got_ >= sizeof(FrameHeader)) {
    FrameHeader header;
    std::memcpy(&header, frame_.data(), sizeof(header));
    if (header.magic != kWireMagic || header.type != type_ || header.bodyBytes != helloBytes_)
      return state_ = State::Malformed;
  }
  if (got_ == frame_.size()) state_ = State::Complete;
  return state_;
}

RootHelloVerdict checkRootHello(const uint8_t* body, size_t bytes,
                                const uint8_t secret[kSecretBytes], RootHello* hello) {
  if (bytes != sizeof(RootHello)) return RootHelloVerdict::Intruder;
  std::memcpy(hello, body, sizeof(RootHello));
  if (!constantTimeEqual(hello->secret, secret, kSecretBytes)) return RootHelloVerdict::Intruder;
  if (!isInetFamily(hello->listenAddr.ss_family) || addressPort(hello->listenAddr) == 0)
    return RootHelloVerdict::Intruder;
  if (hello->nranks < 1 || hello->rank < 0 || hello->rank >= hello->nranks)
    return RootHelloVerdict::BadRank;
  return RootHelloVerdict::Accept;
}

bool checkPeerHello(const uint8_t* body, size_t bytes, const uint8_t secret[kSecretBytes],
                    int selfRank, int nranks, PeerHello* hello) {
  if (bytes != sizeof(PeerHello)) return false;
  std::memcpy(hello, body, sizeof(PeerHello));
  if (!constantTimeEqual(hello->secret, secret, kSecretBytes)) return false;
  if (hello->rank < 0 || hello->rank >= nranks || hello->rank == selfRank) return false;
  return hello->channel == kRingChannel || hello->channel == kP2pChannel;
}

RootReply parseRootReplyHeader(const FrameHeader& header, int nranks) {
  if (header.magic != kWireMagic)
    return {RootReply::Malformed, 0, fmt::format("magic {:#x}", header.magic)};
  if (header.type == kRootError) {
    if (header.bodyBytes < sizeof(int32_t) || header.bodyBytes > kMaxErrorBytes)
      return {RootReply::Malformed, 0,
              fmt::format("an error of {} bytes (at most {})", header.bodyBytes, kMaxErrorBytes)};
    return {RootReply::Error, header.bodyBytes, {}};
  }
  const uint64_t tableBytes = static_cast<uint64_t>(nranks) * sizeof(sockaddr_storage);
  if (header.type != kRootTable || header.bodyBytes != tableBytes)
    return {RootReply::Malformed, 0,
            fmt::format("type {}, {} bytes; expected a table of {} bytes", header.type,
                        header.bodyBytes, tableBytes)};
  return {RootReply::Table, tableBytes, {}};
}

RootError parseRootError(const uint8_t* body, size_t bytes) {
  if (bytes < sizeof(int32_t)) return {strataRemoteError, "(a malformed error)"};
  int32_t code;
  std::memcpy(&code, body, sizeof(code));
  // The root only ever refuses with these; anything else means it is not our root.
  const bool known = code == strataInvalidArgument || code == strataInvalidUsage ||
                     code == strataTimeout;
  const size_t textBytes = std::min(bytes, kMaxErrorBytes) - sizeof(code);
  return {known ? static_cast<strataResult_t>(code) : strataRemoteError,
          std::string(reinterpret_cast<const char*>(body) + sizeof(code), textBytes)};
}

int firstBadTableEntry(const sockaddr_storage* table, int nranks) {
  for (int r = 0; r < nranks; ++r)
    if (!isInetFamily(table[r].ss_family) || addressPort(table[r]) == 0) return r;
  return -1;
}

}  // namespace strata::wire
