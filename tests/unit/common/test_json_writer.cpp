#include <doctest/doctest.h>

#include "common/json_writer.hpp"

using meshproof::JsonWriter;

TEST_CASE("json_escape keeps JSON valid for bytes off the wire") {
    auto esc = [](std::string_view s) {
        std::string out;
        meshproof::json_escape(s, out);
        return out;
    };
    CHECK(esc("plain text 123") == "plain text 123");
    CHECK(esc("a\"b\\c") == "a\\\"b\\\\c");
    CHECK(esc("line\r\n\tend") == "line\\r\\n\\tend");
    CHECK(esc(std::string_view("\x00\x01\x7f", 3)) == "\\u0000\\u0001\\u007f");
    SUBCASE("valid UTF-8 passes through, invalid bytes are escaped one by one") {
        CHECK(esc("caf\xc3\xa9") == "caf\xc3\xa9");
        CHECK(esc("\xe2\x80\xa6") == "\xe2\x80\xa6");
        CHECK(esc("bad \xc3 end") == "bad \\u00c3 end");
        CHECK(esc("\xff\xfe") == "\\u00ff\\u00fe");
        CHECK(esc("cut \xe2\x80") == "cut \\u00e2\\u0080");
    }
}

TEST_CASE("JsonWriter places commas and nests containers") {
    JsonWriter w;
    w.begin_object();
    w.field("a", 1).field("b", "x").key("list").begin_array().value("p").value("q").end_array();
    w.key("empty").begin_object().end_object();
    w.field("none", std::optional<std::string>{}).field("some", std::optional<std::string>("v"));
    w.field("flag", true).key("n").null();
    w.end_object();
    CHECK(w.str() == R"({"a":1,"b":"x","list":["p","q"],"empty":{},"none":null,"some":"v","flag":true,"n":null})");
}
