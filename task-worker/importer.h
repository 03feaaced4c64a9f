// Runs IMPORT tasks (Glance's api_image_import; contract §6): gets the source bytes, puts them
// through the plugin pipeline (import_plugins.h) and stores the result as the image's data.
//
//   fetching   glance-direct: the staged object, read from the store; web-download: the URI,
//              through WebSource. In the same pass: decompressed, inspected and written to a
//              local file in this attempt's work directory (work_dir.h).
//   converting qemu-img info + convert to --convert_to, on local files; the output is
//              inspected again while it is stored.
//   storing    the result is written to the store under a name of its own, hashed (md5 and
//              the os_hash algorithm) as it goes, fsynced and renamed into place.
// then TaskService.FinishImport with the outcome, and the local files are removed. The lease is
// renewed throughout (lease_keeper.h); when it is lost the work stops at once.
//
// Crash safety. Attempt n of task T writes exactly one store object, named
// UrlFor(image, "import-T-n") (its ".part" temporary included, which Store::Delete also
// removes); ClaimTask numbers attempts, so a name is never reused. Attempt n therefore knows
// every object earlier attempts may have left, whether their worker was killed or lost its
// lease, and lists them in FinishImport's discard_urls (plus its own object when it fails);
// metadata-svc deletes them in the transaction that finishes the task. Local files die with
// the attempt, or with the work directory of a dead worker (WorkDir::Sweep). So once the task
// finishes, nothing it wrote is left anywhere, whatever was killed when.
//
// Outcomes. The source or the image is unacceptable (refused URI, failed download, corrupt
// compression, inspection refusal, conversion failure or timeout, over the size cap): the task
// fails with a message for the owner and the message is acked. The worker or its dependencies
// failed (store or local disk I/O, metadata-svc unreachable): nothing is recorded and the
// message is requeued; the next attempt starts from scratch. The lease was lost: the attempt's
// object is removed and the message acked (the new holder finishes the task).
#pragma once

#include <cstdint>
#include <map>
#include <stop_token>
#include <string>

#include "absl/time/time.h"
#include "services/store/store.h"
#include "task-worker/import_plugins.h"
#include "task-worker/import_runner.h"
#include "task-worker/task_service.h"

namespace gaze {
class WorkerPool;
}

namespace gaze::worker {

class QemuImg;
class WebSource;
class WorkDir;

struct ImportOptions {
  std::string worker_id;
  int lease_seconds = 300;
  // How often the owner sees progress (and the lease is renewed; at most lease / 3).
  absl::Duration progress_interval = absl::Seconds(10);
  ImportPlugins plugins;
  std::string convert_to = "raw";
  std::map<std::string, std::string> inject_properties;
  // Glance's image_size_cap: for the source, the decompressed data and the converted image.
  uint64_t image_size_cap = uint64_t{1} << 40;
  std::string os_hash_algo = "sha512";
};

class Importer final : public ImportRunner {
 public:
  // `qemu_img` may be null only when the plugins do not include convert. `hash_pool`, when given,
  // computes md5 beside the os_hash. All must outlive the Importer.
  Importer(ImportOptions options, TaskService& tasks, store::Store& store, WebSource& web,
           const QemuImg* qemu_img, const WorkDir& work_dir, WorkerPool* hash_pool);

  Disposition Run(const metadata::v1::Task& task, const std::string& request_id) override;

  // The store object attempt `attempt` of `task_id` writes for `image_id`.
  static std::string ObjectUrl(const store::Store& store, const std::string& image_id,
                               const std::string& task_id, int attempt);

 private:
  struct Attempt;
  struct Result;

  absl::StatusOr<Result> Import(const Attempt& attempt);
  // qemu-img info, convert and info again; the converted image's virtual size.
  absl::StatusOr<uint64_t> Convert(const std::string& input, const std::string& from,
                                   const std::string& output, std::stop_token stop);
  Disposition Finish(const Attempt& attempt, metadata::v1::FinishImportRequest request);
  void DeleteObject(const Attempt& attempt);

  const ImportOptions options_;
  TaskService& tasks_;
  store::Store& store_;
  WebSource& web_;
  const QemuImg* const qemu_img_;
  const WorkDir& work_dir_;
  WorkerPool* const hash_pool_;
};

}  // namespace gaze::worker
