#include "git/object_check.hpp"

#include "git/libgit2.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <unordered_set>

namespace ag::git {

namespace {

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// The name with the code points HFS+ ignores removed (git's is_hfs_dot_generic) and ASCII folded to lower
// case. Invalid UTF-8 is kept byte for byte.
std::string hfs_folded(std::string_view name) {
    std::string out;
    for (std::size_t i = 0; i < name.size();) {
        auto c = static_cast<unsigned char>(name[i]);
        if (c == 0xe2 && i + 2 < name.size()) {
            auto b1 = static_cast<unsigned char>(name[i + 1]);
            auto b2 = static_cast<unsigned char>(name[i + 2]);
            unsigned cp = ((c & 0x0fu) << 12) | ((b1 & 0x3fu) << 6) | (b2 & 0x3fu);
            if ((cp >= 0x200c && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
                (cp >= 0x206a && cp <= 0x206f)) {
                i += 3;
                continue;
            }
        }
        if (c == 0xef && i + 2 < name.size() && static_cast<unsigned char>(name[i + 1]) == 0xbb &&
            static_cast<unsigned char>(name[i + 2]) == 0xbf) {
            i += 3; // U+FEFF
            continue;
        }
        out.push_back(lower(static_cast<char>(c)));
        ++i;
    }
    return out;
}

// NTFS drops trailing dots and spaces, and everything from a ':' (an alternate data stream) on.
std::string ntfs_folded(std::string_view name) {
    if (auto colon = name.find(':'); colon != std::string_view::npos)
        name = name.substr(0, colon);
    while (!name.empty() && (name.back() == '.' || name.back() == ' '))
        name.remove_suffix(1);
    std::string out(name);
    std::transform(out.begin(), out.end(), out.begin(), lower);
    return out;
}

bool is_gitmodules(std::string_view name) {
    const std::string ntfs = ntfs_folded(name);
    return hfs_folded(name) == ".gitmodules" || ntfs == ".gitmodules" || ntfs == "gitmod~1";
}

// git's tree order: bytes compared as if a directory's name ended in '/'.
int tree_order(std::string_view a, bool a_dir, std::string_view b, bool b_dir) {
    const std::size_t n = std::min(a.size(), b.size());
    if (int c = std::memcmp(a.data(), b.data(), n))
        return c;
    auto next = [n](std::string_view s, bool dir) -> int {
        return n < s.size() ? static_cast<unsigned char>(s[n]) : (dir ? '/' : 0);
    };
    return next(a, a_dir) - next(b, b_dir);
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

// A config value: surrounding quotes and backslash escapes removed, trailing comments dropped.
std::string config_value(std::string_view v) {
    std::string out;
    bool quoted = false;
    for (std::size_t i = 0; i < v.size(); ++i) {
        char c = v[i];
        if (c == '"') {
            quoted = !quoted;
        } else if (c == '\\' && i + 1 < v.size()) {
            char e = v[++i];
            out.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
        } else if (!quoted && (c == '#' || c == ';')) {
            break;
        } else {
            out.push_back(c);
        }
    }
    return std::string(trim(out));
}

// git's check_submodule_name: no ".." component, with '/' or '\' as separators.
bool submodule_name_escapes(std::string_view name) {
    std::size_t start = 0;
    for (std::size_t i = 0; i <= name.size(); ++i) {
        if (i == name.size() || name[i] == '/' || name[i] == '\\') {
            if (name.substr(start, i - start) == "..")
                return true;
            start = i + 1;
        }
    }
    return false;
}

} // namespace

bool is_dotgit(std::string_view name) {
    const std::string ntfs = ntfs_folded(name);
    return hfs_folded(name) == ".git" || ntfs == ".git" || ntfs == "git~1";
}

tree_check check_tree(std::string_view raw) {
    tree_check out;
    std::unordered_set<std::string_view> names;
    std::string_view prev;
    bool prev_dir = false;
    bool first = true;
    auto fail = [&](std::string_view id, std::string_view reason, std::string_view name) {
        out.problem = fmt::format("{}: {} '{}'", id, reason, name);
        return out;
    };
    while (!raw.empty()) {
        auto space = raw.find(' ');
        auto nul = raw.find('\0');
        if (space == std::string_view::npos || nul == std::string_view::npos || space > nul ||
            raw.size() < nul + 1 + GIT_OID_RAWSZ) {
            out.problem = "badTree: cannot be parsed";
            return out;
        }
        const std::string_view mode = raw.substr(0, space);
        const std::string_view name = raw.substr(space + 1, nul - space - 1);
        git_oid id;
        git_oid_fromraw(&id, reinterpret_cast<const unsigned char*>(raw.data() + nul + 1));
        raw.remove_prefix(nul + 1 + GIT_OID_RAWSZ);

        if (mode.starts_with('0'))
            return fail("zeroPaddedFilemode", "a mode with a leading zero for", name);
        const bool dir = mode == "40000";
        if (!dir && mode != "100644" && mode != "100755" && mode != "100664" && mode != "120000" &&
            mode != "160000")
            return fail("badFilemode", fmt::format("mode {} for", mode), name);
        if (name.empty())
            return fail("emptyName", "an empty name", name);
        if (name.find('/') != std::string_view::npos)
            return fail("fullPathname", "a name with '/'", name);
        if (name == ".")
            return fail("hasDot", "the name", name);
        if (name == "..")
            return fail("hasDotdot", "the name", name);
        if (is_dotgit(name))
            return fail("hasDotgit", "the name", name);
        // Linux could write it, but git refuses it on Windows, where a checkout would read `..\y` as a path
        // out of the tree; libgit2 leaves such entries out of a checkout without a word.
        if (name.find('\\') != std::string_view::npos)
            return fail("hasBackslash", "a name with '\\'", name);
        if (!names.insert(name).second)
            return fail("duplicateEntries", "two entries named", name);
        if (!first && tree_order(prev, prev_dir, name, dir) >= 0)
            return fail("treeNotSorted", "entries out of order at", name);
        if (is_gitmodules(name)) {
            if (mode == "120000")
                return fail("gitmodulesSymlink", "a symbolic link named", name);
            if (!dir)
                out.gitmodules_blobs.push_back(id);
        }
        prev = name;
        prev_dir = dir;
        first = false;
    }
    return out;
}

std::string check_gitmodules(std::string_view content) {
    std::string section_name;
    bool in_submodule = false;
    while (!content.empty()) {
        auto eol = content.find('\n');
        std::string_view line = trim(content.substr(0, eol));
        content = eol == std::string_view::npos ? std::string_view{} : content.substr(eol + 1);
        if (line.empty() || line.front() == '#' || line.front() == ';')
            continue;
        if (line.front() == '[') {
            auto close = line.rfind(']');
            std::string_view head = line.substr(1, close == std::string_view::npos ? line.npos : close - 1);
            auto quote = head.find('"');
            in_submodule = trim(head.substr(0, quote)) == "submodule";
            section_name = quote == std::string_view::npos ? "" : config_value(head.substr(quote));
            if (in_submodule && submodule_name_escapes(section_name))
                return fmt::format("gitmodulesName: submodule name '{}' leaves the repository", section_name);
            continue;
        }
        if (!in_submodule)
            continue;
        auto eq = line.find('=');
        std::string key(trim(line.substr(0, eq)));
        std::transform(key.begin(), key.end(), key.begin(), lower);
        const std::string value = eq == std::string_view::npos ? "" : config_value(line.substr(eq + 1));
        if (key == "url" && value.starts_with('-'))
            return fmt::format("gitmodulesUrl: submodule '{}' has an option-like url '{}'", section_name,
                               value);
        if (key == "path" && value.starts_with('-'))
            return fmt::format("gitmodulesPath: submodule '{}' has an option-like path '{}'", section_name,
                               value);
        if (key == "update" && value.starts_with('!'))
            return fmt::format("gitmodulesUpdate: submodule '{}' runs a command on update", section_name);
    }
    return {};
}

std::string check_received_objects(const std::string& objects_dir) {
    git_odb* raw = nullptr;
    check(git_odb_open(&raw, objects_dir.c_str()), "open the received objects");
    odb_ptr odb(raw);
    std::vector<git_oid> trees;
    struct walk {
        git_odb* odb;
        std::vector<git_oid>* trees;
    } w{raw, &trees};
    check(git_odb_foreach(
              raw,
              [](const git_oid* id, void* payload) {
                  auto* wk = static_cast<walk*>(payload);
                  std::size_t len;
                  git_object_t type;
                  if (git_odb_read_header(&len, &type, wk->odb, id) == 0 && type == GIT_OBJECT_TREE)
                      wk->trees->push_back(*id);
                  return 0;
              },
              &w),
          "list the received objects");

    std::vector<git_oid> gitmodules;
    for (const auto& id : trees) {
        git_odb_object* o = nullptr;
        check(git_odb_read(&o, raw, &id), "read a received tree");
        odb_object_ptr obj(o);
        auto result = check_tree(
            std::string_view(static_cast<const char*>(git_odb_object_data(o)), git_odb_object_size(o)));
        if (!result.problem.empty())
            return "object " + to_hex(id) + ": " + result.problem;
        gitmodules.insert(gitmodules.end(), result.gitmodules_blobs.begin(), result.gitmodules_blobs.end());
    }
    for (const auto& id : gitmodules) {
        git_odb_object* o = nullptr;
        if (git_odb_read(&o, raw, &id) < 0)
            continue; // not in this push: the repository had it already
        odb_object_ptr obj(o);
        if (git_odb_object_type(o) != GIT_OBJECT_BLOB)
            return "object " + to_hex(id) + ": gitmodulesBlob: .gitmodules is not a file";
        std::string problem = check_gitmodules(
            std::string_view(static_cast<const char*>(git_odb_object_data(o)), git_odb_object_size(o)));
        if (!problem.empty())
            return "object " + to_hex(id) + ": " + problem;
    }
    return {};
}

} // namespace ag::git
