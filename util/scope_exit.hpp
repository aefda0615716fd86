#pragma once
// Runs a function when the scope ends, unless release()d: cleanup that must happen on every path out.
#include <utility>

namespace ag {

template <class F> class scope_exit {
public:
    explicit scope_exit(F f)
        : f_(std::move(f)) {}
    ~scope_exit() {
        if (active_)
            f_();
    }
    scope_exit(const scope_exit&) = delete;
    scope_exit& operator=(const scope_exit&) = delete;
    void release() noexcept { active_ = false; }

private:
    F f_;
    bool active_ = true;
};

} // namespace ag
