// proxy/: the path-route rules and matching, and what the service sees of a target (docs/api.md §4, §11).
#include "gateway/errors.hpp"
#include "proxy/header_rules.hpp"
#include "proxy/path_routes.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace ag;

TEST_CASE("longest_match: the longest prefix at a segment boundary; / matches everything") {
    proxy::route_list routes{{3000, "/", false}, {3001, "/app", true}, {3002, "/app/api", true}};
    CHECK(proxy::longest_match(routes, "/")->port == 3000);
    CHECK(proxy::longest_match(routes, "/apple")->port == 3000);
    CHECK(proxy::longest_match(routes, "/app")->port == 3001);
    CHECK(proxy::longest_match(routes, "/app/")->port == 3001);
    CHECK(proxy::longest_match(routes, "/app/apix")->port == 3001);
    CHECK(proxy::longest_match(routes, "/app/api/v1")->port == 3002);
    proxy::route_list only_app{{3001, "/app", true}};
    CHECK(proxy::longest_match(only_app, "/other") == nullptr);
}

TEST_CASE("parse_routes: the manifest says path, the API pathPrefix; protected defaults to true") {
    auto from_manifest =
        proxy::parse_routes(nlohmann::json::parse(R"([{"port":4000,"path":"/web/"}])"), {}, "path");
    REQUIRE(from_manifest.size() == 1);
    CHECK(from_manifest[0].prefix == "/web");
    CHECK(from_manifest[0].protect);
    CHECK_THROWS_AS(
        proxy::parse_routes(nlohmann::json::parse(R"([{"port":4000,"path":"/a"},{"port":4001,"path":"/a"}])"),
                            {}, "path"),
        api_error);
    CHECK(proxy::parse_routes(nullptr, {}).empty());
}

TEST_CASE("path_routes: replace stores before serving; a broken file serves nothing and is kept") {
    test::temp_dir state;
    const std::string file = state.path + "/port-forwarding.json";
    {
        proxy::path_routes routes(file);
        routes.load(R"([{"port":4000,"path":"/web"}])");
        CHECK(routes.current()->size() == 1);
        routes.replace({{5000, "/x", false}});
    }
    proxy::path_routes again(file);
    again.load(R"([{"port":4000,"path":"/web"}])"); // the stored list wins over the seed
    REQUIRE(again.current()->size() == 1);
    CHECK(again.current()->at(0).port == 5000);
    {
        std::FILE* f = std::fopen(file.c_str(), "w");
        std::fputs("{not json", f);
        std::fclose(f);
    }
    again.reload();
    CHECK(again.current()->empty());
}

TEST_CASE("target_without_token: every token parameter goes, the rest stays as sent") {
    CHECK(proxy::target_without_token("/a") == "/a");
    CHECK(proxy::target_without_token("/a?token=x") == "/a");
    CHECK(proxy::target_without_token("/a?b=1&token=x&c=%2F") == "/a?b=1&c=%2F");
    CHECK(proxy::target_without_token("/a?%74oken=x&token=y&tokens=z") == "/a?tokens=z");
}

TEST_CASE("protected_in_any_reading: case, ;params and // never leave a protected prefix for a public one") {
    proxy::route_list routes{{3000, "/", false}, {3000, "/admin", true}, {3000, "/admin/public", false}};
    for (const char* path : {"/admin", "/admin/x", "/ADMIN/x", "/Admin", "/admin;x/y", "/admin;jsessionid=1",
                             "//admin/x", "/./admin", "//ADMIN;a//x"})
        CHECK_MESSAGE((proxy::protected_in_any_reading(routes, path) || std::string(path) == "/./admin"),
                      path);
    // "/./admin" is refused before this (a dot segment); what stays public stays public.
    for (const char* path : {"/", "/news", "/adminx", "/admin/public", "/admin/public/x", "/ADMIN/PUBLIC/x"})
        CHECK_MESSAGE(!proxy::protected_in_any_reading(routes, path), path);
    // No protected route: nothing to read twice.
    CHECK_FALSE(proxy::protected_in_any_reading({{3000, "/", false}}, "/ADMIN//x;y"));
}
