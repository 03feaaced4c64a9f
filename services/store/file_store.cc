#include "services/store/file_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace gaze::store {
namespace {

constexpr std::string_view kScheme = "file://";
constexpr std::string_view kPartSuffix = ".part";
// A writer starts the writeback of each this many bytes as soon as they are written, so that
// the disk works while the object streams in and Commit's fsync waits only for the tail
// (measured: fsync of a 1 GiB object written at once took 0.65 s).
constexpr uint64_t kWritebackChunk = 8 << 20;

absl::Status ErrnoStatus(std::string_view what, const std::string& path, int err) {
  std::string msg = std::string(what) + " " + path + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return absl::ResourceExhaustedError(msg);
  if (err == EACCES || err == EPERM || err == EROFS) return absl::UnavailableError(msg);
  if (err == ENOENT) return absl::NotFoundError(msg);
  return absl::InternalError(msg);
}

absl::Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  return rc == 0 ? absl::OkStatus() : ErrnoStatus("fsync", dir, err);
}

class FileWriter final : public ObjectWriter {
 public:
  FileWriter(int fd, std::string dir, std::string path)
      : fd_(fd),
        dir_(std::move(dir)),
        path_(std::move(path)),
        part_(path_ + std::string(kPartSuffix)) {}
  ~FileWriter() override { Abort(); }

  absl::Status Write(const char* data, size_t size) override {
    while (size > 0) {
      ssize_t n = ::write(fd_, data, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("write", part_, errno);
      }
      data += n;
      size -= static_cast<size_t>(n);
      written_ += static_cast<uint64_t>(n);
    }
    if (written_ - writeback_started_ >= kWritebackChunk) {
      // Only starts the writeback (it does not wait for it): Commit's fsync still makes the
      // bytes durable and reports any write error, so a failure here changes nothing.
      ::sync_file_range(fd_, static_cast<off_t>(writeback_started_),
                        static_cast<off_t>(written_ - writeback_started_), SYNC_FILE_RANGE_WRITE);
      writeback_started_ = written_;
    }
    return absl::OkStatus();
  }

  absl::Status Commit() override {
    if (::fsync(fd_) != 0) return ErrnoStatus("fsync", part_, errno);
    ::close(fd_);
    fd_ = -1;
    if (::rename(part_.c_str(), path_.c_str()) != 0) return ErrnoStatus("rename", part_, errno);
    committed_ = true;
    return FsyncDir(dir_);
  }

  void Abort() override {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    if (!committed_) ::unlink(part_.c_str());
  }

 private:
  int fd_;
  uint64_t written_ = 0;
  uint64_t writeback_started_ = 0;  // bytes before this offset have had their writeback started
  bool committed_ = false;
  std::string dir_;
  std::string path_;
  std::string part_;
};

}  // namespace

ReadableObject::~ReadableObject() {
  if (fd_ >= 0) ::close(fd_);
}

ReadableObject& ReadableObject::operator=(ReadableObject&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    size_ = other.size_;
    other.fd_ = -1;
  }
  return *this;
}

absl::StatusOr<std::unique_ptr<FileStore>> FileStore::InDirectory(std::string data_dir) {
  if (data_dir.empty() || data_dir.front() != '/') {
    return absl::InvalidArgumentError("file store directory must be an absolute path: " + data_dir);
  }
  while (data_dir.size() > 1 && data_dir.back() == '/') data_dir.pop_back();
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return absl::UnavailableError("cannot create " + data_dir + ": " + ec.message());
  if (::access(data_dir.c_str(), W_OK) != 0) return ErrnoStatus("access", data_dir, errno);
  return std::unique_ptr<FileStore>(new FileStore(std::move(data_dir)));
}

std::string FileStore::UrlFor(std::string_view image_id, std::string_view upload_id) const {
  return std::string(kScheme) + data_dir_ + "/" + std::string(image_id) + "." +
         std::string(upload_id);
}

absl::StatusOr<std::string> FileStore::PathOf(std::string_view url) const {
  if (url.substr(0, kScheme.size()) != kScheme) {
    return absl::InvalidArgumentError("not a file store URL: " + std::string(url));
  }
  std::string_view path = url.substr(kScheme.size());
  std::string_view prefix = data_dir_;
  if (path.size() <= prefix.size() + 1 || path.substr(0, prefix.size()) != prefix ||
      path[prefix.size()] != '/') {
    return absl::InvalidArgumentError("URL outside the store directory: " + std::string(url));
  }
  std::string_view name = path.substr(prefix.size() + 1);
  if (name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("invalid object name in URL: " + std::string(url));
  }
  return std::string(path);
}

absl::StatusOr<std::unique_ptr<ObjectWriter>> FileStore::Create(std::string_view url) {
  auto path = PathOf(url);
  if (!path.ok()) return path.status();
  std::string part = *path + std::string(kPartSuffix);
  int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) {
    if (errno == EEXIST) return absl::AlreadyExistsError("upload already in progress: " + part);
    return ErrnoStatus("create", part, errno);
  }
  return std::unique_ptr<ObjectWriter>(new FileWriter(fd, data_dir_, *std::move(path)));
}

absl::StatusOr<ReadableObject> FileStore::Open(std::string_view url) {
  auto path = PathOf(url);
  if (!path.ok()) return path.status();
  int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", *path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus("stat", *path, err);
  }
  return ReadableObject(fd, static_cast<uint64_t>(st.st_size));
}

absl::Status FileStore::Delete(std::string_view url) {
  auto path = PathOf(url);
  if (!path.ok()) return path.status();
  for (const std::string& p : {*path, *path + std::string(kPartSuffix)}) {
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", p, errno);
  }
  return FsyncDir(data_dir_);
}

}  // namespace gaze::store
