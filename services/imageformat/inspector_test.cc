// Format detection and safety checks on hand-made images, each fed in several chunkings; the
// qemu-made corpus is in qemu_corpus_test.cc.
#include "services/imageformat/inspector.h"

#include <string>

#include "gtest/gtest.h"
#include "services/imageformat/testing.h"

namespace gaze::imageformat {
namespace {

using testing::FailedChecks;
using testing::InspectAllWays;

// Inspects `bytes` every way and returns the (agreed) inspection; fails the test on an error.
Inspection Inspected(const std::string& bytes) {
  absl::StatusOr<Inspection> result = InspectAllWays(bytes);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : Inspection{};
}

TEST(InspectorTest, EmptyStreamIsRaw) {
  const Inspection i = Inspected("");
  EXPECT_EQ(i.format, ImageFormat::kRaw);
  EXPECT_EQ(i.virtual_size, 0u);
  EXPECT_EQ(i.bytes, 0u);
  EXPECT_TRUE(i.safe());
}

TEST(InspectorTest, UnrecognisedBytesAreRawOfTheirLength) {
  std::string bytes(200000, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7 + (i >> 8));
  const Inspection i = Inspected(bytes);
  EXPECT_EQ(i.format, ImageFormat::kRaw);
  EXPECT_EQ(i.virtual_size, 200000u);
  EXPECT_TRUE(i.safe());
}

TEST(InspectorTest, FinishTwiceIsAnError) {
  Inspector inspector;
  ASSERT_TRUE(inspector.Finish().ok());
  EXPECT_EQ(inspector.Finish().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(InspectorTest, Qcow2Checks) {
  struct Case {
    const char* name;
    std::string bytes;
    const char* failed;
  };
  const Case cases[] = {
      {"v3", testing::Qcow2Image(3), ""},
      {"v2", testing::Qcow2Image(2), ""},
      // v2 has no feature bits; bytes 72+ belong to header extensions there.
      {"v2 with bytes where v3 keeps features", testing::Qcow2Image(2, 0, 0xff), ""},
      {"dirty, corrupt and compression bits are known", testing::Qcow2Image(3, 0, 0xb), ""},
      {"v1", testing::Qcow2Image(1), "unknown_features"},
      {"v4", testing::Qcow2Image(4), "unknown_features"},
      {"backing file", testing::Qcow2Image(3, 0x200), "backing_file"},
      {"external data file", testing::Qcow2Image(3, 0, 0x4), "data_file"},
      {"extended L2 is unknown to oslo", testing::Qcow2Image(3, 0, 0x10), "unknown_features"},
      {"high unknown bit", testing::Qcow2Image(3, 0, uint64_t{1} << 63), "unknown_features"},
      {"everything", testing::Qcow2Image(3, 0x200, 0x24),
       "backing_file,data_file,unknown_features"},
      {"truncated", testing::Qcow2Image(3).substr(0, 50), "header"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Inspection i = Inspected(c.bytes);
    EXPECT_EQ(i.format, ImageFormat::kQcow2);
    EXPECT_EQ(FailedChecks(i), c.failed);
    if (i.safe()) {
      EXPECT_EQ(i.virtual_size, uint64_t{1} << 30);
    }
  }
}

TEST(InspectorTest, MagicTooShortToClaimIsRaw) {
  EXPECT_EQ(Inspected("QFI").format, ImageFormat::kRaw);
  EXPECT_EQ(Inspected("vhdxfil").format, ImageFormat::kRaw);
  EXPECT_EQ(Inspected("conecti").format, ImageFormat::kRaw);
}

TEST(InspectorTest, IsoVirtualSizeComesFromThePrimaryVolumeDescriptor) {
  const Inspection i = Inspected(testing::IsoImage(40));
  EXPECT_EQ(i.format, ImageFormat::kIso);
  EXPECT_EQ(i.virtual_size, 40u * 2048);
  EXPECT_TRUE(i.safe());
}

TEST(InspectorTest, IsoWithoutPrimaryDescriptorHasUnknownSize) {
  std::string iso = testing::IsoImage(40);
  iso[16 * 2048] = 2;  // a supplementary volume descriptor first
  const Inspection i = Inspected(iso);
  EXPECT_EQ(i.format, ImageFormat::kIso);
  EXPECT_EQ(i.virtual_size, std::nullopt);
}

TEST(InspectorTest, HybridIsoWithPartitionTableIsIso) {
  std::string iso = testing::IsoImage(40);
  const std::string mbr = testing::MbrDisk(testing::PartitionEntry(0x80, 0x17, 0, 40 * 4));
  iso.replace(0, 512, mbr.substr(0, 512));
  const Inspection i = Inspected(iso);
  EXPECT_EQ(i.format, ImageFormat::kIso);
  EXPECT_TRUE(i.safe());
}

TEST(InspectorTest, GptAndMbrChecks) {
  using testing::PartitionEntry;
  struct Case {
    const char* name;
    std::string bytes;
    const char* failed;
  };
  const std::string protective = PartitionEntry(0, 0xee, 1, 2047);
  const std::string linux_partition = PartitionEntry(0x80, 0x83, 2048, 4096);
  const Case cases[] = {
      {"gpt", testing::GptDisk(), ""},
      {"mbr", testing::MbrDisk(linux_partition), ""},
      {"mbr in the last entry", testing::MbrDisk(std::string(48, '\0') + linux_partition), ""},
      {"no partitions", testing::MbrDisk(""), "mbr"},
      {"bad boot flag", testing::MbrDisk(PartitionEntry(0x7f, 0x83, 2048, 4096)), "mbr"},
      {"hybrid gpt", testing::MbrDisk(protective + linux_partition), "gptmbr"},
      {"protective entry not first", testing::MbrDisk(linux_partition + protective), "gptmbr"},
      {"protective entry at LBA 2", testing::MbrDisk(PartitionEntry(0, 0xee, 2, 2047)), "gptmbr"},
      {"protective entry at CHS 0/1/0", testing::MbrDisk(PartitionEntry(0, 0xee, 1, 2047, 0, 1)),
       "gptmbr"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Inspection i = Inspected(c.bytes);
    EXPECT_EQ(i.format, ImageFormat::kGpt);
    EXPECT_EQ(FailedChecks(i), c.failed);
    EXPECT_EQ(i.virtual_size, c.bytes.size());
  }
}

TEST(InspectorTest, FatBootSectorIsNotAPartitionTable) {
  std::string fat = testing::MbrDisk("");
  fat[0x10] = 2;                        // two FATs
  fat[0x15] = static_cast<char>(0xf8);  // fixed disk
  EXPECT_EQ(Inspected(fat).format, ImageFormat::kRaw);
}

TEST(InspectorTest, TwoFormatsAreRefused) {
  std::string both = testing::Qcow2Image(3);
  testing::PutLe(both, 510, 0xaa55, 2);
  both += std::string(1024, '\0');
  const absl::StatusOr<Inspection> result = InspectAllWays(both);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(),
            "the image content matches more than one format: qcow2, gpt");
}

TEST(InspectorTest, LuksChecks) {
  std::string luks(4096, '\0');
  luks.replace(0, 6, "LUKS\xba\xbe");
  testing::PutBe(luks, 6, 1, 2);
  testing::PutBe(luks, 104, 4, 4);  // payload at sector 4
  Inspection i = Inspected(luks);
  EXPECT_EQ(i.format, ImageFormat::kLuks);
  EXPECT_TRUE(i.safe());
  EXPECT_EQ(i.virtual_size, 4096u - 4 * 512);

  testing::PutBe(luks, 104, 9, 4);  // payload past the end
  EXPECT_EQ(FailedChecks(Inspected(luks)), "header");
  testing::PutBe(luks, 6, 2, 2);
  EXPECT_EQ(FailedChecks(Inspected(luks)), "version");
}

TEST(InspectorTest, QedIsDetectedAndBanned) {
  std::string qed(4096, '\0');
  qed.replace(0, 4, std::string("QED\0", 4));
  testing::PutLe(qed, 48, 1 << 20, 8);
  const Inspection i = Inspected(qed);
  EXPECT_EQ(i.format, ImageFormat::kQed);
  EXPECT_EQ(i.virtual_size, 1u << 20);
  EXPECT_EQ(FailedChecks(i), "banned");
}

TEST(InspectorTest, VhdxFollowsTheRegionAndMetadataTables) {
  const Inspection i = Inspected(testing::VhdxImage(uint64_t{5} << 30));
  EXPECT_EQ(i.format, ImageFormat::kVhdx);
  EXPECT_TRUE(i.safe()) << FailedChecks(i);
  EXPECT_EQ(i.virtual_size, uint64_t{5} << 30);
}

TEST(InspectorTest, VhdxRegionTableSanity) {
  constexpr size_t kTable = 192 * 1024;
  constexpr uint64_t kMiB = 1 << 20;
  struct Case {
    const char* name;
    void (*bend)(std::string&);
    const char* failed;
  };
  const Case cases[] = {
      {"checksum", [](std::string& b) { b[kTable + 200] = 1; }, "region_table"},
      {"signature",
       [](std::string& b) {
         b[kTable] = 'R';
         testing::FixVhdxChecksum(b);
       },
       "region_table"},
      {"too many entries",
       [](std::string& b) {
         testing::PutLe(b, kTable + 8, 2048, 4);
         testing::FixVhdxChecksum(b);
       },
       "region_table"},
      {"metadata inside the header section",
       [](std::string& b) {
         testing::PutLe(b, kTable + 48 + 16, 0, 8);
         testing::FixVhdxChecksum(b);
       },
       "region_table"},
      {"unaligned region",
       [](std::string& b) {
         testing::PutLe(b, kTable + 16 + 16, 2 * kMiB + 4096, 8);
         testing::FixVhdxChecksum(b);
       },
       "region_table"},
      {"overlapping regions",
       [](std::string& b) {
         testing::PutLe(b, kTable + 16 + 16, kMiB, 8);  // BAT onto the metadata region
         testing::FixVhdxChecksum(b);
       },
       "region_table"},
      {"no BAT",
       [](std::string& b) {
         b[kTable + 16] ^= 1;  // the BAT's GUID becomes an unknown optional region
         b[kTable + 16 + 28] = 0;
         testing::FixVhdxChecksum(b);
       },
       "region_table"},
      {"unknown required region",
       [](std::string& b) {
         testing::PutLe(b, kTable + 8, 3, 4);
         b.replace(kTable + 80, 32, testing::VhdxEntry(1, 2, 3, 4, 8 * kMiB, kMiB, 1));
         testing::FixVhdxChecksum(b);
       },
       "region_table"},
      {"unknown optional region is fine",
       [](std::string& b) {
         testing::PutLe(b, kTable + 8, 3, 4);
         b.replace(kTable + 80, 32, testing::VhdxEntry(1, 2, 3, 4, 8 * kMiB, kMiB, 0));
         testing::FixVhdxChecksum(b);
       },
       ""},
      {"metadata signature", [](std::string& b) { b[kMiB] = 'M'; }, "metadata"},
      {"size item inside the metadata table",
       [](std::string& b) { testing::PutLe(b, kMiB + 32 + 16, 1024, 4); }, "metadata"},
      {"size item of the wrong length",
       [](std::string& b) { testing::PutLe(b, kMiB + 32 + 20, 16, 4); }, "metadata"},
      {"size item past the metadata region",
       [](std::string& b) { testing::PutLe(b, kMiB + 32 + 16, kMiB - 4, 4); }, "metadata"},
      {"no size item", [](std::string& b) { b[kMiB + 32] ^= 1; }, "metadata"},
      {"truncated before the metadata", [](std::string& b) { b.resize(kMiB + 100); }, "header"},
      {"truncated before the size", [](std::string& b) { b.resize(kMiB + 64 * 1024 + 4); },
       "header"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::string vhdx = testing::VhdxImage(1 << 30);
    c.bend(vhdx);
    const Inspection i = Inspected(vhdx);
    EXPECT_EQ(i.format, ImageFormat::kVhdx);
    EXPECT_EQ(FailedChecks(i), c.failed) << ::testing::PrintToString(i);
    // The size item is never read once the tables are refused.
    EXPECT_EQ(i.virtual_size, i.safe() ? std::optional<uint64_t>(1 << 30) : std::nullopt);
  }
}

TEST(InspectorTest, DifferencingVhdxIsRefused) {
  const std::string parent_locator =
      testing::VhdxEntry(0xA8D35F2D, 0xB30B, 0x454D, 0xABF7D3D84834AB0C, 0, 0, 0);
  const Inspection i = Inspected(testing::VhdxImage(1 << 30, parent_locator));
  EXPECT_EQ(FailedChecks(i), "parent");
  EXPECT_EQ(i.virtual_size, 1u << 30);
}

TEST(InspectorTest, VmdkDescriptorChecks) {
  using testing::VmdkDescriptor;
  const std::string extent = "RW 2097152 SPARSE \"disk.vmdk\"";
  struct Case {
    const char* name;
    std::string descriptor;
    const char* failed;
  };
  const Case cases[] = {
      {"monolithicSparse", VmdkDescriptor("monolithicSparse", extent), ""},
      {"streamOptimized", VmdkDescriptor("streamOptimized", extent), ""},
      {"case does not matter", VmdkDescriptor("MONOLITHICSPARSE", "rdonly 1 SPARSE \"x\""), ""},
      {"monolithicFlat", VmdkDescriptor("monolithicFlat", extent), "descriptor"},
      {"no create type", "# Disk DescriptorFile\nversion=1\n" + extent + "\n", "descriptor"},
      {"path in an extent", VmdkDescriptor("monolithicSparse", "RW 2097152 FLAT \"/etc/passwd\" 0"),
       "descriptor"},
      {"relative path in an extent", VmdkDescriptor("monolithicSparse", "RW 1 FLAT \"../../x\" 0"),
       "descriptor"},
      {"no extent", VmdkDescriptor("monolithicSparse", ""), "descriptor"},
      {"unknown line", VmdkDescriptor("monolithicSparse", extent + "\nmystery line"), "descriptor"},
      {"tab-separated extent", VmdkDescriptor("monolithicSparse", "RW\t1\tFLAT \"x\" 0"),
       "descriptor"},
      {"parent hint",
       VmdkDescriptor("monolithicSparse", extent + "\nparentFileNameHint=\"base.vmdk\""), "parent"},
      {"parent hint in a comment",
       VmdkDescriptor("monolithicSparse", extent + "\n# parentFileNameHint=\"x\""), "parent"},
      {"not ASCII", VmdkDescriptor("monolithicSparse", extent + "\n# caf\xc3\xa9"), "descriptor"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Inspection i = Inspected(testing::SparseVmdk(c.descriptor, 2097152));
    EXPECT_EQ(i.format, ImageFormat::kVmdk);
    EXPECT_EQ(FailedChecks(i), c.failed) << ::testing::PrintToString(i);
    if (i.safe()) {
      EXPECT_EQ(i.virtual_size, uint64_t{2097152} * 512);
    }
  }
}

TEST(InspectorTest, VmdkParentHintPastTheDeclaredDescriptorIsFound) {
  // qemu reads 20 sectors for the hint even when the header declares one.
  std::string descriptor = testing::VmdkDescriptor("monolithicSparse", "RW 8 SPARSE \"d\"");
  descriptor.resize(512, ' ');
  descriptor += "\nparentFileNameHint=\"/var/lib/x\"\n";
  const Inspection i = Inspected(testing::SparseVmdk(descriptor, 8, false, 1));
  EXPECT_EQ(FailedChecks(i), "parent");
}

TEST(InspectorTest, VmdkHeaderChecks) {
  const std::string descriptor = testing::VmdkDescriptor("monolithicSparse", "RW 8 SPARSE \"d\"");
  std::string vmdk = testing::SparseVmdk(descriptor, 8);
  testing::PutLe(vmdk, 4, 4, 4);
  EXPECT_EQ(FailedChecks(Inspected(vmdk)), "header");  // version 4

  vmdk = testing::SparseVmdk(descriptor, 8);
  testing::PutLe(vmdk, 28, 2, 8);
  EXPECT_EQ(FailedChecks(Inspected(vmdk)), "header");  // descriptor not at sector 1

  vmdk = testing::SparseVmdk(descriptor, 8);
  testing::PutLe(vmdk, 36, 0, 8);
  EXPECT_EQ(FailedChecks(Inspected(vmdk)), "descriptor");  // no descriptor

  vmdk = testing::SparseVmdk(descriptor, 8);
  EXPECT_EQ(FailedChecks(Inspected(vmdk.substr(0, 300))), "header");
  EXPECT_EQ(FailedChecks(Inspected(vmdk.substr(0, 1000))), "header");  // descriptor cut short
}

TEST(InspectorTest, VmdkFooterChecks) {
  const std::string descriptor = testing::VmdkDescriptor("streamOptimized", "RW 8 SPARSE \"d\"");
  std::string vmdk = testing::SparseVmdk(descriptor, 8, /*footer=*/true);
  Inspection i = Inspected(vmdk);
  EXPECT_EQ(i.format, ImageFormat::kVmdk);
  EXPECT_TRUE(i.safe()) << ::testing::PrintToString(i);
  EXPECT_EQ(i.virtual_size, 8u * 512);

  const size_t footer = vmdk.size() - 1024;
  const size_t marker = vmdk.size() - 1536;
  struct Case {
    const char* name;
    size_t offset;
    uint64_t value;
    size_t width;
  };
  const Case cases[] = {
      {"footer signature", footer, 0x12345678, 4},
      {"footer version", footer + 4, 1, 4},
      {"footer descriptor", footer + 36, 21, 8},
      {"footer says footer", footer + 56, ~uint64_t{0}, 8},
      {"marker type", marker + 12, 2, 4},
      {"marker padding", marker + 100, 1, 1},
      {"end-of-stream marker", vmdk.size() - 512, 1, 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::string bent = vmdk;
    testing::PutLe(bent, c.offset, c.value, c.width);
    EXPECT_EQ(FailedChecks(Inspected(bent)), "footer");
  }
  EXPECT_EQ(FailedChecks(Inspected(vmdk.substr(0, 1800))), "header");  // descriptor cut short
}

TEST(InspectorTest, DescriptorOnlyVmdkIsAlwaysRefused) {
  // What qemu-img writes for monolithicFlat: this file, and the data in another one.
  const std::string flat =
      testing::VmdkDescriptor("monolithicFlat", "RW 131072 FLAT \"disk-flat.vmdk\" 0");
  Inspection i = Inspected(flat);
  EXPECT_EQ(i.format, ImageFormat::kVmdk);
  EXPECT_EQ(FailedChecks(i), "descriptor,descriptor");
  EXPECT_EQ(i.virtual_size, std::nullopt);

  // Even one that would pass oslo's checks.
  std::string sparse = testing::VmdkDescriptor("monolithicSparse", "RW 1 SPARSE \"other\"");
  sparse.resize(4000, '\n');
  i = Inspected(sparse);
  EXPECT_EQ(i.format, ImageFormat::kVmdk);
  EXPECT_EQ(FailedChecks(i), "descriptor");
}

TEST(InspectorTest, TextWithoutCreateTypeIsRaw) {
  EXPECT_EQ(Inspected(std::string(3000, 'a') + "\n").format, ImageFormat::kRaw);
  EXPECT_EQ(Inspected("#!/bin/sh\necho hello\n").format, ImageFormat::kRaw);
}

TEST(InspectorTest, VhdVdiAndTruncatedHeaders) {
  std::string vhd(1024, '\0');
  vhd.replace(0, 8, "conectix");
  testing::PutBe(vhd, 40, 1 << 26, 8);
  Inspection i = Inspected(vhd);
  EXPECT_EQ(i.format, ImageFormat::kVhd);
  EXPECT_EQ(i.virtual_size, 1u << 26);
  EXPECT_EQ(FailedChecks(Inspected(vhd.substr(0, 20))), "header");

  std::string vdi(1024, '\0');
  vdi.replace(0, 4, "<<< ");
  testing::PutLe(vdi, 0x40, 0xbeda107f, 4);
  testing::PutLe(vdi, 0x170, 1 << 27, 8);
  i = Inspected(vdi);
  EXPECT_EQ(i.format, ImageFormat::kVdi);
  EXPECT_EQ(i.virtual_size, 1u << 27);
  EXPECT_EQ(FailedChecks(Inspected(vdi.substr(0, 0x100))), "header");
}

}  // namespace
}  // namespace gaze::imageformat
