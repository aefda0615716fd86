// Upload decode speed: parse the JSON body and decode 4 MiB of base64, as the upload handler does.
#include "handlers/upload_body.hpp"
#include "util/base64.hpp"

#include <chrono>
#include <cstdio>
#include <string>

int main() {
    std::string data(4 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<char>((i * 2654435761u) >> 13);
    std::string body = "{\"filename\":\"x.bin\",\"contentBase64\":\"" + ag::base64::encode(data) + "\"}";
    std::string out;
    const int rounds = 200;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < rounds; ++i) {
        auto f = ag::parse_upload_body(body);
        if (!f.content() || !ag::base64::decode(*f.content(), out) || out.size() != data.size())
            return 1;
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%.2f\n", rounds * double(body.size()) / s / 1e9); // GB/s of request body
}
