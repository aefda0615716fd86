#include "git/object_set.hpp"

namespace ag::git {

object_set::object_set(git_repository* repo, git_packbuilder* pb, std::function<bool(const git_oid&)> known)
    : repo_(repo)
    , pb_(pb)
    , known_(std::move(known)) {}

bool object_set::skip(const git_oid& id) const {
    return seen_.contains(id) || (known_ && known_(id));
}

void object_set::add_commit(const git_oid& id) {
    if (skip(id))
        return;
    git_commit* c = nullptr;
    check(git_commit_lookup(&c, repo_, &id), "read commit " + to_hex(id));
    commit_ptr commit(c);
    seen_.insert(id);
    check(git_packbuilder_insert(pb_, &id, nullptr), "pack a commit");
    add_tree(*git_commit_tree_id(c));
}

void object_set::add_tree(const git_oid& id) {
    if (skip(id))
        return;
    git_tree* t = nullptr;
    check(git_tree_lookup(&t, repo_, &id), "read tree " + to_hex(id));
    tree_ptr tree(t);
    seen_.insert(id);
    check(git_packbuilder_insert(pb_, &id, nullptr), "pack a tree");
    const std::size_t n = git_tree_entrycount(t);
    for (std::size_t i = 0; i < n; ++i) {
        const git_tree_entry* e = git_tree_entry_byindex(t, i);
        const git_oid* eid = git_tree_entry_id(e);
        switch (git_tree_entry_type(e)) {
        case GIT_OBJECT_TREE:
            add_tree(*eid);
            break;
        case GIT_OBJECT_BLOB:
            if (!skip(*eid)) {
                seen_.insert(*eid);
                check(git_packbuilder_insert(pb_, eid, git_tree_entry_name(e)), "pack a blob");
            }
            break;
        default: // a submodule's commit lives in another repository
            break;
        }
    }
}

void object_set::add_tag_chain(const git_oid& id) {
    git_oid cur = id;
    for (int depth = 0; depth < 16; ++depth) {
        git_object* o = nullptr;
        check(git_object_lookup(&o, repo_, &cur, GIT_OBJECT_ANY), "read " + to_hex(cur));
        object_ptr obj(o);
        switch (git_object_type(o)) {
        case GIT_OBJECT_TAG:
            if (!skip(cur)) {
                seen_.insert(cur);
                check(git_packbuilder_insert(pb_, &cur, nullptr), "pack a tag");
            }
            cur = *git_tag_target_id(reinterpret_cast<git_tag*>(o));
            continue;
        case GIT_OBJECT_COMMIT:
            return; // commits come with the history walk
        case GIT_OBJECT_TREE:
            add_tree(cur);
            return;
        default:
            if (!skip(cur)) {
                seen_.insert(cur);
                check(git_packbuilder_insert(pb_, &cur, nullptr), "pack a blob");
            }
            return;
        }
    }
}

void object_set::mark_known_tree(const git_oid& id) {
    if (skip(id))
        return;
    git_tree* t = nullptr;
    if (git_tree_lookup(&t, repo_, &id) < 0)
        return;
    tree_ptr tree(t);
    seen_.insert(id);
    const std::size_t n = git_tree_entrycount(t);
    for (std::size_t i = 0; i < n; ++i) {
        const git_tree_entry* e = git_tree_entry_byindex(t, i);
        if (git_tree_entry_type(e) == GIT_OBJECT_TREE)
            mark_known_tree(*git_tree_entry_id(e));
        else if (git_tree_entry_type(e) == GIT_OBJECT_BLOB)
            seen_.insert(*git_tree_entry_id(e));
    }
}

} // namespace ag::git
