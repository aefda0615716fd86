#pragma once
// Ref discovery (gitprotocol-http "Smart Server Response"): the body of GET info/refs for one service.
#include "git/libgit2.hpp"

#include <optional>
#include <string>
#include <vector>

namespace ag::git {

enum class service { upload_pack, receive_pack };

struct advertised_ref {
    std::string name;
    git_oid id;
    std::optional<git_oid> peeled; // for annotated tags: the object the tag chain ends at
};

// Every ref under refs/ with its value, sorted by name (C locale), symbolic refs resolved.
std::vector<advertised_ref> list_refs(git_repository* repo);

std::string advertisement(git_repository* repo, service svc);

extern const char* const agent_capability;

} // namespace ag::git
