// The plugin pipeline's configuration: orders that are unsafe are refused, property injection
// stays out of the server's namespace, and which images get converted from what.
#include "task-worker/import_plugins.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/imageformat/inspector.h"

namespace gaze::worker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;

TEST(ImportPlugins, KeepsTheListedOrder) {
  auto plugins = ParseImportPlugins(" decompress, inspect ,convert,inject");
  ASSERT_TRUE(plugins.ok()) << plugins.status();
  EXPECT_THAT(plugins->order, ElementsAre(ImportPlugin::kDecompress, ImportPlugin::kInspect,
                                          ImportPlugin::kConvert, ImportPlugin::kInject));
  plugins = ParseImportPlugins("inject,inspect");
  ASSERT_TRUE(plugins.ok()) << plugins.status();
  EXPECT_THAT(plugins->order, ElementsAre(ImportPlugin::kInject, ImportPlugin::kInspect));
  EXPECT_FALSE(plugins->Has(ImportPlugin::kConvert));
  EXPECT_TRUE(ParseImportPlugins("decompress,inspect").ok());
  EXPECT_TRUE(ParseImportPlugins("inspect,convert").ok());
}

TEST(ImportPlugins, RefusesUnsafeOrIncompletePipelines) {
  struct Case {
    const char* list;
    const char* problem;
  };
  const Case cases[] = {
      {"", "unknown plugin"},
      {"inspect,compress", "unknown plugin \"compress\""},
      {"inspect,inspect", "listed twice"},
      {"decompress,convert", "inspect is required"},
      {"inspect,decompress,convert", "decompress must come before inspect"},
      {"convert,inspect", "convert must come after inspect"},
      {"inspect,,convert", "unknown plugin \"\""},
  };
  for (const Case& c : cases) {
    absl::Status s = ParseImportPlugins(c.list).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.list;
    EXPECT_THAT(std::string(s.message()), StartsWith("--import_plugins: ")) << c.list;
    EXPECT_THAT(s.message(), HasSubstr(c.problem)) << c.list;
  }
}

TEST(ImportPlugins, ConvertTargets) {
  EXPECT_TRUE(IsConvertTarget("raw"));
  EXPECT_TRUE(IsConvertTarget("qcow2"));
  EXPECT_FALSE(IsConvertTarget("vmdk"));
  EXPECT_FALSE(IsConvertTarget(""));
}

TEST(InjectProperties, ParsesKeyValueLists) {
  EXPECT_TRUE(ParseInjectProperties("")->empty());
  EXPECT_TRUE(ParseInjectProperties("  ")->empty());
  auto p = ParseInjectProperties("hw_scsi_model=virtio-scsi, owner_specified.x = a=b ,empty=");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(*p, ElementsAre(Pair("empty", ""), Pair("hw_scsi_model", "virtio-scsi"),
                              Pair("owner_specified.x", "a=b")));
}

TEST(InjectProperties, RefusesReservedAndMalformedKeys) {
  for (const char* list : {"os_glance_import_task=x", "os_glancefoo=1", "disk_format=raw", "size=1",
                           "a=1,a=2", "=v", "novalue", "a=1,,b=2"}) {
    absl::Status s = ParseInjectProperties(list).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << list;
    EXPECT_THAT(std::string(s.message()), StartsWith("--inject_properties: ")) << list;
  }
}

imageformat::Inspection Inspected(imageformat::ImageFormat format, uint64_t bytes = 4096) {
  imageformat::Inspection inspection;
  inspection.format = format;
  inspection.bytes = bytes;
  return inspection;
}

TEST(ConversionSourceFormat, ReadsAsTheAcceptedFormat) {
  using imageformat::ImageFormat;
  EXPECT_EQ(ConversionSourceFormat("qcow2", Inspected(ImageFormat::kQcow2)), "qcow2");
  EXPECT_EQ(ConversionSourceFormat("vhd", Inspected(ImageFormat::kVhd)), "vpc");
  EXPECT_EQ(ConversionSourceFormat("vmdk", Inspected(ImageFormat::kVmdk)), "vmdk");
  EXPECT_EQ(ConversionSourceFormat("vhdx", Inspected(ImageFormat::kVhdx)), "vhdx");
  EXPECT_EQ(ConversionSourceFormat("vdi", Inspected(ImageFormat::kVdi)), "vdi");
  // The owner said raw: a qcow2 header inside is guest data, never a qcow2 to follow.
  EXPECT_EQ(ConversionSourceFormat("raw", Inspected(ImageFormat::kQcow2)), "raw");
  EXPECT_EQ(ConversionSourceFormat("raw", Inspected(ImageFormat::kGpt)), "raw");
}

TEST(ConversionSourceFormat, LeavesAloneWhatIsNotConverted) {
  using imageformat::ImageFormat;
  EXPECT_EQ(ConversionSourceFormat("iso", Inspected(ImageFormat::kIso)), std::nullopt);
  EXPECT_EQ(ConversionSourceFormat("ami", Inspected(ImageFormat::kRaw)), std::nullopt);
  EXPECT_EQ(ConversionSourceFormat("ploop", Inspected(ImageFormat::kRaw)), std::nullopt);
  EXPECT_EQ(ConversionSourceFormat("qcow2", Inspected(ImageFormat::kQcow2, 0)), std::nullopt)
      << "an empty payload";
  EXPECT_EQ(ConversionSourceFormat("qcow2", Inspected(ImageFormat::kRaw)), std::nullopt)
      << "never -f with a format the content does not have";
}

}  // namespace
}  // namespace gaze::worker
