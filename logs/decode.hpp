#pragma once
// Turns one line an engine or script printed into the parts of a log entry (docs/api.md §7): JSON lines are
// decoded (tslog: numeric keys joined by spaces are the message, `_meta.logLevelName` the level, the
// `subsystem` in `_meta.name` the source; plain `{"level","msg"|"message"}` too), other lines are INFO.
#include "logs/journal.hpp"

#include <string>
#include <string_view>

namespace ag::logs {

decoded_line decode_line(std::string_view line, std::string_view default_source);

} // namespace ag::logs
