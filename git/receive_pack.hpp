#pragma once
// POST git-receive-pack (gitprotocol-pack "Reference Update Request and Packfile Transfer", "Report Status"):
// ref commands, then a pack indexed as it arrives into a quarantine directory; applied all-or-nothing under
// the workspace lock. The checked-out branch only moves forward, and its working tree follows it.
#include "git/workspace.hpp"

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace ag::git {

class receive_session {
public:
    explicit receive_session(workspace& ws);
    ~receive_session(); // a quarantine not applied is removed
    receive_session(const receive_session&) = delete;
    receive_session& operator=(const receive_session&) = delete;

    // Blocking: the next piece of the request body, in order.
    void feed(std::string_view data);

    struct outcome {
        std::string body;               // the response body (report-status, on side-band when asked)
        bool checked_out_moved = false; // the working tree now holds the pushed commit: time to build
        bool refs_changed = false;
        bool refs_removed = false;
    };
    // Why a manifest.json pushed to the checked-out branch cannot be used ("" when it can).
    using manifest_check = std::function<std::string(std::string_view content)>;
    // Blocking: the body has ended. Applies the push and answers.
    outcome finish(const workspace::turn& held, const manifest_check& check_manifest);

    struct state;

private:
    std::unique_ptr<state> st_;
};

} // namespace ag::git
