// VMDK (oslo.utils VMDKInspector): a hosted sparse extent ("KDMV" header, embedded text
// descriptor at sector 1, and for stream-optimized images possibly a footer), or a bare text
// descriptor file whose extents are other files.
// https://www.vmware.com/app/vmdk/?src=vmdk
//
// Beyond oslo: a descriptor-only VMDK is always refused (its data lives in files beside it, which
// for an uploaded image means files of the host), and so is a descriptor that carries
// parentFileNameHint, which qemu's vmdk driver turns into a backing file it opens from the host.
#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/imageformat/probe.h"

namespace gaze::imageformat::internal {
namespace {

using namespace std::string_view_literals;

constexpr uint64_t kSector = 512;
// Where the embedded descriptor must start, and its size limit: oslo's DESC_OFFSET and
// DESC_MAX_SIZE, both hard-coded in qemu too.
constexpr uint64_t kDescriptorOffset = 512;
constexpr uint64_t kMaxDescriptor = (uint64_t{1} << 20) - 1;
// qemu's vmdk_parent_open() looks for parentFileNameHint in this many bytes at the descriptor
// offset, whatever size the header declares.
constexpr uint64_t kQemuDescriptorWindow = 20 * kSector;
// gdOffset value meaning "the grain directory is in the footer" (stream-optimized images).
constexpr uint64_t kGdAtEnd = std::numeric_limits<uint64_t>::max();
// Footer marker, footer (a copy of the header), end-of-stream marker.
constexpr size_t kFooterSize = 3 * kSector;

// Printable ASCII or whitespace, which is how oslo tells a descriptor file from binary data.
bool IsText(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) {
    return (c >= 0x20 && c <= 0x7e) || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
           c == '\r';
  });
}

std::string_view UpToNul(std::string_view bytes) { return bytes.substr(0, bytes.find('\0')); }

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Strip(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\v\f\r";
  const size_t first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

// A descriptor line as it may appear in a client-facing message: short and printable.
std::string Quote(std::string_view line) {
  std::string out(line.substr(0, 80));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return absl::StrCat("\"", out, line.size() > 80 ? "...\"" : "\"");
}

// The descriptor text, lower-cased (VMDK descriptors are case-insensitive), and its createType.
struct Descriptor {
  std::string text;
  std::optional<std::string> create_type;
};

// Nullopt when the bytes are not ASCII (oslo fails to decode them).
std::optional<Descriptor> ReadDescriptor(std::string_view bytes) {
  // The embedded descriptor is NUL-padded; the text ends at the first NUL.
  const std::string_view raw = UpToNul(bytes);
  if (std::any_of(raw.begin(), raw.end(), [](char c) { return (c & 0x80) != 0; })) {
    return std::nullopt;
  }
  Descriptor d{Lower(raw), std::nullopt};
  constexpr std::string_view kKey = "createtype=\"";
  if (const size_t at = d.text.find(kKey); at != std::string::npos) {
    const size_t start = at + kKey.size();
    const size_t end = d.text.find('"', start);
    // oslo ignores an implausibly long value rather than carrying it around.
    if (end != std::string::npos && end - start < 64) {
      d.create_type = d.text.substr(start, end - start);
    }
  }
  return d;
}

// The single-file create types, the only ones oslo accepts.
bool SupportedType(const Descriptor& d) {
  return d.create_type == "monolithicsparse" || d.create_type == "streamoptimized";
}

// oslo check "descriptor": a supported create type, and every line must be one oslo
// understands; extents must not name paths and there must be at least one.
std::optional<SafetyFailure> CheckDescriptor(const Descriptor& d) {
  if (!SupportedType(d)) {
    return SafetyFailure{"descriptor",
                         absl::StrCat("unsupported VMDK create type ",
                                      d.create_type ? Quote(*d.create_type) : "(none)")};
  }
  std::vector<std::string_view> extents;
  std::string_view text = d.text;
  for (int line_number = 1; !text.empty(); ++line_number) {
    const size_t newline = text.find('\n');
    const std::string_view line = Strip(text.substr(0, newline));
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    if (line.empty() || line[0] == '#' || line.starts_with("ddb")) continue;
    if (const size_t eq = line.find('=');
        eq != std::string_view::npos && line.substr(0, eq).find(' ') == std::string_view::npos) {
      continue;  // a header field: one word, '=', a value
    }
    const std::string_view access = line.substr(0, line.find(' '));
    if (access == "rw"sv || access == "rdonly"sv || access == "noaccess"sv) {
      extents.push_back(line);
      continue;
    }
    return SafetyFailure{"descriptor", absl::StrCat("descriptor line ", line_number, " ",
                                                    Quote(line), " is not understood")};
  }
  for (std::string_view extent : extents) {
    if (extent.find('/') != std::string_view::npos) {
      return SafetyFailure{"descriptor",
                           absl::StrCat("the extent ", Quote(extent), " names a path")};
    }
  }
  if (extents.empty()) return SafetyFailure{"descriptor", "the descriptor defines no extents"};
  return std::nullopt;
}

// qemu reads parentFileNameHint (case-sensitively; this is stricter) anywhere in the text.
std::optional<SafetyFailure> CheckParent(std::string_view bytes) {
  if (Lower(UpToNul(bytes)).find("parentfilenamehint") == std::string::npos) return std::nullopt;
  return SafetyFailure{"parent", "the descriptor names a parent image (parentFileNameHint)"};
}

// oslo check "footer": the footer must repeat the header (signature, version, descriptor) with a
// real grain directory offset, between a valid footer marker and end-of-stream marker.
std::optional<SafetyFailure> CheckFooter(std::string_view header, std::string_view tail) {
  auto fail = [](std::string reason) { return SafetyFailure{"footer", std::move(reason)}; };
  if (tail.size() < kFooterSize) return fail("the image is too short to end with a footer");
  const std::string_view marker = tail.substr(0, kSector);
  const std::string_view footer = tail.substr(kSector, kSector);
  const std::string_view eos = tail.substr(2 * kSector, kSector);
  if (footer.substr(0, 4) != header.substr(0, 4)) {
    return fail("the footer signature differs from the header's");
  }
  if (footer.substr(4, 4) != header.substr(4, 4)) {
    return fail("the footer version differs from the header's");
  }
  if (footer.substr(28, 16) != header.substr(28, 16)) {
    return fail("the footer names a different descriptor than the header");
  }
  if (LoadLe(footer, 56, 8) == kGdAtEnd) return fail("the footer points at another footer");
  const auto zero = [](std::string_view b) {
    return std::all_of(b.begin(), b.end(), [](char c) { return c == 0; });
  };
  // Marker: numSectors (unchecked), size 0, type 3 (footer), zero padding.
  if (LoadLe(marker, 8, 4) != 0 || LoadLe(marker, 12, 4) != 3 || !zero(marker.substr(16))) {
    return fail("the footer marker is invalid");
  }
  if (!zero(eos)) return fail("the end-of-stream marker is invalid");
  return std::nullopt;
}

class VmdkProbe final : public Probe {
 public:
  VmdkProbe() : Probe(ImageFormat::kVmdk) { Want(header_, 0, kSector); }

  Outcome Finish(uint64_t total) override {
    if (kind_ == Kind::kUnknown) Classify();
    switch (kind_) {
      case Kind::kSparse:
        return FinishSparse(total);
      case Kind::kText:
        return FinishText();
      default:
        return {};
    }
  }

 private:
  enum class Kind { kUnknown, kSparse, kText, kOther };

  void OnComplete(Region& region) override {
    if (&region == &header_) Classify();
  }

  // Decides what the first sector (or all of a shorter stream) is.
  void Classify() {
    const std::string_view h = header_.data;
    if (h.starts_with("KDMV"sv)) {
      kind_ = Kind::kSparse;
      if (header_.complete()) ParseSparseHeader();
    } else if (h.size() >= 4 && IsText(h)) {
      kind_ = Kind::kText;
      if (header_.complete()) Want(descriptor_, kSector, kMaxDescriptor - kSector);
    } else {
      kind_ = Kind::kOther;
    }
  }

  // Little-endian SparseExtentHeader: version @4, capacity @12 (sectors), descriptor offset
  // @28 and size @36 (sectors), gdOffset @56. Fields oslo refuses to parse make it unsafe here.
  void ParseSparseHeader() {
    const std::string_view h = header_.data;
    if (const uint64_t version = LoadLe(h, 4, 4); version < 1 || version > 3) {
      return Fail("header", absl::StrCat("unsupported VMDK version ", version));
    }
    if (const uint64_t sector = LoadLe(h, 28, 8); sector != kDescriptorOffset / kSector) {
      return Fail("header", absl::StrCat("the descriptor is at sector ", sector, ", not 1"));
    }
    const uint64_t sectors = LoadLe(h, 36, 8);
    if (sectors == 0) return Fail("descriptor", "the header declares no descriptor");
    declared_ = sectors > kMaxDescriptor / kSector ? kMaxDescriptor : sectors * kSector;
    Want(descriptor_, kDescriptorOffset, std::max(declared_, kQemuDescriptorWindow));
    if (LoadLe(h, 56, 8) == kGdAtEnd) {
      has_footer_ = true;
      WantTail(kFooterSize);
    }
  }

  void Fail(const char* check, std::string reason) {
    failures_.push_back({check, std::move(reason)});
  }

  Outcome FinishSparse(uint64_t total) {
    Outcome out;
    out.matched = true;
    if (!header_.complete()) {
      out.failures.push_back(Truncated("VMDK header", header_, total));
      return out;
    }
    out.failures = std::move(failures_);
    if (declared_ == 0) return out;  // the header was refused
    const std::string_view captured = descriptor_.data;
    if (captured.size() < declared_) {
      out.failures.push_back(
          Truncated("VMDK descriptor", Region{kDescriptorOffset, declared_, {}}, total));
      return out;
    }
    const std::optional<Descriptor> descriptor = ReadDescriptor(captured.substr(0, declared_));
    if (!descriptor) {
      out.failures.push_back({"descriptor", "the descriptor is not ASCII text"});
    } else {
      if (auto failure = CheckDescriptor(*descriptor)) out.failures.push_back(*std::move(failure));
      // oslo reports the capacity for the supported create types only.
      if (SupportedType(*descriptor)) {
        const uint64_t capacity = LoadLe(header_.data, 12, 8);
        if (capacity <= std::numeric_limits<uint64_t>::max() / kSector) {
          out.virtual_size = capacity * kSector;
        } else {
          out.failures.push_back(
              {"header", absl::StrCat("capacity ", capacity, " sectors is out of range")});
        }
      }
    }
    if (auto failure = CheckParent(captured)) out.failures.push_back(*std::move(failure));
    if (has_footer_) {
      if (auto failure = CheckFooter(header_.data, tail())) {
        out.failures.push_back(*std::move(failure));
      }
    }
    return out;
  }

  // A descriptor file matches when it has a createType, as in oslo; it is never safe.
  Outcome FinishText() {
    const std::string text = header_.data + descriptor_.data;
    const std::optional<Descriptor> descriptor = ReadDescriptor(text);
    if (!descriptor || !descriptor->create_type) return {};
    Outcome out;
    out.matched = true;
    if (auto failure = CheckDescriptor(*descriptor)) out.failures.push_back(*std::move(failure));
    out.failures.push_back({"descriptor",
                            "a descriptor-only VMDK keeps its extents in other files, which "
                            "would be files of the host"});
    if (auto failure = CheckParent(text)) out.failures.push_back(*std::move(failure));
    return out;
  }

  Region header_, descriptor_;
  Kind kind_ = Kind::kUnknown;
  uint64_t declared_ = 0;  // descriptor bytes a valid sparse header declares
  bool has_footer_ = false;
  std::vector<SafetyFailure> failures_;  // found while parsing the sparse header
};

}  // namespace

std::unique_ptr<Probe> MakeVmdkProbe() { return std::make_unique<VmdkProbe>(); }

}  // namespace gaze::imageformat::internal
