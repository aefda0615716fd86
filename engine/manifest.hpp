#pragma once
// The agent's manifest (WORKSPACE/manifest.json): read at start and on SIGHUP, shared read-only afterwards.
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace ag::engine {

struct manifest {
    std::optional<std::string> agent_name;   // agent.name
    std::optional<std::string> engine;       // agent.engine or engine
    std::optional<std::string> build_script; // scripts.build ("" means none)
    std::optional<std::string> start_script; // scripts.start
    std::string routes_json;                 // "routes" as JSON text ("" when absent); proxy/ reads it
    std::string tasks_json;                  // "tasks" as JSON text ("" when absent); tasks/ reads it
    bool present = false;
    std::string error; // why it could not be used, when present but broken
};

manifest load_manifest(const std::string& path);

// Why `content` cannot be the manifest (not JSON, not an object, "version" other than 1); "" when it can. A
// push that would check out such a manifest is refused with this reason (docs/api.md §13).
std::string manifest_problem(std::string_view content);

// Thread-safe holder of the current manifest.
class manifest_store {
public:
    explicit manifest_store(std::string path);
    std::shared_ptr<const manifest> current() const;
    void reload(); // logs a warning when the file is present but unusable
private:
    std::string path_;
    mutable std::mutex mutex_;
    std::shared_ptr<const manifest> current_;
};

} // namespace ag::engine
