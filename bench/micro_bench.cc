// gaze_micro_bench: the in-process costs behind every request, one Google Benchmark each, so
// that a change to a hot path is measured without the network, gRPC or PostgreSQL around it:
//   * api-gateway: an image to Glance JSON (show) and a page of 25 (list), a create body
//     parsed, a JSON patch planned;
//   * the gateway <-> metadata-svc hop: an image and a page of 25 through protobuf;
//   * store: the upload hashing pipeline (MD5 + sha512) with and without its WorkerPool, next
//     to each digest alone;
//   * metadata-svc: the list SQL built, and image rows decoded. DecodeImage reads a
//     pqxx::row, which only libpqxx itself can construct (from a live query result), so its
//     benchmark runs when GAZE_BENCH_PG_DSN names a Gaze database with images (bench/run.sh
//     sets it); the JSON column decoders it calls are pure and always run.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "api-gateway/image_json.h"
#include "api-gateway/image_patch.h"
#include "metadata-svc/json_codec.h"
#include "metadata-svc/list_query.h"
#include "metadata-svc/pg_rows.h"
#include "services/common/worker_pool.h"
#include "services/store/image_hasher.h"

namespace {

namespace v1 = gaze::metadata::v1;

// An active image as a cloud holds them: every base attribute set, a few tags and properties.
v1::Image SampleImage(int n = 0) {
  v1::Image image;
  image.set_id("3c2b4b2a-8f0e-4b8e-9d1a-" + std::to_string(100000000000 + n));
  image.set_name("ubuntu-24.04-server-cloudimg-amd64");
  image.set_status(v1::IMAGE_STATUS_ACTIVE);
  image.set_visibility(v1::VISIBILITY_PUBLIC);
  image.set_owner("5f2c1f9d0b6a4c0e8a7b3d2e1f0a9b8c");
  image.set_disk_format("qcow2");
  image.set_container_format("bare");
  image.set_size(629145600);
  image.set_virtual_size(3758096384);
  image.set_checksum("8e5b2c1f0a9d8e7f6a5b4c3d2e1f0a9b");
  image.set_os_hash_algo("sha512");
  image.set_os_hash_value(std::string(128, 'a'));
  image.set_min_ram(512);
  image.set_min_disk(4);
  for (const char* tag : {"ubuntu", "lts", "gaze-bench"}) image.add_tags(tag);
  auto& props = *image.mutable_properties();
  props["os_distro"] = "ubuntu";
  props["os_version"] = "24.04";
  props["hw_disk_bus"] = "virtio";
  props["hw_vif_model"] = "virtio";
  props["architecture"] = "x86_64";
  image.mutable_created_at()->set_seconds(1764000000 + n);
  image.mutable_updated_at()->set_seconds(1764000100 + n);
  auto* location = image.add_locations();
  location->set_url("file:///var/lib/gaze/images/" + image.id() + ".7d1c");
  image.set_version(3);
  return image;
}

gaze::auth::Identity Member() {
  gaze::auth::Identity id;
  id.user_id = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d";
  id.project_id = "5f2c1f9d0b6a4c0e8a7b3d2e1f0a9b8c";
  id.roles = {"member", "reader"};
  return id;
}

void BM_SerializeImage(benchmark::State& state) {
  v1::Image image = SampleImage();
  for (auto _ : state) benchmark::DoNotOptimize(gaze::gateway::SerializeImage(image));
}
BENCHMARK(BM_SerializeImage);

// What GET /v2/images does with a page: every image to JSON, then the links.
void BM_SerializeListPage(benchmark::State& state) {
  std::vector<v1::Image> page;
  for (int i = 0; i < state.range(0); ++i) page.push_back(SampleImage(i));
  for (auto _ : state) {
    gaze::gateway::ImageListWriter body;
    body.Reserve(page.size());
    for (const v1::Image& image : page) body.Add(image);
    const std::string next = "/v2/images?limit=25&marker=" + page.back().id();
    benchmark::DoNotOptimize(std::move(body).Finish("/v2/images?limit=25", next));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_SerializeListPage)->Arg(25);

void BM_ParseCreateBody(benchmark::State& state) {
  const std::string body =
      R"({"name":"bench-seed-42","disk_format":"raw","container_format":"bare",)"
      R"("visibility":"private","tags":["gaze-bench","gaze-bench-seed","bench-t2"],)"
      R"("bench_group":"g2"})";
  gaze::auth::Identity caller = Member();
  for (auto _ : state) {
    auto image = gaze::gateway::ParseCreateBody(body, caller);
    if (!image.ok()) state.SkipWithError("ParseCreateBody failed");
    benchmark::DoNotOptimize(image);
  }
}
BENCHMARK(BM_ParseCreateBody);

void BM_PlanPatch(benchmark::State& state) {
  const std::string body = R"([{"op":"replace","path":"/name","value":"bench-patched-1"},)"
                           R"({"op":"add","path":"/bench_patch","value":"1"}])";
  v1::Image current = SampleImage();
  gaze::auth::Identity caller = Member();
  for (auto _ : state) {
    auto update =
        gaze::gateway::PlanPatch(gaze::gateway::PatchDialect::kV21, body, current, caller);
    if (!update.ok()) state.SkipWithError("PlanPatch failed");
    benchmark::DoNotOptimize(update);
  }
}
BENCHMARK(BM_PlanPatch);

// The gRPC hop carries protobuf: GetImage's answer, and ListImages' page of 25.
void BM_ImageProtoRoundTrip(benchmark::State& state) {
  v1::ListImagesResponse page;
  for (int i = 0; i < state.range(0); ++i) *page.add_images() = SampleImage(i);
  std::string wire;
  for (auto _ : state) {
    page.SerializeToString(&wire);
    v1::ListImagesResponse parsed;
    parsed.ParseFromString(wire);
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ImageProtoRoundTrip)->Arg(1)->Arg(25);

// Hashing in 1 MiB chunks (the upload path now queues 128 KiB buffers with UpdateAsync; the
// digests' throughput is the same).
constexpr size_t kChunk = 1 << 20;
constexpr int kChunksPerIteration = 64;

std::vector<char> RandomChunk() {
  std::vector<char> chunk(kChunk);
  uint64_t x = 88172645463325252ull;
  for (char& c : chunk) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return chunk;
}

// range(0): WorkerPool threads (0: no pool, both digests on the calling thread).
void BM_ImageHasher(benchmark::State& state) {
  std::vector<char> chunk = RandomChunk();
  std::unique_ptr<gaze::WorkerPool> pool;
  if (state.range(0) > 0)
    pool = std::make_unique<gaze::WorkerPool>(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto hasher = gaze::store::ImageHasher::Create("sha512", pool.get());
    for (int i = 0; i < kChunksPerIteration; ++i) hasher->Update(chunk.data(), chunk.size());
    benchmark::DoNotOptimize(hasher->Finish());
  }
  state.SetBytesProcessed(state.iterations() * kChunksPerIteration * static_cast<int64_t>(kChunk));
}
BENCHMARK(BM_ImageHasher)->Arg(0)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// One digest alone: the ceiling each of the hasher's two threads works against.
void BM_Digest(benchmark::State& state, const char* algo) {
  std::vector<char> chunk = RandomChunk();
  const EVP_MD* md = EVP_get_digestbyname(algo);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  for (auto _ : state) {
    EVP_DigestInit_ex(ctx, md, nullptr);
    for (int i = 0; i < kChunksPerIteration; ++i) EVP_DigestUpdate(ctx, chunk.data(), chunk.size());
    EVP_DigestFinal_ex(ctx, out, &len);
  }
  EVP_MD_CTX_free(ctx);
  state.SetBytesProcessed(state.iterations() * kChunksPerIteration * static_cast<int64_t>(kChunk));
}
BENCHMARK_CAPTURE(BM_Digest, md5, "md5")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Digest, sha512, "sha512")->Unit(benchmark::kMillisecond);

// metadata-svc's list statement for a filtered page after a marker.
void BM_BuildListQuery(benchmark::State& state) {
  v1::ListImagesRequest request;
  request.mutable_caller()->set_project_id("5f2c1f9d0b6a4c0e8a7b3d2e1f0a9b8c");
  request.set_limit(25);
  request.set_marker("3c2b4b2a-8f0e-4b8e-9d1a-100000000000");
  request.mutable_filter()->add_tags("bench-t3");
  (*request.mutable_filter()->mutable_properties())["bench_group"] = "g3";
  const std::string columns = gaze::metadata::kImageColumns;
  for (auto _ : state) {
    auto query = gaze::metadata::BuildListQuery(request, {}, columns);
    benchmark::DoNotOptimize(query);
  }
}
BENCHMARK(BM_BuildListQuery);

// The jsonb columns of an image row, as DecodeImage receives them.
void BM_DecodeJsonColumns(benchmark::State& state) {
  v1::Image sample = SampleImage();
  const std::string properties = gaze::metadata::PropertiesToJson(sample.properties());
  const std::string tags = R"(["ubuntu","lts","gaze-bench"])";
  const std::string locations = "[" + gaze::metadata::LocationToJson(sample.locations(0)) + "]";
  for (auto _ : state) {
    v1::Image image;
    auto s1 = gaze::metadata::PropertiesFromJson(properties, image.mutable_properties());
    auto s2 = gaze::metadata::StringsFromJson(tags, image.mutable_tags());
    auto s3 = gaze::metadata::LocationsFromJson(locations, image.mutable_locations());
    if (!s1.ok() || !s2.ok() || !s3.ok()) state.SkipWithError("decoding failed");
    benchmark::DoNotOptimize(image);
  }
}
BENCHMARK(BM_DecodeJsonColumns);

// DecodeImage over real rows of the images table (the newest 25, as a first list page).
void BM_DecodeImageRows(benchmark::State& state) {
  const char* dsn = std::getenv("GAZE_BENCH_PG_DSN");
  if (dsn == nullptr || *dsn == '\0') {
    state.SkipWithError("set GAZE_BENCH_PG_DSN to a Gaze database to decode real rows");
    return;
  }
  pqxx::result rows;
  try {
    pqxx::connection conn(dsn);
    pqxx::read_transaction tx(conn);
    rows = tx.exec(std::string("SELECT ") + gaze::metadata::kImageColumns +
                   " FROM images i WHERE NOT i.deleted ORDER BY i.created_at DESC LIMIT 25");
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  if (rows.empty()) {
    state.SkipWithError("the images table is empty");
    return;
  }
  for (auto _ : state) {
    v1::ListImagesResponse page;
    for (const pqxx::row& row : rows) {
      if (!gaze::metadata::DecodeImage(row, 0, page.add_images()).ok()) {
        state.SkipWithError("DecodeImage failed");
      }
    }
    benchmark::DoNotOptimize(page);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(rows.size()));
}
BENCHMARK(BM_DecodeImageRows);

}  // namespace

BENCHMARK_MAIN();
