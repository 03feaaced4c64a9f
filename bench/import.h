// The import workload's pieces outside the event loop: the source file it stages (a qcow2 image
// it makes once with qemu-img, or a file it is given), the reference timing of `qemu-img
// convert` alone, how a polled image tells where its import stands, and the summary of the
// rounds. The pure parts are unit-tested (bench_test.cc).
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gaze::bench {

// A byte range of a file.
struct Extent {
  uint64_t offset = 0;
  uint64_t length = 0;
};

// Where the raw source of a generated qcow2 image holds data; the rest is holes. Of every
// 32 MiB, the 4 MiB regions 0, 1, 2 and 5 are data: half the image, in runs of 12 and 4 MiB,
// about as full as a cloud image whose file system has room to grow. Adjacent data regions
// come as one extent; the last one ends at `size`.
inline constexpr uint64_t kSourceRegion = uint64_t{4} << 20;
std::vector<Extent> SourceDataExtents(uint64_t size);

// Where an import stands, from a GET /v2/images/{id} after a 202 from POST /import.
enum class ImportState { kRunning, kActive, kFailed };
// `status` is the image's status, `failed_import` its os_glance_failed_import ("" when
// absent). Glance puts a failed glance-direct import back to `queued` (and names the stores in
// os_glance_failed_import); `uploading` may still show just after the 202.
ImportState ClassifyImport(std::string_view status, std::string_view failed_import);

// POST /v2/images for an image to import: no data yet, tagged gaze-bench.
std::string ImportCreateBody(std::string_view disk_format);

// One import, from POST /v2/images to the GET that saw it active.
struct ImportTiming {
  double stage_s = 0;   // PUT /stage, first byte written to the 204
  double import_s = 0;  // POST /import sent to the GET that saw `active`
  double total_s = 0;   // POST /v2/images sent to the GET that saw `active`
  uint64_t staged_bytes = 0;
};

// {"stage_MB_per_s", "import_s": {"mean","min","max"}, "end_to_end_s": {...}, "imports"} over
// the successful imports; empty when there are none.
boost::json::object SummarizeImports(const std::vector<ImportTiming>& timings);

// Runs a program and waits for it, its standard output sent to standard error (gaze-bench's
// own standard output holds only result lines). False, with *error, unless it exits with 0.
bool RunProgram(const std::vector<std::string>& argv, std::string* error);

// A file mapped read-only, to be staged as one request body.
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  bool Open(const std::string& path, std::string* error);
  std::string_view bytes() const { return {data_, size_}; }

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

// The files the import workload makes, in a private temporary directory ($TMPDIR or /tmp)
// deleted with it.
class ImportFiles {
 public:
  ImportFiles() = default;
  ImportFiles(const ImportFiles&) = delete;
  ImportFiles& operator=(const ImportFiles&) = delete;
  ~ImportFiles();

  // A qcow2 image of `virtual_size` bytes: `qemu-img convert -f raw -O qcow2` of a sparse raw
  // file whose data regions (SourceDataExtents) repeat `block`. Made once per size.
  std::optional<std::string> Qcow2(uint64_t virtual_size, std::string_view block,
                                   std::string* error);
  // The seconds `qemu-img convert -f FORMAT -O raw PATH OUT` takes here, into this directory
  // (the output is deleted afterwards): the same command the task-worker's convert plugin runs.
  std::optional<double> TimeConvertToRaw(const std::string& path, std::string_view format,
                                         std::string* error);

 private:
  bool MakeDir(std::string* error);

  std::string dir_;
  std::map<uint64_t, std::string> qcow2_;
};

}  // namespace gaze::bench
