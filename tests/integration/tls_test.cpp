// TLS on every listener, checked with curl (a client that only speaks https:// to it) trusting our test CA.
#include "support/gateway.hpp"

#include <doctest/doctest.h>

using test::gateway;

namespace {
std::string sh(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p);
    char buf[4096];
    while (size_t n = std::fread(buf, 1, sizeof buf, p))
        out.append(buf, n);
    ::pclose(p);
    return out;
}
} // namespace

TEST_CASE("TLS: HTTPS with a trusted certificate, Secure cookie, plain HTTP refused") {
    test::temp_dir certs;
    std::string gen = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
                      "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
                      certs / "key.pem" + " -out " + certs / "cert.pem" + " 2>/dev/null";
    REQUIRE(std::system(gen.c_str()) == 0);
    gateway d({"--tls-cert", certs / "cert.pem", "--tls-key", certs / "key.pem"});
    std::string base = "https://127.0.0.1:" + std::to_string(d.port());
    std::string curl = "curl -s --max-time 10 --cacert " + certs / "cert.pem" + " ";

    CHECK(sh(curl + base + "/healthz") == R"({"status":"ok"})");
    auto detail = sh(curl + "-H 'Authorization: Bearer " + gateway::token + "' " + base + "/v0/agents/local");
    CHECK(nlohmann::json::parse(detail)["agent"]["agentId"] == "local");
    auto headers = sh(curl + "-D - -o /dev/null '" + base + "/v0/agents/local?token=" + gateway::token + "'");
    CHECK(headers.find("Secure") != std::string::npos);
    // Files go through the TLS path (no sendfile) intact.
    std::string data(3 * 1024 * 1024 + 17, 'z');
    test::write_file(d.root() + "/f.bin", data);
    auto got = sh(curl + "-H 'Authorization: Bearer " + gateway::token + "' '" + base +
                  "/v0/agents/local/files?path=f.bin'");
    CHECK(got.size() == data.size());
    CHECK(got == data);
    // Without the CA the certificate is not trusted; plain http gets nothing useful.
    CHECK(sh("curl -s -o /dev/null -w '%{http_code}' --max-time 5 " + base + "/healthz") == "000");
    CHECK(sh("curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:" +
             std::to_string(d.port()) + "/healthz") != "200");
    CHECK(sh(curl + base + "/healthz") == R"({"status":"ok"})"); // still serving after the bad handshakes
}

TEST_CASE("TLS: a certificate that does not load is a configuration error (exit 2)") {
    test::temp_dir dir;
    test::write_file(dir / "cert.pem", "not a certificate");
    test::write_file(dir / "key.pem", "not a key");
    auto r = test::run_binary({"--listen", "127.0.0.1:0", "--root", dir.path, "--token", "x", "--tls-cert",
                               dir / "cert.pem", "--tls-key", dir / "key.pem"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--tls-cert") != std::string::npos);
}
