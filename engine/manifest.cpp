#include "engine/manifest.hpp"

#include "util/log.hpp"

#include <nlohmann/json.hpp>

#include <fstream>

namespace ag::engine {

manifest load_manifest(const std::string& path) {
    manifest m;
    std::ifstream in(path);
    if (!in)
        return m;
    m.present = true;
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_object()) {
        m.error = "not a JSON object";
        return m;
    }
    auto string_at = [](const nlohmann::json& obj, const char* key) -> std::optional<std::string> {
        auto it = obj.find(key);
        if (it != obj.end() && it->is_string() && !it->get<std::string>().empty())
            return it->get<std::string>();
        return std::nullopt;
    };
    if (auto a = j.find("agent"); a != j.end() && a->is_object()) {
        m.agent_name = string_at(*a, "name");
        m.engine = string_at(*a, "engine");
    }
    if (!m.engine)
        m.engine = string_at(j, "engine");
    if (auto s = j.find("scripts"); s != j.end() && s->is_object()) {
        m.build_script = string_at(*s, "build");
        m.start_script = string_at(*s, "start");
    }
    if (auto r = j.find("routes"); r != j.end())
        m.routes_json = r->dump();
    if (auto t = j.find("tasks"); t != j.end())
        m.tasks_json = t->dump();
    return m;
}

std::string manifest_problem(std::string_view content) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(content);
    } catch (const nlohmann::json::parse_error& e) {
        std::string what = e.what();
        // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." → from "line" on.
        auto at = what.find("line ");
        return "not valid JSON (" + (at == std::string::npos ? what : what.substr(at)) + ")";
    }
    if (!j.is_object())
        return "not a JSON object";
    auto v = j.find("version");
    if (v == j.end())
        return "\"version\" is missing (must be 1)";
    if (!v->is_number_integer() || v->get<long long>() != 1)
        return "\"version\" must be 1, not " + v->dump();
    return {};
}

manifest_store::manifest_store(std::string path)
    : path_(std::move(path)) {
    reload();
}

std::shared_ptr<const manifest> manifest_store::current() const {
    std::lock_guard lock(mutex_);
    return current_;
}

void manifest_store::reload() {
    auto m = std::make_shared<manifest>(load_manifest(path_));
    if (!m->error.empty())
        log::warn("manifest {}: {}", path_, m->error);
    std::lock_guard lock(mutex_);
    current_ = std::move(m);
}

} // namespace ag::engine
