// The import flow against a real file store, real qemu-img (or a fake one for its failures), a
// fake web source and the fake TaskService: what FinishImport records, what is left in the
// store and the work directory, and how the message is settled, on success, on each kind of
// failure, when the lease is lost, when a delivery comes twice, and after a killed attempt.
#include "task-worker/importer.h"

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gaze/metadata/v1/metadata.pb.h"
#include "gaze/tasks/v1/task_message.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/worker_pool.h"
#include "services/store/file_store.h"
#include "services/store/image_hasher.h"
#include "task-worker/qemu_img.h"
#include "task-worker/subprocess.h"
#include "task-worker/task_handler.h"
#include "task-worker/testing/compress.h"
#include "task-worker/testing/fake_task_service.h"
#include "task-worker/web_source.h"
#include "task-worker/work_dir.h"

namespace gaze::worker {
namespace {

namespace fs = std::filesystem;
namespace mv1 = ::gaze::metadata::v1;
using ::testing::ElementsAre;
using testing::EventLog;
using testing::FakeTaskService;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kWorker[] = "w1";
constexpr char kImage[] = "6f1d6a5e-3c0b-4f5e-9a53-2b7f7f0d7a11";
constexpr char kTask[] = "0b5c7a40-8d4b-4c43-9e43-6a8f1e1c2d3e";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string PathOf(const std::string& url) { return url.substr(std::string("file://").size()); }

// A disk's worth of bytes that is neither all zeros nor random.
std::string DiskBytes(size_t size) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; i += 512) {
    const std::string sector = absl::StrCat("sector ", i / 512, " of a test disk");
    data.replace(i, std::min(sector.size(), size - i), sector.substr(0, size - i));
  }
  return data;
}

// Serves bodies by URI in 64 KiB chunks, or fails as told.
class FakeWebSource final : public WebSource {
 public:
  void Serve(const std::string& uri, std::string body) { bodies_[uri] = std::move(body); }
  void Fail(const std::string& uri, absl::Status error) { errors_[uri] = std::move(error); }
  // Sends nothing until the download is cancelled.
  void Stall(const std::string& uri) { stalls_.insert(uri); }

  absl::Status Fetch(const std::string& uri, const Sink& sink, const Progress& progress,
                     std::stop_token stop) override {
    if (stalls_.count(uri) > 0) {
      while (!stop.stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return absl::CancelledError("the download was cancelled");
    }
    if (auto e = errors_.find(uri); e != errors_.end()) return e->second;
    auto b = bodies_.find(uri);
    if (b == bodies_.end()) return absl::FailedPreconditionError("HTTP 404");
    const std::string& body = b->second;
    progress(0, body.size());
    for (size_t at = 0; at < body.size(); at += 65536) {
      const size_t n = std::min<size_t>(65536, body.size() - at);
      if (absl::Status s = sink(body.data() + at, n); !s.ok()) return s;
      progress(at + n, body.size());
    }
    return absl::OkStatus();
  }

 private:
  std::map<std::string, std::string> bodies_;
  std::map<std::string, absl::Status> errors_;
  std::set<std::string> stalls_;
};

// A file store whose Create can be made to fail.
class FlakyStore final : public store::Store {
 public:
  explicit FlakyStore(store::Store& store) : store_(store) {}
  void FailCreates(absl::Status error) { create_error_ = std::move(error); }

  std::string UrlFor(std::string_view image_id, std::string_view upload_id) const override {
    return store_.UrlFor(image_id, upload_id);
  }
  absl::StatusOr<std::unique_ptr<store::ObjectWriter>> Create(std::string_view url) override {
    if (!create_error_.ok()) return create_error_;
    return store_.Create(url);
  }
  absl::StatusOr<store::ReadableObject> Open(std::string_view url) override {
    return store_.Open(url);
  }
  absl::Status Delete(std::string_view url) override { return store_.Delete(url); }

 private:
  store::Store& store_;
  absl::Status create_error_;
};

// Public: the parameterised refusal cases set the fixture up from outside.
class ImporterTest : public ::testing::Test {
 public:
  void SetUp() override {
    char tmpl[] = "/tmp/gaze-importer-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    auto files = store::FileStore::InDirectory(root_ + "/images");
    ASSERT_TRUE(files.ok()) << files.status();
    files_ = *std::move(files);
    store_ = std::make_unique<FlakyStore>(*files_);
    auto work = WorkDir::Open(root_ + "/work", kWorker);
    ASSERT_TRUE(work.ok()) << work.status();
    work_.emplace(*std::move(work));
    auto qemu = QemuImg::Create({});
    ASSERT_TRUE(qemu.ok()) << qemu.status();
    qemu_.emplace(*std::move(qemu));
    options_.worker_id = kWorker;
    options_.lease_seconds = 60;
    // Only the stages renew: the renewals the tests see are exactly one per stage.
    options_.progress_interval = absl::Hours(1);
    options_.plugins = *ParseImportPlugins("decompress,inspect,convert");
  }
  void TearDown() override {
    work_.reset();
    fs::remove_all(root_);
  }

  std::unique_ptr<Importer> MakeImporter(const QemuImg* qemu = nullptr) {
    return std::make_unique<Importer>(options_, tasks_, *store_, web_, qemu ? qemu : &*qemu_,
                                      *work_, &pool_);
  }

  // Puts `bytes` in the store as staged data and returns its URL.
  std::string Stage(const std::string& bytes) {
    const std::string url = files_->UrlFor(kImage, "staging");
    auto writer = files_->Create(url);
    EXPECT_TRUE(writer.ok()) << writer.status();
    EXPECT_TRUE((*writer)->Write(bytes.data(), bytes.size()).ok());
    EXPECT_TRUE((*writer)->Commit().ok());
    return url;
  }

  void AddGlanceDirect(const std::string& bytes, const std::string& disk_format,
                       const std::string& container_format = "bare", int attempts = 0) {
    mv1::ImportInput input;
    input.set_method(mv1::IMPORT_METHOD_GLANCE_DIRECT);
    input.set_staging_url(Stage(bytes));
    input.set_disk_format(disk_format);
    input.set_container_format(container_format);
    tasks_.AddImportTask(kTask, kImage, input, attempts);
  }

  void AddWebDownload(const std::string& uri, const std::string& disk_format) {
    mv1::ImportInput input;
    input.set_method(mv1::IMPORT_METHOD_WEB_DOWNLOAD);
    input.set_uri(uri);
    input.set_disk_format(disk_format);
    input.set_container_format("bare");
    tasks_.AddImportTask(kTask, kImage, input);
  }

  // Claims the task as the handler would and runs the import.
  Disposition Run(Importer& importer) {
    mv1::ClaimTaskRequest claim;
    claim.set_task_id(kTask);
    claim.set_worker_id(kWorker);
    auto claimed = tasks_.ClaimTask(claim, "req-1");
    EXPECT_TRUE(claimed.ok() && claimed->outcome() == mv1::CLAIM_OUTCOME_CLAIMED);
    return importer.Run(claimed->task(), "req-1");
  }
  Disposition Run() { return Run(*MakeImporter()); }

  std::string ObjectUrl(int attempt) const {
    return Importer::ObjectUrl(*files_, kImage, kTask, attempt);
  }

  std::vector<std::string> Stages() const {
    std::vector<std::string> out;
    for (const auto& r : tasks_.renewals()) out.push_back(r.progress().stage());
    return out;
  }

  mv1::FinishImportRequest OnlyFinish() const {
    const auto finishes = tasks_.finishes();
    EXPECT_EQ(finishes.size(), 1u);
    return finishes.empty() ? mv1::FinishImportRequest() : finishes.front();
  }

  // The store's files, without the staged data.
  std::vector<std::string> StoreFiles() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(root_ + "/images")) {
      const std::string name = e.path().filename().string();
      if (name.find("staging") == std::string::npos) out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  bool WorkDirEmpty() const { return fs::is_empty(work_->path()); }

  std::string Qcow2Of(const std::string& raw) {
    const std::string in = root_ + "/in.raw";
    const std::string out = root_ + "/out.qcow2";
    std::ofstream(in, std::ios::binary) << raw;
    fs::remove(out);
    EXPECT_TRUE(qemu_->Convert(in, "raw", out, "qcow2").ok());
    return ReadFile(out);
  }

  std::string root_;
  std::unique_ptr<store::FileStore> files_;
  std::unique_ptr<FlakyStore> store_;
  std::optional<WorkDir> work_;
  std::optional<QemuImg> qemu_;
  WorkerPool pool_{1};
  EventLog events_;
  FakeTaskService tasks_{&events_};
  FakeWebSource web_;
  ImportOptions options_;
};

TEST_F(ImporterTest, GlanceDirectRawIsStoredWithItsHashes) {
  const std::string data = DiskBytes(3 << 20);
  AddGlanceDirect(data, "raw");

  EXPECT_EQ(Run(), Disposition::kAck);

  const mv1::FinishImportRequest f = OnlyFinish();
  EXPECT_TRUE(f.success());
  EXPECT_EQ(f.task_id(), kTask);
  EXPECT_EQ(f.worker_id(), kWorker);
  EXPECT_EQ(f.message(), "Copied 3 MiB");
  auto hasher = store::ImageHasher::Create("sha512");
  hasher->Update(data.data(), data.size());
  const store::ImageDigests expected = hasher->Finish();
  EXPECT_EQ(f.size(), static_cast<int64_t>(data.size()));
  EXPECT_EQ(f.checksum(), expected.checksum);
  EXPECT_EQ(f.os_hash_algo(), "sha512");
  EXPECT_EQ(f.os_hash_value(), expected.os_hash_value);
  EXPECT_EQ(f.virtual_size(), static_cast<int64_t>(data.size()));
  EXPECT_EQ(f.disk_format(), "raw");
  EXPECT_EQ(f.container_format(), "bare");
  EXPECT_EQ(f.location().url(), ObjectUrl(1));
  EXPECT_THAT(f.discard_urls(), IsEmpty()) << "a first attempt has nothing to discard";
  EXPECT_TRUE(f.set_properties().empty());
  EXPECT_TRUE(ReadFile(PathOf(ObjectUrl(1))) == data);
  EXPECT_THAT(StoreFiles(), ElementsAre(absl::StrCat(kImage, ".import-", kTask, "-1")));
  EXPECT_TRUE(WorkDirEmpty()) << "local files are removed";
  EXPECT_THAT(Stages(), ElementsAre("fetching", "storing"));
  EXPECT_EQ(tasks_.renewals()[1].progress().bytes_total(), static_cast<int64_t>(data.size()));
  EXPECT_EQ(tasks_.status(kTask), mv1::TASK_STATUS_SUCCESS);
}

TEST_F(ImporterTest, WebDownloadOfAGzippedQcow2IsDecompressedAndConvertedToRaw) {
  const std::string raw = DiskBytes(8 << 20);
  web_.Serve("https://images.example/disk.qcow2.gz",
             testing::Compress(Compression::kGzip, Qcow2Of(raw)));
  AddWebDownload("https://images.example/disk.qcow2.gz", "qcow2");

  EXPECT_EQ(Run(), Disposition::kAck);

  const mv1::FinishImportRequest f = OnlyFinish();
  ASSERT_TRUE(f.success()) << f.message();
  EXPECT_EQ(f.disk_format(), "raw");
  EXPECT_EQ(f.container_format(), "bare");
  EXPECT_EQ(f.virtual_size(), static_cast<int64_t>(raw.size()));
  EXPECT_EQ(f.size(), static_cast<int64_t>(raw.size()));
  EXPECT_TRUE(ReadFile(PathOf(f.location().url())) == raw);
  EXPECT_THAT(Stages(), ElementsAre("fetching", "converting", "storing"));
  EXPECT_EQ(tasks_.renewals()[1].message(), "Converting from qcow2 to raw");
  EXPECT_TRUE(WorkDirEmpty());
}

TEST_F(ImporterTest, ConvertsRawToQcow2WhenThatIsTheTarget) {
  options_.convert_to = "qcow2";
  const std::string raw = DiskBytes(2 << 20);
  AddGlanceDirect(raw, "raw");

  EXPECT_EQ(Run(), Disposition::kAck);

  const mv1::FinishImportRequest f = OnlyFinish();
  ASSERT_TRUE(f.success()) << f.message();
  EXPECT_EQ(f.disk_format(), "qcow2");
  EXPECT_EQ(f.virtual_size(), static_cast<int64_t>(raw.size()));
  EXPECT_EQ(ReadFile(PathOf(f.location().url())).substr(0, 4), "QFI\xfb");
}

TEST_F(ImporterTest, AnImageAlreadyInTheTargetFormatIsStoredAsItIs) {
  const std::string qcow2 = Qcow2Of(DiskBytes(1 << 20));
  options_.convert_to = "qcow2";
  AddGlanceDirect(qcow2, "qcow2");

  EXPECT_EQ(Run(), Disposition::kAck);

  EXPECT_TRUE(ReadFile(PathOf(OnlyFinish().location().url())) == qcow2);
  EXPECT_THAT(Stages(), ElementsAre("fetching", "storing"));
}

TEST_F(ImporterTest, OtherContainersAreNeitherInspectedNorConverted) {
  const std::string qcow2 = Qcow2Of(DiskBytes(1 << 20));
  AddGlanceDirect(qcow2, "raw", "ova");

  EXPECT_EQ(Run(), Disposition::kAck);

  const mv1::FinishImportRequest f = OnlyFinish();
  ASSERT_TRUE(f.success()) << f.message();
  EXPECT_EQ(f.container_format(), "ova");
  EXPECT_FALSE(f.has_virtual_size());
  EXPECT_TRUE(ReadFile(PathOf(f.location().url())) == qcow2);
}

TEST_F(ImporterTest, InjectsConfiguredPropertiesOnSuccessOnly) {
  options_.plugins = *ParseImportPlugins("decompress,inspect,convert,inject");
  options_.inject_properties = {{"hw_scsi_model", "virtio-scsi"}, {"site", "ams"}};
  AddGlanceDirect(DiskBytes(1 << 20), "raw");

  EXPECT_EQ(Run(), Disposition::kAck);

  const mv1::FinishImportRequest f = OnlyFinish();
  EXPECT_EQ(f.set_properties().at("hw_scsi_model"), "virtio-scsi");
  EXPECT_EQ(f.set_properties().at("site"), "ams");
}

// Each refusal ends the task as failed with a message for the owner, discards what the attempt
// wrote, and acks: retrying cannot make a bad image good.
struct RefusalCase {
  const char* name;
  std::function<void(ImporterTest&)> setup;
  const char* message;
};

class ImporterRefusalTest : public ImporterTest,
                            public ::testing::WithParamInterface<RefusalCase> {};

TEST_P(ImporterRefusalTest, FailsTheTaskWithAMessageAndKeepsNothing) {
  GetParam().setup(*this);

  EXPECT_EQ(Run(), Disposition::kAck);

  const mv1::FinishImportRequest f = OnlyFinish();
  EXPECT_FALSE(f.success());
  EXPECT_THAT(f.message(), HasSubstr(GetParam().message));
  EXPECT_THAT(f.discard_urls(), ElementsAre(ObjectUrl(1)));
  EXPECT_FALSE(f.has_location());
  EXPECT_TRUE(f.set_properties().empty());
  EXPECT_THAT(StoreFiles(), IsEmpty());
  EXPECT_TRUE(WorkDirEmpty());
  EXPECT_EQ(tasks_.status(kTask), mv1::TASK_STATUS_FAILURE);
}

INSTANTIATE_TEST_SUITE_P(
    Refusals, ImporterRefusalTest,
    ::testing::Values(
        RefusalCase{"DiskFormatMismatch",
                    [](ImporterTest& t) { t.AddGlanceDirect(DiskBytes(1 << 20), "qcow2"); },
                    "not the disk_format qcow2"},
        RefusalCase{"BackingFile",
                    [](ImporterTest& t) {
                      const std::string base = t.root_ + "/base.raw";
                      const std::string overlay = t.root_ + "/overlay.qcow2";
                      std::ofstream(base) << "base";
                      ASSERT_EQ(RunProcess({t.qemu_->program(), "create", "-f", "qcow2", "-b", base,
                                            "-F", "raw", overlay, "1M"},
                                           {})
                                    ->exit_code,
                                0);
                      t.AddGlanceDirect(ReadFile(overlay), "qcow2");
                    },
                    "backing"},
        RefusalCase{"CompressedGarbage",
                    [](ImporterTest& t) {
                      std::string bad = testing::Compress(Compression::kXz, DiskBytes(1 << 20));
                      bad.resize(bad.size() / 2);
                      t.AddGlanceDirect(bad, "raw");
                    },
                    "cannot decompress the image: the xz data is truncated"},
        RefusalCase{"DecompressionBomb",
                    [](ImporterTest& t) {
                      t.options_.image_size_cap = 4 << 20;
                      t.AddGlanceDirect(
                          testing::Compress(Compression::kZstd, std::string(64 << 20, '\0')),
                          "raw");
                    },
                    "larger than the limit of 4194304 bytes"},
        RefusalCase{"OverTheSizeCap",
                    [](ImporterTest& t) {
                      t.options_.image_size_cap = 1000;
                      t.AddGlanceDirect(DiskBytes(4096), "raw");
                    },
                    "larger than the image size cap of 1000 bytes"},
        RefusalCase{"RefusedUri",
                    [](ImporterTest& t) {
                      t.web_.Fail("http://169.254.169.254/latest",
                                  absl::InvalidArgumentError(
                                      "URI not allowed: 169.254.169.254 is not a public address"));
                      t.AddWebDownload("http://169.254.169.254/latest", "raw");
                    },
                    "cannot download the image: URI not allowed"},
        RefusalCase{"SourceTimedOut",
                    [](ImporterTest& t) {
                      t.web_.Fail("http://slow.example/x",
                                  absl::DeadlineExceededError("the source sent nothing for 60 s"));
                      t.AddWebDownload("http://slow.example/x", "raw");
                    },
                    "sent nothing"},
        RefusalCase{"StagedDataGone",
                    [](ImporterTest& t) {
                      t.AddGlanceDirect("x", "raw");
                      ASSERT_TRUE(t.files_->Delete(t.files_->UrlFor(kImage, "staging")).ok());
                    },
                    "staged data of the image is gone"},
        RefusalCase{"UnsupportedMethod",
                    [](ImporterTest& t) {
                      mv1::ImportInput input;
                      input.set_method(mv1::IMPORT_METHOD_COPY_IMAGE);
                      t.tasks_.AddImportTask(kTask, kImage, input);
                    },
                    "copy-image import method is not supported"}),
    [](const ::testing::TestParamInfo<RefusalCase>& info) { return info.param.name; });

TEST_F(ImporterTest, AFailedConversionFailsTheTask) {
  const std::string fake = root_ + "/qemu-img";
  std::ofstream(fake) << "#!/bin/sh\n"
                         "if [ \"$1\" = info ]; then\n"
                         "  echo '{\"format\": \"qcow2\", \"virtual-size\": 1048576}'; exit 0\n"
                         "fi\n"
                         "echo 'qemu-img: error while reading sector 8: Input/output error' >&2\n"
                         "exit 1\n";
  chmod(fake.c_str(), 0755);
  auto broken = QemuImg::Create({.program = fake});
  ASSERT_TRUE(broken.ok());
  AddGlanceDirect(Qcow2Of(DiskBytes(1 << 20)), "qcow2");

  EXPECT_EQ(Run(*MakeImporter(&*broken)), Disposition::kAck);

  const mv1::FinishImportRequest f = OnlyFinish();
  EXPECT_FALSE(f.success());
  EXPECT_THAT(f.message(), HasSubstr("cannot convert the image to raw"));
  EXPECT_THAT(f.message(), HasSubstr("error while reading sector 8"));
  EXPECT_TRUE(WorkDirEmpty());
}

TEST_F(ImporterTest, AConversionThatTakesTooLongFailsTheTask) {
  const std::string fake = root_ + "/qemu-img";
  std::ofstream(fake) << "#!/bin/sh\n"
                         "if [ \"$1\" = info ]; then\n"
                         "  echo '{\"format\": \"qcow2\", \"virtual-size\": 1048576}'; exit 0\n"
                         "fi\n"
                         "sleep 1000\n";
  chmod(fake.c_str(), 0755);
  auto slow = QemuImg::Create({.program = fake, .convert_timeout = absl::Milliseconds(300)});
  ASSERT_TRUE(slow.ok());
  AddGlanceDirect(Qcow2Of(DiskBytes(1 << 20)), "qcow2");

  EXPECT_EQ(Run(*MakeImporter(&*slow)), Disposition::kAck);

  EXPECT_THAT(OnlyFinish().message(), HasSubstr("did not finish within"));
}

TEST_F(ImporterTest, ARawImageTooLargeOnceConvertedIsRefusedBeforeConverting) {
  // A 1 MiB qcow2 that claims a 1 GiB disk would become 1 GiB of raw.
  const std::string big = root_ + "/big.qcow2";
  ASSERT_EQ(RunProcess({qemu_->program(), "create", "-f", "qcow2", big, "1G"}, {})->exit_code, 0);
  options_.image_size_cap = 16 << 20;
  AddGlanceDirect(ReadFile(big), "qcow2");

  EXPECT_EQ(Run(), Disposition::kAck);

  EXPECT_THAT(OnlyFinish().message(), HasSubstr("converted to raw, the image would be 1073741824"));
  EXPECT_THAT(Stages(), ElementsAre("fetching", "converting"));
}

TEST_F(ImporterTest, StoreUnavailableRequeuesWithoutRecordingAnything) {
  store_->FailCreates(absl::UnavailableError("store down"));
  AddGlanceDirect(DiskBytes(1 << 20), "raw");

  EXPECT_EQ(Run(), Disposition::kRequeue);

  EXPECT_THAT(tasks_.finishes(), IsEmpty());
  EXPECT_EQ(tasks_.status(kTask), mv1::TASK_STATUS_PROCESSING);
  EXPECT_THAT(StoreFiles(), IsEmpty());
  EXPECT_TRUE(WorkDirEmpty());
}

TEST_F(ImporterTest, AnUnknownFinishOutcomeKeepsTheObjectAndRequeues) {
  tasks_.FailNextFinishes({absl::UnavailableError("metadata-svc down")});
  AddGlanceDirect(DiskBytes(1 << 20), "raw");

  EXPECT_EQ(Run(), Disposition::kRequeue);

  // The image may point at the object already; if not, the next attempt discards it.
  EXPECT_TRUE(fs::exists(PathOf(ObjectUrl(1))));
}

TEST_F(ImporterTest, FinishRefusedAsNotOursDeletesTheObjectAndAcks) {
  tasks_.FailNextFinishes({absl::FailedPreconditionError("lease held by w2")});
  AddGlanceDirect(DiskBytes(1 << 20), "raw");

  EXPECT_EQ(Run(), Disposition::kAck);

  EXPECT_THAT(StoreFiles(), IsEmpty());
}

TEST_F(ImporterTest, AResultMetadataSvcRejectsIsRecordedAsAFailure) {
  tasks_.FailNextFinishes({absl::InvalidArgumentError("size must be non-negative")});
  AddGlanceDirect(DiskBytes(1 << 20), "raw");

  EXPECT_EQ(Run(), Disposition::kAck);

  const auto finishes = tasks_.finishes();
  ASSERT_EQ(finishes.size(), 2u);
  EXPECT_TRUE(finishes[0].success());
  EXPECT_FALSE(finishes[1].success());
  EXPECT_THAT(finishes[1].message(), HasSubstr("non-negative"));
  EXPECT_THAT(finishes[1].discard_urls(), ElementsAre(ObjectUrl(1)));
  EXPECT_EQ(tasks_.status(kTask), mv1::TASK_STATUS_FAILURE);
}

TEST_F(ImporterTest, ASuccessMetadataSvcCannotApplyEndsTheTaskOnce) {
  // The image was deleted during the import: metadata-svc fails the task and queues the data
  // for deletion in the same transaction, so the worker neither retries nor reports again.
  tasks_.RefuseNextSuccess("Image was deleted during the import.");
  AddGlanceDirect(DiskBytes(1 << 20), "raw");

  EXPECT_EQ(Run(), Disposition::kAck);

  EXPECT_TRUE(OnlyFinish().success());
  EXPECT_EQ(tasks_.status(kTask), mv1::TASK_STATUS_FAILURE);
  EXPECT_EQ(tasks_.message(kTask), "Image was deleted during the import.");
  EXPECT_TRUE(WorkDirEmpty());
}

TEST_F(ImporterTest, LeaseLostWhileStoringStopsAndCleansUp) {
  tasks_.OnRenew([this](const mv1::RenewTaskRequest& r) {
    if (r.progress().stage() != "storing") return absl::OkStatus();
    tasks_.LeaseTo(kTask, "w2");  // w1's lease expired and w2 took the task over
    return absl::OkStatus();
  });
  AddGlanceDirect(DiskBytes(4 << 20), "raw");

  EXPECT_EQ(Run(), Disposition::kAck) << "the new lease holder finishes the task";

  EXPECT_THAT(tasks_.finishes(), IsEmpty());
  EXPECT_THAT(StoreFiles(), IsEmpty()) << "neither the object nor its .part is left";
  EXPECT_TRUE(WorkDirEmpty());
  EXPECT_EQ(tasks_.status(kTask), mv1::TASK_STATUS_PROCESSING);
}

TEST_F(ImporterTest, LeaseLostDuringADownloadCancelsIt) {
  options_.progress_interval = absl::Milliseconds(10);
  web_.Stall("http://stalls.example/disk");
  AddWebDownload("http://stalls.example/disk", "raw");
  tasks_.OnRenew([this](const mv1::RenewTaskRequest&) {
    tasks_.LeaseTo(kTask, "w2");
    return absl::OkStatus();
  });

  EXPECT_EQ(Run(), Disposition::kAck);

  EXPECT_THAT(tasks_.finishes(), IsEmpty());
  EXPECT_TRUE(WorkDirEmpty());
}

TEST_F(ImporterTest, LaterAttemptsDiscardWhatEarlierOnesLeft) {
  // Attempt 1 was killed while storing (its .part is left) and attempt 2 after committing:
  // ClaimTask now hands out attempt 3.
  for (const std::string& leftover : {PathOf(ObjectUrl(1)) + ".part", PathOf(ObjectUrl(2))}) {
    std::ofstream(leftover) << "half an image";
  }
  AddGlanceDirect(DiskBytes(1 << 20), "raw", "bare", /*attempts=*/2);

  EXPECT_EQ(Run(), Disposition::kAck);

  const mv1::FinishImportRequest f = OnlyFinish();
  EXPECT_TRUE(f.success());
  EXPECT_EQ(f.location().url(), ObjectUrl(3));
  EXPECT_THAT(f.discard_urls(), ElementsAre(ObjectUrl(1), ObjectUrl(2)));
  // metadata-svc deletes the discarded objects when it finishes the task; then only the
  // image's own data is left.
  for (const std::string& url : f.discard_urls()) ASSERT_TRUE(files_->Delete(url).ok());
  EXPECT_THAT(StoreFiles(), ElementsAre(absl::StrCat(kImage, ".import-", kTask, "-3")));
}

TEST_F(ImporterTest, AFailedLaterAttemptDiscardsItsOwnObjectToo) {
  AddGlanceDirect(DiskBytes(1 << 20), "qcow2", "bare", /*attempts=*/1);

  EXPECT_EQ(Run(), Disposition::kAck);

  EXPECT_THAT(OnlyFinish().discard_urls(), ElementsAre(ObjectUrl(1), ObjectUrl(2)));
}

TEST_F(ImporterTest, TheWorkDirectoryOfAKilledWorkerIsSweptBeforeAnImport) {
  const std::string dead = root_ + "/work/w0";
  fs::create_directories(dead + "/task-1");
  std::ofstream(dead + "/task-1/source") << "half a download";
  std::ofstream(dead + ".lock");
  AddGlanceDirect(DiskBytes(1 << 20), "raw");

  EXPECT_EQ(Run(), Disposition::kAck);

  EXPECT_FALSE(fs::exists(dead));
}

TEST_F(ImporterTest, ADuplicateDeliveryHasOneEffect) {
  std::unique_ptr<Importer> importer = MakeImporter();
  TaskHandler handler({.worker_id = kWorker, .lease_seconds = 60}, tasks_, *store_, *importer);
  AddGlanceDirect(DiskBytes(1 << 20), "raw");
  tasks::v1::TaskMessage message;
  message.set_task_id(kTask);
  message.set_request_id("req-1");
  amqp::Delivery delivery;
  delivery.body = message.SerializeAsString();

  EXPECT_EQ(handler.Handle(delivery).disposition, Disposition::kAck);
  delivery.redelivered = true;
  EXPECT_EQ(handler.Handle(delivery).disposition, Disposition::kAck);

  EXPECT_THAT(events_.events(),
              ElementsAre("claim " + std::string(kTask), "finish " + std::string(kTask) + " ok",
                          "claim " + std::string(kTask)));
  EXPECT_THAT(StoreFiles(), ElementsAre(absl::StrCat(kImage, ".import-", kTask, "-1")));
}

}  // namespace
}  // namespace gaze::worker
