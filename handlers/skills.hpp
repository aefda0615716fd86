#pragma once
// Skills found in WORKSPACE/skills/*/SKILL.md (YAML front matter: name, description). Blocking: call on the
// pool.
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ag::skills {

struct skill {
    std::string id;   // the folder name
    std::string name; // front matter `name`, else the folder name
    std::optional<std::string> description;
};

struct front_matter {
    std::optional<std::string> name;
    std::optional<std::string> description;
};

// Reads `name` and `description` from a leading "---" block; quoted values and folded (>, |) blocks included.
front_matter parse_front_matter(std::string_view text);

std::vector<skill> scan(const std::string& workspace);

// The skills, read once and again only after inotify reports a change under WORKSPACE/skills (a skill
// added, removed or renamed, a file in a skill's folder written). Dashboards poll the agent every few
// seconds; an unchanged workspace then costs one non-blocking read of the inotify queue, not a walk.
// Without inotify (or past its watch limit) every call scans. Thread-safe.
class catalog {
public:
    explicit catalog(std::string workspace);
    ~catalog();
    catalog(const catalog&) = delete;
    catalog& operator=(const catalog&) = delete;

    using list = std::shared_ptr<const std::vector<skill>>;
    // The list as last read, when nothing changed since; null when it must be read again. Never blocks:
    // safe on an I/O thread.
    list cached();
    // Reads the skills (blocking: on the pool), watching what it read, and keeps the result.
    list rescan();

private:
    bool drain_events(); // true when an event says the list may have changed

    std::string workspace_;
    int inotify_ = -1;
    int workspace_watch_ = -1;
    std::mutex mutex_; // everything below, and reads of the inotify queue
    bool dirty_ = true;
    bool usable_ = false; // every folder read is watched
    list current_;
    std::vector<int> watches_;
};

} // namespace ag::skills
