// The embedded default store: one file per object under a data directory.
#pragma once

#include <string>

#include "services/store/store.h"

namespace gaze::store {

class FileStore final : public Store {
 public:
  // Creates `data_dir` if needed. `data_dir` must be absolute.
  static absl::StatusOr<std::unique_ptr<FileStore>> InDirectory(std::string data_dir);

  std::string UrlFor(std::string_view image_id, std::string_view upload_id) const override;
  absl::StatusOr<std::unique_ptr<ObjectWriter>> Create(std::string_view url) override;
  absl::StatusOr<ReadableObject> Open(std::string_view url) override;
  absl::Status Delete(std::string_view url) override;

  const std::string& data_dir() const { return data_dir_; }

 private:
  explicit FileStore(std::string data_dir) : data_dir_(std::move(data_dir)) {}
  // Maps a URL to a path inside data_dir_, refusing anything else (other schemes, "..",
  // sub-directories), so a forged URL can never touch a file outside the store.
  absl::StatusOr<std::string> PathOf(std::string_view url) const;

  std::string data_dir_;
};

}  // namespace gaze::store
