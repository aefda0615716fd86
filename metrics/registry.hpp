#pragma once
// The daemon's metrics (docs/api.md §16) and their Prometheus text exposition, serialised by the client
// library Debian ships (prometheus-cpp's TextSerializer). Instruments are registered while the daemon is
// built, before it serves (registration is not synchronised); afterwards they are only updated (lock-free)
// and read by scrapes, from any thread. Addresses stay valid for the registry's lifetime.
#include "metrics/instruments.hpp"

#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace ag::metrics {

using labels = std::vector<std::pair<std::string, std::string>>;

class registry {
public:
    counter& add_counter(const std::string& name, const std::string& help, labels l = {});
    gauge& add_gauge(const std::string& name, const std::string& help, labels l = {});
    histogram& add_histogram(const std::string& name, const std::string& help, labels l = {});
    // Instruments something else owns (a component counting what it does); they must outlive the registry's
    // scrapes.
    void expose(const std::string& name, const std::string& help, labels l, const counter& c);
    void expose(const std::string& name, const std::string& help, labels l, const gauge& g);
    void expose(const std::string& name, const std::string& help, labels l, const histogram& h);
    // Read at each scrape, on the scraping thread: a value something else already keeps.
    void add_gauge_fn(const std::string& name, const std::string& help, labels l, std::function<double()> fn);
    void add_counter_fn(const std::string& name, const std::string& help, labels l,
                        std::function<double()> fn);
    // agent_gateway_http_requests_total{route,method,code} and ..._request_duration_seconds{route,method}.
    // A route's series appear once it counted something (as a client library's labelled children do): 60
    // routes by 5 classes of 19 buckets would otherwise make every scrape ~190 KB of zeros.
    route_stats& add_route(const std::string& method, const std::string& route);

    // Text exposition format 0.0.4.
    std::string scrape() const;

private:
    enum class kind { counter, gauge, histogram };
    struct series {
        labels l;
        const counter* c = nullptr;
        const gauge* g = nullptr;
        const histogram* h = nullptr;
        std::function<double()> fn;
        bool lazy = false; // left out while zero
    };
    struct family {
        std::string name, help;
        kind type;
        std::vector<series> members;
    };
    family& family_of(const std::string& name, const std::string& help, kind type);
    void add_series(const std::string& name, const std::string& help, kind type, series s);

    std::vector<family> families_;
    std::deque<counter> counters_;
    std::deque<gauge> gauges_;
    std::deque<histogram> histograms_;
    std::deque<route_stats> routes_;
};

} // namespace ag::metrics
