#pragma once
// How many connections each client address holds (docs/api.md §5): past the limit a new one is closed at
// once. Peers listed as trusted proxies carry many clients and are not limited; nor are unix-socket clients.
// Thread-safe (one lock per connection opened and closed).
#include "auth/client_address.hpp"

#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ag {

class connection_limiter {
public:
    connection_limiter(unsigned max_per_address, std::vector<auth::cidr> unlimited);

    // A slot for one connection from `address`, released when the slot goes; empty (false) when the address
    // holds its maximum already.
    class slot {
    public:
        slot(const slot&) = delete;
        slot& operator=(const slot&) = delete;
        slot() = default;
        slot(slot&& o) noexcept;
        slot& operator=(slot&&) = delete;
        ~slot();
        explicit operator bool() const { return owner_ != nullptr || unlimited_; }

    private:
        friend class connection_limiter;
        connection_limiter* owner_ = nullptr;
        std::string address_;
        bool unlimited_ = false;
    };
    slot acquire(const std::string& address);

    unsigned held(const std::string& address) const;

private:
    void release(const std::string& address) noexcept;

    unsigned max_;
    std::vector<auth::cidr> unlimited_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, unsigned> held_;
};

} // namespace ag
