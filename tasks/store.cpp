#include "tasks/store.hpp"
#include "util/scope_exit.hpp"

#include "util/atomic_file.hpp"
#include "util/time_format.hpp"

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace ag::tasks {
namespace {

using nlohmann::json;
// Whatever a run's texts hold, the run and the job's state are stored: invalid UTF-8 is written as U+FFFD
// rather than throwing (the scheduler repairs the texts before; this is the last line).
constexpr auto replace = json::error_handler_t::replace;

std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> out;
    while (!text.empty()) {
        auto nl = text.find('\n');
        if (nl == std::string_view::npos)
            break; // a torn last line (the append was cut short) is not a run
        if (nl > 0)
            out.push_back(text.substr(0, nl));
        text.remove_prefix(nl + 1);
    }
    return out;
}

} // namespace

json to_json(const run& r) {
    auto opt = [](const auto& v) { return v ? json(*v) : json(); };
    return {{"id", r.id},
            {"jobId", r.job_id},
            {"trigger", r.trigger},
            {"status", r.status},
            {"error", opt(r.error)},
            {"startedAt", time_format::iso8601_ms(std::chrono::system_clock::time_point(r.started))},
            {"startedAtMs", r.started.time_since_epoch().count()},
            {"durationMs", r.duration_ms},
            {"output", opt(r.output)}};
}

store::store(std::string dir)
    : dir_(std::move(dir)) {}

std::string store::runs_file(std::string_view job_id) const {
    return dir_ + "/runs/" + std::string(job_id) + ".jsonl";
}

std::optional<json> store::load_jobs() {
    fs_util::make_directories(dir_ + "/runs", 0700);
    std::string path = dir_ + "/jobs.json";
    fs_util::remove_leftover_temps(path);
    auto text = fs_util::read_file(path);
    if (!text)
        return std::nullopt;
    json j = json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("jobs") || !j["jobs"].is_array())
        throw std::runtime_error(path + " is not a task table ({\"version\":1,\"jobs\":[…]})");
    return j;
}

void store::save_jobs(const std::vector<job>& jobs) {
    json list = json::array();
    for (const auto& j : jobs)
        list.push_back(to_json(j));
    fs_util::write_file_atomic(
        dir_ + "/jobs.json",
        json{{"version", 1}, {"jobs", std::move(list)}}.dump(2, ' ', false, replace) + "\n", 0600);
}

void store::append_run(const run& r) {
    std::string path = runs_file(r.job_id);
    int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        throw std::system_error(errno, std::generic_category(), "open " + path);
    scope_exit close_it([fd] { ::close(fd); });
    std::string line = to_json(r).dump(-1, ' ', false, replace) + "\n";
    // A line a kill cut short ends without a newline: start on a line of our own.
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
        char last = 0;
        if (::pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
            line.insert(line.begin(), '\n');
    }
    fs_util::write_all(fd, line, path);
    if (::fdatasync(fd) != 0)
        throw std::system_error(errno, std::generic_category(), "fdatasync " + path);
    if (st.st_size == 0)
        fs_util::fsync_dir(dir_ + "/runs");
    // Past 200 lines the file is cut back to the newest 100, atomically (a run is at most once a minute).
    auto text = fs_util::read_file(path);
    if (!text)
        return;
    auto lines = lines_of(*text);
    if (lines.size() <= 2 * runs_kept)
        return;
    std::string kept;
    for (std::size_t i = lines.size() - runs_kept; i < lines.size(); ++i) {
        kept += lines[i];
        kept += '\n';
    }
    fs_util::write_file_atomic(path, kept, 0600);
}

std::vector<json> store::runs(std::string_view job_id, std::size_t limit) const {
    std::vector<json> out;
    auto text = fs_util::read_file(runs_file(job_id));
    if (!text)
        return out;
    auto lines = lines_of(*text);
    limit = std::min(limit, runs_kept); // the file holds up to 200 between cuts
    for (auto it = lines.rbegin(); it != lines.rend() && out.size() < limit; ++it) {
        json r = json::parse(*it, nullptr, false);
        if (r.is_object() && r.contains("status")) {
            r.erase("startedAtMs");
            out.push_back(std::move(r));
        }
    }
    return out;
}

void store::remove_runs(std::string_view job_id) {
    std::string path = runs_file(job_id);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        throw std::system_error(errno, std::generic_category(), "unlink " + path);
    fs_util::remove_leftover_temps(path);
}

} // namespace ag::tasks
