#include "play/captures.hpp"

#include "audit/capture/live_source.hpp"
#include "audit/engine/engine.hpp"

namespace meshproof::play {

tl::expected<CapturedFlows, std::string> capture_interface(const InterfaceCapture& req, const std::atomic<bool>* stop) {
    audit::LiveOptions opt;
    opt.interface = req.interface;
    opt.bpf_filter = req.filter;
    // The privilege drop of `audit capture` would hold for the whole process, which still has
    // steps (and a teardown) to run.
    opt.drop_to_user = std::nullopt;
    audit::SourceError err;
    auto src = audit::LiveSource::open(opt, err);
    if (!src) return tl::unexpected(err.message);
    src->set_stop_flag(stop);

    audit::Engine engine;
    engine.begin_input(req.interface, src->describe());
    const auto until = std::chrono::steady_clock::now() + req.duration;
    audit::RawPacket pkt;
    std::uint64_t n = 0;
    bool stopping = false;
    for (;;) {
        if (!stopping && std::chrono::steady_clock::now() >= until) {
            // stop() drains what the kernel already captured, then next() returns End.
            src->stop();
            stopping = true;
        }
        const auto status = src->next(pkt);
        if (status == audit::SourceStatus::Packet) {
            engine.on_packet(pkt);
            ++n;
        } else if (status != audit::SourceStatus::Timeout) {
            break;  // End (our stop), Interrupted (Ctrl-C), or Error
        }
    }
    const auto stats = src->stats();
    engine.end_input(n, src->error());
    engine.summary().kernel_dropped = stats.kernel_dropped;
    engine.summary().interface_dropped = stats.interface_dropped;
    engine.finish();
    CapturedFlows out;
    out.records = engine.records();
    out.summary = engine.summary();
    if (src->error()) return tl::unexpected("capture on " + req.interface + ": " + src->error()->message);
    return out;
}

tl::expected<CapturedFlows, std::string> read_files(const std::vector<std::string>& files, const std::atomic<bool>* stop) {
    audit::Engine engine;
    const bool clean = audit::read_capture_files(files, engine, stop);
    engine.finish();
    CapturedFlows out;
    out.records = engine.records();
    out.summary = engine.summary();
    if (!clean) {
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
