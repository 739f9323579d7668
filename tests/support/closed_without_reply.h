// What a dropped intruder sees: the other end closes the connection (EOF or reset) within a few
// seconds without sending a byte. Shared by the bootstrap tests that attack roots and listeners.
#pragma once

#include "bootstrap/socket.h"
#include "core/deadline.h"
#include "core/error.h"

namespace strata::testing {

inline bool closedWithoutReply(Socket& socket) {
  char byte;
  try {
    recvAll(socket, &byte, 1, Deadline(5.0), nullptr);
  } catch (const Error& e) {
    return e.code() == strataRemoteError;
  }
  return false;
}

}  // namespace strata::testing
