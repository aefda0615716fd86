#include "metrics/registry.hpp"

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <limits>
#include <stdexcept>

namespace ag::metrics {
namespace {

std::vector<prometheus::ClientMetric::Label> to_labels(const labels& l) {
    std::vector<prometheus::ClientMetric::Label> out;
    out.reserve(l.size());
    for (const auto& [k, v] : l)
        out.push_back({k, v});
    return out;
}

const char* const class_names[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

} // namespace

registry::family& registry::family_of(const std::string& name, const std::string& help, kind type) {
    for (auto& f : families_)
        if (f.name == name) {
            if (f.type != type)
                throw std::logic_error("metric " + name + " registered with two types");
            return f;
        }
    families_.push_back(family{name, help, type, {}});
    return families_.back();
}

void registry::add_series(const std::string& name, const std::string& help, kind type, series s) {
    family_of(name, help, type).members.push_back(std::move(s));
}

counter& registry::add_counter(const std::string& name, const std::string& help, labels l) {
    counter& c = counters_.emplace_back();
    expose(name, help, std::move(l), c);
    return c;
}

gauge& registry::add_gauge(const std::string& name, const std::string& help, labels l) {
    gauge& g = gauges_.emplace_back();
    expose(name, help, std::move(l), g);
    return g;
}

void registry::expose(const std::string& name, const std::string& help, labels l, const gauge& g) {
    add_series(name, help, kind::gauge, series{std::move(l), nullptr, &g, nullptr, {}});
}

histogram& registry::add_histogram(const std::string& name, const std::string& help, labels l) {
    histogram& h = histograms_.emplace_back();
    expose(name, help, std::move(l), h);
    return h;
}

void registry::expose(const std::string& name, const std::string& help, labels l, const counter& c) {
    add_series(name, help, kind::counter, series{std::move(l), &c, nullptr, nullptr, {}});
}

void registry::expose(const std::string& name, const std::string& help, labels l, const histogram& h) {
    add_series(name, help, kind::histogram, series{std::move(l), nullptr, nullptr, &h, {}});
}

void registry::add_gauge_fn(const std::string& name, const std::string& help, labels l,
                            std::function<double()> fn) {
    add_series(name, help, kind::gauge, series{std::move(l), nullptr, nullptr, nullptr, std::move(fn)});
}

void registry::add_counter_fn(const std::string& name, const std::string& help, labels l,
                              std::function<double()> fn) {
    add_series(name, help, kind::counter, series{std::move(l), nullptr, nullptr, nullptr, std::move(fn)});
}

route_stats& registry::add_route(const std::string& method, const std::string& route) {
    route_stats& r = routes_.emplace_back();
    for (std::size_t i = 0; i < r.by_class.size(); ++i)
        add_series("agent_gateway_http_requests_total",
                   "HTTP requests answered, by route template and status class", kind::counter,
                   series{{{"route", route}, {"method", method}, {"code", class_names[i]}},
                          &r.by_class[i],
                          nullptr,
                          nullptr,
                          {},
                          true});
    add_series("agent_gateway_http_request_duration_seconds",
               "Time from a request's header to the end of its answer, by route template", kind::histogram,
               series{{{"route", route}, {"method", method}}, nullptr, nullptr, &r.latency, {}, true});
    return r;
}

std::string registry::scrape() const {
    std::vector<prometheus::MetricFamily> out;
    out.reserve(families_.size());
    for (const auto& f : families_) {
        prometheus::MetricFamily mf;
        mf.name = f.name;
        mf.help = f.help;
        mf.type = f.type == kind::counter ? prometheus::MetricType::Counter
                  : f.type == kind::gauge ? prometheus::MetricType::Gauge
                                          : prometheus::MetricType::Histogram;
        for (const auto& s : f.members) {
            if (s.lazy && (s.c ? s.c->value() == 0 : s.h && s.h->count() == 0))
                continue;
            prometheus::ClientMetric m;
            m.label = to_labels(s.l);
            if (s.fn) {
                double v = s.fn();
                m.counter.value = v;
                m.gauge.value = v;
            } else if (s.c) {
                m.counter.value = static_cast<double>(s.c->value());
            } else if (s.g) {
                m.gauge.value = static_cast<double>(s.g->value());
            } else if (s.h) {
                std::uint64_t cumulative = 0;
                for (std::size_t i = 0; i < histogram::bounds.size(); ++i) {
                    cumulative += s.h->count_in(i);
                    m.histogram.bucket.push_back({cumulative, histogram::bounds[i]});
                }
                cumulative += s.h->count_in(histogram::bounds.size());
                m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
                m.histogram.sample_count = cumulative;
                m.histogram.sample_sum = s.h->sum_seconds();
            }
            mf.metric.push_back(std::move(m));
        }
        if (!mf.metric.empty() || f.members.empty())
            out.push_back(std::move(mf));
    }
    return prometheus::TextSerializer().Serialize(out);
}

} // namespace ag::metrics
