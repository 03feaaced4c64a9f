// Image decoding and locking (see pg_image_tx.h).
#include "metadata-svc/pg_image_tx.h"

#include "metadata-svc/image_rules.h"
#include "metadata-svc/pg_rows.h"
#include "metadata-svc/pg_statements.h"
#include "services/common/ids.h"

namespace gaze::metadata {

absl::StatusOr<v1::Image> DecodeFirst(const pqxx::result& r) {
  v1::Image image;
  if (absl::Status s = DecodeImage(r[0], 0, &image); !s.ok()) return s;
  return image;
}

absl::StatusOr<v1::Image> ReadVisible(pqxx::transaction_base& tx, const v1::Caller& caller,
                                      const std::string& id) {
  if (!IsUuid(id)) return ImageNotFound(id);
  pqxx::result r = tx.exec_prepared(stmt::kGetImage, id, caller.is_admin(), caller.project_id());
  if (r.empty()) return ImageNotFound(id);
  return DecodeFirst(r);
}

absl::StatusOr<v1::Image> LockVisible(pqxx::work& tx, const v1::Caller& caller,
                                      const std::string& id, ImageInternals* internals) {
  if (!IsUuid(id)) return ImageNotFound(id);
  pqxx::result r = tx.exec_prepared(stmt::kLockImage, id, caller.is_admin(), caller.project_id());
  if (r.empty() || !r[0][kImageColumnCount].as<bool>()) return ImageNotFound(id);
  if (internals != nullptr) {
    internals->staging_url = r[0][kImageColumnCount + 1].as<std::string>();
    internals->pending_delete_task_id = r[0][kImageColumnCount + 2].as<std::string>();
  }
  return DecodeFirst(r);
}

absl::StatusOr<v1::Image> LockForModify(pqxx::work& tx, const v1::Caller& caller,
                                        const std::string& id, ImageInternals* internals) {
  auto image = LockVisible(tx, caller, id, internals);
  if (!image.ok()) return image;
  if (absl::Status s = CheckMayModify(caller, *image); !s.ok()) return s;
  return image;
}

}  // namespace gaze::metadata
