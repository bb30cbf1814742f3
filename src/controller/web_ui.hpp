// The controller's web UI: the files of web/ (HTML, CSS, JS), embedded into the binary at build
// time (cmake/embed_web.cmake generates the table) and served by the controller's HTTP server.
//
// The pages are public (GET/HEAD, no token): they hold no data. Everything they show comes from
// the JSON API, which still needs the token (the user pastes it into the login form; the page
// keeps it in sessionStorage and sends it as X-ZT1-Auth). Paths: "/" and "/index.html" are the
// page, "/<file>" each other file of web/. Responses carry the file's content type, an ETag
// (a conditional GET with If-None-Match answers 304), Cache-Control: no-cache (revalidate each
// time, so a new binary's files are picked up at once) and a Content-Security-Policy that
// allows this origin only.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace zt::controller {

struct WebAsset {
  std::string_view path;          // "/app.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view body;
  std::string_view etag;          // quoted, e.g. "\"0123456789abcdef\""
};

// Every embedded file (generated source).
std::span<const WebAsset> web_assets();

// The asset for a request path ("/" is "/index.html"); nullptr if none.
const WebAsset* find_web_asset(std::string_view path);

// Answers GET/HEAD of an embedded file (true: `res` is the response). Anything else returns
// false and leaves `res` alone (the API handles it, token first).
bool serve_web_ui(const httplib::Request& req, httplib::Response& res);

}  // namespace zt::controller
