#include "util/embedded.hpp"

#include "util/gunzip.hpp"

namespace ag::embedded {

std::string inflate(const file& f) {
    std::string out;
    out.reserve(f.size);
    gunzip g(f.size);
    g.feed(f.gzip, out);
    return out;
}

} // namespace ag::embedded
