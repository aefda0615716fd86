// docs/api.md §3-§5 dispatch over any request line and headers: the target forms (origin, absolute, the
// rest), percent-decoding, the query, Host, the credentials' carriers. Input: lines
// "target\nhost\nauth\ncookie\norigin".
#include "gateway/dispatch.hpp"
#include "auth/failure_limiter.hpp"
#include "auth/token_store.hpp"
#include "config/daemon_config.hpp"
#include "gateway/router.hpp"

#include <cstdint>
#include <string>
#include <string_view>

using namespace ag;

namespace {

struct any_door final : front_door {
    std::optional<pass_target> by_host(std::string_view host) const override {
        if (host == "shop.example")
            return pass_target{5000, false};
        return std::nullopt;
    }
    std::optional<pass_target> by_path(std::string_view path, bool) const override {
        return pass_target{3000, path.starts_with("/admin")};
    }
    boost::asio::awaitable<pass_result> pass(pass_exchange&) override { co_return pass_result{}; }
};

std::string_view next_line(std::string_view& in) {
    auto nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
    return line;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static config cfg = [] {
        config c;
        c.agent_id = "a1";
        c.base_domain = "agents.example";
        return c;
    }();
    static auth::token_store tokens = auth::token_store::fixed("right-token");
    static auth::failure_limiter failures;
    static any_door door;
    static router routes = [] {
        router r;
        auto noop = [](request&) -> boost::asio::awaitable<response> { co_return response{}; };
        r.add(method::get, "/v0/agents/{id}", noop);
        r.add(method::get, "/v0/agents/{id}/files", noop);
        return r;
    }();
    static gate g{cfg, tokens, failures, &door};
    std::string_view in(reinterpret_cast<const char*>(data), size);
    const std::string remote = "127.0.0.1";
    dispatch_input d;
    d.verb = static_cast<method>(size % 8);
    d.target = next_line(in);
    d.host = next_line(in);
    d.authorizations.push_back(next_line(in));
    d.cookies.push_back(next_line(in));
    d.origin = next_line(in);
    d.upgrade = size % 3 == 0;
    d.preflight = size % 5 == 0;
    d.has_body = size % 7 == 0;
    d.remote_address = &remote;
    auto out = dispatch(d, routes, g);
    // A request that reaches a protected service carried the token.
    if (out.pass && out.pass->protect && d.verb != method::options &&
        std::string_view(d.authorizations[0]).find("right-token") == std::string_view::npos &&
        std::string_view(d.cookies[0]).find("right-token") == std::string_view::npos &&
        d.target.find("right-token") == std::string_view::npos)
        __builtin_trap();
    (void)origin_form(d.target);
    return 0;
}
