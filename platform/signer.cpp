#include "platform/signer.hpp"

#include "util/base64.hpp"
#include "util/scope_exit.hpp"

#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <array>
#include <fstream>
#include <sstream>

namespace ag::platform {
namespace {

std::string openssl_error() {
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0)
        return "no detail";
    std::array<char, 256> buf{};
    ERR_error_string_n(e, buf.data(), buf.size());
    return buf.data();
}

std::string sha256(std::string_view data) {
    std::array<unsigned char, 32> md{};
    unsigned int n = 0;
    EVP_Digest(data.data(), data.size(), md.data(), &n, EVP_sha256(), nullptr);
    return {reinterpret_cast<const char*>(md.data()), n};
}

// One affine coordinate of the public point, as the 32 big-endian bytes a JWK carries.
std::string coordinate(EVP_PKEY* key, const char* name) {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(key, name, &bn) != 1)
        throw invalid_key("the public point cannot be read: " + openssl_error());
    scope_exit free_bn([bn] { BN_free(bn); });
    std::string out(32, '\0');
    if (BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), 32) != 32)
        throw invalid_key("the public point does not fit P-256");
    return out;
}

} // namespace

void signer::key_free::operator()(EVP_PKEY* k) const noexcept {
    EVP_PKEY_free(k);
}

signer::signer(EVP_PKEY* key)
    : key_(key, key_free{}) {
    std::array<char, 64> group{};
    std::size_t len = 0;
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group.data(), group.size(), &len) !=
            1 ||
        std::string_view(group.data(), len) != "prime256v1")
        throw invalid_key("not an EC P-256 key (ES256 needs one: openssl genpkey -algorithm EC -pkeyopt "
                          "ec_paramgen_curve:P-256)");
    std::string x = base64::encode_url(coordinate(key, OSSL_PKEY_PARAM_EC_PUB_X));
    std::string y = base64::encode_url(coordinate(key, OSSL_PKEY_PARAM_EC_PUB_Y));
    // RFC 7638: the required members, in lexicographic order, no whitespace.
    kid_ = base64::encode_url(sha256(R"({"crv":"P-256","kty":"EC","x":")" + x + R"(","y":")" + y + R"("})"));
    jwk_ = std::make_shared<const nlohmann::json>(nlohmann::json{{"kty", "EC"},
                                                                 {"crv", "P-256"},
                                                                 {"x", x},
                                                                 {"y", y},
                                                                 {"kid", kid_},
                                                                 {"use", "sig"},
                                                                 {"alg", "ES256"}});
}

signer signer::from_pem(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    if (!bio)
        throw invalid_key("out of memory");
    scope_exit free_bio([bio] { BIO_free(bio); });
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    if (!key)
        throw invalid_key("not a PEM private key: " + openssl_error());
    return {key}; // owns the key from here, also when it refuses it
}

signer signer::from_pem_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw invalid_key("cannot be read");
    std::ostringstream text;
    text << in.rdbuf();
    return from_pem(text.str());
}

std::string signer::sign(const nlohmann::json& claims) const {
    nlohmann::json header{{"alg", "ES256"}, {"typ", "JWT"}, {"kid", kid_}};
    std::string input = base64::encode_url(header.dump()) + "." + base64::encode_url(claims.dump());

    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (!ctx)
        throw std::bad_alloc();
    scope_exit free_ctx([ctx] { EVP_MD_CTX_free(ctx); });
    std::size_t der_len = 0;
    if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx, nullptr, &der_len, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) != 1)
        throw std::runtime_error("ES256 signing failed: " + openssl_error());
    std::string der(der_len, '\0');
    if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &der_len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
        throw std::runtime_error("ES256 signing failed: " + openssl_error());

    // OpenSSL gives the DER SEQUENCE {r, s}; JWS wants r and s as 32 bytes each (RFC 7518 §3.4).
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len));
    if (!sig)
        throw std::runtime_error("ES256 signing failed: " + openssl_error());
    scope_exit free_sig([sig] { ECDSA_SIG_free(sig); });
    std::string raw(64, '\0');
    auto* out = reinterpret_cast<unsigned char*>(raw.data());
    if (BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, 32) != 32 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + 32, 32) != 32)
        throw std::runtime_error("ES256 signing failed: r or s too long");
    return input + "." + base64::encode_url(raw);
}

} // namespace ag::platform
