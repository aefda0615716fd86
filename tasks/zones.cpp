#include "tasks/zones.hpp"

#include <date/tz.h>
// The zone objects are made here (a fresh one reads its file again): their members are defined in
// tz_private.h.
#include <date/tz_private.h>

#include <fstream>
#include <stdexcept>

namespace ag::tasks {
namespace {

// A zone name is a relative path inside the zoneinfo directory: letters, digits, '_', '-', '+' and '/'
// between non-empty parts, never "." or "..". Anything else never reaches the file system.
bool plausible_name(std::string_view name) {
    if (name.empty() || name.size() > 64 || name.front() == '/' || name.back() == '/')
        return false;
    for (char c : name)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '+' || c == '/'))
            return false;
    return name.find("//") == std::string_view::npos && name.front() != '-' && !name.starts_with("posix") &&
           !name.starts_with("right");
}

bool is_tzif(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char magic[4] = {};
    return in.read(magic, 4) && std::string_view(magic, 4) == "TZif";
}

} // namespace

bool is_utc(std::string_view name) {
    return name == "UTC" || name == "Etc/UTC" || name == "Z" || name == "Etc/Zulu" || name == "Zulu" ||
           name == "Universal" || name == "Etc/Universal";
}

zones::zones() = default;
zones::~zones() = default;

const std::string& zones::directory() {
    static const std::string dir = "/usr/share/zoneinfo";
    return dir;
}

std::shared_ptr<const date::time_zone> zones::find(std::string_view name) {
    if (is_utc(name))
        return nullptr;
    std::lock_guard lock(mutex_);
    if (auto it = cache_.find(name); it != cache_.end())
        return it->second;
    std::string n(name);
    if (!plausible_name(name) || !is_tzif(directory() + "/" + n))
        throw std::invalid_argument("unknown time zone '" + n + "'");
    // A fresh zone object reads its file on first use: after forget(), an updated file is read again.
    auto zone = std::make_shared<const date::time_zone>(n, date::detail::undocumented{});
    try {
        (void)zone->get_info(std::chrono::system_clock::now());
    } catch (const std::exception& e) {
        throw std::invalid_argument("time zone '" + n + "' cannot be read: " + e.what());
    }
    cache_.emplace(n, zone);
    return zone;
}

void zones::forget() {
    std::lock_guard lock(mutex_);
    cache_.clear();
}

} // namespace ag::tasks
