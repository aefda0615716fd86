#pragma once
// The platform token's key (docs/api.md §15): an EC P-256 private key that signs ES256 JWTs (RFC 7515, 7518
// §3.4), and its public half as a JWK (RFC 7517) whose kid is its RFC 7638 thumbprint. Immutable once loaded:
// safe from every thread.
#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <stdexcept>
#include <string>

using EVP_PKEY = struct evp_pkey_st;

namespace ag::platform {

struct invalid_key : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class signer {
public:
    // Reads a PEM private key (PKCS#8 or SEC 1). Throws invalid_key when it cannot be read or is not P-256.
    static signer from_pem_file(const std::string& path);
    static signer from_pem(const std::string& pem);

    // header.payload.signature, the header {"alg":"ES256","typ":"JWT","kid"}.
    std::string sign(const nlohmann::json& claims) const;
    // {"kty":"EC","crv":"P-256","x","y","kid","use":"sig","alg":"ES256"}
    const nlohmann::json& public_jwk() const { return *jwk_; }
    const std::string& kid() const { return kid_; }

private:
    struct key_free {
        void operator()(EVP_PKEY* k) const noexcept;
    };
    signer(EVP_PKEY* key);
    std::shared_ptr<EVP_PKEY> key_;
    std::shared_ptr<const nlohmann::json> jwk_;
    std::string kid_;
};

} // namespace ag::platform
