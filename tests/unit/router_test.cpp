#include "gateway/router.hpp"

#include <doctest/doctest.h>

using namespace ag;

namespace {
http_handler noop() {
    return [](request&) -> boost::asio::awaitable<response> { co_return response{}; };
}
} // namespace

TEST_CASE("router: literals, params, methods, HEAD, 405 lists") {
    router r;
    r.add(method::get, "/v0/agents/{agentId}", noop());
    r.add(method::get, "/v0/agents/{agentId}/tasks/{jobId}", noop());
    r.add(method::put, "/v0/agents/{agentId}/tasks/{jobId}", noop());
    r.add(method::post, "/v0/agents/{agentId}/console/exec", noop());
    r.add_websocket("/v0/logs",
                    [](websocket_connection&, request&) -> boost::asio::awaitable<void> { co_return; });

    auto m = r.match(method::get, "/v0/agents/a1/tasks/j9", false);
    REQUIRE(m.found);
    CHECK(m.params == std::vector<std::pair<std::string, std::string>>{{"agentId", "a1"}, {"jobId", "j9"}});
    CHECK(r.match(method::put, "/v0/agents/a1/tasks/j9", false).found);
    CHECK(r.match(method::head, "/v0/agents/a1", false).found);
    CHECK(r.match(method::get, "/v0/agents/a1/", false).found); // trailing slash

    auto wrong = r.match(method::delete_, "/v0/agents/a1/tasks/j9", false);
    CHECK_FALSE(wrong.found);
    CHECK(wrong.allow == "GET, HEAD, PUT");
    auto none = r.match(method::get, "/v0/agents/a1/nothing", false);
    CHECK_FALSE(none.found);
    CHECK(none.allow.empty());

    CHECK(r.match(method::get, "/v0/logs", true).found);
    CHECK_FALSE(r.match(method::get, "/v0/logs", false).found);
    CHECK_FALSE(r.match(method::get, "/v0/agents/a1", true).found);
}
