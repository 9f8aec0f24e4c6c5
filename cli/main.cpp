#include "cli/commands.hpp"

int main(int argc, char** argv) { return meshproof::cli::run(argc, argv); }
