#include "gateway/connection_limiter.hpp"

namespace ag {

connection_limiter::connection_limiter(unsigned max_per_address, std::vector<auth::cidr> unlimited)
    : max_(max_per_address)
    , unlimited_(std::move(unlimited)) {}

connection_limiter::slot::slot(slot&& o) noexcept
    : owner_(std::exchange(o.owner_, nullptr))
    , address_(std::move(o.address_))
    , unlimited_(o.unlimited_) {}

connection_limiter::slot::~slot() {
    if (owner_)
        owner_->release(address_);
}

connection_limiter::slot connection_limiter::acquire(const std::string& address) {
    slot s;
    // A unix socket's client has no address; a trusted proxy speaks for many clients.
    if (address.find_first_of(".:") == std::string::npos || auth::is_trusted(address, unlimited_)) {
        s.unlimited_ = true;
        return s;
    }
    std::lock_guard lock(mutex_);
    unsigned& n = held_[address];
    if (n >= max_) {
        if (n == 0)
            held_.erase(address);
        return s;
    }
    ++n;
    s.owner_ = this;
    s.address_ = address;
    return s;
}

void connection_limiter::release(const std::string& address) noexcept {
    std::lock_guard lock(mutex_);
    auto it = held_.find(address);
    if (it != held_.end() && --it->second == 0)
        held_.erase(it);
}

unsigned connection_limiter::held(const std::string& address) const {
    std::lock_guard lock(mutex_);
    auto it = held_.find(address);
    return it == held_.end() ? 0 : it->second;
}

} // namespace ag
