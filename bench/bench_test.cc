// gaze-bench's parsing and bookkeeping, and its HTTP client against an in-process server.
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <chrono>

#include "bench/http_client.h"
#include "bench/http_parse.h"
#include "bench/import.h"
#include "bench/json_line.h"
#include "bench/proc_stats.h"
#include "bench/stats.h"
#include "bench/workload_spec.h"

namespace gaze::bench {
namespace {

namespace asio = boost::asio;

TEST(EndpointUrlTest, HostPortAndPrefix) {
  auto u = ParseEndpointUrl("http://127.0.0.1:9292/image/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "9292");
  EXPECT_EQ(u->base_path, "/image");
  EXPECT_EQ(u->host_header, "127.0.0.1:9292");

  auto plain = ParseEndpointUrl("HTTP://glance");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->port, "80");
  EXPECT_EQ(plain->base_path, "");

  auto v6 = ParseEndpointUrl("http://[::1]:8080");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, "8080");
}

TEST(EndpointUrlTest, Rejects) {
  EXPECT_FALSE(ParseEndpointUrl("https://glance:9292"));
  EXPECT_FALSE(ParseEndpointUrl("http://:9292"));
  EXPECT_FALSE(ParseEndpointUrl("http://glance:0"));
  EXPECT_FALSE(ParseEndpointUrl("http://glance:99999"));
  EXPECT_FALSE(ParseEndpointUrl("http://user@glance"));
}

TEST(ResponseHeadTest, ContentLengthAndKeepAlive) {
  ResponseHead h;
  ASSERT_TRUE(ParseResponseHead(
      "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\ncontent-length: 12\r\n\r\n", &h));
  EXPECT_EQ(h.status, 201);
  EXPECT_EQ(h.content_length, 12u);
  EXPECT_FALSE(h.chunked);
  EXPECT_FALSE(h.close);
}

TEST(ResponseHeadTest, ChunkedCloseAndHttp10) {
  ResponseHead h;
  ASSERT_TRUE(ParseResponseHead(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\nConnection: close\r\n\r\n", &h));
  EXPECT_TRUE(h.chunked);
  EXPECT_TRUE(h.close);
  ASSERT_TRUE(ParseResponseHead("HTTP/1.0 204\r\n\r\n", &h));
  EXPECT_EQ(h.status, 204);
  EXPECT_TRUE(h.close);
  ASSERT_TRUE(ParseResponseHead("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n", &h));
  EXPECT_FALSE(h.close);
}

TEST(ResponseHeadTest, Malformed) {
  ResponseHead h;
  EXPECT_FALSE(ParseResponseHead("HTTP/2 200 OK\r\n\r\n", &h));
  EXPECT_FALSE(ParseResponseHead("HTTP/1.1 2x0 OK\r\n\r\n", &h));
  EXPECT_FALSE(ParseResponseHead("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", &h));
  EXPECT_FALSE(ParseResponseHead("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", &h));
}

TEST(ChunkSizeTest, HexWithExtensions) {
  uint64_t n = 0;
  ASSERT_TRUE(ParseChunkSize("1a3F", &n));
  EXPECT_EQ(n, 0x1a3Fu);
  ASSERT_TRUE(ParseChunkSize("10;name=value", &n));
  EXPECT_EQ(n, 16u);
  EXPECT_FALSE(ParseChunkSize("", &n));
  EXPECT_FALSE(ParseChunkSize("zz", &n));
}

TEST(TopLevelStringTest, FindsOnlyTopLevelMembers) {
  const std::string page =
      R"({"images": [{"id": "inner", "next": "not this"}, {"x": [1, {"next": "nor this"}]}],)"
      R"( "first": "/v2/images?limit=25", "schema": "/v2/schemas/images",)"
      R"( "next": "/v2/images?limit=25&marker=abc"})";
  EXPECT_EQ(TopLevelString(page, "next"), "/v2/images?limit=25&marker=abc");
  EXPECT_EQ(TopLevelString(page, "first"), "/v2/images?limit=25");
  EXPECT_EQ(TopLevelString(page, "id"), std::nullopt);
}

TEST(TopLevelStringTest, StringsWithEscapesAndOtherValues) {
  const std::string doc =
      R"({"name": "a \"quoted\" }{ name\\", "size": 12, "ok": true, "none": null,)"
      R"( "id": "\u00e9t\u00E9\ud83d\ude00\/"})";
  EXPECT_EQ(TopLevelString(doc, "id"), "\xc3\xa9t\xc3\xa9\xf0\x9f\x98\x80/");
  EXPECT_EQ(TopLevelString(doc, "name"), "a \"quoted\" }{ name\\");
  EXPECT_EQ(TopLevelString(doc, "size"), std::nullopt);
  EXPECT_EQ(TopLevelString("[]", "id"), std::nullopt);
  EXPECT_EQ(TopLevelString("{}", "id"), std::nullopt);
  EXPECT_EQ(TopLevelString(R"({"id": "unterminated)", "id"), std::nullopt);
}

TEST(JsonLineTest, PlainNumbers) {
  boost::json::object doc{{"rate", 2976.7},
                          {"whole", 3.0},
                          {"n", 12},
                          {"s", "a\"b"},
                          {"list", boost::json::array{0.25, nullptr, true}}};
  EXPECT_EQ(JsonLine(doc),
            R"({"rate":2976.7,"whole":3,"n":12,"s":"a\"b","list":[0.25,null,true]})");
}

TEST(QueryEscapeTest, ReservedCharacters) {
  EXPECT_EQ(QueryEscape("gaze-bench_1.x~"), "gaze-bench_1.x~");
  EXPECT_EQ(QueryEscape("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
}

TEST(WorkloadSpecTest, NameAndParameters) {
  std::string error;
  auto spec = WorkloadSpec::Parse("upload:size=256M,parallel=8", &error);
  ASSERT_TRUE(spec) << error;
  EXPECT_EQ(spec->name(), "upload");
  EXPECT_EQ(spec->Bytes("size", 0, &error), uint64_t{256} << 20);
  EXPECT_EQ(spec->Int("parallel", 1, &error), 8);
  EXPECT_EQ(spec->Int("count", 3, &error), 3);
  EXPECT_EQ(spec->UnknownKey({"size", "parallel"}), std::nullopt);
  EXPECT_EQ(spec->UnknownKey({"size"}), "parallel");
  EXPECT_TRUE(error.empty());
  EXPECT_EQ(spec->Bytes("parallel", 0, &error), 8u);
}

TEST(WorkloadSpecTest, Errors) {
  std::string error;
  EXPECT_FALSE(WorkloadSpec::Parse("", &error));
  EXPECT_FALSE(WorkloadSpec::Parse("List", &error));
  EXPECT_FALSE(WorkloadSpec::Parse("list:filter", &error));
  EXPECT_FALSE(WorkloadSpec::Parse("list:=tag", &error));
  auto spec = WorkloadSpec::Parse("create:c=-1,warmup=x,size=12Q", &error);
  ASSERT_TRUE(spec);
  error.clear();
  EXPECT_EQ(spec->Int("c", 5, &error), 5);
  EXPECT_FALSE(error.empty());
  error.clear();
  spec->Seconds("warmup", 1, &error);
  EXPECT_FALSE(error.empty());
  error.clear();
  spec->Bytes("size", 1, &error);
  EXPECT_FALSE(error.empty());
}

TEST(LatencySamplesTest, NearestRankPercentiles) {
  LatencySamples s;
  for (int ms = 100; ms >= 1; --ms) s.Add(std::chrono::milliseconds(ms));
  LatencySummary sum = s.Summarize();
  EXPECT_EQ(sum.count, 100u);
  EXPECT_DOUBLE_EQ(sum.p50_ms, 50);
  EXPECT_DOUBLE_EQ(sum.p90_ms, 90);
  EXPECT_DOUBLE_EQ(sum.p99_ms, 99);
  EXPECT_DOUBLE_EQ(sum.max_ms, 100);
  EXPECT_DOUBLE_EQ(sum.mean_ms, 50.5);
  EXPECT_EQ(LatencySamples().Summarize().count, 0u);
}

TEST(ProcStatsTest, ParsesStatAndStatus) {
  // A command name with spaces and parentheses; utime 250, stime 50 ticks.
  const std::string stat =
      "4242 (metadata (svc) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0";
  auto ticks = ParseStatCpuTicks(stat);
  ASSERT_TRUE(ticks);
  EXPECT_DOUBLE_EQ(*ticks, 300);
  EXPECT_EQ(ParseStatParentPid(stat), 1);
  const std::string status = "Name:\tapi-gateway\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
  EXPECT_EQ(ParseStatusKb(status, "VmRSS"), 10240u);
  EXPECT_EQ(ParseStatusKb(status, "VmHWM"), 20480u);
  EXPECT_EQ(ParseStatusKb(status, "VmSwap"), 0u);
}

TEST(ProcStatsTest, ChildrenCpu) {
  // utime 250, stime 50; cutime 30 and cstime 12 of the children it waited for.
  const std::string stat =
      "4242 (task-worker) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 30 12 20 0 9 0";
  EXPECT_EQ(ParseStatChildCpuTicks(stat), 42);
  EXPECT_FALSE(ParseStatChildCpuTicks("4242 (x) S 1 2 3"));
}

TEST(ImportTest, SourceDataExtentsAreHalfTheImageInRuns) {
  constexpr uint64_t M = uint64_t{1} << 20;
  auto extents = SourceDataExtents(64 * M);
  ASSERT_EQ(extents.size(), 4u);
  EXPECT_EQ(extents[0].offset, 0u);
  EXPECT_EQ(extents[0].length, 12 * M);
  EXPECT_EQ(extents[1].offset, 20 * M);
  EXPECT_EQ(extents[1].length, 4 * M);
  EXPECT_EQ(extents[2].offset, 32 * M);
  EXPECT_EQ(extents[2].length, 12 * M);
  EXPECT_EQ(extents[3].offset, 52 * M);
  EXPECT_EQ(extents[3].length, 4 * M);
  uint64_t data = 0;
  for (const Extent& e : SourceDataExtents(uint64_t{1} << 30)) data += e.length;
  EXPECT_EQ(data, uint64_t{1} << 29);

  // A size that ends inside a region: the last extent ends at the size.
  auto short_one = SourceDataExtents(22 * M + 5);
  ASSERT_EQ(short_one.size(), 2u);
  EXPECT_EQ(short_one[1].offset, 20 * M);
  EXPECT_EQ(short_one[1].length, 2 * M + 5);
  auto tiny = SourceDataExtents(1000);
  ASSERT_EQ(tiny.size(), 1u);
  EXPECT_EQ(tiny[0].length, 1000u);
  EXPECT_TRUE(SourceDataExtents(0).empty());
}

TEST(ImportTest, ClassifiesThePolledImage) {
  EXPECT_EQ(ClassifyImport("importing", ""), ImportState::kRunning);
  EXPECT_EQ(ClassifyImport("uploading", ""), ImportState::kRunning);
  EXPECT_EQ(ClassifyImport("active", ""), ImportState::kActive);
  // Glance reverts a failed import to queued and names the stores that failed.
  EXPECT_EQ(ClassifyImport("queued", ""), ImportState::kFailed);
  EXPECT_EQ(ClassifyImport("queued", "file"), ImportState::kFailed);
  EXPECT_EQ(ClassifyImport("active", "file"), ImportState::kFailed);
  EXPECT_EQ(ClassifyImport("killed", ""), ImportState::kFailed);
  EXPECT_EQ(ClassifyImport("", ""), ImportState::kFailed);
}

TEST(ImportTest, CreateBody) {
  auto v = boost::json::parse(ImportCreateBody("qcow2")).as_object();
  EXPECT_EQ(v.at("disk_format").as_string(), "qcow2");
  EXPECT_EQ(v.at("container_format").as_string(), "bare");
  EXPECT_EQ(v.at("tags").as_array().at(0).as_string(), "gaze-bench");
}

TEST(ImportTest, Summary) {
  EXPECT_TRUE(SummarizeImports({}).empty());
  std::vector<ImportTiming> t = {
      {.stage_s = 1, .import_s = 2, .total_s = 3.5, .staged_bytes = 500000000},
      {.stage_s = 0.25, .import_s = 4, .total_s = 4.5, .staged_bytes = 500000000}};
  boost::json::object s = SummarizeImports(t);
  EXPECT_EQ(s.at("imports").as_uint64(), 2u);
  EXPECT_EQ(s.at("staged_bytes").as_uint64(), 500000000u);
  EXPECT_DOUBLE_EQ(s.at("stage_MB_per_s").as_double(), 800);  // 1000 MB in 1.25 s
  EXPECT_DOUBLE_EQ(s.at("import_s").at("mean").as_double(), 3);
  EXPECT_DOUBLE_EQ(s.at("import_s").at("min").as_double(), 2);
  EXPECT_DOUBLE_EQ(s.at("import_s").at("max").as_double(), 4);
  EXPECT_EQ(s.at("import_s_each").as_array().size(), 2u);
  EXPECT_DOUBLE_EQ(s.at("end_to_end_s").at("mean").as_double(), 4);
}

TEST(ImportTest, RunProgramReportsTheExitStatus) {
  std::string error;
  EXPECT_TRUE(RunProgram({"true"}, &error));
  EXPECT_FALSE(RunProgram({"false"}, &error));
  EXPECT_NE(error.find("exited with 1"), std::string::npos) << error;
  EXPECT_FALSE(RunProgram({"/nonexistent/program"}, &error));
}

// Not pure: makes a small qcow2 image with the machine's qemu-img, when there is one.
TEST(ImportTest, MakesAQcow2ImageAndTimesItsConversion) {
  std::string error;
  if (!RunProgram({"qemu-img", "--version"}, &error)) GTEST_SKIP() << "no qemu-img: " << error;
  ImportFiles files;
  std::string block(1 << 20, 'x');
  auto path = files.Qcow2(uint64_t{40} << 20, block, &error);
  ASSERT_TRUE(path) << error;
  EXPECT_EQ(files.Qcow2(uint64_t{40} << 20, block, &error), path);  // made once
  MappedFile mapped;
  ASSERT_TRUE(mapped.Open(*path, &error)) << error;
  EXPECT_EQ(mapped.bytes().substr(0, 4), "QFI\xfb");
  // Regions 0-2, 5, 8 and 9 of the ten 4 MiB regions are data, and the holes take no room.
  EXPECT_GT(mapped.bytes().size(), uint64_t{24} << 20);
  EXPECT_LT(mapped.bytes().size(), uint64_t{26} << 20);
  auto seconds = files.TimeConvertToRaw(*path, "qcow2", &error);
  ASSERT_TRUE(seconds) << error;
  EXPECT_GE(*seconds, 0);
}

// A server that answers each request on one connection with the next canned response.
asio::awaitable<void> Serve(asio::ip::tcp::acceptor& acceptor, std::vector<std::string> answers,
                            std::vector<std::string>* heads) {
  auto accepted = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
  asio::ip::tcp::socket socket = std::move(std::get<1>(accepted));
  asio::streambuf in;
  for (const std::string& answer : answers) {
    auto read = co_await asio::async_read_until(socket, in, "\r\n\r\n",
                                                asio::as_tuple(asio::use_awaitable));
    size_t n = std::get<1>(read);
    std::string head(asio::buffers_begin(in.data()), asio::buffers_begin(in.data()) + n);
    in.consume(n);
    // The test's only request body is "{}".
    if (head.find("Content-Length: 2\r\n") != std::string::npos) {
      auto body =
          co_await asio::async_read_until(socket, in, "}", asio::as_tuple(asio::use_awaitable));
      in.consume(std::get<1>(body));
    }
    heads->push_back(head);
    auto written = co_await asio::async_write(socket, asio::buffer(answer),
                                              asio::as_tuple(asio::use_awaitable));
    (void)written;
  }
}

TEST(HttpConnectionTest, KeepAliveChunkedAndSizedBodies) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  ClientConfig config;
  config.url = *ParseEndpointUrl(
      "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/prefix");
  config.addresses.push_back(acceptor.local_endpoint());
  config.common_headers = "Host: test\r\nX-Auth-Token: t\r\n";
  config.sink.resize(4096);
  std::vector<std::string> heads;
  std::vector<std::string> answers = {
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;x=y\r\n{\"id\"\r\n8\r\n: \"abc\"}\r\n0\r\nTrailer: 1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n" + std::string(10000, 'x'),
      "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"};
  asio::co_spawn(io, Serve(acceptor, answers, &heads), asio::detached);

  std::vector<HttpResponse> got(3);
  auto client = [&]() -> asio::awaitable<void> {
    HttpConnection conn(io.get_executor(), config);
    HttpRequest create;
    create.method = "POST";
    create.target = "/v2/images";
    create.content_type = "application/json";
    create.body = "{}";
    co_await conn.Exchange(create, true, got[0]);
    HttpRequest download;
    download.method = "GET";
    download.target = "/v2/images/abc/file";
    co_await conn.Exchange(download, false, got[1]);
    HttpRequest del;
    del.method = "DELETE";
    del.target = "/v2/images/abc";
    co_await conn.Exchange(del, false, got[2]);
  };
  asio::co_spawn(io, client(), asio::detached);
  io.run();

  EXPECT_EQ(got[0].status, 201) << got[0].error;
  EXPECT_EQ(got[0].body, R"({"id": "abc"})");
  EXPECT_EQ(TopLevelString(got[0].body, "id"), "abc");
  EXPECT_EQ(got[1].status, 200) << got[1].error;
  EXPECT_EQ(got[1].body_bytes, 10000u);
  EXPECT_TRUE(got[1].body.empty());
  EXPECT_EQ(got[2].status, 204) << got[2].error;
  ASSERT_EQ(heads.size(), 3u);
  EXPECT_EQ(heads[0].rfind("POST /prefix/v2/images HTTP/1.1\r\n", 0), 0u);
  EXPECT_NE(heads[0].find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(heads[0].find("X-Auth-Token: t\r\n"), std::string::npos);
  EXPECT_EQ(heads[1].rfind("GET /prefix/v2/images/abc/file HTTP/1.1\r\n", 0), 0u);
  EXPECT_EQ(heads[1].find("Content-Length"), std::string::npos);
}

}  // namespace
}  // namespace gaze::bench
