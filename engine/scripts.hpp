#pragma once
// The manifest's lifecycle scripts (docs/api.md §6): `build` (cwd ROOT, 5-minute timeout) at start, after a
// push and on retry; when it succeeds, `start` runs detached and supervised. Output goes to the log as
// `script/build` and `script/start`. Runs on the reaper's io_context; the other calls are thread-safe.
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class io_context;
}
namespace ag::logs {
class hub;
}

namespace ag::engine {

class child_reaper;
class manifest_store;

struct script_states {
    std::string build; // not_configured | pending | running | success | failed
    std::string start;
};

class scripts {
public:
    scripts(const scripts&) = delete;
    scripts& operator=(const scripts&) = delete;
    struct options {
        std::string cwd;
        std::vector<std::string> env;
        std::chrono::milliseconds build_timeout{5 * 60 * 1000};
    };
    scripts(boost::asio::io_context& ioc, child_reaper& reaper, logs::hub& hub, manifest_store& manifest,
            options opts);
    ~scripts();

    // Whether the current manifest names a build or start script.
    bool configured() const;
    // Runs build then start with the current manifest. While a build runs, a call makes it run once more
    // afterwards (a push during a build is not lost). This is the "rebuild" the git push path uses.
    void rebuild();
    script_states states() const;
    // Kills a running build and stops `start`.
    boost::asio::awaitable<void> stop();

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

} // namespace ag::engine
