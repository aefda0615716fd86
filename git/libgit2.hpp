#pragma once
// Owning handles for libgit2 objects and the one way errors leave libgit2 calls: as git::error exceptions.
// Every libgit2 call in the daemon runs on a blocking thread (the pool or a pack thread), never an I/O
// thread.
#include <git2.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ag::git {

struct error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Throws git::error "<what>: <libgit2's last message>" when rc < 0; returns rc otherwise.
int check(int rc, std::string_view what);

// Once per process: libgit2 init, owner validation off (the workspace is the daemon's own), fsync on.
void init_library();

template <class T, void (*Free)(T*)> struct deleter {
    void operator()(T* p) const noexcept { Free(p); }
};
template <class T, void (*Free)(T*)> using handle = std::unique_ptr<T, deleter<T, Free>>;

using repository_ptr = handle<git_repository, git_repository_free>;
using odb_ptr = handle<git_odb, git_odb_free>;
using object_ptr = handle<git_object, git_object_free>;
using commit_ptr = handle<git_commit, git_commit_free>;
using tree_ptr = handle<git_tree, git_tree_free>;
using tag_ptr = handle<git_tag, git_tag_free>;
using blob_ptr = handle<git_blob, git_blob_free>;
using reference_ptr = handle<git_reference, git_reference_free>;
using revwalk_ptr = handle<git_revwalk, git_revwalk_free>;
using packbuilder_ptr = handle<git_packbuilder, git_packbuilder_free>;
using indexer_ptr = handle<git_indexer, git_indexer_free>;
using index_ptr = handle<git_index, git_index_free>;
using signature_ptr = handle<git_signature, git_signature_free>;
using transaction_ptr = handle<git_transaction, git_transaction_free>;
using odb_object_ptr = handle<git_odb_object, git_odb_object_free>;
using status_list_ptr = handle<git_status_list, git_status_list_free>;

repository_ptr open_repository(const std::string& path);

// After a pack was built or received: returns the memory libgit2 freed to the system.
void release_memory();

std::string to_hex(const git_oid& id);
// Parses exactly 40 hex digits; false otherwise.
bool parse_oid(std::string_view hex, git_oid& out);
inline bool is_zero(const git_oid& id) {
    return git_oid_is_zero(&id) != 0;
}

// The commit an object id ends at after peeling tags; nullopt when it is not (or does not lead to) a commit.
bool peel_to_commit(git_repository* repo, const git_oid& id, git_oid& out);

struct oid_hash {
    std::size_t operator()(const git_oid& id) const noexcept {
        std::size_t h;
        static_assert(sizeof(h) <= GIT_OID_RAWSZ);
        __builtin_memcpy(&h, id.id, sizeof(h));
        return h;
    }
};
struct oid_equal {
    bool operator()(const git_oid& a, const git_oid& b) const noexcept { return git_oid_equal(&a, &b) != 0; }
};

} // namespace ag::git
