#include "play/kube_commands.hpp"

#include <fstream>
#include <sstream>

#include "provision/plan.hpp"

namespace meshproof::play {

namespace {

using namespace std::chrono_literals;

std::string seconds_flag(std::chrono::milliseconds d) {
    // kubectl rounds down; a sub-second timeout would mean "no wait at all".
    const auto s = std::max<std::int64_t>(1, (d.count() + 999) / 1000);
    return "--timeout=" + std::to_string(s) + "s";
}

void add_namespace(std::vector<std::string>& argv, const std::string& ns) {
    if (ns.empty()) return;
    argv.push_back("--namespace");
    argv.push_back(ns);
}

// The provisioner puts --context at the end too.
void add_context(std::vector<std::string>& argv, const std::string& context) {
    if (context.empty()) return;
    argv.push_back("--context");
    argv.push_back(context);
}

}  // namespace

provision::Command apply_command(const ApplyStep& step, const std::string& text, const std::string& context) {
    provision::Command cmd;
    if (step.remove) {
        cmd.argv = {"kubectl", "delete", "--ignore-not-found"};
    } else {
        cmd.argv = {"kubectl", "apply", "--server-side", std::string("--field-manager=") + kFieldManager,
                    "--force-conflicts"};
    }
    add_namespace(cmd.argv, step.namespace_name);
    cmd.argv.insert(cmd.argv.end(), {"-f", "-"});
    add_context(cmd.argv, context);
    cmd.stdin_text = text;
    cmd.timeout = step.timeout;
    return cmd;
}

provision::Command wait_command(const WaitStep& step, const std::string& context) {
    provision::Command cmd;
    if (step.kind == WaitStep::Kind::Rollout) {
        cmd.argv = {"kubectl", "rollout", "status", step.resource};
    } else {
        cmd.argv = {"kubectl", "wait", "--for=condition=" + step.condition, step.resource};
        if (!step.selector.empty()) cmd.argv.insert(cmd.argv.end(), {"--selector", step.selector});
    }
    add_namespace(cmd.argv, step.namespace_name);
    cmd.argv.push_back(seconds_flag(step.timeout));
    add_context(cmd.argv, context);
    cmd.timeout = step.timeout + 30s;
    return cmd;
}

provision::Command restart_command(const RestartStep& step, const std::string& context) {
    provision::Command cmd;
    cmd.argv = {"kubectl", "rollout", "restart"};
    cmd.argv.insert(cmd.argv.end(), step.resources.begin(), step.resources.end());
    add_namespace(cmd.argv, step.namespace_name);
    add_context(cmd.argv, context);
    cmd.timeout = 60s;
    return cmd;
}

tl::expected<std::string, std::string> manifest_text(const ApplyStep& step) {
    if (step.files.empty()) return step.inline_manifest;
    std::string out;
    for (const auto& path : step.files) {
        std::ifstream in(path, std::ios::binary);
        if (!in) return tl::unexpected("cannot read " + path);
        std::ostringstream ss;
        ss << in.rdbuf();
        std::string text = ss.str();
        if (!out.empty()) out += "---\n";
        out += text;
        if (!text.empty() && text.back() != '\n') out += "\n";
    }
    return out;
}

std::string display(const provision::Command& cmd) { return provision::format_argv(provision::redact_argv(cmd.argv)); }

}  // namespace meshproof::play
