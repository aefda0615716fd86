#include "git/libgit2.hpp"

#include <fmt/format.h>

#include <malloc.h>

#include <mutex>

namespace ag::git {

int check(int rc, std::string_view what) {
    if (rc >= 0)
        return rc;
    const git_error* e = git_error_last();
    throw error(fmt::format("{}: {}", what, e && e->message ? e->message : "libgit2 error"));
}

void init_library() {
    static std::once_flag once;
    std::call_once(once, [] {
        git_libgit2_init();
        // The daemon may run as another user than the workspace's owner (a container's volume); it is the
        // workspace's only server either way.
        git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
        // The repository's own config only: the daemon's user may have no readable home (libgit2 then fails
        // to open any repository), and a developer's ~/.gitconfig must not change what the daemon does.
        for (int level : {GIT_CONFIG_LEVEL_SYSTEM, GIT_CONFIG_LEVEL_XDG, GIT_CONFIG_LEVEL_GLOBAL,
                          GIT_CONFIG_LEVEL_PROGRAMDATA})
            git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, level, "");
        // Objects, packs and refs reach the disk before a push is reported as accepted.
        git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
        // libgit2 maps packs in 1 GiB windows up to 8 GiB by default; every page of a pack it reads or
        // indexes stays in the daemon's resident set. Smaller windows under a small cap keep a large push
        // or clone from growing the daemon by the pack's size.
        git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, std::size_t{8} << 20);
        git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, std::size_t{64} << 20);
    });
}

void release_memory() {
    // libgit2's pack and diff work leaves tens of MiB free in the malloc arenas of the thread that did it;
    // give them back rather than keep them for the next clone.
    ::malloc_trim(0);
}

repository_ptr open_repository(const std::string& path) {
    git_repository* r = nullptr;
    check(git_repository_open_ext(&r, path.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr),
          "open repository");
    return repository_ptr(r);
}

std::string to_hex(const git_oid& id) {
    char buf[GIT_OID_HEXSZ + 1];
    git_oid_tostr(buf, sizeof buf, &id);
    return {buf, GIT_OID_HEXSZ};
}

bool parse_oid(std::string_view hex, git_oid& out) {
    if (hex.size() != GIT_OID_HEXSZ)
        return false;
    for (char c : hex)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    return git_oid_fromstrn(&out, hex.data(), hex.size()) == 0;
}

bool peel_to_commit(git_repository* repo, const git_oid& id, git_oid& out) {
    git_object* obj = nullptr;
    if (git_object_lookup(&obj, repo, &id, GIT_OBJECT_ANY) < 0)
        return false;
    object_ptr owned(obj);
    git_object* peeled = nullptr;
    if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) < 0)
        return false;
    git_oid_cpy(&out, git_object_id(peeled));
    git_object_free(peeled);
    return true;
}

} // namespace ag::git
