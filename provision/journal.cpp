#include "provision/journal.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "provision/json.hpp"
#include "provision/yaml_util.hpp"

namespace meshproof::provision {

std::string_view to_string(StepStatus s) {
    switch (s) {
        case StepStatus::Done: return "done";
        case StepStatus::Failed: return "failed";
        case StepStatus::Interrupted: return "interrupted";
    }
    return "done";
}

std::string errno_text(int err) {
    const char* name = nullptr;
    switch (err) {
        case EROFS: name = "EROFS"; break;
        case EACCES: name = "EACCES"; break;
        case EPERM: name = "EPERM"; break;
        case ENOSPC: name = "ENOSPC"; break;
        case EDQUOT: name = "EDQUOT"; break;
        case ENOENT: name = "ENOENT"; break;
        case ENOTDIR: name = "ENOTDIR"; break;
        case EEXIST: name = "EEXIST"; break;
        case EIO: name = "EIO"; break;
        case EISDIR: name = "EISDIR"; break;
        case ENAMETOOLONG: name = "ENAMETOOLONG"; break;
        case ELOOP: name = "ELOOP"; break;
        default: break;
    }
    std::string out = std::strerror(err);
    out += name != nullptr ? std::string(" (") + name + ")" : " (errno " + std::to_string(err) + ")";
    return out;
}

std::string utc_now_iso8601() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string journal_to_json(const Journal& j) {
    std::string out = "{\n";
    out += "  \"version\": " + std::to_string(j.version) + ",\n";
    out += "  \"lab\": " + json_quote(j.lab) + ",\n";
    out += "  \"kube_context\": " + json_quote(j.kube_context) + ",\n";
    out += "  \"spec_hash\": " + json_quote(j.spec_hash) + ",\n";
    out += "  \"state\": " + json_quote(j.state) + ",\n";
    out += "  \"updated_at\": " + json_quote(j.updated_at) + ",\n";
    out += "  \"steps\": {";
    bool first = true;
    for (const auto& [id, rec] : j.steps) {
        out += first ? "\n" : ",\n";
        first = false;
        char secs[32];
        std::snprintf(secs, sizeof secs, "%.1f", rec.seconds);
        out += "    " + json_quote(id) + ": {\"status\": " + json_quote(to_string(rec.status)) +
               ", \"fingerprint\": " + json_quote(rec.fingerprint) + ", \"seconds\": " + secs +
               ", \"finished_at\": " + json_quote(rec.finished_at);
        if (!rec.message.empty()) out += ", \"message\": " + json_quote(rec.message);
        out += "}";
    }
    out += first ? "}\n" : "\n  }\n";
    out += "}\n";
    return out;
}

tl::expected<Journal, std::string> journal_from_json(std::string_view text) {
    YAML::Node root;
    try {
        root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
        // yaml-cpp marks are 0-based; editors count from 1.
        return tl::unexpected(std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                              ": not valid JSON (" + e.msg + "): the file was cut short or edited");
    }
    if (!root || root.IsNull()) return tl::unexpected(std::string("1:1: empty: the file was cut short"));
    if (!root.IsMap()) return tl::unexpected(std::string("1:1: not a JSON object"));
    // A torn write can still parse when it ends exactly at a line break of a flow map: "{" with no "}".
    const auto last = text.find_last_not_of(" \t\r\n");
    if (last == std::string_view::npos || text[last] != '}') {
        const auto lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
        return tl::unexpected(std::to_string(lines + 1) + ":1: the file ends before its closing '}': cut short");
    }
    Journal j;
    try {
        j.version = root["version"] ? root["version"].as<int>() : 1;
        if (j.version != 1) return tl::unexpected("journal version " + std::to_string(j.version) + " is not supported");
        j.lab = detail::scalar_at(root, {"lab"});
        j.kube_context = detail::scalar_at(root, {"kube_context"});
        j.spec_hash = detail::scalar_at(root, {"spec_hash"});
        j.state = detail::scalar_at(root, {"state"});
        j.updated_at = detail::scalar_at(root, {"updated_at"});
        const YAML::Node steps = detail::at(root, {"steps"});
        if (steps && steps.IsMap()) {
            for (auto it = steps.begin(); it != steps.end(); ++it) {
                StepRecord rec;
                const std::string status = detail::scalar_at(it->second, {"status"});
                if (status == "done") rec.status = StepStatus::Done;
                else if (status == "failed") rec.status = StepStatus::Failed;
                else if (status == "interrupted") rec.status = StepStatus::Interrupted;
                else return tl::unexpected("step " + it->first.Scalar() + ": unknown status '" + status + "'");
                rec.fingerprint = detail::scalar_at(it->second, {"fingerprint"});
                const std::string secs = detail::scalar_at(it->second, {"seconds"});
                rec.seconds = secs.empty() ? 0 : std::strtod(secs.c_str(), nullptr);
                rec.finished_at = detail::scalar_at(it->second, {"finished_at"});
                rec.message = detail::scalar_at(it->second, {"message"});
                j.steps[it->first.Scalar()] = std::move(rec);
            }
        }
    } catch (const YAML::Exception& e) {
        return tl::unexpected("journal: " + e.msg);
    }
    return j;
}

tl::expected<Journal, std::string> load_journal(const std::string& state_dir) {
    const std::string path = state_dir + "/journal.json";
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        const int err = errno;
        if (err == ENOENT || access(path.c_str(), F_OK) != 0) return Journal{};
        return tl::unexpected("cannot read " + path + ": " + errno_text(err));
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    auto j = journal_from_json(ss.str());
    if (!j) {
        const bool located = !j.error().empty() && std::isdigit(static_cast<unsigned char>(j.error().front()));
        return tl::unexpected(path + (located ? ":" : ": ") + j.error());
    }
    return j;
}

tl::expected<void, std::string> ensure_private_dir(const std::string& dir) {
    if (dir.empty()) return tl::unexpected(std::string("empty state directory"));
    std::string path;
    std::size_t pos = 0;
    while (pos != std::string::npos) {
        pos = dir.find('/', pos + 1);
        path = dir.substr(0, pos);
        if (path.empty()) continue;
        if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
            return tl::unexpected("cannot create " + path + ": " + errno_text(errno));
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return tl::unexpected(dir + " is not a directory");
    return {};
}

tl::expected<void, std::string> write_file_atomic(const std::string& path, std::string_view data, unsigned mode) {
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, static_cast<mode_t>(mode));
    if (fd < 0) return tl::unexpected("cannot create " + tmp + ": " + errno_text(errno));
    ::fchmod(fd, static_cast<mode_t>(mode));  // umask must not widen or narrow what we asked for
    std::size_t written = 0;
    while (written < data.size()) {
        const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
        if (n < 0) {
            if (errno == EINTR) continue;
            const std::string err = errno_text(errno);
            ::close(fd);
            ::unlink(tmp.c_str());
            return tl::unexpected("cannot write " + tmp + ": " + err);
        }
        written += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        const std::string err = errno_text(errno);
        ::close(fd);
        ::unlink(tmp.c_str());
        return tl::unexpected("cannot flush " + tmp + ": " + err);
    }
    if (::close(fd) != 0) {
        const std::string err = errno_text(errno);
        ::unlink(tmp.c_str());
        return tl::unexpected("cannot flush " + tmp + ": " + err);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string err = errno_text(errno);
        ::unlink(tmp.c_str());
        return tl::unexpected("cannot rename " + tmp + " to " + path + ": " + err);
    }
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return {};
}

tl::expected<void, std::string> save_journal(const std::string& state_dir, const Journal& journal) {
    if (auto ok = ensure_private_dir(state_dir); !ok) return ok;
    auto written = write_file_atomic(state_dir + "/journal.json", journal_to_json(journal), 0600);
    if (written) remove_stale_temp_files(state_dir);
    return written;
}

void remove_stale_temp_files(const std::string& state_dir) {
    // A crash between write and rename leaves journal.json.tmp.<pid>; journal.json itself is intact.
    DIR* d = ::opendir(state_dir.c_str());
    if (d == nullptr) return;
    const std::string ours = "journal.json.tmp." + std::to_string(::getpid());
    while (const dirent* e = ::readdir(d)) {
        const std::string_view name = e->d_name;
        if (name.rfind("journal.json.tmp.", 0) == 0 && name != ours) ::unlinkat(::dirfd(d), e->d_name, 0);
    }
    ::closedir(d);
}

tl::expected<void, std::string> check_state_dir_writable(const std::string& state_dir) {
    if (auto ok = ensure_private_dir(state_dir); !ok) return ok;
    // Create and remove a file: access(W_OK) says yes to root on a read-only mount.
    const std::string probe = state_dir + "/.write-test." + std::to_string(::getpid());
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return tl::unexpected("cannot write in " + state_dir + ": " + errno_text(errno));
    ::close(fd);
    ::unlink(probe.c_str());
    const std::string journal = state_dir + "/journal.json";
    if (::access(journal.c_str(), F_OK) == 0) {
        const int jfd = ::open(journal.c_str(), O_RDONLY | O_CLOEXEC);
        if (jfd < 0) return tl::unexpected("cannot read " + journal + ": " + errno_text(errno));
        ::close(jfd);
    }
    return {};
}

std::string journal_recovery_hint(const std::string& state_dir) {
    const std::string path = state_dir + "/journal.json";
    return "the journal only records meshproof's progress; the cluster is not affected. See what is installed with\n"
           "  meshproof status --state-dir " + state_dir + "\n"
           "then move the journal away and run up again (it adopts what is installed and redoes the rest):\n"
           "  mv " + path + " " + path + ".broken && meshproof up\n";
}

std::string default_state_dir(const std::string& lab) {
    if (const char* d = std::getenv("MESHPROOF_STATE_DIR"); d != nullptr && *d != '\0') return std::string(d) + "/" + lab;
    if (const char* x = std::getenv("XDG_STATE_HOME"); x != nullptr && *x != '\0')
        return std::string(x) + "/meshproof/" + lab;
    const char* home = std::getenv("HOME");
    return std::string(home != nullptr && *home != '\0' ? home : ".") + "/.local/state/meshproof/" + lab;
}

}  // namespace meshproof::provision
