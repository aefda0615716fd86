#include "auth/token_store.hpp"

#include "util/atomic_file.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <sys/stat.h>

#include <array>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ag::auth {

struct token_store::state {
    std::string token;
    std::uint64_t generation = 0;
};

namespace {

std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return std::nullopt;
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace

std::string normalize_token(std::string_view raw) {
    return std::string(text::trim(raw));
}

token_store::token_store(std::optional<std::string> file)
    : file_(std::move(file)) {}
token_store::token_store(token_store&& o) noexcept
    : file_(std::move(o.file_))
    , state_(std::move(o.state_))
    , stamp_(o.stamp_) {}
token_store::~token_store() = default;

void token_store::set(std::string token) {
    auto s = std::make_shared<state>();
    s->token = std::move(token);
    std::lock_guard lock(mutex_);
    s->generation = state_ ? state_->generation + 1 : 1;
    state_ = std::move(s);
}

token_store token_store::fixed(const std::string& token) {
    token_store t(std::nullopt);
    t.set(normalize_token(token));
    return t;
}

token_store token_store::from_file(std::string path) {
    token_store t(std::move(path));
    if (!t.reload(true) && !t.state_)
        throw std::runtime_error("cannot read a token from " + *t.file_);
    return t;
}

token_store token_store::generated(const std::string& state_dir, bool& created) {
    std::string path = state_dir + "/gateway-token";
    created = false;
    if (auto existing = read_file(path); existing && !normalize_token(*existing).empty())
        return from_file(path);
    std::array<unsigned char, 32> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
        throw std::runtime_error("no randomness for the gateway token");
    static constexpr char hex[] = "0123456789abcdef";
    std::string token;
    for (auto b : bytes) {
        token += hex[b >> 4];
        token += hex[b & 15];
    }
    fs_util::write_file_atomic(path, token + "\n", 0600);
    created = true;
    return from_file(path);
}

bool token_store::check(std::string_view candidate) const {
    std::shared_ptr<const state> s;
    {
        std::lock_guard lock(mutex_);
        s = state_;
    }
    if (!s)
        return false;
    // Constant time in the content; only whether the lengths match is visible (the token's length is no
    // secret: 64 hex digits when generated). A digest per request cost ~3 % of a small GET (measured).
    return candidate.size() == s->token.size() &&
           CRYPTO_memcmp(candidate.data(), s->token.data(), candidate.size()) == 0;
}

std::uint64_t token_store::generation() const {
    std::lock_guard lock(mutex_);
    return state_ ? state_->generation : 0;
}

bool token_store::is_current(std::string_view candidate, std::uint64_t generation) const {
    return this->generation() == generation || check(candidate);
}

std::string token_store::current() const {
    std::lock_guard lock(mutex_);
    return state_ ? state_->token : std::string{};
}

bool token_store::reload(bool force) {
    if (!file_)
        return false;
    struct stat st {};
    if (::stat(file_->c_str(), &st) != 0) {
        log::warn("token file {} is unreadable; keeping the current token", *file_);
        return false;
    }
    file_stamp stamp{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                     static_cast<std::uint64_t>(st.st_size),
                     static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
    if (!force && stamp == stamp_)
        return false;
    auto content = read_file(*file_);
    std::string token = content ? normalize_token(*content) : std::string{};
    if (token.empty()) {
        log::warn("token file {} is empty or unreadable; keeping the current token", *file_);
        return false;
    }
    stamp_ = stamp;
    {
        std::lock_guard lock(mutex_);
        if (state_ && state_->token == token)
            return false;
    }
    bool first = !state_;
    set(std::move(token));
    if (!first)
        log::info("gateway token rotated (from {})", *file_);
    return !first;
}

} // namespace ag::auth
