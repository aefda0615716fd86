#include "snapshots/ipfs_client.hpp"

#include <nlohmann/json.hpp>

namespace ag::snapshots {

ipfs_client::ipfs_client(const std::string& url) try
    : to_(upstream::endpoint::parse(url)) {
} catch (const std::invalid_argument&) {
    throw ipfs_error("--ipfs-api must be an http:// URL");
}

std::string ipfs_client::post(const std::string& target, const std::string& content_type,
                              const body_producer* body) {
    upstream::request req;
    req.method = "POST";
    req.target = target;
    if (!content_type.empty())
        req.headers.emplace_back("Content-Type", content_type);
    req.stream = body;
    upstream::response r;
    try {
        r = upstream::fetch(to_, req);
    } catch (const upstream::error& e) {
        throw ipfs_error("IPFS node " + std::string(e.what()), e.unreachable);
    }
    if (r.status != 200)
        throw ipfs_error("IPFS node " + to_.url + " answered " + std::to_string(r.status) + ": " +
                         r.body.substr(0, 200));
    return std::move(r.body);
}

std::string ipfs_client::import_car(const body_producer& produce) {
    const std::string boundary = "agent-gateway-car-7f3c2a91";
    body_producer multipart = [&](const std::function<bool(std::string_view)>& emit) {
        emit("--" + boundary +
             "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"snapshot.car\"\r\n"
             "Content-Type: application/vnd.ipld.car\r\n\r\n");
        produce(emit);
        emit("\r\n--" + boundary + "--\r\n");
    };
    std::string body =
        post("/api/v0/dag/import?pin-roots=true", "multipart/form-data; boundary=" + boundary, &multipart);
    // One JSON object per line; the one with "Root" names the pinned root.
    std::size_t pos = 0;
    while (pos < body.size()) {
        auto nl = body.find('\n', pos);
        auto line = body.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? body.size() : nl + 1;
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_object() || !j.contains("Root"))
            continue;
        const auto& root = j["Root"];
        std::string err = root.value("PinErrorMsg", "");
        if (!err.empty())
            throw ipfs_error("IPFS node " + to_.url + " could not pin: " + err);
        if (root.contains("Cid") && root["Cid"].is_object())
            return root["Cid"].value("/", "");
    }
    throw ipfs_error("IPFS node " + to_.url + ": dag/import named no root");
}

std::string ipfs_client::export_car(const std::string& root) {
    return post("/api/v0/dag/export?arg=" + root, "", nullptr);
}

} // namespace ag::snapshots
