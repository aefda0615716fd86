#pragma once
// Where a task's payload goes (docs/api.md §14): agentTurn to the engine's POST /hooks/agent (waiting for the
// turn's completion), systemEvent to POST /hooks/wake, both with the hooks token as a bearer token; command
// runs like a console exec. HTTP calls block on the pool; the daemon's shutdown ends them and any command at
// once.
#include "engine/exec.hpp"
#include "tasks/scheduler.hpp"
#include "upstream/client.hpp"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ag {
class blocking_pool;
}
namespace ag::engine {
class child_reaper;
}

namespace ag::tasks {

struct delivery_config {
    std::optional<std::string> engine_url;                // --engine-url
    std::optional<std::string> hooks_token_file;          // --engine-hooks-token-file, read at each delivery
    std::string root;                                     // a command's relative cwd is under it
    std::string workspace;                                // a command's default cwd
    std::vector<std::pair<std::string, std::string>> env; // AGENT_ID
    std::size_t max_output = 1048576;                     // per stream of a command
};

class engine_delivery final : public deliverer {
public:
    engine_delivery(delivery_config cfg, engine::child_reaper& reaper, blocking_pool& pool,
                    std::atomic<int>& execs_running);
    boost::asio::awaitable<outcome> deliver(const job& j, std::chrono::seconds timeout) override;
    void abort_all() noexcept override;

private:
    boost::asio::awaitable<outcome> post_hook(const std::string& path, const nlohmann::json& body,
                                              std::chrono::seconds timeout, bool completion);
    boost::asio::awaitable<outcome> run_command(const job& j, std::chrono::seconds timeout);

    delivery_config cfg_;
    engine::child_reaper& reaper_;
    blocking_pool& pool_;
    std::atomic<int>& execs_running_; // shared with the console: at most 16 commands at once
    upstream::abort_switch abort_;
    std::shared_ptr<engine::exec_stopper> stopper_ = std::make_shared<engine::exec_stopper>();
};

} // namespace ag::tasks
