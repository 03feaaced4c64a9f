// The formats decided by one fixed header region: qcow2, QED, VHD, VDI, ISO 9660/UDF, GPT/MBR
// and LUKS. Each mirrors the oslo.utils inspector of the same name; where a format's magic is
// present but the header is cut short, the format is still reported, as unsafe, instead of
// falling back to raw.
#include <string_view>

#include "absl/strings/str_cat.h"
#include "services/imageformat/probe.h"

namespace gaze::imageformat::internal {
namespace {

using namespace std::string_view_literals;

// A probe that captures one region and decides everything at the end of the stream.
class HeaderProbe : public Probe {
 protected:
  HeaderProbe(ImageFormat format, uint64_t offset, uint64_t length) : Probe(format) {
    Want(header_, offset, length);
  }
  void OnComplete(Region&) override {}

  // Outcome for content that carries the magic: matched, or matched and unsafe when the header
  // is incomplete (then `header_complete` is false and nothing else should be read).
  Outcome Matched(std::string_view what, uint64_t total, bool* header_complete) const {
    Outcome out;
    out.matched = true;
    *header_complete = header_.complete();
    if (!*header_complete) out.failures.push_back(Truncated(what, header_, total));
    return out;
  }

  Region header_;
};

// QcowInspector. Big-endian header: magic, version @4, backing_file_offset @8, size @24; from
// version 3 on, incompatible_features @72 and header_length @100.
// https://gitlab.com/qemu-project/qemu/-/blob/master/docs/interop/qcow2.txt
class Qcow2Probe final : public HeaderProbe {
 public:
  Qcow2Probe() : HeaderProbe(ImageFormat::kQcow2, 0, 104) {}

  Outcome Finish(uint64_t total) override {
    const std::string_view h = header_.data;
    if (!h.starts_with("QFI\xfb"sv)) return {};
    bool complete;
    Outcome out = Matched("qcow2 header", total, &complete);
    if (!complete) return out;
    out.virtual_size = LoadBe(h, 24, 8);
    // oslo check "backing_file": any backing file would make qemu open a host path.
    if (const uint64_t backing = LoadBe(h, 8, 8); backing != 0) {
      out.failures.push_back(
          {"backing_file",
           absl::StrCat("the image has a backing file (named at offset ", backing, ")")});
    }
    const uint64_t version = LoadBe(h, 4, 4);
    if (version == 3) {
      const uint64_t incompatible = LoadBe(h, 72, 8);
      // oslo check "data_file": incompatible bit 2 puts the guest data in an external file.
      if (incompatible & 0x4) {
        out.failures.push_back({"data_file",
                                "the image keeps its data in an external data file (incompatible "
                                "feature bit 2)"});
      }
      // oslo check "unknown_features": only bits 0-3 (dirty, corrupt, external data, compression
      // type) are known; qemu would interpret anything else in ways nobody inspected.
      if (const uint64_t unknown = incompatible & ~uint64_t{0xf}; unknown != 0) {
        out.failures.push_back(
            {"unknown_features",
             absl::StrCat("unknown incompatible feature bits 0x", absl::Hex(unknown))});
      }
    } else if (version != 2) {
      // oslo rejects v1 and anything newer than 3 in "unknown_features". Version 2 has no feature
      // bits (qemu ignores bytes 72+), so unlike oslo no data_file check reads them there.
      out.failures.push_back(
          {"unknown_features", absl::StrCat("unsupported qcow2 version ", version)});
    }
    return out;
  }
};

// QEDInspector: detected so that it can be refused; nothing supports QED any more.
class QedProbe final : public HeaderProbe {
 public:
  QedProbe() : HeaderProbe(ImageFormat::kQed, 0, 56) {}

  Outcome Finish(uint64_t total) override {
    const std::string_view h = header_.data;
    if (!h.starts_with("QED\0"sv)) return {};
    bool complete;
    Outcome out = Matched("QED header", total, &complete);
    if (complete) out.virtual_size = LoadLe(h, 48, 8);  // image_size
    out.failures.push_back({"banned", "QED images are not allowed"});
    return out;
  }
};

// VHDInspector: the 512-byte "conectix" footer copy at the start of a dynamic VHD; the current
// size is big-endian @40. A fixed VHD has its footer only at the end; qemu and oslo probe it as
// raw, and so does this.
class VhdProbe final : public HeaderProbe {
 public:
  VhdProbe() : HeaderProbe(ImageFormat::kVhd, 0, 48) {}

  Outcome Finish(uint64_t total) override {
    const std::string_view h = header_.data;
    if (!h.starts_with("conectix"sv)) return {};
    bool complete;
    Outcome out = Matched("VHD footer", total, &complete);
    if (complete) out.virtual_size = LoadBe(h, 40, 8);
    return out;
  }
};

// VDIInspector: little-endian signature 0xbeda107f @0x40, disk size @0x170.
class VdiProbe final : public HeaderProbe {
 public:
  VdiProbe() : HeaderProbe(ImageFormat::kVdi, 0, 0x178) {}

  Outcome Finish(uint64_t total) override {
    const std::string_view h = header_.data;
    if (h.size() < 0x44 || LoadLe(h, 0x40, 4) != 0xbeda107f) return {};
    bool complete;
    Outcome out = Matched("VDI header", total, &complete);
    if (complete) out.virtual_size = LoadLe(h, 0x170, 8);
    return out;
  }
};

// ISOInspector: the volume descriptor in sector 16 (after the 32 KiB system area) identifies
// ISO 9660 ("CD001") or UDF ("NSR02"/"NSR03"). A primary volume descriptor (type 1) gives the
// volume size: blocks (LE half of the both-endian field @80) times block size (@128).
class IsoProbe final : public HeaderProbe {
 public:
  IsoProbe() : HeaderProbe(ImageFormat::kIso, 32 * 1024, 2048) {}

  Outcome Finish(uint64_t) override {
    if (!header_.complete()) return {};
    const std::string_view h = header_.data;
    const std::string_view id = h.substr(1, 5);
    if (id != "CD001"sv && id != "NSR02"sv && id != "NSR03"sv) return {};
    Outcome out;
    out.matched = true;
    if (h[0] == 1) out.virtual_size = LoadLe(h, 80, 4) * LoadLe(h, 128, 2);
    return out;
  }
};

// GPTInspector: a boot sector ending in 0x55 0xAA that is not a FAT volume boot record. This
// covers GPT (behind its protective MBR) and plain MBR disks; the virtual size is the byte count.
// https://uefi.org/specs/UEFI/2.10/05_GUID_Partition_Table_Format.html
class GptProbe final : public HeaderProbe {
 public:
  GptProbe() : HeaderProbe(ImageFormat::kGpt, 0, 512) {}

  Outcome Finish(uint64_t total) override {
    if (!header_.complete()) return {};
    const std::string_view h = header_.data;
    // A FAT VBR has the same signature; two FATs on a fixed disk (media 0xF8) give it away.
    const bool fat = h[0x10] == 2 && static_cast<uint8_t>(h[0x15]) == 0xf8;
    if (LoadLe(h, 510, 2) != 0xaa55 || fat) return {};
    Outcome out;
    out.matched = true;
    out.virtual_size = total;
    if (auto failure = CheckPartitions(h)) out.failures.push_back(*std::move(failure));
    return out;
  }

 private:
  // oslo check "mbr", stopping at the first violation as oslo does. The protective-MBR rules are
  // reported as "gptmbr" so that gpt_safety_checks_nonfatal can tell them apart.
  static std::optional<SafetyFailure> CheckPartitions(std::string_view h) {
    unsigned used = 0;  // bit i: entry i defines a partition
    bool protective = false;
    for (size_t i = 0; i < 4; ++i) {
      const std::string_view entry = h.substr(446 + 16 * i, 16);
      const auto boot = static_cast<uint8_t>(entry[0]);
      if (boot != 0x00 && boot != 0x80) {
        return SafetyFailure{"mbr", absl::StrCat("partition entry ", i, " has invalid boot flag 0x",
                                                 absl::Hex(boot))};
      }
      const auto type = static_cast<uint8_t>(entry[4]);
      if (type != 0) used |= 1u << i;
      if (type == 0xee) {
        protective = true;
        if (entry.substr(1, 3) != "\x00\x02\x00"sv) {
          return SafetyFailure{"gptmbr", absl::StrCat("protective partition entry ", i,
                                                      " does not start at CHS 0/2/0")};
        }
        if (LoadLe(entry, 8, 4) != 1) {
          return SafetyFailure{
              "gptmbr", absl::StrCat("protective partition entry ", i, " does not start at LBA 1")};
        }
      }
    }
    if (protective && used != 1) {
      return SafetyFailure{"gptmbr",
                           "the protective MBR defines partitions besides the GPT one in entry 0"};
    }
    if (used == 0) return SafetyFailure{"mbr", "the MBR defines no partitions"};
    return std::nullopt;
  }
};

// LUKSInspector: big-endian LUKS1 header; version @6, payload offset in sectors @104. qemu only
// opens LUKS1, so any other version is refused.
// https://gitlab.com/cryptsetup/cryptsetup/-/wikis/LUKS-standard/on-disk-format.pdf
class LuksProbe final : public HeaderProbe {
 public:
  LuksProbe() : HeaderProbe(ImageFormat::kLuks, 0, 108) {}

  Outcome Finish(uint64_t total) override {
    const std::string_view h = header_.data;
    if (!h.starts_with("LUKS\xba\xbe"sv)) return {};
    bool complete;
    Outcome out = Matched("LUKS header", total, &complete);
    if (!complete) return out;
    // oslo check "version".
    if (const uint64_t version = LoadBe(h, 6, 2); version != 1) {
      out.failures.push_back(
          {"version", absl::StrCat("LUKS version ", version, " is not supported")});
      return out;
    }
    const uint64_t payload = LoadBe(h, 104, 4) * 512;
    if (payload > total) {
      out.failures.push_back({"header", absl::StrCat("the LUKS payload offset ", payload,
                                                     " is beyond the end of the image")});
    } else {
      out.virtual_size = total - payload;
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<Probe> MakeQcow2Probe() { return std::make_unique<Qcow2Probe>(); }
std::unique_ptr<Probe> MakeQedProbe() { return std::make_unique<QedProbe>(); }
std::unique_ptr<Probe> MakeVhdProbe() { return std::make_unique<VhdProbe>(); }
std::unique_ptr<Probe> MakeVdiProbe() { return std::make_unique<VdiProbe>(); }
std::unique_ptr<Probe> MakeIsoProbe() { return std::make_unique<IsoProbe>(); }
std::unique_ptr<Probe> MakeGptProbe() { return std::make_unique<GptProbe>(); }
std::unique_ptr<Probe> MakeLuksProbe() { return std::make_unique<LuksProbe>(); }

}  // namespace gaze::imageformat::internal
