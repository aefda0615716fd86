#include "logs/loki_shipper.hpp"

#include "logs/loki_push.hpp"
#include "runtime/net.hpp"
#include "util/atomic_file.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <exception>
#include <utility>

namespace ag::logs {
namespace {

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// What a push's status means: 2xx accepted; a status that says the request as such was wrong (400, 413,
// 422, …) will be refused again however often it is sent; the rest (429, 5xx, and 401/403/404/408, which
// say Loki or the way to it is not ready, not that the entries are bad) are worth retrying.
enum class verdict { accepted, refused, retry };
verdict judge(unsigned status) {
    if (status >= 200 && status < 300)
        return verdict::accepted;
    if (status >= 400 && status < 500 && status != 401 && status != 403 && status != 404 && status != 408 &&
        status != 429)
        return verdict::refused;
    return verdict::retry;
}

std::string excerpt(std::string_view body) {
    std::string s(text::utf8_prefix(text::trim(body), 300));
    std::replace(s.begin(), s.end(), '\n', ' ');
    return s;
}

} // namespace

loki_shipper::loki_shipper(asio::io_context& ioc, blocking_pool& pool, journal& j, options opts)
    : ioc_(ioc)
    , pool_(pool)
    , journal_(j)
    , opts_(std::move(opts))
    , timer_(ioc) {
    auto url = loki::split_push_url(opts_.url);
    to_ = upstream::endpoint::parse(url.base);
    path_ = url.path;
    position_file_ = opts_.state_dir + "/loki/shipped-seq";
}

std::chrono::milliseconds loki_shipper::retry_delay(unsigned failures, std::chrono::milliseconds first,
                                                    std::chrono::milliseconds max) {
    auto d = first;
    for (unsigned i = 1; i < failures && d < max; ++i)
        d *= 2;
    return std::min(d, max);
}

std::uint64_t loki_shipper::lag() const noexcept {
    std::uint64_t last = journal_.last_seq();
    std::uint64_t at = position_.load(std::memory_order_relaxed);
    return last > at ? last - at : 0;
}

void loki_shipper::start() {
    running_ = true;
    asio::co_spawn(ioc_, run(), [this](const std::exception_ptr& e) {
        if (e)
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                log::error("loki: shipping stopped: {}", ex.what());
            }
        running_ = false;
    });
}

void loki_shipper::stop() noexcept {
    stopping_ = true;
    abort_.trip();
    timer_.cancel();
}

asio::awaitable<bool> loki_shipper::wait(std::chrono::milliseconds d) {
    if (stopping_)
        co_return false;
    timer_.expires_after(d);
    auto [ec] = co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return !ec && !stopping_;
}

asio::awaitable<void> loki_shipper::run() {
    auto load = [this] { load_position(); };
    co_await pool_.run(load);
    log::info("loki: shipping log entries after seq {} to {}{}", position_.load(), to_.url, path_);
    unsigned failures = 0;
    while (!stopping_) {
        auto once = [this] { return ship_once(); };
        result r = co_await pool_.call(once);
        if (stopping_)
            break;
        std::chrono::milliseconds pause = opts_.flush_interval;
        switch (r.what) {
        case outcome::idle:
            break;
        case outcome::sent:
            shipped_.add(r.entries);
            if (failures > 0)
                log::info("loki: shipping again after {} failed attempts", failures);
            failures = 0;
            break;
        case outcome::rejected:
            rejected_.add(r.entries);
            log::warn("loki: refused a batch of {} entries, skipping it: {}", r.entries, r.detail);
            failures = 0;
            break;
        case outcome::failed:
            failures_.add();
            ++failures;
            pause = retry_delay(failures, opts_.first_retry, opts_.max_retry);
            log::warn("loki: push failed ({}), retrying in {} ms", r.detail, pause.count());
            break;
        }
        // A full page means more is waiting: send it at once (unless Loki just failed).
        if (r.full && r.what != outcome::failed)
            continue;
        bool go_on = co_await wait(pause);
        if (!go_on)
            break;
    }
}

void loki_shipper::load_position() {
    fs_util::remove_leftover_temps(position_file_);
    std::optional<std::string> text;
    try {
        text = fs_util::read_file(position_file_);
    } catch (const std::exception& e) {
        log::warn("loki: cannot read {}: {}; shipping what the journal holds", position_file_, e.what());
    }
    std::uint64_t at = 0;
    if (text) {
        auto n = text::parse_u64(text::trim(*text));
        if (n)
            at = *n;
        else
            log::warn("loki: {} does not hold a seq; shipping what the journal holds", position_file_);
    }
    std::uint64_t last = journal_.last_seq();
    if (at > last) {
        log::warn("loki: {} says seq {} was shipped, but the journal ends at {}; shipping what it holds",
                  position_file_, at, last);
        at = 0;
    }
    position_.store(at);
}

void loki_shipper::save_position(std::uint64_t seq) {
    position_.store(seq);
    try {
        fs_util::make_directories(opts_.state_dir + "/loki", 0700);
        fs_util::write_file_atomic(position_file_, std::to_string(seq) + "\n", 0600);
    } catch (const std::exception& e) {
        // Still moves on in memory: nothing is sent twice in this run; a restart resends from the last
        // record.
        log::error("loki: cannot record the shipped seq in {}: {}", position_file_, e.what());
    }
}

loki_shipper::result loki_shipper::ship_once() {
    std::uint64_t at = position_.load();
    auto page = journal_.after(at, opts_.page_entries);
    if (page.empty())
        return {};
    if (at > 0 && page.front().seq > at + 1) {
        lost_.add(page.front().seq - at - 1);
        log::warn("loki: entries {}..{} left the journal before they were shipped; going on from {}", at + 1,
                  page.front().seq - 1, page.front().seq);
    }
    auto body = loki::build_push(page, opts_.agent_id, opts_.max_batch_bytes, now_ns());
    result r;
    r.entries = body.entries;
    r.full = body.entries < page.size() || page.size() >= opts_.page_entries;
    upstream::request req;
    req.method = "POST";
    req.target = path_;
    req.headers = {{"Content-Type", "application/json"}};
    req.body = std::move(body.json);
    upstream::response res;
    try {
        res = upstream::fetch(to_, req, {opts_.timeout, 1024 * 1024, &abort_});
    } catch (const upstream::error& e) {
        r.what = outcome::failed;
        r.detail = e.what();
        return r;
    }
    switch (judge(res.status)) {
    case verdict::accepted:
        r.what = outcome::sent;
        break;
    case verdict::refused:
        r.what = outcome::rejected;
        r.detail = "HTTP " + std::to_string(res.status) + ": " + excerpt(res.body);
        break;
    case verdict::retry:
        r.what = outcome::failed;
        r.detail = "HTTP " + std::to_string(res.status) + ": " + excerpt(res.body);
        return r;
    }
    save_position(body.last_seq);
    return r;
}

} // namespace ag::logs
