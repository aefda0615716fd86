#include "git/advertise.hpp"

#include "git/pkt_line.hpp"
#include "git/workspace.hpp"

#include <algorithm>
#include <cstring>

namespace ag::git {

const char* const agent_capability = "agent=agent-gateway/" AGENT_GATEWAY_VERSION;

std::vector<advertised_ref> list_refs(git_repository* repo) {
    std::vector<advertised_ref> out;
    git_reference_iterator* raw_it = nullptr;
    check(git_reference_iterator_new(&raw_it, repo), "list refs");
    std::unique_ptr<git_reference_iterator, deleter<git_reference_iterator, git_reference_iterator_free>> it(
        raw_it);
    git_reference* ref = nullptr;
    while (git_reference_next(&ref, raw_it) == 0) {
        reference_ptr owned(ref);
        std::string name = git_reference_name(ref);
        if (!name.starts_with("refs/"))
            continue;
        git_reference* resolved = nullptr;
        if (git_reference_resolve(&resolved, ref) < 0)
            continue; // a dangling symbolic ref is not advertised
        reference_ptr owned_resolved(resolved);
        advertised_ref r{std::move(name), *git_reference_target(resolved), std::nullopt};
        git_object* obj = nullptr;
        if (git_object_lookup(&obj, repo, &r.id, GIT_OBJECT_ANY) == 0) {
            object_ptr o(obj);
            if (git_object_type(obj) == GIT_OBJECT_TAG) {
                git_object* target = nullptr;
                if (git_object_peel(&target, obj, GIT_OBJECT_ANY) == 0) {
                    // Peel to the first non-tag object.
                    object_ptr t(target);
                    while (git_object_type(t.get()) == GIT_OBJECT_TAG) {
                        git_object* next = nullptr;
                        if (git_object_peel(&next, t.get(), GIT_OBJECT_ANY) < 0)
                            break;
                        t.reset(next);
                    }
                    r.peeled = *git_object_id(t.get());
                }
            }
        }
        out.push_back(std::move(r));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
}

std::string advertisement(git_repository* repo, service svc) {
    const bool upload = svc == service::upload_pack;
    std::string body;
    append_pkt(body, upload ? "# service=git-upload-pack\n" : "# service=git-receive-pack\n");
    body.append(flush_pkt);

    std::string caps;
    if (upload) {
        caps = "multi_ack_detailed side-band-64k shallow deepen-relative no-progress";
        std::string head = workspace::head_branch(repo);
        if (!head.empty())
            caps += " symref=HEAD:" + head;
    } else {
        caps = "report-status delete-refs side-band-64k quiet atomic ofs-delta";
    }
    caps += " object-format=sha1 ";
    caps += agent_capability;

    auto refs = list_refs(repo);
    bool first = true;
    auto line = [&](const git_oid& id, const std::string& name) {
        std::string l = to_hex(id) + " " + name;
        if (first) {
            l.push_back('\0');
            l += caps;
            first = false;
        }
        l.push_back('\n');
        append_pkt(body, l);
    };
    if (upload) {
        git_oid head_id;
        if (git_reference_name_to_id(&head_id, repo, "HEAD") == 0)
            line(head_id, "HEAD");
    }
    for (const auto& r : refs) {
        line(r.id, r.name);
        if (upload && r.peeled)
            line(*r.peeled, r.name + "^{}");
    }
    if (first) {
        git_oid zero;
        std::memset(&zero, 0, sizeof zero);
        line(zero, "capabilities^{}");
    }
    body.append(flush_pkt);
    return body;
}

} // namespace ag::git
