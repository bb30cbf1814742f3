// Shared by the C ABI translation units (capi.cpp: runtime and nodes; capi_network.cpp:
// virtual networks and frames; capi_controller.cpp: controller and worlds). Not installed.
//
// Lifetimes the shims keep straight:
//   * zt_runtime remembers its live zt_node handles, so zt_runtime_free can orphan them
//     (owner = nullptr): a later zt_node_free then only releases memory.
//   * a zt_controller serves at most one node at a time; zt_controller::node and
//     zt_node::controller link them (guarded by zt_controller::mu) so that management writes
//     can run the controller's pushes on that node's loop thread, and so that freeing either
//     side detaches the other.
#pragma once

#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "controller/db.hpp"
#include "controller/embedded_controller.hpp"
#include "runtime/runtime.hpp"
#include "stack/stack.hpp"
#include "ztcore/ztcore.h"

struct zt_runtime {
  std::unique_ptr<zt::runtime::Runtime> rt = std::make_unique<zt::runtime::Runtime>();
  std::mutex mu;                // guards nodes
  std::vector<zt_node*> nodes;  // live handles created on this runtime
};

struct zt_node {
  zt_runtime* owner = nullptr;  // nullptr once the runtime was freed
  std::shared_ptr<zt::runtime::NodeHandle> h;
  void* user = nullptr;
  zt_event_cb on_event = nullptr;
  zt_frame_cb on_frame = nullptr;
  zt_network_cb on_network = nullptr;
  zt_wire_cb on_wire = nullptr;
  zt_controller* controller = nullptr;  // guarded by controller->mu
  // Loop thread only: the on_network callback's argument (about 6.5 KB; kept off the stack).
  std::unique_ptr<zt_network_info> network_scratch;
  // The node's IP stack (options.stack); closed before the node stops.
  std::shared_ptr<zt::stack::NodeStack> stack;
};

struct zt_controller {
  std::unique_ptr<zt::controller::ControllerDb> db;
  std::unique_ptr<zt::controller::EmbeddedController> ctl;
  std::mutex mu;
  bool claimed = false;     // a node is being created with, or runs, this controller
  zt_node* node = nullptr;  // the node it serves (set once that node started)
};

namespace zt::capi {

// Sets the calling thread's last error and returns `code`.
zt_result fail(zt_result code, std::string msg);

// Runs f, turning every exception into ZT_ERR_INTERNAL (nothing crosses the C boundary).
template <class F>
zt_result guarded(F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return fail(ZT_ERR_INTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return fail(ZT_ERR_INTERNAL, e.what());
  } catch (...) {
    return fail(ZT_ERR_INTERNAL, "unknown exception");
  }
}

// ZT_OK if `n` may be driven now: not null, its runtime alive, not on that runtime's loop
// thread (callbacks run there and the core is not reentrant).
zt_result check_node(zt_node* n);

// The zt_result for an error kind (NotFound → NOT_FOUND, Io → IO, State → STATE, TooLarge →
// TOO_LARGE, Internal → INTERNAL); InvalidArgument, the kind of a plain err("..."), → `invalid`.
zt_result result_of(ErrorKind kind, zt_result invalid = ZT_ERR_INVALID_ARGUMENT);
// Sets the last error from a Status and returns its result (result_of its kind; ZT_OK if ok).
zt_result from_status(const Status& st, zt_result other = ZT_ERR_INVALID_ARGUMENT);

// Fills a zt_network_info from the core's view (arrays truncated at their maximum).
void fill_network_info(const zt::core::NetworkInfo& in, zt_network_info& out);

// Detaches a node from its controller after the node stopped (controller side: no sender,
// link cleared). Safe when the node has none.
void unlink_controller(zt_node* n);

}  // namespace zt::capi
