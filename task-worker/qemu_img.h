// qemu-img, as the "convert" import plugin uses it: `info` to learn what qemu sees in a file
// and `convert` to rewrite it in the target format. Both run contained (subprocess.h) with the
// input format always given with -f, so qemu-img never probes: a raw image whose first bytes
// look like a qcow2 header is read as raw, not as a qcow2 pointing at a backing file of the
// attacker's choice. Callers inspect the file with services/imageformat before qemu-img sees it.
#pragma once

#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gaze::worker {

struct QemuImgOptions {
  // Resolved on $PATH when it has no '/'.
  std::string program = "qemu-img";
  // `info`: oslo.concurrency's limits for qemu-img info in Glance and Nova (1 GiB of address
  // space, 30 s of CPU), and a wall-clock bound.
  uint64_t info_address_space_bytes = uint64_t{1} << 30;
  uint64_t info_cpu_seconds = 30;
  absl::Duration info_timeout = absl::Minutes(1);
  // `convert`: writing qcow2 starts a pool of threads whose stacks alone reserve more than
  // 1 GiB of address space, hence 2 GiB. The CPU limit is the timeout's.
  uint64_t convert_address_space_bytes = uint64_t{2} << 30;
  absl::Duration convert_timeout = absl::Hours(1);
};

// What `qemu-img info --output=json` says about a file.
struct QemuImgInfo {
  std::string format;
  uint64_t virtual_size = 0;
  std::optional<std::string> backing_file;
  // qcow2 "data-file": the guest data lives in another file.
  std::optional<std::string> data_file;
  // vmdk "create-type", e.g. "monolithicSparse".
  std::optional<std::string> vmdk_create_type;
};

// The checks Glance's image_conversion plugin makes on qemu-img info before converting: the
// format is the one expected, there is no backing file and no external data file, and a VMDK
// is monolithicSparse or streamOptimized. FAILED_PRECONDITION naming the problem otherwise.
absl::Status CheckQemuImgInfo(const QemuImgInfo& info, std::string_view expected_format);

class QemuImg {
 public:
  // NOT_FOUND when the program is not there.
  static absl::StatusOr<QemuImg> Create(QemuImgOptions options);

  // Errors: FAILED_PRECONDITION when qemu-img fails on the file or says something unreadable
  // (the message quotes qemu-img, with the file's path replaced by its role); DEADLINE_EXCEEDED,
  // CANCELLED, UNAVAILABLE as RunProcess reports them.
  absl::StatusOr<QemuImgInfo> Info(const std::string& path, std::string_view format,
                                   std::stop_token stop = {}) const;
  // Writes `output` (which must not exist) in `output_format`.
  absl::Status Convert(const std::string& input, std::string_view input_format,
                       const std::string& output, std::string_view output_format,
                       std::stop_token stop = {}) const;

  const std::string& program() const { return program_; }

 private:
  QemuImg(std::string program, QemuImgOptions options)
      : program_(std::move(program)), options_(std::move(options)) {}

  std::string program_;  // absolute
  QemuImgOptions options_;
};

}  // namespace gaze::worker
