// The inspector against images qemu-img makes (and hostile variants of them, edited by hand):
// format, virtual size and safety must agree with what `qemu-img info` reports for safe images,
// and hostile ones must be refused. Needs qemu-img (Debian: qemu-utils); without it the tests
// skip, or fail when CI=true.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/imageformat/inspector.h"
#include "services/imageformat/testing.h"

namespace gaze::imageformat {
namespace {

using testing::FailedChecks;

class QemuCorpusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("qemu-img --version >/dev/null 2>&1") != 0) {
      if (testing::InCi()) FAIL() << "qemu-img is missing (CI=true): install qemu-utils";
      GTEST_SKIP() << "qemu-img is missing; install qemu-utils to run the corpus";
    }
    std::string tmpl = ::testing::TempDir() + "imageformat-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }

  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Runs `command` in the corpus directory; fails the test unless it exits 0.
  std::string Sh(const std::string& command) {
    const std::string full = "cd '" + dir_.string() + "' && " + command + " 2>&1";
    FILE* pipe = popen(full.c_str(), "r");
    EXPECT_NE(pipe, nullptr) << full;
    if (pipe == nullptr) return {};
    std::string out;
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
    const int status = pclose(pipe);
    EXPECT_EQ(status, 0) << full << "\n" << out;
    return out;
  }

  std::string Read(const std::string& name) {
    std::ifstream in(dir_ / name, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }

  void Write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ / name, std::ios::binary | std::ios::trunc) << bytes;
  }

  // The top-level "format" and "virtual-size" of `qemu-img info --output=json`.
  struct QemuInfo {
    std::string format;
    uint64_t virtual_size = 0;
  };
  QemuInfo Info(const std::string& info_command) {
    const std::string json = Sh(info_command);
    QemuInfo info;
    // The top-level keys come before "format-specific", so the first occurrences are theirs.
    const auto value = [&json](const std::string& key) {
      const size_t at = json.find("\"" + key + "\": ");
      if (at == std::string::npos) return std::string();
      const size_t start = at + key.size() + 4;
      return json.substr(start, json.find_first_of(",\n", start) - start);
    };
    std::string format = value("format");
    if (format.size() >= 2) info.format = format.substr(1, format.size() - 2);
    EXPECT_TRUE(absl::SimpleAtoi(value("virtual-size"), &info.virtual_size)) << json;
    return info;
  }

  Inspection Inspect(const std::string& name) {
    absl::StatusOr<Inspection> result = testing::InspectAllWays(Read(name));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : Inspection{};
  }

  // A raw file with 3 MiB of varied data, for qemu-img convert to fill images with.
  void MakeData() {
    std::string data(3 << 20, '\0');
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 2654435761u) >> 13);
    Write("data.raw", data);
  }

  std::filesystem::path dir_;
};

constexpr char kLuksSecret[] = "--object secret,id=s0,data=pw";

// qemu-img sizes the LUKS key derivation by timing a first round of it on the thread's CPU
// clock and gives up ("Unable to get accurate CPU usage") when a busy machine reports 0 ms for
// it; so try a few times, each time also with sha512, whose slower round (about 3 s in all
// here) a tick-granular clock does not miss.
std::string CreateLuks(const std::string& name) {
  const std::string create =
      absl::StrCat("qemu-img create -q -f luks ", kLuksSecret, " -o key-secret=s0,iter-time=10");
  return absl::StrCat("for i in 1 2 3 4 5; do ", create, " ", name, " 1M && break; ", create,
                      ",hash-alg=sha512 ", name, " 1M && break; done && test -s ", name);
}

TEST_F(QemuCorpusTest, SafeImagesAgreeWithQemuImgInfo) {
  MakeData();
  struct Case {
    const char* name;
    std::string create;
    ImageFormat format;
    const char* failed = "";
    std::string info = "qemu-img info --output=json x";
  };
  const std::string luks_info =
      absl::StrCat("qemu-img info --output=json ", kLuksSecret,
                   " --image-opts driver=luks,key-secret=s0,file.filename=x");
  const Case cases[] = {
      {"qcow2", "qemu-img create -q -f qcow2 x 64M", ImageFormat::kQcow2},
      {"qcow2 v2", "qemu-img create -q -f qcow2 -o compat=0.10 x 64M", ImageFormat::kQcow2},
      {"qcow2 with data", "qemu-img convert -f raw -O qcow2 data.raw x", ImageFormat::kQcow2},
      {"qcow2 compressed", "qemu-img convert -c -f raw -O qcow2 data.raw x", ImageFormat::kQcow2},
      {"vmdk monolithicSparse", "qemu-img create -q -f vmdk x 64M", ImageFormat::kVmdk},
      {"vmdk streamOptimized", "qemu-img create -q -f vmdk -o subformat=streamOptimized x 64M",
       ImageFormat::kVmdk},
      {"vmdk with data", "qemu-img convert -f raw -O vmdk data.raw x", ImageFormat::kVmdk},
      {"vmdk streamOptimized with data",
       "qemu-img convert -f raw -O vmdk -o subformat=streamOptimized data.raw x",
       ImageFormat::kVmdk},
      {"vpc", "qemu-img create -q -f vpc x 64M", ImageFormat::kVhd},
      {"vpc with data", "qemu-img convert -f raw -O vpc data.raw x", ImageFormat::kVhd},
      {"vhdx", "qemu-img create -q -f vhdx x 64M", ImageFormat::kVhdx},
      {"vhdx with data", "qemu-img convert -f raw -O vhdx data.raw x", ImageFormat::kVhdx},
      {"vdi", "qemu-img create -q -f vdi x 64M", ImageFormat::kVdi},
      {"vdi with data", "qemu-img convert -f raw -O vdi data.raw x", ImageFormat::kVdi},
      {"raw", "qemu-img create -q -f raw x 1M", ImageFormat::kRaw},
      {"luks", CreateLuks("x"), ImageFormat::kLuks, "", luks_info},
      {"qed", "qemu-img create -q -f qed x 64M", ImageFormat::kQed, "banned"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Sh("rm -f x && " + c.create);
    const Inspection inspection = Inspect("x");
    const QemuInfo info = Info(c.info);
    EXPECT_EQ(inspection.format, c.format);
    EXPECT_EQ(QemuFormatName(inspection.format), info.format);
    EXPECT_EQ(inspection.virtual_size, info.virtual_size);
    EXPECT_EQ(FailedChecks(inspection), c.failed) << ::testing::PrintToString(inspection);
    const absl::StatusOr<Acceptance> accepted = CheckDiskFormat(inspection, FormatName(c.format));
    EXPECT_EQ(accepted.ok(), inspection.safe()) << accepted.status();
  }
}

TEST_F(QemuCorpusTest, Qcow2WithBackingFileIsRefused) {
  Sh("qemu-img create -q -f raw base.raw 1M && "
     "qemu-img create -q -f qcow2 -b base.raw -F raw x.qcow2");
  const Inspection inspection = Inspect("x.qcow2");
  EXPECT_EQ(inspection.format, ImageFormat::kQcow2);
  EXPECT_EQ(FailedChecks(inspection), "backing_file");
  EXPECT_FALSE(CheckDiskFormat(inspection, "qcow2").ok());
  EXPECT_FALSE(CheckDiskFormat(inspection, "raw").ok());  // checks run under a raw claim too
}

TEST_F(QemuCorpusTest, Qcow2WithExternalDataFileIsRefused) {
  Sh("qemu-img create -q -f qcow2 -o data_file=x.data x.qcow2 64M");
  const Inspection inspection = Inspect("x.qcow2");
  EXPECT_EQ(inspection.format, ImageFormat::kQcow2);
  EXPECT_EQ(FailedChecks(inspection), "data_file");
}

TEST_F(QemuCorpusTest, MonolithicFlatVmdkIsRefused) {
  Sh("qemu-img create -q -f vmdk -o subformat=monolithicFlat x.vmdk 1M");
  Inspection inspection = Inspect("x.vmdk");
  EXPECT_EQ(inspection.format, ImageFormat::kVmdk);
  ASSERT_EQ(FailedChecks(inspection), "descriptor,descriptor");
  EXPECT_EQ(inspection.failures[0].reason, "unsupported VMDK create type \"monolithicflat\"");
  // Its data file on its own is just raw.
  inspection = Inspect("x-flat.vmdk");
  EXPECT_EQ(inspection.format, ImageFormat::kRaw);
  EXPECT_TRUE(inspection.safe());
}

TEST_F(QemuCorpusTest, VmdkExtentPointingAtEtcPasswdIsRefused) {
  // A descriptor file, as qemu-img writes for monolithicFlat, pointed at a host file: qemu-img
  // would serve /etc/passwd as the disk.
  Sh("qemu-img create -q -f vmdk -o subformat=monolithicFlat x.vmdk 1M");
  std::string descriptor = Read("x.vmdk");
  const size_t extent = descriptor.find("RW 2048 FLAT \"x-flat.vmdk\" 0");
  ASSERT_NE(extent, std::string::npos) << descriptor;
  descriptor.replace(extent, 28, "RW 2048 FLAT \"/etc/passwd\" 0");
  Write("x.vmdk", descriptor);
  Inspection inspection = Inspect("x.vmdk");
  EXPECT_EQ(inspection.format, ImageFormat::kVmdk);
  EXPECT_FALSE(inspection.safe());

  // The same extent in the descriptor embedded in a monolithicSparse image.
  Sh("qemu-img create -q -f vmdk y.vmdk 1M");
  std::string sparse = Read("y.vmdk");
  const size_t sparse_extent = sparse.find("RW 2048 SPARSE \"y.vmdk\"");
  ASSERT_NE(sparse_extent, std::string::npos);
  const std::string hostile = "RW 2048 FLAT \"/etc/passwd\" 0";
  sparse.replace(sparse_extent, 23, hostile);
  sparse.erase(512 + 20 * 512, hostile.size() - 23);  // keep the descriptor's NUL padding
  Write("y.vmdk", sparse);
  inspection = Inspect("y.vmdk");
  EXPECT_EQ(inspection.format, ImageFormat::kVmdk);
  ASSERT_EQ(FailedChecks(inspection), "descriptor");
  EXPECT_EQ(inspection.failures[0].reason,
            "the extent \"rw 2048 flat \"/etc/passwd\" 0\" names a path");
}

TEST_F(QemuCorpusTest, VmdkParentFileNameHintIsRefused) {
  Sh("qemu-img create -q -f vmdk base.vmdk 1M && qemu-img create -q -f vmdk x.vmdk 1M");
  std::string vmdk = Read("x.vmdk");
  const std::string anchor = "parentCID=ffffffff\n";
  const size_t at = vmdk.find(anchor);
  ASSERT_NE(at, std::string::npos);
  const std::string hint = "parentFileNameHint=\"" + (dir_ / "base.vmdk").string() + "\"\n";
  vmdk.insert(at + anchor.size(), hint);
  vmdk.erase(512 + 20 * 512 - hint.size(), hint.size());  // keep the descriptor's NUL padding
  Write("x.vmdk", vmdk);
  // This is why: qemu opens the hint as a backing file (oslo.utils lets it through).
  EXPECT_NE(Sh("qemu-img info x.vmdk").find("backing file: " + (dir_ / "base.vmdk").string()),
            std::string::npos);
  const Inspection inspection = Inspect("x.vmdk");
  EXPECT_EQ(inspection.format, ImageFormat::kVmdk);
  EXPECT_EQ(FailedChecks(inspection), "parent");
}

TEST_F(QemuCorpusTest, StreamOptimizedVmdkWithFooter) {
  // qemu-img writes the grain directory in place; VMware's streaming writers put it at the end
  // and say so with gdOffset = ~0 and a footer. Turn qemu's image into that layout.
  MakeData();
  Sh("qemu-img convert -f raw -O vmdk -o subformat=streamOptimized data.raw x.vmdk");
  std::string vmdk = Read("x.vmdk");
  const std::string header = vmdk.substr(0, 512);
  testing::PutLe(vmdk, 56, ~uint64_t{0}, 8);
  std::string marker(512, '\0');
  testing::PutLe(marker, 0, 1, 8);
  testing::PutLe(marker, 12, 3, 4);
  vmdk += marker + header + std::string(512, '\0');
  Write("footer.vmdk", vmdk);
  Inspection inspection = Inspect("footer.vmdk");
  EXPECT_EQ(inspection.format, ImageFormat::kVmdk);
  EXPECT_TRUE(inspection.safe()) << ::testing::PrintToString(inspection);
  EXPECT_EQ(inspection.virtual_size, Info("qemu-img info --output=json footer.vmdk").virtual_size);

  testing::PutLe(vmdk, vmdk.size() - 1024 + 4, 1, 4);  // footer version 1, header version 3
  Write("bad-footer.vmdk", vmdk);
  inspection = Inspect("bad-footer.vmdk");
  EXPECT_EQ(FailedChecks(inspection), "footer");
}

TEST_F(QemuCorpusTest, GzippedImagesAreRaw) {
  Sh("qemu-img create -q -f qcow2 x.qcow2 64M && gzip -c x.qcow2 > x.qcow2.gz");
  const Inspection inspection = Inspect("x.qcow2.gz");
  EXPECT_EQ(inspection.format, ImageFormat::kRaw);
  EXPECT_TRUE(inspection.safe());
  EXPECT_FALSE(CheckDiskFormat(inspection, "qcow2").ok());
  EXPECT_TRUE(CheckDiskFormat(inspection, "raw").ok());
}

TEST_F(QemuCorpusTest, TruncatedHeadersAreRefused) {
  Sh(
      absl::StrCat("qemu-img create -q -f qcow2 x.qcow2 64M && qemu-img create -q -f vmdk x.vmdk "
                   "64M && qemu-img create -q -f vhdx x.vhdx 64M && qemu-img create -q -f vdi "
                   "x.vdi 64M && qemu-img create -q -f vpc x.vhd 64M && qemu-img create -q -f qed "
                   "x.qed 64M && ",
                   CreateLuks("x.luks")));
  struct Case {
    const char* file;
    size_t keep;
    ImageFormat format;
    const char* failed;
  };
  const Case cases[] = {
      {"x.qcow2", 50, ImageFormat::kQcow2, "header"},
      {"x.vmdk", 300, ImageFormat::kVmdk, "header"},
      {"x.vmdk", 2000, ImageFormat::kVmdk, "header"},  // inside the descriptor
      {"x.vhdx", 100 * 1024, ImageFormat::kVhdx, "header"},
      {"x.vhdx", (3 << 20) + 100, ImageFormat::kVhdx, "header"},  // inside the metadata table
      {"x.vdi", 100, ImageFormat::kVdi, "header"},
      {"x.vhd", 20, ImageFormat::kVhd, "header"},
      {"x.qed", 30, ImageFormat::kQed, "header,banned"},
      {"x.luks", 50, ImageFormat::kLuks, "header"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.file, " cut at ", c.keep));
    const absl::StatusOr<Inspection> inspection =
        testing::InspectAllWays(Read(c.file).substr(0, c.keep));
    ASSERT_TRUE(inspection.ok()) << inspection.status();
    EXPECT_EQ(inspection->format, c.format);
    EXPECT_EQ(FailedChecks(*inspection), c.failed) << ::testing::PrintToString(*inspection);
  }
}

TEST_F(QemuCorpusTest, EmptyPayloadIsRawAndExemptFromTheMatch) {
  Sh("qemu-img create -q -f raw empty 0");
  const Inspection inspection = Inspect("empty");
  EXPECT_EQ(inspection.format, ImageFormat::kRaw);
  EXPECT_EQ(inspection.bytes, 0u);
  const absl::StatusOr<Acceptance> accepted = CheckDiskFormat(inspection, "qcow2");
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(accepted->virtual_size, 0u);
}

TEST_F(QemuCorpusTest, Luks2IsRefused) {
  Sh(CreateLuks("x.luks"));
  std::string luks = Read("x.luks");
  testing::PutBe(luks, 6, 2, 2);
  Write("x.luks", luks);
  EXPECT_EQ(FailedChecks(Inspect("x.luks")), "version");
}

TEST_F(QemuCorpusTest, VhdxWithCorruptRegionTableIsRefused) {
  Sh("qemu-img create -q -f vhdx x.vhdx 64M");
  std::string vhdx = Read("x.vhdx");
  vhdx[192 * 1024 + 16 + 20] ^= 0x10;  // the BAT region offset
  Write("x.vhdx", vhdx);
  const Inspection inspection = Inspect("x.vhdx");
  EXPECT_EQ(inspection.format, ImageFormat::kVhdx);
  ASSERT_EQ(FailedChecks(inspection), "region_table");
  EXPECT_EQ(inspection.failures[0].reason, "the region table checksum is wrong");
}

}  // namespace
}  // namespace gaze::imageformat
