#pragma once
// The completion token of a coroutine's I/O that reports errors instead of throwing: `co_await
// op(..., use_tuple)` gives (error_code, results...). One definition for the whole tree.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ag {
inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
} // namespace ag
