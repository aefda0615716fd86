#pragma once
// A pipe whose read end feeds the log: every line written to it becomes an entry (decoded as CONTRACT §7
// says), an unfinished line is flushed after a second of silence, and the pipe is drained until every writer
// closed it, whatever the log readers do.
#include <string>

namespace boost::asio {
class io_context;
}
namespace ag::logs {
class hub;
}

namespace ag::engine {

// Returns the write end (close-on-exec; hand it to a child as stdout and stderr, then close it). Throws
// std::system_error.
int open_log_pipe(boost::asio::io_context& ioc, logs::hub& hub, std::string source);

} // namespace ag::engine
