#include "play/captures.hpp"

#include <iostream>

#include "audit/session/session.hpp"

namespace meshproof::play {

namespace {

CapturedFlows collect(audit::Session& session) {
    CapturedFlows out;
    out.records = session.take_records();
    out.summary = session.summary();
    return out;
}

}  // namespace

tl::expected<CapturedFlows, std::string> capture_interface(const InterfaceCapture& req, const std::atomic<bool>* stop) {
    audit::SessionConfig cfg;
    audit::LiveOptions live;
    live.interface = req.interface;
    live.bpf_filter = req.filter;
    // The privilege drop of `audit capture` would hold for the whole process, which still has
    // steps (and a teardown) to run.
    live.drop_to_user = std::nullopt;
    cfg.live = std::move(live);
    cfg.duration = std::chrono::duration<double>(req.duration).count();
    audit::Session session(std::move(cfg), std::cout, std::cerr);
    if (!session.open()) return tl::unexpected(session.start_error());
    session.run(stop);
    if (session.source_error()) return tl::unexpected("capture on " + req.interface + ": " + *session.source_error());
    return collect(session);
}

tl::expected<CapturedFlows, std::string> read_files(const std::vector<std::string>& files, const std::atomic<bool>* stop) {
    audit::SessionConfig cfg;
    cfg.files = files;
    audit::Session session(std::move(cfg), std::cout, std::cerr);
    const audit::SessionOutcome outcome = session.run(stop);
    CapturedFlows out = collect(session);
    if (outcome.unreadable_input || outcome.damaged_input) {
        std::string why;
        for (const auto& in : out.summary.inputs) {
            if (in.error) why += (why.empty() ? "" : "; ") + *in.error;
        }
        // Nothing readable at all is a failure; a damaged tail is a warning.
        if (out.summary.packets == 0) return tl::unexpected(why.empty() ? std::string("no packet could be read") : why);
        out.warning = why + " (the flows before the damage are kept)";
    }
    return out;
}

}  // namespace meshproof::play
