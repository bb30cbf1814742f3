// Serving the embedded web UI files (web_ui.hpp).
#include "controller/web_ui.hpp"

#include <httplib.h>

namespace zt::controller {

const WebAsset* find_web_asset(std::string_view path) {
  if (path == "/") path = "/index.html";
  for (const WebAsset& a : web_assets())
    if (a.path == path) return &a;
  return nullptr;
}

namespace {

// Whether an If-None-Match header value names this ETag ("*", or a list that holds it,
// weak or strong).
bool etag_matches(const std::string& header, std::string_view etag) {
  if (header.empty()) return false;
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(',', pos);
    if (end == std::string::npos) end = header.size();
    std::string_view tag(header.data() + pos, end - pos);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
    pos = end + 1;
  }
  return false;
}

}  // namespace

bool serve_web_ui(const httplib::Request& req, httplib::Response& res) {
  if (req.method != "GET" && req.method != "HEAD") return false;
  const WebAsset* a = find_web_asset(req.path);
  if (!a) return false;
  res.set_header("ETag", std::string(a->etag));
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; "
                 "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  if (etag_matches(req.get_header_value("If-None-Match"), a->etag)) {
    res.status = 304;
    return true;
  }
  res.status = 200;
  res.set_content(a->body.data(), a->body.size(), std::string(a->content_type));
  return true;
}

}  // namespace zt::controller
