// docs/openapi.json against what the daemon really routes (docs/api.md §21): the router table of a daemon
// built as agent-gateway builds it, route for route, with the access and WebSocket marks; the document's own
// path parameters; and the route that serves it.
#include "app/daemon.hpp"
#include "auth/token_store.hpp"
#include "config/daemon_config.hpp"
#include "gateway/router.hpp"
#include "handlers/embedded_answer.hpp"
#include "handlers/openapi_document.hpp"
#include "handlers/routes.hpp"
#include "runtime/net.hpp"
#include "support/temp_dir.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/fields.hpp>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace ag;
using nlohmann::json;
using namespace ag::net;

namespace {

const std::set<std::string> http_methods{"get", "put", "post", "delete", "options", "head", "patch", "trace"};

// Answered by dispatch before any route (docs/api.md §3 step 1), so in the document but not in the table.
const std::set<std::string> served_outside_router{"get /healthz"};

std::string document_text() {
    return embedded::inflate(openapi_file());
}

json document() {
    return json::parse(document_text());
}

// The router writes a parameter as "{name}", as OpenAPI does: a segment maps to itself. Anything else between
// braces would be a pattern the document cannot name.
std::string openapi_path(const route& r) {
    std::string out;
    for (const auto& seg : r.segments) {
        if (seg.find_first_of("{}") != std::string::npos) {
            INFO("route segment " << seg);
            REQUIRE((seg.size() > 2 && seg.front() == '{' && seg.back() == '}' &&
                     seg.find_first_of("{}", 1) == seg.size() - 1));
        }
        out += "/" + seg;
    }
    return out.empty() ? "/" : out;
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

std::string join(const std::set<std::string>& items) {
    std::string out;
    for (const auto& i : items)
        out += "\n  " + i;
    return out;
}

config config_for(const std::string& root, std::vector<const char*> extra = {}) {
    std::vector<const char*> argv{"agent-gateway", "--root", root.c_str(), "--snapshot-interval", "0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const char* envp[] = {nullptr};
    return parse_command_line(static_cast<int>(argv.size()), argv.data(), envp).cfg;
}

// A parameter object, its $ref resolved.
const json& resolved(const json& doc, const json& p) {
    if (!p.contains("$ref"))
        return p;
    const std::string ref = p["$ref"];
    const std::string prefix = "#/components/parameters/";
    REQUIRE(ref.starts_with(prefix));
    return doc["components"]["parameters"].at(ref.substr(prefix.size()));
}

} // namespace

TEST_CASE("openapi: the document names every route of the daemon's router table, and no other") {
    test::temp_dir root;
    config cfg = config_for(root.path);
    REQUIRE(cfg.metrics); // the default, with the most routes
    auto tokens = auth::token_store::fixed("openapi-token-0123456789");
    app::daemon d(cfg, tokens);
    const json doc = document();

    std::set<std::string> routed;
    std::map<std::string, const route*> by_key;
    for (const auto& r : d.routes().all()) {
        std::string key = lower(method_name(r.verb)) + " " + openapi_path(r);
        INFO(key);
        CHECK(routed.insert(key).second); // the same method and path twice: the second is never reached
        by_key[key] = &r;
    }
    std::set<std::string> documented;
    for (const auto& [path, item] : doc["paths"].items())
        for (const auto& [name, op] : item.items())
            if (http_methods.contains(name))
                documented.insert(name + " " + path);

    std::set<std::string> missing, invented;
    std::set_difference(routed.begin(), routed.end(), documented.begin(), documented.end(),
                        std::inserter(missing, missing.end()));
    std::set_difference(documented.begin(), documented.end(), routed.begin(), routed.end(),
                        std::inserter(invented, invented.end()));
    for (const auto& outside : served_outside_router) {
        CHECK_MESSAGE(invented.erase(outside) == 1,
                      outside << " is served by dispatch: the document names it");
        CHECK_FALSE(routed.contains(outside));
    }
    CHECK_MESSAGE(missing.empty(), "routes the document lacks:" << join(missing));
    CHECK_MESSAGE(invented.empty(), "operations no route serves:" << join(invented));
    CHECK(routed.contains("get /v0/openapi.json"));

    // What each documented route is: who may call it, and whether it is a WebSocket.
    for (const auto& [key, r] : by_key) {
        if (!documented.contains(key))
            continue;
        auto space = key.find(' ');
        const json& op = doc["paths"][key.substr(space + 1)][key.substr(0, space)];
        INFO(key);
        const bool open = op.contains("security") && op["security"].empty();
        CHECK(open == (r->options.access != route_access::token));
        CHECK(op.value("x-agent-gateway-access", "") ==
              (r->options.access == route_access::loopback ? "loopback" : ""));
        CHECK(op.value("x-websocket", false) == static_cast<bool>(r->ws_handler));
    }
    const json& health = doc["paths"]["/healthz"]["get"];
    CHECK((health.contains("security") && health["security"].empty()));
}

TEST_CASE("openapi: --metrics off removes both metrics routes and nothing else") {
    auto table = [](std::vector<const char*> extra) {
        test::temp_dir root;
        auto tokens = auth::token_store::fixed("openapi-token-0123456789");
        const config cfg = config_for(root.path, std::move(extra)); // the daemon keeps a reference
        app::daemon d(cfg, tokens);
        std::set<std::string> keys;
        for (const auto& r : d.routes().all())
            keys.insert(lower(method_name(r.verb)) + " " + openapi_path(r));
        return keys;
    };
    const auto all = table({});
    const auto fewer = table({"--metrics", "off"});
    std::set<std::string> gone;
    std::set_difference(all.begin(), all.end(), fewer.begin(), fewer.end(), std::inserter(gone, gone.end()));
    CHECK(gone == std::set<std::string>{"get /metrics", "get /v0/agents/{agentId}/metrics"});
    CHECK(std::includes(all.begin(), all.end(), fewer.begin(), fewer.end()));
}

TEST_CASE("openapi: every templated path declares exactly its parameters; the version is the binary's") {
    const json doc = document();
    CHECK(doc["openapi"].get<std::string>().starts_with("3.1."));
    CHECK(doc["info"]["version"] == AGENT_GATEWAY_VERSION);
    for (const auto& [path, item] : doc["paths"].items()) {
        std::set<std::string> in_template;
        for (std::size_t open = path.find('{'); open != std::string::npos; open = path.find('{', open + 1))
            in_template.insert(path.substr(open + 1, path.find('}', open) - open - 1));
        for (const auto& [name, op] : item.items()) {
            if (!http_methods.contains(name))
                continue;
            INFO(name << " " << path);
            std::set<std::string> declared;
            for (const json* list : {&item, &op})
                for (const auto& p : list->value("parameters", json::array())) {
                    const json& param = resolved(doc, p);
                    if (param["in"] == "path") {
                        CHECK(param["required"] == true);
                        declared.insert(param["name"].get<std::string>());
                    }
                }
            CHECK_MESSAGE(declared == in_template,
                          "declared:" << join(declared) << "\nin the path:" << join(in_template));
            CHECK(op.contains("operationId"));
            CHECK_FALSE(op["responses"].empty());
        }
    }
}

TEST_CASE("openapi: GET /v0/openapi.json answers the built-in document, with an ETag that If-None-Match "
          "matches") {
    router r;
    openapi_routes{}.add_to(r);
    const route* found = r.match_open(method::get, "/v0/openapi.json");
    REQUIRE(found);
    CHECK(r.match_open(method::head, "/v0/openapi.json") == found);
    CHECK(r.match_open(method::post, "/v0/openapi.json") == nullptr);

    auto call = [&](std::string if_none_match, std::string accept_encoding = {}) {
        boost::beast::http::fields fields;
        if (!if_none_match.empty())
            fields.set("If-None-Match", if_none_match);
        if (!accept_encoding.empty())
            fields.set("Accept-Encoding", accept_encoding);
        request req;
        req.verb = method::get;
        req.path = "/v0/openapi.json";
        req.target = req.path;
        req.fields = &fields;
        asio::io_context ioc;
        std::optional<response> out;
        asio::co_spawn(
            ioc, [&]() -> asio::awaitable<void> { out = co_await found->handler(req); }, asio::detached);
        ioc.run();
        REQUIRE(out);
        return std::move(*out);
    };
    auto header = [](const response& res, std::string_view name) {
        for (const auto& [k, v] : res.headers)
            if (k == name)
                return v;
        return std::string();
    };
    response first = call("");
    CHECK(first.status == 200);
    CHECK(first.content_type == "application/json");
    CHECK(first.body == document_text());
    CHECK(header(first, "Content-Encoding").empty());
    const std::string etag = header(first, "ETag");
    CHECK(etag == openapi_file().etag);
    CHECK(etag.size() == 34);
    CHECK(header(first, "Cache-Control") == "no-cache");

    // Built in compressed: a client that takes gzip gets those bytes as they are.
    response gz = call("", "gzip, deflate");
    CHECK(gz.status == 200);
    CHECK(header(gz, "Content-Encoding") == "gzip");
    CHECK(gz.body == openapi_file().gzip);
    CHECK(gz.body.size() * 4 < first.body.size());
    CHECK(header(gz, "ETag") == etag);

    response again = call(etag);
    CHECK(again.status == 304);
    CHECK(again.body.empty());
    CHECK(header(again, "ETag") == etag);
    CHECK(call("\"something-else\"").status == 200);
    CHECK(call("*").status == 304);
}

TEST_CASE("embedded files: which Accept-Encoding values take gzip") {
    CHECK(accepts_gzip("gzip"));
    CHECK(accepts_gzip("br, gzip;q=0.8"));
    CHECK(accepts_gzip("GZIP"));
    CHECK(accepts_gzip("x-gzip"));
    CHECK(accepts_gzip("*"));
    CHECK(accepts_gzip("deflate, gzip ; q=1"));
    CHECK(accepts_gzip("gzip;level=1"));
    CHECK_FALSE(accepts_gzip(""));
    CHECK_FALSE(accepts_gzip("identity"));
    CHECK_FALSE(accepts_gzip("br, deflate"));
    CHECK_FALSE(accepts_gzip("gzip;q=0"));
    CHECK_FALSE(accepts_gzip("gzip;q=0.000"));
    CHECK_FALSE(accepts_gzip("gzipped"));
    CHECK(accepts_gzip("gzip;q=0.001"));
}
