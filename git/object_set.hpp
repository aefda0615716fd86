#pragma once
// Choosing what goes into a pack when libgit2's own walk does not fit (shallow fetches, the part of a clone
// the cached pack lacks): commits with their trees, skipping what the client (or the cached pack) already
// has.
#include "git/libgit2.hpp"

#include <functional>
#include <unordered_set>

namespace ag::git {

class object_set {
public:
    // `known`: objects that must not be added (and whose subtrees need no visit); may be empty.
    object_set(git_repository* repo, git_packbuilder* pb, std::function<bool(const git_oid&)> known = {});

    void add_commit(const git_oid& id); // the commit and every object of its tree not known or added yet
    void add_tree(const git_oid& id);
    // A tag object and the tags it points at; a tree or blob it ends at too (a commit is left to the history
    // walk).
    void add_tag_chain(const git_oid& id);
    // Marks a tree and everything below it as known (the client has it).
    void mark_known_tree(const git_oid& id);
    bool skip(const git_oid& id) const;

private:
    git_repository* repo_;
    git_packbuilder* pb_;
    std::function<bool(const git_oid&)> known_;
    std::unordered_set<git_oid, oid_hash, oid_equal> seen_;
};

} // namespace ag::git
