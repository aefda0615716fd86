#include "git/pack_sink.hpp"

#include "git/pkt_line.hpp"

namespace ag::git {

namespace {
constexpr std::size_t flush_at = 256 * 1024; // batch pkts into writes of about this size
}

pack_sink::pack_sink(output& out, std::size_t sideband, bool progress)
    : out_(out)
    , band_max_(sideband > 5 ? sideband - 5 : 0)
    , progress_(progress && sideband > 0) {}

bool pack_sink::emit(bool force) {
    if (!ok_)
        return false;
    if (framed_.empty() || (!force && framed_.size() < flush_at))
        return true;
    ok_ = out_.write(framed_);
    framed_.clear();
    last_write_ = std::chrono::steady_clock::now();
    return ok_;
}

bool pack_sink::data(const void* bytes, std::size_t n) {
    std::lock_guard lock(mutex_);
    std::string_view rest(static_cast<const char*>(bytes), n);
    if (band_max_ == 0) {
        framed_.append(rest);
        return emit(false);
    }
    while (!rest.empty()) {
        std::size_t take = std::min(rest.size(), band_max_);
        append_band(framed_, 1, rest.substr(0, take));
        rest.remove_prefix(take);
        if (!emit(false))
            return false;
    }
    return ok_;
}

bool pack_sink::progress(std::string_view message) {
    std::lock_guard lock(mutex_);
    if (!progress_)
        return ok_;
    append_band(framed_, 2, message);
    return emit(true);
}

bool pack_sink::keepalive() {
    std::lock_guard lock(mutex_);
    if (band_max_ == 0 || std::chrono::steady_clock::now() - last_write_ < std::chrono::seconds(1))
        return ok_;
    framed_.append("0005\1", 5);
    return emit(true);
}

bool pack_sink::fatal(std::string_view message) {
    std::lock_guard lock(mutex_);
    if (band_max_ == 0) {
        append_pkt(framed_, "ERR " + std::string(message) + "\n");
    } else {
        append_band(framed_, 3, std::string(message) + "\n");
    }
    return emit(true);
}

bool pack_sink::finish() {
    std::lock_guard lock(mutex_);
    if (band_max_ > 0)
        framed_.append(flush_pkt);
    return emit(true);
}

} // namespace ag::git
