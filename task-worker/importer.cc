#include "task-worker/importer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gaze/metadata/v1/metadata.pb.h"
#include "services/common/log.h"
#include "services/common/status_macros.h"
#include "services/imageformat/inspector.h"
#include "services/store/image_hasher.h"
#include "task-worker/decompressor.h"
#include "task-worker/lease_keeper.h"
#include "task-worker/qemu_img.h"
#include "task-worker/web_source.h"
#include "task-worker/work_dir.h"

namespace gaze::worker {
namespace {

namespace mv1 = ::gaze::metadata::v1;

constexpr size_t kChunk = 1 << 20;

// Inside the import, INVALID_ARGUMENT means "the source or the image is unacceptable": the
// task fails with the message, which the image owner reads. Every other error is the worker's
// or its dependencies' problem, and the task is tried again.
absl::Status Refused(absl::string_view message) { return absl::InvalidArgumentError(message); }
bool IsRefusal(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument;
}

absl::Status LeaseLost() { return absl::CancelledError("the task's lease was lost"); }

absl::Status LocalError(absl::string_view what, const std::string& path, int err) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", std::strerror(err)));
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // close(2) reports delayed write errors, so a file written to is closed with this.
  int Close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

absl::Status WriteAll(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return LocalError("write", path, errno);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Reads `fd` to its end in chunks; `each` sees every chunk and may stop the loop.
absl::Status ReadAll(int fd, const std::string& what,
                     const std::function<absl::Status(const char*, size_t)>& each) {
  std::vector<char> buffer(kChunk);
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return LocalError("read", what, errno);
    }
    if (n == 0) return absl::OkStatus();
    GAZE_RETURN_IF_ERROR(each(buffer.data(), static_cast<size_t>(n)));
  }
}

// The first pass over the source's bytes, as they arrive: decompressed (when asked), inspected
// (when asked) and written to a local file, within the size cap. Its errors are already sorted
// into refusals and local failures.
class Intake {
 public:
  Intake(bool decompress, bool inspect, uint64_t cap) : cap_(cap) {
    if (decompress) {
      decompressor_ = std::make_unique<Decompressor>(
          cap, [this](const char* data, size_t size) { return Keep(data, size); });
    }
    if (inspect) inspector_.emplace();
  }

  absl::Status Open(const std::string& path) {
    path_ = path;
    fd_ = std::make_unique<Fd>(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd_->get() < 0) return LocalError("create", path, errno);
    return absl::OkStatus();
  }

  absl::Status Write(const char* data, size_t size) {
    if (decompressor_ != nullptr) return Sorted(decompressor_->Write(data, size));
    if (size > cap_ - bytes_) {
      return Refused(
          absl::StrCat("the image is larger than the image size cap of ", cap_, " bytes"));
    }
    return Keep(data, size);
  }

  // At the end of the source: the verdict on the data.
  absl::Status Finish() {
    if (decompressor_ != nullptr) GAZE_RETURN_IF_ERROR(Sorted(decompressor_->Finish()));
    if (fd_->Close() != 0) return LocalError("close", path_, errno);
    if (inspector_) {
      absl::StatusOr<imageformat::Inspection> inspection = inspector_->Finish();
      if (!inspection.ok()) {
        return Refused(absl::StrCat("the image data is not a valid disk image: ",
                                    inspection.status().message()));
      }
      inspection_ = *std::move(inspection);
    }
    return absl::OkStatus();
  }

  Compression compression() const {
    return decompressor_ != nullptr ? decompressor_->compression() : Compression::kNone;
  }
  // Set after Finish() when the data was inspected.
  const std::optional<imageformat::Inspection>& inspection() const { return inspection_; }

 private:
  // The (decompressed) data: to the inspector and the file.
  absl::Status Keep(const char* data, size_t size) {
    if (inspector_) inspector_->Feed(data, size);
    bytes_ += size;
    file_error_ = WriteAll(fd_->get(), data, size, path_);
    return file_error_;
  }

  // The decompressor's errors: the file's, or the data's.
  absl::Status Sorted(absl::Status status) {
    if (status.ok() || !file_error_.ok()) return file_error_;
    switch (status.code()) {
      case absl::StatusCode::kInvalidArgument:
      case absl::StatusCode::kResourceExhausted:
        return Refused(absl::StrCat("cannot decompress the image: ", status.message()));
      default:
        return status;
    }
  }

  const uint64_t cap_;
  std::unique_ptr<Decompressor> decompressor_;
  std::optional<imageformat::Inspector> inspector_;
  std::optional<imageformat::Inspection> inspection_;
  std::string path_;
  std::unique_ptr<Fd> fd_;
  uint64_t bytes_ = 0;
  absl::Status file_error_;
};

// qemu-img's errors: the image's (it cannot be read or converted, or takes too long), ours.
absl::Status SortQemuError(const absl::Status& status, absl::string_view what) {
  switch (status.code()) {
    case absl::StatusCode::kFailedPrecondition:
      return Refused(absl::StrCat(what, ": ", status.message()));
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
      return Refused(absl::StrCat(what, ": qemu-img ", status.message()));
    case absl::StatusCode::kCancelled:
      return LeaseLost();
    default:
      return status;
  }
}

const char* MethodName(mv1::ImportMethod method) {
  switch (method) {
    case mv1::IMPORT_METHOD_GLANCE_DIRECT:
      return "glance-direct";
    case mv1::IMPORT_METHOD_WEB_DOWNLOAD:
      return "web-download";
    case mv1::IMPORT_METHOD_COPY_IMAGE:
      return "copy-image";
    case mv1::IMPORT_METHOD_GLANCE_DOWNLOAD:
      return "glance-download";
    default:
      return "unspecified";
  }
}

}  // namespace

struct Importer::Attempt {
  const mv1::Task& task;
  const std::string& request_id;
  int number;
  std::string object_url;
  std::string dir;  // local
  LeaseKeeper& keeper;
};

struct Importer::Result {
  store::ImageDigests digests;
  std::optional<uint64_t> virtual_size;
  std::string disk_format;
  std::string container_format;
};

Importer::Importer(ImportOptions options, TaskService& tasks, store::Store& store, WebSource& web,
                   const QemuImg* qemu_img, const WorkDir& work_dir, WorkerPool* hash_pool)
    : options_(std::move(options)),
      tasks_(tasks),
      store_(store),
      web_(web),
      qemu_img_(qemu_img),
      work_dir_(work_dir),
      hash_pool_(hash_pool) {
  if (options_.plugins.Has(ImportPlugin::kConvert) && qemu_img_ == nullptr) {
    log::Error("the convert plugin needs qemu-img");  // main.cc wires it: a programming error
    std::abort();
  }
}

std::string Importer::ObjectUrl(const store::Store& store, const std::string& image_id,
                                const std::string& task_id, int attempt) {
  return store.UrlFor(image_id, absl::StrCat("import-", task_id, "-", attempt));
}

Disposition Importer::Run(const mv1::Task& task, const std::string& request_id) {
  // ClaimTask counted this attempt; 0 only from a metadata-svc that does not count.
  const int number = std::max(1, task.attempts());
  std::optional<LeaseKeeper> keeper(std::in_place, tasks_,
                                    LeaseKeeper::Options{.task_id = task.id(),
                                                         .worker_id = options_.worker_id,
                                                         .request_id = request_id,
                                                         .lease_seconds = options_.lease_seconds,
                                                         .interval = options_.progress_interval});
  Attempt attempt{task, request_id, number, ObjectUrl(store_, task.image_id(), task.id(), number),
                  "",   *keeper};
  log::Info("importing image")
      .RequestId(request_id)
      .Field("task_id", task.id())
      .Field("image_id", task.image_id())
      .Field("method", MethodName(task.import().method()))
      .Field("attempt", number);

  work_dir_.Sweep();
  absl::StatusOr<std::string> dir = work_dir_.CreateTaskDir(task.id(), number);
  if (!dir.ok()) {
    log::Warning("cannot create the import's work directory; will retry")
        .RequestId(request_id)
        .Field("task_id", task.id())
        .Field("error", dir.status().ToString());
    return Disposition::kRequeue;
  }
  attempt.dir = *dir;
  absl::StatusOr<Result> result =
      task.has_import() ? Import(attempt) : Refused("IMPORT task without import input");
  work_dir_.RemoveTaskDir(*dir);
  const bool lost = keeper->lost();
  // No renewal may race with FinishImport and read its compare-and-set as a lost lease.
  keeper.reset();
  if (lost) {
    DeleteObject(attempt);
    log::Warning("import stopped: the task's lease was lost; acknowledging")
        .RequestId(request_id)
        .Field("task_id", task.id());
    return Disposition::kAck;
  }

  mv1::FinishImportRequest request;
  request.set_task_id(task.id());
  request.set_worker_id(options_.worker_id);
  for (int earlier = 1; earlier < number; ++earlier) {
    request.add_discard_urls(ObjectUrl(store_, task.image_id(), task.id(), earlier));
  }
  if (!result.ok()) {
    if (!IsRefusal(result.status())) {
      DeleteObject(attempt);
      log::Warning("import failed transiently; will retry")
          .RequestId(request_id)
          .Field("task_id", task.id())
          .Field("error", result.status().ToString());
      return Disposition::kRequeue;
    }
    request.set_success(false);
    request.set_message(std::string(result.status().message()));
    request.add_discard_urls(attempt.object_url);
    return Finish(attempt, std::move(request));
  }
  request.set_success(true);
  request.set_message(absl::StrCat("Copied ", result->digests.size >> 20, " MiB"));
  request.set_size(static_cast<int64_t>(result->digests.size));
  request.set_checksum(result->digests.checksum);
  request.set_os_hash_algo(result->digests.os_hash_algo);
  request.set_os_hash_value(result->digests.os_hash_value);
  if (result->virtual_size) request.set_virtual_size(static_cast<int64_t>(*result->virtual_size));
  request.set_disk_format(result->disk_format);
  request.set_container_format(result->container_format);
  request.mutable_location()->set_url(attempt.object_url);
  if (options_.plugins.Has(ImportPlugin::kInject)) {
    request.mutable_set_properties()->insert(options_.inject_properties.begin(),
                                             options_.inject_properties.end());
  }
  return Finish(attempt, std::move(request));
}

absl::StatusOr<Importer::Result> Importer::Import(const Attempt& attempt) {
  const mv1::ImportInput& input = attempt.task.import();
  LeaseKeeper& keeper = attempt.keeper;
  const std::stop_token stop = keeper.stop_token();
  const std::string& container = input.container_format();
  // As on PUT /file: bare images are inspected, other containers (ova, docker, ...) are not
  // disk images and are stored as they are; qemu-img only ever sees inspected images.
  Intake intake(options_.plugins.Has(ImportPlugin::kDecompress) && container != "compressed",
                /*inspect=*/container == "bare", options_.image_size_cap);
  const std::string source_path = attempt.dir + "/source";
  GAZE_RETURN_IF_ERROR(intake.Open(source_path));

  keeper.StartStage("fetching", "Copied", 0);
  uint64_t fetched = 0;
  auto progress = [&](size_t n) -> absl::Status {
    fetched += n;
    keeper.SetBytesDone(fetched);
    return stop.stop_requested() ? LeaseLost() : absl::OkStatus();
  };
  switch (input.method()) {
    case mv1::IMPORT_METHOD_GLANCE_DIRECT: {
      if (input.staging_url().empty()) return Refused("the image has no staged data to import");
      absl::StatusOr<store::ReadableObject> staged = store_.Open(input.staging_url());
      if (!staged.ok()) {
        switch (staged.status().code()) {
          case absl::StatusCode::kNotFound:
            return Refused("the staged data of the image is gone");
          case absl::StatusCode::kInvalidArgument:
            return Refused("the staged data is not in a store this worker can read");
          default:
            return staged.status();
        }
      }
      if (staged->size() > options_.image_size_cap) {
        return Refused(absl::StrCat("the staged data (", staged->size(),
                                    " bytes) is larger than the image size cap of ",
                                    options_.image_size_cap, " bytes"));
      }
      keeper.SetBytesTotal(staged->size());
      GAZE_RETURN_IF_ERROR(
          ReadAll(staged->fd(), input.staging_url(), [&](const char* data, size_t size) {
            GAZE_RETURN_IF_ERROR(intake.Write(data, size));
            return progress(size);
          }));
      break;
    }
    case mv1::IMPORT_METHOD_WEB_DOWNLOAD: {
      if (input.uri().empty()) return Refused("web-download without a URI");
      absl::Status sink_error;
      const absl::Status fetched_status = web_.Fetch(
          input.uri(),
          [&](const char* data, size_t size) {
            sink_error = intake.Write(data, size);
            return sink_error;
          },
          [&](uint64_t bytes, std::optional<uint64_t> total) {
            keeper.SetBytesDone(bytes);
            if (total) keeper.SetBytesTotal(*total);
          },
          stop);
      if (!sink_error.ok()) return sink_error;
      if (stop.stop_requested()) return LeaseLost();
      if (!fetched_status.ok()) {
        return Refused(absl::StrCat("cannot download the image: ", fetched_status.message()));
      }
      break;
    }
    default:
      return Refused(absl::StrCat("the ", MethodName(input.method()),
                                  " import method is not supported by this worker"));
  }
  GAZE_RETURN_IF_ERROR(intake.Finish());
  if (intake.compression() != Compression::kNone) {
    log::Info("decompressed the image")
        .RequestId(attempt.request_id)
        .Field("task_id", attempt.task.id())
        .Field("compression", CompressionName(intake.compression()));
  }

  Result result{.digests = {},
                .virtual_size = std::nullopt,
                .disk_format = input.disk_format(),
                .container_format = container};
  std::string stored_path = source_path;
  bool converted = false;
  if (const std::optional<imageformat::Inspection>& inspection = intake.inspection()) {
    absl::StatusOr<imageformat::Acceptance> accepted =
        imageformat::CheckDiskFormat(*inspection, input.disk_format());
    if (!accepted.ok()) return Refused(accepted.status().message());
    result.virtual_size = accepted->virtual_size;
    const std::optional<std::string> from =
        options_.plugins.Has(ImportPlugin::kConvert)
            ? ConversionSourceFormat(input.disk_format(), *inspection)
            : std::nullopt;
    if (from && *from != options_.convert_to) {
      keeper.StartStage(
          "converting",
          absl::StrCat("Converting from ", input.disk_format(), " to ", options_.convert_to),
          std::nullopt);
      const std::string output = attempt.dir + "/converted";
      GAZE_ASSIGN_OR_RETURN(result.virtual_size, Convert(source_path, *from, output, stop));
      ::unlink(source_path.c_str());  // local disk is precious: 1 TiB images exist
      stored_path = output;
      result.disk_format = options_.convert_to;
      result.container_format = "bare";
      converted = true;
    }
  }
  if (stop.stop_requested()) return LeaseLost();

  // Storing, with the converted image inspected a second time on the way: what qemu-img wrote
  // must be what was asked for, and safe.
  Fd file(::open(stored_path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (file.get() < 0 || ::fstat(file.get(), &st) != 0) {
    return LocalError("open", stored_path, errno);
  }
  keeper.StartStage("storing", "Stored", static_cast<uint64_t>(st.st_size));
  absl::StatusOr<std::unique_ptr<store::ObjectWriter>> writer = store_.Create(attempt.object_url);
  if (!writer.ok()) return writer.status();
  absl::StatusOr<store::ImageHasher> hasher =
      store::ImageHasher::Create(options_.os_hash_algo, hash_pool_);
  if (!hasher.ok()) return hasher.status();
  std::optional<imageformat::Inspector> reinspector;
  if (converted) reinspector.emplace();
  uint64_t stored = 0;
  GAZE_RETURN_IF_ERROR(ReadAll(file.get(), stored_path, [&](const char* data, size_t size) {
    hasher->Update(data, size);
    if (reinspector) reinspector->Feed(data, size);
    GAZE_RETURN_IF_ERROR((*writer)->Write(data, size));
    stored += size;
    keeper.SetBytesDone(stored);
    return stop.stop_requested() ? LeaseLost() : absl::OkStatus();
  }));
  if (reinspector) {
    absl::StatusOr<imageformat::Inspection> inspection = reinspector->Finish();
    absl::StatusOr<imageformat::Acceptance> accepted =
        inspection.ok() ? imageformat::CheckDiskFormat(*inspection, options_.convert_to)
                        : absl::StatusOr<imageformat::Acceptance>(inspection.status());
    if (!accepted.ok()) {
      return Refused(
          absl::StrCat("the converted image failed inspection: ", accepted.status().message()));
    }
  }
  GAZE_RETURN_IF_ERROR((*writer)->Commit());
  result.digests = hasher->Finish();
  return result;
}

absl::StatusOr<uint64_t> Importer::Convert(const std::string& input, const std::string& from,
                                           const std::string& output, std::stop_token stop) {
  const std::string& to = options_.convert_to;
  absl::StatusOr<QemuImgInfo> info = qemu_img_->Info(input, from, stop);
  if (!info.ok()) return SortQemuError(info.status(), "qemu-img cannot read the image");
  if (absl::Status safe = CheckQemuImgInfo(*info, from); !safe.ok()) {
    return Refused(absl::StrCat("the image is refused: ", safe.message()));
  }
  if (to == "raw" && info->virtual_size > options_.image_size_cap) {
    return Refused(absl::StrCat("converted to raw, the image would be ", info->virtual_size,
                                " bytes, more than the image size cap of ", options_.image_size_cap,
                                " bytes"));
  }
  if (absl::Status done = qemu_img_->Convert(input, from, output, to, stop); !done.ok()) {
    return SortQemuError(done, absl::StrCat("cannot convert the image to ", to));
  }
  absl::StatusOr<QemuImgInfo> out = qemu_img_->Info(output, to, stop);
  if (!out.ok()) return SortQemuError(out.status(), "qemu-img cannot read the converted image");
  if (absl::Status safe = CheckQemuImgInfo(*out, to); !safe.ok()) {
    return Refused(absl::StrCat("the converted image is refused: ", safe.message()));
  }
  struct stat st {};
  if (::stat(output.c_str(), &st) != 0) return LocalError("stat", output, errno);
  if (static_cast<uint64_t>(st.st_size) > options_.image_size_cap) {
    return Refused(absl::StrCat("the converted image is larger than the image size cap of ",
                                options_.image_size_cap, " bytes"));
  }
  return out->virtual_size;
}

Disposition Importer::Finish(const Attempt& attempt, mv1::FinishImportRequest request) {
  const std::string& task_id = attempt.task.id();
  const absl::StatusOr<mv1::FinishImportResponse> finished =
      tasks_.FinishImport(request, attempt.request_id);
  if (finished.ok()) {
    if (finished->status() == mv1::TASK_STATUS_SUCCESS) {
      log::Info("import succeeded")
          .RequestId(attempt.request_id)
          .Field("task_id", task_id)
          .Field("image_id", attempt.task.image_id())
          .Field("size", static_cast<int64_t>(request.size()))
          .Field("disk_format", request.disk_format());
    } else {
      // For a success metadata-svc could not apply (the image was deleted meanwhile, or the
      // data no longer fits the quota), it has queued the stored data for deletion itself.
      log::Error(request.success() ? "import not applied: metadata-svc failed the task"
                                   : "import failed")
          .RequestId(attempt.request_id)
          .Field("task_id", task_id)
          .Field("image_id", attempt.task.image_id())
          .Field("error", request.message());
    }
    return Disposition::kAck;
  }
  switch (finished.status().code()) {
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
      // Another worker holds the task now, or it is gone: nothing points at our object.
      if (request.success()) DeleteObject(attempt);
      log::Warning("task no longer ours to finish; acknowledging")
          .RequestId(attempt.request_id)
          .Field("task_id", task_id)
          .Field("error", finished.status().ToString());
      return Disposition::kAck;
    case absl::StatusCode::kInvalidArgument:
      // metadata-svc will not take this result as it is: rather than leave the image importing
      // until the attempts run out, the import fails with the reason.
      if (request.success()) {
        log::Error("metadata-svc refused the import's result; recording a failure")
            .RequestId(attempt.request_id)
            .Field("task_id", task_id)
            .Field("error", finished.status().ToString());
        mv1::FinishImportRequest failure;
        failure.set_task_id(task_id);
        failure.set_worker_id(options_.worker_id);
        failure.set_success(false);
        failure.set_message(std::string(finished.status().message()));
        *failure.mutable_discard_urls() = request.discard_urls();
        failure.add_discard_urls(attempt.object_url);
        return Finish(attempt, std::move(failure));
      }
      break;
    default:
      break;
  }
  // The outcome may have been recorded and only the answer lost, so the object stays: the image
  // may point at it now. If it does not, the next attempt lists it in discard_urls.
  log::Warning("cannot record the import's outcome; will retry")
      .RequestId(attempt.request_id)
      .Field("task_id", task_id)
      .Field("error", finished.status().ToString());
  return Disposition::kRequeue;
}

void Importer::DeleteObject(const Attempt& attempt) {
  if (absl::Status deleted = store_.Delete(attempt.object_url); !deleted.ok()) {
    // The next attempt, or the sweeper, removes it.
    log::Warning("cannot delete the import's object")
        .RequestId(attempt.request_id)
        .Field("task_id", attempt.task.id())
        .Field("url", attempt.object_url)
        .Field("error", deleted.ToString());
  }
}

}  // namespace gaze::worker
