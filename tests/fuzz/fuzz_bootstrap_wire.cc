// Fuzzes every parser of bytes that a bootstrap root, a rank or a transport peer receives
// (src/bootstrap/wire.h, the unique id, the TCP transport's message header, the executor's call
// fingerprint): none may crash, read out of bounds or allocate what a length field claims. The
// first input byte picks the nranks and the rank a parser assumes; the rest is the peer's bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "bootstrap/wire.h"
#include "core/error.h"
#include "exec/call_fingerprint.h"
#include "transports/tcp/tcp_transport.h"

using namespace strata;
using namespace strata::wire;

namespace {

template <typename T>
T load(const uint8_t* data, size_t size) {
  T value;
  std::memset(&value, 0, sizeof(value));
  std::memcpy(&value, data, std::min(size, sizeof(value)));
  return value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int nranks = 1 + data[0] % 64;
  const int self = data[0] % nranks;
  ++data;
  --size;
  uint8_t secret[kSecretBytes];
  for (int i = 0; i < kSecretBytes; ++i) secret[i] = static_cast<uint8_t>(i);

  // A hello arriving in pieces whose sizes the input's bytes choose.
  for (FrameType type : {kRootHello, kPeerHello}) {
    const size_t helloBytes = type == kRootHello ? sizeof(RootHello) : sizeof(PeerHello);
    HelloReader reader(type, helloBytes);
    size_t at = 0;
    while (at < size && reader.state() == HelloReader::State::NeedMore) {
      const size_t piece = std::min({size - at, reader.roomBytes(), size_t(1 + data[at] % 40)});
      std::memcpy(reader.room(), data + at, piece);
      reader.add(piece);
      at += piece;
    }
    if (reader.state() == HelloReader::State::Complete) {
      if (type == kRootHello) {
        RootHello hello;
        checkRootHello(reader.body(), reader.bodyBytes(), secret, &hello);
      } else {
        PeerHello hello;
        checkPeerHello(reader.body(), reader.bodyBytes(), secret, self, nranks, &hello);
      }
    }
  }
  RootHello rootHello;
  checkRootHello(data, size, secret, &rootHello);
  PeerHello peerHello;
  checkPeerHello(data, size, secret, self, nranks, &peerHello);

  // A root's reply: header, then the body it announces (only as much as the parser allows).
  const FrameHeader header = load<FrameHeader>(data, size);
  const RootReply reply = parseRootReplyHeader(header, nranks);
  const uint8_t* body = size > sizeof(FrameHeader) ? data + sizeof(FrameHeader) : nullptr;
  const size_t bodyBytes = body ? size - sizeof(FrameHeader) : 0;
  if (reply.kind == RootReply::Error && bodyBytes >= reply.bodyBytes)
    parseRootError(body, reply.bodyBytes);
  if (reply.kind == RootReply::Table && bodyBytes >= reply.bodyBytes) {
    std::vector<sockaddr_storage> table(static_cast<size_t>(nranks));
    std::memcpy(table.data(), body, reply.bodyBytes);
    firstBadTableEntry(table.data(), nranks);
  }
  parseRootError(data, std::min(size, kMaxErrorBytes));

  // A unique id from garbage.
  strataUniqueId id = load<strataUniqueId>(data, size);
  try {
    decodeUniqueId(id);
  } catch (const Error&) {
    // Rejected: what garbage should get.
  }

  tcpwire::headerProblem(load<tcpwire::WireHeader>(data, size), size ? data[0] : 0, 4096);

  if (auto fingerprint = readFingerprint(data, size)) {
    describeCall(*fingerprint);
    callDifference(makeFingerprint("allreduce", 1, 10, strataFloat32, strataSum, 0), *fingerprint);
  }
  return 0;
}
