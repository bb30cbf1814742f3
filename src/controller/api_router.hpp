// The controller's management API without a transport: zerotier-one's controller paths and
// object shapes (PROTOCOL.md §10.2) as one function, method + path + body → status + JSON.
// The HTTP server (http_api.hpp) and the C ABI (zt_controller_request) both answer through
// it, so they cannot drift apart.
//
//   GET    /controller                              {"controller":true,"apiVersion":4,"clock":ms,"databaseReady":bool}
//   GET    /controller/network                      ["<nwid>", ...]
//   POST   /controller/network                      create with a random network number
//   POST   /controller/network/<address>______      same (address must be this controller's)
//   GET|POST|PUT|DELETE /controller/network/<nwid>
//   GET    /controller/network/<nwid>/member        {"<address>": revision, ...}
//   GET|POST|PUT|DELETE /controller/network/<nwid>/member/<address>
//   GET    /controller/network/<nwid>/trace         REMOTE_TRACE events members sent (§15), decoded,
//                                                   oldest first (memory only; remote_traces.hpp)
//   GET    /unstable/controller/network[/<nwid>/member]   {"data":[objects],"meta":{counts}}
// PUT is the same as POST (a merge); HEAD is answered like GET. DELETE returns the deleted
// object. A query string ("?...") is ignored. An empty body is {}.
//
// Errors are {"error":"..."}: 400 bad input (malformed JSON, wrong types, bad nwid/address),
// 404 unknown network/member/path, 405 method, 500 storage or internal error, 503 not
// attached. A rejected write changes nothing. Never throws.
//
// Threading: any thread (the controller's management methods are thread-safe). A successful
// write queues pushes/revocations; the caller then runs EmbeddedController::process_pending
// on the controller thread (embedded_controller.hpp; or leaves it to the controller's timer).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "controller/db.hpp"
#include "controller/embedded_controller.hpp"

namespace zt::controller {

struct RoutedResponse {
  ApiResponse response;
  // A write succeeded: pushes/revocations may be queued (run process_pending on the node).
  bool wrote = false;
};

RoutedResponse route_api(EmbeddedController& ctl, ControllerDb& db, int64_t now, std::string_view method,
                         std::string_view path, std::string_view body);

// The response body as text, exactly as the HTTP API serves it (indented JSON + newline).
std::string api_response_text(const ApiResponse& r);

}  // namespace zt::controller
