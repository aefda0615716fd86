#include "gateway/producer_stream.hpp"

#include "runtime/blocking_pool.hpp"
#include "runtime/net.hpp"
#include "util/log.hpp"
#include "util/scope_exit.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

namespace ag {

namespace {

struct channel final : producer_sink {
    channel(asio::any_io_executor ex, std::size_t max)
        : executor(std::move(ex))
        , wake(executor)
        , max_buffered(max) {}

    asio::any_io_executor executor;
    asio::steady_timer wake; // only touched on the consumer's executor
    std::size_t max_buffered;

    std::mutex mutex;
    std::condition_variable space;
    std::deque<std::string> chunks;
    std::size_t buffered = 0;
    bool done = false;
    std::string failure; // what the producer threw, when it did
    bool cancelled = false;
    bool consumer_waiting = false;

    // Called with the mutex held.
    void notify_consumer(const std::shared_ptr<channel>& self) {
        if (!consumer_waiting)
            return;
        consumer_waiting = false;
        asio::post(executor, [self] { self->wake.cancel(); });
    }

    std::weak_ptr<channel> self_ref;

    bool write(std::string_view data) override {
        if (data.empty())
            return true;
        std::unique_lock lock(mutex);
        space.wait(lock, [&] { return cancelled || buffered < max_buffered; });
        if (cancelled)
            return false;
        chunks.emplace_back(data);
        buffered += data.size();
        notify_consumer(self_ref.lock());
        return true;
    }
};

} // namespace

std::function<asio::awaitable<void>(body_writer&)>
stream_from_pool(blocking_pool& pool, std::function<void(producer_sink&)> produce, std::size_t max_buffered) {
    return [&pool, produce = std::move(produce), max_buffered](body_writer& out) -> asio::awaitable<void> {
        auto ch = std::make_shared<channel>(co_await asio::this_coro::executor, max_buffered);
        ch->self_ref = ch;
        pool.start([ch, produce] {
            std::string failure;
            try {
                produce(*ch);
            } catch (const std::exception& e) {
                failure = e.what();
            }
            {
                std::lock_guard lock(ch->mutex);
                ch->failure = std::move(failure);
                ch->done = true;
                ch->notify_consumer(ch);
            }
        });

        // However this coroutine ends (client gone, shutdown), the producer stops at its next write.
        scope_exit guard([ch] {
            std::lock_guard lock(ch->mutex);
            ch->cancelled = true;
            ch->space.notify_all();
        });

        std::deque<std::string> batch;
        for (;;) {
            bool finished = false;
            std::string failure;
            {
                std::lock_guard lock(ch->mutex);
                batch.swap(ch->chunks);
                ch->buffered = 0;
                finished = ch->done && batch.empty();
                failure = ch->failure;
                if (batch.empty() && !finished) {
                    ch->consumer_waiting = true;
                    ch->wake.expires_after(std::chrono::seconds(1));
                }
                ch->space.notify_all();
            }
            // A producer that failed must not look like one that finished: the caller cuts the response.
            if (finished && !failure.empty())
                throw std::runtime_error(failure);
            if (finished)
                co_return;
            if (batch.empty()) {
                co_await ch->wake.async_wait(asio::as_tuple(asio::use_awaitable));
                continue;
            }
            for (const auto& c : batch) {
                bool written = co_await out.write(c);
                if (!written)
                    co_return;
            }
            batch.clear();
        }
    };
}

} // namespace ag
