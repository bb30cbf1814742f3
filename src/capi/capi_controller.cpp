// C ABI: the embedded network controller (management without HTTP) and planet making.
#include <cstring>
#include <sstream>
#include <string>

#include "capi/capi_internal.hpp"
#include "controller/api_router.hpp"
#include "controller/db_factory.hpp"
#include "controller/sqlite_db.hpp"
#include "proto/world.hpp"

using namespace zt;
using namespace zt::capi;

namespace zt::capi {

void unlink_controller(zt_node* n) {
  zt_controller* c = n->controller;
  if (!c) return;
  std::lock_guard lk(c->mu);
  // The node is stopped: its Node (the controller's sender) is gone. Forget it, so that
  // nothing can push through a dangling sender; a later node may attach again.
  c->ctl->attach(nullptr);
  if (c->node == n) c->node = nullptr;
  c->claimed = false;
  n->controller = nullptr;
}

}  // namespace zt::capi

namespace {

std::string trim(std::string s) {
  const char* ws = " \t\r\n";
  size_t a = s.find_first_not_of(ws);
  if (a == std::string::npos) return {};
  size_t b = s.find_last_not_of(ws);
  return s.substr(a, b - a + 1);
}

}  // namespace

extern "C" {

zt_result zt_controller_new(const char* db_path, zt_controller** out) {
  if (!out) return fail(ZT_ERR_INVALID_ARGUMENT, "null output pointer");
  return guarded([&] {
    auto c = std::make_unique<zt_controller>();
    if (db_path) {
      if (!*db_path) return fail(ZT_ERR_INVALID_ARGUMENT, "empty db_path (NULL means in memory)");
      auto db = controller::open_db(db_path);  // a SQLite file or a postgresql:// URL
      if (!db) return fail(ZT_ERR_IO, "controller database " +
                                        std::string(controller::is_postgres_url(db_path) ? "(postgresql URL)" : db_path) +
                                        ": " + db.error());
      c->db = std::move(*db);
    } else {
      c->db = std::make_unique<controller::MemoryControllerDb>();
    }
    c->ctl = std::make_unique<controller::EmbeddedController>(*c->db);
    // A shared (PostgreSQL) database: changes other controller processes make are queued
    // like local writes; the node's timer (every second) performs the pushes.
    controller::EmbeddedController* ctl = c->ctl.get();
    c->db->set_change_listener([ctl](const controller::DbChange& ch) { (void)ctl->apply_external_change(ch); });
    *out = c.release();
    return ZT_OK;
  });
}

void zt_controller_free(zt_controller* c) {
  if (!c) return;
  try {
    // The contract says nodes go first; if one still runs, detach it on its loop thread so
    // that it never calls into a freed controller.
    std::shared_ptr<runtime::NodeHandle> h;
    zt_node* n = nullptr;
    {
      std::lock_guard lk(c->mu);
      n = c->node;
      if (n && n->owner) {
        if (n->owner->rt->on_loop_thread()) return;  // from a callback: refused (leaks)
        h = n->h;
      }
    }
    // Returns once the controller is no longer called (its controller thread joined).
    if (h) h->set_controller(nullptr);
    if (n) unlink_controller(n);
    if (c->db) c->db->set_change_listener(nullptr);  // before the controller it calls goes
    c->ctl.reset();
    c->db.reset();
    delete c;
  } catch (...) {
  }
}

zt_result zt_controller_request(zt_controller* c, const char* method, const char* path, const char* body, char* out,
                                size_t cap, size_t* out_len, int* http_status) {
  if (!c || !method || !path) return fail(ZT_ERR_INVALID_ARGUMENT, "null controller, method or path");
  if (!out_len || !http_status) return fail(ZT_ERR_INVALID_ARGUMENT, "null out_len or http_status");
  if (cap && !out) return fail(ZT_ERR_INVALID_ARGUMENT, "null out with a nonzero cap");
  return guarded([&] {
    std::shared_ptr<runtime::NodeHandle> h;
    {
      std::lock_guard lk(c->mu);
      if (c->node && c->node->owner) {
        // Pushes run on the node's loop thread; from one of its callbacks that would re-enter
        // the core.
        if (c->node->owner->rt->on_loop_thread())
          return fail(ZT_ERR_STATE, "ztcore functions cannot be called from an event callback");
        h = c->node->h;
      }
    }
    const auto routed = controller::route_api(*c->ctl, *c->db, runtime::now_ms(), method, path, body ? body : "");
    // Pushes and revocations before the caller sees the answer, on the controller's thread
    // (their sends are then on their way to the node's loop; a stopped node runs nothing, the
    // controller is then detached anyway).
    if (routed.wrote && h) {
      controller::EmbeddedController* ctl = c->ctl.get();
      (void)h->controller_call([ctl](int64_t now) { ctl->process_pending(now); });
    }
    const std::string text = controller::api_response_text(routed.response);
    *http_status = routed.response.status;
    *out_len = text.size() + 1;
    if (text.size() + 1 > cap)
      return fail(ZT_ERR_TOO_LARGE, "response needs " + std::to_string(text.size() + 1) + " bytes, buffer has " +
                                        std::to_string(cap) + " (the request itself was carried out)");
    std::memcpy(out, text.c_str(), text.size() + 1);
    return ZT_OK;
  });
}

zt_result zt_planet_make(uint64_t id, uint64_t timestamp_ms, const char* root_identity, const char* endpoints,
                         uint8_t* out, size_t cap, size_t* len) {
  if (!root_identity || !endpoints || !len) return fail(ZT_ERR_INVALID_ARGUMENT, "null root_identity, endpoints or len");
  if (cap && !out) return fail(ZT_ERR_INVALID_ARGUMENT, "null out with a nonzero cap");
  return guarded([&] {
    crypto::init();
    auto ident = proto::Identity::parse(trim(root_identity));
    if (!ident.ok()) return fail(ZT_ERR_INVALID_ARGUMENT, "bad root identity: " + ident.error());
    if (!ident->has_private())
      return fail(ZT_ERR_INVALID_ARGUMENT, "root identity has no secret part (it signs the planet)");
    if (!ident->validate()) return fail(ZT_ERR_INVALID_ARGUMENT, "bad root identity: " + ident->validate_reason());

    proto::WorldRoot root;
    root.identity = proto::Identity::parse(ident->to_string(false)).value();
    std::stringstream ss(endpoints);
    std::string part;
    while (std::getline(ss, part, ',')) {
      part = trim(part);
      if (part.empty()) continue;
      auto ep = proto::InetAddress::parse(part);
      if (!ep || ep->port() == 0)
        return fail(ZT_ERR_INVALID_ARGUMENT, "bad endpoint '" + part + "' (expected ip/port, e.g. 127.0.0.1/9993)");
      root.stable_endpoints.push_back(*ep);
    }
    if (root.stable_endpoints.empty()) return fail(ZT_ERR_INVALID_ARGUMENT, "no endpoints");
    if (root.stable_endpoints.size() > proto::World::kMaxEndpointsPerRoot)
      return fail(ZT_ERR_INVALID_ARGUMENT, "more than 32 endpoints");

    // The root's own key pair signs the world and is its update key (as `ztcore lab` does).
    proto::WorldKeypair kp;
    kp.pub = ident->public_key();
    kp.priv = ident->private_key();
    auto world = proto::World::make(proto::World::Type::Planet, id, timestamp_ms, kp, {root});
    if (!world.ok()) return fail(ZT_ERR_INVALID_ARGUMENT, "cannot make the planet: " + world.error());
    const Bytes bytes = world->serialize();
    *len = bytes.size();
    if (bytes.size() > cap)
      return fail(ZT_ERR_TOO_LARGE, "planet needs " + std::to_string(bytes.size()) + " bytes, buffer has " +
                                        std::to_string(cap));
    std::memcpy(out, bytes.data(), bytes.size());
    return ZT_OK;
  });
}

}  // extern "C"
