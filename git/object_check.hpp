#pragma once
// The checks git's `transfer.fsckObjects` makes on received objects (fsck.c, strict mode), plus the names a
// work tree on any platform cannot hold. A push carrying one such object is refused as a whole.
#include <git2/oid.h>

#include <string>
#include <string_view>
#include <vector>

namespace ag::git {

struct tree_check {
    std::string problem;                   // "" when the tree is acceptable; else "<msg-id>: <reason>"
    std::vector<git_oid> gitmodules_blobs; // blobs this tree names `.gitmodules`, to be checked as well
};

// `raw` is a tree object's content: entries "<octal mode> <name>\0<20-byte id>".
tree_check check_tree(std::string_view raw);

// `content` is a `.gitmodules` file: no option-like url or path, no update command, no name escaping the
// repository.
std::string check_gitmodules(std::string_view content);

// Whether `name` (one path component) is `.git` as some file system would see it: case-folded, with trailing
// dots or spaces (NTFS), its 8.3 short name `GIT~1`, or with characters HFS+ ignores.
bool is_dotgit(std::string_view name);

// Checks every object of the pack(s) in `objects_dir` (a push quarantine). Blocking. Returns "" or
// "object <id>: <msg-id>: <reason>".
std::string check_received_objects(const std::string& objects_dir);

} // namespace ag::git
