#pragma once
// A pipe whose read end feeds the log: every line written to it becomes an entry (decoded as docs/api.md §7
// says), an unfinished line is flushed after a second of silence, and the pipe is drained until every writer
// closed it, whatever the log readers do.
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}
namespace ag::logs {
class hub;
}

namespace ag::engine {

class child_reaper;

// Returns the write end (close-on-exec; hand it to a child as stdout and stderr, then close it). Throws
// std::system_error.
int open_log_pipe(boost::asio::io_context& ioc, logs::hub& hub, std::string source);

// Spawns `command` (/bin/sh -c, own process group) with stdout and stderr on a new log pipe with `source`.
// Throws std::system_error; nothing is left open then.
pid_t spawn_logged(boost::asio::io_context& ioc, child_reaper& reaper, logs::hub& hub,
                   const std::string& command, const std::string& cwd, const std::vector<std::string>& env,
                   std::string source, std::function<void(int wait_status)> on_exit);

} // namespace ag::engine
