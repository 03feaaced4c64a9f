#include "task-worker/qemu_img.h"

#include <algorithm>
#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "task-worker/subprocess.h"

namespace gaze::worker {
namespace {

namespace json = boost::json;

// Glance's [image_format] vmdk_allowed_types default.
constexpr std::string_view kAllowedVmdkTypes[] = {"monolithicSparse", "streamOptimized"};
// Enough of qemu-img's complaint to tell the owner what is wrong with the image.
constexpr size_t kMaxMessage = 500;

// qemu-img's standard error, fit for the image owner: the worker's file paths replaced by what
// the files are, on one line, bounded.
std::string Complaint(
    std::string err, std::initializer_list<std::pair<absl::string_view, absl::string_view>> names) {
  err = absl::StrReplaceAll(err, names);
  std::replace(err.begin(), err.end(), '\n', ' ');
  absl::string_view text = absl::StripAsciiWhitespace(err);
  if (text.size() > kMaxMessage) text = text.substr(0, kMaxMessage);
  return std::string(text);
}

absl::Status Failed(absl::string_view what, const ProcessResult& result, std::string complaint) {
  std::string how = result.signal != 0 ? absl::StrCat("was killed by signal ", result.signal,
                                                      " (a resource limit was reached?)")
                                       : absl::StrCat("failed with exit status ", result.exit_code);
  if (!complaint.empty()) absl::StrAppend(&how, ": ", complaint);
  return absl::FailedPreconditionError(absl::StrCat(what, " ", how));
}

const json::object* ObjectAt(const json::object& parent, std::string_view key) {
  const json::value* v = parent.if_contains(key);
  return v != nullptr ? v->if_object() : nullptr;
}

std::optional<std::string> StringAt(const json::object& parent, std::string_view key) {
  const json::value* v = parent.if_contains(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

absl::StatusOr<QemuImgInfo> ParseInfo(std::string_view out) {
  boost::system::error_code ec;
  json::value doc = json::parse(out, ec);
  const json::object* root = ec ? nullptr : doc.if_object();
  if (root == nullptr) return absl::FailedPreconditionError("qemu-img info gave no JSON object");
  QemuImgInfo info;
  std::optional<std::string> format = StringAt(*root, "format");
  const json::value* size = root->if_contains("virtual-size");
  if (!format || size == nullptr || !(size->is_int64() || size->is_uint64()) ||
      (size->is_int64() && size->get_int64() < 0)) {
    return absl::FailedPreconditionError("qemu-img info gave no format or virtual size");
  }
  info.format = *std::move(format);
  info.virtual_size =
      size->is_uint64() ? size->get_uint64() : static_cast<uint64_t>(size->get_int64());
  info.backing_file = StringAt(*root, "backing-filename");
  if (const json::object* specific = ObjectAt(*root, "format-specific")) {
    if (const json::object* data = ObjectAt(*specific, "data")) {
      info.data_file = StringAt(*data, "data-file");
      if (info.format == "vmdk") info.vmdk_create_type = StringAt(*data, "create-type");
    }
  }
  return info;
}

}  // namespace

absl::Status CheckQemuImgInfo(const QemuImgInfo& info, std::string_view expected_format) {
  if (info.format != expected_format) {
    return absl::FailedPreconditionError(absl::StrCat(
        "qemu-img sees a ", info.format, " image where ",
        absl::string_view(expected_format.data(), expected_format.size()), " was expected"));
  }
  if (info.backing_file) {
    return absl::FailedPreconditionError("images with a backing file are not allowed");
  }
  if (info.data_file) {
    return absl::FailedPreconditionError("qcow2 images with an external data file are not allowed");
  }
  if (info.format == "vmdk" &&
      (!info.vmdk_create_type ||
       std::find(std::begin(kAllowedVmdkTypes), std::end(kAllowedVmdkTypes),
                 *info.vmdk_create_type) == std::end(kAllowedVmdkTypes))) {
    return absl::FailedPreconditionError(
        absl::StrCat("VMDK create type \"", info.vmdk_create_type.value_or(""),
                     "\" is not allowed (only monolithicSparse and streamOptimized)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<QemuImg> QemuImg::Create(QemuImgOptions options) {
  absl::StatusOr<std::string> program = FindExecutable(options.program);
  if (!program.ok()) return program.status();
  return QemuImg(*std::move(program), std::move(options));
}

absl::StatusOr<QemuImgInfo> QemuImg::Info(const std::string& path, std::string_view format,
                                          std::stop_token stop) const {
  ProcessLimits limits;
  limits.address_space_bytes = options_.info_address_space_bytes;
  limits.cpu_seconds = options_.info_cpu_seconds;
  limits.timeout = options_.info_timeout;
  absl::StatusOr<ProcessResult> run = RunProcess(
      {program_, "info", "-f", std::string(format), "--output=json", path}, limits, stop);
  if (!run.ok()) return run.status();
  if (run->exit_code != 0) {
    return Failed("qemu-img info", *run, Complaint(run->err, {{path, "the image"}}));
  }
  return ParseInfo(run->out);
}

absl::Status QemuImg::Convert(const std::string& input, std::string_view input_format,
                              const std::string& output, std::string_view output_format,
                              std::stop_token stop) const {
  ProcessLimits limits;
  limits.address_space_bytes = options_.convert_address_space_bytes;
  limits.cpu_seconds =
      static_cast<uint64_t>(std::max<int64_t>(1, absl::ToInt64Seconds(options_.convert_timeout)));
  limits.timeout = options_.convert_timeout;
  absl::StatusOr<ProcessResult> run =
      RunProcess({program_, "convert", "-f", std::string(input_format), "-O",
                  std::string(output_format), input, output},
                 limits, stop);
  if (!run.ok()) return run.status();
  if (run->exit_code != 0) {
    return Failed("qemu-img convert", *run,
                  Complaint(run->err, {{input, "the image"}, {output, "the output"}}));
  }
  return absl::OkStatus();
}

}  // namespace gaze::worker
