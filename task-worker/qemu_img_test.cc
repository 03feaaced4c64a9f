// QemuImg with the real qemu-img (a qcow2 <-> raw round trip, backing files, -f never probing)
// and with fake ones on PATH (the arguments and limits it gets, failures, timeouts).
#include "task-worker/qemu_img.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "task-worker/subprocess.h"

namespace gaze::worker {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

class QemuImgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gaze-qemu-img-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    old_path_ = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  }
  void TearDown() override {
    setenv("PATH", old_path_.c_str(), 1);
    std::filesystem::remove_all(dir_);
  }

  // A qemu-img on PATH that runs `body` (a shell script).
  void FakeQemuImg(const std::string& body) {
    const std::string bin = dir_ + "/bin";
    std::filesystem::create_directories(bin);
    const std::string path = bin + "/qemu-img";
    std::ofstream(path) << "#!/bin/sh\n" << body;
    chmod(path.c_str(), 0755);
    setenv("PATH", (bin + ":" + old_path_).c_str(), 1);
  }

  QemuImg Make(QemuImgOptions options = {}) {
    auto q = QemuImg::Create(std::move(options));
    EXPECT_TRUE(q.ok()) << q.status();
    return *std::move(q);
  }

  std::string dir_;
  std::string old_path_;
};

TEST_F(QemuImgTest, RealQemuImgRoundTripsQcow2AndRaw) {
  // 8 MiB with data at both ends and a hole in the middle.
  std::string data(8 << 20, '\0');
  for (size_t i = 0; i < (1 << 20); ++i) data[i] = static_cast<char>(i * 7);
  for (size_t i = data.size() - 4096; i < data.size(); ++i) data[i] = 'z';
  const std::string raw = dir_ + "/disk.raw";
  std::ofstream(raw, std::ios::binary) << data;
  QemuImg q = Make();

  ASSERT_TRUE(q.Convert(raw, "raw", dir_ + "/disk.qcow2", "qcow2").ok());
  auto info = q.Info(dir_ + "/disk.qcow2", "qcow2");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->format, "qcow2");
  EXPECT_EQ(info->virtual_size, data.size());
  EXPECT_FALSE(info->backing_file);
  EXPECT_FALSE(info->data_file);
  EXPECT_TRUE(CheckQemuImgInfo(*info, "qcow2").ok());

  absl::Status back = q.Convert(dir_ + "/disk.qcow2", "qcow2", dir_ + "/back.raw", "raw");
  ASSERT_TRUE(back.ok()) << back;
  EXPECT_TRUE(ReadFile(dir_ + "/back.raw") == data);
}

TEST_F(QemuImgTest, RealQemuImgReportsABackingFileAndNeverProbes) {
  QemuImg q = Make();
  const std::string base = dir_ + "/base.raw";
  std::ofstream(base) << std::string(1 << 20, 'b');
  const std::string overlay = dir_ + "/overlay.qcow2";
  auto made = RunProcess(
      {q.program(), "create", "-f", "qcow2", "-b", base, "-F", "raw", overlay, "1M"}, {});
  ASSERT_TRUE(made.ok() && made->exit_code == 0) << made.status() << (made.ok() ? made->err : "");

  auto info = q.Info(overlay, "qcow2");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->backing_file.value_or(""), base);
  absl::Status check = CheckQemuImgInfo(*info, "qcow2");
  EXPECT_EQ(check.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(check.message(), HasSubstr("backing file"));

  // Read with -f raw, the same file is a small raw disk: its qcow2 header means nothing.
  auto as_raw = q.Info(overlay, "raw");
  ASSERT_TRUE(as_raw.ok()) << as_raw.status();
  EXPECT_EQ(as_raw->format, "raw");
  EXPECT_FALSE(as_raw->backing_file);
}

// A qemu-img info result with only a format and a size.
QemuImgInfo Info(const std::string& format) {
  QemuImgInfo info;
  info.format = format;
  info.virtual_size = 1;
  return info;
}

TEST_F(QemuImgTest, ChecksFollowGlancesImageConversionPlugin) {
  QemuImgInfo ok = Info("qcow2");
  EXPECT_TRUE(CheckQemuImgInfo(ok, "qcow2").ok());
  EXPECT_EQ(CheckQemuImgInfo(ok, "raw").code(), absl::StatusCode::kFailedPrecondition);
  QemuImgInfo data_file = ok;
  data_file.data_file = "/etc/shadow";
  EXPECT_THAT(CheckQemuImgInfo(data_file, "qcow2").message(), HasSubstr("data file"));
  QemuImgInfo vmdk = Info("vmdk");
  EXPECT_FALSE(CheckQemuImgInfo(vmdk, "vmdk").ok()) << "a VMDK must say its create type";
  for (const char* type : {"monolithicSparse", "streamOptimized"}) {
    vmdk.vmdk_create_type = type;
    EXPECT_TRUE(CheckQemuImgInfo(vmdk, "vmdk").ok()) << type;
  }
  for (const char* type : {"monolithicFlat", "twoGbMaxExtentSparse", "vmfs"}) {
    vmdk.vmdk_create_type = type;
    EXPECT_FALSE(CheckQemuImgInfo(vmdk, "vmdk").ok()) << type;
  }
}

TEST_F(QemuImgTest, ArgumentsAlwaysNameTheInputFormatAndLimitsApply) {
  const std::string log = dir_ + "/calls";
  FakeQemuImg(absl::StrCat(
      "echo \"$* as=$(ulimit -v) cpu=$(ulimit -t)\" >> ", log, "\n",
      "[ \"$1\" = info ] && echo '{\"format\": \"raw\", \"virtual-size\": 5}'\n", "exit 0\n"));
  QemuImgOptions options;
  options.convert_timeout = absl::Seconds(90);
  QemuImg q = Make(options);
  EXPECT_EQ(q.program(), dir_ + "/bin/qemu-img");
  auto info = q.Info("/in put", "vpc");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->virtual_size, 5u);
  ASSERT_TRUE(q.Convert("/in put", "vpc", "/out", "raw").ok());
  EXPECT_EQ(ReadFile(log),
            "info -f vpc --output=json /in put as=1048576 cpu=30\n"
            "convert -f vpc -O raw /in put /out as=2097152 cpu=90\n");
}

TEST_F(QemuImgTest, FailuresQuoteQemuImgWithoutTheWorkersPaths) {
  FakeQemuImg(
      "echo \"qemu-img: Could not open '$6': Invalid data\" >&2\n"
      "exit 1\n");
  QemuImg q = Make();
  absl::Status s = q.Convert(dir_ + "/work/source", "qcow2", dir_ + "/work/converted", "raw");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("exit status 1"));
  EXPECT_THAT(s.message(), HasSubstr("Could not open 'the image': Invalid data"));
  EXPECT_THAT(s.message(), Not(HasSubstr(dir_)));
}

TEST_F(QemuImgTest, UnreadableInfoIsAFailure) {
  FakeQemuImg("echo 'this is not json'\n");
  QemuImg q = Make();
  EXPECT_EQ(q.Info("/x", "qcow2").status().code(), absl::StatusCode::kFailedPrecondition);
  FakeQemuImg("echo '{\"format\": \"qcow2\", \"virtual-size\": -1}'\n");
  EXPECT_EQ(Make().Info("/x", "qcow2").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(QemuImgTest, ConvertTimesOut) {
  FakeQemuImg("sleep 1000\n");
  QemuImgOptions options;
  options.convert_timeout = absl::Milliseconds(300);
  absl::Status s = Make(options).Convert("/a", "qcow2", "/b", "raw");
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
}

TEST_F(QemuImgTest, KilledBySignalSaysSo) {
  FakeQemuImg("kill -KILL $$\n");
  absl::Status s = Make().Convert("/a", "qcow2", "/b", "raw");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("killed by signal 9"));
}

TEST_F(QemuImgTest, MissingProgramIsNotFound) {
  QemuImgOptions options;
  options.program = dir_ + "/no-qemu-img";
  EXPECT_EQ(QemuImg::Create(options).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace gaze::worker
