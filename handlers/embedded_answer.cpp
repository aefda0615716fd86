#include "handlers/embedded_answer.hpp"

#include "handlers/file_rules.hpp"
#include "util/text.hpp"

#include <string>

namespace ag {

bool accepts_gzip(std::string_view header) {
    while (!header.empty()) {
        auto comma = header.find(',');
        std::string_view item = header.substr(0, comma);
        header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
        auto semi = item.find(';');
        std::string_view coding = text::trim(item.substr(0, semi));
        if (!text::iequals(coding, "gzip") && !text::iequals(coding, "x-gzip") && coding != "*")
            continue;
        if (semi == std::string_view::npos)
            return true;
        std::string_view param = text::trim(item.substr(semi + 1));
        if (!(param.starts_with("q=") || param.starts_with("Q=")))
            return true;
        std::string_view q = param.substr(2);
        return !(q == "0" || (q.starts_with("0.") && q.find_first_not_of('0', 2) == std::string_view::npos));
    }
    return false;
}

response embedded_answer(const embedded::file& f, const request& req, std::string_view content_type) {
    response res;
    res.headers.emplace_back("ETag", std::string(f.etag));
    res.headers.emplace_back("Cache-Control", "no-cache");
    res.headers.emplace_back("Vary", "Accept-Encoding");
    if (auto inm = req.header("If-None-Match"); !inm.empty() && file_rules::etag_matches(inm, f.etag)) {
        res.status = 304;
        res.content_type.clear();
        return res;
    }
    res.content_type = std::string(content_type);
    if (accepts_gzip(req.header("Accept-Encoding"))) {
        res.headers.emplace_back("Content-Encoding", "gzip");
        res.body = std::string(f.gzip);
    } else {
        res.body = embedded::inflate(f);
    }
    return res;
}

} // namespace ag
