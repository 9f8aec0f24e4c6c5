// flow_footprint: what a flow costs by sizeof accounting, next to bench/flood.sh's peak-RSS figures.
// Built by flood.sh against the libraries of the meshproof build it measures.
#include <cstdio>

#include "audit/engine/engine.hpp"

int main() {
    using namespace meshproof::audit;
    std::printf("sizeof(FlowRecord) %zu\n", sizeof(FlowRecord));
    std::printf("sizeof(TlsSummary) %zu (on the heap, only when present)\n", sizeof(TlsSummary));
    std::printf("sizeof(PlaintextSummary) %zu (on the heap, only when present)\n", sizeof(PlaintextSummary));
    std::printf("tracked flow with a final verdict %zu (table slot + bucket + counters; the verdict is shared)\n",
                Engine::final_flow_bytes());
    return 0;
}
